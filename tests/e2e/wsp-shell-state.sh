#!/usr/bin/env bash
# e2e: wsp-shell's `state`, `info`, `sndbuf`/`rcvbuf`, its time-outs and its input checks, with
# two interactive shells, A (10.0.1.2, client) and B (10.0.2.2, server). Each command's answer
# is read (bounded wait) before the next command goes out, so the test never sleeps; the few
# transitions no answer can signal (FIN-WAIT-1 -> FIN-WAIT-2, LAST-ACK -> CLOSED) are polled
# with `state`, bounded to 5 s.
#
#   1. B listens: CLOSED, LISTEN; `accept 1 200` with nobody connecting -> WSAETIMEDOUT.
#   2. A: `connect ... 300` toward 10.0.2.99, an address of B's subnet nobody has (ustack B drops
#      the SYN) -> WSAETIMEDOUT; the fresh socket under the same number keeps its bound port,
#      linger and nodelay. A non-blocking attempt there shows SYN-SENT.
#   3. A connects (bound port kept); ESTABLISHED both sides; `recv 2 4096 200` -> WSAETIMEDOUT,
#      then data both ways; `recvdisconnect` with data unread -> WSAEWOULDBLOCK; `info` counts
#      the bytes each way.
#   4. A second connection from an event-selected non-blocking socket (its replacement after a
#      connect time-out stays so); B never reads: `send 3 fill:8388608 300` -> WSAETIMEDOUT with
#      the bytes queued; then aborted.
#   5. SO_SNDBUF / SO_RCVBUF on a fresh socket, and kept by the replacement socket.
#   6. Teardown: A SD_SEND -> FIN-WAIT-2; B reads the end -> CLOSE-WAIT; A `recvdisconnect 1 64
#      200` -> WSAETIMEDOUT (still FIN-WAIT-2); B SD_SEND -> LAST-ACK (or already CLOSED); A
#      `recvdisconnect 1 64 5000` waits for the FIN -> OK 0, TIME-WAIT; B -> CLOSED.
#   7. Garbage (bad commands, numbers, sockets, data, extra arguments, a 70000-byte line, NUL
#      bytes) -> ERR WSAEINVAL, and the shell still answers.
#
# Checks marked [SIO_TCP_INFO] need WSPIoctl(SIO_TCP_INFO); [SO_SNDBUF] needs WSPSetSockOpt
# SO_SNDBUF / SO_RCVBUF.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init wsp-shell-state "$1"
e2e_net

INFO="[SIO_TCP_INFO]"
BUF="[SO_SNDBUF]"
# until_state SIDE S ERE: ask `state S` until the answer matches ERE (at most 5 s).
until_state() {
  local side=$1 s=$2 re=$3 tries=0 end=$((SECONDS + 5)) r
  while :; do
    e2e_shell_ask "$side" "state $s"
    tries=$((tries + 1))
    [[ $E2E_ANS =~ $re || $E2E_ANS == ERR* || $SECONDS -ge $end ]] && break
  done
  [[ $E2E_ANS =~ $re ]] && r=0 || r=1
  e2e_check $r "$side: state $s (asked $tries times) -> $E2E_ANS $INFO"
}

e2e_shell_start a "$NS_A" "${HOST_A[@]}"
e2e_shell_start b "$NS_B" "${HOST_B[@]}"
e2e_shell_check a "flags" '^OK XP1_GRACEFUL_CLOSE$'
e2e_shell_check b "flags" '^OK XP1_GRACEFUL_CLOSE$'

# 1. B listens; an accept nobody answers times out and leaves the listener listening.
e2e_shell_check b "socket" '^OK 1$'
e2e_shell_check b "state 1" '^OK CLOSED$' "$INFO"
e2e_shell_check b "bind 1 7200" '^OK$'
e2e_shell_check b "listen 1" '^OK$'
e2e_shell_check b "state 1" '^OK LISTEN$' "$INFO"
e2e_shell_check b "accept 1 200" '^ERR WSAETIMEDOUT$'
e2e_shell_check b "name 1" '^OK 10\.0\.2\.2:7200$'

# 2. A connect whose SYN goes unanswered: the attempt is replaced by a fresh socket, settings kept.
e2e_shell_check a "socket" '^OK 1$'
e2e_shell_check a "state 1" '^OK CLOSED$' "$INFO"
e2e_shell_check a "bind 1 7300" '^OK$'
e2e_shell_check a "linger 1 1 7" '^OK$'
e2e_shell_check a "nodelay 1 1" '^OK$'
e2e_shell_check a "connect 1 10.0.2.99 7200 300" '^ERR WSAETIMEDOUT$'
e2e_shell_check a "peer 1" '^ERR WSAENOTCONN$'
e2e_shell_check a "state 1" '^OK CLOSED$' "$INFO"
e2e_shell_check a "getopt 1 linger" '^OK 1 7$'
e2e_shell_check a "socket" '^OK 2$'
e2e_shell_check a "nonblocking 2 1" '^OK$'
e2e_shell_check a "connect 2 10.0.2.99 7200" '^ERR WSAEWOULDBLOCK$'
e2e_shell_check a "state 2" '^OK SYN-SENT$' "$INFO"
e2e_shell_check a "connect 2 10.0.2.99 7200 0" '^ERR WSAEALREADY$'
e2e_shell_check a "linger 2 1 0" '^OK$'
e2e_shell_check a "close 2" '^OK$'

# 3. The same shell socket connects fine; bound port kept; recv time-out, then data.
e2e_shell_check a "connect 1 10.0.2.2 7200 5000" '^OK$'
e2e_shell_check a "name 1" '^OK 10\.0\.1\.2:7300$'
e2e_shell_check a "state 1" '^OK ESTABLISHED$' "$INFO"
e2e_shell_check b "accept 1 5000" '^OK 2 10\.0\.1\.2:7300 0$'
e2e_shell_check b "state 2" '^OK ESTABLISHED$' "$INFO"
e2e_shell_check b "recv 2 4096 200" '^ERR WSAETIMEDOUT$'
e2e_shell_check b "state 2" '^OK ESTABLISHED$' "$INFO"
e2e_shell_check a "send 1 hello 5000" '^OK 5$'
e2e_shell_check b "recv 2 4096 5000" '^OK 5 68656c6c6f$'
e2e_shell_check b "send 2 world!" '^OK 6$'
e2e_shell_check a "recvdisconnect 1 64 5000" '^ERR WSAEWOULDBLOCK 6 bytes unread'
e2e_shell_check a "recv 1 4096 5000" '^OK 6 776f726c6421$'
e2e_shell_check a "info 1" '^OK state=ESTABLISHED .* bytes_out=5 bytes_in=6 ' "$INFO"
fields="state mss connection_time_ms timestamps_enabled rtt_us min_rtt_us bytes_in_flight cwnd \
snd_wnd rcv_wnd rcv_buf bytes_out bytes_in bytes_reordered bytes_retrans fast_retrans dup_acks_in \
timeout_episodes syn_retrans sack_enabled window_scaling_enabled snd_wind_shift rcv_wind_shift \
rtt_var_us rto_us ss_thresh snd_buf segs_out segs_in retransmits"
got=$(sed -E 's/^OK //; s/=[^ ]*//g' <<<"$E2E_ANS")
[ "$got" = "$fields" ] && r=0 || r=1
e2e_check $r "a: info names every field of USTACK_TCP_INFO, in order $INFO"
e2e_shell_check b "info 2" '^OK state=ESTABLISHED .* bytes_out=6 bytes_in=5 ' "$INFO"

# 4. Event-selected non-blocking socket: its replacement stays so; a send that fills both
#    buffers times out with the bytes queued.
e2e_shell_check a "socket" '^OK 3$'
e2e_shell_check a "select 3 FD_CONNECT FD_CLOSE" '^OK$'
e2e_shell_check a "connect 3 10.0.2.99 7200 200" '^ERR WSAETIMEDOUT$'
e2e_shell_check a "connect 3 10.0.2.2 7200" '^ERR WSAEWOULDBLOCK$'
e2e_shell_check a "wait 3 5000" '^OK$'
e2e_shell_check a "events 3" '^OK FD_CONNECT\(0\)$'
e2e_shell_check b "accept 1 5000" '^OK 3 10\.0\.1\.2:[0-9]+ 0$'
e2e_shell_check a "send 3 fill:8388608 300" '^ERR WSAETIMEDOUT [0-9]+$'
queued=${E2E_ANS##* }
[[ $queued =~ ^[0-9]+$ ]] && ((queued > 0 && queued < 8388608)) && r=0 || r=1
e2e_check $r "a: a partial send was queued before the time-out ($queued of 8388608 bytes)"
e2e_shell_check a "send 3 x 0" '^ERR WSAETIMEDOUT 0$'
e2e_shell_check a "linger 3 1 0" '^OK$'
e2e_shell_check a "close 3" '^OK$'
e2e_shell_check b "close 3" '^OK$'

# 5. SO_SNDBUF / SO_RCVBUF.
e2e_shell_check a "socket" '^OK 4$'
e2e_shell_check a "sndbuf 4" '^OK [0-9]+$'
e2e_shell_check a "rcvbuf 4" '^OK [0-9]+$'
e2e_shell_check a "sndbuf 4 65536" '^OK$' "$BUF"
e2e_shell_check a "rcvbuf 4 131072" '^OK$' "$BUF"
e2e_shell_check a "sndbuf 4" '^OK 65536$' "$BUF"
e2e_shell_check a "rcvbuf 4" '^OK 131072$' "$BUF"
e2e_shell_check a "connect 4 10.0.2.99 7200 200" '^ERR WSAETIMEDOUT$'
e2e_shell_check a "sndbuf 4" '^OK 65536$' "$BUF (kept by the fresh socket)"
e2e_shell_check a "rcvbuf 4" '^OK 131072$' "$BUF (kept by the fresh socket)"
e2e_shell_check a "close 4" '^OK$'

# 6. Teardown, state by state.
e2e_shell_check a "shutdown 1 send" '^OK$'
until_state a 1 '^OK FIN-WAIT-2$'
e2e_shell_check b "recv 2 4096 5000" '^OK 0 $'
e2e_shell_check b "state 2" '^OK CLOSE-WAIT$' "$INFO"
e2e_shell_check a "recvdisconnect 1 64 200" '^ERR WSAETIMEDOUT$'
e2e_shell_check a "state 1" '^OK FIN-WAIT-2$' "$INFO"
e2e_shell_check b "shutdown 2 send" '^OK$'
e2e_shell_check b "state 2" '^OK (LAST-ACK|CLOSED)$' "$INFO"
e2e_shell_check a "recvdisconnect 1 64 5000" '^OK 0 $'
e2e_shell_check a "state 1" '^OK TIME-WAIT$' "$INFO"
e2e_shell_check a "info 1" '^OK state=TIME-WAIT .* bytes_out=5 bytes_in=6 ' "$INFO"
until_state b 2 '^OK CLOSED$'
e2e_shell_check b "close 2" '^OK$'
e2e_shell_check a "close 1" '^OK$'
e2e_shell_check a "state 1" '^ERR WSAEINVAL no socket'

# 7. Input the shell cannot use: ERR WSAEINVAL, nothing called, and the shell goes on.
e2e_shell_check a "socket" '^OK 5$'
for cmd in "frobnicate" "socket extra" "recv 5 2147483647" "recv 5 -1" "recv 5 4096 abc" \
  "recv 5 4096 86400001" "recv x" "recv 99" "recv 1" "recv 5 4096 100 7" "bind 5 65536" \
  "bind 5 -3" "bind 5 +3" "bind 5 0x10" "linger 5 1 65536" "linger 5 65536 1" \
  "connect 5 10.0.2.2 65536" "connect 5 10.0.2.256 7200" "connect 5 10.0.2.2" "shutdown 5 garbage" \
  "send 5 hex:zz" "send 5 hex:abc" "send 5 int:99999999999999999999" "send 5 fill:16777217" \
  "send 5 two words" "send 5" "nodelay 5 2" "select 5 FD_BOGUS" "wait 5 10" "accept 5 -5" \
  "sndbuf 5 -1" "sndbuf 5 2147483648" "getopt 5 bogus" "state" "info 5 6" "sleep" "quit now" \
  "accept 5 100 maybe" "accept 5 reject x" "accept 5 defer hex:00" "accept 5 accept hex:0" \
  "connectdata 5 10.0.2.2 7200" "connectdata 5 10.0.2.2 7200 x 5 6" "condaccept 5 2"; do
  e2e_shell_check a "$cmd" '^ERR WSAEINVAL( |$)'
done
printf '%070000d\n' 0 >&"${E2E_SHELL_IN[a]}"
e2e_shell_answer a || true
[[ $E2E_ANS =~ ^ERR\ WSAEINVAL\ line\ longer ]] && r=0 || r=1
e2e_check $r "a: a 70000-byte line -> ${E2E_ANS:0:80}"
printf '%065536d\n' 0 >&"${E2E_SHELL_IN[a]}"
e2e_shell_answer a || true
[[ $E2E_ANS =~ ^ERR\ WSAEINVAL\ unknown\ command ]] && r=0 || r=1
e2e_check $r "a: a 65536-byte line is read whole -> ${E2E_ANS:0:80}"
printf 'fl\0ags\n' >&"${E2E_SHELL_IN[a]}"
e2e_shell_answer a || true
[[ $E2E_ANS =~ ^ERR\ WSAEINVAL ]] && r=0 || r=1
e2e_check $r "a: a NUL byte in a command -> $E2E_ANS"
e2e_shell_check a "flags" '^OK XP1_GRACEFUL_CLOSE$'
e2e_shell_check a "recv 5 0" '^ERR WSAENOTCONN$'

e2e_shell_quit a b
e2e_finish
