#!/usr/bin/env python3
"""Export the fine-tuned classifier to ONNX, quantize it to int8 and pick the threshold.

1. work/model.pt -> work/model.fp32.onnx (opset 17; inputs input_ids, attention_mask,
   token_type_ids: int64 [batch, seq], dynamic; output logits [batch, 3]).
2. quantize_dynamic(weight_type=QInt8, per_channel=True) -> models/picket-intent/model.onnx
3. Checks: ONNX fp32 vs torch max |logit diff| on test-split windows; int8 vs fp32 argmax
   agreement per window and malicious-decision agreement per text on the whole test split.
4. Threshold: P(injection)+P(jailbreak) (max over 256/192 windows) at 1 % FPR on the benign
   texts of the TRAIN validation slice, scored with the int8 model. Written to model.toml.
5. Copies the base tokenizer.json; writes model.toml; work/export_report.json.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert import BertClassifier, find_base_model_dir  # noqa: E402
from common import (LABELS, MAX_TOKENS, STRIDE, WORK, fpr_at, load_jsonl, load_tokenizer,  # noqa: E402
                    pad_batch, recall_at, runtime_windows, score_texts, special_ids, threshold_at_fpr)

REPO_MODELS = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
VERSION = "2026.11.22"


def write_toml(path, threshold):
    txt = f'''id = "picket-intent"
version = "{VERSION}"
labels = ["benign", "injection", "jailbreak"]   # order of the logits
benign_label = "benign"
max_tokens = {MAX_TOKENS}          # window length in tokens INCLUDING [CLS]/[SEP]
stride = {STRIDE}              # step between window starts, in tokens (overlap = max_tokens - stride)
pad_id = 0
inputs = ["input_ids", "attention_mask", "token_type_ids"]   # graph input names to feed
output = "logits"
threshold = {threshold}   # P(injection) + P(jailbreak) at or above this => malicious (1 % FPR on the TRAIN validation slice)
[categories]
injection = "injection"
jailbreak = "jailbreak"
'''
    with open(path, "w") as fh:
        fh.write(txt)


def ort_session(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_fn(sess):
    def fn(ids, mask):
        return sess.run(["logits"], {"input_ids": ids, "attention_mask": mask,
                                     "token_type_ids": np.zeros_like(ids)})[0]
    return fn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(WORK, "model.pt"))
    ap.add_argument("--out-dir", default=os.path.join(REPO_MODELS, "picket-intent"))
    ap.add_argument("--fpr", type=float, default=0.01)
    ap.add_argument("--quick", type=int, default=0, help="smoke test: use only N val/test rows")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out_dir, exist_ok=True)
    base = find_base_model_dir()
    with open(os.path.join(base, "config.json")) as fh:
        cfg = json.load(fh)
    model = BertClassifier.from_config(cfg, n_labels=3)
    model.load_state_dict(torch.load(args.ckpt, map_location="cpu"))
    model.eval()

    fp32 = os.path.join(WORK, "model.fp32.onnx")
    int8 = os.path.join(args.out_dir, "model.onnx")
    ex = (torch.tensor([[101, 7592, 2088, 102]]), torch.ones(1, 4, dtype=torch.long),
          torch.zeros(1, 4, dtype=torch.long))
    dyn = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
           "token_type_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}}
    torch.onnx.export(model, ex, fp32, input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["logits"], dynamic_axes=dyn, opset_version=17, dynamo=False,
                      do_constant_folding=True)
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx.checker.check_model(onnx.load(fp32))
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True)
    rep = {"fp32_bytes": os.path.getsize(fp32), "int8_bytes": os.path.getsize(int8), "opset": 17}
    print(rep, flush=True)

    tok = load_tokenizer(os.path.join(base, "tokenizer.json"))
    shutil.copyfile(os.path.join(base, "tokenizer.json"), os.path.join(args.out_dir, "tokenizer.json"))
    cls_id, sep_id, pad_id = special_ids(tok)
    assert pad_id == 0
    s32, s8 = ort_session(fp32), ort_session(int8)
    f32, f8 = ort_fn(s32), ort_fn(s8)

    test = load_jsonl(os.path.join(WORK, "test.jsonl"))
    if args.quick:
        test = test[::max(1, len(test) // args.quick)]
    # (3) fp32 ONNX vs torch on windows of 300 test texts (deterministic sample)
    rs = np.random.RandomState(0)
    sample = [test[i] for i in rs.choice(len(test), min(300, len(test)), replace=False)]
    wins = []
    for e in tok.encode_batch([r["text"] for r in sample], add_special_tokens=False):
        wins += runtime_windows(e.ids, cls_id, sep_id)
    maxdiff = 0.0
    for b in range(0, len(wins), 16):
        ids, mask = pad_batch(wins[b:b + 16], pad_id)
        with torch.no_grad():
            ref = model(torch.from_numpy(ids), torch.from_numpy(mask), torch.zeros_like(torch.from_numpy(ids))).numpy()
        maxdiff = max(maxdiff, float(np.abs(ref - f32(ids, mask)).max()))
    rep["fp32_onnx_vs_torch_max_abs_logit_diff"] = maxdiff
    rep["fp32_vs_torch_windows"] = len(wins)
    print("fp32 onnx vs torch max |diff|", maxdiff, flush=True)

    # (4) threshold on the TRAIN validation slice with the int8 model
    val = load_jsonl(os.path.join(WORK, "val.jsonl"))
    if args.quick:
        val = val[::max(1, len(val) // args.quick)]
    vs8, _, _ = score_texts([r["text"] for r in val], tok, f8)
    yv = np.array([r["label"] != "benign" for r in val])
    hv = np.array([r["hard"] for r in val])
    thr = threshold_at_fpr(vs8[~yv], args.fpr)
    thr = math.ceil(thr * 1e4) / 1e4           # round up: keeps FPR <= target on val
    thr = min(max(thr, 0.05), 0.995)
    rep["threshold"] = thr
    rep["val"] = {"n_benign": int((~yv).sum()), "n_malicious": int(yv.sum()),
                  "fpr": fpr_at(vs8, yv, thr), "recall": recall_at(vs8, yv, thr),
                  "hard_fpr": float((vs8[~yv & hv] >= thr).mean())}
    print("threshold", thr, rep["val"], flush=True)

    # (3b) int8 vs fp32 on the whole test split
    texts = [r["text"] for r in test]
    t = time.time()
    sc32, p32, nwin = score_texts(texts, tok, f32)
    sc8, p8, _ = score_texts(texts, tok, f8)
    rep["test_windows"] = nwin
    rep["int8_vs_fp32_text_decision_agreement"] = float(((sc32 >= thr) == (sc8 >= thr)).mean())
    rep["int8_vs_fp32_text_argmax_agreement"] = float((p32.argmax(1) == p8.argmax(1)).mean())
    rep["int8_vs_fp32_max_abs_pmal_diff"] = float(np.abs(sc32 - sc8).max())
    y = np.array([r["label"] != "benign" for r in test])
    rep["fp32_test_recall_at_thr"] = recall_at(sc32, y, thr)
    rep["fp32_test_fpr_at_thr"] = fpr_at(sc32, y, thr)
    rep["int8_test_recall_at_thr"] = recall_at(sc8, y, thr)
    rep["int8_test_fpr_at_thr"] = fpr_at(sc8, y, thr)
    print("int8 vs fp32", {k: v for k, v in rep.items() if "int8" in k}, f"{time.time() - t:.0f}s", flush=True)

    write_toml(os.path.join(args.out_dir, "model.toml"), thr)
    with open(os.path.join(WORK, "export_report.json"), "w") as fh:
        json.dump(rep, fh, indent=1)
    assert rep["int8_bytes"] <= 30 * 1024 * 1024, "int8 model over 30 MB"
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
