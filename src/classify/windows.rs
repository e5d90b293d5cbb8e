//! Sliding token windows over long text: no silent truncation at the model's limit.
//!
//! The text is tokenized once without special tokens; windows of `max_tokens` (special tokens
//! included) start every `stride` tokens, so consecutive windows overlap. Each window is wrapped
//! in the special tokens the tokenizer's own post-processor adds (`[CLS] … [SEP]`, `<s> … </s>`),
//! learned once by encoding a probe word with and without them. (The tokenizers crate's
//! truncation-with-overflow dropped most of a long text in testing, so it is not used.)

use tokenizers::Tokenizer;

use super::model::ModelConfig;
use super::ModelError;
use crate::span::Span;

/// One window of token ids and the byte span of text it covers.
#[derive(Debug, Clone)]
pub struct Window {
    pub ids: Vec<i64>,
    pub span: Span,
}

/// Turns text into windows for one model.
pub struct Windower {
    tokenizer: Tokenizer,
    prefix: Vec<i64>,
    suffix: Vec<i64>,
    /// Content tokens per window.
    content: usize,
    /// Tokens between window starts.
    step: usize,
}

impl Windower {
    /// Configure `tokenizer` for windowing. A tokenizer.json may embed its own padding and
    /// truncation; both are switched off here.
    pub fn new(mut tokenizer: Tokenizer, config: &ModelConfig) -> Result<Windower, ModelError> {
        let err = |e: tokenizers::Error| ModelError::Tokenizer(e.to_string());
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(err)?;
        let bare: Vec<u32> = tokenizer.encode("probe", false).map_err(err)?.get_ids().to_vec();
        let wrapped: Vec<u32> = tokenizer.encode("probe", true).map_err(err)?.get_ids().to_vec();
        let at = (0..=wrapped.len().saturating_sub(bare.len()))
            .find(|&i| wrapped[i..].starts_with(&bare))
            .ok_or_else(|| ModelError::Tokenizer("cannot locate the text between the special tokens".into()))?;
        let prefix: Vec<i64> = wrapped[..at].iter().map(|&i| i64::from(i)).collect();
        let suffix: Vec<i64> = wrapped[at + bare.len()..].iter().map(|&i| i64::from(i)).collect();
        let content = config.max_tokens.saturating_sub(prefix.len() + suffix.len());
        if content == 0 {
            return Err(ModelError::Tokenizer(format!("max_tokens {} leaves no room besides the special tokens", config.max_tokens)));
        }
        let step = config.stride.clamp(1, content);
        Ok(Windower { tokenizer, prefix, suffix, content, step })
    }

    /// The windows of `text`, tokenized once, and how many windows the whole text has.
    ///
    /// At most `budget` windows are built (0: no limit). The text is tokenized in segments of
    /// about [`SEGMENT_BYTES`] cut after whitespace, so memory stays bounded by the budget:
    /// past the budget, segments are only counted. Empty text gives one window holding only
    /// the special tokens.
    pub fn windows(&self, text: &str, budget: usize) -> Result<(Vec<Window>, usize), ModelError> {
        let budget_tokens = if budget == 0 { usize::MAX } else { self.content + (budget - 1) * self.step };
        let mut ids: Vec<u32> = Vec::new();
        let mut offsets: Vec<(usize, usize)> = Vec::new();
        let mut total_tokens = 0usize;
        for (at, segment) in segments(text) {
            let encoding = self.tokenizer.encode(segment, false).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
            total_tokens += encoding.get_ids().len();
            let room = budget_tokens.saturating_sub(ids.len());
            let take = encoding.get_ids().len().min(room);
            ids.extend_from_slice(&encoding.get_ids()[..take]);
            offsets.extend(encoding.get_offsets()[..take].iter().map(|&(a, b)| (a + at, b + at)));
        }
        let total = if total_tokens <= self.content { 1 } else { 1 + (total_tokens - self.content).div_ceil(self.step) };
        let wrap = |body: &[u32]| -> Vec<i64> {
            self.prefix.iter().copied().chain(body.iter().map(|&i| i64::from(i))).chain(self.suffix.iter().copied()).collect()
        };
        if ids.is_empty() {
            return Ok((vec![Window { ids: wrap(&[]), span: Span::new(0, text.len()) }], total));
        }
        let mut out = Vec::with_capacity(ids.len() / self.step + 1);
        let mut start = 0;
        loop {
            let end = (start + self.content).min(ids.len());
            let (from, to) = (offsets[start].0, offsets[end - 1].1);
            let span = Span::checked(text, from.min(text.len()), to.min(text.len())).unwrap_or(Span::new(0, text.len()));
            out.push(Window { ids: wrap(&ids[start..end]), span });
            if end == ids.len() || (budget > 0 && out.len() == budget) {
                break;
            }
            start += self.step;
        }
        let total = total.max(out.len());
        Ok((out, total))
    }
}

/// Segments are cut at the first whitespace after this many bytes (or at a char boundary when
/// a long stretch has none), so a 4 MB text never becomes one 4 MB encoding.
pub const SEGMENT_BYTES: usize = 16 << 10;

/// `(byte offset, segment)` pieces of `text`, each ending after whitespace where possible.
fn segments(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= text.len() {
            return None;
        }
        let rest = &text[at..];
        let mut cut = rest.len();
        if rest.len() > SEGMENT_BYTES {
            let limit = SEGMENT_BYTES + SEGMENT_BYTES / 4;
            let window = &rest.as_bytes()[SEGMENT_BYTES..limit.min(rest.len())];
            cut = match window.iter().position(|b| b.is_ascii_whitespace()) {
                Some(p) => SEGMENT_BYTES + p + 1,
                None => (SEGMENT_BYTES..=rest.len()).find(|&i| rest.is_char_boundary(i)).unwrap_or(rest.len()),
            };
        }
        let piece = (at, &rest[..cut]);
        at += cut;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_text_and_cut_after_whitespace() {
        let text = "word ".repeat(10_000) + &"ü".repeat(20_000);
        let pieces: Vec<_> = segments(&text).collect();
        assert!(pieces.len() > 3);
        assert_eq!(pieces.iter().map(|(_, s)| *s).collect::<String>(), text);
        for (at, s) in &pieces {
            assert_eq!(&text[*at..*at + s.len()], *s);
        }
        assert!(pieces[0].1.ends_with(' '));
        assert_eq!(segments("").count(), 0);
    }
}
