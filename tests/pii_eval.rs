//! PII and secret detection measured on the synthetic, span-labelled set in
//! `../shared/data/pii/synthetic_pii.jsonl` (read-only shared data; see its README).

use std::path::PathBuf;

use picket::eval::{eval_spans, read_records};
use picket::{Direction, Engine, EngineConfig};

#[test]
fn synthetic_pii_precision_recall_and_no_leaks() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pii/synthetic_pii.jsonl");
    let records = read_records(&path).expect("shared data present (../shared/data)");
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let report = eval_spans(&engine, &records, Direction::Input);
    for (kind, c) in &report.per_type {
        assert!(c.recall() >= 0.95, "{kind}: recall {:.3} ({c:?})", c.recall());
    }
    assert!(
        report.overall.precision() >= 0.95,
        "precision {:.3}: {:#?}",
        report.overall.precision(),
        &report.misses[..report.misses.len().min(20)]
    );
    assert!(report.overall.recall() >= 0.95);
    assert_eq!(report.leaks, 0, "{:#?}", report.misses.iter().filter(|m| m.kind == "leak").collect::<Vec<_>>());
    assert!(report.decoys_hit * 100 <= report.decoys * 2, "{} of {} decoys hit", report.decoys_hit, report.decoys);
}
