//! Batch scanning split in two halves that may run in different processes: [`walk_documents`]
//! (the walk and record splitting of `picket scan PATH...`) on one side, [`Scanner::scan`]
//! (extract, chunk, scan, merge) on the other. The queue in [`crate::nats`] carries the
//! documents between them. Both halves are the batch pipeline's own code, so a document gets the
//! same report line whether it was scanned locally or by a worker.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::policy::Direction;

use super::chunk::ChunkUnit;
use super::extract::Format;
use super::output::write_report_line;
use super::pipeline::{self, DocRef, FileInfo, Item, Outcome, Record, RecordRef};
use super::plan::{absolute, Plan};
use super::skip::SkipReason;
use super::walk::{self, Entry};
use super::{BatchError, BatchOptions, ClassifyPolicy};

/// The scan settings a document travels with, so every worker scans it the way the submitter
/// asked (the flags of `picket scan PATH...` that change a result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSettings {
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub chunk_size: usize,
    pub chunk_overlap: usize,
    /// `chars` or `tokens`.
    pub chunk_unit: String,
    /// JSON / JSON Lines field selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `all`, `flagged`, `none` or `budget=N`.
    pub classify: String,
    pub max_file_size: u64,
}

impl ScanSettings {
    /// The settings of a batch run.
    pub fn of(o: &BatchOptions) -> ScanSettings {
        ScanSettings {
            direction: o.direction,
            policy: o.policy.clone(),
            chunk_size: o.chunk_size,
            chunk_overlap: o.chunk_overlap,
            chunk_unit: match o.chunk_unit {
                ChunkUnit::Chars => "chars".into(),
                ChunkUnit::Tokens => "tokens".into(),
            },
            field: o.field.clone(),
            classify: o.classify.to_string(),
            max_file_size: o.max_file_size,
        }
    }

    /// Batch options with these settings (and no inputs or outputs).
    pub fn options(&self) -> Result<BatchOptions, BatchError> {
        let bad = BatchError::Options;
        Ok(BatchOptions {
            direction: self.direction,
            policy: self.policy.clone(),
            chunk_size: self.chunk_size,
            chunk_overlap: self.chunk_overlap,
            chunk_unit: self.chunk_unit.parse().map_err(bad)?,
            field: self.field.clone(),
            classify: self.classify.parse::<ClassifyPolicy>().map_err(bad)?,
            max_file_size: self.max_file_size,
            ..BatchOptions::default()
        })
    }
}

/// Where a record lies in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAt {
    /// 0-based record number.
    pub index: u64,
    /// 1-based line where it starts.
    pub line: u64,
    /// Byte range in the file.
    pub offset: u64,
    pub len: u64,
}

/// One document as the walk found it: enough to name it, find its bytes again and check them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteDoc {
    /// Absolute path of the file (a worker reads it from there when the bytes are not inline).
    pub path: PathBuf,
    /// The path as reports print it.
    pub display: String,
    pub format: Format,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordAt>,
    /// CSV: the text column, resolved against the file's header by the walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// SHA-256 of the document's bytes, hex.
    pub sha256: String,
    /// Length of the document's bytes.
    pub bytes: u64,
}

impl RemoteDoc {
    /// The document's name inside its corpus: the path, plus `:line` for a record.
    pub fn key(&self) -> String {
        document_key(&self.display, self.record.map(|r| r.line))
    }
}

/// `path` or `path:line`: how a corpus names a document.
pub fn document_key(display: &str, line: Option<u64>) -> String {
    match line {
        Some(line) => format!("{display}:{line}"),
        None => display.to_string(),
    }
}

/// What the walk hands over.
#[derive(Debug)]
pub enum Walked {
    /// A document to scan, with its bytes as read.
    Doc(RemoteDoc, Vec<u8>),
    /// A document that cannot be scanned: its name and its finished report line.
    Skipped { key: String, line: String },
}

/// Walk `options.paths` exactly as `picket scan PATH...` does (ignore files, globs, size limit,
/// JSON Lines / CSV records), calling `each` for every document until it returns false or
/// `options.stop` is set. Returns the pack fingerprint the skip lines were written with.
pub fn walk_documents(options: &BatchOptions, engine: &Engine, each: &mut dyn FnMut(Walked) -> bool) -> Result<String, BatchError> {
    let plan = Plan::new(options, engine)?;
    let outputs = plan.output_files();
    let packs = plan.packs.fingerprint.clone();
    let stop = plan.stop.clone();
    let mut files = 0;
    let skip = |file: &Arc<FileInfo>, record: Option<RecordRef>, reason: SkipReason| {
        let item = Item { doc: DocRef { file: file.clone(), record }, outcome: Outcome::Skipped { reason, sha256: None } };
        let mut line = Vec::new();
        let _ = write_report_line(&mut line, &item, &packs);
        let key = document_key(&file.display, record.map(|r| r.line));
        Walked::Skipped { key, line: String::from_utf8_lossy(&line).into_owned() }
    };
    walk::walk(&plan.roots, &plan.walk, &outputs, |entry| {
        if stop.load(Ordering::Acquire) {
            return false;
        }
        files += 1;
        let id = files;
        let info = move |path: PathBuf| {
            Arc::new(FileInfo { id, display: path.to_string_lossy().into_owned(), format: Format::of(&path), mirror: None, path })
        };
        match entry {
            Entry::Skip { path, reason } => each(skip(&info(path), None, reason)),
            Entry::File { path, size, .. } => {
                let file = info(path);
                if file.format.has_records() {
                    let (mut records, column) = match pipeline::open_records(&plan, &file) {
                        Ok(opened) => opened,
                        Err(reason) => return each(skip(&file, None, reason)),
                    };
                    let mut going = true;
                    pipeline::each_record(&mut records, |record| {
                        going = !stop.load(Ordering::Acquire)
                            && match record {
                                Record::Text(at, bytes) => each(Walked::Doc(remote_doc(&file, Some(at), column, bytes), bytes.to_vec())),
                                Record::TooLong(at) => {
                                    each(skip(&file, Some(at), SkipReason::TooLarge { size: at.len, max: plan.max_file_size }))
                                }
                                Record::Failed(after, e) => {
                                    let reason = SkipReason::Unreadable(format!("read error after record {after}: {e}"));
                                    each(skip(&file, None, reason))
                                }
                            };
                        going
                    });
                    going
                } else if size > plan.max_file_size {
                    each(skip(&file, None, SkipReason::TooLarge { size, max: plan.max_file_size }))
                } else {
                    match pipeline::read_bounded(&file, size, plan.max_file_size) {
                        Ok(bytes) => each(Walked::Doc(remote_doc(&file, None, None, &bytes), bytes)),
                        Err(reason) => each(skip(&file, None, reason)),
                    }
                }
            }
        }
    });
    Ok(plan.packs.fingerprint.clone())
}

fn remote_doc(file: &FileInfo, record: Option<RecordRef>, column: Option<usize>, bytes: &[u8]) -> RemoteDoc {
    RemoteDoc {
        path: absolute(&file.path),
        display: file.display.clone(),
        format: file.format,
        record: record.map(|r| RecordAt { index: r.index, line: r.line, offset: r.offset, len: r.len }),
        column,
        sha256: hex::encode(pipeline::sha256(bytes)),
        bytes: bytes.len() as u64,
    }
}

/// Why a document cannot be scanned. Every case is permanent: scanning it again gives the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanFailure {
    /// The bytes are not the ones the walk hashed (the file changed after it was submitted).
    #[error("the document changed after it was submitted (sha256 {found}, expected {expected})")]
    Changed { expected: String, found: String },
    /// Over the size limit.
    #[error("{size} bytes, over the limit of {max}")]
    TooLarge { size: u64, max: u64 },
    /// The engine failed (an error, a spent budget, a panic).
    #[error("scan failed: {0}")]
    Engine(String),
}

impl ScanFailure {
    /// A stable code for dead-letter records.
    pub fn code(&self) -> &'static str {
        match self {
            ScanFailure::Changed { .. } => "source_changed",
            ScanFailure::TooLarge { .. } => "too_large",
            ScanFailure::Engine(_) => "scan_failed",
        }
    }
}

/// The scan half: one plan (settings, packs), any number of documents, from any thread.
pub struct Scanner<'e> {
    plan: Plan<'e>,
}

impl<'e> Scanner<'e> {
    /// A scanner with `settings`; each document may take at most `doc_budget`.
    pub fn new(settings: &ScanSettings, engine: &'e Engine, doc_budget: Option<Duration>) -> Result<Scanner<'e>, BatchError> {
        let mut plan = Plan::scan_only(&settings.options()?, engine)?;
        plan.doc_budget = doc_budget;
        Ok(Scanner { plan })
    }

    /// Fingerprint of the packs this scanner uses.
    pub fn packs(&self) -> &str {
        &self.plan.packs.fingerprint
    }

    /// Scan one document's bytes into its report line (JSON, no newline). Documents whose text
    /// cannot be extracted get a skip line, as in a batch run; failures that no retry can mend
    /// are errors.
    pub fn scan(&self, doc: &RemoteDoc, bytes: Vec<u8>) -> Result<String, ScanFailure> {
        let found = hex::encode(pipeline::sha256(&bytes));
        if found != doc.sha256 {
            return Err(ScanFailure::Changed { expected: doc.sha256.clone(), found });
        }
        if bytes.len() as u64 > self.plan.max_file_size {
            return Err(ScanFailure::TooLarge { size: bytes.len() as u64, max: self.plan.max_file_size });
        }
        let file = FileInfo { id: 0, path: doc.path.clone(), display: doc.display.clone(), format: doc.format, mirror: None };
        let record = doc.record.map(|r| RecordRef { index: r.index, line: r.line, offset: r.offset, len: r.len });
        let plan = &self.plan;
        let outcome = pipeline::guarded(|| match record {
            Some(record) => pipeline::record_job(plan, &file, record, &bytes, doc.column),
            None => pipeline::whole_bytes(plan, &file, bytes),
        });
        if let Outcome::Skipped { reason: SkipReason::ScanFailed(message), .. } = &outcome {
            return Err(ScanFailure::Engine(message.clone()));
        }
        let item = Item { doc: DocRef { file: Arc::new(file), record }, outcome };
        let mut line = Vec::new();
        write_report_line(&mut line, &item, self.packs()).map_err(|e| ScanFailure::Engine(e.to_string()))?;
        Ok(String::from_utf8_lossy(&line).into_owned())
    }
}
