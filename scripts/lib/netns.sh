# shellcheck shell=bash disable=SC2034
# scripts/lib/netns.sh — helpers shared by scripts/netns-up.sh and scripts/netns-down.sh.
# Source it (bash only); it defines functions and, after netns_set_prefix PREFIX, these names:
#
#   NETNS_A / NETNS_B       namespaces          ${prefix}-a / ${prefix}-b
#   NETNS_VETH_A / _B       veth ends           ${prefix}va (in A) / ${prefix}vb (in B)
#   NETNS_TUN               TUN device in each  tun0
#
# and the fixed address plan (the same in every pair; pairs are isolated from each other):
#
#   A: veth 10.0.0.1/30, tun0 10.0.1.1/24, ustack A at 10.0.1.2, route 10.0.2.0/24 via 10.0.0.2
#   B: veth 10.0.0.2/30, tun0 10.0.2.1/24, ustack B at 10.0.2.2, route 10.0.1.0/24 via 10.0.0.1

NETNS_DEFAULT_PREFIX=ust
NETNS_TUN=tun0
NETNS_VETH_ADDR_A=10.0.0.1
NETNS_VETH_ADDR_B=10.0.0.2
NETNS_VETH_PLEN=30
NETNS_TUN_ADDR_A=10.0.1.1
NETNS_TUN_ADDR_B=10.0.2.1
NETNS_TUN_PLEN=24
NETNS_HOST_A=10.0.1.2
NETNS_HOST_B=10.0.2.2
NETNS_NET_A=10.0.1.0/24
NETNS_NET_B=10.0.2.0/24
NETNS_NFT_TABLE=ustack_loss

netns_prog=${netns_prog:-$(basename "$0")}

netns_log() { printf '%s: %s\n' "$netns_prog" "$*"; }
netns_warn() { printf '%s: warning: %s\n' "$netns_prog" "$*" >&2; }
netns_die() {
  printf '%s: error: %s\n' "$netns_prog" "$*" >&2
  exit 1
}

# netns_set_prefix PREFIX — validate PREFIX and derive the names above. Interface names are
# limited to 15 characters (IFNAMSIZ-1), so "${prefix}va" allows a prefix of at most 13.
netns_set_prefix() {
  local p=$1
  [[ $p =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] ||
    netns_die "bad --prefix '$p': use letters, digits, '_' and '-', starting with a letter or digit"
  ((${#p} <= 13)) || netns_die "--prefix '$p' is ${#p} characters; at most 13 (interface '${p}va' must fit in 15)"
  NETNS_PREFIX=$p
  NETNS_A="$p-a"
  NETNS_B="$p-b"
  NETNS_VETH_A="${p}va"
  NETNS_VETH_B="${p}vb"
}

netns_require_root() {
  [ "$(id -u)" -eq 0 ] || netns_die "must run as root (network namespaces, veth, TUN)"
}

# netns_require_tool NAME [PACKAGE]
netns_require_tool() {
  command -v "$1" >/dev/null 2>&1 ||
    netns_die "'$1' not found; install ${2:-$1} (scripts/install-deps.sh)"
}

# netns_exists NAME — true if a named network namespace NAME exists.
netns_exists() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$1"
}

# netns_link_exists NS IFNAME
netns_link_exists() {
  ip -n "$1" link show dev "$2" >/dev/null 2>&1
}

# netns_sysctl NS KEY VALUE — set a sysctl inside NS (per-namespace keys only).
netns_sysctl() {
  ip netns exec "$1" sysctl -q -w "$2=$3" >/dev/null
}
