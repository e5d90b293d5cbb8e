//! Cutting JSON Lines and CSV files into records while streaming: a file of any size is read
//! through a fixed buffer, and one record is held at a time, up to a byte limit. A longer
//! record is skipped to its end without being kept, and reported.

use std::io::{self, BufRead};

/// Where one record is in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordAt {
    /// 1-based line where the record starts.
    pub line: u64,
    /// Byte offset of the record in the file.
    pub offset: u64,
    /// Bytes of the record, without its line terminator.
    pub len: u64,
    /// The record was longer than the limit; its bytes were not kept.
    pub too_long: bool,
}

/// Reads records one at a time. A CSV record runs over several lines while a quoted field is
/// open; a JSON Lines record is exactly one line.
pub struct RecordReader<R> {
    inner: R,
    multiline_quotes: bool,
    limit: usize,
    line: u64,
    offset: u64,
    /// The last byte consumed, to see a `\r` that ended one buffer fill before its `\n`.
    last: u8,
}

impl<R: BufRead> RecordReader<R> {
    /// A reader of JSON Lines (`multiline_quotes` false) or CSV rows (true), keeping records of
    /// at most `limit` bytes.
    pub fn new(inner: R, multiline_quotes: bool, limit: usize) -> RecordReader<R> {
        RecordReader { inner, multiline_quotes, limit, line: 1, offset: 0, last: 0 }
    }

    /// Read the next record into `buf` (cleared first; left empty when too long). `None` at
    /// the end of the file.
    pub fn next_record(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<RecordAt>> {
        buf.clear();
        let (line, offset) = (self.line, self.offset);
        let mut consumed = 0u64;
        let mut too_long = false;
        let mut open_quote = false;
        let mut terminator = 0;
        loop {
            let read = self.read_line(buf, &mut too_long)?;
            if read.consumed == 0 {
                break;
            }
            consumed += read.consumed as u64;
            terminator = read.terminator;
            self.line += u64::from(read.terminator > 0);
            open_quote ^= self.multiline_quotes && read.odd_quotes;
            if read.terminator == 0 || !open_quote {
                break;
            }
        }
        if consumed == 0 {
            return Ok(None);
        }
        self.offset += consumed;
        if !too_long {
            buf.truncate(buf.len() - terminator);
        }
        Ok(Some(RecordAt { line, offset, len: consumed - terminator as u64, too_long }))
    }

    /// Append one line (with its terminator) to `buf` unless that would pass the limit, in
    /// which case `buf` is emptied and the rest of the record only counted.
    fn read_line(&mut self, buf: &mut Vec<u8>, too_long: &mut bool) -> io::Result<LineRead> {
        let mut read = LineRead { consumed: 0, terminator: 0, odd_quotes: false };
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                return Ok(read);
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.map_or(available.len(), |p| p + 1);
            let terminator = newline.map(|p| {
                let before = if p > 0 { available[p - 1] } else { self.last };
                1 + usize::from(before == b'\r')
            });
            if !*too_long && buf.len() + take > self.limit {
                *too_long = true;
                buf.clear();
                buf.shrink_to(64 << 10);
            }
            if !*too_long {
                buf.extend_from_slice(&available[..take]);
            }
            read.odd_quotes ^= available[..take].iter().filter(|&&b| b == b'"').count() % 2 == 1;
            self.last = available[take - 1];
            self.inner.consume(take);
            read.consumed += take;
            if let Some(t) = terminator {
                read.terminator = t;
                return Ok(read);
            }
        }
    }
}

/// One line's worth of reading.
struct LineRead {
    consumed: usize,
    /// 0 at the end of the file, 1 for `\n`, 2 for `\r\n`.
    terminator: usize,
    /// The line holds an odd number of `"`: a CSV quoted field opens or closes in it.
    odd_quotes: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &str, csv: bool, limit: usize) -> Vec<(String, RecordAt)> {
        let mut r = RecordReader::new(input.as_bytes(), csv, limit);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(at) = r.next_record(&mut buf).unwrap() {
            out.push((String::from_utf8(buf.clone()).unwrap(), at));
        }
        out
    }

    #[test]
    fn lines_with_offsets() {
        let r = records("a\r\nbb\n\nccc", false, 100);
        let got: Vec<(&str, u64, u64)> = r.iter().map(|(s, at)| (s.as_str(), at.line, at.offset)).collect();
        assert_eq!(got, [("a", 1, 0), ("bb", 2, 3), ("", 3, 6), ("ccc", 4, 7)]);
        assert_eq!(r[0].1.len, 1);
    }

    #[test]
    fn csv_rows_span_lines_inside_quotes() {
        let r = records("h1,h2\n1,\"two\nlines\"\n2,x\n", true, 100);
        assert_eq!(r[1].0, "1,\"two\nlines\"");
        assert_eq!((r[1].1.line, r[2].1.line), (2, 4));
    }

    #[test]
    fn long_records_are_skipped_not_kept() {
        let r = records("short\nthis one is too long\nok\n", false, 8);
        assert_eq!(r[1].0, "");
        assert!(r[1].1.too_long);
        assert_eq!((r[1].1.offset, r[1].1.len), (6, 20));
        assert_eq!((r[2].0.as_str(), r[2].1.offset), ("ok", 27));
    }
}
