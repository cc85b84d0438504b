#!/usr/bin/env bash
# netns-up.sh — create the two-host test network of DESIGN.md §5 (needs root).
#
# Usage: scripts/netns-up.sh [--prefix P] [--loss PCT] [--loss-chain forward|wire] [--mtu N]
#                            [--multi-queue] [-q]
#
#   ns P-a:  tun0 10.0.1.1/24 ── ustack A at 10.0.1.2 (gateway 10.0.1.1) ;  Pva 10.0.0.1/30
#   ns P-b:  tun0 10.0.2.1/24 ── ustack B at 10.0.2.2 (gateway 10.0.2.1) ;  Pvb 10.0.0.2/30
#   routes:  P-a 10.0.2.0/24 via 10.0.0.2 ; P-b 10.0.1.0/24 via 10.0.0.1 ; ip_forward=1 in both
#
# tun0 is a persistent TUN device (mode tun, no packet info) that the ustack process opens with
# IFF_TUN|IFF_NO_PI (plus IFF_VNET_HDR if it wants offloads); until then it shows NO-CARRIER.
# The kernel of each namespace can run ordinary Linux programs too (10.0.0.x, 10.0.1.1, 10.0.2.1).
#
#   --prefix P      names: namespaces P-a, P-b; veth Pva/Pvb (default: ust; at most 13 chars), so
#                   several networks can exist side by side (they reuse the same addresses, which
#                   is fine: each pair is isolated)
#   --loss PCT      drop PCT percent (0-100, up to two decimals) of the packets, at random, with an
#                   nftables rule (table inet ustack_loss, with a counter) in P-b. 0 or no --loss
#                   removes the rule.
#   --loss-chain C  forward (default): in P-b's forward chain, i.e. packets routed through P-b
#                   (ustack A <-> ustack B, both directions, each packet once).
#                   wire: on P-b's veth in both directions (prerouting iif / postrouting oif), so
#                   it also hits traffic to and from Linux programs in P-b (interop tests).
#   --mtu N         MTU of the veth pair and both tun0 (default 1500)
#   --multi-queue   create tun0 with IFF_MULTI_QUEUE (the attaching process must then use it too)
#   -q              print only errors and the final summary
#
# Idempotent: running it again converges an existing pair to the options given (e.g. changes or
# removes the loss rule, the MTU). Exits non-zero with a message on failure; if it created a
# namespace in this run and then failed, it deletes what it created. Undo with netns-down.sh.
set -Eeuo pipefail

# readlink: installed, the script is reached through a symlink (bin/ustack-netns-*).
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
netns_prog=netns-up
# shellcheck source-path=SCRIPTDIR source=lib/netns.sh
. "$here/lib/netns.sh"

usage() { sed -n '2,/^set -Eeuo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

prefix=$NETNS_DEFAULT_PREFIX
loss=
loss_chain=forward
mtu=1500
multi_queue=0
quiet=0
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || netns_die "--prefix needs a value"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --loss) [ $# -ge 2 ] || netns_die "--loss needs a value"; loss=$2; shift 2 ;;
    --loss=*) loss=${1#*=}; shift ;;
    --loss-chain) [ $# -ge 2 ] || netns_die "--loss-chain needs a value"; loss_chain=$2; shift 2 ;;
    --loss-chain=*) loss_chain=${1#*=}; shift ;;
    --mtu) [ $# -ge 2 ] || netns_die "--mtu needs a value"; mtu=$2; shift 2 ;;
    --mtu=*) mtu=${1#*=}; shift ;;
    --multi-queue) multi_queue=1; shift ;;
    -q | --quiet) quiet=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) netns_die "unknown argument '$1' (see --help)" ;;
  esac
done

netns_set_prefix "$prefix"
say() { [ "$quiet" = 1 ] || netns_log "$@"; }

# --loss: percentage with up to two decimals -> basis points for "numgen random mod 10000 < BP".
loss_bp=0
if [ -n "$loss" ]; then
  [[ $loss =~ ^([0-9]{1,3})(\.([0-9]{1,2}))?$ ]] ||
    netns_die "bad --loss '$loss': a percentage 0-100 with at most two decimals"
  frac=${BASH_REMATCH[3]:-0}
  [ ${#frac} -eq 1 ] && frac="${frac}0"
  loss_bp=$((10#${BASH_REMATCH[1]} * 100 + 10#$frac))
  ((loss_bp <= 10000)) || netns_die "bad --loss '$loss': more than 100"
fi
case $loss_chain in forward | wire) ;; *) netns_die "bad --loss-chain '$loss_chain': forward or wire" ;; esac
if ! [[ $mtu =~ ^[0-9]{1,5}$ ]] || ((10#$mtu < 68 || 10#$mtu > 65535)); then
  netns_die "bad --mtu '$mtu': 68..65535"
fi
mtu=$((10#$mtu))

netns_require_root
netns_require_tool ip iproute2
if [ ! -c /dev/net/tun ]; then
  modprobe tun 2>/dev/null || true
  [ -c /dev/net/tun ] || netns_die "/dev/net/tun missing (no TUN support in this kernel?)"
fi
if ((loss_bp > 0)); then netns_require_tool nft nftables; fi

# On failure: report, and delete the namespaces this run created (a half-built pair is useless).
created=()
rollback() {
  local ns
  for ns in "${created[@]}"; do
    ip netns del "$ns" 2>/dev/null && printf '%s: removed namespace %s created by this run\n' "$netns_prog" "$ns" >&2
  done
  [ ${#created[@]} -gt 0 ] ||
    printf '%s: left existing state in place; scripts/netns-down.sh --prefix %s removes it\n' "$netns_prog" "$NETNS_PREFIX" >&2
}
on_err() {
  local rc=$? line=$1 cmd=$2
  trap - ERR
  printf '%s: error: command failed (exit %s) at line %s: %s\n' "$netns_prog" "$rc" "$line" "$cmd" >&2
  rollback
  exit 1
}
netns_die() {
  trap - ERR
  printf '%s: error: %s\n' "$netns_prog" "$*" >&2
  rollback
  exit 1
}
trap 'on_err $LINENO "$BASH_COMMAND"' ERR

# 1. Namespaces.
for ns in "$NETNS_A" "$NETNS_B"; do
  if netns_exists "$ns"; then
    say "namespace $ns exists"
  else
    ip netns add "$ns"
    created+=("$ns")
    say "created namespace $ns"
  fi
  ip -n "$ns" link set dev lo up
done

# 2. The veth pair, created directly inside the namespaces (never visible in the caller's).
#    A lone end (its peer's namespace was deleted, or a stray link) is removed and recreated.
has_a=0 has_b=0
netns_link_exists "$NETNS_A" "$NETNS_VETH_A" && has_a=1
netns_link_exists "$NETNS_B" "$NETNS_VETH_B" && has_b=1
if [ $has_a = 1 ] && [ $has_b = 1 ]; then
  peer_idx=$(ip netns exec "$NETNS_A" cat "/sys/class/net/$NETNS_VETH_A/iflink")
  b_idx=$(ip netns exec "$NETNS_B" cat "/sys/class/net/$NETNS_VETH_B/ifindex")
  if [ "$peer_idx" = "$b_idx" ]; then
    say "veth $NETNS_VETH_A ($NETNS_A) <-> $NETNS_VETH_B ($NETNS_B) exists"
  else
    say "veth ends $NETNS_VETH_A/$NETNS_VETH_B are not peers; recreating"
    ip -n "$NETNS_A" link del dev "$NETNS_VETH_A"
    ip -n "$NETNS_B" link del dev "$NETNS_VETH_B" 2>/dev/null || true
    has_a=0 has_b=0
  fi
elif [ $has_a = 1 ]; then
  ip -n "$NETNS_A" link del dev "$NETNS_VETH_A"; has_a=0
elif [ $has_b = 1 ]; then
  ip -n "$NETNS_B" link del dev "$NETNS_VETH_B"; has_b=0
fi
if [ $has_a = 0 ]; then
  ip -n "$NETNS_A" link add "$NETNS_VETH_A" type veth peer name "$NETNS_VETH_B" netns "$NETNS_B"
  say "created veth $NETNS_VETH_A ($NETNS_A) <-> $NETNS_VETH_B ($NETNS_B)"
fi

# 3. Persistent TUN device in each namespace.
add_args=(dev "$NETNS_TUN" mode tun)
[ "$multi_queue" = 1 ] && add_args+=(multi_queue)
for ns in "$NETNS_A" "$NETNS_B"; do
  if netns_link_exists "$ns" "$NETNS_TUN"; then
    details=$(ip -n "$ns" -d link show dev "$NETNS_TUN")
    if ! grep -q "tun type tun" <<<"$details"; then
      netns_die "$ns has a '$NETNS_TUN' that is not a TUN device (mode tun): $(head -1 <<<"$details")"
    fi
    # iproute2 prints the word "multi_queue" only when the flag is set.
    have_mq=0
    grep -qw multi_queue <<<"$details" && have_mq=1
    if [ "$have_mq" = "$multi_queue" ]; then
      say "tun $NETNS_TUN in $ns exists"
      continue
    fi
    # Deleting needs the device's current flags (TUNSETIFF must match multi_queue).
    del_args=(dev "$NETNS_TUN" mode tun)
    [ "$have_mq" = 1 ] && del_args+=(multi_queue)
    ip netns exec "$ns" ip tuntap del "${del_args[@]}"
    say "removed $NETNS_TUN in $ns (to change multi_queue)"
  fi
  ip netns exec "$ns" ip tuntap add "${add_args[@]}"
  say "created tun $NETNS_TUN in $ns$( [ "$multi_queue" = 1 ] && echo ' (multi_queue)')"
done

# 4. Link settings, addresses, routes.
for pair in "$NETNS_A:$NETNS_VETH_A" "$NETNS_B:$NETNS_VETH_B"; do
  ns=${pair%%:*} dev=${pair#*:}
  for d in "$dev" "$NETNS_TUN"; do
    ip -n "$ns" link set dev "$d" mtu "$mtu" txqueuelen 4096 up
  done
done
ip -n "$NETNS_A" addr replace "$NETNS_VETH_ADDR_A/$NETNS_VETH_PLEN" dev "$NETNS_VETH_A"
ip -n "$NETNS_B" addr replace "$NETNS_VETH_ADDR_B/$NETNS_VETH_PLEN" dev "$NETNS_VETH_B"
ip -n "$NETNS_A" addr replace "$NETNS_TUN_ADDR_A/$NETNS_TUN_PLEN" dev "$NETNS_TUN"
ip -n "$NETNS_B" addr replace "$NETNS_TUN_ADDR_B/$NETNS_TUN_PLEN" dev "$NETNS_TUN"
ip -n "$NETNS_A" route replace "$NETNS_NET_B" via "$NETNS_VETH_ADDR_B" dev "$NETNS_VETH_A"
ip -n "$NETNS_B" route replace "$NETNS_NET_A" via "$NETNS_VETH_ADDR_A" dev "$NETNS_VETH_B"

# 5. Per-namespace sysctls: forward; no reverse-path filter (the effective value is the max of
#    "all" and the interface's, so both are cleared); no IPv6 (keeps captures free of ND/MLD noise).
for pair in "$NETNS_A:$NETNS_VETH_A" "$NETNS_B:$NETNS_VETH_B"; do
  ns=${pair%%:*} dev=${pair#*:}
  netns_sysctl "$ns" net.ipv4.ip_forward 1
  for c in all default "$dev" "$NETNS_TUN"; do
    netns_sysctl "$ns" "net.ipv4.conf.$c.rp_filter" 0
  done
  if ip netns exec "$ns" test -d /proc/sys/net/ipv6; then
    netns_sysctl "$ns" net.ipv6.conf.all.disable_ipv6 1
    netns_sysctl "$ns" net.ipv6.conf.default.disable_ipv6 1
  fi
done

# 6. Packet loss (nftables; tc netem is not available in this kernel). Always rebuilt from scratch
#    so a rerun with another --loss (or none) replaces the old rule.
loss_desc="none"
if command -v nft >/dev/null 2>&1; then
  if ip netns exec "$NETNS_B" nft list table inet "$NETNS_NFT_TABLE" >/dev/null 2>&1; then
    ip netns exec "$NETNS_B" nft delete table inet "$NETNS_NFT_TABLE"
    say "removed previous loss rule in $NETNS_B"
  fi
fi
if ((loss_bp > 0)); then
  drop="numgen random mod 10000 < $loss_bp counter drop"
  if [ "$loss_chain" = forward ]; then
    ruleset="table inet $NETNS_NFT_TABLE {
  chain forward { type filter hook forward priority 0; policy accept; $drop; }
}"
    loss_desc="$loss% of packets forwarded by $NETNS_B (nft table inet $NETNS_NFT_TABLE, chain forward)"
  else
    ruleset="table inet $NETNS_NFT_TABLE {
  chain wire_in { type filter hook prerouting priority -300; policy accept; iifname \"$NETNS_VETH_B\" $drop; }
  chain wire_out { type filter hook postrouting priority 300; policy accept; oifname \"$NETNS_VETH_B\" $drop; }
}"
    loss_desc="$loss% of packets in each direction on $NETNS_VETH_B in $NETNS_B (nft table inet $NETNS_NFT_TABLE, chains wire_in/wire_out)"
  fi
  ip netns exec "$NETNS_B" nft -f - <<<"$ruleset"
  say "added loss rule: $loss_desc"
fi

# 7. Sanity: each side routes the other's ustack subnet over the veth.
for pair in "$NETNS_A:$NETNS_HOST_B:$NETNS_VETH_ADDR_B" "$NETNS_B:$NETNS_HOST_A:$NETNS_VETH_ADDR_A"; do
  IFS=: read -r ns dst gw <<<"$pair"
  got=$(ip -n "$ns" route get "$dst")
  grep -q "via $gw " <<<"$got" || netns_die "route check failed in $ns: 'ip route get $dst' gave: $got"
done

trap - ERR
cat <<EOF
$netns_prog: network '$NETNS_PREFIX' ready (mtu $mtu, txqueuelen 4096, ip_forward=1, rp_filter=0)
  $NETNS_A: $NETNS_VETH_A $NETNS_VETH_ADDR_A/$NETNS_VETH_PLEN, $NETNS_TUN $NETNS_TUN_ADDR_A/$NETNS_TUN_PLEN, route $NETNS_NET_B via $NETNS_VETH_ADDR_B
            ustack A: ip netns exec $NETNS_A <app> --tun $NETNS_TUN --addr $NETNS_HOST_A/$NETNS_TUN_PLEN --gateway $NETNS_TUN_ADDR_A
  $NETNS_B: $NETNS_VETH_B $NETNS_VETH_ADDR_B/$NETNS_VETH_PLEN, $NETNS_TUN $NETNS_TUN_ADDR_B/$NETNS_TUN_PLEN, route $NETNS_NET_A via $NETNS_VETH_ADDR_A
            ustack B: ip netns exec $NETNS_B <app> --tun $NETNS_TUN --addr $NETNS_HOST_B/$NETNS_TUN_PLEN --gateway $NETNS_TUN_ADDR_B
  loss: $loss_desc
  remove: scripts/netns-down.sh --prefix $NETNS_PREFIX
EOF
