#!/usr/bin/env bash
# netns-down.sh — remove the two-host test network made by netns-up.sh (needs root).
#
# Usage: scripts/netns-down.sh [--prefix P] [--kill] [-q]
#
#   --prefix P   the same prefix given to netns-up.sh (default: ust)
#   --kill       first end the processes still running inside P-a / P-b (SIGTERM, then SIGKILL
#                after 2 s). Without it such processes are only listed: deleting a namespace's
#                name does not stop them, and they keep its devices (tun0, the veth) alive until
#                they exit.
#   -q           print only warnings and errors
#
# Deletes the namespaces P-a and P-b, which removes the veth pair, both tun0 and the loss rule
# with them; nothing else is touched. Idempotent: nothing to delete is not an error.
set -Eeuo pipefail

# readlink: installed, the script is reached through a symlink (bin/ustack-netns-*).
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
netns_prog=netns-down # used by lib/netns.sh
# shellcheck disable=SC2034
# shellcheck source-path=SCRIPTDIR source=lib/netns.sh
. "$here/lib/netns.sh"

usage() { sed -n '2,/^set -Eeuo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

prefix=$NETNS_DEFAULT_PREFIX
kill_procs=0
quiet=0
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || netns_die "--prefix needs a value"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --kill) kill_procs=1; shift ;;
    -q | --quiet) quiet=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) netns_die "unknown argument '$1' (see --help)" ;;
  esac
done

netns_set_prefix "$prefix"
say() { [ "$quiet" = 1 ] || netns_log "$@"; }
netns_require_root
netns_require_tool ip iproute2

removed=0
for ns in "$NETNS_A" "$NETNS_B"; do
  if ! netns_exists "$ns"; then
    say "namespace $ns does not exist"
    continue
  fi
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
  if [ -n "${pids// /}" ]; then
    if [ "$kill_procs" = 1 ]; then
      say "stopping processes in $ns: $pids"
      # shellcheck disable=SC2086
      kill -TERM $pids 2>/dev/null || true
      for _ in $(seq 20); do
        [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
        sleep 0.1
      done
      left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
      if [ -n "${left// /}" ]; then
        say "killing processes in $ns: $left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
      fi
    else
      netns_warn "processes still run in $ns (pids: $pids); its devices live on until they exit (use --kill to stop them)"
    fi
  fi
  ip netns del "$ns" || netns_die "could not delete namespace $ns"
  say "deleted namespace $ns"
  removed=$((removed + 1))
done

[ $removed -gt 0 ] || say "nothing to remove for prefix '$NETNS_PREFIX'"
exit 0
