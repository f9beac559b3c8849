#!/bin/sh
# SPDX-License-Identifier: MIT
# Use partition keys from the openssl command line through the libp11
# engine (Debian: libengine-pkcs11-openssl): signatures, decryption, ECDH
# and self-signed certificates, all checked by plain openssl.
#
# Usage: openssl_engine.sh [MODULE]   (make check sets HSMSIM_MODULE)
# HSMSIM_PKCS11_ENGINE names another libp11 engine than the one in
# openssl's ENGINESDIR.
#
# The engine is loaded by an openssl.cnf in the test directory, named by
# OPENSSL_CONF, with MODULE_PATH and PIN.  Keys are made by pkcs11-tool
# (the engine cannot generate keys).  Without default_algorithms in the
# configuration, openssl commands without -engine do not use the engine,
# so the verifications below are software-only.  libp11 0.4.12 passes
# RSA-OAEP parameters with source = 0 and an empty label.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}"
require_tool pkcs11-tool openssl cmp awk sed

M=$HSMSIM_MODULE
SO_PIN=so-secret-1
USER_PIN=user-pin-1
TOKEN="engine token"
D=$TEST_DIR
T="pkcs11:token=engine%20token"
RSA="$T;object=engine-rsa"
EC="$T;object=engine-ec"
P384="$T;object=engine-p384"

ENGINES=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
ENGINE_SO=${HSMSIM_PKCS11_ENGINE:-$ENGINES/pkcs11.so}
[ -f "$ENGINE_SO" ] ||
    bail_out "libp11 engine $ENGINE_SO not found (libengine-pkcs11-openssl)"

# prepare CMD...: a setup step that must work; stop the script otherwise.
prepare()
{
    run "$@"
    [ "$STATUS" -eq 0 ] || bail_out "$* failed: $(cat "$OUT")"
}

# engine_conf FILE PIN: an openssl.cnf that loads the engine for our module.
engine_conf()
{
    cat >"$1" <<CNF
openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
pkcs11 = pkcs11_section

[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $M
PIN = $2
init = 0
CNF
}
engine_conf "$D/openssl.cnf" "$USER_PIN"
engine_conf "$D/wrong-pin.cnf" wrong-pin-9
OPENSSL_CONF=$D/openssl.cnf
export OPENSSL_CONF

# --- a partition with three key pairs ----------------------------------------

prepare pkcs11-tool --module "$M" -L
free_hex=$(awk '/^Slot [0-9]+ \(0x[0-9a-f]+\)/ {
        hex = $3; gsub(/[():]/, "", hex) }
    /token state: +uninitialized/ && hex != "" { print hex; exit }' "$OUT")
[ -n "$free_hex" ] || bail_out "no slot with an uninitialized token"
prepare pkcs11-tool --module "$M" --slot "$((free_hex))" --init-token \
    --label "$TOKEN" --so-pin "$SO_PIN"
prepare pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"

check_status "pkcs11-tool makes an RSA-2048 key pair" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --keypairgen --key-type rsa:2048 \
    --id 01 --label engine-rsa
# ECDH through the engine needs CKA_DERIVE on the private key.
check_status "pkcs11-tool makes a P-256 key pair" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --usage-sign --usage-derive --id 02 --label engine-ec
check_status "pkcs11-tool makes a P-384 key pair" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --keypairgen --key-type EC:secp384r1 \
    --id 03 --label engine-p384

check_output "openssl engine -t finds the pkcs11 engine" 0 '\[ available \]' \
    openssl engine -t pkcs11

# --- public keys through the engine -----------------------------------------

check_status "openssl pkey exports the RSA public key" 0 \
    openssl pkey -engine pkcs11 -inform engine -in "$RSA;type=public" \
    -pubout -out "$D/rsa.pub.pem"
check_output "it is RSA 2048" 0 'Public-Key: \(2048 bit\)' \
    openssl pkey -pubin -in "$D/rsa.pub.pem" -noout -text
check_status "pkcs11-tool reads the same public key" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --read-object \
    --type pubkey --id 01 -o "$D/rsa.pub.der"
check_status "openssl parses it" 0 \
    openssl pkey -pubin -inform DER -in "$D/rsa.pub.der" \
    -out "$D/rsa.pub2.pem"
check_true "engine and pkcs11-tool agree on the RSA key" \
    cmp "$D/rsa.pub.pem" "$D/rsa.pub2.pem"
check_status "openssl pkey exports the P-256 public key" 0 \
    openssl pkey -engine pkcs11 -inform engine -in "$EC;type=public" \
    -pubout -out "$D/ec.pub.pem"
check_output "it is on P-256" 0 'NIST CURVE: P-256' \
    openssl pkey -pubin -in "$D/ec.pub.pem" -noout -text
check_status "openssl pkey exports the P-384 public key" 0 \
    openssl pkey -engine pkcs11 -inform engine -in "$P384;type=public" \
    -pubout -out "$D/p384.pub.pem"
check_output "it is on P-384" 0 'NIST CURVE: P-384' \
    openssl pkey -pubin -in "$D/p384.pub.pem" -noout -text

# --- signatures with openssl pkeyutl and openssl dgst ------------------------

head -c 3000 /dev/urandom >"$D/msg.bin"
head -c 100 /dev/urandom >"$D/other.bin"
prepare openssl dgst -sha256 -binary -out "$D/msg.sha256" "$D/msg.bin"
prepare openssl dgst -sha384 -binary -out "$D/msg.sha384" "$D/msg.bin"

check_status "pkeyutl -sign with the RSA key (PKCS#1 v1.5, SHA-256)" 0 \
    openssl pkeyutl -engine pkcs11 -keyform engine \
    -inkey "$RSA;type=private" -sign -pkeyopt digest:sha256 \
    -in "$D/msg.sha256" -out "$D/rsa.sig"
check_output "openssl verifies the RSA signature" 0 '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/rsa.pub.pem" \
    -signature "$D/rsa.sig" "$D/msg.bin"
check_output "openssl rejects it for other data" 1 'Verification failure' \
    openssl dgst -sha256 -verify "$D/rsa.pub.pem" \
    -signature "$D/rsa.sig" "$D/other.bin"
check_status "dgst -sign with the RSA key" 0 \
    openssl dgst -engine pkcs11 -keyform engine -sign "$RSA;type=private" \
    -sha256 -out "$D/rsa-dgst.sig" "$D/msg.bin"
check_true "dgst and pkeyutl give the same PKCS#1 v1.5 signature" \
    cmp "$D/rsa.sig" "$D/rsa-dgst.sig"
check_status "the key can be named by its ID" 0 \
    openssl dgst -engine pkcs11 -keyform engine \
    -sign "$T;id=%01;type=private" -sha256 -out "$D/rsa-id.sig" \
    "$D/msg.bin"
check_true "the ID names the same key" cmp "$D/rsa.sig" "$D/rsa-id.sig"

check_status "pkeyutl -sign RSA-PSS" 0 \
    openssl pkeyutl -engine pkcs11 -keyform engine \
    -inkey "$RSA;type=private" -sign -pkeyopt rsa_padding_mode:pss \
    -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:digest \
    -in "$D/msg.sha256" -out "$D/pss.sig"
check_output "openssl verifies the RSA-PSS signature" 0 '^Verified OK$' \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -verify "$D/rsa.pub.pem" \
    -signature "$D/pss.sig" "$D/msg.bin"
check_status "dgst -sign RSA-PSS" 0 \
    openssl dgst -engine pkcs11 -keyform engine -sign "$RSA;type=private" \
    -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
    -out "$D/pss-dgst.sig" "$D/msg.bin"
check_output "openssl verifies the dgst RSA-PSS signature" 0 '^Verified OK$' \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -verify "$D/rsa.pub.pem" \
    -signature "$D/pss-dgst.sig" "$D/msg.bin"

check_status "pkeyutl -sign with the P-256 key" 0 \
    openssl pkeyutl -engine pkcs11 -keyform engine \
    -inkey "$EC;type=private" -sign -in "$D/msg.sha256" -out "$D/ec.sig"
check_output "openssl verifies the ECDSA signature" 0 '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/ec.pub.pem" -signature "$D/ec.sig" \
    "$D/msg.bin"
check_output "openssl rejects it for other data" 1 'Verification failure' \
    openssl dgst -sha256 -verify "$D/ec.pub.pem" -signature "$D/ec.sig" \
    "$D/other.bin"
check_status "dgst -sign with the P-256 key" 0 \
    openssl dgst -engine pkcs11 -keyform engine -sign "$EC;type=private" \
    -sha256 -out "$D/ec-dgst.sig" "$D/msg.bin"
check_output "openssl verifies the dgst ECDSA signature" 0 '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/ec.pub.pem" \
    -signature "$D/ec-dgst.sig" "$D/msg.bin"
check_status "dgst -sign -sha384 with the P-384 key" 0 \
    openssl dgst -engine pkcs11 -keyform engine -sign "$P384;type=private" \
    -sha384 -out "$D/p384.sig" "$D/msg.bin"
check_output "openssl verifies the P-384 signature" 0 '^Verified OK$' \
    openssl dgst -sha384 -verify "$D/p384.pub.pem" \
    -signature "$D/p384.sig" "$D/msg.bin"
check_status "pkeyutl -sign a SHA-384 digest with the P-384 key" 0 \
    openssl pkeyutl -engine pkcs11 -keyform engine \
    -inkey "$P384;type=private" -sign -in "$D/msg.sha384" \
    -out "$D/p384-pk.sig"
check_output "openssl pkeyutl verifies it" 0 'Signature Verified Successfully' \
    openssl pkeyutl -verify -pubin -inkey "$D/p384.pub.pem" \
    -in "$D/msg.sha384" -sigfile "$D/p384-pk.sig"

check_output "the engine with a wrong PIN cannot sign" '!0' 'PIN incorrect' \
    env OPENSSL_CONF="$D/wrong-pin.cnf" openssl dgst -engine pkcs11 \
    -keyform engine -sign "$RSA;type=private" -sha256 \
    -out "$D/wrong.sig" "$D/msg.bin"
check_output "a key that does not exist cannot sign" '!0' \
    'private key was not found' \
    openssl dgst -engine pkcs11 -keyform engine \
    -sign "$T;object=no-such-key;type=private" -sha256 \
    -out "$D/none.sig" "$D/msg.bin"

# --- RSA decryption and ECDH --------------------------------------------------

head -c 190 /dev/urandom >"$D/secret.bin"
check_status "openssl encrypts to the RSA key (PKCS#1 v1.5)" 0 \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rsa.pub.pem" \
    -in "$D/secret.bin" -out "$D/pkcs1.bin"
check_status "openssl encrypts to the RSA key (OAEP SHA-1)" 0 \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rsa.pub.pem" \
    -pkeyopt rsa_padding_mode:oaep -in "$D/secret.bin" -out "$D/oaep.bin"
check_status "openssl encrypts to the RSA key (OAEP SHA-256)" 0 \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rsa.pub.pem" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -in "$D/secret.bin" -out "$D/oaep256.bin"

check_status "pkeyutl -decrypt RSA PKCS#1 v1.5" 0 \
    openssl pkeyutl -engine pkcs11 -keyform engine \
    -inkey "$RSA;type=private" -decrypt -in "$D/pkcs1.bin" \
    -out "$D/pkcs1.out"
check_true "PKCS#1 v1.5 gives back the plaintext" \
    cmp "$D/secret.bin" "$D/pkcs1.out"
check_status "pkeyutl -decrypt RSA-OAEP (SHA-1)" 0 \
    openssl pkeyutl -engine pkcs11 -keyform engine \
    -inkey "$RSA;type=private" -decrypt -pkeyopt rsa_padding_mode:oaep \
    -in "$D/oaep.bin" -out "$D/oaep.out"
check_true "RSA-OAEP SHA-1 gives back the plaintext" \
    cmp "$D/secret.bin" "$D/oaep.out"
check_status "pkeyutl -decrypt RSA-OAEP (SHA-256)" 0 \
    openssl pkeyutl -engine pkcs11 -keyform engine \
    -inkey "$RSA;type=private" -decrypt -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
    -in "$D/oaep256.bin" -out "$D/oaep256.out"
check_true "RSA-OAEP SHA-256 gives back the plaintext" \
    cmp "$D/secret.bin" "$D/oaep256.out"

prepare openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$D/peer.pem"
prepare openssl pkey -in "$D/peer.pem" -pubout -out "$D/peer.pub.pem"
check_status "openssl derives with the P-256 public key" 0 \
    openssl pkeyutl -derive -inkey "$D/peer.pem" \
    -peerkey "$D/ec.pub.pem" -out "$D/ecdh.ossl"
check_status "pkeyutl -derive ECDH with the P-256 key" 0 \
    openssl pkeyutl -engine pkcs11 -keyform engine \
    -inkey "$EC;type=private" -derive -peerkey "$D/peer.pub.pem" \
    -out "$D/ecdh.engine"
check_true "the ECDH secret matches openssl" \
    cmp "$D/ecdh.ossl" "$D/ecdh.engine"

# --- self-signed certificates with openssl req --------------------------------

check_status "req -new -x509 signed by the RSA key" 0 \
    openssl req -new -x509 -engine pkcs11 -keyform engine \
    -key "$RSA;type=private" -sha256 -days 2 \
    -subj "/CN=hsmsim engine rsa/O=Example Org" -out "$D/rsa.crt"
check_output "openssl verifies the RSA certificate" 0 ': OK$' \
    openssl verify -CAfile "$D/rsa.crt" "$D/rsa.crt"
check_output "the certificate has the subject" 0 \
    'subject=CN = hsmsim engine rsa, O = Example Org' \
    openssl x509 -in "$D/rsa.crt" -noout -subject
check_status "openssl reads the RSA certificate" 0 \
    openssl x509 -in "$D/rsa.crt" -noout -pubkey -out "$D/rsa.crt.pub"
check_true "the certificate holds the partition's RSA key" \
    cmp "$D/rsa.pub.pem" "$D/rsa.crt.pub"

check_status "req -new -x509 signed by the P-256 key" 0 \
    openssl req -new -x509 -engine pkcs11 -keyform engine \
    -key "$EC;type=private" -sha256 -days 2 \
    -subj "/CN=hsmsim engine ec/O=Example Org" -out "$D/ec.crt"
check_output "openssl verifies the ECDSA certificate" 0 ': OK$' \
    openssl verify -CAfile "$D/ec.crt" "$D/ec.crt"
check_output "the certificate is signed ecdsa-with-SHA256" 0 \
    'Signature Algorithm: ecdsa-with-SHA256' \
    openssl x509 -in "$D/ec.crt" -noout -text
check_output "openssl rejects the RSA certificate under the EC one" 2 \
    'error' openssl verify -CAfile "$D/ec.crt" "$D/rsa.crt"

check_status "req -new -x509 signed by the RSA key with RSA-PSS" 0 \
    openssl req -new -x509 -engine pkcs11 -keyform engine \
    -key "$RSA;type=private" -sha256 -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:digest -days 2 \
    -subj "/CN=hsmsim engine pss" -out "$D/pss.crt"
check_output "openssl verifies the RSA-PSS certificate" 0 ': OK$' \
    openssl verify -CAfile "$D/pss.crt" "$D/pss.crt"
check_output "the certificate is signed rsassaPss" 0 \
    'Signature Algorithm: rsassaPss' \
    openssl x509 -in "$D/pss.crt" -noout -text

check_status "req -new (a CSR) signed by the P-384 key" 0 \
    openssl req -new -engine pkcs11 -keyform engine \
    -key "$P384;type=private" -sha384 -subj "/CN=hsmsim engine p384" \
    -out "$D/p384.csr"
check_output "openssl verifies the request" 0 'verify OK' \
    openssl req -in "$D/p384.csr" -noout -verify

# The certificate goes back next to its key, as applications expect.
check_status "openssl converts the RSA certificate to DER" 0 \
    openssl x509 -in "$D/rsa.crt" -outform DER -out "$D/rsa.crt.der"
check_status "pkcs11-tool stores the certificate with the key's ID" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --write-object "$D/rsa.crt.der" --type cert \
    --id 01 --label engine-rsa
check_output "-O lists the certificate beside the key pair" 0 \
    'Certificate Object; type = X.509 cert' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" -O --id 01
awk '/ Object;/ { cls = $1 } /^  ID:/ { print cls, $2 }' "$OUT" \
    >"$D/ids.txt"
for cls in Private Public Certificate; do
    check_true "-O shows a $cls object with ID 01" \
        grep -qx "$cls 01" "$D/ids.txt"
done
check_status "the RSA key still signs with the certificate present" 0 \
    openssl dgst -engine pkcs11 -keyform engine -sign "$RSA;type=private" \
    -sha256 -out "$D/rsa-after.sig" "$D/msg.bin"
check_true "and gives the same signature" cmp "$D/rsa.sig" "$D/rsa-after.sig"

finish
