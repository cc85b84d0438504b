#!/usr/bin/env python3
"""Write a small raw-IPv4 pcap (LINKTYPE_RAW = 101) exercising the ustack TCP option.

Usage: make-test-pcap.py OUT.pcap

Standard library only (struct). IPv4 and TCP checksums are computed correctly, so tshark with
-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE reports them as good. The frames, in order:

  1  SYN      MSS, our option kind 253 ExID 0xD15C with N=0 (negotiation)
  2  SYN-ACK  MSS, our option N=0
  3  FIN+ACK  NOP NOP TS + our option N=8, total 0x0000000000BC614E = 12345678 (24 option bytes)
  4  FIN+ACK  NOP NOP TS + our option N=24 (bytes 0x00..0x17): exactly 40 option bytes
  5  FIN+ACK  our option N=8, total -42 (signed 64-bit)
  6  SYN      TFO experimental kind 254 ExID 0xF989, cookie request (must still decode as TFO=R)
  7  SYN      TFO kind 254 ExID 0xF989 with an 8-byte cookie
  8  FIN+ACK  kind 253, unknown ExID 0x1234, 2 data bytes (built-in decoder: Unknown)
  9  FIN+ACK  kind 254 with *our* ExID 0xD15C (not ours: we only claim kind 253)
 10  ACK      kind 253 with length 3 (malformed: too short for an ExID)
 11  ACK+PSH  our option N=4 on a data segment (not SYN/FIN, still decoded) + 5 payload bytes
 12  frame 3 again, captured only up to the middle of our option (snap length 58 of 64)
 13  SYN      MSS, SACKOK, TS, WS, the message-mode option (ExID 0xD15D, DESIGN.md §3b) and our
              disconnect option N=0: both experiments on one SYN (28 option bytes)
 14  SYN-ACK  MSS + the message-mode option alone
 15  SYN      MSS + kind 253 ExID 0xD15D with length 6 (malformed: the option has no data)
 16  SYN      kind 254 with the message-mode ExID 0xD15D (not ours: we only claim kind 253)
 17  SYN      every option + our offer with 16 bytes of caller data "client-0001\x00\x01\x02\x03\x04"
              (DESIGN.md §3c): exactly 40 option bytes
 18  SYN-ACK  MSS + NOP NOP NOP + our echo with 9 bytes of callee data "session-7"
 19  SYN      every option + the message-mode option + our offer with 12 bytes of caller data
              (0x20..0x2b): exactly 40 option bytes
"""
import struct
import sys

A = bytes([10, 0, 1, 2])
B = bytes([10, 0, 2, 2])
EXID = 0xD15C
MSG_EXID = 0xD15D


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp_ip(src, dst, sport, dport, seq, ack, flags, opts=b"", payload=b"", ident=1):
    assert len(opts) % 4 == 0 and len(opts) <= 40, len(opts)
    doff = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 65535, 0, 0)
    seg = hdr + opts + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    c = csum(pseudo + seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    total = 20 + len(seg)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + seg


def ours(data: bytes = b"", exid: int = EXID, kind: int = 253) -> bytes:
    return struct.pack("!BBH", kind, 4 + len(data), exid) + data


def pad(opts: bytes) -> bytes:
    # EOL then zero padding to a 32-bit boundary (RFC 9293 MUST-69)
    return opts + b"\0" * (-len(opts) % 4)


MSS = struct.pack("!BBH", 2, 4, 1460)
TS = b"\x01\x01" + struct.pack("!BBII", 8, 10, 1000, 2000)
# What a ustack SYN with every option carries (tests/codec/golden_test.cpp, DESIGN.md §3b).
SYN_ALL = MSS + b"\x04\x02" + struct.pack("!BBII", 8, 10, 123456, 0) + b"\x01\x03\x03\x07"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make-test-pcap.py OUT.pcap")
    isn_a, isn_b = 1000, 5000
    pkts = [
        tcp_ip(A, B, 40000, 45454, isn_a, 0, SYN, MSS + ours()),
        tcp_ip(B, A, 45454, 40000, isn_b, isn_a + 1, SYN | ACK, MSS + ours()),
        tcp_ip(A, B, 40000, 45454, isn_a + 1, isn_b + 1, FIN | ACK,
               TS + ours(struct.pack("!q", 12345678))),
        tcp_ip(B, A, 45454, 40000, isn_b + 1, isn_a + 2, FIN | ACK, TS + ours(bytes(range(24)))),
        tcp_ip(A, B, 40001, 45454, 7000, 8000, FIN | ACK, ours(struct.pack("!q", -42))),
        tcp_ip(A, B, 40002, 80, 9000, 0, SYN, MSS + ours(exid=0xF989, kind=254)),
        tcp_ip(A, B, 40003, 80, 9100, 0, SYN,
               MSS + ours(bytes.fromhex("0102030405060708"), exid=0xF989, kind=254)),
        tcp_ip(A, B, 40004, 45454, 9200, 9300, FIN | ACK, pad(ours(b"\xaa\xbb", exid=0x1234))),
        tcp_ip(A, B, 40005, 45454, 9400, 9500, FIN | ACK, ours(b"\x01\x02\x03\x04", kind=254)),
        tcp_ip(A, B, 40006, 45454, 9600, 9700, ACK, b"\xfd\x03\xd1\x00"),
        tcp_ip(A, B, 40007, 45454, 9800, 9900, ACK | PSH, ours(b"\xde\xad\xbe\xef"),
               payload=b"hello"),
    ]
    assert len(pkts[3]) == 20 + 20 + 40  # frame 4 fills the option space exactly
    # After the truncated frame 12:
    more = [
        tcp_ip(A, B, 40010, 45454, 11000, 0, SYN, SYN_ALL + ours(exid=MSG_EXID) + ours()),
        tcp_ip(B, A, 45454, 40010, 12000, 11001, SYN | ACK, MSS + ours(exid=MSG_EXID)),
        tcp_ip(A, B, 40011, 45454, 11100, 0, SYN, MSS + pad(ours(b"\0\0", exid=MSG_EXID))),
        tcp_ip(A, B, 40012, 45454, 11200, 0, SYN, MSS + ours(exid=MSG_EXID, kind=254)),
    ]
    caller = b"client-0001" + bytes(range(5))
    more += [
        tcp_ip(A, B, 40013, 45454, 13000, 0, SYN, SYN_ALL + ours(caller)),
        tcp_ip(B, A, 45454, 40013, 14000, 13001, SYN | ACK, MSS + b"\x01\x01\x01" + ours(b"session-7")),
        tcp_ip(A, B, 40014, 45454, 13100, 0, SYN,
               SYN_ALL + ours(exid=MSG_EXID) + ours(bytes(range(0x20, 0x2c)))),
    ]
    assert len(more[0]) == 20 + 20 + 28
    assert len(more[4]) == 20 + 20 + 40 and len(more[6]) == 20 + 20 + 40
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i, p in enumerate(pkts):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(p), len(p)))
            f.write(p)
        cut = pkts[2][:58]
        f.write(struct.pack("<IIII", 1700000000 + len(pkts), 0, len(cut), len(pkts[2])))
        f.write(cut)
        for i, p in enumerate(more):
            f.write(struct.pack("<IIII", 1700000000 + len(pkts) + 1 + i, 0, len(p), len(p)))
            f.write(p)


if __name__ == "__main__":
    main()
