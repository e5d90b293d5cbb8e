//! Shared test helpers: start the real server in-process on 127.0.0.1:0 (router + real socket),
//! a small raw HTTP/1.1 client (so tests control every byte: invalid UTF-8, stalled bodies,
//! missing content types), temp pack folders and key hashing.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use picket::config::{ApiKey, Config, Limits, Scope};
use picket::server::{self, AppState, ServeError, ServerOptions};
use picket::{Engine, EngineConfig};

/// A pack with a reversible-token e-mail rule, used instead of the shipped packs so that the
/// tests do not depend on how those evolve.
pub const TEST_PACK: &str = r#"
[pack]
id = "test"
version = "1.0.0"
description = "HTTP test pack"

[[rule]]
id = "test.email"
category = "pii"
label = "EMAIL"
kind = "regex"
pattern = '''[a-z0-9._]{1,64}@[a-z0-9-]{1,63}\.[a-z]{2,24}'''
score = 0.9
action = "mask"
mask = "token"

[rule.examples]
match = ["write to alice@example.com"]
no_match = ["nothing here"]
"#;

/// A second rule, appended to make a reload visible.
pub const EXTRA_RULE: &str = r#"
[[rule]]
id = "test.override"
category = "injection"
label = "OVERRIDE"
kind = "keywords"
keywords = ["ignore previous instructions"]
score = 0.95
action = "block"

[rule.examples]
match = ["please ignore previous instructions"]
no_match = ["follow the instructions"]
"#;

/// Policies the tests can name.
pub const POLICIES: &str = r#"
[policy.strict.input]
block = { pii = 0.5 }
[policy.trial]
shadow = true
[policy.trial.input]
block = { pii = 0.5 }
"#;

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub packs_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
    _dir: tempfile::TempDir,
}

/// Limits small enough to exercise in tests.
pub fn test_limits() -> Limits {
    Limits {
        max_body_bytes: 64 << 10,
        max_text_bytes: 16 << 10,
        timeout: Duration::from_secs(10),
        max_concurrency: 8,
        max_batch_items: 4,
        header_timeout: Duration::from_secs(10),
        max_connections: 64,
        shutdown_grace: Duration::from_secs(5),
    }
}

/// Options with test limits, no keys, no TLS.
pub fn options() -> ServerOptions {
    ServerOptions { limits: test_limits(), ..ServerOptions::default() }
}

impl TestServer {
    /// Start with the test pack only.
    pub async fn start(options: ServerOptions) -> TestServer {
        TestServer::start_tuned(options, |_| ()).await
    }

    /// Start with the test pack and an engine config adjusted by `tune` (vault limits, ...).
    pub async fn start_tuned(options: ServerOptions, tune: impl FnOnce(&mut EngineConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let packs_dir = dir.path().join("packs");
        std::fs::create_dir(&packs_dir).unwrap();
        std::fs::write(packs_dir.join("test.toml"), TEST_PACK).unwrap();
        let policies = Config::parse(Path::new("test.toml"), POLICIES).unwrap().policies;
        let mut config = EngineConfig {
            extra_packs: vec![packs_dir.clone()],
            no_builtin_packs: true,
            policies,
            hash_key: Some(b"test-key".to_vec()),
            ..EngineConfig::default()
        };
        tune(&mut config);
        let engine = Engine::new(config).unwrap();
        TestServer::start_with(dir, packs_dir, engine, options).await
    }

    /// Start with the shipped packs (for the scans that need real rules: costs, budgets).
    pub async fn start_builtin(options: ServerOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let packs_dir = dir.path().join("packs");
        std::fs::create_dir(&packs_dir).unwrap();
        let engine = Engine::new(EngineConfig { hash_key: Some(b"test-key".to_vec()), ..EngineConfig::default() }).unwrap();
        TestServer::start_with(dir, packs_dir, engine, options).await
    }

    async fn start_with(dir: tempfile::TempDir, packs_dir: PathBuf, engine: Engine, options: ServerOptions) -> TestServer {
        let state = AppState::new(Arc::new(engine), options).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        TestServer { addr, state, packs_dir, shutdown: Some(tx), task: Some(task), _dir: dir }
    }

    /// Ask for graceful shutdown (in-flight requests finish).
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Shut down and wait for the server to stop.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.begin_shutdown();
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task).await.expect("server did not stop").unwrap()
    }

    /// Wait (briefly) until the server has `n` requests in flight.
    pub async fn wait_in_flight(&self, n: i64) {
        for _ in 0..400 {
            if self.state.metrics().in_flight() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never saw {n} requests in flight");
    }
}

/// An API key entry for `secret`.
pub fn api_key(name: &str, tenant: &str, secret: &str, scopes: &[Scope]) -> ApiKey {
    ApiKey { name: name.into(), tenant: tenant.into(), sha256: Sha256::digest(secret.as_bytes()).into(), scopes: scopes.to_vec() }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `error.code` of an error response.
    pub fn error_code(&self) -> String {
        let v = self.json();
        assert!(v["error"]["message"].is_string(), "no error.message in {v}");
        v["error"]["code"].as_str().unwrap_or_else(|| panic!("no error.code in {v}")).to_string()
    }
}

/// The head of a request (everything up to and including the blank line).
pub fn head(method: &str, path: &str, headers: &[(&str, &str)], content_length: Option<usize>) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = content_length {
        out.push_str(&format!("content-length: {n}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Send one request on `stream` and read the whole response (the server closes after it).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &[u8]) -> Response {
    stream.write_all(request).await.unwrap();
    stream.flush().await.unwrap();
    read_response(stream).await
}

/// Read a response to its end and parse it.
pub async fn read_response<S: AsyncRead + Unpin>(mut stream: S) -> Response {
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 16 << 10];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "timed out reading a response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split =
        raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// One request on a fresh connection.
pub async fn call(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
    let mut request = head(method, path, headers, body.map(<[u8]>::len));
    if let Some(b) = body {
        request.extend_from_slice(b);
    }
    exchange(TcpStream::connect(addr).await.unwrap(), &request).await
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    call(addr, "GET", path, &[], None).await
}

/// POST a JSON value, optionally with a bearer key.
pub async fn post_json(addr: SocketAddr, path: &str, body: &serde_json::Value, key: Option<&str>) -> Response {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    call(addr, "POST", path, &headers, Some(body.to_string().as_bytes())).await
}

/// POST with an explicit key (or none) and no body.
pub async fn post_empty(addr: SocketAddr, path: &str, key: Option<&str>) -> Response {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    call(addr, "POST", path, &headers, Some(b"")).await
}

/// The value of one sample line in Prometheus text.
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

/// Run the `picket` binary with `args`, `stdin` as its standard input and no `PICKET_CONFIG`
/// from the environment; wait for it.
pub fn run_picket(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(args)
        .env_remove("PICKET_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run picket");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}
