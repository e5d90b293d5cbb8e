#!/usr/bin/env python3
"""Render ../picket-intent/README.md (the model card) from the JSON reports of the pipeline:
work/head_report.json (head.py --loso), work/export_report.json (export.py),
work/engine_eval.txt (optional: `picket eval` output) and work/bench_classifier.txt (optional:
`PICKET_BENCH_BASELINE=... cargo bench --bench classifier` output).
"""
import json
import os

from common import WORK

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "picket-intent", "README.md")
WEAK = os.path.join(HERE, "data", "weak_spots.md")


NAMES = {"Arabic": "ar", "Bengali": "bn", "Chinese": "zh", "Filipino/Tagalog": "tl", "Hindi": "hi", "Indonesian": "id",
         "Italian": "it", "Japanese": "ja", "Korean": "ko", "Portuguese": "pt", "Russian": "ru", "Thai": "th",
         "Turkish": "tr", "Vietnamese": "vi", "German": "de", "French": "fr", "Spanish": "es", "English": "en"}


def merge_languages(by_lang):
    """CyberSecEval names languages in English ("Arabic"); fold them into ISO codes."""
    out = {}
    for lang, v in by_lang.items():
        code = NAMES.get(lang, lang)
        o = out.setdefault(code, {"benign_n": 0, "benign_hits": 0.0, "attack_n": 0, "attack_hits": 0.0})
        o["benign_n"] += v["benign_n"]
        o["benign_hits"] += (v["benign_blocked"] or 0) * v["benign_n"]
        o["attack_n"] += v["attack_n"]
        o["attack_hits"] += (v["recall"] or 0) * v["attack_n"]
    return {l: {"benign_n": o["benign_n"], "benign_blocked": o["benign_hits"] / o["benign_n"] if o["benign_n"] else None,
                "attack_n": o["attack_n"], "recall": o["attack_hits"] / o["attack_n"] if o["attack_n"] else None}
            for l, o in sorted(out.items())}


def pct(x):
    return "–" if x is None else f"{100 * x:.1f} %"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main():
    rep = json.load(open(os.path.join(WORK, "head_report.json")))
    exp = json.load(open(os.path.join(WORK, "export_report.json")))
    t = rep["test"]
    s = []
    s.append("# picket-intent (v2, %s)\n" % "2026.12.01")
    s.append("Prompt-intent classifier for Picket: labels each 256-token window of a text `benign`, "
             "`injection` or `jailbreak`; the window with the highest `1 - P(benign)` decides. "
             f"Base: **multilingual-e5-small** (MIT), first **{rep['layer']} of 12 layers**, int8, frozen; "
             f"a {'one-hidden-layer MLP' if rep['kind'] == 'mlp' else 'linear'} head trained on pooled features "
             "(models/train/head.py). Rebuilt from pinned PyPI wheels by `models/train/` (see its README).\n")
    if os.path.exists(WEAK):
        s.append("## Known weak spots (read first)\n")
        s.append(open(WEAK).read().strip() + "\n")
    s.append("## Size and start-up\n")
    s.append(table(["file", "bytes"], [["model.onnx", f"{exp['bytes_model_onnx']:,}"],
                                         ["tokenizer.json", f"{exp['bytes_tokenizer']:,}"],
                                         ["total", f"{exp['bytes_model_onnx'] + exp['bytes_tokenizer']:,}"]]))
    s.append(f"\nThe 250,037-row word table is cut to the pieces seen in training text; every other piece "
             f"is remapped inside the graph to its nearest kept row, so the tokenizer (unchanged) segments "
             f"text exactly like the base model. Temperature {exp['temperature']:.3f} (fitted on validation) "
             f"is folded into the logits; threshold {exp['threshold']:.4f} = at most 1 % of benign validation "
             f"texts blocked. ONNX vs the training code: max |score diff| {exp['max_abs_score_diff_vs_head_py']:.1e} "
             f"over {exp['texts_checked']} texts.\n")
    bench = os.path.join(WORK, "bench_classifier.txt")
    if os.path.exists(bench):
        s.append("## Latency (one core, through Picket's path; v1 model in the same run)\n")
        s.append("```\n" + open(bench).read().strip() + "\n```\n")
    s.append("## Fixed test split (`../shared/data` + multilingual + extra + synthetic test rows), model alone\n")
    s.append(table(["measure", "value"], [
        ["attack texts / benign texts", f"{t['n_attack']} / {t['n_benign']}"],
        ["recall at 1 % FPR", f"{t['recall_at_1pct_fpr']:.3f}"],
        ["recall at 5 % FPR", f"{t['recall_at_5pct_fpr']:.3f}"],
        ["recall at the shipped threshold", f"{t['recall']:.3f}"],
        ["benign blocked at the shipped threshold", pct(t["benign_blocked"])],
        ["hard negatives blocked", pct(t["hard_negative_blocked"])],
    ]))
    b = rep["test_base"]
    s.append("\n`../shared/data`'s own test split alone (benign.jsonl + injection_jailbreak.jsonl), model alone:\n")
    s.append(table(["measure", "value"], [
        ["attack texts / benign texts", f"{b['n_attack']} / {b['n_benign']}"],
        ["recall at 1 % FPR", f"{b['recall_at_1pct_fpr']:.3f}"],
        ["recall at the shipped threshold", f"{b['recall']:.3f}"],
        ["benign blocked at the shipped threshold", pct(b["benign_blocked"])],
        ["hard negatives blocked", pct(b["hard_negative_blocked"])],
    ]))
    s.append("\n## Never trained on\n")
    rows = []
    for fam, what in (("everyday", "hand-written everyday messages (models/train/data/everyday.jsonl)"),
                      ("pii-synthetic", "benign PII/secret carriers: ../shared/data/pii/synthetic_pii.jsonl"),
                      ("pii-secret-examples", "benign secret carriers: ../shared/data/pii/secret_rule_examples.jsonl"),
                      ("MultiJail", "harmful questions (not attacks; information only)")):
        if fam in rep:
            rows.append([what, rep[fam]["n"], pct(rep[fam]["flagged"])])
    s.append(table(["set", "texts", "blocked by the model"], rows))
    if "everyday" in rep:
        s.append("\nEveryday set per language:\n")
        s.append(table(["lang", "texts", "blocked"], [[l, v["n"], pct(v["flagged"])] for l, v in rep["everyday"]["by_language"].items()]))
    s.append("\n## Per language (test split)\n")
    s.append(table(["lang", "benign texts", "benign blocked", "attack texts", "recall"],
                   [[l, v["benign_n"], pct(v["benign_blocked"]), v["attack_n"], pct(v["recall"])]
                    for l, v in merge_languages(rep["test_by_language"]).items() if v["benign_n"] + v["attack_n"] >= 20]))
    loso_path = os.path.join(WORK, "head_loso.json")
    if os.path.exists(loso_path):
        lo = json.load(open(loso_path))
        s.append("\n## Leave-one-source-out (the head retrained without the family; threshold from the remaining validation rows)\n")
        s.append(table(["held-out family", "texts", "blocked"], [[k, v["n"], pct(v["flagged"])] for k, v in lo.items()]))
        att = [v for k, v in lo.items() if k.endswith("/attack")]
        pooled = sum(v["hits"] for v in att) / max(1, sum(v["n"] for v in att))
        s.append(f"\nAll held-out attack families together: recall {pct(pooled)}.\n")
    s.append("\n## Per family (test split)\n")
    s.append(table(["family", "texts", "blocked"], [[k, v["n"], pct(v["flagged"])] for k, v in rep["test_by_family"].items()]))
    eng = os.path.join(WORK, "engine_eval.txt")
    if os.path.exists(eng):
        s.append("\n## Whole engine (rules + model, default policy; `picket eval --data ../shared/data/benign.jsonl --data ../shared/data/injection_jailbreak.jsonl --split test`, and the multilingual files with `--group-by lang`)\n")
        s.append("```\n" + open(eng).read().strip() + "\n```\n")
    s.append("\n## Licences\n\nmultilingual-e5-small: MIT (Microsoft / intfloat), see NOTICE. Training data: "
             "../shared/data (licences per source in its README), the unlicensed Tensor Trust file excluded; "
             "MultiJail `harmful` rows are not trained on.\n")
    with open(OUT, "w") as fh:
        fh.write("\n".join(s))
    metrics = {"export": exp, "evaluation": rep}
    if os.path.exists(loso_path):
        metrics["leave_one_source_out"] = json.load(open(loso_path))
    with open(os.path.join(os.path.dirname(OUT), "metrics.json"), "w") as fh:
        json.dump(metrics, fh, indent=1, ensure_ascii=False)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
