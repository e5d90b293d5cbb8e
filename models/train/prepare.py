#!/usr/bin/env python3
"""Build the one row table every later step reads: work/rows.jsonl.

Reads (never copies into the repository) /work/shared/data:
  benign.jsonl, injection_jailbreak.jsonl      (NOT the unlicensed Tensor Trust file)
  multilingual/{benign,injection,harmful}.jsonl
  extra/{injection_extra,benign_extra}.jsonl
  pii/synthetic_pii.jsonl, pii/secret_rule_examples.jsonl   (evaluation only: benign PII carriers)
plus work/synth.jsonl (synth.py) and data/everyday.jsonl (hand-written, evaluation only).

Each row gets:
  part    train | val | test | eval      (val: a grouped 10 % slice of upstream train rows;
                                         eval: never trained on: everyday set, PII carriers, harmful)
  family  the upstream source family used for leave-one-source-out
  label   benign | injection | jailbreak | harmful
`harmful` (MultiJail: plain harmful questions, no override or persona) is NOT a class of this
model: it is a topic, not an attack on the application. Those rows are never trained on and
their blocked share is reported for information.

Label noise (unchanged from v1): CyberSecEval `different_user_input_language` rows and `direct`
rows without an attack cue, and verazuo "jailbreaks" without a jailbreak cue are dropped from
train/val and kept in test with `noisy: true`.
"""
import collections
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cues import has_attack_cue, has_jailbreak_cue  # noqa: E402

DATA = os.environ.get("PICKET_DATA", "/work/shared/data")
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")

# Upstream repositories folded into one family: held out together, since their rows share
# templates or construction.
FAMILY = {
    "meta-llama/PurpleLlama": "CyberSecEval",
    "microsoft/BIPIA": "BIPIA",
    "JailbreakBench/artifacts": "JailbreakBench",
    "sherdencooper/GPTFuzz": "GPTFuzz",
    "verazuo/jailbreak_llms": "verazuo",
    "protectai/llm-guard": "llm-guard",
    "Jarviswang94/Multilingual_safety_benchmark": "XSafety",
    "SaFoLab-WISC/InjecGuard": "InjecGuard",
    "teknium1/GPTeacher": "GPTeacher",
    "yizhongw/self-instruct": "self-instruct",
    "openai/grade-school-math": "GSM8K",
    "paul-rottger/exaggerated-safety": "XSTest",
    "NVIDIA/NeMo-Guardrails": "docs",
    "handwritten": "handwritten",
    "uiuc-kang-lab/InjecAgent": "InjecAgent",
    "enkryptai/xInjectAgent": "InjecAgent",
    "ethz-spylab/agentdojo": "AgentDojo",
    "AthaSSiN/CrAIBench": "AgentDojo",
    "Arcanum-Sec/arc_pi_taxonomy": "Arcanum",
    "confident-ai/deepteam": "misc-attack-collections",
    "greshake/llm-security": "misc-attack-collections",
    "swisskyrepo/PayloadsAllTheThings": "misc-attack-collections",
    "deepmind/xquad": "XQuAD",
    "cambridgeltl/xcopa": "XCOPA",
    "google-research/url-nlp": "MGSM",
    "gunthercox/chatterbot-corpus": "chatterbot",
    "songys/Chatbot_data": "Chatbot_data-ko",
    "yahoojapan/JGLUE": "JGLUE",
    "DAMO-NLP-SG/multilingual-safety-for-LLMs": "MultiJail",
}
DOC_REPOS = {"BurntSushi/ripgrep", "Kong/kong", "tokio-rs/axum", "rust-lang/regex", "gitleaks/gitleaks",
             "huggingface/text-embeddings-inference", "praetorian-inc/noseyparker", "microsoft/presidio"}


def family(repo, label, file_tag):
    if repo.startswith("synth:"):
        return repo
    if repo.startswith("UniversalDependencies/"):
        return "UD-treebanks"
    if repo in DOC_REPOS:
        return "docs"
    if repo == "authored":
        return "extra-authored" if label != "benign" else "extra-authored-benign"
    fam = FAMILY.get(repo, repo)
    if file_tag == "extra" and label == "benign" and fam in ("InjecAgent", "AgentDojo", "misc-attack-collections"):
        fam += "-benign"
    return fam


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
    if r.get("group"):
        return str(r["group"])
    src = r["source"]
    if r.get("kind") == "document_chunk":
        return src
    words = re.sub(r"\s+", " ", r["text"].lower()).split(" ")[:8]
    return src.split(":")[0] + "|" + " ".join(words)


def in_val(r, frac=0.10):
    h = hashlib.sha1(("val|" + group_key(r)).encode()).hexdigest()
    return int(h[:8], 16) / 0xFFFFFFFF < frac


def read(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def lang_of(r):
    lang = r.get("lang")
    if not lang:
        return "en"
    return {"German": "de", "French": "fr", "Spanish": "es", "English": "en"}.get(lang, lang)


def main():
    rows, report = [], collections.Counter()

    def add(r, file_tag, part=None):
        repo = r["source"] if r["source"].startswith("synth:") else r["source"].split(":")[0]
        rec = {
            "text": r["text"], "label": r["label"], "family": family(repo, r["label"], file_tag),
            "source": repo, "lang": lang_of(r), "kind": r.get("kind"), "hard": bool(r.get("hard", False)),
            "technique": r.get("technique") or r.get("variant") or r.get("category"), "noisy": False,
            "origin": file_tag,
        }
        if part is None:
            reason = noise_reason(r)
            rec["noisy"] = reason is not None
            if r["label"] == "harmful":
                part = "eval"
            elif r["split"] == "test":
                part = "test"
            elif reason:
                report[f"dropped_{reason}"] += 1
                return
            else:
                part = "val" if in_val(r) else "train"
        rec["part"] = part
        rows.append(rec)
        report[f"{part}/{rec['label']}"] += 1

    for f in ("benign.jsonl", "injection_jailbreak.jsonl"):
        for r in read(os.path.join(DATA, f)):
            add(r, "base")
    for f in ("benign.jsonl", "injection.jsonl", "harmful.jsonl"):
        for r in read(os.path.join(DATA, "multilingual", f)):
            add(r, "multilingual")
    for f in ("injection_extra.jsonl", "benign_extra.jsonl"):
        for r in read(os.path.join(DATA, "extra", f)):
            add(r, "extra")
    synth = os.path.join(WORK, "synth.jsonl")
    if os.path.exists(synth):
        for r in read(synth):
            add(r, "synth")
    else:
        print("warning: work/synth.jsonl missing (run synth.py)", file=sys.stderr)
    # Evaluation-only sets: never trained on.
    everyday = os.path.join(HERE, "data", "everyday.jsonl")
    for r in read(everyday) if os.path.exists(everyday) else []:
        add({**r, "source": "everyday"}, "eval", part="eval")
        rows[-1]["family"] = "everyday"
    seen = set()
    for f, fam in (("synthetic_pii.jsonl", "pii-synthetic"), ("secret_rule_examples.jsonl", "pii-secret-examples")):
        for r in read(os.path.join(DATA, "pii", f)):
            if r["text"] in seen:
                continue
            seen.add(r["text"])
            add({"text": r["text"], "label": "benign", "source": fam, "kind": "pii_carrier"}, "eval", part="eval")
            rows[-1]["family"] = fam

    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, "rows.jsonl"), "w", encoding="utf-8") as fh:
        for i, rec in enumerate(rows):
            rec["row"] = i
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    fams = collections.Counter((r["family"], r["label"]) for r in rows)
    rep = {"counts": dict(sorted(report.items())), "families": {f"{a}/{b}": n for (a, b), n in sorted(fams.items())}}
    with open(os.path.join(WORK, "prepare_report.json"), "w") as fh:
        json.dump(rep, fh, indent=1)
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
