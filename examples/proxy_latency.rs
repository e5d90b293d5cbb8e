//! What the proxy adds, side by side in one run on loopback: a mock OpenAI upstream and the
//! real daemon in proxy mode, both in this process.
//!
//! ```sh
//! cargo run --release --example proxy_latency            # 300 requests per case
//! cargo run --release --example proxy_latency -- 1000
//! ```
//!
//! Prints p50/p99 of (1) a non-streamed completion, direct vs through Picket, (2) time to the
//! first content event of a streamed completion, direct vs through Picket, and (3) the median
//! number of characters a stream holds back over ordinary prose fed in ~4-character tokens.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use picket::server::proxy::Upstream;
use picket::server::{self, AppState, ServerOptions};
use picket::stream::{StreamOptions, StreamScanner};
use picket::{Direction, Engine, EngineConfig};

const PROSE: &str = "The quarterly report shows steady growth across all regions. Revenue rose by eight percent, \
driven mostly by new customers in the northern markets, while costs stayed flat. The team expects the trend to \
continue next quarter, although supply delays could slow deliveries. Please review the attached summary before \
Thursday's meeting and send your comments to the planning group.";

fn tokens() -> Vec<String> {
    let chars: Vec<char> = PROSE.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect()).collect()
}

async fn upstream(req: hyper::Request<hyper::body::Incoming>) -> Result<hyper::Response<Body>, Infallible> {
    let body: serde_json::Value = serde_json::from_slice(&req.into_body().collect().await.unwrap().to_bytes()).unwrap_or_default();
    if body["stream"].as_bool() != Some(true) {
        let reply = json!({"id":"r","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":PROSE},"finish_reason":"stop"}]});
        return Ok(hyper::Response::builder().header("content-type", "application/json").body(Body::from(reply.to_string())).unwrap());
    }
    let (mut tx, channel) = http_body_util::channel::Channel::<Bytes, Infallible>::new(64);
    tokio::spawn(async move {
        for t in tokens() {
            let e = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":t},"finish_reason":null}]});
            if tx.send_data(Bytes::from(format!("data: {e}\n\n"))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = tx.send_data(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    Ok(hyper::Response::builder().header("content-type", "text/event-stream").body(Body::new(channel)).unwrap())
}

/// One request; returns (time to the first content byte, time to the end).
async fn call(addr: SocketAddr, stream: bool) -> (Duration, Duration) {
    let body =
        json!({"model":"m","stream":stream,"messages":[{"role":"user","content":"Summarize the quarter for the team."}]}).to_string();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\nauthorization: Bearer sk-test\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let started = Instant::now();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut first = None;
    let mut buf = [0u8; 16 << 10];
    loop {
        let n = tcp.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if first.is_none() && seen.windows(12).any(|w| w == b"\"content\":\"T") {
            first = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    (first.unwrap_or(total), total)
}

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), hyper::service::service_fn(upstream))
                    .await;
            });
        }
    });
    let engine = Arc::new(Engine::new(EngineConfig::default()).unwrap());
    let options = ServerOptions {
        upstream: Some(Upstream::new(&format!("http://{up}/v1"), Duration::from_secs(10), None).unwrap()),
        ..Default::default()
    };
    let state = AppState::new(engine.clone(), options).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    tokio::spawn(server::serve(listener, state, std::future::pending()));
    // Warm up (builds the streaming plan once).
    call(proxy, true).await;
    call(proxy, false).await;

    for (name, stream) in [("non-streamed, whole reply", false), ("streamed, first content event", true)] {
        let (mut direct, mut via) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let d = call(up, stream).await;
            let p = call(proxy, stream).await;
            direct.push(if stream { d.0 } else { d.1 });
            via.push(if stream { p.0 } else { p.1 });
        }
        let (d50, d99, p50, p99) = (pct(direct.clone(), 0.5), pct(direct, 0.99), pct(via.clone(), 0.5), pct(via, 0.99));
        println!(
            "{name}: direct p50 {d50:.2} ms p99 {d99:.2} ms | via picket p50 {p50:.2} ms p99 {p99:.2} ms | added p50 {:.2} ms p99 {:.2} ms",
            p50 - d50,
            p99 - d99
        );
    }

    let mut s = StreamScanner::new(engine, StreamOptions::new(Direction::Output)).unwrap();
    let mut held = Vec::new();
    let mut out = String::new();
    for t in tokens() {
        out += &s.push(&t).unwrap();
        held.push(s.held_bytes()); // ASCII prose: bytes are characters
    }
    out += &s.finish().unwrap();
    assert_eq!(out, PROSE);
    held.sort_unstable();
    println!(
        "hold-back over prose in 4-char tokens: median {} chars, max {} chars ({} tokens)",
        held[held.len() / 2],
        held[held.len() - 1],
        held.len()
    );
}
