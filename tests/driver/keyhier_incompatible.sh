#!/bin/sh
# SPDX-License-Identifier: MIT
# keyhier_incompatible.sh - each way the trust link can fail at create
# leaves the cluster INCOMPATIBLE_HSM (exit 3, one sentence saying why)
# with nothing made on the partition; the cluster refuses to boot (exit
# 10) until `keyhier delete`, after which a create with the cause fixed
# succeeds.  The causes: nothing listening at the address, another
# appliance's certificate pinned, the client certificate not registered,
# the partition not assigned to it, and a wrong partition password.
set -eu
NAME=keyhier_incompatible
. "$(dirname "$0")/driver_lib.sh"
[ -x "$HSMSIMD" ] || bail_out "$HSMSIMD is not built"
command -v pkcs11-tool >/dev/null 2>&1 || bail_out "pkcs11-tool is not installed"

# A second appliance's identity: its certificate is the wrong one to pin.
appl_init "$T/other"
OTHER_CERT=$APPL_CERT
appl_init "$T/appliance"
partition pa
appl_start
BAD_PW=$T/bad-password
printf 'wrong-pin-9999\n' >"$BAD_PW"
DEAD=127.0.0.1:$(closed_port)

# create_as CLUSTER ADDRESS SERVER_CERT PASSWORD_FILE
create_as() {
    kh create "$1" --module "$HSMSIM_MODULE" --partition pa \
        --password-file "$4" --data "$T/data-$1" --hsm "$2" \
        --server-cert "$3" --block-size 4096
}
# no_cek CLUSTER: no object on partition pa carries the cluster's id, and
# pkcs11-tool did list the partition (it holds a marker object).
no_cek() {
    id=$(kh --json status "$1" && json_get id)
    labels=$(p11_labels pa)
    printf '%s\n' "$labels" | grep -qx marker &&
        ! printf '%s\n' "$labels" | grep -q -e "$id"
}
has_cek() {
    id=$(kh --json status "$1" && json_get id)
    p11_labels pa | grep -q -e "keyhier-$id-cek-v1"
}
# A marker object, so that an empty listing cannot pass for "no CEK".
HSMSIM_CONF=$T/admin.conf timeout "$DL_TIMEOUT" pkcs11-tool \
    --module "$HSMSIM_MODULE" --token-label pa --login --pin "$PIN" \
    --keygen --key-type AES:32 --label marker >/dev/null 2>&1 ||
    bail_out "cannot make the marker object on pa"

# incompatible CLUSTER PHRASE DESC ADDRESS SERVER_CERT PASSWORD_FILE:
# create fails so (PHRASE a basic regular expression); the state, the
# partition and the object commands are checked, then the cluster is
# deleted.
incompatible() {
    c=$1 phrase=$2 why=$3
    shift 3
    create_as "$c" "$1" "$2" "$3"
    check "$why: create exits 3" rc_is 3
    check "$why: the message says INCOMPATIBLE_HSM and why ('$phrase')" \
        sh -c 'grep -q "^keyhier: cluster $0 is INCOMPATIBLE_HSM: .*$1.*; delete it with '\''keyhier delete $0'\'' and try again$" "$2"' \
        "$c" "$phrase" "$T/err"
    check "$why: nothing on stdout" test ! -s "$T/out"
    check "$why: the message is one line on stderr" one_err_line
    check "$why: status: INCOMPATIBLE_HSM, no CEK" sh -c \
        '[ "$0" = INCOMPATIBLE_HSM ] && [ "$1" = 0 ] && [ -z "$2" ]' \
        "$(kh --json status "$c" && json_get state)" \
        "$(json_get cek_version)" "$(json_get cek_label)"
    check "$why: no CEK was made on the partition" no_cek "$c"
    check "$why: no data directory was made" test ! -e "$T/data-$c"
    check "$why: the failure is an event" has_events "$c" incompatible-hsm
    kh put "$c" obj "$PW"
    check "$why: put on an INCOMPATIBLE_HSM cluster exits 10" rc_is 10
    check "$why: put says INCOMPATIBLE_HSM" err_has 'INCOMPATIBLE_HSM'
    kh get "$c" obj
    check "$why: boot (get) on an INCOMPATIBLE_HSM cluster exits 10" rc_is 10
    kh ls "$c"
    check "$why: boot (ls) exits 10" rc_is 10
    create_as "$c" "$HSM" "$APPL_CERT" "$PW"
    check "$why: create again without delete: exit 1, delete it first" \
        sh -c '[ "$0" -eq 1 ] && grep -q "^keyhier: cluster $1 already exists (INCOMPATIBLE_HSM): delete it and try again$" "$2"' \
        "$rc" "$c" "$T/err"
    kh delete "$c"
    check "$why: delete exits 0" rc_is 0
}
# recreated CLUSTER DESC: the fixed create works.
recreated() {
    create_as "$1" "$HSM" "$APPL_CERT" "$PW"
    check "$2: after delete, create exits 0" rc_is 0
    check "$2: and the cluster is AVAILABLE" status_is "$1" state AVAILABLE
    check "$2: its CEK is on the partition" has_cek "$1"
    kh put "$1" obj "$PW"
    check "$2: and takes data" rc_is 0
}

# ---- nothing listening --------------------------------------------------
register c-dead pa
incompatible c-dead "cannot reach the HSM at $DEAD: Connection refused" \
    "closed port" "$DEAD" "$APPL_CERT" "$PW"
recreated c-dead "closed port"

# ---- another appliance's certificate pinned ------------------------------
register c-pin pa
incompatible c-pin "the HSM at $HSM is not the pinned one: it presented the certificate SHA-256 " \
    "wrong server certificate" "$HSM" "$OTHER_CERT" "$PW"
recreated c-pin "wrong server certificate"

# ---- a client certificate the appliance does not know --------------------
kh client-cert create c-unreg
cp "$T/out" "$T/c-unreg.pem"
# The module's own warning about the refusal stays out of keyhier's
# stderr: the driver configures it with log_level = error.
incompatible c-unreg "refused this cluster's client certificate (SHA-256 [0-9A-F:]*): register it with hsmsim-admin client register" \
    "unregistered client" "$HSM" "$APPL_CERT" "$PW"
kh client-cert create c-unreg
check "unregistered client: delete kept the client certificate" \
    cmp -s "$T/out" "$T/c-unreg.pem"
must client register c-unreg --cert "$T/c-unreg.pem"
must client assign c-unreg pa
recreated c-unreg "unregistered client"

# ---- registered, but not assigned the partition ---------------------------
register c-unas
incompatible c-unas "partition pa is not assigned to this client, or the HSM at [0-9.:]* did not answer in time" \
    "unassigned partition" "$HSM" "$APPL_CERT" "$PW"
must client assign c-unas pa
recreated c-unas "unassigned partition"

# ---- the wrong partition password --------------------------------------
register c-pw pa
incompatible c-pw "wrong password for partition pa" \
    "wrong password" "$HSM" "$APPL_CERT" "$BAD_PW"
recreated c-pw "wrong password"
admin partition show pa
check "wrong password: the right one reset the failure count" \
    grep -q '^user failures: *0$' "$T/out"

dl_finish
