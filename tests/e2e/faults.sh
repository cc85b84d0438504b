#!/usr/bin/env bash
# e2e chaos (issue 22 items 2 and 5): faults a user meets, each with the bound it took printed.
#
#   1. The host's TUN device is deleted under a blocked WSPRecv (ip link del): the call fails
#      with WSAENETDOWN at once (the device's read fails: EBADFD), not after a timer.
#   2. With --reattach the device is deleted in the middle of a connection and put back (as
#      scripts/netns-up.sh makes it): the host re-attaches, the connection carries on, and 4 MiB
#      the Linux peer sends meanwhile arrive intact (SHA-256).
#   3. The sending ustack host is killed (kill -9) mid-transfer: the receiver's WSPRecv ends
#      with WSAETIMEDOUT at its SO_RCVTIMEO (ustack-peer --timeout-ms), not never, and sleeps
#      meanwhile (its CPU time is printed). 3b: the receiving host is killed: the sender's
#      WSPSend ends at its SO_SNDTIMEO once the send buffer is full.
#   4. A second host on a device another host has open: the clear error ("busy"), exit 1.
#   5. --tun naming a device that does not exist: an error that says how to create it, and
#      no interface is created.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init faults "$1"
e2e_net

now_ms() { date +%s%3N; }
# The host process behind an e2e_bg name: the child of the `timeout` e2e_bg started.
host_pid() { pgrep -P "${E2E_PID_OF[$1]}" 2>/dev/null | head -1; }
kill_host() { local p; p=$(host_pid "$1"); [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; }
# utime + stime of a process so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
# start_transfer RECEIVER SENDER PORT RECV_TIMEOUT_MS SEND_TIMEOUT_MS BYTES: ustack-peer in P-a
# receives what ustack-peer in P-b sends (no digest); returns mid-transfer, once both are
# connected.
start_transfer() {
  e2e_bg "$1" 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --listen --port "$3" \
    --mode recv --timeout-ms "$4"
  e2e_wait_line "$1" '^listening' 10
  e2e_bg "$2" 30 ip netns exec "$NS_B" "$E2E_APPS/ustack-peer" "${HOST_B[@]}" --connect 10.0.1.2 \
    --port "$3" --mode send --bytes "$6" --no-digest --timeout-ms "$5"
  e2e_wait_line "$1" '^connected' 10
  e2e_wait_line "$2" '^connected' 10
  sleep 0.5  # mid-transfer
}

# 1. The device is deleted under a blocked WSPRecv.
e2e_bg ustack1 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --listen --port 9400 \
  --mode recv --timeout-ms 20000
e2e_wait_line ustack1 '^listening' 10
e2e_bg linux1 30 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --connect 10.0.1.2 --port 9400 \
  --mode expect-reset --bytes 1000 --delay 25 --timeout 25
e2e_wait_line ustack1 '^connected' 10
t0=$(now_ms)
ip -n "$NS_A" link del tun0
e2e_wait_line ustack1 '^ERR WSAENETDOWN' 5 && r=0 || r=1
t1=$(now_ms)
e2e_check $r "1: the blocked WSPRecv failed WSAENETDOWN $((t1 - t0)) ms after ip link del (bound 5000 ms)"
e2e_wait ustack1 10; [ "$E2E_RC" = 1 ] && r=0 || r=1
e2e_check $r "1: ustack-peer reported the failure and ended (exit 1)"
e2e_expect ustack1 'tun0: read failed' "1: the host said on stderr that the device is gone"

# 2. --reattach: the device goes away mid-connection and comes back.
bash "$E2E_ROOT/scripts/netns-up.sh" --prefix "$E2E_PREFIX" -q >/dev/null
e2e_bg ustack2 60 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --reattach --listen \
  --port 9401 --mode recv --timeout-ms 40000
e2e_wait_line ustack2 '^listening' 10
e2e_bg linux2 60 ip netns exec "$NS_B" python3 "$here/linux_peer.py" --connect 10.0.1.2 --port 9401 \
  --mode send --bytes 4M --seed 21 --delay 0.3 --timeout 40
e2e_wait_line ustack2 '^connected' 10
ip -n "$NS_A" link del tun0
sleep 1  # the device stays away while Linux starts sending (its segments find no route)
t0=$(now_ms)
bash "$E2E_ROOT/scripts/netns-up.sh" --prefix "$E2E_PREFIX" -q >/dev/null
e2e_wait_line ustack2 're-attached' 5 && r=0 || r=1
t1=$(now_ms)
e2e_check $r "2: the host re-attached $((t1 - t0)) ms after the device was made again (bound 5000 ms)"
e2e_wait ustack2 50; e2e_check $E2E_RC "2: ustack-peer received to the end of the stream (exit 0)"
e2e_wait linux2 20; e2e_check $E2E_RC "2: Linux sent 4 MiB and closed (exit 0)"
same "$(e2e_field linux2 '^sha256 sent' 3)" "$(e2e_field ustack2 '^sha256 recv' 3)" && r=0 || r=1
e2e_check $r "2: Linux -> ustack data across the device's absence intact (SHA-256, $(e2e_field ustack2 '^sha256 recv' 4) bytes)"

# 3. The sending host is killed: the receiver's SO_RCVTIMEO ends its wait.
start_transfer ustack3r ustack3s 9402 2000 20000 1024M
rpid=$(host_pid ustack3r)
t0=$(now_ms)
kill_host ustack3s
c0=$(cpu_ticks "$rpid")
e2e_wait_line ustack3r '^ERR WSAETIMEDOUT' 10 && r=0 || r=1
t1=$(now_ms)
c1=$(cpu_ticks "$rpid")
e2e_check $r "3: the receiver's WSPRecv failed WSAETIMEDOUT $((t1 - t0)) ms after the sender was killed (SO_RCVTIMEO 2000 ms)"
cpu_ms=$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) ))
[ "$cpu_ms" -le $(( (t1 - t0) / 10 )) ] && r=0 || r=1
e2e_check $r "3: ... using $cpu_ms ms of CPU while it waited (bound: a tenth of the wait; it sleeps)"
e2e_wait ustack3r 10

# 3b. The receiving host is killed: the sender's blocked WSPSend ends at its SO_SNDTIMEO.
start_transfer ustack6r ustack6s 9406 20000 2000 1024G
t0=$(now_ms)
kill_host ustack6r
e2e_wait_line ustack6s '^ERR WSAETIMEDOUT' 10 && r=0 || r=1
t1=$(now_ms)
e2e_check $r "3b: the sender's WSPSend failed WSAETIMEDOUT $((t1 - t0)) ms after the receiver was killed (SO_SNDTIMEO 2000 ms: the call that filled the send buffer returns what it queued at its time-out, the next one fails)"
e2e_wait ustack6s 10

# 4. A second host on a busy device.
e2e_bg ustack4a 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --listen --port 9403 \
  --mode recv --timeout-ms 3000
e2e_wait_line ustack4a '^listening' 10
e2e_bg ustack4b 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" "${HOST_A[@]}" --listen --port 9404 \
  --mode recv --timeout-ms 3000
e2e_wait ustack4b 10; [ "$E2E_RC" = 1 ] && r=0 || r=1
e2e_check $r "4: a second host on the same device exits 1"
e2e_expect ustack4b 'busy: another process has it open' "4: ... saying the device is busy"
e2e_wait ustack4a 10

# 5. A --tun typo.
e2e_bg ustack5 30 ip netns exec "$NS_A" "$E2E_APPS/ustack-peer" --tun tun0typo --addr 10.0.1.2/24 \
  --listen --port 9405 --mode recv --timeout-ms 1000
e2e_wait ustack5 10; [ "$E2E_RC" = 1 ] && r=0 || r=1
e2e_check $r "5: --tun of a device that does not exist exits 1"
e2e_expect ustack5 'does not exist -- create it first' "5: ... saying how to create it"
ip -n "$NS_A" link show tun0typo >/dev/null 2>&1 && r=1 || r=0
e2e_check $r "5: ... and no interface was created"
e2e_finish
