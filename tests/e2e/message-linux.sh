#!/usr/bin/env bash
# e2e: message-oriented sockets (SOCK_SEQPACKET, DESIGN.md §3b) toward Linux, which does not
# echo the message-mode option (kind 253, ExID 0xD15D), over real TUN devices.
#
#   1. ustack A connects a message socket to a Linux listener (10.0.0.2, in B's namespace):
#      Linux's SYN-ACK lacks the option, so ustack resets the half-open connection and the
#      connect fails with WSAECONNREFUSED; Linux's listener then has nothing to accept.
#   2. A Linux client connects to a ustack message listener on A: its SYN lacks the option, the
#      listener answers with a RST and Linux's connect fails with ECONNREFUSED; the listener
#      has nothing to accept (non-blocking accept -> WSAEWOULDBLOCK) and still listens:
#   3. ustack B's message socket connects to it (both SYNs carry the option), one message goes
#      over, B's close reads as WSAEDISCON.
# On the veth capture (tshark, scripts/lib/tcp-options.sh): ustack's SYN to Linux carries
# 0xD15D, Linux's SYN-ACK and SYN carry no kind-253 option, ustack sends the RSTs of 1 and 2,
# no SYN-ACK answers Linux's SYN, and the SYN and SYN-ACK of 3 carry 0xD15D.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$E2E_ROOT/scripts/lib/tcp-options.sh"
e2e_init message-linux "$1"
command -v tshark >/dev/null 2>&1 || { e2e_log "SKIP: tshark not found"; exit 77; }
e2e_net
pcap=$E2E_DIR/veth.pcap
e2e_capture_start cap "$NS_B" "$VETH_B" "$pcap"
e2e_shell_start a "$NS_A" "${HOST_A[@]}"
e2e_shell_start b "$NS_B" "${HOST_B[@]}"

# 1. ustack message connect -> Linux listener. The listener waits on its stdin (a FIFO we hold)
#    for the go-ahead before it looks for a connection to accept.
mkfifo "$E2E_DIR/linux1.stdin"
e2e_bg linux1 30 bash -c 'exec ip netns exec "$0" python3 "$1" "${@:3}" <"$2"' "$NS_B" \
  "$here/linux_peer.py" "$E2E_DIR/linux1.stdin" --listen 10.0.0.2 --port 9400 --mode no-accept --timeout 20
exec {go}<>"$E2E_DIR/linux1.stdin"
e2e_wait_line linux1 '^listening' 10
e2e_shell_check a "socket message" '^OK 1$'
e2e_shell_check a "connect 1 10.0.0.2 9400" '^ERR WSAECONNREFUSED$' "(Linux did not echo 0xD15D)"
e2e_shell_check a "peer 1" '^ERR WSAENOTCONN$'
printf 'go\n' >&"$go"
e2e_wait linux1 10; e2e_check $E2E_RC "1: Linux listener exit 0"
e2e_expect linux1 '^RESULT accept none$' "1: Linux's listener has no connection to accept (ustack reset the half-open one)"

# 2. Linux client -> ustack message listener.
e2e_shell_check a "socket message" '^OK 2$'
e2e_shell_check a "bind 2 9401" '^OK$'
e2e_shell_check a "listen 2" '^OK$'
e2e_shell_check a "getopt 2 type" '^OK SOCK_SEQPACKET$'
e2e_bg linux2 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --connect 10.0.1.2 --bind 10.0.0.2 \
  --port 9401 --mode expect-refused --timeout 10
e2e_wait linux2 15; e2e_check $E2E_RC "2: Linux client exit 0"
e2e_expect linux2 '^RESULT ECONNREFUSED$' "2: Linux's connect to the message listener -> ECONNREFUSED"
e2e_shell_check a "nonblocking 2 1" '^OK$'
e2e_shell_check a "accept 2" '^ERR WSAEWOULDBLOCK$' "(nothing accepted)"

# 3. The listener still serves message sockets.
e2e_shell_check b "socket message" '^OK 1$'
e2e_shell_check b "connect 1 10.0.1.2 9401 5000" '^OK$'
e2e_shell_check a "accept 2 5000" '^OK 3 10\.0\.2\.2:[0-9]+ 0$'
e2e_shell_check b "send 1 hello" '^OK 5$'
e2e_shell_check a "recv 3 100 5000" '^OK 5 68656c6c6f$'
e2e_shell_check b "shutdown 1 send" '^OK$'
e2e_shell_check a "recv 3 100 5000" '^ERR WSAEDISCON$'
e2e_shell_check a "close 3" '^OK$'
e2e_shell_check b "close 1" '^OK$'
e2e_shell_check a "stats" '^OK$'
e2e_shell_quit a b
e2e_capture_stop cap

# The capture. SYN rows: frame src sport dst dport flags ExIDs.
syns=$(tcp_syn_exids "$pcap")
rsts=$(tshark -r "$pcap" -Y 'tcp.flags.reset==1' -T fields -E separator=/t -e ip.src -e tcp.srcport \
  -e ip.dst -e tcp.dstport 2>/dev/null)
printf '%s\n' "$syns" >"$E2E_DIR/syns.tsv"
printf '%s\n' "$rsts" >"$E2E_DIR/rsts.tsv"
row() { awk -F'\t' "$1" <<<"$syns" | sort -u | paste -sd' '; }
got=$(row '$2=="10.0.1.2" && $5=="9400" && $6 !~ /A/ {print $7}')
[[ $got =~ 0xd15d ]] && r=0 || r=1; e2e_check $r "capture 1: ustack's SYN to Linux carries ExID 0xd15d (${got:-no SYN})"
got=$(row '$2=="10.0.0.2" && $3=="9400" {print $7}')
[ "$got" = "-" ] && r=0 || r=1; e2e_check $r "capture 1: Linux's SYN-ACK carries no kind-253 option (${got:-no SYN-ACK})"
n=$(awk -F'\t' '$1=="10.0.1.2" && $4=="9400"' <<<"$rsts" | wc -l)
[ "$n" -ge 1 ] && r=0 || r=1; e2e_check $r "capture 1: ustack reset the half-open connection ($n RST)"
got=$(row '$2=="10.0.0.2" && $5=="9401" {print $7}')
[ "$got" = "-" ] && r=0 || r=1; e2e_check $r "capture 2: Linux's SYN carries no kind-253 option (${got:-no SYN})"
n=$(awk -F'\t' '$1=="10.0.1.2" && $2=="9401" && $3=="10.0.0.2"' <<<"$rsts" | wc -l)
[ "$n" -ge 1 ] && r=0 || r=1; e2e_check $r "capture 2: the message listener answered Linux's SYN with a RST ($n)"
got=$(row '$2=="10.0.1.2" && $3=="9401" && $4=="10.0.0.2" {print $7}')
[ -z "$got" ] && r=0 || r=1; e2e_check $r "capture 2: no SYN-ACK to Linux (${got:-none})"
got=$(row '$2=="10.0.2.2" && $5=="9401" {print $7}')
[[ $got =~ 0xd15d ]] && r=0 || r=1; e2e_check $r "capture 3: ustack B's SYN carries 0xd15d (${got:-no SYN})"
got=$(row '$2=="10.0.1.2" && $3=="9401" && $4=="10.0.2.2" {print $7}')
[[ $got =~ 0xd15d ]] && r=0 || r=1; e2e_check $r "capture 3: the listener's SYN-ACK echoes 0xd15d (${got:-no SYN-ACK})"
e2e_finish
