#!/usr/bin/env python3
"""ustack-ladder on bad and large input: a clear message, never a traceback, and what can be
drawn still is.

  ladder_input_test.py

Captures are built here (raw-IP pcaps of a teardown with and without ustack's option), then
damaged: cut short, replaced by foreign bytes or pcapng, paired with a state log of another run
or one with broken lines. Last, a capture of 100,000 segments: its time is printed (a figure for
the notes, not a bound: tests assert no speeds). Exit 0 when every check holds, 1 otherwise.
"""

import pathlib
import struct
import subprocess
import sys
import tempfile
import time

LADDER = pathlib.Path(__file__).resolve().parents[2] / "apps/ladder/ustack-ladder"
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
A, B = bytes([10, 0, 1, 2]), bytes([10, 0, 2, 2])
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def packet(src, dst, sport, dport, seq, ack, flags, payload=b"", disc=None):
    opts = b""
    if disc is not None:
        body = struct.pack("!BBH", 253, 4 + len(disc), 0xD15C) + disc
        opts = body + b"\x01" * (-len(body) % 4)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (20 + len(opts)) // 4 << 4, flags,
                      65535, 0, 0) + opts + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    return ip + tcp


def exchange(sport, with_option=True, isn_a=1000, isn_b=5000):
    """A graceful close with 8 bytes of disconnect data each way: (sender, packet) in order."""
    d = (lambda v: struct.pack("!q", v)) if with_option else (lambda v: None)
    offer = b"" if with_option else None
    a, b = isn_a, isn_b
    return [
        packet(A, B, sport, 7000, a, 0, SYN, disc=offer),
        packet(B, A, 7000, sport, b, a + 1, SYN | ACK, disc=offer),
        packet(A, B, sport, 7000, a + 1, b + 1, ACK),
        packet(A, B, sport, 7000, a + 1, b + 1, PSH | ACK, b"12345678"),
        packet(A, B, sport, 7000, a + 9, b + 1, FIN | ACK, disc=d(11033)),
        packet(B, A, 7000, sport, b + 1, a + 10, ACK),
        packet(B, A, 7000, sport, b + 1, a + 10, FIN | ACK, disc=d(11033)),
        packet(A, B, sport, 7000, a + 10, b + 2, ACK),
    ]


def write_pcap(path, packets, t0=1_700_000_000.0, step=0.001):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i, p in enumerate(packets):
            t = t0 + i * step
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(p), len(p)) + p)


def ladder(*args, tmp):
    out = tmp / "out.html"
    if out.exists():
        out.unlink()
    r = subprocess.run([sys.executable, str(LADDER), *map(str, args), "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    page = out.read_text() if out.exists() else ""
    return r.returncode, r.stderr, page


def main():
    with tempfile.TemporaryDirectory(prefix="ustack-ladder-input.") as tmp:
        tmp = pathlib.Path(tmp)
        good = tmp / "good.pcap"
        write_pcap(good, exchange(40000))
        rc, err, page = ladder(good, tmp=tmp)
        check(rc == 0 and page.count('<g class="seg') == 8, "a good capture: 8 arrows drawn")
        check('data-disc-total="11033"' in page, "a good capture: the total decoded on the FINs")
        check("(states inferred)" in page, "without a state log: the states are marked inferred")

        # Cut short in the middle of the 6th record.
        data = good.read_bytes()
        cut = tmp / "cut.pcap"
        cut.write_bytes(data[:24 + sum(16 + len(p) for p in exchange(40000)[:5]) + 20])
        rc, err, page = ladder(cut, tmp=tmp)
        check(rc == 0 and "truncated after 5 records" in err, f"a truncated capture: said so ({err.strip()})")
        check(page.count('<g class="seg') == 5, "a truncated capture: the 5 whole segments drawn")

        for name, content, expect in (
                ("foreign.pcap", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4, "not a pcap file"),
                ("empty.pcap", b"", "not a pcap file"),
                ("capture.pcapng", b"\x0a\x0d\x0d\x0a" + b"\0" * 60, "pcapng is not read"),
        ):
            f = tmp / name
            f.write_bytes(content)
            rc, err, page = ladder(f, tmp=tmp)
            check(rc == 2 and expect in err and "Traceback" not in err,
                  f"{name}: exit 2 with '{expect}' ({err.strip().splitlines()[0] if err else ''})")
            check(expect in page, f"{name}: the page says it too")

        # A state log of another run: its connection is not in the capture.
        other = tmp / "other.jsonl"
        other.write_text('{"type":"host","addr":"10.0.1.2","wall_us":1700000000000000}\n'
                         '{"t_us":5,"type":"state","local":"10.0.1.2:55555","remote":'
                         '"10.0.2.2:7000","from":"CLOSED","to":"SYN-SENT","cause":"connect"}\n')
        rc, err, page = ladder("--log", other, good, tmp=tmp)
        check(rc == 0 and "no line matches a connection" in err,
              "a log of another run: said so, and the capture is still drawn")
        check("(states inferred)" in page, "a log of another run: the states stay inferred")

        broken = tmp / "broken.jsonl"
        broken.write_text('{"type":"host","addr":"10.0.1.2","wall_us":1700000000000000}\n'
                          'not json at all\n[1, 2]\n{"t_us": "soon"}\n'
                          '{"t_us":0,"type":"state","local":"10.0.1.2:40000","remote":'
                          '"10.0.2.2:7000","from":"CLOSED","to":"SYN-SENT","cause":"connect"}\n')
        rc, err, page = ladder("--log", broken, good, tmp=tmp)
        check(rc == 0 and "3 line(s) could not be read" in err and "Traceback" not in err,
              f"a log with broken lines: they are counted and skipped ({err.strip()})")
        check('data-state="SYN-SENT"' in page, "a log with broken lines: its good line is drawn")

        notalog = tmp / "notalog.jsonl"
        notalog.write_text("hello\n")
        rc, err, page = ladder("--log", notalog, good, tmp=tmp)
        check(rc == 0 and "not a ustack state log" in err, "a file that is no state log: said so")

        plain = tmp / "plain.pcap"
        write_pcap(plain, exchange(40001, with_option=False))
        rc, err, page = ladder(plain, tmp=tmp)
        check(rc == 0 and "No segment carries ustack" in page and page.count('<g class="seg') == 8,
              "a capture without our option: noted, and drawn")

        r = subprocess.run([sys.executable, str(LADDER), "--text", str(good)], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0 and "FIN,ACK" in r.stdout and "11033" in r.stdout,
              "--text: the same ladder in the terminal")
        r = subprocess.run([sys.executable, str(LADDER), "--conn", "7000:x", str(good)],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode != 0 and "expected PORT" in r.stderr and "Traceback" not in r.stderr,
              "a bad --conn: a clear error")
        two = tmp / "two.pcap"
        write_pcap(two, exchange(40002) + exchange(40003, isn_a=9000))
        rc, err, page = ladder("--conn", "40003", two, tmp=tmp)
        check(rc == 0 and page.count('<section class="conn"') == 1 and ":40003" in page,
              "--conn PORT: that connection only")

        # 100,000 segments: 12,500 exchanges of 8.
        big = tmp / "big.pcap"
        packets = []
        for i in range(12500):
            packets += exchange(10000 + i % 50000, isn_a=i * 100000)
        write_pcap(big, packets, step=0.00001)
        t = time.monotonic()
        rc, err, page = ladder(big, tmp=tmp)
        took = time.monotonic() - t
        check(rc == 0 and page.count('<section class="conn"') == 12500,
              "100,000 segments: every connection drawn")
        print(f"figure: 100,000 segments (12,500 connections) drawn in {took:.2f} s, "
              f"{len(page) / 1e6:.1f} MB of HTML")
    print(f"ladder-input: {len(failures)} failure(s)" if failures else "ladder-input: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
