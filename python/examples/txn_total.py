#!/usr/bin/env python3
"""The transaction-total exchange of Winsock's "Connection Shutdown" page, steps 1-8.

Client: (1) send N transactions, then send_disconnect(total); (6) wait for FD_CLOSE, the
server's FIN; (7) recv_disconnect() for the grand total; (8) close.
Server: (2) recv() the transactions until b"" (the client's FIN), summing them, and
recv_disconnect() the client's total; (3) check it; (4-5) send_disconnect(grand total),
whose FIN the client gets as FD_CLOSE; then close.

    txn_total.py                          both ends in this process, over an in-memory link
    txn_total.py server --tun tun0 --addr 10.0.2.2
    txn_total.py client --tun tun0 --addr 10.0.1.2 --server 10.0.2.2
"""

import argparse
import random
import struct
import sys
import threading

import ustack

PORT = 7000
GRAND_BASE = 1_000_000  # the server's grand total: the client's total plus this


def serve_one(listener):
    s, peer = listener.accept()
    with s:
        total, pending = 0, b""
        while chunk := s.recv(4096):                       # step 2: until the client's FIN
            pending += chunk
            while len(pending) >= 8:
                total += struct.unpack(">q", pending[:8])[0]
                pending = pending[8:]
        (claimed,) = struct.unpack(">q", s.recv_disconnect())
        ok = claimed == total                              # step 3
        grand = total + GRAND_BASE
        s.send_disconnect(struct.pack(">q", grand))        # steps 4-5
        print(f"server: {peer[0]}:{peer[1]} total {total} ({'agrees' if ok else 'DISAGREES'}),"
              f" grand total {grand}", flush=True)
        return ok


def client(host, server, count, seed=1, timeout_ms=30000):
    rng = random.Random(seed)
    amounts = [rng.randint(-500, 5000) for _ in range(count)]
    with host.socket() as s, ustack.Event() as ev:
        s.connect((server, PORT))
        s.sendall(b"".join(struct.pack(">q", v) for v in amounts))          # step 1
        s.send_disconnect(struct.pack(">q", sum(amounts)))
        s.event_select(ev, ustack.FD_CLOSE)                                  # step 6
        if ustack.wait_for_multiple_events([ev], False, timeout_ms) is None:
            raise TimeoutError(f"no FD_CLOSE within {timeout_ms} ms")
        events, errors = s.enum_network_events(ev)
        if errors.get(ustack.FD_CLOSE, 0) != 0:
            raise ustack.WSAError(errors[ustack.FD_CLOSE], ustack.error_name(
                errors[ustack.FD_CLOSE]), "FD_CLOSE")
        (grand,) = struct.unpack(">q", s.recv_disconnect())                 # step 7
    ok = grand == sum(amounts) + GRAND_BASE                                  # step 8: closed
    print(f"client: sent {count} transactions, total {sum(amounts)}, grand total {grand}"
          f" ({'ok' if ok else 'WRONG'})", flush=True)
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("role", nargs="?", choices=["server", "client"])
    p.add_argument("--tun", default="tun0")
    p.add_argument("--addr")
    p.add_argument("--server", default="10.0.2.2")
    p.add_argument("--count", type=int, default=100)
    args = p.parse_args()
    if args.role is None:  # both ends here, over an in-memory link
        a, b = ustack.memory_pair("10.9.0.1", "10.9.0.2")
        with a, b, b.socket() as ls:
            ls.bind(("0.0.0.0", PORT))
            ls.listen(1)
            result = {}
            t = threading.Thread(target=lambda: result.update(ok=serve_one(ls)))
            t.start()
            ok = client(a, "10.9.0.2", args.count)
            t.join(30)
            return 0 if ok and result.get("ok") else 1
    with ustack.Host(addr=args.addr, tun_name=args.tun) as host:
        if args.role == "client":
            return 0 if client(host, args.server, args.count) else 1
        with host.socket() as ls:
            ls.bind(("0.0.0.0", PORT))
            ls.listen(1)
            print("server: listening", flush=True)
            return 0 if serve_one(ls) else 1


if __name__ == "__main__":
    sys.exit(main())
