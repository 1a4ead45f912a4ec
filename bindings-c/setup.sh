#!/usr/bin/env bash
# Extra setup for the C bindings (run by scripts/setup.sh): the pinned cbindgen that
# generates include/ferroftp.h, and the C/C++ toolchain the C tests use. Idempotent.
set -euo pipefail
want=0.29.4
have=$(cbindgen --version 2>/dev/null | awk '{print $2}') || true
if [ "$have" != "$want" ]; then
  echo "setup: installing cbindgen $want"
  cargo install --quiet cbindgen --version "$want" --locked
fi
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in gcc:gcc g++:g++ cmake:cmake make:make pkg-config:pkg-config valgrind:valgrind; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
