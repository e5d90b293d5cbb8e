//! # Picket
//!
//! Picket inspects text that crosses an LLM boundary — user prompts going in, retrieved chunks
//! and tool results going in, model output coming back — and answers what is in it, how risky it
//! is, what to mask, and whether to block it.
//!
//! One scan runs this pipeline ([`Engine::scan`]):
//!
//! 1. **Normalize** ([`text`]): a view of the text for keyword matching (NFKD without marks,
//!    lower case, invisible characters removed, homoglyphs folded, whitespace collapsed) with an
//!    offset map, so every finding points into the ORIGINAL text.
//! 2. **Decode** ([`text::decode`]): bounded base64 / hex / percent payloads are re-scanned; a
//!    finding inside one points at the encoded span.
//! 3. **Match** ([`detect`]): one Aho-Corasick DFA for all keyword rules; regex rules split into
//!    literal-prefixed ones (each prefiltered by its literal) and literal-free ones (one
//!    `RegexSet` prefilter); validators (Luhn, IBAN, SSN, entropy, ...) and context words.
//! 4. **Classify** ([`classify`]): the ONNX intent model scores sliding token windows.
//! 5. **Score and decide** ([`policy`]): noisy-OR per category, per-direction thresholds.
//! 6. **Mask** ([`mask`], [`vault`]): label, partial, keyed hash or reversible token.
//!
//! Rules come from TOML packs ([`pack`]), compiled once into an immutable set that the engine
//! swaps whole on reload. The daemon ([`server`]), the batch scanner ([`batch`]) and the
//! tuning tools are callers of the same engine.

pub mod batch;
pub mod budget;
pub mod chat;
pub mod classify;
pub mod config;
pub mod detect;
pub mod engine;
pub mod eval;
pub mod explain;
pub mod extproc;
pub mod mask;
pub mod nats;
pub mod pack;
pub mod policy;
pub mod report;
pub mod server;
pub mod span;
pub mod sse;
pub mod stream;
pub mod telemetry;
pub mod text;
pub mod vault;

pub use budget::Budget;
pub use engine::{Engine, EngineConfig, ScanError, ScanRequest};
pub use policy::{Category, DecidedBy, Decision, Direction, Policy};
pub use report::Report;
