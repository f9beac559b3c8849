#!/bin/sh
# SPDX-License-Identifier: MIT
# keyhier_cli_args.sh - the keyhier command's bad arguments, none of which
# reaches an HSM: each exits 2 with one "keyhier: ..." line on stderr and
# nothing on stdout.  $KEYHIER names the command (default ./keyhier).
set -eu

NAME=keyhier_cli_args.sh
KEYHIER=${KEYHIER:-./keyhier}
if [ ! -x "$KEYHIER" ]; then
    echo "Bail out! $KEYHIER is not an executable (set KEYHIER)"
    exit 99
fi
: "${HSMSIM_TEST_TMP:=/tmp}"
mkdir -p "$HSMSIM_TEST_TMP"
T=$(mktemp -d "$HSMSIM_TEST_TMP/$NAME.XXXXXX")
trap 'rm -rf "$T"' EXIT
# Nothing here may touch the caller's key store.
KEYHIER_KEYSTORE=$T/keystore
HOME=$T/home
export KEYHIER_KEYSTORE HOME

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
    if [ -s "$T/out" ]; then sed 's/^/#   stdout: /' "$T/out"; fi
}
# run ARGS...: the command with empty stdin; sets $rc, output in files.
run() {
    set +e
    "$KEYHIER" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    set -e
}
lines() { wc -l <"$1" | tr -d ' '; }
one_err_line() {
    [ "$(lines "$T/err")" = 1 ] && grep -q '^keyhier: ' "$T/err"
}
# expect_usage DESCRIPTION ARGS...: exit 2, one line on stderr, no stdout.
expect_usage() {
    desc=$1
    shift
    run "$@"
    if [ "$rc" -eq 2 ] && one_err_line && [ ! -s "$T/out" ]; then
        ok "usage error: $desc"
    else
        not_ok "usage error: $desc (exit $rc, $(lines "$T/err") stderr lines)"
    fi
}
# expect_help DESCRIPTION ARGS...: exit 0, a usage text, nothing on stderr.
expect_help() {
    desc=$1
    shift
    run "$@"
    if [ "$rc" -eq 0 ] && grep -q '^usage: keyhier' "$T/out" &&
        [ ! -s "$T/err" ]; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc)"
    fi
}

PW=$T/password
printf 'partition-password\n' >"$PW"
EMPTY=$T/empty
: >"$EMPTY"
MOD=$T/no-such-module.so
# create's required options but the cluster, the HSM and the block size.
set -- --module "$MOD" --partition p1 --data "$T/data"

# ---- help and version -----------------------------------------------------

expect_help "--help" --help
expect_help "-h" -h
expect_help "help command" help
expect_help "create --help" create --help
expect_help "help after the arguments" create c1 --module "$MOD" -h
expect_help "help snapshot restore" help snapshot restore
run --version
if [ "$rc" -eq 0 ] && grep -q '^keyhier ' "$T/out"; then
    ok "--version"
else
    not_ok "--version (exit $rc)"
fi

# ---- commands and options -------------------------------------------------

expect_usage "no arguments"
expect_usage "unknown command" frobnicate
expect_usage "unknown command with arguments" frobnicate c1 --json
expect_usage "snapshot without subcommand" snapshot
expect_usage "unknown snapshot subcommand" snapshot frob s1
expect_usage "client-cert without subcommand" client-cert
expect_usage "unknown global option" --frob ls c1
expect_usage "unknown option of ls" ls c1 --frob
expect_usage "unknown option before CLUSTER" status --frob c1
expect_usage "an option of another command" ls c1 --since 0
expect_usage "-o on put" put c1 obj -o out
expect_usage "--keystore without a directory" --keystore
expect_usage "--keystore at the end without a directory" ls c1 --keystore
expect_usage "--keystore= empty" --keystore= ls c1
expect_usage "option given twice" snapshot create c1 --name a --name b
expect_usage "option at the end without a value" create c1 "$@" \
    --password-file "$PW" --block-size
expect_usage "help for an unknown command" help frobnicate

# ---- positional arguments -------------------------------------------------

expect_usage "ls: missing CLUSTER" ls
expect_usage "status: missing CLUSTER" status --json
expect_usage "events: missing CLUSTER" events --since 0
expect_usage "delete: missing CLUSTER" delete
expect_usage "rotate: missing CLUSTER" rotate --json
expect_usage "client-cert create: missing CLUSTER" client-cert create
expect_usage "create: missing CLUSTER" create "$@" --password-file "$PW"
expect_usage "modify: missing CLUSTER" modify --partition p2 \
    --password-file "$PW"
expect_usage "put: missing NAME" put c1
expect_usage "get: missing NAME" get c1 -o "$T/out.bin"
expect_usage "rm: missing NAME" rm c1
expect_usage "rm: one argument too many" rm c1 obj extra
expect_usage "put: one argument too many" put c1 obj - extra
expect_usage "snapshot create: missing CLUSTER" snapshot create --name s
expect_usage "snapshot restore: missing NEWCLUSTER" snapshot restore s1
expect_usage "snapshot delete: missing SNAPSHOT" snapshot delete
expect_usage "snapshot rotate: missing SNAPSHOT" snapshot rotate
expect_usage "snapshot list: two clusters" snapshot list c1 c2

# ---- create and modify ----------------------------------------------------

expect_usage "create: missing --module" create c1 --partition p1 \
    --password-file "$PW" --data "$T/data"
expect_usage "create: missing --partition" create c1 --module "$MOD" \
    --password-file "$PW" --data "$T/data"
expect_usage "create: missing --password-file" create c1 "$@"
expect_usage "create: missing --data" create c1 --module "$MOD" \
    --partition p1 --password-file "$PW"
expect_usage "create: --hsm without --server-cert" create c1 "$@" \
    --password-file "$PW" --hsm 127.0.0.1:2223
expect_usage "create: --server-cert without --hsm" create c1 "$@" \
    --password-file "$PW" --server-cert "$T/server.pem"
expect_usage "create: --hsm without a port" create c1 "$@" \
    --password-file "$PW" --hsm localhost --server-cert "$T/server.pem"
expect_usage "modify: --hsm without --server-cert" modify c1 \
    --partition p2 --password-file "$PW" --hsm 127.0.0.1:2223
expect_usage "modify: missing --partition" modify c1 --password-file "$PW"
expect_usage "modify: missing --password-file" modify c1 --partition p2

# ---- password files -------------------------------------------------------

expect_usage "create: password file missing" create c1 "$@" \
    --password-file "$T/no-such-file"
expect_usage "create: password file is a directory" create c1 "$@" \
    --password-file "$T"
expect_usage "create: password file empty" create c1 "$@" \
    --password-file "$EMPTY"
expect_usage "modify: password file missing" modify c1 --partition p2 \
    --password-file "$T/no-such-file"
if [ ! -e "$KEYHIER_KEYSTORE" ]; then
    ok "no key store made by a refused create"
else
    not_ok "no key store made by a refused create"
fi

# ---- --since --------------------------------------------------------------

for since in yesterday -5 1.5 '' 2026-12-07 2026-12-07T10:00:00 \
    '2026-12-07 10:00:00Z' 2026-13-01T00:00:00Z 2026-02-30T00:00:00Z \
    2026-12-07T24:00:00Z 2026-12-07T10:60:00Z 2026-12-07T10:00:00+01:00 \
    1969-12-31T23:59:59Z 99999999999999999999; do
    expect_usage "events: --since '$since'" events c1 --since "$since"
done
expect_usage "events: --since without a value" events c1 --since

# ---- --block-size ---------------------------------------------------------

for bs in 0 0K abc -1 12X 1G 4KK 1.5M ' 4096' 99999999999999999999; do
    expect_usage "create: --block-size '$bs'" create c1 "$@" \
        --password-file "$PW" --block-size "$bs"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
