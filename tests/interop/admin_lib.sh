# SPDX-License-Identifier: MIT
# admin_lib.sh - what the hsmsim-admin shell tests share: a scratch
# directory, running the tool, checks and the closing count.
#
# Source it with NAME set to the test's name, after checking its own
# requirements; it sets ADMIN and T (removed at exit).  End with
# admin_finish.

admin_die() {
    echo "$NAME: $*" >&2
    exit 1
}

[ -n "${HSMSIM_ADMIN:-}" ] || admin_die "HSMSIM_ADMIN is not set (the hsmsim-admin)"
[ -n "${HSMSIM_TEST_TMP:-}" ] || admin_die "HSMSIM_TEST_TMP is not set (scratch dir)"
[ -x "$HSMSIM_ADMIN" ] || admin_die "$HSMSIM_ADMIN is not an executable"
ADMIN=$HSMSIM_ADMIN
mkdir -p "$HSMSIM_TEST_TMP"
T=$(mktemp -d "$HSMSIM_TEST_TMP/$NAME.XXXXXX")
trap 'rm -rf "$T"' EXIT

pass=0
fail=0
ok() {
    pass=$((pass + 1))
    echo "ok - $1"
}
not_ok() {
    fail=$((fail + 1))
    echo "not ok - $1"
    if [ -s "$T/err" ]; then sed 's/^/#   stderr: /' "$T/err"; fi
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# run ARGS...: hsmsim-admin with empty stdin; sets $rc, output in files.
run() {
    set +e
    "$ADMIN" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    set -e
}
rc_is() { [ "$rc" -eq "$1" ]; }
err_has() { grep -q -- "$1" "$T/err"; }
out_has() { grep -q -- "$1" "$T/out"; }
one_err_line() {
    [ "$(wc -l <"$T/err" | tr -d ' ')" = 1 ] && grep -q '^hsmsim-admin: ' "$T/err"
}
# count PATTERN [FILE]: lines matching the extended regex (0 when the file
# is not there yet).
count() {
    dl_n=$(grep -c -E -- "$1" "${2:-$T/out}" 2>/dev/null) || :
    echo "${dl_n:-0}"
}
# wait_for COUNT PATTERN FILE: up to 10 s for COUNT lines matching (hsmsimd
# appends its audit lines from a writer thread, about a millisecond late).
wait_for() {
    tries=0
    while [ "$(count "$2" "$3")" -lt "$1" ]; do
        tries=$((tries + 1))
        [ "$tries" -le 200 ] || return 1
        sleep 0.05
    done
}
admin_finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
