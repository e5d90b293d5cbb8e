//! Replays every file under `tests/fuzz_cases/<target>/` through the invariants of fuzz target
//! `<target>` (the same code: `tests/fuzz_cases/checks.rs`). Seeds live there too; a crash that
//! `cargo fuzz` found is committed there as `crash-<hash>` and stays fixed. See docs/fuzzing.md.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use picket::Engine;

#[path = "../fuzz_cases/checks.rs"]
mod checks;

static ENGINE: LazyLock<Engine> = LazyLock::new(checks::engine);

/// One target's invariants, run on one raw fuzz input.
type Check = fn(&[u8]);

/// The fuzz targets, each with the check its cases are replayed through.
const TARGETS: &[(&str, Check)] = &[
    ("pack_parse", checks::pack_parse),
    ("scan", |data| checks::scan(&ENGINE, data)),
    ("mask", |data| checks::mask(&ENGINE, data)),
    ("normalize", checks::normalize_map),
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_cases")
}

/// Every case file of one target, in name order (hidden files are skipped).
fn cases(target: &str) -> Vec<PathBuf> {
    let dir = cases_dir().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    files.sort();
    files
}

/// Run every case of `target`, collecting all failures before failing, so one run lists every
/// case that regressed.
fn replay(target: &str) {
    let check = TARGETS.iter().find(|(name, _)| *name == target).map(|(_, check)| *check).expect("known target");
    let files = cases(target);
    assert!(!files.is_empty(), "tests/fuzz_cases/{target}/ holds no cases; keep at least the seeds");
    // Keep the default hook's message (it names the violated invariant) and add the case file.
    let mut failures = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failures.push(file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(file).display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {target} case(s) violate the fuzz invariants:\n  {}",
        failures.len(),
        files.len(),
        failures.join("\n  ")
    );
}

#[test]
fn pack_parse_cases() {
    replay("pack_parse");
}

#[test]
fn scan_cases() {
    replay("scan");
}

#[test]
fn mask_cases() {
    replay("mask");
}

#[test]
fn normalize_cases() {
    replay("normalize");
}

/// A folder under tests/fuzz_cases/ that is not a target's would never be replayed.
#[test]
fn every_case_folder_is_a_target() {
    for entry in std::fs::read_dir(cases_dir()).expect("tests/fuzz_cases exists") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            assert!(TARGETS.iter().any(|(target, _)| *target == name), "tests/fuzz_cases/{name}/ is not a fuzz target's folder");
        }
    }
}
