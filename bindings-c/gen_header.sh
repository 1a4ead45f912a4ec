#!/usr/bin/env bash
# Regenerates include/ferroftp.h from bindings-c/src with the pinned cbindgen (0.29.4) and adds
# the version macros taken from Cargo.toml. Usage: bindings-c/gen_header.sh [OUTPUT]
# (default: include/ferroftp.h at the repository root). CI runs it and then
# `git diff --exit-code include/`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/include/ferroftp.h}
want=0.29.4
CBINDGEN=${CBINDGEN:-cbindgen}
have=$("$CBINDGEN" --version 2>/dev/null | awk '{print $2}') || true
if [ "$have" != "$want" ]; then
  echo "gen_header: need cbindgen $want (found '${have:-none}'); run bindings-c/setup.sh" >&2
  exit 1
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
IFS=. read -r major minor patch <<<"${version%%-*}"
if [ -z "$major" ] || [ -z "$minor" ] || [ -z "$patch" ]; then
  echo "gen_header: cannot read the workspace version from Cargo.toml" >&2
  exit 1
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$CBINDGEN" --quiet --config "$here/cbindgen.toml" --crate ferroftp-c --output "$tmp" "$here"
macros="/* The version of the library this header belongs to (see also ferroftp_version()). */\\
#define FERROFTP_VERSION_MAJOR $major\\
#define FERROFTP_VERSION_MINOR $minor\\
#define FERROFTP_VERSION_PATCH $patch\\
#define FERROFTP_VERSION \"$version\""
sed "s|^@FERROFTP_VERSION_MACROS@\$|$macros|" "$tmp" >"$tmp.h"
mv "$tmp.h" "$tmp"
mkdir -p "$(dirname "$out")"
if ! cmp -s "$tmp" "$out" 2>/dev/null; then
  cp "$tmp" "$out"
  echo "gen_header: wrote $out"
fi
