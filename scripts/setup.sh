#!/usr/bin/env bash
# Sets up a fresh Debian machine for ferroftp: system packages (vsftpd), the Rust toolchain
# check, the project's Python venv (.venv) with the test servers and tools, and toxiproxy.
# Idempotent: re-running it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=(vsftpd python3-venv pkg-config valgrind)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# vsftpd is run by the tests from their own config, never as the system service.
if command -v systemctl >/dev/null && systemctl is-active --quiet vsftpd 2>/dev/null; then
  as_root systemctl stop vsftpd || true
fi

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.ferroftp-requirements
if ! cmp -s requirements-dev.txt "$stamp" 2>/dev/null; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  cp requirements-dev.txt "$stamp"
fi
# toxiproxy, the latency proxy of the slow-link tests and benchmarks (serve.py --rtt-ms), built
# from the Go module proxy into .tools/bin.
TOXIPROXY_VERSION=v2.12.0
if [ ! -x .tools/bin/toxiproxy-server ] || ! grep -q "$TOXIPROXY_VERSION" .tools/toxiproxy.version 2>/dev/null; then
  command -v go >/dev/null || { echo "setup: go not found; it builds toxiproxy (install Go)" >&2; exit 1; }
  echo "setup: building toxiproxy $TOXIPROXY_VERSION"
  mkdir -p .tools/bin
  GOBIN="$PWD/.tools/bin" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  mv .tools/bin/server .tools/bin/toxiproxy-server
  echo "$TOXIPROXY_VERSION" > .tools/toxiproxy.version
fi
# Each binding may add its own setup steps (tools it alone needs).
for extra in bindings-*/setup.sh; do
  [ -f "$extra" ] && bash "$extra"
done
echo "setup: ok"
