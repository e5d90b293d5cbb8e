#!/usr/bin/env python3
"""Build the train / validation / test files for the picket-intent classifier.

Reads /work/shared/data/benign.jsonl and injection_jailbreak.jsonl (NOT the optional
Tensor Trust file, which has no licence). The upstream `split` field is respected:
split == "train" rows feed training and a 10 % validation slice (grouped by a hash of the
source file + first 8 words, so near-duplicates stay together); split == "test" rows are
only written to test.jsonl for evaluate.py.

Label-noise handling (see /work/shared/data/README.md, "Known label noise"):
  * CyberSecEval (meta-llama/PurpleLlama) `variant == "different_user_input_language"`:
    dropped from train/val (their "attack" was only that the benchmark system prompt
    demanded English; many are plain foreign-language questions).
  * CyberSecEval `injection_type == "direct"` rows with no attack cue (cues.py: override /
    ignore instructions, password / secret / key, system prompt / developer / mode,
    somebody's personal data, encodings, ... in the 18 languages) are benign or ambiguous
    when read alone ("Can you tell me about the history of Bitcoin?", plain few-shot Q/A):
    dropped from train/val. They are not relabelled benign because the cue-less set also
    holds requests that are attacks relative to a secret-holding system prompt.
  * CyberSecEval `indirect` rows (an instruction hidden in an email/code/table/webpage) are
    kept as injection.
  * verazuo in-the-wild "jailbreak" rows without any jailbreak cue (cues.JB_CUE_RE: rules,
    restrictions, filter, policy, OpenAI, DAN, unfiltered, ethics, illegal, ...) are mild
    role-play / style requests: dropped from train/val.
On the test split nothing is dropped; such rows get `"noisy": true` so that evaluate.py can
report metrics with and without them.

Writes work/{train,val,test}.jsonl and work/prepare_report.json.
"""
import argparse
import collections
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cues import has_attack_cue, has_jailbreak_cue  # noqa: E402

LABELS = ["benign", "injection", "jailbreak"]
DATA = "/work/shared/data"
HERE = os.path.dirname(os.path.abspath(__file__))


def noise_reason(r):
    src = r["source"]
    if src.startswith("meta-llama/PurpleLlama") and r["label"] == "injection":
        if r.get("variant") == "different_user_input_language":
            return "cse_different_user_input_language"
        if r.get("injection_type") == "direct" and not has_attack_cue(r["text"]):
            return "cse_direct_no_attack_cue"
    if src.startswith("verazuo/") and r["label"] == "jailbreak" and not has_jailbreak_cue(r["text"]):
        return "verazuo_no_jailbreak_cue"
    return None


def group_key(r):
    src = r["source"]
    if r.get("kind") == "document_chunk":
        return src
    words = re.sub(r"\s+", " ", r["text"].lower()).split(" ")[:8]
    return src.split(":")[0] + "|" + " ".join(words)


def in_val(r, frac):
    h = hashlib.sha1(("val|" + group_key(r)).encode()).hexdigest()
    return int(h[:8], 16) / 0xFFFFFFFF < frac


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--out", default=os.path.join(HERE, "work"))
    ap.add_argument("--val-frac", type=float, default=0.10)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rows = []
    for f in ("benign.jsonl", "injection_jailbreak.jsonl"):
        with open(os.path.join(args.data, f), encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]

    out = {"train": [], "val": [], "test": []}
    report = collections.Counter()
    dropped_examples = collections.defaultdict(list)
    for r in rows:
        assert r["label"] in LABELS, r["label"]
        reason = noise_reason(r)
        rec = {
            "text": r["text"],
            "label": r["label"],
            "source": r["source"].split(":")[0],
            "hard": bool(r.get("hard", False)),
            "kind": r.get("kind"),
            "variant": r.get("variant"),
            "lang": r.get("lang"),
            "noisy": reason is not None,
            "noise_reason": reason,
        }
        if r["split"] == "test":
            out["test"].append(rec)
            report[f"test_{r['label']}"] += 1
            if reason:
                report[f"test_noisy_{reason}"] += 1
            continue
        if reason:
            report[f"train_dropped_{reason}"] += 1
            if len(dropped_examples[reason]) < 5:
                dropped_examples[reason].append(r["text"][:160])
            continue
        part = "val" if in_val(r, args.val_frac) else "train"
        out[part].append(rec)
        report[f"{part}_{r['label']}"] += 1
        if rec["hard"]:
            report[f"{part}_hard_benign"] += 1

    for k, v in out.items():
        with open(os.path.join(args.out, f"{k}.jsonl"), "w", encoding="utf-8") as fh:
            for rec in v:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    rep = {"counts": dict(sorted(report.items())), "dropped_examples": dropped_examples}
    with open(os.path.join(args.out, "prepare_report.json"), "w") as fh:
        json.dump(rep, fh, indent=1, ensure_ascii=False)
    print(json.dumps(rep["counts"], indent=1))


if __name__ == "__main__":
    main()
