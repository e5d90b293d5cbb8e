//! The single writer: every result passes through here, on the thread that called
//! [`super::run`], so outputs need no locks and lines never interleave (ripgrep prints from one
//! thread for the same reason). With `--ordered`, results are put back in input order; the
//! reordering buffer is bounded by the pipeline's gate.

pub(crate) mod mirror;
pub(crate) mod report;
pub(crate) mod sarif;
pub(crate) mod summary;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::policy::Decision;

use super::pipeline::{Done, Event, Gate, Item, Outcome, Totals};
use super::plan::Plan;
use super::{BatchError, BatchSummary, OutputTarget, Progress};
use mirror::Mirror;
use report::{DocLine, SkipLine};
use sarif::Sarif;
use summary::SummaryBuilder;

/// How often progress is reported at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// A line-oriented output and the name errors use for it.
struct Sink {
    out: Box<dyn Write>,
    path: PathBuf,
}

impl Sink {
    fn open(target: &OutputTarget, append: bool) -> Result<Sink, BatchError> {
        match target {
            OutputTarget::Stdout => Ok(Sink { out: Box::new(BufWriter::new(io::stdout())), path: PathBuf::from("<stdout>") }),
            OutputTarget::File(path) => Sink::file(path, append),
        }
    }

    fn file(path: &Path, append: bool) -> Result<Sink, BatchError> {
        let failed = |source| BatchError::Output { path: path.to_path_buf(), source };
        let file = if append { open_for_append(path) } else { File::create(path) }.map_err(failed)?;
        Ok(Sink { out: Box::new(BufWriter::with_capacity(256 << 10, file)), path: path.to_path_buf() })
    }

    fn error(&self, source: io::Error) -> BatchError {
        BatchError::Output { path: self.path.clone(), source }
    }

    /// The report line of `item`, if it has one (see [`write_report_line`]).
    fn report_line(&mut self, item: &Item, packs: &str) -> Result<(), BatchError> {
        let written = write_report_line(&mut self.out, item, packs).map_err(io::Error::from).and_then(|line| {
            if line {
                self.out.write_all(b"\n")
            } else {
                Ok(())
            }
        });
        written.map_err(|e| self.error(e))
    }

    fn text(&mut self, s: &str) -> Result<(), BatchError> {
        self.out.write_all(s.as_bytes()).map_err(|e| self.error(e))
    }

    fn flush(&mut self) -> Result<(), BatchError> {
        self.out.flush().map_err(|e| self.error(e))
    }
}

/// Write the JSON report line of `item` (no newline): a [`DocLine`] when it was scanned, a
/// [`SkipLine`] when skipped, nothing (false) when resumed. Batch runs and queue workers both
/// write their lines with it, so a line means the same wherever it was made.
pub(crate) fn write_report_line(out: &mut dyn Write, item: &Item, packs: &str) -> serde_json::Result<bool> {
    let doc = &item.doc;
    let (path, line, record) = (doc.file.display.as_str(), doc.record.map(|r| r.line), doc.record.map(|r| r.index));
    match &item.outcome {
        Outcome::Scanned { sha256, bytes, scan, lossy, .. } => serde_json::to_writer(
            out,
            &DocLine {
                path,
                path_hex: report::path_hex(&doc.file.path),
                line,
                record,
                offset: doc.record.map(|r| r.offset),
                format: doc.file.format,
                bytes: *bytes,
                chunks: scan.chunks,
                decision: scan.decision,
                score: scan.score,
                categories: scan.categories,
                findings: &scan.findings,
                blocked_chunks: &scan.blocked_chunks,
                would_block: scan.would_block,
                classified: scan.classified,
                lossy: lossy.as_ref(),
                sha256: &hex::encode(sha256),
                packs,
            },
        )?,
        Outcome::Skipped { reason, sha256 } => {
            let sha256 = sha256.map(hex::encode);
            serde_json::to_writer(
                out,
                &SkipLine {
                    path,
                    path_hex: report::path_hex(&doc.file.path),
                    line,
                    record,
                    skipped: reason.code(),
                    reason: &reason.to_string(),
                    sha256: sha256.as_deref(),
                    packs: sha256.is_some().then_some(packs),
                },
            )?
        }
        Outcome::Resumed(_) => return Ok(false),
    }
    Ok(true)
}

/// Open a report to append to it, first ending a half-written last line (left by an
/// interrupted run) so the next line starts on its own.
fn open_for_append(path: &Path) -> io::Result<File> {
    let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
    let len = file.metadata()?.len();
    if len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

/// Writes the report, SARIF, quarantine list and masked copies, and keeps the summary.
pub(crate) struct Writer<'p, 'e> {
    plan: &'p Plan<'e>,
    report: Option<Sink>,
    sarif: Option<(Sarif<Box<dyn Write>>, PathBuf)>,
    quarantine: Option<Sink>,
    mirror: Option<Mirror>,
    summary: SummaryBuilder,
    /// `--ordered`: results that arrived before their predecessors.
    pending: BTreeMap<u64, (u64, Item)>,
    next: u64,
    last_progress: Option<Instant>,
}

impl<'p, 'e> Writer<'p, 'e> {
    /// Create (or, resuming, append to) every output before the walk starts, so an unwritable
    /// output fails the run at once.
    pub fn open(plan: &'p Plan<'e>) -> Result<Writer<'p, 'e>, BatchError> {
        let report = plan.report.as_ref().map(|t| Sink::open(t, plan.resume.is_some())).transpose()?;
        let sarif = match &plan.sarif {
            Some(target) => {
                let sink = Sink::open(target, false)?;
                let begun = Sarif::begin(sink.out).map_err(|source| BatchError::Output { path: sink.path.clone(), source })?;
                Some((begun, sink.path))
            }
            None => None,
        };
        let quarantine = plan.quarantine.as_ref().map(|p| Sink::file(p, false)).transpose()?;
        let summary = SummaryBuilder::new(plan.classify, plan.classifier_loaded, plan.threads, plan.packs.fingerprint.clone());
        Ok(Writer {
            plan,
            report,
            sarif,
            quarantine,
            mirror: plan.masked_dir.as_ref().map(|_| Mirror::default()),
            summary,
            pending: BTreeMap::new(),
            next: 0,
            last_progress: None,
        })
    }

    /// Write results until every sender is gone.
    pub fn run(
        &mut self,
        rx: Receiver<Event>,
        gate: &Gate,
        totals: &Totals,
        started: Instant,
        on_progress: &dyn Fn(Progress),
    ) -> Result<(), BatchError> {
        for event in rx {
            match event {
                Event::Items(done) => {
                    let mut released = (0, 0);
                    for d in done {
                        self.take(d, &mut released)?;
                    }
                    gate.release(released.0, released.1);
                }
                Event::FileEnd { file, records, complete } => {
                    if let Some(mirror) = &mut self.mirror {
                        mirror.file_end(&file, records, complete)?;
                    }
                }
            }
            self.progress(totals, started, false, on_progress);
        }
        // Only a vanished worker could leave a gap; write what is left rather than lose it.
        for (_, (cost, item)) in std::mem::take(&mut self.pending) {
            self.write(cost, item)?;
        }
        self.progress(totals, started, true, on_progress);
        Ok(())
    }

    /// Write a result now, or hold it until its predecessors are written (`--ordered`).
    /// `released` counts what was written, to hand back to the gate.
    fn take(&mut self, d: Done, released: &mut (usize, u64)) -> Result<(), BatchError> {
        if !self.plan.ordered {
            *released = (released.0 + 1, released.1 + d.cost);
            return self.write(d.cost, d.item);
        }
        self.pending.insert(d.seq, (d.cost, d.item));
        while let Some((cost, item)) = self.pending.remove(&self.next) {
            self.next += 1;
            *released = (released.0 + 1, released.1 + cost);
            self.write(cost, item)?;
        }
        Ok(())
    }

    fn write(&mut self, cost: u64, item: Item) -> Result<(), BatchError> {
        self.summary.add(&item, cost);
        let doc = &item.doc;
        let (path, line) = (doc.file.display.as_str(), doc.record.map(|r| r.line));
        match &item.outcome {
            Outcome::Scanned { scan, .. } => {
                if let Some(report) = &mut self.report {
                    report.report_line(&item, &self.plan.packs.fingerprint)?;
                }
                if let Some((sarif, out)) = &mut self.sarif {
                    let record = doc.record.map(|r| (r.line, r.offset));
                    sarif
                        .document(&doc.file.display, record, &scan.findings)
                        .map_err(|source| BatchError::Output { path: out.clone(), source })?;
                }
                self.quarantine(&doc.file.path, path, line, scan.decision)?;
            }
            Outcome::Resumed(decision) => self.quarantine(&doc.file.path, path, line, *decision)?,
            Outcome::Skipped { reason, .. } => {
                let text = reason.to_string();
                if let Some(report) = &mut self.report {
                    report.report_line(&item, &self.plan.packs.fingerprint)?;
                }
                if let Some((sarif, _)) = &mut self.sarif {
                    sarif.skipped(path, line, &text);
                }
            }
        }
        match &mut self.mirror {
            Some(mirror) => mirror.item(&item),
            None => Ok(()),
        }
    }

    /// Blocked documents go to the quarantine list, one JSON object per line: `path` (JSON
    /// escaped, so a newline in a file name cannot start a line an attacker chooses), `line` for
    /// a record, and `path_hex` (the raw bytes) when the name is not UTF-8.
    fn quarantine(&mut self, raw: &Path, path: &str, line: Option<u64>, decision: Decision) -> Result<(), BatchError> {
        #[derive(serde::Serialize)]
        struct Entry<'a> {
            path: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            line: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            path_hex: Option<String>,
        }
        let Some(q) = &mut self.quarantine else { return Ok(()) };
        if decision != Decision::Block {
            return Ok(());
        }
        let mut entry = serde_json::to_string(&Entry { path, line, path_hex: report::path_hex(raw) }).unwrap_or_default();
        entry.push('\n');
        q.text(&entry)
    }

    fn progress(&mut self, totals: &Totals, started: Instant, done: bool, on_progress: &dyn Fn(Progress)) {
        let now = Instant::now();
        if !done && self.last_progress.is_some_and(|t| now - t < PROGRESS_EVERY) {
            return;
        }
        self.last_progress = Some(now);
        on_progress(Progress {
            documents: self.summary.written,
            skipped: self.summary.skipped(),
            blocked: self.summary.blocked(),
            bytes: self.summary.written_bytes,
            total_bytes: totals.bytes(),
            elapsed: now - started,
            done,
        });
    }

    /// Close every output and return the summary.
    pub fn finish(mut self, elapsed: Duration) -> Result<BatchSummary, BatchError> {
        if let Some(mirror) = self.mirror.take() {
            mirror.finish();
        }
        if let Some((sarif, path)) = self.sarif.take() {
            sarif.finish(&self.plan.packs).map_err(|source| BatchError::Output { path, source })?;
        }
        for sink in [&mut self.report, &mut self.quarantine].into_iter().flatten() {
            sink.flush()?;
        }
        Ok(self.summary.build(elapsed))
    }
}
