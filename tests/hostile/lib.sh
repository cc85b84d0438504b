# shellcheck shell=bash
# tests/hostile/lib.sh — shared by the hostile-peer tests (source after `set -euo pipefail`).
# Builds on tests/e2e/lib.sh (namespaces with a unique prefix, EXIT trap that stops what the test
# started by PID and deletes the namespaces, waits on log lines, checks) and adds:
#
#   h_init NAME APPS_DIR HOSTILE_DIR   e2e_init + the crafter and the hostile server built
#   h_net [netns-up args]              e2e_net + the spoof subnet 10.0.9.0/24: P-a routes it to
#                                      P-b, where it is a blackhole -- the ustack host's answers
#                                      to crafted/spoofed peers cross the veth (the crafter's
#                                      sniffer sees them) and then vanish (no kernel RST)
#   h_val NAME KEY                     the value of the first "KEY value" line in NAME.out
#   h_server NAME LIMIT ARGS...        ustack-hostile-server on ustack A (10.0.1.2) in P-a
#   h_crafter NAME LIMIT CMD ARGS...   ustack-crafter in P-b, sniffing P-b's veth
#   h_figure TEXT                      a "FIGURE" line (the report greps for them)
#
# Address plan: ustack A 10.0.1.2 (P-a), Linux peer 10.0.0.2 (P-b), crafted peers 10.0.9.x.
HOSTILE_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
. "$HOSTILE_HERE/../e2e/lib.sh"

SPOOF_NET=10.0.9.0
CRAFTED_SRC=10.0.9.7

h_init() {
  e2e_init "$1" "$2"
  H_BIN=$(cd "${3:?hostile bin dir}" && pwd)
  for b in ustack-crafter ustack-hostile-server; do
    [ -x "$H_BIN/$b" ] || { e2e_log "FAIL: $H_BIN/$b not built"; exit 1; }
  done
  E2E_PY=$HOSTILE_HERE/../e2e/linux_peer.py
}

h_net() {
  e2e_net "$@"
  ip -n "$NS_A" route replace "$SPOOF_NET/24" via 10.0.0.2 dev "$VETH_A"
  ip -n "$NS_B" route replace blackhole "$SPOOF_NET/24"
}

h_val() { { grep -E -- "^$2 " "$E2E_DIR/$1.out" || true; } | head -1 | awk '{print $2}'; }

h_server() {
  local name=$1 limit=$2
  shift 2
  e2e_bg "$name" "$limit" ip netns exec "$NS_A" "$H_BIN/ustack-hostile-server" "${HOST_A[@]}" "$@"
  e2e_wait_line "$name" '^listening' 10
}

h_crafter() {
  local name=$1 limit=$2
  shift 2
  e2e_bg "$name" "$limit" ip netns exec "$NS_B" "$H_BIN/ustack-crafter" "$@" --iface "$VETH_B"
}

h_figure() { e2e_log "FIGURE $*"; }

# Packets the kernel dropped on their way into the ustack host of namespace A (tun0's TX queue
# full: the host read too slowly) -- what a crafted segment count must be reduced by to be what
# actually reached the host.
h_tun_drops() { ip netns exec "$NS_A" cat /sys/class/net/tun0/statistics/tx_dropped 2>/dev/null || echo 0; }
