#!/usr/bin/env python3
"""Write the seed corpora in fuzz/corpus/<target>/ (deterministic; re-run after changing an input
format). Each seed is a small, valid program for its target; libFuzzer mutates from there.

  fuzz_codec    control byte (0: checksums as given) + IPv4 packets: the codec tests' goldens
                (tests/codec/golden_test.cpp) and a few packets each drop reason catches
  fuzz_options  PARSE seeds (mode 0, flags, payload length, option bytes) and ENCODE seeds
  fuzz_engine   engine scripts: header + ops, in the encoding fuzz_engine.cpp reads
  fuzz_wsp      WSP call sequences, in the encoding fuzz_wsp.cpp reads
"""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ---- packets -------------------------------------------------------------------------------

def csum(b):
    if len(b) % 2:
        b = b + b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def packet(seq, ack, flags, window, options=b"", payload=b"", src=(10, 0, 1, 2), dst=(10, 0, 2, 2),
           sport=49152, dport=8080, ip_options=b"", frag=0x4000, proto=6, bad_tcp_csum=False):
    assert len(options) % 4 == 0 and len(ip_options) % 4 == 0
    doff = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, window, 0, 0)
    tcp += options + payload
    ihl = 5 + len(ip_options) // 4
    total = ihl * 4 + len(tcp)
    ip = struct.pack("!BBHHHBBH4B4B", 0x40 | ihl, 0, total, 0, frag, 64, proto, 0, *src, *dst)
    ip += ip_options
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(pseudo + tcp) ^ (0x5555 if bad_tcp_csum else 0)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    return ip + tcp


SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
SYN_OPTS = bytes([2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 1, 0xE2, 0x40, 0, 0, 0, 0, 1, 3, 3, 7])
DISC = bytes([1, 1, 1, 253, 9, 0xD1, 0x5C, 1, 2, 3, 4, 5])  # NOPs + 5 bytes of disconnect data
SACK2 = bytes([1, 1, 5, 18]) + struct.pack("!IIII", 1000, 2000, 3000, 4000)
TS = bytes([1, 1, 8, 10]) + struct.pack("!II", 123456, 654321)


def codec_seeds():
    seeds = {
        "syn_options": packet(0x3C5D1E2F, 0, SYN, 64240, SYN_OPTS),
        "syn_wscale14": packet(0x3C5D1E2F, 0, SYN, 64240, bytes([2, 4, 5, 0xB4, 1, 1, 4, 2, 1, 3, 3, 14])),
        "synack_disc_offer": packet(1, 0x3C5D1E30, SYN | ACK, 65535,
                                    bytes([2, 4, 5, 0xB4, 1, 1, 4, 2, 253, 4, 0xD1, 0x5C])),
        "data_ts": packet(1000, 2000, PSH | ACK, 502, TS, b"hello, world"),
        "ack_sack": packet(1000, 2000, ACK, 502, TS + SACK2),
        "fin_disc": packet(1000, 2000, FIN | ACK, 502, DISC),
        "rst": packet(1000, 0, RST, 0),
        "ip_options": packet(5, 6, ACK, 100, ip_options=bytes([1, 1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0]),
                             payload=b"xyz"),
        "eol_padding": packet(5, 6, ACK, 100, bytes([2, 4, 5, 0xB4, 0, 9, 9, 9])),
        "bad_tcp_checksum": packet(5, 6, ACK, 100, bad_tcp_csum=True),
        "fragment": packet(5, 6, ACK, 100, frag=0x2000),
        "udp": packet(5, 6, ACK, 100, proto=17),
        "bad_option_len": packet(5, 6, ACK, 100, bytes([2, 1, 0, 0])),
        "unknown_exid": packet(5, 6, ACK, 100, bytes([254, 4, 0xF9, 0x89, 253, 4, 0x12, 0x34])),
        # DESIGN.md §3c: 16 bytes of caller data filling a SYN's option space; callee data (5
        # bytes, NOP-aligned) on a SYN-ACK's echo.
        "syn_connect_data": packet(0x3C5D1E2F, 0, SYN, 64240,
                                   SYN_OPTS + bytes([253, 20, 0xD1, 0x5C]) + bytes(range(16))),
        "synack_callee_data": packet(1, 0x3C5D1E30, SYN | ACK, 65535,
                                     bytes([2, 4, 5, 0xB4, 1, 1, 1, 253, 9, 0xD1, 0x5C]) +
                                     b"sess7"),
    }
    for name, p in seeds.items():
        write("fuzz_codec", name, b"\x00" + p)


def options_seeds():
    parse = {
        "syn": (SYN, 0, SYN_OPTS),
        "ts_sack": (ACK, 0, TS + SACK2),
        "disc": (FIN | ACK, 3, DISC),
        "disc_max": (FIN | ACK, 0, bytes([253, 40, 0xD1, 0x5C]) + bytes(range(36))),
        "sack4": (ACK, 0, bytes([1, 1, 5, 34]) + bytes(32) + bytes([0, 0])),
        "twice": (SYN, 0, bytes([2, 4, 1, 0, 2, 4, 2, 0, 3, 3, 20, 1])),
        "bad_lengths": (SYN, 0, bytes([2, 3, 1, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 5, 3, 0])),
        "short_exp": (ACK, 0, bytes([253, 3, 0xD1, 254, 2, 1])),
        "malformed": (ACK, 0, bytes([1, 1, 30, 60])),
        "eol": (ACK, 0, bytes([0, 2, 0, 2])),
        # DESIGN.md §3b: message mode beside the disconnect offer; then a message option with
        # data (malformed: length 6) and one under kind 254 (not ours).
        "msg_disc": (SYN, 0, SYN_OPTS + bytes([253, 4, 0xD1, 0x5D, 253, 4, 0xD1, 0x5C])),
        "msg_bad": (SYN, 0, bytes([253, 6, 0xD1, 0x5D, 0, 0, 254, 4, 0xD1, 0x5D])),
        # DESIGN.md §3c: connect data on a SYN (16 bytes, all 40 used) and a SYN-ACK.
        "syn_conn16": (SYN, 0, SYN_OPTS + bytes([253, 20, 0xD1, 0x5C]) + bytes(range(16))),
        "synack_conn": (SYN | ACK, 0, bytes([2, 4, 5, 0xB4, 1, 1, 1, 253, 9, 0xD1, 0x5C]) +
                        b"sess7"),
    }
    for name, (flags, plen, opts) in parse.items():
        write("fuzz_options", "parse_" + name, bytes([0, flags, plen]) + opts)
    # ENCODE: mode 1, seq, ack, present bits, flags, then the fields in order.
    def enc(present, flags, fields):
        return bytes([1]) + struct.pack("!II", 1, 2) + bytes([present, flags]) + fields + bytes([4])
    write("fuzz_options", "encode_syn", enc(0x0F, SYN, struct.pack("!H", 1460) + bytes([7])
                                             + struct.pack("!II", 1, 0)))
    write("fuzz_options", "encode_sack_disc",
          enc(0x38, FIN | ACK, struct.pack("!II", 5, 6) + bytes([4]) + bytes(32) + bytes([24]) +
              bytes(range(24))))
    write("fuzz_options", "encode_disc36", enc(0x20, FIN | ACK, bytes([36]) + bytes(range(36))))
    # DESIGN.md §3b / §3c: every SYN option, message mode and 12 bytes of connect data (40 bytes).
    write("fuzz_options", "encode_syn_msg_disc",
          enc(0x6F, SYN, struct.pack("!H", 1460) + bytes([7]) + struct.pack("!II", 1, 0) +
              bytes([12]) + bytes(range(12))))


# ---- engine scripts ------------------------------------------------------------------------

def eng_header(a, b, mode, peer_iss=5000, syn_opts=0x1F, mss=1460, ts=100):
    return bytes([a, b, mode]) + struct.pack("!I", peer_iss) + bytes([syn_opts]) + \
        struct.pack("!H", mss) + struct.pack("!I", ts)


# ops (see fuzz_engine.cpp step())
def seg(fsel=0, sm=0, sm_arg=b"", am=0, am_arg=b"", wm=0, lm=0, lm_arg=b"", om=0, om_args=b""):
    return bytes([0, fsel, sm]) + sm_arg + bytes([am]) + am_arg + bytes([wm, lm]) + lm_arg + \
        bytes([om]) + om_args


def advance(k):       # 0 0 1ms 10ms 40ms 200ms 1s 3s 10s 30s 61s 130s, 11 = next deadline
    return bytes([8, k])


def send(n):
    return bytes([10, n // 37, n % 37])


def recv(n):
    return bytes([12, max(0, (n - 1) // 16)])


def good_ack(data16=0, fin=False):
    return bytes([19, (data16 << 2) | (1 if data16 else 0) | (2 if fin else 0)])


def shutdown_send(disc=None):
    if disc is None:
        return bytes([14, 0])
    return bytes([14, len(disc) | 1 if len(disc) % 2 else len(disc) + 37]) + disc


def engine_seeds():
    # 1. established actively, everything negotiated, data both ways, disconnect data, close.
    write("fuzz_engine", "active_bulk_disc",
          eng_header(0x0F, 0x01, 0) + send(3000) + good_ack() + good_ack(10) + recv(160) +
          send(500) + good_ack() + shutdown_send(b"\x11" * 9) + good_ack(0, True) + recv(16) +
          advance(11) + advance(11))
    # 2. established passively, out-of-order data filled in, read.
    write("fuzz_engine", "passive_ooo",
          eng_header(0x07, 0x00, 1) +
          seg(fsel=1, sm=3, sm_arg=bytes([100]), lm=2, lm_arg=bytes([50]), om=0x01) +
          seg(fsel=1, sm=3, sm_arg=bytes([200]), lm=2, lm_arg=bytes([50]), om=0x01) +
          seg(fsel=1, lm=2, lm_arg=bytes([100]), om=0x01) + recv(400) + bytes([16, 0]) +
          good_ack(0, True) + advance(11))
    # 3. SYN-SENT: the peer's SYN-ACK, then data and a FIN.
    write("fuzz_engine", "syn_sent",
          eng_header(0x00, 0x00, 2, syn_opts=0x01) + seg(fsel=8, om=0x08) + good_ack(4) +
          recv(64) + good_ack(0, True) + recv(1) + bytes([16, 0]) + good_ack() + advance(11))
    # 4. LISTEN: SYN, ACK, accept, echo, close.
    write("fuzz_engine", "listen_accept",
          eng_header(0x1B, 0x05, 3) + seg(fsel=7, om=0x29) + seg(fsel=0) + bytes([17]) +
          good_ack(8) + recv(128) + send(128) + good_ack() + bytes([16, 0]) + good_ack(0, True) +
          advance(11))
    # 5. retransmissions, fast retransmit with SACK, recovery.
    write("fuzz_engine", "loss_recovery",
          eng_header(0x23, 0x0A, 0) + send(8000) + advance(5) + advance(11) +
          seg(fsel=0, am=1, om=0x03, om_args=bytes([1, 8, 46, 40, 46])) * 3 + advance(11) +
          good_ack())
    # 6. RSTs and SYNs in window, zero window, persist probes, keep-alive.
    write("fuzz_engine", "rst_zero_window",
          eng_header(0x81, 0x00, 0) + seg(fsel=0, wm=1) + send(2000) + advance(11) +
          advance(11) + seg(fsel=5, sm=3, sm_arg=bytes([5])) + seg(fsel=7) + seg(fsel=5) +
          advance(10))
    # 8. DESIGN.md §3c: LISTEN, a SYN with 9 bytes of caller data, accept; SYN-SENT, a SYN-ACK
    #    echoing with 5 bytes of callee data.
    write("fuzz_engine", "listen_caller_data",
          eng_header(0x1B, 0x05, 3) + seg(fsel=7, om=0x2D, om_args=bytes([9]) + b"caller-id") +
          seg(fsel=0) + bytes([17]) + good_ack(8) + recv(128) + bytes([16, 0]) + advance(11))
    write("fuzz_engine", "syn_sent_callee_data",
          eng_header(0x08, 0x00, 2, syn_opts=0x11) +
          seg(fsel=8, om=0x0C, om_args=bytes([5]) + b"hello") + good_ack(4) + recv(64) +
          advance(11))
    # 7. close with unread data, release, TIME-WAIT reopen.
    write("fuzz_engine", "unread_close_reopen",
          eng_header(0x00, 0x00, 1) + good_ack(4) + bytes([16, 2]) + seg(fsel=7) + bytes([17]) +
          advance(9))


# ---- WSP call sequences ---------------------------------------------------------------------

def w_socket(host):
    return bytes([0, host, 0])


def w_bind(sock, host_addr, port_idx):
    return bytes([2, sock, host_addr, port_idx])


def w_listen(sock, backlog=5):
    return bytes([3, sock, backlog])


def w_accept(sock):
    return bytes([4, sock, 0])


def w_connect(sock, host_addr, port_idx):
    return bytes([5, sock, host_addr, port_idx])


def w_send(sock, len_idx):
    return bytes([6, sock, 1, len_idx, 0])


def w_recv(sock, len_idx):
    return bytes([8, sock, 1, len_idx, 0])


def w_pump(k=1):
    return bytes([23, k])


def wsp_seeds():
    setup = (w_socket(1) + w_bind(0, 1, 1) + w_listen(0) + w_socket(0) + w_connect(1, 1, 1) +
             w_pump() + w_accept(0))
    write("fuzz_wsp", "connect_send_disc",
          bytes([0x03]) + setup + w_send(1, 3) + w_pump() + w_recv(2, 4) +
          bytes([11, 1, 8]) + w_pump() + w_recv(2, 4) + bytes([12, 2, 0x40]) +
          bytes([13, 2, 13, 1]) + w_pump(4))
    write("fuzz_wsp", "events_select",
          bytes([0x00]) + bytes([19, 0]) + setup + bytes([17, 1, 0, 0x3F]) + w_send(2, 4) +
          w_pump() + bytes([19, 0x80 | 4, 1, 0]) + bytes([18, 0x03, 2, 1, 2, 1, 1]) +
          bytes([10, 1, 1]) + w_pump() + bytes([19, 0x84, 1, 0]) + w_pump(4))
    write("fuzz_wsp", "linger_options",
          bytes([0x88]) + setup + bytes([14, 1, 0x00, 1, 2]) + bytes([15, 2, 0x10]) +
          bytes([16, 2, 1, 1]) + w_send(1, 5) + bytes([13, 1]) + w_pump(3) + bytes([20, 2, 0]) +
          bytes([20, 2, 1]) + bytes([21, 0, 0]) + w_pump(4))


def main():
    if len(sys.argv) > 1:
        global ROOT
        ROOT = sys.argv[1]
    codec_seeds()
    options_seeds()
    engine_seeds()
    wsp_seeds()


if __name__ == "__main__":
    main()
