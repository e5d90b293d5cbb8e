//! OpenTelemetry traces (`[telemetry]`, docs/http-api.md "Telemetry"): the daemon's own
//! `tracing` spans (request → scan → its stages → classifier) exported over OTLP/gRPC, a
//! caller's W3C `traceparent` adopted as the request span's parent, and Picket's span sent on as
//! the parent of the upstream call in proxy mode.
//!
//! What leaves the process: only *spans* whose target is Picket's own (`picket::…`), at `debug`
//! and above. Their fields are sizes, counts, rule ids, directions and decisions, never text,
//! values or keys. Events (log lines) are never exported, so nothing a log message says can
//! reach the collector either.
//!
//! Export runs on the SDK's batch thread with a bounded queue: a slow or dead collector drops
//! spans and never fails or delays a scan.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::TelemetryConfig;

/// Set while an exporter is running: only then are `traceparent` headers parsed and written.
static ON: AtomicBool = AtomicBool::new(false);

/// Why traces cannot be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    #[error("telemetry: cannot set up the OTLP exporter for {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
}

/// A running trace pipeline. Keep it for the life of the daemon; [`Telemetry::shutdown`]
/// sends what is still queued.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Start exporting to `config.otlp_endpoint`. Call it inside the Tokio runtime that serves
    /// requests (the gRPC channel's worker runs there) and shut down before that runtime stops.
    /// The connection is made lazily: an unreachable collector is not an error here.
    pub fn start(config: &TelemetryConfig) -> Result<Telemetry, TelemetryError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .with_timeout(config.export_timeout)
            .build()
            .map_err(|e| TelemetryError::Exporter { endpoint: config.otlp_endpoint.clone(), reason: e.to_string() })?;
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        // Parent-based: a caller's sampling decision wins; the ratio applies to new traces.
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(config.sample_ratio)));
        let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_sampler(sampler).with_resource(resource).build();
        ON.store(true, Ordering::Relaxed);
        Ok(Telemetry { provider })
    }

    /// The `tracing` layer that turns Picket's spans (and only spans) into OpenTelemetry spans.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let only_our_spans = filter_fn(|m| m.is_span() && *m.level() <= tracing::Level::DEBUG && m.target().starts_with("picket"))
            .with_max_level_hint(LevelFilter::DEBUG);
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("picket"))
            .with_threads(false)
            .with_location(false)
            .with_filter(only_our_spans)
    }

    /// Export what is queued (waiting at most `timeout`) and stop.
    pub fn shutdown(self, timeout: Duration) {
        ON.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown_with_timeout(timeout) {
            tracing::warn!(error = %e, "telemetry: the last spans could not be exported");
        }
    }
}

/// True while traces are exported.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Make `span` a child of the caller's W3C `traceparent` (with its `tracestate`) when traces
/// are exported and the header is valid. Call it before `span` is first entered.
pub fn adopt_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !enabled() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Write `traceparent` (and `tracestate`) naming `span` as the parent of an outgoing call.
/// False when traces are not exported (the caller then passes the incoming headers on).
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) -> bool {
    if !enabled() {
        return false;
    }
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return false;
    }
    TraceContextPropagator::new().inject_context(&cx, &mut HeadersMut(headers));
    headers.contains_key("traceparent")
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}
