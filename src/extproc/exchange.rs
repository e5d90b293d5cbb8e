//! One HTTP request through Envoy: its phases in order, each answered once.

use std::sync::Arc;

use axum::http::StatusCode;
use envoy_types::pb::envoy::config::core::v3::{header_value_option::HeaderAppendAction, HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::processing_mode::{BodySendMode, HeaderSendMode};
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::ProcessingMode;
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::ext_proc::v3::processing_request::Request as Phase;
use envoy_types::pb::envoy::service::ext_proc::v3::processing_response::Response as Reply;
use envoy_types::pb::envoy::service::ext_proc::v3::{
    body_mutation, BodyMutation, BodyResponse, CommonResponse, HeaderMutation, HeadersResponse, HttpHeaders, ImmediateResponse,
    ProcessingRequest, ProcessingResponse, TrailersResponse,
};

use super::Shared;
use crate::budget::Budget;
use crate::chat::{self, ChatError, ChatScan, Verdict};
use crate::policy::Direction;
use crate::server::{ApiError, Principal};
use crate::sse::{SseEnd, SseScanner};
use crate::stream::StreamOptions;

/// How the response body of this request is being handled.
enum ResponseBody {
    /// Response headers not seen yet.
    Pending,
    /// Switched to `BUFFERED`: one message with the whole body, scanned as output.
    Buffered,
    /// `text/event-stream`, `STREAMED`: each chunk goes through the SSE scanner and is replaced
    /// by what it releases.
    Sse(Box<SseScanner>),
    /// The SSE scanner ended the stream (terminal error event sent, or `[DONE]`): every later
    /// chunk is cleared.
    Ended,
}

/// Which body a scan is for.
#[derive(Debug, Clone, Copy)]
enum Side {
    Request,
    Response,
}

/// The state of one request's stream.
pub(super) struct Exchange {
    shared: Arc<Shared>,
    principal: Arc<Principal>,
    /// `x-picket-session` of the request: tokens minted in the prompt are restored in the reply.
    session: Option<String>,
    response: ResponseBody,
}

impl Exchange {
    pub(super) fn new(shared: Arc<Shared>, principal: Arc<Principal>) -> Exchange {
        Exchange { shared, principal, session: None, response: ResponseBody::Pending }
    }

    /// The reply to one phase, and whether the stream is over (an immediate response ends it).
    pub(super) async fn handle(&mut self, message: ProcessingRequest) -> (ProcessingResponse, bool) {
        let reply = match message.request {
            Some(Phase::RequestHeaders(headers)) => {
                self.session = header(&headers, SESSION_HEADER).filter(|s| !s.is_empty());
                Ok(request_headers())
            }
            Some(Phase::RequestBody(body)) => self.request_body(body.body, body.end_of_stream).await,
            Some(Phase::RequestTrailers(_)) => Ok(reply(Reply::RequestTrailers(TrailersResponse::default()))),
            Some(Phase::ResponseHeaders(headers)) => self.response_headers(&headers),
            Some(Phase::ResponseBody(body)) => self.response_body(body.body, body.end_of_stream).await,
            Some(Phase::ResponseTrailers(_)) => Ok(reply(Reply::ResponseTrailers(TrailersResponse::default()))),
            None => Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, "extproc_protocol", "an ext_proc message without a phase").into()),
        };
        match reply {
            Ok(r) => (r, false),
            Err(stop) => {
                match &stop {
                    Stop::Blocked(_) => tracing::info!("ext_proc: blocked by policy"),
                    Stop::Refused(e) => {
                        self.shared.state.metrics().record_rejection(e.code);
                        tracing::info!(code = e.code, status = e.status.as_u16(), "ext_proc: request refused");
                    }
                }
                (immediate(&stop), true)
            }
        }
    }

    async fn request_body(&mut self, body: Vec<u8>, end_of_stream: bool) -> Result<ProcessingResponse, Stop> {
        if !end_of_stream {
            // STREAMED, or BUFFERED_PARTIAL truncating a large body: part of a prompt is no prompt.
            return Err(refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "extproc_misconfigured",
                "Picket needs the whole request body: set processing_mode.request_body_mode to BUFFERED",
            )
            .into());
        }
        match self.scan(Side::Request, body).await? {
            Verdict::Allow => Ok(reply(Reply::RequestBody(BodyResponse::default()))),
            Verdict::Mask(masked) => Ok(reply(Reply::RequestBody(replace_body(masked)))),
            Verdict::Block(b) => Err(Stop::Blocked(b.body())),
        }
    }

    fn response_headers(&mut self, headers: &HttpHeaders) -> Result<ProcessingResponse, Stop> {
        let encoding = header(headers, "content-encoding").unwrap_or_default();
        if !encoding.is_empty() && !encoding.eq_ignore_ascii_case("identity") {
            return Err(
                unscannable("the upstream response is compressed; Picket removes accept-encoding, so the upstream ignored it").into()
            );
        }
        let content_type = header(headers, "content-type").unwrap_or_default().to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            let opts = StreamOptions {
                policy: self.shared.options.policy.clone(),
                tenant: self.principal.tenant.clone(),
                restore: self.session.clone(),
                ..StreamOptions::new(Direction::Output)
            };
            let scanner = SseScanner::new(self.shared.state.engine().clone(), opts).map_err(|e| unscannable(&e.to_string()))?;
            self.response = ResponseBody::Sse(Box::new(scanner));
            // Masking changes the length: the body goes on chunked.
            let mutation = HeaderMutation { remove_headers: vec!["content-length".into()], ..HeaderMutation::default() };
            let common = CommonResponse { header_mutation: Some(mutation), ..CommonResponse::default() };
            return Ok(reply(Reply::ResponseHeaders(HeadersResponse { response: Some(common) })));
        }
        self.response = ResponseBody::Buffered;
        let mut r = reply(Reply::ResponseHeaders(HeadersResponse::default()));
        if !headers.end_of_stream {
            r.mode_override = Some(ProcessingMode {
                request_header_mode: HeaderSendMode::Send as i32,
                response_header_mode: HeaderSendMode::Send as i32,
                request_body_mode: BodySendMode::Buffered as i32,
                response_body_mode: BodySendMode::Buffered as i32,
                request_trailer_mode: HeaderSendMode::Skip as i32,
                response_trailer_mode: HeaderSendMode::Skip as i32,
            });
        }
        Ok(r)
    }

    async fn response_body(&mut self, body: Vec<u8>, end_of_stream: bool) -> Result<ProcessingResponse, Stop> {
        match std::mem::replace(&mut self.response, ResponseBody::Ended) {
            ResponseBody::Sse(mut scanner) => {
                // Scanning is CPU work: off the async workers, the scanner travels with it, under
                // the daemon's concurrency limit (a stream under way waits for a slot).
                let permit = self.shared.state.concurrency().clone().acquire_owned().await.map_err(|_| ApiError::internal())?;
                let (scanner, out) = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let mut out = scanner.feed(&body);
                    if end_of_stream && out.end.is_none() {
                        let last = scanner.finish();
                        out.bytes.extend_from_slice(&last.bytes);
                        out.end = last.end;
                    }
                    (scanner, out)
                })
                .await
                .map_err(|_| ApiError::internal())?;
                if let Some(SseEnd::Stopped(_) | SseEnd::Failed { .. }) = &out.end {
                    self.shared.state.metrics().record_rejection("stream_stopped");
                    tracing::info!("ext_proc: streamed response stopped by the scan");
                }
                if out.end.is_none() {
                    self.response = ResponseBody::Sse(scanner);
                }
                Ok(reply(Reply::ResponseBody(replace_chunk(out.bytes))))
            }
            // After the end: nothing more reaches the client.
            ResponseBody::Ended => Ok(reply(Reply::ResponseBody(replace_chunk(Vec::new())))),
            ResponseBody::Buffered if end_of_stream => match self.scan(Side::Response, body).await? {
                Verdict::Allow => Ok(reply(Reply::ResponseBody(BodyResponse::default()))),
                Verdict::Mask(masked) => Ok(reply(Reply::ResponseBody(replace_body(masked)))),
                Verdict::Block(b) => Err(Stop::Blocked(b.body())),
            },
            ResponseBody::Buffered => Err(refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "extproc_misconfigured",
                "Picket switches non-SSE responses to BUFFERED: set allow_mode_override: true on the ext_proc filter",
            )
            .into()),
            ResponseBody::Pending => Err(refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "extproc_misconfigured",
                "a response body before its headers: set processing_mode.response_header_mode to SEND",
            )
            .into()),
        }
    }

    /// Scan a whole body on the blocking pool under the daemon's concurrency limit and timeout.
    async fn scan(&self, side: Side, body: Vec<u8>) -> Result<Verdict, ApiError> {
        let state = self.shared.state.clone();
        let max = state.limits().max_body_bytes;
        if body.len() > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is {} bytes; server.max_body_bytes is {max}", body.len()),
            ));
        }
        let permit = state.concurrency().clone().try_acquire_owned().map_err(|_| ApiError::overloaded())?;
        let budget = Budget::within(state.limits().timeout);
        let shared = self.shared.clone();
        let principal = self.principal.clone();
        let session = self.session.clone();
        let scanned = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let engine = shared.state.engine();
            let scan =
                ChatScan { policy: shared.options.policy.as_deref(), tenant: &principal.tenant, session: session.as_deref(), budget };
            let seen = |r: &crate::Report| shared.state.metrics().record_report(r);
            match side {
                Side::Request => chat::scan_request(engine, &scan, &body, seen),
                Side::Response => chat::scan_response(engine, &scan, &body, seen),
            }
        })
        .await
        .map_err(|_| ApiError::internal())?;
        scanned.map_err(|e| match (&e, side) {
            (ChatError::Scan { source, .. }, _) => ApiError::from(source),
            (_, Side::Request) => ApiError::bad_request("unreadable_chat_body", e.to_string()),
            (_, Side::Response) => unscannable(&e.to_string()),
        })
    }
}

/// The session header, as in proxy mode.
const SESSION_HEADER: &str = "x-picket-session";

/// Continue, and ask the upstream for an uncompressed response (a compressed one cannot be
/// scanned); Picket's own session header stays with Picket.
fn request_headers() -> ProcessingResponse {
    let mutation = HeaderMutation { remove_headers: vec!["accept-encoding".into(), SESSION_HEADER.into()], ..HeaderMutation::default() };
    reply(Reply::RequestHeaders(HeadersResponse {
        response: Some(CommonResponse { header_mutation: Some(mutation), ..CommonResponse::default() }),
    }))
}

fn reply(r: Reply) -> ProcessingResponse {
    ProcessingResponse { response: Some(r), ..ProcessingResponse::default() }
}

/// Replace a buffered body, with the `content-length` that matches it (Envoy answers 500
/// when the old one no longer does).
fn replace_body(body: Vec<u8>) -> BodyResponse {
    let mutation = HeaderMutation { set_headers: vec![set_header("content-length", body.len().to_string())], ..HeaderMutation::default() };
    BodyResponse {
        response: Some(CommonResponse {
            header_mutation: Some(mutation),
            body_mutation: Some(BodyMutation { mutation: Some(body_mutation::Mutation::Body(body)) }),
            ..CommonResponse::default()
        }),
    }
}

/// Replace one streamed chunk with what the scanner released (possibly nothing). No
/// `content-length` here: header mutations do not apply to streamed body replies.
fn replace_chunk(bytes: Vec<u8>) -> BodyResponse {
    let mutation = if bytes.is_empty() { body_mutation::Mutation::ClearBody(true) } else { body_mutation::Mutation::Body(bytes) };
    BodyResponse {
        response: Some(CommonResponse { body_mutation: Some(BodyMutation { mutation: Some(mutation) }), ..CommonResponse::default() }),
    }
}

/// A header to set, replacing any value it had. Only `raw_value` is set: Envoy refuses a
/// header with both.
fn set_header(key: &str, value: String) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue { key: key.into(), raw_value: value.into_bytes(), ..HeaderValue::default() }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    }
}

/// A header's value (Envoy sends `raw_value`; older versions `value`).
fn header(headers: &HttpHeaders, name: &str) -> Option<String> {
    let h = headers.headers.as_ref()?.headers.iter().find(|h| h.key.eq_ignore_ascii_case(name))?;
    Some(if h.raw_value.is_empty() { h.value.clone() } else { String::from_utf8_lossy(&h.raw_value).into_owned() })
}

/// Why a request goes no further: Envoy answers the client with this instead of forwarding.
enum Stop {
    /// A policy block: 403 with the body [`chat::Blocked::body`] wrote.
    Blocked(Vec<u8>),
    /// Picket could not scan (misconfiguration, unreadable body, limit, timeout): the daemon's
    /// error shape and status.
    Refused(ApiError),
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Stop {
        Stop::Refused(e)
    }
}

fn refusal(status: StatusCode, code: &'static str, message: &str) -> ApiError {
    ApiError::new(status, code, message)
}

/// 502: the upstream's response cannot be scanned, so it is not delivered.
fn unscannable(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "unscannable_response", message)
}

fn immediate(stop: &Stop) -> ProcessingResponse {
    let (status, body, code, retry_after) = match stop {
        Stop::Blocked(body) => (StatusCode::FORBIDDEN, body.clone(), "blocked", None),
        Stop::Refused(e) => (e.status, serde_json::json!({ "error": e.body() }).to_string().into_bytes(), e.code, e.retry_after),
    };
    let mut headers = vec![set_header("content-type", "application/json".into())];
    if let Some(secs) = retry_after {
        headers.push(set_header("retry-after", secs.to_string()));
    }
    reply(Reply::ImmediateResponse(ImmediateResponse {
        status: Some(HttpStatus { code: i32::from(status.as_u16()) }),
        headers: Some(HeaderMutation { set_headers: headers, ..HeaderMutation::default() }),
        body,
        details: format!("picket_{code}"),
        ..ImmediateResponse::default()
    }))
}
