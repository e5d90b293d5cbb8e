//! Issue 15: the shipped deployment files hold configs Picket accepts (the schemas themselves
//! are checked by `make k8s-validate`, the image by `make container-smoke`).

use std::path::Path;

use picket::config::{Config, Scope};

/// The literal block of `key: |` in a manifest (two-space YAML indentation, four for the block).
fn block(manifest: &str, key: &str) -> String {
    let mut lines = manifest.lines().skip_while(|l| l.trim() != format!("{key}: |"));
    assert!(lines.next().is_some(), "no `{key}: |` block");
    lines.take_while(|l| l.starts_with("    ") || l.trim().is_empty()).map(|l| format!("{}\n", l.get(4..).unwrap_or(""))).collect()
}

#[test]
fn kubernetes_config_and_secret_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let config = block(&std::fs::read_to_string(root.join("configmap.yaml")).unwrap(), "picket.toml");
    let keys = block(&std::fs::read_to_string(root.join("secret.yaml")).unwrap(), "api-keys.toml");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api-keys.toml"), keys).unwrap();
    let text = config.replace("/etc/picket/keys/", &format!("{}/", dir.path().display()));
    assert_ne!(text, config, "the ConfigMap reads the Secret's keys file");
    let c = Config::parse(&dir.path().join("picket.toml"), &text).unwrap();
    assert!(!c.listen.ip().is_loopback(), "a pod listens on all interfaces");
    assert!(c.auth_configured(), "so it needs the Secret's keys");
    assert_eq!(c.api_keys[0].scopes, vec![Scope::Scan, Scope::Restore]);
}

#[test]
fn container_default_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/container/picket.toml");
    let c = Config::load(&path).unwrap();
    assert!(c.model_enabled);
}

/// An API keys file holds keys only, and a key in both files is refused.
#[test]
fn api_keys_file_rules() {
    let dir = tempfile::tempdir().unwrap();
    let hash = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
    let entry = |name: &str| format!("[[api_key]]\nname = \"{name}\"\nsha256 = \"{hash}\"\n");
    let main = |extra: &str| format!("[server]\napi_keys_file = \"keys.toml\"\n{extra}");
    std::fs::write(dir.path().join("keys.toml"), entry("ci")).unwrap();
    let c = Config::parse(&dir.path().join("p.toml"), &main("")).unwrap();
    assert_eq!(c.api_keys[0].name, "ci");
    let err = Config::parse(&dir.path().join("p.toml"), &main(&entry("dup"))).unwrap_err().to_string();
    assert!(err.contains("same sha256"), "{err}");
    std::fs::write(dir.path().join("keys.toml"), format!("[server]\nlisten = \"0.0.0.0:1\"\n{}", entry("ci"))).unwrap();
    let err = Config::parse(&dir.path().join("p.toml"), &main("")).unwrap_err().to_string();
    assert!(err.contains("only [[api_key]]"), "{err}");
    std::fs::remove_file(dir.path().join("keys.toml")).unwrap();
    assert!(Config::parse(&dir.path().join("p.toml"), &main("")).unwrap_err().to_string().contains("keys.toml"));
}
