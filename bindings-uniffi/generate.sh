#!/usr/bin/env bash
# Generates the Kotlin, Swift and Ruby sources of ferroftp-uniffi from its built library
# (uniffi library mode; settings in bindings-uniffi/uniffi.toml) and checks each output:
#   generate.sh LIB OUT     LIB = .../libferroftp_uniffi.so, OUT = the build folder (replaced)
# OUT/kotlin/ferroftp/ferroftp.kt, OUT/ruby/ferroftp.rb, OUT/swift/{Ferroftp.swift,
# ferroftpFFI.h, ferroftpFFI.modulemap}. Swift cannot be compiled here (no toolchain): its C
# header is compiled as C11 instead (with GCC), and the module map must name it.
set -euo pipefail
lib=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
bindgen=$(dirname "$lib")/uniffi-bindgen
[ -f "$lib" ] || { echo "generate.sh: $lib is missing (cargo build -p ferroftp-uniffi)" >&2; exit 1; }
[ -x "$bindgen" ] || { echo "generate.sh: $bindgen is missing (cargo build -p uniffi-bindgen)" >&2; exit 1; }
rm -rf "$out"
for lang in kotlin swift ruby; do
  # --no-format: ktlint/swiftformat are not needed to use the sources.
  (cd "$here" && "$bindgen" generate --library "$lib" --language "$lang" --no-format \
    --out-dir "$out/$lang")
done
expect() {
  for f in "$@"; do
    [ -s "$out/$f" ] || { echo "generate.sh: uniffi-bindgen wrote no $out/$f" >&2; exit 1; }
  done
}
expect kotlin/ferroftp/ferroftp.kt ruby/ferroftp.rb swift/Ferroftp.swift swift/ferroftpFFI.h \
  swift/ferroftpFFI.modulemap
grep -q 'header "ferroftpFFI.h"' "$out/swift/ferroftpFFI.modulemap" || {
  echo "generate.sh: the Swift module map does not name ferroftpFFI.h" >&2; exit 1; }
grep -q 'import ferroftpFFI' "$out/swift/Ferroftp.swift" || {
  echo "generate.sh: Ferroftp.swift does not import its FFI module" >&2; exit 1; }
# (_Nonnull and friends are Clang's nullability qualifiers: empty for GCC.)
cc=${CC:-gcc}
echo '#include "ferroftpFFI.h"' | "$cc" -std=c11 -Wall -Werror -fsyntax-only \
  -D_Nonnull= -D_Nullable= -D_Null_unspecified= -I "$out/swift" -x c -
echo "generate.sh: Kotlin, Swift and Ruby sources in $out"
