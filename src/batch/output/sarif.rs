//! SARIF 2.1.0 for code-scanning dashboards, written as the run goes: the `results` array is
//! streamed, and the rule table (known only at the end) follows it, so nothing per finding is
//! held in memory. Columns are Unicode code points (`run.columnKind`).

use std::collections::HashMap;
use std::io::Write;

use serde_json::{json, Value};

use crate::pack::{Action, CompiledPacks};
use crate::policy::Category;

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
    /// `record` is (first line, byte offset) of a record in its file.
    pub fn document(&mut self, path: &str, record: Option<(u64, u64)>, findings: &[DocFinding]) -> std::io::Result<()> {
        let uri = uri(path);
        let record_offset = record.map(|(_, offset)| offset);
        let mut occurrences: HashMap<&str, u64> = HashMap::new();
        for f in findings {
            let rule_index = self.rule_index(&f.rule);
            let nth = occurrences.entry(f.rule.as_str()).or_default();
            let fingerprint = fingerprint(&f.rule, &uri, record.map(|(line, _)| line), *nth);
            *nth += 1;
            let result = json!({
                "ruleId": f.rule,
                "ruleIndex": rule_index,
                "level": level(f.action),
                "message": {"text": format!("{} ({}) with score {}", f.label, f.category, round4(f.score))},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region(f, record_offset)}}],
                "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
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

/// The fields of a report line (`--report`, `picket results`) that SARIF needs.
#[derive(serde::Deserialize)]
struct ReportLine {
    path: String,
    line: Option<u64>,
    offset: Option<u64>,
    #[serde(default)]
    findings: Vec<DocFinding>,
    skipped: Option<String>,
    reason: Option<String>,
}

/// A SARIF log from JSON Lines report lines, e.g. the results of a queued corpus: the same
/// log `picket scan PATH --sarif` writes for the same documents. The rule table comes from
/// `packs`.
pub fn from_report<W: Write>(lines: &[String], packs: &CompiledPacks, out: W) -> std::io::Result<W> {
    let mut sarif = Sarif::begin(out)?;
    for (n, text) in lines.iter().enumerate() {
        let line: ReportLine = serde_json::from_str(text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("report line {}: {e}", n + 1)))?;
        match (line.skipped, line.offset) {
            (Some(code), _) => sarif.skipped(&line.path, line.line, line.reason.as_deref().unwrap_or(&code)),
            (None, offset) => sarif.document(&line.path, line.line.zip(offset), &line.findings)?,
        }
    }
    sarif.finish(packs)
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

/// The `partialFingerprints` key: our own scheme, so GitHub does not need the source lines.
const FINGERPRINT_KEY: &str = "picketFinding/v1";

/// Identifies a finding across runs without its value: SHA-256 of the rule, the file, the
/// record's first line (records only) and which occurrence of the rule in the document it
/// is. Whole files keep their fingerprints when lines move; the matched text never enters it
/// (a hash of a short PII value could be brute-forced).
fn fingerprint(rule: &str, uri: &str, record_line: Option<u64>, nth: u64) -> String {
    use sha2::{Digest, Sha256};
    let record = record_line.map_or(String::new(), |l| l.to_string());
    let digest = Sha256::digest(format!("{rule}\0{uri}\0{record}\0{nth}").as_bytes());
    hex::encode(&digest[..16])
}

/// GitHub code scanning's `security-severity` (0.0-10.0; 9+ critical, 7+ high, 4+ medium):
/// the category's weight times the rule's score. A leaked credential outranks an injection
/// attempt in a document, which outranks personal data.
fn security_severity(category: Category, score: f32) -> String {
    let weight = match category {
        Category::Secret => 10.0,
        Category::Injection => 9.0,
        Category::Jailbreak => 8.0,
        Category::Evasion => 7.0,
        Category::Pii => 6.0,
    };
    format!("{:.1}", weight * f64::from(score.clamp(0.0, 1.0)))
}

/// What to do about a finding of `category`, for the rule's `help`.
fn remedy(category: Category) -> &'static str {
    match category {
        Category::Secret => "Treat the credential as leaked: revoke or rotate it, then remove it from the file (and its history).",
        Category::Pii => "Remove or mask the personal data before the document is indexed or sent to a model (`picket scan --masked-dir`).",
        Category::Injection => {
            "Text that addresses an AI assistant with instructions: remove it, or keep the document out of retrieval, before a model reads it."
        }
        Category::Jailbreak => "A jailbreak prompt: keep it out of model inputs and retrieval corpora, or label it as such.",
        Category::Evasion => {
            "Text hidden from readers (invisible characters, encodings, homoglyphs): inspect the raw bytes; remove what is hidden."
        }
    }
}

fn rule(packs: &CompiledPacks, id: &str) -> Value {
    let Some((_, r)) = packs.rule_by_id(id) else { return json!({"id": id}) };
    let description = if r.description.is_empty() { format!("{} ({})", r.label, r.category) } else { r.description.clone() };
    let description = description.trim_end_matches('.');
    let action = format!("{:?}", r.action).to_lowercase();
    let help = format!(
        "{description}. Rule {id} (pack {}, category {}, score {}, action {action}). {}",
        r.pack,
        r.category,
        round4(r.score),
        remedy(r.category)
    );
    let markdown = format!(
        "**{description}**\n\nRule `{id}` from pack `{}`: category `{}`, score {}, action `{action}`.\n\n{}\n\n         Rule packs and overrides: docs/rule-packs.md in the Picket repository.",
        r.pack,
        r.category,
        round4(r.score),
        remedy(r.category)
    );
    json!({
        "id": id,
        "name": r.label,
        "shortDescription": {"text": description},
        "fullDescription": {"text": format!("{description} ({} rule {id}, pack {})", r.category, r.pack)},
        "help": {"text": help, "markdown": markdown},
        "defaultConfiguration": {"level": level(r.action)},
        "properties": {
            "category": r.category,
            "pack": r.pack,
            "security-severity": security_severity(r.category, r.score),
            "tags": ["security", r.category.as_str()],
            "precision": if r.score >= 0.9 { "high" } else if r.score >= 0.6 { "medium" } else { "low" },
        },
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
