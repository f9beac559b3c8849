#!/bin/sh
# SPDX-License-Identifier: MIT
# fault_admin.sh - hsmsim-admin fault set|clear|list: every bad argument
# (exit 2, one stderr line), a missing rule (exit 1, one line), --json
# output that parses, and the faults file's mode (0600).
set -eu

NAME=fault_admin.sh
command -v python3 >/dev/null || { echo "$NAME: python3 is required" >&2; exit 1; }
. "$(dirname "$0")/../interop/admin_lib.sh"
mkdir -p "$T/app"
printf 'store = %s\n' "$T/app" >"$T/hsmsim.conf"
HSMSIM_CONF=$T/hsmsim.conf
export HSMSIM_CONF

fails_with() { # fails_with RC: exit RC, one stderr line, nothing out
    rc_is "$1" && one_err_line && [ ! -s "$T/out" ]
}
json_ok() { python3 -m json.tool "$T/out" >/dev/null; }

run fault set
check "set without a rule: exit 2, one line" fails_with 2
run fault set slowness 5ms
check "an unknown fault: exit 2, one line" fails_with 2
check "an unknown fault is named" err_has "unknown fault 'slowness'"
run fault set latency 5parsecs
check "a bad duration: exit 2, one line" fails_with 2
run fault set latency 5ms jitter 9ms
check "jitter above the delay: exit 2" fails_with 2
run fault set error C_Sign CKR_NOT_A_CODE
check "a bad CKR: exit 2, one line" fails_with 2
run fault set error C_Sign CKR_OK
check "CKR_OK is no error: exit 2" fails_with 2
run fault set latency 5ms client=app1 junk
check "junk after the scope: exit 2, one line" fails_with 2
check "junk after the scope is explained" err_has "client=NAME, partition=NAME or all"
run fault set throttle 0/s
check "throttle 0/s: exit 2" fails_with 2
run fault set 'stall;crash'
check "';' in a rule: exit 2" fails_with 2
check "nothing was written by refused rules" sh -c "[ ! -e '$T/app/faults' ]"

run --json fault set latency 5ms client=app1
check "set exits 0" rc_is 0
check "set --json parses" json_ok
check "set --json names the rule" python3 -c "
import json; d = json.load(open('$T/out'))
assert d == {'index': 1, 'kind': 'latency', 'rule': 'latency 5ms client=app1', 'state': 'set'}, d"
check "the faults file is 0600" sh -c "[ \$(stat -c %a '$T/app/faults') = 600 ]"
run --json fault set error C_Sign CKR_DEVICE_ERROR every 3
run --json fault list
check "list --json parses" json_ok
check "list --json has both rules, in order" python3 -c "
import json; d = json.load(open('$T/out'))
assert [r['rule'] for r in d] == ['latency 5ms client=app1', 'error C_Sign CKR_DEVICE_ERROR every 3'], d"

run fault clear stall
check "clear of a missing rule: exit 1, one line" fails_with 1
check "clear of a missing rule names it" err_has "no rule 'stall'"
run fault clear 9
check "clear of a missing number: exit 1" fails_with 1
run fault clear --all stall
check "clear with --all and a rule: exit 2, one line" fails_with 2
run fault clear
check "clear with nothing: exit 2, one line" fails_with 2
run --json fault clear latency 5ms client=app1
check "clear by rule exits 0" rc_is 0
check "clear --json parses" json_ok
check "clear --json says cleared" python3 -c "
import json; d = json.load(open('$T/out')); assert d['state'] == 'cleared' and d['kind'] == 'latency', d"
run --json fault clear --all
check "clear --all --json parses" json_ok
check "clear --all counts the rule left" python3 -c "
import json; assert json.load(open('$T/out')) == {'cleared': 1}"
check "the faults file stays 0600" sh -c "[ \$(stat -c %a '$T/app/faults') = 600 ]"
run --json fault list
check "an empty list --json is []" python3 -c "
import json; assert json.load(open('$T/out')) == []"
run fault list
check "an empty list says so" out_has "no fault rules"

admin_finish
