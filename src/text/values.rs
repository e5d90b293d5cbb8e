//! The value view that PII and secret rules also match on, and the map back to the original.
//!
//! Values hide from regex rules in ways a reader does not notice: a zero-width space between the
//! digits of a card, a full-width e-mail (`ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ`), Arabic-Indic digits,
//! a no-break space, `%40` or `&#64;` for the `@`, a card written `4111.1111.1111.1111` or one
//! group per line, a lower-case IBAN. This view undoes exactly those and keeps everything else as
//! written (case, accents, whitespace), so a match in it maps back to the original bytes exactly.
//!
//! Two kinds of rewrite, with different trust:
//! - character folds (invisible characters, full-width and other scripts' digits, escapes that
//!   stand for a value character) change what a reader would not see as different: every regex
//!   rule may report what they reveal;
//! - separator and case rewrites (`.`, `/`, line breaks between digit groups; a lower-case IBAN)
//!   are made only where a checksum or registry already confirms the joined value (Luhn, mod-97,
//!   SSN ranges, an assigned E.164 country code), and only rules with such a validator may report
//!   a match that touches them ([`ValueView::rewrites`]): a date, a version or a list of numbers
//!   is never joined into something a weaker rule would flag.
//!
//! The view exists only when some rewrite applies, so ordinary text pays one scan for the
//! characters that could need one (non-ASCII, `%`, `&`) and one pass of a small ASCII automaton
//! for separated digit groups, and no second run of the rules.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::budget::Budget;
use crate::detect::validators;
use crate::span::Span;
use crate::text::normalize::{is_invisible, tag_to_ascii, Normalized, OffsetMap};

/// Bytes folded between two budget checks.
const BUDGET_STEP: usize = 64 << 10;

/// The value view of a text.
#[derive(Debug, Clone)]
pub struct ValueView {
    /// The view and its map back to the original.
    pub view: Normalized,
    /// Original spans of the digit-group runs whose separators or letter case were rewritten
    /// (sorted, disjoint).
    rewritten: Vec<Span>,
}

impl ValueView {
    /// True when `span` (original coordinates) touches a separator or case rewrite: only a rule
    /// whose validator proves the value may report such a match.
    pub fn rewrites(&self, span: Span) -> bool {
        let i = self.rewritten.partition_point(|r| r.end <= span.start);
        self.rewritten.get(i).is_some_and(|r| r.start < span.end)
    }
}

/// The value view of `original`, or `None` when no rewrite applies. Stops early (a partial
/// view) once `budget` is spent; the caller checks the budget and discards the scan.
pub fn value_view(original: &str, budget: Budget) -> Option<ValueView> {
    let mut edits = Edits::default();
    let bytes = original.as_bytes();
    if !original.is_ascii() || bytes.contains(&b'%') || bytes.contains(&b'&') {
        fold_chars(original, budget, &mut edits);
    }
    fold_separated(original, budget, &mut edits);
    edits.build(original)
}

/// Replacements of original byte ranges, collected in any order.
#[derive(Default)]
struct Edits {
    /// (original range, range of the replacement in `buf`)
    list: Vec<(Range<usize>, Range<usize>)>,
    buf: String,
    /// Original spans of the runs whose separators or case were rewritten.
    runs: Vec<Span>,
}

impl Edits {
    fn push(&mut self, orig: Range<usize>, replacement: &str) {
        let at = self.buf.len();
        self.buf.push_str(replacement);
        self.list.push((orig, at..self.buf.len()));
    }

    fn build(mut self, original: &str) -> Option<ValueView> {
        if self.list.is_empty() {
            return None;
        }
        self.list.sort_by_key(|(orig, ..)| orig.start);
        let mut out = String::with_capacity(original.len());
        let mut map = OffsetMap::default();
        let mut copied = 0;
        for (orig, repl) in &self.list {
            if orig.start < copied {
                continue; // overlaps an earlier edit: the first one wins
            }
            if copied < orig.start {
                map.linear(out.len(), copied);
                out.push_str(&original[copied..orig.start]);
            }
            let repl = &self.buf[repl.clone()];
            if !repl.is_empty() {
                // A same-length ASCII rewrite (a letter's case) keeps bytes one to one.
                if repl.len() == orig.len() && repl.is_ascii() && original[orig.clone()].is_ascii() {
                    map.linear(out.len(), orig.start);
                } else {
                    map.replaced(out.len(), orig.start, orig.len());
                }
                out.push_str(repl);
            }
            copied = orig.end;
        }
        if copied < original.len() {
            map.linear(out.len(), copied);
            out.push_str(&original[copied..]);
        }
        self.runs.sort_unstable();
        let mut rewritten: Vec<Span> = Vec::with_capacity(self.runs.len());
        for run in self.runs {
            match rewritten.last_mut() {
                Some(last) if last.end >= run.start => last.end = last.end.max(run.end),
                _ => rewritten.push(run),
            }
        }
        Some(ValueView { view: Normalized { text: out, map }, rewritten })
    }
}

// ------------------------------------------------------------------------- character folds

/// What one unit of text (a character or an escape) is in the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Always folds: it is a value character written another way (the scratch holds it).
    Value,
    /// A space that joins digits (no-break space, `%20`, `&nbsp;`).
    Space,
    /// A dash that joins digits (en dash, minus sign).
    Dash,
    /// Renders as nothing; removed between value characters.
    Invisible,
    /// Stays as written.
    Keep,
}

/// ASCII characters PII and secret values are made of.
fn is_value_ascii(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '-' | '+' | '/' | '=')
}

/// Fold `original`'s non-ASCII characters and escapes into `edits`.
fn fold_chars(original: &str, budget: Budget, edits: &mut Edits) {
    let bytes = original.as_bytes();
    let interesting = |b: u8| b >= 0x80 || b == b'%' || b == b'&';
    let mut scratch = String::new();
    // The last character of the view so far (removed invisible characters skipped).
    let mut last: Option<char> = None;
    let mut ahead = Lookahead::default();
    let mut pos = 0;
    let mut next_check = BUDGET_STEP;
    while pos < bytes.len() {
        if pos >= next_check {
            if budget.spent() {
                return;
            }
            next_check = pos + BUDGET_STEP;
        }
        if !interesting(bytes[pos]) {
            let end = bytes[pos..].iter().position(|&b| interesting(b)).map_or(bytes.len(), |i| pos + i);
            last = Some(char::from(bytes[end - 1]));
            pos = end;
            continue;
        }
        scratch.clear();
        let (len, kind) = unit_at(original, pos, &mut scratch);
        let end = pos + len;
        let mut next = |pred: fn(char) -> bool| ahead.next_visible(original, end).is_some_and(pred);
        let digit = |c: char| c.is_ascii_digit();
        let join = match kind {
            Kind::Invisible => last.is_some_and(is_value_ascii) && next(is_value_ascii),
            // An escaped space (`card%204111%201111`) is a space: it may also start a number.
            Kind::Space if matches!(bytes[pos], b'%' | b'&') => last.is_some_and(digit) || next(digit),
            Kind::Space | Kind::Dash => last.is_some_and(digit) && next(digit),
            _ => false,
        };
        match kind {
            Kind::Value => {
                edits.push(pos..end, &scratch);
                last = scratch.chars().next_back();
            }
            Kind::Invisible if join => edits.push(pos..end, ""),
            Kind::Space | Kind::Dash if join => {
                let c = if kind == Kind::Space { " " } else { "-" };
                edits.push(pos..end, c);
                last = c.chars().next();
            }
            Kind::Invisible => {}
            _ => last = original[..end].chars().next_back(),
        }
        pos = end;
    }
}

/// The unit (character or escape) at `pos`: its length in bytes and what it is. For
/// [`Kind::Value`] the folded text is appended to `out`; for the others `out` holds the
/// character as a neighbour would see it.
fn unit_at(original: &str, pos: usize, out: &mut String) -> (usize, Kind) {
    let bytes = original.as_bytes();
    match bytes[pos] {
        b'%' => {
            let hex = bytes
                .get(pos + 1..pos + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
            // In a URL, `%40` is how userinfo writes an `@` (`user:p%40ss@host`): decoding it
            // would split the password where the URL does not.
            match hex.filter(|&b| b.is_ascii() && !(b == b'@' && in_url(bytes, pos))) {
                Some(b) => (3, escaped(char::from(b), out)),
                None => {
                    out.push('%');
                    (1, Kind::Keep)
                }
            }
        }
        b'&' => match entity(original, pos) {
            Some((len, c)) => (len, escaped(c, out)),
            None => {
                out.push('&');
                (1, Kind::Keep)
            }
        },
        _ => {
            let ch = original[pos..].chars().next().expect("pos is a char boundary");
            (ch.len_utf8(), fold_char(ch, out))
        }
    }
}

/// Whether `pos` is inside a URL: the run of non-whitespace before it (looked at up to 2 KiB
/// back, so the check stays linear) holds `://`.
fn in_url(bytes: &[u8], pos: usize) -> bool {
    let from = pos.saturating_sub(2048);
    let start = bytes[from..pos].iter().rposition(u8::is_ascii_whitespace).map_or(from, |i| from + i + 1);
    bytes[start..pos].windows(3).any(|w| w == b"://")
}

/// An escape stands for `c`: a value character (or one folded to it) is a value.
fn escaped(c: char, out: &mut String) -> Kind {
    // Not `/`, `=` or `:`: `%2F` and `%3D` are how URLs nest URLs, not how values hide.
    if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '+' | '-') {
        out.push(c);
        return Kind::Value;
    }
    if c.is_ascii() {
        out.push(c);
        return if c == ' ' { Kind::Space } else { Kind::Keep };
    }
    // `&#x200B;` is as invisible as the character itself, `&#xFF14;` as full-width.
    fold_char(c, out)
}

/// A numeric or named HTML character reference at `pos` (`&#64;`, `&#x40;`, `&commat;`) that
/// stands for one character: its length and the character.
fn entity(original: &str, pos: usize) -> Option<(usize, char)> {
    let rest = &original.as_bytes()[pos + 1..];
    let semi = rest.iter().take(40).position(|&b| b == b';')?;
    let body = &original[pos + 1..pos + 1 + semi];
    let c = match body.strip_prefix('#') {
        Some(num) => {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0')?
        }
        None => {
            let text = std::str::from_utf8(htmlize::ENTITIES.get(&original.as_bytes()[pos..pos + semi + 2])?).ok()?;
            let mut chars = text.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            c
        }
    };
    Some((semi + 2, c))
}

/// What the non-ASCII (or decoded) character `ch` is in the view.
fn fold_char(ch: char, out: &mut String) -> Kind {
    if ch.is_ascii() {
        out.push(ch);
        return match ch {
            ' ' => Kind::Space,
            '-' => Kind::Dash,
            c if is_value_ascii(c) => Kind::Value,
            _ => Kind::Keep,
        };
    }
    if let Some(ascii) = tag_to_ascii(ch) {
        out.push(ascii);
        return Kind::Value;
    }
    if let Some(d) = decimal_digit(ch) {
        out.push(d);
        return Kind::Value;
    }
    if is_invisible(ch) {
        return Kind::Invisible;
    }
    if ch.is_whitespace() {
        out.push(' ');
        return Kind::Space;
    }
    if matches!(ch, '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}') {
        out.push('-');
        return Kind::Dash;
    }
    // Full-width forms: only those of value characters (CJK text writes `，` and `：` daily).
    let c = ch as u32;
    if (0xFF01..=0xFF5E).contains(&c) {
        let ascii = char::from((c - 0xFF01 + 0x21) as u8);
        out.push(ascii);
        return if is_value_ascii(ascii) { Kind::Value } else { Kind::Keep };
    }
    // Compatibility forms whose decomposition is ASCII letters or digits without marks:
    // mathematical and circled letters and digits, super/subscript digits, ligatures. An
    // accented letter (a combining mark) stays as it is.
    let start = out.len();
    let mut plain = true;
    unicode_normalization::char::decompose_compatible(ch, |d| {
        plain &= d.is_ascii_alphanumeric();
        out.push(d);
    });
    if plain && out.len() > start {
        return Kind::Value;
    }
    out.truncate(start);
    out.push(ch);
    Kind::Keep
}

/// The next visible unit's character, in linear time overall: a run of invisible units shares
/// one forward walk.
#[derive(Default)]
struct Lookahead {
    /// (walk started at, stopped at, what it found)
    cached: Option<(usize, usize, Option<char>)>,
    scratch: String,
}

impl Lookahead {
    fn next_visible(&mut self, original: &str, after: usize) -> Option<char> {
        if let Some((from, at, found)) = self.cached {
            if from <= after && after <= at {
                return found;
            }
        }
        let mut at = after;
        let mut found = None;
        while at < original.len() {
            self.scratch.clear();
            let (len, kind) = unit_at(original, at, &mut self.scratch);
            if kind != Kind::Invisible {
                found = self.scratch.chars().next();
                break;
            }
            at += len;
        }
        self.cached = Some((after, at, found));
        found
    }
}

/// The first code point of each run of ten decimal digits (Unicode `Nd`) outside ASCII whose
/// compatibility decomposition does not already give an ASCII digit.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040,
    0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50,
    0xABF0, 0x104A0, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x16A60, 0x16B50,
    0x1E140, 0x1E2F0, 0x1E950,
];

/// The ASCII digit a non-ASCII decimal digit stands for (Arabic-Indic `٣` is `3`).
fn decimal_digit(ch: char) -> Option<char> {
    let c = ch as u32;
    let i = DIGIT_ZEROS.partition_point(|&z| z <= c).checked_sub(1)?;
    let d = c - DIGIT_ZEROS[i];
    (d < 10).then(|| char::from(b'0' + d as u8))
}

// ----------------------------------------------------------------- separators and letter case

/// Digit groups joined by any separator (the rules know only a space or a dash), and IBAN-like
/// runs in any case. ASCII only: one pass of a lazy DFA. What it finds is a candidate; the
/// validators decide.
static SEPARATED: LazyLock<Regex> = LazyLock::new(|| {
    let sep = r"(?:[ \t]*\r?\n[ \t]*|[./_\t-]|[ ]{1,3})";
    Regex::new(&format!(
        r"(?:\+[0-9]{{1,4}}|(?-u:\b)[0-9]{{2,4}})(?:{sep}[0-9]{{1,7}}){{1,7}}(?-u:\b)|(?-u:\b)[A-Za-z]{{2}}[0-9]{{2}}(?:{sep}?[A-Za-z0-9]{{1,30}}){{1,9}}(?-u:\b)"
    ))
    .expect("static regex")
});

/// Groups (alphanumeric runs) of one candidate, as original byte ranges.
fn groups(original: &str, span: Range<usize>) -> Vec<Range<usize>> {
    let bytes = original.as_bytes();
    let mut groups = Vec::new();
    let mut i = span.start;
    while i < span.end {
        if bytes[i].is_ascii_alphanumeric() {
            let start = i;
            while i < span.end && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            groups.push(start..i);
        } else {
            i += 1;
        }
    }
    groups
}

/// Rewrite the separators of digit groups, and the case of IBANs, that a validator confirms.
fn fold_separated(original: &str, budget: Budget, edits: &mut Edits) {
    let mut meter = budget.meter(256);
    for m in SEPARATED.find_iter(original) {
        if meter.tick() {
            return;
        }
        let groups = groups(original, m.range());
        if groups.len() < 2 && !m.as_str().bytes().any(|b| b.is_ascii_lowercase()) {
            continue;
        }
        let before = edits.list.len();
        if m.as_str().as_bytes()[0].is_ascii_alphabetic() {
            fold_iban(original, &groups, edits);
        } else {
            fold_digits(original, &groups, m.as_str().starts_with('+'), edits);
        }
        // The whole run is guarded, not only the joined value: joining changes where its
        // neighbours' digit groups end, and a shape-only rule must not read that as a match.
        if edits.list.len() > before {
            edits.runs.push(Span::new(m.start(), m.end()));
        }
    }
}

/// The separator between groups `k` and `k + 1`, as a kind: every line break (with its
/// indentation) is one kind, any other separator is itself.
fn separator_kind<'t>(original: &'t str, groups: &[Range<usize>], k: usize) -> &'t str {
    let sep = &original[groups[k].end..groups[k + 1].start];
    if sep.contains('\n') {
        "\n"
    } else {
        sep
    }
}

/// Runs of digit groups: a card (Luhn), an SSN (3-2-4, valid ranges) or an international number
/// (an assigned country code) whose separators the rules cannot read are joined. The value must
/// be a whole stretch of groups joined by one kind of separator that the rules do not read:
/// groups joined differently (`714-626-3202` then a line break then `429161`) are not one value,
/// and a stretch that goes on with the same separator is a list (a column of numbers), not one.
fn fold_digits(original: &str, groups: &[Range<usize>], plus: bool, edits: &mut Edits) {
    let n = groups.len();
    let mut i = 0;
    while i < n {
        let mut found = None;
        for j in (i + 2..=n).rev() {
            let kind = separator_kind(original, groups, i);
            let one_kind = (i..j - 1).all(|k| separator_kind(original, groups, k) == kind);
            let bounded =
                (i == 0 || separator_kind(original, groups, i - 1) != kind) && (j == n || separator_kind(original, groups, j - 1) != kind);
            if matches!(kind, " " | "-") || !one_kind || !bounded {
                continue;
            }
            let run = &groups[i..j];
            let digits: String = run.iter().map(|g| &original[g.clone()]).collect();
            let lens: Vec<usize> = run.iter().map(|g| g.len()).collect();
            let phone = plus && i == 0 && (8..=15).contains(&digits.len()) && validators::e164(&format!("+{digits}"));
            let card = (13..=19).contains(&digits.len()) && lens.iter().all(|&n| n >= 3) && validators::luhn(&digits);
            let joiner = if phone || card {
                Some("")
            } else if lens == [3, 2, 4] && validators::ssn(&digits) {
                Some("-")
            } else {
                None
            };
            if let Some(joiner) = joiner {
                found = Some((j, joiner));
                break;
            }
        }
        match found {
            Some((j, joiner)) => {
                for w in groups[i..j].windows(2) {
                    edits.push(w[0].end..w[1].start, joiner);
                }
                i = j;
            }
            None => i += 1,
        }
    }
}

/// An IBAN in lower case, or grouped other than the rules read it (groups of four after single
/// spaces, or no separator at all), is written in its plain upper-case form.
fn fold_iban(original: &str, groups: &[Range<usize>], edits: &mut Edits) {
    for j in (1..=groups.len()).rev() {
        let run = &groups[..j];
        let compact: String = run.iter().map(|g| original[g.clone()].to_ascii_uppercase()).collect();
        if !validators::iban(&compact) {
            continue;
        }
        let lower = run.iter().any(|g| original[g.clone()].bytes().any(|b| b.is_ascii_lowercase()));
        let spaced_by_four = run.windows(2).all(|w| &original[w[0].end..w[1].start] == " ") && run[..j - 1].iter().all(|g| g.len() == 4);
        if !lower && (j == 1 || spaced_by_four) {
            return; // the rule reads it as written
        }
        for (k, g) in run.iter().enumerate() {
            let text = &original[g.clone()];
            if text.bytes().any(|b| b.is_ascii_lowercase()) {
                edits.push(g.clone(), &text.to_ascii_uppercase());
            }
            if k + 1 < j {
                edits.push(g.end..run[k + 1].start, "");
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(s: &str) -> Option<String> {
        value_view(s, Budget::UNLIMITED).map(|v| v.view.text)
    }

    #[test]
    fn nothing_to_fold_means_no_view() {
        for plain in [
            "plain ASCII, card 4111 1111 1111 1111",
            "Grüße aus Köln, café crème, Ελληνικά, русский",
            "你好，世界：测试（一）",
            "dates 12.03.2024 and 2024/03/12, version 4.12.3, ip 10.0.12.7, path /usr/lib/4111",
            "Tom &amp; Jerry &lt;b&gt; 100% sure, see https://example.com/a%2Fb?q=rust%20regex",
            "totals\n2019\n2020\n2021\n2022\n",
            "\u{1F469}\u{200D}\u{1F4BB} coding",
        ] {
            assert_eq!(view(plain), None, "{plain:?}");
        }
    }

    /// Each evasion folds, and the folded value maps back to exactly the original bytes.
    #[test]
    fn evasions_fold_and_map_back() {
        let cases = [
            ("card 4111\u{200B}1111\u{200B}1111\u{200B}1111 ok", "4111111111111111", "4111\u{200B}1111\u{200B}1111\u{200B}1111"),
            ("mail ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ now", "bob@example.com", "ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
            ("ssn ١٢٣-٤٥-٦٧٨٩ é", "123-45-6789", "١٢٣-٤٥-٦٧٨٩"),
            ("tel 555\u{00A0}0134\u{2013}22", "555 0134-22", "555\u{00A0}0134\u{2013}22"),
            ("mail bob%40example.com", "bob@example.com", "bob%40example.com"),
            ("mail bob&#64;example&period;com.", "bob@example.com", "bob&#64;example&period;com"),
            ("card 4111.1111.1111.1111 ok", "4111111111111111", "4111.1111.1111.1111"),
            ("card 4111/1111/1111/1111", "4111111111111111", "4111/1111/1111/1111"),
            ("card\n4111\n1111\r\n1111\n  1111\n", "4111111111111111", "4111\n1111\r\n1111\n  1111"),
            ("ssn 536.22.4871.", "536-22-4871", "536.22.4871"),
            ("iban de89 3704 0044 0532 0130 00", "DE89370400440532013000", "de89 3704 0044 0532 0130 00"),
            ("iban DE89.3704.0044.0532.0130.00", "DE89370400440532013000", "DE89.3704.0044.0532.0130.00"),
            ("tel +46/70/123/45/67", "+46701234567", "+46/70/123/45/67"),
        ];
        for (original, value, covered) in cases {
            let v = value_view(original, Budget::UNLIMITED).unwrap_or_else(|| panic!("no view of {original:?}"));
            let at = v.view.text.find(value).unwrap_or_else(|| panic!("{value:?} not in {:?}", v.view.text));
            let span = v.view.map.to_original(at, at + value.len());
            assert_eq!(span.slice(original), covered, "{original:?}");
        }
    }

    #[test]
    fn a_url_keeps_its_escaped_at() {
        // The password is `D1fficultP%40ssw0rd` as the URL reads it; a decoded `@` would end it early.
        assert_eq!(view("mongodb://u:D1fficultP%40ssw0rd@%2Ftmp%2Fmongodb-27017.sock"), None);
        assert_eq!(
            view("see mongodb://u:p@h/ then mail bob%40example.com").as_deref(),
            Some("see mongodb://u:p@h/ then mail bob@example.com")
        );
    }

    #[test]
    fn separators_join_only_validated_values() {
        assert_eq!(view("card 4111.1111.1111.1112"), None, "Luhn fails");
        assert_eq!(view("ssn 666.22.4871"), None, "area 666");
        assert_eq!(view("iban de89 3704 0044 0532 0130 01"), None, "mod-97 fails");
        assert_eq!(view("+28/70/123/45/67"), None, "unassigned country code");
        // Found in the benchmark corpus: a phone, a line break and a CSV id were joined into a
        // Luhn-valid number; a card's last groups and the next line's id likewise.
        assert_eq!(view("mobile 714-626-3202\n429161,Linda"), None, "two kinds of separator");
        assert_eq!(view("Visa 6011 0516 1163 3758\n294297,Mary"), None, "the card is read as written");
        assert_eq!(view("4100\n4250\n3900\n4425\n5000\n"), None, "a column goes on: a list, not a value");
        assert!(view("card 4111.1111.1111.1111\n213986,Ahmed").is_some(), "a different separator after the value");
        let v = value_view("x 4111.1111.1111.1111 y", Budget::UNLIMITED).unwrap();
        assert!(v.rewrites(Span::new(2, 21)) && !v.rewrites(Span::new(0, 1)));
        let v = value_view("x ｂ@example.com", Budget::UNLIMITED).unwrap();
        assert!(!v.rewrites(Span::new(0, v.view.text.len())), "a character fold is not a separator rewrite");
    }

    #[test]
    fn case_is_kept() {
        assert_eq!(view("ＡＫＩＡ key").as_deref(), Some("AKIA key"));
    }
}
