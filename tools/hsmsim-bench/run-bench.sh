#!/bin/sh
# SPDX-License-Identifier: MIT
# run-bench.sh - one side-by-side run: hsmsim, SoftHSMv2 and raw OpenSSL.
#
# Usage: run-bench.sh [hsmsim-bench options...]   e.g. --quick, --json,
#        --rounds 9 (more rounds: steadier medians on a noisy machine),
#        --ops rsa-sign,ecdsa-sign,rsa-keygen (only those rows)
#
# Makes a scratch directory with an empty hsmsim store (default
# configuration apart from the store, so the PIN KDF is the real one) and an
# empty SoftHSMv2 token directory, lets hsmsim-bench initialize one token in
# each (--init), runs every operation on both modules and the OpenSSL floor
# (AES key generation, wrap, unwrap and GCM; RSA-2048 and P-256 signing;
# RSA-2048 key-pair generation; sessions; find), prints the report and
# removes the directory.
#
# Programs, from the environment or else the build directory we run in:
#   HSMSIM_BENCH     hsmsim-bench      (./hsmsim-bench, else on PATH)
#   HSMSIM_MODULE    libhsmsim.so      (./.libs/libhsmsim.so)
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
: "${SOFTHSM2_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
[ -x "$HSMSIM_BENCH" ] || die "$HSMSIM_BENCH is not an executable"
[ -f "$HSMSIM_MODULE" ] || die "$HSMSIM_MODULE not found (set HSMSIM_MODULE)"
[ -f "$SOFTHSM2_MODULE" ] ||
    die "$SOFTHSM2_MODULE not found (install softhsm2 or set SOFTHSM2_MODULE)"

T=$(mktemp -d "${TMPDIR:-/tmp}/hsmsim-bench.XXXXXX") ||
    die "cannot make a scratch directory"
trap 'rm -rf "$T"' EXIT
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
    echo "# SoftHSMv2: $SOFTHSM2_MODULE (file object store)"
    echo "# command: $HSMSIM_BENCH --module hsmsim=... --module" \
        "SoftHSMv2=... --openssl --init $*"
} >&"$header"

"$HSMSIM_BENCH" --module "hsmsim=$HSMSIM_MODULE" \
    --module "SoftHSMv2=$SOFTHSM2_MODULE" --openssl --init "$@"
