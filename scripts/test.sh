#!/usr/bin/env bash
# The test command: install what is missing, configure, build, run every test with CTest.
#
#   scripts/test.sh                 # Debug build in build/, all tests
#   BUILD_DIR=/tmp/b scripts/test.sh
#   USTACK_SANITIZE=address,undefined scripts/test.sh   # also an ASan+UBSan build of the
#                                                       # unit, codec and simulation tests
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

# Fuzz smoke run (issue #7): clang + libFuzzer in ${BUILD_DIR}-fuzz, seeds + regressions, then
# USTACK_FUZZ_SECONDS per target (default 15; 0: build and replay only). Non-zero exit on a finding.
FUZZ_SECONDS=${USTACK_FUZZ_SECONDS:-15}
echo "== fuzz (${FUZZ_SECONDS}s per target)"
FUZZ_BUILD_DIR=${BUILD_DIR}-fuzz JOBS=$JOBS bash scripts/fuzz.sh all "$FUZZ_SECONDS"
