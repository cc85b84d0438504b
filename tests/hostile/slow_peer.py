#!/usr/bin/env python3
"""slow_peer.py -- a Linux TCP client that reads at a bounded rate (hostile tests, run with
`ip netns exec`), so a transfer lasts long enough to be attacked while it runs.

    slow_peer.py --connect ADDR --port P [--bind ADDR] [--rate MiB/s] [--timeout S]

Connects, reads to end of stream at most --rate MiB/s, closes. Prints (like linux_peer.py):
    connected <addr:port> | local <port> | sha256 recv <hex> <bytes> | OK eof | ERR <name> ...
"""
import argparse
import errno
import hashlib
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind")
    ap.add_argument("--rate", type=float, default=8.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if a.bind:
        s.bind((a.bind, 0))
    s.settimeout(a.timeout)
    s.connect((a.connect, a.port))
    print(f"connected {a.connect}:{a.port}", flush=True)
    print(f"local {s.getsockname()[1]}", flush=True)
    h = hashlib.sha256()
    done = 0
    t0 = time.monotonic()
    try:
        while True:
            b = s.recv(64 * 1024)
            if not b:
                break
            h.update(b)
            done += len(b)
            ahead = done / (a.rate * 1048576) - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    except OSError as e:
        print(f"ERR {errno.errorcode.get(e.errno, str(e))} recv after {done} bytes", flush=True)
        print(f"sha256 recv {h.hexdigest()} {done}", flush=True)
        return 1
    print(f"sha256 recv {h.hexdigest()} {done}", flush=True)
    print("OK eof", flush=True)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
