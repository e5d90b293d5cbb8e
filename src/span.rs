//! Byte spans into the ORIGINAL text, and the one place that turns them into character offsets.

use serde::Serialize;

/// A UTF-8 byte range `[start, end)` into the original text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`; callers guarantee `start <= end`.
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end, "span start {start} after end {end}");
        Span { start, end }
    }

    /// A span that is checked against `text`: in bounds and on char boundaries.
    pub fn checked(text: &str, start: usize, end: usize) -> Option<Span> {
        (start <= end && text.is_char_boundary(start) && text.is_char_boundary(end)).then_some(Span { start, end })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when the span covers no byte.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// True when the two spans share at least one byte.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The covered text.
    pub fn slice<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start..self.end]
    }
}

/// Converts byte offsets of one text into Unicode scalar offsets.
///
/// Built once per report. For ASCII text the offsets are equal; otherwise a checkpoint of the
/// character count every 64 bytes makes each lookup a short count of non-continuation bytes.
pub struct CharIndex<'t> {
    text: &'t [u8],
    checkpoints: Option<Vec<usize>>,
}

const BLOCK: usize = 64;

impl<'t> CharIndex<'t> {
    /// Index `text`.
    pub fn new(text: &'t str) -> CharIndex<'t> {
        let bytes = text.as_bytes();
        if text.is_ascii() {
            return CharIndex { text: bytes, checkpoints: None };
        }
        let mut checkpoints = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut count = 0usize;
        for block in bytes.chunks(BLOCK) {
            checkpoints.push(count);
            count += block.iter().filter(|b| !is_continuation(**b)).count();
        }
        CharIndex { text: bytes, checkpoints: Some(checkpoints) }
    }

    /// The number of characters before byte offset `byte` (which must be a char boundary).
    pub fn char_offset(&self, byte: usize) -> usize {
        let Some(checkpoints) = &self.checkpoints else { return byte };
        let block = byte / BLOCK;
        if block >= checkpoints.len() {
            // byte == len on a block boundary: count the whole text.
            let last = checkpoints.len().saturating_sub(1);
            let from = last * BLOCK;
            return checkpoints.get(last).copied().unwrap_or(0)
                + self.text[from..byte.min(self.text.len())].iter().filter(|b| !is_continuation(**b)).count();
        }
        let from = block * BLOCK;
        checkpoints[block] + self.text[from..byte].iter().filter(|b| !is_continuation(**b)).count()
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_offsets_match_char_indices() {
        let text = "héllo wörld 👩‍💻 ".repeat(20) + "end";
        let index = CharIndex::new(&text);
        for (chars, (byte, _)) in text.char_indices().enumerate() {
            assert_eq!(index.char_offset(byte), chars, "byte {byte}");
        }
        assert_eq!(index.char_offset(text.len()), text.chars().count());
    }

    #[test]
    fn ascii_is_identity() {
        let index = CharIndex::new("abc");
        assert_eq!(index.char_offset(2), 2);
    }

    #[test]
    fn checked_rejects_bad_spans() {
        assert!(Span::checked("é", 0, 1).is_none());
        assert!(Span::checked("é", 0, 3).is_none());
        assert!(Span::checked("é", 0, 2).is_some());
    }
}
