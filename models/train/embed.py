#!/usr/bin/env python3
"""Frozen-encoder features for every window of every row, from the exact int8 graph we ship.

1. vocabulary: count SentencePiece ids over the TRAIN rows' text; keep the --keep most frequent
   (plus specials); every other id is remapped onto its nearest kept row (encoder.select_vocab).
2. encoder: the first --layers layers of multilingual-e5-small as ONNX (encoder.build), int8
   (encoder.quantize) -> work/encoder_int8.onnx, with pooled features after layers --probe too.
3. features: every row is cut into the runtime's windows (common.runtime_windows) and each window
   is encoded; results are cached by text hash in work/features/*.npz, so adding rows later only
   encodes the new texts.

The classifier head is trained on these features (head.py) and appended to this very graph
(export.py): the features seen in training are bit-for-bit the ones the runtime computes.

    .venv/bin/python embed.py [--threads 2]
"""
import argparse
import ast
import glob
import hashlib
import json
import os
import time

import numpy as np
import onnx

import encoder
from common import MAX_TOKENS, STRIDE, WORK, load_jsonl, load_tokenizer, pad_batch, runtime_windows

LAYERS = 8
PROBES = (6, 7)
KEEP = 80_000
BOS, EOS, PAD = 0, 2, 1


def text_key(text):
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def build_encoder(rows, tok, layers, keep, probes):
    z = np.load(os.path.join(WORK, "e5_f32.npz"))
    config = ast.literal_eval(bytes(z["__config__"]).decode())
    tensors = {k: z[k] for k in z.keys() if k != "__config__"}
    counts = np.zeros(tensors["emb.word"].shape[0], dtype=np.int64)
    train_texts = [r["text"] for r in rows if r["part"] == "train"]
    for e in tok.encode_batch(train_texts, add_special_tokens=False):
        np.add.at(counts, np.asarray(e.ids, dtype=np.int64), 1)
    t0 = time.time()
    kept, remap = encoder.select_vocab(tensors["emb.word"], counts, keep)
    print(f"vocabulary: {int((counts > 0).sum())} ids seen in train text, {len(kept)} kept, "
          f"nearest-row remap in {time.time() - t0:.0f}s")
    np.savez(os.path.join(WORK, "vocab.npz"), kept=kept, remap=remap, counts=counts)
    model = encoder.build(tensors, config, layers, kept=kept, remap=remap, outputs_at=probes)
    fp32 = os.path.join(WORK, "encoder_fp32.onnx")
    onnx.save(model, fp32)
    int8 = os.path.join(WORK, "encoder_int8.onnx")
    encoder.quantize(fp32, int8)
    print(f"encoder: {os.path.getsize(int8) / 1e6:.1f} MB int8 ({layers} layers, {len(kept)} rows)")
    return int8


def load_cache(folder="features"):
    """{text key: float16 array [windows, features]} from every cache file."""
    cache = {}
    for path in sorted(glob.glob(os.path.join(WORK, folder, "*.npz"))):
        z = np.load(path)
        feats, offs = z["feats"], z["offsets"]
        for k, a, b in zip(z["keys"], offs[:-1], offs[1:]):
            cache[str(k)] = feats[a:b]
    return cache


def session(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def encode_exact(texts, tok, sess):
    """Like encode_texts, but each text's windows run as their own batch, exactly as the Rust
    runtime runs them (int8 activations are quantized per tensor, so batch neighbours matter)."""
    names = [o.name for o in sess.get_outputs()]
    out, t0 = [], time.time()
    for n, text in enumerate(texts):
        ids = tok.encode(text, add_special_tokens=False).ids
        wins = runtime_windows(ids, BOS, EOS, MAX_TOKENS, STRIDE)
        feats = []
        for b in range(0, len(wins), 16):
            a, m = pad_batch(wins[b:b + 16], PAD)
            feats.append(np.concatenate(sess.run(names, {"input_ids": a, "attention_mask": m}), axis=1))
        out.append(np.concatenate(feats).astype(np.float16))
        if n % 2000 == 0:
            print(f"  exact {n}/{len(texts)}, {time.time() - t0:.0f}s", flush=True)
    return out, names


def encode_texts(texts, tok, sess, batch=32):
    """[per text: float16 array [windows, n_outputs * H]] in the runtime's windowing."""
    encs = tok.encode_batch(list(texts), add_special_tokens=False)
    wins, owner = [], []
    for i, e in enumerate(encs):
        for w in runtime_windows(e.ids, BOS, EOS, MAX_TOKENS, STRIDE):
            wins.append(w)
            owner.append(i)
    order = np.argsort([len(w) for w in wins], kind="stable")
    out = [None] * len(wins)
    names = [o.name for o in sess.get_outputs()]
    t0 = time.time()
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        ids, mask = pad_batch([wins[j] for j in idx], PAD)
        res = sess.run(names, {"input_ids": ids, "attention_mask": mask})
        feats = np.concatenate(res, axis=1).astype(np.float16)
        for j, f in zip(idx, feats):
            out[j] = f
        if b // batch % 200 == 0:
            print(f"  {b}/{len(wins)} windows, {time.time() - t0:.0f}s", flush=True)
    per_text = [[] for _ in texts]
    for j, i in enumerate(owner):
        per_text[i].append(out[j])
    return [np.stack(p) for p in per_text], names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", type=int, default=LAYERS)
    ap.add_argument("--keep", type=int, default=KEEP)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the encoder (drops the cache)")
    ap.add_argument("--exact", default="", help="comma-separated parts (val,eval,test) to encode exactly like the runtime, one text per run")
    args = ap.parse_args()
    rows = load_jsonl(os.path.join(WORK, "rows.jsonl"))
    tok = load_tokenizer(os.path.join(WORK, "tokenizer.json"))
    int8 = os.path.join(WORK, "encoder_int8.onnx")
    if args.rebuild or not os.path.exists(int8):
        for f in glob.glob(os.path.join(WORK, "features", "*.npz")):
            os.remove(f)
        build_encoder(rows, tok, args.layers, args.keep, PROBES)
    folder = "features_exact" if args.exact else "features"
    parts = set(args.exact.split(",")) if args.exact else None
    cache = load_cache(folder)
    todo = sorted({r["text"] for r in rows if text_key(r["text"]) not in cache and (parts is None or r["part"] in parts)}, key=len)
    print(f"{len(rows)} rows, {len(cache)} cached texts, {len(todo)} to encode")
    if not todo:
        return
    sess = session(int8, args.threads)
    os.makedirs(os.path.join(WORK, folder), exist_ok=True)
    t0 = time.time()
    for s in range(0, len(todo), 8000):
        part = todo[s:s + 8000]
        feats, names = encode_exact(part, tok, sess) if args.exact else encode_texts(part, tok, sess)
        offsets = np.cumsum([0] + [len(f) for f in feats])
        path = os.path.join(WORK, folder, f"{int(time.time() * 1000)}.npz")
        np.savez(path, keys=np.array([text_key(t) for t in part]), offsets=offsets,
                 feats=np.concatenate(feats), names=np.array(names))
        print(f"{s + len(part)}/{len(todo)} texts, {time.time() - t0:.0f}s", flush=True)
    if args.exact:
        return
    with open(os.path.join(WORK, "embed_report.json"), "w") as fh:
        json.dump({"outputs": names, "texts": len(todo), "seconds": time.time() - t0}, fh)


if __name__ == "__main__":
    main()
