//! Short-lived JWT bearer tokens, verified against a JWKS file (issue 15).
//!
//! Only asymmetric signatures are accepted — RS256, ES256 (P-256) and EdDSA (Ed25519) — so a
//! leaked JWKS never lets anyone mint tokens, and `none`/HMAC tokens are refused before any key
//! is looked at. The key is picked by the token's `kid` (or is the only key for its algorithm),
//! and its own `alg`, when the JWKS states one, must agree with the token's: no algorithm
//! confusion. `exp`, `iss` and `aud` are required, `nbf` is checked when present, and a token
//! may live at most `max_lifetime` (`exp` − `iat`, or − `nbf`): long-lived tokens are refused
//! like shared keys would be. Tenant and scopes come from configured claims.
//!
//! The JWKS is re-read when the file changes (`server::rotate`), so keys rotate without a
//! restart: publish the new key beside the old one, switch the issuer, then drop the old key.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::auth::Principal;
use crate::config::{JwtConfig, Scope};

/// The accepted signature algorithms.
const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// Why a JWKS file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The file could not be read.
    #[error("cannot read JWKS {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The file is not a JWKS document, or holds no usable signing key.
    #[error("JWKS {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Why a token was refused (the message goes back to the caller in the 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenRejected(pub String);

struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// A loaded JWKS plus the claims policy.
pub struct JwtVerifier {
    keys: Vec<Key>,
    config: JwtConfig,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("keys", &self.keys.len()).field("issuer", &self.config.issuer).finish()
    }
}

impl JwtVerifier {
    /// Read the configured JWKS file.
    pub fn load(config: &JwtConfig) -> Result<JwtVerifier, JwksError> {
        let path = config.jwks.display().to_string();
        let text = std::fs::read_to_string(&config.jwks).map_err(|source| JwksError::Io { path: path.clone(), source })?;
        JwtVerifier::parse(&config.jwks, &text, config.clone())
    }

    /// Parse JWKS text; `path` names it in errors. Keys of other types or uses (encryption,
    /// HMAC, P-384, ...) are skipped; a document without one usable key is an error.
    pub fn parse(path: &Path, text: &str, config: JwtConfig) -> Result<JwtVerifier, JwksError> {
        let invalid = |message: String| JwksError::Invalid { path: path.display().to_string(), message };
        let doc: Value = serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let entries = doc.get("keys").and_then(Value::as_array).ok_or_else(|| invalid("no \"keys\" array".into()))?;
        let mut keys = Vec::new();
        let mut skipped = 0usize;
        for entry in entries {
            match serde_json::from_value::<Jwk>(entry.clone()).ok().and_then(|jwk| usable(&jwk)) {
                Some(k) => keys.push(k),
                None => skipped += 1,
            }
        }
        if keys.is_empty() {
            return Err(invalid(format!("no usable signing key (RS256, ES256 on P-256, EdDSA on Ed25519); {skipped} skipped")));
        }
        if skipped > 0 {
            tracing::warn!(path = %path.display(), skipped, "JWKS keys skipped: not RS256, ES256 or EdDSA signing keys");
        }
        Ok(JwtVerifier { keys, config })
    }

    /// How many keys are in use.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Verify `token` and turn its claims into a principal.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenRejected> {
        let reject = |m: &str| TokenRejected(m.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|_| reject("malformed token"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(reject("token algorithm not accepted (RS256, ES256 or EdDSA)"));
        }
        let key = match &header.kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid.as_str())),
            None => {
                let mut candidates = self.keys.iter().filter(|k| k.alg == header.alg);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        }
        .ok_or_else(|| reject("no JWKS key for this token (unknown kid, or no kid and several keys)"))?;
        if key.alg != header.alg {
            return Err(reject("token algorithm does not match its key"));
        }

        let c = &self.config;
        let mut validation = Validation::new(key.alg);
        validation.leeway = c.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[c.issuer.as_str()]);
        validation.set_audience(&[c.audience.as_str()]);
        validation.required_spec_claims = ["exp", "iss", "aud"].into_iter().map(String::from).collect::<HashSet<_>>();
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            reject(match e.kind() {
                K::ExpiredSignature => "token expired",
                K::ImmatureSignature => "token not valid yet (nbf)",
                K::InvalidIssuer => "token issuer not accepted",
                K::InvalidAudience => "token audience not accepted",
                K::MissingRequiredClaim(_) => "token lacks a required claim (exp, iss, aud)",
                K::InvalidSignature => "token signature invalid",
                _ => "token invalid",
            })
        })?;
        let claims = data.claims;

        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
        let num = |name: &str| claims.get(name).and_then(Value::as_u64);
        let exp = num("exp").ok_or_else(|| reject("token exp is not a number"))?;
        let start = num("iat").or_else(|| num("nbf")).ok_or_else(|| reject("token lacks iat (or nbf): its lifetime is unknown"))?;
        if start > now.saturating_add(c.leeway.as_secs()) {
            return Err(reject("token issued in the future"));
        }
        if exp.saturating_sub(start) > c.max_lifetime.as_secs() {
            return Err(reject("token lifetime exceeds jwt.max_lifetime_secs"));
        }

        let tenant = claims
            .get(&c.tenant_claim)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenRejected(format!("token lacks the {:?} (tenant) claim", c.tenant_claim)))?;
        let names: Vec<&str> = match claims.get(&c.scope_claim) {
            Some(Value::String(s)) => s.split_whitespace().collect(),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut scopes: Vec<Scope> = names.into_iter().filter_map(Scope::from_name).collect();
        scopes.dedup();
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        Ok(Principal { name: format!("jwt:{subject}"), tenant: tenant.to_string(), scopes })
    }
}

/// The key and its algorithm, if this JWK is a signing key of an accepted kind.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))) {
        return None;
    }
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
        _ => return None,
    };
    let stated = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::EdDSA) => Some(Algorithm::EdDSA),
        Some(_) => return None,
    };
    if stated.is_some_and(|a| a != implied) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key { kid: jwk.common.key_id.clone(), alg: implied, key })
}

/// The current verifier, swappable when the JWKS file changes.
pub type SharedVerifier = Arc<arc_swap::ArcSwap<JwtVerifier>>;
