#!/usr/bin/env bash
# The ladder of RFC 1337's TIME-WAIT assassination, ignored (issue 21 item 4): a crafted peer
# (ustack-crafter twrst, on the veth) takes ustack's data and FIN, sends its own, and once ustack
# is in TIME-WAIT sends a RST at exactly ustack's RCV.NXT -- acceptable in every other
# synchronized state; RFC 1337 says TIME-WAIT ignores it -- then its FIN again, which a TIME-WAIT
# that is still there acknowledges (RFC 9293 §3.10.7.4). ustack (ustack-peer, --msl-ms 500) writes
# its pcap and state log; ustack-ladder draws them; rfc1337_check.py has headless Chromium render
# the page and checks it.
#
#   rfc1337.sh APPS_DIR HOSTILE_DIR [OUT_DIR]   (root; skipped with 77 without namespaces or Chromium)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../hostile/lib.sh"
command -v chromium >/dev/null || { echo "rfc1337: SKIP: no chromium"; exit 77; }
h_init ladder-rfc1337 "$1" "$2"
out=${3:-}
h_net
port=9370

e2e_bg server 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --listen --port $port \
  --mode send --bytes 2000 --msl-ms 500 --hold-ms 2500 --timeout-ms 10000 \
  --pcap "$E2E_DIR/a.pcap" --state-log "$E2E_DIR/a.log" --stats
e2e_wait_line server '^listening' 10
h_crafter peer 30 twrst --dst 10.0.1.2 --src "$CRAFTED_SRC" --port $port
e2e_wait peer 20; e2e_check $E2E_RC "the crafted peer ran (exit 0)"
e2e_wait server 20; e2e_check $E2E_RC "ustack-peer ran to its end (exit 0)"
e2e_expect peer '^rst_sent 1' "a RST reached ustack in TIME-WAIT"
e2e_expect peer '^fin_acked_after_rst yes' "after the RST ustack still acknowledged a retransmitted FIN: TIME-WAIT stood"
e2e_expect peer '^rst_from_target no' "ustack answered the RST with nothing (no RST back)"
rsti=$(awk '$1 == "rst_ignored" {print $2}' "$E2E_DIR/server.out" | head -1)
[ "${rsti:-0}" -ge 1 ] && r=0 || r=1
e2e_check $r "the host counted the RST as ignored (rst_ignored ${rsti:-none})"

python3 "$E2E_ROOT/apps/ladder/ustack-ladder" 10.0.1.2="$E2E_DIR/a.pcap" --log "$E2E_DIR/a.log" \
  --title "RST in TIME-WAIT ignored (RFC 1337)" -o "$E2E_DIR/rfc1337.html" >"$E2E_DIR/ladder.out" 2>&1 && r=0 || r=1
e2e_check $r "ustack-ladder drew the capture and the state log"
python3 "$here/rfc1337_check.py" "$E2E_DIR/rfc1337.html" ${out:+"$out"} >"$E2E_DIR/check.out" 2>&1 && r=0 || r=1
sed 's/^/    /' "$E2E_DIR/check.out"
e2e_check $r "Chromium: the RST arrow into TIME-WAIT, TIME-WAIT ended by its timer, not by the RST"
e2e_finish
