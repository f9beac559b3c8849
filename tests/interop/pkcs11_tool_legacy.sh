#!/bin/sh
# SPDX-License-Identifier: MIT
# The partition policy through OpenSC's pkcs11-tool: a legacy partition
# lists and runs DES, DES3, MD5 and RSA-1024; a fips one lists none of them
# and refuses each with its exact code.
#
# Usage: pkcs11_tool_legacy.sh [MODULE]   (make check sets HSMSIM_MODULE)
#
# Notes on pkcs11-tool 0.23 that shape the checks below:
# - --keygen --key-type DES3: with no length asks for CKA_VALUE_LEN = 16
#   (its default); hsmsim takes CKA_VALUE_LEN on a DES key only when it
#   repeats the fixed length (module/engine/key_ops.c key_length), so
#   DES3:24 makes the key and DES3: answers CKR_TEMPLATE_INCONSISTENT.
# - --encrypt and --decrypt build parameters for RSA-PKCS-OAEP, AES-ECB,
#   AES-CBC(-PAD) and AES-GCM only; any other mechanism, DES3-CBC-PAD
#   included, is refused by pkcs11-tool itself before the module is called
#   ("illegal or not supported").  The DES and DES3 ciphers are checked
#   against FIPS 81 and SP 800-67 in tests/integration/test_legacy.c.
# - --write-object --type secrkey takes AES and DES3 keys, not GENERIC ones;
#   --sign with a secret key works for the HMAC mechanisms only.
# - Without -m, pkcs11-tool picks the mechanism from the token's list and
#   stops on its own when it is not there; with -m the call reaches the
#   module, and pkcs11-tool prints the module's return value by name.
# - The policy = line of hsmsim.conf is the policy C_InitToken gives a new
#   partition; the partition keeps it when the line changes.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}" 'policy = legacy'
require_tool pkcs11-tool openssl cmp od md5sum awk sed

M=$HSMSIM_MODULE
SO_PIN=so-secret-1
USER_PIN=user-pin-1
LEGACY="legacy token"
FIPS="fips token"
D=$TEST_DIR

# prepare CMD...: a setup step that must work; stop the script otherwise.
prepare()
{
    run "$@"
    [ "$STATUS" -eq 0 ] || bail_out "$* failed: $(cat "$OUT")"
}

# hex_of FILE: its bytes as lower-case hex on one line.
hex_of()
{
    od -An -tx1 "$1" 2>/dev/null | tr -d ' \n'
}

# new_partition LABEL: C_InitToken on the free slot, then the user PIN.
new_partition()
{
    prepare pkcs11-tool --module "$M" -L
    # The first slot with an uninitialized token is the free slot.
    free_hex=$(awk '/^Slot [0-9]+ \(0x[0-9a-f]+\)/ {
            hex = $3; gsub(/[():]/, "", hex) }
        /token state: +uninitialized/ && hex != "" { print hex; exit }' \
        "$OUT")
    [ -n "$free_hex" ] || bail_out "no slot with an uninitialized token"
    check_output "--init-token makes the partition '$1'" 0 \
        'Token successfully initialized' \
        pkcs11-tool --module "$M" --slot "$((free_hex))" --init-token \
        --label "$1" --so-pin "$SO_PIN"
    check_output "--init-pin sets its user PIN" 0 \
        'User PIN successfully initialized' \
        pkcs11-tool --module "$M" --token-label "$1" --login \
        --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
}

# file_size FILE: its length in bytes (empty if FILE is missing).
file_size()
{
    wc -c 2>/dev/null <"$1" | tr -d ' '
}

head -c 1000 /dev/urandom >"$D/data.bin"
printf 'what do ya want for nothing?' >"$D/msg.txt"
md5_want=$(md5sum "$D/data.bin" | cut -d ' ' -f 1)

# --- a partition made under policy = legacy -----------------------------------

new_partition "$LEGACY"

check_output "legacy -M lists DES3-CBC" 0 '^  DES3-CBC, keySize=\{16,24\}' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" -M
check_last_output "legacy -M lists DES-ECB" '^  DES-ECB, keySize=\{8,8\}'
check_last_output "legacy -M lists DES-KEY-GEN" '^  DES-KEY-GEN,'
check_last_output "legacy -M lists MD5" '^  MD5, '
check_last_output "legacy -M lists MD5-HMAC" '^  MD5-HMAC, keySize=\{1,4096\}'
check_last_output "legacy -M lists MD5-RSA-PKCS" \
    '^  MD5-RSA-PKCS, keySize=\{1024,8192\}'
check_last_output "legacy -M: RSA key pairs from 1024 bits" \
    '^  RSA-PKCS-KEY-PAIR-GEN, keySize=\{1024,4096\}'

check_output "legacy --keygen DES3:24" 0 'Secret Key Object; DES3 length 24' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --keygen --key-type DES3:24 --id 01 --label des3
check_output "legacy --keygen DES3: (CKA_VALUE_LEN 16): refused" '!0' \
    'C_GenerateKey.*CKR_TEMPLATE_INCONSISTENT' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --keygen --key-type DES3: --id 02 --label des3-16
check_output "legacy --keygen DES:" 0 'Secret Key Object; DES length 8' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --keygen --key-type DES: --id 03 --label des
check_output "pkcs11-tool 0.23 cannot --encrypt DES3-CBC-PAD (its limit)" \
    '!0' 'DES3-CBC-PAD illegal or not supported' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --encrypt -m DES3-CBC-PAD --id 01 \
    --iv 0102030405060708 -i "$D/data.bin" -o "$D/data.des3"

check_output "legacy --hash -m MD5" 0 'Using digest algorithm MD5' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --hash -m MD5 \
    -i "$D/data.bin" -o "$D/data.md5"
check_true "the MD5 digest equals md5sum's" \
    test "$(hex_of "$D/data.md5")" = "$md5_want"

check_output "legacy --keygen GENERIC:16 for HMAC" 0 \
    'Secret Key Object; Generic secret length 16' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --keygen --key-type GENERIC:16 --id 04 --label hmac
check_status "legacy --sign MD5-HMAC" 0 \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --sign -m MD5-HMAC --id 04 -i "$D/msg.txt" \
    -o "$D/msg.hmac"
check_true "an MD5-HMAC is 16 bytes" \
    test "$(file_size "$D/msg.hmac")" = 16
check_output "legacy --verify MD5-HMAC" 0 '^Signature is valid$' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --verify -m MD5-HMAC --id 04 -i "$D/msg.txt" \
    --signature-file "$D/msg.hmac"

check_output "legacy --keypairgen rsa:1024" 0 \
    'Public Key Object; RSA 1024 bits' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --keypairgen --key-type rsa:1024 --id 05 \
    --label rsa1024
check_status "legacy --sign MD5-RSA-PKCS with the 1024-bit key" 0 \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --login \
    --pin "$USER_PIN" --sign -m MD5-RSA-PKCS --id 05 -i "$D/msg.txt" \
    -o "$D/msg.md5rsa"
check_status "--read-object the 1024-bit public key" 0 \
    pkcs11-tool --module "$M" --token-label "$LEGACY" --read-object \
    --type pubkey --id 05 -o "$D/rsa1024.der"
check_status "openssl reads the public key" 0 \
    openssl pkey -pubin -inform DER -in "$D/rsa1024.der" \
    -out "$D/rsa1024.pem"
check_output "openssl verifies the MD5-RSA-PKCS signature" 0 \
    '^Verified OK$' \
    openssl dgst -md5 -verify "$D/rsa1024.pem" \
    -signature "$D/msg.md5rsa" "$D/msg.txt"

# --- a partition made under the default (fips) policy -------------------------

# Drop the policy line: new partitions get fips; the legacy one keeps its own.
prepare sed -i '/^policy = /d' "$HSMSIM_CONF"
# In network mode the policy is the appliance's (hsmsimd.conf).
if [ -n "${HSMSIM_TEST_APPLIANCE:-}" ]; then
    prepare sed -i '/^policy = /d' "$TEST_DIR/hsmsimd.conf"
    interop_appliance_restart
fi
new_partition "$FIPS"

check_output "the legacy partition still lists MD5-HMAC" 0 '^  MD5-HMAC, ' \
    pkcs11-tool --module "$M" --token-label "$LEGACY" -M

check_output "fips -M lists DES3-CBC, three-key only" 0 \
    '^  DES3-CBC, keySize=\{24,24\}' \
    pkcs11-tool --module "$M" --token-label "$FIPS" -M
check_last_no_output "fips -M lacks DES-ECB" '^  DES-ECB,'
check_last_no_output "fips -M lacks DES-KEY-GEN" '^  DES-KEY-GEN,'
check_last_no_output "fips -M lacks MD5" '^  MD5, '
check_last_no_output "fips -M lacks MD5-HMAC" '^  MD5-HMAC,'
check_last_no_output "fips -M lacks MD5-RSA-PKCS" '^  MD5-RSA-PKCS,'
check_last_output "fips -M: RSA key pairs from 2048 bits" \
    '^  RSA-PKCS-KEY-PAIR-GEN, keySize=\{2048,4096\}'

check_output "fips --hash -m MD5: CKR_MECHANISM_INVALID" '!0' \
    'C_DigestInit.*CKR_MECHANISM_INVALID' \
    pkcs11-tool --module "$M" --token-label "$FIPS" --hash -m MD5 \
    -i "$D/data.bin" -o "$D/fips.md5"
check_output "fips --keygen DES: finds no DES key generation" '!0' \
    'Generate Key mechanism not supported' \
    pkcs11-tool --module "$M" --token-label "$FIPS" --login \
    --pin "$USER_PIN" --keygen --key-type DES: --id 03 --label des
check_output "fips --keygen DES: -m DES-KEY-GEN: CKR_MECHANISM_INVALID" \
    '!0' 'C_GenerateKey.*CKR_MECHANISM_INVALID' \
    pkcs11-tool --module "$M" --token-label "$FIPS" --login \
    --pin "$USER_PIN" --keygen --key-type DES: -m DES-KEY-GEN --id 03 \
    --label des
check_output "fips --keypairgen rsa:1024: CKR_KEY_SIZE_RANGE" '!0' \
    'C_GenerateKeyPair.*CKR_KEY_SIZE_RANGE' \
    pkcs11-tool --module "$M" --token-label "$FIPS" --login \
    --pin "$USER_PIN" --keypairgen --key-type rsa:1024 --id 05 \
    --label rsa1024
check_output "fips --keygen DES3:24 still works" 0 \
    'Secret Key Object; DES3 length 24' \
    pkcs11-tool --module "$M" --token-label "$FIPS" --login \
    --pin "$USER_PIN" --keygen --key-type DES3:24 --id 01 --label des3
check_output "fips --keygen GENERIC:16" 0 'Secret Key Object' \
    pkcs11-tool --module "$M" --token-label "$FIPS" --login \
    --pin "$USER_PIN" --keygen --key-type GENERIC:16 --id 04 --label hmac
check_output "fips --sign MD5-HMAC: CKR_MECHANISM_INVALID" '!0' \
    'C_SignInit.*CKR_MECHANISM_INVALID' \
    pkcs11-tool --module "$M" --token-label "$FIPS" --login \
    --pin "$USER_PIN" --sign -m MD5-HMAC --id 04 -i "$D/msg.txt" \
    -o "$D/fips.hmac"
check_status "fips --sign SHA256-HMAC works" 0 \
    pkcs11-tool --module "$M" --token-label "$FIPS" --login \
    --pin "$USER_PIN" --sign -m SHA256-HMAC --id 04 -i "$D/msg.txt" \
    -o "$D/fips.sha256hmac"

finish
