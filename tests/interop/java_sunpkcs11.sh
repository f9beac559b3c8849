#!/bin/sh
# SPDX-License-Identifier: MIT
# Use the module as a Java security provider (SunPKCS11, OpenJDK 17):
# keytool lists keys and certificates made with pkcs11-tool and OpenSSL,
# Java signs with them (RSA PKCS#1 v1.5 and PSS, ECDSA) and OpenSSL
# verifies; Java also generates key pairs inside the token
# (KeyPairGenerator, keytool -genkeypair) and does ECDH with OpenSSL.
#
# Usage: java_sunpkcs11.sh [MODULE]   (make check sets HSMSIM_MODULE instead)
# The Java sources in java/ are compiled into the scratch directory.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}"
require_tool pkcs11-tool openssl java javac keytool awk sed cmp

M=$HSMSIM_MODULE
JAVA_SRC=$(cd "$(dirname "$0")/java" && pwd) ||
    bail_out "Java sources not found next to $0"
SO_PIN=so-secret-1
USER_PIN=user-pin-1
LABEL="java interop $$"
D=$TEST_DIR
CFG=$D/sunpkcs11.cfg
CLASSES=$D/classes

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

# pem_fingerprint CERT: the SHA-256 fingerprint as keytool prints it.
pem_fingerprint()
{
    openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^[^=]*=//'
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

# --- key pairs made by pkcs11-tool, certificates by OpenSSL ---------------

prepare openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -keyout "$D/ca.key" -out "$D/ca.pem" -days 2 \
    -subj "/CN=throwaway CA"

# make_pair TYPE ID LABEL: key pair in the token, its public key exported
# to LABEL.pub.pem, and a certificate for it (same CKA_ID and CKA_LABEL)
# signed by the throwaway CA and written to the token.
make_pair()
{
    check_output "pkcs11-tool --keypairgen $1 ($3)" 0 \
        'Public Key Object' \
        pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
        --keypairgen --key-type "$1" --id "$2" --label "$3"
    check_status "pkcs11-tool --read-object the $3 public key" 0 \
        pkcs11-tool --module "$M" --slot "$slot" --read-object \
        --type pubkey --id "$2" -o "$D/$3.pub.der"
    check_status "openssl reads the exported $3 public key" 0 \
        openssl pkey -pubin -inform DER -in "$D/$3.pub.der" \
        -out "$D/$3.pub.pem"
    check_status "openssl issues a certificate for the $3 public key" 0 \
        openssl x509 -new -subj "/CN=$3/O=hsmsim interop" \
        -force_pubkey "$D/$3.pub.pem" -CA "$D/ca.pem" -CAkey "$D/ca.key" \
        -days 2 -out "$D/$3.cert.pem"
    run openssl x509 -in "$D/$3.cert.pem" -outform DER -out "$D/$3.cert.der"
    check_output "pkcs11-tool --write-object the $3 certificate" 0 \
        'Created certificate' \
        pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
        --write-object "$D/$3.cert.der" --type cert --id "$2" --label "$3"
}

make_pair rsa:2048 01 mykey
make_pair EC:prime256v1 02 myec

# --- SunPKCS11 configuration and the test programs -------------------------

{
    printf 'name = hsmsim\n'
    printf 'library = "%s"\n' "$M"
    printf 'slot = %s\n' "$slot"
} >"$CFG"

check_output "java is OpenJDK 17" 0 'version "17[."]' java -version
mkdir -p "$CLASSES" || bail_out "cannot create $CLASSES"
check_status "javac compiles the test programs" 0 \
    javac -d "$CLASSES" "$JAVA_SRC/P11Provider.java" \
    "$JAVA_SRC/P11Sign.java" "$JAVA_SRC/P11KeyGen.java" \
    "$JAVA_SRC/P11Ecdh.java"

# --- keytool lists what pkcs11-tool made ----------------------------------

fp_rsa=$(pem_fingerprint "$D/mykey.cert.pem")
fp_ec=$(pem_fingerprint "$D/myec.cert.pem")

check_output "keytool -list (-providerClass) shows mykey as PrivateKeyEntry" \
    0 '^mykey, PrivateKeyEntry,' \
    keytool -list -keystore NONE -storetype PKCS11 \
    -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$CFG" \
    -storepass "$USER_PIN"
check_last_output "keytool -list shows myec as PrivateKeyEntry" \
    '^myec, PrivateKeyEntry,'
check_last_output "keytool -list shows the RSA certificate's fingerprint" \
    "^Certificate fingerprint \(SHA-256\): $fp_rsa\$"
check_last_output "keytool -list shows the EC certificate's fingerprint" \
    "^Certificate fingerprint \(SHA-256\): $fp_ec\$"
check_last_output "keytool -list counts exactly the two entries" \
    '^Your keystore contains 2 entries$'

check_output "keytool -list -v -alias mykey (-addprovider)" 0 \
    '^Entry type: PrivateKeyEntry$' \
    keytool -list -v -alias mykey -keystore NONE -storetype PKCS11 \
    -addprovider SunPKCS11 -providerArg "$CFG" -storepass "$USER_PIN"
check_last_output "keytool -list -v shows the certificate owner" \
    '^Owner: O=hsmsim interop, CN=mykey$'
check_last_output "keytool -list -v shows the RSA fingerprint" \
    "SHA256: $fp_rsa\$"
check_last_output "keytool -list -v shows a 2048-bit RSA key" \
    '2048-bit RSA key'

check_output "keytool -list with a wrong PIN fails: CKR_PIN_INCORRECT" \
    '!0' 'CKR_PIN_INCORRECT' \
    keytool -list -keystore NONE \
    -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
    -providerArg "$CFG" -storepass wrong-pin -v

# --- Java signs with the token's keys, OpenSSL verifies ---------------------

head -c 5003 /dev/urandom >"$D/data.bin"
printf 'other data\n' >"$D/other.bin"

# java_sign ALIAS ALGORITHM PUBLIC_PEM [OPENSSL_DGST_OPTION...]: sign
# data.bin in the token, check the signature with the certificate in Java,
# then with OpenSSL.
java_sign()
{
    alias=$1 alg=$2 pub=$3
    shift 3
    check_output "Java signs with $alias ($alg)" 0 '^verified: certificate' \
        java -cp "$CLASSES" P11Sign "$CFG" "$USER_PIN" "$alias" "$alg" \
        "$D/data.bin" "$D/$alias.sig"
    check_last_output "Java: $alias is a PrivateKeyEntry" \
        "^entry: $alias PrivateKeyEntry"
    check_last_output "Java: the token made the $alias signature" \
        "^signed: $alg [0-9]+ bytes by SunPKCS11-hsmsim\$"
    check_output "openssl dgst -verify accepts the $alias $alg signature" 0 \
        '^Verified OK$' \
        openssl dgst -sha256 "$@" -verify "$pub" -signature "$D/$alias.sig" \
        "$D/data.bin"
    check_output "openssl dgst -verify rejects it for other data" 1 \
        '^Verification failure' \
        openssl dgst -sha256 "$@" -verify "$pub" -signature "$D/$alias.sig" \
        "$D/other.bin"
}

java_sign mykey SHA256withRSA "$D/mykey.pub.pem"
java_sign mykey RSASSA-PSS "$D/mykey.pub.pem" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -sigopt rsa_mgf1_md:sha256
java_sign myec SHA256withECDSA "$D/myec.pub.pem"

# --- key pairs generated through the provider -------------------------------

# java_keygen RSA|EC: KeyPairGenerator in the token, sign, check outside.
java_keygen()
{
    check_output "Java KeyPairGenerator $1 through SunPKCS11" 0 \
        "^generated: $1 by SunPKCS11-hsmsim\$" \
        java -cp "$CLASSES" P11KeyGen "$CFG" "$USER_PIN" "$1" \
        "$D/data.bin" "$D/gen$1.sig" "$D/gen$1.pub.der"
    check_last_output "Java: the generated $1 private key stays inside" \
        '^private key encoding: none$'
    check_output "openssl verifies the generated $1 key's signature" 0 \
        '^Verified OK$' \
        openssl dgst -sha256 -verify "$D/gen$1.pub.der" -keyform DER \
        -signature "$D/gen$1.sig" "$D/data.bin"
}

java_keygen RSA
java_keygen EC

# --- ECDH through the provider, checked against OpenSSL ----------------------

# SunPKCS11 sets neither CKA_DERIVE on generated EC keys nor
# CKA_SENSITIVE=FALSE on the derived secret it then reads, and the module
# defaults both the safe way, so the configuration asks for them.
cp "$CFG" "$D/ecdh.cfg"
cat >>"$D/ecdh.cfg" <<'CFG'
attributes(generate, CKO_PRIVATE_KEY, CKK_EC) = {
  CKA_DERIVE = true
}
attributes(generate, CKO_SECRET_KEY, CKK_GENERIC_SECRET) = {
  CKA_SENSITIVE = false
  CKA_EXTRACTABLE = true
}
CFG
prepare openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$D/peer.key"
prepare openssl pkey -in "$D/peer.key" -pubout -outform DER \
    -out "$D/peer.pub.der"
check_output "Java KeyAgreement ECDH through SunPKCS11" 0 \
    '^derived: 32 bytes by SunPKCS11-hsmsim$' \
    java -cp "$CLASSES" P11Ecdh "$D/ecdh.cfg" "$USER_PIN" \
    "$D/peer.pub.der" "$D/ecdh.pub.der" "$D/ecdh.secret"
check_status "openssl derives with the token key's public half" 0 \
    openssl pkeyutl -derive -inkey "$D/peer.key" -peerkey "$D/ecdh.pub.der" \
    -peerform DER -out "$D/ecdh.openssl"
check_true "the ECDH secrets match" cmp "$D/ecdh.secret" "$D/ecdh.openssl"

# --- keytool -genkeypair stores a token-made key and certificate -----------

# -providerName makes keytool generate (and self-sign) with the token's
# provider; without it the software RSA generator would be used.
check_status "keytool -genkeypair in the token" 0 \
    keytool -genkeypair -alias javakey -keyalg RSA -keysize 2048 \
    -sigalg SHA256withRSA -dname "CN=java generated" -validity 2 \
    -keystore NONE -storetype PKCS11 \
    -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$CFG" \
    -providerName SunPKCS11-hsmsim -storepass "$USER_PIN"
check_output "keytool -list shows javakey as PrivateKeyEntry" 0 \
    '^javakey, PrivateKeyEntry,' \
    keytool -list -keystore NONE -storetype PKCS11 \
    -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$CFG" \
    -storepass "$USER_PIN"
check_last_output "keytool -list now counts three entries" \
    '^Your keystore contains 3 entries$'

# SunPKCS11 names the stored objects by CKA_ID = the alias in ASCII.
check_output "pkcs11-tool -O sees javakey's certificate" 0 \
    "^  label: +javakey\$" \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --type cert -O
check_last_output "javakey's certificate has CKA_ID \"javakey\"" \
    '^  ID: +6a6176616b6579$'
check_output "pkcs11-tool -O sees javakey's private key" 0 \
    '^Private Key Object; RSA' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --type privkey --id 6a6176616b6579 -O
check_last_output "javakey's private key was generated in the token" \
    '^  Access: .*never extractable.*local'

check_status "keytool -exportcert javakey" 0 \
    keytool -exportcert -rfc -alias javakey -file "$D/javakey.pem" \
    -keystore NONE -storetype PKCS11 \
    -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$CFG" \
    -storepass "$USER_PIN"
check_output "openssl: javakey's self-signature (made in the token) is good" \
    0 ': OK$' \
    openssl verify -CAfile "$D/javakey.pem" "$D/javakey.pem"
run openssl x509 -in "$D/javakey.pem" -noout -pubkey
cp "$OUT" "$D/javakey.pub.pem"
java_sign javakey SHA256withRSA "$D/javakey.pub.pem"

finish
