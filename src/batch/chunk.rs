//! Chunks as a RAG indexer cuts them: fixed size, fixed overlap, counted in characters or in
//! whitespace-separated tokens (an approximation of model tokens that needs no tokenizer).
//!
//! Scanning exactly the chunks the indexer will embed means a finding can be tied to the chunk
//! to drop or mask. The overlap also lets the scanner see a value cut by a chunk boundary
//! whole in the neighbouring chunk (see `document::merge`).

use std::ops::Range;
use std::str::FromStr;

/// What chunk sizes count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChunkUnit {
    /// Unicode scalar values.
    #[default]
    Chars,
    /// Runs of non-whitespace characters.
    Tokens,
}

impl FromStr for ChunkUnit {
    type Err = String;

    fn from_str(s: &str) -> Result<ChunkUnit, String> {
        match s {
            "chars" => Ok(ChunkUnit::Chars),
            "tokens" => Ok(ChunkUnit::Tokens),
            other => Err(format!("unknown chunk unit {other:?} (expected chars or tokens)")),
        }
    }
}

/// Validated chunk settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunker {
    size: usize,
    overlap: usize,
    unit: ChunkUnit,
}

impl Chunker {
    /// Chunks of `size` units overlapping by `overlap` units; `overlap` must be below `size`.
    pub fn new(size: usize, overlap: usize, unit: ChunkUnit) -> Result<Chunker, String> {
        if size == 0 {
            return Err("--chunk-size must be at least 1".into());
        }
        if overlap >= size {
            return Err(format!("--chunk-overlap ({overlap}) must be smaller than --chunk-size ({size})"));
        }
        Ok(Chunker { size, overlap, unit })
    }

    /// Byte ranges of the chunks of `text`, in order. Empty text has no chunk.
    pub fn chunks(&self, text: &str) -> Vec<Range<usize>> {
        match self.unit {
            ChunkUnit::Chars => self.char_chunks(text),
            ChunkUnit::Tokens => self.token_chunks(text),
        }
    }

    fn step(&self) -> usize {
        self.size - self.overlap
    }

    fn char_chunks(&self, text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        if text.is_empty() {
            return out;
        }
        let (mut starts, mut ends) = (CharCursor::new(text), CharCursor::new(text));
        let mut first_char = 0;
        loop {
            let start = starts.byte_at(first_char);
            let end = ends.byte_at(first_char + self.size);
            out.push(start..end);
            if end == text.len() {
                return out;
            }
            first_char += self.step();
        }
    }

    fn token_chunks(&self, text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut firsts = Tokens { text, at: 0 };
        let mut lasts = Tokens { text, at: 0 }.peekable();
        let (mut consumed, mut end) = (0usize, 0usize);
        let mut first = firsts.next();
        while let Some(f) = first {
            let wanted = out.len() * self.step() + self.size;
            while consumed < wanted {
                let Some(t) = lasts.next() else { break };
                end = t.end;
                consumed += 1;
            }
            out.push(f.start..end);
            if lasts.peek().is_none() {
                break;
            }
            first = firsts.nth(self.step() - 1);
        }
        out
    }
}

/// Walks a text forward, turning character positions into byte offsets in one pass.
struct CharCursor<'t> {
    bytes: &'t [u8],
    byte: usize,
    char: usize,
}

impl<'t> CharCursor<'t> {
    fn new(text: &'t str) -> CharCursor<'t> {
        CharCursor { bytes: text.as_bytes(), byte: 0, char: 0 }
    }

    /// The byte offset of character `target` (or the end of the text); targets must not
    /// decrease between calls.
    fn byte_at(&mut self, target: usize) -> usize {
        while self.char < target && self.byte < self.bytes.len() {
            self.byte += utf8_len(self.bytes[self.byte]);
            self.char += 1;
        }
        self.byte
    }
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Byte ranges of whitespace-separated tokens.
struct Tokens<'t> {
    text: &'t str,
    at: usize,
}

impl Iterator for Tokens<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let rest = &self.text[self.at..];
        let start = self.at + rest.find(|c: char| !c.is_whitespace())?;
        let len = self.text[start..].find(char::is_whitespace).unwrap_or(self.text.len() - start);
        self.at = start + len;
        Some(start..start + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(size: usize, overlap: usize) -> Chunker {
        Chunker::new(size, overlap, ChunkUnit::Chars).unwrap()
    }

    #[test]
    fn char_chunks_overlap_and_end_at_the_text_end() {
        assert_eq!(chars(4, 1).chunks("abcdefghij"), [0..4, 3..7, 6..10]);
        assert_eq!(chars(4, 1).chunks("abcdefgh"), [0..4, 3..7, 6..8]);
        let short = chars(10, 2).chunks("abc");
        assert_eq!((short.len(), short.first()), (1, Some(&(0..3))));
        assert!(chars(4, 1).chunks("").is_empty());
    }

    #[test]
    fn char_chunks_count_characters_not_bytes() {
        let text = "ééééé";
        let ranges = chars(2, 0).chunks(text);
        assert_eq!(ranges, [0..4, 4..8, 8..10]);
        assert!(ranges.iter().all(|r| text.is_char_boundary(r.start) && text.is_char_boundary(r.end)));
    }

    #[test]
    fn token_chunks() {
        let t = Chunker::new(3, 1, ChunkUnit::Tokens).unwrap();
        let text = " a bb  c d\ne f ";
        let got: Vec<&str> = t.chunks(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(got, ["a bb  c", "c d\ne", "e f"]);
        assert!(t.chunks("   ").is_empty());
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(Chunker::new(0, 0, ChunkUnit::Chars).is_err());
        assert!(Chunker::new(10, 10, ChunkUnit::Chars).is_err());
    }
}
