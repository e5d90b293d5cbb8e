//! Issue 15: the README and docs/ stand alone. Every relative link and every backticked
//! repository path they mention exists in the repository, and none points outside it.

use std::path::{Path, PathBuf};

const TOP_DIRS: [&str; 11] =
    ["src/", "docs/", "scripts/", "tests/", "examples/", "models/", "rules/", "benches/", "fuzz/", "deploy/", "clients/"];

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            out.push(e.path());
        }
    }
    out
}

/// Relative targets of `[text](target)` links.
fn links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            let end = rest.find([')', ' ', '#'])?;
            Some(&rest[..end])
        })
        .filter(|l| !l.is_empty() && !l.contains("://") && !l.starts_with("mailto:"))
        .collect()
}

/// Backticked spans that look like repository paths (`src/report.rs`, `docs/batch.md`).
fn paths(text: &str) -> Vec<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| TOP_DIRS.iter().any(|d| s.starts_with(d)))
        .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c)))
        .collect()
}

#[test]
fn readme_and_docs_reference_only_files_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for doc in documents(root) {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(root).unwrap().display().to_string();
        for link in links(&text) {
            let target = doc.parent().unwrap().join(link);
            let inside = target.canonicalize().map(|t| t.starts_with(root.canonicalize().unwrap()));
            if inside.as_ref().map_or(true, |ok| !ok) {
                missing.push(format!("{name}: link {link}"));
            }
        }
        for path in paths(&text) {
            if !root.join(path.trim_end_matches('/')).exists() {
                missing.push(format!("{name}: path `{path}`"));
            }
        }
        for outside in ["../shared", "DESIGN.md", "DESIGN §", "STYLE.md"] {
            if text.contains(outside) {
                missing.push(format!("{name}: mentions {outside}, which is not in the repository"));
            }
        }
    }
    assert!(missing.is_empty(), "dangling references:\n{}", missing.join("\n"));
}

/// The `GET /v1/packs` example in docs/http-api.md is what a server with the shipped packs
/// answers: same fields, packs, versions, descriptions and rule counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packs_example_matches_a_real_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/http-api.md")).unwrap();
    let section = &doc[doc.find("### `GET /v1/packs`").expect("the /v1/packs section")..];
    let block = &section[section.find("```json\n").unwrap() + 8..];
    let example: serde_json::Value = serde_json::from_str(&block[..block.find("```").unwrap()]).expect("the example is JSON");

    let s = crate::common::TestServer::start_builtin(crate::common::options()).await;
    let real = crate::common::get(s.addr, "/v1/packs").await.json();
    s.stop().await.unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&example), keys(&real));
    assert_eq!(example["packs"], real["packs"]);
    assert_eq!(example["rules"], real["rules"]);
    assert_eq!(example["warnings"], real["warnings"]);
    assert_eq!(example["fingerprint"].as_str().unwrap().len(), real["fingerprint"].as_str().unwrap().len());
}

/// Every metric family the server exports is in docs/http-api.md's metrics table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_table_lists_every_family() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/http-api.md")).unwrap();
    let table = &doc[doc.find("## Metrics").expect("a metrics section")..];
    let s = crate::common::TestServer::start(crate::common::options()).await;
    let _ = crate::common::get(s.addr, "/healthz").await;
    let text = crate::common::get(s.addr, "/metrics").await.text();
    s.stop().await.unwrap();
    let families: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    assert!(families.len() >= 10, "{text}");
    let missing: Vec<&&str> = families.iter().filter(|f| !table.contains(&format!("`{f}`"))).collect();
    assert!(missing.is_empty(), "metric families missing from the docs: {missing:?}");
}

/// The OpenAPI `Classifier` schema names every field the report's classifier object has.
#[test]
fn the_openapi_classifier_schema_matches_the_report() {
    let doc: serde_json::Value = serde_json::from_str(picket::server::OPENAPI_JSON).unwrap();
    let schema = &doc["components"]["schemas"]["Classifier"];
    let report = picket::report::ClassifierReport {
        model: "m".into(),
        label: "benign".into(),
        scores: Default::default(),
        windows: 1,
        windows_total: 1,
        window_start: 0,
        window_end: 1,
        allowlisted: true,
    };
    let value = serde_json::to_value(&report).unwrap();
    let mut fields: Vec<&String> = value.as_object().unwrap().keys().collect();
    let mut documented: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    fields.sort();
    documented.sort();
    assert_eq!(fields, documented);
    for required in schema["required"].as_array().unwrap() {
        assert!(value.get(required.as_str().unwrap()).is_some(), "{required}");
    }
}

/// Keyword normalization is a compatibility *decomposition* with marks dropped (NFKD, see
/// src/text/normalize.rs), and the docs say so: `ﬁ` matches `fi`, `é` matches `e`.
#[test]
fn the_docs_name_the_normalization_the_code_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let code = std::fs::read_to_string(root.join("src/text/normalize.rs")).unwrap();
    assert!(code.contains("decompose_compatible") && code.contains("is_combining_mark"));
    let norm = picket::text::normalize("ﬁancé");
    assert_eq!(norm.text, "fiance");
    for doc in documents(root) {
        let text = std::fs::read_to_string(&doc).unwrap();
        assert!(!text.contains("NFKC"), "{} says NFKC; the engine uses NFKD without marks", doc.display());
    }
    assert!(std::fs::read_to_string(root.join("docs/rule-packs.md")).unwrap().contains("NFKD"));
}

/// The commented `[telemetry]` block of examples/picket.toml, uncommented, is a valid config
/// that turns traces on with the documented defaults.
#[test]
fn the_example_telemetry_block_parses_when_uncommented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("examples/picket.toml")).unwrap();
    assert_eq!(picket::config::Config::parse(Path::new("picket.toml"), &example).unwrap().telemetry, None, "off by default");
    let block: String =
        example.lines().skip_while(|l| l.trim() != "# [telemetry]").map_while(|l| l.strip_prefix("# ")).map(|l| format!("{l}\n")).collect();
    assert!(block.starts_with("[telemetry]\n"), "no commented [telemetry] block in examples/picket.toml");
    let config = picket::config::Config::parse(Path::new("picket.toml"), &block).unwrap_or_else(|e| panic!("{e}\n{block}"));
    let t = config.telemetry.expect("[telemetry] turns traces on");
    assert_eq!(t, picket::config::TelemetryConfig::new("http://127.0.0.1:4317"));
    // docs/configuration.md shows the same keys.
    let doc = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    for key in ["[telemetry]", "otlp_endpoint", "service_name", "sample_ratio", "export_timeout_ms"] {
        assert!(doc.contains(key) && block.contains(key), "{key}");
    }
}
