//! `--resume`: what an earlier report already covers. A document is skipped when the report
//! holds a line for it (same path, same record line) with the same SHA-256 of its source bytes
//! and the same pack fingerprint — the same bytes scanned by the same rules give the same
//! result. Lines are appended, never rewritten, so a document scanned again has several lines;
//! the last one counts. A half-written last line (an interrupted run) is ignored.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use crate::policy::Decision;

use super::BatchError;

/// Documents of an earlier report, scanned with the current packs.
#[derive(Debug, Default)]
pub(crate) struct ResumeIndex {
    entries: HashMap<(String, Option<u64>), Prior>,
    paths: HashSet<String>,
}

/// What the report says about one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Prior {
    sha256: [u8; 32],
    seen: Seen,
}

/// How an earlier run left an unchanged document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Scanned, with this decision.
    Decided(Decision),
    /// Skipped (a malformed record, a missing field): it is looked at again.
    Skipped,
}

#[derive(Deserialize)]
struct PriorLine {
    path: String,
    #[serde(default)]
    line: Option<u64>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    packs: Option<String>,
    #[serde(default)]
    decision: Option<Decision>,
    #[serde(default)]
    skipped: Option<String>,
}

impl ResumeIndex {
    /// Read `report` (absent: nothing to resume), keeping lines made with `fingerprint`.
    pub fn load(report: &Path, fingerprint: &str) -> Result<ResumeIndex, BatchError> {
        let file = match std::fs::File::open(report) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ResumeIndex::default()),
            Err(source) => return Err(BatchError::Resume { path: report.to_path_buf(), source }),
        };
        let mut index = ResumeIndex::default();
        for line in BufReader::new(file).split(b'\n') {
            let line = line.map_err(|source| BatchError::Resume { path: report.to_path_buf(), source })?;
            if let Some((key, prior)) = parse(&line, fingerprint) {
                index.paths.insert(key.0.clone());
                index.entries.insert(key, prior);
            }
        }
        Ok(index)
    }

    /// What an earlier run made of this document, if its bytes are unchanged.
    pub fn seen(&self, path: &str, line: Option<u64>, sha256: &[u8; 32]) -> Option<Seen> {
        self.entries.get(&(path.to_string(), line)).filter(|p| &p.sha256 == sha256).map(|p| p.seen)
    }

    /// True when the report has any line for `path` (so a pre-check of its records can pay off).
    pub fn knows(&self, path: &str) -> bool {
        self.paths.contains(path)
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse(line: &[u8], fingerprint: &str) -> Option<((String, Option<u64>), Prior)> {
    let l: PriorLine = serde_json::from_slice(line).ok()?;
    if l.packs.as_deref() != Some(fingerprint) {
        return None;
    }
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(l.sha256?, &mut sha256).ok()?;
    let seen = match (l.decision, l.skipped) {
        (Some(decision), _) => Seen::Decided(decision),
        (None, Some(_)) => Seen::Skipped,
        (None, None) => return None,
    };
    Some(((l.path, l.line), Prior { sha256, seen }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_matching_line_wins_and_other_packs_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.jsonl");
        let h1 = "11".repeat(32);
        let h2 = "22".repeat(32);
        let lines = [
            format!(r#"{{"path":"a.txt","sha256":"{h1}","packs":"P","decision":"allow"}}"#),
            format!(r#"{{"path":"a.txt","sha256":"{h2}","packs":"P","decision":"block"}}"#),
            format!(r#"{{"path":"b.txt","sha256":"{h1}","packs":"OLD","decision":"allow"}}"#),
            format!(r#"{{"path":"c.jsonl","line":3,"sha256":"{h1}","packs":"P","decision":"mask"}}"#),
            r#"{"path":"d.txt","skipped":"binary","reason":"x"}"#.to_string(),
            format!(r#"{{"path":"c.jsonl","line":4,"skipped":"malformed","reason":"x","sha256":"{h2}","packs":"P"}}"#),
            r#"{"path":"e.txt","sha2"#.to_string(),
        ];
        std::fs::write(&report, lines.join("\n")).unwrap();
        let index = ResumeIndex::load(&report, "P").unwrap();
        assert_eq!(index.seen("a.txt", None, &[0x22; 32]), Some(Seen::Decided(Decision::Block)));
        assert_eq!(index.seen("a.txt", None, &[0x11; 32]), None);
        assert_eq!(index.seen("b.txt", None, &[0x11; 32]), None);
        assert_eq!(index.seen("c.jsonl", Some(3), &[0x11; 32]), Some(Seen::Decided(Decision::Mask)));
        assert_eq!(index.seen("c.jsonl", Some(4), &[0x22; 32]), Some(Seen::Skipped));
        assert!(index.knows("c.jsonl") && !index.knows("d.txt"));
        assert!(ResumeIndex::load(&dir.path().join("missing"), "P").unwrap().is_empty());
    }
}
