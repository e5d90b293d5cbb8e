//! Bearer API keys.
//!
//! The config holds only the SHA-256 of each key. A presented key is hashed and compared with
//! every configured hash in constant time (`subtle`), without stopping at the first match, so
//! timing says nothing about which bytes or which key matched. A route names the scope it needs:
//! no or an unknown key → 401, a known key without the scope → 403.
//!
//! Besides static keys (issue 15): JWT bearer tokens verified against a JWKS ([`super::jwt`]),
//! and verified mTLS client certificates mapped to a tenant ([`super::mtls`]). A bearer
//! credential, when sent, decides; without one, a mapped client certificate does.
//!
//! With no keys, JWT or client identities configured, auth is off and every caller is the anonymous principal of tenant
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
use super::jwt::{JwtVerifier, SharedVerifier};
use super::mtls::PeerIdentity;
use super::AppState;
use crate::config::{ApiKey, ClientIdentity, ClientMatch, Scope};

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
    jwt: Option<SharedVerifier>,
    clients: Vec<(ClientMatch, Arc<Principal>)>,
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
            jwt: None,
            clients: Vec::new(),
        }
    }

    /// Static keys plus JWT bearer tokens (`jwt`) and mTLS client identities (`clients`).
    pub fn with_identity(keys: &[ApiKey], jwt: Option<JwtVerifier>, clients: &[ClientIdentity]) -> Auth {
        let mut auth = Auth::new(keys);
        auth.jwt = jwt.map(|v| Arc::new(arc_swap::ArcSwap::from_pointee(v)));
        auth.clients = clients
            .iter()
            .map(|c| {
                let name = format!("mtls:{}", c.name);
                (c.matches.clone(), Arc::new(Principal { name, tenant: c.tenant.clone(), scopes: c.scopes.clone() }))
            })
            .collect();
        auth
    }

    /// True when callers must authenticate (keys, JWT or client identities are configured).
    pub fn enabled(&self) -> bool {
        !self.hashes.is_empty() || self.jwt.is_some() || !self.clients.is_empty()
    }

    /// The swappable JWT verifier, when JWT is configured (the credential watcher replaces it).
    pub fn jwt(&self) -> Option<&SharedVerifier> {
        self.jwt.as_ref()
    }

    /// Like [`Auth::authorize`], also considering the connection's verified client certificate.
    pub fn authorize_peer(
        &self,
        authorization: Option<&HeaderValue>,
        peer: Option<&PeerIdentity>,
        need: Need,
    ) -> Result<Arc<Principal>, ApiError> {
        if !self.enabled() {
            return Ok(self.anonymous.clone());
        }
        let principal = match authorization {
            Some(value) => self.bearer(value)?,
            None => match peer {
                Some(peer) => self.clients.iter().find(|(m, _)| peer.matches(m)).map(|(_, p)| p.clone()).ok_or_else(|| {
                    ApiError::unauthorized(format!(
                        "client certificate ({}) is not mapped to a tenant; add a [[client_identity]] or send `Authorization: Bearer <key or token>`",
                        peer.describe()
                    ))
                })?,
                None => return Err(ApiError::unauthorized("missing API key: send `Authorization: Bearer <key>`")),
            },
        };
        check_scope(principal, need)
    }

    /// A static key, else (when it looks like one and JWT is on) a JWT.
    fn bearer(&self, value: &HeaderValue) -> Result<Arc<Principal>, ApiError> {
        let presented = value
            .to_str()
            .ok()
            .and_then(bearer_token)
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::unauthorized("missing API key: send `Authorization: Bearer <key>`"))?;
        if let Some(p) = self.lookup(presented) {
            return Ok(p);
        }
        match &self.jwt {
            Some(jwt) if presented.bytes().filter(|&b| b == b'.').count() == 2 => {
                let principal = jwt.load().verify(presented).map_err(|e| ApiError::unauthorized(format!("invalid bearer token: {e}")))?;
                Ok(Arc::new(principal))
            }
            _ => Err(ApiError::unauthorized("invalid API key")),
        }
    }

    /// Resolve the `Authorization` header to a principal and check it meets `need`.
    pub fn authorize(&self, authorization: Option<&HeaderValue>, need: Need) -> Result<Arc<Principal>, ApiError> {
        self.authorize_peer(authorization, None, need)
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

fn check_scope(principal: Arc<Principal>, need: Need) -> Result<Arc<Principal>, ApiError> {
    match need {
        Need::AnyKey => Ok(principal),
        Need::Scope(scope) if principal.scopes.contains(&scope) => Ok(principal),
        Need::Scope(scope) => Err(ApiError::forbidden(format!("this credential lacks the {:?} scope", scope_name(scope)))),
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
    let peer = req.extensions().get::<Arc<PeerIdentity>>().cloned();
    let principal = state.auth().authorize_peer(req.headers().get(header::AUTHORIZATION), peer.as_deref(), need)?;
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
