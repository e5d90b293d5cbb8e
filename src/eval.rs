//! Evaluation on labelled data: how well the packs (and the classifier) do, per category,
//! rule and entity type.
//!
//! Two shapes of JSON Lines are read:
//! * spans: `{"text", "entities": [{"type", "start", "end"}], "decoys"?: [...]}` with Unicode
//!   code-point offsets (as `../shared/data/pii/` writes them);
//! * classification: `{"text", "label": "benign" | "injection" | "jailbreak"}`.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::policy::{Category, Decision, Direction};
use crate::span::Span;
use crate::{Engine, ScanRequest};

/// A gold span with its type, in code-point offsets.
#[derive(Debug, Clone, Deserialize)]
pub struct Entity {
    #[serde(rename = "type")]
    pub kind: String,
    pub start: usize,
    pub end: usize,
}

/// One labelled record; which fields are present decides the shape.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub text: String,
    #[serde(default)]
    pub entities: Option<Vec<Entity>>,
    #[serde(default)]
    pub decoys: Vec<Entity>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub hard: bool,
    /// `train` / `test` in `../shared/data`; `picket eval --split` filters on it.
    #[serde(default)]
    pub split: Option<String>,
    /// Every other field (`lang`, `source`, `kind`, ...), for `picket eval --group-by`.
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl Record {
    /// A field's value as a group name (`-` when absent); `source` is cut at its `:path`.
    pub fn group(&self, field: &str) -> String {
        match self.fields.get(field) {
            Some(serde_json::Value::String(s)) if field == "source" => s.split(':').next().unwrap_or(s).to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => "-".into(),
            Some(v) => v.to_string(),
        }
    }
}

/// True/false positive and false negative counts. They serialize with their precision,
/// recall and F1, so `picket eval --format json` carries the rates CI tracks, not only counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut out = s.serialize_struct("Counts", 6)?;
        out.serialize_field("tp", &self.tp)?;
        out.serialize_field("fp", &self.fp)?;
        out.serialize_field("fn", &self.fn_)?;
        out.serialize_field("precision", &self.precision())?;
        out.serialize_field("recall", &self.recall())?;
        out.serialize_field("f1", &self.f1())?;
        out.end()
    }
}

impl Counts {
    /// tp / (tp + fp), 1 when nothing was predicted.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    /// tp / (tp + fn), 1 when there was nothing to find.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// An error example kept for the user to read.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    /// `false_positive`, `false_negative`, `decoy_hit` or `leak`.
    pub kind: &'static str,
    pub record: usize,
    /// Entity type or rule id.
    pub what: String,
    /// The span's text.
    pub value: String,
}

/// Span evaluation result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SpanReport {
    pub records: usize,
    /// All entity types together.
    pub overall: Counts,
    /// Per entity type: tp / fn per gold entity of the type; fp per finding whose label is
    /// the type and that overlaps no gold entity.
    pub per_type: BTreeMap<String, Counts>,
    /// Precision per rule: tp = its finding overlaps a gold entity, fp = it does not.
    pub per_rule: BTreeMap<String, Counts>,
    pub decoys: usize,
    pub decoys_hit: usize,
    /// Gold values that survived in the masked text.
    pub leaks: usize,
    pub misses: Vec<Miss>,
}

/// Evaluate PII/secret detection against gold spans. A finding counts as a prediction when
/// its category is pii or secret and its score reaches the policy's `min_score` (that is,
/// when it would be masked); it is correct when it overlaps a gold entity of any type.
pub fn eval_spans(engine: &Engine, records: &[Record], direction: Direction) -> SpanReport {
    let min_score = engine.policy("default").map_or(0.5, |p| p.direction(direction).min_score);
    let partial: Vec<SpanReport> = records
        .par_iter()
        .enumerate()
        .filter(|(_, r)| r.entities.is_some())
        .map(|(i, record)| eval_one(engine, i, record, direction, min_score))
        .collect();
    let mut total = SpanReport::default();
    for r in partial {
        total.records += r.records;
        total.overall.add(r.overall);
        for (k, v) in r.per_type {
            total.per_type.entry(k).or_default().add(v);
        }
        for (k, v) in r.per_rule {
            total.per_rule.entry(k).or_default().add(v);
        }
        total.decoys += r.decoys;
        total.decoys_hit += r.decoys_hit;
        total.leaks += r.leaks;
        total.misses.extend(r.misses);
    }
    total
}

fn byte_span(text: &str, start: usize, end: usize) -> Option<Span> {
    let mut offsets = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len()));
    let s = offsets.clone().nth(start)?;
    let e = offsets.nth(end)?;
    Span::checked(text, s, e)
}

fn eval_one(engine: &Engine, index: usize, record: &Record, direction: Direction, min_score: f32) -> SpanReport {
    let mut out = SpanReport { records: 1, ..Default::default() };
    let text = &record.text;
    let request = ScanRequest { return_masked: true, classify: false, ..ScanRequest::new(text, record.direction.unwrap_or(direction)) };
    let Ok(report) = engine.scan(&request) else { return out };
    let predicted: Vec<(Span, &str, &str)> = report
        .findings
        .iter()
        .filter(|f| matches!(f.category, Category::Pii | Category::Secret) && f.score >= min_score)
        .map(|f| (Span::new(f.start, f.end), f.rule.as_str(), f.label.as_str()))
        .collect();
    let gold: Vec<(Span, &str)> =
        record.entities.iter().flatten().filter_map(|e| byte_span(text, e.start, e.end).map(|s| (s, e.kind.as_str()))).collect();
    for (span, kind) in &gold {
        let found = predicted.iter().any(|(p, _, _)| p.overlaps(span));
        let c = out.per_type.entry(kind.to_string()).or_default();
        if found {
            c.tp += 1;
            out.overall.tp += 1;
        } else {
            c.fn_ += 1;
            out.overall.fn_ += 1;
            out.misses.push(Miss { kind: "false_negative", record: index, what: kind.to_string(), value: span.slice(text).to_string() });
        }
        if let Some(masked) = &report.masked {
            let value = span.slice(text);
            if value.len() >= 6 && masked.contains(value) {
                out.leaks += 1;
                out.misses.push(Miss { kind: "leak", record: index, what: kind.to_string(), value: value.to_string() });
            }
        }
    }
    for (span, rule, label) in &predicted {
        let c = out.per_rule.entry(rule.to_string()).or_default();
        if gold.iter().any(|(g, _)| g.overlaps(span)) {
            c.tp += 1;
        } else {
            c.fp += 1;
            out.overall.fp += 1;
            out.per_type.entry(label.to_string()).or_default().fp += 1;
            out.misses.push(Miss { kind: "false_positive", record: index, what: rule.to_string(), value: span.slice(text).to_string() });
        }
    }
    for d in &record.decoys {
        out.decoys += 1;
        if let Some(span) = byte_span(text, d.start, d.end) {
            if predicted.iter().any(|(p, _, _)| p.overlaps(&span)) {
                out.decoys_hit += 1;
                out.misses.push(Miss { kind: "decoy_hit", record: index, what: d.kind.clone(), value: span.slice(text).to_string() });
            }
        }
    }
    out
}

/// Classification evaluation of whole decisions and the classifier's malicious score.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClassReport {
    pub records: usize,
    /// Malicious = injection ∪ jailbreak; positive prediction = decision `block`.
    pub blocking: Counts,
    /// Per gold label: how many were blocked.
    pub blocked_by_label: BTreeMap<String, (usize, usize)>,
    /// With `--group-by FIELD`: per value of the field, per gold label, (blocked, total).
    pub by_group: BTreeMap<String, BTreeMap<String, (usize, usize)>>,
    /// Benign records flagged `hard` that were blocked / total.
    pub hard_negatives_blocked: (usize, usize),
    /// Per rule: tp = fired on a malicious record, fp = fired on a benign one.
    pub per_rule: BTreeMap<String, Counts>,
    /// Malicious recall at a target benign false-positive rate, from the combined injection /
    /// jailbreak category score: (fpr, threshold, recall).
    pub recall_at_fpr: Vec<(f64, f64, f64)>,
    /// Threshold sweep (threshold, precision, recall, fpr) for a PR curve.
    pub sweep: Vec<(f64, f64, f64, f64)>,
    pub misses: Vec<Miss>,
}

/// (record index, malicious, hard, injection/jailbreak score, decision, rules that fired)
type Scored = (usize, bool, bool, f64, Decision, Vec<String>);

/// Evaluate block decisions on classification-labelled records.
///
/// Malicious means `injection` or `jailbreak`; records with any other non-benign label (such
/// as `harmful`) are counted per label and per group only, not in the blocking counts.
pub fn eval_classification(
    engine: &Engine,
    records: &[Record],
    direction: Direction,
    classify: bool,
    group_by: Option<&str>,
) -> ClassReport {
    let scored: Vec<Option<Scored>> = records
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let label = r.label.as_deref()?;
            let malicious = matches!(label, "injection" | "jailbreak");
            let req = ScanRequest { classify, ..ScanRequest::new(&r.text, r.direction.unwrap_or(direction)) };
            let report = engine.scan(&req).ok()?;
            let score = f64::from(report.categories.injection.max(report.categories.jailbreak));
            let rules = report
                .findings
                .iter()
                .filter(|f| matches!(f.category, Category::Injection | Category::Jailbreak))
                .map(|f| f.rule.clone())
                .collect();
            Some((i, malicious, r.hard, score, report.decision, rules))
        })
        .collect();
    let mut out = ClassReport::default();
    let mut points = Vec::new();
    for (i, malicious, hard, score, decision, rules) in scored.into_iter().flatten() {
        out.records += 1;
        let blocked = decision == Decision::Block;
        let label = records[i].label.clone().unwrap_or_default();
        if let Some(field) = group_by {
            let e = out.by_group.entry(records[i].group(field)).or_default().entry(label.clone()).or_default();
            e.1 += 1;
            e.0 += usize::from(blocked);
        }
        let counted = malicious || label == "benign";
        let e = out.blocked_by_label.entry(label).or_default();
        e.1 += 1;
        e.0 += usize::from(blocked);
        if !counted {
            continue;
        }
        match (malicious, blocked) {
            (true, true) => out.blocking.tp += 1,
            (true, false) => {
                out.blocking.fn_ += 1;
                out.misses.push(Miss { kind: "false_negative", record: i, what: "malicious".into(), value: truncate(&records[i].text) });
            }
            (false, true) => {
                out.blocking.fp += 1;
                out.misses.push(Miss { kind: "false_positive", record: i, what: "benign".into(), value: truncate(&records[i].text) });
            }
            (false, false) => {}
        }
        if hard && !malicious {
            out.hard_negatives_blocked.1 += 1;
            out.hard_negatives_blocked.0 += usize::from(blocked);
        }
        let mut seen = std::collections::BTreeSet::new();
        for rule in rules {
            if seen.insert(rule.clone()) {
                let c = out.per_rule.entry(rule).or_default();
                if malicious {
                    c.tp += 1;
                } else {
                    c.fp += 1;
                }
            }
        }
        points.push((score, malicious));
    }
    let negatives = points.iter().filter(|p| !p.1).count().max(1) as f64;
    let positives = points.iter().filter(|p| p.1).count().max(1) as f64;
    let mut thresholds: Vec<f64> = points.iter().map(|p| p.0).collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let at = |t: f64| {
        let tp = points.iter().filter(|p| p.1 && p.0 >= t).count() as f64;
        let fp = points.iter().filter(|p| !p.1 && p.0 >= t).count() as f64;
        (if tp + fp == 0.0 { 1.0 } else { tp / (tp + fp) }, tp / positives, fp / negatives)
    };
    for fpr_target in [0.01, 0.05] {
        let best = thresholds.iter().filter(|t| at(**t).2 <= fpr_target).map(|t| (*t, at(*t).1)).min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((t, recall)) = best {
            out.recall_at_fpr.push((fpr_target, t, recall));
        }
    }
    for step in 0..=20 {
        let t = f64::from(step) / 20.0;
        let (p, r, f) = at(t);
        out.sweep.push((t, p, r, f));
    }
    out
}

fn truncate(text: &str) -> String {
    let cut: String = text.chars().take(160).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Read a JSON Lines file of records; a bad line is an error naming its number.
pub fn read_records(path: &std::path::Path) -> Result<Vec<Record>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1)))
        .collect()
}
