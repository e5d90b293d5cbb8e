//! Every rule's embedded examples, checked. `picket rules test` and `cargo test` share this.

use crate::detect::RuleId;
use crate::pack::CompiledPacks;
use crate::text::ScanText;

/// One example that did not behave.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExampleFailure {
    pub rule: String,
    pub location: String,
    /// `match` or `no_match`.
    pub expected: &'static str,
    pub example: String,
    /// What the rule matched (for a failing `no_match`).
    pub matched: Vec<String>,
}

/// Totals of an examples run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ExampleSummary {
    pub rules: usize,
    pub examples: usize,
    pub failures: Vec<ExampleFailure>,
}

/// Check every enabled rule's examples (optionally only rules of the named packs).
pub fn check(packs: &CompiledPacks, only_packs: &[String]) -> ExampleSummary {
    let mut summary = ExampleSummary::default();
    for (i, rule) in packs.rules.iter().enumerate() {
        if !rule.enabled || (!only_packs.is_empty() && !only_packs.contains(&rule.pack)) {
            continue;
        }
        summary.rules += 1;
        let id = i as RuleId;
        let cases = rule.examples.matches.iter().map(|e| ("match", e)).chain(rule.examples.no_match.iter().map(|e| ("no_match", e)));
        for (expected, example) in cases {
            summary.examples += 1;
            let text = ScanText::new(example);
            let mut findings = Vec::new();
            packs.detectors.run(&text, &mut findings);
            let matched: Vec<String> = findings.iter().filter(|f| f.rule == id).map(|f| f.span.slice(example).to_string()).collect();
            let ok = if expected == "match" { !matched.is_empty() } else { matched.is_empty() };
            if !ok {
                summary.failures.push(ExampleFailure {
                    rule: rule.id.clone(),
                    location: format!("{}:{}", rule.location.file, rule.location.line),
                    expected,
                    example: example.clone(),
                    matched,
                });
            }
        }
    }
    summary
}
