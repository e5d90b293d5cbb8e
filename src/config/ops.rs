//! The operations sections of the config file: `[rate_limit]` and `[audit]`.
//!
//! ```toml
//! [rate_limit]                      # token bucket per (route, tenant, key)
//! per_second = 20                   # refill rate of every route without its own limit
//! burst = 40                        # bucket size (default: per_second, at least 1)
//! [rate_limit.route."/v1/scan/batch"]
//! per_second = 2
//! burst = 4
//! [audit]
//! path = "/var/log/picket/audit.jsonl"   # or "-" for stdout
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RateLimitSyntax {
    per_second: Option<toml::Spanned<f64>>,
    burst: Option<f64>,
    #[serde(default)]
    route: BTreeMap<String, toml::Spanned<RouteLimitSyntax>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteLimitSyntax {
    per_second: f64,
    burst: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditSyntax {
    path: PathBuf,
}

/// One token-bucket limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size: requests a caller may send at once after being idle.
    pub burst: f64,
}

/// Rate limits per route; a route with none (and no default) is not limited.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimits {
    pub default: Option<RateLimit>,
    /// Route path (as in the API docs) → its own limit.
    pub routes: BTreeMap<String, RateLimit>,
}

impl RateLimits {
    /// True when any route is limited.
    pub fn enabled(&self) -> bool {
        self.default.is_some() || !self.routes.is_empty()
    }
}

/// Where audit records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    Stdout,
    /// Appended to; created when missing.
    File(PathBuf),
}

/// The routes a rate limit may name: the authenticated ones.
const LIMITABLE: [&str; 5] = ["/v1/scan", "/v1/scan/batch", "/v1/restore", "/v1/packs", "/v1/admin/reload"];

fn limit(per_second: f64, burst: Option<f64>) -> Result<RateLimit, String> {
    if !(per_second.is_finite() && per_second > 0.0) {
        return Err(format!("per_second must be a positive number, not {per_second}"));
    }
    let burst = burst.unwrap_or(per_second.max(1.0));
    if !(burst.is_finite() && burst >= 1.0) {
        return Err(format!("burst must be at least 1, not {burst}"));
    }
    Ok(RateLimit { per_second, burst })
}

/// Validate `[rate_limit]`; an error carries the byte offset it is about.
pub(super) fn rate_limits(syntax: Option<RateLimitSyntax>) -> Result<RateLimits, (usize, String)> {
    let Some(s) = syntax else { return Ok(RateLimits::default()) };
    let mut out = RateLimits::default();
    if let Some(ps) = &s.per_second {
        out.default = Some(limit(*ps.get_ref(), s.burst).map_err(|m| (ps.span().start, format!("rate_limit: {m}")))?);
    } else if s.burst.is_some() {
        return Err((0, "rate_limit: burst needs per_second".into()));
    }
    for (route, r) in s.route {
        let at = r.span().start;
        if !LIMITABLE.contains(&route.as_str()) {
            return Err((at, format!("rate_limit.route: unknown route {route:?} (expected one of {})", LIMITABLE.join(", "))));
        }
        let r = r.into_inner();
        out.routes.insert(route.clone(), limit(r.per_second, r.burst).map_err(|m| (at, format!("rate_limit.route.{route:?}: {m}")))?);
    }
    Ok(out)
}

/// `[audit]`: `-` is stdout; a relative path is relative to the config file (`rel`).
pub(super) fn audit(syntax: Option<AuditSyntax>, rel: impl Fn(PathBuf) -> PathBuf) -> Option<AuditTarget> {
    let s = syntax?;
    Some(if s.path.as_os_str() == "-" { AuditTarget::Stdout } else { AuditTarget::File(rel(s.path)) })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use std::path::Path;

    #[test]
    fn rate_limits_and_audit_parse() {
        let text = "[rate_limit]\nper_second = 5\n[rate_limit.route.\"/v1/scan/batch\"]\nper_second = 0.5\nburst = 2\n[audit]\npath = \"audit.jsonl\"\n";
        let c = Config::parse(Path::new("/etc/picket/p.toml"), text).unwrap();
        assert_eq!(c.rate_limits.default, Some(RateLimit { per_second: 5.0, burst: 5.0 }));
        assert_eq!(c.rate_limits.routes["/v1/scan/batch"], RateLimit { per_second: 0.5, burst: 2.0 });
        assert_eq!(c.audit, Some(AuditTarget::File("/etc/picket/audit.jsonl".into())));
        let c = Config::parse(Path::new("p.toml"), "[audit]\npath = \"-\"\n").unwrap();
        assert_eq!(c.audit, Some(AuditTarget::Stdout));
        assert!(!Config::parse(Path::new("p.toml"), "").unwrap().rate_limits.enabled());
    }

    #[test]
    fn bad_limits_name_their_line() {
        let err = Config::parse(Path::new("p.toml"), "[rate_limit]\nper_second = 0\n").unwrap_err().to_string();
        assert!(err.starts_with("p.toml:2:") && err.contains("positive"), "{err}");
        let err = Config::parse(Path::new("p.toml"), "[rate_limit.route.\"/v1/scna\"]\nper_second = 1\n").unwrap_err().to_string();
        assert!(err.contains("unknown route \"/v1/scna\""), "{err}");
        let err = Config::parse(Path::new("p.toml"), "[rate_limit]\nper_second = 1\nburst = 0.5\n").unwrap_err().to_string();
        assert!(err.contains("burst must be at least 1"), "{err}");
    }
}
