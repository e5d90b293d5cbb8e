//! Every integration test in one binary: one link of the crate instead of one per file.
//! Each module starts real components (the server on 127.0.0.1, the binary, the shipped model).

#[path = "../common/mod.rs"]
mod common;

mod adversarial;
mod batch;
mod classifier;
mod cli;
mod cli_habits;
mod deploy;
mod docs;
mod envoy;
mod fuzz_regressions;
mod golden;
mod http;
mod identity;
mod install;
mod masking;
mod nats;
mod ops_http;
mod otel;
mod packs;
mod pii_eval;
mod props;
mod proxy;
mod secrets_eval;
mod stream;
mod tuning;
mod value_view;
