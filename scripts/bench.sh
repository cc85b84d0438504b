#!/usr/bin/env bash
# bench.sh — ustack against the Linux kernel's TCP, in one run over the same two namespaces
# (DESIGN.md §5, §6). Needs root and /dev/net/tun (else exits 77).
#
# Usage: scripts/bench.sh [--quick] [--bin-dir DIR] [--build-dir DIR] [--out FILE]
#                         [--pairs LIST] [--measure LIST] [--keep-logs]
#
#   --quick          smoke run: 2 s instead of 10 s, 2,000 round trips instead of 20,000,
#                    1,000 held connections instead of 10,000
#   --bin-dir DIR    use ustack-bench and linux-bench from DIR; no build
#   --build-dir DIR  where to build them (default build-bench: Release, Ninja, CI=true)
#   --out FILE       also write the table there (default BUILD-DIR/bench-results.txt)
#   --pairs LIST     comma-separated subset of ll,uu,ul,lu (default all four)
#   --measure LIST   comma-separated subset of bulk,loss,rtt,connrate,mem,msg (default all)
#   --keep-logs      keep the programs' output (kept anyway when a measurement failed)
#
# A private namespace pair (netns-up.sh --prefix bnXXXX; removed on exit, also on failure or
# Ctrl-C) holds every pair; the client always sits in P-a and the server in P-b, so data and
# connections cross the veth the same way:
#
#   ll  Linux<->Linux    linux-bench in P-a's kernel (10.0.0.1) -> linux-bench at 10.0.0.2 (P-b)
#   uu  ustack<->ustack  ustack-bench A (10.0.1.2, P-a tun0) -> ustack-bench B (10.0.2.2, P-b tun0)
#   ul  ustack->Linux    ustack-bench A -> linux-bench at 10.0.0.2
#   lu  Linux->ustack    linux-bench in P-a's kernel -> ustack-bench B
#
# Measurements (apps/bench/bench_modes.hpp has the protocols and their checks):
#
#   bulk      one connection, the client sends for 10 s (MTU 1500); MiB/s from the first send to
#             the receiver's report, which confirms the byte count and the byte pattern. Then the
#             same with 1% loss on P-b's veth, both directions (netns-up.sh --loss 1 --loss-chain
#             wire, removed with --loss 0 afterwards).
#   rtt       1-byte ping-pong on one connection (TCP_NODELAY both ends): median and p99 round
#             trip in microseconds over 20,000 round trips after a warm-up.
#   connrate  32 client threads loop connect, 1 KiB request, 1 KiB echo (checked), disconnect,
#             close for 10 s; connections per second. ustack<->ustack disconnects with disconnect
#             data both ways (client WSPSendDisconnect, server WSPRecvDisconnect then
#             WSPSendDisconnect, both checked); otherwise a plain shutdown.
#             With uu also two runs with connect data (DESIGN.md §3c): 16 bytes of caller data
#             on every SYN, checked by the server's condition function; then with
#             SO_CONDITIONAL_ACCEPT (each SYN waits for the function), which answers 16 bytes of
#             callee data, checked by the client; a table of their own gives their ratios to
#             the plain uu run.
#   msg       message-oriented sockets (SOCK_SEQPACKET, ustack<->ustack only: Linux has none)
#             against stream sockets, alternating stream, message, stream, message: bulk as
#             above (the message socket sends 64 KiB messages; the server checks every
#             message's size) and the ping-pong (1-byte messages); in a table of their own with
#             the ratio message / stream (needs pair uu).
#   mem       10,000 idle established connections: a ustack host's resident size after minus
#             before, per connection (the average of both hosts for uu); for Linux<->Linux the
#             kernel memory per socket (slab caches TCP, request_sock_TCP, tcp_bind_bucket,
#             tcp_bind2_bucket, sock_inode_cache, filp, dentry, plus /proc/net/sockstat TCP mem
#             pages; before/after difference over both ends' sockets, i.e. / 2N).
#
# CPU cost of bulk, loss and connrate (no extra runs: the programs sample it around their own
# measurement and print it on their RESULT lines; bench_common.hpp cpu_sample), per GiB sent and
# per 1,000 completed connections, two rows each:
#
#   whole machine  /proc/stat's "cpu" line (all CPUs) over the client's window (bulk: first send
#             to the receiver's report; connrate: the clients' run): user + nice + system + irq +
#             softirq. Not counted: steal (the hypervisor ran someone else), idle, iowait; guest
#             is inside user already. This is the fair comparison: Linux's TCP is kernel time,
#             largely softirqs charged to whatever runs when they do (the sender's system call,
#             the other program, ksoftirqd, an idle CPU), and a ustack end's packets also cost the
#             kernel's TUN and forwarding work. On a saturated machine it is about the number of
#             CPUs x the window / the work, the inverse of the throughput. It also counts anything
#             else on the machine: the notes give the other processes' and kernel threads' time
#             in each window (/proc/PID/stat) and the load over one second before the
#             measurements.
#   both ends' processes  the client's plus the server's user + system time (getrusage
#             RUSAGE_SELF, all threads), the client over the window above, the server from
#             listening to the end of its work: for ustack its engine and application threads
#             and the system calls they make (TUN reads and writes, and what the kernel does
#             inside them); for linux-bench the kernel TCP in its system calls, and softirqs that
#             interrupted it if the kernel samples ticks (no CONFIG_IRQ_TIME_ACCOUNTING).
#
# The notes break each figure down: client and server, user and system, the machine's
# irq + softirq and steal, how busy the machine was (busy / all ticks of the window), and what
# other processes and kernel threads (ksoftirqd, kworkers) spent in the window.
#
# Congestion control: ustack runs the algorithm the namespaces' Linux runs (bbr, cubic; reno as
# newreno; anything else as cubic); USTACK_CC=cubic|newreno|bbr overrides it.
#
# Prints a table (Markdown) with every figure and its ratio to Linux<->Linux of the same run, the
# command line, date, kernel and CPU, and writes it to --out. Exits 1 only if a measurement could
# not be taken (a crash, a timeout, a wrong byte) -- never because a figure is slow -- 2 on bad
# arguments, 77 without root or /dev/net/tun.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cmdline="scripts/bench.sh${*:+ $*}"

usage() { sed -n '2,/^set -Eeuo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }
log() { printf '[bench] %s\n' "$*" >&2; }

quick=0 bin_dir='' build_dir=$root/build-bench out='' pairs=ll,uu,ul,lu measures=bulk,loss,rtt,connrate,mem,msg
keep_logs=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; shift ;;
    --bin-dir) [ $# -ge 2 ] || die "--bin-dir needs a value"; bin_dir=$2; shift 2 ;;
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a value"; build_dir=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out=$2; shift 2 ;;
    --pairs) [ $# -ge 2 ] || die "--pairs needs a value"; pairs=$2; shift 2 ;;
    --measure) [ $# -ge 2 ] || die "--measure needs a value"; measures=$2; shift 2 ;;
    --keep-logs) keep_logs=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for p in ${pairs//,/ }; do [[ $p =~ ^(ll|uu|ul|lu)$ ]] || die "bad pair '$p' (ll, uu, ul, lu)"; done
for m in ${measures//,/ }; do
  [[ $m =~ ^(bulk|loss|rtt|connrate|mem|msg)$ ]] || die "bad measurement '$m' (bulk, loss, rtt, connrate, mem, msg)"
done
want_pair() { [[ ,$pairs, == *,$1,* ]]; }
want() { [[ ,$measures, == *,$1,* ]]; }

if [ "$(id -u)" -ne 0 ]; then log "SKIP: needs root (network namespaces, TUN)"; exit 77; fi
if [ ! -c /dev/net/tun ]; then log "SKIP: no /dev/net/tun"; exit 77; fi
for tool in ip timeout awk; do
  command -v "$tool" >/dev/null 2>&1 || { log "SKIP: $tool not found"; exit 77; }
done

# ---- parameters -------------------------------------------------------------------------------
if [ "$quick" = 1 ]; then
  bulk_s=2 rtts=2000 conn_s=2 hold_n=1000 hold_ms=500 settle_ms=300
else
  bulk_s=10 rtts=20000 conn_s=10 hold_n=10000 hold_ms=1000 settle_ms=500
fi
conn_threads=32
loss_pct=1
# A ustack connrate client would run out of its 16,384 ephemeral ports within the run if every
# closed connection sat in TIME-WAIT for 60 s: it runs with MSL 0.5 s (TIME-WAIT 1 s, enough for
# 16,000 connections/s; at 2 s TIME-WAIT a client at 8,000/s ran out and retried). Linux
# clients likewise get net.ipv4.tcp_tw_reuse=1 in their namespace (the default 2 reuses
# TIME-WAIT ports only on loopback).
conn_msl_ms=500

# ---- build ------------------------------------------------------------------------------------
if [ -z "$bin_dir" ]; then
  log "building ustack-bench and linux-bench (Release) in $build_dir"
  bash "$root/scripts/install-deps.sh"
  CI=true cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  CI=true cmake --build "$build_dir" --target ustack-bench linux-bench -- -j "$(nproc)" >/dev/null ||
    { log "build failed (CI=true cmake --build $build_dir --target ustack-bench linux-bench)"; exit 1; }
  bin_dir=$build_dir/apps/bench
fi
bin_dir=$(cd "$bin_dir" && pwd)
for b in ustack-bench linux-bench; do
  [ -x "$bin_dir/$b" ] || { log "FAIL: $bin_dir/$b not built"; exit 1; }
done
[ -n "$out" ] || out=$build_dir/bench-results.txt

# ---- namespaces, processes, cleanup -----------------------------------------------------------
prefix="bn$(printf '%x' $$)$(printf '%02x' $((RANDOM % 256)))"
prefix=${prefix:0:13}
NS_A=$prefix-a NS_B=$prefix-b
HOST_A=(--tun tun0 --addr 10.0.1.2/24 --gateway 10.0.1.1)
HOST_B=(--tun tun0 --addr 10.0.2.2/24 --gateway 10.0.2.1)
logs=$(mktemp -d /tmp/ustack-bench.XXXXXX)
pids=()
net_up=0
failures=0

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]+"${pids[@]}"}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$net_up" = 1 ]; then bash "$here/netns-down.sh" --prefix "$prefix" --kill -q || true; fi
  if [ "$rc" -ne 0 ] || [ "$failures" -ne 0 ] || [ "$keep_logs" = 1 ]; then
    log "program output kept in $logs"
  else
    rm -rf "$logs"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

net_up=1
bash "$here/netns-up.sh" --prefix "$prefix" -q >"$logs/netns-up.out" 2>&1 ||
  { cat "$logs/netns-up.out" >&2; log "FAIL: netns-up.sh"; exit 1; }
for ns in "$NS_A" "$NS_B"; do ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_tw_reuse=1 >/dev/null; done
log "namespaces $NS_A / $NS_B; output of every program in $logs"

# Congestion control: ustack runs the algorithm Linux uses in these namespaces (the kernel's
# default, inherited from the initial namespace), so the ratios compare stacks, not algorithms.
linux_cc=$(ip netns exec "$NS_A" sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null || echo unknown)
case $linux_cc in
  bbr | cubic) ustack_cc=$linux_cc ;;
  reno) ustack_cc=newreno ;;
  *) ustack_cc=cubic ;;
esac
ustack_cc=${USTACK_CC:-$ustack_cc}  # override, for comparing ustack's algorithms
log "congestion control: Linux $linux_cc, ustack $ustack_cc"

# ---- running one measurement ------------------------------------------------------------------
# The command of side (linux|ustack) as server (in P-b) or client (in P-a, to the server's address).
server_cmd() { # kind
  if [ "$1" = linux ]; then echo "ip netns exec $NS_B $bin_dir/linux-bench --listen"
  else echo "ip netns exec $NS_B $bin_dir/ustack-bench ${HOST_B[*]} --cc $ustack_cc --stats --listen"; fi
}
client_cmd() { # kind server-kind
  local to=10.0.2.2
  [ "$2" = linux ] && to=10.0.0.2
  if [ "$1" = linux ]; then echo "ip netns exec $NS_A $bin_dir/linux-bench --connect $to"
  else echo "ip netns exec $NS_A $bin_dir/ustack-bench ${HOST_A[*]} --cc $ustack_cc --stats --connect $to"; fi
}
kind_of() { [ "$1" = l ] && echo linux || echo ustack; }

bg() { # name limit cmd...: background, bounded by timeout, output in $logs/name.out
  local name=$1 limit=$2
  shift 2
  timeout -k 5 "$limit" "$@" >"$logs/$name.out" 2>&1 &
  pids+=("$!")
  last_pid=$!
}

wait_ready() { # name pid seconds
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    grep -q '^READY' "$logs/$1.out" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  grep -q '^READY' "$logs/$1.out" 2>/dev/null
}

# reap PID: wait for it (its status in $reaped) and forget it, so cleanup never signals a PID that
# may have been reused.
reap() {
  local pid=$1 p rest=()
  reaped=0
  wait "$pid" || reaped=$?
  for p in "${pids[@]+"${pids[@]}"}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  pids=("${rest[@]+"${rest[@]}"}")
}

# field FILE KEY: KEY's value on FILE's RESULT line (empty if none).
field() { grep -m1 '^RESULT ' "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

show_failure() { # name...
  local n
  for n in "$@"; do
    [ -e "$logs/$n.out" ] || continue
    printf -- '---- %s (last 15 lines)\n' "$logs/$n.out" >&2
    tail -n 15 "$logs/$n.out" >&2
  done
}

# measure NAME PAIR LIMIT "server args" "client args": run one server/client pair;
# sets $srv_out / $cli_out; returns 1 (after counting and reporting the failure) if either side
# failed or printed no RESULT.
measure() {
  local name=$1 pair=$2 limit=$3 sargs=$4 cargs=$5
  local sk ck spid cpid src crc
  ck=$(kind_of "${pair:0:1}") sk=$(kind_of "${pair:1:1}")
  srv_out=$logs/$name-$pair-server.out cli_out=$logs/$name-$pair-client.out
  # shellcheck disable=SC2046,SC2086
  bg "$name-$pair-server" "$limit" $(server_cmd "$sk") $sargs --timeout-ms $(((limit - 5) * 1000))
  spid=$last_pid
  if ! wait_ready "$name-$pair-server" "$spid" 15; then
    log "FAIL: $name $pair: the server did not start listening"
    failures=$((failures + 1))
    kill -TERM "$spid" 2>/dev/null || true
    reap "$spid"
    show_failure "$name-$pair-server"
    return 1
  fi
  # shellcheck disable=SC2046,SC2086
  bg "$name-$pair-client" "$limit" $(client_cmd "$ck" "$sk") $cargs --timeout-ms $(((limit - 5) * 1000))
  cpid=$last_pid
  reap "$cpid"
  crc=$reaped
  # The server ends on its own once the client is done; if it does not within a grace period
  # (longer for mode hold: closing thousands of connections), it is stopped and counts as failed.
  local grace=20 i
  [ "$name" = mem ] && grace=60
  [ "$crc" = 0 ] || grace=3
  for ((i = 0; i < grace * 20; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$spid" 2>/dev/null; then
    log "$name $pair: the server is still running ${grace} s after the client ended; stopping it"
    kill -TERM "$spid" 2>/dev/null || true
  fi
  reap "$spid"
  src=$reaped
  if [ "$crc" != 0 ] || [ "$src" != 0 ] || ! grep -q '^RESULT ' "$cli_out" || ! grep -q '^RESULT ' "$srv_out"; then
    log "FAIL: $name $pair: client exit $crc, server exit $src$( [ "$crc" = 124 ] || [ "$src" = 124 ] && echo ' (timeout)')"
    failures=$((failures + 1))
    show_failure "$name-$pair-server" "$name-$pair-client"
    return 1
  fi
  return 0
}

declare -A val note mark
# set_val METRIC PAIR VALUE
set_val() { val[$1,$2]=$3; }
fail_val() { val[$1,$2]=FAILED; }

loss_counter() { # "packets bytes" dropped so far by the loss rule (0 0 without one)
  { ip netns exec "$NS_B" nft list table inet ustack_loss 2>/dev/null || true; } |
    awk '/counter packets/ { for (i = 1; i < NF; i++) { if ($i == "packets") p += $(i + 1); if ($i == "bytes") b += $(i + 1) } }
         END { print p + 0, b + 0 }'
}

pair_list=()
for p in ll uu ul lu; do want_pair "$p" && pair_list+=("$p"); done
others_marked=0

# cpu_cost METRIC PAIR WORK UNIT: from the RESULT lines of the measurement just taken ($cli_out,
# $srv_out), the CPU time per UNIT of work (WORK units were done: GiB sent, thousands of
# connections) as METRIC-cpu-mach (the whole machine over the client's window) and METRIC-cpu-proc
# (the client's process plus the server's, each over its own window), and a note with the parts.
# Programs without the CPU fields (an older --bin-dir) give n/a.
cpu_cost() {
  local metric=$1 p=$2 work=$3 unit=$4 k who
  local -A c
  for k in cpu_user_ms cpu_sys_ms mach_busy_ms mach_irq_ms mach_steal_ms mach_idle_ms cpu_wall_ms others_ms kthreads_ms; do
    c[cli_$k]=$(field "$cli_out" "$k") c[srv_$k]=$(field "$srv_out" "$k")
  done
  for k in "${!c[@]}"; do
    if ! [[ ${c[$k]} =~ ^-?[0-9.]+$ ]]; then
      val[$metric-cpu-mach,$p]="n/a" val[$metric-cpu-proc,$p]="n/a"
      who=client; [[ $k == srv_* ]] && who=server
      note[cpu $metric,$p]="no CPU figures: the $who's RESULT line has ${k#*_}='${c[$k]}'"
      return 0
    fi
  done
  if ! awk -v w="$work" 'BEGIN { exit !(w > 0) }'; then
    val[$metric-cpu-mach,$p]="n/a" val[$metric-cpu-proc,$p]="n/a"
    return 0
  fi
  set_val "$metric-cpu-mach" "$p" "$(awk -v m="${c[cli_mach_busy_ms]}" -v w="$work" 'BEGIN { printf "%.3f", m / w }')"
  set_val "$metric-cpu-proc" "$p" "$(awk -v a="${c[cli_cpu_user_ms]}" -v b="${c[cli_cpu_sys_ms]}" \
    -v x="${c[srv_cpu_user_ms]}" -v y="${c[srv_cpu_sys_ms]}" -v w="$work" 'BEGIN { printf "%.3f", (a + b + x + y) / w }')"
  # Other programs that took more than a tenth of the window's busy time inflate the machine's row.
  if awk -v o="${c[cli_others_ms]}" -v b="${c[cli_mach_busy_ms]}" 'BEGIN { exit !(o > 0.1 * b) }'; then
    mark[$metric-cpu-mach,$p]=" *"
    others_marked=1
  fi
  note[cpu $metric,$p]=$(awk -v cu="${c[cli_cpu_user_ms]}" -v cs="${c[cli_cpu_sys_ms]}" \
    -v su="${c[srv_cpu_user_ms]}" -v ss="${c[srv_cpu_sys_ms]}" -v mb="${c[cli_mach_busy_ms]}" \
    -v mi="${c[cli_mach_irq_ms]}" -v st="${c[cli_mach_steal_ms]}" -v id="${c[cli_mach_idle_ms]}" \
    -v wall="${c[cli_cpu_wall_ms]}" -v ot="${c[cli_others_ms]}" -v kt="${c[cli_kthreads_ms]}" -v w="$work" -v unit="$unit" \
    -v ck="$(kind_of "${p:0:1}")" -v sk="$(kind_of "${p:1:1}")" 'BEGIN {
      printf "%.2f %s; client (%s) %.0f ms (user %.0f, sys %.0f), server (%s) %.0f ms (user %.0f, sys %.0f); ",
        w, unit, ck, cu + cs, cu, cs, sk, su + ss, su, ss
      printf "machine %.0f ms busy in %.2f s = %.0f%% of its CPUs (irq+softirq %.0f ms, steal %.0f ms; ",
        mb, wall / 1000, (mb + id + st > 0 ? 100 * mb / (mb + id + st) : 0), mi, st
      printf "other processes %.0f ms, kernel threads %.0f ms)", ot, kt }')
}

run_bulk() { # metric port
  local metric=$1 port=$2 p p0 b0 p1 b1
  for p in "${pair_list[@]}"; do
    read -r p0 b0 <<<"$(loss_counter)"
    if measure "$metric" "$p" $((bulk_s + 90)) "--mode bulk --port $port" "--mode bulk --port $port --seconds $bulk_s"; then
      set_val "$metric" "$p" "$(field "$cli_out" mib_s)"
      cpu_cost "$metric" "$p" "$(awk -v b="$(field "$cli_out" bytes)" 'BEGIN { printf "%.6f", b / 1073741824 }')" GiB
      read -r p1 b1 <<<"$(loss_counter)"
      if [ "$metric" = loss ]; then
        note[$metric,$p]="$((p1 - p0)) packets dropped, $(awk -v b="$((b1 - b0))" -v t="$(field "$cli_out" bytes)" \
          'BEGIN { printf "%.1f MB = %.2f%% of the bytes sent", b / 1e6, (t > 0 ? 100 * b / t : 0) }')"
      fi
      log "$metric $p: $(field "$cli_out" mib_s) MiB/s ($(field "$cli_out" bytes) bytes in $(field "$cli_out" seconds) s, verified${note[$metric,$p]:+, ${note[$metric,$p]}})"
    else
      fail_val "$metric" "$p"
    fi
  done
}

# ---- the measurements -------------------------------------------------------------------------
# The machine's load before the measurements (busy and all ticks of /proc/stat's "cpu" line over
# one second): anything else running shows up in the whole-machine CPU rows.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }
read -r busy0 all0 <<<"$(machine_ticks)"
sleep 1
read -r busy1 all1 <<<"$(machine_ticks)"
idle_load=$(awk -v b="$((busy1 - busy0))" -v a="$((all1 - all0))" 'BEGIN { printf "%.0f", (a > 0 ? 100 * b / a : 0) }')
log "machine load before the measurements: ${idle_load}% of $(nproc) CPUs busy"
t_start=$(date +%s)
if want bulk; then
  log "bulk: one connection, ${bulk_s} s, MTU 1500"
  run_bulk bulk 5201
fi
# Segmentation offload of the veth pair on or off (ethtool; a no-op without it).
veth_offload() {
  command -v ethtool >/dev/null 2>&1 || { log "ethtool not found: GSO aggregates cross the veth"; return 0; }
  ip netns exec "$NS_A" ethtool -K "${prefix}va" tso "$1" gso "$1" gro "$1" >/dev/null 2>&1 || true
  ip netns exec "$NS_B" ethtool -K "${prefix}vb" tso "$1" gso "$1" gro "$1" >/dev/null 2>&1 || true
}
if want loss; then
  if command -v nft >/dev/null 2>&1; then
    log "bulk under ${loss_pct}% loss (nftables on ${prefix}vb, both directions)"
    bash "$here/netns-up.sh" --prefix "$prefix" --loss "$loss_pct" --loss-chain wire -q >"$logs/netns-loss.out" 2>&1 ||
      { cat "$logs/netns-loss.out" >&2; log "FAIL: netns-up.sh --loss"; exit 1; }
    # The rule should drop 1% of the wire's packets: without segmentation offload on the veth
    # pair the kernel cuts GSO aggregates (its own and ustack's TSO super-packets) into MTU-sized
    # packets before the veth, so one drop removes one segment, as on a real link.
    veth_offload off
    run_bulk loss 5202
    veth_offload on
    bash "$here/netns-up.sh" --prefix "$prefix" --loss 0 -q >"$logs/netns-noloss.out" 2>&1 ||
      { cat "$logs/netns-noloss.out" >&2; log "FAIL: netns-up.sh --loss 0"; exit 1; }
  else
    log "loss: skipped, nft not found (scripts/install-deps.sh installs nftables)"
    for p in "${pair_list[@]}"; do val[loss,$p]="n/a" val[loss-cpu-mach,$p]="n/a" val[loss-cpu-proc,$p]="n/a"; done
  fi
fi
if want rtt; then
  log "rtt: 1-byte ping-pong, $rtts round trips"
  for p in "${pair_list[@]}"; do
    if measure rtt "$p" 120 "--mode pingpong --port 5203" "--mode pingpong --port 5203 --count $rtts"; then
      set_val p50 "$p" "$(field "$cli_out" p50_us)"
      set_val p99 "$p" "$(field "$cli_out" p99_us)"
      log "rtt $p: median $(field "$cli_out" p50_us) us, p99 $(field "$cli_out" p99_us) us (mean $(field "$cli_out" mean_us), max $(field "$cli_out" max_us))"
    else
      fail_val p50 "$p"; fail_val p99 "$p"
    fi
  done
fi
if want msg && want_pair uu; then
  # Stream and message sockets alternate, twice (S M S M), so that both see the same machine:
  # the ratios compare sockets, not moments of a shared host.
  log "msg: ustack<->ustack, stream and message-oriented sockets alternating twice: bulk ${bulk_s} s (message socket: 64 KiB messages), $rtts 1-byte round trips"
  for r in 1 2; do
    for kind in s m; do
      flag="" what="stream"
      [ "$kind" = m ] && flag="--message" what="message"
      if measure "${kind}bulk$r" uu $((bulk_s + 90)) "--mode bulk --port 5206 $flag" "--mode bulk --port 5206 --seconds $bulk_s $flag"; then
        set_val "${kind}bulk$r" uu "$(field "$cli_out" mib_s)"
        cpu_cost "${kind}bulk$r" uu "$(awk -v b="$(field "$cli_out" bytes)" 'BEGIN { printf "%.6f", b / 1073741824 }')" GiB
        log "msg round $r: $what bulk uu: $(field "$cli_out" mib_s) MiB/s ($(field "$cli_out" bytes) bytes$([ "$kind" = m ] && echo ", $(field "$cli_out" messages) messages of 64 KiB, $(field "$srv_out" messages) received whole"), verified)"
      else
        fail_val "${kind}bulk$r" uu
      fi
    done
    for kind in s m; do
      flag="" what="stream"
      [ "$kind" = m ] && flag="--message" what="message"
      if measure "${kind}rtt$r" uu 120 "--mode pingpong --port 5207 $flag" "--mode pingpong --port 5207 --count $rtts $flag"; then
        set_val "${kind}p50$r" uu "$(field "$cli_out" p50_us)"
        set_val "${kind}p99$r" uu "$(field "$cli_out" p99_us)"
        log "msg round $r: $what rtt uu: median $(field "$cli_out" p50_us) us, p99 $(field "$cli_out" p99_us) us (mean $(field "$cli_out" mean_us), max $(field "$cli_out" max_us))"
      else
        fail_val "${kind}p50$r" uu; fail_val "${kind}p99$r" uu
      fi
    done
  done
elif want msg; then
  log "msg: skipped (message sockets are ustack<->ustack only; pair uu not selected)"
fi
if want connrate; then
  log "connrate: $conn_threads clients, ${conn_s} s"
  for p in "${pair_list[@]}"; do
    sx="" cx=""
    if [ "$p" = uu ]; then sx="--disconnect-data --disc-data" cx="--disconnect-data --disc-data"; fi
    [ "${p:0:1}" = u ] && cx="$cx --msl-ms $conn_msl_ms"
    if measure connrate "$p" $((conn_s + 90)) "--mode connrate --port 5204 --threads $conn_threads $sx" \
         "--mode connrate --port 5204 --threads $conn_threads --seconds $conn_s $cx"; then
      set_val connrate "$p" "$(field "$cli_out" conn_s)"
      cpu_cost connrate "$p" "$(awk -v n="$(field "$cli_out" conns)" 'BEGIN { printf "%.6f", n / 1000 }')" "thousand connections"
      errs=$(field "$cli_out" errors)
      if [ "$errs" != 0 ]; then
        note[connrate,$p]="$errs failed connections: $(field "$cli_out" error_kinds)"
      fi
      log "connrate $p: $(field "$cli_out" conn_s)/s ($(field "$cli_out" conns) connections, server served $(field "$srv_out" served); client errors: $(field "$cli_out" error_kinds); server errors: $(field "$srv_out" error_kinds)$( [ "$p" = uu ] && echo '; disconnect data both ways'))"
    else
      fail_val connrate "$p"
    fi
  done
  # Connect data (DESIGN.md §3c): the same run with 16 bytes of caller data on every SYN,
  # checked by the server's condition function; then with SO_CONDITIONAL_ACCEPT and 16 bytes of
  # callee data back (checked by the client); their ratios to the plain uu run above.
  if want_pair uu; then
    for variant in cd cond; do
      cd_x="--disconnect-data --disc-data --connect-data"
      [ "$variant" = cond ] && cd_x="$cd_x --conditional"
      if measure "connrate-$variant" uu $((conn_s + 90)) "--mode connrate --port 5208 --threads $conn_threads $cd_x" \
           "--mode connrate --port 5208 --threads $conn_threads --seconds $conn_s $cd_x --msl-ms $conn_msl_ms"; then
        set_val "connrate$variant" uu "$(field "$cli_out" conn_s)"
        log "connrate uu with connect data ($variant): $(field "$cli_out" conn_s)/s ($(field "$cli_out" conns) connections, server served $(field "$srv_out" served); client errors: $(field "$cli_out" error_kinds); server errors: $(field "$srv_out" error_kinds))"
      else
        fail_val "connrate$variant" uu
      fi
    done
  fi
fi
if want mem; then
  log "mem: $hold_n idle connections"
  for p in "${pair_list[@]}"; do
    if measure mem "$p" 240 "--mode hold --port 5205 --count $hold_n --settle-ms $settle_ms --hold-ms $hold_ms" \
         "--mode hold --port 5205 --count $hold_n --settle-ms $settle_ms"; then
      cb=$(field "$cli_out" bytes_per_conn) sb=$(field "$srv_out" bytes_per_conn)
      case $p in
        ll)
          k=$(field "$srv_out" kmem_delta_bytes)
          if [ -n "$k" ]; then
            set_val mem ll "$(awk -v k="$k" -v n="$hold_n" 'BEGIN { printf "%.0f", k / (2 * n) }')"
            note[mem,ll]="kernel: $k bytes for $hold_n connections = $((2 * hold_n)) sockets ($(field "$srv_out" kslab_delta_bytes) slab, $(field "$srv_out" ktcp_mem_pages_delta) sockstat pages)"
          else
            val[mem,ll]="n/a"; note[mem,ll]="no /proc/slabinfo"
          fi ;;
        uu)
          set_val mem uu "$(awk -v a="$cb" -v b="$sb" 'BEGIN { printf "%.0f", (a + b) / 2 }')"
          note[mem,uu]="client host A $cb B/conn, server host B $sb B/conn" ;;
        ul)
          set_val mem ul "$cb"
          k=$(field "$srv_out" kmem_delta_bytes)
          note[mem,ul]="ustack client host; the Linux server's kernel: $(awk -v k="${k:-0}" -v n="$hold_n" 'BEGIN { printf "%.0f", k / n }') B/socket" ;;
        lu)
          set_val mem lu "$sb"
          k=$(field "$cli_out" kmem_delta_bytes)
          note[mem,lu]="ustack server host; the Linux client's kernel: $(awk -v k="${k:-0}" -v n="$hold_n" 'BEGIN { printf "%.0f", k / n }') B/socket" ;;
      esac
      log "mem $p: ${val[mem,$p]} B per connection (${note[mem,$p]})"
    else
      fail_val mem "$p"
    fi
  done
fi
t_total=$(($(date +%s) - t_start))

# ---- the table --------------------------------------------------------------------------------
# cell METRIC PAIR DECIMALS: the value, and its ratio to ll (and a mark, if any).
cell() {
  local v=${val[$1,$2]:-} base=${val[$1,ll]:-} m=${mark[$1,$2]:-}
  if [ -z "$v" ]; then echo "-"; return; fi
  if ! [[ $v =~ ^[0-9.]+$ ]]; then echo "$v"; return; fi
  if [ "$2" = ll ] || ! [[ $base =~ ^[0-9.]+$ ]]; then
    awk -v v="$v" -v d="$3" -v m="$m" 'BEGIN { printf "%.*f%s", d, v, m }'
  else
    awk -v v="$v" -v b="$base" -v d="$3" -v m="$m" 'BEGIN { if (b > 0) printf "%.*f (%.2fx)%s", d, v, v / b, m; else printf "%.*f%s", d, v, m }'
  fi
}

# msg_row BASE METRIC DECIMALS: the msg measurement's cells "stream | message | ratio" for METRIC
# (bulk, p50, p99, or bulk-cpu-mach / bulk-cpu-proc for the bulk runs' CPU), both rounds each.
msg_row() {
  local metric=$2 d=$3 k r v cells=() means=()
  for k in s m; do
    local vs=() ok=1
    for r in 1 2; do
      case $metric in
        bulk-cpu-*) v=${val[${k}bulk$r-cpu-${metric#bulk-cpu-},uu]:-} ;;
        *) v=${val[${k}$metric$r,uu]:-} ;;
      esac
      if [[ $v =~ ^[0-9.]+$ ]]; then v=$(awk -v v="$v" -v d="$d" 'BEGIN { printf "%.*f", d, v }'); else ok=0; fi
      vs+=("${v:--}")
    done
    cells+=("${vs[0]} / ${vs[1]}")
    if [ "$ok" = 1 ]; then means+=("$(awk -v a="${vs[0]}" -v b="${vs[1]}" 'BEGIN { printf "%.6f", (a + b) / 2 }')"); else means+=(""); fi
  done
  local ratio="-"
  if [ -n "${means[0]}" ] && [ -n "${means[1]}" ]; then
    ratio=$(awk -v s="${means[0]}" -v m="${means[1]}" 'BEGIN { if (s > 0) printf "%.2fx", m / s; else print "-" }')
  fi
  echo "${cells[0]} | ${cells[1]} | $ratio"
}

# plain_cell METRIC PLAIN-METRIC DECIMALS: uu's figure and its ratio to uu's plain one.
plain_cell() {
  local v=${val[$1,uu]:-} base=${val[$2,uu]:-}
  if [ -z "$v" ]; then echo "-"; return; fi
  if ! [[ $v =~ ^[0-9.]+$ ]] || ! [[ $base =~ ^[0-9.]+$ ]]; then echo "$v"; return; fi
  awk -v v="$v" -v b="$base" -v d="$3" 'BEGIN { if (b > 0) printf "%.*f (%.2fx plain)", d, v, v / b; else printf "%.*f", d, v }'
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[ -n "$cpu" ] || cpu=$(uname -m)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD 2>/dev/null || commit="$commit (with local changes)"
# How this kernel accounts interrupt time, for the CPU notes.
kconfig=$( { zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null || true; } |
  grep -E '^CONFIG_(IRQ_TIME_ACCOUNTING|TICK_CPU_ACCOUNTING|VIRT_CPU_ACCOUNTING_GEN)=y' || true)
case $kconfig in
  *IRQ_TIME_ACCOUNTING*) irq_acct="this kernel accounts irq time apart: softirqs are not in the processes' figures" ;;
  *TICK_CPU_ACCOUNTING*) irq_acct="this kernel samples ticks: a softirq is charged to the process it interrupts" ;;
  *) irq_acct="how this kernel charges softirqs is unknown" ;;
esac

rows=()
want bulk && rows+=("bulk|bulk MiB/s, 1 connection, MTU 1500 (higher is better)|1")
want loss && rows+=("loss|bulk MiB/s under ${loss_pct}% loss (higher is better)|1")
want rtt && rows+=("p50|round trip median us, 1 byte (lower is better)|1")
want rtt && rows+=("p99|round trip p99 us, 1 byte (lower is better)|1")
want connrate && rows+=("connrate|connections/s, $conn_threads clients (higher is better)|0")
want mem && rows+=("mem|memory bytes per idle connection (lower is better)|0")
declare -A cpu_per=([bulk]="GiB of bulk" [loss]="GiB under ${loss_pct}% loss" [connrate]="1,000 connections")
for m in bulk loss connrate; do
  want "$m" || continue
  rows+=("$m-cpu-mach|CPU ms per ${cpu_per[$m]}, whole machine (lower is better)|0")
  rows+=("$m-cpu-proc|CPU ms per ${cpu_per[$m]}, both ends' processes (lower is better)|0")
done

declare -A title=([ll]="Linux<->Linux" [uu]="ustack<->ustack" [ul]="ustack->Linux" [lu]="Linux->ustack")
table=$logs/table.txt
{
  echo "ustack benchmark ($( [ "$quick" = 1 ] && echo 'quick mode: smoke figures only' || echo 'full run'))"
  echo
  echo "- command: $cmdline"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); ustack $commit; run time ${t_total} s"
  echo "- kernel: $(uname -r); CPU: $cpu, $(nproc) cores"
  echo "- bulk ${bulk_s} s per run; $rtts round trips; connrate ${conn_s} s; $hold_n held connections"
  echo "- congestion control: Linux $linux_cc (the namespaces' default), ustack $ustack_cc"
  echo
  header="| measurement |"
  sep="|---|"
  for p in "${pair_list[@]}"; do header+=" ${title[$p]} |"; sep+="---:|"; done
  if [ "${#rows[@]}" -gt 0 ]; then
    echo "$header"
    echo "$sep"
    for r in "${rows[@]}"; do
      IFS='|' read -r metric label dec <<<"$r"
      line="| $label |"
      for p in "${pair_list[@]}"; do line+=" $(cell "$metric" "$p" "$dec") |"; done
      echo "$line"
    done
    echo
  fi
  if want msg && want_pair uu; then
    echo "Stream and message-oriented sockets (SOCK_SEQPACKET), ustack<->ustack, measured alternately"
    echo "(stream, message, stream, message); each cell gives both rounds, the ratio is message to stream"
    echo "over the two rounds' means (bulk: the stream socket sends 128 KiB per call, the message socket"
    echo "64 KiB messages; round trips: 1 byte, 1-byte messages):"
    echo
    echo "| measurement | stream socket | message socket | message / stream |"
    echo "|---|---:|---:|---:|"
    echo "| bulk MiB/s (higher is better) | $(msg_row bulk bulk 1) |"
    echo "| round trip median us (lower is better) | $(msg_row p50 p50 1) |"
    echo "| round trip p99 us (lower is better) | $(msg_row p99 p99 1) |"
    echo "| CPU ms per GiB of bulk, whole machine (lower is better) | $(msg_row bulk bulk-cpu-mach 0) |"
    echo "| CPU ms per GiB of bulk, both ends' processes (lower is better) | $(msg_row bulk bulk-cpu-proc 0) |"
    echo
  fi
  if want connrate && want_pair uu; then
    echo "Connect data (DESIGN.md §3c), ustack<->ustack: 16 bytes of caller data on every SYN, checked"
    echo "by WSPAccept's condition function; and with SO_CONDITIONAL_ACCEPT (each SYN waits for the"
    echo "function), which answers 16 bytes of callee data; ratios to the plain ustack<->ustack"
    echo "connrate above:"
    echo
    echo "| measurement | ustack<->ustack, connect data |"
    echo "|---|---:|"
    echo "| connections/s, $conn_threads clients, caller data + condition function (higher is better) | $(plain_cell connratecd connrate 0) |"
    echo "| connections/s, $conn_threads clients, SO_CONDITIONAL_ACCEPT + callee data (higher is better) | $(plain_cell connratecond connrate 0) |"
    echo
  fi
  echo "Ratios in parentheses are to Linux<->Linux of this run: above 1 is faster for MiB/s and"
  echo "connections/s, and slower (worse) for round trips and memory."
  echo
  echo "Notes:"
  echo "- Clients run in namespace A, servers in B; Linux programs on the kernel's veth addresses,"
  echo "  ustack hosts behind each namespace's tun0, so ustack traffic also passes the TUN device and"
  echo "  the kernel's forwarding in the ustack host's namespace."
  if want loss; then
    echo "- Loss: nftables drops ${loss_pct}% of the packets it sees on B's veth, both directions, with"
    echo "  segmentation offload (TSO/GSO/GRO) off on the veth pair during the loss runs, so the rule"
    echo "  sees MTU-sized packets and one drop removes one segment, as on a real link."
  fi
  echo "- Buffers: ustack bulk hosts use 4 MiB send/receive buffers (WSPHOSTCONFIG; WSPSetSockOpt has"
  echo "  no SO_SNDBUF/SO_RCVBUF); Linux autotunes (tcp_rmem/tcp_wmem). TCP_NODELAY on for round trips"
  echo "  and connrate."
  echo "- connrate: ustack clients run with MSL ${conn_msl_ms} ms (TIME-WAIT $((2 * conn_msl_ms)) ms) so 16,384"
  echo "  ephemeral ports last the run; Linux clients with net.ipv4.tcp_tw_reuse=1."
  echo "- memory: ustack = process RSS (VmRSS) after minus before, per connection; Linux<->Linux ="
  echo "  kernel slab (TCP, request_sock_TCP, tcp_bind_bucket, tcp_bind2_bucket, sock_inode_cache, filp,"
  echo "  dentry; whole slabs) + /proc/net/sockstat TCP mem pages, after minus before, per socket (both"
  echo "  ends counted, / 2N). Slab counts are kernel-wide, so other activity adds noise."
  if want bulk || want loss || want connrate; then
    echo "- CPU: CPU time per GiB sent (bulk, loss) and per 1,000 completed connections (connrate)."
    echo "  Whole machine = /proc/stat over the client's measurement window (first send to the"
    echo "  receiver's report; connrate: the clients' ${conn_s} s), all $(nproc) CPUs, user + nice + system +"
    echo "  irq + softirq (not steal, idle, iowait; guest time is inside user). It counts both"
    echo "  programs, the kernel's TCP of Linux ends, the TUN devices and forwarding of ustack ends, and"
    echo "  anything else that ran. Linux's TCP is kernel time, much of it softirqs charged to"
    echo "  whatever they interrupt (the sender's system call, another process, an idle CPU) or run in"
    echo "  ksoftirqd, so this row is the fair comparison; on a saturated machine it is about"
    echo "  $(nproc) CPUs x the window / the work. Both ends' processes = user + system time of the client"
    echo "  and of the server program (getrusage, all threads), each over its own window (client as"
    echo "  above, server from listening to the end of its work): ustack's own cost, with the system"
    echo "  calls it makes; for a Linux end the kernel's TCP in its system calls and softirqs that"
    echo "  interrupted it ($irq_acct)."
    echo "  The notes below give the other processes' and kernel threads' share of each window, and"
    echo "  the machine was ${idle_load}% busy over 1 s before the measurements."
    if [ "$others_marked" = 1 ]; then
      echo "- *: other processes took more than 10% of the machine's busy time in that window (see"
      echo "  its cpu note): that whole-machine figure counts them too."
    fi
  fi
  for key in "${!note[@]}"; do
    m=${key%%,*} p=${key#*,}
    echo "- $m ${title[$p]}: ${note[$key]}"
  done | sort
  if [ "$failures" -ne 0 ]; then
    echo "- $failures measurement(s) FAILED; the programs' output is in $logs"
  fi
} >"$table"
cat "$table"
mkdir -p "$(dirname "$out")"
cp "$table" "$out"
log "table written to $out"
if [ "$failures" -ne 0 ]; then
  log "FAILED: $failures measurement(s) could not be taken"
  exit 1
fi
exit 0
