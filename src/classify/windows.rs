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

    /// All windows of `text` (one, holding only special tokens, for empty text).
    pub fn windows(&self, text: &str) -> Result<Vec<Window>, ModelError> {
        let encoding = self.tokenizer.encode(text, false).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let ids = encoding.get_ids();
        let offsets = encoding.get_offsets();
        let wrap = |body: &[u32]| -> Vec<i64> {
            self.prefix.iter().copied().chain(body.iter().map(|&i| i64::from(i))).chain(self.suffix.iter().copied()).collect()
        };
        if ids.is_empty() {
            return Ok(vec![Window { ids: wrap(&[]), span: Span::new(0, text.len()) }]);
        }
        let mut out = Vec::with_capacity(ids.len() / self.step + 1);
        let mut start = 0;
        loop {
            let end = (start + self.content).min(ids.len());
            let (from, to) = (offsets[start].0, offsets[end - 1].1);
            let span = Span::checked(text, from.min(text.len()), to.min(text.len())).unwrap_or(Span::new(0, text.len()));
            out.push(Window { ids: wrap(&ids[start..end]), span });
            if end == ids.len() {
                break;
            }
            start += self.step;
        }
        Ok(out)
    }
}
