# SPDX-License-Identifier: MIT
# Shared helpers for the interop shell tests: scratch dir, checks, summary.
#
# Source this file, call interop_setup, run check_* calls, end with finish.
# Each check prints "ok - DESC" or "not ok - DESC" followed by the command,
# its exit status and its output (prefixed with "# ").  finish prints
# "N passed, M failed", removes the scratch directory and exits non-zero if
# any check failed.  Setup errors exit 99, which automake reports as ERROR,
# so a missing module or tool fails the run instead of skipping it.

interop_passed=0
interop_failed=0
interop_finished=no
interop_cleanup_cmds=
TEST_DIR=
OUT=
STATUS=0

# Seconds any single command may take before it counts as a failure.
: "${INTEROP_TIMEOUT:=30}"

# Print a reason and stop the script with a hard error.
bail_out()
{
    printf 'Bail out! %s\n' "$*"
    exit 99
}

# Run CMD when the script exits (last registered runs first).
on_exit()
{
    interop_cleanup_cmds="$1
$interop_cleanup_cmds"
}

interop_exit_trap()
{
    interop_rc=$?
    eval "$interop_cleanup_cmds"
    if [ -n "$TEST_DIR" ] && [ -d "$TEST_DIR" ]; then
        rm -rf "$TEST_DIR"
    fi
    if [ "$interop_finished" != yes ] && [ "$interop_rc" -eq 0 ]; then
        printf 'Bail out! script ended without calling finish\n'
        interop_rc=99
    fi
    exit "$interop_rc"
}

# Stop loudly unless every named program is on PATH.
require_tool()
{
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 ||
            bail_out "required tool '$tool' is not installed"
    done
}

# interop_setup [MODULE] [EXTRA_CONF_LINE...]
# Checks HSMSIM_MODULE (or MODULE, for runs by hand), makes TEST_DIR under
# HSMSIM_TEST_TMP (default /tmp) with an empty store and a fast-KDF
# configuration, and exports HSMSIM_CONF.
interop_setup()
{
    if [ -z "${HSMSIM_MODULE:-}" ] && [ -n "${1:-}" ]; then
        HSMSIM_MODULE=$1
    fi
    [ $# -gt 0 ] && shift
    [ -n "${HSMSIM_MODULE:-}" ] ||
        bail_out "HSMSIM_MODULE is not set (or pass the module path)"
    case $HSMSIM_MODULE in
    /*) ;;
    *) HSMSIM_MODULE=$(pwd)/$HSMSIM_MODULE ;;
    esac
    [ -f "$HSMSIM_MODULE" ] ||
        bail_out "module $HSMSIM_MODULE does not exist"
    export HSMSIM_MODULE

    : "${HSMSIM_TEST_TMP:=/tmp}"
    mkdir -p "$HSMSIM_TEST_TMP" ||
        bail_out "cannot create $HSMSIM_TEST_TMP"
    trap interop_exit_trap EXIT
    trap 'exit 99' HUP INT TERM
    TEST_DIR=$(mktemp -d "$HSMSIM_TEST_TMP/interop.XXXXXX") ||
        bail_out "cannot create a directory in $HSMSIM_TEST_TMP"
    OUT=$TEST_DIR/last.out

    HSMSIM_CONF=$TEST_DIR/hsmsim.conf
    mode_conf=${HSMSIM_TEST_MODE_CONF:-}
    if [ -n "${HSMSIM_TEST_APPLIANCE:-}" ]; then
        interop_appliance_start "$@"
        mode_conf=$interop_network_conf
    fi
    {
        printf 'store = %s/store\n' "$TEST_DIR"
        printf 'pin_kdf_iterations = 1000\n'
        for line in "$@"; do
            printf '%s\n' "$line"
        done
        # The mode a whole run is in (loopback, network), when one is set.
        printf '%s\n' "$mode_conf"
    } >"$HSMSIM_CONF"
    export HSMSIM_CONF
}

# interop_appliance_run: start hsmsimd on $TEST_DIR/hsmsimd.conf; sets
# ia_pid and ia_port.
interop_appliance_run()
{
    rm -f "$TEST_DIR/port"
    "$HSMSIM_TEST_APPLIANCE" --conf "$TEST_DIR/hsmsimd.conf" \
        --port-file "$TEST_DIR/port" 2>>"$TEST_DIR/hsmsimd.log" &
    ia_pid=$!
    on_exit "kill $ia_pid 2>/dev/null; wait $ia_pid 2>/dev/null"
    ia_tries=0
    while [ ! -s "$TEST_DIR/port" ]; do
        ia_tries=$((ia_tries + 1))
        [ "$ia_tries" -le 100 ] && kill -0 "$ia_pid" 2>/dev/null ||
            bail_out "hsmsimd did not start: $(cat "$TEST_DIR/hsmsimd.log")"
        sleep 0.05
    done
    ia_port=$(cat "$TEST_DIR/port")
}

# interop_appliance_restart: after its hsmsimd.conf changed, stop the
# appliance (SIGTERM) and start it again; the module's server line
# follows the new port.
interop_appliance_restart()
{
    kill "$ia_pid" 2>/dev/null
    wait "$ia_pid" 2>/dev/null
    interop_appliance_run
    sed -i "s/^server = .*/server = 127.0.0.1:$ia_port/" "$HSMSIM_CONF"
}

# interop_appliance_start [ENGINE_CONF_LINE...]
# Network mode ($HSMSIM_TEST_APPLIANCE names an hsmsimd): the scratch
# store becomes an appliance's, with an identity and a registered client
# made by $HSMSIM_ADMIN, served on a loopback port hsmsimd picks, with
# free_slot = yes so that the suite makes its partitions as in embedded
# mode.  Sets interop_network_conf to the module's lines.
interop_appliance_start()
{
    [ -n "${HSMSIM_ADMIN:-}" ] || bail_out "network mode needs HSMSIM_ADMIN"
    ia_store=$TEST_DIR/store
    ia_kit=$TEST_DIR/kit
    mkdir -p "$ia_store" "$ia_kit"
    printf 'store = %s\n' "$ia_store" >"$TEST_DIR/admin.conf"
    HSMSIM_CONF=$TEST_DIR/admin.conf "$HSMSIM_ADMIN" appliance init \
        --dir "$ia_store" >/dev/null &&
        HSMSIM_CONF=$TEST_DIR/admin.conf "$HSMSIM_ADMIN" client cert create \
            --cn interop --out "$ia_kit" >/dev/null &&
        HSMSIM_CONF=$TEST_DIR/admin.conf "$HSMSIM_ADMIN" client register \
            interop --cert "$ia_kit/interop.pem" >/dev/null ||
        bail_out "cannot make the appliance's identity and client"
    {
        printf 'listen = 127.0.0.1:0\ndir = %s\nfree_slot = yes\n' "$ia_store"
        printf 'pin_kdf_iterations = 1000\nlog_level = warn\n'
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >"$TEST_DIR/hsmsimd.conf"
    interop_appliance_run
    interop_network_conf="mode = network
server = 127.0.0.1:$ia_port
server_cert = $ia_store/server.pem
client_cert = $ia_kit/interop.pem
client_key = $ia_kit/interop.key"
}

# run CMD...: run with a time limit; output in $OUT, exit status in $STATUS.
run()
{
    timeout "$INTEROP_TIMEOUT" "$@" >"$OUT" 2>&1 </dev/null
    STATUS=$?
}

interop_pass()
{
    interop_passed=$((interop_passed + 1))
    printf 'ok - %s\n' "$1"
}

# interop_fail DESC WHY: report the last command run.
interop_fail()
{
    interop_failed=$((interop_failed + 1))
    printf 'not ok - %s\n' "$1"
    printf '# %s\n' "$2"
    printf '# command: %s\n' "$interop_cmd"
    printf '# exit status: %s\n' "$STATUS"
    if [ -s "$OUT" ]; then
        sed 's/^/#   /' "$OUT"
    fi
}

# status_matches WANT: WANT is a number, or "!0" for any failure.
status_matches()
{
    case $1 in
    '!0') [ "$STATUS" -ne 0 ] ;;
    *) [ "$STATUS" -eq "$1" ] ;;
    esac
}

# interop_check DESC WANT MODE PATTERN CMD...
interop_check()
{
    desc=$1 want=$2 mode=$3 pattern=$4
    shift 4
    interop_cmd=
    for arg in "$@"; do
        case $arg in
        *[!A-Za-z0-9_./:=@%+,-]* | '') arg="'$arg'" ;;
        esac
        interop_cmd="$interop_cmd${interop_cmd:+ }$arg"
    done
    run "$@"
    if ! status_matches "$want"; then
        interop_fail "$desc" "expected exit status $want"
        return 1
    fi
    case $mode in
    has)
        if ! grep -E -q -e "$pattern" "$OUT"; then
            interop_fail "$desc" "output does not match /$pattern/"
            return 1
        fi
        ;;
    lacks)
        if grep -E -q -e "$pattern" "$OUT"; then
            interop_fail "$desc" "output matches /$pattern/"
            return 1
        fi
        ;;
    esac
    interop_pass "$desc"
}

# check_status DESC WANT CMD...: exit status only (WANT a number or "!0").
check_status()
{
    desc=$1 want=$2
    shift 2
    interop_check "$desc" "$want" none '' "$@"
}

# check_true DESC CMD...: the command must succeed (cmp, test, ...).
check_true()
{
    desc=$1
    shift
    interop_check "$desc" 0 none '' "$@"
}

# check_output DESC WANT PATTERN CMD...: status WANT and output matching
# the extended regular expression PATTERN.
check_output()
{
    desc=$1 want=$2 pattern=$3
    shift 3
    interop_check "$desc" "$want" has "$pattern" "$@"
}

# check_no_output DESC WANT PATTERN CMD...: status WANT and no output line
# matching PATTERN.
check_no_output()
{
    desc=$1 want=$2 pattern=$3
    shift 3
    interop_check "$desc" "$want" lacks "$pattern" "$@"
}

# check_last_output DESC PATTERN: the output of the last command (already
# checked once) must also match PATTERN.
check_last_output()
{
    if grep -E -q -e "$2" "$OUT"; then
        interop_pass "$1"
    else
        interop_fail "$1" "output does not match /$2/"
    fi
}

# check_last_no_output DESC PATTERN: the last output must not match PATTERN.
check_last_no_output()
{
    if grep -E -q -e "$2" "$OUT"; then
        interop_fail "$1" "output matches /$2/"
    else
        interop_pass "$1"
    fi
}

# Print the summary, clean up, and exit non-zero if any check failed.
finish()
{
    interop_finished=yes
    printf '%d passed, %d failed\n' "$interop_passed" "$interop_failed"
    if [ "$interop_failed" -ne 0 ] || [ "$interop_passed" -eq 0 ]; then
        exit 1
    fi
    exit 0
}
