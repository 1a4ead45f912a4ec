# ferroftp — one entry point for people and CI.
#   make demo   set everything up, then run the main job against a loopback FTP server
#   make test   set everything up, then run every test suite
#   make lint   rustfmt, clippy and rustdoc (warnings are errors), ruff, mypy stubtest, header check
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup demo test test-rust test-python test-c lint fmt


setup:
	@bash scripts/setup.sh

demo:: setup
	$(CARGO) run --quiet --example demo

test: setup test-rust test-python test-c

test-rust:
	$(CARGO) test --workspace --all-targets
	$(CARGO) test -p ferroftp --doc

test-python::
test-c::

lint::
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p ferroftp --no-deps --quiet

fmt:
	$(CARGO) fmt --all

# Each binding owns a fragment adding to test-python / test-c / lint / demo (double-colon
# rules run in the order they appear: the core's first).
-include bindings-python/python.mk
-include bindings-c/c.mk
# `make bench` (not part of `make test`): see bench/.
-include bench/bench.mk
