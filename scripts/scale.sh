#!/usr/bin/env bash
# Scale (issue 22 item 7; not part of CI, which runs the same program at 10,000): N established
# connections between two ustack hosts (in memory, no privilege), then the resident size per
# connection, the CPU time while they sit idle, and whether one more connection still works.
#
#   scripts/scale.sh [--connections N] [--runs R] [--bin-dir DIR]   (defaults 100000, 3, build/apps/bench)
#
# Prints each run's RESULT line (apps/bench/ustack_scale.cpp says what each field is), then the
# spread of the figures over the runs. Goals: bytes_per_endpoint <= 3072, idle_cpu_ms ~ 0.
set -euo pipefail
cd "$(dirname "$0")/.."
n=100000 runs=3 bin=build/apps/bench
while [ $# -gt 0 ]; do
  case $1 in
    --connections) n=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --bin-dir) bin=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$bin/ustack-scale" ] || { echo "scale.sh: $bin/ustack-scale not built (cmake --build build)" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 1; i <= runs; i++)); do
  "$bin/ustack-scale" --connections "$n" --idle-ms 2000 | tee -a "$out"
done
for f in setup_s bytes_per_endpoint idle_cpu_ms cleanup_s; do
  grep -o "$f=[0-9.]*" "$out" | cut -d= -f2 | sort -n |
    awk -v f="$f" '{ v[NR] = $1 } END { printf "%-20s min %s  median %s  max %s  (%d runs)\n", f, v[1], v[int((NR + 1) / 2)], v[NR], NR }'
done
grep -c "new_connection=ok" "$out" | awk -v r="$runs" '{ printf "new_connection ok   %d of %d runs\n", $1, r }'
