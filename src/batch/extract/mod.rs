//! Turn a document's source bytes into the text an indexer would see, keeping a map back.
//!
//! Plain text and Markdown are scanned as they are. HTML has its tags dropped and entities
//! decoded ([`html`]); JSON and JSON Lines have string values picked by a field selector
//! ([`json`]); CSV has one cell picked by a column ([`csv`]). Each extractor appends to a
//! [`MapBuilder`], so that every finding in the extracted text can be pointed back at the bytes
//! of the ORIGINAL source: reports, masked copies and SARIF regions all use source offsets.

pub mod csv;
pub mod html;
pub mod json;

use std::borrow::Cow;
use std::path::Path;

use serde::Serialize;

use crate::span::Span;

/// How a file is read, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Anything not listed below: scanned as it is.
    Text,
    /// `.md`, `.markdown`: scanned as it is (the markup is text an indexer keeps too).
    Markdown,
    /// `.html`, `.htm`, `.xhtml`: tags dropped, entities decoded.
    Html,
    /// `.json`: one document; `--field` picks its text.
    Json,
    /// `.jsonl`, `.ndjson`: one document per line; `--field` picks its text.
    Jsonl,
    /// `.csv`: one document per row after the header; `--csv-column` picks its text.
    Csv,
}

impl Format {
    /// The format of `path`, from its extension (case-insensitive).
    pub fn of(path: &Path) -> Format {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("md" | "markdown") => Format::Markdown,
            Some("html" | "htm" | "xhtml") => Format::Html,
            Some("json") => Format::Json,
            Some("jsonl" | "ndjson") => Format::Jsonl,
            Some("csv") => Format::Csv,
            _ => Format::Text,
        }
    }

    /// True for formats with one document per record rather than per file.
    pub fn has_records(self) -> bool {
        matches!(self, Format::Jsonl | Format::Csv)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// How text written back into the source (a masked replacement) must be escaped: the way the
/// extractor decoded it. A `<` in HTML would open a tag, a `"` in JSON would end the string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escape {
    /// The text is the source: nothing to escape.
    #[default]
    None,
    Html,
    /// Inside a JSON string literal.
    Json,
    /// Inside a quoted CSV field.
    CsvQuoted,
}

impl Escape {
    /// `replacement` escaped for the source.
    pub fn apply(self, replacement: &str) -> String {
        match self {
            Escape::None => replacement.to_string(),
            Escape::Html => html::escape(replacement),
            Escape::Json => json::escape(replacement),
            Escape::CsvQuoted => replacement.replace('"', "\"\""),
        }
    }
}

/// Why a document's text could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The JSON is malformed.
    #[error("invalid JSON at byte {at}: {message}")]
    Json { at: usize, message: &'static str },
    /// The selector matched no string value.
    #[error("no text at field {0:?}")]
    NoField(String),
    /// The CSV row has no such column.
    #[error("row has no column {0}")]
    NoColumn(usize),
    /// The CSV header names no such column.
    #[error("the CSV header has no column {0:?}")]
    NoHeaderColumn(String),
    /// The CSV row is malformed.
    #[error("malformed CSV row: {0}")]
    Csv(&'static str),
}

/// The text to chunk and scan, and the map from its offsets to source offsets.
#[derive(Debug)]
pub struct Extracted<'s> {
    /// The text as an indexer would see it.
    pub text: Cow<'s, str>,
    /// Text offsets → source offsets.
    pub map: SourceMap,
    /// How text written back into the source must be escaped.
    pub escape: Escape,
}

impl<'s> Extracted<'s> {
    /// The source itself is the text (plain text, Markdown, raw JSON).
    pub fn identity(source: &'s str) -> Extracted<'s> {
        Extracted { text: Cow::Borrowed(source), map: SourceMap::default(), escape: Escape::None }
    }
}

/// One stretch of text and the source bytes it came from. A copied stretch maps byte for byte;
/// an atomic one (an entity, an escape, a separator standing for a tag) maps as a whole, so a
/// span touching it covers its whole source stretch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    text: usize,
    text_len: usize,
    src: usize,
    src_len: usize,
    atomic: bool,
}

impl Piece {
    fn is_copy(&self) -> bool {
        !self.atomic
    }
}

/// Maps byte offsets of extracted text back to byte offsets of the source. Empty means the
/// identity (the text is the source).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    pieces: Vec<Piece>,
}

impl SourceMap {
    /// The source span that produced the text span `text`. A span that starts or ends inside
    /// an atomic piece is widened to cover it, so masking it never leaves half an entity.
    pub fn to_source(&self, text: Span) -> Span {
        if self.pieces.is_empty() {
            return text;
        }
        let start = self.map_start(text.start);
        let end = if text.is_empty() { start } else { self.map_end(text.end) };
        Span::new(start, end.max(start))
    }

    /// The index of the piece holding text byte `at`, or `pieces.len()` past the end.
    fn piece_at(&self, at: usize) -> usize {
        self.pieces.partition_point(|p| p.text + p.text_len <= at)
    }

    fn map_start(&self, at: usize) -> usize {
        match self.pieces.get(self.piece_at(at)) {
            Some(p) if p.is_copy() => p.src + (at - p.text),
            Some(p) => p.src,
            None => self.pieces.last().map_or(0, |p| p.src + p.src_len),
        }
    }

    fn map_end(&self, end: usize) -> usize {
        match self.pieces.get(self.piece_at(end - 1)) {
            Some(p) if p.is_copy() => p.src + (end - p.text),
            Some(p) => p.src + p.src_len,
            None => self.pieces.last().map_or(0, |p| p.src + p.src_len),
        }
    }
}

/// Builds extracted text and its [`SourceMap`] together, so they cannot disagree.
#[derive(Debug, Default)]
pub struct MapBuilder {
    text: String,
    pieces: Vec<Piece>,
}

impl MapBuilder {
    /// Append `source[at..at + len]`, copied unchanged.
    pub fn copy(&mut self, source: &str, at: usize, len: usize) {
        if len == 0 {
            return;
        }
        let t = self.text.len();
        self.text.push_str(&source[at..at + len]);
        if let Some(last) = self.pieces.last_mut() {
            if last.is_copy() && last.text + last.text_len == t && last.src + last.src_len == at {
                last.text_len += len;
                last.src_len += len;
                return;
            }
        }
        self.pieces.push(Piece { text: t, text_len: len, src: at, src_len: len, atomic: false });
    }

    /// Append `text`, which stands for the `src_len` source bytes at `src` as a whole (a decoded
    /// entity or escape, or a separator standing for a tag). Empty text is dropped.
    pub fn replace(&mut self, text: &str, src: usize, src_len: usize) {
        if text.is_empty() {
            return;
        }
        let t = self.text.len();
        self.text.push_str(text);
        self.pieces.push(Piece { text: t, text_len: text.len(), src, src_len, atomic: true });
    }

    /// True when nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The text appended so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The finished text and map.
    pub fn finish<'s>(self, escape: Escape) -> Extracted<'s> {
        Extracted { text: Cow::Owned(self.text), map: SourceMap { pieces: self.pieces }, escape }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_map_byte_for_byte_and_atomics_widen() {
        let src = "ab&amp;cd<br>ef";
        let mut b = MapBuilder::default();
        b.copy(src, 0, 2);
        b.replace("&", 2, 5);
        b.copy(src, 7, 2);
        b.replace("\n", 9, 4);
        b.copy(src, 13, 2);
        let e = b.finish(Escape::Html);
        assert_eq!(e.text, "ab&cd\nef");
        assert_eq!(e.map.to_source(Span::new(0, 2)), Span::new(0, 2));
        assert_eq!(e.map.to_source(Span::new(2, 3)), Span::new(2, 7));
        assert_eq!(e.map.to_source(Span::new(1, 4)), Span::new(1, 8));
        assert_eq!(e.map.to_source(Span::new(6, 8)), Span::new(13, 15));
        assert_eq!(e.map.to_source(Span::new(8, 8)), Span::new(15, 15));
    }

    #[test]
    fn adjacent_copies_merge() {
        let mut b = MapBuilder::default();
        b.copy("abcdef", 0, 3);
        b.copy("abcdef", 3, 3);
        assert_eq!(b.pieces.len(), 1);
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(Format::of(Path::new("a/b.HTML")), Format::Html);
        assert_eq!(Format::of(Path::new("x.ndjson")), Format::Jsonl);
        assert_eq!(Format::of(Path::new("README")), Format::Text);
        assert!(Format::Csv.has_records() && !Format::Json.has_records());
    }
}
