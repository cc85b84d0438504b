#!/usr/bin/env bash
# hostile: out-of-order flooding with large gaps (RFC 9293 §3.10.7.4 segment text; RFC 5681
# §4.2; reassembly bound TcpConfig::max_ooo_ranges, README "Limits").
#
#   ooo.sh APPS_DIR HOSTILE_DIR [--bytes N]
#
# A crafted peer (10.0.9.7, P-b) connects to ustack (10.0.1.2:9320) and sends a 16 MiB stream; before
# each window's worth of in-order data it floods 64 eight-byte segments at random offsets with
# gaps inside the window and 8 segments 16 MiB beyond it (the real stream's bytes, as a peer that
# reorders wildly would). Checks: the stream arrives intact (SHA-256), the reassembly bound was hit
# and counted (drop_reassembly_limit), beyond-window segments were dropped (drop_unacceptable),
# and the host's peak RSS stays under RSS_BOUND_KB.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
apps=$1 bin=$2; shift 2
bytes=16M
[ "${1:-}" = --bytes ] && bytes=$2
RSS_BOUND_KB=${RSS_BOUND_KB:-32768}
h_init ooo "$apps" "$bin"
h_net
port=9320
h_server server 120 --port $port --mode recv --timeout-ms 100000
h_crafter peer 110 ooo --dst 10.0.1.2 --port $port --src "$CRAFTED_SRC" --bytes "$bytes" --timeout 100
e2e_wait peer 110; e2e_check $E2E_RC "crafted peer sent its stream and closed (exit 0)"
e2e_wait server 20; e2e_check $E2E_RC "ustack server exit 0"
ps=$(e2e_field peer '^sha256 sent' 3); sr=$(e2e_field server '^sha256 recv' 3)
[ -n "$ps" ] && [ "$ps" = "$sr" ] && r=0 || r=1
e2e_check $r "the stream arrived intact: SHA-256 ${sr:0:16}… ($(e2e_field server '^sha256 recv' 4) bytes)"
lim=$(h_val server drop_reassembly_limit); unacc=$(h_val server drop_unacceptable_segment)
rss=$(h_val server rss_peak_kb); ooo_n=$(h_val peer ooo_segments_sent); far=$(h_val peer beyond_window_segments_sent)
[ "${lim:-0}" -ge 1 ] && r=0 || r=1; e2e_check $r "reassembly bound hit and counted: drop_reassembly_limit $lim"
[ "${unacc:-0}" -ge 1 ] && r=0 || r=1; e2e_check $r "beyond-window segments dropped: drop_unacceptable_segment $unacc"
[ "${rss:-999999999}" -le "$RSS_BOUND_KB" ] && r=0 || r=1; e2e_check $r "host peak RSS $rss kB <= $RSS_BOUND_KB kB"
h_figure "ooo: $ooo_n gap segments + $far beyond-window segments over $(h_val peer rounds) rounds ($(h_val peer seconds) s) -> drop_reassembly_limit $lim, drop_unacceptable $unacc; host peak RSS $rss kB; $(e2e_field server '^sha256 recv' 4) bytes intact"
e2e_finish
