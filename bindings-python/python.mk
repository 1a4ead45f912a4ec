# bindings-python/python.mk — the Python package's make targets, included by the top Makefile.
#   make test-python   build the `ferroftp` package into .venv (maturin develop, debug profile),
#                      then run tests/python (pytest) against pyftpdlib and vsftpd
#   make lint          (also) ruff check + ruff format --check, mypy --strict, mypy.stubtest
#   make demo          (also) examples/demo.py: threads and asyncio tasks sharing one session
# Honours CARGO_TARGET_DIR (maturin passes it to cargo).

PY_BIN := $(CURDIR)/.venv/bin
PY_LINT_PATHS := bindings-python/python tests/python examples/demo.py
PY_RUFF_CONFIG := --config bindings-python/pyproject.toml

.PHONY: python-package

# Builds the extension and installs the package (editable: the .py files are used in place).
python-package: setup
	VIRTUAL_ENV=$(CURDIR)/.venv $(PY_BIN)/maturin develop --quiet -m bindings-python/Cargo.toml

test-python:: python-package
	$(PY_BIN)/python -m pytest tests/python

lint:: python-package
	$(PY_BIN)/ruff check $(PY_RUFF_CONFIG) $(PY_LINT_PATHS)
	$(PY_BIN)/ruff format --check $(PY_RUFF_CONFIG) $(PY_LINT_PATHS)
	$(PY_BIN)/mypy --strict bindings-python/python/ferroftp
	$(PY_BIN)/python -m mypy.stubtest ferroftp

demo:: python-package
	$(PY_BIN)/python examples/demo.py
