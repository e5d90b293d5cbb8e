//! Bearer API keys.
//!
//! The config holds only the SHA-256 of each key. A presented key is hashed and compared with
//! every configured hash in constant time (`subtle`), without stopping at the first match, so
//! timing says nothing about which bytes or which key matched. A route names the scope it needs:
//! no or an unknown key → 401, a known key without the scope → 403.
//!
//! With no keys configured, auth is off and every caller is the anonymous principal of tenant
//! `""` with every scope; [`check_exposure`] makes that legal on loopback addresses only.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::error::ApiError;
use super::AppState;
use crate::config::{ApiKey, Scope};

/// Who is calling: the key's name, its tenant (which owns its vault sessions) and its scopes.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's name from the config (`anonymous` when auth is off).
    pub name: String,
    /// The tenant that owns this caller's restore sessions.
    pub tenant: String,
    /// What the caller may do.
    pub scopes: Vec<Scope>,
}

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any valid key.
    AnyKey,
    /// A key holding this scope.
    Scope(Scope),
}

/// The configured keys, ready for lookup.
#[derive(Debug)]
pub struct Auth {
    hashes: Vec<[u8; 32]>,
    principals: Vec<Arc<Principal>>,
    anonymous: Arc<Principal>,
}

impl Auth {
    /// Build from the config's keys; an empty list turns auth off.
    pub fn new(keys: &[ApiKey]) -> Auth {
        Auth {
            hashes: keys.iter().map(|k| k.sha256).collect(),
            principals: keys
                .iter()
                .map(|k| Arc::new(Principal { name: k.name.clone(), tenant: k.tenant.clone(), scopes: k.scopes.clone() }))
                .collect(),
            anonymous: Arc::new(Principal {
                name: "anonymous".into(),
                tenant: String::new(),
                scopes: vec![Scope::Scan, Scope::Restore, Scope::Admin],
            }),
        }
    }

    /// True when API keys are configured and required.
    pub fn enabled(&self) -> bool {
        !self.hashes.is_empty()
    }

    /// Resolve the `Authorization` header to a principal and check it meets `need`.
    pub fn authorize(&self, authorization: Option<&HeaderValue>, need: Need) -> Result<Arc<Principal>, ApiError> {
        if !self.enabled() {
            return Ok(self.anonymous.clone());
        }
        let presented = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::unauthorized("missing API key: send `Authorization: Bearer <key>`"))?;
        let principal = self.lookup(presented).ok_or_else(|| ApiError::unauthorized("invalid API key"))?;
        match need {
            Need::AnyKey => Ok(principal),
            Need::Scope(scope) if principal.scopes.contains(&scope) => Ok(principal),
            Need::Scope(scope) => Err(ApiError::forbidden(format!("this API key lacks the {:?} scope", scope_name(scope)))),
        }
    }

    fn lookup(&self, presented: &str) -> Option<Arc<Principal>> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = u32::MAX;
        for (i, hash) in self.hashes.iter().enumerate() {
            found.conditional_assign(&(i as u32), digest.ct_eq(hash));
        }
        self.principals.get(found as usize).cloned()
    }
}

/// The wire name of a scope.
pub fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Scan => "scan",
        Scope::Restore => "restore",
        Scope::Admin => "admin",
    }
}

/// Why the daemon refuses to start on an address.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to listen on {addr} without API keys: a non-loopback address would expose an \
     unauthenticated scanner and the restore vault; add [[api_key]] entries to the config \
     (see docs/http-api.md) or listen on 127.0.0.1"
)]
pub struct ExposedWithoutAuth {
    /// The address that was asked for.
    pub addr: SocketAddr,
}

/// Auth is mandatory on every address that is not loopback.
pub fn check_exposure(addr: SocketAddr, auth_enabled: bool) -> Result<(), ExposedWithoutAuth> {
    if auth_enabled || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ExposedWithoutAuth { addr })
    }
}

/// Middleware: authorize the request for `need` and put the [`Principal`] in its extensions.
pub async fn require(State((state, need)): State<(AppState, Need)>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    let principal = state.auth().authorize(req.headers().get(header::AUTHORIZATION), need)?;
    tracing::Span::current().record("key", principal.name.as_str());
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// The credentials of a `Bearer` authorization (the scheme is case-insensitive, RFC 9110
/// §11.1; one or more spaces follow it).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn key(name: &str, secret: &str, scopes: Vec<Scope>) -> ApiKey {
        ApiKey { name: name.into(), tenant: format!("t-{name}"), sha256: Sha256::digest(secret.as_bytes()).into(), scopes }
    }

    #[test]
    fn keys_and_scopes() {
        let auth = Auth::new(&[key("a", "sk-a", vec![Scope::Scan]), key("b", "sk-b", vec![Scope::Admin])]);
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        let need = Need::Scope(Scope::Scan);
        assert_eq!(auth.authorize(Some(&h("Bearer sk-a")), need).unwrap().tenant, "t-a");
        // Issue 10: the scheme is case-insensitive.
        for scheme in ["BEARER", "bearer", "BeArEr"] {
            assert_eq!(auth.authorize(Some(&h(&format!("{scheme} sk-a"))), need).unwrap().tenant, "t-a", "{scheme}");
        }
        assert_eq!(auth.authorize(Some(&h("Bearersk-a")), need).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(auth.authorize(Some(&h("Basic sk-a")), need).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(auth.authorize(Some(&h("Bearer sk-b")), need).unwrap_err().status, StatusCode::FORBIDDEN);
        assert_eq!(auth.authorize(Some(&h("Bearer sk-c")), need).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(auth.authorize(None, need).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(auth.authorize(Some(&h("Basic sk-a")), need).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(auth.authorize(Some(&h("Bearer sk-b")), Need::AnyKey).unwrap().name, "b");
    }

    #[test]
    fn exposure() {
        assert!(check_exposure("127.0.0.1:1".parse().unwrap(), false).is_ok());
        assert!(check_exposure("[::1]:1".parse().unwrap(), false).is_ok());
        assert!(check_exposure("0.0.0.0:1".parse().unwrap(), false).is_err());
        assert!(check_exposure("0.0.0.0:1".parse().unwrap(), true).is_ok());
    }
}
