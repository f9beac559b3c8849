#!/bin/sh
# SPDX-License-Identifier: MIT
# suites.sh MODE - the integration and consumer suites once more, with the
# module in MODE:
#   loopback  every call through the wire's encoding, in one process;
#   network   every scratch store served by an hsmsimd of its own, on a
#             loopback port it picks, the module its client over TLS 1.3.
# Each suite's output follows its name; the last line is the total, as
# "N passed, M failed" (scripts/test.sh adds it to the closing line).
set -u
mode=${1:?usage: suites.sh loopback|network}
: "${HSMSIM_BUILD_DIR:?HSMSIM_BUILD_DIR is not set (make check sets it)}"
: "${HSMSIM_SRCDIR:?HSMSIM_SRCDIR is not set (make check sets it)}"
case $mode in
loopback)
    HSMSIM_TEST_MODE_CONF="mode = loopback"
    export HSMSIM_TEST_MODE_CONF ;;
network)
    HSMSIM_TEST_APPLIANCE=$HSMSIM_BUILD_DIR/hsmsimd
    [ -x "$HSMSIM_TEST_APPLIANCE" ] || { echo "no $HSMSIM_TEST_APPLIANCE"; exit 99; }
    export HSMSIM_TEST_APPLIANCE ;;
*)
    echo "unknown mode '$mode'"; exit 99 ;;
esac

suites_failed=0
for t in "$HSMSIM_BUILD_DIR"/tests/integration/test_*; do
    [ -x "$t" ] || continue
    echo "==== $mode: $(basename "$t")"
    timeout 900 "$t" || suites_failed=$((suites_failed + 1))
done
for s in pkcs11_tool pkcs11_tool_asym pkcs11_tool_legacy p11kit \
    gnutls_p11tool openssl_engine java_sunpkcs11 python_pykcs11; do
    echo "==== $mode: $s.sh"
    timeout 900 sh "$HSMSIM_SRCDIR/tests/interop/$s.sh" ||
        suites_failed=$((suites_failed + 1))
done
echo "==== $mode: $suites_failed suites failed"
[ "$suites_failed" -eq 0 ]
