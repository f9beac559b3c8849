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

step "Partition policies: fips (the default, as a Luna partition in FIPS mode) and legacy"
"$admin" partition delete legacy >/dev/null 2>&1 || true
"$admin" partition create legacy --so-pin "$so_pin" --pin "$pin" \
    --policy legacy >/dev/null
"$admin" partition show demo | grep '^policy'
"$admin" partition show legacy | grep '^policy'
lp11() { pkcs11-tool --module "$module" --token-label legacy "$@"; }
luser() { lp11 --login --pin "$pin" "$@"; }
# offers PARTITION MECHANISM: pkcs11-tool -M lists it.
offers() {
    pkcs11-tool --module "$module" --token-label "$1" -M 2>/dev/null |
        grep -q "^  $2,"
}
for m in DES-CBC DES2-KEY-GEN MD5-RSA-PKCS MD5-HMAC; do
    if offers demo "$m" || ! offers legacy "$m"; then
        echo "POLICY WRONG FOR $m"; fails=$((fails + 1))
    else
        echo "$m: offered under legacy only"
    fi
done
if offers demo DES3-CBC && offers legacy DES3-CBC; then
    echo "DES3-CBC: offered under both"
else
    echo "DES3-CBC NOT OFFERED UNDER BOTH"; fails=$((fails + 1))
fi
echo "- fips refuses an RSA-1024 key pair:"
refused CKR_KEY_SIZE_RANGE --keypairgen --key-type rsa:1024 --label weak
echo "- legacy makes one, and a DES key, and signs with MD5:"
luser --keypairgen --key-type rsa:1024 --label old --id 0e >/dev/null
if luser --keygen --key-type DES:8 --label des --id de >/dev/null 2>&1; then
    echo "single-DES key generated in the legacy partition"
else
    echo "SINGLE-DES KEY GENERATION FAILED UNDER LEGACY"; fails=$((fails + 1))
fi
printf 'a legacy message\n' > "$work/legacy.txt"
luser --sign -m MD5-RSA-PKCS --id 0e -i "$work/legacy.txt" \
    -o "$work/legacy.sig" >/dev/null 2>&1
lp11 --read-object --type pubkey --id 0e -o "$work/old.pub.der"
openssl pkey -pubin -inform DER -in "$work/old.pub.der" -out "$work/old.pub.pem"
if openssl dgst -md5 -verify "$work/old.pub.pem" \
        -signature "$work/legacy.sig" "$work/legacy.txt"; then
    echo "OpenSSL verifies the MD5-RSA-PKCS signature"
else
    echo "MD5 SIGNATURE DID NOT VERIFY"; fails=$((fails + 1))
fi
echo "- the SO moves the partition to fips: the weak mechanisms are gone"
"$admin" partition policy legacy fips --so-pin "$so_pin"
if out=$(luser --sign -m MD5-RSA-PKCS --id 0e -i "$work/legacy.txt" \
        -o "$work/legacy.sig2" 2>&1); then
    echo "MD5 SIGNATURE STILL MADE UNDER FIPS"; fails=$((fails + 1))
elif printf '%s' "$out" | grep -q 'CKR_MECHANISM_INVALID\|not supported'; then
    # pkcs11-tool checks C_GetMechanismList before it calls C_SignInit.
    echo "under fips MD5-RSA-PKCS is refused:" \
        "$(printf '%s' "$out" | grep -m1 'CKR_MECHANISM_INVALID\|not supported')"
else
    echo "MD5-RSA-PKCS refused for the wrong reason:"; printf '%s\n' "$out"
    fails=$((fails + 1))
fi
echo "- and the RSA-1024 key it made there is refused for any signature:"
if out=$(luser --sign -m SHA256-RSA-PKCS --id 0e -i "$work/legacy.txt" \
        -o "$work/legacy.sig3" 2>&1); then
    echo "RSA-1024 STILL SIGNS UNDER FIPS"; fails=$((fails + 1))
elif printf '%s' "$out" | grep -q CKR_KEY_SIZE_RANGE; then
    echo "refused as it must be: CKR_KEY_SIZE_RANGE"
else
    echo "refused, but not with CKR_KEY_SIZE_RANGE:"; printf '%s\n' "$out"
    fails=$((fails + 1))
fi
"$admin" partition delete legacy >/dev/null

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

step "An appliance on loopback, a client registered, a partition assigned"
hsmsimd="$prefix/sbin/hsmsimd"
appl="$work/appliance"
aconf="$work/appliance-admin.conf"
printf 'store = %s\n' "$appl" > "$aconf"
adm() { HSMSIM_CONF="$aconf" "$admin" "$@"; }
"$hsmsimd" --init --dir "$appl"
adm partition create cluster1 --so-pin "$so_pin" --pin "$pin" >/dev/null
adm client cert create --cn app1 --out "$work/client" | tail -n 2
adm client register app1 --cert "$work/client/app1.pem"
adm client assign app1 cluster1
adm client show app1
cat > "$work/hsmsimd.conf" <<EOF
listen = 127.0.0.1:0
dir = $appl
audit = $work/audit.log
EOF
"$hsmsimd" --conf "$work/hsmsimd.conf" --port-file "$work/port" \
    2> "$work/hsmsimd.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true; rm -rf "$work"' EXIT
tries=0
while [ ! -s "$work/port" ] && [ "$tries" -lt 100 ]; do
    tries=$((tries + 1)); sleep 0.1
done
port=$(cat "$work/port")
adm appliance cert --dir "$appl" | sed -n '/BEGIN/,/END/p' > "$work/pinned.pem"
cat > "$work/client.conf" <<EOF
mode = network
server = 127.0.0.1:$port
server_cert = $work/pinned.pem
client_cert = $work/client/app1.pem
client_key = $work/client/app1.key
store = $work/client-has-no-store
EOF
echo "hsmsimd serves $appl on 127.0.0.1:$port; the client pins its certificate"
HSMSIM_CONF="$work/client.conf" "$admin" verify

step "The CEK/DEK steps over the trust link (mutual TLS 1.3)"
net() {
    HSMSIM_CONF="$work/client.conf" pkcs11-tool --module "$module" \
        --token-label cluster1 --login --pin "$pin" "$@"
}
net --keygen --key-type AES:32 --label cek --id c0 --sensitive --usage-wrap
net --keygen --key-type AES:32 --label dek --id d0 --extractable
net --wrap -m AES-KEY-WRAP --id c0 --application-id d0 -o "$work/net.wrapped"
net --unwrap -m AES-KEY-WRAP --id c0 -i "$work/net.wrapped" --key-type AES: \
    --application-id d1 --application-label dek-unwrapped --extractable
net --read-object --type secrkey --id d0 -o "$work/net.dek"
net --read-object --type secrkey --id d1 -o "$work/net.dek.unwrapped"
if cmp -s "$work/net.dek" "$work/net.dek.unwrapped"; then
    echo "over the link the unwrapped DEK equals the original"
else
    echo "ROUND TRIP OVER THE LINK MISMATCH"; fails=$((fails + 1))
fi
if net --read-object --type secrkey --id c0 -o "$work/net.cek" 2>&1 |
        grep -q CKR_ATTRIBUTE_SENSITIVE; then
    echo "the CEK stays in the appliance: CKR_ATTRIBUTE_SENSITIVE"
else
    echo "CEK READ OVER THE LINK"; fails=$((fails + 1))
fi
if [ -e "$work/client-has-no-store" ]; then
    echo "THE CLIENT MADE A STORE"; fails=$((fails + 1))
else
    echo "the client process kept no store file: every key lives in hsmsimd"
fi
step "Redshift's HSM path with keyhier: a cluster whose CEK lives in the appliance"
keyhier="$prefix/bin/keyhier"
export KEYHIER_KEYSTORE="$work/keystore"
state() { printf 'cluster warehouse: %s\n' \
    "$("$keyhier" status warehouse | sed -n 's/^state: //p')"; }
echo "- the cluster's client certificate, registered and assigned on the appliance:"
"$keyhier" client-cert create warehouse > "$work/warehouse.pem"
adm client register warehouse --cert "$work/warehouse.pem"
adm client assign warehouse cluster1
printf '%s\n' "$pin" > "$work/partition.pw"
chmod 600 "$work/partition.pw"
echo "- create: the link verified, the CEK generated in the partition, the DEK"
echo "  encrypted by it and again by the internal root key:"
"$keyhier" create warehouse --module "$module" --hsm "127.0.0.1:$port" \
    --server-cert "$work/pinned.pem" --partition cluster1 \
    --password-file "$work/partition.pw" --data "$work/warehouse-data"
state
head -c 3145728 /dev/urandom > "$work/table.bin"
"$keyhier" put warehouse table "$work/table.bin"
echo "- put: 3 MiB in 1 MiB blocks, each under its own key:"
"$keyhier" ls warehouse
echo "- reboot (a new process): the stored DEK unsealed, decrypted by the HSM, get:"
"$keyhier" get warehouse table -o "$work/table.back"
if cmp -s "$work/table.bin" "$work/table.back"; then
    echo "read back byte for byte after the reboot"
else
    echo "DATA DIFFERS AFTER REBOOT"; fails=$((fails + 1))
fi
state
echo "- rotate: a new CEK and DEK, every block key re-encrypted:"
"$keyhier" rotate warehouse
"$keyhier" status warehouse | grep -E '^(state|cek_label|cek_version|dek_version|blocks):'
"$keyhier" get warehouse table -o "$work/table.back2"
if cmp -s "$work/table.bin" "$work/table.back2"; then
    echo "read back byte for byte after the rotation"
else
    echo "DATA DIFFERS AFTER ROTATION"; fails=$((fails + 1))
fi
state
echo "- the cluster's events:"
"$keyhier" events warehouse
if [ "$(find "$work/keystore" "$work/warehouse-data" -type f -perm /077 | wc -l)" -ne 0 ]; then
    echo "A KEY STORE OR DATA FILE IS READABLE BY OTHERS"; fails=$((fails + 1))
else
    echo "every key store and data file is readable by its owner only"
fi

echo "the appliance's audit log, last lines:"
tail -n 4 "$work/audit.log" | cut -c1-160
kill -TERM "$daemon"
wait "$daemon" && echo "hsmsimd stopped on SIGTERM, exit 0"

step "Result"
if [ "$fails" -ne 0 ]; then
    echo "main job: $fails step(s) went wrong"
    exit 1
fi
echo "main job: the partition behaved as an HSM at every step"
