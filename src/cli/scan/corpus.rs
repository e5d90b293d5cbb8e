//! `picket scan PATH...`: corpus mode. Turns the flags into [`BatchOptions`], wires the
//! progress bar (only when stderr is a terminal), decides what goes to stdout, and renders the
//! summary. Exit status: 0 nothing blocked, 1 something blocked (or masked, with
//! `--fail-on mask`), 2 error.
//!
//! Standard output carries exactly one thing: the SARIF log (`--format sarif`), else the
//! summary (`--summary`, or `--format json`), else the JSON Lines report when no `--report`
//! file is given.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use picket::batch::{self, BatchOptions, BatchSummary, ChunkUnit, ClassifyPolicy, OutputTarget, Progress, DEFAULT_MAX_FILE_SIZE};
use picket::{Decision, Direction, Engine};

use crate::cli::style::FailOn;

/// Flags of corpus mode; they need at least one PATH (see [`CorpusArgs::misplaced`]: clap's
/// `requires` is not enforced against a PATH that conflicts with `--text`).
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Corpus mode (PATH...)")]
pub struct CorpusArgs {
    /// Write the JSON Lines report (one line per document) to FILE, or `-` for stdout.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print a summary: a table, or JSON with --format json.
    #[arg(long)]
    summary: bool,
    /// Write a masked copy of every scanned file under DIR, mirroring the input tree.
    #[arg(long, value_name = "DIR")]
    masked_dir: Option<PathBuf>,
    /// Write the paths of blocked documents (`path:line` for records) to FILE.
    #[arg(long, value_name = "FILE")]
    quarantine: Option<PathBuf>,
    /// JSON / JSON Lines: the field holding the text, e.g. `body` or `messages[*].content`.
    #[arg(long, value_name = "SELECTOR")]
    field: Option<String>,
    /// CSV: the column holding the text, by header name or 0-based index.
    #[arg(long, value_name = "NAME|INDEX")]
    csv_column: Option<String>,
    /// Chunk size, in --chunk-unit.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    chunk_size: usize,
    /// Overlap between neighbouring chunks, in --chunk-unit.
    #[arg(long, value_name = "N", default_value_t = 200)]
    chunk_overlap: usize,
    /// What chunk sizes count: chars, or tokens (whitespace-separated).
    #[arg(long, value_name = "UNIT", default_value = "chars", value_parser = parse_unit)]
    chunk_unit: ChunkUnit,
    /// Worker threads (0: one per CPU).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Write results in input order (default: as they finish).
    #[arg(long)]
    ordered: bool,
    /// Skip documents already in the --report with the same content and packs; append the rest.
    #[arg(long, requires = "report")]
    resume: bool,
    /// Only scan files matching GLOB (repeatable; gitignore syntax, e.g. '*.md').
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Skip files and folders matching GLOB (repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Which chunks the intent classifier sees: all, flagged, none, or budget=N per document.
    #[arg(long, value_name = "POLICY", default_value = "flagged", value_parser = parse_classify)]
    classify: ClassifyPolicy,
    /// Also walk version-control folders (.git, .hg, .svn). Other hidden files and folders
    /// (.env, .aws/credentials, .config/...) are always scanned.
    #[arg(long)]
    hidden: bool,
    /// Ignore .gitignore, .ignore and git exclude files.
    #[arg(long)]
    no_ignore: bool,
    /// Refuse files (and JSONL/CSV records) larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Do not scan here: publish one job per document to this NATS JetStream server, for
    /// `picket worker`s to scan (docs/scale-out.md). Needs --corpus.
    #[arg(long, value_name = "URL", requires = "corpus")]
    submit: Option<String>,
    /// The corpus the documents belong to (with --submit; read back with `picket results`).
    #[arg(long, value_name = "NAME", requires = "submit")]
    corpus: Option<String>,
    #[command(flatten)]
    queue: crate::cli::queue::QueueArgs,
}

impl CorpusArgs {
    /// The first corpus flag given, to refuse it without a PATH.
    pub fn misplaced(&self) -> Option<&'static str> {
        let given = [
            (self.report.is_some(), "--report"),
            (self.summary, "--summary"),
            (self.masked_dir.is_some(), "--masked-dir"),
            (self.quarantine.is_some(), "--quarantine"),
            (self.field.is_some(), "--field"),
            (self.csv_column.is_some(), "--csv-column"),
            (self.ordered, "--ordered"),
            (self.resume, "--resume"),
            (!self.include.is_empty(), "--include"),
            (!self.exclude.is_empty(), "--exclude"),
            (self.hidden, "--hidden"),
            (self.no_ignore, "--no-ignore"),
            (self.submit.is_some(), "--submit"),
        ];
        given.into_iter().find(|(on, _)| *on).map(|(_, flag)| flag)
    }
}

/// `picket scan --format`: in corpus mode the summary as a table or JSON, or a SARIF log; for
/// one text or JSON Lines, a report as JSON (the default there) or a human line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    Sarif,
}

fn parse_unit(s: &str) -> Result<ChunkUnit, String> {
    s.parse()
}

fn parse_classify(s: &str) -> Result<ClassifyPolicy, String> {
    s.parse()
}

/// Run corpus mode over `paths`.
pub fn run(paths: &[PathBuf], args: &CorpusArgs, engine: &Engine, gate: Gate) -> anyhow::Result<ExitCode> {
    let Gate { direction, policy, format, fail_on } = gate;
    if let (Some(url), Some(corpus)) = (&args.submit, &args.corpus) {
        let local = [
            (args.report.is_some(), "--report"),
            (args.masked_dir.is_some(), "--masked-dir"),
            (args.quarantine.is_some(), "--quarantine"),
            (args.resume, "--resume"),
            (args.ordered, "--ordered"),
            (args.summary || format == OutputFormat::Sarif, "--summary/--format sarif"),
        ];
        if let Some((_, flag)) = local.iter().find(|(on, _)| *on) {
            anyhow::bail!("{flag} writes local outputs; with --submit, read results with `picket results --corpus {corpus}`");
        }
        let options = BatchOptions { report: None, ..options(paths, args, format, direction, policy)? };
        stop_on_signals(options.stop.clone());
        return crate::cli::queue::submit(url, corpus, &args.queue, &options, engine);
    }
    let options = options(paths, args, format, direction, policy)?;
    stop_on_signals(options.stop.clone());
    let bar = progress_bar();
    let on_progress = |p: Progress| {
        if let Some(bar) = &bar {
            show(bar, p);
        }
    };
    let summary = batch::run(&BatchOptions { estimate_totals: bar.is_some(), ..options }, engine, &on_progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = summary?;
    print_summary(args, format, &summary)?;
    let worst = if summary.any_blocked() {
        Decision::Block
    } else if summary.decisions.mask > 0 {
        Decision::Mask
    } else {
        Decision::Allow
    };
    Ok(match (summary.interrupted, fail_on.fails(worst)) {
        // 128 + SIGINT, as shells report an interrupted command.
        (true, _) => ExitCode::from(130),
        (false, true) => ExitCode::from(1),
        (false, false) => ExitCode::SUCCESS,
    })
}

/// What the scan flags outside corpus mode say about a corpus run.
pub struct Gate<'a> {
    pub direction: Option<Direction>,
    pub policy: Option<&'a str>,
    pub format: OutputFormat,
    pub fail_on: FailOn,
}

/// On the first SIGINT or SIGTERM, ask the run to stop cleanly (documents in flight are
/// finished, outputs flushed); on a second one, exit at once.
fn stop_on_signals(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
    std::thread::spawn(move || {
        runtime.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else { return };
            for round in 0..2 {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if round == 0 {
                    eprintln!("interrupted: finishing the documents in flight and flushing the outputs (again to quit at once)");
                    stop.store(true, std::sync::atomic::Ordering::Release);
                } else {
                    std::process::exit(130);
                }
            }
        });
    });
}

/// Flags → library options, with stdout given to exactly one output.
fn options(
    paths: &[PathBuf],
    args: &CorpusArgs,
    format: OutputFormat,
    direction: Option<Direction>,
    policy: Option<&str>,
) -> anyhow::Result<BatchOptions> {
    let stdout_taken = format == OutputFormat::Sarif || summary_on_stdout(args, format);
    let report = match args.report.as_deref() {
        Some(p) if p.as_os_str() == "-" && stdout_taken => {
            anyhow::bail!("--report - and --summary/--format json/sarif would both use stdout")
        }
        Some(p) if p.as_os_str() == "-" => Some(OutputTarget::Stdout),
        Some(p) => Some(OutputTarget::File(p.to_path_buf())),
        None if stdout_taken => None,
        None => Some(OutputTarget::Stdout),
    };
    Ok(BatchOptions {
        paths: paths.to_vec(),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        hidden: args.hidden,
        no_ignore: args.no_ignore,
        max_file_size: args.max_file_size,
        field: args.field.clone(),
        csv_column: args.csv_column.clone(),
        chunk_size: args.chunk_size,
        chunk_overlap: args.chunk_overlap,
        chunk_unit: args.chunk_unit,
        direction: direction.unwrap_or(Direction::Context),
        policy: policy.map(str::to_string),
        classify: args.classify,
        threads: args.threads,
        ordered: args.ordered,
        resume: args.resume,
        report,
        sarif: (format == OutputFormat::Sarif).then_some(OutputTarget::Stdout),
        quarantine: args.quarantine.clone(),
        masked_dir: args.masked_dir.clone(),
        estimate_totals: false,
        stop: Default::default(),
    })
}

fn summary_on_stdout(args: &CorpusArgs, format: OutputFormat) -> bool {
    format == OutputFormat::Json || (args.summary && format == OutputFormat::Text)
}

/// A bar on stderr when it is a terminal; nothing otherwise (CI logs stay clean).
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{spinner} {elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

fn show(bar: &ProgressBar, p: Progress) {
    if let Some(total) = p.total_bytes {
        bar.set_length(total.max(p.bytes));
    }
    bar.set_position(p.bytes);
    let rate = if p.elapsed.as_secs_f64() > 0.0 { p.documents as f64 / p.elapsed.as_secs_f64() } else { 0.0 };
    bar.set_message(format!("{} docs ({rate:.0}/s), {} blocked, {} skipped", p.documents, p.blocked, p.skipped));
}

/// Print the summary where the flags say: stdout, or stderr when SARIF holds stdout.
fn print_summary(args: &CorpusArgs, format: OutputFormat, summary: &BatchSummary) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(summary)?),
        OutputFormat::Text if args.summary => print!("{}", table(summary)),
        OutputFormat::Sarif if args.summary => eprint!("{}", table(summary)),
        _ => {}
    }
    Ok(())
}

/// Rows shown per list in the table; the JSON summary and the report have more.
const TABLE_ROWS: usize = 20;

/// The human summary.
fn table(s: &BatchSummary) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "scanned {} documents, {:.1} MB in {:.2} s: {:.1} MB/s, {:.0} docs/s ({} threads)",
        s.documents,
        s.bytes as f64 / 1e6,
        s.seconds,
        s.mb_per_s,
        s.docs_per_s,
        s.threads
    );
    let d = &s.decisions;
    let _ = writeln!(t, "decisions: {} allow, {} mask, {} block; {} resumed, {} skipped", d.allow, d.mask, d.block, s.resumed, s.skipped);
    let loaded = if s.classify.classifier_loaded { "loaded" } else { "not loaded" };
    let _ = writeln!(
        t,
        "classifier: policy {} ({loaded}), {} chunks classified of {}",
        s.classify.policy, s.classify.chunks_classified, s.chunks
    );
    if !s.categories.is_empty() {
        let _ = writeln!(t, "\n{:<12} {:>10} {:>10}", "category", "documents", "findings");
        for (c, n) in &s.categories {
            let _ = writeln!(t, "{:<12} {:>10} {:>10}", c.as_str(), n.documents, n.findings);
        }
    }
    let mut rules: Vec<(&String, &u64)> = s.rules.iter().collect();
    rules.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !rules.is_empty() {
        let _ = writeln!(t, "\n{:<40} {:>10}", "rule", "findings");
        for (rule, n) in rules.iter().take(TABLE_ROWS) {
            let _ = writeln!(t, "{rule:<40} {n:>10}");
        }
    }
    if !s.top_documents.is_empty() {
        let _ = writeln!(t, "\ntop documents");
        for d in &s.top_documents {
            let _ = writeln!(t, "  {:.2}  {:<5}  {}", d.score, d.decision.as_str(), with_line(&d.path, d.line));
        }
    }
    list(&mut t, "blocked", s.blocked_total, s.blocked.iter().map(|b| with_line(&b.path, b.line)));
    list(&mut t, "skipped", s.skipped, s.skipped_files.iter().map(|k| format!("{}: {}", with_line(&k.path, k.line), k.reason)));
    t
}

fn list(t: &mut String, title: &str, total: u64, rows: impl Iterator<Item = String>) {
    use std::fmt::Write as _;
    if total == 0 {
        return;
    }
    let _ = writeln!(t, "\n{title} ({total})");
    for row in rows.take(TABLE_ROWS) {
        let _ = writeln!(t, "  {row}");
    }
    if total > TABLE_ROWS as u64 {
        let _ = writeln!(t, "  ... {} more", total - TABLE_ROWS as u64);
    }
}

fn with_line(path: &str, line: Option<u64>) -> String {
    match line {
        Some(line) => format!("{path}:{line}"),
        None => path.to_string(),
    }
}
