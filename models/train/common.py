"""Shared helpers: data loading and windowing (identical to the Rust runtime)."""
import json
import os

import numpy as np

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
