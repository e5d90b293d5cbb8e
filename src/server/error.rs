//! The one error shape of the HTTP API: `{"error": {"code": "...", "message": "..."}}`.
//!
//! Every failure a handler or a middleware can produce is an [`ApiError`]; its status comes from
//! the constructor that made it, so the mapping from cause to status lives in this file only.
//! The error code is also attached to the response as an extension, so that the observing
//! middleware can count rejections by reason and log server errors once, without re-parsing
//! bodies.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::AppState;
use crate::engine::ScanError;
use crate::vault::VaultError;

/// A failed request: HTTP status, a stable machine-readable code and a human message.
///
/// Messages never contain the scanned text, matched values or keys.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `malformed_json`, `unknown_policy`, `overloaded`.
    pub code: &'static str,
    /// What went wrong and, where possible, what to do.
    pub message: String,
    /// Extra structured detail (e.g. pack diagnostics on a failed reload).
    pub details: Option<serde_json::Value>,
    /// Seconds for a `Retry-After` header (429/503).
    pub retry_after: Option<u32>,
}

/// The code of an error response, attached as a response extension for metrics and logs.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: None, retry_after: None }
    }

    /// 400: the request cannot be read.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: the request was read but its content is not acceptable.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 401: no or an unknown API key.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: a valid key without the scope the route needs.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 429 with `Retry-After`: the concurrency limit is reached and the request was shed.
    pub fn overloaded() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "overloaded", "too many requests in flight; retry shortly")
        }
    }

    /// 429 with `Retry-After` (whole seconds, at least 1): the caller's rate limit is spent.
    pub fn rate_limited(wait: std::time::Duration) -> ApiError {
        let secs = wait.as_secs_f64().ceil().clamp(1.0, f64::from(u32::MAX)) as u32;
        ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("this key's rate limit for the route is spent; retry in {secs} s"),
            )
        }
    }

    /// 503: the request ran past the server's per-request timeout.
    pub fn timeout(limit: std::time::Duration) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the request did not finish within {} ms", limit.as_millis()),
            )
        }
    }

    /// 500: a bug or an unexpected failure. The message is generic on purpose.
    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }

    /// 404 for routes that do not exist.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route; see GET /openapi.json")
    }

    /// 405 for known routes with the wrong method.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
    }

    /// Attach structured details (rendered as `error.details`).
    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = Some(details);
        self
    }

    /// The JSON body of this error (also used for per-item errors in a batch).
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody { code: self.code, message: &self.message, details: self.details.as_ref() }
    }
}

/// The `error` object.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<&'a serde_json::Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: ErrorBody<'a>,
        }
        let body = serde_json::to_vec(&Envelope { error: self.body() }).unwrap_or_default();
        let mut response = (self.status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

impl From<&ScanError> for ApiError {
    fn from(e: &ScanError) -> ApiError {
        match e {
            // The name is the caller's input: not echoed.
            ScanError::UnknownPolicy(_) => ApiError::unprocessable("unknown_policy", "no policy of that name is configured"),
            ScanError::TooLarge { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "text_too_large", e.to_string()),
            ScanError::Classifier(_) => ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "classifier_unavailable",
                    "the classifier failed; retry, or scan with \"classify\": false",
                )
            },
            // The scan stopped at its deadline: an error, never a partial `allow`.
            ScanError::DeadlineExceeded => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the scan did not finish within the request timeout")
            },
            #[allow(unreachable_patterns)]
            _ => ApiError::internal(),
        }
    }
}

impl From<&VaultError> for ApiError {
    fn from(e: &VaultError) -> ApiError {
        match e {
            VaultError::SessionUnknown => ApiError::new(
                StatusCode::NOT_FOUND,
                "session_unknown",
                "no live session of that name for this key's tenant (never created, expired or evicted); its placeholders cannot be restored",
            ),
            VaultError::TooLarge { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "restored_too_large", e.to_string()),
            VaultError::Unavailable(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "vault_unavailable", e.to_string()),
            #[allow(unreachable_patterns)]
            _ => ApiError::internal(),
        }
    }
}

/// Bodies at most this large are parsed on the async worker; larger ones on the blocking pool.
const INLINE_PARSE_MAX: usize = 64 << 10;

/// A JSON body extractor whose rejections are [`ApiError`]s:
/// wrong or missing content type → 415, body over the limit → 413, invalid UTF-8 → 400,
/// malformed JSON → 400, well-formed JSON of the wrong shape (missing field, unknown field,
/// unknown direction) → 422.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T> FromRequest<AppState> for ApiJson<T>
where
    T: DeserializeOwned + Send + 'static,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with content-type: application/json",
            ));
        }
        // Refuse a declared oversize body before reading any of it.
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > state.limits().max_body_bytes as u64) {
            return Err(body_too_large());
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(bytes_rejection)?;
        if bytes.len() <= INLINE_PARSE_MAX {
            parse(&bytes).map(ApiJson)
        } else {
            tokio::task::spawn_blocking(move || parse(&bytes)).await.map_err(|_| ApiError::internal())?.map(ApiJson)
        }
    }
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn bytes_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        body_too_large()
    } else {
        ApiError::bad_request("unreadable_body", "could not read the request body")
    }
}

fn body_too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "request body is larger than the server's limit")
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(ApiError::bad_request(
            "invalid_utf8",
            format!("request body is not valid UTF-8 (first bad byte at offset {})", e.valid_up_to()),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::unprocessable(
                "invalid_request",
                format!("request does not match the schema: {} (line {}, column {})", schema_problem(&e), e.line(), e.column()),
            ),
            Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request("malformed_json", format!("malformed JSON: {e}")),
        }
    })
}

/// What serde found wrong, without the offending value: serde's messages quote it (`invalid
/// type: integer `4111111111111111`, expected a string`, `unknown variant `x``), and error
/// messages never echo request content. What was expected comes from our own types and stays.
fn schema_problem(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let message = full.rfind(" at line ").map_or(full.as_str(), |i| &full[..i]);
    if message.starts_with("missing field `") {
        // The name is ours (from the schema), not the caller's.
        return message.to_string();
    }
    let expected = message.find(", expected ").map(|i| &message[i + 2..]);
    let kind = ["invalid type", "invalid value", "invalid length", "unknown variant", "unknown field", "duplicate field"]
        .into_iter()
        .find(|k| message.starts_with(k))
        .unwrap_or("invalid content");
    match expected {
        Some(expected) => format!("{kind}, {expected}"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
    }

    #[test]
    fn parse_errors_map_to_statuses() {
        assert_eq!(parse::<T>(b"{\"a\":").unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(parse::<T>(b"{\"a\":1}}").unwrap_err().code, "malformed_json");
        assert_eq!(parse::<T>(b"{\"a\":\"x\"}").unwrap_err().status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(parse::<T>(b"{\"b\":1}").unwrap_err().status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(parse::<T>(b"{\"a\":\"\xff\"}").unwrap_err().code, "invalid_utf8");
        assert!(parse::<T>(b"{\"a\":1}").is_ok());
    }

    /// Issue 10: 422 messages echoed the offending value (`integer 4111111111111111`).
    #[test]
    fn schema_errors_never_echo_values() {
        for body in [
            &b"{\"a\":4111111111111111111111}"[..],
            b"{\"a\":\"4111111111111111\"}",
            b"{\"4111111111111111\":1}",
            b"{\"a\":-4111111111111111}",
        ] {
            let e = parse::<T>(body).unwrap_err();
            assert_eq!(e.code, "invalid_request");
            assert!(!e.message.contains("4111"), "{}", e.message);
            assert!(e.message.contains("line 1"), "{}", e.message);
        }
        let e = parse::<T>(b"{\"a\":\"x\"}").unwrap_err();
        assert!(e.message.contains("invalid type, expected u32"), "{}", e.message);
        assert!(parse::<T>(b"{}").unwrap_err().message.contains("missing field `a`"));
    }

    #[test]
    fn content_types() {
        assert!(is_json(Some(&HeaderValue::from_static("application/json; charset=utf-8"))));
        assert!(is_json(Some(&HeaderValue::from_static("application/vnd.picket+json"))));
        assert!(!is_json(Some(&HeaderValue::from_static("text/plain"))));
        assert!(!is_json(None));
    }
}
