#!/usr/bin/env bash
# Extra setup for the uniffi bindings (run by scripts/setup.sh): a JDK (17 or newer) and Maven
# for the Kotlin tests (Maven fetches the Kotlin compiler, JNA, kotlinx-coroutines and JUnit from
# Maven Central on its first run), and Debian's Ruby with ruby-ffi and minitest for the Ruby
# tests. Swift needs nothing here: its sources are only generated. Idempotent.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
java_major=$(javac -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p') || true
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then missing+=(default-jdk-headless); fi
command -v mvn >/dev/null || missing+=(maven)
command -v ruby >/dev/null || missing+=(ruby)
ruby -e 'require "ffi"' 2>/dev/null || missing+=(ruby-ffi)
ruby -e 'require "minitest"' 2>/dev/null || missing+=(ruby-minitest)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
