//! Why a text scored what it did: every finding with the rule behind it (keywords or pattern,
//! validator, context effect), the classifier's per-window scores, and how each category's
//! noisy-OR met (or missed) the policy's thresholds.

use serde::Serialize;

use crate::engine::{Engine, ScanError, ScanRequest};
use crate::pack::RuleKind;
use crate::policy::{Category, Decision};
use crate::report::Report;

/// One finding, explained.
#[derive(Debug, Clone, Serialize)]
pub struct FindingWhy {
    pub rule: String,
    pub category: Category,
    pub start: usize,
    pub end: usize,
    /// The matched text (explain is a local, interactive tool; it shows what it found).
    pub text: String,
    /// `keywords`, `regex` or `evasion`, with the pattern or detector.
    pub matcher: String,
    pub validator: Option<String>,
    /// The rule's base score and the finding's score after context words.
    pub base_score: f32,
    pub score: f32,
    pub via: String,
    pub pack: String,
    pub location: String,
}

/// One category's score and its parts.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryWhy {
    pub category: Category,
    pub score: f32,
    pub threshold: Option<f32>,
    /// (rule, best score) counted once each in the noisy-OR.
    pub rules: Vec<(String, f32)>,
    /// The classifier's calibrated contribution.
    pub classifier: Option<f32>,
    pub blocks: bool,
}

/// A classifier window's scores.
#[derive(Debug, Clone, Serialize)]
pub struct WindowWhy {
    pub start: usize,
    pub end: usize,
    pub scores: Vec<(String, f32)>,
}

/// The whole explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub report: Report,
    pub findings: Vec<FindingWhy>,
    pub categories: Vec<CategoryWhy>,
    pub windows: Vec<WindowWhy>,
    pub min_score: f32,
    pub decision_reason: String,
}

/// Scan `req` and explain the result.
pub fn explain(engine: &Engine, req: &ScanRequest<'_>) -> Result<Explanation, ScanError> {
    let report = engine.scan(&ScanRequest { return_masked: true, ..*req })?;
    let packs = engine.packs();
    let policy = engine.policy(req.policy.unwrap_or("default")).ok_or_else(|| ScanError::UnknownPolicy(req.policy.unwrap_or("").into()))?;
    let direction = policy.direction(req.direction);
    let findings: Vec<FindingWhy> = report
        .findings
        .iter()
        .filter_map(|f| {
            let (_, rule) = packs.rule_by_id(&f.rule)?;
            let (matcher, validator) = match &rule.kind {
                RuleKind::Regex { pattern, validator } => {
                    (format!("regex {pattern}"), validator.as_ref().map(|v| format!("{} (passed)", v.name())))
                }
                RuleKind::Keywords { keywords, .. } => {
                    let hit = crate::text::normalize(&req.text[f.start..f.end]).text;
                    let kw = keywords.iter().find(|k| hit.contains(k.as_str())).cloned().unwrap_or(hit);
                    (format!("keyword {kw:?} (of {})", keywords.len()), None)
                }
                RuleKind::Evasion(kind) => (format!("evasion detector {kind:?}"), None),
            };
            Some(FindingWhy {
                rule: f.rule.clone(),
                category: f.category,
                start: f.start,
                end: f.end,
                text: req.text[f.start..f.end].to_string(),
                matcher,
                validator,
                base_score: rule.score,
                score: f.score,
                via: format!("{:?}", f.via).to_lowercase(),
                pack: rule.pack.clone(),
                location: format!("{}:{}", rule.location.file, rule.location.line),
            })
        })
        .collect();

    let classifier_scores = match (engine.classifier(), req.classify) {
        (Some(c), true) => Some(c.classify(req.text)?),
        _ => None,
    };
    let windows = match (engine.classifier(), req.classify) {
        (Some(c), true) => c
            .window_scores(req.text)?
            .0
            .into_iter()
            .map(|(span, probs)| WindowWhy {
                start: span.start,
                end: span.end,
                scores: c.config().labels.iter().cloned().zip(probs).collect(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let categories = Category::ALL
        .iter()
        .map(|&category| {
            let mut rules: Vec<(String, f32)> = Vec::new();
            for f in findings.iter().filter(|f| f.category == category) {
                match rules.iter_mut().find(|(r, _)| *r == f.rule) {
                    Some(entry) => entry.1 = entry.1.max(f.score),
                    None => rules.push((f.rule.clone(), f.score)),
                }
            }
            let classifier = classifier_scores.as_ref().and_then(|o| o.categories.iter().find(|(c, _)| *c == category).map(|(_, s)| *s));
            let score = category_score(&report, category);
            let threshold = direction.block.get(&category).copied();
            CategoryWhy { category, score, threshold, rules, classifier, blocks: threshold.is_some_and(|t| score >= t) }
        })
        .collect();
    let decision_reason = match report.decision {
        Decision::Block => format!("block: {}", report.blocked_by.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")),
        Decision::Mask => format!("mask: a finding with action mask scored at least {}", direction.min_score),
        Decision::Allow if report.would_block => "allow (shadow mode: would block)".to_string(),
        Decision::Allow => "allow: no category reached its block threshold and nothing needs masking".to_string(),
    };
    Ok(Explanation { report, findings, categories, windows, min_score: direction.min_score, decision_reason })
}

fn category_score(report: &Report, c: Category) -> f32 {
    let s = &report.categories;
    match c {
        Category::Pii => s.pii,
        Category::Secret => s.secret,
        Category::Injection => s.injection,
        Category::Jailbreak => s.jailbreak,
        Category::Evasion => s.evasion,
    }
}
