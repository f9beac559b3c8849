#!/bin/sh
# SPDX-License-Identifier: MIT
# run-keyhier-bench.sh - one run of keyhier-bench on three HSMs: hsmsim
# embedded, hsmsim over the network (an hsmsimd appliance on 127.0.0.1)
# and SoftHSMv2.
#
# Usage: run-keyhier-bench.sh [keyhier-bench options...]   e.g. --json,
#        --rounds 9, --block-keys 100000, --mib 16, --only boot
#
# Makes a scratch directory (in $TMPDIR, default /tmp: on the disk the data
# directories use, so fsync is real) with an hsmsim store holding partition
# khemb (default configuration apart from the store, so logins pay the
# real PIN KDF), a SoftHSMv2 token khsoft, and an appliance made with
# hsmsim-admin: its identity, partition p1, and the client certificate of
# the cluster "bench-net" (made with `keyhier client-cert create` in that
# cluster's key store) registered and assigned p1; hsmsimd serves it on a
# loopback port it picks.  Then runs keyhier-bench with the three as
# backends (embedded hsmsim is the data backend of the rotation and
# put/get rows), prints its report, stops hsmsimd and removes the
# directory.
#
# Programs, from the environment or else the build directory we run in:
#   KEYHIER          keyhier           (./keyhier)
#   KEYHIER_BENCH    keyhier-bench     (beside $KEYHIER)
#   HSMSIM_MODULE    libhsmsim.so      (./.libs/libhsmsim.so)
#   HSMSIM_ADMIN     hsmsim-admin      (./hsmsim-admin)
#   HSMSIM_DAEMON    hsmsimd           (beside $HSMSIM_ADMIN)
#   SOFTHSM2_MODULE  libsofthsm2.so    (/usr/lib/softhsm/libsofthsm2.so)
# KEYHIER_BENCH_KDF=N sets pin_kdf_iterations of both hsmsim stores (for
# quick runs; the default configuration otherwise).
set -eu

die()
{
    echo "run-keyhier-bench.sh: $*" >&2
    exit 1
}

: "${KEYHIER:=./keyhier}"
: "${KEYHIER_BENCH:=$(dirname "$KEYHIER")/keyhier-bench}"
: "${HSMSIM_MODULE:=./.libs/libhsmsim.so}"
: "${HSMSIM_ADMIN:=./hsmsim-admin}"
: "${HSMSIM_DAEMON:=$(dirname "$HSMSIM_ADMIN")/hsmsimd}"
: "${SOFTHSM2_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
[ -x "$KEYHIER_BENCH" ] ||
    die "$KEYHIER_BENCH is not an executable (set KEYHIER_BENCH)"
[ -x "$KEYHIER" ] || die "$KEYHIER is not an executable (set KEYHIER)"
[ -f "$HSMSIM_MODULE" ] || die "$HSMSIM_MODULE not found (set HSMSIM_MODULE)"
[ -x "$HSMSIM_ADMIN" ] || die "$HSMSIM_ADMIN not found (set HSMSIM_ADMIN)"
[ -x "$HSMSIM_DAEMON" ] || die "$HSMSIM_DAEMON not found (set HSMSIM_DAEMON)"
[ -f "$SOFTHSM2_MODULE" ] ||
    die "$SOFTHSM2_MODULE not found (install softhsm2 or set SOFTHSM2_MODULE)"
command -v softhsm2-util >/dev/null || die "softhsm2-util not found"

T=$(mktemp -d "${TMPDIR:-/tmp}/keyhier-bench.XXXXXX") ||
    die "cannot make a scratch directory"
daemon=
cleanup()
{
    if [ -n "$daemon" ]; then
        kill "$daemon" 2>/dev/null || :
        wait "$daemon" 2>/dev/null || :
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' HUP INT TERM

SO_PIN=so-pin-5678
PIN=user-pin-1234
printf '%s\n' "$PIN" >"$T/password"
kdf=
[ -n "${KEYHIER_BENCH_KDF:-}" ] &&
    kdf="pin_kdf_iterations = $KEYHIER_BENCH_KDF"

# Embedded hsmsim: a store with partition khemb.
mkdir "$T/hsmsim-store"
{
    printf 'store = %s/hsmsim-store\n' "$T"
    [ -z "$kdf" ] || printf '%s\n' "$kdf"
} >"$T/hsmsim.conf"
HSMSIM_CONF=$T/hsmsim.conf "$HSMSIM_ADMIN" partition create khemb \
    --so-pin "$SO_PIN" --pin "$PIN" >"$T/admin.log" 2>&1 ||
    die "hsmsim-admin partition create failed: $(cat "$T/admin.log")"

# SoftHSMv2: a token khsoft.
mkdir "$T/softhsm-tokens"
{
    printf 'directories.tokendir = %s/softhsm-tokens\n' "$T"
    printf 'objectstore.backend = file\nlog.level = ERROR\n'
    printf 'slots.removable = false\n'
} >"$T/softhsm2.conf"
SOFTHSM2_CONF=$T/softhsm2.conf softhsm2-util --init-token --free \
    --label khsoft --so-pin "$SO_PIN" --pin "$PIN" >"$T/softhsm.log" 2>&1 ||
    die "softhsm2-util failed: $(cat "$T/softhsm.log")"

# The appliance: identity, partition p1, the cluster's client registered.
A=$T/appliance
mkdir "$A" "$A/store"
{
    printf 'store = %s/store\n' "$A"
    [ -z "$kdf" ] || printf '%s\n' "$kdf"
} >"$A/admin.conf"
"$KEYHIER" --keystore "$T/net-keystore" client-cert create bench-net \
    >"$A/bench-net.pem" 2>"$A/admin.log" ||
    die "keyhier client-cert create failed: $(cat "$A/admin.log")"
{
    HSMSIM_CONF=$A/admin.conf "$HSMSIM_ADMIN" appliance init \
        --dir "$A/store" &&
        HSMSIM_CONF=$A/admin.conf "$HSMSIM_ADMIN" partition create p1 \
            --so-pin "$SO_PIN" --pin "$PIN" &&
        HSMSIM_CONF=$A/admin.conf "$HSMSIM_ADMIN" client register \
            bench-net --cert "$A/bench-net.pem" &&
        HSMSIM_CONF=$A/admin.conf "$HSMSIM_ADMIN" client assign bench-net p1
} >>"$A/admin.log" 2>&1 ||
    die "appliance: hsmsim-admin failed: $(cat "$A/admin.log")"
{
    printf 'listen = 127.0.0.1:0\ndir = %s/store\nlog_level = warn\n' "$A"
    [ -z "$kdf" ] || printf '%s\n' "$kdf"
} >"$A/hsmsimd.conf"
"$HSMSIM_DAEMON" --conf "$A/hsmsimd.conf" --port-file "$A/port" \
    2>"$A/hsmsimd.log" &
daemon=$!
tries=0
while [ ! -s "$A/port" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ] || ! kill -0 "$daemon" 2>/dev/null; then
        die "hsmsimd did not start: $(cat "$A/hsmsimd.log")"
    fi
    sleep 0.05
done
port=$(cat "$A/port")

# The header goes where the report goes, unless that is JSON.
header=1
for arg in "$@"; do
    [ "$arg" = --json ] && header=2
done
{
    echo "# run-keyhier-bench.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC')," \
        "$(uname -srm)"
    echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null |
        sed 's/.*: //'), $(getconf _NPROCESSORS_ONLN) online"
    echo "# hsmsim: $HSMSIM_MODULE embedded (store:" \
        "${kdf:-default pin_kdf_iterations})"
    echo "# hsmsim-net: the same module to $HSMSIM_DAEMON on" \
        "127.0.0.1:$port over the trust link (TLS 1.3)"
    echo "# SoftHSMv2: $SOFTHSM2_MODULE (file object store)"
    echo "# data directories and the raw fsync file: $T" \
        "($(df -P "$T" | awk 'NR == 2 { print $1 }'))"
} >&"$header"

net="name=hsmsim-net,module=$HSMSIM_MODULE,partition=p1"
net="$net,hsm=127.0.0.1:$port,server-cert=$A/store/server.pem"
net="$net,keystore=$T/net-keystore,cluster=bench-net"
HSMSIM_CONF=$T/hsmsim.conf SOFTHSM2_CONF=$T/softhsm2.conf \
    "$KEYHIER_BENCH" --dir "$T/bench" --password-file "$T/password" \
    --backend "name=hsmsim,module=$HSMSIM_MODULE,partition=khemb" \
    --backend "$net" \
    --backend "name=SoftHSMv2,module=$SOFTHSM2_MODULE,partition=khsoft" \
    --data-backend hsmsim "$@"
