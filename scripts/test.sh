#!/bin/sh
# SPDX-License-Identifier: MIT
# test.sh - set up everything and run hsmsim's whole test suite (make check).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
BUILD_DIR=${BUILD_DIR:-$top/_build} "$top/scripts/build.sh"
cd "${BUILD_DIR:-$top/_build}"
if ! make -j"$(nproc)" check; then
    # Show what failed, then fail.
    for f in $(find tests -name '*.log' ! -name test-suite.log); do
        grep -q '^FAIL\|^ERROR' "${f%.log}.trs" 2>/dev/null && {
            echo "==== $f"; tail -n 60 "$f"; }
    done
    exit 1
fi
grep -E '^# (TOTAL|PASS|FAIL|ERROR|SKIP)' test-suite.log || true
# One closing line over every test case: CUnit "tests" rows and the shell
# suites' own "N passed, M failed" lines.
find tests -name '*.log' ! -name test-suite.log -exec cat {} + | awk '
    $1 == "tests" && NF >= 6 { pass += $4; fail += $5 }
    /^[0-9]+ passed, [0-9]+ failed$/ { pass += $1; fail += $3 }
    END { printf "%d passed, %d failed\n", pass, fail; exit fail > 0 }'
