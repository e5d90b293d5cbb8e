//! Evasion findings: invisible characters, smuggled tag characters, bidi controls and words that
//! mix Latin with look-alike scripts. Tuned not to flag emoji sequences, soft hyphens in prose
//! or ordinary non-Latin text.

use super::{Detector, Finding, RuleId, Via};
use crate::span::Span;
use crate::text::ScanText;

/// The built-in evasion detectors a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvasionKind {
    /// Zero-width and other invisible characters inside words.
    Invisible,
    /// Unicode tag characters (U+E0000..U+E007F) outside emoji flag sequences.
    TagChars,
    /// Bidirectional override and isolate controls.
    Bidi,
    /// A word mixing Latin with Cyrillic or Greek letters.
    MixedScript,
    /// Encoded payloads that decode to something another rule flags.
    Encoded,
}

impl EvasionKind {
    /// Parse the pack's `detector` value.
    pub fn parse(name: &str) -> Option<EvasionKind> {
        Some(match name {
            "invisible" => EvasionKind::Invisible,
            "tag_chars" => EvasionKind::TagChars,
            "bidi" => EvasionKind::Bidi,
            "mixed_script" => EvasionKind::MixedScript,
            "encoded" => EvasionKind::Encoded,
            _ => return None,
        })
    }
}

/// The evasion rules of a compiled pack set.
#[derive(Default)]
pub struct EvasionDetector {
    rules: Vec<(EvasionKind, RuleId, f32)>,
}

impl EvasionDetector {
    /// One entry per evasion rule.
    pub fn new(rules: Vec<(EvasionKind, RuleId, f32)>) -> EvasionDetector {
        EvasionDetector { rules }
    }

    /// The rule that reports decoded payloads, if any pack has one.
    pub fn encoded_rule(&self) -> Option<(RuleId, f32)> {
        self.rules.iter().find(|(k, ..)| *k == EvasionKind::Encoded).map(|(_, r, s)| (*r, *s))
    }

    fn rule(&self, kind: EvasionKind) -> Option<(RuleId, f32)> {
        self.rules.iter().find(|(k, ..)| *k == kind).map(|(_, r, s)| (*r, *s))
    }
}

impl Detector for EvasionDetector {
    /// Only non-ASCII characters can be evasion, so the scan jumps from one to the next.
    fn detect(&self, text: &ScanText<'_>, out: &mut Vec<Finding>) {
        let original = text.original;
        if original.is_ascii() {
            return;
        }
        let bytes = original.as_bytes();
        let mixed_script = self.rule(EvasionKind::MixedScript).is_some();
        let mut push = |kind: EvasionKind, span: Span| {
            if let Some((rule, score)) = self.rule(kind) {
                out.push(Finding { rule, span, score, via: Via::Direct });
            }
        };
        let char_at = |at: usize| original[at..].chars().next();
        let char_before = |at: usize| original[..at].chars().next_back();
        // End of the run of characters matching `pred` that starts at `start`.
        let run_end = |start: usize, pred: fn(char) -> bool| {
            let mut end = start;
            while let Some(c) = char_at(end).filter(|c| pred(*c)) {
                end += c.len_utf8();
            }
            end
        };

        let mut pos = 0;
        while let Some(offset) = bytes[pos..].iter().position(|b| *b >= 0x80) {
            let start = pos + offset;
            let Some(c) = char_at(start) else { break };
            pos = start + c.len_utf8();
            if is_tag(c) {
                let end = run_end(start, is_tag);
                let flag = char_before(start) == Some('\u{1F3F4}') && char_before(end) == Some('\u{E007F}') && (end - start) / 4 <= 7;
                if !flag {
                    push(EvasionKind::TagChars, Span::new(start, end));
                }
                pos = end;
            } else if is_bidi_control(c) {
                let end = run_end(start, is_bidi_control);
                push(EvasionKind::Bidi, Span::new(start, end));
                pos = end;
            } else if is_hidden_in_word(c) {
                let end = run_end(start, is_hidden_in_word);
                let run = original[start..end].chars().count();
                // A byte-order mark at the very start is an encoding artefact, not evasion.
                let leading_bom = start == 0 && c == '\u{FEFF}' && run == 1;
                if !leading_bom && invisible_is_suspicious(c, run, char_before(start), char_at(end)) {
                    push(EvasionKind::Invisible, Span::new(start, end));
                }
                pos = end;
            } else if mixed_script && is_cyrillic_or_greek(c) {
                let word = word_around(original, start);
                let chars = word.slice(original).chars();
                if chars.clone().any(is_latin_letter) && chars.clone().any(is_cyrillic_or_greek) {
                    push(EvasionKind::MixedScript, word);
                }
                pos = pos.max(word.end);
            }
        }
    }
}

fn in_word(c: char) -> bool {
    c.is_alphanumeric() || is_hidden_in_word(c)
}

/// The word (run of alphanumerics and hidden characters) containing byte `at`.
fn word_around(text: &str, at: usize) -> Span {
    let start = text[..at].char_indices().rev().take_while(|(_, c)| in_word(*c)).last().map_or(at, |(i, _)| i);
    let end = text[at..].char_indices().find(|(_, c)| !in_word(*c)).map_or(text.len(), |(i, _)| at + i);
    Span::new(start, end)
}

fn is_tag(c: char) -> bool {
    ('\u{E0000}'..='\u{E007F}').contains(&c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Invisible characters that can hide inside a word (soft hyphen excluded: it is normal in
/// hyphenated prose).
fn is_hidden_in_word(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{180E}' | '\u{034F}' | '\u{3164}' | '\u{FFA0}' | '\u{115F}' | '\u{1160}')
}

/// Zero-width joiners between emoji, and joiners in scripts that need them (Arabic, Indic),
/// are legitimate; an invisible character touching a Latin letter or digit, or a run of them,
/// is not.
fn invisible_is_suspicious(c: char, run: usize, before: Option<char>, after: Option<char>) -> bool {
    if run >= 3 {
        return true;
    }
    let latin = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || is_latin_letter(c));
    let joiner = matches!(c, '\u{200C}' | '\u{200D}');
    if joiner && !(latin(before) && latin(after)) {
        return false;
    }
    latin(before) || latin(after)
}

fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}') && c.is_alphabetic()
}

fn is_cyrillic_or_greek(c: char) -> bool {
    matches!(c, '\u{0370}'..='\u{03FF}' | '\u{0400}'..='\u{052F}' | '\u{1F00}'..='\u{1FFF}') && c.is_alphabetic()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(EvasionKind, String)> {
        let kinds = [EvasionKind::Invisible, EvasionKind::TagChars, EvasionKind::Bidi, EvasionKind::MixedScript];
        let d = EvasionDetector::new(kinds.iter().enumerate().map(|(i, k)| (*k, i as RuleId, 0.5)).collect());
        let mut out = Vec::new();
        d.detect(&ScanText::new(text), &mut out);
        out.iter().map(|f| (kinds[f.rule as usize], f.span.slice(text).to_string())).collect()
    }

    #[test]
    fn flags_hidden_characters() {
        assert_eq!(kinds("pay\u{200B}pal"), vec![(EvasionKind::Invisible, "\u{200B}".to_string())]);
        assert_eq!(kinds("a \u{202E}txt.exe")[0].0, EvasionKind::Bidi);
        assert_eq!(kinds("hi \u{E0041}\u{E0042}")[0].0, EvasionKind::TagChars);
        assert_eq!(kinds("pаypal")[0], (EvasionKind::MixedScript, "pаypal".to_string()));
    }

    #[test]
    fn leaves_legitimate_text_alone() {
        for ok in [
            "\u{1F469}\u{200D}\u{1F4BB} coding",
            "co\u{00AD}operation",
            "Привет, как дела?",
            "Καλημέρα κόσμε",
            "مرحبا بالعالم",
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} flag",
            "می\u{200C}خواهم",
        ] {
            assert!(kinds(ok).is_empty(), "{ok:?} → {:?}", kinds(ok));
        }
    }
}
