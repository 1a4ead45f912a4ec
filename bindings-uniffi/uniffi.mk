# bindings-uniffi/uniffi.mk — the uniffi face's make targets (Kotlin, Swift, Ruby), included by
# the top Makefile.
#   make bindings        build libferroftp_uniffi (debug) and uniffi-bindgen, generate the Kotlin,
#                        Swift and Ruby sources into $(UNIFFI_OUT) and check them (Swift: only
#                        generated; its C header compiled as C11)
#   make test-uniffi     the Kotlin tests (Maven, JUnit) and the Ruby tests (minitest) against
#                        pyftpdlib and vsftpd; part of `make test`
#   make bench-uniffi    the Kotlin benchmark (release build) next to the Rust core's; not part
#                        of `make test`
#   make lint            (also) Ruby syntax check of the hand-written Ruby
# Honours CARGO_TARGET_DIR. Needs what bindings-uniffi/setup.sh installs (JDK, Maven, Ruby, ruby-ffi).

UNIFFI_TARGET_DIR = $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
UNIFFI_OUT = $(UNIFFI_TARGET_DIR)/uniffi
UNIFFI_PYTHON ?= $(CURDIR)/.venv/bin/python
UNIFFI_MVN = mvn -B -ntp -f bindings-uniffi/kotlin/pom.xml \
	-Dferroftp.generated.dir=$(UNIFFI_OUT)/kotlin -Dferroftp.python=$(UNIFFI_PYTHON)
UNIFFI_RUBY_FILES = $(wildcard bindings-uniffi/ruby/lib/ferroftp/*.rb bindings-uniffi/ruby/test/*.rb)

.PHONY: bindings bench-uniffi test-uniffi-kotlin test-uniffi-ruby

bindings:
	$(CARGO) build -p ferroftp-uniffi -p uniffi-bindgen
	bash bindings-uniffi/generate.sh "$(UNIFFI_TARGET_DIR)/debug/libferroftp_uniffi.so" "$(UNIFFI_OUT)"

test-uniffi-kotlin: bindings
	$(UNIFFI_MVN) test -Dferroftp.lib.dir=$(UNIFFI_TARGET_DIR)/debug

test-uniffi-ruby: bindings
	LD_LIBRARY_PATH=$(UNIFFI_TARGET_DIR)/debug FERROFTP_PYTHON=$(UNIFFI_PYTHON) \
		ruby -I $(UNIFFI_OUT)/ruby -I bindings-uniffi/ruby/lib bindings-uniffi/ruby/test/all.rb

test-uniffi:: setup test-uniffi-kotlin test-uniffi-ruby

# The release library for the benchmark; the sources are the same as the debug build's.
bench-uniffi: setup bindings
	$(CARGO) build --release -p ferroftp-uniffi
	$(CARGO) build --release -p ferroftp --example bench_client
	$(UNIFFI_MVN) test -Pbench -Dferroftp.lib.dir=$(UNIFFI_TARGET_DIR)/release \
		-Dferroftp.bench.client=$(UNIFFI_TARGET_DIR)/release/examples/bench_client

lint::
	for f in $(UNIFFI_RUBY_FILES); do ruby -wc "$$f" >/dev/null || exit 1; done
