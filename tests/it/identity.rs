//! Issue 15, zero-trust identity for Picket's own API, against the real server on 127.0.0.1:
//! JWT bearer tokens verified against a JWKS file (RS256, ES256, EdDSA; exp, nbf, iss, aud,
//! lifetime; tenant and scopes from claims), mTLS client identities (SPIFFE URI SAN, subject CN)
//! mapped to tenants and scopes, and rotation of the server certificate, the client CA bundle
//! and the JWKS under load with zero failed requests.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use picket::config::{ClientIdentity, ClientMatch, Config, IdentityConfig, JwtConfig, Scope, TlsConfig};
use picket::server::ServerOptions;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

const ISSUER: &str = "https://idp.picket.test";
const AUDIENCE: &str = "picket";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

/// A token signer and the JWK of its public key.
struct Signer {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

impl Signer {
    /// The committed RSA test key (ring cannot generate RSA keys).
    fn rsa(kid: &'static str) -> Signer {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/identity");
        let der = match PrivateKeyDer::from_pem_file(dir.join("rsa-2048.pem")).unwrap() {
            PrivateKeyDer::Pkcs1(k) => k.secret_pkcs1_der().to_vec(),
            other => panic!("expected a PKCS#1 key, got {other:?}"),
        };
        let mut jwk: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("rsa-2048.jwk.json")).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!("RS256");
        jwk["use"] = json!("sig");
        Signer { kid, alg: Algorithm::RS256, key: EncodingKey::from_rsa_der(&der), jwk }
    }

    fn ec(kid: &'static str) -> Signer {
        let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let raw = pair.public_key_raw();
        assert_eq!((raw.len(), raw[0]), (65, 4), "uncompressed P-256 point");
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&raw[1..33]), "y": b64(&raw[33..])});
        Signer { kid, alg: Algorithm::ES256, key: EncodingKey::from_ec_der(&pair.serialize_der()), jwk }
    }

    fn ed(kid: &'static str) -> Signer {
        let pair = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "x": b64(pair.public_key_raw())});
        Signer { kid, alg: Algorithm::EdDSA, key: EncodingKey::from_ed_der(&pair.serialize_der()), jwk }
    }

    fn sign(&self, claims: &Value) -> String {
        let header = Header { kid: Some(self.kid.to_string()), ..Header::new(self.alg) };
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

/// Claims of a valid five-minute token.
fn claims(tenant: &str, scope: &str) -> Value {
    let t = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "svc-42", "tenant": tenant, "scope": scope, "iat": t, "exp": t + 300})
}

fn write_jwks(path: &Path, signers: &[&Signer]) {
    let keys: Vec<Value> = signers.iter().map(|s| s.jwk.clone()).collect();
    std::fs::write(path, json!({ "keys": keys }).to_string()).unwrap();
}

fn jwt_config(jwks: &Path) -> JwtConfig {
    JwtConfig {
        jwks: jwks.to_path_buf(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        tenant_claim: "tenant".into(),
        scope_claim: "scope".into(),
        leeway: Duration::from_secs(5),
        max_lifetime: Duration::from_secs(3600),
    }
}

async fn scan(addr: std::net::SocketAddr, token: &str) -> Response {
    post_json(addr, "/v1/scan", &json!({"text": "write to alice@example.com", "direction": "input", "session": "chat-1"}), Some(token))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let (rsa, ec, ed) = (Signer::rsa("r1"), Signer::ec("e1"), Signer::ed("d1"));
    // A JWKS also holding keys Picket must skip: an encryption key and an HMAC key.
    let mut doc = json!({"keys": [rsa.jwk, ec.jwk, ed.jwk]});
    doc["keys"].as_array_mut().unwrap().push(json!({"kty": "RSA", "use": "enc", "kid": "enc1", "n": rsa.jwk["n"], "e": "AQAB"}));
    doc["keys"].as_array_mut().unwrap().push(json!({"kty": "oct", "kid": "h1", "k": b64(b"shared-secret")}));
    std::fs::write(&jwks, doc.to_string()).unwrap();
    let identity = IdentityConfig { jwt: Some(jwt_config(&jwks)), ..IdentityConfig::default() };
    let keys = vec![api_key("static", "static-tenant", "sk-static", &[Scope::Scan])];
    let s = TestServer::start(ServerOptions { identity, api_keys: keys, ..options() }).await;

    for signer in [&rsa, &ec, &ed] {
        let r = scan(s.addr, &signer.sign(&claims("acme", "scan restore"))).await;
        assert_eq!(r.status, 200, "{:?}: {}", signer.alg, r.text());
    }
    // Static keys keep working beside tokens.
    assert_eq!(scan(s.addr, "sk-static").await.status, 200);

    // Tenant from the claim: acme's placeholders restore for acme only.
    let restore = json!({"session": "chat-1", "text": "mail <EMAIL_1>"});
    let acme = post_json(s.addr, "/v1/restore", &restore, Some(&ec.sign(&claims("acme", "restore")))).await;
    assert_eq!((acme.status, acme.json()["text"].clone()), (200, json!("mail alice@example.com")));
    let other = post_json(s.addr, "/v1/restore", &restore, Some(&ec.sign(&claims("globex", "restore")))).await;
    assert_eq!((other.status, other.error_code()), (404, "session_unknown".to_string()));

    // Scopes from the claim: a space-separated string or an array.
    let scan_only = ed.sign(&claims("acme", "scan"));
    assert_eq!(post_json(s.addr, "/v1/restore", &restore, Some(&scan_only)).await.status, 403);
    assert_eq!(post_empty(s.addr, "/v1/admin/reload", Some(&scan_only)).await.status, 403);
    let mut arr = claims("acme", "");
    arr["scope"] = json!(["scan", "admin"]);
    assert_eq!(post_empty(s.addr, "/v1/admin/reload", Some(&ed.sign(&arr))).await.status, 200);

    // Each rule enforced: a token that breaks it gets a 401 naming why.
    let t = now();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims("acme", "scan");
        f(&mut c);
        c
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", ec.sign(&with(&|c| c["exp"] = json!(t - 120))), "expired"),
        ("not yet valid", ec.sign(&with(&|c| c["nbf"] = json!(t + 120))), "not valid yet"),
        ("wrong audience", ec.sign(&with(&|c| c["aud"] = json!("someone-else"))), "audience"),
        ("wrong issuer", ec.sign(&with(&|c| c["iss"] = json!("https://evil.test"))), "issuer"),
        ("no exp", ec.sign(&with(&|c| drop(c.as_object_mut().unwrap().remove("exp")))), "required claim"),
        ("no aud", ec.sign(&with(&|c| drop(c.as_object_mut().unwrap().remove("aud")))), "required claim"),
        ("no iat or nbf", ec.sign(&with(&|c| drop(c.as_object_mut().unwrap().remove("iat")))), "lifetime is unknown"),
        ("long-lived", ec.sign(&with(&|c| c["exp"] = json!(t + 86_400))), "lifetime exceeds"),
        ("no tenant", ec.sign(&with(&|c| drop(c.as_object_mut().unwrap().remove("tenant")))), "tenant"),
        ("issued in the future", ec.sign(&with(&|c| c["iat"] = json!(t + 600))), "future"),
    ];
    for (what, token, reason) in &cases {
        let r = scan(s.addr, token).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert!(r.json()["error"]["message"].as_str().unwrap().contains(reason), "{what}: {}", r.text());
    }

    // Forgeries: a tampered payload, an unknown kid, a kid naming another algorithm's key,
    // HMAC signed with a secret from the JWKS, and `alg: none`.
    let good = ec.sign(&claims("acme", "scan"));
    let parts: Vec<&str> = good.split('.').collect();
    let mut evil = claims("globex", "scan admin");
    evil["sub"] = json!("attacker");
    let tampered = format!("{}.{}.{}", parts[0], b64(evil.to_string().as_bytes()), parts[2]);
    let stranger = Signer::ec("e1"); // same kid, different key
    let unknown_kid = Signer { kid: "nope", ..Signer::ec("x") }.sign(&claims("acme", "scan"));
    let confused = Signer { kid: "e1", ..Signer::ed("x") }.sign(&claims("acme", "scan"));
    let hmac = jsonwebtoken::encode(
        &Header { kid: Some("h1".into()), ..Header::new(Algorithm::HS256) },
        &claims("acme", "scan"),
        &EncodingKey::from_secret(b"shared-secret"),
    )
    .unwrap();
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims("acme", "scan").to_string().as_bytes()));
    for (what, token) in [
        ("tampered", tampered),
        ("foreign key, known kid", stranger.sign(&claims("acme", "scan"))),
        ("unknown kid", unknown_kid),
        ("algorithm confusion", confused),
        ("hmac", hmac),
        ("alg none", none),
    ] {
        let r = scan(s.addr, &token).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
    }
    assert_eq!(scan(s.addr, "not.a.token").await.status, 401);
}

#[test]
fn jwt_and_client_identity_config() {
    let text = r#"
[server.tls]
cert = "s.pem"
key = "s.key"
client_ca = "ca.pem"
client_cert = "optional"
[jwt]
jwks = "jwks.json"
issuer = "https://idp"
audience = "picket"
max_lifetime_secs = 900
[[client_identity]]
name = "billing"
uri_san = "spiffe://example.org/ns/billing/sa/api"
scopes = ["scan", "restore"]
[[client_identity]]
name = "reports"
tenant = "bi"
subject_cn = "reports-worker"
"#;
    let c = Config::parse(Path::new("/etc/picket/picket.toml"), text).unwrap();
    assert!(c.auth_configured());
    let jwt = c.identity.jwt.as_ref().unwrap();
    assert_eq!(jwt.jwks, Path::new("/etc/picket/jwks.json"));
    assert_eq!((jwt.max_lifetime, jwt.tenant_claim.as_str()), (Duration::from_secs(900), "tenant"));
    assert!(c.identity.client_cert_optional);
    assert_eq!(c.identity.clients[0].matches, ClientMatch::UriSan("spiffe://example.org/ns/billing/sa/api".into()));
    assert_eq!((c.identity.clients[1].tenant.as_str(), &c.identity.clients[1].scopes), ("bi", &vec![Scope::Scan]));

    // Client identities without a client CA would trust unverified certificates: refused.
    let err = Config::parse(Path::new("p.toml"), "[[client_identity]]\nname = \"x\"\nsubject_cn = \"x\"\n").unwrap_err().to_string();
    assert!(err.contains("client_ca"), "{err}");
    let both = "[server.tls]\ncert = \"a\"\nkey = \"b\"\nclient_ca = \"c\"\n[[client_identity]]\nname = \"x\"\nsubject_cn = \"x\"\nuri_san = \"spiffe://x\"\n";
    assert!(Config::parse(Path::new("p.toml"), both).unwrap_err().to_string().contains("exactly one"));
    let err = Config::parse(Path::new("p.toml"), "[jwt]\njwks = \"j\"\nissuer = \"\"\naudience = \"a\"\n").unwrap_err().to_string();
    assert!(err.contains("issuer and audience"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_jwks_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#).unwrap();
    let identity = IdentityConfig { jwt: Some(jwt_config(&jwks)), ..IdentityConfig::default() };
    let engine = TestServer::start(options()).await.state.engine().clone();
    let err = picket::server::AppState::new(engine, ServerOptions { identity, ..options() }).err().unwrap().to_string();
    assert!(err.contains("no usable signing key"), "{err}");
}

// ------------------------------------------------------------------------------- mTLS

/// A CA that signs server and client certificates.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    fn der(&self) -> CertificateDer<'static> {
        self.0.der().clone()
    }

    /// A server certificate for localhost: (cert PEM, key PEM, cert DER).
    fn server(&self) -> (String, String, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.0).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }

    /// A client certificate with this CN and optional URI SAN: (cert DER, PKCS#8 key DER).
    fn client(&self, cn: &str, uri: Option<&str>) -> (CertificateDer<'static>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(u) = uri {
            params.subject_alt_names.push(SanType::URI(u.try_into().unwrap()));
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.0).unwrap();
        (cert.der().clone(), key.serialize_der())
    }
}

fn connector(server_ca: &CertificateDer<'static>, client: Option<&(CertificateDer<'static>, Vec<u8>)>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder.with_client_auth_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key.clone().into())).unwrap(),
        None => builder.with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// POST /v1/scan over a fresh TLS connection: the response and the server's certificate.
/// Err(message) when the handshake or the exchange fails.
async fn tls_scan(
    addr: std::net::SocketAddr,
    connector: &tokio_rustls::TlsConnector,
    path: &str,
    token: Option<&str>,
) -> Result<(Response, CertificateDer<'static>), String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.map_err(|e| format!("handshake: {e}"))?;
    let served = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).cloned().ok_or("no server certificate")?;
    let body = json!({"text": "write to alice@example.com", "direction": "input"}).to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let mut request = head("POST", path, &headers, Some(body.len()));
    request.extend_from_slice(body.as_bytes());
    // With TLS 1.3 a refused client certificate shows only after the handshake: the write or
    // the read fails, or the connection closes without a response.
    let mut tls = tls;
    tls.write_all(&request).await.map_err(|e| format!("write: {e}"))?;
    tls.flush().await.map_err(|e| format!("flush: {e}"))?;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut raw)).await.map_err(|_| "timed out".to_string())?;
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("no response ({read:?})"));
    }
    Ok((read_response(&raw[..]).await, served))
}

const BILLING: &str = "spiffe://picket.test/ns/billing/sa/api";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_client_identities() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, client_ca, foreign_ca) = (Ca::new("server CA"), Ca::new("client CA"), Ca::new("foreign CA"));
    let (cert, key, _) = server_ca.server();
    let d = dir.path();
    std::fs::write(d.join("server.pem"), cert).unwrap();
    std::fs::write(d.join("server.key"), key).unwrap();
    std::fs::write(d.join("clients.pem"), client_ca.pem()).unwrap();
    let tls = TlsConfig { cert: d.join("server.pem"), key: d.join("server.key"), client_ca: Some(d.join("clients.pem")) };
    let clients = vec![
        ClientIdentity {
            name: "billing".into(),
            tenant: "billing".into(),
            matches: ClientMatch::UriSan(BILLING.into()),
            scopes: vec![Scope::Scan],
        },
        ClientIdentity {
            name: "reports".into(),
            tenant: "bi".into(),
            matches: ClientMatch::SubjectCn("reports-worker".into()),
            scopes: vec![Scope::Scan, Scope::Restore],
        },
    ];
    let identity = IdentityConfig { clients, client_cert_optional: true, ..IdentityConfig::default() };
    let keys = vec![api_key("static", "static-tenant", "sk-static", &[Scope::Scan])];
    let s = TestServer::start(ServerOptions { tls: Some(tls), identity, api_keys: keys, ..options() }).await;
    let ca = server_ca.der();

    let billing = connector(&ca, Some(&client_ca.client("billing-pod-7", Some(BILLING))));
    let reports = connector(&ca, Some(&client_ca.client("reports-worker", None)));
    let stranger = connector(&ca, Some(&client_ca.client("stranger", Some("spiffe://picket.test/ns/other/sa/x"))));
    let anonymous = connector(&ca, None);
    let foreign = connector(&ca, Some(&foreign_ca.client("reports-worker", Some(BILLING))));

    let status = |r: Result<(Response, CertificateDer<'static>), String>| r.map(|(r, _)| r.status);
    // SPIFFE ID → billing, with scan but not restore.
    assert_eq!(status(tls_scan(s.addr, &billing, "/v1/scan", None).await), Ok(200));
    let (r, _) = tls_scan(s.addr, &billing, "/v1/restore", None).await.unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    // Subject CN → reports, with restore (past auth: the session is unknown, a 400/404, not 401/403).
    let (r, _) = tls_scan(s.addr, &reports, "/v1/restore", None).await.unwrap();
    assert!(![401, 403].contains(&r.status), "{}", r.text());
    assert_eq!(status(tls_scan(s.addr, &reports, "/v1/scan", None).await), Ok(200));
    // A verified but unmapped certificate is named in the 401.
    let (r, _) = tls_scan(s.addr, &stranger, "/v1/scan", None).await.unwrap();
    assert_eq!(r.status, 401);
    assert!(r.text().contains("spiffe://picket.test/ns/other/sa/x"), "{}", r.text());
    // No certificate (allowed with client_cert = optional): a bearer credential is needed.
    assert_eq!(status(tls_scan(s.addr, &anonymous, "/v1/scan", None).await), Ok(401));
    assert_eq!(status(tls_scan(s.addr, &anonymous, "/v1/scan", Some("sk-static")).await), Ok(200));
    // A bearer credential decides over the certificate: a bad key is refused even with a good cert.
    assert_eq!(status(tls_scan(s.addr, &billing, "/v1/scan", Some("sk-wrong")).await), Ok(401));
    // A certificate from another CA never gets through the handshake, whatever it claims.
    assert!(tls_scan(s.addr, &foreign, "/v1/scan", None).await.is_err());
}

// ------------------------------------------------------------------------------- rotation

/// Rotate the server certificate (key and certificate written one after the other, so the
/// watcher sees a mismatched pair in between), the client CA bundle and the JWKS while clients
/// keep calling over fresh TLS connections, by certificate and by token: no request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_rotate_under_load_without_failures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let server_ca = Ca::new("server CA");
    let (old_ca, new_ca) = (Ca::new("client CA 2025"), Ca::new("client CA 2026"));
    let (cert1, key1, _) = server_ca.server();
    std::fs::write(d.join("server.pem"), &cert1).unwrap();
    std::fs::write(d.join("server.key"), &key1).unwrap();
    std::fs::write(d.join("clients.pem"), old_ca.pem()).unwrap();
    let (a, b) = (Signer::ec("2025-a"), Signer::ed("2026-b"));
    write_jwks(&d.join("jwks.json"), &[&a]);

    let tls = TlsConfig { cert: d.join("server.pem"), key: d.join("server.key"), client_ca: Some(d.join("clients.pem")) };
    let clients = vec![ClientIdentity {
        name: "billing".into(),
        tenant: "billing".into(),
        matches: ClientMatch::UriSan(BILLING.into()),
        scopes: vec![Scope::Scan],
    }];
    let identity = IdentityConfig {
        jwt: Some(jwt_config(&d.join("jwks.json"))),
        clients,
        client_cert_optional: true,
        reload_every: Duration::from_millis(50),
    };
    let s = TestServer::start(ServerOptions { tls: Some(tls), identity, ..options() }).await;
    let ca = server_ca.der();

    // The load: two workers by certificate, two by token, each on fresh connections.
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(Mutex::new(Vec::<String>::new())));
    let token = Arc::new(Mutex::new(a.sign(&claims("acme", "scan"))));
    let by_cert = connector(&ca, Some(&old_ca.client("billing-pod", Some(BILLING))));
    let by_token = connector(&ca, None);
    let mut workers = Vec::new();
    for i in 0..4 {
        let (stop, done, failures, token) = (stop.clone(), done.clone(), failures.clone(), token.clone());
        let conn = if i % 2 == 0 { by_cert.clone() } else { by_token.clone() };
        let addr = s.addr;
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let t = (i % 2 == 1).then(|| token.lock().unwrap().clone());
                match tls_scan(addr, &conn, "/v1/scan", t.as_deref()).await {
                    Ok((r, _)) if r.status == 200 => {}
                    Ok((r, _)) => failures.lock().unwrap().push(format!("worker {i}: {} {}", r.status, r.text())),
                    Err(e) => failures.lock().unwrap().push(format!("worker {i}: {e}")),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let progress = |done: &AtomicU64| done.load(Ordering::Relaxed);
    async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
        for _ in 0..400 {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("timed out waiting for {what}");
    }
    let mut marks = vec![];
    tokio::time::sleep(Duration::from_millis(300)).await;
    marks.push(progress(&done));

    // 1. Server certificate: the key first, then the certificate, plain (non-atomic) writes.
    let (cert2, key2, der2) = server_ca.server();
    let reloads = s.state.credential_reloads();
    std::fs::write(d.join("server.key"), &key2).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.state.credential_reloads(), reloads, "a key without its certificate must not go live");
    std::fs::write(d.join("server.pem"), &cert2).unwrap();
    let probe = connector(&ca, None);
    wait_for("the new server certificate", || async {
        matches!(tls_scan(s.addr, &probe, "/healthz", None).await, Ok((_, served)) if served == der2)
    })
    .await;
    marks.push(progress(&done));

    // 2. Client CA bundle: add next year's CA; its clients get in, this year's still do.
    let newcomer = connector(&ca, Some(&new_ca.client("billing-pod-2026", Some(BILLING))));
    assert!(tls_scan(s.addr, &newcomer, "/v1/scan", None).await.is_err(), "not trusted yet");
    std::fs::write(d.join("clients.pem"), format!("{}{}", old_ca.pem(), new_ca.pem())).unwrap();
    wait_for("the new client CA", || async {
        matches!(tls_scan(s.addr, &newcomer, "/v1/scan", None).await, Ok((r, _)) if r.status == 200)
    })
    .await;
    marks.push(progress(&done));

    // 3. JWKS: publish B beside A, switch the issuer to B, then retire A.
    let reloads = s.state.credential_reloads();
    write_jwks(&d.join("jwks.json"), &[&a, &b]);
    wait_for("the JWKS with both keys", || async { s.state.credential_reloads() > reloads }).await;
    *token.lock().unwrap() = b.sign(&claims("acme", "scan"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reloads = s.state.credential_reloads();
    write_jwks(&d.join("jwks.json"), &[&b]);
    wait_for("the JWKS without A", || async { s.state.credential_reloads() > reloads }).await;
    let old_token = a.sign(&claims("acme", "scan"));
    let (r, _) = tls_scan(s.addr, &by_token, "/v1/scan", Some(&old_token)).await.unwrap();
    assert_eq!(r.status, 401, "a retired key no longer verifies: {}", r.text());
    marks.push(progress(&done));

    // 4. A broken write (garbage certificate) keeps the previous credentials serving.
    std::fs::write(d.join("server.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    marks.push(progress(&done));

    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    let total = progress(&done);
    assert!(failures.is_empty(), "{} of {total} requests failed during rotation: {:?}", failures.len(), &failures[..failures.len().min(5)]);
    // The load really ran through every phase.
    marks.push(total);
    assert!(marks.windows(2).all(|w| w[1] > w[0]), "requests per phase: {marks:?}");
    assert!(total >= 40, "only {total} requests");
    eprintln!("rotation under load: {total} requests, none failed; cumulative per phase {marks:?}");
    // After the broken write the last good certificate still serves.
    let (_, served) = tls_scan(s.addr, &probe, "/healthz", None).await.unwrap();
    assert_eq!(served, der2);
}
