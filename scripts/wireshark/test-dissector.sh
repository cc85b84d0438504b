#!/usr/bin/env bash
# test-dissector.sh — check scripts/wireshark/ustack.lua against tshark.
#
# Usage: scripts/wireshark/test-dissector.sh [-v]
#   -v   also print the tshark decode of the test capture
#
# Builds a raw-IPv4 pcap (linktype 101, see make-test-pcap.py for the frames), runs tshark with
# the dissector and asserts the decoded fields: our option (N=0 on SYN/SYN-ACK, N=8 with a signed
# 64-bit total, N=24 filling the 40-byte option space, N=4 on a data segment), the message-mode
# option (ExID 0xD15D, DESIGN.md §3b: beside the disconnect offer on one SYN, alone on a SYN-ACK,
# malformed with data, not ours under kind 254), connect data on SYN and SYN-ACK (DESIGN.md §3c:
# ustack.conn.*, never ustack.disc.*; 16 and 12 bytes filling the option space, 9 on an echo),
# TFO under kind 254 still decoding as TFO, an
# unknown ExID under 253 and a malformed/truncated option handed back to Wireshark's built-in
# decoder, no Lua errors, and loading the script twice being harmless.
# Non-interactive; runs tshark with a throw-away HOME so personal preferences/plugins don't leak in.
# Exit status: 0 all passed, 1 some check failed (each failure is printed), 77 tshark or python3
# missing (CTest: SKIP_RETURN_CODE 77).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lua="$here/ustack.lua"
verbose=0
[ "${1:-}" = "-v" ] && verbose=1

for tool in tshark python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test-dissector: SKIP: $tool not installed (scripts/install-deps.sh)" >&2
    exit 77
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ustack-dissector.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pcap="$tmp/test.pcap"
mkdir -p "$tmp/home"
export HOME="$tmp/home"
unset XDG_CONFIG_HOME

fails=0
passes=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { passes=$((passes + 1)); }

# ts ARGS... — tshark with the dissector; stdout only (stderr goes to $tmp/stderr, checked below).
ts() { tshark -n -X "lua_script:$lua" -r "$pcap" "$@" 2>>"$tmp/stderr"; }

# expect_line NAME HAYSTACK LINE — HAYSTACK must contain LINE as a whole line.
expect_line() {
  if grep -qxF -- "$3" <<<"$2"; then pass; else fail "$1: expected line '$3'"; fi
}
# expect_in NAME HAYSTACK TEXT — HAYSTACK must contain TEXT somewhere.
expect_in() {
  if grep -qF -- "$3" <<<"$2"; then pass; else fail "$1: expected '$3'"; fi
}
# expect_not NAME HAYSTACK TEXT
expect_not() {
  if grep -qF -- "$3" <<<"$2"; then fail "$1: unexpected '$3'"; else pass; fi
}
# frame N — the verbose decode of frame N (tcp and ustack layers only).
frame() { ts -V -O tcp,ustack -Y "frame.number == $1"; }

if ! python3 "$here/make-test-pcap.py" "$pcap"; then
  echo "FAIL: make-test-pcap.py could not write the capture"
  exit 1
fi
echo "test-dissector: $(tshark --version 2>/dev/null | head -1)"

# 0. The capture itself: checksums are right (frame 12 is truncated, so not checkable), and without our script the built-in decoder sees
#    an experimental option with ExID 0xD15C (proves the bytes are what we think they are).
chk=$(tshark -n -r "$pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -Y "frame.number <= 11" \
        -T fields -e ip.checksum.status -e tcp.checksum.status 2>/dev/null)
if [ "$(sort -u <<<"$chk")" = "$(printf '1\t1')" ]; then pass; else
  fail "checksums: expected every frame good (1 1), got: $(tr '\n' ' ' <<<"$chk")"; fi
base=$(tshark -n -r "$pcap" -T fields -e frame.number -e tcp.options.experimental.exid 2>/dev/null)
expect_line "built-in, no script" "$base" "$(printf '3\t0xd15c')"
# ... and the frames after the truncated one: checksums good, the message-mode ExID where we put it.
chk=$(tshark -n -r "$pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -Y "frame.number >= 13" \
        -T fields -e ip.checksum.status -e tcp.checksum.status 2>/dev/null)
if [ "$(sort -u <<<"$chk")" = "$(printf '1\t1')" ]; then pass; else
  fail "checksums 13-16: expected every frame good (1 1), got: $(tr '\n' ' ' <<<"$chk")"; fi
expect_line "built-in, no script" "$base" "$(printf '13\t0xd15d,0xd15c')"
expect_line "built-in, no script" "$base" "$(printf '14\t0xd15d')"

# 1. Fields, one line per frame.
fields=$(ts -T fields -e frame.number -e ustack.exid -e ustack.disc.len -e ustack.disc.data \
            -e ustack.disc.total -e tcp.options.experimental.exid -e tcp.options.tfo.request \
            -e tcp.options.tfo.cookie)
[ "$verbose" = 1 ] && { echo "--- fields"; echo "$fields"; }
T=$'\t'
expect_line "frame 1 SYN N=0"       "$fields" "1${T}0xd15c${T}${T}${T}${T}${T}${T}"
expect_line "frame 2 SYN-ACK N=0"   "$fields" "2${T}0xd15c${T}${T}${T}${T}${T}${T}"
expect_line "frame 3 FIN N=8 total" "$fields" "3${T}0xd15c${T}8${T}0000000000bc614e${T}12345678${T}${T}${T}"
expect_line "frame 4 FIN N=24"      "$fields" "4${T}0xd15c${T}24${T}000102030405060708090a0b0c0d0e0f1011121314151617${T}${T}${T}${T}"
expect_line "frame 5 FIN total<0"   "$fields" "5${T}0xd15c${T}8${T}ffffffffffffffd6${T}-42${T}${T}${T}"
expect_line "frame 6 TFO request"   "$fields" "6${T}${T}${T}${T}${T}0xf989${T}1${T}"
expect_line "frame 7 TFO cookie"    "$fields" "7${T}${T}${T}${T}${T}0xf989${T}${T}0102030405060708"
expect_line "frame 8 unknown ExID"  "$fields" "8${T}${T}${T}${T}${T}0x1234${T}${T}"
expect_line "frame 9 kind 254 D15C" "$fields" "9${T}${T}${T}${T}${T}0xd15c${T}${T}"
expect_line "frame 10 len 3"        "$fields" "10${T}${T}${T}${T}${T}${T}${T}"
expect_line "frame 11 data seg N=4" "$fields" "11${T}0xd15c${T}4${T}deadbeef${T}${T}${T}${T}"
expect_line "frame 12 truncated"    "$fields" "12${T}${T}${T}${T}${T}0xd15c${T}${T}"
# DESIGN.md §3b: the message-mode option (ExID 0xD15D).
msg=$(ts -T fields -e frame.number -e ustack.exid -e ustack.disc.len -e ustack.msg \
         -e ustack.msg.data -e tcp.options.experimental.exid -Y "frame.number >= 13")
[ "$verbose" = 1 ] && { echo "--- message-mode fields"; echo "$msg"; }
expect_line "frame 13 msg + disc"   "$msg" "13${T}0xd15d,0xd15c${T}${T}1${T}${T}"
expect_line "frame 14 msg alone"    "$msg" "14${T}0xd15d${T}${T}1${T}${T}"
expect_line "frame 15 msg len 6"    "$msg" "15${T}0xd15d${T}${T}${T}0000${T}"
expect_line "frame 16 kind 254 D15D" "$msg" "16${T}${T}${T}${T}${T}0xd15d"
# DESIGN.md §3c: connect data on the SYN (caller) and the SYN-ACK (callee), never disconnect data.
conn=$(ts -T fields -e frame.number -e ustack.conn.len -e ustack.conn.data -e ustack.conn.caller \
          -e ustack.conn.callee -e ustack.disc.len -e ustack.disc.data -Y "frame.number <= 2 || frame.number >= 17")
[ "$verbose" = 1 ] && { echo "--- connect-data fields"; echo "$conn"; }
expect_line "frame 1 plain offer"   "$conn" "1${T}0${T}${T}1${T}${T}${T}"
expect_line "frame 2 plain echo"    "$conn" "2${T}0${T}${T}${T}1${T}${T}"
expect_line "frame 17 caller 16"    "$conn" "17${T}16${T}636c69656e742d303030310001020304${T}1${T}${T}${T}"
expect_line "frame 18 callee 9"     "$conn" "18${T}9${T}73657373696f6e2d37${T}${T}1${T}${T}"
expect_line "frame 19 msg + caller 12" "$conn" "19${T}12${T}202122232425262728292a2b${T}1${T}${T}${T}"

# 2. Display filters: "ustack" selects exactly the frames carrying our option.
sel=$(ts -Y ustack -T fields -e frame.number | tr '\n' ' ')
if [ "$sel" = "1 2 3 4 5 11 13 14 15 17 18 19 " ]; then pass; else
  fail "-Y ustack: expected frames '1 2 3 4 5 11 13 14 15 17 18 19', got '$sel'"; fi
sel=$(ts -Y ustack.conn.data -T fields -e frame.number | tr '\n' ' ')
if [ "$sel" = "17 18 19 " ]; then pass; else fail "-Y ustack.conn.data: expected '17 18 19', got '$sel'"; fi
sel=$(ts -Y ustack.disc.data -T fields -e frame.number | tr '\n' ' ')
if [ "$sel" = "3 4 5 11 " ]; then pass; else fail "-Y ustack.disc.data: expected '3 4 5 11', got '$sel'"; fi
sel=$(ts -Y ustack.msg -T fields -e frame.number | tr '\n' ' ')
if [ "$sel" = "13 14 19 " ]; then pass; else fail "-Y ustack.msg: expected '13 14 19', got '$sel'"; fi
sel=$(ts -Y 'ustack.disc.total == 12345678' -T fields -e frame.number | tr '\n' ' ')
if [ "$sel" = "3 " ]; then pass; else fail "-Y ustack.disc.total == 12345678: expected '3', got '$sel'"; fi

# 3. Summary lines (Info column).
summary=$(ts)
[ "$verbose" = 1 ] && { echo "--- summary"; echo "$summary"; }
for f in "1 .*\[SYN\].* ConnData=0$" "2 .*\[SYN, ACK\].* ConnData=0$" "17 .*\[SYN\].* ConnData=16$" \
         "18 .*\[SYN, ACK\].* ConnData=9$" "19 .*\[SYN\].* MsgMode ConnData=12$" "3 .*\[FIN, ACK\].*TSval=1000 TSecr=2000 DiscData=8$" \
         "4 .* DiscData=24$" "6 .*\[SYN\].* TFO=R$" "7 .* TFO=C$" "8 .* ExID=1234$" "9 .* ExID=D15C$" \
         "13 .*\[SYN\].* WS=128 MsgMode ConnData=0$" "14 .*\[SYN, ACK\].* MSS=1460 MsgMode$" \
         "15 .*\[SYN\].* MSS=1460$" "16 .* ExID=D15D$"; do
  if grep -qE "^ *$f" <<<"$summary"; then pass; else fail "summary: no line matching '$f'"; fi
done

# 4. Verbose trees.
v3=$(frame 3)
[ "$verbose" = 1 ] && { echo "--- frame 3"; echo "$v3"; }
expect_in  "frame 3 tree" "$v3" "TCP Option - ustack Disconnect Data: 8 bytes, total 12345678"
expect_in  "frame 3 tree" "$v3" "Experiment Identifier: 0xd15c"
expect_in  "frame 3 tree" "$v3" "Disconnect data: 0000000000bc614e"
expect_in  "frame 3 tree" "$v3" "Disconnect data as int64 (big-endian): 12345678"
expect_in  "frame 3 tree" "$v3" "[Expert Info (Note/Comment): disconnect data (8 bytes)]"
expect_in  "frame 3 tree" "$v3" "Timestamp value: 1000"
v4=$(frame 4)
expect_in  "frame 4 tree" "$v4" "Options: (40 bytes)"
expect_in  "frame 4 tree" "$v4" "disconnect data (24 bytes)"
expect_not "frame 4 tree" "$v4" "int64"
v1=$(frame 1)
expect_in  "frame 1 tree" "$v1" "TCP Option - ustack Disconnect-data offer, caller data: 0 bytes"
expect_in  "frame 1 tree" "$v1" "[Expert Info (Note/Comment): caller data (0 bytes)]"
expect_not "frame 1 tree" "$v1" "Disconnect data length"
expect_in  "frame 1 tree" "$v1" "MSS Value: 1460"
v6=$(frame 6)
expect_in  "frame 6 TFO" "$v6" "TCP Option - Experimental: Fast Open"
expect_in  "frame 6 TFO" "$v6" "Experiment Identifier: Fast Open (0xf989)"
expect_in  "frame 6 TFO" "$v6" "Fast Open Cookie Request"
expect_not "frame 6 TFO" "$v6" "ustack"
v8=$(frame 8)
expect_in  "frame 8 unknown ExID" "$v8" "Experiment Identifier: Unknown (0x1234)"
expect_in  "frame 8 unknown ExID" "$v8" "Data: aabb"
expect_not "frame 8 unknown ExID" "$v8" "Disconnect"
v10=$(frame 10)
expect_in  "frame 10 len 3" "$v10" "option length 3 smaller than 4"
v13=$(frame 13)
[ "$verbose" = 1 ] && { echo "--- frame 13"; echo "$v13"; }
expect_in  "frame 13 tree" "$v13" "TCP Option - ustack Message-oriented socket (DESIGN.md §3b)"
expect_in  "frame 13 tree" "$v13" "Experiment Identifier: 0xd15d"
expect_in  "frame 13 tree" "$v13" "[Message-oriented socket (DESIGN.md §3b): True]"
expect_in  "frame 13 tree" "$v13" "[Expert Info (Note/Comment): message-oriented socket (DESIGN.md §3b)]"
expect_in  "frame 13 tree" "$v13" "TCP Option - ustack Disconnect-data offer, caller data: 0 bytes"
expect_in  "frame 13 tree" "$v13" "Window scale: 7 (multiply by 128)"
v17=$(frame 17)
[ "$verbose" = 1 ] && { echo "--- frame 17"; echo "$v17"; }
expect_in  "frame 17 tree" "$v17" "Options: (40 bytes)"
expect_in  "frame 17 tree" "$v17" "TCP Option - ustack Disconnect-data offer, caller data: 16 bytes"
expect_in  "frame 17 tree" "$v17" "Connect data: 636c69656e742d303030310001020304"
expect_in  "frame 17 tree" "$v17" "[Caller data (on the SYN, DESIGN.md §3c): True]"
expect_in  "frame 17 tree" "$v17" "[Expert Info (Note/Comment): caller data (16 bytes)]"
expect_not "frame 17 tree" "$v17" "Disconnect data:"
v18=$(frame 18)
expect_in  "frame 18 tree" "$v18" "TCP Option - ustack Disconnect-data echo, callee data: 9 bytes"
expect_in  "frame 18 tree" "$v18" "[Callee data (on the SYN-ACK, DESIGN.md §3c): True]"
expect_in  "frame 18 tree" "$v18" "[Expert Info (Note/Comment): callee data (9 bytes)]"
v19=$(frame 19)
expect_in  "frame 19 tree" "$v19" "Options: (40 bytes)"
expect_in  "frame 19 tree" "$v19" "TCP Option - ustack Message-oriented socket (DESIGN.md §3b)"
expect_in  "frame 19 tree" "$v19" "caller data: 12 bytes"
v15=$(frame 15)
expect_in  "frame 15 malformed" "$v15" "TCP Option - ustack Message-oriented socket (DESIGN.md §3b), malformed (length 6)"
expect_in  "frame 15 malformed" "$v15" "[Expert Info (Warning/Malformed): message-mode option of length 6: must be 4, ustack ignores it]"
expect_not "frame 15 malformed" "$v15" "): True]"
v16=$(frame 16)
expect_in  "frame 16 kind 254" "$v16" "Experiment Identifier: Unknown (0xd15d)"
expect_not "frame 16 kind 254" "$v16" "ustack"

# 5. Loading the script twice (e.g. personal plugin + -X lua_script:) is harmless; and the
#    personal-plugin install path works.
mkdir -p "$HOME/.local/lib/wireshark/plugins"
cp "$lua" "$HOME/.local/lib/wireshark/plugins/"
twice=$(tshark -n -X "lua_script:$lua" -r "$pcap" -T fields -e ustack.disc.total \
          -Y 'frame.number == 3' 2>"$tmp/stderr2")
if [ "$twice" = "12345678" ] && ! grep -qi "lua" "$tmp/stderr2"; then pass; else
  fail "loaded twice: expected 12345678 and no Lua error, got '$twice' / $(cat "$tmp/stderr2")"; fi
plugin=$(tshark -n -r "$pcap" -T fields -e ustack.disc.total -Y 'frame.number == 5' 2>>"$tmp/stderr")
if [ "$plugin" = "-42" ]; then pass; else fail "personal plugin dir: expected -42, got '$plugin'"; fi
rm -f "$HOME/.local/lib/wireshark/plugins/ustack.lua"

# 6. No Lua errors anywhere (load errors go to stderr; runtime errors into the tree).
all=$(ts -V)
expect_not "no Lua runtime error" "$all" "Lua Error"
if grep -qi "lua" "$tmp/stderr"; then fail "Lua messages on stderr: $(grep -i lua "$tmp/stderr" | head -5)"; else pass; fi

echo "test-dissector: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
