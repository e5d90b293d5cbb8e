//! OpenAI chat-completion streams (`text/event-stream`): parse server-sent events from byte
//! chunks of any size, scan each text field with its own [`StreamScanner`], re-emit events in
//! order. Transport-agnostic: the proxy (`serve --upstream`) and the Envoy ext_proc server feed
//! it the upstream's bytes and send on what it returns.
//!
//! ```text
//! let mut sse = SseScanner::new(engine, StreamOptions::new(Direction::Output))?;
//! for chunk in upstream { let out = sse.feed(&chunk); send(out.bytes); if out.end.is_some() { break } }
//! let out = sse.finish();   // upstream closed: flush what is held
//! ```
//!
//! - Each `(choice index, field)` has its own scanner; fields are `delta.content`,
//!   `delta.refusal`, `delta.reasoning_content` / `delta.reasoning`,
//!   `delta.tool_calls[j].function.arguments` and the legacy `delta.function_call.arguments`.
//!   A value split across events is seen whole; JSON framing never sits between its parts.
//! - An event that carries anything besides text (role, a new tool call's id/name, usage, an
//!   event without choices) first flushes the scanners it concerns, so text and metadata keep
//!   their order; a `finish_reason` flushes its choice after the event's own text.
//! - `logprobs` would repeat the raw tokens, so it is replaced with `null`.
//! - A block ([`StreamStop`]) ends the output with one terminal error event,
//!   `data: {"error":{"message":…,"type":"content_policy","code":"output_blocked","param":null}}`,
//!   and no `[DONE]`.
//! - Fail closed: an event the scanner does not understand (a named `event:` other than
//!   `message`, JSON that is not a chat-completion chunk, an unknown key that could carry text),
//!   an upstream `error` event, or an event over [`MAX_EVENT_BYTES`] ends the stream the same
//!   way (codes `unsupported_event`, `upstream_error`, `invalid_stream`). Comments (`: ping`)
//!   are dropped, never forwarded.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::engine::Engine;
use crate::stream::{StreamError, StreamOptions, StreamScanner, StreamStop};

/// Longest single event accepted, in bytes.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// A text field of one choice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Content,
    Refusal,
    /// `reasoning_content` or `reasoning` (the key as sent).
    Reasoning(String),
    /// `tool_calls[j].function.arguments`, by tool-call index `j`.
    ToolArguments(u64),
    /// Legacy `function_call.arguments`.
    FunctionArguments,
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SseEnd {
    /// `[DONE]` was forwarded.
    Done,
    /// The scan stopped the stream; the terminal error event was emitted.
    Stopped(StreamStop),
    /// The upstream sent something that cannot be scanned safely; the terminal error event was
    /// emitted. The text is Picket's own description (never upstream content).
    Failed { code: &'static str, message: String },
}

/// Bytes to send downstream, and whether the stream has ended (send them, then close).
#[derive(Debug, Default)]
pub struct SseOutput {
    pub bytes: Vec<u8>,
    pub end: Option<SseEnd>,
}

/// Scans one OpenAI chat-completion event stream.
pub struct SseScanner {
    engine: Arc<Engine>,
    opts: StreamOptions,
    buf: Vec<u8>,
    data: Option<String>,
    event: Option<String>,
    fields: BTreeMap<(u64, Field), StreamScanner>,
    /// Top-level keys of the last chunk (id, model, ...) for the events this scanner writes.
    template: Map<String, Value>,
    end: Option<SseEnd>,
}

const TOP_KEYS: &[&str] = &["id", "object", "created", "model", "system_fingerprint", "service_tier", "choices", "usage", "obfuscation"];
const CHOICE_KEYS: &[&str] = &["index", "delta", "finish_reason", "logprobs"];
const DELTA_KEYS: &[&str] = &["role", "content", "refusal", "reasoning_content", "reasoning", "tool_calls", "function_call"];
const TOOL_KEYS: &[&str] = &["index", "id", "type", "function"];
const FUNCTION_KEYS: &[&str] = &["name", "arguments"];

impl SseScanner {
    /// A scanner for one stream. Fails only when the options cannot stream (unknown policy,
    /// unbounded rule).
    pub fn new(engine: Arc<Engine>, opts: StreamOptions) -> Result<SseScanner, StreamError> {
        // Check the options once up front so that later scanners cannot fail to build.
        StreamScanner::new(engine.clone(), opts.clone())?;
        Ok(SseScanner { engine, opts, buf: Vec::new(), data: None, event: None, fields: BTreeMap::new(), template: Map::new(), end: None })
    }

    /// How the stream ended, once it has.
    pub fn end(&self) -> Option<&SseEnd> {
        self.end.as_ref()
    }

    /// Feed upstream bytes; returns the events that are safe to send now.
    pub fn feed(&mut self, bytes: &[u8]) -> SseOutput {
        let mut out = Vec::new();
        if self.end.is_some() {
            return SseOutput { bytes: out, end: self.end.clone() };
        }
        self.buf.extend_from_slice(bytes);
        let mut consumed = 0;
        while let Some(nl) = self.buf[consumed..].iter().position(|&b| b == b'\n') {
            let line_end = consumed + nl;
            let mut line = &self.buf[consumed..line_end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = line.to_vec();
            consumed = line_end + 1;
            if let Err(end) = self.line(&line, &mut out) {
                self.finish_with(end, &mut out);
                break;
            }
            if self.end.is_some() {
                break;
            }
        }
        self.buf.drain(..consumed.min(self.buf.len()));
        if self.end.is_none() && self.buf.len() + self.data.as_ref().map_or(0, String::len) > MAX_EVENT_BYTES {
            let end = failed("invalid_stream", format!("an upstream event is longer than {MAX_EVENT_BYTES} bytes"));
            self.finish_with(end, &mut out);
        }
        SseOutput { bytes: out, end: self.end.clone() }
    }

    /// The upstream closed: flush every held field (an unterminated last event is refused).
    pub fn finish(&mut self) -> SseOutput {
        let mut out = Vec::new();
        if self.end.is_some() {
            return SseOutput { bytes: out, end: self.end.clone() };
        }
        if !self.buf.is_empty() || self.data.is_some() {
            let end = failed("invalid_stream", "the upstream closed the stream in the middle of an event".into());
            self.finish_with(end, &mut out);
            return SseOutput { bytes: out, end: self.end.clone() };
        }
        match self.flush_where(|_| true) {
            Ok(events) => events.iter().for_each(|e| write_event(&mut out, e)),
            Err(end) => self.finish_with(end, &mut out),
        }
        SseOutput { bytes: out, end: self.end.clone() }
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Result<(), SseEnd> {
        if line.is_empty() {
            let Some(data) = self.data.take() else {
                self.event = None;
                return Ok(());
            };
            if let Some(event) = self.event.take().filter(|e| e != "message") {
                return Err(failed("unsupported_event", format!("upstream event type {:?} is not understood", truncate(&event))));
            }
            return self.dispatch(&data, out);
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line = std::str::from_utf8(line).map_err(|_| failed("invalid_stream", "an upstream event is not UTF-8".into()))?;
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                None => self.data = Some(value.to_string()),
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
            },
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, data: &str, out: &mut Vec<u8>) -> Result<(), SseEnd> {
        if data == "[DONE]" {
            for e in self.flush_where(|_| true)? {
                write_event(out, &e);
            }
            out.extend_from_slice(b"data: [DONE]\n\n");
            self.end = Some(SseEnd::Done);
            return Ok(());
        }
        let Ok(Value::Object(mut event)) = serde_json::from_str::<Value>(data) else {
            return Err(failed("unsupported_event", "an upstream event is not a JSON object".into()));
        };
        if event.contains_key("error") {
            for e in self.flush_where(|_| true)? {
                write_event(out, &e);
            }
            return Err(failed("upstream_error", "the upstream reported an error in the stream".into()));
        }
        check_keys(&event, TOP_KEYS, "chunk")?;
        if event.get("object").is_some_and(|o| o != "chat.completion.chunk") {
            return Err(failed("unsupported_event", "an upstream event is not a chat.completion.chunk".into()));
        }
        self.template =
            event.iter().filter(|(k, _)| !matches!(k.as_str(), "choices" | "usage")).map(|(k, v)| (k.clone(), v.clone())).collect();
        let choices: Vec<Value> = match event.remove("choices") {
            None | Some(Value::Null) if event.contains_key("usage") => Vec::new(),
            Some(Value::Array(c)) => c,
            _ => return Err(failed("unsupported_event", "an upstream event has no choices array".into())),
        };
        let mut before = Vec::new();
        if choices.is_empty() {
            before.extend(self.flush_where(|_| true)?);
        }
        let mut rebuilt = Vec::with_capacity(choices.len());
        let mut keep = event.contains_key("usage");
        for choice in choices {
            let (choice, nonempty) = self.choice(choice, &mut before)?;
            keep |= nonempty;
            rebuilt.push(choice);
        }
        for e in before {
            write_event(out, &e);
        }
        if keep {
            event.insert("choices".into(), Value::Array(rebuilt));
            write_event(out, &Value::Object(event));
        }
        Ok(())
    }

    /// Scan one choice of a chunk. Returns the rebuilt choice and whether it is worth sending.
    fn choice(&mut self, choice: Value, before: &mut Vec<Value>) -> Result<(Value, bool), SseEnd> {
        let Value::Object(mut choice) = choice else { return Err(failed("unsupported_event", "a choice is not an object".into())) };
        check_keys(&choice, CHOICE_KEYS, "choice")?;
        let index =
            choice.get("index").and_then(Value::as_u64).ok_or_else(|| failed("unsupported_event", "a choice has no index".into()))?;
        if choice.get("logprobs").is_some_and(|l| !l.is_null()) {
            choice.insert("logprobs".into(), Value::Null);
        }
        let finish = choice.get("finish_reason").is_some_and(|f| !f.is_null());
        let mut delta = match choice.remove("delta") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(d)) => d,
            Some(_) => return Err(failed("unsupported_event", "a delta is not an object".into())),
        };
        check_keys(&delta, DELTA_KEYS, "delta")?;
        // Text fields of this delta, as (field, text) with a setter path.
        let mut texts: Vec<(Field, String)> = Vec::new();
        let mut meta = delta.contains_key("role");
        for key in ["content", "refusal", "reasoning_content", "reasoning"] {
            match delta.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    let field = match key {
                        "content" => Field::Content,
                        "refusal" => Field::Refusal,
                        other => Field::Reasoning(other.to_string()),
                    };
                    texts.push((field, s.clone()));
                }
                Some(_) => return Err(failed("unsupported_event", format!("delta.{key} is not a string"))),
            }
        }
        if let Some(calls) = delta.get("tool_calls") {
            let Value::Array(calls) = calls else { return Err(failed("unsupported_event", "delta.tool_calls is not an array".into())) };
            for call in calls {
                let Value::Object(call) = call else { return Err(failed("unsupported_event", "a tool call is not an object".into())) };
                check_keys(call, TOOL_KEYS, "tool call")?;
                let j = call
                    .get("index")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| failed("unsupported_event", "a tool call has no index".into()))?;
                meta |= call.contains_key("id") || call.contains_key("type");
                if let Some(f) = call.get("function") {
                    let Value::Object(f) = f else {
                        return Err(failed("unsupported_event", "a tool call's function is not an object".into()));
                    };
                    check_keys(f, FUNCTION_KEYS, "function")?;
                    meta |= f.contains_key("name");
                    match f.get("arguments") {
                        None | Some(Value::Null) => {}
                        Some(Value::String(a)) => texts.push((Field::ToolArguments(j), a.clone())),
                        Some(_) => return Err(failed("unsupported_event", "tool call arguments are not a string".into())),
                    }
                }
            }
        }
        if let Some(f) = delta.get("function_call") {
            let Value::Object(f) = f else { return Err(failed("unsupported_event", "delta.function_call is not an object".into())) };
            check_keys(f, FUNCTION_KEYS, "function_call")?;
            meta |= f.contains_key("name");
            match f.get("arguments") {
                None | Some(Value::Null) => {}
                Some(Value::String(a)) => texts.push((Field::FunctionArguments, a.clone())),
                Some(_) => return Err(failed("unsupported_event", "function_call arguments are not a string".into())),
            }
        }
        if meta {
            before.extend(self.flush_where(|(c, _)| *c == index)?);
        }
        let mut released: Vec<(Field, String)> = Vec::with_capacity(texts.len());
        for (field, text) in texts {
            let scanner = self.scanner(index, &field)?;
            let out = scanner.push(&text).map_err(SseEnd::Stopped)?;
            released.push((field, out));
        }
        if finish {
            let keys: Vec<(u64, Field)> = self.fields.keys().filter(|(c, _)| *c == index).cloned().collect();
            for key in keys {
                let scanner = self.fields.remove(&key).expect("listed above");
                let field = key.1;
                let tail = scanner_finish(scanner)?;
                match released.iter_mut().find(|(f, _)| *f == field) {
                    Some((_, text)) => text.push_str(&tail),
                    None if !tail.is_empty() => before.push(self.text_event(index, &field, tail)),
                    None => {}
                }
            }
        }
        let mut nonempty = meta || finish || choice.get("logprobs").is_some_and(|l| !l.is_null());
        for (field, text) in released {
            nonempty |= !text.is_empty();
            set_text(&mut delta, &field, text);
        }
        choice.insert("delta".into(), Value::Object(delta));
        Ok((Value::Object(choice), nonempty))
    }

    fn scanner(&mut self, index: u64, field: &Field) -> Result<&mut StreamScanner, SseEnd> {
        let key = (index, field.clone());
        if !self.fields.contains_key(&key) {
            let s = StreamScanner::new(self.engine.clone(), self.opts.clone())
                .map_err(|e| failed("invalid_stream", format!("cannot scan the stream: {e}")))?;
            self.fields.insert(key.clone(), s);
        }
        Ok(self.fields.get_mut(&key).expect("inserted above"))
    }

    /// Finish the scanners whose key matches and return their tails as events.
    fn flush_where(&mut self, pick: impl Fn(&(u64, Field)) -> bool) -> Result<Vec<Value>, SseEnd> {
        let keys: Vec<(u64, Field)> = self.fields.keys().filter(|k| pick(k)).cloned().collect();
        let mut events = Vec::new();
        for key in keys {
            let scanner = self.fields.remove(&key).expect("listed above");
            let tail = scanner_finish(scanner)?;
            if !tail.is_empty() {
                events.push(self.text_event(key.0, &key.1, tail));
            }
        }
        Ok(events)
    }

    /// A chunk carrying only `text` in `field` of choice `index`, shaped like the upstream's.
    fn text_event(&self, index: u64, field: &Field, text: String) -> Value {
        let mut delta = Map::new();
        set_text(&mut delta, field, text);
        let mut event = self.template.clone();
        event.insert("choices".into(), json!([{ "index": index, "delta": delta, "finish_reason": null }]));
        Value::Object(event)
    }

    /// The upstream failed (connection error, timeout): release what is held, through the
    /// scanners, then end with a terminal error event of `code`. The transport calls this.
    pub fn abort(&mut self, code: &'static str, message: &str) -> SseOutput {
        let mut out = Vec::new();
        if self.end.is_some() {
            return SseOutput { bytes: out, end: self.end.clone() };
        }
        let end = match self.flush_where(|_| true) {
            Ok(events) => {
                events.iter().for_each(|e| write_event(&mut out, e));
                failed(code, message.to_string())
            }
            Err(end) => end,
        };
        self.finish_with(end, &mut out);
        SseOutput { bytes: out, end: self.end.clone() }
    }

    fn finish_with(&mut self, end: SseEnd, out: &mut Vec<u8>) {
        let (code, message) = match &end {
            SseEnd::Stopped(StreamStop::Blocked { .. }) => ("output_blocked", end_message(&end)),
            SseEnd::Stopped(_) => ("output_unscannable", end_message(&end)),
            SseEnd::Failed { code, message } => (*code, message.clone()),
            SseEnd::Done => return,
        };
        let kind = if code == "output_blocked" { "content_policy" } else { "picket_error" };
        let event = json!({ "error": { "message": message, "type": kind, "code": code, "param": null } });
        write_event(out, &event);
        self.fields.clear();
        self.buf.clear();
        self.data = None;
        self.end = Some(end);
    }
}

fn end_message(end: &SseEnd) -> String {
    match end {
        SseEnd::Stopped(stop) => format!("the reply was stopped: {stop}"),
        SseEnd::Failed { message, .. } => message.clone(),
        SseEnd::Done => String::new(),
    }
}

fn scanner_finish(mut scanner: StreamScanner) -> Result<String, SseEnd> {
    scanner.finish().map_err(SseEnd::Stopped)
}

fn failed(code: &'static str, message: String) -> SseEnd {
    SseEnd::Failed { code, message }
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn check_keys(object: &Map<String, Value>, known: &[&str], what: &str) -> Result<(), SseEnd> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(failed("unsupported_event", format!("unknown {what} key {:?}", truncate(k)))),
        None => Ok(()),
    }
}

/// Put `text` into `delta` at the place `field` names (creating the path).
fn set_text(delta: &mut Map<String, Value>, field: &Field, text: String) {
    match field {
        Field::Content => {
            delta.insert("content".into(), Value::String(text));
        }
        Field::Refusal => {
            delta.insert("refusal".into(), Value::String(text));
        }
        Field::Reasoning(key) => {
            delta.insert(key.clone(), Value::String(text));
        }
        Field::FunctionArguments => {
            let f = delta.entry("function_call").or_insert_with(|| json!({}));
            if let Value::Object(f) = f {
                f.insert("arguments".into(), Value::String(text));
            }
        }
        Field::ToolArguments(j) => {
            let calls = delta.entry("tool_calls").or_insert_with(|| json!([]));
            let Value::Array(calls) = calls else { return };
            let at = calls.iter().position(|c| c.get("index").and_then(Value::as_u64) == Some(*j));
            let call = match at {
                Some(i) => &mut calls[i],
                None => {
                    calls.push(json!({ "index": j }));
                    calls.last_mut().expect("pushed")
                }
            };
            if let Value::Object(call) = call {
                let f = call.entry("function").or_insert_with(|| json!({}));
                if let Value::Object(f) = f {
                    f.insert("arguments".into(), Value::String(text));
                }
            }
        }
    }
}

fn write_event(out: &mut Vec<u8>, event: &Value) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(event.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineConfig;
    use crate::policy::Direction;

    fn scanner() -> SseScanner {
        SseScanner::new(Arc::new(Engine::new(EngineConfig::default()).unwrap()), StreamOptions::new(Direction::Output)).unwrap()
    }

    fn chunk(delta: Value, finish: Value) -> String {
        let e = json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":delta,"finish_reason":finish}]});
        format!("data: {e}\n\n")
    }

    /// The parsed `data:` payloads of an output.
    fn events(bytes: &[u8]) -> Vec<String> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| e.strip_prefix("data: ").unwrap().to_string())
            .collect()
    }

    fn content(events: &[String]) -> String {
        events
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .filter_map(|v| v.pointer("/choices/0/delta/content").and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    fn stream() -> String {
        [
            chunk(json!({"role":"assistant","content":""}), Value::Null),
            chunk(json!({"content":"Contact john.do"}), Value::Null),
            chunk(json!({"content":"e@exam"}), Value::Null),
            chunk(json!({"content":"ple.com for details. Bye."}), Value::Null),
            chunk(json!({}), json!("stop")),
            format!(
                "data: {}\n\n",
                json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"total_tokens":9}})
            ),
            "data: [DONE]\n\n".to_string(),
        ]
        .concat()
    }

    #[test]
    fn a_value_split_across_events_is_masked_for_any_chunking() {
        let input = stream();
        for size in [1, 2, 3, 7, 64, input.len()] {
            let mut s = scanner();
            let mut out = Vec::new();
            for piece in input.as_bytes().chunks(size) {
                out.extend(s.feed(piece).bytes);
            }
            out.extend(s.finish().bytes);
            let evs = events(&out);
            assert_eq!(content(&evs), "Contact [EMAIL] for details. Bye.", "size {size}");
            assert!(evs[0].contains("\"role\":\"assistant\""), "role first: {evs:?}");
            assert_eq!(evs.last().unwrap(), "[DONE]");
            let finish = evs.iter().position(|e| e.contains("\"stop\"")).unwrap();
            let usage = evs.iter().position(|e| e.contains("usage")).unwrap();
            assert!(finish < usage && usage == evs.len() - 2, "{evs:?}");
            assert!(content(&evs[..finish + 1]).ends_with("Bye."), "text before finish");
            assert_eq!(s.end(), Some(&SseEnd::Done));
        }
    }

    #[test]
    fn a_block_mid_stream_ends_with_an_error_event_and_no_done() {
        let mut s = scanner();
        let input = [
            chunk(json!({"content":"the key is ghp_abcdefghijklmn"}), Value::Null),
            chunk(json!({"content":"opqrstuvwxyz0123456789 ok"}), Value::Null),
            "data: [DONE]\n\n".to_string(),
        ]
        .concat();
        let out = s.feed(input.as_bytes());
        let evs = events(&out.bytes);
        assert!(matches!(out.end, Some(SseEnd::Stopped(StreamStop::Blocked { .. }))), "{:?}", out.end);
        assert!(evs.last().unwrap().contains("output_blocked"), "{evs:?}");
        assert!(!evs.iter().any(|e| e == "[DONE]" || e.contains("ghp_")), "{evs:?}");
        assert!(s.feed(b"data: [DONE]\n\n").bytes.is_empty(), "nothing after the end");
    }

    #[test]
    fn unknown_events_fail_closed() {
        for bad in [
            "event: response.output_text.delta\ndata: {\"delta\":\"x\"}\n\n".to_string(),
            "data: {\"type\":\"message_start\"}\n\n".to_string(),
            "data: not json\n\n".to_string(),
            chunk(json!({"content":"hi","audio":{"transcript":"secret"}}), Value::Null),
            format!("data: {}\n\n", json!({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"}}],"extra":"y"})),
            "data: {\"error\":{\"message\":\"boom\"}}\n\n".to_string(),
        ] {
            let mut s = scanner();
            let mut out = s.feed(chunk(json!({"content":"held tex"}), Value::Null).as_bytes()).bytes;
            let end = s.feed(bad.as_bytes());
            out.extend(end.bytes);
            let evs = events(&out);
            assert!(matches!(end.end, Some(SseEnd::Failed { .. })), "{bad}: {:?}", end.end);
            assert!(evs.last().unwrap().contains("\"error\""), "{bad}: {evs:?}");
            assert!(!evs.iter().any(|e| e.contains("secret") || e.contains("boom") || e.contains("\"x\"")), "{bad}: {evs:?}");
        }
    }

    #[test]
    fn tool_call_arguments_are_scanned_per_call() {
        let mut s = scanner();
        let call = |j: u64, args: &str, start: bool| {
            let mut c = json!({"index": j, "function": {"arguments": args}});
            if start {
                c["id"] = json!(format!("call_{j}"));
                c["type"] = json!("function");
                c["function"]["name"] = json!("send");
            }
            chunk(json!({"tool_calls":[c]}), Value::Null)
        };
        let input = [
            call(0, "", true),
            call(0, "{\"to\":\"ann.lee@exa", false),
            call(0, "mple.org\"}", false),
            chunk(json!({}), json!("tool_calls")),
        ]
        .concat();
        let mut out = Vec::new();
        for b in input.as_bytes().chunks(5) {
            out.extend(s.feed(b).bytes);
        }
        out.extend(s.finish().bytes);
        let args: String = events(&out)
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .filter_map(|v| v.pointer("/choices/0/delta/tool_calls/0/function/arguments").and_then(Value::as_str).map(str::to_string))
            .collect();
        assert_eq!(args, "{\"to\":\"[EMAIL]\"}");
    }

    #[test]
    fn comments_are_dropped_and_multiline_data_joins() {
        let mut s = scanner();
        let out = s.feed(b": ping\n\ndata: {\"object\":\"chat.completion.chunk\",\ndata: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi \"}}]}\n\n");
        assert!(out.end.is_none());
        let mut bytes = out.bytes;
        bytes.extend(s.finish().bytes);
        assert_eq!(content(&events(&bytes)), "hi ");
    }
}
