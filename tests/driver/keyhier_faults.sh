#!/bin/sh
# SPDX-License-Identifier: MIT
# keyhier_faults.sh - the seeds' failure modes, made on demand on the
# appliance (hsmsim-admin fault, module/common/faults.h) and met through
# the driver, one proof each:
#   1. the appliance down at create: INCOMPATIBLE_HSM (exit 3);
#   2. the appliance down after set-up: a running handle (keyhier_serve)
#      sees it in keyhier_hsm_check, an hsm-unreachable event is listed,
#      put and get go on from the DEK in memory; a new boot exits 4;
#   3. a client refused, a partition unavailable, a client deleted at
#      boot: exit 4 and a sentence that says which;
#   4. the CEK deleted on the appliance: the boot exits 5 naming the
#      partition and the CEK's label;
#   5. latency and throttling: boot and rotate at 20 ms a call, a bounded
#      error beyond the link's timeout, the driver's retries of busy
#      answers under throttle 3/s and 10/s, and its bounded error when an
#      HSM stays busy (figures printed);
#   6. the link cut mid-rotation: exit 4, ROTATING_KEYS, and the next boot
#      completes the rotation with the data byte-exact.
# keyhier_serve is $KEYHIER_SERVE, by default beside the built tests.
set -eu
NAME=keyhier_faults
. "$(dirname "$0")/driver_lib.sh"
[ -x "$HSMSIMD" ] || bail_out "$HSMSIMD is not built"
command -v pkcs11-tool >/dev/null 2>&1 || bail_out "pkcs11-tool is not installed"
KEYHIER_SERVE=${KEYHIER_SERVE:-${HSMSIM_BUILD_DIR:-.}/tests/driver/keyhier_serve}
[ -x "$KEYHIER_SERVE" ] || bail_out "$KEYHIER_SERVE is not built"
# A program built by hand against the build tree finds libkeyhier there.
SERVE_LIBS=
if [ -n "${HSMSIM_BUILD_DIR:-}" ] && [ -d "$HSMSIM_BUILD_DIR/.libs" ]; then
    SERVE_LIBS=$HSMSIM_BUILD_DIR/.libs
fi

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# timed ARGS...: kh ARGS, with MS its wall time in milliseconds.
timed() {
    t0=$(now_ms)
    kh "$@"
    MS=$(($(now_ms) - t0))
}
# fault ARGS...: hsmsim-admin fault ARGS, then the daemon's 250 ms to see
# the change (and a margin).
fault() {
    must fault "$@"
    sleep 0.4
}
same_as() { [ "$rc" -eq 0 ] && cmp -s "$T/out" "$1"; }

# ---- keyhier_serve: a long-lived handle driven through a FIFO ------------
serve_pid=
serve_n=0
# serve_start CLUSTER: open CLUSTER in keyhier_serve; SL gets its first
# answer ("open CODE ...").
serve_start() {
    rm -f "$T/sin" "$T/sout"
    mkfifo "$T/sin"
    : >"$T/sout"
    LD_LIBRARY_PATH=$SERVE_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        timeout 60 "$KEYHIER_SERVE" "$KS" "$1" <"$T/sin" >"$T/sout" \
        2>"$T/serr" &
    serve_pid=$!
    dl_pids="$dl_pids $serve_pid"
    exec 3>"$T/sin"
    serve_n=0
    serve_wait
}
# serve_wait: the next answer in SL (empty after 15 s or if it died).
serve_wait() {
    serve_n=$((serve_n + 1))
    dl_tries=0
    while [ "$(wc -l <"$T/sout")" -lt "$serve_n" ] && [ "$dl_tries" -lt 300 ]; do
        kill -0 "$serve_pid" 2>/dev/null || break
        dl_tries=$((dl_tries + 1))
        sleep 0.05
    done
    SL=$(sed -n "${serve_n}p" "$T/sout")
    dl_cmd="keyhier_serve: $SL"
}
# serve CMD...: one command, its answer in SL.
serve() {
    echo "$*" >&3
    serve_wait
}
serve_stop() {
    echo quit >&3 || true
    exec 3>&-
    dl_tries=0
    while kill -0 "$serve_pid" 2>/dev/null && [ "$dl_tries" -lt 100 ]; do
        dl_tries=$((dl_tries + 1))
        sleep 0.05
    done
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
}
sl_is() { case $SL in "$1 $2 "*) return 0 ;; esac; return 1; }
# sl_fig KEY: KEY's figure in SL (ms, calls, retries).
sl_fig() { printf '%s\n' "$SL" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }

# create_on CLUSTER: a cluster on pa of the appliance at $HSM.
create_on() {
    kh create "$1" --module "$HSMSIM_MODULE" --partition pa \
        --password-file "$PW" --data "$T/data-$1" --hsm "$HSM" \
        --server-cert "$APPL_CERT" --block-size 4096
}

appl_init "$T/appliance"
partition pa
register c pa
register c0 pa
register ck pa
register ct pa
appl_start
BIG=$T/big
head -c 30000 /dev/urandom >"$BIG"
SMALL=$T/small
head -c 5000 /dev/urandom >"$SMALL"

# ---- 1. the appliance down at create ----------------------------------------
appl_stop
t0=$(now_ms)
create_on c0
MS=$(($(now_ms) - t0))
check "1 down at create: exit 3 (INCOMPATIBLE_HSM) in ${MS} ms" rc_is 3
check "1 down at create: the sentence says INCOMPATIBLE_HSM, cannot reach $HSM" \
    err_has "^keyhier: cluster c0 is INCOMPATIBLE_HSM: .*cannot reach the HSM at $HSM"
check "1 down at create: status INCOMPATIBLE_HSM" status_is c0 state INCOMPATIBLE_HSM
appl_start "$APPL_PORT"

for cl in c ck ct; do
    create_on "$cl"
    [ "$rc" -eq 0 ] || bail_out "create $cl: $(cat "$T/err")"
    kh put "$cl" big "$BIG"
    [ "$rc" -eq 0 ] || bail_out "put $cl: $(cat "$T/err")"
done
kh snapshot create c --name c-s1
[ "$rc" -eq 0 ] || bail_out "snapshot c-s1: $(cat "$T/err")"
kh put c small "$SMALL"
kh snapshot create c --name c-s2
[ "$rc" -eq 0 ] || bail_out "snapshot c-s2: $(cat "$T/err")"

# ---- 2. the appliance down after set-up ---------------------------------------
serve_start c
check "2 down after set-up: keyhier_serve opened c ($SL)" sl_is open OK
serve check
check "2 keyhier_hsm_check with the appliance up: OK" sl_is check OK
kill -9 "$APPL_PID" 2>/dev/null || true
wait "$APPL_PID" 2>/dev/null || true
serve check
check "2 appliance killed: keyhier_hsm_check says HSM_UNREACHABLE ($(sl_fig ms) ms)" \
    sl_is check HSM_UNREACHABLE
check "2 an hsm-unreachable event is listed by keyhier events" \
    has_events c hsm-unreachable
serve put fresh "$SMALL"
check "2 put in the running handle still works (DEK in memory)" sl_is put OK
serve get fresh "$T/got-fresh"
check "2 and get reads it back byte-exact" sh -c \
    'case $0 in "get OK "*) cmp -s "$1" "$2" ;; *) exit 1 ;; esac' \
    "$SL" "$T/got-fresh" "$SMALL"
serve get big "$T/got-big"
check "2 an older object reads back too" sh -c \
    'case $0 in "get OK "*) cmp -s "$1" "$2" ;; *) exit 1 ;; esac' \
    "$SL" "$T/got-big" "$BIG"
timed get c big
check "2 a new boot (keyhier get) exits 4 in ${MS} ms" rc_is 4
check "2 it says it cannot reach the HSM" err_has "cannot reach the HSM at $HSM"
serve_stop
appl_start "$APPL_PORT"

# ---- 3. refused or unavailable at boot --------------------------------------
fault set refuse-client c
timed get c big
check "3 refuse-client c: boot exits 4 (${MS} ms)" rc_is 4
check "3 refuse-client c: the HSM refused the cluster's client certificate" \
    err_has "^keyhier: boot failed: .*refused this cluster's client certificate"
check "3 refuse-client c: one line on stderr" one_err_line
fault clear --all
fault set partition-unavailable pa
timed get c big
check "3 partition-unavailable pa: boot exits 4 (${MS} ms)" rc_is 4
check "3 partition-unavailable pa: a boot failure on CKR_TOKEN_NOT_PRESENT" \
    err_has "^keyhier: boot failed: .*CKR_TOKEN_NOT_PRESENT"
check "3 partition-unavailable pa: the sentence names partition pa" \
    err_has "partition pa"
fault clear --all
must client delete c
sleep 0.4
timed get c big
check "3 client deleted: boot exits 4 (${MS} ms)" rc_is 4
check "3 client deleted: the HSM refused the cluster's client certificate" \
    err_has "^keyhier: boot failed: .*refused this cluster's client certificate"
must client register c --cert "$T/c.pem"
must client assign c pa
sleep 0.4
kh get c big
check "3 registered again: c boots and big reads back" same_as "$BIG"

# ---- 4. the CEK deleted on the appliance ------------------------------------
kh --json status ck
CK_CEK=$(json_get cek_label)
appl_stop
HSMSIM_CONF=$T/admin.conf timeout "$DL_TIMEOUT" pkcs11-tool \
    --module "$HSMSIM_MODULE" --token-label pa --login --pin "$PIN" \
    --delete-object --type secrkey --label "$CK_CEK" >"$T/out" 2>"$T/err" ||
    bail_out "cannot delete $CK_CEK on pa: $(cat "$T/err")"
p11_labels pa >"$T/labels"
check "4 the CEK $CK_CEK is gone from pa (the others' CEKs listed)" sh -c \
    '! grep -qx "$0" "$1" && grep -q -e "-cek-v" "$1"' "$CK_CEK" "$T/labels"
appl_start "$APPL_PORT"
timed get ck big
check "4 CEK deleted: boot exits 5 (${MS} ms)" rc_is 5
check "4 it names partition pa and the CEK '$CK_CEK'" \
    err_has "^keyhier: boot failed: partition pa has no valid key for cluster ck: CEK '$CK_CEK'"
check "4 a boot-failed event" has_events ck boot-failed

# ---- 5. latency and throttling ----------------------------------------------
fault set latency 20ms
timed get c big
check "5 latency 20ms: boot (get) works, ${MS} ms" same_as "$BIG"
timed rotate c
check "5 latency 20ms: rotate works, ${MS} ms" rc_is 0
fault clear --all
# The link's timeout is 5 s (kh_link.c); one call 6 s late must fail
# within it and a bound (2 s of slack; a timeout is not retried).
fault set latency 6s
timed get c big
check "5 latency 6s (beyond the 5 s link timeout): exit 4" rc_is 4
check "5 latency 6s: the error came in ${MS} ms, within 5000 + 2000" \
    test "$MS" -le 7000
check "5 latency 6s: the sentence says the HSM did not answer in time" \
    sh -c 'grep -q -i -e "in time" -e "reach" "$0"' \
    "$T/err"
fault clear --all

fault set throttle 3/s
timed get ct big
echo "# throttle 3/s: keyhier get (boot) exit $rc in ${MS} ms: $(cat "$T/err")"
check "5 throttle 3/s: a boot (keyhier get) succeeds thanks to retries, ${MS} ms" \
    same_as "$BIG"
fault clear --all
serve_start ct
serve check
sleep 0.5
must fault set throttle 3/s
sleep 0.4
serve rotate
echo "# throttle 3/s: rotate in a running handle: $SL"
check "5 throttle 3/s: a rotate succeeds thanks to retries" sl_is rotate OK
R3=$(sl_fig retries)
check "5 throttle 3/s: the driver retried (retries=${R3:-?})" \
    test "${R3:-0}" -gt 0
serve_stop
must fault clear --all
sleep 0.4
# What the retries can carry: the window already started (a check half a
# second before), so the busy answers last past its end.
serve_start ct
serve check
sleep 0.5
must fault set throttle 10/s
sleep 0.4
serve rotate
echo "# throttle 10/s: rotate in a running handle: $SL"
check "5 throttle 10/s: rotate succeeds after $(sl_fig retries) retries, $(sl_fig ms) ms" \
    sh -c 'case $0 in "rotate OK "*) [ "$1" -gt 0 ] ;; *) exit 1 ;; esac' \
    "$SL" "$(sl_fig retries)"
serve_stop
must fault clear --all
sleep 0.4
# An HSM that stays busy for good: every C_GenerateKey answers
# CKR_FUNCTION_FAILED, so the rotation's new CEK exhausts the retries.
serve_start ct
must fault set error C_GenerateKey CKR_FUNCTION_FAILED
sleep 0.4
serve rotate
echo "# always busy: rotate in a running handle: $SL"
R1=$(sl_fig retries)
M1=$(sl_fig ms)
check "5 always busy: rotate fails (HSM_ERROR) after 8 retries, in ${M1:-?} ms" \
    sh -c 'case $0 in "rotate HSM_ERROR "*) [ "$1" -eq 8 ] ;; *) exit 1 ;; esac' \
    "$SL" "${R1:-0}"
check "5 always busy: bounded: 2550 ms of waits plus at most 1 s" \
    sh -c '[ "$0" -ge 2550 ] && [ "$0" -le 3550 ]' "${M1:-99999}"
check "5 always busy: the sentence says the HSM stayed busy through 8 retries" \
    sh -c 'case $0 in *"stayed busy through 8 retries"*) ;; *) exit 1 ;; esac' \
    "$SL"
check "5 always busy: ... answered CKR_FUNCTION_FAILED" \
    sh -c 'case $0 in *CKR_FUNCTION_FAILED*) ;; *) exit 1 ;; esac' "$SL"
serve_stop
must fault clear --all
sleep 0.4
kh get ct big
check "5 throttling over: ct boots (resuming any rotation) and reads back" \
    same_as "$BIG"
check "5 ct is AVAILABLE again" status_is ct state AVAILABLE

# ---- 6. the link cut mid-rotation -------------------------------------------
status_load c
V0=$S_cek_version D0=$S_dek_version
check "6 before: c is AVAILABLE with two snapshots, CEK v$V0" sh -c \
    '[ "$0" = AVAILABLE ] && [ "$1" = 2 ]' "$S_state" "$S_snapshots"
fault set drop-after 20
timed rotate c
check "6 drop-after 20: rotate exits 4 (${MS} ms)" rc_is 4
check "6 it says the rotation stopped and the next boot resumes it" \
    err_has "rotation of cluster c stopped in phase .*the next boot resumes it"
status_load c
check "6 status: ROTATING_KEYS, phase '$S_rotation_phase'" \
    test "$S_state" = ROTATING_KEYS
fault clear --all
timed get c big
check "6 fault cleared: the next boot completes it (${MS} ms), big byte-exact" \
    same_as "$BIG"
kh get c small
check "6 small byte-exact too" same_as "$SMALL"
status_load c
check "6 AVAILABLE, CEK v$V0 -> v$S_cek_version, DEK v$D0 -> v$S_dek_version" \
    sh -c '[ "$0" = AVAILABLE ] && [ "$1" -eq $(($2 + 1)) ] &&
           [ "$3" -eq $(($4 + 1)) ]' \
    "$S_state" "$S_cek_version" "$V0" "$S_dek_version" "$D0"
kh snapshot restore c-s1 c-r1 --data "$T/data-c-r1"
check "6 a snapshot taken before restores" rc_is 0
kh get c-r1 big
check "6 and its data reads back" same_as "$BIG"

dl_finish
