# bindings-c/c.mk — the C API's make targets, included by the top Makefile.
#   make test-c                 build libferroftp (debug), run tests/c under valgrind against
#                               pyftpdlib and vsftpd, then the install + pkg-config + CMake test
#   make install PREFIX=/usr/local [C_PROFILE=release|debug]
#                               header, libferroftp.so.X.Y.Z + links (SONAME libferroftp.so.X),
#                               libferroftp.a, ferroftp.pc, CMake config
#   make header                 regenerate include/ferroftp.h (pinned cbindgen 0.29.4)
#   make lint                   (also) regenerate the header and fail if it differs from git;
#                               fail on an import cycle between the modules of bindings-c/src
#   make demo                   (also) build and run examples/c against a loopback server
# Honours CARGO_TARGET_DIR.

C_PYTHON ?= $(CURDIR)/.venv/bin/python
C_TARGET_DIR = $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
C_PROFILE ?= release
PREFIX ?= /usr/local

.PHONY: c-lib header install

c-lib:
	$(CARGO) build -p ferroftp-c

header:
	bash bindings-c/gen_header.sh

install:
	$(CARGO) build -p ferroftp-c $(if $(filter release,$(C_PROFILE)),--release,)
	bash bindings-c/install.sh "$(PREFIX)" "$(C_TARGET_DIR)/$(if $(filter release,$(C_PROFILE)),release,debug)"

test-c:: c-lib
	$(C_PYTHON) tests/c/run.py --lib-dir "$(C_TARGET_DIR)/debug"

lint::
	bash bindings-c/gen_header.sh
	git diff --exit-code include/
	python3 scripts/check-modules.py bindings-c/src

demo:: setup c-lib
	$(C_PYTHON) tests/c/run.py --demo --lib-dir "$(C_TARGET_DIR)/debug"
