//! Masks that never leak (issue 10): every match is masked however many there are, a finding the
//! masked text keeps says so, and an unambiguous international number is masked on its own.

use picket::{Decision, Direction, Engine, EngineConfig, Report, ScanRequest};

fn engine() -> Engine {
    Engine::new(EngineConfig { hash_key: Some(b"k".to_vec()), ..EngineConfig::default() }).unwrap()
}

fn scan(engine: &Engine, text: &str) -> Report {
    engine.scan(&ScanRequest { return_masked: true, classify: false, ..ScanRequest::new(text, Direction::Input) }).unwrap()
}

/// 1,100 e-mails: 100 stayed in clear when matching stopped at 1,000 per rule.
#[test]
fn every_one_of_1100_emails_is_masked_and_the_report_counts_the_omitted() {
    let text: String = (0..1100).map(|i| format!("user{i}@example.org, ")).collect();
    let report = scan(&engine(), &text);
    let masked = report.masked.as_deref().unwrap();
    assert!(!masked.contains('@'), "an address survived: {}", &masked[masked.find('@').unwrap().saturating_sub(40)..][..80]);
    let listed = report.findings.iter().filter(|f| f.rule == "pii.email").count();
    assert_eq!(listed, picket::engine::MAX_REPORTED_PER_RULE);
    assert_eq!(report.findings_omitted, 100);
    assert!(report.findings.iter().all(|f| f.masked));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["findings_omitted"], 100);
}

/// 1,001 placeholder AWS keys (dropped by the stopword, but they used to count toward the cap)
/// in front of a real one: the real one was left in clear.
#[test]
fn a_real_key_behind_a_thousand_placeholders_is_masked() {
    let real = "AKIAVQJXXVBOTHD2WTFL";
    let text = format!("{} and the real one {real}", "AKIAIOSFODNN7EXAMPLE ".repeat(1001));
    let report = scan(&engine(), &text);
    assert_ne!(report.decision, Decision::Allow);
    assert!(report.findings.iter().any(|f| f.rule == "secret.aws.access_key_id" && &text[f.start..f.end] == real));
    assert!(!report.masked.unwrap().contains(real));
}

/// "+46 70 123 45 67" next to "order" scored 0.3 (under min_score 0.5), was reported with
/// `"action": "mask"` and stayed in the masked text. A number with `+` and an assigned country
/// code now reaches the threshold on its own.
#[test]
fn an_e164_number_is_masked_whatever_the_context() {
    let text = "Ship to J. Lindqvist, +46 70 123 45 67, order 5531 by Friday.";
    let report = scan(&engine(), text);
    let phone = report.findings.iter().find(|f| f.rule == "pii.phone.intl").expect("phone found");
    assert!(phone.score >= 0.5, "score {}", phone.score);
    assert!(phone.masked);
    assert_eq!(report.decision, Decision::Mask);
    assert!(!report.masked.unwrap().contains("123 45 67"));
    // An unassigned country code is not an unambiguous number.
    let report = scan(&engine(), "Ship to J. Lindqvist, +28 70 123 45 67, order 5531.");
    assert!(report.findings.iter().all(|f| f.rule != "pii.phone.intl"));
}

/// A finding under min_score stays in clear: the report must say so (`masked: false`), and a
/// masked finding says `masked: true`.
#[test]
fn a_finding_the_masked_text_keeps_says_so() {
    let text = "ticket (415) 555-0134 escalated; mail bob@example.com";
    let report = scan(&engine(), text);
    let phone = report.findings.iter().find(|f| f.rule == "pii.phone.nanp").expect("phone found");
    assert!(phone.score < 0.5, "the negative context word should lower it: {}", phone.score);
    let masked = report.masked.as_deref().unwrap();
    assert!(masked.contains("(415) 555-0134"));
    assert!(!phone.masked, "kept in clear, so the report must say masked: false");
    let email = report.findings.iter().find(|f| f.rule == "pii.email").unwrap();
    assert!(email.masked && !masked.contains("bob@example.com"));
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["findings"].as_array().unwrap().iter().all(|f| f["masked"].is_boolean()));
}

/// Issue 10, held-out PII check: secrets quoted in sentences without a `key=value` shape.
#[test]
fn prose_secrets_are_found_and_masked() {
    let engine = engine();
    for (text, value) in [
        ("the wifi password for the guest network is P-gvx2WJ2_a6CU*31", "P-gvx2WJ2_a6CU*31"),
        ("ok so the leaked secret PBiUq3xV9mZ+tR7wLk2Yc8Jd0nHsAe4Fg/Qo5WuI is still valid", "PBiUq3xV9mZ+tR7wLk2Yc8Jd0nHsAe4Fg/Qo5WuI"),
    ] {
        let report = scan(&engine, text);
        assert!(report.findings.iter().any(|f| f.category == picket::Category::Secret && &text[f.start..f.end] == value), "{text}");
        assert!(!report.masked.as_deref().unwrap().contains(value), "{text}");
    }
    // Prose about passwords, without one, stays clean.
    let report = scan(&engine, "Remember: the password is stored in the vault and rotated monthly.");
    assert!(report.findings.iter().all(|f| f.category != picket::Category::Secret));
}
