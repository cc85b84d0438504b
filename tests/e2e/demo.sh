#!/usr/bin/env bash
# e2e: scripts/demo.sh with the apps of this build — 4 transaction-total exchanges (1 alone,
# 3 at once) between two ustack hosts; demo.sh itself asserts with tshark and our Lua dissector
# that both FINs of every exchange carry the option (ExID 0xD15C, 8 bytes) with the right totals
# and exits 0 only if all matched. Its namespaces are its own (unique prefix, trap cleanup).
#
# demo.sh APPS --message: the same over message-oriented sockets (scripts/demo.sh --message);
# besides the 8 FINs, the server must have seen WSAEDISCON from all 4 clients, each client's SYN
# and the server's SYN-ACK must carry ExID 0xD15D beside 0xD15C (8 checks), and each client's
# data must be its transactions framed as 8-byte messages (4 checks).
#
# demo.sh APPS --connect-data: with connect data (scripts/demo.sh --connect-data); besides the 8
# FINs, each client's SYN must carry its id as caller data and the server's SYN-ACK the session
# number the client printed as callee data (8 checks, DESIGN.md §3c).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
apps=$(cd "${1:?apps dir}" && pwd)
message=0 cdata=0 name=demo
if [ "${2:-}" = --message ]; then message=1 name=demo-message; fi
if [ "${2:-}" = --connect-data ]; then cdata=1 name=demo-connect-data; fi
[ "$(id -u)" -eq 0 ] || { echo "[$name] SKIP: needs root"; exit 77; }
[ -c /dev/net/tun ] || { echo "[$name] SKIP: no /dev/net/tun"; exit 77; }
for t in tshark tcpdump; do command -v $t >/dev/null 2>&1 || { echo "[$name] SKIP: $t not found"; exit 77; }; done
out=$(mktemp -d "/tmp/ustack-e2e-$name.XXXXXX")
t0=$(date +%s.%N)
rc=0
opts=()
[ "$message" = 1 ] && opts=(--message)
[ "$cdata" = 1 ] && opts=(--connect-data)
timeout -k 5 120 bash "$root/scripts/demo.sh" --apps "$apps" --out "$out" --clients 4 ${opts[@]+"${opts[@]}"} \
  >"$out/demo.out" 2>&1 || rc=$?
cat "$out/demo.out"
count() { grep -Ec -- "$1" "$out/demo.out" || true; }
fins=$(count '^ok   port .* FIN carries')
dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
ok=0
[ "$rc" = 0 ] && [ "$fins" = 8 ] && grep -q '^== demo: all 4 exchanges verified' "$out/demo.out" || ok=1
summary="$fins of 8 FINs carried the right totals"
if [ "$message" = 1 ]; then
  discon=$(count '^ok   server: step 2 was WSPRecv failing with WSAEDISCON for 4 of 4 clients')
  syns=$(count '^ok   port .* (SYN carries ExIDs|SYN-ACK echoes) 0xd15d')
  msgs=$(count '^ok   port .* the client.s data is 5 messages of 8 bytes')
  [ "$discon" = 1 ] && [ "$syns" = 8 ] && [ "$msgs" = 4 ] || ok=1
  summary+=", the server saw WSAEDISCON from $([ "$discon" = 1 ] && echo all 4 || echo not all) clients"
  summary+=", $syns of 8 SYN/SYN-ACKs carried 0xD15D, $msgs of 4 clients' data framed as messages"
fi
if [ "$cdata" = 1 ]; then
  syns=$(count '^ok   port .* (client SYN carries its id|server SYN-ACK carries session)')
  [ "$syns" = 8 ] || ok=1
  summary+=", $syns of 8 SYN/SYN-ACKs carried the client's id / its session as connect data"
fi
if [ "$ok" = 0 ]; then
  echo "[$name] PASS: $summary (${dt}s); captures in $out"
  exit 0
fi
echo "[$name] FAIL: demo.sh exit $rc, $summary (${dt}s); logs in $out"
exit 1
