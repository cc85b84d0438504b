#!/usr/bin/env bash
# hostile: blind injection into an established connection (RFC 5961 §3 RST, §4 SYN, §5 data/ACK;
# RFC 9293 §3.10.7.4).
#
#   inject.sh APPS_DIR HOSTILE_DIR
#
# ustack (10.0.1.2:9310) sends 24 MiB to a Linux client (10.0.0.2) that reads at 8 MiB/s. The
# crafter (P-b) watches the connection and, in 6 rounds while it runs, injects 20 each of: RST
# out of window, RST in window (not RCV.NXT), RST+ACK in window, SYN in and out of window, data
# out of window, in-window data ACKing unsent data, in-window data with a far too old ACK -- all
# spoofed from the Linux end, with its current timestamps (they pass PAWS, so the RFC 5961 checks
# are what stops them). Checks: the transfer completes with the SHA-256 intact, ustack was never
# reset and accepted no injected byte, challenge ACKs were sent (and rate-limited, RFC 5961 §7),
# and the bad ACKs and out-of-window segments were counted as dropped.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
h_init inject "$1" "$2"
h_net
port=9310

h_server server 90 --port $port --mode send --bytes 24M --timeout-ms 80000
drops0=$(h_tun_drops)
h_crafter inj 60 inject --dst 10.0.1.2 --port $port --peer 10.0.0.2 --rounds 6
e2e_bg client 80 ip netns exec "$NS_B" python3 "$here/slow_peer.py" --connect 10.0.1.2 --bind 10.0.0.2 \
  --port $port --rate 8 --timeout 70
e2e_wait client 80; e2e_check $E2E_RC "Linux client read the whole transfer (exit 0)"
e2e_wait inj 30; e2e_check $E2E_RC "crafter injected (exit 0)"
e2e_wait server 30; e2e_check $E2E_RC "ustack server exit 0"
lost=$(( $(h_tun_drops) - drops0 ))  # segments that never reached the host (a slow build)

ss=$(e2e_field server '^sha256 sent' 3); cr=$(e2e_field client '^sha256 recv' 3)
[ -n "$ss" ] && [ "$ss" = "$cr" ] && r=0 || r=1; e2e_check $r "24 MiB ustack -> Linux SHA-256 matches (${ss:0:16}…)"
inb=$(e2e_field server '^sha256 recv' 4)
[ "$inb" = 0 ] && r=0 || r=1; e2e_check $r "ustack accepted no injected byte (received $inb bytes; the Linux end sent none)"
rst_rx=$(h_val server rst_received)
[ "$rst_rx" = 0 ] && r=0 || r=1; e2e_check $r "no injected RST was accepted (rst_received $rst_rx)"
ca=$(h_val server challenge_acks); cas=$(h_val server challenge_acks_suppressed)
badack=$(h_val server drop_bad_ack); unacc=$(h_val server drop_unacceptable_segment)
rsti=$(h_val server rst_ignored)
rounds=$(grep -c . "$E2E_DIR/inj.out" || true)
n_rst_out=$(h_val inj sent_rst_out_of_window); n_ack=$(h_val inj sent_data_in_window_ack_unsent)
n_old=$(h_val inj sent_data_in_window_ack_too_old); n_syn=$(h_val inj sent_syn_in_window)
[ "${ca:-0}" -ge 1 ] && r=0 || r=1; e2e_check $r "challenge ACKs sent: $ca ($cas suppressed by the RFC 5961 §7 limit)"
# Per injected segment that reached the host (the kernel's tun0 drops taken off; at most half may
# be lost, or too little was tested).
[ "${badack:-0}" -ge $(( ${n_ack:-1} + ${n_old:-1} - lost )) ] && [ $(( 2 * lost )) -le $(( ${n_ack:-1} + ${n_old:-1} )) ] && r=0 || r=1
e2e_check $r "in-window data with unacceptable ACKs dropped: drop_bad_ack $badack >= $((n_ack + n_old)) injected - $lost lost on the way in"
[ "${rsti:-0}" -ge $(( ${n_rst_out:-1} - lost )) ] && r=0 || r=1; e2e_check $r "out-of-window RSTs ignored: rst_ignored $rsti >= $n_rst_out - $lost lost on the way in"
[ "${unacc:-0}" -ge 1 ] && r=0 || r=1; e2e_check $r "out-of-window segments dropped: drop_unacceptable_segment $unacc"
h_figure "inject: $(grep '^sent_' "$E2E_DIR/inj.out" | tr '\n' ' ')-> challenge_acks $ca (suppressed $cas), drop_bad_ack $badack, drop_unacceptable $unacc, rst_ignored $rsti, rst_received $rst_rx; 24 MiB SHA-256 intact"
e2e_finish
