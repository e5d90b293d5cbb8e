// Temporary probe (deleted after use): engine throughput on the batch corpus files, in memory.
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let mut docs = Vec::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            docs.push(std::fs::read_to_string(f.unwrap().path()).unwrap());
        }
    }
    let bytes: usize = docs.iter().map(|d| d.len()).sum();
    let engine = picket::Engine::new(picket::EngineConfig::default()).unwrap();
    let mb = |t: Instant| bytes as f64 / 1e6 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for d in &docs {
        let _ = picket::text::ScanText::new(d);
    }
    println!("normalize only {:8.1} MB/s", mb(t));
    let t = Instant::now();
    let packs = engine.packs();
    for d in &docs {
        let _ = picket::engine::detect(&packs, d, picket::Direction::Context);
    }
    println!("detect         {:8.1} MB/s", mb(t));
    let t = Instant::now();
    let mut n = 0;
    for d in &docs {
        let r = engine.scan(&picket::ScanRequest { classify: false, ..picket::ScanRequest::new(d, picket::Direction::Context) }).unwrap();
        n += r.findings.len();
    }
    println!(
        "engine.scan    {:8.1} MB/s  ({} docs, {n} findings, {:.0} docs/s)",
        mb(t),
        docs.len(),
        docs.len() as f64 / t.elapsed().as_secs_f64()
    );
}
