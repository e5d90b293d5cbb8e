//! The daemon and CLI configuration file: syntax (what the user wrote) → validated [`Config`].
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"
//! max_body_bytes = 1048576
//! [[api_key]]
//! name = "pipeline"
//! sha256 = "<hex sha-256 of the key>"
//! scopes = ["scan", "restore"]
//! [policy.strict.input]
//! block = { injection = 0.6 }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::policy::{Category, Direction, DirectionPolicy, Policy};
use crate::vault::VaultLimits;

/// A configuration problem, located in its file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    server: ServerSyntax,
    #[serde(default)]
    api_key: Vec<ApiKeySyntax>,
    #[serde(default)]
    packs: PacksSyntax,
    #[serde(default)]
    model: ModelSyntax,
    #[serde(default)]
    mask: MaskSyntax,
    #[serde(default)]
    vault: VaultSyntax,
    #[serde(default)]
    policy: BTreeMap<String, toml::Spanned<PolicySyntax>>,
    #[serde(default)]
    extproc: ExtProcSyntax,
}

/// `[extproc]`: the Envoy external-processor listener (docs/envoy.md).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExtProcSyntax {
    listen: Option<toml::Spanned<String>>,
    policy: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServerSyntax {
    listen: Option<toml::Spanned<String>>,
    max_body_bytes: Option<usize>,
    max_text_bytes: Option<usize>,
    timeout_ms: Option<u64>,
    max_concurrency: Option<usize>,
    max_batch_items: Option<usize>,
    header_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    shutdown_grace_ms: Option<u64>,
    tls: Option<TlsSyntax>,
    watch_packs: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSyntax {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeySyntax {
    name: String,
    tenant: Option<String>,
    sha256: toml::Spanned<String>,
    #[serde(default = "default_scopes")]
    scopes: Vec<toml::Spanned<String>>,
}

fn default_scopes() -> Vec<toml::Spanned<String>> {
    vec![toml::Spanned::new(0..0, "scan".to_string())]
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PacksSyntax {
    #[serde(default)]
    dirs: Vec<PathBuf>,
    builtin: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ModelSyntax {
    enabled: Option<bool>,
    dir: Option<PathBuf>,
    ort_dylib: Option<PathBuf>,
    threads: Option<usize>,
    max_windows: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MaskSyntax {
    hash_key_env: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VaultSyntax {
    max_sessions: Option<usize>,
    max_entries: Option<usize>,
    max_bytes: Option<usize>,
    ttl_secs: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicySyntax {
    #[serde(default)]
    shadow: bool,
    #[serde(default)]
    include_values: bool,
    input: Option<DirectionSyntax>,
    context: Option<DirectionSyntax>,
    output: Option<DirectionSyntax>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DirectionSyntax {
    /// Category → threshold; a negative or > 1 value disables blocking for that category.
    #[serde(default)]
    block: BTreeMap<String, f32>,
    min_score: Option<f32>,
}

/// A scope an API key may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Scan,
    Restore,
    Admin,
}

/// A validated API key: only its SHA-256 is kept.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub name: String,
    pub tenant: String,
    pub sha256: [u8; 32],
    pub scopes: Vec<Scope>,
}

/// TLS settings (PEM files).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Require client certificates signed by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// Limits the daemon enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_text_bytes: usize,
    pub timeout: Duration,
    pub max_concurrency: usize,
    pub max_batch_items: usize,
    /// Time a client has to send a request head; also the longest idle keep-alive.
    pub header_timeout: Duration,
    /// Open connections; more are closed on accept (before auth).
    pub max_connections: usize,
    /// How long shutdown waits for open connections before closing them.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 << 20,
            max_text_bytes: 4 << 20,
            timeout: Duration::from_secs(10),
            max_concurrency: 64,
            max_batch_items: 256,
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub limits: Limits,
    pub tls: Option<TlsConfig>,
    pub api_keys: Vec<ApiKey>,
    pub pack_dirs: Vec<PathBuf>,
    pub builtin_packs: bool,
    pub watch_packs: bool,
    pub model_enabled: bool,
    pub model_dir: Option<PathBuf>,
    pub ort_dylib: Option<PathBuf>,
    pub model_threads: usize,
    /// Most classifier windows per text (0: no limit); the report says when it was reached.
    pub model_max_windows: usize,
    pub hash_key: Option<Vec<u8>>,
    pub vault: VaultLimits,
    pub policies: Vec<Policy>,
    /// Where the Envoy ext_proc gRPC server listens; off when absent.
    pub extproc_listen: Option<SocketAddr>,
    /// The policy requests through Envoy are scanned under (`default` when absent).
    pub extproc_policy: Option<String>,
}

/// Where `picket serve` listens with no configuration.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("static address"),
            limits: Limits::default(),
            tls: None,
            api_keys: Vec::new(),
            pack_dirs: Vec::new(),
            builtin_packs: true,
            watch_packs: false,
            model_enabled: true,
            model_dir: None,
            ort_dylib: None,
            model_threads: 1,
            model_max_windows: 64,
            hash_key: None,
            vault: VaultLimits::default(),
            policies: Vec::new(),
            extproc_listen: None,
            extproc_policy: None,
        }
    }
}

impl Config {
    /// Read and validate a config file. Relative paths inside it are relative to the file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        Config::parse(path, &text)
    }

    /// Validate config text; `path` names it in errors and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let invalid = |offset: usize, message: String| {
            let before = &text[..offset.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            ConfigError::Invalid { path: path.to_path_buf(), line, column, message }
        };
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| invalid(e.span().map_or(0, |s| s.start), e.message().trim().to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let mut config = Config::default();

        if let Some(listen) = &file.server.listen {
            config.listen =
                listen.get_ref().parse().map_err(|e| invalid(listen.span().start, format!("server.listen: {e} (expected IP:PORT)")))?;
        }
        let l = &mut config.limits;
        let s = &file.server;
        l.max_body_bytes = s.max_body_bytes.unwrap_or(l.max_body_bytes);
        l.max_text_bytes = s.max_text_bytes.unwrap_or(l.max_text_bytes);
        l.timeout = s.timeout_ms.map_or(l.timeout, Duration::from_millis);
        l.max_concurrency = s.max_concurrency.unwrap_or(l.max_concurrency).max(1);
        l.header_timeout = s.header_timeout_ms.map_or(l.header_timeout, Duration::from_millis).max(Duration::from_millis(1));
        l.max_connections = s.max_connections.unwrap_or(l.max_connections).max(1);
        l.shutdown_grace = s.shutdown_grace_ms.map_or(l.shutdown_grace, Duration::from_millis);
        l.max_batch_items = s.max_batch_items.unwrap_or(l.max_batch_items).max(1);
        config.watch_packs = s.watch_packs.unwrap_or(false);
        config.tls = file.server.tls.map(|t| TlsConfig { cert: rel(t.cert), key: rel(t.key), client_ca: t.client_ca.map(rel) });

        let mut seen: std::collections::HashMap<[u8; 32], String> = std::collections::HashMap::new();
        for k in file.api_key {
            let hash = hex::decode(k.sha256.get_ref().trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| invalid(k.sha256.span().start, format!("api_key {:?}: sha256 must be 64 hex characters", k.name)))?;
            // One key, two entries: only one could ever match, silently (issue 10).
            if let Some(first) = seen.insert(hash, k.name.clone()) {
                return Err(invalid(
                    k.sha256.span().start,
                    format!("api_key {:?}: same sha256 as api_key {first:?}; each entry needs its own key (remove or rotate one)", k.name),
                ));
            }
            let mut scopes = Vec::new();
            for s in &k.scopes {
                scopes.push(match s.get_ref().as_str() {
                    "scan" => Scope::Scan,
                    "restore" => Scope::Restore,
                    "admin" => Scope::Admin,
                    other => {
                        return Err(invalid(
                            s.span().start,
                            format!("api_key {:?}: unknown scope {other:?} (expected scan, restore or admin)", k.name),
                        ))
                    }
                });
            }
            config.api_keys.push(ApiKey { tenant: k.tenant.unwrap_or_else(|| k.name.clone()), name: k.name, sha256: hash, scopes });
        }

        config.pack_dirs = file.packs.dirs.into_iter().map(rel).collect();
        config.builtin_packs = file.packs.builtin.unwrap_or(true);
        config.model_enabled = file.model.enabled.unwrap_or(true);
        config.model_dir = file.model.dir.map(rel);
        config.ort_dylib = file.model.ort_dylib.map(rel);
        config.model_threads = file.model.threads.unwrap_or(1).max(1);
        config.model_max_windows = file.model.max_windows.unwrap_or(config.model_max_windows);
        if let Some(var) = file.mask.hash_key_env {
            config.hash_key = std::env::var(&var).ok().map(String::into_bytes);
        }
        let v = &mut config.vault;
        v.max_sessions = file.vault.max_sessions.unwrap_or(v.max_sessions);
        v.max_entries = file.vault.max_entries.unwrap_or(v.max_entries);
        v.max_bytes = file.vault.max_bytes.unwrap_or(v.max_bytes);
        v.ttl = file.vault.ttl_secs.map_or(v.ttl, Duration::from_secs);

        if let Some(listen) = &file.extproc.listen {
            let addr =
                listen.get_ref().parse().map_err(|e| invalid(listen.span().start, format!("extproc.listen: {e} (expected IP:PORT)")))?;
            config.extproc_listen = Some(addr);
        }
        config.extproc_policy = file.extproc.policy;
        for (name, p) in file.policy {
            let at = p.span().start;
            config.policies.push(build_policy(name, p.into_inner()).map_err(|m| invalid(at, m))?);
        }
        Ok(config)
    }
}

/// A named policy: the default policy with the file's settings on top.
fn build_policy(name: String, p: PolicySyntax) -> Result<Policy, String> {
    let mut policy = Policy::default_policy();
    policy.name = name;
    policy.shadow = p.shadow;
    policy.include_values = p.include_values;
    for (direction, d) in [(Direction::Input, p.input), (Direction::Context, p.context), (Direction::Output, p.output)] {
        let Some(d) = d else { continue };
        let target: &mut DirectionPolicy = &mut policy.directions[direction.index()];
        for (category, threshold) in d.block {
            let category: Category = category.parse().map_err(|e| format!("policy {:?}.{direction}: {e}", policy.name))?;
            if (0.0..=1.0).contains(&threshold) {
                target.block.insert(category, threshold);
            } else {
                target.block.remove(&category);
            }
        }
        if let Some(m) = d.min_score {
            target.min_score = m;
        }
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_policies_and_keys() {
        let text = r#"
[server]
listen = "0.0.0.0:9000"
[[api_key]]
name = "ci"
sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
scopes = ["scan", "admin"]
[policy.strict]
shadow = true
[policy.strict.input]
block = { injection = 0.5, evasion = -1 }
"#;
        let c = Config::parse(Path::new("picket.toml"), text).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.api_keys[0].scopes, vec![Scope::Scan, Scope::Admin]);
        let strict = &c.policies[0];
        assert!(strict.shadow);
        assert_eq!(strict.direction(Direction::Input).block.get(&Category::Injection), Some(&0.5));
        assert!(!strict.direction(Direction::Input).block.contains_key(&Category::Evasion));
    }

    #[test]
    fn errors_name_line_and_key() {
        let err = Config::parse(Path::new("p.toml"), "[server]\nlisten = \"nope\"\n").unwrap_err().to_string();
        assert!(err.starts_with("p.toml:2:"), "{err}");
        assert!(err.contains("server.listen"), "{err}");
        let err = Config::parse(Path::new("p.toml"), "[server]\nlisen = 1\n").unwrap_err().to_string();
        assert!(err.contains("p.toml:2") && err.contains("lisen"), "{err}");
    }

    /// Issue 10: a duplicate key hash silently kept the last entry (its tenant and scopes).
    #[test]
    fn duplicate_key_hashes_are_refused_with_their_line() {
        let key = |name: &str| {
            format!("[[api_key]]\nname = \"{name}\"\nsha256 = \"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"\nscopes = [\"scan\"]\n")
        };
        let text = format!("{}{}", key("ci"), key("ops"));
        let err = Config::parse(Path::new("p.toml"), &text).unwrap_err().to_string();
        assert!(err.starts_with("p.toml:7:"), "{err}");
        assert!(err.contains("\"ops\"") && err.contains("\"ci\"") && err.contains("same sha256"), "{err}");
    }

    #[test]
    fn server_connection_limits_parse() {
        let text = "[server]\nheader_timeout_ms = 250\nmax_connections = 7\nshutdown_grace_ms = 1500\n[vault]\nmax_bytes = 4096\n";
        let c = Config::parse(Path::new("p.toml"), text).unwrap();
        assert_eq!(c.limits.header_timeout, Duration::from_millis(250));
        assert_eq!(c.limits.max_connections, 7);
        assert_eq!(c.limits.shutdown_grace, Duration::from_millis(1500));
        assert_eq!(c.vault.max_bytes, 4096);
    }

    #[test]
    fn extproc_section_parses() {
        let c = Config::parse(Path::new("p.toml"), "[extproc]\nlisten = \"127.0.0.1:9091\"\npolicy = \"strict\"\n").unwrap();
        assert_eq!(c.extproc_listen, Some("127.0.0.1:9091".parse().unwrap()));
        assert_eq!(c.extproc_policy.as_deref(), Some("strict"));
        let err = Config::parse(Path::new("p.toml"), "[extproc]\nlisten = \"nope\"\n").unwrap_err().to_string();
        assert!(err.starts_with("p.toml:2:") && err.contains("extproc.listen"), "{err}");
    }
}
