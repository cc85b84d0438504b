#!/usr/bin/env bash
# hostile: a peer that completes the handshake and advertises a zero window forever (RFC 9293
# §3.8.6.1 persist / MUST-67; SO_LINGER; RFC 9293 §3.8.3 and RFC 5482 user timeout).
#
#   zerowin.sh APPS_DIR HOSTILE_DIR [linger|user-timeout]   (default: both)
#
# A crafted peer (10.0.9.7) connects to ustack with window 0 on every segment and answers every
# probe with window 0. ustack queues data until WSAEWOULDBLOCK, then
#   1. SO_LINGER {1,2} and a blocking close: the close returns after ~2 s and resets (Winsock);
#   2. (second connection, host with user_timeout 3 s) waits: the user timeout aborts it.
# Checks: persist probes keep coming (counted on the wire by the crafter) and never carry data the
# window does not allow to be kept; the linger close takes 2 s and ends in a RST; the user
# timeout fires within 3..6 s with FD_CLOSE WSAECONNABORTED (timed out).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
part=${3:-both}
h_init "zerowin-$part" "$1" "$2"
h_net
p1=- end1=- close_s=- zwp1=- p2=- ut=-

if [ "$part" != user-timeout ]; then
# 1. linger expiry
h_server server1 40 --port 9350 --mode zero-window --linger 2 --timeout-ms 30000
h_crafter peer1 30 zerowin --dst 10.0.1.2 --port 9350 --src "$CRAFTED_SRC" --seconds 20
e2e_wait server1 30; e2e_check $E2E_RC "1: ustack server exit 0"
e2e_wait peer1 30; e2e_check $E2E_RC "1: crafted peer exit 0"
close_s=$(grep -Eo 'WSPCloseSocket linger \{1,2\} \(([0-9.]+) s\)' "$E2E_DIR/server1.out" | grep -Eo '[0-9]+\.[0-9]+' || true)
awk -v t="${close_s:-0}" 'BEGIN { exit !(t >= 1.9 && t <= 3.5) }' && r=0 || r=1
e2e_check $r "1: the lingering close returned after ${close_s:-?} s (linger 2 s)"
p1=$(h_val peer1 probes); end1=$(h_val peer1 end); at1=$(h_val peer1 end_after_s)
[ "${p1:-0}" -ge 2 ] && r=0 || r=1; e2e_check $r "1: persist probes while the window stayed 0: $p1 at $(h_val peer1 probe_times) s"
[ "$end1" = rst ] && r=0 || r=1; e2e_check $r "1: linger expiry reset the connection (crafter saw: $end1 after $at1 s)"
zwp1=$(h_val server1 zero_window_probes)
fi

if [ "$part" != linger ]; then
# 2. user timeout
h_server server2 40 --port 9351 --mode zero-window --user-timeout-ms 3000 --timeout-ms 20000
h_crafter peer2 30 zerowin --dst 10.0.1.2 --port 9351 --src "$CRAFTED_SRC" --seconds 12
e2e_wait server2 30; e2e_check $E2E_RC "2: ustack server exit 0"
e2e_wait peer2 30; e2e_check $E2E_RC "2: crafted peer exit 0"
fd=$(grep -E '^FD_CLOSE' "$E2E_DIR/server2.out" || true)
ut=$(grep -Eo 'after [0-9.]+ s' <<<"$fd" | grep -Eo '[0-9.]+' || true)
awk -v t="${ut:-0}" 'BEGIN { exit !(t >= 2.5 && t <= 6) }' && grep -q 'WSAECONNABORTED' <<<"$fd" && r=0 || r=1
e2e_check $r "2: the user timeout (3 s) aborted the connection: '${fd:-no FD_CLOSE}'"
p2=$(h_val peer2 probes)
[ "${p2:-0}" -ge 2 ] && r=0 || r=1; e2e_check $r "2: persist probes until then: $p2 at $(h_val peer2 probe_times) s"
fi
h_figure "zerowin: linger {1,2} close took ${close_s:-?} s after $p1 probes (server zero_window_probes $zwp1), ended by $end1; user timeout 3 s fired after ${ut:-never} s with $p2 probes"
e2e_finish
