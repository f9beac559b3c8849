# SPDX-License-Identifier: MIT
# driver_lib.sh - what the keyhier shell tests share: a scratch directory
# and key store, running keyhier and hsmsim-admin, an appliance (hsmsimd)
# started and stopped with bounded waits, numbered checks and the count.
#
# Source it with NAME set, after `set -eu`.  It needs KEYHIER,
# HSMSIM_MODULE, HSMSIM_ADMIN and HSMSIM_TEST_TMP (as `make check` sets
# them; . /tmp/env.sh by hand); hsmsimd is found beside hsmsim-admin
# unless HSMSIMD names it.  It sets T (removed at exit unless KEEP_TMP is
# set), KS (the key store, also $KEYHIER_KEYSTORE) and PW (a password
# file holding $PIN).  End with dl_finish.  A setup error exits 99, which
# automake reports as ERROR.
#
# tests/interop/lib.sh is not sourced: its checks are unnumbered and its
# appliance comes with its own registered client and free_slot = yes,
# where these tests register each cluster's own certificate, make
# partitions in cloning domains and restart hsmsimd on the same port.

bail_out() {
    echo "Bail out! $NAME: $*"
    exit 99
}

[ -n "${KEYHIER:-}" ] || bail_out "KEYHIER is not set (the keyhier command)"
[ -x "$KEYHIER" ] || bail_out "$KEYHIER is not an executable"
[ -n "${HSMSIM_MODULE:-}" ] || bail_out "HSMSIM_MODULE is not set"
[ -f "$HSMSIM_MODULE" ] || bail_out "$HSMSIM_MODULE does not exist"
[ -n "${HSMSIM_ADMIN:-}" ] || bail_out "HSMSIM_ADMIN is not set"
[ -x "$HSMSIM_ADMIN" ] || bail_out "$HSMSIM_ADMIN is not an executable"
[ -n "${HSMSIM_TEST_TMP:-}" ] || bail_out "HSMSIM_TEST_TMP is not set"
command -v python3 >/dev/null 2>&1 || bail_out "python3 is not installed"
HSMSIMD=${HSMSIMD:-$(dirname "$HSMSIM_ADMIN")/hsmsimd}
case $KEYHIER in /*) ;; *) KEYHIER=$(pwd)/$KEYHIER ;; esac
case $HSMSIM_MODULE in /*) ;; *) HSMSIM_MODULE=$(pwd)/$HSMSIM_MODULE ;; esac
case $HSMSIM_ADMIN in /*) ;; *) HSMSIM_ADMIN=$(pwd)/$HSMSIM_ADMIN ;; esac

# Seconds any one command may take.
: "${DL_TIMEOUT:=20}"

dl_pids=
dl_finished=no
dl_exit_trap() {
    dl_rc=$?
    trap '' PIPE
    for p in $dl_pids; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ -z "${KEEP_TMP:-}" ] && [ -n "${T:-}" ] && [ -d "$T" ]; then
        rm -rf "$T" || true
    fi
    if [ "$dl_finished" != yes ] && [ "$dl_rc" -eq 0 ]; then
        echo "Bail out! $NAME: the script ended without dl_finish"
        dl_rc=99
    fi
    exit "$dl_rc"
}
mkdir -p "$HSMSIM_TEST_TMP" || bail_out "cannot make $HSMSIM_TEST_TMP"
T=$(mktemp -d "$HSMSIM_TEST_TMP/$NAME.XXXXXX") ||
    bail_out "cannot make a directory in $HSMSIM_TEST_TMP"
trap dl_exit_trap EXIT
trap 'exit 99' HUP INT PIPE TERM

# Nothing here may touch the caller's key store or configuration.
KS=$T/keystore
KEYHIER_KEYSTORE=$KS
HOME=$T/home
export KEYHIER_KEYSTORE HOME
unset HSMSIM_CONF SOFTHSM2_CONF 2>/dev/null || true
mkdir -p "$HOME"

PIN=user-pin-1234
SO_PIN=so-pin-1234
PW=$T/password
printf '%s\n' "$PIN" >"$PW"

# ---- checks -------------------------------------------------------------

dl_n=0
dl_fail=0
ok() {
    dl_n=$((dl_n + 1))
    echo "ok $dl_n - $1"
}
# not_ok DESC: also shows the last command's output.
not_ok() {
    dl_n=$((dl_n + 1))
    dl_fail=$((dl_fail + 1))
    echo "not ok $dl_n - $1"
    echo "#   last command: ${dl_cmd:-} (exit ${rc:-?})"
    if [ -s "$T/err" ]; then sed 's/^/#   stderr: /' "$T/err" | head -20; fi
    if [ -s "$T/out" ]; then sed 's/^/#   stdout: /' "$T/out" | head -20; fi
}
# check DESC CMD...: passes when CMD succeeds.
check() {
    dl_desc=$1
    shift
    if "$@"; then ok "$dl_desc"; else not_ok "$dl_desc"; fi
}

# kh ARGS...: keyhier on the test's key store, empty stdin, bounded; sets
# rc, output in $T/out and $T/err.
kh() {
    dl_cmd="keyhier $*"
    set +e
    timeout "$DL_TIMEOUT" "$KEYHIER" --keystore "$KS" "$@" \
        >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    set -e
}
# admin ARGS...: hsmsim-admin on $T/admin.conf (the appliance's store).
admin() {
    dl_cmd="hsmsim-admin $*"
    set +e
    HSMSIM_CONF=$T/admin.conf timeout "$DL_TIMEOUT" "$HSMSIM_ADMIN" "$@" \
        >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    set -e
}
# must ARGS...: admin, stopping the test when it fails (set-up only).
must() {
    admin "$@"
    [ "$rc" -eq 0 ] || bail_out "hsmsim-admin $* failed: $(cat "$T/err")"
}

rc_is() { [ "$rc" -eq "$1" ]; }
err_has() { grep -q -e "$1" "$T/err"; }
out_has() { grep -q -e "$1" "$T/out"; }
err_lacks() { ! grep -q -e "$1" "$T/err"; }
one_err_line() {
    [ "$(wc -l <"$T/err" | tr -d ' ')" = 1 ] && grep -q '^keyhier: ' "$T/err"
}

# json_get KEY: the value of KEY in the JSON object in $T/out, as Python
# prints it (None for null).
json_get() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$T/out" "$1" 2>/dev/null
}
# status_load CLUSTER: `status --json` into S_KEY variables (None for
# null), with one python run.
status_load() {
    S_cluster= S_id= S_state= S_partition= S_hsm= S_module= S_cek_label=
    S_cek_version= S_dek_version= S_objects= S_blocks= S_snapshots=
    S_data_dir= S_rotation_phase=
    kh --json status "$1"
    [ "$rc" -eq 0 ] || return 1
    dl_vars=$(python3 -c '
import json, shlex, sys
for k, v in json.load(open(sys.argv[1])).items():
    print("S_%s=%s" % (k, shlex.quote(str(v))))' "$T/out" 2>/dev/null) ||
        return 1
    eval "$dl_vars"
}
# status_is CLUSTER KEY VALUE: `status --json` says KEY is VALUE.
status_is() {
    kh --json status "$1"
    [ "$rc" -eq 0 ] && [ "$(json_get "$2")" = "$3" ]
}
# event_kinds CLUSTER [ARGS...]: the kinds of `events --json`, one a line.
event_kinds() {
    dl_c=$1
    shift
    kh --json events "$dl_c" "$@"
    [ "$rc" -eq 0 ] || return 1
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.loads(line)["kind"])' "$T/out"
}
# has_events CLUSTER KIND...: the cluster's events include each KIND.
has_events() {
    dl_c=$1
    shift
    dl_kinds=$(event_kinds "$dl_c") || return 1
    for k in "$@"; do
        printf '%s\n' "$dl_kinds" | grep -qx -e "$k" || return 1
    done
}

# ---- the appliance ------------------------------------------------------

# appl_init DIR: the appliance's identity in DIR, and $T/admin.conf on it.
appl_init() {
    printf 'store = %s\npin_kdf_iterations = 1000\n' "$1" >"$T/admin.conf"
    must appliance init --dir "$1"
    APPL_DIR=$1
    APPL_CERT=$1/server.pem
}
# partition NAME [ARGS...]: a partition on the appliance, PINs $SO_PIN and
# $PIN.
partition() {
    dl_p=$1
    shift
    must partition create "$dl_p" --so-pin "$SO_PIN" --pin "$PIN" "$@"
}
# register CLUSTER [PARTITION...]: the cluster's client certificate made
# with keyhier, registered on the appliance and assigned the partitions.
register() {
    dl_c=$1
    shift
    kh client-cert create "$dl_c"
    [ "$rc" -eq 0 ] || bail_out "keyhier client-cert create $dl_c: $(cat "$T/err")"
    cp "$T/out" "$T/$dl_c.pem"
    must client register "$dl_c" --cert "$T/$dl_c.pem"
    for p in "$@"; do
        must client assign "$dl_c" "$p"
    done
}
# appl_start [PORT]: hsmsimd on APPL_DIR at 127.0.0.1:PORT (0: a port it
# picks); sets APPL_PID and APPL_PORT.
appl_start() {
    printf 'listen = 127.0.0.1:%s\ndir = %s\npin_kdf_iterations = 1000\nlog_level = warn\n' \
        "${1:-0}" "$APPL_DIR" >"$T/hsmsimd.conf"
    rm -f "$T/port"
    "$HSMSIMD" --conf "$T/hsmsimd.conf" --port-file "$T/port" \
        </dev/null >>"$T/hsmsimd.log" 2>&1 &
    APPL_PID=$!
    dl_pids="$dl_pids $APPL_PID"
    dl_tries=0
    while [ ! -s "$T/port" ]; do
        dl_tries=$((dl_tries + 1))
        if [ "$dl_tries" -gt 200 ] || ! kill -0 "$APPL_PID" 2>/dev/null; then
            bail_out "hsmsimd did not start: $(cat "$T/hsmsimd.log")"
        fi
        sleep 0.05
    done
    APPL_PORT=$(cat "$T/port")
    HSM=127.0.0.1:$APPL_PORT
}
# appl_stop: SIGTERM, then SIGKILL after 5 s.
appl_stop() {
    kill "$APPL_PID" 2>/dev/null || true
    dl_tries=0
    while kill -0 "$APPL_PID" 2>/dev/null && [ "$dl_tries" -lt 100 ]; do
        dl_tries=$((dl_tries + 1))
        sleep 0.05
    done
    kill -9 "$APPL_PID" 2>/dev/null || true
    wait "$APPL_PID" 2>/dev/null || true
}
# p11_labels PARTITION [MODULE]: the labels of the partition's objects,
# by pkcs11-tool (MODULE default hsmsim, embedded on $T/admin.conf's
# store: the appliance's, as its administrator would look).
p11_labels() {
    HSMSIM_CONF=$T/admin.conf timeout "$DL_TIMEOUT" pkcs11-tool \
        --module "${2:-$HSMSIM_MODULE}" --token-label "$1" --login \
        --pin "$PIN" -O 2>/dev/null | sed -n 's/^ *label: *//p'
}
# closed_port: a loopback port nothing listens on (bound, then closed).
closed_port() {
    python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

dl_finish() {
    dl_finished=yes
    echo "1..$dl_n"
    echo "$((dl_n - dl_fail)) passed, $dl_fail failed"
    if [ "$dl_fail" -ne 0 ] || [ "$dl_n" -eq 0 ]; then
        exit 1
    fi
    exit 0
}
