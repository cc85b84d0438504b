#!/usr/bin/env bash
# e2e: wsp-shell's message-socket commands (socket message, send, recv ... MSG_PARTIAL,
# ERR WSAEDISCON, getopt type|maxmsgsize|protocolinfo) between two interactive shells, A
# (10.0.1.2) and B (10.0.2.2, --max-message-size 131072), both with --disconnect-data. Each
# answer is read (bounded) before the next command goes out: no sleeps.
#
#   1. Options: type, SO_MAX_MSG_SIZE (the host setting), SO_PROTOCOL_INFO of a message and of
#      a stream socket.
#   2. Refusals: a message connect to a ustack stream listener -> WSAECONNREFUSED (nothing to
#      accept there); a stream connect to a message listener -> WSAECONNREFUSED.
#   3. Messages A -> B: "hello", a zero-length one, 10 bytes, 65536 bytes (A's bound), 65537
#      bytes -> WSAEMSGSIZE (nothing sent), "world". B reads with small buffers: MSG_PARTIAL on
#      every part but the last, never bytes of two messages in one call.
#   4. Teardown with disconnect data: A's FIN carries int:7; B gets FD_CLOSE(0) only after every
#      message, then WSAEDISCON (twice), the 8 bytes; B's FIN carries int:42; A the same.
#   5. Whole or nothing: SO_SNDBUF 16384 on A, SO_RCVBUF 16384 on B (a message socket raises
#      both to its bound + 4, so about 190 KB fit), non-blocking sends of 4000-byte messages
#      until WSAEWOULDBLOCK; B reads every one whole, then a marker message sent after them:
#      the refused message left nothing behind.
#   6. Framing error: B (bound 131072) sends 65537 bytes; A (bound 65536) resets: its recv ->
#      WSAECONNABORTED, B's -> WSAECONNRESET.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init wsp-shell-message "$1"
e2e_net
e2e_shell_start a "$NS_A" "${HOST_A[@]}" --disconnect-data
e2e_shell_start b "$NS_B" "${HOST_B[@]}" --disconnect-data --max-message-size 131072
chk() { e2e_shell_check "$@"; }
fill_hex() { python3 -c "import sys; print(bytes(i & 255 for i in range(int(sys.argv[1]))).hex())" "$1"; }

# 1. Options.
MSG_FLAGS='XP1_MESSAGE_ORIENTED\|XP1_GRACEFUL_CLOSE\|XP1_CONNECT_DATA\|XP1_DISCONNECT_DATA\|XP1_PARTIAL_MESSAGE'
chk b "flags" '^OK XP1_GRACEFUL_CLOSE XP1_CONNECT_DATA XP1_DISCONNECT_DATA$'
chk b "socket message" '^OK 1$'
chk b "getopt 1 type" '^OK SOCK_SEQPACKET$'
chk b "getopt 1 maxmsgsize" '^OK 131072$' "(--max-message-size)"
chk b "getopt 1 protocolinfo" "^OK dwServiceFlags1=$MSG_FLAGS iSocketType=SOCK_SEQPACKET iProtocol=IPPROTO_TCP dwMessageSize=131072$"
chk b "bind 1 7400" '^OK$'
chk b "listen 1" '^OK$'
chk b "socket stream" '^OK 2$'
chk b "getopt 2 type" '^OK SOCK_STREAM$'
chk b "getopt 2 protocolinfo" '^OK dwServiceFlags1=XP1_GRACEFUL_CLOSE\|XP1_CONNECT_DATA\|XP1_DISCONNECT_DATA iSocketType=SOCK_STREAM iProtocol=IPPROTO_TCP dwMessageSize=0$'
chk b "bind 2 7401" '^OK$'
chk b "listen 2" '^OK$'
chk a "socket message" '^OK 1$'
chk a "getopt 1 maxmsgsize" '^OK 65536$' "(the default)"
chk a "getopt 1 protocolinfo" "^OK dwServiceFlags1=$MSG_FLAGS iSocketType=SOCK_SEQPACKET iProtocol=IPPROTO_TCP dwMessageSize=65536$"

# 2. Refusals both ways.
chk a "connect 1 10.0.2.2 7401" '^ERR WSAECONNREFUSED$' "(message -> stream listener)"
chk b "nonblocking 2 1" '^OK$'
chk b "accept 2" '^ERR WSAEWOULDBLOCK$' "(the stream listener has nothing to accept)"
chk a "socket" '^OK 2$'
chk a "connect 2 10.0.2.2 7400" '^ERR WSAECONNREFUSED$' "(stream -> message listener: RST)"
chk a "close 1" '^OK$'
chk a "close 2" '^OK$'

# 3. Messages A -> B.
chk a "socket message" '^OK 3$'
chk a "connect 3 10.0.2.2 7400 5000" '^OK$'
chk b "accept 1 5000" '^OK 3 10\.0\.1\.2:[0-9]+ 0$'
chk b "getopt 3 type" '^OK SOCK_SEQPACKET$' "(accepted from a message listener)"
chk b "getopt 3 discdatalen" '^OK (24|36)$' "(disconnect data with the message option)"
chk a "send 3 hello" '^OK 5$'
chk a "send 3 hex:" '^OK 0$' "(a zero-length message)"
chk a "send 3 fill:10" '^OK 10$'
chk a "send 3 fill:65536" '^OK 65536$' "(the bound)"
chk a "send 3 fill:65537" '^ERR WSAEMSGSIZE$' "(over the bound: nothing sent)"
chk a "send 3 world" '^OK 5$'
chk b "recv 3 3 5000" '^OK 3 68656c MSG_PARTIAL$'
chk b "recv 3 3 5000" '^OK 2 6c6f$' "(the rest of the message only)"
chk b "recv 3 100 5000" '^OK 0 $' "(the zero-length message)"
chk b "recv 3 4 5000" '^OK 4 00010203 MSG_PARTIAL$'
chk b "recv 3 100 5000" '^OK 6 040506070809$'
chk b "recv 3 70000 5000" "^OK 65536 $(fill_hex 65536)$" "(one whole message)"
chk b "recv 3 100 5000" '^OK 5 776f726c64$'
chk b "recv 3 100 200" '^ERR WSAETIMEDOUT$' "(the 65537-byte message never went)"

# 4. Teardown with disconnect data; the end of messages is WSAEDISCON, FD_CLOSE carries 0.
chk a "senddisconnect 3 int:7" '^OK$'
chk a "select 3 FD_CLOSE" '^OK$'
chk b "select 3 FD_CLOSE" '^OK$'
chk b "wait 3 5000" '^OK$'
chk b "events 3" '^OK FD_CLOSE\(0\)$'
chk b "recv 3 100" '^ERR WSAEDISCON$'
chk b "recv 3 100" '^ERR WSAEDISCON$' "(every later call too)"
chk b "recvdisconnect 3 64" '^OK 8 0000000000000007$'
chk b "senddisconnect 3 int:42" '^OK$'
chk a "wait 3 5000" '^OK$'
chk a "events 3" '^OK FD_CLOSE\(0\)$'
chk a "recv 3 100" '^ERR WSAEDISCON$'
chk a "recvdisconnect 3 64" '^OK 8 000000000000002a$'
chk a "close 3" '^OK$'
chk b "close 3" '^OK$'

# 5. Whole or nothing under back-pressure.
chk b "socket message" '^OK 4$'
chk b "rcvbuf 4 16384" '^OK$'
chk b "bind 4 7402" '^OK$'
chk b "listen 4" '^OK$'
chk a "socket message" '^OK 4$'
chk a "sndbuf 4 16384" '^OK$'
chk a "connect 4 10.0.2.2 7402 5000" '^OK$'
chk b "accept 4 5000" '^OK 5 10\.0\.1\.2:[0-9]+ 0$'
chk a "nonblocking 4 1" '^OK$'
sent=0
for ((i = 0; i < 64; i++)); do
  e2e_shell_ask a "send 4 fill:4000"
  [ "$E2E_ANS" = "OK 4000" ] || break
  sent=$((sent + 1))
done
[ "$E2E_ANS" = "ERR WSAEWOULDBLOCK" ] && [ "$sent" -ge 1 ] && r=0 || r=1
e2e_check $r "a: non-blocking 4000-byte messages: $sent sent, then $E2E_ANS"
want="^OK 4000 $(fill_hex 4000)$"
whole=0
for ((i = 0; i < sent; i++)); do
  e2e_shell_ask b "recv 5 8192 5000"
  [[ $E2E_ANS =~ $want ]] && whole=$((whole + 1))
done
[ "$whole" = "$sent" ] && r=0 || r=1
e2e_check $r "b: $whole of $sent messages read whole (4000 bytes - no MSG_PARTIAL)"
chk a "send 4 hex:0123456789 5000" '^OK 5$'
chk b "recv 5 8192 5000" '^OK 5 0123456789$' "(the marker: the refused message left nothing)"

# 6. A framing error: a message over the receiver's bound.
chk a "nonblocking 4 0" '^OK$'
chk b "send 5 fill:65537" '^OK 65537$' "(B's bound is 131072)"
chk a "recv 4 100 5000" '^ERR WSAECONNABORTED$' "(over A's bound: A resets)"
chk b "recv 5 100 5000" '^ERR WSAECONNRESET$'
chk a "close 4" '^OK$'
chk b "close 5" '^OK$'
chk a "stats" '^OK$'
e2e_shell_quit a b
e2e_finish
