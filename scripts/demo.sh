#!/usr/bin/env bash
# demo.sh — the README's demo: the Winsock "Connection Shutdown" transaction-total exchange
# between two ustack hosts over real TUN devices, with the totals carried as disconnect data on
# the FINs (TCP option 253, ExID 0xD15C), captured on the wire and decoded by our Wireshark
# dissector. Needs root (namespaces, TUN).
#
# Usage: scripts/demo.sh [--clients N] [--count T] [--message] [--connect-data] [--out DIR]
#                        [--apps DIR] [--no-install]
#
#   --clients N   clients in all (default 4): one alone first, then N-1 at once
#   --count T     transactions per client (default 5)
#   --message     the same exchange over message-oriented sockets (SOCK_SEQPACKET, README
#                 "Message-oriented sockets"): each transaction is one message, the server's
#                 step 2 is WSPRecv failing with WSAEDISCON instead of returning 0. The checks
#                 add: the server saw WSAEDISCON from every client; each SYN and SYN-ACK carries
#                 the message-mode option (kind 253, ExID 0xD15D) beside 0xD15C; each client's
#                 data on the wire is its transactions framed as messages (RFC 5531 record
#                 marking: 80 00 00 08 and 8 bytes each)
#   --connect-data  connect data too (DESIGN.md §3c): each client sends its id (client-<seed>)
#                 as caller data on its SYN, the server holds each SYN for its condition
#                 function (SO_CONDITIONAL_ACCEPT) and answers with a session number (8 bytes)
#                 as callee data on the SYN-ACK. The checks add, per client: its SYN carries its
#                 id, the server's SYN-ACK the session the client printed (a table of the SYNs)
#   --out DIR     where the captures go (default build/demo)
#   --apps DIR    use the apps already built in DIR (skips install and build)
#   --no-install  do not run scripts/install-deps.sh
#
# Steps: install what is missing (scripts/install-deps.sh), build the apps (cmake into build/ as
# scripts/test.sh does), create two hosts (namespaces <prefix>-a/-b, scripts/netns-up.sh), start
# tcpdump on the veth between them, run txn-server on ustack B (10.0.2.2) and the clients on
# ustack A (10.0.1.2), stop the capture, print the transaction log and a tshark decode of every
# FIN with the disconnect data (with --message also every SYN's options), check every total,
# delete the hosts. Leaves in --out:
#   demo.pcap      the veth capture (Ethernet), open with
#                  wireshark -X lua_script:scripts/wireshark/ustack.lua build/demo/demo.pcap
#   host-a.pcap, host-b-*.pcap   each ustack host's own traffic (raw IP)
#   host-*.jsonl   each ustack host's state log (--state-log)
#   ladder.html    every connection as a ladder with both sides' states (ustack-ladder)
#   *.log          the apps' output
# Exit status 0 only if every exchange completed and every total matched, in the apps' output
# and on the wire.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

clients=4 count=5 out=$ROOT/build/demo apps= install=1 message=0 cdata=0
while [ $# -gt 0 ]; do
  case $1 in
    --clients) clients=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --message) message=1; shift ;;
    --connect-data) cdata=1; shift ;;
    --out) out=$2; shift 2 ;;
    --apps) apps=$2; install=0; shift 2 ;;
    --no-install) install=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $clients =~ ^[1-9][0-9]*$ ]] || { echo "demo.sh: --clients N (N >= 1)" >&2; exit 2; }
[[ $count =~ ^[0-9]+$ ]] || { echo "demo.sh: --count T (T >= 0)" >&2; exit 2; }
socket_opts=() mode_note=
if [ "$message" = 1 ]; then socket_opts=(--message) mode_note=", message-oriented sockets"; fi
if [ "$cdata" = 1 ]; then socket_opts+=(--connect-data) mode_note="$mode_note, connect data"; fi
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: must run as root (network namespaces, TUN)" >&2; exit 1; }

say() { printf '\n== %s\n' "$*"; }
# shellcheck source=lib/tcp-options.sh
. "$ROOT/scripts/lib/tcp-options.sh"

if [ "$install" = 1 ]; then
  say "install dependencies (scripts/install-deps.sh)"
  bash scripts/install-deps.sh
fi
if [ -z "$apps" ]; then
  BUILD_DIR=${BUILD_DIR:-$ROOT/build}
  say "build ($BUILD_DIR)"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target txn-server txn-client
  apps=$BUILD_DIR/apps
fi
apps=$(cd "$apps" && pwd)
for tool in tcpdump tshark timeout; do
  command -v "$tool" >/dev/null 2>&1 || { echo "demo.sh: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/demo.pcap "$out"/host-*.pcap "$out"/host-*.jsonl "$out"/ladder.html "$out"/*.log
prefix="demo$(printf '%x' $$)"
prefix=${prefix:0:13}
NS_A=$prefix-a NS_B=$prefix-b VETH_B=${prefix}vb
pids=()
net_up=0
cleanup() {
  local rc=$? pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$net_up" = 1 ]; then
    bash scripts/netns-down.sh --prefix "$prefix" --kill -q || true
    echo "demo: deleted the hosts ($NS_A, $NS_B)"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say "hosts: $NS_A (ustack A 10.0.1.2) and $NS_B (ustack B 10.0.2.2), joined by a veth"
bash scripts/netns-up.sh --prefix "$prefix" -q
net_up=1

# The capture: on B's veth end, started before the apps, stopped by PID after them.
ip netns exec "$NS_B" tcpdump -i "$VETH_B" -w "$out/demo.pcap" -U -n --immediate-mode -B 16384 >"$out/tcpdump.log" 2>&1 &
cap_pid=$!
pids+=("$cap_pid")
for _ in $(seq 100); do grep -q 'listening on' "$out/tcpdump.log" 2>/dev/null && break; sleep 0.05; done

say "run: txn-server on ustack B, $clients clients on ustack A$mode_note"
timeout -k 2 60 ip netns exec "$NS_B" "$apps/txn-server" --tun tun0 --addr 10.0.2.2/24 --gateway 10.0.2.1 \
  --disconnect-data ${socket_opts[@]+"${socket_opts[@]}"} --clients "$clients" --pcap "$out/host-b.pcap" --state-log "$out/host-b.jsonl" --stats >"$out/server.log" 2>"$out/server.stats" &
srv_pid=$!
pids+=("$srv_pid")
for _ in $(seq 100); do grep -q 'listening' "$out/server.log" 2>/dev/null && break; sleep 0.05; done

client_rc=0
run_clients() { # name seed k
  timeout -k 2 60 ip netns exec "$NS_A" "$apps/txn-client" --tun tun0 --addr 10.0.1.2/24 --gateway 10.0.1.1 \
    --disconnect-data ${socket_opts[@]+"${socket_opts[@]}"} --server 10.0.2.2 --count "$count" --seed "$2" --clients "$3" \
    --pcap "$out/host-a-$1.pcap" --state-log "$out/host-a-$1.jsonl" >"$out/$1.log" 2>&1 || client_rc=1
}
run_clients client-1 1 1
if [ "$clients" -gt 1 ]; then run_clients clients-2 2 $((clients - 1)); fi
srv_rc=0
wait "$srv_pid" || srv_rc=$?
sleep 0.5
kill -INT "$cap_pid" 2>/dev/null || true
wait "$cap_pid" 2>/dev/null || true

say "transaction log"
cat "$out/server.log"
# The server's errors go to stderr, with its counters (--stats).
grep -E '^(error|txn-server):' "$out/server.stats" 2>/dev/null || true
cat "$out"/client*.log

if [ "$message" = 1 ]; then
  say "the SYNs on the wire: experimental option ExIDs (0xd15d: message-oriented, 0xd15c: disconnect data)"
  { printf 'frame.number\tip.src\ttcp.srcport\tip.dst\ttcp.dstport\ttcp.flags.str\tkind-253 ExIDs\n'
    tcp_syn_exids "$out/demo.pcap"
  } | tee "$out/syns.tsv" | column -t -s $'\t'
  # Each client's payload bytes, in order, first transmissions only.
  tshark -r "$out/demo.pcap" -Y 'ip.src==10.0.1.2 && tcp.len>0 && !tcp.analysis.retransmission' -T fields \
    -E separator=/t -e tcp.srcport -e tcp.payload 2>/dev/null >"$out/client-data.tsv"
fi

if [ "$cdata" = 1 ]; then
  say "the SYNs on the wire: connect data (tshark with scripts/wireshark/ustack.lua)"
  tshark -X lua_script:scripts/wireshark/ustack.lua -r "$out/demo.pcap" -Y 'tcp.flags.syn==1' \
    -T fields -E header=y -E separator=/t -e frame.number -e ip.src -e tcp.srcport -e ip.dst \
    -e tcp.dstport -e tcp.flags.str -e ustack.conn.len -e ustack.conn.data 2>/dev/null |
    tee "$out/syns-conn.tsv" | column -t -s $'\t'
fi

say "the FINs on the wire (tshark with scripts/wireshark/ustack.lua)"
fields=(-e frame.number -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.flags.str -e ustack.exid
        -e ustack.disc.len -e ustack.disc.total)
tshark -X lua_script:scripts/wireshark/ustack.lua -r "$out/demo.pcap" -Y 'tcp.flags.fin==1' \
  -T fields -E header=y -E separator=/t "${fields[@]}" 2>/dev/null | tee "$out/fins.tsv" | column -t -s $'\t'

# Checks: every client finished and saw the server's grand total; on the wire each exchange's
# client FIN carries the client's total and the server FIN the grand total that client printed.
say "checks"
fail=0
check() { if [ "$1" = 0 ]; then echo "ok   $2"; else echo "FAIL $2"; fail=1; fi; }
[ "$srv_rc" = 0 ] && r=0 || r=1
check $r "txn-server exit 0 ($(tail -1 "$out/server.log"))"
[ "$client_rc" = 0 ] && r=0 || r=1
check $r "every txn-client exit 0"
ok_srv=$(grep -c ' OK, grand total' "$out/server.log" || true)
[ "$ok_srv" = "$clients" ] && r=0 || r=1
check $r "server: $ok_srv of $clients client totals matched the sum of their transactions"
if [ "$message" = 1 ]; then
  discon=$(grep -c '^client [0-9]*: step 2: WSPRecv failed with WSAEDISCON after' "$out/server.log" || true)
  [ "$discon" = "$clients" ] && r=0 || r=1
  check $r "server: step 2 was WSPRecv failing with WSAEDISCON for $discon of $clients clients"
fi
sum=0
mapfile -t lines < <(grep -h 'port [0-9]* total' "$out"/client*.log || true)
[ "${#lines[@]}" = "$clients" ] && r=0 || r=1
check $r "${#lines[@]} of $clients clients received a grand total"
for l in "${lines[@]}"; do
  port=$(sed -E 's/.* port ([0-9]+) total.*/\1/' <<<"$l")
  total=$(sed -E 's/.* total (-?[0-9]+),.*/\1/' <<<"$l")
  grand=$(sed -E 's/.*grand total (-?[0-9]+).*/\1/' <<<"$l")
  sum=$((sum + total))
  # FIN rows: frame src sport dst dport flags exid len total (retransmissions repeat a row).
  c_fin=$(awk -F'\t' -v p="$port" '$2=="10.0.1.2" && $3==p {print $7" "$8" "$9}' "$out/fins.tsv" | sort -u)
  s_fin=$(awk -F'\t' -v p="$port" '$2=="10.0.2.2" && $5==p {print $7" "$8" "$9}' "$out/fins.tsv" | sort -u)
  [ "$c_fin" = "0xd15c 8 $total" ] && r=0 || r=1
  check $r "port $port: client FIN carries ExID 0xd15c, 8 bytes, total $total (wire: ${c_fin:-none})"
  [ "$s_fin" = "0xd15c 8 $grand" ] && r=0 || r=1
  check $r "port $port: server FIN carries the grand total $grand (wire: ${s_fin:-none})"
  if [ "$message" = 1 ]; then
    # SYN rows: frame src sport dst dport flags exids.
    c_syn=$(awk -F'\t' -v p="$port" '$2=="10.0.1.2" && $3==p {print $7}' "$out/syns.tsv" | sort -u)
    s_syn=$(awk -F'\t' -v p="$port" '$2=="10.0.2.2" && $5==p {print $7}' "$out/syns.tsv" | sort -u)
    [ "$c_syn" = "0xd15c,0xd15d" ] || [ "$c_syn" = "0xd15d,0xd15c" ] && r=0 || r=1
    check $r "port $port: client SYN carries ExIDs 0xd15d and 0xd15c (wire: ${c_syn:-none})"
    [ "$s_syn" = "0xd15c,0xd15d" ] || [ "$s_syn" = "0xd15d,0xd15c" ] && r=0 || r=1
    check $r "port $port: server SYN-ACK echoes 0xd15d and 0xd15c (wire: ${s_syn:-none})"
    data=$(awk -F'\t' -v p="$port" '$1==p {printf "%s", $2}' "$out/client-data.tsv" | tr -d ':')
    [[ $data =~ ^(80000008[0-9a-f]{16}){$count}$ ]] && r=0 || r=1
    check $r "port $port: the client's data is $count messages of 8 bytes (80000008 + 8 bytes each, ${#data} hex digits on the wire)"
  fi
done
if [ "$cdata" = 1 ]; then
  # "txn-client...: port P id 'client-S', session N": the id on P's SYN, N on its SYN-ACK.
  mapfile -t sess < <(grep -h "port [0-9]* id 'client-[0-9]*', session [0-9]*" "$out"/client*.log || true)
  [ "${#sess[@]}" = "$clients" ] && r=0 || r=1
  check $r "${#sess[@]} of $clients clients received a session number as callee data"
  for l in "${sess[@]}"; do
    port=$(sed -E 's/.* port ([0-9]+) id.*/\1/' <<<"$l")
    id=$(sed -E "s/.* id '([^']*)'.*/\1/" <<<"$l")
    session=$(sed -E 's/.*session ([0-9]+).*/\1/' <<<"$l")
    want_syn=$(printf '%s' "$id" | od -An -tx1 | tr -d ' \n')
    want_ack=$(printf '%016x' "$session")
    # SYN rows: frame src sport dst dport flags len data (retransmissions repeat a row).
    c_syn=$(awk -F'\t' -v p="$port" '$2=="10.0.1.2" && $3==p {print $7" "$8}' "$out/syns-conn.tsv" | tr -d ':' | sort -u)
    s_syn=$(awk -F'\t' -v p="$port" '$2=="10.0.2.2" && $5==p {print $7" "$8}' "$out/syns-conn.tsv" | tr -d ':' | sort -u)
    [ "$c_syn" = "${#id} $want_syn" ] && r=0 || r=1
    check $r "port $port: client SYN carries its id '$id' as caller data (wire: ${c_syn:-none})"
    [ "$s_syn" = "8 $want_ack" ] && r=0 || r=1
    check $r "port $port: server SYN-ACK carries session $session as callee data (wire: ${s_syn:-none})"
    grep -q "id '$id', session $session\$" "$out/server.log" && r=0 || r=1
    check $r "server: '$id' got session $session"
  done
fi
final=$(sed -nE 's/.*grand total (-?[0-9]+), 0 failures.*/\1/p' "$out/server.log")
[ "${final:-x}" = "$sum" ] && r=0 || r=1
check $r "final grand total $final = sum of the client totals $sum"

say "the ladder: each connection with both sides' states (apps/ladder/ustack-ladder)"
logs=()
for l in "$out"/host-*.jsonl; do logs+=(--log "$l"); done
if python3 apps/ladder/ustack-ladder --title "ustack demo: $clients transaction-total exchanges" \
     "${logs[@]}" "$out/demo.pcap" -o "$out/ladder.html" 2>"$out/ladder.log"; then
  drawn=$(grep -c '<section class="conn"' "$out/ladder.html" || true)
  logged=$(grep -c 'class="state" data-side="b"' "$out/ladder.html" || true)
else
  drawn=0; logged=0
  cat "$out/ladder.log"
fi
[ "$drawn" = "$clients" ] && [ "$logged" -gt 0 ] && r=0 || r=1
check $r "ladder: $drawn of $clients connections drawn in $out/ladder.html, states from the hosts' state logs"

say "captures left in $out"
ls -l "$out"/*.pcap | awk '{print "  " $NF " (" $5 " bytes)"}'
echo "  open: wireshark -X lua_script:scripts/wireshark/ustack.lua $out/demo.pcap"
echo "        tshark -X lua_script:scripts/wireshark/ustack.lua -r $out/demo.pcap -Y ustack -V"
if [ "$fail" = 0 ]; then
  say "demo: all $clients exchanges verified (apps and wire)"
  exit 0
fi
say "demo: FAILED (logs in $out)"
exit 1
