#!/usr/bin/env bash
# e2e: half-close each way between ustack and Linux TCP.
#
#   1. ustack half-closes: ustack A sends 1 MiB, WSPShutdown(SD_SEND); the Linux server reads to
#      EOF, *then* sends 1 MiB back and closes; ustack reads all of it to end of stream.
#   2. Linux half-closes: the Linux client sends 1 MiB, shutdown(SHUT_WR); ustack A (server)
#      reads to end of stream (WSPRecv returns 0), then sends 1 MiB and closes; Linux reads it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init halfclose "$1"
e2e_net

same() { [ -n "$1" ] && [ "$1" = "$2" ]; }

# 1. ustack half-closes.
e2e_bg linux1 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --listen 10.0.0.2 --port 9100 \
  --mode recv-then-send --bytes 1M --seed 11
e2e_wait_line linux1 '^listening' 10
e2e_bg ustack1 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --connect 10.0.0.2 \
  --port 9100 --mode send-then-recv --bytes 1M --seed 12
e2e_wait ustack1 30; e2e_check $E2E_RC "1: ustack-peer (send, SD_SEND, then receive) exit 0"
e2e_wait linux1 10; e2e_check $E2E_RC "1: Linux (receive to EOF, then send) exit 0"
e2e_expect ustack1 '^OK WSPShutdown\(SD_SEND\)' "1: WSPShutdown(SD_SEND) succeeded"
e2e_expect linux1 '^OK eof peer half-closed' "1: Linux saw EOF (ustack's FIN) while its own side stayed open"
same "$(e2e_field ustack1 '^sha256 sent' 3)" "$(e2e_field linux1 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "1: ustack -> Linux data intact (SHA-256)"
same "$(e2e_field linux1 '^sha256 sent' 3)" "$(e2e_field ustack1 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "1: Linux -> ustack data after ustack's FIN intact (SHA-256, $(e2e_field ustack1 '^sha256 recv' 4) bytes)"
e2e_expect ustack1 '^OK eof half-closed' "1: ustack read to end of stream after its half-close"

# 2. Linux half-closes.
e2e_bg ustack2 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --listen --port 9101 \
  --mode recv-then-send --bytes 1M --seed 13
e2e_wait_line ustack2 '^listening' 10
e2e_bg linux2 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --connect 10.0.1.2 --bind 10.0.0.2 \
  --port 9101 --mode send-then-recv --bytes 1M --seed 14
e2e_wait ustack2 30; e2e_check $E2E_RC "2: ustack-peer (receive to end, then send) exit 0"
e2e_wait linux2 10; e2e_check $E2E_RC "2: Linux (send, SHUT_WR, then receive) exit 0"
e2e_expect ustack2 '^OK eof peer half-closed' "2: WSPRecv returned 0 after Linux's FIN"
same "$(e2e_field linux2 '^sha256 sent' 3)" "$(e2e_field ustack2 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "2: Linux -> ustack data intact (SHA-256)"
same "$(e2e_field ustack2 '^sha256 sent' 3)" "$(e2e_field linux2 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "2: ustack -> Linux data after Linux's FIN intact (SHA-256, $(e2e_field linux2 '^sha256 recv' 4) bytes)"
e2e_finish
