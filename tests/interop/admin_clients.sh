#!/bin/sh
# SPDX-License-Identifier: MIT
# admin_clients.sh - the appliance's client registry through hsmsim-admin:
# register, assign, unassign, list, show, delete, --json, and every bad
# argument (exit 2, one line) and refusal (exit 1, one line).
set -eu

NAME=admin_clients.sh
command -v openssl >/dev/null || { echo "$NAME: openssl is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "$NAME: python3 is required" >&2; exit 1; }
. "$(dirname "$0")/admin_lib.sh"
mkdir -p "$T/store"
printf 'store = %s\npin_kdf_iterations = 1000\n' "$T/store" >"$T/hsmsim.conf"
HSMSIM_CONF=$T/hsmsim.conf
export HSMSIM_CONF

fails_with() { # fails_with RC TEXT: exit RC and one stderr line with TEXT
    rc_is "$1" && one_err_line && grep -q -- "$2" "$T/err"
}
json() { python3 -c "import json; d = json.load(open('$T/out')); $1"; }
ssl_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }

run partition create db1 --so-pin so-secret --pin user-secret
run partition create db2 --so-pin so-secret --pin user-secret
"$ADMIN" client cert create --cn app1 --out "$T/certs" >/dev/null
"$ADMIN" client cert create --cn app2 --out "$T/certs" >/dev/null
fp1=$(ssl_fp "$T/certs/app1.pem")

run client register app1 --cert "$T/certs/app1.pem"
check "register exits 0" rc_is 0
check "register prints the certificate's fingerprint" out_has "SHA-256: *$fp1"
check "clients.db is 0600" sh -c "[ \$(stat -c %a '$T/store/clients.db') = 600 ]"
run client register app1 --cert "$T/certs/app2.pem"
check "a second client of the same name is refused" fails_with 1 "named 'app1'"
run client register other --cert "$T/certs/app1.pem"
check "the same certificate under another name is refused" \
    fails_with 1 "registered as 'app1'"
run client register app3 --cert "$T/certs/app1.key"
check "a key is not a certificate" fails_with 1 "not a PEM certificate"
run client register app3 --cert "$T/none.pem"
check "a missing file is named" fails_with 1 "none.pem"
run client register app2 --cert "$T/certs/app2.pem"

run client assign app1 db1
check "assign exits 0" rc_is 0
run client assign app1 db1
check "assigning twice is refused" fails_with 1 "already assigned"
run client assign app1 nosuch
check "a partition that does not exist is refused" \
    fails_with 1 "no partition named 'nosuch'"
run client assign ghost db1
check "a client that does not exist is refused" \
    fails_with 1 "no client named 'ghost'"
run client assign app1 db2
run --json client show app1
check "show --json lists both partitions and the fingerprint" \
    json "assert d['partitions'] == ['db1', 'db2'] and d['sha256'] == '$fp1'"
run client unassign app1 db1
check "unassign exits 0" rc_is 0
run client unassign app1 db1
check "unassigning what is not assigned is refused" \
    fails_with 1 "not assigned"
run client show app1
check "show lists what is left" out_has "partitions:  \"db2\""
run --json client list
check "list --json has both clients, by name" \
    json "assert [c['name'] for c in d] == ['app1', 'app2'] and d[1]['partitions'] == []"
run client list
check "list prints a line a client" sh -c "[ \$(wc -l <'$T/out') = 2 ]"
run client delete app1
check "delete exits 0" rc_is 0
run client show app1
check "a deleted client is gone" fails_with 1 "no client named 'app1'"
run client delete app1
check "deleting twice is refused" fails_with 1 "no client named 'app1'"
run client register app1 --cert "$T/certs/app1.pem"
run --json client show app1
check "a client registered again starts with no partitions" \
    json "assert d['partitions'] == []"

for bad in "register" "register app9" "register app9 --cert" \
    "register app9 --cert $T/certs/app2.pem --bogus" "assign" "assign app1" \
    "unassign app1" "show" "delete" "list extra" "show a b"; do
    # shellcheck disable=SC2086
    run client $bad
    if rc_is 2 && one_err_line; then
        ok "client $bad: exit 2, one line"
    else
        not_ok "client $bad: exit 2, one line (got $rc)"
    fi
done
run client assign app1 db2
run partition delete db2
run --json client show app1
check "deleting a partition takes it from every client" \
    json "assert d['partitions'] == []"
run partition create db2 --so-pin so-secret --pin user-secret
run --json client show app1
check "... and a new partition of that name is not assigned by it" \
    json "assert d['partitions'] == []"

long=$(printf 'n%.0s' $(seq 1 70))
run client register "$long" --cert "$T/certs/app2.pem"
check "a name over 64 bytes: exit 2" rc_is 2

admin_finish
