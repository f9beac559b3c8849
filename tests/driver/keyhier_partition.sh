#!/bin/sh
# SPDX-License-Identifier: MIT
# keyhier_partition.sh - moving a cluster to another partition without
# replicating its key: `keyhier modify` verifies the link and succeeds,
# the next boot fails with exit 5 naming the partition and the missing
# CEK (a boot-failed event), and after `hsmsim-admin partition replicate`
# the cluster boots and its data reads back.  A partition the cluster's
# client is not assigned is refused, and the cluster stays where it was.
set -eu
NAME=keyhier_partition
. "$(dirname "$0")/driver_lib.sh"
[ -x "$HSMSIMD" ] || bail_out "$HSMSIMD is not built"

appl_init "$T/appliance"
# pa and pb in one cloning domain; pc in it too, but not assigned.
partition pa --domain kh-dom
partition pb --domain kh-dom
partition pc --domain kh-dom
register c pa pb
appl_start
BIG=$T/big
head -c 20000 /dev/urandom >"$BIG"

kh create c --module "$HSMSIM_MODULE" --partition pa --password-file "$PW" \
    --data "$T/data-c" --hsm "$HSM" --server-cert "$APPL_CERT" \
    --block-size 4096
check "create on partition pa" rc_is 0
kh put c big "$BIG"
check "put on pa" rc_is 0
kh --json status c
CEK=$(json_get cek_label)

# ---- a partition the client may not reach ---------------------------------
kh modify c --partition pc --password-file "$PW"
check "modify to unassigned pc fails" sh -c '[ "$0" -ne 0 ]' "$rc"
check "modify to pc: exit 4 (the HSM refused us)" rc_is 4
check "modify to pc: says the cluster stays on pa and pc is not assigned" \
    err_has "^keyhier: cluster c stays on partition pa: partition pc is not assigned to this client"
check "modify to pc: one line on stderr" one_err_line
check "after the refused modify the cluster is still on pa" \
    status_is c partition pa
kh get c big
check "and boots and reads from pa" sh -c \
    '[ "$0" -eq 0 ] && cmp -s "$1" "$2"' "$rc" "$T/out" "$BIG"

# ---- modify to pb, the key not replicated --------------------------------
kh modify c --partition pb --password-file "$PW"
check "modify to pb (assigned, key not there) exits 0" rc_is 0
check "modify says the link was verified, not the key" \
    grep -qx 'cluster c: partition pb (link verified; the key is not)' "$T/out"
check "status: partition pb, same appliance" sh -c \
    '[ "$0" = pb ] && [ "$1" = "$2" ]' \
    "$(kh --json status c && json_get partition)" "$(json_get hsm)" "$HSM"
check "a partition-changed event" has_events c partition-changed
kh get c big
check "the next boot (get) exits 5" rc_is 5
check "it names partition pb and the missing CEK" \
    err_has "^keyhier: boot failed: partition pb has no valid key for cluster c: CEK '$CEK' is not there"
check "it points at hsmsim-admin partition replicate" \
    err_has 'hsmsim-admin partition replicate'
check "one line on stderr, nothing on stdout" sh -c \
    '[ "$(wc -l <"$0")" -eq 1 ] && [ ! -s "$1" ]' "$T/err" "$T/out"
kh put c other "$BIG"
check "a put (also a boot) exits 5 too" rc_is 5
check "boot-failed is listed" has_events c boot-failed
kh --json events c
check "the boot-failed event names pb and the CEK" python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bf = [e for e in ev if e["kind"] == "boot-failed"]
assert bf and all("partition pb" in e["message"] and sys.argv[2] in e["message"]
                  and e["cluster"] == "c" for e in bf), bf' "$T/out" "$CEK"

# ---- replicate, then it boots ----------------------------------------------
admin partition replicate pa pb --pin "$PIN" --dst-pin "$PIN"
check "hsmsim-admin partition replicate pa pb" rc_is 0
check "it copied the CEK" grep -q "copied secret key \"$CEK\"" "$T/out"
kh get c big
check "after replication the boot works and big reads back" sh -c \
    '[ "$0" -eq 0 ] && cmp -s "$1" "$2"' "$rc" "$T/out" "$BIG"
kh put c other "$BIG"
check "and a put works" rc_is 0
kh rotate c
check "a rotation on pb works" rc_is 0
check "CEK v2 now" status_is c cek_version 2
check "still on pb" status_is c partition pb
kh get c other
check "and the data reads back after it" sh -c \
    '[ "$0" -eq 0 ] && cmp -s "$1" "$2"' "$rc" "$T/out" "$BIG"

dl_finish
