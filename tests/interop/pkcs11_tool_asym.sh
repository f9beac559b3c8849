#!/bin/sh
# SPDX-License-Identifier: MIT
# Drive RSA and EC keys with OpenSC's pkcs11-tool and check every result
# with the openssl command line: key pairs, signatures, imports,
# certificates, RSA-OAEP, ECDH refusal and pkcs11-tool --test.
#
# Usage: pkcs11_tool_asym.sh [MODULE]   (make check sets HSMSIM_MODULE)
#
# Notes on pkcs11-tool 0.23 that shape the checks below:
# - ECDSA signatures are r||s on the token; -f openssl converts them to
#   and from the DER form openssl uses.
# - --verify prints "Invalid signature" only for CKR_SIGNATURE_INVALID;
#   other return values are printed by name.
# - --decrypt -m RSA-PKCS-OAEP passes source = 0 (not CKZ_DATA_SPECIFIED)
#   with an empty label, as libp11 does; its default hash is SHA-256.
# - --encrypt works with secret keys only, so RSA encryption is done by
#   openssl with the public key read from the token.
# - --keypairgen for EC sets CKA_DERIVE only by default or with
#   --usage-derive; giving any --usage-* option drops the defaults.
# - Mechanisms without CKF_HW are skipped by --test's signature section
#   ("Signatures: not implemented"); hsmsim sets it on every mechanism.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}"
require_tool pkcs11-tool openssl cmp od awk

M=$HSMSIM_MODULE
SO_PIN=so-secret-1
USER_PIN=user-pin-1
TOKEN="asym token"
D=$TEST_DIR

# prepare CMD...: a setup step that must work; stop the script otherwise.
prepare()
{
    run "$@"
    [ "$STATUS" -eq 0 ] || bail_out "$* failed: $(cat "$OUT")"
}

# file_size FILE: its length in bytes (empty if FILE is missing).
file_size()
{
    wc -c <"$1" 2>/dev/null | tr -d ' '
}

# spki_p384 HEXPOINT OUT: write the DER SubjectPublicKeyInfo of a P-384
# point (04||X||Y in hex) with openssl asn1parse.
spki_p384()
{
    cat >"$2.cnf" <<SPKI
asn1 = SEQUENCE:spki
[spki]
alg = SEQUENCE:alg
key = FORMAT:HEX,BITSTRING:$1
[alg]
type = OID:id-ecPublicKey
curve = OID:secp384r1
SPKI
    openssl asn1parse -genconf "$2.cnf" -out "$2" -noout >/dev/null 2>&1
}

# --- a new partition ----------------------------------------------------------

prepare pkcs11-tool --module "$M" -L
# The first slot with an uninitialized token is the free slot.
free_hex=$(awk '/^Slot [0-9]+ \(0x[0-9a-f]+\)/ {
        hex = $3; gsub(/[():]/, "", hex) }
    /token state: +uninitialized/ && hex != "" { print hex; exit }' "$OUT")
[ -n "$free_hex" ] || bail_out "no slot with an uninitialized token"

check_output "--init-token makes a partition" 0 \
    'Token successfully initialized' \
    pkcs11-tool --module "$M" --slot "$((free_hex))" --init-token \
    --label "$TOKEN" --so-pin "$SO_PIN"
check_output "--init-pin sets the user PIN" 0 \
    'User PIN successfully initialized' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"

check_output "-M lists RSA key pair generation" 0 'RSA-PKCS-KEY-PAIR-GEN' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" -M
check_last_output "-M lists EC key pair generation" 'EC(DSA)?-KEY-PAIR-GEN'
check_last_output "-M lists SHA256-RSA-PKCS-PSS" \
    '^  SHA256-RSA-PKCS-PSS,.*sign.*verify'
check_last_output "-M lists RSA-PKCS-OAEP for decrypt" \
    '^  RSA-PKCS-OAEP,.*decrypt'
check_last_output "-M lists ECDSA-SHA256" '^  ECDSA-SHA256,.*sign'
check_last_output "-M lists ECDH1-DERIVE" '^  ECDH1-DERIVE,.*derive'

# --- key pair generation ------------------------------------------------------

check_output "--keypairgen rsa:2048" 0 'Public Key Object; RSA 2048 bits' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --keypairgen --key-type rsa:2048 \
    --id 10 --label rsa-gen
check_last_output "the RSA private key is never extractable" \
    'Access: +.*never extractable.*local'
check_last_output "the RSA key pair keeps the label" '^  label: +rsa-gen$'
check_last_output "the RSA key pair keeps the ID" '^  ID: +10$'

# --usage-derive: CKA_DERIVE (default FALSE) for the --derive check below.
check_output "--keypairgen EC:prime256v1" 0 \
    'EC_PARAMS: +06082a8648ce3d030107' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --usage-sign --usage-derive --id 11 --label p256-gen
check_last_output "the P-256 point is a DER OCTET STRING of 65 bytes" \
    'EC_POINT: +044104[0-9a-f]{128}$'
check_last_output "the P-256 private key can derive" \
    'Usage: +.*sign.*derive'

check_output "--keypairgen EC:secp384r1" 0 'EC_PARAMS: +06052b81040022' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --keypairgen --key-type EC:secp384r1 \
    --id 12 --label p384-gen
check_last_output "the P-384 point is a DER OCTET STRING of 97 bytes" \
    'EC_POINT: +046104[0-9a-f]{192}$'
p384_point=$(sed -n 's/^ *EC_POINT: *0461\(04[0-9a-f]*\)$/\1/p' "$OUT")

check_output "--keypairgen rsa:1024: CKR_KEY_SIZE_RANGE" '!0' \
    'CKR_KEY_SIZE_RANGE' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --keypairgen --key-type rsa:1024 --id 13
# pkcs11-tool 0.23 does not know this 3.0 code's name: "(0x140)".
check_output "--keypairgen EC:secp256k1: CKR_CURVE_NOT_SUPPORTED" '!0' \
    'C_GenerateKeyPair.*(CKR_CURVE_NOT_SUPPORTED|\(0x140\))' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --keypairgen --key-type EC:secp256k1 --id 14

# --- public keys into openssl -------------------------------------------------

for id in 10 11; do
    check_status "--read-object --type pubkey --id $id" 0 \
        pkcs11-tool --module "$M" --token-label "$TOKEN" \
        --read-object --type pubkey --id "$id" -o "$D/pub$id.der"
    check_status "openssl parses public key $id" 0 \
        openssl pkey -pubin -inform DER -in "$D/pub$id.der" \
        -out "$D/pub$id.pem"
done
# pkcs11-tool 0.23 cannot --read-object a P-384 public key from any module
# ("cannot create EVP_PKEY"), so build it from the EC_POINT it printed.
spki_p384 "$p384_point" "$D/pub12.der"
check_status "openssl parses public key 12 (from its EC_POINT)" 0 \
    openssl pkey -pubin -inform DER -in "$D/pub12.der" -out "$D/pub12.pem"
check_output "public key 10 is RSA 2048 with exponent 65537" 0 \
    'Exponent: 65537' \
    openssl pkey -pubin -in "$D/pub10.pem" -noout -text
check_last_output "public key 10 has 2048 bits" 'Public-Key: \(2048 bit\)'
check_output "public key 11 is on P-256" 0 'NIST CURVE: P-256' \
    openssl pkey -pubin -in "$D/pub11.pem" -noout -text
check_output "public key 12 is on P-384" 0 'NIST CURVE: P-384' \
    openssl pkey -pubin -in "$D/pub12.pem" -noout -text

# --- signatures made in the partition, checked by openssl ---------------------

# 3000 bytes: more than pkcs11-tool's 1025-byte buffer, so the hash-and-sign
# mechanisms go through C_SignUpdate; short.bin takes the C_Sign path.
head -c 3000 /dev/urandom >"$D/msg.bin"
head -c 100 /dev/urandom >"$D/short.bin"
prepare openssl dgst -sha256 -binary -out "$D/msg.sha256" "$D/msg.bin"
prepare openssl dgst -sha384 -binary -out "$D/msg.sha384" "$D/msg.bin"
# DER DigestInfo prefix for SHA-256 (RFC 8017, 9.2 note 1).
{
    printf '\060\061\060\015\006\011\140\206\110\001\145'
    printf '\003\004\002\001\005\000\004\040'
    cat "$D/msg.sha256"
} >"$D/msg.di"

check_status "--sign SHA256-RSA-PKCS" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m SHA256-RSA-PKCS --id 10 \
    -i "$D/msg.bin" -o "$D/rsa.sig"
check_true "the RSA signature is 256 bytes" \
    test "$(file_size "$D/rsa.sig")" -eq 256
check_output "openssl verifies SHA256-RSA-PKCS" 0 '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/pub10.pem" -signature "$D/rsa.sig" \
    "$D/msg.bin"
check_output "openssl rejects it for other data" 1 'Verification failure' \
    openssl dgst -sha256 -verify "$D/pub10.pem" -signature "$D/rsa.sig" \
    "$D/short.bin"
check_output "--verify SHA256-RSA-PKCS" 0 '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m SHA256-RSA-PKCS --id 10 \
    -i "$D/msg.bin" --signature-file "$D/rsa.sig"

check_status "--sign SHA256-RSA-PKCS of a short message" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m SHA256-RSA-PKCS --id 10 \
    -i "$D/short.bin" -o "$D/rsa-short.sig"
check_output "openssl verifies the short-message signature" 0 \
    '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/pub10.pem" \
    -signature "$D/rsa-short.sig" "$D/short.bin"

check_status "--sign RSA-PKCS of a SHA-256 DigestInfo" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m RSA-PKCS --id 10 \
    -i "$D/msg.di" -o "$D/rsa-raw.sig"
check_true "RSA-PKCS(DigestInfo) equals SHA256-RSA-PKCS" \
    cmp "$D/rsa.sig" "$D/rsa-raw.sig"
check_status "openssl pkeyutl recovers the DigestInfo" 0 \
    openssl pkeyutl -verifyrecover -pubin -inkey "$D/pub10.pem" \
    -in "$D/rsa-raw.sig" -out "$D/rsa-raw.rec"
check_true "the recovered DigestInfo matches" cmp "$D/msg.di" "$D/rsa-raw.rec"
check_output "--verify RSA-PKCS" 0 '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m RSA-PKCS --id 10 \
    -i "$D/msg.di" --signature-file "$D/rsa-raw.sig"

check_status "--sign SHA256-RSA-PKCS-PSS" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m SHA256-RSA-PKCS-PSS --id 10 \
    -i "$D/msg.bin" -o "$D/pss.sig"
check_output "openssl verifies SHA256-RSA-PKCS-PSS (salt 32)" 0 \
    '^Verified OK$' \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -verify "$D/pub10.pem" \
    -signature "$D/pss.sig" "$D/msg.bin"
check_output "--verify SHA256-RSA-PKCS-PSS" 0 '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m SHA256-RSA-PKCS-PSS --id 10 \
    -i "$D/msg.bin" --signature-file "$D/pss.sig"
check_status "--sign RSA-PKCS-PSS of a SHA-256 digest" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m RSA-PKCS-PSS --hash-algorithm SHA256 \
    --mgf MGF1-SHA256 --id 10 -i "$D/msg.sha256" -o "$D/pss-raw.sig"
check_output "openssl verifies RSA-PKCS-PSS over the digest" 0 \
    'Signature Verified Successfully' \
    openssl pkeyutl -verify -pubin -inkey "$D/pub10.pem" \
    -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 \
    -pkeyopt rsa_pss_saltlen:32 -in "$D/msg.sha256" \
    -sigfile "$D/pss-raw.sig"

check_status "--sign ECDSA-SHA256 (r||s)" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m ECDSA-SHA256 --id 11 \
    -i "$D/msg.bin" -o "$D/p256.rs"
check_true "a P-256 r||s signature is 64 bytes" \
    test "$(file_size "$D/p256.rs")" -eq 64
check_status "--sign ECDSA-SHA256 -f openssl" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m ECDSA-SHA256 --id 11 -f openssl \
    -i "$D/msg.bin" -o "$D/p256.sig"
check_output "openssl verifies ECDSA-SHA256" 0 '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/pub11.pem" -signature "$D/p256.sig" \
    "$D/msg.bin"
check_output "openssl rejects the ECDSA signature for other data" 1 \
    'Verification failure' \
    openssl dgst -sha256 -verify "$D/pub11.pem" -signature "$D/p256.sig" \
    "$D/short.bin"
check_output "--verify ECDSA-SHA256 -f openssl" 0 '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m ECDSA-SHA256 --id 11 -f openssl \
    -i "$D/msg.bin" --signature-file "$D/p256.sig"
check_status "--sign ECDSA of a SHA-256 digest" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m ECDSA --id 11 -f openssl \
    -i "$D/msg.sha256" -o "$D/p256-raw.sig"
check_output "openssl verifies raw ECDSA as ECDSA-SHA256" 0 '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/pub11.pem" \
    -signature "$D/p256-raw.sig" "$D/msg.bin"

check_status "--sign ECDSA-SHA384 with the P-384 key" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m ECDSA-SHA384 --id 12 -f openssl \
    -i "$D/msg.bin" -o "$D/p384.sig"
check_output "openssl verifies ECDSA-SHA384" 0 '^Verified OK$' \
    openssl dgst -sha384 -verify "$D/pub12.pem" -signature "$D/p384.sig" \
    "$D/msg.bin"
check_status "--sign ECDSA of a SHA-384 digest with the P-384 key" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m ECDSA --id 12 \
    -i "$D/msg.sha384" -o "$D/p384-raw.rs"
check_true "a P-384 r||s signature is 96 bytes" \
    test "$(file_size "$D/p384-raw.rs")" -eq 96
check_output "--verify ECDSA (r||s) with the P-384 key" 0 \
    '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m ECDSA --id 12 \
    -i "$D/msg.sha384" --signature-file "$D/p384-raw.rs"

# --- bad input ----------------------------------------------------------------

# flip_byte IN OUT OFFSET: copy IN to OUT with one byte changed.
flip_byte()
{
    cp "$1" "$2" &&
        byte=$(od -An -tu1 -j "$3" -N 1 "$1" | tr -d ' ') &&
        oct=$(printf '%03o' $(((byte + 1) % 256))) &&
        printf '%b' "\\0$oct" |
        dd of="$2" bs=1 seek="$3" conv=notrunc 2>/dev/null
}
# A missing input (its check already failed) leaves an empty file.
flip_byte "$D/rsa.sig" "$D/rsa-bad.sig" 100 || : >"$D/rsa-bad.sig"
flip_byte "$D/p256.rs" "$D/p256-bad.rs" 10 || : >"$D/p256-bad.rs"
head -c 255 "$D/rsa.sig" >"$D/rsa-short.sig"

check_output "--verify a corrupted RSA signature: CKR_SIGNATURE_INVALID" \
    0 '^Invalid signature$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m SHA256-RSA-PKCS --id 10 \
    -i "$D/msg.bin" --signature-file "$D/rsa-bad.sig"
check_last_no_output "the corrupted signature is not reported valid" \
    'Signature is valid'
check_output "--verify a corrupted ECDSA signature: CKR_SIGNATURE_INVALID" \
    0 '^Invalid signature$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m ECDSA-SHA256 --id 11 \
    -i "$D/msg.bin" --signature-file "$D/p256-bad.rs"
check_output "--verify a 255-byte RSA signature: CKR_SIGNATURE_LEN_RANGE" \
    '!0' 'CKR_SIGNATURE_LEN_RANGE' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m SHA256-RSA-PKCS --id 10 \
    -i "$D/msg.bin" --signature-file "$D/rsa-short.sig"
check_output "ECDSA-SHA256 with the RSA key: CKR_KEY_TYPE_INCONSISTENT" \
    '!0' 'C_SignInit.*CKR_KEY_TYPE_INCONSISTENT' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m ECDSA-SHA256 --id 10 \
    -i "$D/msg.bin" -o "$D/bad1.sig"
check_output "SHA256-RSA-PKCS with the EC key: CKR_KEY_TYPE_INCONSISTENT" \
    '!0' 'C_SignInit.*CKR_KEY_TYPE_INCONSISTENT' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m SHA256-RSA-PKCS --id 11 \
    -i "$D/msg.bin" -o "$D/bad2.sig"

# --- keys made by openssl, imported with --write-object -----------------------

prepare openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$D/imp-rsa.pem"
prepare openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$D/imp-ec.pem"
for k in rsa ec; do
    prepare openssl pkey -in "$D/imp-$k.pem" -outform DER \
        -out "$D/imp-$k.der"
    prepare openssl pkey -in "$D/imp-$k.pem" -pubout -out "$D/imp-$k.pub.pem"
    prepare openssl pkey -in "$D/imp-$k.pem" -pubout -outform DER \
        -out "$D/imp-$k.pub.der"
done

check_output "--write-object an openssl RSA private key" 0 \
    'Private Key Object; RSA' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --write-object "$D/imp-rsa.der" --type privkey \
    --id 20 --label rsa-imp
check_output "--write-object its public key" 0 \
    'Public Key Object; RSA 2048 bits' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --write-object "$D/imp-rsa.pub.der" --type pubkey \
    --id 20 --label rsa-imp
check_output "--write-object an openssl EC private key" 0 \
    'Private Key Object; EC' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --write-object "$D/imp-ec.der" --type privkey \
    --id 21 --label ec-imp
check_output "--write-object its public key" 0 \
    'EC_PARAMS: +06082a8648ce3d030107' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --write-object "$D/imp-ec.pub.der" --type pubkey \
    --id 21 --label ec-imp
for id in 20 21; do
    check_status "--read-object the imported public key $id" 0 \
        pkcs11-tool --module "$M" --token-label "$TOKEN" \
        --read-object --type pubkey --id "$id" -o "$D/pub$id.der"
done
check_true "the RSA public key reads back as openssl wrote it" \
    cmp "$D/imp-rsa.pub.der" "$D/pub20.der"
check_true "the EC public key reads back as openssl wrote it" \
    cmp "$D/imp-ec.pub.der" "$D/pub21.der"

check_status "--sign SHA256-RSA-PKCS with the imported key" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m SHA256-RSA-PKCS --id 20 \
    -i "$D/msg.bin" -o "$D/imp-rsa.sig"
check_output "openssl verifies it with its own key" 0 '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/imp-rsa.pub.pem" \
    -signature "$D/imp-rsa.sig" "$D/msg.bin"
prepare openssl dgst -sha256 -sign "$D/imp-rsa.pem" \
    -out "$D/ossl-rsa.sig" "$D/msg.bin"
check_true "the imported key signs exactly like openssl" \
    cmp "$D/ossl-rsa.sig" "$D/imp-rsa.sig"
check_status "--sign ECDSA-SHA256 with the imported key" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --sign -m ECDSA-SHA256 --id 21 -f openssl \
    -i "$D/msg.bin" -o "$D/imp-ec.sig"
check_output "openssl verifies it with its own key" 0 '^Verified OK$' \
    openssl dgst -sha256 -verify "$D/imp-ec.pub.pem" \
    -signature "$D/imp-ec.sig" "$D/msg.bin"

# --- signatures made by openssl, checked in the partition ---------------------

prepare openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -sign "$D/imp-rsa.pem" \
    -out "$D/ossl-pss.sig" "$D/msg.bin"
prepare openssl dgst -sha256 -sign "$D/imp-ec.pem" \
    -out "$D/ossl-ec.sig" "$D/msg.bin"
check_output "--verify an openssl SHA256-RSA-PKCS signature" 0 \
    '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m SHA256-RSA-PKCS --id 20 \
    -i "$D/msg.bin" --signature-file "$D/ossl-rsa.sig"
check_output "--verify an openssl RSA-PSS signature" 0 \
    '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m SHA256-RSA-PKCS-PSS --id 20 \
    -i "$D/msg.bin" --signature-file "$D/ossl-pss.sig"
check_output "--verify an openssl ECDSA signature" 0 '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m ECDSA-SHA256 --id 21 -f openssl \
    -i "$D/msg.bin" --signature-file "$D/ossl-ec.sig"
check_output "--verify the openssl RSA signature on other data" 0 \
    '^Invalid signature$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --verify -m SHA256-RSA-PKCS --id 20 \
    -i "$D/short.bin" --signature-file "$D/ossl-rsa.sig"

# --- certificates -------------------------------------------------------------

# A self-signed certificate for the imported key, and one for the key made
# in the partition, issued by a throw-away openssl CA (-force_pubkey).
prepare openssl req -x509 -key "$D/imp-rsa.pem" -days 2 -sha256 \
    -subj "/CN=imported rsa/O=Example Org" -outform DER -out "$D/imp.crt"
prepare openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -keyout "$D/ca.key" -days 2 -subj "/CN=interop CA" \
    -out "$D/ca.pem"
check_status "openssl issues a certificate for public key 10" 0 \
    openssl x509 -new -subj "/CN=generated rsa/O=Example Org" \
    -key "$D/ca.key" -force_pubkey "$D/pub10.pem" -days 2 \
    -outform DER -out "$D/gen.crt"

check_output "--write-object the self-signed certificate" 0 \
    'subject: +DN: CN=imported rsa, O=Example Org' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --write-object "$D/imp.crt" --type cert \
    --id 20 --label rsa-imp
check_output "--write-object the certificate of the generated key" 0 \
    'subject: +DN: CN=generated rsa, O=Example Org' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --write-object "$D/gen.crt" --type cert \
    --id 10 --label rsa-gen

check_output "-O lists the certificates" 0 \
    'Certificate Object; type = X.509 cert' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" -O
awk '/ Object;/ { cls = $1 } /^  ID:/ { print cls, $2 }' "$OUT" \
    >"$D/ids.txt"
for id in 10 20; do
    for cls in Private Public Certificate; do
        check_true "-O shows a $cls object with ID $id" \
            grep -qx "$cls $id" "$D/ids.txt"
    done
done
for id in 11 12 21; do
    check_true "-O shows the private key with ID $id" \
        grep -qx "Private $id" "$D/ids.txt"
done

check_status "--read-object the generated key's certificate" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" \
    --read-object --type cert --id 10 -o "$D/gen.out"
check_true "the certificate DER round-trips" cmp "$D/gen.crt" "$D/gen.out"
check_status "openssl reads the certificate" 0 \
    openssl x509 -inform DER -in "$D/gen.out" -noout -pubkey \
    -out "$D/gen.crt.pub"
check_true "the certificate holds the partition's public key" \
    cmp "$D/pub10.pem" "$D/gen.crt.pub"
check_status "--read-object the self-signed certificate" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" \
    --read-object --type cert --id 20 -o "$D/imp.out"
check_status "openssl reads the self-signed certificate" 0 \
    openssl x509 -inform DER -in "$D/imp.out" -out "$D/imp.out.pem"
check_output "openssl verifies the self-signed certificate" 0 ': OK$' \
    openssl verify -CAfile "$D/imp.out.pem" "$D/imp.out.pem"

# --- RSA decryption: openssl encrypts to the partition's public key -----------

head -c 190 /dev/urandom >"$D/secret.bin"
check_status "openssl encrypts to public key 10 (OAEP SHA-1)" 0 \
    openssl pkeyutl -encrypt -pubin -inkey "$D/pub10.pem" \
    -pkeyopt rsa_padding_mode:oaep -in "$D/secret.bin" -out "$D/oaep1.bin"
check_status "openssl encrypts to public key 10 (OAEP SHA-256)" 0 \
    openssl pkeyutl -encrypt -pubin -inkey "$D/pub10.pem" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -in "$D/secret.bin" -out "$D/oaep256.bin"
check_status "openssl encrypts to public key 10 (PKCS#1 v1.5)" 0 \
    openssl pkeyutl -encrypt -pubin -inkey "$D/pub10.pem" \
    -in "$D/secret.bin" -out "$D/pkcs1.bin"

check_status "--decrypt RSA-PKCS-OAEP (SHA-1)" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 \
    --mgf MGF1-SHA1 --id 10 -i "$D/oaep1.bin" -o "$D/oaep1.out"
check_true "RSA-OAEP SHA-1 gives back the plaintext" \
    cmp "$D/secret.bin" "$D/oaep1.out"
check_status "--decrypt RSA-PKCS-OAEP (SHA-256, MGF1-SHA256)" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA256 \
    --mgf MGF1-SHA256 --id 10 -i "$D/oaep256.bin" -o "$D/oaep256.out"
check_true "RSA-OAEP SHA-256 gives back the plaintext" \
    cmp "$D/secret.bin" "$D/oaep256.out"
check_status "--decrypt RSA-PKCS" 0 \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --decrypt -m RSA-PKCS --id 10 \
    -i "$D/pkcs1.bin" -o "$D/pkcs1.out"
check_true "RSA-PKCS gives back the plaintext" \
    cmp "$D/secret.bin" "$D/pkcs1.out"

flip_byte "$D/oaep1.bin" "$D/oaep-bad.bin" 17 || : >"$D/oaep-bad.bin"
check_output "--decrypt corrupted OAEP: CKR_ENCRYPTED_DATA_INVALID" '!0' \
    'CKR_ENCRYPTED_DATA_INVALID' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 \
    --mgf MGF1-SHA1 --id 10 -i "$D/oaep-bad.bin" -o "$D/oaep-bad.out"
check_output "--decrypt OAEP with the wrong hash fails" '!0' \
    'CKR_ENCRYPTED_DATA_INVALID' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --decrypt -m RSA-PKCS-OAEP --id 10 \
    --hash-algorithm SHA256 --mgf MGF1-SHA256 \
    -i "$D/oaep1.bin" -o "$D/oaep-wrong.out"

# --- ECDH ---------------------------------------------------------------------

# pkcs11-tool --derive asks for a session key with CKA_ENCRYPT, CKA_DECRYPT,
# CKA_WRAP and CKA_UNWRAP all TRUE, which the partition's key-separation
# rule refuses (docs/security.md, rule 4), whatever the peer key.  ECDH
# itself is checked against openssl in openssl_engine.sh, through libp11,
# whose template asks only for CKA_ENCRYPT and CKA_DECRYPT.
prepare openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$D/peer.pem"
prepare openssl pkey -in "$D/peer.pem" -pubout -outform DER \
    -out "$D/peer.pub.der"

check_output "--derive ECDH1-DERIVE: refused by key separation" '!0' \
    'C_DeriveKey.*CKR_TEMPLATE_INCONSISTENT' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --derive -m ECDH1-DERIVE --id 11 \
    -i "$D/peer.pub.der" -o "$D/ecdh.p11"
check_true "the refused --derive wrote no secret" \
    test ! -s "$D/ecdh.p11"
check_output "--derive with a key lacking CKA_DERIVE fails" '!0' \
    'C_DeriveKey.*CKR_KEY_FUNCTION_NOT_PERMITTED' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --login \
    --pin "$USER_PIN" --derive -m ECDH1-DERIVE --id 21 \
    -i "$D/peer.pub.der" -o "$D/ecdh-bad.p11"

# --- pkcs11-tool's own test run with all these keys present -------------------

check_output "--test --login reports no errors" 0 '^No errors$' \
    pkcs11-tool --module "$M" --token-label "$TOKEN" --test --login \
    --pin "$USER_PIN"
check_last_output "--test ran its RSA signature tests" \
    'all 4 signature functions seem to work'
check_last_output "--test ran its RSA decryption tests" \
    'RSA-PKCS-OAEP: .*'

finish
