#!/usr/bin/env python3
"""linux_peer.py -- the Linux TCP side of ustack's end-to-end tests (run with `ip netns exec`).

One connection; the same line protocol as apps/ustack_peer.cpp:
    listening <port> | connected <addr:port> | OK ... | ERR <errno name> ... |
    sha256 sent|recv <hex> <bytes> | rate sent|recv ... | RESULT <ECONNRESET|EOF ...>

Modes:
  send            (sleep --delay,) send --bytes, shutdown(SHUT_WR), read to EOF, close
  recv            read to EOF, close
  duplex          send --bytes (then SHUT_WR) in a thread while reading to EOF
  send-then-recv  send --bytes, SHUT_WR (half-close by Linux), read to EOF, close
  recv-then-send  read to EOF (ustack's half-close), send --bytes, close
  abort           send --bytes, wait for 2 bytes ("go"), SO_LINGER {1,0}, close (RST)
  expect-reset    send --bytes (may be 0), sleep --delay, read until error or EOF;
                  prints RESULT ECONNRESET or RESULT EOF <n>
  expect-refused  (--connect) one connect attempt, no retry: RESULT ECONNREFUSED |
                  RESULT connected | RESULT <errno name>
  no-accept       (--listen) listen, then wait (at most --timeout) for a line on stdin -- the
                  test's go-ahead -- and accept without blocking: RESULT accept none |
                  RESULT accepted <addr:port>
"""
import argparse
import errno
import hashlib
import random
import select
import socket
import struct
import sys
import threading
import time


def line(s):
    print(s, flush=True)


def data_stream(nbytes, seed):
    rnd = random.Random(seed)
    left = nbytes
    while left > 0:
        n = min(left, 1 << 20)
        yield rnd.randbytes(n)
        left -= n


def send_all(sock, nbytes, seed):
    h = hashlib.sha256()
    t0 = time.monotonic()
    done = 0
    for chunk in data_stream(nbytes, seed):
        sock.sendall(chunk)
        h.update(chunk)
        done += len(chunk)
    dt = time.monotonic() - t0
    line(f"sha256 sent {h.hexdigest()} {done}")
    line(f"rate sent {done / 1048576 / dt if dt > 0 else 0:.1f} MiB/s ({dt:.2f} s)")


def recv_all(sock, what):
    h = hashlib.sha256()
    t0 = time.monotonic()
    done = 0
    while True:
        b = sock.recv(1 << 18)
        if not b:
            break
        h.update(b)
        done += len(b)
    dt = time.monotonic() - t0
    line(f"sha256 recv {h.hexdigest()} {done}")
    line(f"OK eof {what}")
    line(f"rate recv {done / 1048576 / dt if dt > 0 else 0:.1f} MiB/s ({dt:.2f} s)")


def recv_exact(sock, n):
    got = b""
    while len(got) < n:
        b = sock.recv(n - len(got))
        if not b:
            raise EOFError(f"EOF after {len(got)} of {n} bytes")
        got += b
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--listen", metavar="ADDR", help="bind ADDR:--port, accept one connection")
    g.add_argument("--connect", metavar="ADDR", help="connect to ADDR:--port")
    ap.add_argument("--bind", metavar="ADDR", help="with --connect: local address")
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--bytes", default="1M")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.0,
                    help="expect-reset: sleep before reading; send: sleep before sending")
    ap.add_argument("--timeout", type=float, default=30.0, help="socket timeout, seconds")
    a = ap.parse_args()
    mult = {"K": 1 << 10, "M": 1 << 20}
    nbytes = int(a.bytes[:-1]) * mult[a.bytes[-1].upper()] if a.bytes[-1].upper() in mult else int(a.bytes)

    if a.mode == "expect-refused" and a.connect:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if a.bind:
            s.bind((a.bind, 0))
        s.settimeout(a.timeout)
        try:
            s.connect((a.connect, a.port))
            line("RESULT connected")
        except ConnectionRefusedError:
            line("RESULT ECONNREFUSED")
        except OSError as e:
            line(f"RESULT {errno.errorcode.get(e.errno, type(e).__name__)}")
        s.close()
        return 0
    if a.mode == "no-accept" and a.listen:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a.listen, a.port))
        ls.listen(4)
        line(f"listening {a.port}")
        if not select.select([sys.stdin], [], [], a.timeout)[0]:
            line("ERR TIMEOUT waiting for the go-ahead on stdin")
            return 1
        sys.stdin.readline()
        ls.setblocking(False)
        try:
            s, peer = ls.accept()
            line(f"RESULT accepted {peer[0]}:{peer[1]}")
            s.close()
        except BlockingIOError:
            line("RESULT accept none")
        ls.close()
        return 0

    if a.listen:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a.listen, a.port))
        ls.listen(1)
        ls.settimeout(a.timeout)
        line(f"listening {a.port}")
        s, peer = ls.accept()
        ls.close()
    else:
        deadline = time.monotonic() + a.timeout
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if a.bind:
                s.bind((a.bind, 0))
            s.settimeout(max(1.0, deadline - time.monotonic()))
            try:
                s.connect((a.connect, a.port))
                break
            except (ConnectionRefusedError, socket.timeout) as e:
                s.close()
                if time.monotonic() > deadline:
                    line(f"ERR {type(e).__name__} connect")
                    return 1
                time.sleep(0.2)
        peer = (a.connect, a.port)
    s.settimeout(a.timeout)
    line(f"connected {peer[0]}:{peer[1]}")

    m = a.mode
    try:
        if m == "send":
            time.sleep(a.delay)
            send_all(s, nbytes, a.seed)
            s.shutdown(socket.SHUT_WR)
            line("OK shutdown(SHUT_WR)")
            recv_all(s, "after send")
        elif m == "recv":
            recv_all(s, "recv")
        elif m == "duplex":
            err = []

            def sender():
                try:
                    send_all(s, nbytes, a.seed)
                    s.shutdown(socket.SHUT_WR)
                    line("OK shutdown(SHUT_WR)")
                except OSError as e:
                    err.append(e)
                    line(f"ERR {errno.errorcode.get(e.errno, e)} send")

            t = threading.Thread(target=sender)
            t.start()
            recv_all(s, "duplex")
            t.join()
            if err:
                return 1
        elif m == "send-then-recv":
            send_all(s, nbytes, a.seed)
            s.shutdown(socket.SHUT_WR)
            line("OK shutdown(SHUT_WR)")
            recv_all(s, "half-closed")
        elif m == "recv-then-send":
            recv_all(s, "peer half-closed")
            send_all(s, nbytes, a.seed)
        elif m == "abort":
            send_all(s, nbytes, a.seed)
            go = recv_exact(s, 2)
            line(f"OK received {go!r}")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            line("OK close with SO_LINGER {1,0}")
            return 0
        elif m == "expect-reset":
            if nbytes:
                send_all(s, nbytes, a.seed)
            if a.delay:
                time.sleep(a.delay)
            done = 0
            try:
                while True:
                    b = s.recv(1 << 18)
                    if not b:
                        line(f"RESULT EOF {done}")
                        break
                    done += len(b)
            except ConnectionResetError:
                line(f"RESULT ECONNRESET after {done} bytes")
        else:
            line(f"ERR unknown mode {m}")
            return 2
    except socket.timeout:
        line("ERR TIMEOUT")
        return 1
    except OSError as e:
        line(f"ERR {errno.errorcode.get(e.errno, str(e))} {m}")
        return 1
    s.close()
    line("OK close")
    return 0


if __name__ == "__main__":
    sys.exit(main())
