#!/bin/sh
# SPDX-License-Identifier: MIT
# build.sh - configure and build hsmsim out of tree in $BUILD_DIR (default _build).
# Extra arguments go to ./configure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/_build}
cd "$top"
[ -x configure ] || NOCONFIGURE=1 ./autogen.sh >/dev/null
mkdir -p "$build"
cd "$build"
"$top/configure" -q --enable-werror "$@"
make -j"$(nproc)" >/dev/null
echo "build: ok in $build"
