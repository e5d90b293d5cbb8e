"""Shared helpers: data loading, windowing (identical to the Rust runtime), metrics."""
import json
import os

import numpy as np

LABELS = ["benign", "injection", "jailbreak"]
MAX_TOKENS = 256      # window length incl. [CLS]/[SEP]
STRIDE = 192          # step between window starts (content tokens)
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")


def load_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_tokenizer(path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.no_truncation()
    return tok


def special_ids(tok):
    return tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]"), tok.token_to_id("[PAD]")


def runtime_windows(ids, cls_id, sep_id, max_tokens=MAX_TOKENS, stride=STRIDE):
    """Windows the way the Rust side cuts them: content tokens (no specials) are split into
    windows of max_tokens-2 content tokens starting every `stride` tokens; each window is
    wrapped in [CLS] ... [SEP]. A text shorter than one window gives one window."""
    body = max_tokens - 2
    out = []
    start = 0
    while True:
        chunk = ids[start:start + body]
        out.append([cls_id] + list(chunk) + [sep_id])
        if start + body >= len(ids):
            break
        start += stride
    return out


def pad_batch(seqs, pad_id):
    n = max(len(s) for s in seqs)
    ids = np.full((len(seqs), n), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), n), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return ids, mask


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def score_texts(texts, tok, logits_fn, batch=16, max_tokens=MAX_TOKENS, stride=STRIDE):
    """Per text: P(malicious) = max over windows of P(injection)+P(jailbreak); also the
    class probabilities of that max window. Windows are batched sorted by length."""
    cls_id, sep_id, pad_id = special_ids(tok)
    encs = tok.encode_batch(list(texts), add_special_tokens=False)
    wins, owner = [], []
    for i, e in enumerate(encs):
        for w in runtime_windows(e.ids, cls_id, sep_id, max_tokens, stride):
            wins.append(w)
            owner.append(i)
    order = np.argsort([len(w) for w in wins], kind="stable")
    probs = np.zeros((len(wins), 3), dtype=np.float64)
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        ids, mask = pad_batch([wins[j] for j in idx], pad_id)
        probs[idx] = softmax(np.asarray(logits_fn(ids, mask), dtype=np.float64))
    pmal = probs[:, 1] + probs[:, 2]
    best = np.full(len(texts), -1.0)
    best_p = np.zeros((len(texts), 3))
    for j, i in enumerate(owner):
        if pmal[j] > best[i]:
            best[i] = pmal[j]
            best_p[i] = probs[j]
    return best, best_p, len(wins)


def threshold_at_fpr(benign_scores, fpr):
    """Smallest threshold t (score >= t => malicious) with FPR <= fpr on these scores."""
    s = np.sort(np.asarray(benign_scores))[::-1]
    k = int(np.floor(fpr * len(s)))          # allowed false positives
    if k >= len(s):
        return 0.0
    # threshold just above the (k+1)-th highest benign score
    return float(np.nextafter(s[k], np.inf))


def recall_at(scores, y_mal, thr):
    s = np.asarray(scores)
    y = np.asarray(y_mal, dtype=bool)
    return float((s[y] >= thr).mean()) if y.any() else float("nan")


def fpr_at(scores, y_mal, thr):
    s = np.asarray(scores)
    y = np.asarray(y_mal, dtype=bool)
    return float((s[~y] >= thr).mean()) if (~y).any() else float("nan")
