//! Regex rules: cheap filter first, exact match second, validators and context words last.
//!
//! Rules whose pattern starts with a literal (most secrets: `ghp_`, `AKIA`, `-----BEGIN`) run
//! alone, so the regex engine's literal prefilter skips most of the text. Literal-free rules
//! (most PII) share one `RegexSet` that tells which of them can match at all; only those run
//! `find_iter`. Mixing both kinds in one set is 2–4x slower (PERFORMANCE.md §3.3).

use regex::{Regex, RegexSet};

use super::{Context, Detector, Finding, RuleId, Validator, Via};
use crate::span::Span;
use crate::text::ScanText;

/// A compiled regex rule.
pub struct RegexRule {
    pub rule: RuleId,
    pub score: f32,
    pub regex: Regex,
    pub group: usize,
    pub validator: Option<Validator>,
    /// Lower-case substrings that mark a placeholder value.
    pub stopwords: Vec<String>,
    pub context: Option<Context>,
}

/// All regex rules of a compiled pack set.
pub struct RegexDetector {
    literal: Vec<RegexRule>,
    set: Option<RegexSet>,
    set_rules: Vec<RegexRule>,
}

/// Most matches one rule reports per text; beyond it a text is flooded, and more spans add
/// nothing to the decision.
const MAX_MATCHES_PER_RULE: usize = 1_000;

impl RegexDetector {
    /// Split rules into literal-prefixed and set-prefiltered groups and build the set.
    pub fn build(rules: Vec<RegexRule>, set_dfa_limit: usize) -> Result<RegexDetector, regex::Error> {
        let (literal, set_rules): (Vec<_>, Vec<_>) = rules.into_iter().partition(|r| has_literal_prefix(r.regex.as_str()));
        let set = if set_rules.is_empty() {
            None
        } else {
            Some(
                regex::RegexSetBuilder::new(set_rules.iter().map(|r| r.regex.as_str()))
                    .size_limit(64 << 20)
                    .dfa_size_limit(set_dfa_limit)
                    .build()?,
            )
        };
        Ok(RegexDetector { literal, set, set_rules })
    }

    fn run_rule(rule: &RegexRule, original: &str, lower_cache: &mut Option<String>, out: &mut Vec<Finding>) {
        let mut count = 0;
        if rule.group == 0 {
            for m in rule.regex.find_iter(original) {
                count += 1;
                if count > MAX_MATCHES_PER_RULE {
                    break;
                }
                let span = Span::new(m.start(), m.end());
                Self::confirm(rule, original, span, span, lower_cache, out);
            }
        } else {
            for caps in rule.regex.captures_iter(original) {
                count += 1;
                if count > MAX_MATCHES_PER_RULE {
                    break;
                }
                let whole = caps.get(0).map(|m| Span::new(m.start(), m.end()));
                if let (Some(m), Some(whole)) = (caps.get(rule.group), whole) {
                    Self::confirm(rule, original, Span::new(m.start(), m.end()), whole, lower_cache, out);
                }
            }
        }
    }

    /// Validate the finding's span; stopwords are looked for in the whole match, which may be
    /// wider than the finding's group (a URL host, a key name).
    fn confirm(rule: &RegexRule, original: &str, span: Span, whole: Span, lower_cache: &mut Option<String>, out: &mut Vec<Finding>) {
        if span.is_empty() {
            return;
        }
        let matched = span.slice(original);
        if let Some(v) = &rule.validator {
            if !v.check(matched) {
                return;
            }
        }
        if !rule.stopwords.is_empty() {
            let lower = whole.slice(original).to_lowercase();
            if rule.stopwords.iter().any(|w| lower.contains(w.as_str())) {
                return;
            }
        }
        let mut score = rule.score;
        if let Some(ctx) = &rule.context {
            let lower = lower_cache.get_or_insert_with(|| original.to_ascii_lowercase());
            score = ctx.score(lower, span, score);
        }
        if score > 0.0 {
            out.push(Finding { rule: rule.rule, span, score, via: Via::Direct });
        }
    }
}

impl Detector for RegexDetector {
    fn detect(&self, text: &ScanText<'_>, out: &mut Vec<Finding>) {
        let original = text.original;
        let mut lower = None;
        for rule in &self.literal {
            Self::run_rule(rule, original, &mut lower, out);
        }
        if let Some(set) = &self.set {
            for i in set.matches(original).iter() {
                Self::run_rule(&self.set_rules[i], original, &mut lower, out);
            }
        }
    }
}

/// True when every match of `pattern` must start with one of a small set of literals of at
/// least three bytes, so the regex engine can prefilter on them.
pub fn has_literal_prefix(pattern: &str) -> bool {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let Ok(hir) = regex_syntax::Parser::new().parse(pattern) else { return false };
    let mut extractor = Extractor::new();
    extractor.kind(ExtractKind::Prefix);
    let seq = extractor.extract(&hir);
    match seq.literals() {
        Some(lits) => !lits.is_empty() && lits.len() <= 64 && lits.iter().all(|l| l.as_bytes().len() >= 3),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefix_classification() {
        assert!(has_literal_prefix(r"ghp_[A-Za-z0-9]{36}"));
        assert!(has_literal_prefix(r"(?:AKIA|ASIA)[A-Z0-9]{16}"));
        assert!(!has_literal_prefix(r"(?-u:\b)[0-9]{3}-[0-9]{2}-[0-9]{4}"));
        assert!(!has_literal_prefix(r"[a-z]+@[a-z]+"));
    }
}
