#!/usr/bin/env bash
# hostile: every kind of malformed packet the codec counts (stack/include/ustack/codec.hpp
# DropReason; RFC 791 §3.1, RFC 9293 §3.1 and §3.2 MUST-7).
#
#   malformed.sh APPS_DIR HOSTILE_DIR
#
# The crafter writes each malformed IPv4/TCP packet --each 3 times straight into ustack A's TUN
# device (AF_PACKET on tun0 in P-a: a router would drop the IP-level ones before they reached the
# host). Checks: each is counted under its own drop reason (drop_<reason> == 3, nothing else moves),
# library_error stays 0 (the codec validates before libtins sees a byte: not reachable from the
# wire), and the host then serves a Linux client (1 MiB each way, SHA-256 intact).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
h_init malformed "$1" "$2"
h_net
port=9340
each=3
h_server server 60 --port $port --mode recv-then-send --bytes 1M --timeout-ms 50000
e2e_bg bad 30 ip netns exec "$NS_A" "$H_BIN/ustack-crafter" malformed --tun tun0 --dst 10.0.1.2 \
  --src 10.0.0.2 --port $port --each $each
e2e_wait bad 30; e2e_check $E2E_RC "crafter wrote the malformed packets (exit 0)"
e2e_bg client 40 ip netns exec "$NS_B" python3 "$E2E_PY" --connect 10.0.1.2 --bind 10.0.0.2 --port $port \
  --mode send-then-recv --bytes 1M --seed 6 --timeout 30
e2e_wait client 40; e2e_check $E2E_RC "Linux client exchange afterwards (exit 0)"
e2e_wait server 20; e2e_check $E2E_RC "ustack server exit 0"
a=$(e2e_field client '^sha256 sent' 3); b=$(e2e_field server '^sha256 recv' 3)
[ -n "$a" ] && [ "$a" = "$b" ] && r=0 || r=1; e2e_check $r "Linux -> ustack 1 MiB intact"
a=$(e2e_field server '^sha256 sent' 3); b=$(e2e_field client '^sha256 recv' 3)
[ -n "$a" ] && [ "$a" = "$b" ] && r=0 || r=1; e2e_check $r "ustack -> Linux 1 MiB intact"
fig=""
for reason in truncated_ip bad_ip_version bad_ihl bad_ip_checksum bad_total_length ip_fragment not_tcp \
              truncated_tcp bad_data_offset bad_tcp_checksum bad_option_length; do
  s=$(h_val bad "sent_$reason"); c=$(h_val server "drop_$reason")
  [ "$s" = "$each" ] && [ "$c" = "$each" ] && r=0 || r=1
  e2e_check $r "$reason: sent $s, counted drop_$reason $c"
  fig="$fig $reason=$c/$s"
done
le=$(h_val server drop_library_error)
[ "$le" = 0 ] && r=0 || r=1; e2e_check $r "library_error 0 (unreachable: validated before libtins)"
h_figure "malformed: counted/sent$fig library_error=$le; host served 1 MiB each way afterwards"
e2e_finish
