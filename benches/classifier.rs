//! Classifier latency through Picket's own path (tokenize → window → ONNX Runtime → softmax):
//! per-window p50/p99 at 64/128/256 tokens (one window each; the shipped model's windows hold 256),
//! windows/s with 1 and 2 inference threads, and the engine's overhead over the bare model call.
//! `cargo bench --bench classifier` (needs `scripts/setup-ort.sh`).
//!
//! `PICKET_BENCH_BASELINE=DIR` also times the model in DIR (e.g. the previous release's
//! `models/picket-intent`) in the same run, interleaved window by window, and prints the ratio;
//! the start-up (tokenizer + session) of each model is printed too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use picket::classify::{Classifier, ClassifierOptions};
use picket::{Direction, Engine, EngineConfig, ScanRequest};

/// Text of `tokens` tokens, special tokens included, under both the WordPiece (v1) and the
/// SentencePiece (v2) vocabulary: each of these words is one token in both.
fn text_of(tokens: usize) -> String {
    let words = ["the", "and", "in", "new", "this", "of", "to", "is", "for", "on", "with", "we"];
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
    let started = Instant::now();
    let one = Arc::new(load(1));
    println!("start-up (tokenizer + session): {:.2?}", started.elapsed());
    let baseline = std::env::var_os("PICKET_BENCH_BASELINE").map(|dir| {
        let started = Instant::now();
        let c = Classifier::load(&ClassifierOptions { threads: 1, model_dir: Some(dir.into()), ..Default::default() })
            .expect("baseline model loads");
        println!("baseline start-up: {:.2?}", started.elapsed());
        c
    });
    println!("== per-window latency, 1 inference thread, intra-op threads 1 ==");
    for tokens in [64, 128, 256] {
        let text = text_of(tokens);
        let time = |c: &Classifier| {
            let t = Instant::now();
            c.window_scores(&text).unwrap();
            t.elapsed()
        };
        for _ in 0..3 {
            time(&one);
            baseline.as_ref().map(time);
        }
        let (mut times, mut base_times) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            times.push(time(&one));
            if let Some(b) = &baseline {
                base_times.push(time(b));
            }
        }
        let (p50, p99) = percentiles(times);
        print!("{tokens:>4} tokens  p50 {p50:>8.2?}  p99 {p99:>8.2?}");
        if !base_times.is_empty() {
            let (b50, b99) = percentiles(base_times);
            print!("   baseline p50 {b50:>8.2?}  p99 {b99:>8.2?}   p50 ratio {:.2}x", p50.as_secs_f64() / b50.as_secs_f64());
        }
        println!();
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
