#!/usr/bin/env bash
# hostile: ACKs of data never sent (RFC 5961 §5.2; RFC 9293 §3.10.7.4 fifth: "If the ACK
# acknowledges something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the segment").
#
#   ackunsent.sh APPS_DIR HOSTILE_DIR
#
# A crafted peer (10.0.9.7) connects to ustack (10.0.1.2:9330, mode recv-then-send), sends 1000
# bytes, then 10 each of: an ACK 100000 beyond what ustack sent, one 2^30 beyond, and one 2^30+
# behind (older than SND.UNA - MAX.SND.WND). Checks: they are answered with pure ACKs
# <SEQ=SND.NXT><ACK=RCV.NXT> (counted by the crafter on the wire), at most challenge_ack_limit
# (10) per second in all (RFC 5961 §7: the rest counted as suppressed), all counted in drop_bad_ack,
# nothing resets, and the connection then works: ustack receives the 1000 bytes intact and sends
# 256 KiB that the crafted peer receives intact.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
h_init ackunsent "$1" "$2"
h_net
port=9330
h_server server 60 --port $port --mode recv-then-send --bytes 256K --timeout-ms 50000
h_crafter peer 50 ackunsent --dst 10.0.1.2 --port $port --src "$CRAFTED_SRC"
e2e_wait peer 50; e2e_check $E2E_RC "crafted peer ran to the end (exit 0)"
e2e_wait server 20; e2e_check $E2E_RC "ustack server exit 0"
answered=0
for k in ack_unsent ack_unsent_far ack_too_old; do
  s=$(h_val peer "sent_$k"); a=$(h_val peer "answered_$k")
  [ -n "$s" ] && [ "${a:-0}" -ge 1 ] && [ "${a:-0}" -le "$s" ] && r=0 || r=1
  e2e_check $r "$k: $a of $s answered with a pure ACK (rate-limited)"
  answered=$((answered + ${a:-0}))
done
sup=$(h_val server challenge_acks_suppressed)
[ $((answered + ${sup:-0})) -ge 30 ] && r=0 || r=1
e2e_check $r "every bad ACK answered ($answered) or counted as suppressed (${sup:-?}) - RFC 5961 §7"
bad=$(h_val server drop_bad_ack); rr=$(h_val server rst_received); rs=$(h_val server rst_sent)
[ "${bad:-0}" -ge 30 ] && r=0 || r=1; e2e_check $r "drop_bad_ack $bad >= 30"
[ "$rr" = 0 ] && [ "$rs" = 0 ] && r=0 || r=1; e2e_check $r "no RST either way (rst_received $rr, rst_sent $rs)"
a=$(e2e_field peer '^sha256 sent' 3); b=$(e2e_field server '^sha256 recv' 3)
[ -n "$a" ] && [ "$a" = "$b" ] && r=0 || r=1; e2e_check $r "peer -> ustack 1000 bytes intact"
a=$(e2e_field server '^sha256 sent' 3); b=$(e2e_field peer '^sha256 recv' 3)
[ -n "$a" ] && [ "$a" = "$b" ] && r=0 || r=1; e2e_check $r "ustack -> peer 256 KiB intact afterwards"
h_figure "ackunsent: suppressed ${sup:-?}; answered $(h_val peer answered_ack_unsent)/10 + $(h_val peer answered_ack_unsent_far)/10 + $(h_val peer answered_ack_too_old)/10 bad ACKs with an ACK; drop_bad_ack $bad; connection intact"
e2e_finish
