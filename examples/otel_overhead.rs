//! What tracing costs a scan, as ratios side by side in one run: `Engine::scan` with no
//! subscriber (telemetry off), with the OpenTelemetry layer keeping every trace, and with it
//! keeping none (`sample_ratio = 0`). Spans go to a port where nothing listens, so export
//! fails and spans are dropped, as with a collector that is down.
//! `cargo run --release --example otel_overhead [ROUNDS]`.

use std::time::{Duration, Instant};

use picket::config::TelemetryConfig;
use picket::telemetry::Telemetry;
use picket::{Direction, Engine, EngineConfig, ScanRequest};
use tracing_subscriber::layer::SubscriberExt as _;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let engine = Engine::new(EngineConfig::default()).expect("the shipped packs compile");
    let sizes = [200usize, 4_000];
    let texts: Vec<String> = sizes
        .iter()
        .map(|&n| {
            let unit = "Please summarise the meeting notes and mail them to jane.doe@example.com by Friday. ";
            unit.repeat(n / unit.len() + 1)[..n].to_string()
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed on drop
    let start = |ratio: f64| {
        let mut config = TelemetryConfig::new(format!("http://{dead}"));
        config.sample_ratio = ratio;
        config.export_timeout = Duration::from_millis(200);
        runtime.block_on(async { Telemetry::start(&config) }).unwrap()
    };
    let all = start(1.0);
    let none = start(0.0);
    let with_all = tracing::Dispatch::new(tracing_subscriber::registry().with(all.layer()));
    let with_none = tracing::Dispatch::new(tracing_subscriber::registry().with(none.layer()));

    let time = |text: &str, n: usize| {
        let t = Instant::now();
        for _ in 0..n {
            // As the daemon does: the scan runs inside a request span.
            let request = tracing::info_span!("request");
            let _in = request.enter();
            std::hint::black_box(engine.scan(&ScanRequest::new(text, Direction::Input)).unwrap());
        }
        t.elapsed().as_secs_f64() / n as f64
    };
    println!("{:>6} {:>12} {:>14} {:>14}", "bytes", "off µs/scan", "on, kept ×", "on, none kept ×");
    for text in &texts {
        let n = (2_000_000 / text.len()).clamp(200, 20_000);
        let (mut off, mut kept, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            // Interleaved, so machine load hits all three alike.
            off.push(time(text, n));
            kept.push(tracing::dispatcher::with_default(&with_all, || time(text, n)));
            dropped.push(tracing::dispatcher::with_default(&with_none, || time(text, n)));
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (off, kept, dropped) = (median(&mut off), median(&mut kept), median(&mut dropped));
        println!("{:>6} {:>12.1} {:>14.2} {:>14.2}", text.len(), off * 1e6, kept / off, dropped / off);
    }
    all.shutdown(Duration::from_millis(500));
    none.shutdown(Duration::from_millis(500));
}
