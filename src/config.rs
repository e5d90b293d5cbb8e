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

mod ops;
pub use ops::{AuditTarget, RateLimit, RateLimits};
mod telemetry;
pub use telemetry::TelemetryConfig;

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
    rate_limit: Option<ops::RateLimitSyntax>,
    #[serde(default)]
    audit: Option<ops::AuditSyntax>,
    jwt: Option<toml::Spanned<JwtSyntax>>,
    #[serde(default)]
    client_identity: Vec<toml::Spanned<ClientIdentitySyntax>>,
    #[serde(default)]
    extproc: ExtProcSyntax,
    telemetry: Option<telemetry::TelemetrySyntax>,
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
    credential_reload_ms: Option<u64>,
    api_keys_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSyntax {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
    client_cert: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtSyntax {
    jwks: PathBuf,
    issuer: String,
    audience: String,
    tenant_claim: Option<String>,
    scope_claim: Option<String>,
    leeway_secs: Option<u64>,
    max_lifetime_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientIdentitySyntax {
    name: String,
    tenant: Option<String>,
    uri_san: Option<String>,
    subject_cn: Option<String>,
    #[serde(default = "default_scopes")]
    scopes: Vec<toml::Spanned<String>>,
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
    /// `memory` (default) or `nats` (docs/scale-out.md).
    backend: Option<String>,
    nats_url: Option<String>,
    bucket: Option<String>,
    /// Environment variable holding the secret every replica seals sessions with.
    key_env: Option<String>,
    /// Bytes the NATS bucket may hold, all tenants together.
    nats_max_bytes: Option<i64>,
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

/// Identity beyond static API keys (issue 15): short-lived JWT bearer tokens and mTLS client
/// certificates, each mapped to a tenant and scopes.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// Accept JWT bearer tokens verified against a JWKS file.
    pub jwt: Option<JwtConfig>,
    /// Client certificate identities (needs `server.tls.client_ca`).
    pub clients: Vec<ClientIdentity>,
    /// With a client CA: also accept TLS clients without a certificate (they then need a bearer
    /// credential on every request).
    pub client_cert_optional: bool,
    /// How often the certificate, key, client CA bundle and JWKS files are checked for changes.
    pub reload_every: Duration,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig { jwt: None, clients: Vec::new(), client_cert_optional: false, reload_every: Duration::from_secs(5) }
    }
}

/// How JWT bearer tokens are verified.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// A JWKS document (RS256, ES256 and EdDSA keys are used; others are skipped).
    pub jwks: PathBuf,
    /// The required `iss`.
    pub issuer: String,
    /// The required `aud` (one of the token's audiences).
    pub audience: String,
    /// The claim holding the tenant (default `tenant`).
    pub tenant_claim: String,
    /// The claim holding the scopes: a space-separated string or an array (default `scope`).
    pub scope_claim: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Longest accepted lifetime, `exp` minus `iat` (or `nbf`): tokens must be short-lived.
    pub max_lifetime: Duration,
}

/// How a verified client certificate is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMatch {
    /// A URI subject alternative name, e.g. a SPIFFE ID `spiffe://example.org/ns/a/sa/b`.
    UriSan(String),
    /// The subject's common name.
    SubjectCn(String),
}

/// A client certificate identity: who it is, its tenant and scopes.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub name: String,
    pub tenant: String,
    pub matches: ClientMatch,
    pub scopes: Vec<Scope>,
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
    /// `[rate_limit]`: token buckets per (route, tenant, key).
    pub rate_limits: RateLimits,
    /// `[audit]`: where one JSON line per decision goes.
    pub audit: Option<AuditTarget>,
    /// JWT and mTLS identities (issue 15).
    pub identity: IdentityConfig,
    /// Where reversible-token sessions live.
    pub vault_backend: VaultBackend,
    /// Where the Envoy ext_proc gRPC server listens; off when absent.
    pub extproc_listen: Option<SocketAddr>,
    /// The policy requests through Envoy are scanned under (`default` when absent).
    pub extproc_policy: Option<String>,
    /// `[telemetry]`: OpenTelemetry traces over OTLP; off when absent.
    pub telemetry: Option<TelemetryConfig>,
}

/// `[vault] backend`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum VaultBackend {
    /// In this process (sessions are lost on restart and not shared by replicas).
    #[default]
    Memory,
    /// In a JetStream key-value bucket shared by every replica.
    Nats(crate::nats::vault::NatsVaultConfig),
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
            rate_limits: RateLimits::default(),
            audit: None,
            identity: IdentityConfig::default(),
            vault_backend: VaultBackend::Memory,
            extproc_listen: None,
            extproc_policy: None,
            telemetry: None,
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
        let client_cert = file.server.tls.as_ref().and_then(|t| t.client_cert.clone());
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
        let at_vault = text.find("[vault]").unwrap_or(0);
        config.vault_backend = match file.vault.backend.as_deref() {
            None | Some("memory") => VaultBackend::Memory,
            Some("nats") => {
                let url = file.vault.nats_url.clone().unwrap_or_else(|| "nats://127.0.0.1:4222".into());
                let var = file.vault.key_env.clone().ok_or_else(|| {
                    invalid(
                        at_vault,
                        "[vault] backend = \"nats\" needs key_env: the variable holding the secret every replica shares".into(),
                    )
                })?;
                let secret =
                    std::env::var(&var).map_err(|_| invalid(at_vault, format!("[vault] key_env: the variable {var} is not set")))?;
                if secret.len() < 16 {
                    return Err(invalid(at_vault, format!("[vault] key_env: {var} must hold at least 16 bytes")));
                }
                VaultBackend::Nats(crate::nats::vault::NatsVaultConfig {
                    url,
                    bucket: file.vault.bucket.clone().unwrap_or_else(|| "picket_vault".into()),
                    secret: secret.into_bytes(),
                    max_bytes: file.vault.nats_max_bytes.unwrap_or(1 << 30),
                })
            }
            Some(other) => return Err(invalid(at_vault, format!("[vault] backend {other:?}: expected memory or nats"))),
        };

        if let Some(keys) = file.server.api_keys_file.map(rel) {
            load_api_keys_file(&mut config, &keys)?;
        }
        parse_identity(&mut config, file.jwt, file.client_identity, client_cert, &invalid, &rel)?;
        if let Some(ms) = file.server.credential_reload_ms {
            config.identity.reload_every = Duration::from_millis(ms.max(10));
        }

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
        config.rate_limits = ops::rate_limits(file.rate_limit).map_err(|(at, m)| invalid(at, m))?;
        config.audit = ops::audit(file.audit, rel);
        config.telemetry = telemetry::telemetry(file.telemetry).map_err(|(at, m)| invalid(at, m))?;
        Ok(config)
    }
}

impl Config {
    /// True when callers must authenticate: API keys, JWT or client identities are configured.
    pub fn auth_configured(&self) -> bool {
        !self.api_keys.is_empty() || self.identity.jwt.is_some() || !self.identity.clients.is_empty()
    }
}

impl Scope {
    /// The scope a wire name (`scan`, `restore`, `admin`) stands for.
    pub fn from_name(name: &str) -> Option<Scope> {
        match name {
            "scan" => Some(Scope::Scan),
            "restore" => Some(Scope::Restore),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// `server.api_keys_file`: a second file holding only `[[api_key]]` entries (a Kubernetes Secret
/// beside a ConfigMap), validated like the main file's and merged with them.
fn load_api_keys_file(config: &mut Config, path: &Path) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
        message: e.message().trim().to_string(),
    })?;
    if let Some(other) = table.keys().find(|k| k.as_str() != "api_key") {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("an API keys file holds only [[api_key]] entries, not {other:?}"),
        });
    }
    let keys = Config::parse(path, &text)?.api_keys;
    for k in keys {
        if let Some(first) = config.api_keys.iter().find(|o| o.sha256 == k.sha256) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                message: format!("api_key {:?}: same sha256 as api_key {:?}; each entry needs its own key", k.name, first.name),
            });
        }
        config.api_keys.push(k);
    }
    Ok(())
}

/// `[jwt]`, `[[client_identity]]` and `server.tls.client_cert` into `config.identity`.
fn parse_identity(
    config: &mut Config,
    jwt: Option<toml::Spanned<JwtSyntax>>,
    clients: Vec<toml::Spanned<ClientIdentitySyntax>>,
    client_cert: Option<toml::Spanned<String>>,
    invalid: &dyn Fn(usize, String) -> ConfigError,
    rel: &dyn Fn(PathBuf) -> PathBuf,
) -> Result<(), ConfigError> {
    if let Some(mode) = client_cert {
        config.identity.client_cert_optional = match mode.get_ref().as_str() {
            "required" => false,
            "optional" => true,
            other => return Err(invalid(mode.span().start, format!("server.tls.client_cert: {other:?} (expected required or optional)"))),
        };
    }
    if let Some(j) = jwt {
        let at = j.span().start;
        let j = j.into_inner();
        if j.issuer.trim().is_empty() || j.audience.trim().is_empty() {
            return Err(invalid(at, "jwt: issuer and audience must not be empty (both are enforced)".into()));
        }
        let max_lifetime = j.max_lifetime_secs.unwrap_or(3600);
        if max_lifetime == 0 {
            return Err(invalid(at, "jwt.max_lifetime_secs must be at least 1".into()));
        }
        config.identity.jwt = Some(JwtConfig {
            jwks: rel(j.jwks),
            issuer: j.issuer,
            audience: j.audience,
            tenant_claim: j.tenant_claim.unwrap_or_else(|| "tenant".into()),
            scope_claim: j.scope_claim.unwrap_or_else(|| "scope".into()),
            leeway: Duration::from_secs(j.leeway_secs.unwrap_or(30)),
            max_lifetime: Duration::from_secs(max_lifetime),
        });
    }
    for c in clients {
        let at = c.span().start;
        let c = c.into_inner();
        if config.tls.as_ref().and_then(|t| t.client_ca.as_ref()).is_none() {
            return Err(invalid(
                at,
                format!("client_identity {:?}: needs server.tls.client_ca (client certificates are only trusted when verified)", c.name),
            ));
        }
        let matches = match (c.uri_san, c.subject_cn) {
            (Some(uri), None) if !uri.is_empty() => ClientMatch::UriSan(uri),
            (None, Some(cn)) if !cn.is_empty() => ClientMatch::SubjectCn(cn),
            _ => return Err(invalid(at, format!("client_identity {:?}: set exactly one of uri_san or subject_cn", c.name))),
        };
        if let Some(first) = config.identity.clients.iter().find(|o| o.matches == matches) {
            return Err(invalid(at, format!("client_identity {:?}: same certificate match as {:?}", c.name, first.name)));
        }
        let mut scopes = Vec::new();
        for s in &c.scopes {
            scopes.push(Scope::from_name(s.get_ref()).ok_or_else(|| {
                invalid(
                    s.span().start,
                    format!("client_identity {:?}: unknown scope {:?} (expected scan, restore or admin)", c.name, s.get_ref()),
                )
            })?);
        }
        config.identity.clients.push(ClientIdentity { tenant: c.tenant.unwrap_or_else(|| c.name.clone()), name: c.name, matches, scopes });
    }
    Ok(())
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
