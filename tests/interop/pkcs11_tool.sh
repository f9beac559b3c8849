#!/bin/sh
# SPDX-License-Identifier: MIT
# Drive the module with OpenSC's pkcs11-tool: token setup, PINs, objects.
#
# Usage: pkcs11_tool.sh [MODULE]   (make check sets HSMSIM_MODULE instead)

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}" 'pin_max_failures = 3'
require_tool pkcs11-tool openssl cmp od

M=$HSMSIM_MODULE
SO_PIN=so-secret-1
USER_PIN=user-pin-1
NEW_PIN=user-pin-2
LABEL="interop token"
D=$TEST_DIR

# prepare CMD...: a setup step that must work; stop the script otherwise.
prepare()
{
    run "$@"
    [ "$STATUS" -eq 0 ] || bail_out "$* failed: $(cat "$OUT")"
}

# --- library and slot discovery ------------------------------------------

check_output "-I shows the manufacturer" 0 '^Manufacturer +hsmsim$' \
    pkcs11-tool --module "$M" -I
check_last_output "-I shows the library description" \
    '^Library +hsmsim PKCS#11 HSM simulator'

check_output "-L on an empty store lists the free slot" 0 \
    '^Slot [0-9]+ \(0x[0-9a-f]+\): hsmsim free slot' \
    pkcs11-tool --module "$M" -L
check_last_output "-L: the free slot has an uninitialized token" \
    'token state: +uninitialized'
free_hex=$(sed -n 's/^Slot [0-9]* (\(0x[0-9a-f]*\)): hsmsim free slot.*/\1/p' \
    "$OUT" | tail -n 1)
[ -n "$free_hex" ] || bail_out "no free slot in pkcs11-tool -L output"
slot=$((free_hex))
check_true "the free slot of an empty store is slot 0" test "$slot" -eq 0

check_output "login on the free slot fails with CKR_TOKEN_NOT_RECOGNIZED" \
    '!0' 'CKR_TOKEN_NOT_RECOGNIZED' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" -O

# --- token initialisation and PINs -----------------------------------------

check_output "--init-token on the free slot" 0 \
    'Token successfully initialized' \
    pkcs11-tool --module "$M" --slot "$slot" --init-token \
    --label "$LABEL" --so-pin "$SO_PIN"

check_output "-L shows the new token label" 0 \
    "^  token label +: $LABEL\$" pkcs11-tool --module "$M" -L
check_last_output "-L shows the token manufacturer" \
    '^  token manufacturer +: hsmsim$'
check_last_output "-L shows the token as initialized" \
    '^  token flags +:.*token initialized'
check_last_no_output "-L: user PIN not initialized yet" \
    '^  token flags +:.*, PIN initialized'
check_last_output "-L lists a new free slot after the partition" \
    "^Slot [0-9]+ \(0x$((slot + 1))\): hsmsim free slot"

check_output "login before C_InitPIN: CKR_USER_PIN_NOT_INITIALIZED" '!0' \
    'CKR_USER_PIN_NOT_INITIALIZED' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" -O

check_output "--init-pin with a wrong SO PIN: CKR_PIN_INCORRECT" '!0' \
    'CKR_PIN_INCORRECT' \
    pkcs11-tool --module "$M" --slot "$slot" --login --login-type so \
    --so-pin wrong-so-pin --init-pin --pin "$USER_PIN"

check_output "--init-pin with a 3-character PIN: CKR_PIN_LEN_RANGE" '!0' \
    'CKR_PIN_LEN_RANGE' \
    pkcs11-tool --module "$M" --slot "$slot" --login --login-type so \
    --so-pin "$SO_PIN" --init-pin --pin 123

check_output "--init-pin by the SO" 0 'User PIN successfully initialized' \
    pkcs11-tool --module "$M" --slot "$slot" --login --login-type so \
    --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"

check_output "-L shows the user PIN initialized" 0 \
    '^  token flags +:.*, PIN initialized' pkcs11-tool --module "$M" -L
check_last_no_output "-L: no SO PIN count low after the wrong SO PIN" \
    'SO PIN count low'

check_no_output "--login lists no objects on a new token" 0 'Object' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" -O

# --- data objects -----------------------------------------------------------

head -c 200 /dev/urandom >"$D/priv.bin"
head -c 77 /dev/urandom >"$D/pub.bin"
printf 'no login\n' >"$D/nologin.bin"

check_output "--write-object a private data object" 0 \
    "flags: +modifiable private" \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --write-object "$D/priv.bin" --type data --label priv --private
check_output "--write-object a public data object" 0 "label: +'pub'" \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --write-object "$D/pub.bin" --type data --label pub
check_output "private object without login: CKR_USER_NOT_LOGGED_IN" '!0' \
    'CKR_USER_NOT_LOGGED_IN' \
    pkcs11-tool --module "$M" --slot "$slot" \
    --write-object "$D/nologin.bin" --type data --label nologin --private

check_output "-O without login lists the public object" 0 "label: +'pub'" \
    pkcs11-tool --module "$M" --slot "$slot" -O
check_last_no_output "-O without login hides the private object" \
    "label: +'priv'"
check_last_no_output "-O: the refused object was not created" \
    "label: +'nologin'"

check_output "-O with login lists the private object" 0 "label: +'priv'" \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" -O
check_last_output "-O with login also lists the public object" \
    "label: +'pub'"

check_status "--read-object the private object" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --read-object --type data --label priv -o "$D/priv.out"
check_true "private object bytes round-trip" cmp "$D/priv.bin" "$D/priv.out"
check_status "--read-object the public object without login" 0 \
    pkcs11-tool --module "$M" --slot "$slot" \
    --read-object --type data --label pub -o "$D/pub.out"
check_true "public object bytes round-trip" cmp "$D/pub.bin" "$D/pub.out"
check_output "--read-object the private object without login fails" '!0' \
    'object not found' \
    pkcs11-tool --module "$M" --slot "$slot" \
    --read-object --type data --label priv -o "$D/priv2.out"

check_status "--delete-object the public object" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --delete-object --type data --label pub
check_no_output "-O no longer lists the deleted object" 0 "label: +'pub'" \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" -O
check_last_output "-O still lists the other object" "label: +'priv'"

# --- certificate ------------------------------------------------------------

prepare openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -keyout "$D/key.pem" -out "$D/cert.pem" -days 2 \
    -subj "/CN=hsmsim interop/O=Example Org"
prepare openssl x509 -in "$D/cert.pem" -outform DER -out "$D/cert.der"

check_output "--write-object a certificate" 0 'Created certificate' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --write-object "$D/cert.der" --type cert --id 01 --label c
check_output "-O shows the certificate subject" 0 \
    'subject: +DN: CN=hsmsim interop, O=Example Org' \
    pkcs11-tool --module "$M" --slot "$slot" -O
check_last_output "-O shows the certificate object" \
    'Certificate Object; type = X.509 cert'
check_last_output "-O shows the certificate ID" '^  ID: +01$'
check_last_output "-O shows a 32-hex-digit unique ID" \
    '^  Unique ID: +[0-9a-f]{32}$'
check_status "--read-object the certificate" 0 \
    pkcs11-tool --module "$M" --slot "$slot" \
    --read-object --type cert --id 01 -o "$D/cert.out"
check_true "certificate DER round-trips" cmp "$D/cert.der" "$D/cert.out"

# --- PIN change, wrong PINs, lockout ----------------------------------------

check_output "--change-pin" 0 'PIN successfully changed' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --change-pin --new-pin "$NEW_PIN"
check_output "the old PIN now fails with CKR_PIN_INCORRECT" '!0' \
    'CKR_PIN_INCORRECT' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" -O
check_output "-L shows user PIN count low after a failure" 0 \
    'user PIN count low' pkcs11-tool --module "$M" -L
check_output "the new PIN logs in and sees the private object" 0 \
    "label: +'priv'" \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$NEW_PIN" -O
check_no_output "a good login clears user PIN count low" 0 \
    'user PIN count low' pkcs11-tool --module "$M" -L

check_output "a wrong PIN fails" '!0' 'CKR_PIN_INCORRECT' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin wrong-pin -O
check_output "--test after a wrong PIN reports no errors" 0 '^No errors$' \
    pkcs11-tool --module "$M" --slot "$slot" --test --login --pin "$NEW_PIN"

# pin_max_failures = 3: the third failure is still CKR_PIN_INCORRECT.
run pkcs11-tool --module "$M" --slot "$slot" --login --pin wrong-pin -O
run pkcs11-tool --module "$M" --slot "$slot" --login --pin wrong-pin -O
check_output "third wrong PIN: CKR_PIN_INCORRECT" '!0' 'CKR_PIN_INCORRECT' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin wrong-pin -O
check_output "the correct PIN is now refused: CKR_PIN_LOCKED" '!0' \
    'CKR_PIN_LOCKED' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$NEW_PIN" -O
check_output "-L shows user PIN locked" 0 'user PIN locked' \
    pkcs11-tool --module "$M" -L
check_output "SO --init-pin unlocks the user PIN" 0 \
    'User PIN successfully initialized' \
    pkcs11-tool --module "$M" --slot "$slot" --login --login-type so \
    --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
check_output "the reset PIN logs in" 0 "label: +'priv'" \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" -O
check_no_output "-L no longer shows user PIN locked" 0 'user PIN locked' \
    pkcs11-tool --module "$M" -L

# --- token listing, mechanisms, random --------------------------------------

check_output "-T lists the token" 0 "^  token label +: $LABEL\$" \
    pkcs11-tool --module "$M" -T
check_output "-M succeeds" 0 '^Supported mechanisms:' \
    pkcs11-tool --module "$M" --slot "$slot" -M
check_status "--generate-random 32" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --generate-random 32 \
    -o "$D/random.bin"
check_true "--generate-random wrote 32 bytes" \
    test "$(wc -c <"$D/random.bin")" -eq 32
check_output "--token-label selects the token" 0 '^  label: +c$' \
    pkcs11-tool --module "$M" --token-label "$LABEL" -O

# --- crypto, compared with OpenSSL ------------------------------------------

# 5003 bytes: several pkcs11-tool buffers and not a multiple of 16.
head -c 5003 /dev/urandom >"$D/msg.bin"
head -c 4096 /dev/urandom >"$D/blocks.bin"
head -c 32 /dev/urandom >"$D/aes.key"
AES_KEY=$(od -An -tx1 -v "$D/aes.key" | tr -d ' \n')
IV=$(head -c 16 /dev/urandom | od -An -tx1 -v | tr -d ' \n')
prepare openssl dgst -sha256 -binary -out "$D/msg.sha256" "$D/msg.bin"
prepare openssl dgst -sha512 -binary -out "$D/msg.sha512" "$D/msg.bin"
prepare openssl enc -aes-256-cbc -K "$AES_KEY" -iv "$IV" -in "$D/msg.bin" \
    -out "$D/msg.cbcpad"
prepare openssl enc -aes-256-ecb -nopad -K "$AES_KEY" -in "$D/blocks.bin" \
    -out "$D/blocks.ecb"

check_status "--hash SHA256" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --hash -m SHA256 \
    -i "$D/msg.bin" -o "$D/p11.sha256"
check_true "SHA256 digest matches openssl" cmp "$D/msg.sha256" "$D/p11.sha256"
check_status "--hash SHA512" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --hash -m SHA512 \
    -i "$D/msg.bin" -o "$D/p11.sha512"
check_true "SHA512 digest matches openssl" cmp "$D/msg.sha512" "$D/p11.sha512"

check_output "--write-object an AES-256 secret key" 0 \
    'Secret Key Object; AES length 32' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --write-object "$D/aes.key" --type secrkey --key-type AES:32 \
    --id 02 --label aes
check_status "--encrypt AES-CBC-PAD with the imported key" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --encrypt -m AES-CBC-PAD --id 02 --iv "$IV" \
    -i "$D/msg.bin" -o "$D/p11.cbcpad"
check_true "AES-CBC-PAD ciphertext matches openssl" \
    cmp "$D/msg.cbcpad" "$D/p11.cbcpad"
check_status "--decrypt AES-CBC-PAD" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --decrypt -m AES-CBC-PAD --id 02 --iv "$IV" \
    -i "$D/msg.cbcpad" -o "$D/p11.plain"
check_true "AES-CBC-PAD decrypts to the plaintext" \
    cmp "$D/msg.bin" "$D/p11.plain"
check_status "--encrypt AES-ECB" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --encrypt -m AES-ECB --id 02 -i "$D/blocks.bin" -o "$D/p11.ecb"
check_true "AES-ECB ciphertext matches openssl" \
    cmp "$D/blocks.ecb" "$D/p11.ecb"
check_output "AES-CBC of 5003 bytes: CKR_DATA_LEN_RANGE" '!0' \
    'CKR_DATA_LEN_RANGE' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --encrypt -m AES-CBC --id 02 --iv "$IV" \
    -i "$D/msg.bin" -o "$D/bad.cbc"

check_output "--keygen GENERIC:32" 0 'Secret Key Object' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --keygen --key-type GENERIC:32 --id 03 --label hmac
check_last_output "generated key is local and never extractable" \
    'Access: +.*never extractable.*local'
check_status "--sign SHA256-HMAC" 0 \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --sign -m SHA256-HMAC --id 03 -i "$D/msg.bin" -o "$D/msg.mac"
check_true "the HMAC is 32 bytes" test "$(wc -c <"$D/msg.mac")" -eq 32
check_output "--verify SHA256-HMAC accepts the MAC" 0 'Signature is valid' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --verify -m SHA256-HMAC --id 03 -i "$D/msg.bin" \
    --signature-file "$D/msg.mac"
check_output "--verify SHA256-HMAC rejects other data" 0 'Invalid signature' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --verify -m SHA256-HMAC --id 03 -i "$D/blocks.bin" \
    --signature-file "$D/msg.mac"
check_output "HMAC with an AES key: CKR_KEY_TYPE_INCONSISTENT" '!0' \
    'CKR_KEY_TYPE_INCONSISTENT' \
    pkcs11-tool --module "$M" --slot "$slot" --login --pin "$USER_PIN" \
    --sign -m SHA256-HMAC --id 02 -i "$D/msg.bin" -o "$D/bad.mac"

# --- re-initialisation ------------------------------------------------------

check_output "re-init with a wrong SO PIN: CKR_PIN_INCORRECT" '!0' \
    'CKR_PIN_INCORRECT' \
    pkcs11-tool --module "$M" --slot "$slot" --init-token \
    --label other --so-pin wrong-so-pin
check_output "objects survive the refused re-init" 0 '^  label: +c$' \
    pkcs11-tool --module "$M" --slot "$slot" -O
check_output "re-init with the SO PIN" 0 'Token successfully initialized' \
    pkcs11-tool --module "$M" --slot "$slot" --init-token \
    --label relabelled --so-pin "$SO_PIN"
check_output "-L shows the new label" 0 '^  token label +: relabelled$' \
    pkcs11-tool --module "$M" -L
check_last_no_output "-L: re-init cleared the user PIN" \
    '^  token flags +:.*, PIN initialized'
check_no_output "re-init destroyed the objects" 0 'Object' \
    pkcs11-tool --module "$M" --slot "$slot" -O

finish
