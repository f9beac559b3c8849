#!/bin/sh
# SPDX-License-Identifier: MIT
# Stress: 4 processes x 8 threads on one partition, embedded and network.
#
# Runs tests/reliability/stress ($HSMSIM_STRESS) for $HSMSIM_STRESS_SECONDS
# (default 10) in each mode against a fresh store: embedded, then through
# hsmsimd over TLS with a registered client assigned the partition.  Prints
# "ok N - ..." / "not ok N - ..." and exits 1 if any failed, 99 if the
# set-up did (automake's ERROR).

set -u

: "${HSMSIM_BUILD_DIR:=$(pwd)}"
: "${HSMSIM_STRESS:=$HSMSIM_BUILD_DIR/tests/reliability/stress}"
: "${HSMSIM_STRESS_SECONDS:=10}"
: "${HSMSIM_TEST_TMP:=/tmp}"
: "${HSMSIM_HSMSIMD:=$HSMSIM_BUILD_DIR/hsmsimd}"
: "${HSMSIM_ADMIN:=$HSMSIM_BUILD_DIR/hsmsim-admin}"

SO_PIN=so-pin-1234
USER_PIN=user-pin-5678
LABEL=stress
# The program bounds its own run (60 s past the end is a hang); this is
# the outer bound, should the program itself hang.
LIMIT=$((HSMSIM_STRESS_SECONDS * 2 + 240))

n=0
failed=0
daemon_pid=
dir=

bail_out()
{
    printf 'Bail out! %s\n' "$*"
    exit 99
}

cleanup()
{
    rc=$?
    if [ -n "$daemon_pid" ]; then
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    if [ -n "$dir" ] && [ -d "$dir" ]; then
        rm -rf "$dir" || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 99' HUP INT TERM

report()
{
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        printf 'ok %d - %s\n' "$n" "$2"
    else
        failed=$((failed + 1))
        printf 'not ok %d - %s (exit status %s)\n' "$n" "$2" "$1"
    fi
}

[ -n "${HSMSIM_MODULE:-}" ] && [ -f "$HSMSIM_MODULE" ] ||
    bail_out "HSMSIM_MODULE is not set or does not exist"
[ -x "$HSMSIM_STRESS" ] || bail_out "no stress program at $HSMSIM_STRESS"
[ -x "$HSMSIM_ADMIN" ] || bail_out "no hsmsim-admin at $HSMSIM_ADMIN"
mkdir -p "$HSMSIM_TEST_TMP" || bail_out "cannot create $HSMSIM_TEST_TMP"
dir=$(mktemp -d "$HSMSIM_TEST_TMP/stress.XXXXXX") ||
    bail_out "cannot create a directory in $HSMSIM_TEST_TMP"

echo "1..2"

# run_stress DESC: the program against $HSMSIM_CONF, its output indented.
run_stress()
{
    timeout -k 10 "$LIMIT" "$HSMSIM_STRESS" \
        --seconds "$HSMSIM_STRESS_SECONDS" --label "$LABEL" \
        --pin "$USER_PIN" >"$dir/out" 2>&1 </dev/null
    st=$?
    sed 's/^\([^#]\)/# \1/' "$dir/out"
    [ "$st" -eq 124 ] && printf '# HANG: killed after %s s\n' "$LIMIT"
    report "$st" "$1"
}

# ---- embedded -------------------------------------------------------------
mkdir -p "$dir/emb/store"
cat >"$dir/emb/hsmsim.conf" <<EOF
store = $dir/emb/store
pin_kdf_iterations = 1000
EOF
HSMSIM_CONF=$dir/emb/hsmsim.conf
export HSMSIM_CONF
if "$HSMSIM_ADMIN" partition create "$LABEL" --so-pin "$SO_PIN" \
    --pin "$USER_PIN" >"$dir/emb/admin.out" 2>&1 </dev/null; then
    run_stress "embedded: 4 processes x 8 threads, ${HSMSIM_STRESS_SECONDS} s"
else
    sed 's/^/# /' "$dir/emb/admin.out"
    report 1 "embedded: partition create"
fi

# ---- network --------------------------------------------------------------
[ -x "$HSMSIM_HSMSIMD" ] || bail_out "no hsmsimd at $HSMSIM_HSMSIMD"
store=$dir/net/store
kit=$dir/net/client
mkdir -p "$store" "$kit"
printf 'store = %s\npin_kdf_iterations = 1000\n' "$store" \
    >"$dir/net/admin.conf"
admin()
{
    HSMSIM_CONF=$dir/net/admin.conf "$HSMSIM_ADMIN" "$@" \
        >>"$dir/net/admin.out" 2>&1 </dev/null
}
admin appliance init --dir "$store" &&
    admin partition create "$LABEL" --so-pin "$SO_PIN" --pin "$USER_PIN" &&
    admin client cert create --cn stress --out "$kit" &&
    admin client register stress --cert "$kit/stress.pem" &&
    admin client assign stress "$LABEL" || {
    sed 's/^/# /' "$dir/net/admin.out"
    bail_out "cannot set up the appliance's store"
}
cat >"$dir/net/hsmsimd.conf" <<EOF
listen = 127.0.0.1:0
dir = $store
pin_kdf_iterations = 1000
log_level = warn
EOF
"$HSMSIM_HSMSIMD" --conf "$dir/net/hsmsimd.conf" \
    --port-file "$dir/net/port" 2>"$dir/net/hsmsimd.log" &
daemon_pid=$!
tries=0
while [ ! -s "$dir/net/port" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
        sed 's/^/# /' "$dir/net/hsmsimd.log"
        bail_out "hsmsimd did not start"
    fi
    sleep 0.05
done
port=$(cat "$dir/net/port")
cat >"$dir/net/hsmsim.conf" <<EOF
mode = network
server = 127.0.0.1:$port
server_cert = $store/server.pem
client_cert = $kit/stress.pem
client_key = $kit/stress.key
EOF
HSMSIM_CONF=$dir/net/hsmsim.conf
export HSMSIM_CONF
run_stress "network: 4 processes x 8 threads, ${HSMSIM_STRESS_SECONDS} s"
if ! kill -0 "$daemon_pid" 2>/dev/null; then
    printf '# hsmsimd died during the run\n'
    sed 's/^/# /' "$dir/net/hsmsimd.log"
    failed=$((failed + 1))
elif [ -s "$dir/net/hsmsimd.log" ]; then
    printf '# hsmsimd log:\n'
    tail -n 20 "$dir/net/hsmsimd.log" | sed 's/^/#   /'
fi

[ "$failed" -eq 0 ] || exit 1
exit 0
