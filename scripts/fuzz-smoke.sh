#!/usr/bin/env bash
# CI's fuzz smoke pass: builds every cargo-fuzz target (libFuzzer, coverage-guided) with the
# stable toolchain and runs each one briefly (default 15 s) from a copy of its committed corpus.
# A panic, a crash, a hang or a memory blow-up fails it; libFuzzer then leaves the input in
# fuzz/artifacts/<target>/ and prints how to reproduce it. Long runs: fuzz/README.md.
#
#   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]
#
# Without a sanitizer (the parsers under test are safe Rust, where a bug shows as a panic, and
# debug assertions with overflow checks stay on) it needs no nightly: only cargo-fuzz from
# crates.io. FUZZ_SANITIZER=address adds AddressSanitizer; its rustc flag is unstable, so on a
# stable toolchain RUSTC_BOOTSTRAP=1 is set for that build.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-15}
cargo_fuzz_version=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -qxF "cargo-fuzz $cargo_fuzz_version"; then
  echo "fuzz smoke: installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked --quiet
fi

sanitizer=${FUZZ_SANITIZER:-none}
if [ "$sanitizer" != none ] && ! rustc --version | grep -q nightly; then
  export RUSTC_BOOTSTRAP=1
fi
# 16 codegen units: cargo-fuzz's default of 1 builds much slower; runs stay fast enough here.
flags=(--sanitizer "$sanitizer" --codegen-units 16)

cargo fuzz build "${flags[@]}"
mapfile -t targets < <(cargo fuzz list)
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz smoke: no fuzz targets found" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in "${targets[@]}"; do
  work=$(mktemp -d)
  if [ -d "corpus/$target" ]; then
    cp -r "corpus/$target/." "$work/"
  fi
  status=0
  # -timeout: one input taking 10 s is a hang; the whole run ends after $secs.
  cargo fuzz run "${flags[@]}" "$target" "$work" -- \
    -max_total_time="$secs" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    tail -n 200 "$log"
    echo "fuzz smoke: target $target failed (exit $status)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1)
  echo "fuzz smoke: $target: ${runs:-?} inputs in ${secs}s, ${cov:-cov: ?}, no crash"
done
echo "fuzz smoke: ${#targets[@]} targets ran ${secs}s each without a crash"
