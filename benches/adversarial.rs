//! Adversarial shapes (issue 10): each shape of `tests/common/adversarial.rs` (no spaces,
//! minified JSON, base64, one repeated e-mail, keyword hits, deep nesting, ...) scanned at
//! 64 KiB, 256 KiB, 1 MiB and 4 MiB, rules only, masked copy on. Criterion reports throughput
//! per byte; a plain table after it prints ms per MB at each size and the 4 MiB / 64 KiB ratio,
//! which must stay under 2 (linear cost).
//!
//! `cargo bench --bench adversarial`; under `cargo test --all-targets` (no `--bench`) every
//! shape runs once at 64 KiB.

#[path = "../tests/common/adversarial.rs"]
mod adversarial;

use std::time::{Duration, Instant};

use adversarial::SHAPES;
use criterion::{BenchmarkId, Criterion, Throughput};
use picket::{Direction, Engine, EngineConfig, ScanRequest};

const SIZES: &[(usize, &str)] = &[(64 << 10, "64KiB"), (256 << 10, "256KiB"), (1 << 20, "1MiB"), (4 << 20, "4MiB")];

fn scan(engine: &Engine, text: &str) {
    let req = ScanRequest { classify: false, return_masked: true, ..ScanRequest::new(text, Direction::Input) };
    std::hint::black_box(engine.scan(&req).expect("scan"));
}

/// Best of `runs` wall times for one scan.
fn best(engine: &Engine, text: &str, runs: usize) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            scan(engine, text);
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn ms_per_mb(d: Duration, len: usize) -> f64 {
    d.as_secs_f64() * 1e3 / (len as f64 / 1e6)
}

fn main() {
    let engine = Engine::new(EngineConfig::default()).expect("shipped packs compile");
    if !std::env::args().any(|a| a == "--bench") {
        for (name, shape) in SHAPES {
            let t = best(&engine, &shape(64 << 10), 1);
            println!("smoke {name:<24} 64 KiB in {t:.2?}");
        }
        return;
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (name, shape) in SHAPES {
        let mut g = c.benchmark_group(format!("adversarial/{name}"));
        for &(len, label) in SIZES {
            let text = shape(len);
            g.throughput(Throughput::Bytes(len as u64));
            g.bench_with_input(BenchmarkId::from_parameter(label), &text, |b, t| b.iter(|| scan(&engine, t)));
        }
        g.finish();
    }
    c.final_summary();

    println!("\n== ms per MB (best of 3, one thread, rules only, masked copy on) ==");
    println!("{:<24} {:>10} {:>10} {:>10} {:>10} {:>12}", "shape", "64KiB", "256KiB", "1MiB", "4MiB", "4MiB/64KiB");
    let mut worst: f64 = 0.0;
    for (name, shape) in SHAPES {
        let per_mb: Vec<f64> = SIZES.iter().map(|&(len, _)| ms_per_mb(best(&engine, &shape(len), 3), len)).collect();
        let ratio = per_mb[3] / per_mb[0];
        worst = worst.max(ratio);
        println!("{name:<24} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {ratio:>12.2}", per_mb[0], per_mb[1], per_mb[2], per_mb[3]);
    }
    println!("worst 4MiB/64KiB per-MB ratio: {worst:.2} (aim: < 2)");
}
