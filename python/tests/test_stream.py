"""Stream sockets over the in-memory pair: the calls and what they return."""

import pytest

import ustack
from support import SERVER, Worker, connected, listener, make_pair, recv_exactly, recv_until_eof


def test_stream_bytes_arrive_in_order_both_ways(pair):
    c, s, ls = connected(pair)
    data = bytes(range(256)) * 1000
    w = Worker(recv_exactly, s, len(data))
    c.sendall(data)
    assert w.join() == data
    assert s.send(b"reply") == 5
    assert recv_exactly(c, 5) == b"reply"
    assert c.getpeername() == SERVER
    assert s.getpeername() == c.getsockname()
    assert c.getsockname()[0] == "10.9.0.1"
    assert len({c.fileno(), s.fileno(), ls.fileno()}) == 3 and c.fileno() > 0
    for x in (c, s, ls):
        x.close()


def test_send_gather_sends_the_buffers_in_order(pair):
    c, s, ls = connected(pair)
    assert c.send_gather([b"ab", bytearray(b"cd"), memoryview(b"ef")]) == 6
    assert recv_exactly(s, 6) == b"abcdef"
    for x in (c, s, ls):
        x.close()


def test_fionread_counts_the_bytes_waiting(pair):
    c, s, ls = connected(pair)
    c.sendall(b"x" * 100)
    ev = ustack.Event()
    s.event_select(ev, ustack.FD_READ)
    assert ustack.wait_for_multiple_events([ev], False, 5000) == 0
    while s.fionread() < 100:  # the rest is on its way: each event is one more arrival
        ev.reset()
        ustack.wait_for_multiple_events([ev], False, 5000)
    assert s.fionread() == 100
    for x in (c, s, ls):
        x.close()


def test_accepted_socket_reports_established_in_tcp_info(pair):
    c, s, ls = connected(pair)
    info = s.tcp_info()
    assert info["state"] == ustack.TCPSTATE_ESTABLISHED
    assert info["state_name"] == "ESTABLISHED"
    assert info["mss"] > 0 and info["cwnd"] > 0 and "rto_us" in info and "segs_in" in info
    assert ls.tcp_info()["state_name"] == "LISTEN"
    v0 = c.tcp_info(0)
    assert v0["state_name"] == "ESTABLISHED" and "rto_us" not in v0
    with pytest.raises(ustack.WSAError) as e:
        c.tcp_info(1)  # Winsock's TCP_INFO_v1: counters ustack does not keep
    assert e.value.name == "WSAEINVAL"
    for x in (c, s, ls):
        x.close()


def test_socket_options_round_trip(pair):
    a, _ = pair
    with a.socket() as s:
        s.setsockopt(ustack.SOL_SOCKET, ustack.SO_RCVBUF, 65536)
        assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_RCVBUF) == 65536
        s.setsockopt(ustack.SOL_SOCKET, ustack.SO_SNDBUF, 1)
        assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_SNDBUF) == 4096  # clamped to 4 KiB
        with pytest.raises(ustack.WSAError) as e:
            s.setsockopt(ustack.SOL_SOCKET, ustack.SO_SNDBUF, -1)
        assert e.value.name == "WSAEINVAL"
        s.setsockopt(ustack.IPPROTO_TCP, ustack.TCP_NODELAY, True)
        assert s.getsockopt(ustack.IPPROTO_TCP, ustack.TCP_NODELAY) != 0
        assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_TYPE) == ustack.SOCK_STREAM
        assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_CONNDATALEN) == 16
        assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_DISCDATALEN) == 0  # not negotiated yet
        info = s.getsockopt(ustack.SOL_SOCKET, ustack.SO_PROTOCOL_INFO)
        assert info["socket_type"] == ustack.SOCK_STREAM
        assert info["service_flags"] & ustack.XP1_GRACEFUL_CLOSE
        assert not info["service_flags"] & ustack.XP1_MESSAGE_ORIENTED
    c, s, ls = connected(pair)
    assert c.getsockopt(ustack.SOL_SOCKET, ustack.SO_DISCDATALEN) > 0  # the option negotiated
    for x in (c, s, ls):
        x.close()


def test_host_service_flags_and_stats(pair, plain_pair):
    a, _ = pair
    flags = ustack.XP1_GRACEFUL_CLOSE | ustack.XP1_DISCONNECT_DATA | ustack.XP1_CONNECT_DATA
    assert a.service_flags & flags == flags
    assert plain_pair[0].service_flags & flags == ustack.XP1_GRACEFUL_CLOSE
    c, s, ls = connected(pair)
    stats = a.stats()
    assert stats["segments_in"] >= 1 and all(isinstance(k, str) for k in stats)
    for x in (c, s, ls):
        x.close()


def test_host_context_manager_cleans_up_and_later_calls_raise():
    a, b = make_pair()
    with a, b:
        s = a.socket()
    assert a.closed and b.closed
    with pytest.raises(ustack.WSAError) as e:
        a.socket()
    assert e.value.name == "WSANOTINITIALISED"
    with pytest.raises(ustack.WSAError) as e:
        s.send(b"x")  # a socket of a cleaned-up host: no crash, the C API's WSAENOTSOCK
    assert e.value.name == "WSAENOTSOCK"
    s.close()
    a.close()  # again: no-op


def test_socket_outliving_its_host_object_keeps_the_host_alive():
    a, b = make_pair()
    ls = listener(b)
    c = a.socket()
    del a  # the Socket holds the host: no WSPCleanup while it is open
    c.connect(SERVER)
    s, _ = ls.accept()
    c.sendall(b"still here")
    assert recv_exactly(s, 10) == b"still here"
    c.close()
    assert c.fileno() == -1
    assert recv_until_eof(s) == b""
    b.close()


def test_lossy_link_still_delivers_every_byte_in_order():
    a, b = make_pair(loss=0.05, seed=7)
    try:
        c, s, ls = connected((a, b))
        data = bytes(i % 251 for i in range(200_000))
        w = Worker(recv_exactly, s, len(data))
        c.sendall(data)
        assert w.join(timeout=30) == data
        assert c.tcp_info()["retransmits"] > 0
    finally:
        a.close()
        b.close()
