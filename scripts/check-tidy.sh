#!/usr/bin/env bash
# check-tidy.sh BUILD_DIR -- clang-tidy (the tree's .clang-tidy) on every source file of stack/
# and tun/, with BUILD_DIR's compile_commands.json. Prints the findings and exits 1 if there is
# one; 77 (skipped) without clang-tidy or a compilation database.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: check-tidy.sh BUILD_DIR}
if ! command -v run-clang-tidy >/dev/null || ! command -v clang-tidy >/dev/null; then
    echo "check-tidy: clang-tidy is not installed (scripts/install-deps.sh installs it)"; exit 77
fi
if [ ! -f "$build/compile_commands.json" ]; then
    echo "check-tidy: no $build/compile_commands.json"; exit 77
fi
cd "$root"
mapfile -t files < <(find stack/src tun/src -name '*.cpp' | sort)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# run-clang-tidy takes regular expressions: anchor each file's absolute path.
patterns=()
for f in "${files[@]}"; do patterns+=("^$root/$f\$"); done
run-clang-tidy -quiet -p "$build" -j "${JOBS:-$(nproc)}" "${patterns[@]}" >"$out" 2>&1 || true
if grep -qE '(warning|error):' "$out"; then
    grep -E '(warning|error):' "$out" | sort -u
    echo "check-tidy: findings above (${#files[@]} files)"
    exit 1
fi
echo "check-tidy: clean (${#files[@]} files of stack/ and tun/)"
