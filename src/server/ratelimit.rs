//! Per-caller rate limits: one token bucket per (route, tenant, key). A request takes a token;
//! an empty bucket answers 429 `rate_limited` with `Retry-After` (whole seconds until the next
//! token). Buckets refill continuously at `per_second` up to `burst`.
//!
//! The limit runs after auth (the caller is known, so one tenant cannot spend another's
//! budget) and before the concurrency limit (a rate-limited caller never takes a permit).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::Principal;
use super::{ApiError, AppState};
use crate::config::{RateLimit, RateLimits};

/// Most buckets kept; past it, buckets that have refilled completely (idle callers) are
/// dropped first. Keys are configured, so this only matters for many tenants.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every caller.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(&'static str, String, String), Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> RateLimiter {
        RateLimiter { limits, buckets: Mutex::new(HashMap::new()) }
    }

    /// The limit of `route`: its own, else the default; `None` means unlimited.
    fn limit(&self, route: &str) -> Option<RateLimit> {
        self.limits.routes.get(route).copied().or(self.limits.default)
    }

    /// Take a token for `caller` on `route` at `now`: `Ok`, or `Err(wait)` until one is there.
    pub fn take(&self, route: &'static str, caller: &Principal, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.limit(route) else { return Ok(()) };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|(r, _, _), b| {
                self.limit(r).is_some_and(|l| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * l.per_second < l.burst)
            });
        }
        let bucket = buckets.entry((route, caller.tenant.clone(), caller.name.clone())).or_insert(Bucket { tokens: limit.burst, at: now });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(limit.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / limit.per_second))
        }
    }
}

/// Middleware on the authenticated routes.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(limiter) = state.rate_limiter() else { return next.run(req).await };
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| super::route_name(p.as_str()));
    let caller = req.extensions().get::<Arc<Principal>>().cloned();
    if let Some(caller) = caller {
        if let Err(wait) = limiter.take(route, &caller, Instant::now()) {
            return ApiError::rate_limited(wait).into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn caller(name: &str, tenant: &str) -> Principal {
        Principal { name: name.into(), tenant: tenant.into(), scopes: Vec::new() }
    }

    #[test]
    fn buckets_refill_per_caller_and_route() {
        let mut routes = BTreeMap::new();
        routes.insert("/v1/scan/batch".to_string(), RateLimit { per_second: 1.0, burst: 1.0 });
        let limiter = RateLimiter::new(RateLimits { default: Some(RateLimit { per_second: 2.0, burst: 3.0 }), routes });
        let (a, b) = (caller("a", "t1"), caller("b", "t2"));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("/v1/scan", &a, t0).is_ok());
        }
        let wait = limiter.take("/v1/scan", &a, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Another caller, and another route, have their own buckets.
        assert!(limiter.take("/v1/scan", &b, t0).is_ok());
        assert!(limiter.take("/v1/scan/batch", &a, t0).is_ok());
        assert!(limiter.take("/v1/scan/batch", &a, t0).is_err());
        // Half a second later one token is back; never more than the burst.
        assert!(limiter.take("/v1/scan", &a, t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.take("/v1/scan", &a, t0 + Duration::from_millis(500)).is_err());
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(limiter.take("/v1/scan", &a, later).is_ok());
        }
        assert!(limiter.take("/v1/scan", &a, later).is_err());
    }

    #[test]
    fn routes_without_a_limit_are_free() {
        let mut routes = BTreeMap::new();
        routes.insert("/v1/scan".to_string(), RateLimit { per_second: 1.0, burst: 1.0 });
        let limiter = RateLimiter::new(RateLimits { default: None, routes });
        let a = caller("a", "t");
        let now = Instant::now();
        for _ in 0..100 {
            assert!(limiter.take("/v1/restore", &a, now).is_ok());
        }
    }
}
