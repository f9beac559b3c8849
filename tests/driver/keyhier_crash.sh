#!/bin/sh
# SPDX-License-Identifier: MIT
# keyhier_crash.sh - crash injection: the keyhier command is killed with
# SIGKILL at random points of put, rotate and snapshot create, on an
# embedded hsmsim partition; after each kill the next boot must leave the
# cluster AVAILABLE and every acknowledged object byte-exact.
#
# Each kill picks an operation (put 1/2, rotate 1/4, snapshot create 1/4),
# starts it in the background and kills it after a random delay spread over
# 0 to 1.25 times that operation's measured duration (the median of three
# runs left to finish, measured again every 50 kills; a put's scaled by its
# size), so most kills land mid-way and some after the end.  Objects are
# 64 KiB to 2 MiB in 4 KiB blocks, so a rotation re-encrypts thousands of
# block keys.  Then:
#   - status --json (no boot) may show ROTATING_KEYS only after a rotate;
#     ls boots (completing such a rotation) and status must then be
#     AVAILABLE, with cek_version and dek_version both 1 + the number of
#     completed rotations (a killed rotation completed or not begun);
#   - a killed put leaves its object absent (if it never had content), with
#     its previous content or with the new one, never anything else (get
#     and cmp); an acknowledged put (exit 0) must read back new;
#   - the objects' blocks (ls) add up to the block keys status counts;
#   - a killed snapshot create leaves the snapshot listed, with the
#     cluster's object and block counts, or not listed at all;
#   - every 20 kills every object is read back and compared; every 25 kills
#     a listed snapshot is restored into a new cluster, one of its objects
#     read back (sha256 against the content at snapshot time), and the
#     restored cluster deleted.  At the end every listed snapshot restores.
#
# KEYHIER_CRASH_KILLS (default 200) sets the number of kills; a longer run,
# KEYHIER_CRASH_KILLS=1000, takes about five times as long.
# KEYHIER_CRASH_SEED seeds the choices (the kill timing stays random).
# Needs $KEYHIER, $HSMSIM_MODULE, $HSMSIM_ADMIN (as make check sets them).
set -u

NAME=keyhier_crash.sh
KILLS=${KEYHIER_CRASH_KILLS:-200}
SEED=${KEYHIER_CRASH_SEED:-$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')}
SEED0=$SEED
NOBJ=12          # object names o0..o11, half of them present at the start
MAXSNAPS=4       # older snapshots are deleted beyond this
TO=60            # seconds any single command may take

for v in KEYHIER HSMSIM_MODULE HSMSIM_ADMIN; do
    eval "val=\${$v:-}"
    if [ -z "$val" ] || [ ! -f "$val" ]; then
        echo "Bail out! $v is not set or names no file"
        exit 99
    fi
done
for tool in cmp sha256sum od timeout date head; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "Bail out! $tool is required"; exit 99; }
done
case $KILLS in
'' | *[!0-9]*) echo "Bail out! KEYHIER_CRASH_KILLS is not a number"; exit 99 ;;
esac
: "${HSMSIM_TEST_TMP:=/tmp}"
mkdir -p "$HSMSIM_TEST_TMP"
T=$(mktemp -d "$HSMSIM_TEST_TMP/$NAME.XXXXXX") ||
    { echo "Bail out! cannot make a scratch directory"; exit 99; }
OPPID=
cleanup() {
    if [ -n "$OPPID" ]; then
        kill -9 "$OPPID" 2>/dev/null
        wait "$OPPID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 99' HUP INT TERM

HSMSIM_CONF=$T/hsmsim.conf
KEYHIER_KEYSTORE=$T/keystore
HOME=$T/home
export HSMSIM_CONF KEYHIER_KEYSTORE HOME
# The programs run from a copy, so that a rebuild during the run does not
# pull them away; a libtool wrapper script (a shell per call) is replaced
# by what it wraps.
mkdir -p "$T/bin"
if head -n 5 "$KEYHIER" 2>/dev/null | grep -q 'temporary wrapper script' &&
    [ -x "${KEYHIER%/*}/.libs/${KEYHIER##*/}" ]; then
    cp "${KEYHIER%/*}/.libs/${KEYHIER##*/}" "${KEYHIER%/*}"/.libs/lib*.so* \
        "$T/bin/" || { echo "Bail out! cannot copy keyhier"; exit 99; }
    LD_LIBRARY_PATH=$T/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
else
    cp "$KEYHIER" "$T/bin/" ||
        { echo "Bail out! cannot copy keyhier"; exit 99; }
fi
KEYHIER=$T/bin/${KEYHIER##*/}
cp "$HSMSIM_MODULE" "$T/bin/module.so" &&
    cp "$HSMSIM_ADMIN" "$T/bin/admin" ||
    { echo "Bail out! cannot copy the module and hsmsim-admin"; exit 99; }
HSMSIM_MODULE=$T/bin/module.so
HSMSIM_ADMIN=$T/bin/admin
printf 'store = %s/store\npin_kdf_iterations = 1000\n' "$T" >"$HSMSIM_CONF"
mkdir -p "$T/exp" "$T/smap" "$T/restore" "$HOME"
: >"$T/snaps"

# ---- reporting --------------------------------------------------------------

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    for f in "$T/out" "$T/err" "$T/op.err"; do
        if [ -s "$f" ]; then sed "s|^|#   ${f##*/}: |" "$f" | head -n 20; fi
    done
}
bail() {
    not_ok "$1"
    echo "Bail out! $1 (seed $SEED0)"
    echo "1..$n"
    exit 1
}

# ---- helpers ----------------------------------------------------------------

# rand N: R = a number in 0..N-1 (N <= 2^30), from the seeded LCG.
rand() {
    SEED=$(((SEED * 1103515245 + 12345) % 2147483648))
    hi=$((SEED / 65536))
    SEED=$(((SEED * 1103515245 + 12345) % 2147483648))
    R=$((((hi * 32768) + (SEED / 65536) % 32768) % $1))
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# kh ARGS...: keyhier with a time limit; sets rc, output in $T/out, $T/err.
kh() {
    timeout "$TO" "$KEYHIER" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
}
# json_field KEY: the value of "KEY" in $T/out (a number or a string).
json_field() {
    sed -n "s/.*\"$1\":\"\{0,1\}\([A-Za-z0-9_]*\)\"\{0,1\}[,}].*/\1/p" \
        "$T/out" | head -n 1
}
# status: sets state, cek, dek, nobjects, nblocks (no boot).
status() {
    kh status c1 --json
    [ "$rc" -eq 0 ] || bail "status exits $rc"
    state=$(json_field state)
    cek=$(json_field cek_version)
    dek=$(json_field dek_version)
    nobjects=$(json_field objects)
    nblocks=$(json_field blocks)
}
# newdata FILE: FILE gets 64 KiB to 2 MiB of random bytes (seldom aligned).
newdata() {
    rand 2031616
    head -c $((65536 + R)) /dev/urandom >"$1"
}
# check_object NAME: reads back as $T/exp/NAME, or is absent if that is.
check_object() {
    kh get c1 "$1" -o "$T/got"
    if [ -f "$T/exp/$1" ]; then
        [ "$rc" -eq 0 ] && cmp -s "$T/got" "$T/exp/$1"
    else
        [ "$rc" -eq 8 ]
    fi
}
check_all() {
    for i in $(seq 0 $((NOBJ - 1))); do
        check_object "o$i" || return 1
    done
}
# snapmap FILE: "NAME SHA256" of every present object, as now expected.
snapmap() {
    : >"$1"
    for i in $(seq 0 $((NOBJ - 1))); do
        if [ -f "$T/exp/o$i.sha" ]; then
            printf 'o%d %s\n' "$i" "$(cat "$T/exp/o$i.sha")" >>"$1"
        fi
    done
}
set_expected() { # NAME FILE
    mv "$2" "$T/exp/$1"
    sha256sum <"$T/exp/$1" | cut -d' ' -f1 >"$T/exp/$1.sha"
}
# restore_check SNAP: restore SNAP into a new cluster, read back one of
# its objects (sha256 against the snapshot's map), delete the cluster.
restores=0
restore_check() {
    restores=$((restores + 1))
    rn=r$restores
    kh snapshot restore "$1" "$rn" --data "$T/restore/$rn"
    [ "$rc" -eq 0 ] || return 1
    lines=$(wc -l <"$T/smap/$1")
    if [ "$lines" -gt 0 ]; then
        rand "$lines"
        set -- $(sed -n "$((R + 1))p" "$T/smap/$1")
        kh get "$rn" "$1" -o "$T/rgot"
        [ "$rc" -eq 0 ] || return 1
        [ "$(sha256sum <"$T/rgot" | cut -d' ' -f1)" = "$2" ] || return 1
        rm -f "$T/rgot"
    fi
    kh delete "$rn"
    [ "$rc" -eq 0 ] || return 1
    rm -rf "$T/restore/$rn"
}
snapno=0
# prep_op KIND: what the operation and its check need (for a put, the
# object's name and new content, of size).
prep_op() {
    case $1 in
    put)
        rand "$NOBJ"
        obj=o$R
        newdata "$T/new"
        size=$(wc -c <"$T/new")
        ;;
    snapshot)
        snapno=$((snapno + 1))
        snap=s$snapno
        snapmap "$T/smap/$snap"
        snapfiles >"$T/files.before"
        ;;
    esac
}
# snapfiles: the snapshot copies in the data directory, sorted.
snapfiles() {
    ls "$T/data/snapshots" 2>/dev/null | sort
}
# start_op KIND: launch the prepared operation in the background (OPPID).
start_op() {
    case $1 in
    put) set -- put c1 "$obj" "$T/new" ;;
    rotate) set -- rotate c1 ;;
    snapshot) set -- snapshot create c1 --name "$snap" ;;
    esac
    "$KEYHIER" "$@" >"$T/op.out" 2>"$T/op.err" </dev/null &
    OPPID=$!
}
# finish_op: wait for the background operation; sets opst.
finish_op() {
    wait "$OPPID" 2>/dev/null # no "Killed" line from the shell
    opst=$?
    OPPID=
}
# measure KIND: run the operation to its end three times; dur_KIND is the
# median (ms); for put, msize_put its size and boot_ms the time of a boot.
measure() {
    : >"$T/times"
    for m in 1 2 3; do
        prep_op "$1"
        pre_objects=$nobjects pre_blocks=$nblocks
        t0=$(now_ms)
        start_op "$1"
        finish_op
        t1=$(now_ms)
        [ "$opst" -eq 0 ] || bail "$1 exits $opst without a kill"
        echo "$((t1 - t0)) ${size:-0}" >>"$T/times"
        verify "$1" || bail "after $1 run to its end: $why"
    done
    set -- "$1" $(sort -n "$T/times" | sed -n 2p)
    eval "dur_$1=$2"
    [ "$1" = put ] && msize_put=$3
    t0=$(now_ms)
    kh ls c1
    boot_ms=$(($(now_ms) - t0))
}
# delay_for KIND: the expected run time d (ms) of the prepared operation.
delay_for() {
    eval "d=\$dur_$1"
    if [ "$1" = put ]; then
        # A boot, then time in proportion to the size.
        extra=$((d - boot_ms))
        [ "$extra" -gt 0 ] || extra=0
        d=$((boot_ms + extra * size / msize_put))
    fi
}

# verify KIND: after the operation (killed or not, opst its wait status),
# boot and check; sets why on failure.
ver=1
orphans=0
orphan_bytes=0
rot_done=0
rot_resumed=0
verify() {
    status
    state0=$state
    if [ "$opst" -eq 0 ] && [ "$state0" != AVAILABLE ]; then
        why="state $state0 after a $1 that exited 0"
        return 1
    elif [ "$state0" = ROTATING_KEYS ]; then
        if [ "$1" != rotate ]; then
            why="ROTATING_KEYS after a $1"
            return 1
        fi
    elif [ "$state0" != AVAILABLE ]; then
        why="state $state0 after the kill"
        return 1
    fi
    kh ls c1
    if [ "$rc" -ne 0 ]; then
        why="the boot (ls) exits $rc"
        return 1
    fi
    cp "$T/out" "$T/ls"
    status
    if [ "$state" != AVAILABLE ]; then
        why="state $state after the boot"
        return 1
    fi
    case $1 in
    rotate)
        if [ "$dek" -eq $((ver + 1)) ]; then
            ver=$((ver + 1))
            rot_done=$((rot_done + 1))
            if [ "$state0" = ROTATING_KEYS ]; then
                rot_resumed=$((rot_resumed + 1))
            fi
        elif [ "$opst" -eq 0 ]; then
            why="rotate exited 0 but DEK v$dek, not v$((ver + 1))"
            return 1
        elif [ "$state0" = ROTATING_KEYS ]; then
            why="the boot left DEK v$dek after ROTATING_KEYS"
            return 1
        fi
        ;;
    put)
        kh get c1 "$obj" -o "$T/got"
        if [ "$rc" -eq 0 ] && cmp -s "$T/got" "$T/new"; then
            set_expected "$obj" "$T/new"
        elif [ "$opst" -eq 0 ]; then
            why="put of $obj exited 0 but get exits $rc or differs"
            return 1
        elif [ -f "$T/exp/$obj" ]; then
            if [ "$rc" -ne 0 ] || ! cmp -s "$T/got" "$T/exp/$obj"; then
                why="$obj is neither its old nor its new content (get $rc)"
                return 1
            fi
        elif [ "$rc" -ne 8 ]; then
            why="$obj, never stored, is not absent (get $rc)"
            return 1
        fi
        rm -f "$T/new" "$T/got"
        ;;
    snapshot)
        kh snapshot list c1
        if [ "$rc" -ne 0 ]; then
            why="snapshot list exits $rc"
            return 1
        fi
        line=$(awk -F'\t' -v s="$snap" '$1 == s' "$T/out")
        snapfiles | comm -13 "$T/files.before" - >"$T/files.new"
        nnew=$(wc -l <"$T/files.new")
        if [ -n "$line" ]; then
            set -- $line
            # NAME SOURCE CREATED OBJECTS BLOCKS CEK_VERSION DEK_VERSION
            if [ "$4" != "$pre_objects" ] || [ "$5" != "$pre_blocks" ] ||
                [ "$7" != "$ver" ]; then
                why="snapshot $snap lists $4 objects $5 blocks DEK v$7, not \
$pre_objects, $pre_blocks, v$ver"
                return 1
            fi
            if [ "$nnew" -ne 1 ]; then
                why="snapshot $snap is listed with $nnew new files"
                return 1
            fi
            echo "$snap" >>"$T/snaps"
        elif [ "$opst" -eq 0 ]; then
            why="snapshot create exited 0 but $snap is not listed"
            return 1
        else
            rm -f "$T/smap/$snap"
            # A copy (and its journal) nothing lists, the kill having come
            # before the snapshot's row: counted here; the next rotation
            # (which holds the cluster exclusively) removes it.
            if [ "$nnew" -gt 0 ]; then
                orphans=$((orphans + $(grep -c '\.db$' "$T/files.new")))
                orphan_bytes=$((orphan_bytes + $(cd "$T/data/snapshots" &&
                    cat $(cat "$T/files.new") | wc -c)))
            fi
        fi
        while [ "$(wc -l <"$T/snaps")" -gt "$MAXSNAPS" ]; do
            old=$(head -n 1 "$T/snaps")
            kh snapshot delete "$old"
            if [ "$rc" -ne 0 ]; then
                why="snapshot delete $old exits $rc"
                return 1
            fi
            rm -f "$T/smap/$old"
            sed -i 1d "$T/snaps"
        done
        ;;
    esac
    if [ "$dek" -ne "$ver" ] || [ "$cek" -ne "$ver" ]; then
        why="CEK v$cek DEK v$dek after $rot_done rotations (want v$ver)"
        return 1
    fi
    lsblocks=$(awk -F'\t' '{ n += $3 } END { print n + 0 }' "$T/ls")
    if [ "$lsblocks" -ne "$nblocks" ]; then
        why="the objects have $lsblocks blocks, status counts $nblocks"
        return 1
    fi
    present=$(ls "$T/exp" | grep -c -v '\.sha$')
    if [ "$(wc -l <"$T/ls")" -ne "$present" ]; then
        why="ls lists $(wc -l <"$T/ls") objects, $present expected"
        return 1
    fi
    return 0
}

# ---- set-up -----------------------------------------------------------------

echo "# seed $SEED0, $KILLS kills"
START=$(date +%s)
"$HSMSIM_ADMIN" partition create p1 --so-pin so-crash --pin 7531 \
    >"$T/out" 2>"$T/err" </dev/null ||
    bail "hsmsim-admin partition create"
printf '7531\n' >"$T/pw"
kh create c1 --module "$HSMSIM_MODULE" --partition p1 \
    --password-file "$T/pw" --data "$T/data" --block-size 4096
[ "$rc" -eq 0 ] || bail "create c1 (exit $rc)"
ok "an embedded partition and cluster c1 with 4 KiB blocks"
for i in $(seq 0 $((NOBJ / 2 - 1))); do
    newdata "$T/new"
    kh put c1 "o$i" "$T/new"
    [ "$rc" -eq 0 ] || bail "put o$i (exit $rc)"
    set_expected "o$i" "$T/new"
done
check_all || bail "the first objects read back"
status
ok "$((NOBJ / 2)) objects stored, $nblocks block keys"
measured() {
    for m in put rotate snapshot; do measure $m; done
    : >"$T/times"
    for m in 1 2 3; do
        t0=$(now_ms)
        sleep 0.001
        echo "$(($(now_ms) - t0 - 1))" >>"$T/times"
    done
    sleep_ms=$(sort -n "$T/times" | sed -n 2p)
    ok "measured: boot $boot_ms ms, put $dur_put ms ($msize_put bytes), \
rotate $dur_rotate ms ($nblocks block keys), snapshot $dur_snapshot ms, \
sleep $sleep_ms ms"
}
measured

status
# ---- the kills --------------------------------------------------------------

kills_put=0 kills_rotate=0 kills_snapshot=0
mid_put=0 mid_rotate=0 mid_snapshot=0
k=0
while [ "$k" -lt "$KILLS" ]; do
    k=$((k + 1))
    rand 4
    case $R in
    0 | 1) kind=put ;;
    2) kind=rotate ;;
    *) kind=snapshot ;;
    esac
    # The counts as the last check's status saw them.
    pre_objects=$nobjects pre_blocks=$nblocks
    prep_op "$kind"
    delay_for "$kind"
    rand $((d * 5 / 4 + 1))
    delay=$R
    # Starting sleep itself takes sleep_ms: sleep that much less.
    nap=$((delay - sleep_ms))
    start_op "$kind"
    if [ "$nap" -gt 0 ]; then
        sleep "$((nap / 1000)).$(printf '%03d' $((nap % 1000)))"
    fi
    kill -9 "$OPPID" 2>/dev/null
    finish_op
    eval "kills_$kind=\$((kills_$kind + 1))"
    if [ "$opst" -eq 137 ]; then
        eval "mid_$kind=\$((mid_$kind + 1))"
        when=mid-operation
    elif [ "$opst" -eq 0 ]; then
        when="after it finished"
    else
        bail "kill $k: $kind exits $opst on its own ($(cat "$T/op.err"))"
    fi
    what=$kind
    [ "$kind" = put ] && what="put $obj"
    [ "$kind" = snapshot ] && what="snapshot $snap"
    verify "$kind" ||
        bail "kill $k ($what at $delay ms, $when, $state0): $why"
    extra=
    if [ $((k % 20)) -eq 0 ]; then
        check_all || bail "kill $k: object $i does not read back (get $rc)"
        extra=", all objects read back"
    fi
    if [ $((k % 25)) -eq 0 ] && [ -s "$T/snaps" ]; then
        rand "$(wc -l <"$T/snaps")"
        s=$(sed -n "$((R + 1))p" "$T/snaps")
        restore_check "$s" || bail "kill $k: snapshot $s does not restore \
(exit $rc)"
        extra="$extra, $s restored"
    fi
    ok "kill $k: $what at $delay ms ($when, $state0): AVAILABLE, DEK \
v$ver$extra"
    if [ $((k % 50)) -eq 0 ] && [ "$k" -lt "$KILLS" ]; then
        measured
    fi
done

# ---- the end ----------------------------------------------------------------

check_all && ok "after $KILLS kills every object reads back byte-exact" ||
    not_ok "after $KILLS kills object $i does not read back (get $rc)"
bad=
for s in $(cat "$T/snaps"); do
    restore_check "$s" || bad="$bad $s"
done
[ -z "$bad" ] && ok "every listed snapshot ($(wc -l <"$T/snaps")) restores" ||
    not_ok "snapshots that do not restore:$bad"
kh snapshot list c1
listed=$(wc -l <"$T/out")
[ "$listed" -eq "$(wc -l <"$T/snaps")" ] &&
    ok "snapshot list shows exactly the $listed snapshots kept" ||
    not_ok "snapshot list shows $listed, $(wc -l <"$T/snaps") kept"
# A rotation sweeps the copies killed snapshot creates left.
kh rotate c1
[ "$rc" -eq 0 ] && ok "a last rotation" || not_ok "the last rotation exits $rc"
files=$(snapfiles | wc -l)
[ "$files" -eq "$listed" ] &&
    ok "one snapshot file per listed snapshot ($files)" ||
    not_ok "$files snapshot files for $listed listed snapshots"

END=$(date +%s)
mid=$((mid_put + mid_rotate + mid_snapshot))
echo "# kills: $KILLS (put $kills_put, rotate $kills_rotate, snapshot \
$kills_snapshot)"
echo "# mid-operation: $mid (put $mid_put, rotate $mid_rotate, snapshot \
$mid_snapshot); after the operation finished: $((KILLS - mid))"
echo "# rotations: $rot_done completed ($rot_resumed found ROTATING_KEYS \
after a kill and completed by the next boot); CEK/DEK v$ver"
echo "# snapshot restores: $restores; wall time $((END - START)) s"
echo "# snapshot copies left by killed snapshot creates and listed by \
nothing: $orphans ($orphan_bytes bytes), swept by the next rotation"
echo "1..$n"
[ "$failed" -eq 0 ]
