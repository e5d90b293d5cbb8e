//! CSV → text: one cell of a row (RFC 4180 quoting: `"a, b"`, `""` for a quote), with a map
//! back to the row's bytes. Rows are cut from the file by [`crate::batch::records`].

use std::str::FromStr;

use super::{Escape, ExtractError, Extracted, MapBuilder};

/// Which column holds the text: a header name, or a 0-based index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A 0-based position.
    Index(usize),
    /// A header name (the first row is always the header).
    Name(String),
}

impl FromStr for Column {
    type Err = String;

    fn from_str(s: &str) -> Result<Column, String> {
        if s.is_empty() {
            return Err("empty CSV column".into());
        }
        Ok(s.parse().map(Column::Index).unwrap_or_else(|_| Column::Name(s.to_string())))
    }
}

impl Column {
    /// The position of this column, given the header row.
    pub fn resolve(&self, header: &str) -> Option<usize> {
        match self {
            Column::Index(i) => Some(*i),
            Column::Name(name) => {
                fields(header).position(|f| f.is_ok_and(|f| cell_text(header, f).trim().trim_start_matches('\u{feff}') == name))
            }
        }
    }
}

/// The text of cell `index` of `row` (one record, without its line terminator).
pub fn cell(row: &str, index: usize) -> Result<Extracted<'static>, ExtractError> {
    let field = fields(row).nth(index).ok_or(ExtractError::NoColumn(index))??;
    let mut out = MapBuilder::default();
    if !field.quoted {
        out.copy(row, field.start, field.end - field.start);
        return Ok(out.finish(Escape::None));
    }
    let bytes = row.as_bytes();
    let (mut run, mut i) = (field.start, field.start);
    while i < field.end {
        if bytes[i] == b'"' {
            out.copy(row, run, i - run);
            out.replace("\"", i, 2);
            i += 2;
            run = i;
        } else {
            i += 1;
        }
    }
    out.copy(row, run, field.end - run);
    Ok(out.finish(Escape::CsvQuoted))
}

/// A field's contents (inside the quotes when quoted).
#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    end: usize,
    quoted: bool,
}

fn cell_text(row: &str, f: Field) -> String {
    let raw = &row[f.start..f.end];
    if f.quoted {
        raw.replace("\"\"", "\"")
    } else {
        raw.to_string()
    }
}

/// The fields of a row, left to right.
fn fields(row: &str) -> impl Iterator<Item = Result<Field, ExtractError>> + '_ {
    let bytes = row.as_bytes();
    let mut at = Some(0usize);
    std::iter::from_fn(move || {
        let i = at?;
        let (field, next) = match field_at(bytes, i) {
            Ok(x) => x,
            Err(e) => {
                at = None;
                return Some(Err(e));
            }
        };
        at = (next < bytes.len()).then_some(next + 1);
        Some(Ok(field))
    })
}

/// The field starting at `i` and the position of the `,` (or end of row) after it.
fn field_at(bytes: &[u8], i: usize) -> Result<(Field, usize), ExtractError> {
    if bytes.get(i) != Some(&b'"') {
        let end = bytes[i..].iter().position(|&b| b == b',').map_or(bytes.len(), |p| i + p);
        return Ok((Field { start: i, end, quoted: false }, end));
    }
    let start = i + 1;
    let mut j = start;
    loop {
        match (bytes.get(j), bytes.get(j + 1)) {
            (None, _) => return Err(ExtractError::Csv("unterminated quoted field")),
            (Some(b'"'), Some(b'"')) => j += 2,
            (Some(b'"'), _) => break,
            _ => j += 1,
        }
    }
    match bytes.get(j + 1) {
        None | Some(b',') => Ok((Field { start, end: j, quoted: true }, j + 1)),
        Some(_) => Err(ExtractError::Csv("text after a closing quote")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    #[test]
    fn picks_plain_and_quoted_cells() {
        let row = r#"1,"Smith, ""Bob""",plain,"#;
        assert_eq!(cell(row, 0).unwrap().text, "1");
        assert_eq!(cell(row, 1).unwrap().text, "Smith, \"Bob\"");
        assert_eq!(cell(row, 2).unwrap().text, "plain");
        assert_eq!(cell(row, 3).unwrap().text, "");
        assert_eq!(cell(row, 4).unwrap_err(), ExtractError::NoColumn(4));
        assert!(cell("\"open", 0).is_err());
    }

    #[test]
    fn quoted_cell_offsets_point_into_the_row() {
        let row = r#"id,"say ""hi"" to bob@example.com""#;
        let e = cell(row, 1).unwrap();
        assert_eq!(e.escape, super::super::Escape::CsvQuoted);
        let at = e.text.find("bob").unwrap();
        let span = e.map.to_source(Span::new(at, at + 15));
        assert_eq!(&row[span.start..span.end], "bob@example.com");
    }

    #[test]
    fn columns_resolve_by_name_or_index() {
        let header = "\u{feff}id, \"body\" ,other";
        assert_eq!("body".parse::<Column>().unwrap().resolve("id,body"), Some(1));
        assert_eq!("2".parse::<Column>().unwrap().resolve(header), Some(2));
        assert_eq!("id".parse::<Column>().unwrap().resolve(header), Some(0));
        assert_eq!("nope".parse::<Column>().unwrap().resolve(header), None);
    }
}
