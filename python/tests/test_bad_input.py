"""Bad input from Python raises (TypeError, ValueError, WSAError) and never crashes."""

import gc

import pytest

import ustack
from support import SERVER, connected, listener, make_pair


@pytest.mark.parametrize("addr", ["10.9.0.2", ("10.9.0.2",), ("10.9.0.2", "80"), (1, 2),
                                  ["10.9.0.2", 80], ("10.9.0.2", 80, 0), ("10.9.0.2", 1.5),
                                  ("10.9.0.2", True), None])
def test_address_of_a_wrong_type_is_typeerror(pair, addr):
    with pair[0].socket() as s, pytest.raises(TypeError):
        s.connect(addr)


@pytest.mark.parametrize("addr", [("300.1.1.1", 80), ("1.2.3", 80), ("1.2.3.4.5", 80),
                                  ("1.2.3.4 ", 80), ("a.b.c.d", 80), ("1..2.3", 80),
                                  ("10.9.0.2", 65536), ("10.9.0.2", -1), ("10.9.0.2", 2**70)])
def test_malformed_address_or_port_is_valueerror(pair, addr):
    with pair[0].socket() as s, pytest.raises(ValueError):
        s.bind(addr)


def test_host_with_a_malformed_address_is_valueerror():
    with pytest.raises(ValueError):
        ustack.Host(addr="10.9.0")
    with pytest.raises(TypeError):
        ustack.Host(addr=5)
    with pytest.raises(TypeError):
        ustack.Host("10.9.0.1")  # keyword-only


def test_host_with_an_unknown_congestion_control_is_wsaeinval():
    end_a, end_b = ustack.create_memory_link(0.0, 1)
    with pytest.raises(ustack.WSAError) as e:
        ustack.Host(addr="10.9.0.1", device=end_a, congestion="no-such-cc")
    assert e.value.name == "WSAEINVAL"
    with pytest.raises(ValueError):  # the end went to the failed WSPStartup
        ustack.Host(addr="10.9.0.1", device=end_a)
    del end_b  # never used: WSPFreeDevice


def test_data_of_a_wrong_type_is_typeerror(pair):
    c, s, ls = connected(pair)
    for bad in ("text", 12, None, [b"x"]):
        with pytest.raises(TypeError):
            c.send(bad)
        with pytest.raises(TypeError):
            c.sendall(bad)
    with pytest.raises(TypeError):
        c.send_gather([b"ok", "text"])
    with pytest.raises(TypeError):
        c.send_disconnect("text")
    with pytest.raises(TypeError):
        c.recv("10")
    with pytest.raises(TypeError):
        c.set_linger("yes", "no")
    with pytest.raises(TypeError):
        c.event_select("event", ustack.FD_READ)
    with pytest.raises(TypeError):
        c.setsockopt(ustack.SOL_SOCKET, ustack.SO_LINGER, (1, "x"))
    with pytest.raises(TypeError):
        c.connect(SERVER, caller_data="text")
    with pytest.raises(TypeError):
        ustack.Socket()
    for x in (c, s, ls):
        x.close()


def test_sizes_out_of_range_are_valueerror(pair):
    c, s, ls = connected(pair)
    with pytest.raises(ValueError):
        c.recv(-1)
    with pytest.raises(ValueError):
        c.recv_disconnect(10**7)
    with pytest.raises(ValueError):
        c.getsockopt(ustack.SOL_SOCKET, ustack.SO_LINGER, buflen=10**7)
    with pytest.raises(ValueError):
        c.set_linger(True, 70000)
    with pytest.raises(ValueError):
        c.setsockopt(ustack.SOL_SOCKET, ustack.SO_RCVBUF, 2**40)
    for x in (c, s, ls):
        x.close()


def test_huge_recv_buffer_is_capped_not_allocated(pair):
    c, s, ls = connected(pair)
    c.sendall(b"abc")
    s.set_nonblocking(False)
    assert s.recv(2**40)[:3] == b"abc"  # no terabyte allocation: at most 64 MiB
    for x in (c, s, ls):
        x.close()


def test_every_call_on_a_closed_socket_is_wsaenotsock(pair):
    a, _ = pair
    s = a.socket()
    s.close()
    assert s.closed
    ev = ustack.Event()
    calls = [
        lambda: s.bind(("0.0.0.0", 1)), lambda: s.listen(1), lambda: s.accept(),
        lambda: s.connect(SERVER), lambda: s.send(b"x"), lambda: s.sendall(b"x"),
        lambda: s.send_gather([b"x"]), lambda: s.recv(1), lambda: s.recv_with_flags(1),
        lambda: s.shutdown(ustack.SD_BOTH), lambda: s.send_disconnect(b"x"),
        lambda: s.recv_disconnect(), lambda: s.set_linger(True, 0),
        lambda: s.set_nonblocking(True), lambda: s.fionread(),
        lambda: s.getsockopt(ustack.SOL_SOCKET, ustack.SO_TYPE),
        lambda: s.setsockopt(ustack.SOL_SOCKET, ustack.SO_RCVBUF, 4096),
        lambda: s.getsockname(), lambda: s.getpeername(),
        lambda: s.event_select(ev, ustack.FD_READ), lambda: s.enum_network_events(ev),
        lambda: s.tcp_info(), lambda: ustack.select([s], [], [], 0),
    ]
    for call in calls:
        with pytest.raises(ustack.WSAError) as e:
            call()
        assert e.value.name == "WSAENOTSOCK", call
    s.close()  # again: a no-op, as for Python's sockets


def test_sockets_of_a_cleaned_up_host_raise_instead_of_crashing():
    a, b = make_pair()
    ls = listener(b)
    c = a.socket()
    c.connect(SERVER)
    s, _ = ls.accept()
    a.close()
    b.close()
    for sock in (c, s, ls):
        with pytest.raises(ustack.WSAError) as e:
            sock.send(b"x")
        assert e.value.name == "WSAENOTSOCK"
        assert sock.closed
        sock.close()
    with pytest.raises(ustack.WSAError) as e:
        b.stats()
    assert e.value.name == "WSANOTINITIALISED"


def test_dropping_everything_without_close_cleans_up(pair):
    a, b = make_pair()
    ls = listener(b)
    c = a.socket()
    c.connect(SERVER)
    s, _ = ls.accept()
    ev = ustack.Event()
    s.event_select(ev, ustack.FD_READ)
    del a, b, ls, c, s, ev  # destructors: WSPCloseSocket, WSPCleanup, WSACloseEvent
    gc.collect()
