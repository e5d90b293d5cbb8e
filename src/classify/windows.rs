//! Sliding token windows over long text: no silent truncation at the model's limit.
//!
//! The tokenizer's own truncation with overflow produces windows of `max_tokens` tokens
//! (special tokens included) that overlap by `max_tokens − stride` tokens; each keeps byte
//! offsets into the text, so the deciding window's span can be reported.

use tokenizers::{PostProcessor, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

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
}

impl Windower {
    /// Configure `tokenizer` for windowing. A tokenizer.json may embed its own padding and
    /// truncation; both are replaced here.
    pub fn new(mut tokenizer: Tokenizer, config: &ModelConfig) -> Result<Windower, ModelError> {
        let specials = tokenizer.get_post_processor().map_or(0, |p| p.added_tokens(false));
        let content = config.max_tokens.saturating_sub(specials);
        let overlap = (config.max_tokens - config.stride).min(content.saturating_sub(1));
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: config.max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: overlap,
            }))
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(Windower { tokenizer })
    }

    /// All windows of `text` (at least one, even for empty text).
    pub fn windows(&self, text: &str) -> Result<Vec<Window>, ModelError> {
        let encoding = self.tokenizer.encode(text, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let mut out = Vec::with_capacity(1 + encoding.get_overflowing().len());
        for enc in std::iter::once(&encoding).chain(encoding.get_overflowing().iter()) {
            let mut span: Option<Span> = None;
            for (offsets, special) in enc.get_offsets().iter().zip(enc.get_special_tokens_mask()) {
                if *special == 1 || offsets.0 == offsets.1 {
                    continue;
                }
                span = Some(match span {
                    None => Span::new(offsets.0, offsets.1),
                    Some(s) => Span::new(s.start.min(offsets.0), s.end.max(offsets.1)),
                });
            }
            let span =
                span.and_then(|s| Span::checked(text, s.start.min(text.len()), s.end.min(text.len()))).unwrap_or(Span::new(0, text.len()));
            out.push(Window { ids: enc.get_ids().iter().map(|&i| i64::from(i)).collect(), span });
        }
        Ok(out)
    }
}
