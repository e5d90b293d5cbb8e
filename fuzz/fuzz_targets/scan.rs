//! Arbitrary text scanned in every direction: never panics; every finding's byte span is in
//! bounds and on char boundaries, and its char span names the same text (see `checks::scan`).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use picket::Engine;

#[path = "../../tests/fuzz_cases/checks.rs"]
mod checks;

static ENGINE: LazyLock<Engine> = LazyLock::new(checks::engine);

fuzz_target!(|data: &[u8]| checks::scan(&ENGINE, data));
