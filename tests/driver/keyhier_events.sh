#!/bin/sh
# SPDX-License-Identifier: MIT
# keyhier_events.sh - the HSM unreachable after set-up: with the appliance
# stopped, a boot (get) and a put fail within a bound with exit 4, each
# leaving an hsm-unreachable event (time, cluster, message, ckr) that
# `keyhier events` lists, in JSON and text, and --since filters; once the
# appliance is back on its address the cluster works again.
set -eu
NAME=keyhier_events
. "$(dirname "$0")/driver_lib.sh"
[ -x "$HSMSIMD" ] || bail_out "$HSMSIMD is not built"

appl_init "$T/appliance"
partition pa
register c pa
appl_start
BIG=$T/big
head -c 30000 /dev/urandom >"$BIG"

kh create c --module "$HSMSIM_MODULE" --partition pa --password-file "$PW" \
    --data "$T/data-c" --hsm "$HSM" --server-cert "$APPL_CERT" \
    --block-size 4096
check "create" rc_is 0
kh put c big "$BIG"
check "put while the appliance runs" rc_is 0
kh --json events c
check "no hsm-unreachable event yet" sh -c '! grep -q hsm-unreachable "$0"' \
    "$T/out"

# ---- the appliance stopped ------------------------------------------------
appl_stop
t0=$(date +%s)
kh get c big
t1=$(date +%s)
check "boot (get) with the appliance down exits 4" rc_is 4
check "it says it cannot reach the HSM at $HSM" \
    err_has "^keyhier: .*cannot reach the HSM at $HSM"
check "it writes nothing on stdout" test ! -s "$T/out"
check "it returns within 10 s" test $((t1 - t0)) -lt 10
kh put c more "$BIG"
check "put with the appliance down exits 4" rc_is 4
check "put says it cannot reach the HSM" err_has "cannot reach the HSM at $HSM"
kh --json status c
check "status needs no HSM and still says AVAILABLE" sh -c \
    '[ "$0" -eq 0 ] && [ "$1" = AVAILABLE ]' "$rc" "$(json_get state)"

kh --json events c
check "events --json exits 0" rc_is 0
check "two hsm-unreachable events with a time, the cluster, a message, a ckr" \
    python3 -c '
import json, sys, time, calendar
t0 = int(sys.argv[2])
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hu = [e for e in ev if e["kind"] == "hsm-unreachable"]
assert len(hu) == 2, hu
for e in hu:
    assert e["cluster"] == "c", e
    assert isinstance(e["ckr"], int) and e["ckr"] >= 0, e
    assert sys.argv[3] in e["message"], e
    assert e["unix"] >= t0 and e["unix"] <= time.time() + 1, e
    t = calendar.timegm(time.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ"))
    assert t == e["unix"], e
seqs = [e["seq"] for e in ev]
assert seqs == sorted(seqs), seqs' "$T/out" "$t0" "$HSM"
kh events c
check "events text: TIME hsm-unreachable MESSAGE" \
    grep -q "^ *[0-9-]*T[0-9:]*Z hsm-unreachable .*cannot reach the HSM at $HSM" \
    "$T/out"

future=$(($(date +%s) + 3600))
kh --json events c --since "$future"
check "--since an hour ahead (Unix seconds) lists none" sh -c \
    '[ "$0" -eq 0 ] && [ ! -s "$1" ]' "$rc" "$T/out"
kh --json events c --since 2099-01-01T00:00:00Z
check "--since a future UTC time lists none" sh -c \
    '[ "$0" -eq 0 ] && [ ! -s "$1" ]' "$rc" "$T/out"
kh events c --since "$future"
check "--since in the future, text: none either" sh -c \
    '[ "$0" -eq 0 ] && [ ! -s "$1" ]' "$rc" "$T/out"
n=$(event_kinds c --since "$t0" | grep -c hsm-unreachable || true)
check "--since when the appliance stopped lists the two" test "$n" = 2
kh events c --since yesterday
check "--since that is not a time: exit 2" rc_is 2

# ---- the appliance back on its address ------------------------------------
appl_start "$APPL_PORT"
check "the appliance is back on port $APPL_PORT" \
    test "$HSM" = "127.0.0.1:$APPL_PORT"
kh get c big
check "the cluster boots again and big reads back" sh -c \
    '[ "$0" -eq 0 ] && cmp -s "$1" "$2"' "$rc" "$T/out" "$BIG"
kh put c more "$BIG"
check "and a put works" rc_is 0
kh --json events c
check "no new hsm-unreachable event" sh -c \
    '[ "$(grep -c hsm-unreachable "$0")" = 2 ]' "$T/out"

# ---- refused after set-up: also hsm-unreachable, exit 4 -----------------
# get_until WANT: get big until it exits WANT (the appliance picks up
# client changes within a quarter second); at most 5 s.
get_until() {
    tries=0
    while :; do
        kh get c big
        [ "$rc" -ne "$1" ] && [ "$tries" -lt 50 ] || break
        tries=$((tries + 1))
        sleep 0.1
    done
}
must client unassign c pa
get_until 4
check "partition unassigned after set-up: boot exits 4" rc_is 4
check "it says pa is not assigned to this client" \
    err_has "^keyhier: boot failed: partition pa is not assigned to this client"
must client assign c pa
get_until 0
check "assigned again: the boot works" rc_is 0
must client delete c
get_until 4
check "client deleted on the appliance: boot exits 4" rc_is 4
check "it says the HSM refused the cluster's client certificate" \
    err_has "refused this cluster's client certificate"
kh --json events c
check "both refusals are hsm-unreachable events; the last has ckr 48 (CKR_DEVICE_ERROR)" \
    python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hu = [e for e in ev if e["kind"] == "hsm-unreachable"]
assert len(hu) == 4, hu
assert "not assigned" in hu[2]["message"], hu[2]
assert "refused" in hu[3]["message"] and hu[3]["ckr"] == 0x30, hu[3]' "$T/out"
kh events c
check "events text ends the refusal with its CKR name" sh -c \
    'tail -n 1 "$0" | grep -q "hsm-unreachable .* \\[CKR_DEVICE_ERROR\\]$"' "$T/out"
must client register c --cert "$T/c.pem"
must client assign c pa
get_until 0
check "registered again: the cluster works" sh -c \
    '[ "$0" -eq 0 ] && cmp -s "$1" "$2"' "$rc" "$T/out" "$BIG"

dl_finish
