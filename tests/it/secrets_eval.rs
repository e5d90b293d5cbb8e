//! Secret detection measured three ways (issue 13):
//! * the per-provider set `tests/data/secrets_eval/providers.jsonl` (written by
//!   scripts/gen_secret_providers.py from templates and values the pack examples do not use):
//!   every provider found by its own rule, recall and precision >= 0.98, no leak, no decoy masked;
//! * benign config files (`tests/data/benign_configs/`, not used to tune any rule): the
//!   false-positive budget of the generic and provider rules;
//! * gitleaks' and noseyparker's own rule examples (`../shared/data/pii/secret_rule_examples.jsonl`),
//!   cases no one here wrote: a floor, printed so a regression is visible.

use std::collections::BTreeMap;
use std::path::PathBuf;

use picket::eval::{eval_spans, read_records, Record};
use picket::{Category, Direction, Engine, EngineConfig, ScanRequest};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn per_provider_recall_precision_no_leaks_no_decoys() {
    let records = read_records(&root().join("tests/data/secrets_eval/providers.jsonl")).unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let report = eval_spans(&engine, &records, Direction::Input);
    let providers = report.per_type.len();
    assert!(providers >= 150, "only {providers} providers in the set");
    let weak: Vec<_> = report.per_type.iter().filter(|(_, c)| c.recall() < 0.98).collect();
    assert!(weak.is_empty(), "providers under 0.98 recall: {weak:?}");
    assert!(report.overall.recall() >= 0.98, "recall {:.3}", report.overall.recall());
    assert!(
        report.overall.precision() >= 0.98,
        "precision {:.3}: {:#?}",
        report.overall.precision(),
        report.misses.iter().filter(|m| m.kind == "false_positive").take(20).collect::<Vec<_>>()
    );
    assert_eq!(report.leaks, 0, "{:#?}", report.misses.iter().filter(|m| m.kind == "leak").collect::<Vec<_>>());
    assert!(report.decoys >= 150);
    assert_eq!(report.decoys_hit, 0, "{:#?}", report.misses.iter().filter(|m| m.kind == "decoy_hit").collect::<Vec<_>>());

    // Stricter than overlap: the provider's own rule fires on each of its records.
    let mut missed = Vec::new();
    for r in records.iter().filter(|r| r.entities.as_ref().is_some_and(|e| !e.is_empty())) {
        let want = r.fields["rule"].as_str().unwrap();
        let report = engine.scan(&ScanRequest { classify: false, ..ScanRequest::new(&r.text, Direction::Input) }).unwrap();
        if !report.findings.iter().any(|f| f.rule == want) {
            missed.push((want.to_string(), r.text.clone()));
        }
    }
    assert!(missed.is_empty(), "{} records not found by their own rule: {:#?}", missed.len(), &missed[..missed.len().min(10)]);
}

/// Secrets no provider rule knows, in the formats they are written in (JSON, YAML, TOML, .env,
/// CLI flags, connection strings, URLs, Azure CLI / .NET, Kubernetes Secrets, high-entropy
/// assignments): found by the generic, connection-string and Kubernetes rules.
#[test]
fn key_value_formats_recall_precision_no_leaks() {
    let records = read_records(&root().join("tests/data/secrets_eval/formats.jsonl")).unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let report = eval_spans(&engine, &records, Direction::Input);
    let weak: Vec<_> = report.per_type.iter().filter(|(_, c)| c.recall() < 0.98).collect();
    assert!(weak.is_empty(), "formats under 0.98 recall: {weak:?}\n{:#?}", report.misses);
    assert!(report.overall.precision() >= 0.98, "precision {:.3}: {:#?}", report.overall.precision(), report.misses);
    assert_eq!(report.leaks, 0, "{:#?}", report.misses);
    assert_eq!(report.decoys_hit, 0, "{:#?}", report.misses);
}

/// Breadth must cost little: every provider rule is found through a literal (a prefix for the
/// shared Aho-Corasick pass, or a required inner literal for the regex engine's prefilter),
/// except the few listed token shapes that have none.
#[test]
fn provider_rules_are_literal_gated() {
    use picket::detect::regex::{has_required_literal, prefix_literals};
    use picket::pack::RuleKind;
    const LITERAL_FREE: [&str; 2] = ["secret.discord.bot_token", "secret.asana.pat"];
    let packs = picket::pack::load(&[]).unwrap();
    let providers: Vec<_> = packs.rules.iter().filter(|r| r.pack == "secrets-providers").collect();
    assert!(providers.len() >= 150, "{} provider rules", providers.len());
    let mut ungated = Vec::new();
    for r in providers {
        let RuleKind::Regex { pattern, .. } = &r.kind else { panic!("{} is not a regex rule", r.id) };
        let gated = prefix_literals(pattern).is_some() || has_required_literal(pattern);
        if !gated && !LITERAL_FREE.contains(&r.id.as_str()) {
            ungated.push(r.id.clone());
        }
        if r.examples.matches.is_empty() || r.examples.no_match.is_empty() {
            ungated.push(format!("{} (examples)", r.id));
        }
    }
    assert!(ungated.is_empty(), "{ungated:?}");
}

/// Known-public example keys are reported, below the masking threshold, and never masked.
#[test]
fn documentation_keys_are_reported_low_not_masked() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let text = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
    let report = engine.scan(&ScanRequest { return_masked: true, classify: false, ..ScanRequest::new(text, Direction::Input) }).unwrap();
    let doc: Vec<_> = report.findings.iter().filter(|f| f.rule == "secret.aws.documentation_key").collect();
    assert_eq!(doc.len(), 2, "{:?}", report.findings);
    assert!(doc.iter().all(|f| f.score < 0.5));
    assert!(report.findings.iter().filter(|f| f.category == Category::Secret).all(|f| f.score < 0.5), "{:?}", report.findings);
    assert_eq!(report.masked.as_deref().unwrap_or(text), text);
}

/// A Kubernetes Secret's `data:` values are found (and masked) through their base64; the
/// finding points into the original manifest; a ConfigMap's `data:` is left alone.
#[test]
fn kubernetes_secret_values_are_decoded_and_masked() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  username: YXBwX3VzZXI=\n  password: bjN2M3JHdWVzcy1UaGlzIVBsZWFzZQ==\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  LOG_LEVEL: debug\n";
    let report =
        engine.scan(&ScanRequest { return_masked: true, classify: false, ..ScanRequest::new(manifest, Direction::Input) }).unwrap();
    let f = report.findings.iter().find(|f| f.rule == "secret.kubernetes.secret_data").expect("found");
    let span = &manifest[f.start..f.end];
    assert!(span.contains("YXBwX3VzZXI=") && span.contains("bjN2M3JHdWVzcy1UaGlzIVBsZWFzZQ=="), "{span:?}");
    assert!(!span.contains("debug"));
    let masked = report.masked.unwrap();
    assert!(!masked.contains("bjN2M3JHdWVzcy1UaGlzIVBsZWFzZQ==") && !masked.contains("YXBwX3VzZXI="), "{masked}");
    assert!(masked.contains("LOG_LEVEL: debug"));
}

/// The false-positive budget: secret findings that would be masked (score >= 0.5) on config
/// files that hold no secret. Budget: none.
#[test]
fn benign_configs_stay_within_the_false_positive_budget() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let dir = root().join("tests/data/benign_configs");
    let mut files = 0;
    let mut hits: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        files += 1;
        let report = engine.scan(&ScanRequest { classify: false, ..ScanRequest::new(&text, Direction::Input) }).unwrap();
        for f in report.findings.iter().filter(|f| f.category == Category::Secret && f.score >= 0.5) {
            hits.entry(path.file_name().unwrap().to_string_lossy().into())
                .or_default()
                .push((f.rule.clone(), text[f.start..f.end].to_string()));
        }
    }
    assert!(files >= 15);
    assert!(hits.is_empty(), "false positives on benign configs: {hits:#?}");
}

/// gitleaks' and noseyparker's rule examples: positives with an upstream span are span-checked,
/// those without one count when any secret finding lands in the text; negatives count a masked
/// finding as a false positive. Missed values stay in clear, so leaks are not asserted here.
#[test]
fn upstream_secret_examples_floor() {
    let path = root().join("../shared/data/pii/secret_rule_examples.jsonl");
    let text = std::fs::read_to_string(&path).expect("shared data present (../shared/data)");
    let mut records = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = v["text"].as_str().unwrap();
        let entities = match (v["positive"].as_bool().unwrap(), v["match"].as_array()) {
            (true, Some(m)) => serde_json::json!([{"type": "SECRET", "start": m[0], "end": m[1]}]),
            (true, None) => serde_json::json!([{"type": "SECRET", "start": 0, "end": t.chars().count()}]),
            (false, _) => serde_json::json!([]),
        };
        let r: Record = serde_json::from_value(serde_json::json!({"text": t, "entities": entities})).unwrap();
        records.push(r);
    }
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let report = eval_spans(&engine, &records, Direction::Input);
    eprintln!(
        "upstream secret examples: recall {:.3} precision {:.3} ({:?})",
        report.overall.recall(),
        report.overall.precision(),
        report.overall
    );
    assert!(report.overall.recall() >= RECALL_FLOOR, "recall {:.3}", report.overall.recall());
    assert!(report.overall.precision() >= PRECISION_FLOOR, "precision {:.3}", report.overall.precision());
}

/// Measured 0.575 / 0.566 (tp 309, fp 237, fn 228) on 2026-12-01: many upstream positives are not
/// secrets Picket claims (ARNs, bucket names, usernames, public keys) and many negatives hold
/// another real secret. The floors catch regressions; they are not the 0.98 bar.
const RECALL_FLOOR: f64 = 0.55;
const PRECISION_FLOOR: f64 = 0.55;
