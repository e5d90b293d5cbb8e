//! Syntax → validated rules → detectors. Every problem is collected; the packs are refused only
//! after all of them were found, so one run of `rules check` shows everything to fix.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::diagnostic::{Diagnostic, Severity, Source};
use super::syntax::{PackFile, RuleSyntax};
use super::{Action, Allow, AllowMatcher, CompiledPacks, Location, MaskOp, PackCase, PackError, PackInfo, PackSource, Rule, RuleKind};
use crate::detect::{
    Context, Detectors, EvasionDetector, EvasionKind, KeywordDetector, KeywordRule, RegexDetector, RegexRule, RuleId, Validator,
};
use crate::policy::{Category, Direction};
use crate::text::decode::DecodeLimits;
use crate::text::normalize_keyword;

/// Size limits for user-written regexes: packs are user input.
const REGEX_SIZE_LIMIT: usize = 4 << 20;
const REGEX_DFA_LIMIT: usize = 8 << 20;
const REGEX_SET_DFA_LIMIT: usize = 64 << 20;
/// Longest keyword, in bytes after normalization (the shipped packs' longest is 53). A 16 KB
/// periodic keyword took 32 s to compile into the automaton.
pub const MAX_KEYWORD_BYTES: usize = 256;
/// All keywords of all packs together, in bytes after normalization (the shipped packs hold
/// ~45 KB). 100k keywords took 22 s and 1.9 GB to compile.
pub const MAX_KEYWORD_TOTAL_BYTES: usize = 256 << 10;

/// The parts of a regex rule that only the detector needs.
struct RegexParts {
    regex: Regex,
    group: usize,
    stopwords: Vec<String>,
}

struct Compiled {
    rule: Rule,
    regex: Option<RegexParts>,
    context: Option<Context>,
}

struct Override {
    rule: String,
    enabled: Option<bool>,
    score: Option<f64>,
    action: Option<Action>,
    at: Diagnostic,
}

/// Compile pack sources into detectors, or return every problem found.
pub fn compile(sources: &[PackSource]) -> Result<CompiledPacks, PackError> {
    let mut diags = Vec::new();
    let mut compiled: Vec<Compiled> = Vec::new();
    let mut overrides = Vec::new();
    let mut cases: Vec<PackCase> = Vec::new();
    let mut allows: Vec<(Option<(String, Diagnostic)>, AllowMatcher)> = Vec::new();
    let mut packs: Vec<PackInfo> = Vec::new();
    let mut hasher = Sha256::new();
    let mut keyword_bytes = 0usize;

    for src in sources {
        hasher.update(src.name.as_bytes());
        hasher.update([0]);
        hasher.update(src.text.as_bytes());
        hasher.update([0]);
        let source = Source::new(&src.name, &src.text);
        let file: PackFile = match toml::from_str(&src.text) {
            Ok(f) => f,
            Err(e) => {
                let offset = e.span().map_or(0, |r| r.start);
                let rule = source.enclosing_rule_id(offset);
                diags.push(source.diagnostic(Severity::Error, offset, rule.as_deref(), e.message().trim().to_string()));
                continue;
            }
        };
        let pack_id = file.pack.id.get_ref().clone();
        if packs.iter().any(|p| p.id == pack_id) {
            diags.push(source.diagnostic(
                Severity::Error,
                file.pack.id.span().start,
                None,
                format!("pack id {pack_id:?} is already loaded; pack ids must be unique"),
            ));
        }
        let before = compiled.len();
        for rule in file.rule {
            if let Some(c) = compile_rule(&source, &pack_id, rule, &mut keyword_bytes, &mut diags) {
                compiled.push(c);
            }
        }
        for o in file.overrides {
            let span = o.span();
            let o = o.into_inner();
            let action = o.action.as_ref().and_then(|a| {
                let parsed = Action::parse(a.get_ref());
                if parsed.is_none() {
                    diags.push(source.diagnostic(Severity::Error, a.span().start, Some(o.rule.get_ref()), bad_action(a.get_ref())));
                }
                parsed
            });
            if let Some(s) = o.score.filter(|s| !(0.0..=1.0).contains(s)) {
                diags.push(source.diagnostic(
                    Severity::Error,
                    span.start,
                    Some(o.rule.get_ref()),
                    format!("override score {s} is outside [0, 1]"),
                ));
            }
            overrides.push(Override {
                at: source.diagnostic(Severity::Error, o.rule.span().start, Some(o.rule.get_ref()), String::new()),
                rule: o.rule.into_inner(),
                enabled: o.enabled,
                score: o.score,
                action,
            });
        }
        for c in file.case {
            let at = c.span().start;
            let (line, _) = source.line_col(at);
            let case = c.into_inner();
            if let Some(d) = case.direction.as_deref().filter(|d| d.parse::<crate::policy::Direction>().is_err()) {
                diags.push(source.diagnostic(Severity::Error, at, None, format!("case {:?}: unknown direction {d:?}", case.name)));
            }
            if let Some(d) = case.decision.as_deref().filter(|d| !matches!(*d, "allow" | "mask" | "block")) {
                diags.push(source.diagnostic(Severity::Error, at, None, format!("case {:?}: unknown decision {d:?}", case.name)));
            }
            cases.push(PackCase { case, location: Location { file: src.name.clone(), line } });
        }
        for a in file.allow {
            let a = a.into_inner();
            let rule = a
                .rule
                .as_ref()
                .map(|r| (r.get_ref().clone(), source.diagnostic(Severity::Error, r.span().start, Some(r.get_ref()), String::new())));
            let matcher = match (a.exact, a.regex) {
                (Some(exact), None) => Some(AllowMatcher::Exact(exact)),
                (None, Some(re)) => match RegexBuilder::new(&format!("^(?:{})$", re.get_ref())).size_limit(REGEX_SIZE_LIMIT).build() {
                    Ok(r) => Some(AllowMatcher::Regex(r)),
                    Err(e) => {
                        diags.push(source.diagnostic(Severity::Error, re.span().start, None, format!("invalid allow regex: {e}")));
                        None
                    }
                },
                _ => {
                    let at =
                        rule.as_ref().map_or(0, |(_, d)| source.text.lines().take(d.line.saturating_sub(1)).map(|l| l.len() + 1).sum());
                    diags.push(source.diagnostic(
                        Severity::Error,
                        at,
                        None,
                        "an [[allow]] entry needs exactly one of `exact` or `regex`".into(),
                    ));
                    None
                }
            };
            if let Some(m) = matcher {
                allows.push((rule, m));
            }
        }
        packs.push(PackInfo {
            id: pack_id,
            version: file.pack.version,
            description: file.pack.description,
            source: src.name.clone(),
            rules: compiled.len() - before,
        });
    }

    // Ids are unique across every loaded pack.
    let mut seen: HashMap<&str, &Location> = HashMap::new();
    for c in &compiled {
        if let Some(first) = seen.insert(&c.rule.id, &c.rule.location) {
            diags.push(Diagnostic {
                severity: Severity::Error,
                file: c.rule.location.file.clone(),
                line: c.rule.location.line,
                column: 1,
                rule: Some(c.rule.id.clone()),
                message: format!("duplicate rule id; first defined at {}:{}", first.file, first.line),
            });
        }
    }

    for o in overrides {
        let Some(c) = compiled.iter_mut().find(|c| c.rule.id == o.rule) else {
            diags.push(Diagnostic { message: format!("override names unknown rule {:?}", o.rule), ..o.at });
            continue;
        };
        if let Some(enabled) = o.enabled {
            c.rule.enabled = enabled;
        }
        if let Some(score) = o.score {
            c.rule.score = score as f32;
        }
        if let Some(action) = o.action {
            c.rule.action = action;
        }
    }

    let mut allow = Vec::new();
    for (rule, matcher) in allows {
        let rule = match rule {
            None => None,
            Some((id, at)) => match compiled.iter().position(|c| c.rule.id == id) {
                Some(i) => Some(i as RuleId),
                None => {
                    diags.push(Diagnostic { message: format!("allow entry names unknown rule {id:?}"), ..at });
                    continue;
                }
            },
        };
        allow.push(Allow { rule, matcher });
    }

    lint_keyword_overlaps(&compiled, &mut diags);

    if diags.iter().any(|d| d.severity == Severity::Error) {
        diags.sort_by_key(|d| d.severity != Severity::Error);
        return Err(PackError::Invalid(diags));
    }
    let mut compiled_packs = build(compiled, allow, packs, hex::encode(hasher.finalize()), diags)?;
    compiled_packs.cases = cases;
    Ok(compiled_packs)
}

fn build(
    compiled: Vec<Compiled>,
    allow: Vec<Allow>,
    packs: Vec<PackInfo>,
    fingerprint: String,
    warnings: Vec<Diagnostic>,
) -> Result<CompiledPacks, PackError> {
    let mut keyword_rules = Vec::new();
    let mut regex_rules = Vec::new();
    let mut evasion_rules = Vec::new();
    let mut rules = Vec::with_capacity(compiled.len());
    for (i, c) in compiled.into_iter().enumerate() {
        let id = i as RuleId;
        let rule = c.rule;
        if rule.enabled {
            match (&rule.kind, c.regex) {
                (RuleKind::Regex { validator, .. }, Some(parts)) => regex_rules.push(RegexRule {
                    rule: id,
                    score: rule.score,
                    regex: parts.regex,
                    group: parts.group,
                    validator: validator.clone(),
                    stopwords: parts.stopwords,
                    context: c.context,
                }),
                (RuleKind::Keywords { keywords, whole_words, leet }, _) => keyword_rules.push(KeywordRule {
                    rule: id,
                    score: rule.score,
                    keywords: keywords.clone(),
                    whole_words: *whole_words,
                    leet: *leet,
                    context: c.context,
                }),
                (RuleKind::Evasion(kind), _) => evasion_rules.push((*kind, id, rule.score)),
                (RuleKind::Regex { .. }, None) => {}
            }
        }
        rules.push(rule);
    }
    let whole_set_error = |e: String| {
        PackError::Invalid(vec![Diagnostic {
            severity: Severity::Error,
            file: "<all packs>".into(),
            line: 1,
            column: 1,
            rule: None,
            message: e,
        }])
    };
    let keywords = KeywordDetector::build(&keyword_rules).map_err(|e| whole_set_error(format!("keyword automaton: {e}")))?;
    let regex = RegexDetector::build(regex_rules, REGEX_SET_DFA_LIMIT).map_err(|e| whole_set_error(format!("regex rules: {e}")))?;
    Ok(CompiledPacks {
        rules,
        cases: Vec::new(),
        allow,
        detectors: Detectors { keywords, regex, evasion: EvasionDetector::new(evasion_rules), decode_limits: DecodeLimits::default() },
        packs,
        fingerprint,
        warnings,
    })
}

fn bad_action(a: &str) -> String {
    format!("unknown action {a:?} (expected report, mask or block)")
}

fn compile_rule(
    source: &Source<'_>,
    pack: &str,
    spanned: Spanned<RuleSyntax>,
    keyword_bytes: &mut usize,
    diags: &mut Vec<Diagnostic>,
) -> Option<Compiled> {
    let r = spanned.into_inner();
    let rule_start = r.id.span().start;
    let id = r.id.get_ref().clone();
    let before = diags.len();
    let mut err = |offset: usize, msg: String| diags.push(source.diagnostic(Severity::Error, offset, Some(&id), msg));

    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        err(r.id.span().start, "rule id must be non-empty and use only ASCII letters, digits, '.', '_' and '-'".into());
    }
    let category = r.category.get_ref().parse::<Category>().map_err(|e| err(r.category.span().start, e)).ok();
    let score = *r.score.get_ref();
    if !(0.0..=1.0).contains(&score) {
        err(r.score.span().start, format!("score {score} is outside [0, 1]"));
    }
    let action = match &r.action {
        None => Some(Action::Report),
        Some(a) => Action::parse(a.get_ref()).or_else(|| {
            err(a.span().start, bad_action(a.get_ref()));
            None
        }),
    };
    let mask = match r.mask.as_ref().map(|m| (m.get_ref().as_str(), m.span().start)) {
        None | Some(("label", _)) => Some(MaskOp::Label),
        Some(("partial", _)) => Some(MaskOp::Partial { keep: r.keep.unwrap_or(4) }),
        Some(("hash", _)) => Some(MaskOp::Hash),
        Some(("token", _)) => Some(MaskOp::Token),
        Some((other, at)) => {
            err(at, format!("unknown mask operator {other:?} (expected label, partial, hash or token)"));
            None
        }
    };
    let mut directions = [true; 3];
    if let Some(ds) = &r.directions {
        directions = [false; 3];
        for d in ds.get_ref() {
            match d.parse::<Direction>() {
                Ok(d) => directions[d.index()] = true,
                Err(e) => err(ds.span().start, e),
            }
        }
    }
    if r.label.trim().is_empty() {
        err(rule_start, "label must not be empty".into());
    }

    // Keyword rules see the normalized (lower-case, folded) text, so their context words are
    // normalized the same way; regex rules see the lower-cased original.
    let keyword_rule = r.kind.get_ref() == "keywords";
    let fold = |w: &String| if keyword_rule { crate::text::normalize(w).text } else { w.to_lowercase() };
    let context = r.context.as_ref().map(|c| {
        let c = c.get_ref();
        Context {
            words: c.words.iter().map(fold).filter(|w| !w.is_empty()).collect(),
            score: c.score.map_or((score + 0.35).min(1.0), |s| s.clamp(0.0, 1.0)) as f32,
            negative: c.negative.iter().map(fold).filter(|w| !w.is_empty()).collect(),
            negative_score: c.negative_score.map_or(score * 0.3, |s| s.clamp(0.0, 1.0)) as f32,
            window: c.window.unwrap_or(48),
        }
    });
    let validator = r.validator.as_ref().and_then(|v| Validator::from_toml(v.get_ref()).map_err(|e| err(v.span().start, e)).ok());
    let kind_name = r.kind.get_ref().as_str();
    let mut regex_parts = None;
    let mut unbounded_at = None;
    let mut stream_unbounded_at = None;
    let kind = match kind_name {
        "regex" => {
            if r.keywords.is_some() || r.detector.is_some() {
                err(r.kind.span().start, "a regex rule takes `pattern`, not `keywords` or `detector`".into());
            }
            match &r.pattern {
                None => {
                    err(r.kind.span().start, "a regex rule needs `pattern`".into());
                    None
                }
                Some(p) => match RegexBuilder::new(p.get_ref()).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_DFA_LIMIT).build() {
                    Err(e) => {
                        err(p.span().start, format!("invalid regex: {e}"));
                        None
                    }
                    Ok(regex) => {
                        let group = r.group.unwrap_or(0);
                        if group >= regex.captures_len() {
                            err(
                                p.span().start,
                                format!("group {group} does not exist; the pattern has {} group(s)", regex.captures_len() - 1),
                            );
                        }
                        if regex.is_match("") {
                            err(p.span().start, "pattern matches the empty string".into());
                        }
                        if crate::detect::regex::has_unbounded_broad_repetition(p.get_ref()) {
                            unbounded_at = Some(p.span().start);
                        }
                        if crate::stream::max_match_len(p.get_ref()).is_none() {
                            stream_unbounded_at = Some(p.span().start);
                        }
                        let stopwords = r.stopwords.iter().map(|w| w.to_lowercase()).collect();
                        regex_parts = Some(RegexParts { regex, group, stopwords });
                        Some(RuleKind::Regex { pattern: p.get_ref().clone(), validator: validator.clone() })
                    }
                },
            }
        }
        "keywords" => match &r.keywords {
            None => {
                err(r.kind.span().start, "a keywords rule needs `keywords`".into());
                None
            }
            Some(kws) => {
                let normalized: Vec<String> = kws.get_ref().iter().map(|k| normalize_keyword(k)).collect();
                if normalized.is_empty() || normalized.iter().any(String::is_empty) {
                    err(kws.span().start, "keywords must be a non-empty list of non-empty strings".into());
                }
                // Point at the keyword itself: the first occurrence of its text in the list.
                let list = kws.span();
                let at = |raw: &str| source.text.get(list.clone()).and_then(|t| t.find(raw)).map_or(list.start, |i| list.start + i);
                for (raw, kw) in kws.get_ref().iter().zip(&normalized) {
                    if kw.len() > MAX_KEYWORD_BYTES {
                        err(
                            at(raw),
                            format!(
                                "keyword of {} bytes is longer than the limit of {MAX_KEYWORD_BYTES}; use a regex rule for long patterns",
                                kw.len()
                            ),
                        );
                    }
                }
                let before = *keyword_bytes;
                *keyword_bytes += normalized.iter().map(String::len).sum::<usize>();
                if before <= MAX_KEYWORD_TOTAL_BYTES && *keyword_bytes > MAX_KEYWORD_TOTAL_BYTES {
                    err(
                        list.start,
                        format!(
                            "the keywords of all loaded packs pass {MAX_KEYWORD_TOTAL_BYTES} bytes with this rule ({} bytes so far); trim or split the lists",
                            *keyword_bytes
                        ),
                    );
                }
                Some(RuleKind::Keywords { keywords: normalized, whole_words: r.whole_words.unwrap_or(true), leet: r.leet.unwrap_or(false) })
            }
        },
        "evasion" => match r.detector.as_ref() {
            Some(d) => EvasionKind::parse(d.get_ref()).map(RuleKind::Evasion).or_else(|| {
                err(
                    d.span().start,
                    format!("unknown detector {:?} (expected invisible, tag_chars, bidi, mixed_script or encoded)", d.get_ref()),
                );
                None
            }),
            None => {
                err(r.kind.span().start, "an evasion rule needs `detector`".into());
                None
            }
        },
        other => {
            err(r.kind.span().start, format!("unknown kind {other:?} (expected regex, keywords or evasion)"));
            None
        }
    };
    if kind_name != "regex" && (r.pattern.is_some() || validator.is_some()) {
        err(r.kind.span().start, "`pattern` and `validator` belong to regex rules".into());
    }
    if let Some(at) = unbounded_at {
        let message = "pattern repeats a broad class without an upper bound (like .* or \\S+); bound it, e.g. {0,200}".to_string();
        diags.push(source.diagnostic(Severity::Warning, at, Some(&id), message));
    }
    if let Some(at) = stream_unbounded_at {
        let message = "pattern has no longest match (an open repetition such as +, * or {n,}), so this rule cannot run in streaming \
                       mode (scan --stream, streamed proxy replies); give every repetition an upper bound"
            .to_string();
        diags.push(source.diagnostic(Severity::Warning, at, Some(&id), message));
    }
    let examples = r.examples.unwrap_or_default();
    if examples.matches.is_empty() && examples.no_match.is_empty() {
        diags.push(source.diagnostic(
            Severity::Warning,
            rule_start,
            Some(&id),
            "rule has no examples; add [rule.examples] match/no_match".into(),
        ));
    }
    if diags[before..].iter().any(|d| d.severity == Severity::Error) {
        return None;
    }
    let (line, _) = source.line_col(r.id.span().start);
    Some(Compiled {
        rule: Rule {
            id,
            pack: pack.to_string(),
            category: category?,
            label: r.label,
            kind: kind?,
            score: score as f32,
            action: action?,
            mask: mask?,
            directions,
            enabled: true,
            examples,
            location: Location { file: source.name.to_string(), line },
            description: r.description,
            context_window: context.as_ref().map_or(0, |c| c.window),
        },
        regex: regex_parts,
        context,
    })
}

/// Warn when the same normalized keyword belongs to two rules: it is counted twice.
fn lint_keyword_overlaps(compiled: &[Compiled], diags: &mut Vec<Diagnostic>) {
    let mut owner: HashMap<&str, &Rule> = HashMap::new();
    for c in compiled {
        if let RuleKind::Keywords { keywords, .. } = &c.rule.kind {
            for k in keywords {
                match owner.get(k.as_str()) {
                    Some(first) if first.id != c.rule.id => diags.push(Diagnostic {
                        severity: Severity::Warning,
                        file: c.rule.location.file.clone(),
                        line: c.rule.location.line,
                        column: 1,
                        rule: Some(c.rule.id.clone()),
                        message: format!("keyword {k:?} is also in rule {}", first.id),
                    }),
                    _ => {
                        owner.insert(k, &c.rule);
                    }
                }
            }
        }
    }
}
