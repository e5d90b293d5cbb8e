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
