//! PII and secret detection measured on span-labelled sets in `../shared/data/pii/` (read-only
//! shared data; see its README): the synthetic set the packs were written against, and the
//! presidio-research set, which the packs were not tuned on.

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

/// presidio-research's Faker sentences, restricted to the entity types the packs cover; records
/// with no entity at all are kept as negatives.
#[test]
fn presidio_research_held_out_precision_and_recall() {
    use picket::eval::{Entity, Record};
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pii/presidio_research/synth_dataset_v2.json");
    let data: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&path).expect("shared data present")).unwrap();
    const COVERED: [&str; 6] = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS"];
    let records: Vec<Record> = data
        .iter()
        .filter_map(|r| {
            let spans = r["spans"].as_array()?;
            let entities: Vec<Entity> = spans
                .iter()
                .filter(|s| COVERED.contains(&s["entity_type"].as_str().unwrap_or("")))
                .map(|s| Entity {
                    kind: s["entity_type"].as_str().unwrap().to_string(),
                    start: s["start_position"].as_u64().unwrap() as usize,
                    end: s["end_position"].as_u64().unwrap() as usize,
                })
                .collect();
            (!entities.is_empty() || spans.is_empty()).then(|| {
                serde_json::from_value(serde_json::json!({"text": r["full_text"], "entities": []}))
                    .map(|mut rec: Record| {
                        rec.entities = Some(entities);
                        rec
                    })
                    .unwrap()
            })
        })
        .collect();
    assert!(records.len() > 300);
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let report = eval_spans(&engine, &records, Direction::Input);
    assert!(report.overall.precision() >= 0.95, "precision {:.3}", report.overall.precision());
    assert!(report.overall.recall() >= 0.90, "recall {:.3}: {:?}", report.overall.recall(), report.per_type);
    for kind in ["EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "IP_ADDRESS", "IBAN_CODE"] {
        assert!(report.per_type[kind].recall() >= 0.95, "{kind}: {:?}", report.per_type[kind]);
    }
}
