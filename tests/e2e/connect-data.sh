#!/usr/bin/env bash
# e2e: connect data and conditional accept (DESIGN.md §3c, issue 19) over real TUN devices: two
# interactive wsp-shells, A (10.0.1.2) and B (10.0.2.2), both --disconnect-data, and the Linux
# kernel of B's namespace (10.0.0.2), which has no extension. Each answer is read (bounded)
# before the next command goes out.
#
#   1. SO_CONNDATALEN is 16 (12 on a message socket); XP1_CONNECT_DATA is in the flags.
#   2. A listener without SO_CONDITIONAL_ACCEPT on B: A's blocking connectdata client-7 -> OK 0
#      (the SYN-ACK echoed the offer without callee data); B's accept shows the 8 bytes of
#      caller data. A second connection: B's condition function answers CF_REJECT after the
#      handshake -> ERR WSAECONNREFUSED, and A's recv sees WSAECONNRESET.
#   3. A conditional listener on B: A connects non-blocking with caller data; B accepts with
#      callee data SESS (A's conndata shows it), rejects the next (A's FD_CONNECT carries
#      WSAECONNREFUSED), defers the third (WSATRY_AGAIN) and then accepts it.
#   4. A waiting request nobody decides on is dropped after 30 s and counted
#      (held_requests_expired 1 in B's stats).
#   5. Toward Linux: A's connectdata to a Linux listener -> ERR WSAENOPROTOOPT (Linux's
#      SYN-ACK does not echo the offer; A resets the half-open connection, so Linux has
#      nothing to accept). A Linux client connects to a conditional listener on A: CF_ACCEPT ->
#      Linux connected; CF_REJECT -> Linux ECONNREFUSED.
# On the veth capture (tshark with scripts/wireshark/ustack.lua): A's SYN to Linux carries 8
# bytes of caller data and A sent a RST to Linux's SYN-ACK; B's SYN-ACK in 3 carries 4 bytes of
# callee data.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init connect-data "$1"
command -v tshark >/dev/null 2>&1 || { e2e_log "SKIP: tshark not found"; exit 77; }
e2e_net
pcap=$E2E_DIR/veth.pcap
e2e_capture_start cap "$NS_B" "$VETH_B" "$pcap"
e2e_shell_start a "$NS_A" "${HOST_A[@]}" --disconnect-data
e2e_shell_start b "$NS_B" "${HOST_B[@]}" --disconnect-data
chk() { e2e_shell_check "$@"; }
CLIENT7=636c69656e742d37 # "client-7"

# 1. Limits and flags.
chk a "flags" '^OK XP1_GRACEFUL_CLOSE XP1_CONNECT_DATA XP1_DISCONNECT_DATA$'
chk a "socket" '^OK 1$'
chk a "getopt 1 conndatalen" '^OK 16$'
chk a "socket message" '^OK 2$'
chk a "getopt 2 conndatalen" '^OK 12$' "(4 bytes fewer: the message-mode option)"
chk a "close 2" '^OK$'

# 2. An ordinary listener: the handshake completes first.
chk b "socket" '^OK 1$'
chk b "bind 1 7500" '^OK$'
chk b "listen 1" '^OK$'
chk b "getopt 1 condaccept" '^OK 0$'
chk a "connectdata 1 10.0.2.2 7500 client-7" '^OK 0$' "(no callee data after the handshake)"
chk b "accept 1 5000" "^OK 2 10\.0\.1\.2:[0-9]+ 8 $CLIENT7\$"
chk b "getopt 2 conndata" "^OK 8 $CLIENT7\$"
chk a "socket" '^OK 3$'
chk a "connectdata 3 10.0.2.2 7500 hex:0102 5000" '^OK 0$'
chk b "accept 1 5000 reject" '^ERR WSAECONNREFUSED$' "(CF_REJECT resets the established connection)"
chk a "recv 3 100 5000" '^ERR WSAECONNRESET$'

# 3. A conditional listener: each SYN waits for the verdict.
chk b "socket" '^OK 3$'
chk b "condaccept 3 1" '^OK$'
chk b "bind 3 7501" '^OK$'
chk b "listen 3" '^OK$'
chk b "condaccept 3 0" '^ERR WSAEINVAL$' "(SO_CONDITIONAL_ACCEPT only before WSPListen)"
chk a "socket" '^OK 4$'
chk a "nonblocking 4 1" '^OK$'
chk a "connectdata 4 10.0.2.2 7501 client-7" '^ERR WSAEWOULDBLOCK$'
chk a "state 4" '^OK SYN-SENT$' "(the SYN is held)"
chk b "accept 3 5000 accept hex:53455353" "^OK 4 10\.0\.1\.2:[0-9]+ 8 $CLIENT7\$"
chk a "getopt 4 conndata" '^OK 4 53455353$' "(the callee data came on the SYN-ACK)"
chk a "socket" '^OK 5$'
chk a "select 5 FD_CONNECT" '^OK$'
chk a "connectdata 5 10.0.2.2 7501 hex:04" '^ERR WSAEWOULDBLOCK$'
chk b "accept 3 5000 reject" '^ERR WSAECONNREFUSED$'
chk a "wait 5 5000" '^OK$'
chk a "events 5" '^OK FD_CONNECT\(WSAECONNREFUSED\)$' "(the RST answered the held SYN)"
chk a "socket" '^OK 6$'
chk a "nonblocking 6 1" '^OK$'
chk a "connectdata 6 10.0.2.2 7501 hex:05" '^ERR WSAEWOULDBLOCK$'
chk b "accept 3 5000 defer" '^ERR WSATRY_AGAIN$'
chk b "accept 3 5000 defer" '^ERR WSATRY_AGAIN$' "(asked again about the same request)"
chk b "accept 3 5000 accept" '^OK 5 10\.0\.1\.2:[0-9]+ 1 05$'

# 4. A request nobody decides on expires (TcpConfig::held_request_timeout, 30 s).
chk a "socket" '^OK 7$'
chk a "nonblocking 7 1" '^OK$'
chk a "connect 7 10.0.2.2 7501" '^ERR WSAEWOULDBLOCK$'
sleep 31 # (a shell answers within 10 s: the test waits)
chk b "stats" '^OK$'
n=$(sed -n 's/^b< held_requests_expired //p' "$E2E_DIR/transcript.out" | tail -1)
[ "${n:-0}" -ge 1 ] && r=0 || r=1
e2e_check $r "4: B dropped the request nobody decided on (held_requests_expired ${n:-?})"
chk a "close 7" '^OK$'

# 5a. ustack caller data -> Linux listener: not echoed, so not delivered.
mkfifo "$E2E_DIR/linux1.stdin"
e2e_bg linux1 30 bash -c 'exec ip netns exec "$0" python3 "$1" "${@:3}" <"$2"' "$NS_B" \
  "$here/linux_peer.py" "$E2E_DIR/linux1.stdin" --listen 10.0.0.2 --port 9500 --mode no-accept --timeout 20
exec {go}<>"$E2E_DIR/linux1.stdin"
e2e_wait_line linux1 '^listening' 10
chk a "socket" '^OK 8$'
chk a "connectdata 8 10.0.0.2 9500 client-7" '^ERR WSAENOPROTOOPT$' "(Linux did not echo the offer)"
printf 'go\n' >&"$go"
e2e_wait linux1 10; e2e_check $E2E_RC "5a: Linux listener exit 0"
e2e_expect linux1 '^RESULT accept none$' "5a: Linux's listener has no connection (ustack reset it)"

# 5b. Linux client -> a conditional listener on A: the verdict decides.
chk a "socket" '^OK 9$'
chk a "condaccept 9 1" '^OK$'
chk a "bind 9 9501" '^OK$'
chk a "listen 9" '^OK$'
e2e_bg linux2 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --connect 10.0.1.2 --bind 10.0.0.2 \
  --port 9501 --mode expect-refused --timeout 10
chk a "accept 9 5000 accept" '^OK 10 10\.0\.0\.2:[0-9]+ 0$' "(Linux sends no caller data)"
e2e_wait linux2 15; e2e_check $E2E_RC "5b: Linux client exit 0"
e2e_expect linux2 '^RESULT connected$' "5b: CF_ACCEPT -> Linux connected"
e2e_bg linux3 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --connect 10.0.1.2 --bind 10.0.0.2 \
  --port 9501 --mode expect-refused --timeout 10
chk a "accept 9 5000 reject" '^ERR WSAECONNREFUSED$'
e2e_wait linux3 15; e2e_check $E2E_RC "5b: Linux client exit 0"
e2e_expect linux3 '^RESULT ECONNREFUSED$' "5b: CF_REJECT -> Linux ECONNREFUSED"
chk a "stats" '^OK$'
chk b "stats" '^OK$'
e2e_shell_quit a b
e2e_capture_stop cap

# The capture: SYNs with their connect data; RSTs.
lua=$E2E_ROOT/scripts/wireshark/ustack.lua
tshark -X lua_script:"$lua" -r "$pcap" -Y 'tcp.flags.syn==1' -T fields -E separator=/t -e ip.src \
  -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.flags.ack -e ustack.conn.len -e ustack.conn.data \
  2>/dev/null | tr -d ':' >"$E2E_DIR/syns.tsv" || true
tshark -r "$pcap" -Y 'tcp.flags.reset==1' -T fields -E separator=/t -e ip.src -e tcp.srcport \
  -e ip.dst -e tcp.dstport 2>/dev/null >"$E2E_DIR/rsts.tsv" || true
got=$(awk -F'\t' '$1=="10.0.1.2" && $4=="9500" && $5=="0" {print $6" "$7}' "$E2E_DIR/syns.tsv" | sort -u)
[ "$got" = "8 $CLIENT7" ] && r=0 || r=1
e2e_check $r "capture 5a: A's SYN to Linux carries client-7 as caller data (${got:-no SYN})"
n=$(awk -F'\t' '$1=="10.0.1.2" && $4=="9500"' "$E2E_DIR/rsts.tsv" | wc -l)
[ "$n" -ge 1 ] && r=0 || r=1
e2e_check $r "capture 5a: A reset the half-open connection to Linux ($n RST)"
got=$(awk -F'\t' '$1=="10.0.2.2" && $2=="7501" && $5=="1" && $6=="4" {print $7}' "$E2E_DIR/syns.tsv" | sort -u)
[ "$got" = "53455353" ] && r=0 || r=1
e2e_check $r "capture 3: B's SYN-ACK carries the callee data SESS (${got:-none})"
e2e_finish
