//! Per-stage throughput of the rules pipeline on the benchmark corpus, to see what limits it:
//! `cargo run --release --example stages [bench-corpus/engine/docs.jsonl]`.

use std::time::Instant;

use picket::detect::Detector;
use picket::text::{decode, ScanText};

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "bench-corpus/engine/docs.jsonl".into());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let docs: Vec<String> =
        text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string()).collect();
    let packs = picket::pack::load(&[]).unwrap();
    let d = &packs.detectors;
    let bytes: usize = docs.iter().map(String::len).sum();
    let report = |name: &str, t: Instant| println!("{name:<12} {:8.1} MB/s", bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
    let t = Instant::now();
    let texts: Vec<ScanText<'_>> = docs.iter().map(|x| ScanText::new(x)).collect();
    report("normalize", t);
    let mut out = Vec::new();
    let stages: [(&str, &dyn Detector); 3] = [("regex", &d.regex), ("keywords", &d.keywords), ("evasion", &d.evasion)];
    for (name, detector) in stages {
        let t = Instant::now();
        for s in &texts {
            out.clear();
            detector.detect(s, &mut out);
        }
        report(name, t);
    }
    let t = Instant::now();
    for s in &docs {
        std::hint::black_box(decode::find_payloads(s, &d.decode_limits));
    }
    report("payloads", t);
    let t = Instant::now();
    for s in &texts {
        out.clear();
        d.run(s, &mut out);
    }
    report("all detect", t);
}
