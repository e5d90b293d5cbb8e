//! Arbitrary text normalized: the offset map sends every pair of normalized char boundaries to
//! an in-bounds, char-boundary, monotonic original span (see `checks::normalize_map`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_cases/checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::normalize_map(data));
