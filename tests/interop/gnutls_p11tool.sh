#!/bin/sh
# SPDX-License-Identifier: MIT
# Drive the module with GnuTLS: p11tool and certtool load it with
# --provider and name tokens and keys by RFC 7512 PKCS#11 URIs; openssl
# checks the keys, signatures and certificates they produce.
#
# Usage: gnutls_p11tool.sh [MODULE]   (make check sets HSMSIM_MODULE)
#
# Notes on GnuTLS 3.7:
# - --provider loads only that module (no p11-kit configuration needed).
# - PINs come from GNUTLS_PIN and GNUTLS_SO_PIN; --batch never prompts.
# - Uninitialized tokens are not listed, so the free slot of the new store
#   (slot 0, see pkcs11_tool.sh) is named by 'pkcs11:slot-id=0'.
# - --generate-privkey without --id sets CKA_ID on both halves afterwards
#   with C_SetAttributeValue.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}"
require_tool p11tool certtool openssl cmp sed

M=$HSMSIM_MODULE
GNUTLS_SO_PIN=so-secret-1
GNUTLS_PIN=user-pin-1
export GNUTLS_SO_PIN GNUTLS_PIN
D=$TEST_DIR
# The label has a space, so URIs must percent-encode it (RFC 7512, 2.3).
TOKEN="gnutls token"
T="pkcs11:token=gnutls%20token"
RSA="$T;object=gnutls-rsa"
EC="$T;object=gnutls-ec"
P384="$T;object=gnutls-p384"

# url_id TYPE LABEL: the id= part of the URL of that object in $OUT.
url_id()
{
    sed -n "s/^.*URL: pkcs11:.*;id=\\([^;]*\\);object=$2;type=$1\$/\\1/p" \
        "$OUT" | head -n 1
}

# --- token setup -----------------------------------------------------------

check_output "--initialize the free slot" 0 'successfully initialized' \
    p11tool --provider "$M" --batch --initialize --label "$TOKEN" \
    'pkcs11:slot-id=0'
check_status "--initialize-pin sets the user PIN" 0 \
    p11tool --provider "$M" --batch --initialize-pin "$T"
check_output "--list-tokens shows the token" 0 "^	Label: $TOKEN\$" \
    p11tool --provider "$M" --list-tokens
check_output "--list-token-urls percent-encodes the label" 0 \
    '^pkcs11:.*;token=gnutls%20token$' \
    p11tool --provider "$M" --list-token-urls
check_output "--list-mechanisms shows RSA key pair generation" 0 \
    'CKM_RSA_PKCS_KEY_PAIR_GEN' \
    p11tool --provider "$M" --list-mechanisms "$T"
check_last_output "--list-mechanisms shows EC key pair generation" \
    'CKM_EC(DSA)?_KEY_PAIR_GEN'
check_last_output "--list-mechanisms shows CKM_ECDSA" 'CKM_ECDSA '
check_last_output "--list-mechanisms shows CKM_RSA_PKCS_PSS" \
    'CKM_RSA_PKCS_PSS '
check_output "--list-all-certs on the new token finds nothing" '!0' \
    'No matching objects found' \
    p11tool --provider "$M" --batch --list-all-certs "$T"

# --- key generation ----------------------------------------------------------

check_status "--generate-privkey rsa --bits 2048" 0 \
    p11tool --provider "$M" --batch --login --generate-privkey rsa \
    --bits 2048 --label gnutls-rsa --id 0a --outfile "$D/rsa.gen.pem" "$T"
check_status "--generate-privkey ecdsa --curve secp256r1" 0 \
    p11tool --provider "$M" --batch --login --generate-privkey ecdsa \
    --curve secp256r1 --label gnutls-ec --outfile "$D/ec.gen.pem" "$T"
check_status "--generate-privkey ecdsa --curve secp384r1" 0 \
    p11tool --provider "$M" --batch --login --generate-privkey ecdsa \
    --curve secp384r1 --label gnutls-p384 --id 0c "$T"

check_output "--list-all-privkeys shows the RSA key" 0 \
    '^	Type: Private key \(RSA-2048\)$' \
    p11tool --provider "$M" --batch --login --list-all-privkeys "$T"
check_last_output "--list-all-privkeys shows the P-256 key" \
    '^	Type: Private key \(EC/ECDSA-SECP256R1\)$'
check_last_output "--list-all-privkeys shows the P-384 key" \
    '^	Type: Private key \(EC/ECDSA-SECP384R1\)$'
check_last_output "private keys are sensitive and never extractable" \
    'Flags: .*CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE;'
check_last_no_output "--list-all-privkeys lists no public keys" \
    'type=public'

check_output "--list-all --login lists the key pairs" 0 \
    ';id=%0A;object=gnutls-rsa;type=public$' \
    p11tool --provider "$M" --batch --login --list-all "$T"
check_last_output "--list-all gives the RSA private key id 0a" \
    ';id=%0A;object=gnutls-rsa;type=private$'
ec_priv_id=$(url_id private gnutls-ec)
ec_pub_id=$(url_id public gnutls-ec)
check_true "GnuTLS set an ID on the P-256 private key" \
    test -n "$ec_priv_id"
check_true "both halves of the P-256 pair have the same ID" \
    test "$ec_priv_id" = "$ec_pub_id"
check_output "--list-all without login hides private keys" 0 \
    'object=gnutls-rsa;type=public$' \
    p11tool --provider "$M" --batch --list-all "$T"
check_last_no_output "--list-all without login: no private objects" \
    'type=private'

check_output "a wrong GNUTLS_PIN is refused" '!0' 'Wrong PIN' \
    env GNUTLS_PIN=wrong-pin-9 p11tool --provider "$M" --batch --login \
    --list-all-privkeys "$T"

# --- public keys into openssl -------------------------------------------------

check_status "--export-pubkey of the RSA private key" 0 \
    p11tool --provider "$M" --batch --login --export-pubkey \
    "$RSA;type=private" --outfile "$D/rsa.pub.pem"
check_output "openssl reads it as RSA 2048" 0 'Public-Key: \(2048 bit\)' \
    openssl pkey -pubin -in "$D/rsa.pub.pem" -noout -text
check_true "it matches the key printed at generation" \
    cmp "$D/rsa.gen.pem" "$D/rsa.pub.pem"
check_status "--export-pubkey of the RSA public key object" 0 \
    p11tool --provider "$M" --batch --export-pubkey "$RSA;type=public" \
    --outfile "$D/rsa.pub2.pem"
check_true "both exports agree" cmp "$D/rsa.pub.pem" "$D/rsa.pub2.pem"
check_status "--export-pubkey of the P-256 key" 0 \
    p11tool --provider "$M" --batch --login --export-pubkey \
    "$EC;type=private" --outfile "$D/ec.pub.pem"
check_output "openssl reads it as P-256" 0 'NIST CURVE: P-256' \
    openssl pkey -pubin -in "$D/ec.pub.pem" -noout -text
check_true "it matches the key printed at generation" \
    cmp "$D/ec.gen.pem" "$D/ec.pub.pem"
check_status "--export-pubkey of the P-384 key" 0 \
    p11tool --provider "$M" --batch --login --export-pubkey \
    "$P384;type=private" --outfile "$D/p384.pub.pem"
check_output "openssl reads it as P-384" 0 'NIST CURVE: P-384' \
    openssl pkey -pubin -in "$D/p384.pub.pem" -noout -text

# --- signing through PKCS#11 URIs --------------------------------------------

check_output "--test-sign with the RSA key" 0 \
    'Verifying against public key in the token\.\.\. ok' \
    p11tool --provider "$M" --batch --login --test-sign "$RSA;type=private"
check_last_output "--test-sign RSA used RSA-SHA256" 'Signing using RSA-SHA256'
check_output "--test-sign --sign-params rsa-pss" 0 \
    'Verifying against public key in the token\.\.\. ok' \
    p11tool --provider "$M" --batch --login --test-sign \
    --sign-params rsa-pss "$RSA;type=private"
check_last_output "--test-sign used RSA-PSS" 'Signing using RSA-PSS'
check_output "--test-sign with the P-256 key" 0 \
    'Verifying against public key in the token\.\.\. ok' \
    p11tool --provider "$M" --batch --login --test-sign "$EC;type=private"
check_output "--test-sign with the P-384 key" 0 \
    'Verifying against public key in the token\.\.\. ok' \
    p11tool --provider "$M" --batch --login --test-sign \
    "$P384;type=private"
check_output "--test-sign with an object that does not exist fails" '!0' \
    'Cannot import private key' \
    p11tool --provider "$M" --batch --login --test-sign \
    "$T;object=no-such-key;type=private"

# template NAME CN: a certtool template for a CA certificate.
template()
{
    cat >"$D/$1.tmpl" <<TMPL
cn = "$2"
organization = "Example Org"
serial = 7
expiration_days = 2
ca
signing_key
cert_signing_key
TMPL
}
template rsa "hsmsim gnutls rsa"
template ec "hsmsim gnutls ecdsa"
template pss "hsmsim gnutls rsa-pss"

check_output "certtool self-signs with the RSA key in the token" 0 \
    'Signing certificate' \
    certtool --provider "$M" --generate-self-signed \
    --load-privkey "$RSA;type=private" --load-pubkey "$RSA;type=public" \
    --template "$D/rsa.tmpl" --outfile "$D/rsa.crt"
check_output "openssl verifies the RSA certificate" 0 ': OK$' \
    openssl verify -CAfile "$D/rsa.crt" "$D/rsa.crt"
check_output "the RSA certificate has the subject" 0 \
    'subject=O = Example Org, CN = hsmsim gnutls rsa' \
    openssl x509 -in "$D/rsa.crt" -noout -subject
check_output "the RSA certificate is signed sha256WithRSA" 0 \
    'Signature Algorithm: sha256WithRSAEncryption' \
    openssl x509 -in "$D/rsa.crt" -noout -text
check_status "openssl reads the RSA certificate" 0 \
    openssl x509 -in "$D/rsa.crt" -noout -pubkey -out "$D/rsa.crt.pub"
check_true "the RSA certificate holds the token's public key" \
    cmp "$D/rsa.pub.pem" "$D/rsa.crt.pub"

check_output "certtool self-signs with the P-256 key (private URI only)" \
    0 'Signing certificate' \
    certtool --provider "$M" --generate-self-signed \
    --load-privkey "$EC;type=private" --template "$D/ec.tmpl" \
    --outfile "$D/ec.crt"
check_output "openssl verifies the ECDSA certificate" 0 ': OK$' \
    openssl verify -CAfile "$D/ec.crt" "$D/ec.crt"
check_output "the ECDSA certificate is signed ecdsa-with-SHA256" 0 \
    'Signature Algorithm: ecdsa-with-SHA256' \
    openssl x509 -in "$D/ec.crt" -noout -text
check_output "openssl rejects the RSA certificate under the EC one" 2 \
    'error' openssl verify -CAfile "$D/ec.crt" "$D/rsa.crt"

check_output "certtool self-signs with RSA-PSS" 0 'Signing certificate' \
    certtool --provider "$M" --generate-self-signed \
    --load-privkey "$RSA;type=private" --sign-params rsa-pss \
    --template "$D/pss.tmpl" --outfile "$D/pss.crt"
check_output "openssl verifies the RSA-PSS certificate" 0 ': OK$' \
    openssl verify -CAfile "$D/pss.crt" "$D/pss.crt"
check_output "the certificate is signed rsassaPss" 0 \
    'Signature Algorithm: rsassaPss' \
    openssl x509 -in "$D/pss.crt" -noout -text

check_status "certtool makes a request signed with the P-384 key" 0 \
    certtool --provider "$M" --generate-request \
    --load-privkey "$P384;type=private" --template "$D/ec.tmpl" \
    --outfile "$D/p384.csr"
check_output "openssl verifies the P-384 request" 0 \
    'verify OK|Certificate request self-signature verify OK' \
    openssl req -in "$D/p384.csr" -noout -verify
check_output "the request holds the P-384 key" 0 'NIST CURVE: P-384' \
    openssl req -in "$D/p384.csr" -noout -text

# --- certificates in the token -----------------------------------------------

check_status "--write the RSA certificate with the key's ID" 0 \
    p11tool --provider "$M" --batch --login --write \
    --load-certificate "$D/rsa.crt" --label gnutls-rsa --id 0a "$T"
check_output "--list-all-certs shows it" 0 \
    ';id=%0A;object=gnutls-rsa;type=cert$' \
    p11tool --provider "$M" --batch --list-all-certs "$T"
check_last_output "--list-all-certs shows the certificate type" \
    'Type: X.509 Certificate \(RSA-2048\)'
check_output "--list-certs pairs it with its private key" 0 \
    ';id=%0A;object=gnutls-rsa;type=cert$' \
    p11tool --provider "$M" --batch --login --list-certs "$T"
check_status "--export the certificate" 0 \
    p11tool --provider "$M" --batch --export "$RSA;type=cert" \
    --outfile "$D/rsa.exp.pem"
check_status "openssl converts the RSA certificate to DER" 0 \
    openssl x509 -in "$D/rsa.crt" -outform DER -out "$D/rsa.crt.der"
check_status "openssl reads the exported certificate" 0 \
    openssl x509 -in "$D/rsa.exp.pem" -outform DER -out "$D/rsa.exp.der"
check_true "the exported certificate is the one written" \
    cmp "$D/rsa.crt.der" "$D/rsa.exp.der"
check_status "certtool signs with the key found by the certificate's ID" 0 \
    certtool --provider "$M" --generate-self-signed \
    --load-privkey "$T;id=%0A;type=private" --template "$D/rsa.tmpl" \
    --outfile "$D/byid.crt"
check_output "openssl verifies that certificate" 0 ': OK$' \
    openssl verify -CAfile "$D/byid.crt" "$D/byid.crt"

# --- deleting -----------------------------------------------------------------

check_status "--delete the P-384 key pair" 0 \
    p11tool --provider "$M" --batch --login --delete "$P384"
check_no_output "the P-384 key pair is gone" 0 'object=gnutls-p384' \
    p11tool --provider "$M" --batch --login --list-all "$T"
check_last_output "the other keys remain" 'object=gnutls-ec;type=private$'

finish
