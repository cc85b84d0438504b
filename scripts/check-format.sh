#!/usr/bin/env bash
# check-format.sh [BASE] -- every C/C++ file changed since BASE (default: the commit that made
# this check part of CI, .ci/format-base) and still in the tree must be formatted as the
# tree's .clang-format says; files nobody touched since keep their old layout until they are
# changed. Uncommitted changes count too. Exits 1 listing the files that are not; 77 without
# clang-format or git history.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! command -v clang-format >/dev/null; then
    echo "check-format: clang-format is not installed (scripts/install-deps.sh installs it)"; exit 77
fi
base=${1:-$(cat .ci/format-base)}
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null 2>&1; then
    echo "check-format: $base is not in this clone's history"; exit 77
fi
mapfile -t files < <({ git diff --name-only "$base" -- '*.cpp' '*.hpp' '*.h';
                       git ls-files --others --exclude-standard -- '*.cpp' '*.hpp' '*.h'; } |
                     sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done)
bad=()
for f in "${files[@]}"; do
    if ! clang-format --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
    printf 'check-format: not formatted (clang-format -i FILE): %s\n' "${bad[@]}"
    exit 1
fi
echo "check-format: ${#files[@]} changed files formatted"
