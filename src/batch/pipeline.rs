//! The run: one walking thread turns files and records into jobs for the rayon workers; the
//! calling thread is the single writer. A [`Gate`] between the walk and the writer bounds the
//! number (and bytes) of documents in flight, so memory does not grow with the corpus: the
//! walk waits when the workers or the writer fall behind.
//!
//! Nothing here blocks inside a rayon worker except the final send of a result, and the writer
//! always drains the channel, so the pool cannot deadlock; the walk, which does wait on the
//! gate, runs on its own plain thread for that reason.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use rayon::Scope;
use sha2::{Digest, Sha256};

use crate::policy::Decision;

use super::document::{self, DocScan, Source};
use super::extract::{csv, html, json, ExtractError, Extracted, Format};
use super::output::Writer;
use super::plan::Plan;
use super::records::RecordReader;
use super::resume::Seen;
use super::skip::{self, Lossy, SkipReason};
use super::walk::{self, Entry};
use super::{BatchError, BatchSummary, Progress};

/// Documents handed to a worker together. One rayon task, one gate admission and one channel
/// message per batch instead of per document: with small files, per-document hand-offs (a
/// futex wake on each side) cost more than a tenth of the CPU.
const BATCH_DOCS: usize = 64;
/// A batch is also handed over once it holds this many bytes.
const BATCH_BYTES: u64 = 1 << 20;
/// Batches in flight per worker thread.
const BATCHES_PER_THREAD: usize = 4;
/// Bytes of documents in flight (a single larger batch is still admitted alone).
const IN_FLIGHT_BYTES: u64 = 128 << 20;
/// Read buffer for JSON Lines / CSV files.
const RECORD_BUFFER: usize = 256 << 10;

/// A file being scanned, shared by all of its records.
#[derive(Debug, Clone)]
pub(crate) struct FileInfo {
    pub id: u64,
    pub path: PathBuf,
    /// The path as reports print it.
    pub display: String,
    pub format: Format,
    /// Where its masked copy goes, when asked for.
    pub mirror: Option<PathBuf>,
}

/// A record of a JSON Lines or CSV file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordRef {
    /// 0-based, counting only records (not the CSV header, not blank lines).
    pub index: u64,
    /// 1-based line where it starts.
    pub line: u64,
    /// Byte range in the file.
    pub offset: u64,
    pub len: u64,
}

/// A document: a whole file, or one record of it.
#[derive(Debug)]
pub(crate) struct DocRef {
    pub file: Arc<FileInfo>,
    pub record: Option<RecordRef>,
}

/// What happened to a document.
#[derive(Debug)]
pub(crate) enum Outcome {
    Scanned {
        sha256: [u8; 32],
        bytes: u64,
        scan: DocScan,
        /// A whole file's bytes as scanned, kept when a masked copy is to be written: the copy
        /// is made from them, never from a second read of a file that may have changed since.
        scanned: Option<Vec<u8>>,
        /// Scanned although not clean text (a NUL byte, invalid UTF-8): the report says so.
        lossy: Option<Lossy>,
    },
    /// Not scanned; the hash of the bytes when they were read (so `--resume` can tell an
    /// unchanged skipped record from a new one).
    Skipped { reason: SkipReason, sha256: Option<[u8; 32]> },
    /// Unchanged since the report being resumed, which decided this.
    Resumed(Decision),
}

impl Outcome {
    fn skip(reason: SkipReason) -> Outcome {
        Outcome::Skipped { reason, sha256: None }
    }
}

#[derive(Debug)]
pub(crate) struct Item {
    pub doc: DocRef,
    pub outcome: Outcome,
}

/// What the writer receives.
#[derive(Debug)]
pub(crate) enum Event {
    /// Outcomes of a batch of documents, each with its input order (`seq`) and what it holds
    /// of the gate (`cost`, bytes).
    Items(Vec<Done>),
    /// All `records` records of a record file have been sent. `complete` is false when reading
    /// stopped early on an I/O error (its masked copy is then dropped, not left half-scanned).
    FileEnd { file: Arc<FileInfo>, records: u64, complete: bool },
}

/// One document's outcome as the writer receives it.
#[derive(Debug)]
pub(crate) struct Done {
    pub seq: u64,
    pub cost: u64,
    pub item: Item,
}

/// Totals from the side walk, for the progress ETA.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    bytes: AtomicU64,
    known: AtomicBool,
}

impl Totals {
    pub fn bytes(&self) -> Option<u64> {
        self.known.load(Ordering::Acquire).then(|| self.bytes.load(Ordering::Relaxed))
    }
}

/// Run the plan: walk, scan, write; return the summary.
pub(crate) fn run(plan: &Plan<'_>, on_progress: &dyn Fn(Progress)) -> Result<BatchSummary, BatchError> {
    let started = Instant::now();
    let mut writer = Writer::open(plan)?;
    let outputs = plan.output_files();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(plan.threads).thread_name(|i| format!("picket-scan-{i}")).build()?;
    let batches = BATCHES_PER_THREAD * plan.threads;
    let gate = Gate::new(batches * BATCH_DOCS, IN_FLIGHT_BYTES);
    let totals = Totals::default();
    let (tx, rx) = sync_channel(batches);
    let (gate_ref, totals_ref, outputs_ref) = (&gate, &totals, &outputs);
    let written = pool.in_place_scope(|scope| {
        std::thread::scope(|threads| {
            if plan.estimate_totals {
                threads.spawn(move || {
                    let (_, bytes) = walk::totals(&plan.roots, &plan.walk, outputs_ref);
                    totals_ref.bytes.store(bytes, Ordering::Relaxed);
                    totals_ref.known.store(true, Ordering::Release);
                });
            }
            threads.spawn(move || {
                Producer { plan, scope, gate: gate_ref, tx, seq: 0, files: 0, batch: Vec::new(), batch_bytes: 0 }.run(outputs_ref)
            });
            let written = writer.run(rx, gate_ref, totals_ref, started, on_progress);
            // If the writer stopped on an error, let a walk waiting at the gate finish.
            gate_ref.close();
            written
        })
    });
    written?;
    let mut summary = writer.finish(started.elapsed())?;
    summary.interrupted = plan.stop.load(Ordering::Acquire);
    Ok(summary)
}

/// A counting gate: admits documents while fewer than `max_docs` are in flight and their
/// bytes stay under `max_bytes` (a batch is always admitted into an empty gate).
pub(crate) struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
    max_docs: usize,
    max_bytes: u64,
}

#[derive(Default)]
struct GateState {
    docs: usize,
    bytes: u64,
    closed: bool,
    /// The walk is waiting: only then is a release worth a wake-up (a syscall).
    waiting: bool,
}

impl Gate {
    fn new(max_docs: usize, max_bytes: u64) -> Gate {
        Gate { state: Mutex::default(), changed: Condvar::new(), max_docs: max_docs.max(1), max_bytes }
    }

    /// Wait for room for `docs` documents of `bytes`; false once the gate is closed.
    fn acquire(&self, docs: usize, bytes: u64) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !s.closed && s.docs > 0 && (s.docs + docs > self.max_docs || s.bytes + bytes > self.max_bytes) {
            s.waiting = true;
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.waiting = false;
        if s.closed {
            return false;
        }
        s.docs += docs;
        s.bytes += bytes;
        true
    }

    /// `docs` documents of `bytes` have been written.
    pub fn release(&self, docs: usize, bytes: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.docs = s.docs.saturating_sub(docs);
        s.bytes = s.bytes.saturating_sub(bytes);
        if s.waiting {
            self.changed.notify_all();
        }
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.changed.notify_all();
    }
}

/// What a worker does for one document.
enum Job {
    /// Nothing: the walk already knows the outcome (a skip, a resumed document).
    Known(Outcome),
    /// Read and scan a whole file of (walk-time) `size` bytes.
    Whole { size: u64 },
    /// Scan one record; `column` is the CSV column.
    Record { bytes: Vec<u8>, column: Option<usize> },
}

struct Queued {
    seq: u64,
    cost: u64,
    doc: DocRef,
    job: Job,
}

/// The walking thread: files become jobs; JSON Lines and CSV files are streamed into one job
/// per record.
struct Producer<'r, 's, 'e> {
    plan: &'s Plan<'e>,
    scope: &'r Scope<'s>,
    gate: &'s Gate,
    tx: SyncSender<Event>,
    seq: u64,
    files: u64,
    /// Documents not yet handed to a worker.
    batch: Vec<Queued>,
    batch_bytes: u64,
}

impl<'s, 'e: 's> Producer<'_, 's, 'e> {
    fn run(mut self, outputs: &[PathBuf]) {
        let plan = self.plan;
        let mut going = true;
        walk::walk(&plan.roots, &plan.walk, outputs, |entry| {
            going = self.entry(entry);
            going
        });
        if going {
            self.flush();
        }
    }

    /// Handle one walk entry; false stops the walk (the writer has gone).
    fn entry(&mut self, entry: Entry) -> bool {
        match entry {
            Entry::Skip { path, reason } => {
                let file = self.file(path, None);
                self.send(DocRef { file, record: None }, Outcome::skip(reason))
            }
            Entry::File { path, root, size } => {
                let file = self.file(path, Some(root));
                let plan = self.plan;
                if file.format.has_records() {
                    self.records(file)
                } else if size > plan.max_file_size {
                    let reason = SkipReason::TooLarge { size, max: plan.max_file_size };
                    self.send(DocRef { file, record: None }, Outcome::skip(reason))
                } else {
                    self.push(DocRef { file, record: None }, size, Job::Whole { size })
                }
            }
        }
    }

    fn file(&mut self, path: PathBuf, root: Option<usize>) -> Arc<FileInfo> {
        self.files += 1;
        let mirror = root.and_then(|r| self.plan.mirror_path(r, &path));
        Arc::new(FileInfo { id: self.files, display: path.to_string_lossy().into_owned(), format: Format::of(&path), mirror, path })
    }

    /// An outcome known without scanning.
    fn send(&mut self, doc: DocRef, outcome: Outcome) -> bool {
        self.push(doc, 0, Job::Known(outcome))
    }

    /// Queue a document; hand the batch over when it is full. False when the writer has gone
    /// or a stop was requested (the walk then ends; what is in flight is still written).
    fn push(&mut self, doc: DocRef, cost: u64, job: Job) -> bool {
        if self.plan.stop.load(Ordering::Acquire) {
            return false;
        }
        self.batch.push(Queued { seq: self.seq, cost, doc, job });
        self.seq += 1;
        self.batch_bytes += cost;
        if self.batch.len() >= BATCH_DOCS || self.batch_bytes >= BATCH_BYTES {
            return self.flush();
        }
        true
    }

    /// Hand the queued documents to a worker, once the gate has room for them.
    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.batch);
        if !self.gate.acquire(batch.len(), std::mem::take(&mut self.batch_bytes)) {
            return false;
        }
        let (plan, tx) = (self.plan, self.tx.clone());
        self.scope.spawn(move |_| {
            let done = batch.into_iter().map(|q| Done { seq: q.seq, cost: q.cost, item: run_job(plan, q.doc, q.job) }).collect();
            // A closed channel means the writer stopped on an error; the results are moot.
            let _ = tx.send(Event::Items(done));
        });
        true
    }

    /// Stream a JSON Lines or CSV file into record jobs.
    fn records(&mut self, file: Arc<FileInfo>) -> bool {
        let (mut records, column) = match open_records(self.plan, &file) {
            Ok(opened) => opened,
            Err(reason) => return self.send(DocRef { file, record: None }, Outcome::skip(reason)),
        };
        if self.plan.masked_dir.is_some() && self.resumable_record_file(&file) {
            return self.resume_record_file(&file, column);
        }
        let plan = self.plan;
        let mut count = 0;
        let mut stopped = false;
        let complete = each_record(&mut records, |record| {
            let sent = match record {
                Record::Text(at, bytes) => {
                    count += 1;
                    self.push(DocRef { file: file.clone(), record: Some(at) }, at.len, Job::Record { bytes: bytes.to_vec(), column })
                }
                Record::TooLong(at) => {
                    count += 1;
                    let reason = SkipReason::TooLarge { size: at.len, max: plan.max_file_size };
                    self.send(DocRef { file: file.clone(), record: Some(at) }, Outcome::skip(reason))
                }
                Record::Failed(after, e) => {
                    let reason = SkipReason::Unreadable(format!("read error after record {after}: {e}"));
                    self.send(DocRef { file: file.clone(), record: None }, Outcome::skip(reason))
                }
            };
            stopped |= !sent;
            sent
        });
        if stopped {
            return false;
        }
        self.tx.send(Event::FileEnd { file, records: count, complete }).is_ok()
    }

    /// With masked copies, a record file is resumed only as a whole — every record unchanged
    /// since the report (scanned or skipped) and its masked copy still there — because a copy
    /// cannot be patched record by record. This first pass only checks; nothing is held.
    fn resumable_record_file(&self, file: &FileInfo) -> bool {
        let Some(index) = &self.plan.resume else { return false };
        if !index.knows(&file.display) || !file.mirror.as_ref().is_some_and(|m| m.exists()) {
            return false;
        }
        let Ok((mut records, _)) = open_records(self.plan, file) else { return false };
        each_record(&mut records, |record| match record {
            Record::Text(at, bytes) => index.seen(&file.display, Some(at.line), &sha256(bytes)).is_some(),
            Record::TooLong(_) | Record::Failed(..) => false,
        })
    }

    /// The second pass over an unchanged record file: earlier decisions are carried over,
    /// earlier skips are looked at again. Its masked copy is left as it is (`mirror: None`).
    fn resume_record_file(&mut self, file: &FileInfo, column: Option<usize>) -> bool {
        let plan = self.plan;
        let Ok((mut records, _)) = open_records(plan, file) else { return true };
        let unmirrored = Arc::new(FileInfo { mirror: None, ..file.clone() });
        let mut going = true;
        each_record(&mut records, |record| {
            let Record::Text(at, bytes) = record else { return true };
            let doc = DocRef { file: unmirrored.clone(), record: Some(at) };
            going = match plan.resume.as_ref().and_then(|i| i.seen(&file.display, Some(at.line), &sha256(bytes))) {
                Some(Seen::Decided(decision)) => self.send(doc, Outcome::Resumed(decision)),
                _ => self.push(doc, at.len, Job::Record { bytes: bytes.to_vec(), column }),
            };
            going
        });
        going
    }
}

/// One step of reading a record file.
pub(crate) enum Record<'b> {
    Text(RecordRef, &'b [u8]),
    /// Over the size limit: not kept.
    TooLong(RecordRef),
    /// Reading failed after this many records.
    Failed(u64, std::io::Error),
}

/// Open a record file (refusing binary ones) and read its CSV header, resolving
/// `--csv-column` against it.
pub(crate) fn open_records(plan: &Plan<'_>, file: &FileInfo) -> Result<(RecordReader<BufReader<File>>, Option<usize>), SkipReason> {
    let f = File::open(&file.path).map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    let mut reader = BufReader::with_capacity(RECORD_BUFFER, f);
    // No binary refusal: records with a NUL or invalid UTF-8 are scanned lossily and flagged.
    reader.fill_buf().map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    let csv = file.format == Format::Csv;
    let mut records = RecordReader::new(reader, csv, usize::try_from(plan.max_file_size).unwrap_or(usize::MAX));
    if !csv {
        return Ok((records, None));
    }
    let mut header = Vec::new();
    let found = records.next_record(&mut header).map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    let column = match (&plan.column, found) {
        (Some(column), Some(_)) => {
            let missing = || SkipReason::Extract(ExtractError::NoHeaderColumn(format!("{column:?}")));
            Some(column.resolve(&String::from_utf8_lossy(&header)).ok_or_else(missing)?)
        }
        _ => None,
    };
    Ok((records, column))
}

/// Call `each` for every record (blank lines are not records) until it returns false.
/// True when the file was read to its end.
pub(crate) fn each_record<R: BufRead>(records: &mut RecordReader<R>, mut each: impl FnMut(Record<'_>) -> bool) -> bool {
    let mut buf = Vec::new();
    let mut index = 0;
    loop {
        let at = match records.next_record(&mut buf) {
            Ok(Some(at)) => at,
            Ok(None) => return true,
            Err(e) => {
                each(Record::Failed(index, e));
                return false;
            }
        };
        if !at.too_long && buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = RecordRef { index, line: at.line, offset: at.offset, len: at.len };
        index += 1;
        let go_on = if at.too_long { each(Record::TooLong(record)) } else { each(Record::Text(record, &buf)) };
        if !go_on {
            return false;
        }
    }
}

/// Run one job. A panic becomes a skipped document rather than a lost one (in ordered mode
/// the writer waits for every sequence number).
fn run_job(plan: &Plan<'_>, doc: DocRef, job: Job) -> Item {
    let outcome = match job {
        Job::Known(outcome) => outcome,
        Job::Whole { size } => guarded(|| whole_file(plan, &doc.file, size)),
        Job::Record { bytes, column } => match doc.record {
            Some(record) => guarded(|| record_job(plan, &doc.file, record, &bytes, column)),
            None => Outcome::skip(SkipReason::ScanFailed("internal error: a record job without a record".into())),
        },
    };
    Item { doc, outcome }
}

pub(crate) fn guarded(job: impl FnOnce() -> Outcome) -> Outcome {
    catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|panic| {
        let message = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
        Outcome::skip(SkipReason::ScanFailed(format!("internal error: {}", message.unwrap_or_default())))
    })
}

/// Scan a whole file (text, Markdown, HTML, JSON).
fn whole_file(plan: &Plan<'_>, file: &FileInfo, size: u64) -> Outcome {
    match read_bounded(file, size, plan.max_file_size) {
        Ok(bytes) => whole_bytes(plan, file, bytes),
        Err(reason) => Outcome::skip(reason),
    }
}

/// Scan the bytes of a whole file.
pub(crate) fn whole_bytes(plan: &Plan<'_>, file: &FileInfo, bytes: Vec<u8>) -> Outcome {
    let (text, lossy) = skip::lossy_text(&bytes);
    let text: &str = &text;
    let sha256 = sha256(&bytes);
    if let Some(decision) = resumed(plan, file, None, &sha256) {
        return Outcome::Resumed(decision);
    }
    let extracted = match (file.format, &plan.selector) {
        (Format::Html, _) => Ok(html::extract(text)),
        (Format::Json, Some(selector)) => json::extract(text, selector),
        _ => Ok(Extracted::identity(text)),
    };
    let source = Source { text, first_line: 1, file_offset: 0 };
    let mut outcome = scanned(plan, &source, extracted, sha256, lossy);
    if let Outcome::Scanned { scanned, .. } = &mut outcome {
        if file.mirror.is_some() {
            *scanned = Some(bytes);
        }
    }
    outcome
}

/// Scan one JSON Lines or CSV record.
pub(crate) fn record_job(plan: &Plan<'_>, file: &FileInfo, record: RecordRef, bytes: &[u8], column: Option<usize>) -> Outcome {
    let sha256 = sha256(bytes);
    let (text, lossy) = skip::lossy_text(bytes);
    let text: &str = &text;
    // With masked copies the producer decided about resuming, for the whole file.
    if plan.masked_dir.is_none() {
        if let Some(decision) = resumed(plan, file, Some(record.line), &sha256) {
            return Outcome::Resumed(decision);
        }
    }
    let extracted = match (file.format, &plan.selector, column) {
        (Format::Jsonl, Some(selector), _) => json::extract(text, selector),
        (Format::Csv, _, Some(column)) => csv::cell(text, column),
        _ => Ok(Extracted::identity(text)),
    };
    let source = Source { text, first_line: record.line, file_offset: record.offset };
    scanned(plan, &source, extracted, sha256, lossy)
}

fn scanned(
    plan: &Plan<'_>,
    source: &Source<'_>,
    extracted: Result<Extracted<'_>, ExtractError>,
    sha256: [u8; 32],
    lossy: Option<Lossy>,
) -> Outcome {
    let extracted = match extracted {
        Ok(e) => e,
        Err(e) => return Outcome::Skipped { reason: SkipReason::Extract(e), sha256: Some(sha256) },
    };
    match document::scan(plan, source, &extracted) {
        Ok(scan) => Outcome::Scanned { sha256, bytes: source.text.len() as u64, scan, scanned: None, lossy },
        Err(e) => Outcome::Skipped { reason: SkipReason::ScanFailed(e.to_string()), sha256: Some(sha256) },
    }
}

/// The earlier decision, when the resume index has these exact bytes (and, with masked
/// copies, the copy is still there, or was never made because the document was blocked).
fn resumed(plan: &Plan<'_>, file: &FileInfo, line: Option<u64>, sha256: &[u8; 32]) -> Option<Decision> {
    let Seen::Decided(decision) = plan.resume.as_ref()?.seen(&file.display, line, sha256)? else { return None };
    // Blocked documents have no masked copy to check.
    match &file.mirror {
        Some(mirror) if decision != Decision::Block && !mirror.exists() => None,
        _ => Some(decision),
    }
}

/// Read a file of (walk-time) size `size`, refusing it when it has grown past `max`.
pub(crate) fn read_bounded(file: &FileInfo, size: u64, max: u64) -> Result<Vec<u8>, SkipReason> {
    let f = File::open(&file.path).map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(max)).unwrap_or(0) + 1);
    f.take(max + 1).read_to_end(&mut bytes).map_err(|e| SkipReason::Unreadable(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(SkipReason::TooLarge { size: bytes.len() as u64, max });
    }
    Ok(bytes)
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
