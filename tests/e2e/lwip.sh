#!/usr/bin/env bash
# e2e: ustack <-> lwIP, the second independent TCP (issue 22 item 6). lwIP (Debian liblwip,
# tests/lwip/lwip_peer.cpp) is its own host in P-b on tun0 as 10.0.2.2, where ustack B would be;
# ustack A (ustack-peer) is 10.0.1.2 in P-a. Every segment crosses both kernels' forwarding.
#
#   lwip.sh APPS_DIR LWIP_PEER [--bytes N] [--loss PCT] [--only-bulk] [--limit S]
#
#   1. both roles, N bytes (default 16M) each way at once, SHA-256 of every byte each way:
#      1a ustack client -> lwIP server, 1b lwIP client -> ustack server
#   2. half-close each way: 2a ustack WSPShutdown(SD_SEND), then lwIP answers after its EOF;
#      2b lwIP shutdown(SHUT_WR), then ustack answers after WSPRecv returned 0
#   3. resets: 3a ustack (server) SO_LINGER {1,0} + WSPCloseSocket -> lwIP recv ECONNRESET;
#      3b lwIP (server) SO_LINGER {1,0} + close with data queued -> ustack FD_CLOSE and WSPRecv
#      WSAECONNRESET (lwIP sends a FIN on a linger-0 close when nothing is queued)
#   4. disconnect data toward lwIP (ustack --disconnect-data, both roles): lwIP does not echo
#      the option, so SO_DISCDATALEN is 0, WSPSendDisconnect -> WSAENOPROTOOPT, the fallback
#      WSPShutdown closes cleanly: FINs from both, no RST, kind 253 only on ustack's SYN.
# --loss PCT drops PCT % of the packets P-b forwards (both directions; nftables, netns-up.sh
# --loss); with --only-bulk only part 1 runs; --limit bounds each transfer (seconds; default 40,
# 100 with --loss). Under loss lwIP is the slow sender: no SACK, no recovery from a second loss
# in a window but its retransmission timer (500 ms ticks, about 1.5 s here), so 16 MiB from lwIP
# at 2 % takes minutes; CI runs 2 MiB.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
apps=$1 lwip=$2
shift 2
bytes=16M loss='' only_bulk=0 limit=''
while [ $# -gt 0 ]; do
  case $1 in
    --limit) limit=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --loss) loss=$2; shift 2 ;;
    --only-bulk) only_bulk=1; shift ;;
    *) echo "lwip.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
e2e_init "lwip${loss:+-loss$loss}" "$apps"
[ -x "$lwip" ] || { e2e_log "FAIL: $lwip not built"; exit 1; }
if [ -n "$loss" ]; then
  command -v nft >/dev/null 2>&1 || { e2e_log "SKIP: nft not found"; exit 77; }
  e2e_net --loss "$loss"
else
  e2e_net
fi
limit=${limit:-${E2E_TRANSFER_LIMIT:-$([ -n "$loss" ] && echo 100 || echo 40)}}
# Under loss each ustack host also writes its own pcap into the log directory (evidence if a
# transfer stalls).
pcap1=() pcap2=()
if [ -n "$loss" ]; then pcap1=(--pcap "$E2E_DIR/ustack1.pcap"); pcap2=(--pcap "$E2E_DIR/ustack2.pcap"); fi
# lwIP in P-b with ustack B's host options (lwip-peer takes the same --tun/--addr/--gateway).
LWIP=(ip netns exec "$NS_B" "$lwip" "${HOST_B[@]}")
USTACK=(ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}")
# Under loss the ustack host stays up 5 s after its side is done (--hold-ms), as a kernel's
# TIME-WAIT outlives the process: when its ACK of lwIP's FIN is lost, lwIP retransmits the FIN
# and waits for that ACK before it exits, and a host already gone would never send it.
hold=()
if [ -n "$loss" ]; then hold=(--hold-ms 5000); fi
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
took() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

# ---- 1. bulk, both roles ----
check_pair() { # ustack-name lwip-name role
  local u=$1 l=$2 role=$3 r
  e2e_log "$role: ustack sent $(e2e_field "$u" '^sha256 sent' 4) B at $(e2e_field "$u" '^rate sent' 3) MiB/s, received $(e2e_field "$u" '^sha256 recv' 4) B at $(e2e_field "$u" '^rate recv' 3) MiB/s; lwIP sent at $(e2e_field "$l" '^rate sent' 3) MiB/s, received at $(e2e_field "$l" '^rate recv' 3) MiB/s"
  same "$(e2e_field "$u" '^sha256 sent' 3)" "$(e2e_field "$l" '^sha256 recv' 3)" && r=0 || r=1
  e2e_check $r "$role: ustack -> lwIP SHA-256 matches ($(e2e_field "$u" '^sha256 sent' 3 | cut -c1-16)…)"
  same "$(e2e_field "$l" '^sha256 sent' 3)" "$(e2e_field "$u" '^sha256 recv' 3)" && r=0 || r=1
  e2e_check $r "$role: lwIP -> ustack SHA-256 matches ($(e2e_field "$l" '^sha256 sent' 3 | cut -c1-16)…)"
  [ "$(e2e_field "$u" '^sha256 recv' 4)" = "$(e2e_field "$l" '^sha256 sent' 4)" ] &&
    [ "$(e2e_field "$l" '^sha256 recv' 4)" = "$(e2e_field "$u" '^sha256 sent' 4)" ] && r=0 || r=1
  e2e_check $r "$role: byte counts match"
}
e2e_log "bulk: $bytes each way${loss:+, $loss% loss where P-b forwards}"

t0=$(date +%s.%N)
e2e_bg lwip1 "$limit" "${LWIP[@]}" --listen --port 9400 --mode duplex --bytes "$bytes" --seed 7 \
  --timeout "$limit"
e2e_wait_line lwip1 '^listening' 10
e2e_expect lwip1 '^OK lwIP ' "lwIP host up: $(grep -m1 '^OK lwIP' "$E2E_DIR/lwip1.out" | cut -d' ' -f3-)"
e2e_bg ustack1 "$limit" "${USTACK[@]}" --stats "${pcap1[@]}" "${hold[@]}" --connect 10.0.2.2 --port 9400 --mode duplex \
  --bytes "$bytes" --seed 3 --timeout-ms $((limit * 1000))
e2e_wait ustack1 "$limit"; e2e_check $E2E_RC "1a (ustack client): ustack-peer exit 0"
e2e_wait lwip1 10; e2e_check $E2E_RC "1a: lwIP server exit 0"
e2e_log "1a took $(took "$t0") s"
check_pair ustack1 lwip1 "1a (ustack client)"

t0=$(date +%s.%N)
e2e_bg ustack2 "$limit" "${USTACK[@]}" --stats "${pcap2[@]}" "${hold[@]}" --listen --port 9401 --mode duplex --bytes "$bytes" \
  --seed 5 --timeout-ms $((limit * 1000))
e2e_wait_line ustack2 '^listening' 10
e2e_bg lwip2 "$limit" "${LWIP[@]}" --connect 10.0.1.2 --port 9401 --mode duplex --bytes "$bytes" \
  --seed 9 --timeout "$limit"
e2e_wait ustack2 "$limit"; e2e_check $E2E_RC "1b (ustack server): ustack-peer exit 0"
e2e_wait lwip2 10; e2e_check $E2E_RC "1b: lwIP client exit 0"
e2e_log "1b took $(took "$t0") s"
check_pair ustack2 lwip2 "1b (ustack server)"

if [ -n "$loss" ]; then
  e2e_log "loss rule: $(ip netns exec "$NS_B" nft list table inet ustack_loss 2>/dev/null | grep -o 'counter packets [0-9]* bytes [0-9]*' | tr '\n' ' ')"
  for u in ustack1 ustack2; do
    e2e_log "$u: $(grep -E '^(retransmissions|fast_retransmits|retransmission_timeouts) ' "$E2E_DIR/$u.out" | tr '\n' ' ')"
  done
fi
if [ "$only_bulk" = 1 ]; then e2e_finish; fi

# ---- 2. half-close each way ----
e2e_bg lwip3 30 "${LWIP[@]}" --listen --port 9410 --mode recv-then-send --bytes 1M --seed 11
e2e_wait_line lwip3 '^listening' 10
e2e_bg ustack3 30 "${USTACK[@]}" --connect 10.0.2.2 --port 9410 --mode send-then-recv --bytes 1M --seed 12
e2e_wait ustack3 30; e2e_check $E2E_RC "2a: ustack-peer (send, SD_SEND, then receive) exit 0"
e2e_wait lwip3 10; e2e_check $E2E_RC "2a: lwIP (receive to EOF, then send) exit 0"
e2e_expect ustack3 '^OK WSPShutdown\(SD_SEND\)' "2a: WSPShutdown(SD_SEND) succeeded"
e2e_expect lwip3 '^OK eof peer half-closed' "2a: lwIP saw EOF (ustack's FIN) while its own side stayed open"
same "$(e2e_field ustack3 '^sha256 sent' 3)" "$(e2e_field lwip3 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "2a: ustack -> lwIP data intact (SHA-256)"
same "$(e2e_field lwip3 '^sha256 sent' 3)" "$(e2e_field ustack3 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "2a: lwIP -> ustack data after ustack's FIN intact (SHA-256, $(e2e_field ustack3 '^sha256 recv' 4) bytes)"
e2e_expect ustack3 '^OK eof half-closed' "2a: ustack read to end of stream after its half-close"

e2e_bg ustack4 30 "${USTACK[@]}" --listen --port 9411 --mode recv-then-send --bytes 1M --seed 13
e2e_wait_line ustack4 '^listening' 10
e2e_bg lwip4 30 "${LWIP[@]}" --connect 10.0.1.2 --port 9411 --mode send-then-recv --bytes 1M --seed 14
e2e_wait ustack4 30; e2e_check $E2E_RC "2b: ustack-peer (receive to end, then send) exit 0"
e2e_wait lwip4 10; e2e_check $E2E_RC "2b: lwIP (send, SHUT_WR, then receive) exit 0"
e2e_expect lwip4 '^OK shutdown\(SHUT_WR\)' "2b: lwIP shutdown(SHUT_WR) succeeded"
e2e_expect ustack4 '^OK eof peer half-closed' "2b: WSPRecv returned 0 after lwIP's FIN"
same "$(e2e_field lwip4 '^sha256 sent' 3)" "$(e2e_field ustack4 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "2b: lwIP -> ustack data intact (SHA-256)"
same "$(e2e_field ustack4 '^sha256 sent' 3)" "$(e2e_field lwip4 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "2b: ustack -> lwIP data after lwIP's FIN intact (SHA-256, $(e2e_field lwip4 '^sha256 recv' 4) bytes)"
e2e_expect lwip4 '^OK eof half-closed' "2b: lwIP read to end of stream after its half-close"

# ---- 3. resets ----
pcap_r=$E2E_DIR/reset.pcap
e2e_capture_start cap_r "$NS_B" "$VETH_B" "$pcap_r"
# lwIP connects here: its accept() drops a connection reset before the call picks it up
# (ENOTCONN), and ustack's abort can come that soon.
e2e_bg ustack5 30 "${USTACK[@]}" --pcap "$E2E_DIR/ustack5.pcap" --listen --port 9420 --mode abort \
  --bytes 64K --hold-ms 500
e2e_wait_line ustack5 '^listening' 10
e2e_bg lwip5 30 "${LWIP[@]}" --connect 10.0.1.2 --port 9420 --mode expect-reset --bytes 0 --delay 0.5
e2e_wait ustack5 30; e2e_check $E2E_RC "3a: ustack-peer (SO_LINGER {1,0}, close) exit 0"
e2e_wait lwip5 10; e2e_check $E2E_RC "3a: lwIP peer exit 0"
e2e_expect ustack5 '^OK WSPCloseSocket linger \{1,0\}' "3a: WSPCloseSocket with linger {1,0} returned at once"
e2e_expect lwip5 '^RESULT ECONNRESET' "3a: lwIP recv -> ECONNRESET ($(e2e_field lwip5 '^RESULT' 4) bytes read first)"

e2e_bg lwip6 30 "${LWIP[@]}" --listen --port 9421 --mode abort --bytes 1000
e2e_wait_line lwip6 '^listening' 10
e2e_bg ustack6 30 "${USTACK[@]}" --connect 10.0.2.2 --port 9421 --mode wait-reset --bytes 1000 \
  --timeout-ms 10000
e2e_wait ustack6 30; e2e_check $E2E_RC "3b: ustack-peer (wait-reset) exit 0"
e2e_wait lwip6 10; e2e_check $E2E_RC "3b: lwIP closed with SO_LINGER {1,0}"
e2e_expect lwip6 '^OK close with SO_LINGER \{1,0\}' "3b: lwIP close with SO_LINGER {1,0} OK"
e2e_expect ustack6 '^FD_CLOSE WSAECONNRESET' "3b: FD_CLOSE carries WSAECONNRESET"
e2e_expect ustack6 '^ERR WSAECONNRESET WSPRecv' "3b: WSPRecv fails with WSAECONNRESET"
e2e_capture_stop cap_r
if command -v tcpdump >/dev/null 2>&1; then
  dump=$(tcpdump -nr "$pcap_r" tcp 2>/dev/null)
  rst_u=$(grep -c '10\.0\.1\.2\.9420 > 10\.0\.2\.2\.[0-9]*: Flags \[R' <<<"$dump" || true)
  rst_l=$(grep -c '10\.0\.2\.2\.9421 > 10\.0\.1\.2\.[0-9]*: Flags \[R' <<<"$dump" || true)
  fin_l=$(grep -c '10\.0\.2\.2\.9421 > 10\.0\.1\.2\.[0-9]*: Flags \[F' <<<"$dump" || true)
  [ "$rst_u" -ge 1 ] && r=0 || r=1; e2e_check $r "3a: capture: RST from ustack ($rst_u)"
  [ "$rst_l" -ge 1 ] && [ "$fin_l" -eq 0 ] && r=0 || r=1
  e2e_check $r "3b: capture: RST from lwIP ($rst_l), no FIN ($fin_l)"
fi

# ---- 4. disconnect data toward lwIP ----
pcap=$E2E_DIR/discdata.pcap
e2e_capture_start cap "$NS_B" "$VETH_B" "$pcap"
e2e_bg lwip7 30 "${LWIP[@]}" --listen --port 9430 --mode recv
e2e_wait_line lwip7 '^listening' 10
e2e_bg ustack7 30 "${USTACK[@]}" --disconnect-data --connect 10.0.2.2 --port 9430 --mode discdata --bytes 64K
e2e_wait ustack7 30; e2e_check $E2E_RC "4a: ustack-peer (client) exit 0"
e2e_wait lwip7 10; e2e_check $E2E_RC "4a: lwIP server exit 0"

e2e_bg ustack8 30 "${USTACK[@]}" --disconnect-data --listen --port 9431 --mode discdata --bytes 64K
e2e_wait_line ustack8 '^listening' 10
e2e_bg lwip8 30 "${LWIP[@]}" --connect 10.0.1.2 --port 9431 --mode recv
e2e_wait ustack8 30; e2e_check $E2E_RC "4b: ustack-peer (server) exit 0"
e2e_wait lwip8 10; e2e_check $E2E_RC "4b: lwIP client exit 0"
e2e_capture_stop cap

for i in 7 8; do
  c=4$([ $i = 7 ] && echo a || echo b)
  e2e_expect ustack$i '^OK SO_DISCDATALEN 0$' "$c: SO_DISCDATALEN is 0 (not negotiated)"
  e2e_expect ustack$i '^ERR WSAENOPROTOOPT WSPSendDisconnect' "$c: WSPSendDisconnect with data -> WSAENOPROTOOPT"
  e2e_expect ustack$i '^OK WSPShutdown\(SD_SEND\)' "$c: fallback WSPShutdown(SD_SEND) succeeded"
  e2e_expect lwip$i '^OK eof recv' "$c: lwIP saw a clean EOF"
  same "$(e2e_field ustack$i '^sha256 sent' 3)" "$(e2e_field lwip$i '^sha256 recv' 3)" && r=0 || r=1
  e2e_check $r "$c: data before the FIN intact (SHA-256)"
  e2e_expect ustack$i '^OK eof after disconnect' "$c: ustack read to end of stream (lwIP's FIN)"
  e2e_expect ustack$i '^OK WSPCloseSocket' "$c: WSPCloseSocket OK"
done
if command -v tcpdump >/dev/null 2>&1; then
  dump=$(tcpdump -nr "$pcap" -v tcp 2>/dev/null)
  fins_u=$(grep -c '10\.0\.1\.2\.[0-9]* > 10\.0\.2\.2\.[0-9]*: Flags \[F' <<<"$dump" || true)
  fins_l=$(grep -c '10\.0\.2\.2\.[0-9]* > 10\.0\.1\.2\.[0-9]*: Flags \[F' <<<"$dump" || true)
  rsts=$(grep -c 'Flags \[R' <<<"$dump" || true)
  opt253=$(grep 'unknown-253' <<<"$dump" | grep -vc 'Flags \[S\]' || true)
  synopt=$(grep 'unknown-253' <<<"$dump" | grep -c '10\.0\.1\.2\.[0-9]* > .*Flags \[S\]' || true)
  [ "$fins_u" -ge 2 ] && [ "$fins_l" -ge 2 ] && r=0 || r=1; e2e_check $r "4: capture: FINs from ustack ($fins_u) and lwIP ($fins_l)"
  [ "$rsts" -eq 0 ] && r=0 || r=1; e2e_check $r "4: capture: no RST ($rsts)"
  [ "$synopt" -ge 1 ] && r=0 || r=1; e2e_check $r "4: capture: ustack offered the option on its SYN ($synopt), lwIP did not answer it"
  [ "$opt253" -eq 0 ] && r=0 || r=1; e2e_check $r "4: capture: no kind-253 option on any other segment ($opt253)"
fi
e2e_finish
