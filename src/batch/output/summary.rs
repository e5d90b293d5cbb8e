//! The run's summary: counts per decision, category and rule, the riskiest documents, the
//! blocked and skipped ones. Lists are capped so the summary stays small for any corpus; the
//! report and the quarantine file hold everything.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::policy::{Category, Decision};

use super::super::pipeline::{DocRef, Item, Outcome};
use super::super::ClassifyPolicy;
use super::report::round4;

/// Longest `blocked` and `skipped_files` lists.
const LIST_CAP: usize = 1000;
/// Length of `top_documents`.
const TOP: usize = 10;

/// What a batch run found. Serializes as the `--summary --format json` document.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSummary {
    /// Documents scanned by this run.
    pub documents: u64,
    /// Documents skipped as unchanged since the resumed report.
    pub resumed: u64,
    /// Files and records that could not be scanned.
    pub skipped: u64,
    /// Source bytes scanned.
    pub bytes: u64,
    /// Chunks scanned.
    pub chunks: u64,
    pub seconds: f64,
    pub mb_per_s: f64,
    pub docs_per_s: f64,
    /// Decisions of scanned and resumed documents.
    pub decisions: Decisions,
    /// Per category: documents with a finding of it, and its findings.
    pub categories: BTreeMap<Category, CategoryCounts>,
    /// Findings per rule id.
    pub rules: BTreeMap<String, u64>,
    /// The highest-scoring documents, highest first.
    pub top_documents: Vec<TopDoc>,
    /// Blocked documents (the first 1000; all are in the quarantine file).
    pub blocked: Vec<BlockedDoc>,
    pub blocked_total: u64,
    /// Skipped files and records (the first 1000; all are in the report).
    pub skipped_files: Vec<SkippedDoc>,
    pub skipped_by_reason: BTreeMap<String, u64>,
    /// Documents scanned although not clean text (a NUL byte, invalid UTF-8), by code.
    pub lossy_by_reason: BTreeMap<String, u64>,
    /// Those documents (the first 1000; every one is flagged in the report).
    pub lossy_files: Vec<SkippedDoc>,
    pub classify: ClassifySummary,
    pub threads: usize,
    /// Fingerprint of the rule packs used.
    pub packs: String,
    /// The run was stopped (SIGINT/SIGTERM) before the walk ended: what was written is
    /// complete and `--resume` continues from it.
    pub interrupted: bool,
}

impl BatchSummary {
    /// True when any document (scanned or resumed) was blocked: exit status 1.
    pub fn any_blocked(&self) -> bool {
        self.blocked_total > 0
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Decisions {
    pub allow: u64,
    pub mask: u64,
    pub block: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CategoryCounts {
    pub documents: u64,
    pub findings: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopDoc {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub score: f64,
    pub decision: Decision,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockedDoc {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedDoc {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub code: String,
    pub reason: String,
}

/// Which classifier policy ran, and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct ClassifySummary {
    pub policy: String,
    /// False when the engine has no classifier (`--no-classifier`): the policy was moot.
    pub classifier_loaded: bool,
    pub chunks_classified: u64,
}

/// Accumulates the summary as the writer goes.
pub(crate) struct SummaryBuilder {
    s: BatchSummary,
    /// Documents written (scanned, resumed or skipped) and their bytes, for progress.
    pub written: u64,
    pub written_bytes: u64,
}

impl SummaryBuilder {
    pub fn new(policy: ClassifyPolicy, classifier_loaded: bool, threads: usize, packs: String) -> SummaryBuilder {
        let s = BatchSummary {
            documents: 0,
            resumed: 0,
            skipped: 0,
            bytes: 0,
            chunks: 0,
            seconds: 0.0,
            mb_per_s: 0.0,
            docs_per_s: 0.0,
            decisions: Decisions::default(),
            categories: BTreeMap::new(),
            rules: BTreeMap::new(),
            top_documents: Vec::new(),
            blocked: Vec::new(),
            blocked_total: 0,
            skipped_files: Vec::new(),
            skipped_by_reason: BTreeMap::new(),
            lossy_by_reason: BTreeMap::new(),
            lossy_files: Vec::new(),
            classify: ClassifySummary { policy: policy.to_string(), classifier_loaded, chunks_classified: 0 },
            threads,
            packs,
            interrupted: false,
        };
        SummaryBuilder { s, written: 0, written_bytes: 0 }
    }

    pub fn skipped(&self) -> u64 {
        self.s.skipped
    }

    pub fn blocked(&self) -> u64 {
        self.s.blocked_total
    }

    /// Count one written document of `cost` bytes.
    pub fn add(&mut self, item: &Item, cost: u64) {
        self.written += 1;
        self.written_bytes += cost;
        match &item.outcome {
            Outcome::Scanned { bytes, scan, lossy, .. } => {
                if let Some(l) = lossy {
                    *self.s.lossy_by_reason.entry(l.code.to_string()).or_default() += 1;
                    if self.s.lossy_files.len() < LIST_CAP {
                        let (path, line) = location(&item.doc);
                        self.s.lossy_files.push(SkippedDoc { path, line, code: l.code.into(), reason: l.reason.clone() });
                    }
                }
                self.s.documents += 1;
                self.s.bytes += bytes;
                self.s.chunks += scan.chunks as u64;
                self.s.classify.chunks_classified += scan.classified as u64;
                self.decision(&item.doc, scan.decision);
                self.findings(scan);
                self.top(&item.doc, scan.score, scan.decision);
            }
            Outcome::Resumed(decision) => {
                self.s.resumed += 1;
                self.decision(&item.doc, *decision);
            }
            Outcome::Skipped { reason, .. } => {
                self.s.skipped += 1;
                *self.s.skipped_by_reason.entry(reason.code().to_string()).or_default() += 1;
                if self.s.skipped_files.len() < LIST_CAP {
                    let (path, line) = location(&item.doc);
                    self.s.skipped_files.push(SkippedDoc { path, line, code: reason.code().into(), reason: reason.to_string() });
                }
            }
        }
    }

    fn decision(&mut self, doc: &DocRef, decision: Decision) {
        let d = &mut self.s.decisions;
        match decision {
            Decision::Allow => d.allow += 1,
            Decision::Mask => d.mask += 1,
            Decision::Block => {
                d.block += 1;
                self.s.blocked_total += 1;
                if self.s.blocked.len() < LIST_CAP {
                    let (path, line) = location(doc);
                    self.s.blocked.push(BlockedDoc { path, line });
                }
            }
        }
    }

    fn findings(&mut self, scan: &super::super::document::DocScan) {
        let mut seen = [false; 5];
        for f in &scan.findings {
            let counts = self.s.categories.entry(f.category).or_default();
            counts.findings += 1;
            let i = Category::ALL.iter().position(|c| *c == f.category).unwrap_or(0);
            if !seen[i] {
                seen[i] = true;
                counts.documents += 1;
            }
            match self.s.rules.get_mut(&f.rule) {
                Some(n) => *n += 1,
                None => {
                    self.s.rules.insert(f.rule.clone(), 1);
                }
            }
        }
    }

    /// Keep the `TOP` highest scores; ties keep the earlier document.
    fn top(&mut self, doc: &DocRef, score: f32, decision: Decision) {
        let score = round4(score);
        let top = &mut self.s.top_documents;
        if score <= 0.0 || (top.len() == TOP && top.last().is_some_and(|t| t.score >= score)) {
            return;
        }
        let at = top.partition_point(|t| t.score >= score);
        let (path, line) = location(doc);
        top.insert(at, TopDoc { path, line, score, decision });
        top.truncate(TOP);
    }

    /// The finished summary, with rates over `elapsed`.
    pub fn build(mut self, elapsed: Duration) -> BatchSummary {
        let seconds = elapsed.as_secs_f64();
        self.s.seconds = (seconds * 1000.0).round() / 1000.0;
        if seconds > 0.0 {
            self.s.mb_per_s = (self.s.bytes as f64 / 1e6 / seconds * 100.0).round() / 100.0;
            self.s.docs_per_s = (self.s.documents as f64 / seconds * 10.0).round() / 10.0;
        }
        self.s
    }
}

/// The path and record line of a document.
fn location(doc: &DocRef) -> (String, Option<u64>) {
    (doc.file.display.clone(), doc.record.map(|r| r.line))
}
