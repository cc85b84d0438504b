#!/usr/bin/env bash
# The test command: install what is missing, configure, build, run every test with CTest.
#
#   scripts/test.sh                 # Debug build in build/, all tests
#   BUILD_DIR=/tmp/b scripts/test.sh
#   USTACK_SANITIZE=address,undefined scripts/test.sh   # also an ASan+UBSan build of the
#                                                       # unit, codec and simulation tests
#   USTACK_TSAN=0 scripts/test.sh   # skip the ThreadSanitizer build of the threaded suites
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}

bash scripts/install-deps.sh

echo "== configure ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} >/dev/null
echo "== build"
cmake --build "$BUILD_DIR" -j "$JOBS"
# scripts/bench.sh builds its programs in Release (-O3), whose warnings differ: build them here.
echo "== Release build of the benchmark programs (${BUILD_DIR}-release)"
cmake -S . -B "${BUILD_DIR}-release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "${BUILD_DIR}-release" -j "$JOBS" --target ustack-bench linux-bench
echo "== test"
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" --timeout 600 -LE e2e-loss)

if [ -n "${USTACK_SANITIZE:-}" ]; then
  SAN_DIR=${BUILD_DIR}-san
  echo "== sanitizer build ($USTACK_SANITIZE) in $SAN_DIR"
  cmake -S . -B "$SAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DUSTACK_SANITIZE="$USTACK_SANITIZE" >/dev/null
  cmake --build "$SAN_DIR" -j "$JOBS"
  (cd "$SAN_DIR" && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j "$JOBS" --timeout 900 -LE "e2e|tools|bench|style|dist|python")
fi

# ThreadSanitizer (issue 22 item 4): the suites where threads meet -- the WSP API on engine
# threads (wsp), the host runtime (host, tun) and the end-to-end tests that do not measure speed
# -- in ${BUILD_DIR}-tsan; any report fails the test (halt_on_error). USTACK_TSAN=0 skips it. Left
# out: the 16 MiB lwIP run at 2 % loss (two minutes of lwIP's retransmission timer, the same
# ustack paths as the 2 MiB run that stays in).
if [ "${USTACK_TSAN:-1}" != 0 ]; then
  TSAN_DIR=${BUILD_DIR}-tsan
  echo "== ThreadSanitizer build in $TSAN_DIR"
  cmake -S . -B "$TSAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUSTACK_SANITIZE=thread >/dev/null
  cmake --build "$TSAN_DIR" -j "$JOBS"
  (cd "$TSAN_DIR" && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
     ctest --output-on-failure -j "$JOBS" --timeout 900 -L "wsp|host|tun|e2e" -LE e2e-loss \
       -E "lwIP - both roles - 16 MiB each way under 2% loss")
fi

# Fuzz smoke run (issue #7): clang + libFuzzer in ${BUILD_DIR}-fuzz, seeds + regressions, then
# USTACK_FUZZ_SECONDS per target (default 15; 0: build and replay only). Non-zero exit on a finding.
FUZZ_SECONDS=${USTACK_FUZZ_SECONDS:-15}
echo "== fuzz (${FUZZ_SECONDS}s per target)"
FUZZ_BUILD_DIR=${BUILD_DIR}-fuzz JOBS=$JOBS bash scripts/fuzz.sh all "$FUZZ_SECONDS"
