//! Batch scanning of document sets before they are indexed (DESIGN §6, `picket scan PATH...`).
//!
//! ```text
//! walk (one thread) ──► jobs ──► rayon workers ──► bounded channel ──► writer (the caller's thread)
//!   ignore rules,       file or     read, extract,      results             JSONL report, SARIF,
//!   globs, JSONL/CSV    record      chunk, scan each                        quarantine, masked
//!   records streamed                chunk (context)                         copies, summary
//! ```
//!
//! - [`walk`] lists files with the `ignore` crate (`.gitignore`/`.ignore`, include/exclude
//!   globs); JSON Lines and CSV files are cut into records while streaming ([`records`]).
//! - Each worker reads a document, extracts its text ([`extract`]: HTML, JSON field, CSV cell),
//!   cuts it into chunks as a RAG indexer would ([`chunk`]), scans every chunk with direction
//!   `context` and merges the chunk reports into one document result with offsets into the
//!   ORIGINAL source ([`document`]).
//! - One writer, on the thread that called [`run`], receives the results over a bounded
//!   channel, puts them back in input order when asked, and writes every output ([`output`]).
//!   The progress callback is called there too, so it needs no `Send`.
//! - Memory is bounded whatever the corpus size: a gate admits a fixed number of documents
//!   (and bytes) between the walk and the writer, files over a size limit are refused with a
//!   report entry, and record files are never loaded whole.

pub mod chunk;
mod document;
pub mod extract;
mod output;
mod pipeline;
mod plan;
pub mod records;
pub mod remote;
mod resume;
mod skip;
mod walk;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, ScanError};
use crate::policy::Direction;

pub use chunk::ChunkUnit;
pub use extract::csv::Column;
pub use extract::json::Selector;
pub use extract::Format;
pub use output::sarif::from_report as sarif_from_report;
pub use output::summary::{BatchSummary, BlockedDoc, CategoryCounts, ClassifySummary, Decisions, SkippedDoc, TopDoc};

/// Everything `picket scan PATH...` can be asked; validated once by [`run`].
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Files and folders to scan (folders recursively).
    pub paths: Vec<PathBuf>,
    /// Only files matching one of these globs (gitignore syntax, e.g. `*.md`).
    pub include: Vec<String>,
    /// Skip files and folders matching these globs.
    pub exclude: Vec<String>,
    /// Also scan hidden files and folders.
    pub hidden: bool,
    /// Do not read `.gitignore`, `.ignore` and git exclude files.
    pub no_ignore: bool,
    /// Files (and JSONL/CSV records) larger than this are refused with a report entry.
    pub max_file_size: u64,
    /// Field selector for JSON and JSON Lines (`body`, `messages[*].content`).
    pub field: Option<String>,
    /// Column for CSV: header name or 0-based index.
    pub csv_column: Option<String>,
    /// Chunk size, in `chunk_unit`s.
    pub chunk_size: usize,
    /// Overlap between neighbouring chunks, in `chunk_unit`s.
    pub chunk_overlap: usize,
    pub chunk_unit: ChunkUnit,
    /// Direction of every chunk (`context`: documents on their way into a prompt).
    pub direction: Direction,
    /// Policy name; `default` when absent.
    pub policy: Option<String>,
    /// Which chunks the intent classifier sees.
    pub classify: ClassifyPolicy,
    /// Worker threads; 0 means one per CPU.
    pub threads: usize,
    /// Write results in input order (otherwise in completion order).
    pub ordered: bool,
    /// Skip documents the report already holds with the same content hash and packs.
    pub resume: bool,
    /// JSON Lines report, one line per document.
    pub report: Option<OutputTarget>,
    /// SARIF 2.1.0 log.
    pub sarif: Option<OutputTarget>,
    /// Paths of blocked documents, one per line.
    pub quarantine: Option<PathBuf>,
    /// Folder receiving a masked copy of every scanned file, mirroring the input tree.
    pub masked_dir: Option<PathBuf>,
    /// Walk the inputs once more on a side thread to learn the total size, so progress can
    /// show an ETA.
    pub estimate_totals: bool,
    /// Set it (from a signal handler) to stop cleanly: no new document is started, the ones in
    /// flight are finished and written, the outputs are flushed, and the summary says
    /// `interrupted` (a masked copy of a record file left half-way is removed).
    pub stop: Arc<AtomicBool>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            paths: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            hidden: false,
            no_ignore: false,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            field: None,
            csv_column: None,
            chunk_size: 2000,
            chunk_overlap: 200,
            chunk_unit: ChunkUnit::Chars,
            direction: Direction::Context,
            policy: None,
            classify: ClassifyPolicy::Flagged,
            threads: 0,
            ordered: false,
            resume: false,
            report: None,
            sarif: None,
            quarantine: None,
            masked_dir: None,
            estimate_totals: false,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Default for [`BatchOptions::max_file_size`]: 64 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 << 20;

/// Where a stream output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// Standard output.
    Stdout,
    /// A file, created or truncated (appended to for a resumed report).
    File(PathBuf),
}

/// Which chunks the intent classifier scores. The model costs ~10 ms a chunk against
/// microseconds for the rules (PERFORMANCE §3.5), so by default it only sees chunks the rules
/// already found suspicious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClassifyPolicy {
    /// Every chunk.
    All,
    /// Chunks with an injection, jailbreak or evasion finding.
    #[default]
    Flagged,
    /// No chunk.
    None,
    /// At most N chunks per document: flagged chunks first (strongest first), then the rest
    /// in order.
    Budget(usize),
}

impl FromStr for ClassifyPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<ClassifyPolicy, String> {
        match s {
            "all" => Ok(ClassifyPolicy::All),
            "flagged" => Ok(ClassifyPolicy::Flagged),
            "none" => Ok(ClassifyPolicy::None),
            _ => s
                .strip_prefix("budget=")
                .and_then(|n| n.parse().ok())
                .map(ClassifyPolicy::Budget)
                .ok_or_else(|| format!("unknown classify policy {s:?} (expected all, flagged, none or budget=N)")),
        }
    }
}

impl fmt::Display for ClassifyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassifyPolicy::All => f.write_str("all"),
            ClassifyPolicy::Flagged => f.write_str("flagged"),
            ClassifyPolicy::None => f.write_str("none"),
            ClassifyPolicy::Budget(n) => write!(f, "budget={n}"),
        }
    }
}

/// Where a run stands; handed to the progress callback a few times a second and once at the
/// end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Documents written so far (scanned, resumed or skipped).
    pub documents: u64,
    /// Of which skipped.
    pub skipped: u64,
    /// Of which blocked.
    pub blocked: u64,
    /// Source bytes of the documents written so far.
    pub bytes: u64,
    /// Total bytes of the input files, once the side walk has counted them.
    pub total_bytes: Option<u64>,
    pub elapsed: Duration,
    /// The last call of the run.
    pub done: bool,
}

/// Why a batch run could not start or finish. Problems with single documents are not errors:
/// they are reported and skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The options do not make sense together.
    #[error("{0}")]
    Options(String),
    /// An input path does not exist or cannot be looked at.
    #[error("input {path}: {source}")]
    Input { path: PathBuf, source: std::io::Error },
    /// `--masked-dir` would write among the inputs.
    #[error("--masked-dir {masked} overlaps the input {input}; masked copies must never be written among the inputs")]
    MaskedDirOverlapsInput { masked: PathBuf, input: PathBuf },
    /// `--report`, `--sarif` or `--quarantine` is an input or lies inside an input folder.
    #[error("{flag} {output} is an input or lies inside the input {input}; outputs must be written outside the inputs")]
    OutputInsideInput { flag: &'static str, output: PathBuf, input: PathBuf },
    /// An output could not be written.
    #[error("cannot write {path}: {source}")]
    Output { path: PathBuf, source: std::io::Error },
    /// The report to resume from cannot be read.
    #[error("--resume: cannot read the report {path}: {source}")]
    Resume { path: PathBuf, source: std::io::Error },
    /// The engine refused the settings (e.g. an unknown policy).
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// The worker pool could not start.
    #[error("cannot start worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Scan every document under `options.paths` with `engine`, write the outputs the options
/// ask for, and return the summary. `on_progress` is called on the calling thread.
pub fn run(options: &BatchOptions, engine: &Engine, on_progress: &dyn Fn(Progress)) -> Result<BatchSummary, BatchError> {
    let plan = plan::Plan::new(options, engine)?;
    pipeline::run(&plan, on_progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_policies_parse_and_print() {
        for s in ["all", "flagged", "none", "budget=3"] {
            assert_eq!(s.parse::<ClassifyPolicy>().unwrap().to_string(), s);
        }
        assert!("budget=x".parse::<ClassifyPolicy>().is_err());
        assert!("some".parse::<ClassifyPolicy>().is_err());
    }
}
