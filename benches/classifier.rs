//! Classifier latency through Picket's own path (tokenize → window → ONNX Runtime → softmax):
//! per-window p50/p99 at 64/128/256 tokens (one window each; the shipped model's windows hold 256),
//! windows/s with 1 and 2 inference threads, and the engine's overhead over the bare model call.
//! `cargo bench --bench classifier` (needs `scripts/setup-ort.sh`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use picket::classify::{Classifier, ClassifierOptions};
use picket::{Direction, Engine, EngineConfig, ScanRequest};

/// Text of about `tokens` WordPiece tokens (common English words are one token each).
fn text_of(tokens: usize) -> String {
    let words = ["the", "report", "covers", "revenue", "and", "hiring", "in", "the", "new", "office", "this", "quarter"];
    (0..tokens.saturating_sub(2)).map(|i| words[i % words.len()]).collect::<Vec<_>>().join(" ")
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[(times.len() * 99 / 100).min(times.len() - 1)])
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let runs = if bench { 100 } else { 3 };
    let load = |threads| {
        Classifier::load(&ClassifierOptions { threads, ..Default::default() }).expect("model and ONNX Runtime (scripts/setup-ort.sh)")
    };
    let one = Arc::new(load(1));
    println!("== per-window latency, 1 inference thread, intra-op threads 1 ==");
    for tokens in [64, 128, 256] {
        let text = text_of(tokens);
        for _ in 0..3 {
            one.window_scores(&text).unwrap();
        }
        let times: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                one.window_scores(&text).unwrap();
                t.elapsed()
            })
            .collect();
        let (p50, p99) = percentiles(times);
        println!("{tokens:>4} tokens  p50 {p50:>8.2?}  p99 {p99:>8.2?}");
    }

    println!("\n== engine scan of a 1 KiB prompt with the classifier vs the classifier alone ==");
    let engine = Engine::new(EngineConfig { classifier: Some(one.clone()), ..Default::default() }).unwrap();
    let kib: String = text_of(400).chars().take(1024).collect();
    let mut scan_times = Vec::new();
    let mut model_times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        one.classify(&kib).unwrap();
        model_times.push(t.elapsed());
        let t = Instant::now();
        engine.scan(&ScanRequest::new(&kib, Direction::Input)).unwrap();
        scan_times.push(t.elapsed());
    }
    let (m50, _) = percentiles(model_times);
    let (s50, s99) = percentiles(scan_times);
    println!(
        "classifier.classify p50 {m50:.2?}; engine.scan p50 {s50:.2?} p99 {s99:.2?}; overhead {:.1}%",
        100.0 * (s50.as_secs_f64() / m50.as_secs_f64() - 1.0)
    );

    println!("\n== windows/s, 256-token windows, callers on 4 threads ==");
    let text = text_of(256);
    for threads in [1, 2] {
        let c = Arc::new(load(threads));
        let per_caller = if bench { 40 } else { 2 };
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let c = c.clone();
                let text = &text;
                s.spawn(move || {
                    for _ in 0..per_caller {
                        c.window_scores(text).unwrap();
                    }
                });
            }
        });
        println!("{threads} inference thread(s): {:.1} windows/s", (4 * per_caller) as f64 / t.elapsed().as_secs_f64());
    }
}
