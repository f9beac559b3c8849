#!/bin/sh
# SPDX-License-Identifier: MIT
# crash_store.sh - the store and the daemon against SIGKILL: after each
# kill a fresh process finds the store open, every acknowledged object
# byte-exact, and the user PIN the old or the new one.
#
# Two modes share the kills (half each, embedded first):
#   embedded  crash_writer runs the module in embedded mode on a store and
#             makes random C_CreateObject, C_GenerateKey, C_DestroyObject,
#             C_SetAttributeValue and C_SetPIN calls, logging each before
#             and after it (crash_state.h); it is SIGKILLed at a random
#             moment, then crash_check --strict checks the store.
#   daemon    the same writer in network mode, through hsmsimd on its own
#             store; hsmsimd is SIGKILLed at a random moment (the writer
#             then fails its call and exits), restarted on the same store,
#             and crash_check checks through the link, then again directly
#             on the store in embedded mode (--strict: the resolved state
#             exactly).
# The kill comes 0 to 4 mean call latencies (measured for each mode over
# 40 calls left to finish, before the kills and every 50 kills) after the writer has logged in, sent by a process the
# writer forks for it (crash_writer.c), so the timing has no shell in it:
# most kills land in a call or between two; a call in flight may be found
# applied or not, never half.  Each check writes the resolved state the next writer starts from.
#
# HSMSIM_CRASH_KILLS (default 300) sets the number of kills; the longer
# documented run is HSMSIM_CRASH_KILLS=1000 (docs/reliability.md style
# figures are printed at the end as "# " lines).  HSMSIM_CRASH_WRITER and
# HSMSIM_CRASH_CHECK name the programs (default: beside this test in
# $HSMSIM_BUILD_DIR/tests/reliability), HSMSIM_CRASH_DAEMON the hsmsimd
# (default $HSMSIM_TEST_APPLIANCE, else $HSMSIM_BUILD_DIR/hsmsimd).  Needs
# $HSMSIM_MODULE and $HSMSIM_ADMIN, as make check sets them.  On a failure
# the scratch directory (stores, logs, states) is kept and named.
set -u

NAME=crash_store.sh
KILLS=${HSMSIM_CRASH_KILLS:-300}
BUILD=${HSMSIM_BUILD_DIR:-.}
WRITER=${HSMSIM_CRASH_WRITER:-$BUILD/tests/reliability/crash_writer}
CHECK=${HSMSIM_CRASH_CHECK:-$BUILD/tests/reliability/crash_check}
DAEMON=${HSMSIM_CRASH_DAEMON:-${HSMSIM_TEST_APPLIANCE:-$BUILD/hsmsimd}}
TO=30 # seconds any single command may take

bail_setup() {
    echo "Bail out! $*"
    exit 99
}
case $KILLS in
'' | *[!0-9]*) bail_setup "HSMSIM_CRASH_KILLS is not a number" ;;
esac
for v in HSMSIM_MODULE HSMSIM_ADMIN WRITER CHECK DAEMON; do
    eval "val=\${$v:-}"
    [ -n "$val" ] && [ -f "$val" ] || bail_setup "$v is not set or names no file"
done
for tool in timeout date od awk sort uniq sed; do
    command -v "$tool" >/dev/null 2>&1 || bail_setup "$tool is required"
done
: "${HSMSIM_TEST_TMP:=/tmp}"
mkdir -p "$HSMSIM_TEST_TMP" || bail_setup "cannot make $HSMSIM_TEST_TMP"
T=$(mktemp -d "$HSMSIM_TEST_TMP/$NAME.XXXXXX") ||
    bail_setup "cannot make a scratch directory"

WPID=
DPID=
KEEP=no
cleanup() {
    [ -n "$WPID" ] && { kill -9 "$WPID" 2>/dev/null || true; }
    [ -n "$DPID" ] && { kill -9 "$DPID" 2>/dev/null || true; }
    wait 2>/dev/null || true
    if [ "$KEEP" = yes ]; then
        echo "# scratch directory kept: $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 99' HUP INT TERM

# ---- reporting --------------------------------------------------------------

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    for f in "$T/out" "$T/err" "$T/w.err" "$T/d.err"; do
        if [ -s "$f" ]; then sed "s|^|#   ${f##*/}: |" "$f" | tail -n 20; fi
    done
}
# bail DESC: a failure after which the state cannot be followed.
bail() {
    not_ok "$1"
    KEEP=yes
    echo "1..$n"
    exit 1
}

# ---- helpers ----------------------------------------------------------------

# rand N: R = a number in 0..N-1, from /dev/urandom.
rand() {
    R=$(($(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % $1))
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_gone PID SECONDS: 0 once PID has exited, 1 if it still runs.
wait_gone() {
    wg_i=0
    while kill -0 "$1" 2>/dev/null; do
        wg_i=$((wg_i + 1))
        [ "$wg_i" -le $(($2 * 200)) ] || return 1
        sleep 0.005
    done
    return 0
}
# writer_run STATE VICTIM DELAY_US: crash_writer on a new log $T/log,
# its killer sending SIGKILL to VICTIM (0: the writer) DELAY_US after the
# writer logged in; WSTATUS is the writer's exit status (137: killed).
writer_run() {
    WSTATUS=
    rm -f "$T/log"
    "$WRITER" run "$1" "$T/log" -1 "$2" "$3" >/dev/null 2>"$T/w.err" \
        </dev/null &
    WPID=$!
    if ! wait_gone "$WPID" "$TO"; then
        kill -9 "$WPID" 2>/dev/null
        wait "$WPID" 2>/dev/null
        WPID=
        return 1
    fi
    wait "$WPID"
    WSTATUS=$?
    WPID=
}
# mean_latency FILE: the mean call latency (us) of crash_writer's "lat" lines.
mean_latency() {
    awk '$1 == "lat" { c += $3; t += $3 * $4 } END { printf "%d", t / c }' "$1"
}
# measure MODE STATE: 40 calls without a kill, every one found (--strict);
# LAT = their mean latency in us, noted in $T/lat.MODE.  Run before the
# kills and every 50 kills, since the machine's load changes.
measure() {
    rm -f "$T/log"
    timeout "$TO" "$WRITER" run "$2" "$T/log" 40 >"$T/lat" 2>"$T/err" &&
        check --strict "$2" "$T/log" "$2" ||
        bail "$1: 40 calls without a kill, all acknowledged and found"
    LAT=$(mean_latency "$T/lat")
    [ "$LAT" -gt 0 ] || LAT=1
    echo "$LAT" >>"$T/lat.$1"
}
# check ARGS...: crash_check with a time limit; output in $T/out.
check() {
    timeout "$TO" "$CHECK" "$@" >"$T/out" 2>"$T/err" </dev/null
}

# ---- embedded mode -----------------------------------------------------------

EMB=$T/emb
mkdir -p "$EMB"
printf 'store = %s/store\npin_kdf_iterations = 1000\n' "$EMB" >"$EMB/hsmsim.conf"
# The programs run from copies, so that a rebuild during the run does not
# pull them away.
mkdir -p "$T/bin"
cp "$HSMSIM_MODULE" "$T/bin/module.so" && cp "$HSMSIM_ADMIN" "$T/bin/admin" &&
    cp "$DAEMON" "$T/bin/hsmsimd" && cp "$WRITER" "$T/bin/crash_writer" &&
    cp "$CHECK" "$T/bin/crash_check" || bail_setup "cannot copy the programs"
HSMSIM_MODULE=$T/bin/module.so
HSMSIM_ADMIN=$T/bin/admin
DAEMON=$T/bin/hsmsimd
WRITER=$T/bin/crash_writer
CHECK=$T/bin/crash_check
export HSMSIM_MODULE

KILLS_EMB=$(((KILLS + 1) / 2))
KILLS_NET=$((KILLS - KILLS_EMB))
START=$(now_ms)

HSMSIM_CONF=$EMB/hsmsim.conf
export HSMSIM_CONF
timeout "$TO" "$WRITER" init "$EMB/state" >"$T/out" 2>"$T/err" ||
    bail "embedded: make the partition"
measure embedded "$EMB/state"
ok "embedded: 40 calls acknowledged and found; mean call $LAT us"

: >"$T/fig.emb"
k=0
t0=$(now_ms)
while [ "$k" -lt "$KILLS_EMB" ]; do
    k=$((k + 1))
    [ $((k % 50)) -eq 0 ] && measure embedded "$EMB/state"
    rand $((4 * LAT + 1))
    writer_run "$EMB/state" 0 "$R" && [ "$WSTATUS" -eq 137 ] ||
        bail "embedded kill $k: the writer ran until killed (${WSTATUS:-hung})"
    check --strict "$EMB/state" "$T/log" "$EMB/state.new" ||
        bail "embedded kill $k (after ${R} us): the check"
    mv "$EMB/state.new" "$EMB/state"
    cat "$T/out" >>"$T/fig.emb"
    if [ $((k % 50)) -eq 0 ] || [ "$k" -eq "$KILLS_EMB" ]; then
        ok "embedded: kill $k: store opens, acknowledged state intact"
    fi
done
TIME_EMB=$(($(now_ms) - t0))

# ---- daemon mode -------------------------------------------------------------

NET=$T/net
mkdir -p "$NET/store" "$NET/kit"
printf 'store = %s/store\n' "$NET" >"$NET/admin.conf"
HSMSIM_CONF=$NET/admin.conf
{ timeout "$TO" "$HSMSIM_ADMIN" appliance init --dir "$NET/store" &&
    timeout "$TO" "$HSMSIM_ADMIN" client cert create --cn crash \
        --out "$NET/kit" &&
    timeout "$TO" "$HSMSIM_ADMIN" client register crash \
        --cert "$NET/kit/crash.pem"; } \
    >"$T/out" 2>"$T/err" || bail "daemon: the appliance's identity and client"
printf 'listen = 127.0.0.1:0\ndir = %s/store\nfree_slot = yes\n%s\n' \
    "$NET" 'pin_kdf_iterations = 1000
log_level = warn' >"$NET/hsmsimd.conf"
# The direct check, embedded, on the daemon's store.
printf 'store = %s/store\npin_kdf_iterations = 1000\n' "$NET" \
    >"$NET/direct.conf"

# daemon_start: hsmsimd on the store (DPID), the module's conf at its port.
daemon_start() {
    rm -f "$NET/port"
    "$DAEMON" --conf "$NET/hsmsimd.conf" --port-file "$NET/port" \
        >/dev/null 2>>"$T/d.err" </dev/null &
    DPID=$!
    ds_i=0
    while [ ! -s "$NET/port" ]; do
        ds_i=$((ds_i + 1))
        [ "$ds_i" -le 2500 ] && kill -0 "$DPID" 2>/dev/null || return 1
        sleep 0.002
    done
    printf 'mode = network\nserver = 127.0.0.1:%s\nserver_cert = %s\n%s\n%s\n' \
        "$(cat "$NET/port")" "$NET/store/server.pem" \
        "client_cert = $NET/kit/crash.pem" \
        "client_key = $NET/kit/crash.key" >"$NET/hsmsim.conf"
}
daemon_kill() {
    kill -9 "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    DPID=
}

daemon_start || bail "daemon: hsmsimd starts"
HSMSIM_CONF=$NET/hsmsim.conf
timeout "$TO" "$WRITER" init "$NET/state" >"$T/out" 2>"$T/err" ||
    bail "daemon: make the partition through the link"
measure daemon "$NET/state"
ok "daemon: 40 calls acknowledged and found; mean call $LAT us"

: >"$T/fig.net"
k=0
t0=$(now_ms)
while [ "$k" -lt "$KILLS_NET" ]; do
    k=$((k + 1))
    HSMSIM_CONF=$NET/hsmsim.conf
    [ $((k % 50)) -eq 0 ] && measure daemon "$NET/state"
    rand $((4 * LAT + 1))
    # Its call fails once the daemon is gone (exit 3); bounded by
    # the module's timeout_ms and by writer_run.
    writer_run "$NET/state" "$DPID" "$R" && [ "$WSTATUS" -eq 3 ] ||
        bail "daemon kill $k: the writer failed a call once hsmsimd died (${WSTATUS:-hung})"
    wait "$DPID" 2>/dev/null
    DPID=
    daemon_start || bail "daemon kill $k: hsmsimd restarts on the store"
    check "$NET/state" "$T/log" "$NET/state.new" ||
        bail "daemon kill $k (after ${R} us): the check through the link"
    # The writer's call may fail only as a vanished daemon makes it fail.
    grep -q '^failed CKR_DEVICE_REMOVED$' "$T/out" ||
        bail "daemon kill $k: the writer's call failed otherwise"
    cat "$T/out" >>"$T/fig.net"
    HSMSIM_CONF=$NET/direct.conf
    : >"$T/empty"
    check --strict "$NET/state.new" "$T/empty" ||
        bail "daemon kill $k: the direct check of the store"
    mv "$NET/state.new" "$NET/state"
    if [ $((k % 50)) -eq 0 ] || [ "$k" -eq "$KILLS_NET" ]; then
        ok "daemon: kill $k: store opens, acknowledged state intact (link and direct)"
    fi
done
TIME_NET=$(($(now_ms) - t0))
daemon_kill

# ---- figures -------------------------------------------------------------------

# figures MODE FILE KILLS MS
figures() {
    awk -v mode="$1" -v kills="$3" -v ms="$4" '
        $1 == "acked" { acked += $2 }
        $1 == "inflight" && $2 == "none" { none++ }
        $1 == "inflight" && $2 != "none" { f[$2 " " $3]++; flying++ }
        $1 == "pin" { pin[$2]++ }
        $1 == "failed" { rv[$2]++ }
        END {
            printf "# %s: %d kills in %.1f s, %d calls acknowledged\n",
                mode, kills, ms / 1000, acked
            printf "# %s: %d kills with a call in flight, %d between calls\n",
                mode, flying, none
            split("create genkey destroy setattr setpin", ops, " ")
            for (i = 1; i <= 5; i++)
                printf "# %s:   %-8s in flight: %d applied, %d not\n", mode,
                    ops[i], f[ops[i] " applied"], f[ops[i] " not"]
            printf "# %s: setpin in flight resolved: %d old PIN, %d new PIN\n",
                mode, pin["old"], pin["new"]
            for (r in rv)
                printf "# %s: writer saw %s %d times\n", mode, r, rv[r]
        }' "$2"
}
# latencies MODE: the measured mean call latencies, least to most.
latencies() {
    sort -n "$T/lat.$1" | awk -v mode="$1" '
        { v[NR] = $1 }
        END { printf "# %s: mean call latency %d to %d us (%d measurements)\n",
                mode, v[1], v[NR], NR }'
}
figures embedded "$T/fig.emb" "$KILLS_EMB" "$TIME_EMB"
latencies embedded
figures daemon "$T/fig.net" "$KILLS_NET" "$TIME_NET"
latencies daemon
echo "# total: $KILLS kills in $((($(now_ms) - START) / 1000)) s"
echo "1..$n"
[ "$failed" -eq 0 ] || exit 1
exit 0
