//! Every integration test in one binary: one link of the crate instead of one per file.
//! Each module starts real components (the server on 127.0.0.1, the binary, the shipped model).

#[path = "../common/mod.rs"]
mod common;

mod adversarial;
mod batch;
mod classifier;
mod cli;
mod fuzz_regressions;
mod golden;
mod http;
mod masking;
mod packs;
mod pii_eval;
mod props;
mod tuning;
mod secrets_eval;
