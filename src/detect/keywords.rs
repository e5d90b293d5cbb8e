//! Keyword rules: one Aho-Corasick automaton over the normalized text.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::{Context, Detector, Finding, RuleId, Via};
use crate::span::Span;
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
        Ok(Some(Automaton { ac, patterns }))
    }

    fn search(automaton: &Automaton, haystack: &str, text: &ScanText<'_>, out: &mut Vec<Finding>) {
        let bytes = haystack.as_bytes();
        for m in automaton.ac.find_overlapping_iter(haystack) {
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
            let span = text.normalized.map.to_original(m.start(), m.end());
            out.push(Finding { rule: p.rule, span, score, via: Via::Normalized });
        }
    }
}

impl Detector for KeywordDetector {
    fn detect(&self, text: &ScanText<'_>, out: &mut Vec<Finding>) {
        if let Some(a) = &self.plain {
            Self::search(a, &text.normalized.text, text, out);
        }
        if let Some(a) = &self.leet {
            let before = out.len();
            Self::search(a, text.leet(), text, out);
            // Keep only leet hits the plain view did not already find.
            let (plain, leet) = out.split_at(before);
            let fresh: Vec<Finding> =
                leet.iter().filter(|f| !plain.iter().any(|p| p.rule == f.rule && p.span == f.span)).copied().collect();
            out.truncate(before);
            out.extend(fresh);
        }
    }
}
