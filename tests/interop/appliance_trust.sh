#!/bin/sh
# SPDX-License-Identifier: MIT
# appliance_trust.sh - hsmsimd and its clients end to end, as a user sets
# them up: the daemon's command line and configuration (one-line errors,
# exit 2), `hsmsim-admin verify` on a client (what it lists, and exactly
# why it cannot), pkcs11-tool over the trust link, SIGHUP and SIGTERM.
set -eu
NAME=appliance_trust
. "$(dirname "$0")/admin_lib.sh"
[ -n "${HSMSIM_MODULE:-}" ] || admin_die "HSMSIM_MODULE is not set"
HSMSIMD=$(dirname "$ADMIN")/hsmsimd
[ -x "$HSMSIMD" ] || admin_die "$HSMSIMD is not built"
command -v pkcs11-tool >/dev/null || admin_die "pkcs11-tool is not installed"

D=$T/appliance
ACONF=$T/admin.conf
printf 'store = %s\npin_kdf_iterations = 1000\n' "$D" >"$ACONF"
export HSMSIM_CONF="$ACONF"

# hsmsimd's own runs: output in $T/out and $T/err, status in $rc.
daemon() {
    set +e
    timeout 10 "$HSMSIMD" "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    set -e
}
one_daemon_line() {
    [ "$(wc -l <"$T/err" | tr -d ' ')" = 1 ] && grep -q '^hsmsimd: ' "$T/err"
}

# ---- the identity -----------------------------------------------------------
daemon --init --dir "$D"
check "--init makes the identity" rc_is 0
check "--init prints the fingerprint" out_has '^SHA256 fingerprint: [0-9A-F:]\{95\}$'
check "server.key is 0600" sh -c "[ \$(stat -c %a '$D/server.key') = 600 ]"
daemon --init --dir "$D"
check "--init twice: exit 1... or 2, never over the key" sh -c '[ "$0" -ne 0 ]' "$rc"
check "--init twice: one line" one_daemon_line
daemon --init
check "--init without --dir: exit 2" rc_is 2
check "--init without --dir: one line" one_daemon_line

# ---- bad configurations: one line, exit 2 -------------------------------------
bad_conf() {
    desc=$1
    shift
    printf '%s\n' "$@" >"$T/bad.conf"
    daemon --conf "$T/bad.conf"
    check "$desc: exit 2" rc_is 2
    check "$desc: one line" one_daemon_line
}
bad_conf "unknown key" "listen = 127.0.0.1:0" "dir = $D" "colour = blue"
bad_conf "no listen" "dir = $D"
bad_conf "no dir" "listen = 127.0.0.1:0"
bad_conf "listen without a port" "listen = 127.0.0.1" "dir = $D"
bad_conf "relative dir" "listen = 127.0.0.1:0" "dir = appliance"
bad_conf "max_connections 0" "listen = 127.0.0.1:0" "dir = $D" "max_connections = 0"
bad_conf "log to a file" "listen = 127.0.0.1:0" "dir = $D" "log = file"
bad_conf "no identity" "listen = 127.0.0.1:0" "dir = $T"
bad_conf "free_slot maybe" "listen = 127.0.0.1:0" "dir = $D" "free_slot = maybe"
daemon --conf "$T/missing.conf"
check "missing configuration: exit 2" rc_is 2
check "missing configuration: one line" one_daemon_line
daemon --bogus
check "unknown option: exit 2" rc_is 2
check "unknown option: one line" one_daemon_line

# ---- a partition, a client, a running appliance -------------------------------
run partition create alpha --so-pin so-pin-1234 --pin user-pin-1234
check "partition alpha" rc_is 0
run partition create beta --so-pin so-pin-1234 --pin user-pin-1234
check "partition beta" rc_is 0
run client cert create --cn app1 --out "$T/c1"
run client cert create --cn app2 --out "$T/c2"
run client register app1 --cert "$T/c1/app1.pem"
check "app1 registered" rc_is 0
run client assign app1 alpha
check "app1 assigned alpha" rc_is 0

cat >"$T/hsmsimd.conf" <<EOF
listen = 127.0.0.1:0
dir = $D
audit = $T/audit.log
pin_kdf_iterations = 1000
log_level = info
EOF
"$HSMSIMD" --conf "$T/hsmsimd.conf" --port-file "$T/port" 2>"$T/daemon.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$T"' EXIT
tries=0
while [ ! -s "$T/port" ] && [ "$tries" -lt 100 ]; do
    tries=$((tries + 1))
    sleep 0.05
done
PORT=$(cat "$T/port")
check "hsmsimd listens on a port it picked" sh -c "[ '$PORT' -gt 0 ]"

# client_conf NAME SERVER_CERT: the module's configuration for a client.
client_conf() {
    cat >"$T/$1.conf" <<EOF
mode = network
server = 127.0.0.1:${3:-$PORT}
server_cert = $2
client_cert = $T/c${1#app}/$1.pem
client_key = $T/c${1#app}/$1.key
timeout_ms = 2000
store = $T/no-store-here
EOF
}
client_conf app1 "$D/server.pem"
client_conf app2 "$D/server.pem"
run appliance cert --dir "$D"
cp "$T/out" "$T/printed.pem"
sed -n '/BEGIN CERT/,/END CERT/p' "$T/printed.pem" >"$T/pinned.pem"

# ---- verify ------------------------------------------------------------------
run --conf "$T/app1.conf" verify
check "verify app1: exit 0" rc_is 0
check "verify app1: lists alpha" out_has '^  slot [0-9]* *alpha '
check "verify app1: not beta" sh -c "! grep -q beta '$T/out'"
check "verify app1: one partition" out_has '^1 partition assigned to this client:$'
run --conf "$T/app1.conf" --json verify
check "verify --json: valid, connected, alpha" sh -c \
    "python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"connected\"] and [p[\"name\"] for p in d[\"partitions\"]]==[\"alpha\"]' <'$T/out'"
run --conf "$T/app2.conf" verify
check "verify unregistered: exit 1" rc_is 1
check "verify unregistered: says not registered" err_has 'is not registered on this appliance'
check "verify unregistered: one line" one_err_line
client_conf app1 "$T/c2/app2.pem"
run --conf "$T/app1.conf" verify
check "verify wrong pin: exit 1" rc_is 1
check "verify wrong pin: says so" err_has 'not the pinned one'
client_conf app1 "$T/pinned.pem"
run --conf "$T/app1.conf" verify
check "verify with the printed certificate: exit 0" rc_is 0
run --conf "$ACONF" verify
check "verify on an embedded configuration: exit 1" rc_is 1
check "verify on an embedded configuration: one line" one_err_line
run --conf "$T/app1.conf" verify extra
check "verify with an argument: exit 2" rc_is 2
check "verify with an argument: one line" one_err_line
client_conf app1 "$D/server.pem" 1
run --conf "$T/app1.conf" verify
check "verify, nothing listening: exit 1" rc_is 1
check "verify, nothing listening: cannot connect" err_has 'cannot connect'
client_conf app1 "$D/server.pem"

# ---- the module over the link ---------------------------------------------------
p11() {
    set +e
    HSMSIM_CONF=$T/app1.conf timeout 30 pkcs11-tool --module "$HSMSIM_MODULE" "$@" \
        >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    set -e
}
p11 -L
check "pkcs11-tool -L over the link" out_has 'token label *: alpha'
check "no free slot in network mode" sh -c "! grep -q 'uninitialized' '$T/out'"
p11 --login --pin user-pin-1234 --keygen --key-type AES:32 --label cek \
    --id 0a1bff
check "a key generated inside the appliance" rc_is 0
p11 --login --pin user-pin-1234 -O
check "and listed" out_has 'label: *cek'
check "the client keeps no store" sh -c "[ ! -e '$T/no-store-here' ]"
check "the audit log records the key's generation" wait_for 1 \
    '"call":"C_GenerateKey".*"label":"cek","id":"0a1bff"' "$T/audit.log"
check "the audit log is 0600" sh -c "[ \$(stat -c %a '$T/audit.log') = 600 ]"

# ---- SIGHUP reopens the audit log; SIGTERM stops cleanly --------------------------
mv "$T/audit.log" "$T/audit.log.1"
kill -HUP "$pid"
sleep 0.5
p11 --login --pin user-pin-1234 -O
check "after SIGHUP a new audit log" wait_for 1 C_Login "$T/audit.log"
check "the old one stays whole" sh -c "grep -q C_GenerateKey '$T/audit.log.1'"
kill -TERM "$pid"
set +e
wait "$pid"
status=$?
set -e
check "SIGTERM: exit 0" sh -c "[ $status -eq 0 ]"
check "SIGTERM: logged the stop" sh -c "grep -q 'hsmsim: info: stopped' '$T/daemon.log'"
# A module that never reached its appliance knows no slot; each call
# returns within timeout_ms (2 s here) with an answer, not a hang.
start=$(date +%s)
p11 -L
check "appliance down: -L exits 1 (pkcs11-tool's 'No slots.')" rc_is 1
check "appliance down: no slots known yet" err_has '^No slots\.$'
check "appliance down: the module says why" err_has 'cannot connect: Connection refused'
check "appliance down: within the bound" sh -c "[ \$((\$(date +%s) - $start)) -lt 10 ]"
admin_finish
