"""Helpers of the ustack module's tests (fixtures in conftest.py).

No test sleeps to synchronise: each waits on a blocking call, an Event or a thread join, each
bounded.
"""

import os
import pathlib
import threading

import ustack

WAIT_MS = 5000  # a bound for every wait on an event
PORT = 7000
SERVER = ("10.9.0.2", PORT)

SOURCE_DIR = pathlib.Path(
    os.environ.get("USTACK_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))


def make_pair(**kwargs):
    kwargs.setdefault("cleanup_timeout_ms", 2000)
    return ustack.memory_pair("10.9.0.1", "10.9.0.2", **kwargs)


def listener(host, type=ustack.SOCK_STREAM, port=PORT, conditional=False):
    ls = host.socket(type)
    ls.bind(("0.0.0.0", port))
    if conditional:
        ls.setsockopt(ustack.SOL_SOCKET, ustack.SO_CONDITIONAL_ACCEPT, True)
    ls.listen(8)
    return ls


def connected(pair, type=ustack.SOCK_STREAM):
    """(client on A, server socket on B, listener on B), connected."""
    a, b = pair
    ls = listener(b, type)
    c = a.socket(type)
    c.connect(SERVER)
    s, addr = ls.accept()
    assert addr == c.getsockname()
    return c, s, ls


def wait_events(sock, mask, timeout_ms=WAIT_MS):
    """Register `mask` (the socket becomes non-blocking) and wait until one of them is
    recorded; returns enum_network_events' (events, {FD_x: error})."""
    with ustack.Event() as ev:
        sock.event_select(ev, mask)
        seen, errors = 0, {}
        while not seen & mask:
            assert ustack.wait_for_multiple_events([ev], False, timeout_ms) == 0, \
                f"no event of mask {mask:#x} within {timeout_ms} ms"
            got, errs = sock.enum_network_events(ev)
            seen |= got
            errors.update(errs)
        return seen, errors


def recv_exactly(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, f"EOF after {len(out)} of {n} bytes"
        out += chunk
    return out


def recv_until_eof(sock):
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk


class Worker(threading.Thread):
    """Runs fn in a thread; join() re-raises what it raised and returns its result."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args = fn, args
        self.result, self.error = None, None
        self.start()

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001 -- handed to the joining test
            self.error = e

    def join(self, timeout=WAIT_MS / 1000):
        super().join(timeout)
        assert not self.is_alive(), f"{self.fn.__name__} did not finish within {timeout} s"
        if self.error is not None:
            raise self.error
        return self.result
