#!/bin/sh
# SPDX-License-Identifier: MIT
# admin_certs.sh - the trust link's certificates: hsmsim-admin "client cert
# create", "appliance init" and "appliance cert", and certs/make-cert.sh,
# each checked with openssl(1), bad arguments included.
set -eu

NAME=admin_certs.sh
command -v openssl >/dev/null || { echo "$NAME: openssl is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "$NAME: python3 is required" >&2; exit 1; }
MAKE_CERT=$(cd "$(dirname "$0")/../.." && pwd)/certs/make-cert.sh
. "$(dirname "$0")/admin_lib.sh"

mode_is() { [ "$(stat -c %a "$2")" = "$1" ]; }
# The fingerprint openssl computes for a certificate file.
ssl_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
# The private key and the certificate hold the same public key.
pair_matches() {
    [ "$(openssl pkey -in "$1" -pubout)" = \
      "$(openssl x509 -in "$2" -noout -pubkey)" ]
}
has_ext() { openssl x509 -in "$1" -noout -text | grep -q -- "$2"; }

# ---- client cert create ------------------------------------------------
C=$T/client
run client cert create --cn app-one --out "$C"
check "client cert create exits 0" rc_is 0
check "the key is 0600" mode_is 600 "$C/app-one.key"
check "the certificate is 0644" mode_is 644 "$C/app-one.pem"
check "the subject is CN=app-one" \
    sh -c "openssl x509 -in '$C/app-one.pem' -noout -subject | grep -q 'CN = app-one'"
check "it is for client authentication" \
    has_ext "$C/app-one.pem" "TLS Web Client Authentication"
check "the key and the certificate match" \
    pair_matches "$C/app-one.key" "$C/app-one.pem"
fp=$(ssl_fp "$C/app-one.pem")
check "the printed SHA-256 fingerprint is openssl's" \
    grep -q "SHA-256: *$fp" "$T/out"
check "the printed PEM is the file" \
    sh -c "sed -n '/BEGIN/,/END/p' '$T/out' | cmp -s - '$C/app-one.pem'"
sum=$(cat "$C/app-one.key" "$C/app-one.pem" | openssl dgst -sha256)
run client cert create --cn app-one --out "$C"
check "a second create of the same name exits 1" rc_is 1
check "... with one line saying the file exists" \
    sh -c "[ \$(wc -l <'$T/err') = 1 ] && grep -q 'File exists' '$T/err'"
check "... and leaves both files as they were" \
    sh -c "[ \"\$(cat '$C/app-one.key' '$C/app-one.pem' | openssl dgst -sha256)\" = '$sum' ]"
run client cert create --cn short --out "$C" --days 1
check "--days 1 makes a certificate that ends within two days" \
    sh -c "! openssl x509 -in '$C/short.pem' -noout -checkend 172800 >/dev/null"
run --json client cert create --cn js --out "$C"
check "--json prints the fingerprint and the PEM" python3 -c "
import json, sys
d = json.load(open('$T/out'))
assert d['sha256'] == '$(ssl_fp "$C/js.pem" 2>/dev/null || echo x)', d
assert d['pem'].startswith('-----BEGIN CERTIFICATE-----')
assert d['subject'] == '/CN=js'
"

for bad in "--out $C" "--cn x" "--cn x --out $C --days 0" \
    "--cn x --out $C --days lots" "--cn a/b --out $C" "--cn .hidden --out $C" \
    "--cn x --out $C --bogus" "--cn x --out $C extra"; do
    # shellcheck disable=SC2086
    run client cert create $bad
    if rc_is 2 && one_err_line; then
        ok "client cert create $bad: exit 2, one line"
    else
        not_ok "client cert create $bad: exit 2, one line (got $rc)"
    fi
done

# ---- appliance init / cert ---------------------------------------------
A=$T/appliance
run appliance init --dir "$A"
check "appliance init exits 0" rc_is 0
check "server.key is 0600" mode_is 600 "$A/server.key"
check "it is for server authentication" \
    has_ext "$A/server.pem" "TLS Web Server Authentication"
check "it names 127.0.0.1" has_ext "$A/server.pem" "IP Address:127.0.0.1"
check "server.key and server.pem match" \
    pair_matches "$A/server.key" "$A/server.pem"
run appliance init --dir "$A"
check "a second init exits 1 and keeps the identity" \
    sh -c "[ $rc -eq 1 ] && grep -q 'File exists' '$T/err'"
run appliance cert --dir "$A"
check "appliance cert prints openssl's fingerprint" \
    grep -q "SHA-256: *$(ssl_fp "$A/server.pem")" "$T/out"
run --json appliance cert --dir "$A"
check "appliance cert --json is JSON with the fingerprint" python3 -c "
import json
d = json.load(open('$T/out'))
assert d['sha256'] == '$(ssl_fp "$A/server.pem")'
assert d['subject'] == '/CN=hsmsim appliance'
"
run appliance cert --dir "$T/nowhere"
check "appliance cert without an identity exits 1, one line" \
    sh -c "[ $rc -eq 1 ] && [ \$(wc -l <'$T/err') = 1 ] && grep -q 'appliance init' '$T/err'"
run appliance cert
check "appliance cert without --dir exits 2, one line" \
    sh -c "[ $rc -eq 2 ] && [ \$(wc -l <'$T/err') = 1 ]"
run appliance init --dir "$A" --days 0
check "appliance init --days 0 exits 2" rc_is 2

# ---- certs/make-cert.sh --------------------------------------------------
M=$T/openssl
set +e
"$MAKE_CERT" client app-two "$M" >"$T/out" 2>"$T/err"
rc=$?
set -e
check "make-cert.sh client exits 0" rc_is 0
check "its key is 0600" mode_is 600 "$M/app-two.key"
check "its certificate is for clients" \
    has_ext "$M/app-two.pem" "TLS Web Client Authentication"
check "it prints the fingerprint openssl computes" \
    grep -q "$(ssl_fp "$M/app-two.pem")" "$T/out"
check "its key and certificate match" \
    pair_matches "$M/app-two.key" "$M/app-two.pem"
set +e
"$MAKE_CERT" server "lab hsm" "$M/s" >"$T/out" 2>"$T/err"
rc=$?
set -e
check "make-cert.sh server makes server.pem for servers" \
    sh -c "[ $rc -eq 0 ] && openssl x509 -in '$M/s/server.pem' -noout -text | grep -q 'TLS Web Server Authentication'"
for bad in "" "client" "client x" "bogus x $M" "client a/b $M" \
    "client x $M lots"; do
    set +e
    # shellcheck disable=SC2086
    "$MAKE_CERT" $bad >"$T/out" 2>"$T/err"
    rc=$?
    set -e
    check "make-cert.sh $bad: exit 2" rc_is 2
done

admin_finish
