#!/bin/sh
# SPDX-License-Identifier: MIT
# main-job.sh - set up hsmsim and show a partition acting as an HSM:
# objects that persist across processes, and a CEK that never leaves.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/usr/local}

"$top/scripts/install-deps.sh"
BUILD_DIR=${BUILD_DIR:-$top/_build} "$top/scripts/build.sh" --prefix="$prefix"
make -C "${BUILD_DIR:-$top/_build}" install >/dev/null
ldconfig

module="$prefix/lib/pkcs11/libhsmsim.so"
admin="$prefix/bin/hsmsim-admin"
so_pin=87654321
pin=123456
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0

step() { printf '\n== %s\n' "$*"; }
p11() { pkcs11-tool --module "$module" --token-label demo "$@"; }
user() { p11 --login --pin "$pin" "$@"; }
# A call that must be refused with a given CKR code.
refused() {
    want=$1; shift
    if out=$(user "$@" 2>&1); then
        echo "NOT REFUSED: $*"; fails=$((fails + 1))
    elif printf '%s' "$out" | grep -q "$want"; then
        echo "refused as it must be: $want"
    else
        echo "refused, but not with $want:"; printf '%s\n' "$out"
        fails=$((fails + 1))
    fi
}

step "A fresh partition 'demo' on the appliance ($admin)"
"$admin" partition delete demo >/dev/null 2>&1 || true
"$admin" partition create demo --so-pin "$so_pin" --pin "$pin"
"$admin" partition show demo
pkcs11-tool --module "$module" -L

step "Log in and store a private data object and a certificate-sized blob"
printf 'hsmsim keeps this across processes\n' > "$work/note.txt"
user --write-object "$work/note.txt" --type data --label note --private
head -c 2048 /dev/urandom > "$work/blob.bin"
user --write-object "$work/blob.bin" --type data --label blob --private

step "Find them again from fresh processes"
user -O --type data
user --read-object --type data --label note -o "$work/note.back"
user --read-object --type data --label blob -o "$work/blob.back"
cmp "$work/note.txt" "$work/note.back" && cmp "$work/blob.bin" "$work/blob.back" &&
    echo "both objects read back byte for byte"
p11 -O --type data 2>&1 | grep -q note &&
    { echo "PRIVATE OBJECT VISIBLE WITHOUT LOGIN"; fails=$((fails + 1)); } ||
    echo "without login the private objects stay hidden"

step "Generate a CEK inside the partition: AES-256, sensitive, never extractable"
user --keygen --key-type AES:32 --label cek --id c0 --sensitive --usage-wrap

step "Generate a DEK (extractable: it is what the CEK protects)"
user --keygen --key-type AES:32 --label dek --id d0 --extractable

step "Wrap the DEK under the CEK (CKM_AES_KEY_WRAP, RFC 3394) and unwrap it"
user --wrap -m AES-KEY-WRAP --id c0 --application-id d0 -o "$work/dek.wrapped"
echo "wrapped DEK: $(od -An -tx1 "$work/dek.wrapped" | tr -d ' \n')"
user --unwrap -m AES-KEY-WRAP --id c0 -i "$work/dek.wrapped" --key-type AES: \
    --application-id d1 --application-label dek-unwrapped --extractable
user --read-object --type secrkey --id d0 -o "$work/dek"
user --read-object --type secrkey --id d1 -o "$work/dek.unwrapped"
if cmp -s "$work/dek" "$work/dek.unwrapped"; then
    echo "round trip exact: the unwrapped DEK equals the original"
else
    echo "ROUND TRIP MISMATCH"; fails=$((fails + 1))
fi

step "A key pair for the trust link: EC P-256 made inside, its certificate beside it"
user --keypairgen --key-type EC:prime256v1 --label link --id 1a
p11 --read-object --type pubkey --id 1a -o "$work/link.pub.der"
openssl pkey -pubin -inform DER -in "$work/link.pub.der" -out "$work/link.pub.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/ca.key" -out "$work/ca.pem" -days 1 -subj "/CN=demo CA" \
    2>/dev/null
openssl x509 -new -subj "/CN=hsmsim demo client" -force_pubkey \
    "$work/link.pub.pem" -CA "$work/ca.pem" -CAkey "$work/ca.key" -days 1 \
    -outform DER -out "$work/link.crt.der"
user --write-object "$work/link.crt.der" --type cert --id 1a --label link
user -O --id 1a
printf 'a handshake transcript\n' > "$work/transcript"
user --sign -m ECDSA-SHA256 --id 1a --signature-format openssl \
    -i "$work/transcript" -o "$work/transcript.sig"
if openssl dgst -sha256 -verify "$work/link.pub.pem" \
        -signature "$work/transcript.sig" "$work/transcript"; then
    echo "OpenSSL verifies the signature the partition made"
else
    echo "SIGNATURE DID NOT VERIFY"; fails=$((fails + 1))
fi
if user -O --type privkey --id 1a 2>/dev/null |
        grep -q 'sensitive, always sensitive, never extractable, local'; then
    echo "the private key was made inside and can never leave"
else
    echo "PRIVATE KEY NOT PROTECTED"; fails=$((fails + 1))
fi

step "Every way to read the CEK out is refused"
echo "- read its value:"
refused CKR_ATTRIBUTE_SENSITIVE --read-object --type secrkey --id c0
echo "- wrap it under another wrapping key:"
user --keygen --key-type AES:32 --label kek2 --id c2 --sensitive --usage-wrap \
    >/dev/null 2>&1
refused CKR_KEY_UNEXTRACTABLE --wrap -m AES-KEY-WRAP --id c2 --application-id c0
echo "- wrap a key under the CEK, then decrypt the blob with the CEK:"
refused CKR_KEY_FUNCTION_NOT_PERMITTED --decrypt -m AES-ECB --id c0 \
    -i "$work/dek.wrapped"
echo "- make a key that may both wrap and decrypt (the wrap-then-decrypt attack):"
refused CKR_TEMPLATE_INCONSISTENT --keygen --key-type AES:32 --label evil \
    --usage-wrap --usage-decrypt

step "Result"
if [ "$fails" -ne 0 ]; then
    echo "main job: $fails step(s) went wrong"
    exit 1
fi
echo "main job: the partition behaved as an HSM at every step"
