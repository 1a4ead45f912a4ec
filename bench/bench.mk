# bench/bench.mk — the benchmark harness (bench/run.py), included by the top Makefile.
# Not part of `make test`: numbers are only worth taking on a quiet machine.
#   make bench                        the full run: 5 repetitions, 1 GiB data; writes bench/RESULTS.md
#   make bench BENCH_ARGS=--quick     a smoke run with small sizes (bench/RESULTS-quick.md)
#   make bench BENCH_ARGS='--reps 9 --only dl_null,small1'   any run.py options
#   make bench BENCH_ARGS='--only wan'            the WAN profile alone (vsftpd behind a latency
#                                                 proxy at 20 and 100 ms; 3 reps, --wan-reps N)
#   make bench BENCH_ARGS='--quick --only wan'    its smoke run (small sizes, 1 rep)
#   make bench BENCH_ARGS='--only loopback'       everything but the WAN profile
# Needs root (vsftpd runs as a root-started daemon) and, for the WAN profile, toxiproxy (built by
# `make setup`). Honours CARGO_TARGET_DIR.

.PHONY: bench bench-setup

BENCH_ARGS ?=

bench-setup: setup
	@bash bench/setup.sh

bench: bench-setup
	FERROFTP_BENCH_COMMAND="make bench$(if $(strip $(BENCH_ARGS)), BENCH_ARGS='$(strip $(BENCH_ARGS))')" \
		$(CURDIR)/.venv/bin/python bench/run.py $(BENCH_ARGS)
