# ferroftp — one entry point for people and CI.
#   make demo   set everything up, then run the main job against a loopback FTP server
#   make test   set everything up, then run every test suite
#   make lint   rustfmt, clippy (warnings are errors)
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup demo test test-rust lint fmt

setup:
	@bash scripts/setup.sh

demo: setup
	$(CARGO) run --quiet --example demo

test: setup test-rust

test-rust:
	$(CARGO) test --workspace --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
