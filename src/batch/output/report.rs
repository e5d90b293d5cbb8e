//! The JSON Lines report: one line per document (docs/batch.md has the field list). A line
//! never holds a matched value, only where it is.

use serde::{Deserialize, Serialize};

use crate::detect::Via;
use crate::pack::Action;
use crate::policy::{Category, Decision};
use crate::report::Categories;

use super::super::extract::Format;
use super::super::skip::Lossy;

/// One finding of a document. Offsets are into the document's source: the file for a
/// whole-file document (HTML: the markup, JSON: the raw file), the record's line(s) for a
/// JSON Lines or CSV record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DocFinding {
    pub rule: String,
    pub category: Category,
    pub label: String,
    #[serde(serialize_with = "round")]
    pub score: f32,
    pub start: usize,
    pub end: usize,
    pub char_start: usize,
    pub char_end: usize,
    /// 1-based line in the file.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// Where the finding ends (exclusive), for SARIF regions.
    pub end_line: u64,
    pub end_column: u64,
    /// The first chunk the finding was seen in.
    pub chunk: usize,
    pub action: Action,
    pub via: Via,
}

/// The raw bytes of a path that is not valid UTF-8, hex-encoded (its `path` is then written
/// lossily, and two such names could read the same).
pub(crate) fn path_hex(path: &std::path::Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt as _;
    path.to_str().is_none().then(|| hex::encode(path.as_os_str().as_bytes()))
}

/// The report line of a scanned document.
#[derive(Debug, Serialize)]
pub(crate) struct DocLine<'a> {
    pub path: &'a str,
    /// The path's raw bytes, hex-encoded, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// JSON Lines / CSV: 1-based line where the record starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// JSON Lines / CSV: 0-based record number in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// JSON Lines / CSV: byte offset of the record in the file (finding offsets are relative
    /// to the record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub format: Format,
    pub bytes: u64,
    pub chunks: usize,
    pub decision: Decision,
    #[serde(serialize_with = "round")]
    pub score: f32,
    pub categories: Categories,
    pub findings: &'a [DocFinding],
    #[serde(skip_serializing_if = "<[usize]>::is_empty")]
    pub blocked_chunks: &'a [usize],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub would_block: bool,
    /// Chunks the intent classifier scored.
    pub classified: usize,
    /// Scanned although not clean text: `{"code": "binary" | "not_utf8", "reason": ...}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lossy: Option<&'a Lossy>,
    /// SHA-256 of the document's source bytes (the file, or the record).
    pub sha256: &'a str,
    /// Fingerprint of the rule packs that produced this line.
    pub packs: &'a str,
}

/// The report line of a skipped file or record.
#[derive(Debug, Serialize)]
pub(crate) struct SkipLine<'a> {
    pub path: &'a str,
    /// The path's raw bytes, hex-encoded, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// A stable code: unreadable, too_large, not_a_file, no_text, malformed, walk_error,
    /// scan_failed. (Binary and non-UTF-8 documents are scanned, with `lossy` on their line.)
    pub skipped: &'a str,
    pub reason: &'a str,
    /// SHA-256 of the source bytes, when they were read (records): lets `--resume` tell an
    /// unchanged skipped record from a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packs: Option<&'a str>,
}

/// Scores go out with four decimals, as in the scan wire format (report.rs).
pub(crate) fn round<S: serde::Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round4(*v))
}

pub(crate) fn round4(v: f32) -> f64 {
    (f64::from(v) * 10_000.0).round() / 10_000.0
}
