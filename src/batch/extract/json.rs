//! JSON → text: the string values a field selector picks, unescaped, with a map back to the
//! raw bytes of each string literal.
//!
//! A small hand-written reader instead of `serde_json`: serde gives values but not where they
//! were in the input, and every finding must point into the original file (and a masked copy
//! must replace exactly the bytes of the value). The reader checks structure as it goes and
//! stops nesting at [`MAX_DEPTH`], so a hostile file cannot exhaust the stack.

use std::str::FromStr;

use super::{Escape, ExtractError, Extracted, MapBuilder};

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 128;

/// A path to string values: `body`, `data.text`, `messages[*].content`, `[0].text`. A path
/// that ends on an object or array picks every string inside it. Keys containing `.` or `[`
/// cannot be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    steps: Vec<Step>,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    Each,
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Selector, String> {
        let bad = |why: &str| format!("bad field selector {s:?}: {why} (examples: body, data.text, messages[*].content)");
        let mut steps = Vec::new();
        let mut rest = s;
        loop {
            let key_end = rest.find(['.', '[']).unwrap_or(rest.len());
            if key_end > 0 {
                steps.push(Step::Key(rest[..key_end].to_string()));
            } else if !rest.starts_with('[') {
                return Err(bad("empty key"));
            }
            rest = &rest[key_end..];
            while let Some(inner) = rest.strip_prefix('[') {
                let close = inner.find(']').ok_or_else(|| bad("unclosed ["))?;
                steps.push(match &inner[..close] {
                    "*" => Step::Each,
                    n => Step::Index(n.parse().map_err(|_| bad("an index is a number or *"))?),
                });
                rest = &inner[close + 1..];
            }
            match rest.strip_prefix('.') {
                None if rest.is_empty() => break,
                Some(after) => rest = after,
                None => return Err(bad("expected . or [ after ]")),
            }
        }
        Ok(Selector { steps, text: s.to_string() })
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The text at `selector` in the JSON document `src`. Several matches are joined with a
/// newline.
pub fn extract<'s>(src: &'s str, selector: &Selector) -> Result<Extracted<'s>, ExtractError> {
    let mut reader = Reader { src, at: 0, found: Vec::new() };
    reader.ws();
    reader.value(Mode::Navigate(&selector.steps), 0)?;
    reader.ws();
    if reader.at != src.len() {
        return Err(reader.error("trailing characters after the value"));
    }
    if reader.found.is_empty() {
        return Err(ExtractError::NoField(selector.text.clone()));
    }
    let mut out = MapBuilder::default();
    for (i, &(start, end)) in reader.found.iter().enumerate() {
        if i > 0 {
            out.replace("\n", start, 0);
        }
        unescape(src, start, end, &mut out)?;
    }
    Ok(out.finish(Escape::Json))
}

/// Escape text written back inside a JSON string literal (a masked replacement).
pub fn escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_string()
}

/// What to do with the value being read.
#[derive(Clone, Copy)]
enum Mode<'p> {
    /// Not on the selected path.
    Skip,
    /// Inside the selected value: every string counts.
    Collect,
    /// On the way to the selected value.
    Navigate(&'p [Step]),
}

impl<'p> Mode<'p> {
    fn normalized(self) -> Mode<'p> {
        match self {
            Mode::Navigate([]) => Mode::Collect,
            m => m,
        }
    }
}

struct Reader<'s> {
    src: &'s str,
    at: usize,
    /// Byte ranges of the selected string literals' contents (inside the quotes).
    found: Vec<(usize, usize)>,
}

impl Reader<'_> {
    fn error(&self, message: &'static str) -> ExtractError {
        ExtractError::Json { at: self.at, message }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.at).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, b: u8, message: &'static str) -> Result<(), ExtractError> {
        self.ws();
        if self.peek() != Some(b) {
            return Err(self.error(message));
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, mode: Mode<'_>, depth: usize) -> Result<(), ExtractError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let mode = mode.normalized();
        match self.peek() {
            Some(b'{') => self.object(mode, depth),
            Some(b'[') => self.array(mode, depth),
            Some(b'"') => {
                let range = self.string()?;
                if matches!(mode, Mode::Collect) {
                    self.found.push(range);
                }
                Ok(())
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    fn object(&mut self, mode: Mode<'_>, depth: usize) -> Result<(), ExtractError> {
        self.at += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let (start, end) = self.string()?;
            self.expect(b':', "expected ':' after a key")?;
            self.ws();
            let member = match mode {
                Mode::Navigate([Step::Key(k), rest @ ..]) if key_is(&self.src[start..end], k) => Mode::Navigate(rest),
                Mode::Collect => Mode::Collect,
                _ => Mode::Skip,
            };
            self.value(member, depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, mode: Mode<'_>, depth: usize) -> Result<(), ExtractError> {
        self.at += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        for index in 0.. {
            self.ws();
            let element = match mode {
                Mode::Navigate([Step::Each, rest @ ..]) => Mode::Navigate(rest),
                Mode::Navigate([Step::Index(n), rest @ ..]) if *n == index => Mode::Navigate(rest),
                Mode::Collect => Mode::Collect,
                _ => Mode::Skip,
            };
            self.value(element, depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => break,
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
        self.at += 1;
        Ok(())
    }

    /// Read a string literal; return the byte range of its contents.
    fn string(&mut self) -> Result<(usize, usize), ExtractError> {
        let bytes = self.src.as_bytes();
        let start = self.at + 1;
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    self.at = i + 1;
                    return Ok((start, i));
                }
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        Err(self.error("unterminated string"))
    }

    fn literal(&mut self, word: &'static str) -> Result<(), ExtractError> {
        if !self.src[self.at..].starts_with(word) {
            return Err(self.error("expected a value"));
        }
        self.at += word.len();
        Ok(())
    }

    fn number(&mut self) -> Result<(), ExtractError> {
        let len = self.src.as_bytes()[self.at..].iter().take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')).count();
        self.at += len;
        Ok(())
    }
}

/// True when the raw key (escapes and all) names `want`.
fn key_is(raw: &str, want: &str) -> bool {
    if !raw.contains('\\') {
        return raw == want;
    }
    let mut out = MapBuilder::default();
    unescape(raw, 0, raw.len(), &mut out).is_ok() && out.text() == want
}

/// Append the unescaped contents of the literal at `src[start..end]`.
fn unescape(src: &str, start: usize, end: usize, out: &mut MapBuilder) -> Result<(), ExtractError> {
    let bytes = src.as_bytes();
    let (mut run, mut i) = (start, start);
    while i < end {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        out.copy(src, run, i - run);
        let (c, len) = escape_at(src, i).ok_or(ExtractError::Json { at: i, message: "bad escape in string" })?;
        out.replace(c.encode_utf8(&mut [0u8; 4]), i, len);
        i += len;
        run = i;
    }
    out.copy(src, run, end - run);
    Ok(())
}

/// The character an escape at `at` stands for, and the escape's length. Lone surrogates
/// become U+FFFD.
fn escape_at(src: &str, at: usize) -> Option<(char, usize)> {
    let c = match src.as_bytes().get(at + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => return unicode_escape(src, at),
        _ => return None,
    };
    Some((c, 2))
}

fn unicode_escape(src: &str, at: usize) -> Option<(char, usize)> {
    let hex = |from: usize| src.get(from..from + 4).and_then(|h| u32::from_str_radix(h, 16).ok());
    let high = hex(at + 2)?;
    if (0xD800..0xDC00).contains(&high) && src.get(at + 6..at + 8) == Some("\\u") {
        if let Some(low) = hex(at + 8).filter(|l| (0xDC00..0xE000).contains(l)) {
            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            return Some((char::from_u32(code)?, 12));
        }
    }
    Some((char::from_u32(high).unwrap_or('\u{fffd}'), 6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn pick(src: &str, selector: &str) -> Result<String, ExtractError> {
        extract(src, &selector.parse().unwrap()).map(|e| e.text.into_owned())
    }

    #[test]
    fn selectors_parse() {
        assert!("messages[*].content".parse::<Selector>().is_ok());
        assert!("[0].text".parse::<Selector>().is_ok());
        assert!("a..b".parse::<Selector>().is_err());
        assert!("a[x]".parse::<Selector>().is_err());
        assert!("".parse::<Selector>().is_err());
    }

    #[test]
    fn picks_fields_and_array_elements() {
        let src = r#"{"id": 1, "messages": [{"role": "user", "content": "hi"}, {"content": "bye", "n": [1, 2.5e3, true, null]}]}"#;
        assert_eq!(pick(src, "messages[*].content").unwrap(), "hi\nbye");
        assert_eq!(pick(src, "messages[1].content").unwrap(), "bye");
        assert_eq!(pick(src, "messages[0]").unwrap(), "user\nhi");
        assert_eq!(pick(src, "nope"), Err(ExtractError::NoField("nope".into())));
    }

    #[test]
    fn unescapes_with_offsets_into_the_literal() {
        let src = r#"{"body": "line\nmail: bob\u0040example.com \ud83d\ude00"}"#;
        let e = extract(src, &"body".parse().unwrap()).unwrap();
        assert_eq!(e.text, "line\nmail: bob@example.com 😀");
        let at = e.text.find("bob").unwrap();
        let span = e.map.to_source(Span::new(at, at + "bob@example.com".len()));
        assert_eq!(&src[span.start..span.end], r"bob\u0040example.com");
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(matches!(pick("{\"body\": \"x\"", "body"), Err(ExtractError::Json { .. })));
        assert!(matches!(pick("{\"body\": tru}", "body"), Err(ExtractError::Json { .. })));
        assert!(matches!(pick("{\"body\": \"x\"} extra", "body"), Err(ExtractError::Json { .. })));
        let deep = "[".repeat(1000) + &"]".repeat(1000);
        assert!(matches!(pick(&deep, "x"), Err(ExtractError::Json { .. })));
    }

    #[test]
    fn escape_round_trips() {
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
