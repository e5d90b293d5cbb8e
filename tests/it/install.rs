//! Issue 15, install layout: `make install PREFIX=...` lays out a tree the binary finds its
//! model and ONNX Runtime in by its own location (run from elsewhere, with the build tree out
//! of the search), and `picket doctor` reports each part.

use std::path::Path;
use std::process::Command;

fn doctor(picket: &Path, cwd: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(picket)
        .arg("doctor")
        .args(["--format", "json", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(cwd)
        .env_remove("PICKET_CONFIG")
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("doctor printed no JSON ({e}): {stderr}"));
    (out.status.code().unwrap_or(-1), v, stderr)
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} check in {report}"))
}

#[test]
fn make_install_lays_out_a_prefix_the_binary_finds_its_parts_in() {
    let prefix = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("make")
        .args(["--no-print-directory", "-C", root, "install"])
        .arg(format!("PREFIX={}", prefix.path().display()))
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_picket")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make install failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let p = prefix.path();
    for file in [
        "bin/picket",
        "lib/picket/libonnxruntime.so",
        "share/picket/models/picket-intent/model.onnx",
        "share/picket/models/picket-intent/model.toml",
        "share/picket/rules/secrets.toml",
        "share/picket/picket.example.toml",
    ] {
        assert!(p.join(file).is_file(), "{file} not installed");
    }

    // Run from an unrelated folder: only the prefix can explain where the parts are found.
    let elsewhere = tempfile::tempdir().unwrap();
    let installed = p.join("bin/picket");
    let (code, report, stderr) = doctor(&installed, elsewhere.path(), &[]);
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["ok"], true);
    let runtime = check(&report, "runtime");
    let canonical = p.canonicalize().unwrap();
    assert!(runtime["detail"].as_str().unwrap().starts_with(canonical.join("lib/picket").to_str().unwrap()), "{runtime}");
    let model = check(&report, "model");
    assert!(model["detail"].as_str().unwrap().contains(canonical.join("share/picket/models/picket-intent").to_str().unwrap()), "{model}");
    assert_eq!(check(&report, "packs")["status"], "ok");
    assert_eq!(check(&report, "config")["status"], "ok");
    assert_eq!(check(&report, "listen")["status"], "ok");

    // The installed example config is valid as it is.
    let example = p.join("share/picket/picket.example.toml");
    let (code, report, _) = doctor(&installed, elsewhere.path(), &["--no-classifier", "--config", example.to_str().unwrap()]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(check(&report, "model")["status"], "skip");
}

#[test]
fn doctor_reports_each_failure_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules.d")).unwrap();
    std::fs::write(dir.path().join("rules.d/bad.toml"), "[pack]\nid = \"bad\"\n[[rule]]\nid = \"x\"\n").unwrap();
    std::fs::create_dir(dir.path().join("empty-model")).unwrap();
    let config = dir.path().join("picket.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"0.0.0.0:0\"\n[packs]\ndirs = [\"rules.d\"]\n[model]\ndir = \"empty-model\"\nort_dylib = \"nowhere/libonnxruntime.so\"\n",
    )
    .unwrap();
    let (code, report, _) = doctor(Path::new(env!("CARGO_BIN_EXE_picket")), dir.path(), &["--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(check(&report, "config")["status"], "ok");
    assert_eq!(check(&report, "packs")["status"], "fail", "{report}");
    let runtime = check(&report, "runtime");
    assert_eq!(runtime["status"], "fail");
    assert!(runtime["detail"].as_str().unwrap().contains("nowhere/libonnxruntime.so"), "{runtime}");
    // --listen 127.0.0.1:0 was given; without it the public address without keys fails.
    assert_eq!(check(&report, "listen")["status"], "ok");
    let out = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["doctor", "--no-classifier", "--config", config.to_str().unwrap()])
        .env_remove("PICKET_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("FAIL listen") && l.contains("without API keys")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("skip runtime")), "{text}");

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[server]\nlisen = 1\n").unwrap();
    let (code, report, _) =
        doctor(Path::new(env!("CARGO_BIN_EXE_picket")), dir.path(), &["--no-classifier", "--config", broken.to_str().unwrap()]);
    assert_eq!(code, 1);
    let c = check(&report, "config");
    assert_eq!(c["status"], "fail");
    assert!(c["detail"].as_str().unwrap().contains("broken.toml:2"), "{c}");
}
