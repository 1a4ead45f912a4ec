#!/usr/bin/env bash
# Runs every fuzz target briefly (default 20 s each): CI's smoke pass. Long runs: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
for target in mlsd list_unix list_dos reply; do
  mkdir -p "corpus/$target"
  work=$(mktemp -d)
  cp -r "corpus/$target/." "$work/"
  cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$secs" -print_final_stats=1 2>&1 \
    | grep -E "^(Done|stat::number_of_executed_units|==.*ERROR|SUMMARY)" || true
  status=${PIPESTATUS[0]}
  rm -rf "$work"
  [ "$status" -eq 0 ] || { echo "fuzz target $target failed"; exit 1; }
done
echo "fuzz smoke: every target ran ${secs}s without a crash"
