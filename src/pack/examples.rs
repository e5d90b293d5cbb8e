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

/// Run the pack-level `[[case]]`s (of packs loaded from `only_sources`, or all) through the
/// engine with the default policy and no classifier. Returns (cases run, failures).
pub fn check_cases(engine: &crate::Engine, only_sources: &[String]) -> (usize, Vec<ExampleFailure>) {
    let packs = engine.packs();
    let mut failures = Vec::new();
    let mut run = 0;
    for pc in packs.cases.iter().filter(|c| only_sources.is_empty() || only_sources.contains(&c.location.file)) {
        run += 1;
        let case = &pc.case;
        let direction = case.direction.as_deref().and_then(|d| d.parse().ok()).unwrap_or(crate::Direction::Input);
        let request = crate::ScanRequest { classify: false, ..crate::ScanRequest::new(&case.text, direction) };
        let mut problems = Vec::new();
        match engine.scan(&request) {
            Err(e) => problems.push(e.to_string()),
            Ok(report) => {
                let fired: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
                problems.extend(case.expect.iter().filter(|r| !fired.contains(&r.as_str())).map(|r| format!("expected {r} to fire")));
                problems.extend(case.absent.iter().filter(|r| fired.contains(&r.as_str())).map(|r| format!("{r} fired")));
                if let Some(d) = &case.decision {
                    if report.decision.as_str() != d {
                        problems.push(format!("decision {} (expected {d})", report.decision.as_str()));
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(ExampleFailure {
                rule: format!("case {:?}", case.name),
                location: format!("{}:{}", pc.location.file, pc.location.line),
                expected: "case",
                example: case.text.clone(),
                matched: problems,
            });
        }
    }
    (run, failures)
}
