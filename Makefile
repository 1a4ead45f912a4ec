# ferroftp — one entry point for people and CI.
#   make demo   set everything up, then run the main job against a loopback FTP server
#   make test   set everything up, then run every test suite
#   make lint   rustfmt, clippy and rustdoc (warnings are errors), ruff, mypy stubtest, header check
#   make bindings   the Kotlin, Swift and Ruby sources of bindings-uniffi (generated into target/uniffi)
#   make fuzz-smoke   every fuzz target for a few seconds (CI, after make test)
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup demo test test-rust test-python test-c test-uniffi lint fmt fuzz-smoke


setup:
	@bash scripts/setup.sh

demo:: setup
	$(CARGO) run --quiet --example demo

test: setup test-rust test-python test-c test-uniffi

test-rust:
	$(CARGO) build --workspace
	$(CARGO) test --workspace --all-targets
	$(CARGO) test -p ferroftp --doc

test-python::
test-c::
test-uniffi::

lint::
	python3 scripts/check-modules.py core/src bindings-python/src
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p ferroftp --no-deps --quiet

fmt:
	$(CARGO) fmt --all

# Every cargo-fuzz target briefly (libFuzzer on the stable toolchain; CI runs it after `make
# test`). FUZZ_SECONDS per target; FUZZ_SANITIZER=address adds ASan. Long runs: fuzz/README.md.
FUZZ_SECONDS ?= 15
fuzz-smoke:
	bash scripts/fuzz-smoke.sh $(FUZZ_SECONDS)

# Each binding owns a fragment adding to test-python / test-c / test-uniffi / lint / demo (double-colon
# rules run in the order they appear: the core's first).
-include bindings-python/python.mk
-include bindings-c/c.mk
-include bindings-uniffi/uniffi.mk
# `make bench` (not part of `make test`): see bench/.
-include bench/bench.mk
