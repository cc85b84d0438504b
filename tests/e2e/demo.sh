#!/usr/bin/env bash
# e2e: scripts/demo.sh with the apps of this build — 4 transaction-total exchanges (1 alone,
# 3 at once) between two ustack hosts; demo.sh itself asserts with tshark and our Lua dissector
# that both FINs of every exchange carry the option (ExID 0xD15C, 8 bytes) with the right totals
# and exits 0 only if all matched. Its namespaces are its own (unique prefix, trap cleanup).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
apps=$(cd "${1:?apps dir}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "[demo] SKIP: needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "[demo] SKIP: no /dev/net/tun"; exit 77; }
for t in tshark tcpdump; do command -v $t >/dev/null 2>&1 || { echo "[demo] SKIP: $t not found"; exit 77; }; done
out=$(mktemp -d /tmp/ustack-e2e-demo.XXXXXX)
t0=$(date +%s.%N)
rc=0
timeout -k 5 120 bash "$root/scripts/demo.sh" --apps "$apps" --out "$out" --clients 4 >"$out/demo.out" 2>&1 || rc=$?
cat "$out/demo.out"
fins=$(grep -c '^ok   port .* FIN carries' "$out/demo.out" || true)
dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
if [ "$rc" = 0 ] && [ "$fins" = 8 ] && grep -q '^== demo: all 4 exchanges verified' "$out/demo.out"; then
  echo "[demo] PASS: 8 of 8 FINs carried the right totals (${dt}s); captures in $out"
  exit 0
fi
echo "[demo] FAIL: demo.sh exit $rc, $fins of 8 FIN checks passed (${dt}s); logs in $out"
exit 1
