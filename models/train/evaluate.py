#!/usr/bin/env python3
"""Measure the trained head (work/head.npz) the way users will meet it.

  * the fixed test split (upstream test rows of every source, multilingual, extra, synthetic),
    overall, per family and per language;
  * never-trained sets: the hand-written everyday messages, benign PII/secret carriers, and
    MultiJail harmful questions (information only: not an attack class);
  * --loso: leave-one-source-out. For every family, head.py's recipe is rerun without any of
    its rows, the threshold is picked on the remaining validation rows, and the family is scored
    at that threshold (recall for attack families, blocked share for benign ones).

    .venv/bin/python evaluate.py [--head head] [--loso]   -> work/head_report.json
"""
import argparse
import collections
import json
import os
import time

import numpy as np

from common import WORK
from head import LABELS, MLP, Data, fit_all, is_attack, recall_at_fpr, text_scores


def evaluate(data, layers, temperature, threshold):
    rows = data.rows
    rep = {}

    def scored(pred):
        idx = data.select(pred)
        s, _ = text_scores(data, idx, layers, temperature)
        return idx, s

    # fixed test split: ../shared/data's own files alone ("test_base"), then every source
    idx, s = scored(lambda r: r["part"] == "test" and r.get("origin") == "base")
    y = np.array([is_attack(rows[i]) for i in idx])
    hard = np.array([rows[i]["hard"] for i in idx])
    rep["test_base"] = {
        "n_attack": int(y.sum()), "n_benign": int((~y).sum()),
        "recall_at_1pct_fpr": recall_at_fpr(s[y], s[~y], 0.01),
        "recall": float((s[y] >= threshold).mean()),
        "benign_blocked": float((s[~y] >= threshold).mean()),
        "hard_negative_blocked": float((s[~y & hard] >= threshold).mean()),
    }
    idx, s = scored(lambda r: r["part"] == "test" and r["label"] in LABELS)
    y = np.array([is_attack(rows[i]) for i in idx])
    hard = np.array([rows[i]["hard"] for i in idx])
    rep["test"] = {
        "n_attack": int(y.sum()), "n_benign": int((~y).sum()),
        "recall_at_1pct_fpr": recall_at_fpr(s[y], s[~y], 0.01),
        "recall_at_5pct_fpr": recall_at_fpr(s[y], s[~y], 0.05),
        "recall": float((s[y] >= threshold).mean()),
        "benign_blocked": float((s[~y] >= threshold).mean()),
        "hard_negative_blocked": float((s[~y & hard] >= threshold).mean()),
    }
    per_family = collections.defaultdict(list)
    for i, sc in zip(idx, s):
        per_family[(rows[i]["family"], "attack" if is_attack(rows[i]) else "benign")].append(sc >= threshold)
    rep["test_by_family"] = {f"{f}/{k}": {"n": len(v), "flagged": float(np.mean(v))} for (f, k), v in sorted(per_family.items())}
    # per language: multilingual test split + English rows of the base test split
    per_lang = collections.defaultdict(lambda: {"benign": [], "attack": []})
    for i, sc in zip(idx, s):
        per_lang[rows[i]["lang"]]["attack" if is_attack(rows[i]) else "benign"].append(sc >= threshold)
    rep["test_by_language"] = {
        l: {"benign_n": len(v["benign"]), "benign_blocked": float(np.mean(v["benign"])) if v["benign"] else None,
            "attack_n": len(v["attack"]), "recall": float(np.mean(v["attack"])) if v["attack"] else None}
        for l, v in sorted(per_lang.items())}
    # everyday set, PII carriers, harmful questions (never trained on)
    for fam in ("everyday", "pii-synthetic", "pii-secret-examples", "MultiJail"):
        idx2, s2 = scored(lambda r, fam=fam: r["family"] == fam)
        if not idx2:
            continue
        flagged = s2 >= threshold
        entry = {"n": len(idx2), "flagged": float(flagged.mean())}
        by_lang = collections.defaultdict(list)
        for i, fl in zip(idx2, flagged):
            by_lang[rows[i]["lang"]].append(fl)
        entry["by_language"] = {l: {"n": len(v), "flagged": float(np.mean(v))} for l, v in sorted(by_lang.items())}
        entry["examples_flagged"] = [rows[i]["text"][:120] for i, fl in zip(idx2, flagged) if fl][:12]
        rep[fam] = entry
    return rep


def loso(data, kind, out_path):
    """Attack families first, then benign families by size; each result is written to
    `out_path` as soon as it is known (the whole table takes about a minute per family)."""
    fams = collections.Counter((r["family"], is_attack(r)) for r in data.rows
                               if r["label"] in LABELS and r["part"] != "eval")
    order = sorted((f for f, n in fams.items() if n >= 30), key=lambda f: (not f[1], -fams[f]))
    done = json.load(open(out_path)) if os.path.exists(out_path) else {}
    for fam, attack in order:
        key = f"{fam}/{'attack' if attack else 'benign'}"
        if key in done:
            continue
        t0 = time.time()
        layers, t, thr = fit_all(data, kind, exclude_family=fam)
        idx = data.select(lambda r: r["family"] == fam and r["label"] in LABELS and is_attack(r) == attack)
        s, _ = text_scores(data, idx, layers, t)
        flagged = s >= thr
        done[key] = {"n": len(idx), "flagged": float(flagged.mean()), "threshold": thr, "hits": int(flagged.sum())}
        with open(out_path, "w") as fh:
            json.dump(done, fh, indent=1)
        print(f"  LOSO {fam:32s} {'attack' if attack else 'benign'} n={len(idx):5d} flagged={flagged.mean():.3f} ({time.time() - t0:.0f}s)", flush=True)
    return done


def pooled_attack_recall(loso_table):
    rows = [v for k, v in loso_table.items() if k.endswith("/attack")]
    return sum(v["hits"] for v in rows) / max(1, sum(v["n"] for v in rows))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--head", default="head")
    ap.add_argument("--loso", action="store_true")
    args = ap.parse_args()
    z = np.load(os.path.join(WORK, f"{args.head}.npz"))
    feature_layers, kind = [int(x) for x in z["layers"]], str(z["kind"])
    layers = [(z[f"W{i}"], z[f"b{i}"]) for i in range(int(z["n_layers"]))]
    temperature, threshold = float(z["temperature"]), float(z["threshold"])
    MLP.update(hidden=int(z["hidden"]), epochs=int(z["epochs"]), attack_weight=float(z["attack_weight"]))
    data = Data(feature_layers)
    rep = {"layers": feature_layers, "layer": max(feature_layers), "kind": kind, "temperature": temperature, "threshold": threshold}
    rep.update(evaluate(data, layers, temperature, threshold))
    print(json.dumps({"test": rep["test"], "test_base": rep["test_base"]}, indent=1))
    for fam in ("everyday", "pii-synthetic", "pii-secret-examples", "MultiJail"):
        if fam in rep:
            print(fam, rep[fam]["n"], round(rep[fam]["flagged"], 4), {l: round(v["flagged"], 3) for l, v in rep[fam]["by_language"].items() if v["flagged"] > 0})
    bl = {l: v for l, v in rep["test_by_language"].items() if v["benign_n"] >= 100}
    print("languages over 2% benign blocked:", {l: round(v["benign_blocked"], 3) for l, v in bl.items() if v["benign_blocked"] > 0.02})
    print("attack recall by language:", {l: round(v["recall"], 3) for l, v in rep["test_by_language"].items() if v["recall"] is not None})
    with open(os.path.join(WORK, f"{args.head}_report.json"), "w") as fh:
        json.dump(rep, fh, indent=1, ensure_ascii=False)
    if args.loso:
        table = loso(data, kind, os.path.join(WORK, f"{args.head}_loso.json"))
        print("LOSO pooled attack recall", pooled_attack_recall(table))


if __name__ == "__main__":
    main()
