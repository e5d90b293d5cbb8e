//! Arbitrary text scanned with `return_masked`: no actionable finding's value survives in the
//! masked text, and masking the masked text again brings none back (see `checks::mask`).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use picket::Engine;

#[path = "../../tests/fuzz_cases/checks.rs"]
mod checks;

static ENGINE: LazyLock<Engine> = LazyLock::new(checks::engine);

fuzz_target!(|data: &[u8]| checks::mask(&ENGINE, data));
