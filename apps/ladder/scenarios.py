#!/usr/bin/env python3
"""Run the teardowns people ask about between two ustack hosts and draw each one's ladder.

  PYTHONPATH=build/python python3 apps/ladder/scenarios.py OUTDIR [SCENARIO...]

Each scenario runs over an in-memory link with a 1 ms one-way delay (so segments visibly cross),
both hosts writing their own pcap and state log into OUTDIR/SCENARIO/, and ends with
ustack-ladder drawing OUTDIR/SCENARIO.html from them. No root. The scenarios:

  graceful      Winsock's "Connection Shutdown" exchange: data, disconnect data both ways
  simultaneous  both sides WSPSendDisconnect at once: the FINs cross (CLOSING on both sides)
  linger0       SO_LINGER {1,0}: WSPCloseSocket resets at once, no TIME-WAIT
  linger-expiry SO_LINGER {1,1} with data the peer's full window holds back: after 1 s, RST
  unread        the server closes with unread data: RST (RFC 2525 §2.17), not FIN
"""

import os
import pathlib
import shutil
import subprocess
import sys

import ustack

HERE = pathlib.Path(__file__).resolve().parent
# Next to this script in the tree; on PATH once installed (ustack-tools).
LADDER = HERE / "ustack-ladder" if (HERE / "ustack-ladder").exists() else shutil.which("ustack-ladder")
A, B, PORT = "10.9.0.1", "10.9.0.2", 7000
DELAY_US = 1000


def total(n):
    return n.to_bytes(8, "big", signed=True)


class Run:
    """Two hosts over a delayed in-memory link, each with its pcap and state log in `dir`."""

    def __init__(self, directory, **server_kwargs):
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        end_a, end_b = ustack.create_memory_link(0.0, 1, DELAY_US)
        self.a = ustack.Host(addr=A, device=end_a, pcap=directory / "a.pcap",
                             state_log=directory / "a.jsonl", msl_ms=200,
                             cleanup_timeout_ms=3000)
        self.b = ustack.Host(addr=B, device=end_b, pcap=directory / "b.pcap",
                             state_log=directory / "b.jsonl", msl_ms=200,
                             cleanup_timeout_ms=3000, **server_kwargs)
        self.listener = self.b.socket()
        self.listener.bind(("0.0.0.0", PORT))
        self.listener.listen(4)

    def connect(self):
        c = self.a.socket()
        c.connect((B, PORT))
        s, _ = self.listener.accept()
        return c, s

    def finish(self):
        self.listener.close()
        # The server first: its cleanup waits for its last FIN's ACK while the client runs.
        self.b.close()
        self.a.close()

    def ladder(self, out_html, title):
        subprocess.run([sys.executable, str(LADDER), "--title", title,
                        "--log", str(self.dir / "a.jsonl"), "--log", str(self.dir / "b.jsonl"),
                        f"{A}={self.dir / 'a.pcap'}", f"{B}={self.dir / 'b.pcap'}",
                        "-o", str(out_html)], check=True)


def graceful(run):
    c, s = run.connect()
    sent = [1200, -350, 8000, 2183]
    for t in sent:
        c.sendall(total(t))
    c.send_disconnect(total(sum(sent)))                         # step 1
    got = 0
    while data := s.recv(64):                                  # step 2: recv returns 0
        got += len(data)
    client_total = int.from_bytes(s.recv_disconnect(), "big", signed=True)   # step 3
    s.send_disconnect(total(client_total))                     # step 5
    s.close()
    assert c.recv(64) == b""                                   # step 6
    assert int.from_bytes(c.recv_disconnect(), "big", signed=True) == sum(sent)  # step 7
    c.close()                                                  # step 8


def simultaneous(run):
    c, s = run.connect()
    # Both within the link's 1 ms delay: each FIN leaves before the other arrives.
    c.send_disconnect(total(1))
    s.send_disconnect(total(2))
    assert c.recv(8) == b"" and s.recv(8) == b""
    assert c.recv_disconnect() == total(2) and s.recv_disconnect() == total(1)
    c.close()
    s.close()


def linger0(run):
    c, s = run.connect()
    c.sendall(b"abortive")
    assert s.recv(8) == b"abortive"
    c.set_linger(1, 0)
    c.close()
    try:
        s.recv(8)
    except ustack.WSAError as e:
        assert e.name == "WSAECONNRESET", e.name
    else:
        raise AssertionError("the server did not see the reset")
    s.close()


def linger_expiry(run):
    c, s = run.connect()
    c.set_nonblocking(True)
    try:
        while True:  # fill the server's receive window (it never reads) and our send buffer
            c.send(b"x" * 4096)
    except ustack.WSAError as e:
        assert e.name == "WSAEWOULDBLOCK", e.name
    c.set_nonblocking(False)
    c.set_linger(1, 1)
    c.close()  # blocks 1 s: nothing more is acknowledged; then the reset
    s.close()


def unread(run):
    c, s = run.connect()
    c.sendall(b"never read")
    with ustack.Event() as ev:
        s.event_select(ev, ustack.FD_READ)
        assert ustack.wait_for_multiple_events([ev], False, 5000) == 0
    s.close()  # unread data: RST, not FIN
    try:
        c.recv(8)
    except ustack.WSAError as e:
        assert e.name == "WSAECONNRESET", e.name
    c.close()


SCENARIOS = {
    "graceful": (graceful, {}, "Graceful close with disconnect data both ways (steps 1-8)"),
    "simultaneous": (simultaneous, {}, "Simultaneous close: the FINs cross"),
    "linger0": (linger0, {}, "SO_LINGER {1,0}: abortive close (RST)"),
    "linger-expiry": (linger_expiry, {"recv_buffer": 8192},
                      "SO_LINGER {1,1} expires: the unacknowledged data is reset"),
    "unread": (unread, {}, "Close with unread data: RST (RFC 2525 \u00a72.17)"),
}


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = pathlib.Path(argv[1])
    names = argv[2:] or list(SCENARIOS)
    for name in names:
        if name not in SCENARIOS:
            print(f"scenarios: unknown scenario {name} (one of {', '.join(SCENARIOS)})",
                  file=sys.stderr)
            return 2
        fn, server_kwargs, title = SCENARIOS[name]
        run = Run(out / name, **server_kwargs)
        try:
            fn(run)
        finally:
            run.finish()
        run.ladder(out / f"{name}.html", title)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv))
