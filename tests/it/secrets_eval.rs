//! Secret detection measured three ways (issue 13):
//! * the per-provider set `tests/data/secrets_eval/providers.jsonl` (written by
//!   scripts/gen_secret_providers.py from templates and values the pack examples do not use):
//!   every provider found by its own rule, recall and precision >= 0.98, no leak, no decoy masked;
//! * benign config files (`tests/data/benign_configs/`, not used to tune any rule): the
//!   false-positive budget of the generic and provider rules;
//! * gitleaks' and noseyparker's own rule examples (`../shared/data/pii/secret_rule_examples.jsonl`),
//!   cases no one here wrote: per upstream entity type, in or out of scope by
//!   `tests/data/secrets_eval/upstream_types.toml`; 0.98 / 0.98 per type except the listed
//!   shortfalls, which hold their measured floors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use picket::eval::{eval_spans, read_records, Counts};
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

/// gitleaks' and noseyparker's rule examples, per entity type (issue 13). Types and scope
/// come from `tests/data/secrets_eval/upstream_types.toml` (out-of-scope values are identifiers
/// and public keys, each with its reason there). For an in-scope type:
/// * a positive is found when a masked secret finding overlaps the upstream `match` span (or,
///   without a span or where the span is the identifier beside the credential, lands in the
///   text); a found positive leaks when the masked text still holds the span (a missed one is
///   a false negative, not counted again as a leak);
/// * a negative says "this rule must not match here": only a masked finding of the type's own
///   Picket providers counts as its false positive, unless the flagged value is one upstream
///   lists as a positive of another rule (noseyparker's negatives are often a sibling rule's
///   token: a Slack user token in the bot-token rule's negatives). Findings of other providers
///   on negatives are printed for a human to check.
///
/// Types still under 0.98 are in [`UPSTREAM_SHORT`], each with its measured floor and reason.
#[test]
fn upstream_secret_examples_per_type() {
    let path = root().join("../shared/data/pii/secret_rule_examples.jsonl");
    let data = std::fs::read_to_string(&path).expect("shared data present (../shared/data)");
    let table: UpstreamTypes =
        toml::from_str(&std::fs::read_to_string(root().join("tests/data/secrets_eval/upstream_types.toml")).unwrap()).unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let min_score = engine.policy("default").map_or(0.5, |p| p.direction(Direction::Input).min_score);

    let records: Vec<serde_json::Value> = data.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    // Upstream's own positive values (their span, or the whole example without one): a finding
    // on a negative that is one of them (a sibling rule's secret) is not a false positive.
    let positives: Vec<(&str, String)> = records
        .iter()
        .filter(|v| v["positive"].as_bool().unwrap() && table.scored(v))
        .map(|v| {
            let (text, rule_id) = (v["text"].as_str().unwrap(), v["rule_id"].as_str().unwrap());
            match table.span_of(v) {
                Some((s, e)) => (rule_id, text[s..e].to_string()),
                None => (rule_id, text.to_string()),
            }
        })
        .collect();
    let sibling = |rule_id: &str, value: &str| {
        value.len() >= 8 && positives.iter().any(|(r, p)| *r != rule_id && (p.contains(value) || value.contains(p.as_str())))
    };

    let mut per_type: BTreeMap<String, Counts> = BTreeMap::new();
    let mut out_of_scope: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut leaks, mut notes) = (Vec::new(), Vec::new());
    for v in &records {
        let (text, rule_id) = (v["text"].as_str().unwrap(), v["rule_id"].as_str().unwrap());
        let kind = table.kind(rule_id);
        let req = ScanRequest { return_masked: true, classify: false, ..ScanRequest::new(text, Direction::Input) };
        let report = engine.scan(&req).unwrap();
        let masked = report.masked.as_deref().unwrap_or(text);
        let secrets: Vec<_> = report.findings.iter().filter(|f| f.category == Category::Secret && f.score >= min_score).collect();
        let gold = table.span_of(v);
        let found = match gold {
            Some((s, e)) => secrets.iter().any(|f| f.start < e && s < f.end),
            None => !secrets.is_empty(),
        };
        let positive = v["positive"].as_bool().unwrap();
        if !table.scored(v) {
            if table.out_of_scope.contains_key(rule_id) {
                let o = out_of_scope.entry(format!("{kind} ({rule_id})")).or_default();
                o.0 += usize::from(positive && found);
                o.1 += usize::from(positive);
            }
            continue;
        }
        let c = per_type.entry(kind.clone()).or_default();
        if positive {
            if found {
                c.tp += 1;
            } else {
                c.fn_ += 1;
                notes.push(format!("MISS {kind} [{rule_id}] {text:?}"));
            }
            if let (true, Some((s, e))) = (found, gold) {
                if masked.contains(&text[s..e]) {
                    leaks.push(format!("{kind} [{rule_id}] {:?}", &text[s..e]));
                }
            }
        } else {
            let own = table.picket_providers(&kind);
            for f in &secrets {
                let provider = f.rule.split('.').nth(1).unwrap_or("");
                let value = &text[f.start..f.end];
                if own.iter().any(|p| p == provider) && sibling(rule_id, value) {
                    notes.push(format!("sibling's secret on {kind} negative [{rule_id}] {} {value:?}", f.rule));
                } else if own.iter().any(|p| p == provider) {
                    c.fp += 1;
                    notes.push(format!("FP {kind} [{rule_id}] {} {:?}", f.rule, &text[f.start..f.end]));
                } else {
                    notes.push(format!("other provider on {kind} negative [{rule_id}] {} {:?}", f.rule, &text[f.start..f.end]));
                }
            }
        }
    }
    let overall = per_type.values().fold(Counts::default(), |a, c| Counts { tp: a.tp + c.tp, fp: a.fp + c.fp, fn_: a.fn_ + c.fn_ });
    for n in &notes {
        eprintln!("{n}");
    }
    eprintln!("{:<16} {:>4} {:>4} {:>4} {:>7} {:>9}", "type", "tp", "fp", "fn", "recall", "precision");
    for (k, c) in &per_type {
        eprintln!("{k:<16} {:>4} {:>4} {:>4} {:>7.3} {:>9.3}", c.tp, c.fp, c.fn_, c.recall(), c.precision());
    }
    eprintln!(
        "in scope: {} types, recall {:.3} precision {:.3} ({overall:?}); out of scope (found/positives): {out_of_scope:?}",
        per_type.len(),
        overall.recall(),
        overall.precision()
    );

    assert!(leaks.is_empty(), "{} in-scope values left in the masked text: {leaks:#?}", leaks.len());
    let mut short = Vec::new();
    for (k, c) in &per_type {
        let (recall, precision) = UPSTREAM_SHORT.iter().find(|s| s.0 == k).map_or((0.98, 0.98), |s| (s.1, s.2));
        if c.recall() < recall || c.precision() < precision {
            short.push(format!("{k}: recall {:.3} (floor {recall}) precision {:.3} (floor {precision})", c.recall(), c.precision()));
        }
    }
    assert!(short.is_empty(), "types under their bar: {short:#?}");
    for s in UPSTREAM_SHORT {
        assert!(per_type.contains_key(s.0), "UPSTREAM_SHORT names {}, which is not an in-scope type", s.0);
    }
    assert!(overall.recall() >= UPSTREAM_OVERALL.0, "recall {:.3}", overall.recall());
    assert!(overall.precision() >= UPSTREAM_OVERALL.1, "precision {:.3}", overall.precision());
}

/// In-scope types under 0.98 on the upstream examples (measured 2026-12-01): (type, recall
/// floor, precision floor, why). The floors are the measured values; a type that reaches 0.98
/// should leave this list. The others (80 types) assert 0.98 / 0.98; 17 of them
/// have only negatives upstream (gitleaks' generated positives hold no value), so only their precision is tested.
#[rustfmt::skip]
const UPSTREAM_SHORT: &[(&str, f64, f64, &str)] = &[
    ("adafruit", 0.666, 0.98, r#"`#define IO_KEY "aio_..."`: the aio_ rule is gated by the word adafruit, absent here"#),
    ("anthropic", 0.98, 0.5, r#"gitleaks' negatives are made-up keys (`abc123xyz-456def...`) in the real shape; no fake-key filter"#),
    ("auth0", 0.98, 0.8, r#"a negative holds a real-shaped AUTH0_CLIENT_SECRET (upstream needs the domain beside it)"#),
    ("aws", 0.7, 0.875, r#"placeholders upstream counts as keys (`AKIADEADBEEF...`, 40 x `a`) are refused on entropy; a Bedrock `EXAMPLE` key in a negative is flagged"#),
    ("azure", 0.967, 0.937, r#"a made-up 84-character DevOps PAT missed; two `Q~` strings inside URLs/markup flagged as AD client secrets"#),
    ("blynk", 0.846, 0.98, r#"`curl -u oa2-client-id_...:secret` where the ID holds `-`: the curl user rule misses it"#),
    ("codeclimate", 0.5, 0.98, r#"CC_TEST_REPORTER_ID: no CodeClimate rule"#),
    ("curl", 0.689, 0.952, r#"quoted or braced `-u user:pass`, and `Api-Token:` / `Token:` / bare-UUID headers missed; a JWT in a negative flagged"#),
    ("facebook", 0.7, 0.98, r#"`fbApiKey` (no `facebook` word) and an `appid|secret` token after `facebook access_token` missed"#),
    ("gcp", 0.98, 0.0, r#"gitleaks' negatives are 16 well-formed AIza keys it allowlists as published; Picket has no known-public list for Google keys"#),
    ("generic", 0.325, 0.538, r#"prose passwords (`the password is 'x'`), code comparisons (`password == "x"`), .NET NetworkCredential/DirectoryEntry arguments, INI placeholders missed; placeholder-like values in negatives flagged"#),
    ("google", 0.9, 0.98, r#"`"client_secret":"aaaa...-"` placeholder refused on entropy"#),
    ("gradle", 0.0, 0.98, r#"`credentials { password 'password' }`: placeholder values, no Gradle rule"#),
    ("hashicorp", 0.833, 0.98, r#"a 90-character legacy `s.` token with `-`/`_`, and unseal keys: no rule"#),
    ("infracost", 0.98, 0.0, r#"a file name `.ico-<32 hex>.png` matched"#),
    ("jenkins", 0.4, 0.98, r#"Jenkins-Crumb header, a jenkinsToken UUID and the setup-wizard password: no Jenkins rules"#),
    ("jwt", 0.5, 0.98, r#"JWT signing secrets nested in YAML (`JWT:\n  secret: ...`) missed"#),
    ("kubernetes", 0.666, 0.98, r#"bootstrap token-id and token-secret on two lines"#),
    ("mailchimp", 0.98, 0.5, r#"a real-shaped key in an SDK call that gitleaks refuses by context"#),
    ("netrc", 0.666, 0.98, r#"multi-line netrc (`login` / `password` on their own lines) missed"#),
    ("newrelic", 0.785, 0.916, r#"placeholder license keys, a 40-hex license key without NRAL missed; an NRAL key in a negative flagged"#),
    ("octopus", 0.98, 0.5, r#"`API-` + 32 hex inside a Notion URL matched"#),
    ("odbc", 0.2, 0.666, r#"`Password=secret` / `Pwd=myPassword` placeholders and PHP escaped `\"` values missed; `\$_POST` flagged"#),
    ("okta", 0.4, 0.666, r#"placeholders (`00aaaa...`) refused; an HCL default on the next line missed; a negative flagged"#),
    ("phpmailer", 0.5, 0.98, r#"`$mail->Password = '...'` missed"#),
    ("postgres", 0.98, 0.9, r#"`secret` as the password of a URL in a negative flagged"#),
    ("psexec", 0.833, 0.98, r#"`-p mypass` under the entropy floor"#),
    ("reactapp", 0.98, 0.857, r#"`process.env.REACT_APP_..._PASSWORD` expression flagged by the high-entropy rule"#),
    ("salesforce", 0.0, 0.98, r#"`00D...!...` tokens without a salesforce word nearby missed"#),
    ("slack", 0.937, 0.98, r#"`xoxb-0000...-xxxx` placeholder refused (deliberately)"#),
    ("sonarqube", 0.666, 0.98, r#"`sonar.login', '<40 hex>'` (quote-comma-quote) missed"#),
    ("sourcegraph", 0.888, 0.98, r#"a bare 40-hex value after `sourcegraph:` missed"#),
    ("tavily", 0.666, 0.98, r#"`tvly-xxxx...` placeholder refused (deliberately)"#),
];

/// Overall in-scope (recall, precision) floors on the upstream examples: measured 0.819 / 0.897
/// (tp 393, fp 45, fn 87) on 2026-12-01, from 0.575 / 0.566 when scored as one lumped type.
const UPSTREAM_OVERALL: (f64, f64) = (0.81, 0.89);

/// `tests/data/secrets_eval/upstream_types.toml`.
#[derive(serde::Deserialize)]
struct UpstreamTypes {
    alias: BTreeMap<String, String>,
    picket: BTreeMap<String, Vec<String>>,
    out_of_scope: BTreeMap<String, String>,
    credential_elsewhere: BTreeMap<String, String>,
    no_value: BTreeMap<String, String>,
}

impl UpstreamTypes {
    /// `np.NAME.N` -> NAME, gitleaks `name-rest` -> name, then the alias table.
    fn kind(&self, rule_id: &str) -> String {
        let name = match rule_id.strip_prefix("np.") {
            Some(rest) => rest.split('.').next().unwrap_or(rest),
            None => rule_id.split('-').next().unwrap_or(rule_id),
        };
        self.alias.get(name).cloned().unwrap_or_else(|| name.to_string())
    }

    /// In scope and holding a value (not `[out_of_scope]`, not `[no_value]`).
    fn scored(&self, v: &serde_json::Value) -> bool {
        !self.out_of_scope.contains_key(v["rule_id"].as_str().unwrap_or(""))
            && !self.no_value.contains_key(v["text"].as_str().unwrap_or(""))
    }

    /// The upstream `match` span in bytes, unless the rule's span is an identifier beside the
    /// credential (`[credential_elsewhere]`) or the example has none.
    fn span_of(&self, v: &serde_json::Value) -> Option<(usize, usize)> {
        if self.credential_elsewhere.contains_key(v["rule_id"].as_str()?) {
            return None;
        }
        let (text, m) = (v["text"].as_str()?, v["match"].as_array()?);
        Some(char_span(text, m[0].as_u64()? as usize, m[1].as_u64()? as usize))
    }

    fn picket_providers(&self, kind: &str) -> Vec<String> {
        self.picket.get(kind).cloned().unwrap_or_else(|| vec![kind.to_string()])
    }
}

/// Code-point offsets (as the upstream file writes them) to byte offsets.
fn char_span(text: &str, start: usize, end: usize) -> (usize, usize) {
    let byte = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(b, _)| b);
    (byte(start), byte(end))
}
