//! Masking: merge the spans to mask, then write each operator's replacement.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::pack::MaskOp;
use crate::span::Span;
use crate::vault::SessionTokens;

/// A span to mask with the operator and label of the rule that found it.
#[derive(Debug, Clone, Copy)]
pub struct MaskSpan<'r> {
    pub span: Span,
    pub op: MaskOp,
    pub label: &'r str,
}

/// Writes masked text. Holds the key for the `hash` operator.
pub struct Masker {
    key: Vec<u8>,
}

impl Masker {
    /// A masker whose `hash` output is stable for the same key.
    pub fn new(key: Vec<u8>) -> Masker {
        Masker { key }
    }

    /// The masked copy of `original`. Overlapping spans merge into one replacement (the
    /// widest span's operator decides; `partial` falls back to `label` on a merged span, so no
    /// tail of a neighbouring value leaks). No byte of a masked span survives except the tail a
    /// `partial` operator keeps on purpose.
    pub fn apply(&self, original: &str, spans: &[MaskSpan<'_>], tokens: &mut SessionTokens) -> String {
        let mut spans: Vec<MaskSpan<'_>> = spans.iter().filter(|s| !s.span.is_empty()).copied().collect();
        spans.sort_by_key(|s| (s.span.start, std::cmp::Reverse(s.span.end)));
        let mut out = String::with_capacity(original.len());
        let mut cursor = 0;
        let mut i = 0;
        while i < spans.len() {
            let mut merged = spans[i].span;
            let mut widest = spans[i];
            let mut j = i + 1;
            while j < spans.len() && spans[j].span.start < merged.end {
                merged.end = merged.end.max(spans[j].span.end);
                if spans[j].span.len() > widest.span.len() {
                    widest = spans[j];
                }
                j += 1;
            }
            let op = if merged != widest.span && matches!(widest.op, MaskOp::Partial { .. }) { MaskOp::Label } else { widest.op };
            out.push_str(&original[cursor..merged.start]);
            self.write(&mut out, merged.slice(original), op, widest.label, tokens);
            cursor = merged.end;
            i = j;
        }
        out.push_str(&original[cursor..]);
        out
    }

    fn write(&self, out: &mut String, value: &str, op: MaskOp, label: &str, tokens: &mut SessionTokens) {
        match op {
            MaskOp::Label => label_of(out, label),
            MaskOp::Partial { keep } => partial(out, value, keep),
            MaskOp::Hash => {
                let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
                mac.update(value.as_bytes());
                let digest = hex::encode(mac.finalize().into_bytes());
                out.push_str(&format!("[{label}:{}]", &digest[..12]));
            }
            MaskOp::Token => match tokens.token_for(label, value) {
                Some(t) => out.push_str(&t),
                None => label_of(out, label),
            },
        }
    }
}

fn label_of(out: &mut String, label: &str) {
    out.push('[');
    out.push_str(label);
    out.push(']');
}

/// Star every alphanumeric character but the last `keep`, keeping separators so the shape
/// stays readable (`****-****-****-4242`). Short values are starred whole.
fn partial(out: &mut String, value: &str, keep: usize) {
    let alnum = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep = if keep * 2 >= alnum { 0 } else { keep };
    let mut seen = 0;
    for c in value.chars() {
        if c.is_alphanumeric() {
            seen += 1;
            out.push(if seen > alnum - keep { c } else { '*' });
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(text: &str, spans: &[(usize, usize, MaskOp, &str)]) -> String {
        let spans: Vec<MaskSpan<'_>> = spans.iter().map(|&(s, e, op, label)| MaskSpan { span: Span::new(s, e), op, label }).collect();
        Masker::new(b"k".to_vec()).apply(text, &spans, &mut SessionTokens::new(10))
    }

    #[test]
    fn operators() {
        let t = "card 4242 4242 4242 4242 ok";
        assert_eq!(mask(t, &[(5, 24, MaskOp::Partial { keep: 4 }, "CARD")]), "card **** **** **** 4242 ok");
        assert_eq!(mask(t, &[(5, 24, MaskOp::Label, "CARD")]), "card [CARD] ok");
        let hashed = mask(t, &[(5, 24, MaskOp::Hash, "CARD")]);
        assert!(hashed.starts_with("card [CARD:") && hashed == mask(t, &[(5, 24, MaskOp::Hash, "CARD")]));
        assert_eq!(mask("a x b x", &[(2, 3, MaskOp::Token, "X"), (6, 7, MaskOp::Token, "X")]), "a <X_1> b <X_1>");
    }

    #[test]
    fn overlapping_spans_merge() {
        let t = "key=abcdef123456 end";
        let out = mask(t, &[(4, 16, MaskOp::Partial { keep: 4 }, "SECRET"), (0, 10, MaskOp::Label, "ASSIGN")]);
        assert_eq!(out, "[SECRET] end");
    }
}
