//! Arbitrary bytes as one pack file: compiling never panics and every diagnostic points into
//! the file (see `checks::pack_parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_cases/checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::pack_parse(data));
