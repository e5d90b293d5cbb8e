//! OpenAI-compatible proxy (`picket serve --upstream URL`): `POST /v1/chat/completions` is
//! scanned on the way in, forwarded to `URL/chat/completions`, and scanned on the way out.
//!
//! - **Request and response bodies** are read by [`crate::chat`], as the Envoy ext_proc server
//!   reads them: which text has which direction, what is masked, restored or blocked. A blocked
//!   request answers 403 (`prompt_blocked`, `param` names the field), a blocked reply 403
//!   (`output_blocked`); a malformed request 400 (`invalid_request_error`). With
//!   `"stream": true` the upstream's event stream goes through [`crate::sse::SseScanner`]: a
//!   block mid-stream ends it with a terminal error event and no `[DONE]`.
//! - **Sessions.** With `x-picket-session`, reversible tokens minted on the way in (rules with
//!   `mask = "token"`) are restored in the reply; nothing is minted on the way out.
//! - **Auth.** `Authorization` (and `api-key`, `openai-organization`, `openai-project`) go to
//!   the upstream untouched and are never logged; when Picket's own API keys are on, the caller
//!   sends its Picket key as `x-picket-key` (scope `scan`).
//! - **Upstream failures.** Unreachable: 502 `upstream_unreachable`; no answer within the
//!   timeout: 504 `upstream_timeout`; an error status: the same status, `upstream_error`, with
//!   the upstream's message scanned as output. Mid-stream, the held text is flushed through the
//!   scanner and a terminal error event follows.
//!
//! - **Request ids and traces.** The request id (the caller's `x-request-id`, else one Picket
//!   made) goes to the upstream as `x-request-id`. With `[telemetry]` on, `traceparent` names
//!   Picket's `upstream` span as the parent; otherwise the caller's valid `traceparent` (and
//!   `tracestate`) pass through unchanged.
//!
//! One connection per request (no pool); the upstream timeout bounds the wait for the response
//! head and every gap between body chunks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tracing::Instrument as _;

use super::auth::Need;
use super::{AppState, RequestId};
use crate::budget::Budget;
use crate::chat::{self, ChatError, ChatScan, Verdict};
use crate::config::Scope;
use crate::engine::ScanRequest;
use crate::policy::{Decision, Direction};
use crate::sse::{SseEnd, SseScanner};
use crate::stream::StreamOptions;

/// Where and how to forward.
#[derive(Clone)]
pub struct Upstream {
    https: bool,
    host: String,
    port: u16,
    /// `URL`'s path + `/chat/completions`.
    path: String,
    authority: String,
    /// Longest wait for the response head and between body chunks.
    pub timeout: Duration,
    /// Largest non-streamed upstream response read.
    pub max_response_bytes: usize,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upstream({}://{}{})", if self.https { "https" } else { "http" }, self.authority, self.path)
    }
}

/// Why an upstream URL cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    #[error("upstream URL {0:?} must be http://HOST[:PORT][/PATH] or https://...")]
    BadUrl(String),
    #[error("cannot read CA certificates from {path}: {reason}")]
    Ca { path: String, reason: String },
}

/// The CA bundle used for `https` upstreams when none is given.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

impl Upstream {
    /// Parse `url` (the API base, e.g. `https://api.openai.com/v1`). `ca_file` is read only for
    /// `https` (default [`SYSTEM_CA_BUNDLE`]).
    pub fn new(url: &str, timeout: Duration, ca_file: Option<&Path>) -> Result<Upstream, UpstreamError> {
        let bad = || UpstreamError::BadUrl(url.to_string());
        let (https, rest) = match url.split_once("://") {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            _ => return Err(bad()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') || path.contains(['?', '#']) {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse::<u16>().map_err(|_| bad())?),
            _ => (authority, if https { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = match https {
            false => None,
            true => Some(tls_connector(ca_file.unwrap_or(Path::new(SYSTEM_CA_BUNDLE)))?),
        };
        Ok(Upstream {
            https,
            host,
            port,
            path: format!("{path}/chat/completions"),
            authority: authority.to_string(),
            timeout,
            max_response_bytes: 16 << 20,
            tls,
        })
    }

    /// POST `body` with the pass-through `headers` and Picket's own `extra` ones (request id,
    /// trace context); the response head within the timeout.
    async fn post(&self, body: Vec<u8>, headers: &HeaderMap, extra: &HeaderMap) -> Result<hyper::Response<Incoming>, Failure> {
        let send = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|_| Failure::Unreachable)?;
            let _ = tcp.set_nodelay(true);
            let mut sender = match &self.tls {
                None => handshake(tcp).await?,
                Some(tls) => {
                    let name = rustls::pki_types::ServerName::try_from(self.host.clone()).map_err(|_| Failure::Unreachable)?;
                    handshake(tls.connect(name, tcp).await.map_err(|_| Failure::Unreachable)?).await?
                }
            };
            let mut req = Request::builder()
                .method(Method::POST)
                .uri(&self.path)
                .header(header::HOST, &self.authority)
                .header(header::CONTENT_TYPE, "application/json");
            for name in PASS_THROUGH {
                if let Some(v) = headers.get(&name) {
                    req = req.header(name, v);
                }
            }
            for (name, v) in extra {
                req = req.header(name, v);
            }
            let req = req.body(Full::new(Bytes::from(body))).map_err(|_| Failure::Unreachable)?;
            sender.send_request(req).await.map_err(|_| Failure::Unreachable)
        };
        tokio::time::timeout(self.timeout, send).await.map_err(|_| Failure::Timeout)?
    }
}

fn tls_connector(ca: &Path) -> Result<tokio_rustls::TlsConnector, UpstreamError> {
    use rustls::pki_types::pem::PemObject;
    let err = |reason: String| UpstreamError::Ca { path: ca.display().to_string(), reason };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).map_err(|e| err(e.to_string()))? {
        let cert = cert.map_err(|e| err(e.to_string()))?;
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn handshake<T>(io: T) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, Failure>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|_| Failure::Unreachable)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Request headers that go to the upstream as they are (credentials: never logged).
const PASS_THROUGH: [HeaderName; 5] = [
    header::AUTHORIZATION,
    header::ACCEPT,
    HeaderName::from_static("api-key"),
    HeaderName::from_static("openai-organization"),
    HeaderName::from_static("openai-project"),
];

const SESSION_HEADER: &str = "x-picket-session";
const POLICY_HEADER: &str = "x-picket-policy";
const KEY_HEADER: &str = "x-picket-key";

#[derive(Debug, Clone, Copy)]
enum Failure {
    Unreachable,
    Timeout,
}

/// An OpenAI-shaped error response: `{"error":{"message","type","param","code"}}`.
fn error(status: StatusCode, kind: &str, code: &str, message: impl Into<String>, param: Option<&str>) -> Response {
    let body = json!({ "error": { "message": message.into(), "type": kind, "param": param, "code": code } });
    let mut response = (status, axum::Json(body)).into_response();
    response.extensions_mut().insert(super::error::ErrorCode(static_code(code)));
    response
}

fn static_code(code: &str) -> &'static str {
    match code {
        "prompt_blocked" => "prompt_blocked",
        "output_blocked" => "output_blocked",
        "upstream_unreachable" => "upstream_unreachable",
        "upstream_timeout" => "upstream_timeout",
        "upstream_error" => "upstream_error",
        "unauthorized" => "unauthorized",
        "no_upstream" => "no_upstream",
        _ => "invalid_request",
    }
}

fn invalid(message: impl Into<String>, param: Option<&str>) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_request", message, param)
}

fn upstream_failure(f: Failure) -> Response {
    match f {
        Failure::Unreachable => {
            error(StatusCode::BAD_GATEWAY, "upstream_error", "upstream_unreachable", "the upstream could not be reached", None)
        }
        Failure::Timeout => {
            error(StatusCode::GATEWAY_TIMEOUT, "upstream_error", "upstream_timeout", "the upstream did not answer in time", None)
        }
    }
}

/// Who is asking and how: the caller's tenant, policy and session.
#[derive(Clone)]
struct Caller {
    tenant: String,
    policy: Option<String>,
    session: Option<String>,
}

/// Which way a body goes through [`crate::chat`].
#[derive(Clone, Copy)]
enum Way {
    Request,
    Response,
}

/// Scan a whole request or reply body with [`crate::chat`], off the async threads. `Ok` holds
/// the verdict; `Err` a ready error response (a body `chat` cannot read, a scan that failed).
async fn scan_body(state: &AppState, way: Way, body: Bytes, caller: &Caller) -> Result<Verdict, Response> {
    let Ok(permit) = state.concurrency().clone().try_acquire_owned() else {
        let e = super::error::ApiError::overloaded();
        let mut response = error(e.status, "server_error", e.code, e.message, None);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(e.retry_after.unwrap_or(1)));
        return Err(response);
    };
    let engine = state.engine().clone();
    let budget = Budget::within(state.limits().timeout);
    let caller = caller.clone();
    // The request span goes along: the scans' trace spans are its children.
    let span = tracing::Span::current();
    let scanned = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _in_request = span.enter();
        let scan = ChatScan { policy: caller.policy.as_deref(), tenant: &caller.tenant, session: caller.session.as_deref(), budget };
        match way {
            Way::Request => chat::scan_request(&engine, &scan, &body, |_| ()),
            Way::Response => chat::scan_response(&engine, &scan, &body, |_| ()),
        }
    })
    .await;
    match (scanned, way) {
        (Ok(Ok(verdict)), _) => Ok(verdict),
        (Ok(Err(ChatError::Scan { field, source })), _) => {
            let e = super::error::ApiError::from(&source);
            Err(error(e.status, "invalid_request_error", e.code, e.message, Some(&field)))
        }
        (Ok(Err(e)), Way::Request) => Err(invalid(e.to_string(), None)),
        (Ok(Err(_)), Way::Response) => {
            Err(error(StatusCode::BAD_GATEWAY, "upstream_error", "upstream_error", "the upstream's reply is not a JSON object", None))
        }
        (Err(_), _) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal", "internal error", None)),
    }
}

/// The headers Picket adds to the upstream request: `x-request-id`, and `traceparent` /
/// `tracestate` (naming `call` as the parent when traces are exported, else the caller's).
fn upstream_headers(request_id: &RequestId, call: &tracing::Span, incoming: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&request_id.0) {
        out.insert(HeaderName::from_static("x-request-id"), v);
    }
    if !crate::telemetry::inject(call, &mut out) {
        let valid = incoming.get("traceparent").and_then(|v| v.to_str().ok()).and_then(super::trace_id).is_some();
        for name in ["traceparent", "tracestate"] {
            if let (true, Some(v)) = (valid, incoming.get(name)) {
                out.insert(HeaderName::from_static(name), v.clone());
            }
        }
    }
    out
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(upstream) = state.upstream().cloned() else {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            "invalid_request_error",
            "no_upstream",
            "no upstream is configured (serve --upstream URL)",
            None,
        );
    };
    let key = headers.get(KEY_HEADER).and_then(|v| HeaderValue::from_str(&format!("Bearer {}", v.to_str().unwrap_or(""))).ok());
    let principal = match state.auth().authorize(key.as_ref(), Need::Scope(Scope::Scan)) {
        Ok(p) => p,
        Err(e) => {
            return error(e.status, "authentication_error", "unauthorized", e.message.replace("Authorization: Bearer", KEY_HEADER), None)
        }
    };
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty()).map(str::to_string);
    let caller = Caller { tenant: principal.tenant.clone(), policy: header_text(POLICY_HEADER), session: header_text(SESSION_HEADER) };
    let streamed = match serde_json::from_slice::<Value>(&body) {
        Ok(request @ Value::Object(_)) => request.get("stream").and_then(Value::as_bool).unwrap_or(false),
        _ => return invalid("the body must be a JSON object", None),
    };
    let forwarded = match scan_body(&state, Way::Request, body.clone(), &caller).await {
        Ok(Verdict::Allow) => body.to_vec(),
        Ok(Verdict::Mask(masked)) => masked,
        Ok(Verdict::Block(blocked)) => {
            tracing::info!(param = %blocked.field, "prompt blocked");
            return error(
                StatusCode::FORBIDDEN,
                "content_policy",
                "prompt_blocked",
                "the request was blocked by policy",
                Some(&blocked.field),
            );
        }
        Err(response) => return response,
    };
    let call = tracing::info_span!("upstream", otel.kind = "client", status = tracing::field::Empty);
    let extra = upstream_headers(&request_id, &call, &headers);
    let response = match upstream.post(forwarded, &headers, &extra).instrument(call.clone()).await {
        Ok(r) => r,
        Err(f) => return upstream_failure(f),
    };
    call.record("status", i64::from(response.status().as_u16()));
    drop(call);
    let status = response.status();
    let is_sse =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/event-stream"));
    if status.is_success() && streamed && is_sse {
        return stream_reply(state, upstream, response.into_body(), caller);
    }
    let body = match read_body(response.into_body(), &upstream).await {
        Ok(b) => b,
        Err(f) => return upstream_failure(f),
    };
    if !status.is_success() {
        return upstream_error(&state, status, &body, &caller).await;
    }
    if !serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.is_object()) {
        return error(StatusCode::BAD_GATEWAY, "upstream_error", "upstream_error", "the upstream's reply is not a JSON object", None);
    }
    let body = Bytes::from(body);
    let reply = match scan_body(&state, Way::Response, body.clone(), &caller).await {
        Ok(Verdict::Allow) => body,
        Ok(Verdict::Mask(changed)) => Bytes::from(changed),
        Ok(Verdict::Block(blocked)) => {
            tracing::info!(param = %blocked.field, "reply blocked");
            return error(
                StatusCode::FORBIDDEN,
                "content_policy",
                "output_blocked",
                "the reply was blocked by policy",
                Some(&blocked.field),
            );
        }
        Err(response) => return response,
    };
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], reply).into_response()
}

/// A non-success upstream answer: its status, and its `error.message` scanned as output.
async fn upstream_error(state: &AppState, status: StatusCode, body: &[u8], caller: &Caller) -> Response {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(|s| s.chars().take(1000).collect::<String>()));
    let engine = state.engine().clone();
    let policy = caller.policy.clone();
    let span = tracing::Span::current();
    let shown = tokio::task::spawn_blocking(move || {
        let _in_request = span.enter();
        let message = message?;
        let mut req = ScanRequest::new(&message, Direction::Output);
        req.policy = policy.as_deref();
        req.classify = false;
        let report = engine.scan(&req).ok()?;
        match report.decision {
            Decision::Block => None,
            Decision::Mask => report.masked,
            Decision::Allow => Some(message.clone()),
        }
    })
    .await
    .ok()
    .flatten();
    let text = match shown {
        Some(m) => format!("the upstream answered {}: {m}", status.as_u16()),
        None => format!("the upstream answered {}", status.as_u16()),
    };
    let status = if status.is_client_error() || status.is_server_error() { status } else { StatusCode::BAD_GATEWAY };
    error(status, "upstream_error", "upstream_error", text, None)
}

async fn read_body(mut body: Incoming, upstream: &Upstream) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(upstream.timeout, body.frame()).await {
            Err(_) => return Err(Failure::Timeout),
            Ok(None) => return Ok(out),
            Ok(Some(Err(_))) => return Err(Failure::Unreachable),
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if out.len() + data.len() > upstream.max_response_bytes {
                        return Err(Failure::Unreachable);
                    }
                    out.extend_from_slice(data);
                }
            }
        }
    }
}

/// Stream the upstream's events through an [`SseScanner`]. A task reads the upstream; when
/// the client goes away its sends fail, the task ends and the upstream connection is dropped.
fn stream_reply(state: AppState, upstream: Upstream, mut body: Incoming, caller: Caller) -> Response {
    let mut opts = StreamOptions::new(Direction::Output);
    opts.policy = caller.policy.clone();
    opts.tenant = caller.tenant.clone();
    opts.restore = caller.session.clone();
    let sse = match SseScanner::new(state.engine().clone(), opts) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_request", e.to_string(), None),
    };
    let (mut tx, channel) = http_body_util::channel::Channel::<Bytes, std::convert::Infallible>::new(8);
    tokio::spawn(async move {
        let mut sse = Some(sse);
        loop {
            let next = tokio::time::timeout(upstream.timeout, body.frame()).await;
            let Some(mut scanner) = sse.take() else { return };
            let terminal = !matches!(next, Ok(Some(Ok(_))));
            // A stream already under way waits for a scan slot rather than failing mid-reply.
            let Ok(permit) = state.concurrency().clone().acquire_owned().await else { return };
            let step = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let out = match next {
                    Err(_) => scanner.abort("upstream_timeout", "the upstream stopped sending within the timeout"),
                    Ok(None) => scanner.finish(),
                    Ok(Some(Err(_))) => scanner.abort("upstream_error", "the upstream connection failed mid-stream"),
                    Ok(Some(Ok(frame))) => match frame.data_ref() {
                        Some(data) => scanner.feed(data),
                        None => Default::default(),
                    },
                };
                let done = terminal || out.end.is_some();
                (scanner, out, done)
            })
            .await;
            let Ok((scanner, out, done)) = step else { return };
            if let Some(SseEnd::Stopped(stop)) = &out.end {
                tracing::info!(reason = %stop, "streamed reply stopped");
            }
            let ended = done || scanner.end().is_some();
            if !out.bytes.is_empty() && tx.send_data(Bytes::from(out.bytes)).await.is_err() {
                return; // the client went away: drop the upstream connection
            }
            if ended {
                return;
            }
            sse = Some(scanner);
        }
    });
    let mut response = Response::new(Body::new(channel));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
