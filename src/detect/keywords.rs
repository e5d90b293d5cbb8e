//! Keyword rules: one Aho-Corasick automaton over the normalized text.

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::{Context, Detector, Finding, RuleId, Via};
use crate::span::Span;
use crate::text::normalize::fold_leet;
use crate::text::ScanText;

/// A keyword rule ready to compile.
pub struct KeywordRule {
    pub rule: RuleId,
    pub score: f32,
    /// Already normalized keywords.
    pub keywords: Vec<String>,
    pub whole_words: bool,
    pub leet: bool,
    /// Context words, looked for in the normalized text around the match.
    pub context: Option<Context>,
}

struct Pattern {
    rule: RuleId,
    score: f32,
    context: Option<Context>,
    check_start: bool,
    check_end: bool,
}

struct Automaton {
    ac: AhoCorasick,
    patterns: Vec<Pattern>,
    /// Longest keyword in bytes.
    max_len: usize,
}

/// All keyword rules as one automaton (plus one for the leet-folded view when a rule asks).
pub struct KeywordDetector {
    plain: Option<Automaton>,
    leet: Option<Automaton>,
}

impl KeywordDetector {
    /// Build the automata. A forced DFA: with hundreds of keywords the default contiguous NFA is
    /// ~4x slower (PERFORMANCE.md §3.2).
    pub fn build(rules: &[KeywordRule]) -> Result<KeywordDetector, aho_corasick::BuildError> {
        let plain = Self::automaton(rules.iter().collect())?;
        let leet = Self::automaton(rules.iter().filter(|r| r.leet).collect())?;
        Ok(KeywordDetector { plain, leet })
    }

    fn automaton(rules: Vec<&KeywordRule>) -> Result<Option<Automaton>, aho_corasick::BuildError> {
        let mut keywords = Vec::new();
        let mut patterns = Vec::new();
        for rule in rules {
            for kw in &rule.keywords {
                let (first, last) = (kw.chars().next(), kw.chars().last());
                patterns.push(Pattern {
                    rule: rule.rule,
                    score: rule.score,
                    context: rule.context.clone(),
                    check_start: rule.whole_words && first.is_some_and(char::is_alphanumeric),
                    check_end: rule.whole_words && last.is_some_and(char::is_alphanumeric),
                });
                keywords.push(kw.as_str());
            }
        }
        if keywords.is_empty() {
            return Ok(None);
        }
        let ac = AhoCorasick::builder().kind(Some(AhoCorasickKind::DFA)).match_kind(MatchKind::Standard).build(&keywords)?;
        let max_len = keywords.iter().map(|k| k.len()).max().unwrap_or(0);
        Ok(Some(Automaton { ac, patterns, max_len }))
    }

    /// Report matches in `haystack`, a view of the normalized text starting at byte `offset`.
    fn search(automaton: &Automaton, haystack: &str, offset: usize, text: &ScanText<'_>, out: &mut Vec<Finding>) {
        let bytes = haystack.as_bytes();
        let mut meter = text.budget.meter(4096);
        for m in automaton.ac.find_overlapping_iter(haystack) {
            if meter.tick() {
                return;
            }
            let p = &automaton.patterns[m.pattern().as_usize()];
            if p.check_start && haystack[..m.start()].chars().next_back().is_some_and(char::is_alphanumeric) {
                continue;
            }
            if p.check_end && haystack[m.end()..].chars().next().is_some_and(char::is_alphanumeric) {
                continue;
            }
            debug_assert!(m.end() <= bytes.len());
            let score = match &p.context {
                Some(ctx) => ctx.score(haystack, Span::new(m.start(), m.end()), p.score),
                None => p.score,
            };
            if score <= 0.0 {
                continue;
            }
            let span = text.normalized.map.to_original(offset + m.start(), offset + m.end());
            out.push(Finding { rule: p.rule, span, score, via: Via::Normalized });
        }
    }
}

impl Detector for KeywordDetector {
    fn detect(&self, text: &ScanText<'_>, out: &mut Vec<Finding>) {
        if let Some(a) = &self.plain {
            Self::search(a, &text.normalized.text, 0, text, out);
        }
        if let Some(a) = &self.leet {
            let before = out.len();
            let norm = &text.normalized.text;
            for (start, end) in leet_regions(norm, a.max_len) {
                if text.budget.spent() {
                    break;
                }
                Self::search(a, &fold_leet(&norm[start..end]), start, text, out);
            }
            // Keep only leet hits the plain view did not already find.
            // A set, not a scan of `plain` per leet hit (that was quadratic in the hit count).
            let (plain, leet) = out.split_at(before);
            let seen: HashSet<(RuleId, Span)> = plain.iter().map(|p| (p.rule, p.span)).collect();
            let fresh: Vec<Finding> = leet.iter().filter(|f| !seen.contains(&(f.rule, f.span))).copied().collect();
            out.truncate(before);
            out.extend(fresh);
        }
    }
}

/// Regions of the normalized text where leetspeak can hide a keyword: around each leet
/// character that touches a letter (`1gn0re`), widened by the longest keyword and snapped to
/// spaces. Plain numbers (`2024`) start no region, so ordinary text is not searched twice.
///
/// Linear in the text: a leet character whose widened window ends inside the current region
/// adds nothing, and the snapping walks never revisit a byte (the backward walk stops at the
/// current region's end, the forward walk starts past it). Text without spaces becomes one
/// region, searched once (it was one walk to the text's ends per leet character: 512 KB of
/// `a@` took ~100 s).
fn leet_regions(norm: &str, max_len: usize) -> Vec<(usize, usize)> {
    let bytes = norm.as_bytes();
    let is_leet = |b: u8| matches!(b, b'0' | b'1' | b'3' | b'4' | b'5' | b'7' | b'@' | b'$' | b'!');
    let mut regions: Vec<(usize, usize)> = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if !is_leet(b) {
            continue;
        }
        let touches_letter = (i > 0 && bytes[i - 1].is_ascii_alphabetic()) || bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic);
        if !touches_letter {
            continue;
        }
        let floor = regions.last().map_or(0, |r| r.1);
        if !regions.is_empty() && i + max_len <= floor {
            // Its snapped window lies inside the current region already.
            continue;
        }
        // A space byte is ASCII, so the byte after it is always a char boundary.
        let mut start = i.saturating_sub(max_len);
        while start > floor && bytes[start - 1] != b' ' {
            start -= 1;
        }
        let mut end = (i + max_len).min(bytes.len()).max(floor);
        while end < bytes.len() && bytes[end] != b' ' {
            end += 1;
        }
        match regions.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => regions.push((start, end)),
        }
    }
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, written the obvious (quadratic) way.
    fn reference(norm: &str, max_len: usize) -> Vec<(usize, usize)> {
        let bytes = norm.as_bytes();
        let is_leet = |b: u8| matches!(b, b'0' | b'1' | b'3' | b'4' | b'5' | b'7' | b'@' | b'$' | b'!');
        let mut regions: Vec<(usize, usize)> = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            let touches = (i > 0 && bytes[i - 1].is_ascii_alphabetic()) || bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic);
            if !is_leet(b) || !touches {
                continue;
            }
            let mut start = i.saturating_sub(max_len);
            while start > 0 && bytes[start - 1] != b' ' {
                start -= 1;
            }
            let mut end = (i + max_len).min(bytes.len());
            while end < bytes.len() && bytes[end] != b' ' {
                end += 1;
            }
            match regions.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => regions.push((start, end)),
            }
        }
        regions
    }

    #[test]
    fn leet_regions_match_the_definition() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"ab 1@0x  7$!z3";
        for round in 0..2_000 {
            let len = round % 60;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize] as char
                })
                .collect();
            for max_len in [0, 1, 3, 8] {
                assert_eq!(leet_regions(&text, max_len), reference(&text, max_len), "{text:?} max_len {max_len}");
            }
        }
        let mixed = "ïgn0ré thé ру1ès 4ll";
        assert_eq!(leet_regions(mixed, 4), reference(mixed, 4));
    }

    /// Issue 10: 512 KB of `a@` took ~100 s (quadratic). Linear, 4 MB takes milliseconds.
    #[test]
    fn leet_regions_are_linear_without_spaces() {
        let text = "a@".repeat(2 << 20);
        let started = std::time::Instant::now();
        assert_eq!(leet_regions(&text, 40), vec![(0, text.len())]);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    }
}
