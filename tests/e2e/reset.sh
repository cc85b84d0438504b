#!/usr/bin/env bash
# e2e: abortive closes between ustack and Linux TCP (DESIGN.md §4).
#
#   1. Linux aborts (SO_LINGER {1,0}, close) -> ustack: FD_CLOSE with WSAECONNRESET and
#      WSPRecv -> WSAECONNRESET.
#   2. ustack SO_LINGER {1,0} + WSPCloseSocket -> Linux recv: ECONNRESET.
#   3. ustack closes with unread received data -> RST -> Linux recv: ECONNRESET.
#   4. ustack SO_LINGER {1,1}, blocking close while Linux does not read (send path full): the
#      close waits ~1 s, then resets (Winsock, unlike Linux) -> Linux recv: ECONNRESET.
# The ustack side keeps its host up 0.5 s after the close (--hold-ms 500): an RST queued just
# before WSPCleanup is otherwise lost (reported to the stack's owners; see the README-snippet).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init reset "$1"
e2e_net

# 1. Linux abortive close.
e2e_bg linux1 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --listen 10.0.0.2 --port 9200 --mode abort --bytes 1000
e2e_wait_line linux1 '^listening' 10
e2e_bg ustack1 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --connect 10.0.0.2 --port 9200 \
  --mode wait-reset --bytes 1000 --timeout-ms 10000
e2e_wait ustack1 30; e2e_check $E2E_RC "1: ustack-peer exit 0"
e2e_wait linux1 10; e2e_check $E2E_RC "1: Linux closed with SO_LINGER {1,0}"
e2e_expect ustack1 '^FD_CLOSE WSAECONNRESET' "1: FD_CLOSE carries WSAECONNRESET"
e2e_expect ustack1 '^ERR WSAECONNRESET WSPRecv' "1: WSPRecv fails with WSAECONNRESET"

# 2. ustack linger 0.
e2e_bg linux2 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --listen 10.0.0.2 --port 9201 \
  --mode expect-reset --bytes 0 --delay 0.5
e2e_wait_line linux2 '^listening' 10
e2e_bg ustack2 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --connect 10.0.0.2 --port 9201 \
  --mode abort --bytes 64K --hold-ms 500
e2e_wait ustack2 30; e2e_check $E2E_RC "2: ustack-peer (SO_LINGER {1,0}, close) exit 0"
e2e_wait linux2 10; e2e_check $E2E_RC "2: Linux peer exit 0"
e2e_expect ustack2 '^OK WSPCloseSocket linger \{1,0\}' "2: WSPCloseSocket with linger {1,0} returned at once"
e2e_expect linux2 '^RESULT ECONNRESET' "2: Linux recv -> ECONNRESET ($(e2e_field linux2 '^RESULT' 4) bytes read first)"

# 3. ustack closes with unread data.
e2e_bg linux3 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --listen 10.0.0.2 --port 9202 \
  --mode expect-reset --bytes 4000
e2e_wait_line linux3 '^listening' 10
e2e_bg ustack3 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --connect 10.0.0.2 --port 9202 \
  --mode close-unread --timeout-ms 10000 --hold-ms 500
e2e_wait ustack3 30; e2e_check $E2E_RC "3: ustack-peer (close with unread data) exit 0"
e2e_wait linux3 10; e2e_check $E2E_RC "3: Linux peer exit 0"
e2e_expect ustack3 '^OK unread 4000 bytes' "3: ustack had 4000 unread bytes at WSPCloseSocket"
e2e_expect linux3 '^RESULT ECONNRESET' "3: Linux recv -> ECONNRESET"

# 4. ustack linger expiry.
e2e_bg linux4 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --listen 10.0.0.2 --port 9203 \
  --mode expect-reset --bytes 0 --delay 4
e2e_wait_line linux4 '^listening' 10
e2e_bg ustack4 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --connect 10.0.0.2 --port 9203 \
  --mode linger-expiry --linger 1 --bytes 64M --timeout-ms 10000 --hold-ms 500
e2e_wait ustack4 30; e2e_check $E2E_RC "4: ustack-peer (fill, SO_LINGER {1,1}, blocking close) exit 0"
e2e_wait linux4 10; e2e_check $E2E_RC "4: Linux peer exit 0"
e2e_expect ustack4 '^OK queued [0-9]+ bytes \(WSAEWOULDBLOCK\)' "4: send path filled ($(e2e_field ustack4 '^OK queued' 3) bytes queued)"
close_s=$(grep -Eo 'WSPCloseSocket linger \{1,1\} \(([0-9.]+) s\)' "$E2E_DIR/ustack4.out" | grep -Eo '[0-9]+\.[0-9]+' || true)
awk -v t="${close_s:-0}" 'BEGIN { exit !(t >= 0.9 && t <= 2.5) }' && r=0 || r=1
e2e_check $r "4: blocking close lingered about 1 s (${close_s:-?} s)"
e2e_expect linux4 '^RESULT ECONNRESET' "4: Linux recv -> ECONNRESET after the linger expired ($(e2e_field linux4 '^RESULT' 4) bytes read first)"
e2e_finish
