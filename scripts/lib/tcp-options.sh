# shellcheck shell=bash
# scripts/lib/tcp-options.sh — reading experimental TCP options out of tshark's raw bytes, for
# scripts/demo.sh and the e2e tests. Source it (bash only).
#
#   tcp_exids          filter: tab-separated lines whose last field is a raw TCP options field
#                      (tshark -e tcp.options: hex, with or without ':') get that field replaced
#                      by the ExIDs of their kind-253/254 options (RFC 6994), in order:
#                      "0xd15c,0xd15d", or "-" for none. The options are walked as TLVs, so
#                      option bytes that merely look alike (a timestamp value) do not count.
#   tcp_syn_exids PCAP FILTER
#                      one line per SYN matching FILTER (a tshark display filter, "" for all):
#                      frame src sport dst dport flags ExIDs

tcp_exids() {
  awk -F'\t' 'function hx(s,  v, i) { v = 0; for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
    BEGIN { OFS = "\t" }
    { h = tolower($NF); gsub(/[^0-9a-f]/, "", h); n = length(h) / 2; i = 0; ex = ""
      while (i < n) {
        k = hx(substr(h, 2 * i + 1, 2)); if (k == 0) break; if (k == 1) { i++; continue }
        if (i + 1 >= n) break; l = hx(substr(h, 2 * i + 3, 2)); if (l < 2) break
        if ((k == 253 || k == 254) && l >= 4) ex = ex (ex == "" ? "" : ",") "0x" substr(h, 2 * i + 5, 4)
        i += l }
      $NF = ex == "" ? "-" : ex; print }'
}

tcp_syn_exids() {
  local pcap=$1 filter=${2:-}
  tshark -r "$pcap" -Y "tcp.flags.syn==1${filter:+ && ($filter)}" -T fields -E separator=/t \
    -e frame.number -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.flags.str \
    -e tcp.options 2>/dev/null | tcp_exids
}
