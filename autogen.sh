#!/bin/sh
# SPDX-License-Identifier: MIT
# autogen.sh - regenerate the build system; NOCONFIGURE=1 skips ./configure.
set -e
srcdir=$(dirname "$0")
cd "$srcdir"
autoreconf -fi
cd - >/dev/null
if [ -z "$NOCONFIGURE" ]; then
    exec "$srcdir/configure" "$@"
fi
