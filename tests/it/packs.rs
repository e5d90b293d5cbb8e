//! The shipped packs: every rule's examples, and how broken packs are refused.

use std::path::PathBuf;

use picket::pack::{self, examples, PackError, Severity};

fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn every_shipped_rule_example_passes() {
    let packs = pack::load(&[]).expect("shipped packs compile");
    let summary = examples::check(&packs, &[]);
    assert!(summary.examples > 400, "only {} examples", summary.examples);
    assert!(summary.failures.is_empty(), "{:#?}", summary.failures);
}

#[test]
fn shipped_packs_meet_their_size_requirements() {
    let packs = pack::load(&[]).unwrap();
    let count = |pack: &str| packs.rules.iter().filter(|r| r.pack == pack).count();
    assert!(count("secrets") >= 40, "secrets has {}", count("secrets"));
    let phrases: usize = packs
        .rules
        .iter()
        .filter(|r| r.pack == "injection")
        .map(|r| match &r.kind {
            pack::RuleKind::Keywords { keywords, .. } => keywords.len(),
            _ => 0,
        })
        .sum();
    assert!(phrases >= 300, "injection has {phrases} phrases");
    for r in &packs.rules {
        assert!(!r.examples.matches.is_empty() && !r.examples.no_match.is_empty(), "{} lacks examples", r.id);
    }
    assert!(packs.warnings.is_empty(), "{:?}", packs.warnings);
}

#[test]
fn broken_pack_names_file_line_and_rule() {
    let Err(PackError::Invalid(diags)) = pack::load(&[data("tests/packs/broken/bad_regex.toml")]) else { panic!("broken pack accepted") };
    let errors: Vec<String> = diags.iter().filter(|d| d.severity == Severity::Error).map(|d| d.to_string()).collect();
    let file = data("tests/packs/broken/bad_regex.toml").display().to_string();
    let find = |rule: &str, what: &str| {
        errors
            .iter()
            .find(|e| e.contains(&format!("[rule {rule}]")) && e.contains(what))
            .unwrap_or_else(|| panic!("no {what} for {rule} in {errors:#?}"))
            .clone()
    };
    let regex = find("broken.unclosed", "invalid regex");
    assert!(regex.starts_with(&format!("{file}:21:")), "{regex}");
    assert!(find("broken.category", "unknown category").starts_with(&format!("{file}:26:")));
    assert!(find("broken.category", "score 1.5").starts_with(&format!("{file}:30:")));
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn unknown_field_is_located_with_its_rule() {
    let Err(PackError::Invalid(diags)) = pack::load(&[data("tests/packs/broken/bad_toml.toml")]) else { panic!("accepted") };
    let d = &diags[0];
    assert_eq!((d.line, d.rule.as_deref()), (10, Some("broken2.typo")), "{d}");
    assert!(d.message.contains("patern"), "{d}");
}

#[test]
fn user_pack_adds_rules_and_overrides_shipped_ones() {
    let packs = pack::load(&[data("tests/packs/user")]).unwrap();
    let (_, email) = packs.rule_by_id("pii.email").unwrap();
    assert!(!email.enabled);
    let (_, card) = packs.rule_by_id("pii.credit_card").unwrap();
    assert_eq!((card.score, card.action), (0.3, pack::Action::Report));
    assert!(packs.rule_by_id("custom.codename").is_some());
    assert!(examples::check(&packs, &["custom".to_string()]).failures.is_empty());
}

#[test]
fn duplicate_rule_ids_are_refused() {
    let src = |name: &str| {
        pack::PackSource {
        name: name.into(),
        text: "[pack]\nid = \"NAME\"\nversion = \"1\"\n[[rule]]\nid = \"dup.one\"\ncategory = \"pii\"\nlabel = \"X\"\nkind = \"keywords\"\nkeywords = [\"x\"]\nscore = 0.5\n".replace("NAME", name),
    }
    };
    let Err(PackError::Invalid(diags)) = pack::compile(&[src("a"), src("b")]) else { panic!("accepted") };
    assert!(diags.iter().any(|d| d.file == "b" && d.line == 5 && d.message.contains("duplicate rule id")), "{diags:#?}");
}

#[test]
fn allowlist_entries_drop_exactly_what_they_name() {
    use picket::{Direction, Engine, EngineConfig, ScanRequest};
    let engine = Engine::new(EngineConfig { extra_packs: vec![data("tests/packs/user")], ..Default::default() }).unwrap();
    let text = "pay 4242 4242 4242 4242 or 4111 1111 1111 1111; ssn 536-22-1234 from bob@example.org";
    let report = engine.scan(&ScanRequest { classify: false, ..ScanRequest::new(text, Direction::Input) }).unwrap();
    let found: Vec<&str> = report.findings.iter().map(|f| &text[f.start..f.end]).collect();
    assert!(found.contains(&"4111 1111 1111 1111") && found.contains(&"536-22-1234"), "{found:?}");
    assert!(!found.contains(&"4242 4242 4242 4242") && !found.iter().any(|f| f.contains("example.org")), "{found:?}");
    let bad = pack::PackSource {
        name: "bad.toml".into(),
        text: "[pack]\nid = \"b\"\nversion = \"1\"\n[[allow]]\nrule = \"nope.rule\"\nexact = \"x\"\n".into(),
    };
    let mut sources = pack::builtin_sources();
    sources.push(bad);
    let Err(PackError::Invalid(diags)) = pack::compile(&sources) else { panic!("accepted") };
    assert!(diags.iter().any(|d| d.file == "bad.toml" && d.line == 5 && d.message.contains("unknown rule")), "{diags:#?}");
}

/// Issue 10: a 16 KB periodic keyword took 32 s to compile, 100k keywords 22 s and 1.9 GB. Both
/// are refused now, quickly, with file:line:col and the rule id.
#[test]
fn oversized_keywords_are_refused_with_their_location() {
    let rule = |id: &str, keywords: &str| {
        format!(
            "[[rule]]\nid = \"{id}\"\ncategory = \"injection\"\nlabel = \"X\"\nkind = \"keywords\"\nscore = 0.5\nkeywords = [{keywords}]\n"
        )
    };
    let long = "ab".repeat(8 << 10);
    let text = format!("[pack]\nid = \"big\"\nversion = \"1\"\n{}", rule("big.long", &format!("\"fine\", \"{long}\"")));
    let started = std::time::Instant::now();
    let Err(PackError::Invalid(diags)) = pack::compile(&[pack::PackSource { name: "big.toml".into(), text }]) else { panic!("accepted") };
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let d = diags.iter().find(|d| d.message.contains("longer than the limit")).unwrap_or_else(|| panic!("{diags:#?}"));
    // Line 10 holds the list; the column points at the long keyword, after `"fine", `.
    assert_eq!((d.file.as_str(), d.line, d.rule.as_deref()), ("big.toml", 10, Some("big.long")), "{d}");
    assert_eq!(d.column, "keywords = [\"fine\", ".len() + 2, "{d}");
    assert!(d.to_string().starts_with("big.toml:10:"), "{d}");

    // Many short keywords: the total is capped across rules (and packs).
    let many = |from: usize| (from..from + 7_000).map(|i| format!("\"phrase number {i:08}\"")).collect::<Vec<_>>().join(", ");
    let text = format!("[pack]\nid = \"many\"\nversion = \"1\"\n{}{}", rule("many.a", &many(0)), rule("many.b", &many(7_000)));
    let started = std::time::Instant::now();
    let Err(PackError::Invalid(diags)) = pack::compile(&[pack::PackSource { name: "many.toml".into(), text }]) else { panic!("accepted") };
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    let d = diags.iter().find(|d| d.message.contains("keywords of all loaded packs")).unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!((d.line, d.rule.as_deref()), (17, Some("many.b")), "{d}");
    assert_eq!(diags.iter().filter(|d| d.severity == Severity::Error).count(), 1, "{diags:#?}");
}
