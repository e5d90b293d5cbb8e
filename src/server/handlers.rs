//! One small function per endpoint: extract → engine on the blocking pool → respond.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use super::{audit, AppState, Permit, ReloadError, RequestId};
use crate::budget::Budget;
use crate::engine::{ScanError, ScanRequest};
use crate::pack::{CompiledPacks, PackError, PackInfo};
use crate::policy::{Decision, Direction};
use crate::report::Report;
use crate::vault::VaultError;

/// `POST /v1/scan` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    text: String,
    direction: Direction,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    return_masked: bool,
    #[serde(default = "yes")]
    classify: bool,
}

/// `POST /v1/scan/batch` body. Batch-level settings are defaults for the items.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    items: Vec<BatchItem>,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    return_masked: bool,
    #[serde(default = "yes")]
    classify: bool,
}

/// One text of a batch. `direction` is read per item so that a bad one fails only its item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    #[serde(default)]
    id: serde_json::Value,
    text: String,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    policy: Option<String>,
}

/// `POST /v1/restore` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    session: String,
    text: String,
}

fn yes() -> bool {
    true
}

/// Run `f` on the blocking pool, holding the request's concurrency permit until it returns.
/// The request span goes along, so what the scan logs carries the request id.
async fn blocking<T: Send + 'static>(permit: Permit, f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _entered = span.enter();
        f()
    })
    .await
    // A panic was already printed by the panic hook; the observing layer logs the 500 once.
    .map_err(|_| ApiError::internal())
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// What a scan leaves for the request span.
struct Summary {
    decision: Decision,
    findings: usize,
}

/// Where a scan came from, for the audit record.
struct Origin {
    request_id: RequestId,
    principal: Arc<Principal>,
    route: &'static str,
}

impl Origin {
    fn context(&self, item: Option<usize>, text_bytes: usize) -> audit::Context<'_> {
        audit::Context {
            request_id: &self.request_id.0,
            tenant: &self.principal.tenant,
            key: &self.principal.name,
            route: self.route,
            item,
            text_bytes,
        }
    }
}

/// Scan on the current thread (the blocking pool), count it, audit it, serialize the report.
fn scan_now(state: &AppState, req: &ScanRequest<'_>, origin: &Origin, item: Option<usize>) -> Result<(Report, Vec<u8>), ScanError> {
    // The daemon's own limit, whatever the engine was built with.
    let max = state.limits().max_text_bytes;
    if req.text.len() > max {
        return Err(ScanError::TooLarge { len: req.text.len(), max });
    }
    let report = state.engine().scan(req)?;
    state.metrics().record_report(&report);
    if report.decision == Decision::Block {
        log_block(&report);
    }
    if let Some(audit) = state.audit() {
        audit.record(&origin.context(item, req.text.len()), &report);
    }
    let bytes = serde_json::to_vec(&report).unwrap_or_default();
    Ok((report, bytes))
}

/// A block is an event operators want by default (`info`): which rules and categories, in
/// which direction and policy. Never the text or the matched values.
fn log_block(report: &Report) {
    let mut rules: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.action == crate::pack::Action::Block || report.blocked_by.contains(&f.category))
        .map(|f| f.rule.as_str())
        .collect();
    rules.sort_unstable();
    rules.dedup();
    let blocked_by: Vec<&str> = report.blocked_by.iter().map(|c| c.as_str()).collect();
    tracing::info!(
        decision = "block",
        direction = report.direction.as_str(),
        policy = %report.policy,
        rules = %rules.join(","),
        blocked_by = %blocked_by.join(","),
        score = f64::from(report.score),
        decided_by = %report.decided_by.map(|d| format!("{d:?}").to_lowercase()).unwrap_or_default(),
        "blocked"
    );
}

pub async fn scan(
    State(state): State<AppState>,
    Extension(principal): Extension<Arc<Principal>>,
    Extension(permit): Extension<Permit>,
    Extension(request_id): Extension<RequestId>,
    ApiJson(body): ApiJson<ScanBody>,
) -> Result<Response, ApiError> {
    let origin = Origin { request_id, principal: principal.clone(), route: "/v1/scan" };
    let span = tracing::Span::current();
    span.record("direction", body.direction.as_str());
    let worker_state = state.clone();
    // The same limit as the timeout layer: when it answers 503, the scan stops too.
    let budget = Budget::within(state.limits().timeout);
    let result = blocking(permit, move || {
        let req = ScanRequest {
            text: &body.text,
            direction: body.direction,
            policy: body.policy.as_deref(),
            session: body.session.as_deref(),
            tenant: &principal.tenant,
            return_masked: body.return_masked,
            classify: body.classify,
            budget,
            list_all: false,
        };
        scan_now(&worker_state, &req, &origin, None).map(|(r, bytes)| (Summary { decision: r.decision, findings: r.findings.len() }, bytes))
    })
    .await?;
    let (summary, bytes) = result.map_err(|e| ApiError::from(&e))?;
    span.record("decision", decision_str(summary.decision));
    span.record("findings", summary.findings as i64);
    Ok(json_response(StatusCode::OK, bytes))
}

pub async fn scan_batch(
    State(state): State<AppState>,
    Extension(principal): Extension<Arc<Principal>>,
    Extension(permit): Extension<Permit>,
    Extension(request_id): Extension<RequestId>,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Response, ApiError> {
    let origin = Origin { request_id, principal: principal.clone(), route: "/v1/scan/batch" };
    let max = state.limits().max_batch_items;
    if body.items.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_items",
            format!("the batch has {} items; the limit is {max}", body.items.len()),
        ));
    }
    let span = tracing::Span::current();
    span.record("items", body.items.len() as i64);
    let worker_state = state.clone();
    let budget = Budget::within(state.limits().timeout);
    let (strongest, findings, out) = blocking(permit, move || {
        let mut out = Vec::with_capacity(body.items.iter().map(|i| i.text.len() / 2 + 256).sum::<usize>() + 16);
        out.extend_from_slice(b"{\"results\":[");
        let (mut strongest, mut findings) = (Decision::Allow, 0usize);
        for (n, item) in body.items.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"id\":");
            out.extend_from_slice(&serde_json::to_vec(&item.id).unwrap_or_else(|_| b"null".to_vec()));
            let direction = match &item.direction {
                Some(d) => d
                    .parse::<Direction>()
                    .map_err(|_| ApiError::unprocessable("unknown_direction", "unknown direction (expected input, context or output)")),
                None => Ok(body.direction.unwrap_or(Direction::Input)),
            };
            let scanned = direction.and_then(|direction| {
                let req = ScanRequest {
                    text: &item.text,
                    direction,
                    policy: item.policy.as_deref().or(body.policy.as_deref()),
                    session: body.session.as_deref(),
                    tenant: &principal.tenant,
                    return_masked: body.return_masked,
                    classify: body.classify,
                    budget,
                    list_all: false,
                };
                scan_now(&worker_state, &req, &origin, Some(n)).map_err(|e| ApiError::from(&e))
            });
            match scanned {
                Ok((report, bytes)) => {
                    strongest = strongest.max(report.decision);
                    findings += report.findings.len();
                    // The report is a non-empty JSON object: splice the id in front of its fields.
                    out.push(b',');
                    out.extend_from_slice(&bytes[1..]);
                }
                Err(e) => {
                    out.extend_from_slice(b",\"error\":");
                    out.extend_from_slice(&serde_json::to_vec(&e.body()).unwrap_or_default());
                    out.push(b'}');
                }
            }
        }
        out.extend_from_slice(b"]}");
        (strongest, findings, out)
    })
    .await?;
    span.record("decision", decision_str(strongest));
    span.record("findings", findings as i64);
    Ok(json_response(StatusCode::OK, out))
}

pub async fn restore(
    State(state): State<AppState>,
    Extension(principal): Extension<Arc<Principal>>,
    Extension(permit): Extension<Permit>,
    ApiJson(body): ApiJson<RestoreBody>,
) -> Result<Response, ApiError> {
    #[derive(Serialize)]
    struct Restored {
        text: String,
    }
    let max = state.limits().max_text_bytes;
    if body.text.len() > max {
        return Err(ApiError::from(&ScanError::TooLarge { len: body.text.len(), max }));
    }
    let engine = state.engine().clone();
    let restored = blocking(permit, move || {
        let text = engine.restore(&principal.tenant, &body.session, &body.text)?;
        Ok(serde_json::to_vec(&Restored { text }).unwrap_or_default())
    })
    .await?;
    Ok(json_response(StatusCode::OK, restored.map_err(|e: VaultError| ApiError::from(&e))?))
}

pub async fn healthz() -> Response {
    json_response(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let packs = state.engine().packs();
    let classifier_loaded = state.engine().classifier().is_some();
    if state.0.classifier_required && !classifier_loaded {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the classifier is enabled in the config but not loaded (start with --no-classifier to serve rules only)",
        )
        .into_response();
    }
    let body = json!({
        "status": "ready",
        "packs": {"fingerprint": packs.fingerprint, "rules": packs.rules.len()},
        "classifier": if classifier_loaded { "loaded" } else { "disabled" },
    });
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], state.metrics().render())
        .into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], super::OPENAPI_JSON).into_response()
}

/// The wire form of the loaded packs (`GET /v1/packs`, and a successful reload).
#[derive(Serialize)]
struct PacksView<'a> {
    fingerprint: &'a str,
    rules: usize,
    packs: Vec<PackView<'a>>,
    warnings: usize,
    classifier: Option<String>,
}

/// One pack as the API shows it: the source is a file name, never a server path.
#[derive(Serialize)]
struct PackView<'a> {
    id: &'a str,
    version: &'a str,
    description: &'a str,
    source: &'a str,
    rules: usize,
}

impl<'a> From<&'a PackInfo> for PackView<'a> {
    fn from(p: &'a PackInfo) -> PackView<'a> {
        let source = std::path::Path::new(&p.source).file_name().and_then(|n| n.to_str()).unwrap_or("pack");
        PackView { id: &p.id, version: &p.version, description: &p.description, source, rules: p.rules }
    }
}

fn packs_view<'a>(state: &AppState, packs: &'a CompiledPacks) -> PacksView<'a> {
    PacksView {
        fingerprint: &packs.fingerprint,
        rules: packs.rules.len(),
        packs: packs.packs.iter().map(PackView::from).collect(),
        warnings: packs.warnings.len(),
        classifier: model_id(state),
    }
}

/// The id of the loaded classifier model, if any.
fn model_id(state: &AppState) -> Option<String> {
    state.engine().classifier().map(|c| c.config().id.clone())
}

pub async fn packs(State(state): State<AppState>) -> Response {
    let packs = state.engine().packs();
    json_response(StatusCode::OK, serde_json::to_vec(&packs_view(&state, &packs)).unwrap_or_default())
}

pub async fn reload(State(state): State<AppState>) -> Result<Response, ApiError> {
    match state.reload("admin").await {
        Ok(packs) => Ok(json_response(StatusCode::OK, serde_json::to_vec(&packs_view(&state, &packs)).unwrap_or_default())),
        Err(ReloadError::Packs(PackError::Invalid(diagnostics))) => Err(ApiError::unprocessable(
            "invalid_packs",
            format!("{} problem(s) in rule packs; the previous packs keep serving", diagnostics.len()),
        )
        .with_details(json!({ "diagnostics": diagnostics }))),
        Err(ReloadError::Packs(e)) => Err(ApiError::unprocessable("invalid_packs", format!("{e}; the previous packs keep serving"))),
        Err(ReloadError::Crashed) => Err(ApiError::internal()),
    }
}

fn decision_str(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allow",
        Decision::Mask => "mask",
        Decision::Block => "block",
    }
}
