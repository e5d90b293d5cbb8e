//! `picket explain`: a terminal view of why a text scored what it did.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context as _;
use picket::explain::{explain, Explanation};
use picket::{Decision, Direction, ScanRequest};

use super::style::{self, TextOrJson};
use super::EngineArgs;

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The text (default: all of stdin).
    #[arg(long)]
    text: Option<String>,
    #[arg(long, default_value = "input", value_parser = |s: &str| s.parse::<Direction>())]
    direction: Direction,
    #[arg(long)]
    policy: Option<String>,
    /// The terminal view (text) or JSON.
    #[arg(long, value_enum, default_value = "text")]
    format: TextOrJson,
    /// Same as `--format json` (kept for scripts written before `--format`).
    #[arg(long, hide = true, conflicts_with = "format")]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let text = match &args.text {
        Some(t) => t.clone(),
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("reading stdin (must be UTF-8)")?;
            s
        }
    };
    let engine = args.engine.engine()?;
    let req =
        ScanRequest { policy: args.policy.as_deref(), classify: !args.engine.no_classifier, ..ScanRequest::new(&text, args.direction) };
    let why = explain(&engine, &req)?;
    if args.json || args.format == TextOrJson::Json {
        println!("{}", serde_json::to_string_pretty(&why)?);
    } else {
        print!("{}", render(&text, &why, style::color_stdout()));
    }
    Ok(if why.report.decision == Decision::Block { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn render(text: &str, why: &Explanation, color: bool) -> String {
    let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    let mut out = String::new();
    // The text with findings highlighted (outermost spans; overlaps merge).
    let mut spans: Vec<(usize, usize)> = why.findings.iter().map(|f| (f.start, f.end)).collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s < last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let mut cursor = 0;
    out.push_str(&paint("1", "text\n"));
    for (s, e) in merged {
        out.push_str(&text[cursor..s]);
        out.push_str(&if color { paint("1;31", &text[s..e]) } else { format!("[[{}]]", &text[s..e]) });
        cursor = e;
    }
    out.push_str(&text[cursor..]);
    out.push_str("\n\n");
    out.push_str(&paint("1", &format!("findings ({})\n", why.findings.len())));
    for f in &why.findings {
        let shown: String = f.text.chars().take(60).collect();
        out.push_str(&format!("  {} {} [{}..{}] {:?} via {}\n", paint("1;33", &f.rule), f.category, f.start, f.end, shown, f.via));
        out.push_str(&format!("      {}\n", f.matcher));
        if let Some(v) = &f.validator {
            out.push_str(&format!("      validator {v}\n"));
        }
        if (f.score - f.base_score).abs() > 1e-6 {
            out.push_str(&format!("      score {:.2} (base {:.2}, changed by context words)\n", f.score, f.base_score));
        } else {
            out.push_str(&format!("      score {:.2}\n", f.score));
        }
        out.push_str(&format!("      defined at {} (pack {})\n", f.location, f.pack));
    }
    if !why.windows.is_empty() {
        out.push_str(&paint("1", &format!("\nclassifier windows ({})\n", why.windows.len())));
        for w in &why.windows {
            let scores: Vec<String> = w.scores.iter().map(|(l, p)| format!("{l} {p:.3}")).collect();
            out.push_str(&format!("  [{}..{}] {}\n", w.start, w.end, scores.join("  ")));
        }
    }
    out.push_str(&paint("1", "\nscoring (noisy-OR per category; each rule counted once)\n"));
    for c in why.categories.iter().filter(|c| c.score > 0.0 || !c.rules.is_empty()) {
        let threshold = c.threshold.map_or("never blocks".to_string(), |t| format!("block at {t:.2}"));
        let mark = if c.blocks { paint("1;31", "BLOCK") } else { "ok".to_string() };
        out.push_str(&format!("  {:<10} {:.3}  ({threshold}) {mark}\n", c.category.as_str(), c.score));
        for (rule, s) in &c.rules {
            out.push_str(&format!("      {s:.2}  {rule}\n"));
        }
        if let Some(s) = c.classifier {
            out.push_str(&format!("      {s:.2}  classifier (calibrated)\n"));
        }
    }
    out.push_str(&format!("\n{} {}\n", paint("1", "decision"), why.decision_reason));
    if let Some(m) = &why.report.masked {
        if why.report.decision == Decision::Mask {
            out.push_str(&format!("{} {m}\n", paint("1", "masked")));
        }
    }
    out
}
