#!/usr/bin/env bash
# Installs what the benchmark harness needs on top of the project's own setup
# (scripts/setup.sh: vsftpd, the .venv): the CLI anchors (curl, lftp), iperf3 for the
# loopback limit, a C compiler for the C row, and the pinned Python anchors (aioftp, psutil).
# Idempotent: re-running it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=(curl lftp iperf3 gcc libc6-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench setup: installing ${missing[*]}"
  as_root apt-get update -qq
  for p in "${missing[@]}"; do
    policy=$(apt-cache policy "$p")
    if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
      echo "bench setup: no installable candidate for $p (apt-cache policy $p)" >&2
      exit 1
    fi
  done
  # iperf3 asks whether to start its daemon: noninteractive answers no.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "bench setup: .venv is missing; run 'make setup' first" >&2
  exit 1
fi
stamp=.venv/.ferroftp-bench-requirements
if ! cmp -s bench/requirements.txt "$stamp" 2>/dev/null; then
  .venv/bin/python -m pip install -q -r bench/requirements.txt
  cp bench/requirements.txt "$stamp"
fi
echo "bench setup: ok"
