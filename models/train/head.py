#!/usr/bin/env python3
"""Train the classifier head on frozen encoder features; calibrate; measure generalization.

The head is a small MLP (one hidden layer) or a multinomial logistic regression over the
pooled, L2-normalised window features that embed.py computed with the shipped int8 encoder.
Because the encoder is frozen, the whole model can be retrained in seconds, which makes the
honest measurements affordable on two CPU cores:

  * leave-one-source-out (LOSO): for every source family, retrain the head without any of its
    rows, pick the threshold on the remaining validation rows, and score the held-out family
    at that threshold (recall for attack families, blocked share for benign ones). This is
    the real model's number, not a proxy: the same encoder, the same head recipe.
  * the fixed test split, per language, the hand-written everyday set, benign PII carriers.

Training details:
  * each text is windowed like the runtime (256 tokens, stride 192). Benign texts contribute
    every window (at most 8); attack texts contribute the window the current head scores
    highest (multiple-instance learning: round 1 uses the first window), since an injection
    sits in one window of a long document.
  * sample weights balance source families (a family's weight grows with the square root of
    its size), so the largest sources do not define "attack".
  * temperature scaling is fitted on validation windows (the scores must not saturate); the
    threshold is the lowest one giving <= 1 % blocked benign validation texts.

    .venv/bin/python head.py [--layer 8] [--kind mlp] [--loso]   -> work/head.npz, work/head_report.json
"""
import argparse
import collections
import json
import os
import time

import numpy as np

from common import WORK, load_jsonl
from embed import load_cache, text_key

LABELS = ["benign", "injection", "jailbreak"]
LABEL_ID = {l: i for i, l in enumerate(LABELS)}
H = 384
MAX_BENIGN_WINDOWS = 8


def feature_name(layer):
    return "features" if layer == 8 else f"features_l{layer}"


def layer_columns(names, layers):
    """Columns of the cached features for the pooled outputs of `layers` (concatenated)."""
    cols = []
    for layer in layers:
        i = list(names).index(feature_name(layer))
        cols += list(range(i * H, (i + 1) * H))
    return np.array(cols)


class Data:
    def __init__(self, layers, partial=False):
        self.rows = load_jsonl(os.path.join(WORK, "rows.jsonl"))
        cache = load_cache()
        if partial:
            self.rows = [r for r in self.rows if text_key(r["text"]) in cache]
        names = json.load(open(os.path.join(WORK, "embed_report.json")))["outputs"]
        sl = layer_columns(names, layers)
        missing = [r for r in self.rows if text_key(r["text"]) not in cache]
        if missing:
            raise SystemExit(f"{len(missing)} rows have no features: run embed.py")
        # Rows that are not trained on use the runtime-exact features where embed.py --exact made
        # them: the threshold and every reported number then match what the daemon computes.
        exact = load_cache("features_exact")
        self.exact = 0
        self.feats = []
        for r in self.rows:
            k = text_key(r["text"])
            use_exact = r["part"] != "train" and k in exact
            self.exact += use_exact
            self.feats.append((exact[k] if use_exact else cache[k])[:, sl].astype(np.float32))

    def select(self, pred):
        return [i for i, r in enumerate(self.rows) if pred(r)]


def family_weights(rows, idx):
    counts = collections.Counter(rows[i]["family"] for i in idx)
    return {f: np.sqrt(n) / n for f, n in counts.items()}


MLP = {"hidden": 256, "epochs": 16, "attack_weight": 1.0}


def fit_head(X, y, w, kind, seed=0):
    if kind == "lr":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=4.0, max_iter=400)
        clf.fit(X, y, sample_weight=w)
        return [(clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32))]
    return fit_mlp(X, y, w, hidden=MLP["hidden"], epochs=MLP["epochs"], seed=seed)


def fit_mlp(X, y, w, hidden=256, epochs=16, lr=3e-3, wd=1e-4, seed=0):
    """One hidden layer (ReLU), Adam, weighted cross-entropy; plain numpy (no torch needed)."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    k = len(LABELS)
    W1 = (rng.standard_normal((d, hidden)) * np.sqrt(2.0 / d)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    W2 = (rng.standard_normal((hidden, k)) * np.sqrt(1.0 / hidden)).astype(np.float32)
    b2 = np.zeros(k, np.float32)
    params = [W1, b1, W2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    Y = np.eye(k, dtype=np.float32)[y]
    w = (w / w.mean()).astype(np.float32)
    step, batch = 0, 512
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            x, yy, ww = X[idx], Y[idx], w[idx]
            h = np.maximum(x @ W1 + b1, 0)
            z = h @ W2 + b2
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            g = (p - yy) * ww[:, None] / len(idx)
            gW2 = h.T @ g
            gb2 = g.sum(0)
            gh = (g @ W2.T) * (h > 0)
            gW1 = x.T @ gh
            gb1 = gh.sum(0)
            step += 1
            for j, (pp, gg) in enumerate(zip(params, [gW1, gb1, gW2, gb2])):
                if pp.ndim == 2:
                    gg = gg + wd * pp
                m[j] = 0.9 * m[j] + 0.1 * gg
                v[j] = 0.999 * v[j] + 0.001 * gg * gg
                pp -= lr * (m[j] / (1 - 0.9 ** step)) / (np.sqrt(v[j] / (1 - 0.999 ** step)) + 1e-8)
    return [(W1.T.copy(), b1), (W2.T.copy(), b2)]


def logits(layers, X):
    h = X
    for i, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def text_scores(data, idx, layers, temperature=1.0):
    """P(malicious) of the highest-scoring window of each text, and that window's probs."""
    out, probs = np.zeros(len(idx)), np.zeros((len(idx), len(LABELS)))
    if not idx:
        return out, probs
    F = np.concatenate([data.feats[i] for i in idx])
    P = softmax(logits(layers, F) / temperature)
    owner = np.repeat(np.arange(len(idx)), [len(data.feats[i]) for i in idx])
    mal = 1 - P[:, 0]
    best = np.full(len(idx), -1.0)
    for j, o in enumerate(owner):
        if mal[j] > best[o]:
            best[o] = mal[j]
            probs[o] = P[j]
    return best, probs


def training_set(data, idx, layers=None):
    """Windows and labels; attack texts contribute their highest-scoring window."""
    weights = family_weights(data.rows, idx)
    X, y, w = [], [], []
    for i in idx:
        r, f = data.rows[i], data.feats[i]
        lab = LABEL_ID[r["label"]]
        if lab == 0:
            take = f[:MAX_BENIGN_WINDOWS]
        elif layers is None or len(f) == 1:
            take = f[:1]
        else:
            take = f[[int(np.argmax(1 - softmax(logits(layers, f))[:, 0]))]]
        X.append(take)
        y += [lab] * len(take)
        boost = MLP["attack_weight"] if lab else 1.0
        w += [boost * weights[r["family"]] / len(take)] * len(take)
    return np.concatenate(X), np.array(y), np.array(w, np.float32)


def train(data, train_idx, kind, rounds=2):
    layers = None
    for _ in range(rounds):
        X, y, w = training_set(data, train_idx, layers)
        layers = fit_head(X, y, w, kind)
    return layers


def fit_temperature(data, val_idx, layers):
    """Temperature minimising the NLL of validation texts' deciding windows."""
    X, y, _ = training_set(data, val_idx, layers)
    z = logits(layers, X)
    best = (1e9, 1.0)
    for t in np.exp(np.linspace(np.log(0.25), np.log(8), 60)):
        p = softmax(z / t)
        nll = -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean()
        best = min(best, (nll, float(t)))
    return best[1]


def threshold_for(scores, fpr=0.01):
    s = np.sort(np.asarray(scores))[::-1]
    k = int(np.floor(fpr * len(s)))
    return float(np.nextafter(s[k], np.inf)) if k < len(s) else 0.0


def recall_at_fpr(mal, ben, fpr):
    t = threshold_for(ben, fpr)
    return float((np.asarray(mal) >= t).mean())


def is_attack(r):
    return r["label"] in ("injection", "jailbreak")


def fit_all(data, kind, exclude_family=None):
    ok = lambda r: r["label"] in LABELS and r["family"] != exclude_family  # noqa: E731
    tr = data.select(lambda r: r["part"] == "train" and ok(r))
    va = data.select(lambda r: r["part"] == "val" and ok(r))
    layers = train(data, tr, kind)
    t = fit_temperature(data, va, layers)
    s, _ = text_scores(data, va, layers, t)
    ben = np.array([not is_attack(data.rows[i]) for i in va])
    thr = threshold_for(s[ben], 0.01)
    return layers, t, thr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default="6,7,8", help="pooled outputs the head reads, concatenated")
    ap.add_argument("--kind", default="mlp", choices=["mlp", "lr"])
    ap.add_argument("--out", default="head")
    ap.add_argument("--hidden", type=int, default=MLP["hidden"])
    ap.add_argument("--epochs", type=int, default=MLP["epochs"])
    ap.add_argument("--attack-weight", type=float, default=MLP["attack_weight"])
    ap.add_argument("--partial", action="store_true", help="skip rows without features (experiments)")
    args = ap.parse_args()
    feature_layers = [int(x) for x in args.layers.split(",")]
    MLP.update(hidden=args.hidden, epochs=args.epochs, attack_weight=args.attack_weight)
    data = Data(feature_layers, args.partial)
    t0 = time.time()
    layers, temperature, threshold = fit_all(data, args.kind)
    print(f"head fitted in {time.time() - t0:.0f}s; temperature {temperature:.3f}; threshold {threshold:.4f}")
    np.savez(os.path.join(WORK, f"{args.out}.npz"), n_layers=len(layers), temperature=temperature, threshold=threshold,
             layers=np.array(feature_layers), kind=args.kind, hidden=args.hidden, epochs=args.epochs, attack_weight=args.attack_weight,
             **{f"W{i}": W for i, (W, _) in enumerate(layers)}, **{f"b{i}": b for i, (_, b) in enumerate(layers)})


if __name__ == "__main__":
    main()
