//! The HTTP daemon behind `picket serve` (DESIGN §3): axum on tokio, optional TLS.
//!
//! [`router`] builds the whole application from an [`AppState`]; `main` and the integration
//! tests both call it, and [`serve`] runs it on a listener until a shutdown future resolves,
//! letting in-flight requests finish.
//!
//! Layers, outermost first:
//!
//! 1. `observe` (every route): request id (`x-request-id` accepted or generated, echoed), one
//!    tracing span per request (method, matched route, request id; handlers add direction,
//!    decision, finding count — never text, values or keys; with `[telemetry]` it joins the
//!    caller's W3C `traceparent`, see [`crate::telemetry`]), in-flight gauge, rejection counts,
//!    one log line (server errors at `error`, client errors at `info`, the rest at `debug`).
//! 2. Body limit (`DefaultBodyLimit`, enforced by [`error::ApiJson`] → 413).
//! 3. On the scanning routes: per-request timeout (→ 503 `timeout`).
//! 4. Auth ([`auth::require`]) per route: 401 / 403. It runs *outside* the concurrency limit, so
//!    unauthenticated traffic can never take a permit from real callers.
//! 5. On the scanning routes: concurrency limit with load shedding (→ 429 + `Retry-After`); the
//!    permit travels into the blocking task, so a request that timed out still counts until its
//!    scan really ends.
//!
//! Scans run on the blocking pool (`spawn_blocking`), and so does serializing their reports;
//! async workers only move bytes, so `/healthz` answers while every permit is busy.

pub mod audit;
pub mod auth;
mod conn;
pub mod error;
mod handlers;
pub mod jwt;
pub mod metrics;
pub mod mtls;
mod process;
pub mod proxy;
pub mod ratelimit;
mod rotate;
pub mod tls;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::field::Empty;
use tracing::Instrument as _;

use crate::config::{ApiKey, Config, IdentityConfig, Limits, Scope, TlsConfig};
use crate::engine::Engine;
use crate::pack::{CompiledPacks, PackError};

pub use auth::{check_exposure, ExposedWithoutAuth, Need, Principal};
pub use error::ApiError;
pub use metrics::Metrics;

/// Every route the daemon serves, as (method, path). The OpenAPI document must list each.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/scan"),
    ("POST", "/v1/scan/batch"),
    ("POST", "/v1/restore"),
    ("GET", "/v1/packs"),
    ("POST", "/v1/admin/reload"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/chat/completions"),
];

/// The OpenAPI 3.1 document served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A non-loopback address without API keys.
    #[error(transparent)]
    Exposed(#[from] ExposedWithoutAuth),
    /// TLS certificates or keys are unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The JWKS file is unusable.
    #[error(transparent)]
    Jwks(#[from] jwt::JwksError),
    /// Binding or serving failed.
    #[error("server I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The audit file cannot be opened for appending.
    #[error("cannot open the audit file {path}: {source}")]
    Audit { path: PathBuf, source: std::io::Error },
}

/// Why a reload did not swap in new packs (the previous packs keep serving either way).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The packs could not be read or compiled.
    #[error(transparent)]
    Packs(#[from] PackError),
    /// The reload task panicked (a bug).
    #[error("the reload task crashed")]
    Crashed,
}

/// Server settings that are not the engine's.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Body size, text size, timeout, concurrency and batch limits.
    pub limits: Limits,
    /// Accepted API keys; empty turns auth off (loopback only).
    pub api_keys: Vec<ApiKey>,
    /// Serve HTTPS with these PEM files.
    pub tls: Option<TlsConfig>,
    /// The config enables the classifier: `/readyz` waits for it.
    pub classifier_required: bool,
    /// Token buckets per (route, tenant, key); empty: no rate limit.
    pub rate_limits: crate::config::RateLimits,
    /// Where the audit stream goes; `None`: no audit stream.
    pub audit: Option<crate::config::AuditTarget>,
    /// JWT bearer tokens, mTLS client identities and how often credentials are re-read.
    pub identity: IdentityConfig,
    /// Proxy mode (`serve --upstream URL`): `POST /v1/chat/completions` forwards here.
    pub upstream: Option<proxy::Upstream>,
}

impl ServerOptions {
    /// The server part of a validated config.
    pub fn from_config(config: &Config) -> ServerOptions {
        ServerOptions {
            limits: config.limits.clone(),
            api_keys: config.api_keys.clone(),
            tls: config.tls.clone(),
            classifier_required: config.model_enabled,
            rate_limits: config.rate_limits.clone(),
            audit: config.audit.clone(),
            identity: config.identity.clone(),
            upstream: None,
        }
    }
}

/// Shared state of every handler: the engine and the server's own bookkeeping. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    engine: Arc<Engine>,
    limits: Limits,
    auth: auth::Auth,
    metrics: Metrics,
    permits: Arc<Semaphore>,
    reload_lock: tokio::sync::Mutex<()>,
    classifier_required: bool,
    rate_limiter: Option<ratelimit::RateLimiter>,
    audit: Option<audit::Audit>,
    tls: Option<tls::SharedTlsConfig>,
    /// What `rotate` watches: the TLS files (with the optional-client-cert flag) and the JWT config.
    rotation: (Option<(TlsConfig, bool)>, Option<crate::config::JwtConfig>, Duration),
    credential_reloads: AtomicU64,
    upstream: Option<proxy::Upstream>,
}

impl AppState {
    /// Build the state; loads TLS material when configured.
    pub fn new(engine: Arc<Engine>, options: ServerOptions) -> Result<AppState, ServeError> {
        let audit = match &options.audit {
            Some(target) => Some(audit::Audit::open(target).map_err(|source| ServeError::Audit {
                path: match target {
                    crate::config::AuditTarget::File(p) => p.clone(),
                    crate::config::AuditTarget::Stdout => PathBuf::from("-"),
                },
                source,
            })?),
            None => None,
        };
        let rate_limiter = options.rate_limits.enabled().then(|| ratelimit::RateLimiter::new(options.rate_limits.clone()));
        let optional = options.identity.client_cert_optional;
        let tls = options.tls.as_ref().map(|t| tls::server_config_with(t, optional)).transpose()?;
        let jwt = options.identity.jwt.as_ref().map(jwt::JwtVerifier::load).transpose()?;
        let auth = auth::Auth::with_identity(&options.api_keys, jwt, &options.identity.clients);
        let rotation = (options.tls.clone().map(|t| (t, optional)), options.identity.jwt.clone(), options.identity.reload_every);
        Ok(AppState(Arc::new(Inner {
            rate_limiter,
            audit,
            engine,
            permits: Arc::new(Semaphore::new(options.limits.max_concurrency.max(1))),
            limits: options.limits,
            auth,
            metrics: Metrics::default(),
            reload_lock: tokio::sync::Mutex::new(()),
            classifier_required: options.classifier_required,
            tls: tls.map(|c| Arc::new(arc_swap::ArcSwap::new(c))),
            rotation,
            credential_reloads: AtomicU64::new(0),
            upstream: options.upstream,
        })))
    }

    /// How many times rotated credentials (TLS files, JWKS) went live since start.
    pub fn credential_reloads(&self) -> u64 {
        self.0.credential_reloads.load(Ordering::Relaxed)
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.0.engine
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    /// The key table.
    pub fn auth(&self) -> &auth::Auth {
        &self.0.auth
    }

    /// The semaphore behind the concurrency limit (`limits.max_concurrency` permits). Holding
    /// permits makes the scanning routes shed load (tests use this to force a 429).
    pub fn concurrency(&self) -> &Arc<Semaphore> {
        &self.0.permits
    }

    /// The rate limiter, when `[rate_limit]` is configured.
    pub fn rate_limiter(&self) -> Option<&ratelimit::RateLimiter> {
        self.0.rate_limiter.as_ref()
    }

    /// The audit stream, when `[audit]` is configured.
    pub fn audit(&self) -> Option<&audit::Audit> {
        self.0.audit.as_ref()
    }

    /// The proxy's upstream, in proxy mode.
    pub fn upstream(&self) -> Option<&proxy::Upstream> {
        self.0.upstream.as_ref()
    }

    /// True when TLS is configured.
    pub fn tls_enabled(&self) -> bool {
        self.0.tls.is_some()
    }

    /// Recompile the packs off to the side and swap them in on success. Reloads are serialized
    /// (SIGHUP, the admin endpoint and the pack watcher may race); `trigger` goes to the log.
    pub async fn reload(&self, trigger: &'static str) -> Result<Arc<CompiledPacks>, ReloadError> {
        let _one_at_a_time = self.0.reload_lock.lock().await;
        let engine = self.0.engine.clone();
        let result = match tokio::task::spawn_blocking(move || engine.reload()).await {
            Ok(r) => r.map_err(ReloadError::Packs),
            Err(_) => Err(ReloadError::Crashed),
        };
        self.0.metrics.record_reload(result.is_ok());
        match &result {
            Ok(packs) => tracing::info!(trigger, fingerprint = %packs.fingerprint, rules = packs.rules.len(), "packs reloaded"),
            Err(e) => tracing::warn!(trigger, error = %e, "pack reload failed; the previous packs keep serving"),
        }
        result
    }
}

/// A concurrency permit, carried from the load-shedding layer into the blocking task.
#[derive(Clone)]
pub(crate) struct Permit(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

/// The application: every route and layer, ready to serve.
pub fn router(state: AppState) -> Router {
    let guarded = |route: MethodRouter<AppState>, need: Need, limited: bool| {
        let route = if limited { route.layer(from_fn_with_state(state.clone(), shed)) } else { route };
        let route = route.layer(from_fn_with_state(state.clone(), ratelimit::limit));
        route.layer(from_fn_with_state((state.clone(), need), auth::require))
    };
    let scanning = Router::new()
        .route("/v1/scan", guarded(post(handlers::scan), Need::Scope(Scope::Scan), true))
        .route("/v1/scan/batch", guarded(post(handlers::scan_batch), Need::Scope(Scope::Scan), true))
        .route("/v1/restore", guarded(post(handlers::restore), Need::Scope(Scope::Restore), true))
        .route_layer(from_fn_with_state(state.clone(), deadline));
    Router::new()
        .merge(scanning)
        .route("/v1/packs", guarded(get(handlers::packs), Need::AnyKey, false))
        .route("/v1/admin/reload", guarded(post(handlers::reload), Need::Scope(Scope::Admin), false))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .route("/openapi.json", get(handlers::openapi))
        .route("/v1/chat/completions", post(proxy::chat_completions))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(state.limits().max_body_bytes))
        .layer(from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Serve `state` on `listener` (HTTPS when the state has TLS) until `shutdown` resolves, then stop
/// accepting, let in-flight requests finish and close idle connections; connections still open
/// after `limits.shutdown_grace` are closed. At most `limits.max_connections` are open at once
/// (more are closed on accept, before auth); a request head must arrive within
/// `limits.header_timeout`, which also bounds the idle time of keep-alive connections.
///
/// Refuses a non-loopback listener when no API keys are configured.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> Result<(), ServeError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr()?;
    check_exposure(addr, state.auth().enabled())?;
    let app = router(state.clone());
    let l = state.limits();
    let limits = conn::ConnLimits {
        header_timeout: l.header_timeout,
        max_connections: l.max_connections,
        shutdown_grace: l.shutdown_grace,
        handshake_timeout: tls::HANDSHAKE_TIMEOUT.min(l.header_timeout.max(Duration::from_secs(1))),
    };
    let counter = state.clone();
    let on_refused = move || counter.metrics().record_rejection("too_many_connections");
    let (tls_files, jwt, every) = state.0.rotation.clone();
    let watcher = (tls_files.is_some() || jwt.is_some()).then(|| tokio::spawn(rotate::watch(state.clone(), tls_files, jwt, every)));
    let served = conn::serve(listener, state.0.tls.clone(), app, limits, on_refused, shutdown).await;
    if let Some(w) = watcher {
        w.abort();
    }
    served?;
    Ok(())
}

/// Poll the pack paths' modification times every `every` and reload when anything changed
/// (a file added, removed, rewritten). Runs until the task is dropped.
pub async fn watch_packs(state: AppState, paths: Vec<PathBuf>, every: Duration) {
    let stamp = move || {
        let paths = paths.clone();
        tokio::task::spawn_blocking(move || pack_stamp(&paths))
    };
    let mut last = stamp().await.ok();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = stamp().await.ok();
        if now != last {
            last = now;
            let _ = state.reload("watch").await;
        }
    }
}

/// (path, mtime, length) of every pack path and of every `*.toml` file inside folder paths.
fn pack_stamp(paths: &[PathBuf]) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    let mut out = Vec::new();
    let mut add = |p: PathBuf| {
        let meta = std::fs::metadata(&p).ok();
        out.push((p, meta.as_ref().and_then(|m| m.modified().ok()), meta.map_or(0, |m| m.len())));
    };
    for path in paths {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(path) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "toml") {
                        add(p);
                    }
                }
            }
        }
        add(path.clone());
    }
    out.sort();
    out
}

// ------------------------------------------------------------------------------------ layers

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request id, span, in-flight gauge, rejection counting and the one log line per request.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id(req.headers());
    // A fixed route name (never the raw path): bounded log fields and metric labels.
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| route_name(p.as_str()));
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        request_id = request_id.to_str().unwrap_or(""),
        key = Empty,
        direction = Empty,
        decision = Empty,
        findings = Empty,
        items = Empty,
        status = Empty,
        latency_us = Empty,
        otel.kind = "server",
        otel.status_code = Empty,
    );
    // With `[telemetry]`: the caller's W3C traceparent becomes this span's parent.
    crate::telemetry::adopt_parent(&span, req.headers());
    let in_flight = state.metrics().request_started();
    let mut req = req;
    req.extensions_mut().insert(RequestId(request_id.to_str().unwrap_or("").into()));
    let mut response = next.run(req).instrument(span.clone()).await;
    drop(in_flight);

    let status = response.status();
    let elapsed = started.elapsed();
    // Signed: OpenTelemetry attributes are i64 (an unsigned one would be exported as a string).
    span.record("status", i64::from(status.as_u16()));
    span.record("latency_us", elapsed.as_micros() as i64);
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    state.metrics().record_http(route, status.as_u16(), elapsed);
    let code = response.extensions().get::<error::ErrorCode>().map(|c| c.0);
    if let Some(code) = code {
        state.metrics().record_rejection(code);
    }
    span.in_scope(|| {
        let code = code.unwrap_or("");
        if status.is_server_error() && code != "overloaded" && code != "timeout" {
            tracing::error!(code, "request failed");
        } else if status.is_client_error() && status.as_u16() != 429 {
            tracing::info!(code, "request rejected");
        } else {
            tracing::debug!(code, "request served");
        }
    });
    response.headers_mut().insert(X_REQUEST_ID.clone(), request_id);
    response
}

/// `path` as one of [`ROUTES`], or `unmatched`.
fn route_name(path: &str) -> &'static str {
    ROUTES.iter().map(|(_, p)| *p).find(|p| *p == path).unwrap_or("unmatched")
}

/// The request id of a request (echoed in `x-request-id`), for handlers and the audit stream.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// The caller's `x-request-id` when it is a sane token, else the trace id of a valid W3C
/// `traceparent` (so audit records join the caller's traces), else a fresh one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    if let Some(v) = headers.get(&X_REQUEST_ID) {
        let ok = (1..=128).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b));
        if ok {
            return v.clone();
        }
    }
    if let Some(trace_id) = headers.get("traceparent").and_then(|v| v.to_str().ok()).and_then(trace_id) {
        if let Ok(v) = HeaderValue::from_str(trace_id) {
            return v;
        }
    }
    let prefix = *PREFIX.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        h.finish() as u32
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("{prefix:08x}-{n:012x}")).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`); none for a malformed
/// header or the all-zero id the spec calls invalid.
fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let valid = hex(version, 2) && version != "ff" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2);
    (valid && (version != "00" || parts.next().is_none()) && trace.bytes().any(|b| b != b'0')).then_some(trace)
}

/// Per-request timeout of the scanning routes.
async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.limits().timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout(limit).into_response(),
    }
}

/// Concurrency limit with load shedding: no waiting queue, a full house answers 429 at once.
async fn shed(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match state.0.permits.clone().try_acquire_owned() {
        Ok(permit) => {
            req.extensions_mut().insert(Permit(Arc::new(permit)));
            next.run(req).await
        }
        Err(_) => ApiError::overloaded().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        let mut h = HeaderMap::new();
        let a = request_id(&h);
        let b = request_id(&h);
        assert_ne!(a, b);
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", HeaderValue::from_static("has space"));
        assert_ne!(request_id(&h), "has space");
        // Without a usable x-request-id, a valid traceparent's trace id is the request id.
        let mut t = HeaderMap::new();
        t.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        assert_eq!(request_id(&t), "4bf92f3577b34da6a3ce929d0e0e4736");
        t.insert("x-request-id", HeaderValue::from_static("mine-1"));
        assert_eq!(request_id(&t), "mine-1");
        for bad in
            ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "zz"]
        {
            assert_eq!(trace_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn openapi_is_json_and_lists_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        for (method, path) in ROUTES {
            assert!(doc["paths"][path][method.to_ascii_lowercase()].is_object(), "{method} {path} missing");
        }
    }
}
