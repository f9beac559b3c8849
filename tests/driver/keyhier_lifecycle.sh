#!/bin/sh
# SPDX-License-Identifier: MIT
# keyhier_lifecycle.sh [network|embedded|softhsm]... - a cluster's whole
# life with the keyhier command, on each kind of HSM (all three when no
# argument is given): create, put (a multi-block object and an empty one),
# boot and get byte-exact, rotate, get, snapshot create, rotate, snapshot
# restore into a new cluster and get from it, status and events after each
# step, ls, rm, and get -o /dev/null.  Every keyhier run is a separate
# process, so each object command is a boot from the stored keys.
set -eu
NAME=keyhier_lifecycle
. "$(dirname "$0")/driver_lib.sh"

SOFTHSM=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ $# -gt 0 ] || set -- network embedded softhsm
for b in "$@"; do
    case $b in
    network) [ -x "$HSMSIMD" ] || bail_out "$HSMSIMD is not built" ;;
    embedded) ;;
    softhsm)
        [ -f "$SOFTHSM" ] || bail_out "$SOFTHSM is not installed"
        command -v softhsm2-util >/dev/null 2>&1 ||
            bail_out "softhsm2-util is not installed"
        ;;
    *) bail_out "unknown backend '$b' (network, embedded or softhsm)" ;;
    esac
done
command -v pkcs11-tool >/dev/null 2>&1 || bail_out "pkcs11-tool is not installed"

# The data: 12 full 4 KiB blocks and a partial one; and an empty object.
BIG=$T/big
head -c 51213 /dev/urandom >"$BIG"
EMPTY=$T/empty
: >"$EMPTY"

# ls_has NAME SIZE BLOCKS: `ls --json` (in $T/out) lists NAME so.
ls_has() {
    python3 -c '
import json, sys
objs = {o["name"]: o for o in json.load(open(sys.argv[1]))}
o = objs[sys.argv[2]]
assert o["size"] == int(sys.argv[3]) and o["blocks"] == int(sys.argv[4]), o
assert o["created_unix"] > 0 and o["created"].endswith("Z"), o' \
        "$T/out" "$@" 2>/dev/null
}
ls_lacks() {
    python3 -c '
import json, sys
assert sys.argv[2] not in [o["name"] for o in json.load(open(sys.argv[1]))]' \
        "$T/out" "$1" 2>/dev/null
}
# versions CLUSTER CEK DEK: status --json: AVAILABLE with those versions.
versions() {
    status_load "$1" && [ "$S_state" = AVAILABLE ] &&
        [ "$S_cek_version" = "$2" ] && [ "$S_dek_version" = "$3" ] &&
        [ "$S_rotation_phase" = None ]
}
count_kind() {
    event_kinds "$1" | grep -cx -e "$2" || true
}
# snap_versions SNAPSHOT CEK DEK: snapshot list --json says so.
snap_versions() {
    kh --json snapshot list
    python3 -c '
import json, sys
s = {x["name"]: x for x in json.load(open(sys.argv[1]))}[sys.argv[2]]
assert s["cek_version"] == int(sys.argv[3]), s
assert s["dek_version"] == int(sys.argv[4]), s
assert s["objects"] == 2 and s["cluster"] == "c", s' \
        "$T/out" "$@" 2>/dev/null
}

# get_cmp DESC CLUSTER OBJECT FILE: get to stdout is byte-exact.
get_cmp() {
    kh get "$2" "$3"
    check "$1" sh -c '[ "$0" -eq 0 ] && cmp -s "$1" "$2"' "$rc" "$T/out" "$4"
}

lifecycle() {
    be=$1
    B=$T/$be
    mkdir -p "$B"
    KS=$B/keystore
    MOD=$HSMSIM_MODULE
    PART=p1
    hsm_args=
    want_hsm=None
    case $be in
    network)
        appl_init "$B/appliance"
        partition "$PART"
        register c "$PART"
        kh client-cert create c
        check "$be: client-cert create again prints the same certificate" \
            cmp -s "$T/out" "$T/c.pem"
        appl_start
        hsm_args="--hsm $HSM --server-cert $APPL_CERT"
        want_hsm=$HSM
        ;;
    embedded)
        printf 'store = %s/store\npin_kdf_iterations = 1000\n' "$B" \
            >"$T/admin.conf"
        HSMSIM_CONF=$T/admin.conf
        export HSMSIM_CONF
        partition "$PART"
        ;;
    softhsm)
        MOD=$SOFTHSM
        mkdir -p "$B/tokens"
        printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$B" >"$B/softhsm2.conf"
        SOFTHSM2_CONF=$B/softhsm2.conf
        export SOFTHSM2_CONF
        timeout "$DL_TIMEOUT" softhsm2-util --init-token --free --label "$PART" \
            --so-pin "$SO_PIN" --pin "$PIN" >/dev/null 2>&1 ||
            bail_out "softhsm2-util --init-token failed"
        ;;
    esac

    # shellcheck disable=SC2086 # hsm_args is two options or none
    kh create c --module "$MOD" --partition "$PART" --password-file "$PW" \
        --data "$B/data-c" --block-size 4096 $hsm_args
    check "$be: create exits 0" rc_is 0
    check "$be: create prints 'cluster c: AVAILABLE'" \
        grep -qx 'cluster c: AVAILABLE' "$T/out"
    check "$be: status: AVAILABLE, CEK v1, DEK v1" versions c 1 1
    check "$be: status: partition $PART, module, hsm $want_hsm" sh -c \
        '[ "$1" = "$2" ] && [ "$3" = "$4" ] && [ "$5" = "$6" ]' _ \
        "$S_partition" "$PART" "$S_module" "$MOD" "$S_hsm" "$want_hsm"
    cek1=$S_cek_label
    labels=$(SOFTHSM2_CONF=${SOFTHSM2_CONF:-} p11_labels "$PART" "$MOD")
    check "$be: pkcs11-tool lists the CEK in the partition" sh -c \
        'printf "%s\n" "$0" | grep -qx -e "$1"' "$labels" "$cek1"

    kh put c big "$BIG"
    check "$be: put a 51213-byte object (13 blocks of 4 KiB)" rc_is 0
    kh put c empty "$EMPTY"
    check "$be: put a 0-byte object" rc_is 0
    kh --json ls c
    check "$be: ls --json: big, 51213 bytes, 13 blocks" ls_has big 51213 13
    check "$be: ls --json: empty, 0 bytes" sh -c \
        "$(command -v python3) -c '
import json, sys
o = {o[\"name\"]: o for o in json.load(open(sys.argv[1]))}[\"empty\"]
assert o[\"size\"] == 0' '$T/out'"
    kh ls c
    check "$be: ls text: NAME TAB SIZE TAB BLOCKS TAB TIME" \
        grep -q "^big	51213	13	[0-9-]*T[0-9:]*Z$" "$T/out"

    # Boots: each get is a new process.
    get_cmp "$be: boot and get big: byte-exact" c big "$BIG"
    kh get c big -o "$B/got"
    check "$be: get -o FILE: byte-exact" sh -c \
        '[ "$0" -eq 0 ] && cmp -s "$1" "$2"' "$rc" "$B/got" "$BIG"
    check "$be: get -o FILE leaves no .partial" test ! -e "$B/got.partial"
    check "$be: get -o FILE makes the file 0600" test \
        "$(stat -c %a "$B/got")" = 600
    get_cmp "$be: get the 0-byte object: empty, exit 0" c empty "$EMPTY"
    kh get c empty -o "$B/got0"
    check "$be: get -o FILE of the 0-byte object: an empty file" sh -c \
        '[ "$0" -eq 0 ] && [ -f "$1" ] && [ ! -s "$1" ]' "$rc" "$B/got0"

    kh rotate c
    check "$be: rotate exits 0" rc_is 0
    check "$be: rotate prints 'cluster c: AVAILABLE'" \
        grep -qx 'cluster c: AVAILABLE' "$T/out"
    check "$be: after a rotation: CEK v2, DEK v2" versions c 2 2
    check "$be: the CEK label names v2" sh -c \
        'case "$0" in *-cek-v2) ;; *) exit 1 ;; esac' "$S_cek_label"
    cek2=$S_cek_label
    labels=$(SOFTHSM2_CONF=${SOFTHSM2_CONF:-} p11_labels "$PART" "$MOD")
    check "$be: the partition holds CEK v2, and v1 is destroyed" sh -c \
        'printf "%s\n" "$0" | grep -qx -e "$2" &&
         ! printf "%s\n" "$0" | grep -qx -e "$1"' "$labels" "$cek1" "$cek2"
    get_cmp "$be: get after the rotation: byte-exact" c big "$BIG"

    kh snapshot create c --name snap1
    check "$be: snapshot create prints its name" sh -c \
        '[ "$0" -eq 0 ] && grep -qx snap1 "$1"' "$rc" "$T/out"
    kh --json rotate c
    check "$be: rotate --json exits 0" rc_is 0
    check "$be: rotate --json: last line AVAILABLE, CEK v3, DEK v3" sh -c \
        "tail -n 1 '$T/out' | $(command -v python3) -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"state\"] == \"AVAILABLE\" and d[\"cluster\"] == \"c\"
assert d[\"cek_version\"] == 3 and d[\"dek_version\"] == 3'"
    check "$be: after the second rotation: CEK v3, DEK v3" versions c 3 3
    check "$be: status counts one snapshot" sh -c \
        '[ "$0" = 1 ]' "$S_snapshots"
    check "$be: the snapshot: CEK v3 (rotated), DEK v2 (kept)" \
        snap_versions snap1 3 2

    kh snapshot restore snap1 c2 --data "$B/data-c2"
    check "$be: snapshot restore into c2 exits 0" rc_is 0
    check "$be: restore prints 'cluster c2: AVAILABLE'" \
        grep -qx 'cluster c2: AVAILABLE' "$T/out"
    check "$be: c2: AVAILABLE, its own CEK v1, the snapshot's DEK v2" \
        versions c2 1 2
    check "$be: c2 is on the source's partition and HSM" sh -c \
        '[ "$0" = "$1" ] && [ "$2" = "$3" ]' "$S_partition" \
        "$PART" "$S_hsm" "$want_hsm"
    check "$be: c2's CEK is its own" sh -c \
        '[ "$0" != "$1" ] && [ "$0" != "$2" ] && [ -n "$0" ]' \
        "$S_cek_label" "$cek1" "$cek2"
    # In network mode c2 was never registered: the library gives it the
    # source's client certificate, so the appliance lets it in.
    get_cmp "$be: get big from the restored cluster: byte-exact" c2 big "$BIG"
    get_cmp "$be: get empty from the restored cluster" c2 empty "$EMPTY"
    get_cmp "$be: the source still reads back" c big "$BIG"

    check "$be: c's events: created, rotation-started/-finished, snapshot-created" \
        has_events c created rotation-started rotation-finished snapshot-created
    check "$be: c's events: two rotations finished" sh -c \
        '[ "$0" = 2 ]' "$(count_kind c rotation-finished)"
    check "$be: c2's events: snapshot-restored" has_events c2 snapshot-restored
    kh --json events c
    check "$be: events --json: seq, time, unix, cluster, kind, message, ckr" \
        python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert set(e) == {"seq","time","unix","cluster","kind","message","ckr"}, e
    assert e["cluster"] == "c" and e["ckr"] == 0 and e["message"], e
    assert e["time"].endswith("Z") and e["unix"] > 0, e' "$T/out"

    kh get c2 big -o /dev/null
    check "$be: get -o /dev/null exits 0" rc_is 0
    check "$be: /dev/null is still a character device" test -c /dev/null
    check "$be: and no /dev/null.partial was left" test ! -e /dev/null.partial
    kh rm c2 big
    check "$be: rm exits 0" rc_is 0
    kh get c2 big
    check "$be: get after rm exits 8" rc_is 8
    check "$be: get after rm writes nothing" test ! -s "$T/out"
    kh --json ls c2
    check "$be: ls no longer lists it" ls_lacks big
    get_cmp "$be: the source's copy is untouched" c big "$BIG"

    case $be in
    network) appl_stop ;;
    embedded) unset HSMSIM_CONF ;;
    softhsm) unset SOFTHSM2_CONF ;;
    esac
}

for b in "$@"; do
    lifecycle "$b"
done
dl_finish
