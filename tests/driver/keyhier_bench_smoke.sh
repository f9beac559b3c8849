#!/bin/sh
# SPDX-License-Identifier: MIT
# keyhier_bench_smoke.sh - the keyhier benchmark works: run-keyhier-bench.sh
# with tiny sizes and few rounds prints every row with a number, in the
# table and as JSON.  It never asserts speed.
#
# $KEYHIER_BENCH names the program (default: keyhier-bench beside $KEYHIER,
# default ./keyhier); $HSMSIM_SRCDIR the source tree (default: two levels
# above this script); the other programs as run-keyhier-bench.sh takes them.
set -eu

NAME=keyhier_bench_smoke.sh
KEYHIER=${KEYHIER:-./keyhier}
KEYHIER_BENCH=${KEYHIER_BENCH:-$(dirname "$KEYHIER")/keyhier-bench}
: "${HSMSIM_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
RUN=$HSMSIM_SRCDIR/driver/bench/run-keyhier-bench.sh
if [ ! -x "$KEYHIER_BENCH" ]; then
    echo "Bail out! $KEYHIER_BENCH is not an executable (set KEYHIER_BENCH)"
    exit 99
fi
[ -f "$RUN" ] || {
    echo "Bail out! $RUN not found (set HSMSIM_SRCDIR)"
    exit 99
}
if ! command -v softhsm2-util >/dev/null; then
    echo "1..0 # SKIP softhsm2-util not installed"
    exit 77
fi
: "${HSMSIM_TEST_TMP:=/tmp}"
mkdir -p "$HSMSIM_TEST_TMP"
T=$(mktemp -d "$HSMSIM_TEST_TMP/$NAME.XXXXXX")
trap 'rm -rf "$T"' EXIT
export KEYHIER KEYHIER_BENCH
# A light PIN KDF: the logins are not what this checks.
KEYHIER_BENCH_KDF=1000
TMPDIR=$T
export KEYHIER_BENCH_KDF TMPDIR

pass=0
fail=0
ok() {
    pass=$((pass + 1))
    echo "ok - $1"
}
not_ok() {
    fail=$((fail + 1))
    echo "not ok - $1"
}
show() {
    sed 's/^/#   /' "$1"
}

tiny="--rounds 2 --rotate-rounds 1 --block-keys 2000 --mib 2"
# shellcheck disable=SC2086 # $tiny is words
if timeout 120 sh "$RUN" $tiny >"$T/table" 2>"$T/err"; then
    ok "run-keyhier-bench.sh exits 0"
else
    not_ok "run-keyhier-bench.sh exits 0 (status $?)"
    show "$T/err"
fi

num='[0-9][0-9]*\.[0-9][0-9]*'
# row ROW TARGET UNIT: the table has the row with a number in that unit.
row() {
    if grep -q "^$1  *$2  *$num $3 " "$T/table"; then
        ok "table: $1 ($2)"
    else
        not_ok "table: $1 ($2) with a number in $3"
        show "$T/table"
    fi
}
for be in hsmsim hsmsim-net SoftHSMv2; do
    row boot "$be" ms
done
row rotate-2000-block-keys hsmsim s
row raw-encrypt OpenSSL MB/s
row raw-encrypt+fsync OpenSSL MB/s
row raw-decrypt OpenSSL MB/s
row put hsmsim MB/s
row put+ckpt hsmsim MB/s
row get hsmsim MB/s
row get-verify-first hsmsim MB/s
row put/raw-encrypt hsmsim ratio
row put/raw-encrypt+fsync hsmsim ratio
row put+ckpt/raw-encrypt+fsync hsmsim ratio
row get/raw-decrypt hsmsim ratio
row get-verify-first/raw-decrypt hsmsim ratio

# Boots count HSM calls; put and get make none.
if grep -q "^boot  *hsmsim-net  *$num ms  *[1-9][0-9]* " "$T/table" &&
    grep -q "^put  *hsmsim  *$num MB/s  *0 " "$T/table"; then
    ok "table: HSM calls per boot, none per put"
else
    not_ok "table: HSM calls per boot, none per put"
fi

# shellcheck disable=SC2086
if timeout 60 sh "$RUN" --json --only boot,putget $tiny >"$T/json" \
    2>"$T/err"; then
    ok "--json exits 0"
else
    not_ok "--json exits 0 (status $?)"
    show "$T/err"
fi
n=$(grep -c '^{"row":"[^"]*","target":"[^"]*","median":[0-9][0-9.e+-]*,' \
    "$T/json" || :)
if [ "$n" = 15 ] && [ "$(wc -l <"$T/json" | tr -d ' ')" = 15 ]; then
    ok "--json: one object with a number per row (15)"
else
    not_ok "--json: one object with a number per row (15, got $n)"
    show "$T/json"
fi

echo "1..$((pass + fail))"
[ "$fail" -eq 0 ]
