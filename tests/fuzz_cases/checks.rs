//! The invariants of the fuzz targets, shared by `fuzz/fuzz_targets/*.rs` and
//! `tests/fuzz_regressions.rs` (both include this file with `#[path]`), so a committed crash is
//! replayed through exactly the checks that found it. Every check panics on a violation.
//!
//! Each function takes the raw fuzz input, the same bytes that `cargo fuzz` writes to
//! `fuzz/artifacts/<target>/crash-*` and that live in `tests/fuzz_cases/<target>/`.

// Each fuzz target uses one of these functions; the others are dead code there.
#![allow(dead_code)]

use picket::pack::{self, Action, Diagnostic, PackError, PackSource};
use picket::text::{normalize, ScanText};
use picket::{Direction, Engine, EngineConfig, Report, ScanRequest};

/// The name every fuzzed pack is compiled under; diagnostics must carry it.
pub const PACK_NAME: &str = "fuzz.toml";

/// Findings at least this strong are acted on by the default policy (its `min_score`).
const ACTIONABLE_SCORE: f32 = 0.5;

/// The `partial` mask operator keeps a tail of up to 4 characters on purpose; a value longer
/// than this that survives masking is a leak.
const MASKED_VALUE_MIN_CHARS: usize = 8;

/// Above this many char boundaries in the normalized text, `normalize` checks a linear number
/// of span pairs instead of all of them (the all-pairs check is quadratic).
const ALL_PAIRS_MAX_BOUNDARIES: usize = 96;

/// The engine the fuzz targets and the replay test share: shipped packs, default policy, a
/// fixed hash key (so the `hash` operator's output is the same in every run), no classifier.
pub fn engine() -> Engine {
    Engine::new(EngineConfig { hash_key: Some(b"picket-fuzz".to_vec()), ..EngineConfig::default() }).expect("shipped packs compile")
}

/// Target `pack_parse`: a pack file never makes the compiler panic; every diagnostic points
/// into the file it was given (file name, 1-based line and column inside the text). When the
/// pack compiles, its detectors run over its own text and its examples without panicking and
/// report spans on char boundaries.
pub fn pack_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let sources = [PackSource { name: PACK_NAME.to_string(), text: text.to_string() }];
    match pack::compile(&sources) {
        Ok(packs) => {
            for d in &packs.warnings {
                check_diagnostic(text, d);
            }
            let _ = pack::examples::check(&packs, &[]);
            let scan_text = ScanText::new(text);
            let mut findings = Vec::new();
            packs.detectors.run(&scan_text, &mut findings);
            for f in &findings {
                assert!(
                    f.span.start <= f.span.end
                        && f.span.end <= text.len()
                        && text.is_char_boundary(f.span.start)
                        && text.is_char_boundary(f.span.end),
                    "rule {} reported invalid span {:?} in a {}-byte text",
                    packs.rule(f.rule).id,
                    f.span,
                    text.len()
                );
            }
        }
        Err(PackError::Invalid(diags)) => {
            assert!(!diags.is_empty(), "a refused pack must say why");
            for d in &diags {
                check_diagnostic(text, d);
            }
        }
        Err(other) => panic!("compile of an in-memory pack failed without diagnostics: {other}"),
    }
}

fn check_diagnostic(text: &str, d: &Diagnostic) {
    assert_eq!(d.file, PACK_NAME, "diagnostic names the wrong file: {d}");
    assert!(d.line >= 1 && d.column >= 1, "diagnostic location is not 1-based: {d}");
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(d.line <= lines.len(), "diagnostic line {} is past the end of a {}-line file: {d}", d.line, lines.len());
    let line_chars = lines[d.line - 1].chars().count();
    assert!(d.column <= line_chars + 1, "diagnostic column {} is past the end of line {} ({line_chars} chars): {d}", d.column, d.line);
}

/// Target `scan`: arbitrary text scans in every direction without panicking or failing; every
/// finding's byte span is in bounds and on char boundaries, and its char span names the same
/// substring.
pub fn scan(engine: &Engine, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for direction in Direction::ALL {
        let report = scan_one(engine, &text, direction);
        assert!(report.masked.is_some(), "return_masked was set but no masked text came back");
        assert!((0.0..=1.0).contains(&report.score), "report score {} outside [0, 1]", report.score);
        for f in &report.findings {
            assert!(f.start <= f.end && f.end <= text.len(), "{}: span {}..{} out of bounds (len {})", f.rule, f.start, f.end, text.len());
            assert!(
                text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
                "{}: span {}..{} not on char boundaries",
                f.rule,
                f.start,
                f.end
            );
            assert!((0.0..=1.0).contains(&f.score), "{}: score {} outside [0, 1]", f.rule, f.score);
            let char_start = text[..f.start].chars().count();
            let char_len = text[f.start..f.end].chars().count();
            assert_eq!(
                (f.char_start, f.char_end),
                (char_start, char_start + char_len),
                "{}: char span does not describe byte span {}..{}",
                f.rule,
                f.start,
                f.end
            );
        }
    }
}

/// Target `mask`: no actionable masked finding longer than 8 characters survives in the masked
/// text; scanning and masking the masked text again does not bring any of them back; and when
/// nothing is to be masked the masked text is the input unchanged.
pub fn mask(engine: &Engine, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for direction in Direction::ALL {
        let report = scan_one(engine, &text, direction);
        let masked = report.masked.as_deref().expect("return_masked was set");
        let to_mask: Vec<_> = report.findings.iter().filter(|f| f.action != Action::Report && f.score >= ACTIONABLE_SCORE).collect();
        if to_mask.is_empty() {
            assert_eq!(masked, text, "{direction:?}: masked text changed although nothing was to be masked");
            continue;
        }
        let values: Vec<(&str, &str)> = to_mask
            .iter()
            .map(|f| (f.rule.as_str(), &text[f.start..f.end]))
            .filter(|(_, v)| v.chars().count() > MASKED_VALUE_MIN_CHARS)
            .collect();
        for (rule, value) in &values {
            assert!(!masked.contains(value), "{direction:?}: {rule} value {value:?} survived masking: {masked:?}");
        }
        let again = scan_one(engine, masked, direction);
        let masked_twice = again.masked.as_deref().expect("return_masked was set");
        for (rule, value) in &values {
            assert!(!masked_twice.contains(value), "{direction:?}: {rule} value {value:?} came back on masking twice: {masked_twice:?}");
        }
    }
}

/// Target `normalize`: for char boundary pairs `a <= b` of the normalized text,
/// `map.to_original(a, b)` is in bounds, on char boundaries of the original, has
/// `start <= end`, and is monotonic (a later `a` never starts earlier, a later `b` never ends
/// earlier).
pub fn normalize_map(data: &[u8]) {
    let original = String::from_utf8_lossy(data);
    let n = normalize(&original);
    let bounds: Vec<usize> = n.text.char_indices().map(|(i, _)| i).chain(std::iter::once(n.text.len())).collect();
    let span = |a: usize, b: usize| {
        let s = n.map.to_original(bounds[a], bounds[b]);
        assert!(
            s.start <= s.end && s.end <= original.len(),
            "to_original({}, {}) = {s:?} out of bounds (original len {})",
            bounds[a],
            bounds[b],
            original.len()
        );
        assert!(
            original.is_char_boundary(s.start) && original.is_char_boundary(s.end),
            "to_original({}, {}) = {s:?} not on char boundaries of the original",
            bounds[a],
            bounds[b]
        );
        (s.start, s.end)
    };
    let last = bounds.len() - 1;
    if bounds.len() <= ALL_PAIRS_MAX_BOUNDARIES {
        let table: Vec<Vec<(usize, usize)>> = (0..=last).map(|a| (a..=last).map(|b| span(a, b)).collect()).collect();
        for a in 0..=last {
            for b in a..=last {
                let here = table[a][b - a];
                if b > a {
                    let shorter = table[a][b - 1 - a];
                    assert!(here.1 >= shorter.1, "end went backwards: ({a},{b}) -> {here:?} after ({a},{}) -> {shorter:?}", b - 1);
                }
                if a > 0 {
                    let wider = table[a - 1][b - (a - 1)];
                    assert!(here.0 >= wider.0, "start went backwards: ({a},{b}) -> {here:?} after ({},{b}) -> {wider:?}", a - 1);
                }
            }
        }
    } else {
        // Linear sample: prefixes, suffixes, single characters and empty spans.
        let mut prev = (0, 0, 0, 0);
        for (i, &at) in bounds.iter().enumerate() {
            let (suffix_start, _) = span(i, last);
            let (_, prefix_end) = span(0, i);
            let (empty_start, _) = span(i, i);
            assert!(suffix_start >= prev.0, "start went backwards at boundary {at}");
            assert!(prefix_end >= prev.1, "end went backwards at boundary {at}");
            assert_eq!(empty_start, suffix_start, "empty span at {at} starts elsewhere than the suffix from it");
            let (one_start, one_end) = if i < last { span(i, i + 1) } else { (prev.2, prev.3) };
            assert!(one_start >= prev.2 && one_end >= prev.3, "single-char spans went backwards at boundary {at}");
            prev = (suffix_start, prefix_end, one_start, one_end);
        }
    }
}

fn scan_one(engine: &Engine, text: &str, direction: Direction) -> Report {
    let request = ScanRequest { return_masked: true, classify: false, ..ScanRequest::new(text, direction) };
    engine.scan(&request).unwrap_or_else(|e| panic!("scan failed in {direction:?}: {e}"))
}
