//! Streaming scan: feed text as it arrives, get back text that is already masked, as soon as no
//! later byte can change how it is masked.
//!
//! ```text
//! let mut s = StreamScanner::new(engine, StreamOptions::new(Direction::Output))?;
//! for chunk in chunks { out.write(&s.push(chunk)?) }   // Err(StreamStop) ends the stream
//! out.write(&s.finish()?);
//! ```
//!
//! [`StreamScanner::push`] takes `&str`; [`StreamScanner::push_bytes`] takes raw bytes and keeps
//! a character split across chunks until it is whole. Released text is the engine's own masked
//! text ([`crate::engine`]'s one masking path, the same spans a one-shot scan masks), so for
//! any chunking the concatenated output equals the one-shot `masked` of the whole text
//! (`tests/it/stream.rs` checks this over random texts and chunkings).
//!
//! **What is held back.** Only the tail that could still become (part of) a masked value:
//! - *Regex rules*: every character position starts an anchored walk of one lazy DFA over all
//!   masking regex rules (`MatchKind::All`, so no rule hides another); a walk that dies frees its
//!   start. The text from the earliest live walk's start is held. A walk lives at most the
//!   rules' longest match (`regex_syntax` `maximum_len`), which is why a rule with an unbounded
//!   match cannot stream ([`StreamError::Unbounded`]; `rules check` warns about it).
//! - *Context words*: a finding whose context window reaches past the text seen so far is held
//!   (a later word may still raise or lower its score).
//! - *Keyword rules that mask*: the last `longest keyword + context window` normalized
//!   characters (whitespace runs count once).
//! - *Evasion and encoded payloads*: the trailing run of non-whitespace (a payload or a run of
//!   tag characters may still grow).
//!
//! In ordinary prose that is the word being written. Text never leaves on a timer: past
//! [`StreamOptions::max_hold_bytes`] held bytes the stream stops ([`StreamStop::HoldLimit`]).
//!
//! **Decisions.** Findings count toward the policy as they become final (each rule's best score,
//! noisy-OR per category, as in a one-shot scan). When the policy blocks, the stream stops with
//! [`StreamStop::Blocked`] before releasing the text that tipped it; what was released before
//! stays released (streaming cannot recall text). The classifier does not run on streams.
//!
//! **Limits of streaming, by construction.** A one-shot scan masks every repeat of a masked
//! value; a stream masks repeats that follow the first masked occurrence within the scan window
//! (context plus held text) but cannot mask an earlier, already released repeat.
//!
//! With [`StreamOptions::restore`] naming a session, placeholders minted in that session
//! (`<EMAIL_1>`) are restored in the released text; a placeholder split across chunks is held
//! until it is whole.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};

use crate::engine::{detect, mask_spans, Engine};
use crate::mask::MaskSpan;
use crate::pack::{Action, CompiledPacks, RuleKind};
use crate::policy::{blocking_categories, Category, CategoryScores, Direction, Policy};
use crate::span::Span;
use crate::vault::SessionTokens;

/// How a stream is scanned.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub direction: Direction,
    /// Policy name; `default` when absent.
    pub policy: Option<String>,
    /// Tenant that owns the session.
    pub tenant: String,
    /// Session whose reversible tokens `token` masking mints (none: tokens live in the stream).
    pub session: Option<String>,
    /// Restore the placeholders of this session (of `tenant`) in the released text. The proxy
    /// restores the tokens minted on the way in and mints none on the way out, so a value the
    /// model writes is never "restored".
    pub restore: Option<String>,
    /// Most bytes held back at once; past it the stream stops (fail closed).
    pub max_hold_bytes: usize,
}

impl StreamOptions {
    /// Default policy, no session, 64 KiB hold limit.
    pub fn new(direction: Direction) -> StreamOptions {
        StreamOptions { direction, policy: None, tenant: String::new(), session: None, restore: None, max_hold_bytes: 64 << 10 }
    }
}

/// Why a stream cannot be scanned at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    #[error("unknown policy {0:?}")]
    UnknownPolicy(String),
    /// A masking rule has no longest match, so no hold-back bound exists.
    #[error("rule {rule} ({file}:{line}) has no longest match, so it cannot run in streaming mode; bound its repetitions")]
    Unbounded { rule: String, file: String, line: usize },
}

/// Why a stream stopped. Terminal: every later call returns the same stop.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamStop {
    /// The policy blocks the text (categories that reached their threshold, or a `block` rule).
    #[error("blocked by policy ({})", categories_text(.categories))]
    Blocked { categories: Vec<Category>, rules: Vec<String> },
    /// More than `max` bytes would have to be held back.
    #[error("more than {max} bytes would have to be held back")]
    HoldLimit { max: usize },
    /// The bytes are not UTF-8.
    #[error("the stream is not valid UTF-8")]
    InvalidUtf8,
}

fn categories_text(c: &[Category]) -> String {
    c.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

/// The longest match of `pattern` in bytes; `None` when a repetition is open or the pattern
/// does not parse.
pub fn max_match_len(pattern: &str) -> Option<usize> {
    regex_syntax::Parser::new().parse(pattern).ok()?.properties().maximum_len()
}

/// What the packs say about holding back, for one direction; built once per pack set.
struct Plan {
    /// Anchored lazy DFA over every masking regex rule; `None` when it cannot be built (then
    /// `max_match` bytes are held, the plain bound).
    dfa: Option<DFA>,
    /// Why the DFA could not be built (kept for tests and diagnostics).
    #[allow(dead_code)]
    dfa_error: Option<String>,
    max_match: usize,
    /// Normalized characters held for masking keyword rules (0: none).
    keyword_hold: usize,
    /// Hold the trailing non-whitespace run (payloads, evasion runs).
    hold_word: bool,
    /// Released text kept as look-behind for the next scan window.
    context: usize,
}

static PLANS: LazyLock<Mutex<HashMap<(String, Direction), Arc<Plan>>>> = LazyLock::new(Mutex::default);

impl Plan {
    fn get(packs: &CompiledPacks, direction: Direction) -> Result<Arc<Plan>, StreamError> {
        let key = (packs.fingerprint.clone(), direction);
        if let Some(plan) = PLANS.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(plan.clone());
        }
        let plan = Arc::new(Plan::build(packs, direction)?);
        let mut plans = PLANS.lock().unwrap_or_else(|e| e.into_inner());
        if plans.len() >= 16 {
            plans.clear();
        }
        plans.insert(key, plan.clone());
        Ok(plan)
    }

    fn build(packs: &CompiledPacks, direction: Direction) -> Result<Plan, StreamError> {
        let mut patterns = Vec::new();
        let mut max_match = 0;
        let mut keyword_hold = 0;
        let mut hold_word = false;
        let mut context = 0;
        let masks_something = packs.rules.iter().any(|r| r.applies_to(direction) && r.action != Action::Report);
        for rule in packs.rules.iter().filter(|r| r.applies_to(direction)) {
            let masks = rule.action != Action::Report;
            context = context.max(rule.context_window);
            match &rule.kind {
                RuleKind::Regex { pattern, .. } if masks => {
                    let len = max_match_len(pattern).ok_or_else(|| StreamError::Unbounded {
                        rule: rule.id.clone(),
                        file: rule.location.file.clone(),
                        line: rule.location.line,
                    })?;
                    max_match = max_match.max(len);
                    patterns.push(pattern.as_str());
                }
                RuleKind::Keywords { keywords, .. } => {
                    let longest = keywords.iter().map(|k| k.chars().count()).max().unwrap_or(0);
                    context = context.max(longest);
                    if masks {
                        keyword_hold = keyword_hold.max(longest + rule.context_window + 1);
                    }
                }
                RuleKind::Evasion(_) => hold_word |= masks_something,
                RuleKind::Regex { .. } => {}
            }
        }
        let build = |capacity: usize| {
            DFA::builder()
                .configure(DFA::config().match_kind(MatchKind::All).unicode_word_boundary(true).cache_capacity(capacity))
                .thompson(regex_automata::nfa::thompson::Config::new().nfa_size_limit(Some(64 << 20)))
                .build_many(&patterns)
        };
        let (dfa, dfa_error) = match patterns.is_empty() {
            true => (None, None),
            false => match build(2 << 20).or_else(|_| build(16 << 20)) {
                Ok(dfa) => (Some(dfa), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        Ok(Plan { dfa, dfa_error, max_match, keyword_hold, hold_word, context: context + 64 })
    }
}

/// One anchored DFA walk from a candidate match start.
struct Walk {
    /// Absolute byte offset in the stream.
    start: usize,
    state: LazyStateID,
    /// The DFA gave up on this walk: hold `max_match` bytes from its start instead.
    gave_up: bool,
}

/// Scans one stream. Not shared between streams; cheap to create once the pack set's plan is
/// built (the first stream per pack set and direction builds it).
pub struct StreamScanner {
    engine: Arc<Engine>,
    packs: Arc<CompiledPacks>,
    plan: Arc<Plan>,
    policy: Policy,
    opts: StreamOptions,
    cache: Option<Cache>,
    walks: Vec<Walk>,
    /// Tail of the released original text (look-behind for the next window).
    context: String,
    /// Original text not yet released.
    pending: String,
    /// Absolute offset of `pending`'s first byte.
    released: usize,
    last_byte: Option<u8>,
    /// Incomplete UTF-8 character at the end of the bytes pushed so far.
    partial: Vec<u8>,
    tokens: SessionTokens,
    best: HashMap<u32, f32>,
    /// Masked text not yet restored (holds a split placeholder).
    restore_tail: String,
    stopped: Option<StreamStop>,
}

impl StreamScanner {
    /// A scanner over the engine's current packs (a reload does not change a running stream).
    pub fn new(engine: Arc<Engine>, opts: StreamOptions) -> Result<StreamScanner, StreamError> {
        let name = opts.policy.as_deref().unwrap_or("default");
        let policy = engine.policy(name).cloned().ok_or_else(|| StreamError::UnknownPolicy(name.to_string()))?;
        let packs = engine.packs();
        let plan = Plan::get(&packs, opts.direction)?;
        let cache = plan.dfa.as_ref().map(DFA::create_cache);
        let tokens = engine.local_tokens();
        Ok(StreamScanner {
            engine,
            packs,
            plan,
            policy,
            opts,
            cache,
            walks: Vec::new(),
            context: String::new(),
            pending: String::new(),
            released: 0,
            last_byte: None,
            partial: Vec::new(),
            tokens,
            best: HashMap::new(),
            restore_tail: String::new(),
            stopped: None,
        })
    }

    /// Bytes held back now (not yet released).
    pub fn held_bytes(&self) -> usize {
        self.pending.len() + self.partial.len() + self.restore_tail.len()
    }

    /// Feed raw bytes; a UTF-8 character split across calls is completed by the next call.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<String, StreamStop> {
        self.check()?;
        let mut buf = std::mem::take(&mut self.partial);
        buf.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&buf) {
            Ok(_) => buf.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(self.stop(StreamStop::InvalidUtf8)),
        };
        self.partial = buf.split_off(valid);
        let text = String::from_utf8(buf).map_err(|_| StreamStop::InvalidUtf8)?;
        self.push(&text)
    }

    /// Feed text; returns the masked text that is now safe to release (often empty).
    pub fn push(&mut self, chunk: &str) -> Result<String, StreamStop> {
        self.check()?;
        if chunk.is_empty() {
            return Ok(String::new());
        }
        self.walk(chunk.as_bytes());
        self.pending.push_str(chunk);
        let hold = self.hold_from();
        let out = if hold > 0 { self.release(hold, false)? } else { String::new() };
        if self.pending.len() > self.opts.max_hold_bytes {
            return Err(self.stop(StreamStop::HoldLimit { max: self.opts.max_hold_bytes }));
        }
        Ok(self.restored(out, false))
    }

    /// End of the stream: scan and release everything still held.
    pub fn finish(&mut self) -> Result<String, StreamStop> {
        self.check()?;
        if !self.partial.is_empty() {
            return Err(self.stop(StreamStop::InvalidUtf8));
        }
        let out = self.release(self.pending.len(), true)?;
        Ok(self.restored(out, true))
    }

    fn check(&self) -> Result<(), StreamStop> {
        match &self.stopped {
            Some(stop) => Err(stop.clone()),
            None => Ok(()),
        }
    }

    fn stop(&mut self, stop: StreamStop) -> StreamStop {
        self.stopped = Some(stop.clone());
        self.pending.clear();
        self.restore_tail.clear();
        stop
    }

    /// Advance every live DFA walk over `bytes` and start one at each character boundary.
    fn walk(&mut self, bytes: &[u8]) {
        let (Some(dfa), Some(cache)) = (&self.plan.dfa, &mut self.cache) else { return };
        let base = self.released + self.pending.len();
        for (i, &b) in bytes.iter().enumerate() {
            let pos = base + i;
            if b & 0xC0 != 0x80 {
                let config = start::Config::new().anchored(Anchored::Yes).look_behind(self.last_byte);
                match dfa.start_state(cache, &config) {
                    Ok(s) if s.is_dead() => {}
                    Ok(state) => self.walks.push(Walk { start: pos, state, gave_up: false }),
                    Err(_) => self.walks.push(Walk { start: pos, state: LazyStateID::default(), gave_up: true }),
                }
            }
            let max_match = self.plan.max_match;
            self.walks.retain_mut(|w| {
                if w.gave_up {
                    return pos - w.start < max_match;
                }
                match dfa.next_state(cache, w.state, b) {
                    Ok(s) if s.is_dead() => false,
                    Ok(s) if s.is_quit() => {
                        w.gave_up = true;
                        true
                    }
                    Ok(s) => {
                        w.state = s;
                        true
                    }
                    Err(_) => {
                        w.gave_up = true;
                        true
                    }
                }
            });
            self.last_byte = Some(b);
        }
    }

    /// Offset into `pending` before which no later byte can change the masking (before the
    /// context-word and span checks of [`release`](Self::release)).
    fn hold_from(&self) -> usize {
        let p = &self.pending;
        let mut hold = p.len();
        if let Some(w) = self.walks.iter().map(|w| w.start).min() {
            hold = hold.min(w.saturating_sub(self.released));
        }
        if self.plan.dfa.is_none() && self.plan.max_match > 0 {
            hold = hold.min(floor_boundary(p, p.len().saturating_sub(self.plan.max_match)));
        }
        if self.plan.hold_word {
            let run = p.char_indices().rev().find(|(_, c)| c.is_whitespace()).map_or(0, |(i, c)| i + c.len_utf8());
            hold = hold.min(run);
        }
        if self.plan.keyword_hold > 0 {
            hold = hold.min(keyword_hold_start(p, self.plan.keyword_hold));
        }
        hold
    }

    /// Scan context + pending, release the masked text before `limit` (an offset into
    /// `pending`) that no later byte can change, and keep the rest.
    fn release(&mut self, limit: usize, last: bool) -> Result<String, StreamStop> {
        let ctx_len = self.context.len();
        let hay = format!("{}{}", self.context, self.pending);
        let findings = detect(&self.packs, &hay, self.opts.direction);
        let min_score = self.policy.direction(self.opts.direction).min_score;
        let spans = mask_spans(&self.packs, &hay, &findings, min_score);
        let mut cut = ctx_len + limit;
        if !last {
            for f in &findings {
                let rule = self.packs.rule(f.rule);
                if rule.action != Action::Report && f.span.end + rule.context_window > hay.len() && f.span.end > ctx_len {
                    cut = cut.min(f.span.start.max(ctx_len));
                }
            }
            cut = outside_spans(&spans, cut).max(ctx_len);
        }
        // Findings before the cut are final: they count toward the policy now.
        let direction_policy = self.policy.direction(self.opts.direction);
        let mut block_rules = Vec::new();
        for f in findings.iter().filter(|f| f.span.start < cut && f.span.end > ctx_len) {
            let best = self.best.entry(f.rule).or_insert(0.0);
            *best = best.max(f.score);
            let rule = self.packs.rule(f.rule);
            if rule.action == Action::Block && f.score >= direction_policy.min_score {
                block_rules.push(rule.id.clone());
            }
        }
        let mut scores = CategoryScores::default();
        for (&rule, &score) in &self.best {
            scores.combine(self.packs.rule(rule).category, score);
        }
        let mut categories = blocking_categories(direction_policy, &scores);
        if !block_rules.is_empty() || !categories.is_empty() {
            for r in &block_rules {
                if let Some((_, rule)) = self.packs.rule_by_id(r) {
                    if !categories.contains(&rule.category) {
                        categories.push(rule.category);
                    }
                }
            }
            if !self.policy.shadow {
                let mut rules: Vec<String> = self
                    .best
                    .keys()
                    .map(|&r| self.packs.rule(r))
                    .filter(|r| categories.contains(&r.category))
                    .map(|r| r.id.clone())
                    .collect();
                rules.sort();
                return Err(self.stop(StreamStop::Blocked { categories, rules }));
            }
        }
        if cut <= ctx_len {
            return Ok(String::new());
        }
        // The released region's spans, shifted to it. A span reaching back into released text
        // cannot happen for a bounded pack; if it did, its visible part is labelled (never kept).
        let region = &hay[ctx_len..cut];
        let shifted: Vec<MaskSpan<'_>> = spans
            .iter()
            .filter(|s| s.span.end > ctx_len && s.span.start < cut)
            .map(|s| {
                let clipped = s.span.start < ctx_len || s.span.end > cut;
                let span = Span::new(s.span.start.max(ctx_len) - ctx_len, s.span.end.min(cut) - ctx_len);
                let op = if clipped { crate::pack::MaskOp::Label } else { s.op };
                MaskSpan { span, op, label: s.label }
            })
            .collect();
        let session = self.opts.session.as_deref().map(|s| (self.opts.tenant.as_str(), s));
        let out = self.engine.write_masked(region, &shifted, session, &mut self.tokens);
        let from = floor_boundary(&hay, cut.saturating_sub(self.plan.context));
        self.context = hay[from..cut].to_string();
        self.pending = hay[cut..].to_string();
        self.released += cut - ctx_len;
        Ok(out)
    }

    /// Restore the session's placeholders in released text, holding a split one.
    fn restored(&mut self, out: String, last: bool) -> String {
        let Some(session) = self.opts.restore.as_deref() else { return out };
        self.restore_tail.push_str(&out);
        let keep = match (last, self.restore_tail.rfind('<')) {
            (false, Some(i)) if !self.restore_tail[i..].contains('>') && self.restore_tail.len() - i <= MAX_PLACEHOLDER => i,
            _ => self.restore_tail.len(),
        };
        let ready: String = self.restore_tail.drain(..keep).collect();
        if ready.is_empty() {
            return ready;
        }
        // An expired session or an over-long result leaves the placeholders in place.
        self.engine.restore(&self.opts.tenant, session, &ready).unwrap_or(ready)
    }
}

/// Longest placeholder held back for restoring (`<LABEL_n>`).
const MAX_PLACEHOLDER: usize = 128;

/// Move `cut` to the start of the merged masked span it falls inside, if any.
fn outside_spans(spans: &[MaskSpan<'_>], cut: usize) -> usize {
    let mut sorted: Vec<Span> = spans.iter().map(|s| s.span).filter(|s| !s.is_empty()).collect();
    sorted.sort_unstable();
    let mut group: Option<Span> = None;
    for s in sorted {
        match &mut group {
            Some(g) if s.start < g.end => g.end = g.end.max(s.end),
            _ => {
                if let Some(g) = group.filter(|g| g.start < cut && cut < g.end) {
                    return g.start;
                }
                group = Some(s);
            }
        }
    }
    match group {
        Some(g) if g.start < cut && cut < g.end => g.start,
        _ => cut,
    }
}

/// Start of the tail of `text` that holds at least `units` normalized characters (a whitespace
/// run counts once; characters normalization may drop count zero).
fn keyword_hold_start(text: &str, units: usize) -> usize {
    let mut count = 0;
    let mut in_space = false;
    for (i, c) in text.char_indices().rev() {
        if c.is_whitespace() {
            if !in_space {
                count += 1;
            }
            in_space = true;
        } else {
            in_space = false;
            if c.is_alphanumeric() || c.is_ascii_punctuation() {
                count += 1;
            }
        }
        if count >= units {
            return i;
        }
    }
    0
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineConfig, ScanRequest};

    fn engine() -> Arc<Engine> {
        Arc::new(Engine::new(EngineConfig::default()).unwrap())
    }

    fn one_shot(engine: &Engine, text: &str) -> String {
        let mut req = ScanRequest::new(text, Direction::Output);
        req.return_masked = true;
        req.classify = false;
        engine.scan(&req).unwrap().masked.unwrap()
    }

    #[test]
    fn email_split_across_chunks_is_masked() {
        let engine = engine();
        let mut s = StreamScanner::new(engine.clone(), StreamOptions::new(Direction::Output)).unwrap();
        let mut out = String::new();
        let mut first = None;
        for chunk in ["Contact john.do", "e@exam", "ple.com for details. Bye."] {
            out += &s.push(chunk).unwrap();
            first.get_or_insert(out.clone());
        }
        out += &s.finish().unwrap();
        assert_eq!(out, one_shot(&engine, "Contact john.doe@example.com for details. Bye."));
        assert!(!out.contains("john"), "{out}");
        assert_eq!(first.unwrap(), "Contact", "the text before the value leaves early (the space may start the match)");
    }

    #[test]
    fn prose_is_released_word_by_word() {
        let mut s = StreamScanner::new(engine(), StreamOptions::new(Direction::Output)).unwrap();
        let mut out = String::new();
        for word in "The quick brown fox jumps over the lazy dog and runs".split_inclusive(' ') {
            out += &s.push(word).unwrap();
            assert!(s.held_bytes() <= word.len() + 1, "held {} after {word:?}", s.held_bytes());
        }
        out += &s.finish().unwrap();
        assert_eq!(out, "The quick brown fox jumps over the lazy dog and runs");
    }

    #[test]
    fn shipped_packs_are_bounded() {
        let packs = crate::pack::load(&[]).unwrap();
        for d in Direction::ALL {
            let plan = Plan::build(&packs, d).unwrap();
            assert!(plan.dfa.is_some(), "{d}: the DFA builds: {:?}", plan.dfa_error);
            assert!(plan.max_match > 0 && plan.max_match < 64 << 10, "{d}: {}", plan.max_match);
        }
    }

    #[test]
    fn a_secret_blocks_the_output_stream_before_release() {
        let mut s = StreamScanner::new(engine(), StreamOptions::new(Direction::Output)).unwrap();
        let mut out = s.push("here: ghp_").unwrap();
        let r = s.push("abcdefghijklmnopqrstuvwxyz0123456789 done");
        assert!(matches!(r, Err(StreamStop::Blocked { .. })), "{r:?}");
        out += &r.unwrap_or_default();
        assert!(!out.contains("ghp_"), "{out}");
        assert!(s.push("more").is_err() && s.finish().is_err(), "a stop is terminal");
    }

    #[test]
    fn invalid_utf8_stops() {
        let mut s = StreamScanner::new(engine(), StreamOptions::new(Direction::Output)).unwrap();
        assert_eq!(s.push_bytes(b"ok \xff"), Err(StreamStop::InvalidUtf8));
        let mut s = StreamScanner::new(engine(), StreamOptions::new(Direction::Output)).unwrap();
        let e = "é".as_bytes();
        let mut out = s.push_bytes(&[b'a', e[0]]).unwrap();
        out += &s.push_bytes(&[e[1], b' ']).unwrap();
        out += &s.finish().unwrap();
        assert_eq!(out, "aé ");
    }

    #[test]
    fn max_match_len_of_patterns() {
        assert_eq!(max_match_len("a{2,5}b"), Some(6));
        assert_eq!(max_match_len("a+"), None);
        assert_eq!(max_match_len("(?:x|yy)[0-9]{3}"), Some(5));
    }

    #[test]
    fn cut_moves_out_of_masked_spans() {
        let s = |a, b| MaskSpan { span: Span::new(a, b), op: crate::pack::MaskOp::Label, label: "X" };
        assert_eq!(outside_spans(&[s(2, 6), s(5, 9), s(12, 14)], 7), 2);
        assert_eq!(outside_spans(&[s(2, 6), s(12, 14)], 8), 8);
        assert_eq!(outside_spans(&[s(2, 6), s(12, 14)], 13), 12);
        assert_eq!(outside_spans(&[s(2, 6)], 6), 6);
    }
}
