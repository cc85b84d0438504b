#!/usr/bin/env bash
# e2e: ustack <-> Linux TCP bulk transfer, both roles, both directions at once (duplex), with a
# SHA-256 check of every byte; optionally under random loss on the wire.
#
#   bulk.sh APPS_DIR [--bytes N] [--loss PCT]
#
# Role 1: ustack A (10.0.1.2, ns P-a) connects to a Linux server on 10.0.0.2 (ns P-b).
# Role 2: a Linux client on 10.0.0.2 connects to ustack A listening on 10.0.1.2.
# Each side sends N bytes while receiving N bytes, then shuts down its send side; each side's
# "sha256 sent" must equal the other side's "sha256 recv". With --loss the nftables rule sits on
# P-b's veth in both directions (--loss-chain wire), so it hits the Linux peer's traffic too.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
apps=$1; shift
bytes=64M loss=
while [ $# -gt 0 ]; do
  case $1 in
    --bytes) bytes=$2; shift 2 ;;
    --loss) loss=$2; shift 2 ;;
    *) echo "bulk.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
e2e_init "bulk${loss:+-loss$loss}" "$apps"
if [ -n "$loss" ]; then
  command -v nft >/dev/null 2>&1 || { e2e_log "SKIP: nft not found"; exit 77; }
  e2e_net --loss "$loss" --loss-chain wire
else
  e2e_net
fi
limit=${E2E_TRANSFER_LIMIT:-$([ -n "$loss" ] && echo 140 || echo 90)}
# Under loss each ustack host also writes its own pcap into the log directory (evidence if a
# transfer stalls).
pcap1=() pcap2=()
if [ -n "$loss" ]; then pcap1=(--pcap "$E2E_DIR/ustack1.pcap"); pcap2=(--pcap "$E2E_DIR/ustack2.pcap"); fi
e2e_log "transfer: $bytes each way${loss:+, $loss% loss on the wire}"

check_pair() { # ustack-name linux-name role
  local u=$1 l=$2 role=$3 us ur ls lr
  us=$(e2e_field "$u" '^sha256 sent' 3); ur=$(e2e_field "$u" '^sha256 recv' 3)
  ls=$(e2e_field "$l" '^sha256 sent' 3); lr=$(e2e_field "$l" '^sha256 recv' 3)
  e2e_log "$role: ustack sent $(e2e_field "$u" '^sha256 sent' 4) B, $(e2e_field "$u" '^rate sent' 3) MiB/s; received $(e2e_field "$u" '^sha256 recv' 4) B, $(e2e_field "$u" '^rate recv' 3) MiB/s"
  [ -n "$us" ] && [ "$us" = "$lr" ] && r=0 || r=1; e2e_check $r "$role: ustack -> Linux SHA-256 matches (${us:0:16}…)"
  [ -n "$ls" ] && [ "$ls" = "$ur" ] && r=0 || r=1; e2e_check $r "$role: Linux -> ustack SHA-256 matches (${ls:0:16}…)"
  [ "$(e2e_field "$u" '^sha256 recv' 4)" = "$(e2e_field "$l" '^sha256 sent' 4)" ] && r=0 || r=1; e2e_check $r "$role: byte counts match"
}

# Role 1: ustack client, Linux server.
t0=$(date +%s.%N)
e2e_bg linux1 "$limit" ip netns exec "$NS_B" python3 "$here/linux_peer.py" --listen 10.0.0.2 --port 9000 \
  --mode duplex --bytes "$bytes" --seed 7 --timeout "$limit"
e2e_wait_line linux1 '^listening' 10
e2e_bg ustack1 "$limit" ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --stats "${pcap1[@]}" \
  --connect 10.0.0.2 --port 9000 --mode duplex --bytes "$bytes" --seed 3 --timeout-ms $((limit * 1000))
e2e_wait ustack1 "$limit"; e2e_check $E2E_RC "role 1 (ustack client): ustack-peer exit 0"
e2e_wait linux1 10; e2e_check $E2E_RC "role 1: Linux server exit 0"
e2e_log "role 1 took $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s"
check_pair ustack1 linux1 "role 1 (ustack client)"

# Role 2: Linux client, ustack server.
t0=$(date +%s.%N)
e2e_bg ustack2 "$limit" ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --stats "${pcap2[@]}" \
  --listen --port 9001 --mode duplex --bytes "$bytes" --seed 5 --timeout-ms $((limit * 1000))
e2e_wait_line ustack2 '^listening' 10
e2e_bg linux2 "$limit" ip netns exec "$NS_B" python3 "$here/linux_peer.py" --connect 10.0.1.2 --bind 10.0.0.2 \
  --port 9001 --mode duplex --bytes "$bytes" --seed 9 --timeout "$limit"
e2e_wait ustack2 "$limit"; e2e_check $E2E_RC "role 2 (ustack server): ustack-peer exit 0"
e2e_wait linux2 10; e2e_check $E2E_RC "role 2: Linux client exit 0"
e2e_log "role 2 took $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s"
check_pair ustack2 linux2 "role 2 (ustack server)"

if [ -n "$loss" ]; then
  e2e_log "loss rule: $(ip netns exec "$NS_B" nft list table inet ustack_loss 2>/dev/null | grep -o 'counter packets [0-9]* bytes [0-9]*' | tr '\n' ' ')"
  for u in ustack1 ustack2; do
    e2e_log "$u: $(grep -E '^(retransmissions|fast_retransmits|retransmission_timeouts) ' "$E2E_DIR/$u.out" | tr '\n' ' ')"
  done
fi
e2e_finish
