//! Golden cases: `tests/golden/*.toml`, each `[[case]]` a text and direction with the expected
//! findings (rule + exact substring), decision and masked text. One runner, many files.

use std::path::PathBuf;

use picket::{Direction, Engine, EngineConfig, ScanRequest};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    text: String,
    #[serde(default = "input")]
    direction: Direction,
    decision: Option<String>,
    masked: Option<String>,
    #[serde(default)]
    expect: Vec<Expect>,
    #[serde(default)]
    absent: Vec<String>,
    /// Substrings that must not survive masking.
    #[serde(default)]
    not_in_masked: Vec<String>,
}

fn input() -> Direction {
    Direction::Input
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    rule: String,
    /// The exact original text the finding's span covers.
    text: String,
}

#[test]
fn golden_cases() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    files.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for path in files {
        let file: File = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in file.case {
            count += 1;
            let report =
                engine.scan(&ScanRequest { return_masked: true, classify: false, ..ScanRequest::new(&case.text, case.direction) }).unwrap();
            let mut fail = |m: String| failures.push(format!("{} / {}: {m}", path.file_name().unwrap().to_string_lossy(), case.name));
            for e in &case.expect {
                let hit = report.findings.iter().any(|f| {
                    f.rule == e.rule
                        && case.text.get(f.start..f.end) == Some(e.text.as_str())
                        && case.text.chars().skip(f.char_start).take(f.char_end - f.char_start).collect::<String>() == e.text
                });
                if !hit {
                    let got: Vec<_> = report
                        .findings
                        .iter()
                        .map(|f| (f.rule.clone(), case.text.get(f.start..f.end).unwrap_or("?").to_string()))
                        .collect();
                    fail(format!("expected {} on {:?}; got {got:?}", e.rule, e.text));
                }
            }
            for rule in &case.absent {
                if report.findings.iter().any(|f| &f.rule == rule) {
                    fail(format!("{rule} fired"));
                }
            }
            if let Some(d) = &case.decision {
                if report.decision.as_str() != d {
                    fail(format!("decision {} (scores {:?}), expected {d}", report.decision.as_str(), report.categories));
                }
            }
            let masked = report.masked.clone().unwrap_or_default();
            if let Some(m) = &case.masked {
                if &masked != m {
                    fail(format!("masked {masked:?}, expected {m:?}"));
                }
            }
            for secret in &case.not_in_masked {
                if masked.contains(secret.as_str()) {
                    fail(format!("{secret:?} survived masking: {masked:?}"));
                }
            }
        }
    }
    assert!(count >= 20, "only {count} golden cases");
    assert!(failures.is_empty(), "{} failing golden case(s):\n{}", failures.len(), failures.join("\n"));
}
