"""Blocking calls release the GIL: another Python thread makes progress meanwhile -- here it is
the one that unblocks the call, so a call holding the GIL would never return (the watchdog of
conftest.py would end the run)."""

import threading

import ustack
from support import SERVER, Worker, connected, listener


def busy_then(started, action):
    started.wait(5)
    sum(range(200_000))  # Python work that needs the GIL while the other thread is blocked
    return action()


def test_blocking_recv_releases_the_gil_so_another_thread_can_send_the_data(pair):
    c, s, ls = connected(pair)
    started = threading.Event()
    w = Worker(busy_then, started, lambda: c.send(b"unblock"))
    started.set()
    assert s.recv(100) == b"unblock"
    assert w.join() == 7
    for x in (c, s, ls):
        x.close()


def test_blocking_accept_releases_the_gil_so_another_thread_can_connect(pair):
    a, b = pair
    ls = listener(b)
    c = a.socket()
    started = threading.Event()
    w = Worker(busy_then, started, lambda: c.connect(SERVER))
    started.set()
    s, addr = ls.accept()
    w.join()
    assert addr == c.getsockname()
    for x in (c, s, ls):
        x.close()


def test_condition_callback_runs_python_on_the_accepting_thread_with_the_gil(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, b"gil")
    names = []

    def condition(addr, data):
        names.append(threading.current_thread().name)
        return ustack.CF_ACCEPT, data.upper()

    s, _ = ls.accept(condition)
    assert names == [threading.current_thread().name]
    assert w.join() == b"GIL"
    for x in (c, s, ls):
        x.close()


def test_wait_for_multiple_events_releases_the_gil_so_another_thread_can_set_it():
    ev = ustack.Event()
    started = threading.Event()
    w = Worker(busy_then, started, ev.set)
    started.set()
    assert ustack.wait_for_multiple_events([ev], False, 10_000) == 0
    w.join()


def test_blocking_send_into_a_full_window_releases_the_gil_so_the_peer_can_read(pair):
    a, b = pair
    ls = b.socket()
    ls.setsockopt(ustack.SOL_SOCKET, ustack.SO_RCVBUF, 4096)
    ls.bind(("0.0.0.0", 7000))
    ls.listen(1)
    c = a.socket()
    c.setsockopt(ustack.SOL_SOCKET, ustack.SO_SNDBUF, 4096)
    c.connect(SERVER)
    s, _ = ls.accept()
    data = bytes(range(256)) * 2000  # far more than both buffers: sendall must wait for reads

    def reader():
        got = b""
        while len(got) < len(data):
            got += s.recv(65536)
        return got

    started = threading.Event()
    w = Worker(busy_then, started, reader)
    started.set()
    c.sendall(data)
    assert w.join(timeout=30) == data
    for x in (c, s, ls):
        x.close()
