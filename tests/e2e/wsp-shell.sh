#!/usr/bin/env bash
# e2e: wsp-shell driven by scripts — two ustack hosts exchange disconnect data by hand.
# Each command prints one "OK ..." or "ERR <WSAE name>" line; the outputs are matched line by line
# against the expected patterns below (one ERE per command).
#
#   B (10.0.2.2): listen, accept, read "hello" and the end of stream, take the client's 8 bytes
#                 of disconnect data, answer with its own (int:42), close.
#   A (10.0.1.2): connect, send "hello", oversized disconnect data (40 bytes) -> WSAEMSGSIZE,
#                 then int:7 as disconnect data; a send after it -> WSAESHUTDOWN; wait for
#                 FD_CLOSE(0); recv -> 0; recvdisconnect -> 42; close.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init wsp-shell "$1"
e2e_net

cat >"$E2E_DIR/b.cmds" <<'CMDS'
flags
socket
bind 1 7100
listen 1
accept 1
getopt 2 discdatalen
recv 2 100
recv 2 100
recvdisconnect 2 64
senddisconnect 2 int:42
close 2
close 1
quit
CMDS
cat >"$E2E_DIR/b.expect" <<'EXP'
^OK XP1_GRACEFUL_CLOSE XP1_CONNECT_DATA XP1_DISCONNECT_DATA$
^OK 1$
^OK$
^OK$
^OK 2 10\.0\.1\.2:[0-9]+ 0$
^OK (24|36)$
^OK 5 68656c6c6f$
^OK 0 $
^OK 8 0000000000000007$
^OK$
^OK$
^OK$
EXP
cat >"$E2E_DIR/a.cmds" <<'CMDS'
socket
connect 1 10.0.2.2 7100
getopt 1 discdatalen
send 1 hello
senddisconnect 1 hex:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677
senddisconnect 1 int:7
send 1 more
select 1 FD_CLOSE
wait 1 10000
events 1
recv 1 100
recvdisconnect 1 4
recvdisconnect 1 64
close 1
quit
CMDS
cat >"$E2E_DIR/a.expect" <<'EXP'
^OK 1$
^OK$
^OK (24|36)$
^OK 5$
^ERR WSAEMSGSIZE$
^OK$
^ERR WSAESHUTDOWN$
^OK$
^OK$
^OK FD_CLOSE\(0\)$
^OK 0 $
^ERR WSAEFAULT$
^OK 8 000000000000002a$
^OK$
EXP

e2e_bg shell_b 30 bash -c "ip netns exec $NS_B '$E2E_APPS/wsp-shell' ${HOST_B[*]} --disconnect-data < '$E2E_DIR/b.cmds'"
for _ in $(seq 200); do [ "$(grep -c '^OK' "$E2E_DIR/shell_b.out" 2>/dev/null)" -ge 4 ] && break; sleep 0.05; done
e2e_bg shell_a 30 bash -c "ip netns exec $NS_A '$E2E_APPS/wsp-shell' ${HOST_A[*]} --disconnect-data < '$E2E_DIR/a.cmds'"
e2e_wait shell_a 30; e2e_check $E2E_RC "wsp-shell A exit 0"
e2e_wait shell_b 30; e2e_check $E2E_RC "wsp-shell B exit 0"

match() { # side
  local side=$1 n=0 got exp
  mapfile -t got < <(grep -E '^(OK|ERR)' "$E2E_DIR/shell_$side.out")
  mapfile -t exp <"$E2E_DIR/$side.expect"
  mapfile -t cmd < <(grep -v '^quit' "$E2E_DIR/$side.cmds")
  [ "${#got[@]}" = "${#exp[@]}" ] && r=0 || r=1
  e2e_check $r "$side: ${#got[@]} result lines for ${#exp[@]} commands"
  for ((n = 0; n < ${#exp[@]}; n++)); do
    grep -Eq -- "${exp[n]}" <<<"${got[n]:-<none>}" && r=0 || r=1
    e2e_check $r "$side: ${cmd[n]:0:40} -> ${got[n]:-<none>}"
  done
}
match b
match a
e2e_finish
