"""The classifier as one ONNX graph, written with onnx.helper (no torch needed).

    input_ids, attention_mask  ->  vocabulary remap -> BERT encoder (first N layers of
    multilingual-e5-small) -> masked mean pool -> L2 norm -> linear head / temperature -> logits

The vocabulary remap keeps the tokenizer's segmentation untouched (so the full SentencePiece
model still splits unseen text exactly as the base model was trained on) while only the most
useful rows of the 250k-row embedding table are stored: every dropped piece points at the kept
piece whose embedding is nearest (cosine). That is how the model fits the size budget.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.n, self.names = [], [], 0, set()

    def const(self, name, arr):
        """An initializer; a name already defined is reused (shared scalars)."""
        if name not in self.names:
            self.names.add(name)
            self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, kind, inputs, **attrs):
        self.n += 1
        out = f"{kind.lower()}_{self.n}"
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def linear(self, x, w, b, name):
        """x @ w.T + b with w in torch layout [out, in]."""
        wt = self.const(f"{name}.weight", np.ascontiguousarray(w.T.astype(np.float32)))
        bb = self.const(f"{name}.bias", b.astype(np.float32))
        return self.op("Add", [self.op("MatMul", [x, wt]), bb])

    def layer_norm(self, x, w, b, name, eps):
        return self.op("LayerNormalization", [x, self.const(f"{name}.w", w), self.const(f"{name}.b", b)],
                       axis=-1, epsilon=eps)


def select_vocab(word, counts, keep, always=(0, 1, 2, 3)):
    """Kept rows: specials, then pieces by training-text frequency, then by nothing else.
    Returns (kept original ids in new-row order, remap[original id] -> new row)."""
    order = np.argsort(-counts, kind="stable")
    kept = list(always)
    seen = set(kept)
    for i in order:
        if len(kept) >= keep or counts[i] <= 0:
            break
        if int(i) not in seen:
            kept.append(int(i))
            seen.add(int(i))
    kept = np.array(kept, dtype=np.int64)
    remap = np.full(word.shape[0], -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    dropped = np.where(remap < 0)[0]
    kept_n = word[kept] / np.linalg.norm(word[kept], axis=1, keepdims=True).clip(1e-6)
    for s in range(0, len(dropped), 4096):
        ids = dropped[s:s + 4096]
        q = word[ids] / np.linalg.norm(word[ids], axis=1, keepdims=True).clip(1e-6)
        remap[ids] = np.argmax(q @ kept_n.T, axis=1)
    return kept, remap.astype(np.int32)


def build(tensors, config, layers, kept=None, remap=None, head=None, outputs_at=None):
    """The ONNX model. `head` = (W [labels, H], b [labels]) with the temperature folded in;
    without a head the graph outputs the pooled L2-normalised features `features` (and
    `features_l{k}` for each layer k in outputs_at, for probing depth)."""
    H, nh, eps = config["hidden"], config["heads"], config["eps"]
    dh = H // nh
    g = Graph()
    word = tensors["emb.word"]
    ids = "input_ids"
    if remap is not None:
        ids = g.op("Gather", [g.const("vocab_remap", remap), ids], axis=0)
        word = word[kept]
    we = g.op("Gather", [g.const("word_embeddings", word.astype(np.float32)), ids], axis=0)
    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const("one_i", np.array(1, np.int64))], axis=0)
    pos_ids = g.op("Range", [g.const("zero_i", np.array(0, np.int64)), seq, g.const("step_i", np.array(1, np.int64))])
    pe = g.op("Gather", [g.const("position_embeddings", tensors["emb.pos"]), pos_ids], axis=0)
    te = g.const("token_type_embedding", tensors["emb.type"][0])
    x = g.layer_norm(g.op("Add", [g.op("Add", [we, pe]), te]), tensors["emb.ln.w"], tensors["emb.ln.b"], "emb.ln", eps)

    maskf = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    neg = g.op("Mul", [g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), maskf]),
                       g.const("neg_big", np.array(-10000.0, np.float32))])
    bias = g.op("Unsqueeze", [neg, g.const("axes_1_2", np.array([1, 2], np.int64))])
    heads_shape = g.const("heads_shape", np.array([0, 0, nh, dh], np.int64))
    merge_shape = g.const("merge_shape", np.array([0, 0, H], np.int64))
    scale = g.const("attn_scale", np.array(1.0 / np.sqrt(dh), np.float32))
    sqrt2 = g.const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    half = g.const("half", np.array(0.5, np.float32))
    one = "one_f"
    mask3 = g.op("Unsqueeze", [maskf, g.const("axes_m1", np.array([-1], np.int64))])
    count = g.op("Max", [g.op("ReduceSum", [mask3, g.const("axes_1", np.array([1], np.int64))], keepdims=0),
                         g.const("min_count", np.array(1.0, np.float32))])

    def pooled(h):
        s = g.op("ReduceSum", [g.op("Mul", [h, mask3]), "axes_1"], keepdims=0)
        mean = g.op("Div", [s, count])
        norm = g.op("Sqrt", [g.op("Max", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), "axes_m1"], keepdims=1),
                                          g.const("tiny", np.array(1e-12, np.float32))])])
        return g.op("Div", [mean, norm])

    probes = {}
    for i in range(layers):
        p = f"l{i}."
        t = lambda k: tensors[p + k]  # noqa: E731
        q = g.op("Transpose", [g.op("Reshape", [g.linear(x, t("q.w"), t("q.b"), p + "q"), heads_shape])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [g.linear(x, t("k.w"), t("k.b"), p + "k"), heads_shape])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [g.linear(x, t("v.w"), t("v.b"), p + "v"), heads_shape])], perm=[0, 2, 1, 3])
        att = g.op("Softmax", [g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])], axis=-1)
        ctx = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [att, v])], perm=[0, 2, 1, 3]), merge_shape])
        x = g.layer_norm(g.op("Add", [g.linear(ctx, t("ao.w"), t("ao.b"), p + "ao"), x]), t("aln.w"), t("aln.b"), p + "aln", eps)
        h = g.linear(x, t("fi.w"), t("fi.b"), p + "fi")
        gelu = g.op("Mul", [g.op("Mul", [h, half]), g.op("Add", [g.op("Erf", [g.op("Div", [h, sqrt2])]), one])])
        x = g.layer_norm(g.op("Add", [g.linear(gelu, t("fo.w"), t("fo.b"), p + "fo"), x]), t("oln.w"), t("oln.b"), p + "oln", eps)
        if outputs_at and (i + 1) in outputs_at and (i + 1) != layers:
            probes[i + 1] = pooled(x)

    feats = pooled(x)
    outs = []
    if head is None:
        g.nodes.append(helper.make_node("Identity", [feats], ["features"]))
        outs.append(helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", H]))
        for k, name in probes.items():
            g.nodes.append(helper.make_node("Identity", [name], [f"features_l{k}"]))
            outs.append(helper.make_tensor_value_info(f"features_l{k}", TensorProto.FLOAT, ["batch", H]))
    else:
        w, b = head
        logits = g.op("Add", [g.op("MatMul", [feats, g.const("head.weight", np.ascontiguousarray(w.T.astype(np.float32)))]),
                              g.const("head.bias", b.astype(np.float32))])
        g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
        outs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", w.shape[0]]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask")]
    graph = helper.make_graph(g.nodes, "picket_intent", inputs, outs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="picket-train")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def quantize(src, dst):
    """int8 per-channel weights (MatMul and the embedding Gather); activations stay float."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(src, dst, per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul", "Gather"],
                     extra_options={"EnableSubgraph": False})
