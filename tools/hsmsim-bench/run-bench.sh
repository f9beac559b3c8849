#!/bin/sh
# SPDX-License-Identifier: MIT
# run-bench.sh - one side-by-side run: hsmsim embedded and over the network
# (audit log off and on), SoftHSMv2 and raw OpenSSL.
#
# Usage: run-bench.sh [hsmsim-bench options...]   e.g. --quick, --json,
#        --rounds 9 (more rounds: steadier medians on a noisy machine),
#        --ops small-call,gcm-32 (only those rows)
#
# Makes a scratch directory with an empty hsmsim store (default
# configuration apart from the store, so the PIN KDF is the real one), two
# hsmsimd appliances on loopback ports (the same configuration, the second
# with `audit = FILE`; each with its identity, a registered client "bench"
# and `free_slot = yes`) and an empty SoftHSMv2 token directory; lets
# hsmsim-bench initialize one token in each (--init: C_InitToken on the
# free slot, through the network for the appliances), runs every
# operation on the five targets, prints the report, stops the appliances
# and removes the directory.
#
# The targets: hsmsim (embedded), hsmsim-net (the same libhsmsim.so with
# `mode = network`, audit off), net+audit (the same, audit on), SoftHSMv2
# and OpenSSL.  Each runs in a process of its own, so each module copy
# reads its own HSMSIM_CONF (--module-conf).
#
# Programs, from the environment or else the build directory we run in:
#   HSMSIM_BENCH     hsmsim-bench      (./hsmsim-bench, else on PATH)
#   HSMSIM_MODULE    libhsmsim.so      (./.libs/libhsmsim.so)
#   HSMSIM_ADMIN     hsmsim-admin      (./hsmsim-admin)
#   HSMSIM_DAEMON    hsmsimd           (./hsmsimd)
#   SOFTHSM2_MODULE  libsofthsm2.so    (/usr/lib/softhsm/libsofthsm2.so)
set -eu

die()
{
    echo "run-bench.sh: $*" >&2
    exit 1
}

if [ -z "${HSMSIM_BENCH:-}" ]; then
    if [ -x ./hsmsim-bench ]; then
        HSMSIM_BENCH=./hsmsim-bench
    else
        HSMSIM_BENCH=$(command -v hsmsim-bench) ||
            die "hsmsim-bench not found (set HSMSIM_BENCH)"
    fi
fi
: "${HSMSIM_MODULE:=./.libs/libhsmsim.so}"
: "${HSMSIM_ADMIN:=./hsmsim-admin}"
: "${HSMSIM_DAEMON:=./hsmsimd}"
: "${SOFTHSM2_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
[ -x "$HSMSIM_BENCH" ] || die "$HSMSIM_BENCH is not an executable"
[ -f "$HSMSIM_MODULE" ] || die "$HSMSIM_MODULE not found (set HSMSIM_MODULE)"
[ -x "$HSMSIM_ADMIN" ] || die "$HSMSIM_ADMIN not found (set HSMSIM_ADMIN)"
[ -x "$HSMSIM_DAEMON" ] || die "$HSMSIM_DAEMON not found (set HSMSIM_DAEMON)"
[ -f "$SOFTHSM2_MODULE" ] ||
    die "$SOFTHSM2_MODULE not found (install softhsm2 or set SOFTHSM2_MODULE)"

T=$(mktemp -d "${TMPDIR:-/tmp}/hsmsim-bench.XXXXXX") ||
    die "cannot make a scratch directory"
daemons=
# SIGTERM: each daemon writes its queued audit lines and stops.
stop_daemons()
{
    for pid in $daemons; do
        kill "$pid" 2>/dev/null || :
        wait "$pid" 2>/dev/null || :
    done
    daemons=
}
cleanup()
{
    stop_daemons
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' HUP INT TERM

mkdir "$T/softhsm-tokens"
HSMSIM_CONF=$T/hsmsim.conf
printf 'store = %s/hsmsim-store\n' "$T" >"$HSMSIM_CONF"
SOFTHSM2_CONF=$T/softhsm2.conf
{
    printf 'directories.tokendir = %s/softhsm-tokens\n' "$T"
    printf 'objectstore.backend = file\n'
    printf 'log.level = ERROR\n'
    printf 'slots.removable = false\n'
} >"$SOFTHSM2_CONF"
export HSMSIM_CONF SOFTHSM2_CONF

# appliance NAME [HSMSIMD_CONF_LINE...]: an appliance directory $T/NAME
# with its identity and the client "bench", hsmsimd serving it on a
# loopback port, and $T/NAME.conf, the module's network configuration.
appliance()
{
    name=$1
    shift
    dir=$T/$name
    mkdir "$dir" "$dir/store" "$dir/kit"
    printf 'store = %s/store\n' "$dir" >"$dir/admin.conf"
    {
        HSMSIM_CONF=$dir/admin.conf "$HSMSIM_ADMIN" appliance init \
            --dir "$dir/store" &&
            HSMSIM_CONF=$dir/admin.conf "$HSMSIM_ADMIN" client cert create \
                --cn bench --out "$dir/kit" &&
            HSMSIM_CONF=$dir/admin.conf "$HSMSIM_ADMIN" client register \
                bench --cert "$dir/kit/bench.pem"
    } >"$dir/admin.log" 2>&1 ||
        die "$name: hsmsim-admin failed: $(cat "$dir/admin.log")"
    {
        printf 'listen = 127.0.0.1:0\ndir = %s/store\n' "$dir"
        printf 'free_slot = yes\nlog_level = warn\n'
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >"$dir/hsmsimd.conf"
    "$HSMSIM_DAEMON" --conf "$dir/hsmsimd.conf" --port-file "$dir/port" \
        2>"$dir/hsmsimd.log" &
    daemons="$daemons $!"
    tries=0
    while [ ! -s "$dir/port" ]; do
        tries=$((tries + 1))
        [ "$tries" -le 100 ] && kill -0 "$!" 2>/dev/null ||
            die "$name: hsmsimd did not start: $(cat "$dir/hsmsimd.log")"
        sleep 0.05
    done
    {
        printf 'mode = network\nserver = 127.0.0.1:%s\n' "$(cat "$dir/port")"
        printf 'server_cert = %s/store/server.pem\n' "$dir"
        printf 'client_cert = %s/kit/bench.pem\n' "$dir"
        printf 'client_key = %s/kit/bench.key\n' "$dir"
    } >"$T/$name.conf"
}
appliance net
appliance audit "audit = $T/audit/audit.log"

# The header goes where the report goes, unless that is JSON.
header=1
for arg in "$@"; do
    [ "$arg" = --json ] && header=2
done
{
    echo "# run-bench.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -srm)"
    echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null |
        sed 's/.*: //'), $(getconf _NPROCESSORS_ONLN) online"
    echo "# hsmsim: $HSMSIM_MODULE (store config: default pin_kdf_iterations)"
    echo "# hsmsim-net, net+audit: the same module, mode = network, to" \
        "$HSMSIM_DAEMON on 127.0.0.1 (TLS 1.3; net+audit: audit = FILE)"
    echo "# SoftHSMv2: $SOFTHSM2_MODULE (file object store)"
    echo "# command: $HSMSIM_BENCH --module hsmsim=... --module" \
        "hsmsim-net=... --module net+audit=... --module SoftHSMv2=..." \
        "--openssl --init --ratio ... $*"
} >&"$header"

rc=0
"$HSMSIM_BENCH" --module "hsmsim=$HSMSIM_MODULE" \
    --module "hsmsim-net=$HSMSIM_MODULE" \
    --module-conf "hsmsim-net=$T/net.conf" \
    --module "net+audit=$HSMSIM_MODULE" \
    --module-conf "net+audit=$T/audit.conf" \
    --module "SoftHSMv2=$SOFTHSM2_MODULE" --openssl --init \
    --ratio hsmsim/SoftHSMv2 --ratio OpenSSL/hsmsim \
    --ratio hsmsim-net/hsmsim --ratio hsmsim-net/SoftHSMv2 \
    --ratio net+audit/hsmsim-net "$@" || rc=$?
stop_daemons
if [ -f "$T/audit/audit.log" ]; then
    n_init=$(grep -c '"call":"C_\*Init"' "$T/audit/audit.log" || :)
    echo "# net+audit: the audit log has $(wc -l <"$T/audit/audit.log")" \
        "lines, $n_init of them C_*Init (key uses)" >&"$header"
fi
exit "$rc"
