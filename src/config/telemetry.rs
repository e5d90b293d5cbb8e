//! `[telemetry]`: OpenTelemetry traces over OTLP/gRPC (docs/http-api.md, "Telemetry"). Off unless
//! the section names an endpoint.
//!
//! ```toml
//! [telemetry]
//! otlp_endpoint = "http://127.0.0.1:4317"   # an OTLP/gRPC receiver (a collector)
//! service_name = "picket"                   # the `service.name` resource attribute
//! sample_ratio = 0.1                        # share of new traces kept; a caller's sampled traceparent is always kept
//! export_timeout_ms = 3000                  # one export's deadline; a failed export drops its spans
//! ```

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TelemetrySyntax {
    otlp_endpoint: toml::Spanned<String>,
    service_name: Option<toml::Spanned<String>>,
    sample_ratio: Option<toml::Spanned<f64>>,
    export_timeout_ms: Option<toml::Spanned<u64>>,
}

/// Where and how traces are exported.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// `http://HOST:PORT` of an OTLP/gRPC receiver.
    pub otlp_endpoint: String,
    /// `service.name` of every span.
    pub service_name: String,
    /// Share of root traces (no sampled parent) kept, in [0, 1].
    pub sample_ratio: f64,
    /// Deadline of one export request.
    pub export_timeout: Duration,
}

impl TelemetryConfig {
    /// Traces to `endpoint`, every trace kept, service `picket`.
    pub fn new(endpoint: impl Into<String>) -> TelemetryConfig {
        TelemetryConfig {
            otlp_endpoint: endpoint.into(),
            service_name: "picket".into(),
            sample_ratio: 1.0,
            export_timeout: Duration::from_secs(3),
        }
    }
}

/// Validate `[telemetry]`; an error carries the byte offset it is about.
pub(super) fn telemetry(syntax: Option<TelemetrySyntax>) -> Result<Option<TelemetryConfig>, (usize, String)> {
    let Some(s) = syntax else { return Ok(None) };
    let endpoint = s.otlp_endpoint.get_ref().trim().trim_end_matches('/');
    let at = s.otlp_endpoint.span().start;
    let Some(authority) = endpoint.strip_prefix("http://") else {
        let why = if endpoint.starts_with("https://") {
            "telemetry.otlp_endpoint: https is not supported; send to a collector on the node or pod network over http://"
        } else {
            "telemetry.otlp_endpoint: expected http://HOST:PORT (an OTLP/gRPC receiver, usually port 4317)"
        };
        return Err((at, why.into()));
    };
    if authority.is_empty() || authority.contains(['/', '@', '?', '#', ' ']) {
        return Err((at, format!("telemetry.otlp_endpoint: {endpoint:?} is not http://HOST:PORT")));
    }
    let mut config = TelemetryConfig::new(endpoint);
    if let Some(name) = s.service_name {
        if name.get_ref().trim().is_empty() {
            return Err((name.span().start, "telemetry.service_name must not be empty".into()));
        }
        config.service_name = name.into_inner();
    }
    if let Some(r) = s.sample_ratio {
        let ratio = *r.get_ref();
        if !(0.0..=1.0).contains(&ratio) {
            return Err((r.span().start, format!("telemetry.sample_ratio must be between 0 and 1, not {ratio}")));
        }
        config.sample_ratio = ratio;
    }
    if let Some(ms) = s.export_timeout_ms {
        if *ms.get_ref() == 0 {
            return Err((ms.span().start, "telemetry.export_timeout_ms must be at least 1".into()));
        }
        config.export_timeout = Duration::from_millis(*ms.get_ref());
    }
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use std::path::Path;

    #[test]
    fn telemetry_is_off_by_default_and_parses() {
        assert_eq!(Config::parse(Path::new("p.toml"), "").unwrap().telemetry, None);
        let text = "[telemetry]\notlp_endpoint = \"http://collector:4317/\"\nservice_name = \"picket-a\"\nsample_ratio = 0.25\nexport_timeout_ms = 500\n";
        let t = Config::parse(Path::new("p.toml"), text).unwrap().telemetry.unwrap();
        assert_eq!(t.otlp_endpoint, "http://collector:4317");
        assert_eq!((t.service_name.as_str(), t.sample_ratio, t.export_timeout), ("picket-a", 0.25, Duration::from_millis(500)));
    }

    #[test]
    fn bad_telemetry_names_its_line() {
        for (text, says) in [
            ("[telemetry]\nservice_name = \"x\"\n", "otlp_endpoint"),
            ("[telemetry]\notlp_endpoint = \"https://c:4317\"\n", "https is not supported"),
            ("[telemetry]\notlp_endpoint = \"c:4317\"\n", "expected http://HOST:PORT"),
            ("[telemetry]\notlp_endpoint = \"http://c:4317/v1/traces\"\n", "is not http://HOST:PORT"),
            ("[telemetry]\notlp_endpoint = \"http://c:4317\"\nsample_ratio = 2\n", "between 0 and 1"),
            ("[telemetry]\notlp_endpoint = \"http://c:4317\"\nexport_timeout_ms = 0\n", "at least 1"),
            ("[telemetry]\notlp_endpoint = \"http://c:4317\"\nendpoint = \"x\"\n", "unknown field"),
        ] {
            let err = Config::parse(Path::new("p.toml"), text).unwrap_err().to_string();
            assert!(err.starts_with("p.toml:") && err.contains(says), "{text}: {err}");
        }
    }
}
