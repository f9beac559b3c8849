#!/bin/sh
# SPDX-License-Identifier: MIT
# admin_audit.sh - hsmsim-admin audit on the log of a real hsmsimd: the
# calls pkcs11-tool makes through the module in network mode and a client
# the appliance refuses, as text and --json, the filters, --follow (a
# line appended, the log rotated, the log truncated, SIGTERM and SIGINT),
# lines that do not parse, where the file comes from, and bad arguments
# (exit 2, one line).
set -eu

NAME=admin_audit.sh
for tool in pkcs11-tool python3 openssl timeout; do
    command -v "$tool" >/dev/null ||
        { echo "$NAME: $tool is required" >&2; exit 1; }
done
# shellcheck source=admin_lib.sh
. "$(dirname "$0")/admin_lib.sh"
if [ -z "${HSMSIM_MODULE:-}" ] || [ ! -f "$HSMSIM_MODULE" ]; then
    admin_die "HSMSIM_MODULE is not set (the module)"
fi
BUILD=$(cd "$(dirname "$ADMIN")" && pwd)
HSMSIMD=$BUILD/hsmsimd
[ -x "$HSMSIMD" ] || admin_die "$HSMSIMD is not an executable"
M=$HSMSIM_MODULE
unset HSMSIM_APPLIANCE_CONF

daemon_pid=
follow_pid=
cleanup() {
    for p in $follow_pid $daemon_pid; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

D=$T/appliance
C=$T/certs
LOG=$T/audit.log
mkdir -p "$D"
printf 'store = %s\npin_kdf_iterations = 1000\n' "$D" >"$T/admin.conf"
HSMSIM_CONF=$T/admin.conf
export HSMSIM_CONF

# setup ARGS...: an hsmsim-admin step that must work.
setup() {
    "$ADMIN" "$@" >/dev/null 2>"$T/err" </dev/null ||
        admin_die "hsmsim-admin $* failed: $(cat "$T/err")"
}
ssl_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
# count PATTERN [FILE]: lines of FILE ($T/out) matching the ERE PATTERN.
count_is() { [ "$(count "$2" "${3:-$T/out}")" -eq "$1" ]; }
lines_is() { [ "$(wc -l <"${2:-$T/out}" | tr -d ' ')" -eq "$1" ]; }
no_err() { [ ! -s "$T/err" ]; }
# jcheck EXPR: a Python expression over `out` (the lines of $T/out) and
# `log` (those of the audit log), each line parsed as JSON.
jcheck() {
    python3 - "$T/out" "$LOG" "$1" <<'EOF'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
log = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
sys.exit(0 if eval(sys.argv[3]) else 1)
EOF
}
# stopped PID: the process ends within 5 s; sets $rc to its exit status.
stopped() {
    tries=0
    while kill -0 "$1" 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then
            kill -9 "$1" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
    set +e
    wait "$1"
    rc=$?
    set -e
}

# --- an appliance, two clients, a stranger, and hsmsimd -------------------

setup appliance init --dir "$D"
setup partition create db1 --so-pin so-secret --pin user-secret
setup partition create db2 --so-pin so-secret --pin user-secret
for cn in app1 app2 stranger; do
    setup client cert create --cn "$cn" --out "$C"
done
setup client register app1 --cert "$C/app1.pem"
setup client register app2 --cert "$C/app2.pem"
setup client assign app1 db1
setup client assign app2 db2
printf 'listen = 127.0.0.1:0\ndir = %s\naudit = %s\n' "$D" "$LOG" \
    >"$T/hsmsimd.conf"
printf 'pin_kdf_iterations = 1000\nlog_level = warn\n' >>"$T/hsmsimd.conf"
"$HSMSIMD" --conf "$T/hsmsimd.conf" --port-file "$T/port" \
    2>>"$T/hsmsimd.log" </dev/null &
daemon_pid=$!
tries=0
while [ ! -s "$T/port" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ] || ! kill -0 "$daemon_pid" 2>/dev/null; then
        admin_die "hsmsimd did not start: $(cat "$T/hsmsimd.log")"
    fi
    sleep 0.05
done
port=$(cat "$T/port")
for cn in app1 app2 stranger; do
    mkdir -p "$T/store-$cn"
    {
        printf 'store = %s/store-%s\nmode = network\n' "$T" "$cn"
        printf 'server = 127.0.0.1:%s\nserver_cert = %s/server.pem\n' \
            "$port" "$D"
        printf 'client_cert = %s/%s.pem\nclient_key = %s/%s.key\n' \
            "$C" "$cn" "$C" "$cn"
    } >"$T/$cn.conf"
done

# p11 CLIENT ARGS...: pkcs11-tool through the module as CLIENT; sets
# $p11_rc, output in $T/p11.out.
p11() {
    who=$1
    shift
    set +e
    HSMSIM_CONF=$T/$who.conf timeout 30 pkcs11-tool --module "$M" "$@" \
        >"$T/p11.out" 2>&1 </dev/null
    p11_rc=$?
    set -e
}
p11_ok() { [ "$p11_rc" -eq 0 ]; }
p11_failed_with() { [ "$p11_rc" -eq 1 ] && grep -q -- "$1" "$T/p11.out"; }
keygen() { # keygen CLIENT PARTITION LABEL ID
    p11 "$1" --token-label "$2" --login --pin user-secret \
        --keygen --key-type AES:32 --label "$3" --id "$4"
}

keygen app1 db1 aeskey1 0a0b
check "app1 makes an AES key through the appliance" p11_ok
head -c 48 /dev/urandom >"$T/plain"
p11 app1 --token-label db1 --login --pin user-secret --encrypt \
    -m AES-CBC-PAD --id 0a0b --iv 000102030405060708090a0b0c0d0e0f \
    -i "$T/plain" -o "$T/cipher"
check "app1 encrypts with it" p11_ok
p11 app1 --token-label db1 --login --pin wrong-pin -O
check "app1 with a wrong PIN: CKR_PIN_INCORRECT" \
    p11_failed_with CKR_PIN_INCORRECT
keygen app2 db2 app2key 0c
check "app2 makes a key in its own partition" p11_ok
p11 stranger -L
check "a client that is not registered is refused" p11_failed_with refused
# The refusal is written after the client was told: wait for it.
check "the refusal reaches the log" wait_for 1 '"event":"refused"' "$LOG"

check "the audit log is 0600" \
    sh -c "[ \$(stat -c %a '$LOG') = 600 ]"
check "no PIN is in the log" count_is 0 'user-secret|so-secret|wrong-pin' \
    "$LOG"
nlog=$(wc -l <"$LOG" | tr -d ' ')

# --- text ------------------------------------------------------------------

TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z +'
run audit --file "$LOG"
check "audit --file: exit 0, nothing on stderr" sh -c "[ $rc = 0 ] && \
    [ ! -s '$T/err' ]"
check "one text line per event, each with its ISO 8601 time" \
    sh -c "[ \$(grep -c -E '$TS' '$T/out') = $nlog ] && \
    [ \$(wc -l <'$T/out') = $nlog ]"
check "the good logins: C_Login CKR_OK, app1 on db1, twice" count_is 2 \
    "${TS}call +app1 +db1 +C_Login +- +CKR_OK\$"
check "the wrong PIN: C_Login CKR_PIN_INCORRECT, once" count_is 1 \
    "${TS}call +app1 +db1 +C_Login +- +CKR_PIN_INCORRECT\$"
check "C_GenerateKey with the key's handle, label and ID" count_is 1 \
    "${TS}call +app1 +db1 +C_GenerateKey +#[0-9]+ \"aeskey1\" id=0a0b +CKR_OK\$"
check "app2's C_GenerateKey in db2" count_is 1 \
    "${TS}call +app2 +db2 +C_GenerateKey +#[0-9]+ \"app2key\" id=0c +CKR_OK\$"
gen=$(sed -n 's/.*C_GenerateKey *\(#[0-9]*\) "aeskey1".*/\1/p' "$T/out")
check "the encryption names the same key, and says it encrypts" count_is 1 \
    "${TS}call +app1 +db1 +C_\\*Init +$gen \"aeskey1\" id=0a0b +CKR_OK +encrypt\$"
check "a connection per pkcs11-tool run, with its peer" count_is 4 \
    "${TS}connected +app[12] +- +- +- +- +new client context \(peer 127\.0\.0\.1:[0-9]+\)\$"
check "the refusal: no client, the peer named" count_is 1 \
    "${TS}refused +- +- +- +- +- +.+ \(peer 127\.0\.0\.1:[0-9]+\)\$"
check "the refusal says the stranger's fingerprint" count_is 1 \
    "refused .*$(ssl_fp "$C/stranger.pem")"
# Columns: time (24), event (16), client (12), partition (12), each and
# two spaces; the event starts at 27, the client at 45, the partition at 59.
# shellcheck disable=SC2016
check "the columns are aligned" awk '
    substr($0, 25, 2) != "  " || substr($0, 27, 1) == " " ||
    substr($0, 43, 2) != "  " || substr($0, 45, 1) == " " ||
    substr($0, 57, 2) != "  " || substr($0, 59, 1) == " " { bad++ }
    END { exit bad > 0 }' "$T/out"
check "no PIN in the output" count_is 0 'user-secret|so-secret|wrong-pin'

# --- --json -----------------------------------------------------------------

run --json audit --file "$LOG"
check "--json: exit 0, the lines exactly as they are in the log" \
    sh -c "[ $rc = 0 ] && [ ! -s '$T/err' ] && cmp -s '$T/out' '$LOG'"
check "--json lines are valid JSON" sh -c "python3 -c 'import json,sys; \
    [json.loads(l) for l in sys.stdin]' <'$T/out'"
check "--json: app1's logins, the wrong PIN's rv 0x000000A0" jcheck \
    "[e['rv'] for e in out if e.get('call') == 'C_Login' and \
    e['client'] == 'app1'] == ['0x00000000'] * 2 + ['0x000000A0']"
check "--json: the refusal has the stranger's fingerprint and no client" \
    jcheck "[(e['fingerprint'], 'client' in e) for e in out if \
    e['event'] == 'refused'] == [('$(ssl_fp "$C/stranger.pem")', False)]"
run audit --file "$LOG" --json
check "--json after the command works as well" cmp -s "$T/out" "$LOG"

# --- filters ----------------------------------------------------------------

run --json audit --file "$LOG" --client app1
check "--client app1: exactly app1's lines, in order" jcheck \
    "out == [e for e in log if e.get('client') == 'app1'] and len(out) == 8"
run --json audit --file "$LOG" --client=app2
check "--client=app2: exactly app2's lines" jcheck \
    "out == [e for e in log if e.get('client') == 'app2'] and len(out) == 3"
run --json audit --file "$LOG" --partition db2
check "--partition db2: exactly db2's lines" jcheck \
    "out == [e for e in log if e.get('partition') == 'db2'] and len(out) == 2"
run --json audit --file "$LOG" --partition db1 --client app1
check "--client and --partition: both must match" jcheck \
    "out == [e for e in log if e.get('partition') == 'db1'] and len(out) == 5"
run audit --file "$LOG" --client app1 --partition db2
check "--client app1 --partition db2: nothing, exit 0" \
    sh -c "[ $rc = 0 ] && [ ! -s '$T/out' ] && [ ! -s '$T/err' ]"
run audit --file "$LOG" --client app
check "--client is an exact match, not a prefix" \
    sh -c "[ $rc = 0 ] && [ ! -s '$T/out' ]"
run audit --file "$LOG" --client app2
check "--client app2 in text: three lines, all app2's" \
    sh -c "[ \$(wc -l <'$T/out') = 3 ] && \
    [ \$(grep -c -E '${TS}[a-z]+ +app2 ' '$T/out') = 3 ]"

# --- lines that do not parse ------------------------------------------------

COPY=$T/copy.log
{
    sed -n 1,2p "$LOG"
    echo 'this is not json'
    sed -n 3,5p "$LOG"
    printf '%s\n' '{"time":"x","event":"call","label":"cut'
    sed -n '6,$p' "$LOG"
    python3 -c "print('{\"time\":\"' + 'a' * 70000 + '\"}')"
    printf '{"time":"x\001","event":"call"}\n'
    printf '{"time":"x","event":"call","session":"7"}\n'
    printf '{"time":"x","event":"call","client":"a","client":"b"}\n'
} >"$COPY"
cat >"$T/want.err" <<EOF
hsmsim-admin: $COPY:3: skipped: not a JSON object at byte 1
hsmsim-admin: $COPY:7: skipped: unterminated string at byte 40
hsmsim-admin: $COPY:15: skipped: longer than 65536 bytes
hsmsim-admin: $COPY:16: skipped: control character in a string at byte 11
hsmsim-admin: $COPY:17: skipped: a member is not a number
hsmsim-admin: $COPY:18: skipped: a member given twice
EOF
run audit --file "$LOG"
cp "$T/out" "$T/all.txt"
run audit --file "$COPY"
check "bad lines: each named on stderr with its line number and why" \
    cmp -s "$T/err" "$T/want.err"
check "bad lines: every good line still printed" cmp -s "$T/out" "$T/all.txt"
check "bad lines: exit 1 (the log could not all be read)" rc_is 1
run --json audit --file "$COPY"
check "bad lines, --json: exactly the good lines" cmp -s "$T/out" "$LOG"
head -c -1 "$LOG" >"$COPY"
run --json audit --file "$COPY"
check "a last line without its newline is read" \
    sh -c "[ $rc = 0 ] && cmp -s '$T/out' '$LOG'"

# --- where the log comes from -----------------------------------------------

HSMSIM_APPLIANCE_CONF=$T/hsmsimd.conf
export HSMSIM_APPLIANCE_CONF
run audit
check "without --file: the audit = line of \$HSMSIM_APPLIANCE_CONF" \
    sh -c "[ $rc = 0 ] && cmp -s '$T/out' '$T/all.txt'"
printf 'listen = 127.0.0.1:0\ndir = %s\n' "$D" >"$T/noaudit.conf"
HSMSIM_APPLIANCE_CONF=$T/noaudit.conf
run audit
check "an appliance without an audit log: exit 1, one line" \
    sh -c "[ $rc = 1 ] && grep -q \"no 'audit =' line\" '$T/err'"
check "... one line" one_err_line
HSMSIM_APPLIANCE_CONF=$T/none.conf
run audit
check "no appliance configuration: exit 1, one line naming it" \
    sh -c "[ $rc = 1 ] && grep -q 'none.conf: cannot read' '$T/err'"
check "... one line" one_err_line
unset HSMSIM_APPLIANCE_CONF
run audit --file "$T/none.log"
check "a missing log: exit 1, one line naming it" \
    sh -c "[ $rc = 1 ] && grep -q 'none.log: No such file' '$T/err'"
check "... one line" one_err_line
run audit --file "$T"
check "a directory is not a log: exit 1, one line" \
    sh -c "[ $rc = 1 ] && grep -q 'Is a directory' '$T/err'"

# --- bad arguments ----------------------------------------------------------

for bad in "--bogus" "extra" "--file" "--client" "--partition" \
    "--file=" "--client=" "--follow --follow" "--follow=yes" \
    "--file $LOG stray"; do
    # shellcheck disable=SC2086
    run audit $bad
    if rc_is 2 && one_err_line && [ ! -s "$T/out" ]; then
        ok "audit $bad: exit 2, one line"
    else
        not_ok "audit $bad: exit 2, one line (got $rc)"
    fi
done
run audit --help
check "audit --help: exit 0, the synopsis" \
    sh -c "[ $rc = 0 ] && grep -q 'audit \[--file FILE\] \[--follow\]' '$T/out'"

# --- --follow ---------------------------------------------------------------

"$ADMIN" audit --file "$LOG" --follow --client app1 \
    >"$T/follow.out" 2>"$T/follow.err" </dev/null &
follow_pid=$!
check "--follow first prints what is there" wait_for 8 "$TS" "$T/follow.out"
keygen app1 db1 follow-key 0f
check "--follow prints a line appended after it started" wait_for 1 \
    "${TS}call +app1 +db1 +C_GenerateKey +#[0-9]+ \"follow-key\" id=0f +CKR_OK\$" \
    "$T/follow.out"
check "--follow is still running" kill -0 "$follow_pid"
sleep 1
check "--follow does not busy-loop (under 0.5 s of CPU)" \
    sh -c "[ \$(awk '{ print \$14 + \$15 }' /proc/$follow_pid/stat) -lt 50 ]"

mv "$LOG" "$LOG.1"
kill -HUP "$daemon_pid"
check "hsmsimd makes the log again after SIGHUP" \
    sh -c "for i in \$(seq 100); do [ -f '$LOG' ] && exit 0; sleep 0.05; \
    done; exit 1"
check "the new log is 0600" sh -c "[ \$(stat -c %a '$LOG') = 600 ]"
keygen app1 db1 rotated-key 10
check "--follow reads the new file after a rotation" wait_for 1 \
    'C_GenerateKey +#[0-9]+ "rotated-key"' "$T/follow.out"

: >"$LOG"
sleep 0.5 # a poll sees the file shrink before it grows again
keygen app1 db1 trunc-key 11
check "--follow reads the file again from its start after a truncation" \
    wait_for 1 'C_GenerateKey +#[0-9]+ "trunc-key"' "$T/follow.out"
check "--follow printed every app1 line once, and only those" \
    sh -c "[ \$(wc -l <'$T/follow.out') = 17 ] && \
    [ \$(grep -c -E '${TS}[a-z]+ +app1 ' '$T/follow.out') = 17 ]"
check "--follow said nothing on stderr" test ! -s "$T/follow.err"
kill -TERM "$follow_pid"
stopped "$follow_pid"
follow_pid=
check "--follow: SIGTERM ends it with exit 0" rc_is 0

"$ADMIN" --json audit --follow --file "$LOG" >"$T/follow.out" \
    2>"$T/follow.err" </dev/null &
follow_pid=$!
check "--json --follow prints the lines as they are" wait_for 3 \
    '^\{"time":' "$T/follow.out"
kill -INT "$follow_pid"
stopped "$follow_pid"
follow_pid=
check "--follow: SIGINT ends it with exit 0" rc_is 0
check "... after printing exactly the log" cmp -s "$T/follow.out" "$LOG"

admin_finish
