#!/bin/sh
# SPDX-License-Identifier: MIT
# check-layers.sh BUILDDIR - fail when a layer of the module uses a symbol
# of a layer it may not reach (docs/architecture.md, "Layers").
#
#   cryptoki -> device, common      device -> engine, wire, common
#   engine   -> common              wire   -> common
#   appliance -> device, engine, wire, common
#   common   -> (nothing of ours)
#
# Each layer is a convenience library; every symbol it leaves undefined
# must be defined by itself, by a layer it may reach, or outside the
# module (libc, OpenSSL, SQLite).
set -eu
dir=${1:?usage: check-layers.sh BUILDDIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

allowed() {
    case $1 in
        cryptoki) echo "device common" ;;
        device) echo "engine wire common" ;;
        engine) echo "common" ;;
        wire) echo "common" ;;
        appliance) echo "device engine wire common" ;;
        common) echo "" ;;
    esac
}

layers="common engine wire device cryptoki appliance"
for l in $layers; do
    a="$dir/.libs/libhsmsim_$l.a"
    [ -f "$a" ] || { echo "check-layers: $a missing" >&2; exit 2; }
    nm -g --defined-only "$a" 2>/dev/null | awk 'NF == 3 { print $3 }' |
        sort -u > "$tmp/$l.def"
    nm -u "$a" 2>/dev/null | awk 'NF == 2 { print $2 }' | sort -u |
        comm -23 - "$tmp/$l.def" > "$tmp/$l.undef"
done

bad=0
for l in $layers; do
    for o in $layers; do
        [ "$o" = "$l" ] && continue
        case " $(allowed "$l") " in *" $o "*) continue ;; esac
        for sym in $(comm -12 "$tmp/$l.undef" "$tmp/$o.def"); do
            echo "check-layers: $l reaches past its neighbours: $sym is $o's"
            bad=1
        done
    done
done
[ "$bad" -eq 0 ] || exit 1
echo "check-layers: cryptoki -> device -> engine, wire -> common; appliance -> device, engine, wire, common; nothing past"
