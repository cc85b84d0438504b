#!/usr/bin/env python3
"""tun-ping.py — check a netns-up.sh network end to end without ustack (standard library only).

Stands in for the ustack processes: attaches to a TUN device (IFF_TUN|IFF_NO_PI, adding
IFF_MULTI_QUEUE if the device was made with --multi-queue) and exchanges ICMP echo packets, so
the path TUN -> kernel forward -> veth -> kernel forward -> TUN can be tested before blaming ustack.

  # in host-b: answer echo requests addressed to 10.0.2.2 for 5 seconds
  ip netns exec ust-b scripts/lib/tun-ping.py respond 10.0.2.2 --seconds 5 &
  # in host-a: send 100 requests from 10.0.1.2 to 10.0.2.2, print "N/100 replies"
  ip netns exec ust-a scripts/lib/tun-ping.py ping 10.0.1.2 10.0.2.2 --count 100

The pinger can also target host-b's kernel (10.0.2.1 or 10.0.0.2) without a responder.
Exit status of "ping": 0 if at least --min replies arrived (default: all), else 1.
"""
import argparse
import errno
import fcntl
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_MULTI_QUEUE = 0x0100


def csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def open_tun(name: str) -> int:
    for flags in (IFF_TUN | IFF_NO_PI, IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
            return fd
        except OSError as e:
            os.close(fd)
            if e.errno != errno.EINVAL:
                raise
    sys.exit(f"tun-ping: cannot attach to {name}")


def ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def icmp_echo(typ: int, ident: int, seq: int, data: bytes) -> bytes:
    m = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def packets(fd: int, until: float):
    while time.time() < until:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            p = os.read(fd, 65535)
            if len(p) >= 28 and p[0] >> 4 == 4 and p[9] == 1:  # IPv4 ICMP
                yield p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tun", default="tun0")
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("respond", help="answer echo requests to ADDR")
    r.add_argument("addr")
    r.add_argument("--seconds", type=float, default=5.0)
    p = sub.add_parser("ping", help="send echo requests SRC -> DST")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--min", type=int, default=None, help="replies needed for exit 0 (default: all)")
    p.add_argument("--wait", type=float, default=2.0, help="seconds to wait for replies")
    a = ap.parse_args()

    fd = open_tun(a.tun)
    if a.mode == "respond":
        answered = 0
        for pkt in packets(fd, time.time() + a.seconds):
            ihl = (pkt[0] & 15) * 4
            if socket.inet_ntoa(pkt[16:20]) != a.addr or pkt[ihl] != 8:
                continue
            ident, seq = struct.unpack("!HH", pkt[ihl + 4:ihl + 8])
            reply = icmp_echo(0, ident, seq, pkt[ihl + 8:])
            os.write(fd, ipv4(a.addr, socket.inet_ntoa(pkt[12:16]), 1, reply))
            answered += 1
        print(f"tun-ping: answered {answered} echo requests")
        return 0

    ident = os.getpid() & 0xFFFF
    for seq in range(a.count):
        os.write(fd, ipv4(a.src, a.dst, 1, icmp_echo(8, ident, seq, b"ustack-tun-ping!")))
    got = set()
    for pkt in packets(fd, time.time() + a.wait):
        ihl = (pkt[0] & 15) * 4
        if socket.inet_ntoa(pkt[12:16]) == a.dst and pkt[ihl] == 0:
            rid, seq = struct.unpack("!HH", pkt[ihl + 4:ihl + 8])
            if rid == ident:
                got.add(seq)
        if len(got) == a.count:
            break
    print(f"{len(got)}/{a.count} replies")
    need = a.count if a.min is None else a.min
    return 0 if len(got) >= need else 1


if __name__ == "__main__":
    sys.exit(main())
