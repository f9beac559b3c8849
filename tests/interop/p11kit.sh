#!/bin/sh
# SPDX-License-Identifier: MIT
# Load the module through p11-kit: list-modules, the proxy, and p11-kit remote.
#
# Usage: p11kit.sh [MODULE]   (make check sets HSMSIM_MODULE instead)
#
# How p11-kit finds the module (checked against p11-kit 0.24.1, Debian 12;
# see pkcs11.conf(5) and P11_KIT_DEBUG=conf):
# - module configs are read from the system directory (/etc/pkcs11/modules),
#   the package directory (/usr/share/p11-kit/modules) and, if user config
#   is allowed, from ~/.config/pkcs11/modules, where ~/.config is replaced
#   by $XDG_CONFIG_HOME when that is set.  A user pkcs11.conf saying
#   "user-config: only" drops the system modules, so only hsmsim loads.
# - user config is ignored in setuid programs and whenever getuid() == 0
#   ("skipping user config in program running as root"), and no environment
#   variable names another system directory (only P11_KIT_NO_USER_CONFIG
#   exists, to turn user config off).
# So, as a normal user we use $XDG_CONFIG_HOME in the scratch directory.  As
# root we run each p11-kit consumer in a new user namespace (unshare -U):
# there getuid() is the overflow uid 65534, so p11-kit reads the user
# config, while files are still accessed with the caller's kernel uid.  If
# user namespaces are not available, we fall back to a uniquely named file
# in the system module directory, which the exit trap removes.  Set
# HSMSIM_P11KIT_CONFIG=user|userns|system to force one of the three.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}"
require_tool p11-kit pkcs11-tool cmp

M=$HSMSIM_MODULE
P11KIT=$(command -v p11-kit)
PROXY=${HSMSIM_P11KIT_PROXY:-$(pkg-config --variable=proxy_module \
    p11-kit-1 2>/dev/null)}
: "${PROXY:=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so}"
[ -f "$PROXY" ] || bail_out "p11-kit proxy module $PROXY not found"
# The admin module directory compiled into libp11-kit.  Debian's pkg-config
# variable p11_system_config_modules names the package directory instead.
SYSDIR=/etc/pkcs11/modules

SO_PIN=so-secret-1
USER_PIN=user-pin-1
LABEL="hsmsim p11kit $$"
D=$TEST_DIR

# --- choose how p11-kit gets our module config -----------------------------

mode=${HSMSIM_P11KIT_CONFIG:-}
if [ -z "$mode" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        mode=user
    elif unshare -U true >/dev/null 2>&1; then
        mode=userns
    else
        mode=system
    fi
fi

# $p11run runs a p11-kit consumer, in a user namespace when mode=userns.
p11run=$D/p11run
case $mode in
user | userns)
    XDG_CONFIG_HOME=$D/xdg
    export XDG_CONFIG_HOME
    mkdir -p "$XDG_CONFIG_HOME/pkcs11/modules"
    printf 'user-config: only\n' >"$XDG_CONFIG_HOME/pkcs11/pkcs11.conf"
    conf_file=$XDG_CONFIG_HOME/pkcs11/modules/hsmsim.module
    # critical: a module that fails to load fails the whole command.
    conf_extra='critical: yes'
    if [ "$mode" = userns ]; then
        printf '#!/bin/sh\nexec unshare -U "$@"\n' >"$p11run"
    fi
    ;;
system)
    # Other programs see this file while the test runs: load it only in
    # the two programs used here, and never make it critical.  (0.24.1
    # ignores "p11-kit-proxy" in enable-in; it only honours it in
    # disable-in, so name the program that loads the proxy.)
    created=
    dir=$SYSDIR
    while [ ! -d "$dir" ]; do
        created="$created $dir"
        dir=$(dirname "$dir")
    done
    conf_file=$SYSDIR/hsmsim-interop-$$.module
    # One command: the file first, then the directories we made, deepest
    # first.
    undo="rm -f '$conf_file'"
    for d in $created; do
        undo="$undo; rmdir '$d' 2>/dev/null"
    done
    on_exit "$undo"
    mkdir -p "$SYSDIR" || bail_out "cannot create $SYSDIR"
    conf_extra='enable-in: p11-kit, pkcs11-tool'
    ;;
*)
    bail_out "HSMSIM_P11KIT_CONFIG must be user, userns or system"
    ;;
esac
[ -f "$p11run" ] || printf '#!/bin/sh\nexec "$@"\n' >"$p11run"
chmod +x "$p11run"
printf '# using %s config: %s\n' "$mode" "$conf_file"

# write_module_config FIRST_LINE: (re)write our module config file.
write_module_config()
{
    printf '%s\n%s\n' "$1" "$conf_extra" >"$conf_file" ||
        bail_out "cannot write $conf_file"
}

# --- a partition with a private object, made directly ----------------------

run pkcs11-tool --module "$M" --slot 0 --init-token --label "$LABEL" \
    --so-pin "$SO_PIN"
[ "$STATUS" -eq 0 ] || bail_out "direct --init-token failed: $(cat "$OUT")"
run pkcs11-tool --module "$M" --slot 0 --login --login-type so \
    --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
[ "$STATUS" -eq 0 ] || bail_out "direct --init-pin failed: $(cat "$OUT")"
head -c 123 /dev/urandom >"$D/direct.bin"
check_output "direct --write-object of a private data object" 0 \
    "label: +'direct'" \
    pkcs11-tool --module "$M" --slot 0 --login --pin "$USER_PIN" \
    --write-object "$D/direct.bin" --type data --label direct --private

# --- module loaded by p11-kit ----------------------------------------------

write_module_config "module: $M"

check_output "p11-kit list-modules shows hsmsim" 0 \
    "^hsmsim[a-z0-9-]*: $M\$" "$p11run" p11-kit list-modules
check_last_output "list-modules shows the library manufacturer" \
    '^    library-manufacturer: hsmsim$'
check_last_output "list-modules shows the token label" \
    "^    token: $LABEL\$"
check_last_output "list-modules shows the token manufacturer" \
    '^        manufacturer: hsmsim$'

check_output "proxy -L shows the hsmsim token" 0 \
    "^  token label +: $LABEL\$" "$p11run" pkcs11-tool --module "$PROXY" -L
check_last_output "proxy -L shows the hsmsim free slot" \
    ': hsmsim free slot'

check_output "proxy -O --login lists the directly created object" 0 \
    "label: +'direct'" \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    -O --login --pin "$USER_PIN"
check_no_output "proxy -O without login hides the private object" 0 \
    "label: +'direct'" \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" -O
check_output "proxy with a wrong PIN: CKR_PIN_INCORRECT" '!0' \
    'CKR_PIN_INCORRECT' \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    -O --login --pin wrong-pin
check_status "proxy --read-object the direct object" 0 \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    --login --pin "$USER_PIN" --read-object --type data --label direct \
    -o "$D/direct.out"
check_true "bytes read through the proxy match" \
    cmp "$D/direct.bin" "$D/direct.out"

head -c 45 /dev/urandom >"$D/proxy.bin"
check_output "proxy --write-object of a private data object" 0 \
    "label: +'via-proxy'" \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    --login --pin "$USER_PIN" --write-object "$D/proxy.bin" --type data \
    --label via-proxy --private
check_status "direct --read-object of the proxy-written object" 0 \
    pkcs11-tool --module "$M" --slot 0 --login --pin "$USER_PIN" \
    --read-object --type data --label via-proxy -o "$D/proxy.out"
check_true "bytes written through the proxy match" \
    cmp "$D/proxy.bin" "$D/proxy.out"

# A key pair made and used through the proxy; the signature checked by
# OpenSSL against the public key read out directly.
check_output "proxy --keypairgen EC P-256" 0 "EC_POINT +256 bits" \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --id 0a --label proxy-ec
printf 'signed through p11-kit\n' >"$D/msg.txt"
check_status "proxy --sign ECDSA-SHA256 (DER signature)" 0 \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    --login --pin "$USER_PIN" --sign -m ECDSA-SHA256 --id 0a \
    --signature-format openssl -i "$D/msg.txt" -o "$D/msg.sig"
check_status "direct --read-object of the public key" 0 \
    pkcs11-tool --module "$M" --slot 0 --read-object --type pubkey \
    --id 0a -o "$D/ec-pub.der"
check_output "openssl verifies the proxy-made signature" 0 "Verified OK" \
    openssl dgst -sha256 -keyform DER -verify "$D/ec-pub.der" \
    -signature "$D/msg.sig" "$D/msg.txt"

# --- module run out of process by "p11-kit remote" -------------------------

write_module_config "remote: |$P11KIT remote $M"

check_output "list-modules shows the remote module's token" 0 \
    "^    token: $LABEL\$" "$p11run" p11-kit list-modules
check_last_output "list-modules shows the remote library manufacturer" \
    '^    library-manufacturer: hsmsim$'
check_output "remote: proxy -O --login lists both objects" 0 \
    "label: +'via-proxy'" \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    -O --login --pin "$USER_PIN"
check_last_output "remote: proxy -O --login lists the direct object" \
    "label: +'direct'"
check_status "remote: --read-object through the RPC" 0 \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    --login --pin "$USER_PIN" --read-object --type data --label direct \
    -o "$D/remote.out"
check_true "bytes read through p11-kit remote match" \
    cmp "$D/direct.bin" "$D/remote.out"
check_status "remote: --delete-object through the RPC" 0 \
    "$p11run" pkcs11-tool --module "$PROXY" --token-label "$LABEL" \
    --login --pin "$USER_PIN" --delete-object --type data --label via-proxy
check_no_output "direct -O no longer lists the deleted object" 0 \
    "label: +'via-proxy'" \
    pkcs11-tool --module "$M" --slot 0 --login --pin "$USER_PIN" -O

finish
