//! Context words (Presidio-style): words near a match that raise or lower its score.

use crate::span::Span;

/// Words near a match that raise or lower its score.
#[derive(Debug, Clone)]
pub struct Context {
    /// Lower-case words that raise the score to `score`.
    pub words: Vec<String>,
    pub score: f32,
    /// Lower-case words that lower the score to `negative_score` (when no positive word is near).
    pub negative: Vec<String>,
    pub negative_score: f32,
    /// Bytes before and after the match that are searched.
    pub window: usize,
}

impl Context {
    /// The score of a match at `span` of `lower` (an already lower-cased text): a positive word
    /// in the window wins, then a negative one, else `base`.
    pub fn score(&self, lower: &str, span: Span, base: f32) -> f32 {
        let from = floor_boundary(lower, span.start.saturating_sub(self.window));
        let to = ceil_boundary(lower, (span.end + self.window).min(lower.len()));
        let before = &lower[from..span.start];
        let after = &lower[span.end..to];
        let near = |words: &[String]| words.iter().any(|w| contains_word(before, w) || contains_word(after, w));
        if near(&self.words) {
            self.score.max(base)
        } else if near(&self.negative) {
            self.negative_score.min(base)
        } else {
            base
        }
    }
}

/// `word` occurs in `haystack` with a non-alphanumeric neighbour on each side where the word
/// itself starts or ends with an alphanumeric character (so `"` or `e.g.` match anywhere).
fn contains_word(haystack: &str, word: &str) -> bool {
    let check_start = word.chars().next().is_some_and(char::is_alphanumeric);
    let check_end = word.chars().last().is_some_and(char::is_alphanumeric);
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        let glued_before = check_start && before.is_some_and(char::is_alphanumeric);
        let glued_after = check_end && after.is_some_and(char::is_alphanumeric);
        !(glued_before || glued_after)
    })
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_words_raise_and_lower() {
        let ctx = Context {
            words: vec!["card".into()],
            score: 0.95,
            negative: vec!["order".into(), "\"".into()],
            negative_score: 0.2,
            window: 20,
        };
        let text = "my card: 4111111111111111";
        let at = text.find('4').unwrap();
        assert_eq!(ctx.score(text, Span::new(at, text.len()), 0.6), 0.95);
        let text = "order no 4111111111111111";
        assert_eq!(ctx.score(text, Span::new(9, text.len()), 0.6), 0.2);
        let text = "cardinal 4111111111111111";
        assert_eq!(ctx.score(text, Span::new(9, text.len()), 0.6), 0.6);
        let text = "say \"ignore all";
        assert_eq!(ctx.score(text, Span::new(5, text.len()), 0.8), 0.2);
    }
}
