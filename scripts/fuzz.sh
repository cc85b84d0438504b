#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/, clang, ASan + UBSan) in build-fuzz/ and run them.
#
#   scripts/fuzz.sh TARGET SECONDS      TARGET: all, codec, options, engine, wsp, framing (or fuzz_codec..)
#   scripts/fuzz.sh all 20              # the CI smoke run: ~20 s per target
#   scripts/fuzz.sh engine 600          # a longer campaign on one target
#   scripts/fuzz.sh all 0               # build and replay seeds + regressions only
#
# Each target runs from its seed corpus (fuzz/corpus/<target>/, read-only) plus a work corpus in
# build-fuzz/fuzz-work/<target>/corpus/ that keeps what libFuzzer finds across runs (the repo's
# corpus is never written). Known reproducers in fuzz/regressions/<target>/ are replayed first.
# Prints executions/s, coverage (cov / ft of libFuzzer's final line) and corpus size per target;
# exits non-zero on any finding and prints the path of the saved crash input.
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), CXX (default clang++), FUZZ_SKIP_BUILD=1
# (run what is built; for parallel campaigns), FUZZ_ARGS (extra libFuzzer flags), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SRC_DIR=${USTACK_FUZZ_SOURCE_DIR:-$ROOT}
JOBS=${JOBS:-$(nproc)}

usage() {
  echo "usage: scripts/fuzz.sh TARGET SECONDS   (TARGET: all codec options engine wsp framing)" >&2
  exit 2
}
[ $# -eq 2 ] || usage
WHAT=$1
SECS=$2
[[ $SECS =~ ^[0-9]+$ ]] || usage

ALL=(fuzz_codec fuzz_options fuzz_engine fuzz_wsp fuzz_framing)
case $WHAT in
  all) TARGETS=("${ALL[@]}") ;;
  codec | options | engine | wsp | framing) TARGETS=("fuzz_$WHAT") ;;
  fuzz_codec | fuzz_options | fuzz_engine | fuzz_wsp | fuzz_framing) TARGETS=("$WHAT") ;;
  *) usage ;;
esac

# Per-target input size bound (bytes): a packet, an option area, an engine script, a WSP script.
max_len() {
  case $1 in
    fuzz_codec) echo 4096 ;;
    fuzz_options) echo 128 ;;
    fuzz_engine) echo 4096 ;;
    fuzz_wsp) echo 2048 ;;
    fuzz_framing) echo 1024 ;;
  esac
}

if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  CXX=${CXX:-}
  if [ -z "$CXX" ] || ! "$CXX" --version 2>/dev/null | grep -qi clang; then
    CXX=$(command -v clang++ || command -v clang++-14 || true)
  fi
  if [ -z "$CXX" ]; then
    echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs clang, libclang-rt-14-dev)" >&2
    exit 1
  fi
  if ! grep -q 'add_subdirectory(fuzz)' "$SRC_DIR/CMakeLists.txt"; then
    echo "fuzz.sh: $SRC_DIR/CMakeLists.txt does not add fuzz/; after the tun/apps lines it needs" >&2
    echo "  if(USTACK_FUZZ)" >&2
    echo "    add_subdirectory(fuzz)" >&2
    echo "  endif()" >&2
    exit 1
  fi
  echo "== configure ($BUILD_DIR, $CXX)"
  cmake -S "$SRC_DIR" -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER="$CXX" -DUSTACK_FUZZ=ON \
    -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  echo "== build ${TARGETS[*]}"
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "${TARGETS[@]}"
fi

status=0
summary=()
for t in "${TARGETS[@]}"; do
  bin=$BUILD_DIR/fuzz/$t
  seeds=$ROOT/fuzz/corpus/$t
  regressions=$ROOT/fuzz/regressions/$t
  work=$BUILD_DIR/fuzz-work/$t
  mkdir -p "$work/corpus" "$work/artifacts"
  log=$work/log.txt
  [ -x "$bin" ] || { echo "fuzz.sh: $bin is not built" >&2; exit 1; }

  # Known reproducers first: each must now pass.
  mapfile -t regs < <(find "$regressions" -maxdepth 1 -type f ! -name '*.md' 2>/dev/null | sort)
  if [ ${#regs[@]} -gt 0 ]; then
    echo "== $t: replaying ${#regs[@]} regression input(s)"
    if ! "$bin" -runs=1 "${regs[@]}" >"$work/regressions.txt" 2>&1; then
      echo "FINDING: $t fails a known regression input (log: $work/regressions.txt)" >&2
      grep -m1 -E "FUZZ_CHECK|ERROR: |runtime error" "$work/regressions.txt" >&2 || true
      status=1
      summary+=("$t: REGRESSION FAILS")
      continue
    fi
  fi

  echo "== $t: ${SECS}s"
  before=$(ls "$work/artifacts" | wc -l)
  rc=0
  # libFuzzer reads -max_total_time=0 as "no limit": 0 seconds means replay the corpora only.
  if [ "$SECS" = 0 ]; then limit=(-runs=0); else limit=(-max_total_time="$SECS"); fi
  # shellcheck disable=SC2086
  "$bin" "${limit[@]}" -max_len="$(max_len "$t")" -timeout=20 -rss_limit_mb=3072 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" ${FUZZ_ARGS:-} \
    "$work/corpus" "$seeds" >"$log" 2>&1 || rc=$?
  final=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|pulse|NEW|REDUCE)' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$final")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$final")
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
  eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
  corp=$(ls "$work/corpus" | wc -l)
  line="$t: ${runs:-?} runs, ${eps:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp} files"
  if [ $rc -ne 0 ] || [ "$(ls "$work/artifacts" | wc -l)" -gt "$before" ]; then
    status=1
    echo "FINDING in $t (exit $rc):" >&2
    grep -m3 -E "FUZZ_CHECK|ERROR: |runtime error|SUMMARY" "$log" >&2 || true
    for f in $(ls -t "$work/artifacts"); do echo "  input saved: $work/artifacts/$f" >&2; done
    echo "  log: $log; replay: $bin <input>  (USTACK_FUZZ_TRACE=1 traces fuzz_engine)" >&2
    line="$line -- FINDING"
  fi
  echo "$line"
  summary+=("$line")
done

echo "== fuzz summary"
printf '  %s\n' "${summary[@]}"
exit $status
