#!/usr/bin/env bash
# e2e: disconnect data toward a peer that does not negotiate it (Linux) -> WSAENOPROTOOPT,
# nothing sent; the app falls back to WSPShutdown(SD_SEND) and the connection closes gracefully.
#
#   1. ustack A (--disconnect-data) connects to a Linux server on 10.0.0.2.
#   2. a Linux client connects to ustack A (--disconnect-data) listening on 10.0.1.2.
# Each time: SO_DISCDATALEN is 0, WSPSendDisconnect(8 bytes) fails with WSAENOPROTOOPT, the data
# sent before arrives intact, Linux sees a clean EOF, ustack reads to end of stream, and the veth
# capture shows FINs from both sides, no RST and no kind-253 option.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init discdata-linux "$1"
e2e_net
pcap=$E2E_DIR/veth.pcap
e2e_capture_start cap "$NS_B" "$VETH_B" "$pcap"

e2e_bg linux1 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --listen 10.0.0.2 --port 9300 --mode recv
e2e_wait_line linux1 '^listening' 10
e2e_bg ustack1 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --disconnect-data \
  --connect 10.0.0.2 --port 9300 --mode discdata --bytes 64K
e2e_wait ustack1 30; e2e_check $E2E_RC "1: ustack-peer (client) exit 0"
e2e_wait linux1 10; e2e_check $E2E_RC "1: Linux server exit 0"

e2e_bg ustack2 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --disconnect-data \
  --listen --port 9301 --mode discdata --bytes 64K
e2e_wait_line ustack2 '^listening' 10
e2e_bg linux2 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --connect 10.0.1.2 --bind 10.0.0.2 --port 9301 --mode recv
e2e_wait ustack2 30; e2e_check $E2E_RC "2: ustack-peer (server) exit 0"
e2e_wait linux2 10; e2e_check $E2E_RC "2: Linux client exit 0"
e2e_capture_stop cap

for i in 1 2; do
  e2e_expect ustack$i '^OK SO_DISCDATALEN 0$' "$i: SO_DISCDATALEN is 0 (not negotiated)"
  e2e_expect ustack$i '^ERR WSAENOPROTOOPT WSPSendDisconnect' "$i: WSPSendDisconnect with data -> WSAENOPROTOOPT"
  e2e_expect ustack$i '^OK WSPShutdown\(SD_SEND\)' "$i: fallback WSPShutdown(SD_SEND) succeeded"
  e2e_expect linux$i '^OK eof recv' "$i: Linux saw a clean EOF"
  us=$(e2e_field ustack$i '^sha256 sent' 3); lr=$(e2e_field linux$i '^sha256 recv' 3)
  [ -n "$us" ] && [ "$us" = "$lr" ] && r=0 || r=1; e2e_check $r "$i: data before the FIN intact (SHA-256)"
  e2e_expect ustack$i '^OK eof after disconnect' "$i: ustack read to end of stream (Linux's FIN)"
  e2e_expect ustack$i '^OK WSPCloseSocket' "$i: WSPCloseSocket OK"
done
if command -v tcpdump >/dev/null 2>&1; then
  dump=$(tcpdump -nr "$pcap" -v tcp 2>/dev/null)
  fins_u=$(grep -c '10\.0\.1\.2\.[0-9]* > 10\.0\.0\.2\.[0-9]*: Flags \[F' <<<"$dump" || true)
  fins_l=$(grep -c '10\.0\.0\.2\.[0-9]* > 10\.0\.1\.2\.[0-9]*: Flags \[F' <<<"$dump" || true)
  rsts=$(grep -c 'Flags \[R' <<<"$dump" || true)
  opt253=$(grep 'unknown-253' <<<"$dump" | grep -vc 'Flags \[S\]' || true)
  synopt=$(grep 'unknown-253' <<<"$dump" | grep -c '10\.0\.1\.2\.[0-9]* > .*Flags \[S\]' || true)
  [ "$fins_u" -ge 2 ] && [ "$fins_l" -ge 2 ] && r=0 || r=1; e2e_check $r "capture: FINs from ustack ($fins_u) and Linux ($fins_l)"
  [ "$rsts" -eq 0 ] && r=0 || r=1; e2e_check $r "capture: no RST ($rsts)"
  [ "$synopt" -ge 1 ] && r=0 || r=1; e2e_check $r "capture: ustack offered the option on its SYN ($synopt), Linux did not answer it"
  [ "$opt253" -eq 0 ] && r=0 || r=1; e2e_check $r "capture: no kind-253 option on any other segment ($opt253)"
fi
e2e_finish
