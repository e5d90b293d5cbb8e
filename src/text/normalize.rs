//! The normalized view that keyword rules match on, and the map back to the original.
//!
//! Each original character becomes zero or more normalized bytes: compatibility decomposition
//! (NFKD) with combining marks dropped, lower case, invisible and format characters removed,
//! Unicode tag characters decoded to the ASCII they smuggle, Latin look-alikes from any script
//! folded to Latin (UTS #39 confusables), and every whitespace run collapsed to one space.
//! Keywords are normalized with the same function, so a pack author writes `über` or `uber` alike.

use crate::budget::Budget;
use crate::span::Span;

/// Normalized text plus the offset map back to the original.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The normalized text.
    pub text: String,
    /// Maps normalized byte ranges back to original spans.
    pub map: OffsetMap,
}

/// One point where the normalized-to-original alignment changes.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    norm: usize,
    orig: usize,
    /// For a replaced unit: the original length it came from. Zero for linear anchors.
    orig_len: usize,
    linear: bool,
}

/// Maps normalized byte offsets to original byte offsets.
///
/// Stored as anchors: inside a linear run, bytes correspond one to one; a replaced unit (a
/// folded character, a collapsed whitespace run) maps any of its normalized bytes to the whole
/// original unit, so a mapped span always covers what produced the match.
#[derive(Debug, Clone, Default)]
pub struct OffsetMap {
    anchors: Vec<Anchor>,
}

impl OffsetMap {
    fn anchor_at(&self, norm: usize) -> Option<&Anchor> {
        let i = self.anchors.partition_point(|a| a.norm <= norm);
        i.checked_sub(1).map(|i| &self.anchors[i])
    }

    /// The original span that produced normalized bytes `[start, end)`.
    pub fn to_original(&self, start: usize, end: usize) -> Span {
        let map_start = |pos: usize| match self.anchor_at(pos) {
            Some(a) if a.linear => a.orig + (pos - a.norm),
            Some(a) => a.orig,
            None => 0,
        };
        if end <= start {
            let s = map_start(start);
            return Span::new(s, s);
        }
        let orig_start = map_start(start);
        let orig_end = match self.anchor_at(end - 1) {
            Some(a) if a.linear => a.orig + (end - 1 - a.norm) + 1,
            Some(a) => a.orig + a.orig_len,
            None => 0,
        };
        Span::new(orig_start, orig_end.max(orig_start))
    }

    pub(crate) fn linear(&mut self, norm: usize, orig: usize) {
        if let Some(last) = self.anchors.last() {
            if last.linear && orig >= last.orig && orig - last.orig == norm - last.norm {
                return;
            }
        }
        self.anchors.push(Anchor { norm, orig, orig_len: 0, linear: true });
    }

    pub(crate) fn replaced(&mut self, norm: usize, orig: usize, orig_len: usize) {
        self.anchors.push(Anchor { norm, orig, orig_len, linear: false });
    }
}

/// Normalize `original` for keyword matching.
pub fn normalize(original: &str) -> Normalized {
    normalize_within(original, Budget::UNLIMITED)
}

/// Bytes normalized between two budget checks.
const BUDGET_STEP: usize = 64 << 10;

/// [`normalize`] that stops early (returning a truncated view) once `budget` is spent; the
/// caller checks the budget and discards the scan.
pub fn normalize_within(original: &str, budget: Budget) -> Normalized {
    let mut next_check = BUDGET_STEP;
    let mut out = String::with_capacity(original.len());
    let mut map = OffsetMap::default();
    let mut space_run: Option<(usize, usize)> = None; // (orig start, orig end)
    let mut folded = String::new();

    let bytes = original.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() {
        if pos >= next_check {
            if budget.spent() {
                break;
            }
            next_check = pos + BUDGET_STEP;
        }
        // ASCII fast path: a run of printable non-space ASCII is copied lower-cased, one anchor.
        let b = bytes[pos];
        if b.is_ascii_graphic() {
            if let Some((start, end)) = space_run.take() {
                push_space(&mut out, &mut map, start, end);
            }
            let run_end = ascii_run_end(&bytes[..bytes.len().min(pos + BUDGET_STEP)], pos);
            map.linear(out.len(), pos);
            out.extend(original[pos..run_end].chars().map(|c| c.to_ascii_lowercase()));
            pos = run_end;
            continue;
        }
        let ch = original[pos..].chars().next().expect("pos is a char boundary");
        let next = pos + ch.len_utf8();
        if ch.is_whitespace() {
            let end = pos + ch.len_utf8();
            space_run = Some(match space_run {
                Some((start, _)) => (start, end),
                None => (pos, end),
            });
            pos = next;
            continue;
        }
        if let Some((start, end)) = space_run.take() {
            push_space(&mut out, &mut map, start, end);
        }
        if ch.is_ascii() {
            map.linear(out.len(), pos);
            out.push(ch.to_ascii_lowercase());
            pos = next;
            continue;
        }
        folded.clear();
        fold_char(ch, &mut folded);
        if folded.is_empty() {
            pos = next;
            continue;
        }
        if folded.len() == ch.len_utf8() && folded.chars().eq(std::iter::once(ch)) {
            map.linear(out.len(), pos);
        } else {
            map.replaced(out.len(), pos, ch.len_utf8());
        }
        out.push_str(&folded);
        pos = next;
    }
    if let Some((start, end)) = space_run {
        push_space(&mut out, &mut map, start, end);
    }
    Normalized { text: out, map }
}

/// End of the run from `pos` of printable ASCII and single spaces between printable ASCII:
/// such a run normalizes byte for byte (lower-cased), so it needs one anchor.
fn ascii_run_end(bytes: &[u8], pos: usize) -> usize {
    let mut i = pos;
    while i < bytes.len() {
        let b = bytes[i];
        let single_space = b == b' ' && bytes.get(i + 1).is_some_and(u8::is_ascii_graphic);
        if !(b.is_ascii_graphic() || single_space) {
            break;
        }
        i += 1;
    }
    i
}

fn push_space(out: &mut String, map: &mut OffsetMap, start: usize, end: usize) {
    if end - start == 1 {
        map.linear(out.len(), start);
    } else {
        map.replaced(out.len(), start, end - start);
    }
    out.push(' ');
}

/// Normalize a keyword the way text is normalized (used when compiling packs).
pub fn normalize_keyword(keyword: &str) -> String {
    normalize(keyword.trim()).text
}

/// Append the normalized form of one non-ASCII, non-whitespace character.
fn fold_char(ch: char, out: &mut String) {
    if let Some(ascii) = tag_to_ascii(ch) {
        out.push(ascii.to_ascii_lowercase());
        return;
    }
    if is_invisible(ch) {
        return;
    }
    unicode_normalization::char::decompose_compatible(ch, |c| {
        if unicode_normalization::char::is_combining_mark(c) || is_invisible(c) {
            return;
        }
        for lower in c.to_lowercase() {
            out.push(fold_homoglyph(lower));
        }
    });
}

/// The ASCII character a Unicode tag character (U+E0020..U+E007E) smuggles.
pub fn tag_to_ascii(ch: char) -> Option<char> {
    let c = ch as u32;
    (0xE0020..=0xE007E).contains(&c).then(|| char::from_u32(c - 0xE0000)).flatten()
}

/// Characters that render as nothing: zero-width and format controls, bidi controls, variation
/// selectors, fillers and the tag block.
pub fn is_invisible(ch: char) -> bool {
    matches!(ch as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Fold a letter that looks like a Latin one (UTS #39 confusables, see [`super::confusables`]).
fn fold_homoglyph(c: char) -> char {
    super::confusables::latin_lookalike(c).unwrap_or(c)
}

/// Leetspeak folding of an already normalized text. Every replacement is one ASCII byte for one
/// ASCII byte, so the same offset map serves the folded view.
pub fn fold_leet(normalized: &str) -> String {
    normalized
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(original: &str, needle: &str) -> String {
        let n = normalize(original);
        let at = n.text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in {:?}", n.text));
        let span = n.map.to_original(at, at + needle.len());
        span.slice(original).to_string()
    }

    #[test]
    fn ascii_is_lowercased_and_linear() {
        let n = normalize("Ignore ALL previous");
        assert_eq!(n.text, "ignore all previous");
        assert_eq!(round_trip("Ignore ALL previous", "all"), "ALL");
    }

    #[test]
    fn whitespace_runs_collapse() {
        let n = normalize("ignore \n\t all");
        assert_eq!(n.text, "ignore all");
        assert_eq!(round_trip("ignore \n\t all", "ignore all"), "ignore \n\t all");
    }

    #[test]
    fn invisible_characters_are_removed_but_covered() {
        let original = "ig\u{200B}nore previous";
        assert_eq!(normalize(original).text, "ignore previous");
        assert_eq!(round_trip(original, "ignore"), "ig\u{200B}nore");
    }

    #[test]
    fn homoglyphs_and_fullwidth_fold() {
        let original = "іgnоrе ＰＲＥＶＩＯＵＳ";
        assert_eq!(normalize(original).text, "ignore previous");
        // Issue 10: Armenian o and small-capital I passed the Cyrillic/Greek-only table.
        assert_eq!(normalize("ɪgnօre all prevɪous").text, "ignore all previous");
        assert_eq!(round_trip(original, "previous"), "ＰＲＥＶＩＯＵＳ");
    }

    #[test]
    fn accents_are_stripped() {
        assert_eq!(normalize("Ünïcödé café").text, "unicode cafe");
    }

    #[test]
    fn tag_characters_decode() {
        let hidden: String = "Hi".chars().map(|c| char::from_u32(0xE0000 + c as u32).unwrap()).collect();
        let n = normalize(&format!("ok {hidden}"));
        assert_eq!(n.text, "ok hi");
    }

    #[test]
    fn leet_folding_keeps_length() {
        let n = normalize("1gn0r3 4ll");
        assert_eq!(fold_leet(&n.text), "ignore all");
        assert_eq!(fold_leet(&n.text).len(), n.text.len());
    }
}
