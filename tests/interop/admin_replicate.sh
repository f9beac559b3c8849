#!/bin/sh
# SPDX-License-Identifier: MIT
# admin_replicate.sh - hsmsim-admin partition replicate and cloning domains:
# a never-extractable AES key made by pkcs11-tool is cloned into a partition
# of its domain with its attributes and encrypts to the same ciphertext
# there, also for a process that was logged in all along; --label, --id,
# duplicates, CKA_COPYABLE, --json, PINs; refusals (exit 1, one line) and
# every bad argument (exit 2, one line).
set -eu

NAME=admin_replicate.sh
die() {
    echo "$NAME: $*" >&2
    exit 1
}
[ -n "${HSMSIM_MODULE:-}" ] || die "HSMSIM_MODULE is not set (libhsmsim.so)"
[ -f "$HSMSIM_MODULE" ] || die "$HSMSIM_MODULE does not exist"
command -v pkcs11-tool >/dev/null || die "pkcs11-tool (OpenSC) is required"
command -v python3 >/dev/null || die "python3 is required"
command -v cmp >/dev/null || die "cmp is required"
# PyKCS11 comes from Debian's python3-pykcs11, hence /usr/bin/python3.
PYTHON=${HSMSIM_PYTHON:-/usr/bin/python3}
"$PYTHON" -c 'import PyKCS11' >/dev/null 2>&1 ||
    die "$PYTHON cannot import PyKCS11 (python3-pykcs11)"
. "$(dirname "$0")/admin_lib.sh"
MODULE=$HSMSIM_MODULE
STORE=$T/store
printf 'store = %s\npin_kdf_iterations = 1000\n' "$STORE" >"$T/hsmsim.conf"
HSMSIM_CONF=$T/hsmsim.conf
export HSMSIM_CONF

# run_input TEXT ARGS...: hsmsim-admin with TEXT on stdin.
run_input() {
    input=$1
    shift
    set +e
    printf '%s' "$input" | "$ADMIN" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
}
out_is() { [ "$(cat "$T/out")" = "$1" ]; }
lines() { wc -l <"$1" | tr -d ' '; }
# fails_with RC TEXT: exit RC, one stderr line holding TEXT, nothing on stdout.
fails_with() {
    rc_is "$1" && one_err_line && grep -q -- "$2" "$T/err" && [ ! -s "$T/out" ]
}
# json EXPR: stdout is one JSON document (d) for which EXPR holds.
json() {
    python3 -c 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if eval("(" + sys.argv[1] + ")") else 1)' "$1" <"$T/out" \
        2>>"$T/err"
}
# expect_usage DESCRIPTION ARGS...: exit 2, one line on stderr, no stdout.
expect_usage() {
    desc=$1
    shift
    run "$@"
    if rc_is 2 && one_err_line && [ ! -s "$T/out" ]; then
        ok "usage error: $desc"
    else
        not_ok "usage error: $desc (exit $rc, $(lines "$T/err") lines)"
    fi
}

p11() { pkcs11-tool --module "$MODULE" "$@"; }
# p11_ok ARGS...: pkcs11-tool succeeds; its output in $T/p11.
p11_ok() { p11 "$@" >"$T/p11" 2>&1; }
IV=000102030405060708090a0b0c0d0e0f
printf '0123456789abcdef0123456789abcdef' >"$T/plain"
# encrypt SLOT PIN ID OUT: AES-CBC with a fixed IV under the key ID.
encrypt() {
    p11 --slot "$1" --login --pin "$2" --encrypt --mechanism AES-CBC \
        --iv "$IV" --id "$3" --input-file "$T/plain" --output-file "$4" \
        >"$T/p11" 2>&1
}
same_file() { cmp -s "$1" "$2"; }
differ() { ! cmp -s "$1" "$2"; }

cat >"$T/p11.py" <<'EOF'
# p11.py MODULE SLOT PIN COMMAND ARGS: what pkcs11-tool does not do.
import os, sys, time
import PyKCS11 as P

lib = P.PyKCS11Lib()
lib.load(sys.argv[1])
s = lib.openSession(int(sys.argv[2]), P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION)
s.login(sys.argv[3])
cmd, args = sys.argv[4], sys.argv[5:]
NAMES = ["NEVER_EXTRACTABLE", "ALWAYS_SENSITIVE", "SENSITIVE", "LOCAL",
         "EXTRACTABLE", "TOKEN", "PRIVATE", "COPYABLE"]

def flag(v):
    # PyKCS11 1.5 reads the attributes it does not know as bytes.
    return bool(v[0]) if isinstance(v, (list, tuple)) else bool(v)

def find(label):
    return s.findObjects([(P.CKA_LABEL, label)])

if cmd == "attrs":      # attrs LABEL: one line per object so labelled
    for o in find(args[0]):
        vals = s.getAttributeValue(o, [getattr(P, "CKA_" + n) for n in NAMES])
        words = ["%s=%s" % (n, flag(v)) for n, v in zip(NAMES, vals)]
        try:
            v = s.getAttributeValue(o, [P.CKA_VALUE])[0]
            words.append("VALUE=" + ("refused" if v is None else "read"))
        except P.PyKCS11Error:
            words.append("VALUE=refused")
        print(" ".join(words))
elif cmd == "pinned":   # pinned LABEL: an AES key with CKA_COPYABLE false
    s.generateKey([(P.CKA_CLASS, P.CKO_SECRET_KEY), (P.CKA_KEY_TYPE, P.CKK_AES),
                   (P.CKA_VALUE_LEN, 32), (P.CKA_TOKEN, True),
                   (P.CKA_LABEL, args[0]), (P.CKA_ID, b"\x03"),
                   (P.CKA_COPYABLE, b"\x00")],
                  P.Mechanism(P.CKM_AES_KEY_GEN, None))
elif cmd == "watch":    # watch LABEL READY GO: a long-lived application
    print(len(find(args[0])), flush=True)
    open(args[1], "w").close()
    for _ in range(300):
        if os.path.exists(args[2]):
            break
        time.sleep(0.1)
    keys = find(args[0])
    print(len(keys))
    plain = b"0123456789abcdef0123456789abcdef"
    iv = bytes(range(16))
    ct = s.encrypt(keys[0], plain, P.Mechanism(P.CKM_AES_CBC, iv))
    print(bytes(ct).hex())
EOF
py() { "$PYTHON" "$T/p11.py" "$MODULE" "$@"; }

# ---- cloning domains -------------------------------------------------------

run partition create alpha --so-pin so-alpha --pin user-alpha --domain blue
check "create alpha in domain blue" out_is 0
run partition create beta --so-pin so-beta --pin user-beta --domain blue
check "create beta in domain blue" out_is 1
run partition create gamma --so-pin so-gamma --pin user-gamma
check "create gamma without --domain" out_is 2
run --json partition create delta --so-pin so-delta --pin user-delta \
    --domain red.team_2-x
check "create --json gives the domain" \
    json 'd["slot"] == 3 and d["domain"] == "red.team_2-x"'
run partition create epsilon --so-pin so-eps --pin user-eps --domain blue
check "create epsilon in domain blue, empty" out_is 4
run partition show alpha
check "show: domain" out_has '^domain: *blue$'
run --json partition list
check "list --json: every domain, gamma's its own" json '
[p["domain"] for p in d][:2] == ["blue", "blue"] and
d[2]["domain"].startswith("unique:") and len(d[2]["domain"]) == 39 and
d[2]["domain"][7:23] == d[2]["serial"]'
p11_ok --slot 5 --init-token --label "by C_InitToken" --so-pin so-init-1
run --json partition list
check "C_InitToken makes a partition in a domain of its own" \
    json 'd[5]["domain"].startswith("unique:") and d[5]["domain"] != d[2]["domain"]'

# ---- a never-extractable key, cloned ---------------------------------------

# Sensitive and private keys (this pkcs11-tool's --keygen otherwise asks
# for neither), never extractable since not --extractable.
check "pkcs11-tool makes AES key k1 on alpha" \
    p11_ok --slot 0 --login --pin user-alpha --keygen --key-type AES:32 \
    --label k1 --id 01 --sensitive --private
check "pkcs11-tool makes AES key k2 on alpha" \
    p11_ok --slot 0 --login --pin user-alpha --keygen --key-type AES:16 \
    --label k2 --id 02 --sensitive --private
check "PyKCS11 makes an uncopyable key on alpha" py 0 user-alpha pinned fixed
check "PyKCS11 reads the attributes of k1 on alpha" \
    sh -c "'$PYTHON' '$T/p11.py' '$MODULE' 0 user-alpha attrs k1 >'$T/attrs-a'"

# A process logged in on beta before the copy (hsmsimd is one).
rm -f "$T/ready" "$T/go"
py 1 user-beta watch k1 "$T/ready" "$T/go" >"$T/watch" 2>"$T/watch-err" &
watcher=$!
for _ in $(seq 1 100); do [ -e "$T/ready" ] && break; sleep 0.1; done

run partition replicate alpha beta --label k1 --pin user-alpha \
    --dst-pin user-beta
check "replicate --label k1: exit 0" rc_is 0
check "replicate --label k1: reports the copy" out_is 'copied secret key "k1" id 01 (object 1 -> 1)
1 copied, 0 skipped'
check "replicate --label k1: the copy is audited" \
    err_has '^hsmsim: audit: partition 0 -> 1: 1 object replicated (cloning domain blue)$'
: >"$T/go"
set +e
wait "$watcher"
wrc=$?
set -e
check "a process logged in on beta all along: no k1, then one" \
    sh -c "[ $wrc -eq 0 ] && [ \"\$(sed -n 1,2p '$T/watch' | tr '\n' ' ')\" = '0 1 ' ]"

check "beta lists k1" p11_ok --slot 1 --login --pin user-beta -O
check "pkcs11-tool: the copy is never extractable and local" \
    grep -q 'Access: *.*never extractable, local' "$T/p11"
check "pkcs11-tool: beta holds k1 and no other key" \
    sh -c "[ \$(grep -c '^Secret Key Object' '$T/p11') = 1 ] && grep -q 'label: *k1$' '$T/p11'"
uid_b=$(sed -n 's/^ *Unique ID: *//p' "$T/p11")
p11_ok --slot 0 --login --pin user-alpha -O
check "the copy has a CKA_UNIQUE_ID of its own" \
    sh -c "[ -n '$uid_b' ] && ! grep -q 'Unique ID: *$uid_b' '$T/p11'"
check "PyKCS11: the copy's attributes are the original's" \
    sh -c "'$PYTHON' '$T/p11.py' '$MODULE' 1 user-beta attrs k1 >'$T/attrs-b' &&
           cmp -s '$T/attrs-a' '$T/attrs-b'"
check "PyKCS11: sensitive, never extractable, local, value refused" \
    grep -qx 'NEVER_EXTRACTABLE=True ALWAYS_SENSITIVE=True SENSITIVE=True LOCAL=True EXTRACTABLE=False TOKEN=True PRIVATE=True COPYABLE=True VALUE=refused' \
    "$T/attrs-b"
check "AES-CBC under k1 on alpha" encrypt 0 user-alpha 01 "$T/ct-a"
check "AES-CBC under the copy on beta" encrypt 1 user-beta 01 "$T/ct-b"
check "the copy encrypts to the original's ciphertext" \
    same_file "$T/ct-a" "$T/ct-b"
check "AES-CBC under k2 on alpha" encrypt 0 user-alpha 02 "$T/ct-k2"
check "... which another key does not" differ "$T/ct-a" "$T/ct-k2"
check "the watching process got that ciphertext too" \
    sh -c "[ \"\$(sed -n 3p '$T/watch')\" = \"\$(od -An -v -tx1 '$T/ct-a' | tr -d ' \n')\" ]"

# ---- duplicates, --id, everything ------------------------------------------

run partition replicate alpha beta --label k1 --pin user-alpha \
    --dst-pin user-beta
check "replicate k1 again: exit 0" rc_is 0
check "replicate k1 again: skipped, already there" out_is 'skipped secret key "k1" id 01 (object 1): already in "beta"
0 copied, 1 skipped'
check "replicate k1 again: nothing audited" sh -c "[ ! -s '$T/err' ]"
run --json partition replicate alpha beta --id 02 --pin user-alpha \
    --dst-pin user-beta
check "replicate --id 02 --json: one copy" json '
d == [{"src": 2, "dst": 2, "class": "secret key", "label": "k2",
       "id": "02", "status": "copied"}]'
run --json partition replicate alpha beta --pin user-alpha --dst-pin user-beta
check "replicate everything: two present, one not copyable" json '
[(o["label"], o["status"], o["dst"]) for o in d] == [("k1", "present", None),
 ("k2", "present", None), ("fixed", "not copyable", None)]'
run partition replicate alpha beta --id 03 --pin user-alpha --dst-pin user-beta
check "an uncopyable key stays where it is" out_is 'skipped secret key "fixed" id 03 (object 3): CKA_COPYABLE is false
0 copied, 1 skipped'
run --json partition show beta
check "beta holds the two copies" json 'd["objects"] == 2'
run_input 'user-beta
user-eps
' partition replicate beta epsilon --id 01
check "PINs piped, the source's first: exit 0" rc_is 0
check "PINs piped: the copy is made" out_has '^copied secret key "k1" id 01 (object 1 -> 1)$'
check "a copy of a copy works" encrypt 4 user-eps 01 "$T/ct-e"
check "... and encrypts as the original" same_file "$T/ct-a" "$T/ct-e"

# ---- refusals: exit 1, one line ------------------------------------------

run partition replicate alpha gamma --pin wrong-pin --dst-pin user-gamma
check "to a partition of its own domain: refused" \
    fails_with 1 'cannot replicate alpha to gamma: they are not in one cloning domain'
run partition replicate alpha delta --pin user-alpha --dst-pin user-delta
check "to a partition of another domain: refused" \
    fails_with 1 'alpha to delta: they are not in one cloning domain'
run --json partition show alpha
check "a refused domain tried no PIN" json 'd["user_failures"] == 0'
run --json partition show delta
check "... and copied nothing" json 'd["objects"] == 0'
run partition replicate alpha beta --label nothing --pin user-alpha \
    --dst-pin user-beta
check "no object with that label" \
    fails_with 1 "no object of alpha has the label 'nothing'"
run partition replicate alpha beta --id FF --pin user-alpha --dst-pin user-beta
check "no object with that id" fails_with 1 'no object of alpha has the id FF'
run partition replicate epsilon alpha --pin user-eps --dst-pin user-alpha --id 02
check "no object with that id in epsilon" fails_with 1 'no object of epsilon'
run partition create zeta --so-pin so-zeta --pin user-zeta --domain blue
run partition replicate zeta alpha --pin user-zeta --dst-pin user-alpha
check "a partition with no objects" fails_with 1 'partition zeta has no objects'
run partition replicate alpha beta --pin wrong-pin --dst-pin user-beta
check "a wrong source PIN" \
    fails_with 1 'alpha to beta: user PIN of alpha: CKR_PIN_INCORRECT'
run --json partition list
check "... counts on the source only" \
    json 'd[0]["user_failures"] == 1 and d[1]["user_failures"] == 0'
run partition replicate alpha beta --pin user-alpha --dst-pin wrong-pin
check "a wrong destination PIN" \
    fails_with 1 'alpha to beta: user PIN of beta: CKR_PIN_INCORRECT'
run --json partition list
check "... counts on the destination; the right one reset the source's" \
    json 'd[0]["user_failures"] == 0 and d[1]["user_failures"] == 1 and d[1]["objects"] == 2'
run partition replicate alpha nosuch --pin user-alpha --dst-pin user-beta
check "an unknown destination" fails_with 1 'no partition named nosuch'
run partition replicate nosuch alpha --pin user-alpha --dst-pin user-beta
check "an unknown source" fails_with 1 'no partition named nosuch'

# ---- bad arguments: exit 2, one line -------------------------------------

LONG_PIN=$(printf '%0256d' 0)
expect_usage "replicate without SRC and DST" partition replicate
expect_usage "replicate without DST" partition replicate alpha
expect_usage "replicate with a third partition" partition replicate alpha \
    beta gamma
expect_usage "replicate to itself" partition replicate alpha alpha \
    --pin user-alpha --dst-pin user-alpha
expect_usage "an unknown option" partition replicate alpha beta --frob
expect_usage "--so-pin is not an option of replicate" partition replicate \
    alpha beta --so-pin so-alpha
expect_usage "--label and --id together" partition replicate alpha beta \
    --label k1 --id 01
expect_usage "--id of an odd number of digits" partition replicate alpha \
    beta --id 012
expect_usage "--id that is not hex" partition replicate alpha beta --id zz
expect_usage "an empty --id" partition replicate alpha beta --id=
expect_usage "an empty --label" partition replicate alpha beta --label=
expect_usage "--label without a value" partition replicate alpha beta --label
expect_usage "--id given twice" partition replicate alpha beta --id 01 --id 02
expect_usage "a 3-byte --pin" partition replicate alpha beta --pin 123
expect_usage "a 256-byte --dst-pin" partition replicate alpha beta \
    --dst-pin "$LONG_PIN"
expect_usage "no PIN on empty stdin" partition replicate alpha beta
run_input 'user-alpha
' partition replicate alpha beta
check "only the source's PIN piped: exit 2, one line" \
    sh -c "[ $rc -eq 2 ] && [ \$(wc -l <'$T/err') = 1 ] && grep -q 'no user PIN on standard input' '$T/err'"
expect_usage "create --domain with a space" partition create eta \
    --so-pin so-eta-1 --pin user-eta --domain "has space"
expect_usage "create --domain spelling an engine's own" partition create eta \
    --so-pin so-eta-1 --pin user-eta --domain "unique:0011"
expect_usage "create --domain of 33 characters" partition create eta \
    --so-pin so-eta-1 --pin user-eta \
    --domain abcdefghijklmnopqrstuvwxyz0123456
expect_usage "create with an empty --domain" partition create eta \
    --so-pin so-eta-1 --pin user-eta --domain=
run partition show eta
check "refused creates made no partition" fails_with 1 'no partition named eta'

admin_finish
