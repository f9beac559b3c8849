#!/bin/sh
# SPDX-License-Identifier: MIT
# admin_cli.sh - hsmsim-admin end to end; pkcs11-tool uses what it made.
set -eu

NAME=admin_cli.sh
die() {
    echo "$NAME: $*" >&2
    exit 1
}
[ -n "${HSMSIM_MODULE:-}" ] || die "HSMSIM_MODULE is not set (libhsmsim.so)"
[ -f "$HSMSIM_MODULE" ] || die "$HSMSIM_MODULE does not exist"
command -v pkcs11-tool >/dev/null || die "pkcs11-tool (OpenSC) is required"
command -v python3 >/dev/null || die "python3 is required"
. "$(dirname "$0")/admin_lib.sh"
MODULE=$HSMSIM_MODULE
STORE=$T/store
CONF=$T/hsmsim.conf
printf 'store = %s\npin_kdf_iterations = 1000\n' "$STORE" >"$CONF"
HSMSIM_CONF=$CONF
export HSMSIM_CONF

# run_input TEXT ARGS...: the same with TEXT on stdin.
run_input() {
    input=$1
    shift
    set +e
    printf '%s' "$input" | "$ADMIN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
}

all_exist() {
    for f in "$@"; do [ -f "$f" ] || return 1; done
}
none_exist() {
    for f in "$@"; do [ ! -e "$f" ] || return 1; done
}
lines() { wc -l <"$1" | tr -d ' '; }
out_is() { [ "$(cat "$T/out")" = "$1" ]; }
out_lacks() { ! grep -q -- "$1" "$T/out"; }
# json EXPR: the JSON document on stdout parses and EXPR holds for it (d).
json() {
    if ! python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out" \
        2>"$T/py"; then
        tail -n 1 "$T/py" >>"$T/err"
        return 1
    fi
    python3 -c 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" <"$T/out"
}

# expect_usage DESCRIPTION ARGS...: exit 2 and exactly one line on stderr.
expect_usage() {
    desc=$1
    shift
    run "$@"
    if [ "$rc" -eq 2 ] && one_err_line && [ ! -s "$T/out" ]; then
        ok "usage error: $desc"
    else
        not_ok "usage error: $desc (exit $rc, $(lines "$T/err") lines)"
    fi
}

p11() { pkcs11-tool --module "$MODULE" "$@"; }

# ---- create --------------------------------------------------------------

run partition create alpha --so-pin so-alpha --pin 1234
check "create alpha with PIN options" [ "$rc" -eq 0 ]
check "create prints the slot id" out_is 0
SLOT_A=$(cat "$T/out")

# Both PINs piped, one line each.
run_input 'so-pin-beta
user-pin-beta
' partition create "beta two"
check "create 'beta two' with PINs on stdin" [ "$rc" -eq 0 ]
check "second partition gets slot 1" out_is 1
SLOT_B=$(cat "$T/out")

# One PIN as an option, the other from stdin; --json output.
run_input 'user-pin-q
' --json partition create 'q"uo\te' --so-pin so-pin-q
check "create with JSON output" [ "$rc" -eq 0 ]
check "create --json describes the new partition" \
    json 'd["slot"] == 2 and d["name"] == "q\"uo\\te" and d["user_pin_set"]'

# ---- list ----------------------------------------------------------------

run partition list
check "list succeeds" [ "$rc" -eq 0 ]
check "list prints one line per partition" [ "$(lines "$T/out")" = 3 ]
check "list shows alpha" \
    out_has '^slot 0  "alpha"  serial [0-9a-f]\{16\}  fips  0 objects  user PIN set$'
check "list shows beta two" out_has '^slot 1  "beta two"  '

run --json partition list
check "list --json succeeds" [ "$rc" -eq 0 ]
check "list --json is JSON with the three names" \
    json '[p["name"] for p in d] == ["alpha", "beta two", "q\"uo\\te"]'
run partition list --json
check "--json after the command works too" \
    json '[p["slot"] for p in d] == [0, 1, 2]'

# ---- show ----------------------------------------------------------------

run partition show alpha
check "show alpha succeeds" [ "$rc" -eq 0 ]
check "show: slot" out_has "^slot: *$SLOT_A\$"
check "show: name" out_has '^name: *"alpha"$'
check "show: serial" out_has '^serial: *[0-9a-f]\{16\}$'
check "show: path" out_has "^path: *$STORE/partition-0.db\$"
check "show: user PIN set" out_has '^user PIN set: *yes$'
check "show: SO failures" out_has '^SO failures: *0$'
check "show: SO locked" out_has '^SO locked: *no$'
check "show: user failures" out_has '^user failures: *0$'
check "show: user locked" out_has '^user locked: *no$'
check "show: objects" out_has '^objects: *0$'
check "show: policy fips by default" out_has '^policy: *fips$'

run --json partition show alpha
ALPHA_PATH=$STORE/partition-0.db
check "show --json has every field" json "d == {'slot': 0, 'name': 'alpha',
    'serial': d['serial'], 'path': '$ALPHA_PATH', 'policy': 'fips',
    'user_pin_set': True,
    'so_failures': 0, 'so_locked': False, 'user_failures': 0,
    'user_locked': False, 'objects': 0} and len(d['serial']) == 16"
check "alpha's database exists" [ -f "$ALPHA_PATH" ]

run partition show nobody
check "show unknown name: exit 1" [ "$rc" -eq 1 ]
check "show unknown name: message" one_err_line
check "show unknown name: says so" err_has 'no partition named nobody'

# ---- policy ---------------------------------------------------------------

run partition create legacy1 --so-pin so-legacy --pin 1234 --policy legacy
check "create --policy legacy" [ "$rc" -eq 0 ]
SLOT_L=$(cat "$T/out")
run --json partition show legacy1
check "show --json: policy legacy" json 'd["policy"] == "legacy"'
check "legacy partition offers DES" \
    sh -c "pkcs11-tool --module '$MODULE' --slot $SLOT_L -M | grep -q 'DES-CBC,'"
check "fips partition does not" \
    sh -c "! pkcs11-tool --module '$MODULE' --slot $SLOT_A -M | grep -q 'DES-CBC,'"
run partition create bad-policy --so-pin so-pin-x --pin 1234 --policy des
check "create --policy des: exit 2" rc_is 2
check "create --policy des: says what is allowed" err_has 'fips or legacy'
run partition policy legacy1 fips --so-pin wrong-so-pin
check "policy with a wrong SO PIN: exit 1" rc_is 1
check "policy with a wrong SO PIN: CKR_PIN_INCORRECT" err_has 'CKR_PIN_INCORRECT'
run --json partition show legacy1
check "a refused change leaves legacy" json 'd["policy"] == "legacy" and d["so_failures"] == 1'
run partition policy legacy1 fips --so-pin so-legacy
check "policy fips with the SO PIN: exit 0" [ "$rc" -eq 0 ]
check "policy change is reported" out_has 'policy fips (was legacy)'
check "policy change is logged" err_has 'policy legacy -> fips'
check "fips now hides DES from pkcs11-tool" \
    sh -c "! pkcs11-tool --module '$MODULE' --slot $SLOT_L -M | grep -q 'DES-CBC,'"
run_input 'so-legacy
' --json partition policy legacy1 legacy
check "policy with the SO PIN piped, --json" \
    json 'd["policy"] == "legacy" and d["was"] == "fips"'
run partition policy legacy1 sideways --so-pin so-legacy
check "policy sideways: exit 2" rc_is 2
run partition policy nobody fips --so-pin so-legacy
check "policy of an unknown partition: exit 1" rc_is 1
run partition delete legacy1
check "delete legacy1" [ "$rc" -eq 0 ]

# ---- refused creates -----------------------------------------------------

run partition create alpha --so-pin 12345678 --pin 12345678
check "duplicate name: exit 1" [ "$rc" -eq 1 ]
check "duplicate name: one line" one_err_line
check "duplicate name: message" err_has 'partition alpha already exists'

LONG_PIN=$(printf '%0256d' 0)
MAX_PIN=$(printf '%0255d' 0)
expect_usage "no arguments"
expect_usage "unknown command" frobnicate
expect_usage "partition without subcommand" partition
expect_usage "unknown subcommand" partition frob
expect_usage "unknown global option" --frob partition list
expect_usage "unknown subcommand option" partition list --frob
expect_usage "PIN option on list" partition list --pin 12345678
expect_usage "--conf without a file" --conf
expect_usage "create without NAME" partition create --so-pin 12345678 \
    --pin 12345678
expect_usage "show without NAME" partition show
expect_usage "delete without NAME" partition delete
expect_usage "list with an argument" partition list extra
expect_usage "show with two names" partition show alpha extra
expect_usage "delete with two names" partition delete alpha extra
expect_usage "create with two names" partition create gamma extra \
    --so-pin 12345678 --pin 12345678
expect_usage "--pin without value" partition create gamma \
    --so-pin 12345678 --pin
expect_usage "--pin twice" partition create gamma --so-pin 12345678 \
    --pin 12345678 --pin 87654321
expect_usage "SO PIN of 3 bytes" partition create gamma --so-pin 123 \
    --pin 12345678
expect_usage "user PIN of 3 bytes" partition create gamma \
    --so-pin 12345678 --pin 123
expect_usage "SO PIN of 256 bytes" partition create gamma \
    --so-pin "$LONG_PIN" --pin 12345678
expect_usage "user PIN of 256 bytes" partition create gamma \
    --so-pin 12345678 --pin "$LONG_PIN"
expect_usage "no PIN on empty stdin" partition create gamma
expect_usage "empty name" partition create "" --so-pin 12345678 \
    --pin 12345678
expect_usage "name of 33 bytes" partition create \
    abcdefghijklmnopqrstuvwxyz0123456 --so-pin 12345678 --pin 12345678
expect_usage "name with a leading space" partition create " gamma" \
    --so-pin 12345678 --pin 12345678
expect_usage "name with a trailing space" partition create "gamma " \
    --so-pin 12345678 --pin 12345678
expect_usage "name with a control character" partition create \
    "$(printf 'gam\tma')" --so-pin 12345678 --pin 12345678

run_input '123
' partition create gamma --so-pin 12345678
check "piped 3-byte user PIN: exit 2" [ "$rc" -eq 2 ]
check "piped 3-byte user PIN: one line" one_err_line
run_input "$LONG_PIN
" partition create gamma --pin 12345678
check "piped 256-byte SO PIN: exit 2" [ "$rc" -eq 2 ]
check "piped 256-byte SO PIN: one line" one_err_line

run partition list
check "refused creates made no partition" [ "$(lines "$T/out")" = 3 ]

# Boundaries that must be accepted: 32-byte name, 4- and 255-byte PINs.
run partition create abcdefghijklmnopqrstuvwxyz012345 --so-pin "$MAX_PIN" \
    --pin 4444
check "32-byte name and 255-byte PIN accepted" [ "$rc" -eq 0 ]
SLOT_MAX=$(cat "$T/out")

# ---- help ----------------------------------------------------------------

run --help
check "--help: exit 0" [ "$rc" -eq 0 ]
check "--help: usage on stdout" out_has 'partition create NAME'
run help
check "help: exit 0 with usage" [ "$rc" -eq 0 ]
check "help: usage on stdout" out_has 'partition delete NAME'
run partition show --help
check "--help after a command: exit 0" [ "$rc" -eq 0 ]

# ---- configuration -------------------------------------------------------

BAD_CONF=$T/bad.conf
printf 'store = %s\nbogus_key = 1\n' "$STORE" >"$BAD_CONF"
HSMSIM_CONF=$BAD_CONF
run partition list
HSMSIM_CONF=$CONF
check "unknown config key: exit 1" [ "$rc" -eq 1 ]
check "unknown config key: one line" one_err_line
check "unknown config key: the reason" err_has "unknown key 'bogus_key'"
run --conf "$BAD_CONF" partition list
check "--conf with an unknown key: exit 1" [ "$rc" -eq 1 ]
check "--conf with an unknown key: the reason" err_has "bad.conf:2: unknown key"
HSMSIM_CONF=$BAD_CONF
run --conf "$CONF" partition list
HSMSIM_CONF=$CONF
check "--conf overrides HSMSIM_CONF" [ "$rc" -eq 0 ]
run --conf "$T/missing.conf" partition list
check "missing config file: exit 1" [ "$rc" -eq 1 ]
check "missing config file: one line" one_err_line
printf 'store = %s\npin_kdf_iterations = 10\n' "$STORE" >"$BAD_CONF"
run --conf "$BAD_CONF" partition list
check "bad config value: exit 1" rc_is 1
check "bad config value: the reason" err_has "pin_kdf_iterations must be"
printf 'store = %s/file\n' "$T" >"$BAD_CONF"
: >"$T/file"
run --conf "$BAD_CONF" partition list
check "store that is a file: exit 1" rc_is 1
check "store that is a file: one line" one_err_line

# ---- the module sees the partitions --------------------------------------

set +e
p11 -L >"$T/out" 2>"$T/err"
rc=$?
set -e
check "pkcs11-tool -L succeeds" [ "$rc" -eq 0 ]
check "pkcs11-tool lists alpha" out_has 'token label *: alpha *$'
check "pkcs11-tool lists beta two" out_has 'token label *: beta two *$'
check "pkcs11-tool lists the free slot after them" \
    out_has "^Slot [0-9]* (0x$(printf %x $((SLOT_MAX + 1)))): .*free slot"

p11_ok() {
    p11 "$@" >"$T/out" 2>"$T/err"
}
p11_fails() {
    ! p11 "$@" >"$T/out" 2>"$T/err"
}
check "user login on alpha (PIN from an option)" \
    p11_ok --slot "$SLOT_A" --login --pin 1234 -O
check "user login on beta two (PIN piped)" \
    p11_ok --slot "$SLOT_B" --login --pin user-pin-beta -O
check "SO login on beta two (PIN piped)" \
    p11_ok --slot "$SLOT_B" --session-rw --login --login-type so \
    --so-pin so-pin-beta -O
check "255-byte SO PIN works" \
    p11_ok --slot "$SLOT_MAX" --session-rw --login --login-type so \
    --so-pin "$MAX_PIN" -O
check "wrong user PIN is refused" \
    p11_fails --slot "$SLOT_B" --login --pin wrong-pin -O

run --json partition show "beta two"
check "show counts the failed login" \
    json 'd["user_failures"] == 1 and not d["user_locked"]'
run partition list
check "list reports the failed login" \
    out_has '^slot 1  "beta two"  .*user PIN set, 1 failed logins$'

# A name given twice through C_InitToken on the free slot.
FREE=$((SLOT_MAX + 1))
check "C_InitToken makes a second 'beta two'" \
    p11_ok --slot "$FREE" --init-token --label "beta two" --so-pin 87654321
run partition show "beta two"
check "ambiguous name: exit 1" [ "$rc" -eq 1 ]
check "ambiguous name: one line" one_err_line
check "ambiguous name: says so" err_has 'ambiguous'
run partition delete "beta two"
check "delete of an ambiguous name: exit 1" [ "$rc" -eq 1 ]
check "delete of an ambiguous name keeps both" \
    all_exist "$STORE/partition-1.db" "$STORE/partition-$FREE.db"

# A label with a control character (only C_InitToken can make one).
TAB_LABEL=$(printf 'tab\there')
check "C_InitToken makes a label with a tab" \
    p11_ok --slot "$((FREE + 1))" --init-token --label "$TAB_LABEL" \
    --so-pin 87654321
run --json partition list
check "JSON escapes control characters" \
    json '"tab\there" in [p["name"] for p in d]'
check "JSON output has no raw tab" out_lacks "$(printf '\t')"
run partition show "$TAB_LABEL"
check "show finds the tab label" out_has 'name: *"tab\\x09here"$'

# ---- delete --------------------------------------------------------------

run partition delete alpha
check "delete alpha: exit 0" [ "$rc" -eq 0 ]
check "delete alpha: database removed" [ ! -e "$ALPHA_PATH" ]
check "delete alpha: no WAL files left" \
    none_exist "$ALPHA_PATH-wal" "$ALPHA_PATH-shm"
run --json partition list
check "alpha is gone from the list" \
    json '"alpha" not in [p["name"] for p in d] and len(d) == 5'
run partition delete alpha
check "delete again: exit 1" [ "$rc" -eq 1 ]
check "delete again: message" err_has 'no partition named alpha'
set +e
p11 -L >"$T/out" 2>"$T/err"
set -e
check "pkcs11-tool no longer lists alpha" out_lacks 'token label *: alpha *$'
check "pkcs11-tool has no slot 0 any more" out_lacks '^Slot [0-9]* (0x0)'

admin_finish
