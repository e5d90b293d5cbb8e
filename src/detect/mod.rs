//! Detectors: each reads a [`ScanText`] and pushes findings, in original coordinates, into a
//! caller-owned vector.

pub mod context;
pub mod evasion;
pub mod k8s_secret;
pub mod keywords;
pub mod regex;
pub mod validators;

use serde::Serialize;

use crate::budget::Budget;
use crate::span::Span;
use crate::text::decode::{find_payloads, DecodeLimits};
use crate::text::ScanText;

pub use context::Context;
pub use evasion::{EvasionDetector, EvasionKind};
pub use keywords::{KeywordDetector, KeywordRule};
pub use regex::{RegexDetector, RegexRule};
pub use validators::Validator;

/// Index of a rule in the compiled rule table.
pub type RuleId = u32;

/// How a finding was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Matched on the original text.
    Direct,
    /// Matched on the normalized view.
    Normalized,
    /// Matched inside a decoded payload; the span is the encoded payload.
    Decoded,
}

/// One rule firing on one span of the original text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finding {
    /// The rule.
    pub rule: RuleId,
    /// Where, in the original text.
    pub span: Span,
    /// Score in (0, 1] after validators and context words.
    pub score: f32,
    /// How it was reached.
    pub via: Via,
}

/// Something that finds rule matches in a text.
pub trait Detector: Send + Sync {
    /// Push every finding in `text` onto `out`.
    fn detect(&self, text: &ScanText<'_>, out: &mut Vec<Finding>);
}

/// All detectors of a compiled pack set, plus payload decoding.
pub struct Detectors {
    pub keywords: KeywordDetector,
    pub regex: RegexDetector,
    pub evasion: EvasionDetector,
    pub decode_limits: DecodeLimits,
}

/// Nested payloads (base64 of hex of ...) are followed this deep.
const MAX_DECODE_DEPTH: usize = 2;

impl Detectors {
    /// Run every detector over `text`, then over the payloads decoded from it: prose payloads
    /// through every rule, bare values (a base64 token, a hex card number) through the regex
    /// (PII and secret) rules.
    ///
    /// Stops early when `text.budget` is spent: the caller must check the budget afterwards and
    /// discard the findings of a scan that ran out of time.
    pub fn run(&self, text: &ScanText<'_>, out: &mut Vec<Finding>) {
        // One trace span per stage (src/telemetry.rs): its name and how many findings it added.
        let stages: [(&str, &dyn Detector); 3] = [("regex", &self.regex), ("keywords", &self.keywords), ("evasion", &self.evasion)];
        for (name, stage) in stages {
            if text.budget.spent() {
                return;
            }
            let before = out.len();
            let span = tracing::debug_span!("detect", otel.name = name, findings = tracing::field::Empty);
            let _in_stage = span.enter();
            stage.detect(text, out);
            span.record("findings", (out.len() - before) as i64);
        }
        let before = out.len();
        let span = tracing::debug_span!("decode", findings = tracing::field::Empty);
        let _in_stage = span.enter();
        self.run_payloads(text.original, text.budget, self.evasion.encoded_rule(), 0, out);
        span.record("findings", (out.len() - before) as i64);
    }

    fn run_payloads(&self, original: &str, budget: Budget, encoded_rule: Option<(RuleId, f32)>, depth: usize, out: &mut Vec<Finding>) {
        if depth >= MAX_DECODE_DEPTH || budget.spent() {
            return;
        }
        for payload in find_payloads(original, &self.decode_limits) {
            if budget.spent() {
                return;
            }
            let inner_text = ScanText::with_budget(&payload.decoded, budget);
            let mut inner = Vec::new();
            self.regex.detect(&inner_text, &mut inner);
            if payload.prose {
                self.keywords.detect(&inner_text, &mut inner);
            }
            self.run_payloads(&payload.decoded, budget, encoded_rule, depth + 1, &mut inner);
            if inner.is_empty() {
                continue;
            }
            // Every inner finding points at the whole payload: one per rule (its best) is enough.
            inner.sort_by(|a, b| a.rule.cmp(&b.rule).then(b.score.total_cmp(&a.score)));
            inner.dedup_by_key(|f| f.rule);
            // An encoded instruction is evasion; an encoded value is reported as the value.
            if let Some((rule, score)) = encoded_rule.filter(|_| payload.prose) {
                out.push(Finding { rule, span: payload.span, score, via: Via::Decoded });
            }
            out.extend(inner.into_iter().map(|f| Finding { span: payload.span, via: Via::Decoded, ..f }));
        }
    }
}
