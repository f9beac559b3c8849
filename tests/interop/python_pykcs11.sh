#!/bin/sh
# SPDX-License-Identifier: MIT
# Drive the module from Python with PyKCS11 (pykcs11_check.py): RSA and EC
# key pairs, signatures, AES key wrap, RSA-OAEP wrap; OpenSSL checks the
# signatures and wrapped keys the module produced and wraps a key for it.
#
# Usage: python_pykcs11.sh [MODULE]   (make check sets HSMSIM_MODULE instead)
# PyKCS11 comes from Debian's python3-pykcs11, hence /usr/bin/python3
# (set HSMSIM_PYTHON to use another interpreter that has it).

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}"
require_tool pkcs11-tool openssl awk cmp
PYTHON=${HSMSIM_PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || bail_out "$PYTHON is not installed"
"$PYTHON" -c 'import PyKCS11' >/dev/null 2>&1 ||
    bail_out "$PYTHON cannot import PyKCS11 (python3-pykcs11)"

M=$HSMSIM_MODULE
CHECK=$(cd "$(dirname "$0")" && pwd)/pykcs11_check.py
[ -f "$CHECK" ] || bail_out "$CHECK not found"
SO_PIN=so-secret-1
USER_PIN=user-pin-1
LABEL="pykcs11 interop $$"
D=$TEST_DIR

# prepare CMD...: a setup step that must work; stop the script otherwise.
prepare()
{
    run "$@"
    [ "$STATUS" -eq 0 ] || bail_out "$* failed: $(cat "$OUT")"
}

# slot_of PATTERN: the slot number (decimal) of the first slot in the last
# "pkcs11-tool -L" output with a line matching PATTERN.
slot_of()
{
    hex=$(awk -v pat="$1" '
        /^Slot [0-9]+ \(0x[0-9a-f]+\)/ { s = $3; gsub(/[():]/, "", s) }
        $0 ~ pat { print s; exit }' "$OUT")
    [ -n "$hex" ] || bail_out "no slot matches /$1/ in pkcs11-tool -L"
    printf '%d\n' "$hex"
}

# --- partition: token, PINs ----------------------------------------------

prepare pkcs11-tool --module "$M" -L
free=$(slot_of '^  token state: +uninitialized')
prepare pkcs11-tool --module "$M" --slot "$free" --init-token \
    --label "$LABEL" --so-pin "$SO_PIN"
prepare pkcs11-tool --module "$M" -L
slot=$(slot_of "^  token label +: $LABEL\$")
prepare pkcs11-tool --module "$M" --slot "$slot" --login --login-type so \
    --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"

# --- the PyKCS11 checks ----------------------------------------------------

# Each step prints "ok - " or "not ok - " (with what was called and what
# came back); a failure makes the script exit 1, shown below in full.
check_no_output "pykcs11_check.py: every PyKCS11 check passes" 0 \
    '^not ok' "$PYTHON" "$CHECK" "$M" "$slot" "$USER_PIN" "$D"
# py_step DESC PATTERN: the PyKCS11 run above reported PATTERN as ok.
py_step()
{
    check_last_output "PyKCS11: $1" "^ok - $2"
}

py_step "RSA-2048 key pair generated" \
    'C_GenerateKeyPair\(CKM_RSA_PKCS_KEY_PAIR_GEN'
py_step "CKM_SHA256_RSA_PKCS signature verifies in the module" \
    'C_Verify\(CKM_SHA256_RSA_PKCS\) accepts'
py_step "CKM_SHA256_RSA_PKCS_PSS signature verifies in the module" \
    'C_Verify\(CKM_SHA256_RSA_PKCS_PSS\) accepts'
py_step "EC P-256 key pair generated" \
    'C_GenerateKeyPair\(CKM_EC_KEY_PAIR_GEN'
py_step "CKM_ECDSA signature verifies in the module" \
    'C_Verify\(CKM_ECDSA\) accepts'
py_step "AES key wrapped with KWP or PAD" \
    'C_WrapKey\(CKM_AES_KEY_WRAP_(KWP|PAD), AES-256 key\)'
py_step "the AES-unwrapped key encrypts like the original" \
    'key unwrapped from CKM_AES_KEY_WRAP_(KWP|PAD) encrypts like'
py_step "RSA-OAEP (SHA-1) unwrapped key encrypts like the original" \
    'key unwrapped from CKM_RSA_PKCS_OAEP SHA-1 encrypts like'
py_step "RSA-OAEP (SHA-256) unwrapped key encrypts like the original" \
    'key unwrapped from CKM_RSA_PKCS_OAEP SHA-256 encrypts like'

# --- OpenSSL checks what the module made ------------------------------------

printf 'other data\n' >"$D/other.bin"

# openssl_verify KEY SIG [OPENSSL_DGST_OPTION...]: the signature file SIG
# over data.bin verifies under KEY.pub.der (and not over other data).
openssl_verify()
{
    key=$1 sig=$2
    shift 2
    check_output "openssl dgst -verify accepts $sig" 0 '^Verified OK$' \
        openssl dgst -sha256 "$@" -verify "$D/$key.pub.der" -keyform DER \
        -signature "$D/$sig" "$D/data.bin"
    check_output "openssl dgst -verify rejects $sig for other data" 1 \
        '^Verification failure' \
        openssl dgst -sha256 "$@" -verify "$D/$key.pub.der" -keyform DER \
        -signature "$D/$sig" "$D/other.bin"
}

check_output "openssl reads the RSA public key from its attributes" 0 \
    'Public-Key: \(2048 bit\)' \
    openssl pkey -pubin -inform DER -in "$D/rsa.pub.der" -noout -text
openssl_verify rsa rsa.sig
openssl_verify rsa rsa-pss.sig -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256
check_output "openssl reads the EC public key from its attributes" 0 \
    'ASN1 OID: prime256v1' \
    openssl pkey -pubin -inform DER -in "$D/ec.pub.der" -noout -text
openssl_verify ec ec.sig.der

# The first AES wrap mechanism the module offers (KWP, else PAD) must be
# RFC 5649, which OpenSSL calls id-aes256-wrap-pad.
check_status "openssl unwraps the module's AES key wrap (RFC 5649)" 0 \
    openssl enc -d -id-aes256-wrap-pad -iv A65959A6 \
    -K "$(cat "$D/aeswrap.kek" 2>/dev/null)" \
    -in "$D/aeswrap.wrapped" -out "$D/aeswrap.openssl"
check_true "openssl's unwrapped key is the module's key" \
    cmp "$D/aeswrap.key" "$D/aeswrap.openssl"

# --- the module unwraps what OpenSSL wrapped --------------------------------

head -c 32 /dev/urandom >"$D/oaep.key"
check_status "openssl wraps an AES key with RSA-OAEP SHA-256" 0 \
    openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$D/rsa.pub.der" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -in "$D/oaep.key" -out "$D/oaep.wrapped"
check_no_output "PyKCS11 unwraps openssl's RSA-OAEP blob" 0 '^not ok' \
    "$PYTHON" "$CHECK" --unwrap-oaep "$M" "$slot" "$USER_PIN" "$D"
check_last_output "the unwrapped key is openssl's key" \
    "^ok - the key unwrapped from openssl's blob is openssl's key"

finish
