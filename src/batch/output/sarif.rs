//! SARIF 2.1.0 for code-scanning dashboards, written as the run goes: the `results` array is
//! streamed, and the rule table (known only at the end) follows it, so nothing per finding is
//! held in memory. Columns are Unicode code points (`run.columnKind`).

use std::collections::HashMap;
use std::io::Write;

use serde_json::{json, Value};

use crate::pack::{Action, CompiledPacks};

use super::super::pipeline::FileInfo;
use super::report::{round4, DocFinding};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// Most skipped-file notifications kept for the invocation record.
const NOTES_CAP: usize = 1000;

/// A SARIF log being written.
pub(crate) struct Sarif<W: Write> {
    out: W,
    first: bool,
    rules: Vec<String>,
    index: HashMap<String, usize>,
    notes: Vec<Value>,
}

impl<W: Write> Sarif<W> {
    /// Start the log.
    pub fn begin(mut out: W) -> std::io::Result<Sarif<W>> {
        write!(out, r#"{{"$schema":"{SCHEMA}","version":"2.1.0","runs":[{{"columnKind":"unicodeCodePoints","results":["#)?;
        Ok(Sarif { out, first: true, rules: Vec::new(), index: HashMap::new(), notes: Vec::new() })
    }

    /// One result per finding of a document. `record_offset` is the byte offset of a record
    /// in its file (findings of records are relative to the record).
    pub fn document(&mut self, file: &FileInfo, record_offset: Option<u64>, findings: &[DocFinding]) -> std::io::Result<()> {
        let uri = uri(&file.display);
        for f in findings {
            let rule_index = self.rule_index(&f.rule);
            let result = json!({
                "ruleId": f.rule,
                "ruleIndex": rule_index,
                "level": level(f.action),
                "message": {"text": format!("{} ({}) with score {}", f.label, f.category, round4(f.score))},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region(f, record_offset)}}],
                "properties": {"category": f.category, "score": round4(f.score), "chunk": f.chunk},
            });
            if !std::mem::take(&mut self.first) {
                self.out.write_all(b",")?;
            }
            serde_json::to_writer(&mut self.out, &result)?;
        }
        Ok(())
    }

    /// A file or record that was not scanned becomes a tool notification.
    pub fn skipped(&mut self, path: &str, line: Option<u64>, reason: &str) {
        if self.notes.len() >= NOTES_CAP {
            return;
        }
        let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": uri(path)}}});
        if let Some(line) = line {
            location["physicalLocation"]["region"] = json!({"startLine": line});
        }
        self.notes.push(json!({"level": "warning", "message": {"text": format!("not scanned: {reason}")}, "locations": [location]}));
    }

    /// Close the results, write the rule table and the invocation, and flush.
    pub fn finish(mut self, packs: &CompiledPacks) -> std::io::Result<W> {
        let rules: Vec<Value> = self.rules.iter().map(|id| rule(packs, id)).collect();
        let tail = json!({
            "tool": {"driver": {"name": "picket", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": self.notes}],
        });
        // Splice the tail's members after `results` in the same run object.
        let tail = serde_json::to_string(&tail)?;
        write!(self.out, "],{}]}}", &tail[1..])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn rule_index(&mut self, id: &str) -> usize {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        self.rules.push(id.to_string());
        self.index.insert(id.to_string(), self.rules.len() - 1);
        self.rules.len() - 1
    }
}

/// SARIF levels: a rule that blocks is an error, one that masks a warning, one that only
/// reports a note.
fn level(action: Action) -> &'static str {
    match action {
        Action::Block => "error",
        Action::Mask => "warning",
        Action::Report => "note",
    }
}

fn region(f: &DocFinding, record_offset: Option<u64>) -> Value {
    let mut region = json!({
        "startLine": f.line,
        "startColumn": f.column,
        "endLine": f.end_line,
        "endColumn": f.end_column,
        "byteOffset": record_offset.unwrap_or(0) + f.start as u64,
        "byteLength": f.end - f.start,
    });
    // Character offsets of a record are relative to the record, not the file: leave them out.
    if record_offset.is_none() {
        region["charOffset"] = json!(f.char_start);
        region["charLength"] = json!(f.char_end - f.char_start);
    }
    region
}

fn rule(packs: &CompiledPacks, id: &str) -> Value {
    let Some((_, r)) = packs.rule_by_id(id) else { return json!({"id": id}) };
    let description = if r.description.is_empty() { format!("{} ({})", r.label, r.category) } else { r.description.clone() };
    json!({
        "id": id,
        "name": r.label,
        "shortDescription": {"text": description},
        "defaultConfiguration": {"level": level(r.action)},
        "properties": {"category": r.category, "pack": r.pack},
    })
}

/// A relative URI reference for a relative path (`file://` for an absolute one), with every
/// byte outside the unreserved set and `/` percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let path = path.strip_prefix("./").unwrap_or(path);
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded() {
        assert_eq!(uri("./docs/a b.txt"), "docs/a%20b.txt");
        assert_eq!(uri("/tmp/é.md"), "file:///tmp/%C3%A9.md");
    }

    #[test]
    fn an_empty_log_is_valid_json() {
        let packs = crate::pack::load(&[]).unwrap();
        let mut sarif = Sarif::begin(Vec::new()).unwrap();
        sarif.skipped("x.bin", None, "binary");
        let out = sarif.finish(&packs).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(v["runs"][0]["results"], json!([]));
        assert_eq!(v["runs"][0]["tool"]["driver"]["name"], "picket");
        assert_eq!(v["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["level"], "warning");
    }
}
