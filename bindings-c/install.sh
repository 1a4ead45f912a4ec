#!/usr/bin/env bash
# Installs libferroftp into PREFIX: the header, the shared library as its versioned file with
# the usual links (libferroftp.so.X.Y.Z, libferroftp.so.X -> it, libferroftp.so -> that; X.Y.Z
# from Cargo.toml, and the library's SONAME must be libferroftp.so.X), the static library, a
# pkg-config file and a CMake package config. Run through `make install PREFIX=...
# [C_PROFILE=release|debug]`, which builds the libraries first. Usage: bindings-c/install.sh
# PREFIX LIBRARY_DIR (LIBRARY_DIR: the cargo profile directory holding libferroftp.so and
# libferroftp.a). The versioning rule: bindings-c/README.md, "Versions and the SONAME".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
prefix=${1:?usage: install.sh PREFIX LIBRARY_DIR}
libdir_src=${2:?usage: install.sh PREFIX LIBRARY_DIR}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
major=${version%%.*}
soname=libferroftp.so.$major
# What a Rust staticlib needs from the system on Linux (rustc --print native-static-libs).
static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

for f in libferroftp.so libferroftp.a; do
  [ -f "$libdir_src/$f" ] || { echo "install: $libdir_src/$f is missing; build first" >&2; exit 1; }
done
install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/ferroftp"
install -m 0644 "$root/include/ferroftp.h" "$prefix/include/ferroftp.h"
# The SONAME the build gave the library (bindings-c/build.rs) must be the one the links name.
if command -v readelf >/dev/null; then
  built=$(readelf -d "$libdir_src/libferroftp.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
  if [ "$built" != "$soname" ]; then
    echo "install: $libdir_src/libferroftp.so has SONAME '${built:-none}', expected $soname" >&2
    exit 1
  fi
fi
rm -f "$prefix/lib/libferroftp.so" "$prefix/lib/$soname"
install -m 0755 "$libdir_src/libferroftp.so" "$prefix/lib/libferroftp.so.$version"
ln -s "libferroftp.so.$version" "$prefix/lib/$soname"
ln -s "$soname" "$prefix/lib/libferroftp.so"
install -m 0644 "$libdir_src/libferroftp.a" "$prefix/lib/libferroftp.a"

cat >"$prefix/lib/pkgconfig/ferroftp.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: ferroftp
Description: FTP/FTPS client library whose sessions are safe to share (C API)
Version: $version
Libs: -L\${libdir} -lferroftp
Libs.private: $static_libs
Cflags: -I\${includedir}
PC

cat >"$prefix/lib/cmake/ferroftp/ferroftpConfig.cmake" <<CMAKE
# CMake package config of libferroftp: find_package(ferroftp) gives the imported targets
#   ferroftp::ferroftp         the shared library
#   ferroftp::ferroftp_static  the static library (with the system libraries it needs)
get_filename_component(_ferroftp_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET ferroftp::ferroftp)
  add_library(ferroftp::ferroftp SHARED IMPORTED)
  set_target_properties(ferroftp::ferroftp PROPERTIES
    IMPORTED_LOCATION "\${_ferroftp_prefix}/lib/libferroftp.so.$version"
    IMPORTED_SONAME "$soname"
    INTERFACE_INCLUDE_DIRECTORIES "\${_ferroftp_prefix}/include")
endif()
if(NOT TARGET ferroftp::ferroftp_static)
  add_library(ferroftp::ferroftp_static STATIC IMPORTED)
  set_target_properties(ferroftp::ferroftp_static PROPERTIES
    IMPORTED_LOCATION "\${_ferroftp_prefix}/lib/libferroftp.a"
    INTERFACE_INCLUDE_DIRECTORIES "\${_ferroftp_prefix}/include"
    INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;pthread;m;dl")
endif()
set(ferroftp_INCLUDE_DIRS "\${_ferroftp_prefix}/include")
set(ferroftp_LIBRARIES ferroftp::ferroftp)
unset(_ferroftp_prefix)
CMAKE

cat >"$prefix/lib/cmake/ferroftp/ferroftpConfigVersion.cmake" <<CMAKE
# Compatible when the major version matches (and, before 1.0, the minor version too).
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif(PACKAGE_FIND_VERSION_MAJOR STREQUAL "${version%%.*}" AND
       ("${version%%.*}" STRGREATER "0" OR PACKAGE_FIND_VERSION_MINOR STREQUAL "$(echo "$version" | cut -d. -f2)"))
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
else()
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
endif()
CMAKE
echo "install: libferroftp $version installed into $prefix"
