//! `picket eval --data FILE.jsonl`: precision / recall on labelled data.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use picket::eval::{eval_classification, eval_spans, read_records, ClassReport, Record, SpanReport};
use picket::Direction;

use super::style::TextOrJson;
use super::EngineArgs;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// JSON Lines: `{"text","label"}` (classification) or `{"text","entities":[{type,start,end}]}` (spans).
    #[arg(long, required = true)]
    data: Vec<PathBuf>,
    /// Only records whose `split` field equals this (e.g. `test` for ../shared/data).
    #[arg(long)]
    split: Option<String>,
    #[arg(long, default_value = "input", value_parser = |s: &str| s.parse::<Direction>())]
    direction: Direction,
    /// `text` (default) or `json` for CI tracking (counts with precision, recall and F1).
    #[arg(long, value_enum, default_value = "text")]
    format: TextOrJson,
    /// Write the false positives / negatives (texts truncated) to this JSON Lines file.
    #[arg(long)]
    misses: Option<PathBuf>,
    /// Report the blocked share per value of this record field too (`lang`, `source`, `kind`, ...).
    #[arg(long)]
    group_by: Option<String>,
    /// Write a precision-recall curve (SVG) of the injection/jailbreak score; needs records
    /// with a `label` (an error otherwise).
    #[arg(long)]
    plot: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let mut records: Vec<Record> = Vec::new();
    for path in &args.data {
        records.extend(read_records(path).map_err(anyhow::Error::msg)?);
    }
    if let Some(split) = &args.split {
        records.retain(|r| r.split.as_deref() == Some(split.as_str()));
    }
    if args.plot.is_some() && !records.iter().any(|r| r.entities.is_none() && r.label.is_some()) {
        anyhow::bail!("--plot draws the injection/jailbreak precision-recall curve: the data has no records with a \"label\"");
    }
    let bytes: usize = records.iter().map(|r| r.text.len()).sum();
    let engine = args.engine.engine()?;
    let (spans, labelled): (Vec<Record>, Vec<Record>) = records.into_iter().partition(|r| r.entities.is_some());
    let started = Instant::now();
    let span_report = (!spans.is_empty()).then(|| eval_spans(&engine, &spans, args.direction));
    let class_report = (!labelled.is_empty())
        .then(|| eval_classification(&engine, &labelled, args.direction, !args.engine.no_classifier, args.group_by.as_deref()));
    let seconds = started.elapsed().as_secs_f64();
    let throughput = serde_json::json!({"records": spans.len() + labelled.len(), "bytes": bytes, "seconds": seconds,
        "records_per_s": (spans.len() + labelled.len()) as f64 / seconds, "mb_per_s": bytes as f64 / 1e6 / seconds});

    if let Some(path) = &args.misses {
        let mut out = String::new();
        for m in span_report.iter().flat_map(|r| &r.misses).chain(class_report.iter().flat_map(|r| &r.misses)) {
            out.push_str(&serde_json::to_string(m)?);
            out.push('\n');
        }
        std::fs::write(path, out).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    if let (Some(path), Some(r)) = (&args.plot, &class_report) {
        std::fs::write(path, pr_curve_svg(r)).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    if args.format == TextOrJson::Json {
        let strip = |mut v: serde_json::Value| {
            v.as_object_mut().map(|o| o.remove("misses"));
            v
        };
        let json = serde_json::json!({
            "spans": span_report.as_ref().map(|r| strip(serde_json::to_value(r).unwrap_or_default())),
            "classification": class_report.as_ref().map(|r| strip(serde_json::to_value(r).unwrap_or_default())),
            "throughput": throughput,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        if let Some(r) = &span_report {
            print!("{}", render_spans(r));
        }
        if let Some(r) = &class_report {
            print!("{}", render_classes(r));
        }
        println!(
            "\n{} records, {:.1} MB in {seconds:.2} s ({:.0} records/s)",
            throughput["records"],
            bytes as f64 / 1e6,
            throughput["records_per_s"].as_f64().unwrap_or(0.0)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn prf(c: &picket::eval::Counts) -> String {
    format!("P {:.3}  R {:.3}  F1 {:.3}  (tp {} fp {} fn {})", c.precision(), c.recall(), c.f1(), c.tp, c.fp, c.fn_)
}

fn render_spans(r: &SpanReport) -> String {
    let mut s = format!("== spans: {} records ==\noverall      {}\n", r.records, prf(&r.overall));
    s.push_str("by entity type (fp: findings with that label overlapping no gold entity):\n");
    for (k, c) in &r.per_type {
        let _ = writeln!(s, "  {k:<24} {}", prf(c));
    }
    s.push_str("precision by rule:\n");
    for (k, c) in &r.per_rule {
        let _ = writeln!(s, "  {k:<36} P {:.3}  (tp {} fp {})", c.precision(), c.tp, c.fp);
    }
    let _ = writeln!(s, "decoys hit {} of {}; values leaked by masking {}", r.decoys_hit, r.decoys, r.leaks);
    s
}

fn render_classes(r: &ClassReport) -> String {
    let mut s = format!("== classification: {} records ==\nblock = malicious  {}\n", r.records, prf(&r.blocking));
    for (label, (blocked, total)) in &r.blocked_by_label {
        let _ = writeln!(s, "  {label:<10} blocked {blocked} of {total} ({:.1}%)", 100.0 * *blocked as f64 / (*total).max(1) as f64);
    }
    if !r.by_group.is_empty() {
        s.push_str("blocked per group (label blocked/total):\n");
        for (group, labels) in &r.by_group {
            let cells: Vec<String> =
                labels.iter().map(|(l, (b, t))| format!("{l} {b}/{t} ({:.1}%)", 100.0 * *b as f64 / (*t).max(1) as f64)).collect();
            let _ = writeln!(s, "  {group:<28} {}", cells.join("  "));
        }
    }
    let (hb, ht) = r.hard_negatives_blocked;
    let _ = writeln!(s, "  hard negatives blocked {hb} of {ht} ({:.1}%)", 100.0 * hb as f64 / ht.max(1) as f64);
    for (fpr, t, recall) in &r.recall_at_fpr {
        let _ = writeln!(s, "  recall at {:.0}% FPR: {recall:.3} (category score >= {t:.3})", fpr * 100.0);
    }
    s.push_str("rules (fired on malicious / benign records):\n");
    let mut rules: Vec<_> = r.per_rule.iter().collect();
    rules.sort_by_key(|(_, c)| std::cmp::Reverse(c.tp + c.fp));
    for (k, c) in rules {
        let _ = writeln!(s, "  {k:<36} malicious {:>5}  benign {:>4}  P {:.3}", c.tp, c.fp, c.precision());
    }
    s.push_str("threshold sweep (score >= t): t  precision  recall  fpr\n");
    for (t, p, rc, f) in r.sweep.iter().step_by(2) {
        let _ = writeln!(s, "  {t:.2}  {p:.3}  {rc:.3}  {f:.4}");
    }
    s
}

/// A small hand-written SVG: precision (y) against recall (x) over the threshold sweep.
fn pr_curve_svg(r: &ClassReport) -> String {
    let (w, h, m) = (480.0, 360.0, 40.0);
    let x = |recall: f64| m + recall * (w - 2.0 * m);
    let y = |precision: f64| h - m - precision * (h - 2.0 * m);
    let points: Vec<String> = r.sweep.iter().map(|(_, p, rc, _)| format!("{:.1},{:.1}", x(*rc), y(*p))).collect();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<line x1="{m}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/><line x1="{m}" y1="{m}" x2="{m}" y2="{b}" stroke="black"/>
<text x="{cx}" y="{ly}" text-anchor="middle">recall</text><text x="12" y="{cy}" transform="rotate(-90 12 {cy})" text-anchor="middle">precision</text>
<text x="{cx}" y="20" text-anchor="middle">injection ∪ jailbreak score, {n} records</text>
<polyline fill="none" stroke="#c0392b" stroke-width="2" points="{pts}"/>
</svg>
"##,
        b = h - m,
        r = w - m,
        cx = w / 2.0,
        cy = h / 2.0,
        ly = h - 8.0,
        n = r.records,
        pts = points.join(" ")
    )
}
