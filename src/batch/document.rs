//! Scanning one document: cut its text into chunks, scan each chunk with the engine, and merge
//! the chunk reports into one result whose findings point into the document's source.
//!
//! Merging does three things a per-chunk report cannot:
//! - **offsets**: chunk offsets + the chunk's start give text offsets, which the extractor's
//!   map turns into source offsets (for HTML, into the markup);
//! - **overlap**: a value inside the overlap of two chunks is found twice; findings are
//!   deduplicated by rule and source span, keeping the first chunk;
//! - **cut values**: a value cut by a chunk's edge can yield a shorter, different match (an
//!   e-mail missing its TLD). When the neighbouring chunk covers the whole of that region, the
//!   edge-touching match is dropped in favour of the neighbour's whole one.
//!
//! A document of more than one chunk also has its rules run once over the whole text, and the
//! findings come from that scan: a value longer than a chunk (an RSA-4096 PEM key) or across a
//! chunk edge was never found by any chunk. Chunks remain what the classifier reads; without a
//! classifier, the whole-text scan is the only one.

use std::cmp::Reverse;
use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;

use crate::budget::Budget;
use crate::engine::{ScanError, ScanRequest};
use crate::mask::MaskSpan;
use crate::pack::Action;
use crate::policy::{Category, CategoryScores, Decision};
use crate::report::{Categories, Report, ReportFinding};
use crate::span::{CharIndex, Span};
use crate::vault::SessionTokens;

use super::extract::{Extracted, SourceMap};
use super::output::report::DocFinding;
use super::plan::Plan;
use super::ClassifyPolicy;

/// Documents with at least this many chunks have their chunks scanned in parallel; below it
/// the per-task overhead outweighs the gain, and documents are parallel with each other anyway.
const PARALLEL_CHUNKS: usize = 8;

/// Most reversible placeholders minted for one document's masked copy.
const MAX_TOKENS: usize = 10_000;

/// The document as read.
pub(crate) struct Source<'a> {
    /// The source bytes (a whole file, or one record).
    pub text: &'a str,
    /// Line of the file where `text` starts (1 for a whole file).
    pub first_line: u64,
    /// Byte offset of `text` in its file (0 for a whole file).
    pub file_offset: u64,
}

/// A span of the source file to overwrite in the masked copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replacement {
    /// Byte range in the FILE (record offset included).
    pub start: u64,
    pub end: u64,
    /// Already escaped for the file's format.
    pub text: String,
}

/// The merged result of one document.
#[derive(Debug)]
pub(crate) struct DocScan {
    pub chunks: usize,
    pub decision: Decision,
    pub would_block: bool,
    pub score: f32,
    pub categories: Categories,
    pub findings: Vec<DocFinding>,
    pub blocked_chunks: Vec<usize>,
    pub classified: usize,
    /// Only when masked copies are asked for.
    pub replacements: Vec<Replacement>,
}

/// A finding on its way from a chunk report to the document.
struct Hit {
    finding: ReportFinding,
    /// In the extracted text.
    text: Span,
    /// In the source.
    src: Span,
    chunk: usize,
}

/// Scan the extracted text of one document.
pub(crate) fn scan(plan: &Plan<'_>, source: &Source<'_>, extracted: &Extracted<'_>) -> Result<DocScan, ScanError> {
    let text: &str = &extracted.text;
    let budget = plan.doc_budget.map_or(Budget::UNLIMITED, Budget::within);
    let ranges = plan.chunker.chunks(text);
    let whole = if ranges.len() > 1 { Some(scan_whole(plan, text, budget)?) } else { None };
    let (reports, classified) = match &whole {
        Some(_) if !plan.classifier_loaded => (Vec::new(), 0),
        _ => scan_chunks(plan, text, &ranges, budget)?,
    };
    let mut verdict = Verdict::of(&reports);
    let hits = match whole {
        Some(windows) => {
            let mut hits = Vec::new();
            for (offset, report) in windows {
                verdict.add_whole(&report, offset, &ranges);
                hits.extend(whole_hits(report, offset, &ranges, &extracted.map));
            }
            dedup_hits(&mut hits);
            hits
        }
        None => merge(reports, &ranges, &extracted.map),
    };
    let replacements = if plan.masked_dir.is_some() { replacements(plan, source, extracted, &hits) } else { Vec::new() };
    Ok(DocScan {
        chunks: ranges.len(),
        decision: verdict.decision,
        would_block: verdict.would_block,
        score: verdict.scores.max(),
        categories: Categories::from(&verdict.scores),
        findings: locate(hits, source),
        blocked_chunks: verdict.blocked_chunks,
        classified,
        replacements,
    })
}

/// Scan every chunk rules-first; then, as the classify policy says, scan the chosen chunks
/// again with the classifier. Returns the reports and how many chunks were classified.
fn scan_chunks(plan: &Plan<'_>, text: &str, ranges: &[Range<usize>], deadline: Budget) -> Result<(Vec<Report>, usize), ScanError> {
    let classify_all = plan.classifier_loaded && plan.classify == ClassifyPolicy::All;
    let all: Vec<usize> = (0..ranges.len()).collect();
    let mut reports = scan_some(plan, text, ranges, &all, classify_all, deadline)?;
    if !plan.classifier_loaded {
        return Ok((reports, 0));
    }
    let picked = match plan.classify {
        ClassifyPolicy::All => return Ok((reports, ranges.len())),
        ClassifyPolicy::None => return Ok((reports, 0)),
        ClassifyPolicy::Flagged => (0..reports.len()).filter(|&i| flag(&reports[i]) > 0.0).collect(),
        ClassifyPolicy::Budget(n) => budget(&reports, n),
    };
    let again = scan_some(plan, text, ranges, &picked, true, deadline)?;
    for (i, report) in picked.iter().zip(again) {
        reports[*i] = report;
    }
    Ok((reports, picked.len()))
}

fn scan_some(
    plan: &Plan<'_>,
    text: &str,
    ranges: &[Range<usize>],
    which: &[usize],
    classify: bool,
    budget: Budget,
) -> Result<Vec<Report>, ScanError> {
    let one = |&i: &usize| {
        let request =
            ScanRequest { policy: plan.policy.as_deref(), classify, budget, ..ScanRequest::new(&text[ranges[i].clone()], plan.direction) };
        // The engine masks a chunk whose decision is `mask`; masked copies are made from the
        // whole document instead, so drop the chunk's copy at once rather than hold one per
        // chunk of a large document.
        plan.engine.scan(&request).map(|report| Report { masked: None, ..report })
    };
    if which.len() >= PARALLEL_CHUNKS {
        which.par_iter().map(one).collect()
    } else {
        which.iter().map(one).collect()
    }
}

/// Windows of a text longer than one scan may be overlap by this much (at most half a window),
/// so a value shorter than that is seen whole by some window.
const WHOLE_OVERLAP: usize = 256 << 10;

/// The rules over the whole text, every finding listed (masked copies are made from them), as
/// (offset, report) pairs: one pair, unless the text is longer than the engine's text limit;
/// then overlapping windows of that size.
fn scan_whole(plan: &Plan<'_>, text: &str, budget: Budget) -> Result<Vec<(usize, Report)>, ScanError> {
    let max = plan.engine.max_text_bytes().max(16);
    let overlap = WHOLE_OVERLAP.min(max / 2);
    let mut windows = Vec::new();
    let mut start = 0;
    loop {
        let mut end = (start + max).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let request = ScanRequest {
            policy: plan.policy.as_deref(),
            classify: false,
            list_all: true,
            budget,
            ..ScanRequest::new(&text[start..end], plan.direction)
        };
        windows.push((start, plan.engine.scan(&request).map(|report| Report { masked: None, ..report })?));
        if end == text.len() {
            return Ok(windows);
        }
        start = end - overlap;
        while !text.is_char_boundary(start) {
            start -= 1;
        }
    }
}

/// Findings seen by two overlapping windows are kept once (best score).
fn dedup_hits(hits: &mut Vec<Hit>) {
    hits.sort_by(|a, b| (a.src.start, a.src.end, &a.finding.rule).cmp(&(b.src.start, b.src.end, &b.finding.rule)));
    hits.dedup_by(|later, kept| {
        let same = later.finding.rule == kept.finding.rule && later.src == kept.src;
        if same {
            kept.finding.score = kept.finding.score.max(later.finding.score);
        }
        same
    });
}

/// The first chunk that holds `span` whole, else (a value longer than a chunk) the first that
/// holds its start. Chunks are sorted with increasing ends.
fn chunk_of(ranges: &[Range<usize>], span: Span) -> usize {
    let last = ranges.len().saturating_sub(1);
    let whole = ranges.partition_point(|r| r.end < span.end);
    if ranges.get(whole).is_some_and(|r| r.start <= span.start) {
        return whole;
    }
    ranges.partition_point(|r| r.end <= span.start).min(last)
}

/// Findings of a whole-text scan (of the window at `offset`) as document hits, each credited
/// to its first chunk.
fn whole_hits(report: Report, offset: usize, ranges: &[Range<usize>], map: &SourceMap) -> Vec<Hit> {
    report
        .findings
        .into_iter()
        .map(|mut finding| {
            finding.start += offset;
            finding.end += offset;
            let text = Span::new(finding.start, finding.end);
            Hit { src: map.to_source(text), chunk: chunk_of(ranges, text), text, finding }
        })
        .collect()
}

/// How strongly the rules suspect an attack on the model in this chunk.
fn flag(report: &Report) -> f32 {
    let suspicious = |c: Category| matches!(c, Category::Injection | Category::Jailbreak | Category::Evasion);
    report.findings.iter().filter(|f| suspicious(f.category)).map(|f| f.score).fold(0.0, f32::max)
}

/// Up to `n` chunks: flagged ones strongest first, then the others in order.
fn budget(reports: &[Report], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..reports.len()).collect();
    order.sort_by(|&a, &b| flag(&reports[b]).total_cmp(&flag(&reports[a])).then(a.cmp(&b)));
    order.truncate(n);
    order.sort_unstable();
    order
}

/// The document's decision: the strongest chunk decides; category scores are the highest of
/// any chunk (not combined across chunks, which would make long documents look riskier for
/// their length alone).
struct Verdict {
    decision: Decision,
    would_block: bool,
    scores: CategoryScores,
    blocked_chunks: Vec<usize>,
}

impl Verdict {
    fn of(reports: &[Report]) -> Verdict {
        let mut v =
            Verdict { decision: Decision::Allow, would_block: false, scores: CategoryScores::default(), blocked_chunks: Vec::new() };
        for (i, r) in reports.iter().enumerate() {
            v.decision = v.decision.max(r.decision);
            v.would_block |= r.would_block;
            let c = &r.categories;
            for (slot, s) in v.scores.0.iter_mut().zip([c.pii, c.secret, c.injection, c.jailbreak, c.evasion]) {
                *slot = slot.max(s);
            }
            if r.decision == Decision::Block {
                v.blocked_chunks.push(i);
            }
        }
        v
    }

    /// Take the whole-text rules scan into account; when it blocks, the chunk holding its
    /// strongest blocking finding is named (unless a chunk already blocked).
    fn add_whole(&mut self, r: &Report, offset: usize, ranges: &[Range<usize>]) {
        self.decision = self.decision.max(r.decision);
        self.would_block |= r.would_block;
        let c = &r.categories;
        for (slot, s) in self.scores.0.iter_mut().zip([c.pii, c.secret, c.injection, c.jailbreak, c.evasion]) {
            *slot = slot.max(s);
        }
        if r.decision == Decision::Block && self.blocked_chunks.is_empty() {
            let blocking = r
                .findings
                .iter()
                .filter(|f| f.action == Action::Block || r.blocked_by.contains(&f.category))
                .max_by(|a, b| a.score.total_cmp(&b.score));
            self.blocked_chunks.push(blocking.map_or(0, |f| chunk_of(ranges, Span::new(offset + f.start, offset + f.end))));
        }
    }
}

/// Chunk findings → document hits in text and source coordinates, cut views dropped,
/// overlap duplicates merged (first chunk kept, best score kept).
fn merge(reports: Vec<Report>, ranges: &[Range<usize>], map: &SourceMap) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (chunk, (report, range)) in reports.into_iter().zip(ranges).enumerate() {
        for finding in report.findings {
            let text = Span::new(range.start + finding.start, range.start + finding.end);
            if cut_view(chunk, text, ranges) {
                continue;
            }
            hits.push(Hit { finding, text, src: map.to_source(text), chunk });
        }
    }
    hits.sort_by(|a, b| (a.src.start, a.src.end, &a.finding.rule, a.chunk).cmp(&(b.src.start, b.src.end, &b.finding.rule, b.chunk)));
    hits.dedup_by(|later, kept| {
        let same = later.finding.rule == kept.finding.rule && later.src == kept.src;
        if same {
            kept.finding.score = kept.finding.score.max(later.finding.score);
        }
        same
    });
    hits
}

/// A finding touching a chunk's cut edge may be a truncated view of a longer value; when the
/// neighbouring chunk covers the finding's region with room to spare on both sides, that
/// chunk sees the value whole, so this view is dropped. (Strict room: a value exactly filling
/// the overlap touches an edge in both chunks, and must survive in one of them.)
fn cut_view(chunk: usize, text: Span, ranges: &[Range<usize>]) -> bool {
    let range = &ranges[chunk];
    let right = text.end == range.end && ranges.get(chunk + 1).is_some_and(|next| next.start < text.start);
    let left = text.start == range.start && chunk > 0 && ranges[chunk - 1].end > text.end;
    right || left
}

/// Findings with source offsets, character offsets and line/column.
fn locate(hits: Vec<Hit>, source: &Source<'_>) -> Vec<DocFinding> {
    if hits.is_empty() {
        return Vec::new();
    }
    let lines = Lines::new(source.text);
    hits.into_iter()
        .map(|h| {
            let (line, column) = lines.position(h.src.start);
            let (end_line, end_column) = lines.position(h.src.end);
            DocFinding {
                rule: h.finding.rule,
                category: h.finding.category,
                label: h.finding.label,
                score: h.finding.score,
                start: h.src.start,
                end: h.src.end,
                char_start: lines.chars.char_offset(h.src.start),
                char_end: lines.chars.char_offset(h.src.end),
                line: source.first_line + line,
                column,
                end_line: source.first_line + end_line,
                end_column,
                chunk: h.chunk,
                action: h.finding.action,
                via: h.finding.via,
            }
        })
        .collect()
}

/// Line starts and character offsets of a source.
struct Lines<'a> {
    starts: Vec<usize>,
    chars: CharIndex<'a>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0).chain(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1)).collect();
        Lines { starts, chars: CharIndex::new(text) }
    }

    /// 0-based line and 1-based character column of byte `at`.
    fn position(&self, at: usize) -> (u64, u64) {
        let line = self.starts.partition_point(|&s| s <= at).saturating_sub(1);
        let column = self.chars.char_offset(at) - self.chars.char_offset(self.starts[line]) + 1;
        (line as u64, column as u64)
    }
}

/// What the masked copy replaces: every finding the policy would mask (action `mask` or
/// `block`, score at least `min_score`), plus every other occurrence of those values in the
/// document (as the engine does within one text: a value pasted again without the context
/// that made a rule fire must not survive). Replacements are made on the extracted text with
/// the rule's operator, then escaped for the format and placed over the source bytes.
fn replacements(plan: &Plan<'_>, source: &Source<'_>, extracted: &Extracted<'_>, hits: &[Hit]) -> Vec<Replacement> {
    let text: &str = &extracted.text;
    let mut spans: Vec<MaskSpan<'_>> = hits
        .iter()
        .filter(|h| h.finding.action != Action::Report && h.finding.score >= plan.min_score)
        .filter_map(|h| plan.rules.get(&h.finding.rule).map(|m| MaskSpan { span: h.text, op: m.op, label: &m.label }))
        .collect();
    if spans.is_empty() {
        return Vec::new();
    }
    add_repeated_values(text, &mut spans);
    spans.sort_by_key(|s| (s.span.start, Reverse(s.span.end)));
    let mut tokens = SessionTokens::new(MAX_TOKENS);
    let mut out: Vec<Replacement> = Vec::new();
    for group in overlapping_groups(&spans) {
        let whole = Span::new(group[0].span.start, group.iter().map(|s| s.span.end).max().unwrap_or(group[0].span.end));
        let local: Vec<MaskSpan<'_>> =
            group.iter().map(|s| MaskSpan { span: Span::new(s.span.start - whole.start, s.span.end - whole.start), ..*s }).collect();
        let masked = plan.masker.apply(whole.slice(text), &local, &mut tokens);
        let src = extracted.map.to_source(whole);
        let replacement = Replacement {
            start: source.file_offset + src.start as u64,
            end: source.file_offset + src.end as u64,
            text: extracted.escape.apply(&masked),
        };
        push_merged(&mut out, replacement);
    }
    out
}

/// Add a span for every other occurrence of a masked value of 8 bytes or more (shorter
/// values are too likely to be ordinary words or numbers). One Aho-Corasick pass over the
/// document, whatever the number of values.
fn add_repeated_values(text: &str, spans: &mut Vec<MaskSpan<'_>>) {
    let mut values: Vec<&str> = spans.iter().map(|s| s.span.slice(text)).filter(|v| v.len() >= 8).collect();
    values.sort_unstable();
    values.dedup();
    if values.is_empty() {
        return;
    }
    let Ok(ac) = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&values) else { return };
    let mut found: Vec<Span> = spans.iter().map(|s| s.span).collect();
    found.sort_unstable();
    let mut extra = Vec::new();
    for m in ac.find_iter(text) {
        let span = Span::new(m.start(), m.end());
        let after = found.partition_point(|f| f.end <= span.start);
        if found.get(after).is_some_and(|f| f.overlaps(&span)) {
            continue;
        }
        let template = spans.iter().find(|s| s.span.slice(text) == values[m.pattern().as_usize()]).copied();
        extra.extend(template.map(|t| MaskSpan { span, ..t }));
    }
    spans.extend(extra);
}

/// Consecutive runs of overlapping spans (input sorted by start).
fn overlapping_groups<'s, 'r>(spans: &'s [MaskSpan<'r>]) -> Vec<&'s [MaskSpan<'r>]> {
    let mut groups = Vec::new();
    let (mut from, mut end) = (0, 0);
    for (i, s) in spans.iter().enumerate() {
        if i > from && s.span.start >= end {
            groups.push(&spans[from..i]);
            from = i;
        }
        end = if i == from { s.span.end } else { end.max(s.span.end) };
    }
    if from < spans.len() {
        groups.push(&spans[from..]);
    }
    groups
}

/// Append a replacement; two that overlap in the source (both widened over one entity or
/// escape) become one.
fn push_merged(out: &mut Vec<Replacement>, r: Replacement) {
    match out.last_mut() {
        Some(last) if r.start < last.end => {
            last.end = last.end.max(r.end);
            last.text.push_str(&r.text);
        }
        _ => out.push(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::MaskOp;

    #[test]
    fn cut_views_are_dropped_only_when_the_neighbour_sees_more() {
        let ranges = [0..10, 8..18, 16..20];
        assert!(cut_view(0, Span::new(9, 10), &ranges));
        assert!(!cut_view(0, Span::new(5, 10), &ranges), "starts before the next chunk: keep");
        assert!(cut_view(1, Span::new(8, 9), &ranges));
        assert!(!cut_view(1, Span::new(8, 12), &ranges), "longer than the previous chunk sees: keep");
        assert!(!cut_view(0, Span::new(8, 10), &ranges) && !cut_view(1, Span::new(8, 10), &ranges), "fills the overlap: keep both");
        assert!(!cut_view(2, Span::new(18, 20), &ranges), "the last chunk ends the text");
    }

    #[test]
    fn findings_are_credited_to_the_first_chunk_that_holds_them() {
        let ranges = [0..10, 8..18, 16..20];
        assert_eq!(chunk_of(&ranges, Span::new(2, 5)), 0);
        assert_eq!(chunk_of(&ranges, Span::new(8, 10)), 0, "in the overlap: the first");
        assert_eq!(chunk_of(&ranges, Span::new(9, 12)), 1, "cut by chunk 0's end: the chunk that sees it whole");
        assert_eq!(chunk_of(&ranges, Span::new(5, 19)), 0, "longer than a chunk: the chunk of its start");
        assert_eq!(chunk_of(&ranges, Span::new(19, 20)), 2);
    }

    #[test]
    fn groups_of_overlapping_spans() {
        let s = |a, b| MaskSpan { span: Span::new(a, b), op: MaskOp::Label, label: "X" };
        let spans = [s(0, 5), s(3, 8), s(8, 9), s(10, 12)];
        let groups = overlapping_groups(&spans);
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(lens, [2, 1, 1]);
    }

    #[test]
    fn repeated_values_are_masked_too() {
        let text = "key sk_live_abcdef then again sk_live_abcdef and short abc abc";
        let mut spans = vec![MaskSpan { span: Span::new(4, 18), op: MaskOp::Label, label: "K" }];
        add_repeated_values(text, &mut spans);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[1].span.slice(text), "sk_live_abcdef");
        assert_eq!(spans[1].span.start, 30);
    }

    #[test]
    fn lines_and_columns_count_characters() {
        let lines = Lines::new("ab\nçé x\n");
        assert_eq!(lines.position(0), (0, 1));
        assert_eq!(lines.position(3), (1, 1));
        assert_eq!(lines.position(8), (1, 4));
        assert_eq!(lines.position(10), (2, 1));
    }
}
