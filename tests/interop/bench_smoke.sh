#!/bin/sh
# SPDX-License-Identifier: MIT
# bench_smoke.sh - hsmsim-bench runs briefly against hsmsim and SoftHSMv2.
#
# Usage: bench_smoke.sh [MODULE]   (make check sets HSMSIM_MODULE,
#                                   HSMSIM_BENCH and HSMSIM_TEST_TMP)
#
# A correctness check, not a timing check: every operation (the default
# list is all of them, the signing and RSA key-pair rows included) must
# produce a row with a number for each module and the ratio columns, each
# target's first signature must verify (the tool checks it), the JSON must
# hold every round (ratios: the median of the per-round ratios; rounds in
# a rotating order), and a failing PKCS#11 call must make the tool exit 1
# naming the call and its CK_RV.  The network rows run libhsmsim.so
# embedded and, in two more processes, as a client of two hsmsimd on
# loopback (audit log off and on), side by side with SoftHSMv2 and
# OpenSSL: each small-call and gcm-32 row needs a rate (and small-call a
# time per call) above 0 for every target, and the ratios asked for.  No
# check compares speeds.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

interop_setup "${1:-}"
require_tool python3
: "${HSMSIM_BENCH:=./hsmsim-bench}"
[ -x "$HSMSIM_BENCH" ] ||
    bail_out "HSMSIM_BENCH ($HSMSIM_BENCH) is not an executable"
[ -n "${HSMSIM_ADMIN:-}" ] || bail_out "HSMSIM_ADMIN is not set"
: "${HSMSIM_DAEMON:=$(dirname "$HSMSIM_ADMIN")/hsmsimd}"
[ -x "$HSMSIM_DAEMON" ] ||
    bail_out "hsmsimd ($HSMSIM_DAEMON) is not built (set HSMSIM_DAEMON)"
: "${SOFTHSM2_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
[ -f "$SOFTHSM2_MODULE" ] ||
    bail_out "SoftHSMv2 ($SOFTHSM2_MODULE) is not installed"

# The quick run: 5 rounds x 0.2 s per row on two modules and OpenSSL;
# key-pair runs of at least 2 pairs instead of 16 keep it short.
INTEROP_TIMEOUT=600

mkdir "$TEST_DIR/softhsm-tokens"
SOFTHSM2_CONF=$TEST_DIR/softhsm2.conf
printf 'directories.tokendir = %s/softhsm-tokens\nlog.level = ERROR\n' \
    "$TEST_DIR" >"$SOFTHSM2_CONF"
export SOFTHSM2_CONF

B=$HSMSIM_BENCH
HS=hsmsim=$HSMSIM_MODULE
SH=SoftHSMv2=$SOFTHSM2_MODULE

check_output "--help describes the options" 0 '--find-objects' "$B" --help
check_output "no target is a usage error" '!0' 'give --module' "$B"
check_output "--threads 0 is refused" '!0' 'invalid --threads' \
    "$B" --openssl --threads 0
check_output "an unknown --ops name is refused" '!0' 'invalid --ops' \
    "$B" --openssl --ops encrypt
check_output "--help lists the signing and key-pair rows" 0 \
    'ecdsa-sign, rsa-keygen' "$B" --help
check_output "--min-keypairs 0 is refused" '!0' 'invalid --min-keypairs' \
    "$B" --openssl --min-keypairs 0
check_output "--rounds 0 is refused" '!0' 'invalid --rounds' \
    "$B" --openssl --rounds 0
check_output "--rounds 101 is refused" '!0' 'invalid --rounds' \
    "$B" --openssl --rounds 101
check_output "a module name used twice is refused" '!0' 'used twice' \
    "$B" --module "$HS" --module "$HS"
check_output "a missing token without --init names the label" 1 \
    "no token labelled 'bench-smoke' \(use --init\)" \
    "$B" --module "$HS" --slot-label bench-smoke --quick --ops session

check_output "the quick benchmark runs on both modules and OpenSSL" 0 \
    'hsmsim/SoftHSMv2' \
    "$B" --module "$HS" --module "$SH" --openssl --init \
    --slot-label bench-smoke --quick --find-objects 100,1000 --min-keypairs 2
cp "$OUT" "$TEST_DIR/report"

NUM='[0-9]+(\.[0-9]+)?'
RATIO='[0-9]+\.[0-9]{2}'
# expect_row LABEL OPENSSL: one row per thread count, with a rate for each
# module, the OpenSSL column a rate (OPENSSL=yes) or "-", and the ratios.
# LABEL is matched literally.
expect_row()
{
    label_re=$(printf '%s' "$1" | sed 's/[][\\.*^$()+?{}|]/\\&/g')
    for thr in 1 2; do
        if [ "$2" = yes ]; then
            tail="$NUM +$RATIO +$RATIO"
        else
            tail="- +$RATIO +-"
        fi
        pattern="^$label_re +$thr +$NUM +$NUM +$tail\$"
        if grep -E -q -e "$pattern" "$TEST_DIR/report"; then
            interop_pass "row '$1', $thr thread(s)"
        else
            STATUS=0
            cp "$TEST_DIR/report" "$OUT"
            interop_cmd="grep -E '$pattern' report"
            interop_fail "row '$1', $thr thread(s)" "no row matches"
        fi
    done
}
expect_row 'C_GetSessionInfo (small call)' no
expect_row 'AES-256 keygen, session' yes
expect_row 'AES-256 keygen, token' no
expect_row 'AES key wrap (RFC 3394)' yes
expect_row 'AES key unwrap (RFC 3394)' yes
expect_row 'AES-256-GCM encrypt 32 B' yes
expect_row 'AES-256-GCM encrypt 4 KiB' yes
expect_row 'RSA-2048 sign, SHA256_RSA_PKCS' yes
expect_row 'ECDSA P-256 sign, ECDSA_SHA256' yes
expect_row 'RSA-2048 key pair gen, session' yes
expect_row 'C_OpenSession+C_CloseSession' no
expect_row 'find 1 by label among 100' no
expect_row 'find 1 by label among 1000' no
OUT_SAVED=$OUT
OUT=$TEST_DIR/report
check_last_output "the header names both ratio columns" \
    '^operation +thr +hsmsim +SoftHSMv2 +OpenSSL +hsmsim/SoftHSMv2 +OpenSSL/hsmsim$'
floor='RSA-2048 key pair gen, session: a run goes on past 0\.20 s'
check_last_output "the header tells the key-pair runs' floor" \
    "^  $floor until 2 key pairs are made\$"
# 26 rates, then the time per call of the two small-call rows.
rows=$(grep -E -c "^[A-Za-z].* +[12] +$NUM " "$TEST_DIR/report")
if [ "$rows" -eq 28 ]; then
    interop_pass "26 operation rows and 2 call-time rows"
else
    STATUS=0
    interop_cmd="count of rows"
    interop_fail "26 operation rows and 2 call-time rows" "found $rows"
fi
check_last_output "the call times have their own table" \
    '^Time of one call, in microseconds'
calls=$(sed -n '/^Time of one call/,/^notes/p' "$TEST_DIR/report" |
    grep -E -c "^C_GetSessionInfo \(small call\) +[12] +$NUM +$NUM +- ")
if [ "$calls" -eq 2 ]; then
    interop_pass "a time per call for both modules, 1 and 2 threads"
else
    STATUS=0
    interop_cmd="count of call-time rows"
    interop_fail "a time per call for both modules, 1 and 2 threads" \
        "found $calls"
fi
check_last_output "the notes tell how long the population took" \
    'find: created 900 token data objects \(100 to 1000\)'
OUT=$OUT_SAVED

# The tokens exist now; a second run finds them by label.
check_output "JSON output parses and has the ratios" 0 \
    '"hsmsim/SoftHSMv2": [0-9]+\.[0-9]{2}' \
    "$B" --module "$HS" --module "$SH" --openssl --slot-label bench-smoke \
    --quick --threads 1 --ops gcm-32,wrap --json
cp "$OUT" "$TEST_DIR/report.json"
check_output "the JSON document is valid" 0 '^ok$' python3 -c '
import json, statistics, sys
d = json.load(open(sys.argv[1]))
T = d["targets"]
assert T == ["hsmsim", "SoftHSMv2", "OpenSSL"], T
assert d["rounds"] == 5, d["rounds"]
assert [r["operation"] for r in d["results"]] == ["wrap", "gcm-32"]
pairs = {"hsmsim/SoftHSMv2": ("hsmsim", "SoftHSMv2"),
         "OpenSSL/hsmsim": ("OpenSSL", "hsmsim")}
for r in d["results"]:
    runs = r["runs_ops_per_second"]
    for t in T:
        assert len(runs[t]) == 5, r
        assert all(v > 0 for v in runs[t]), r
        med = statistics.median(runs[t])
        assert abs(r["ops_per_second"][t] - med) <= 0.002, (t, r)
    # Round k runs every target once, starting with target k mod 3.
    assert r["round_order"] == [T[k:] + T[:k] for k in (0, 1, 2, 0, 1)], r
    assert sorted(r["ratios"]) == sorted(pairs), r
    for name, (num, den) in pairs.items():
        per = [a / b for a, b in zip(runs[num], runs[den])]
        got = r["runs_ratios"][name]
        assert len(got) == 5, r
        assert all(abs(x - y) <= 1e-4 + 1e-3 * y
                   for x, y in zip(got, per)), r
        assert abs(r["ratios"][name] - statistics.median(per)) <= 0.006, r
        rom = r["ops_per_second"][num] / r["ops_per_second"][den]
        assert abs(r["ratios_of_medians"][name] - rom) <= 0.006, r
print("ok")' "$TEST_DIR/report.json"

# The signing and key-pair rows alone, very short, with one thread:
# every target measured, both ratios, the key-pair floor in the JSON.
check_output "the signing and key-pair rows run on every target" 0 \
    '"operation": "rsa-keygen"' \
    "$B" --module "$HS" --module "$SH" --openssl --slot-label bench-smoke \
    --seconds 0.05 --rounds 2 --threads 1 --min-keypairs 3 --json \
    --ops rsa-keygen,ecdsa-sign,rsa-sign
cp "$OUT" "$TEST_DIR/pk.json"
check_output "their JSON has a rate and both ratios for each row" 0 '^ok$' \
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["targets"] == ["hsmsim", "SoftHSMv2", "OpenSSL"], d["targets"]
ops = [r["operation"] for r in d["results"]]
assert ops == ["rsa-sign", "ecdsa-sign", "rsa-keygen"], ops
for r in d["results"]:
    for t in d["targets"]:
        assert r["ops_per_second"][t] > 0, (t, r)
        assert len(r["runs_ops_per_second"][t]) == 2, (t, r)
    for name in ("hsmsim/SoftHSMv2", "OpenSSL/hsmsim"):
        assert r["ratios"][name] > 0, (name, r)
    floor = r.get("min_ops_per_run")
    assert floor == (3 if r["operation"] == "rsa-keygen" else None), r
print("ok")' "$TEST_DIR/pk.json"

check_output "--rounds 3 runs three rounds" 0 '"rounds": 3,' \
    "$B" --openssl --rounds 3 --seconds 0.02 --threads 1 --ops gcm-32 --json
cp "$OUT" "$TEST_DIR/rounds3.json"
check_output "--rounds 3 keeps three values per target" 0 '^ok$' python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
(r,) = d["results"]
assert len(r["runs_ops_per_second"]["OpenSSL"]) == 3, r
assert r["round_order"] == [["OpenSSL"]] * 3, r
print("ok")' "$TEST_DIR/rounds3.json"

check_output "--module-conf must name a module" '!0' \
    'invalid --module-conf \(no --module of that name\)' \
    "$B" --module "$HS" --module-conf "other=$HSMSIM_CONF" --ops session
check_output "--ratio must name two targets" '!0' \
    'invalid --ratio \(two different target names\)' \
    "$B" --module "$HS" --openssl --ratio hsmsim/nobody --ops gcm-32

# appliance NAME [LINE...]: an appliance $TEST_DIR/NAME with the client
# "bench", served by hsmsimd on a loopback port (free_slot = yes, so
# --init makes the partition through the network); $TEST_DIR/NAME.conf
# is the module's configuration for it.
appliance()
{
    ap=$TEST_DIR/$1
    shift
    mkdir "$ap" "$ap/store" "$ap/kit"
    printf 'store = %s/store\n' "$ap" >"$ap/admin.conf"
    {
        HSMSIM_CONF=$ap/admin.conf "$HSMSIM_ADMIN" appliance init \
            --dir "$ap/store" &&
            HSMSIM_CONF=$ap/admin.conf "$HSMSIM_ADMIN" client cert create \
                --cn bench --out "$ap/kit" &&
            HSMSIM_CONF=$ap/admin.conf "$HSMSIM_ADMIN" client register \
                bench --cert "$ap/kit/bench.pem"
    } >"$ap/admin.log" 2>&1 ||
        bail_out "hsmsim-admin failed: $(cat "$ap/admin.log")"
    {
        printf 'listen = 127.0.0.1:0\ndir = %s/store\nfree_slot = yes\n' "$ap"
        printf 'pin_kdf_iterations = 1000\nlog_level = warn\n'
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >"$ap/hsmsimd.conf"
    "$HSMSIM_DAEMON" --conf "$ap/hsmsimd.conf" --port-file "$ap/port" \
        2>"$ap/hsmsimd.log" &
    ap_pid=$!
    on_exit "kill $ap_pid 2>/dev/null; wait $ap_pid 2>/dev/null"
    ap_tries=0
    while [ ! -s "$ap/port" ]; do
        ap_tries=$((ap_tries + 1))
        if [ "$ap_tries" -gt 100 ] || ! kill -0 "$ap_pid" 2>/dev/null; then
            bail_out "hsmsimd did not start: $(cat "$ap/hsmsimd.log")"
        fi
        sleep 0.05
    done
    {
        printf 'mode = network\nserver = 127.0.0.1:%s\n' "$(cat "$ap/port")"
        printf 'server_cert = %s/store/server.pem\n' "$ap"
        printf 'client_cert = %s/kit/bench.pem\nclient_key = %s/kit/bench.key\n' \
            "$ap" "$ap"
    } >"$ap.conf"
}
appliance net
appliance audit "audit = $TEST_DIR/audit.log"

# Embedded, network, network with audit, SoftHSMv2 and OpenSSL in one run,
# briefly: 3 rounds of 0.1 s per row.
check_output "network mode runs beside embedded mode and SoftHSMv2" 0 \
    '"hsmsim-net/hsmsim": ' \
    "$B" --module "$HS" --module "hsmsim-net=$HSMSIM_MODULE" \
    --module-conf "hsmsim-net=$TEST_DIR/net.conf" \
    --module "net+audit=$HSMSIM_MODULE" \
    --module-conf "net+audit=$TEST_DIR/audit.conf" --module "$SH" --openssl \
    --slot-label bench-net --init --seconds 0.1 --rounds 3 \
    --ops small-call,gcm-32 --ratio hsmsim-net/hsmsim \
    --ratio hsmsim-net/SoftHSMv2 --ratio net+audit/hsmsim-net --json
cp "$OUT" "$TEST_DIR/net.json"
check_output "every target has a rate, small-call a time per call" 0 '^ok$' \
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
T = d["targets"]
assert T == ["hsmsim", "hsmsim-net", "net+audit", "SoftHSMv2", "OpenSSL"], T
ops = [(r["operation"], r["threads"]) for r in d["results"]]
assert ops == [("small-call", 1), ("small-call", 2), ("gcm-32", 1),
               ("gcm-32", 2)], ops
ratios = ["hsmsim-net/hsmsim", "hsmsim-net/SoftHSMv2", "net+audit/hsmsim-net"]
for r in d["results"]:
    small = r["operation"] == "small-call"
    for t in T:
        if t == "OpenSSL" and small:
            assert r["ops_per_second"][t] is None, r
            continue
        assert r["ops_per_second"][t] > 0, (t, r)
        assert len(r["runs_ops_per_second"][t]) == 3, (t, r)
        if small:
            assert r["call_us"][t] > 0, (t, r)
            assert all(v > 0 for v in r["runs_call_us"][t]), (t, r)
    assert sorted(r["ratios"]) == sorted(ratios), r
    assert all(r["ratios"][n] > 0 for n in ratios), r
    if small:
        assert all(r["call_us_ratios"][n] > 0 for n in ratios), r
    else:
        assert "call_us" not in r, r
print("ok")' "$TEST_DIR/net.json"
check_true "the network target made its partition on its appliance" \
    test -f "$TEST_DIR/net/store/partition-0.db"
check_output "the audit log has the key uses of the gcm-32 rows" 0 \
    '"call":"C_\*Init".*"client":"bench"|"client":"bench".*"call":"C_\*Init"' \
    cat "$TEST_DIR/audit.log"

# A failing call is reported with its function and CK_RV, exit status 1.
check_output "a wrong PIN fails loudly" 1 \
    'hsmsim: setup: C_Login\(CKU_USER\): CKR_PIN_INCORRECT' \
    "$B" --module "$HS" --slot-label bench-smoke --pin wrong-pin --quick \
    --ops session
check_last_no_output "no table after a failure" '^operation '
check_output "SoftHSMv2 errors are reported the same way" 1 \
    'SoftHSMv2: setup: C_Login\(CKU_USER\): CKR_PIN_INCORRECT' \
    "$B" --module "$SH" --slot-label bench-smoke --pin wrong-pin --quick \
    --ops session

finish
