# Everything goes through make; CI runs `make test`. Only python3 (>= 3.11) and cargo are assumed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NATIVE_SOURCES := $(shell find native/src -name '*.rs') native/Cargo.toml
NATIVE_LIB := trioxide_native/_native.abi3.so
PY_DIRS := core api gateway trioxide trioxide_native tests bench
# maturin's build backend and `maturin develop` find the venv through these.
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help setup run test lint pytest cargo-test bench bench-parts migrate clean redis-server chromium

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The project's dependencies, and the project itself as an editable install (this folder on
# sys.path). maturin is installed first so the build needs no isolated environment.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet 'maturin>=1.9,<2'
	$(BIN)/pip install --quiet --no-build-isolation -e '.[dev]'
	touch $@

# The Rust extension, rebuilt in release mode whenever its sources change.
$(NATIVE_LIB): $(VENV)/.installed $(NATIVE_SOURCES)
	$(BIN)/maturin develop --release --skip-install --quiet
	touch $@

setup: $(NATIVE_LIB)

run: setup ## set up, migrate and serve every role (Ctrl-C stops)
	exec $(BIN)/trioxide serve

migrate: setup ## apply pending migrations
	$(BIN)/trioxide migrate

test: setup lint cargo-test pytest ## set up, lint, then every Rust and Python test

lint: setup ## ruff, mypy --strict, import contracts, cargo fmt/clippy, stub check
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/mypy
	$(BIN)/lint-imports
	@# One concept per module (STYLE.md 2): none of the servers' modules past 600 lines.
	@find core api gateway -name '*.py' -exec wc -l {} + | awk '$$2 != "total" && $$1 > 600 \
		{ print $$2 " has " $$1 " lines: split it by concept (STYLE.md 2)"; bad = 1 } END { exit bad }'
	cargo fmt --manifest-path native/Cargo.toml --check
	cargo clippy --manifest-path native/Cargo.toml --all-targets --all-features --quiet -- -D warnings
	@# The voice scenario's load generator, its own crate (bench/voice_load).
	cargo fmt --manifest-path bench/voice_load/Cargo.toml --check
	cd bench/voice_load && cargo clippy --all-targets --quiet -- -D warnings
	$(BIN)/python -m mypy.stubtest trioxide_native._native

# Tests that use Redis start a redis-server of their own; install one if this machine lacks it.
redis-server:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }

# The S3-compatible server the attachment tests store into: s3s-fs, a real S3 implementation
# over a folder, built from crates.io into .tools/ (about two minutes, once per checkout).
S3S_FS := .tools/bin/s3s-fs
$(S3S_FS):
	cargo install s3s-fs --version 0.14.1 --features binary --locked --quiet --root .tools

# The JavaScript libraries the compat tests run unmodified (discord.js), pinned by
# tests/compat/js/package-lock.json; Node.js from Debian when this machine has none.
NODE_DEPS := tests/compat/js/node_modules/.installed
$(NODE_DEPS): tests/compat/js/package.json tests/compat/js/package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
	cd tests/compat/js && npm ci --no-audit --no-fund --silent
	touch $@

# The web client's tests drive Debian's Chromium headless through Playwright (a pinned dev
# dependency that never downloads a browser of its own), with an emoji font so reactions and
# the screenshots show emoji rather than empty boxes.
chromium:
	@{ command -v chromium && fc-list | grep -q NotoColorEmoji; } >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; }

pytest: setup redis-server chromium $(S3S_FS) $(NODE_DEPS)
	$(BIN)/pytest -q

cargo-test:
	cargo test --manifest-path native/Cargo.toml --lib --quiet

# The standard load profile (every trioxide-bench scenario, briefly) against a server started
# for it: the gateway pinned to one core, the load generator to the others.
bench: setup redis-server ## trioxide-bench's standard profile → bench/results/latest.{json,html}
	mkdir -p bench/results
	$(BIN)/trioxide-bench standard --start-server \
		--json bench/results/latest.json --html bench/results/latest.html
	@# Voice runs apart: its server serves every role in one process on the first core.
	$(BIN)/trioxide-bench voice --start-server --duration 10 \
		--json bench/results/voice.json --html bench/results/voice.html

BENCHES := snowflake permissions database auth messages

bench-parts: setup ## the hot paths one by one: snowflakes, permissions, database, auth, messages
	for bench in $(BENCHES); do $(BIN)/python -m bench.$$bench; done

clean: ## remove the venv and build output (keeps .data)
	rm -rf $(VENV) native/target $(NATIVE_LIB)
