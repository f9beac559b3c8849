#!/bin/sh
# SPDX-License-Identifier: MIT
# analyse.sh - the static and dynamic analysers CI runs: a clang -Werror
# build, cppcheck, scan-build, clang-format on changed lines, a bounded
# libFuzzer run of the wire's decoders, and valgrind over the integration
# suites.  Each must report nothing.  Run from the
# checkout after scripts/test.sh has built _build (or name BUILD_DIR).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/_build}
cd "$top"
"$top/scripts/install-deps.sh" >/dev/null
jobs=$(nproc)

echo "== clang -Werror build (module, tools and every test program)"
mkdir -p _build-clang
(cd _build-clang &&
 CC=clang "$top/configure" -q --enable-werror >/dev/null &&
 make -j"$jobs" all >/dev/null &&
 make -j"$jobs" check TESTS= >/dev/null) ||
    { echo "clang build failed"; exit 1; }
echo "clang: ok"

echo "== cppcheck module/ tools/ driver/"
# variableScope is a taste rule (declarations at the top of a block are
# the house style); everything else cppcheck can say is a finding.
cppcheck --quiet --std=c11 --error-exitcode=1 --inline-suppr \
    --enable=warning,style,performance,portability \
    --suppress=missingIncludeSystem --suppress=variableScope \
    -I module -I driver -I "$build" -D__GNUC__ module tools driver ||
    { echo "cppcheck: findings above"; exit 1; }
echo "cppcheck: no findings"

echo "== scan-build (clang static analyser) over the module and tools"
rm -rf _build-scan && mkdir -p _build-scan
(cd _build-scan &&
 scan-build -o "$top/_build-scan/report" "$top/configure" -q >/dev/null &&
 scan-build -o "$top/_build-scan/report" --status-bugs \
     make -j"$jobs" all > scan.log 2>&1) ||
    { grep -E 'warning:|bugs found' _build-scan/scan.log | head -n 40
      echo "scan-build: findings above"; exit 1; }
echo "scan-build: no bugs found"

echo "== clang-format on lines changed since the format base"
# Lines written before .clang-format was enforced keep their layout;
# every line changed after the base commit must be formatted.
base=$(sed -n 's/^base = //p' .ci/format-base)
if git rev-parse -q --verify "$base^{commit}" >/dev/null 2>&1; then
    out=$(git clang-format --diff --extensions c,h "$base" -- module tools driver \
          tests 2>&1 || true)
    case "$out" in
        ""|*"no modified files to format"*|*"did not modify any files"*) ;;
        *) printf '%s\n' "$out" | head -n 60
           echo "clang-format: run 'git clang-format $base' and commit"
           exit 1 ;;
    esac
    echo "clang-format: changed lines are formatted"
else
    # A shallow clone lacks the base commit: say so rather than pass.
    echo "clang-format: base $base not in this clone; fetch full history"
    exit 1
fi

echo "== libFuzzer: the wire's decoders, ${HSMSIM_FUZZ_SECONDS:-20} s from tests/fuzz/wire"
# A crash, a leak or a read past the input stops it with a reproducer.
rm -rf _build-fuzz && mkdir -p _build-fuzz/corpus
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$top/module" -I "$top/_build-clang" $(pkg-config --cflags p11-kit-1) \
    "$top/tests/fuzz/fuzz_wire.c" "$top"/module/wire/wire*.c \
    -o _build-fuzz/fuzz_wire -lcrypto ||
    { echo "fuzz: build failed"; exit 1; }
(cd _build-fuzz &&
 ./fuzz_wire -max_total_time="${HSMSIM_FUZZ_SECONDS:-20}" -rss_limit_mb=1024 \
     -print_final_stats=1 corpus "$top/tests/fuzz/wire" > fuzz.log 2>&1) ||
    { tail -n 40 _build-fuzz/fuzz.log; echo "fuzz: failed"; exit 1; }
echo "fuzz: $(grep -o 'stat::number_of_executed_units: *[0-9]*' \
    _build-fuzz/fuzz.log | grep -o '[0-9]*$') runs, no finding"

echo "== libFuzzer: the daemon's dispatcher, ${HSMSIM_FUZZ_SECONDS:-20} s from tests/fuzz/serve"
# The engine, the device layer and the wire, instrumented once
# (fuzzer-no-link) into an archive that every target below links.
fuzz_flags="-g -O1 -fno-sanitize-recover=all -I $top/module -I $top/_build-clang $(pkg-config --cflags p11-kit-1)"
rm -rf _build-fuzz/lib && mkdir -p _build-fuzz/lib
fuzz_n=0
for src in "$top"/module/wire/wire*.c "$top"/module/device/device_local.c \
    "$top"/module/device/device_link.c "$top"/module/device/device_serve.c \
    "$top"/module/device/device_op.c "$top"/module/engine/*.c \
    "$top"/module/common/*.c; do
    obj=_build-fuzz/lib/$(echo "${src#"$top"/module/}" | tr / -).o
    # shellcheck disable=SC2086 # the flags are words
    clang $fuzz_flags -fsanitize=fuzzer-no-link,address,undefined \
        -DHSMSIM_DEFAULT_STORE='"/nonexistent"' \
        -DHSMSIM_DEFAULT_CONF='"/nonexistent/hsmsim.conf"' \
        -c "$src" -o "$obj" &
    fuzz_n=$((fuzz_n + 1))
    [ $((fuzz_n % 2)) -ne 0 ] || wait
done
wait
# clang leaves no object when it fails: one missing is a failed build.
[ "$(find _build-fuzz/lib -name '*.o' | wc -l)" -eq "$fuzz_n" ] ||
    { echo "fuzz: the engine does not build for the fuzzers"; exit 1; }
ar rcs _build-fuzz/lib/libengine-fuzz.a _build-fuzz/lib/*.o
# serve_cc OUT MAIN SANITIZERS...: MAIN linked with the archive.
serve_cc() {
    serve_o=$1 serve_m=$2
    shift 2
    # shellcheck disable=SC2086 # the flags are words
    clang $fuzz_flags "$@" "$serve_m" _build-fuzz/lib/libengine-fuzz.a \
        -o "$serve_o" -lcrypto -lsqlite3 -lpthread
}
# Whole request frames into device_serve, over a fake device that checks
# the device API's contract (fuzz_serve.c).  First the seeds: one per
# call id, remade through the link client on the real engine and
# compared with the tree, so a call without a seed, or a stale seed,
# fails here.
mkdir -p _build-fuzz/serve/corpus _build-fuzz/serve/seeds
{ serve_cc _build-fuzz/serve/make_serve_seeds \
      "$top/tests/fuzz/make_serve_seeds.c" -fsanitize=address,undefined &&
  serve_cc _build-fuzz/serve/fuzz_serve "$top/tests/fuzz/fuzz_serve.c" \
      -fsanitize=fuzzer,address,undefined; } ||
    { echo "fuzz_serve: build failed"; exit 1; }
_build-fuzz/serve/make_serve_seeds _build-fuzz/serve/seeds >/dev/null ||
    { echo "fuzz_serve: the seeds cannot be made"; exit 1; }
diff -r _build-fuzz/serve/seeds "$top/tests/fuzz/serve" ||
    { echo "fuzz_serve: tests/fuzz/serve is not what make_serve_seeds" \
           "makes: remake it (tests/fuzz/make_serve_seeds.c)"; exit 1; }
echo "fuzz_serve: $(find "$top/tests/fuzz/serve" -type f | wc -l) seeds," \
    "one per call"
(cd _build-fuzz/serve &&
 ./fuzz_serve -max_total_time="${HSMSIM_FUZZ_SECONDS:-20}" \
     -rss_limit_mb=1024 -print_final_stats=1 \
     corpus "$top/tests/fuzz/serve" > fuzz.log 2>&1) ||
    { tail -n 40 _build-fuzz/serve/fuzz.log; echo "fuzz_serve: failed"
      exit 1; }
echo "fuzz_serve: $(grep -o 'stat::number_of_executed_units: *[0-9]*' \
    _build-fuzz/serve/fuzz.log | grep -o '[0-9]*$') runs, no finding"

echo "== libFuzzer: templates, the store's records, mechanism parameters," \
    "${HSMSIM_FUZZ_TARGET_SECONDS:-10} s each"
# Three targets on the engine: attribute templates (create, unwrap, find,
# copy), the store's record decoder, and mechanism parameters; seeds are
# remade by make_fuzz_seeds.c and compared with tests/fuzz/, as above.
rm -rf _build-fuzz/engine && mkdir -p _build-fuzz/engine/seeds
serve_cc _build-fuzz/engine/make_fuzz_seeds \
    "$top/tests/fuzz/make_fuzz_seeds.c" -fsanitize=address,undefined ||
    { echo "make_fuzz_seeds: build failed"; exit 1; }
_build-fuzz/engine/make_fuzz_seeds _build-fuzz/engine/seeds >/dev/null ||
    { echo "make_fuzz_seeds: the seeds cannot be made"; exit 1; }
for t in templates store_record mech_params; do
    diff -r "_build-fuzz/engine/seeds/$t" "$top/tests/fuzz/$t" ||
        { echo "fuzz_$t: tests/fuzz/$t is not what make_fuzz_seeds" \
               "makes: remake it (tests/fuzz/make_fuzz_seeds.c)"; exit 1; }
    serve_cc "_build-fuzz/engine/fuzz_$t" "$top/tests/fuzz/fuzz_$t.c" \
        -fsanitize=fuzzer,address,undefined ||
        { echo "fuzz_$t: build failed"; exit 1; }
    mkdir -p "_build-fuzz/engine/corpus-$t"
    (cd _build-fuzz/engine &&
     "./fuzz_$t" -max_total_time="${HSMSIM_FUZZ_TARGET_SECONDS:-10}" \
         -rss_limit_mb=1024 -print_final_stats=1 \
         "corpus-$t" "$top/tests/fuzz/$t" > "fuzz-$t.log" 2>&1) ||
        { tail -n 40 "_build-fuzz/engine/fuzz-$t.log"
          echo "fuzz_$t: failed"; exit 1; }
    echo "fuzz_$t: $(find "$top/tests/fuzz/$t" -type f | wc -l) seeds," \
        "$(grep -o 'stat::number_of_executed_units: *[0-9]*' \
            "_build-fuzz/engine/fuzz-$t.log" | grep -o '[0-9]*$') runs," \
        "no finding"
done

echo "== valgrind over the integration suites"
# Invalid reads and writes, uses of uninitialised values and bad frees
# fail; leaks are LeakSanitizer's job (.ci/run), since forked children
# exit without freeing what they inherited.  RSA pairs are imported,
# not generated, where generation is not the subject (asym_util.c).
# OpenSSL runs its portable C code here (AES-NI and PCLMULQDQ masked).
# On its AES-NI/PCLMUL GCM path valgrind 3.19 reports the message-API
# GCM tags as uninitialised, with no origin even under --track-origins,
# although they match the NIST vectors and a standalone program making
# the same OpenSSL calls is clean (docs/conformance.md, "Analysers").
# The sanitizer run covers the assembly paths.
mkdir -p "$build/tests/tmp-vg"
find "$build/tests/integration" -maxdepth 1 -type f -perm -u+x \
        -name 'test_*' | sort |
    xargs -P "$jobs" -I{} sh -c '
        t={}; log=$0/tests/tmp-vg/$(basename "$t").vg
        HSMSIM_MODULE=$0/.libs/libhsmsim.so HSMSIM_ADMIN=$0/hsmsim-admin \
        HSMSIM_TEST_TMP=$0/tests/tmp-vg HSMSIM_FUZZ_CALLS=2000 \
        HSMSIM_TEST_RSA_REUSE=1 OPENSSL_ia32cap="~0x200000200000000" \
        valgrind -q --error-exitcode=99 --leak-check=no \
            "$t" > "$log" 2>&1 ||
            { echo "valgrind: $(basename "$t") failed:"; tail -n 60 "$log";
              exit 255; }
        echo "valgrind: $(basename "$t") clean"' "$build" ||
    { echo "valgrind: failures above"; exit 1; }
echo "valgrind: integration suites clean"
