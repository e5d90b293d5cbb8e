//! Regex rules: cheap filter first, exact match second, validators and context words last.
//!
//! Rules whose pattern starts with a literal (most secrets: `ghp_`, `AKIA`, `-----BEGIN`) run
//! alone, so the regex engine's literal prefilter skips most of the text. Literal-free rules
//! (most PII) share one `RegexSet` that tells which of them can match at all; only those run
//! `find_iter`. Mixing both kinds in one set is 2–4x slower (PERFORMANCE.md §3.3).

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexSet};
use regex_automata::{meta, Anchored, Input};

use super::{Context, Detector, Finding, RuleId, Validator, Via};
use crate::budget::Budget;
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

/// Rules whose every match starts with one of a few literals: one Aho-Corasick pass over all
/// those literals finds candidate starts, and each candidate is confirmed by an anchored search
/// of its rule only (noseyparker's two-phase matching). The text is read once for all of them
/// instead of once per rule.
struct PrefixedRules {
    literals: AhoCorasick,
    /// Literal index → index into `rules`.
    literal_rule: Vec<usize>,
    rules: Vec<(RegexRule, meta::Regex)>,
}

/// All regex rules of a compiled pack set.
pub struct RegexDetector {
    prefixed: Option<PrefixedRules>,
    /// Rules with a required inner literal (`@`, `password`): the regex engine's own literal
    /// prefilter makes each of these fast on its own.
    alone: Vec<RegexRule>,
    set: Option<RegexSet>,
    set_rules: Vec<RegexRule>,
    /// Per set rule: a byte every match contains (`@` for e-mail), when there is one; on a long
    /// text a rule whose byte is absent cannot match and is not run.
    set_required: Vec<Option<u8>>,
    /// Rules whose validator proves a value (checksum, registry): the only ones that may report
    /// a match whose separators the value view rewrote (see [`crate::text::values`]).
    proven: Vec<RuleId>,
}

/// Texts longer than this skip the set prefilter and run every set rule alone. The set is an
/// overlapping search of all its patterns at once, and on varied text (digits and separators)
/// its lazy DFA meets new states for megabytes, thrashes its cache and falls back to a slower
/// engine: 27 ms/MB on 256 KiB, 265 ms/MB on 4 MiB, in 128 KiB chunks as on one haystack.
/// Each rule alone stays flat (0.5–1.2x per MB from 256 KiB to 4 MiB), and on long texts their
/// sum is below the thrashing set.
const SET_MAX_TEXT: usize = 256 << 10;

impl RegexDetector {
    /// Sort rules into prefixed, alone and set-prefiltered groups and build their automata.
    pub fn build(rules: Vec<RegexRule>, set_dfa_limit: usize) -> Result<RegexDetector, String> {
        let mut prefixed = Vec::new();
        let mut alone = Vec::new();
        let mut set_rules = Vec::new();
        let mut proven: Vec<RuleId> =
            rules.iter().filter(|r| r.validator.as_ref().is_some_and(Validator::proves_value)).map(|r| r.rule).collect();
        proven.sort_unstable();
        for rule in rules {
            match prefix_literals(rule.regex.as_str()) {
                Some(lits) => prefixed.push((rule, lits)),
                None if has_required_literal(rule.regex.as_str()) => alone.push(rule),
                None => set_rules.push(rule),
            }
        }
        // Each rule compiled within its own limits already; if the combined set exceeds the
        // set's limit, the rules run one by one instead (slower, never refused).
        let set = match set_rules.is_empty() {
            true => None,
            false => regex::RegexSetBuilder::new(set_rules.iter().map(|r| r.regex.as_str()))
                .size_limit(64 << 20)
                .dfa_size_limit(set_dfa_limit)
                .build()
                .ok(),
        };
        if set.is_none() {
            alone.append(&mut set_rules);
        }
        let set_required = set_rules.iter().map(|r| required_byte(r.regex.as_str())).collect();
        Ok(RegexDetector { prefixed: PrefixedRules::build(prefixed)?, alone, set, set_rules, set_required, proven })
    }

    /// Which set rules can match `original`: the set says on a short text; on a long one,
    /// every rule whose required byte occurs (see [`SET_MAX_TEXT`]).
    fn set_candidates(&self, set: &RegexSet, original: &str) -> Vec<usize> {
        if original.len() <= SET_MAX_TEXT {
            return set.matches(original).iter().collect();
        }
        let bytes = original.as_bytes();
        let mut present: [Option<bool>; 256] = [None; 256];
        (0..self.set_rules.len())
            .filter(|&i| match self.set_required[i] {
                Some(b) => *present[b as usize].get_or_insert_with(|| bytes.contains(&b)),
                None => true,
            })
            .collect()
    }

    fn run_rule(rule: &RegexRule, original: &str, budget: Budget, lower_cache: &mut Option<String>, out: &mut Vec<Finding>) {
        let mut meter = budget.meter(256);
        if rule.group == 0 {
            for m in rule.regex.find_iter(original) {
                if meter.tick() {
                    return;
                }
                let span = Span::new(m.start(), m.end());
                Self::confirm(rule, original, span, span, lower_cache, out);
            }
        } else {
            for caps in rule.regex.captures_iter(original) {
                if meter.tick() {
                    return;
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

impl PrefixedRules {
    fn build(rules: Vec<(RegexRule, Vec<Vec<u8>>)>) -> Result<Option<PrefixedRules>, String> {
        if rules.is_empty() {
            return Ok(None);
        }
        let mut literals = Vec::new();
        let mut literal_rule = Vec::new();
        let mut compiled = Vec::new();
        for (i, (rule, lits)) in rules.into_iter().enumerate() {
            for lit in lits {
                literals.push(lit);
                literal_rule.push(i);
            }
            let anchored = meta::Regex::builder()
                .configure(meta::Config::new().nfa_size_limit(Some(4 << 20)).hybrid_cache_capacity(2 << 20))
                .build(rule.regex.as_str())
                .map_err(|e| e.to_string())?;
            compiled.push((rule, anchored));
        }
        let literals = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(&literals)
            .map_err(|e| e.to_string())?;
        Ok(Some(PrefixedRules { literals, literal_rule, rules: compiled }))
    }

    fn detect(&self, original: &str, budget: Budget, lower: &mut Option<String>, out: &mut Vec<Finding>) {
        let mut candidates: Vec<(usize, usize)> =
            self.literals.find_overlapping_iter(original).map(|m| (self.literal_rule[m.pattern().as_usize()], m.start())).collect();
        if candidates.is_empty() {
            return;
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut caps = None;
        let mut i = 0;
        let mut meter = budget.meter(256);
        while i < candidates.len() {
            let rule_index = candidates[i].0;
            let (rule, anchored) = &self.rules[rule_index];
            let mut next_allowed = 0;
            while i < candidates.len() && candidates[i].0 == rule_index {
                let at = candidates[i].1;
                i += 1;
                if meter.tick() {
                    return;
                }
                if at < next_allowed {
                    continue;
                }
                let input = Input::new(original).span(at..original.len()).anchored(Anchored::Yes);
                let (whole, group) = if rule.group == 0 {
                    match anchored.search(&input) {
                        Some(m) => (Span::new(m.start(), m.end()), Span::new(m.start(), m.end())),
                        None => continue,
                    }
                } else {
                    let caps = caps.get_or_insert_with(|| anchored.create_captures());
                    if caps.group_len() <= rule.group {
                        *caps = anchored.create_captures();
                    }
                    anchored.search_captures(&input, caps);
                    match (caps.get_match(), caps.get_group(rule.group)) {
                        (Some(m), Some(g)) => (Span::new(m.start(), m.end()), Span::new(g.start, g.end)),
                        (Some(m), None) => {
                            next_allowed = m.end().max(at + 1);
                            continue;
                        }
                        _ => continue,
                    }
                };
                next_allowed = whole.end.max(at + 1);
                RegexDetector::confirm(rule, original, group, whole, lower, out);
            }
        }
    }
}

impl Detector for RegexDetector {
    /// Match the original, then the value view where one exists (a card split by zero-width
    /// spaces, a full-width e-mail, `4111.1111.1111.1111`); the view's findings map back to the
    /// original bytes, so reports and masks cover what was written.
    fn detect(&self, text: &ScanText<'_>, out: &mut Vec<Finding>) {
        self.detect_in(text.original, text.budget, out);
        let Some(values) = &text.values else { return };
        let before = out.len();
        self.detect_in(&values.view.text, text.budget, out);
        let mut kept = before;
        for i in before..out.len() {
            let mut f = out[i];
            f.span = values.view.map.to_original(f.span.start, f.span.end);
            f.via = Via::Normalized;
            if values.rewrites(f.span) && self.proven.binary_search(&f.rule).is_err() {
                continue;
            }
            out[kept] = f;
            kept += 1;
        }
        out.truncate(kept);
    }
}

impl RegexDetector {
    /// Every finding of every rule in `original`, in its coordinates.
    fn detect_in(&self, original: &str, budget: Budget, out: &mut Vec<Finding>) {
        let mut lower = None;
        if let Some(p) = &self.prefixed {
            p.detect(original, budget, &mut lower, out);
        }
        for rule in &self.alone {
            if budget.spent() {
                return;
            }
            Self::run_rule(rule, original, budget, &mut lower, out);
        }
        if let Some(set) = &self.set {
            for i in self.set_candidates(set, original) {
                if budget.spent() {
                    return;
                }
                Self::run_rule(&self.set_rules[i], original, budget, &mut lower, out);
            }
        }
    }
}

/// An ASCII byte that every match of `pattern` contains, if there is one (a literal outside
/// any optional part, e.g. the `@` of an e-mail pattern). Case-insensitive letters do not count.
pub fn required_byte(pattern: &str) -> Option<u8> {
    use regex_syntax::hir::{Class, Hir, HirKind};
    fn required(h: &Hir) -> Vec<u8> {
        match h.kind() {
            HirKind::Literal(l) => l.0.iter().copied().filter(u8::is_ascii).collect(),
            HirKind::Class(Class::Unicode(c)) if c.ranges().len() == 1 && c.ranges()[0].start() == c.ranges()[0].end() => {
                let ch = c.ranges()[0].start();
                if ch.is_ascii() {
                    vec![ch as u8]
                } else {
                    Vec::new()
                }
            }
            HirKind::Class(Class::Bytes(c)) if c.ranges().len() == 1 && c.ranges()[0].start() == c.ranges()[0].end() => {
                vec![c.ranges()[0].start()]
            }
            HirKind::Capture(c) => required(&c.sub),
            HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
            HirKind::Concat(subs) => subs.iter().flat_map(required).collect(),
            HirKind::Alternation(subs) => {
                let mut sets = subs.iter().map(required);
                let first = sets.next().unwrap_or_default();
                sets.fold(first, |acc, s| acc.into_iter().filter(|b| s.contains(b)).collect())
            }
            _ => Vec::new(),
        }
    }
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let bytes = required(&hir);
    // Prefer a punctuation byte (rarer in text than letters and digits).
    bytes.iter().copied().find(|b| b.is_ascii_punctuation()).or_else(|| bytes.first().copied())
}

/// The literals every match of `pattern` starts with, when there are at most 64 of them and
/// each has at least three bytes (short or many literals would make a poor prefilter).
pub fn prefix_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let mut extractor = Extractor::new();
    extractor.kind(ExtractKind::Prefix);
    let seq = extractor.extract(&hir);
    let lits = seq.literals()?;
    (!lits.is_empty() && lits.len() <= 64 && lits.iter().all(|l| l.as_bytes().len() >= 3))
        .then(|| lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// True when `pattern` repeats a broad class (`.`, `[^x]`, `\S`) without an upper bound: on a
/// long text such a rule can match megabytes and report the whole document as one finding.
pub fn has_unbounded_broad_repetition(pattern: &str) -> bool {
    use regex_syntax::hir::{Class, Hir, HirKind};
    fn broad(h: &Hir) -> bool {
        match h.kind() {
            HirKind::Class(Class::Unicode(c)) => c.iter().map(|r| r.len()).sum::<usize>() > 1000,
            HirKind::Class(Class::Bytes(c)) => c.iter().map(|r| r.len()).sum::<usize>() > 200,
            _ => false,
        }
    }
    fn walk(h: &Hir) -> bool {
        match h.kind() {
            HirKind::Repetition(r) => (r.max.is_none() && broad(&r.sub)) || walk(&r.sub),
            HirKind::Capture(c) => walk(&c.sub),
            HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().any(walk),
            _ => false,
        }
    }
    regex_syntax::Parser::new().parse(pattern).is_ok_and(|h| walk(&h))
}

/// True when every match of `pattern` contains some literal of at least three bytes (letters
/// matched case-insensitively count), which the regex engine uses as an inner prefilter.
pub fn has_required_literal(pattern: &str) -> bool {
    let Ok(hir) = regex_syntax::Parser::new().parse(pattern) else { return false };
    required(&hir)
}

fn required(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    // A class of one letter in both cases (from `(?i)`) is as good as a literal byte.
    let literal_len = |h: &regex_syntax::hir::Hir| match h.kind() {
        HirKind::Literal(l) => Some(l.0.len()),
        HirKind::Class(Class::Unicode(c)) if c.iter().map(|r| r.len()).sum::<usize>() <= 3 => Some(1),
        HirKind::Class(Class::Bytes(c)) if c.iter().map(|r| r.len()).sum::<usize>() <= 3 => Some(1),
        _ => None,
    };
    match hir.kind() {
        HirKind::Literal(l) => l.0.len() >= 3,
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) => r.min >= 1 && required(&r.sub),
        HirKind::Alternation(subs) => subs.iter().all(required),
        HirKind::Concat(subs) => {
            let mut run = 0;
            for sub in subs {
                match literal_len(sub) {
                    Some(n) => {
                        run += n;
                        if run >= 3 {
                            return true;
                        }
                    }
                    None => run = 0,
                }
                if required(sub) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_classification() {
        assert!(prefix_literals(r"ghp_[A-Za-z0-9]{36}").is_some());
        assert_eq!(prefix_literals(r"(?:AKIA|ASIA)[A-Z0-9]{16}").map(|l| l.len()), Some(2));
        assert!(prefix_literals(r"(?-u:\b)[0-9]{3}-[0-9]{2}-[0-9]{4}").is_none());
        assert!(has_required_literal(r"[a-z]+@example\.com"));
        assert!(has_required_literal(r"(?i)password\s*=\s*(\S+)"));
        assert!(!has_required_literal(r"[0-9]{4}[ -]?[0-9]{4}"));
        assert!(!has_required_literal(r"[a-z]+@[a-z]+"));
        assert!(has_unbounded_broad_repetition(r"password=(.+)"));
        assert!(has_unbounded_broad_repetition(r"key: ([^\n]*)"));
        assert!(!has_unbounded_broad_repetition(r"password=(\S{8,64})"));
        assert!(!has_unbounded_broad_repetition(r"[a-z]+@[a-z]+"));
        assert_eq!(required_byte(r"(?:^|[^a-z])([a-z0-9._%+-]{1,64}@[a-z0-9-]+\.[a-z]{2,})"), Some(b'@'));
        assert_eq!(required_byte(r"[0-9]{3}-[0-9]{4}"), Some(b'-'));
        assert_eq!(required_byte(r"[0-9]{3}(?:-|\.)[0-9]{4}"), None, "either byte may be absent");
        assert_eq!(required_byte(r"(?i)abc[0-9]+"), None, "case-insensitive letters do not count");
        assert_eq!(required_byte(r"(?:x@)?[0-9]+"), None, "an optional part is not required");
    }

    #[test]
    fn prefixed_rules_match_like_find_iter() {
        let rule = |id, pattern: &str, group| RegexRule {
            rule: id,
            score: 0.5,
            regex: Regex::new(pattern).unwrap(),
            group,
            validator: None,
            stopwords: vec![],
            context: None,
        };
        let d = RegexDetector::build(vec![rule(0, r"ghp_[a-z]{4}", 0), rule(1, r"(?i)key=(sk_[a-z]+)", 1)], 1 << 20).unwrap();
        let text = "ghp_abcd ghp_ab ghp_wxyzghp_qrst KEY=sk_live key=x";
        let mut out = Vec::new();
        d.detect(&ScanText::new(text), &mut out);
        let got: Vec<(u32, &str)> = out.iter().map(|f| (f.rule, f.span.slice(text))).collect();
        assert_eq!(got, vec![(0, "ghp_abcd"), (0, "ghp_wxyz"), (0, "ghp_qrst"), (1, "sk_live")]);
    }

    /// Issue 10: a value hidden by zero-width spaces is found in the value view, with the span of
    /// its original bytes; digit groups joined across `.` are reported only by a rule whose
    /// validator proves the value (Luhn), never by a shape-only rule.
    #[test]
    fn value_view_findings_map_back_and_separator_joins_need_a_proving_validator() {
        let rule = |id, pattern: &str, validator| RegexRule {
            rule: id,
            score: 0.5,
            regex: Regex::new(pattern).unwrap(),
            group: 0,
            validator,
            stopwords: vec![],
            context: None,
        };
        let d = RegexDetector::build(
            vec![rule(0, r"(?-u:\b)[0-9]{16}(?-u:\b)", Some(Validator::Luhn)), rule(1, r"(?-u:\b)[0-9]{16}(?-u:\b)", None)],
            1 << 20,
        )
        .unwrap();
        let found = |text: &str| {
            let mut out = Vec::new();
            d.detect(&ScanText::new(text), &mut out);
            out.iter().map(|f| (f.rule, f.span.slice(text).to_string(), f.via)).collect::<Vec<_>>()
        };
        let zw = "card 4111\u{200B}1111\u{200B}1111\u{200B}1111.";
        let split = "4111\u{200B}1111\u{200B}1111\u{200B}1111".to_string();
        assert_eq!(found(zw), vec![(0, split.clone(), Via::Normalized), (1, split, Via::Normalized)]);
        assert_eq!(found("card 4111.1111.1111.1111."), vec![(0, "4111.1111.1111.1111".to_string(), Via::Normalized)]);
        assert_eq!(
            found("card 4111111111111111"),
            vec![(0, "4111111111111111".to_string(), Via::Direct), (1, "4111111111111111".to_string(), Via::Direct)]
        );
    }

    /// On long texts the literal-free rules run without the set: what the set would find, and a
    /// rule's match at the very end of a long text, are all still found.
    #[test]
    fn long_texts_run_every_set_rule() {
        let rule = |id, pattern: &str| RegexRule {
            rule: id,
            score: 0.5,
            regex: Regex::new(pattern).unwrap(),
            group: 0,
            validator: None,
            stopwords: vec![],
            context: None,
        };
        let d = RegexDetector::build(vec![rule(0, r"(?-u:\b)[0-9]{3}-[0-9]{4}(?-u:\b)"), rule(1, r"[0-9]+x[0-9]+y")], 1 << 20).unwrap();
        for len in [SET_MAX_TEXT / 2, 2 * SET_MAX_TEXT] {
            for at in [8, len / 2, len - 16] {
                let mut text = "; ".repeat(len / 2);
                text.replace_range(at..at + 8, "555-0134");
                let mut out = Vec::new();
                d.detect(&ScanText::new(&text), &mut out);
                assert_eq!(out.iter().map(|f| (f.rule, f.span.slice(&text))).collect::<Vec<_>>(), vec![(0, "555-0134")], "{len} at {at}");
            }
        }
        let text = format!("{}x1y", "7".repeat(3 * SET_MAX_TEXT));
        let mut out = Vec::new();
        d.detect(&ScanText::new(&text), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].span.len(), text.len());
    }
}
