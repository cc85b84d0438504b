#!/usr/bin/env bash
# hostile: a peer that never acknowledges our FIN (RFC 9293 §3.8.3 R2 retransmission limit), and
# one that acknowledges it but never sends its own (orphan FIN-WAIT-2 timeout, README "Limits").
#
#   finhole.sh APPS_DIR HOSTILE_DIR
#
# A crafted peer (10.0.9.7) connects; ustack (mode send-close) sends 10000 bytes and closes at
# once, so the connection is orphaned with its FIN owed.
#   1. The peer ACKs the data but never the FIN (also not its retransmissions). The host runs with
#      max_retransmits 4 and rto_max 2 s: the FIN is retransmitted, then the connection is
#      aborted (timed out, no RST: the path is presumed dead) and its slot freed.
#   2. The peer ACKs the FIN and goes silent (FIN-WAIT-2 forever). The host's orphan FIN-WAIT-2
#      timeout is 3 s: the connection is aborted with a RST and its slot freed.
# Checks: the slot is freed (stack_connections_current 0, waited on by the server) within the
# bound each case implies, with the right counters (retransmission_timeouts / orphan_timeouts).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
h_init finhole "$1" "$2"
h_net

# 1. FIN never acknowledged
h_server server1 60 --port 9360 --mode send-close --bytes 10000 --max-retransmits 4 --rto-max-ms 2000 --timeout-ms 40000
h_crafter peer1 50 finhole --dst 10.0.1.2 --port 9360 --src "$CRAFTED_SRC" --seconds 12
e2e_wait server1 50; e2e_check $E2E_RC "1: ustack server exit 0 (slot freed)"
e2e_wait peer1 40; e2e_check $E2E_RC "1: crafted peer exit 0"
t1=$(grep -Eo 'slot freed after [0-9.]+' "$E2E_DIR/server1.out" | grep -Eo '[0-9.]+$' || true)
fins=$(h_val peer1 fins_seen); to=$(h_val server1 retransmission_timeouts)
awk -v t="${t1:-0}" 'BEGIN { exit !(t > 0 && t <= 15) }' && r=0 || r=1
e2e_check $r "1: FIN never ACKed: connection aborted and slot freed after ${t1:-never} s"
[ "${fins:-0}" -ge 5 ] && r=0 || r=1; e2e_check $r "1: the FIN was sent and retransmitted: $fins copies seen on the wire"
[ "$(h_val server1 stack_connections_current)" = 0 ] && [ "$(h_val server1 stack_orphans)" = 0 ] && r=0 || r=1
e2e_check $r "1: no connection and no orphan left (stack_connections_current 0, stack_orphans 0)"

# 2. FIN acknowledged, the peer never closes
h_server server2 60 --port 9361 --mode send-close --bytes 10000 --orphan-timeout-ms 3000 --timeout-ms 40000
h_crafter peer2 50 finhole --dst 10.0.1.2 --port 9361 --src "$CRAFTED_SRC" --seconds 25 --ack-fin
e2e_wait server2 50; e2e_check $E2E_RC "2: ustack server exit 0 (slot freed)"
e2e_wait peer2 40; e2e_check $E2E_RC "2: crafted peer exit 0 ($E2E_RC)"
t2=$(grep -Eo 'slot freed after [0-9.]+' "$E2E_DIR/server2.out" | grep -Eo '[0-9.]+$' || true)
ot=$(h_val server2 stack_orphan_timeouts); end2=$(h_val peer2 end)
awk -v t="${t2:-0}" 'BEGIN { exit !(t >= 2.5 && t <= 6) }' && r=0 || r=1
e2e_check $r "2: orphan in FIN-WAIT-2 aborted after ${t2:-never} s (orphan timeout 3 s)"
[ "$ot" = 1 ] && r=0 || r=1; e2e_check $r "2: counted: stack_orphan_timeouts $ot"
[ "$end2" = rst ] && r=0 || r=1; e2e_check $r "2: the peer was told with a RST (crafter saw: $end2)"
h_figure "finhole: FIN never ACKed -> aborted after ${t1:-?} s ($fins FIN copies, retransmission_timeouts $to, max_retransmits 4, rto_max 2 s); FIN-WAIT-2 orphan -> RST after ${t2:-?} s (orphan timeout 3 s, orphan_timeouts $ot); slots freed"
e2e_finish
