"""Teardown: the SO_LINGER table, shutdown and half-close (README "Socket API", Winsock's
"Graceful Shutdown, Linger Options, and Socket Closure")."""

import pytest

import ustack
from support import Worker, connected, listener, recv_exactly, recv_until_eof, wait_events, SERVER

SOL, LINGER, DONTLINGER = ustack.SOL_SOCKET, ustack.SO_LINGER, ustack.SO_DONTLINGER


def test_so_dontlinger_is_the_default_and_close_is_graceful_peer_reads_all_then_eof(pair):
    c, s, ls = connected(pair)
    assert c.getsockopt(SOL, DONTLINGER) != 0
    assert c.getsockopt(SOL, LINGER)[0] == 0
    data = b"z" * 300_000
    c.sendall(data)
    c.close()  # returns at once; the data and the FIN go in the background
    assert recv_until_eof(s) == data
    s.close()
    ls.close()


def test_so_linger_zero_close_resets_and_peer_sees_wsaeconnreset(pair):
    c, s, ls = connected(pair)
    c.set_linger(True, 0)
    assert c.getsockopt(SOL, LINGER) == (1, 0)
    assert c.getsockopt(SOL, DONTLINGER) == 0
    c.close()
    with pytest.raises(ustack.WSAError) as e:
        s.recv(10)
    assert e.value.name == "WSAECONNRESET"
    s.close()
    ls.close()


def test_so_linger_zero_peer_fd_close_carries_wsaeconnreset(pair):
    c, s, ls = connected(pair)
    c.setsockopt(SOL, LINGER, (1, 0))
    c.close()
    events, errors = wait_events(s, ustack.FD_CLOSE)
    assert errors[ustack.FD_CLOSE] == ustack.WSAECONNRESET
    s.close()
    ls.close()


def test_so_linger_nonzero_close_waits_for_the_ack_and_the_peer_gets_everything(pair):
    c, s, ls = connected(pair)
    c.set_linger(True, 10)
    data = b"q" * 200_000  # fits the peer's receive buffer: all of it can be acknowledged
    c.sendall(data)
    c.close()  # blocks until the data is acknowledged, so the peer holds all of it now
    assert s.tcp_info()["bytes_in"] == len(data)
    assert recv_until_eof(s) == data  # then the FIN: graceful, no reset
    s.close()
    ls.close()


def test_so_dontlinger_set_true_turns_lingering_off(pair):
    a, _ = pair
    with a.socket() as s:
        s.set_linger(True, 3)
        assert s.getsockopt(SOL, LINGER) == (1, 3)
        s.setsockopt(SOL, DONTLINGER, True)
        assert s.getsockopt(SOL, LINGER)[0] == 0
        assert s.getsockopt(SOL, DONTLINGER) != 0


def test_nonblocking_lingering_close_that_cannot_complete_is_wsaewouldblock_and_keeps_socket(
        pair):
    a, b = pair
    ls = b.socket()
    ls.setsockopt(SOL, ustack.SO_RCVBUF, 4096)  # accepted sockets inherit it: a small window
    ls.bind(("0.0.0.0", 7000))
    ls.listen(1)
    c = a.socket()
    c.connect(SERVER)
    s, _ = ls.accept()
    c.sendall(b"w" * 200_000)  # queued; the peer reads nothing, so most cannot be sent yet
    c.set_linger(True, 5)
    c.set_nonblocking(True)
    with pytest.raises(ustack.WSAError) as e:
        c.close()
    assert e.value.name == "WSAEWOULDBLOCK"
    assert not c.closed
    assert c.tcp_info()["state_name"] == "ESTABLISHED"  # nothing was sent: no FIN, no RST
    c.set_linger(True, 0)
    c.close()
    assert c.closed
    s.close()
    ls.close()


def test_linger_timeout_expiry_resets_the_connection(pair):
    a, b = pair
    ls = b.socket()
    ls.setsockopt(SOL, ustack.SO_RCVBUF, 4096)
    ls.bind(("0.0.0.0", 7000))
    ls.listen(1)
    c = a.socket()
    c.connect(SERVER)
    s, _ = ls.accept()
    c.sendall(b"w" * 200_000)
    c.set_linger(True, 1)
    c.close()  # the peer never reads: after 1 s the close resets
    with pytest.raises(ustack.WSAError) as e:
        while s.recv(65536):
            pass
    assert e.value.name == "WSAECONNRESET"
    s.close()
    ls.close()


def test_winsock_shutdown_sd_send_half_close_peer_can_still_send(pair):
    c, s, ls = connected(pair)
    c.sendall(b"request")
    c.shutdown(ustack.SD_SEND)
    assert recv_until_eof(s) == b"request"  # the FIN after the data
    s.sendall(b"late answer")  # the other direction stays open
    s.shutdown(ustack.SD_SEND)
    assert recv_until_eof(c) == b"late answer"
    for x in (c, s, ls):
        x.close()


def test_send_after_shutdown_sd_send_is_wsaeshutdown(pair):
    c, s, ls = connected(pair)
    c.shutdown(ustack.SD_SEND)
    with pytest.raises(ustack.WSAError) as e:
        c.send(b"x")
    assert e.value.name == "WSAESHUTDOWN"
    for x in (c, s, ls):
        x.close()


def test_shutdown_sd_receive_with_unread_data_resets_the_connection(pair):
    c, s, ls = connected(pair)
    c.sendall(b"unread")
    wait_events(s, ustack.FD_READ)
    s.shutdown(ustack.SD_RECEIVE)
    with pytest.raises(ustack.WSAError) as e:
        while True:
            c.recv(10)
    assert e.value.name == "WSAECONNRESET"
    for x in (c, s, ls):
        x.close()


def test_shutdown_with_a_bad_how_is_wsaeinval(pair):
    c, s, ls = connected(pair)
    with pytest.raises(ustack.WSAError) as e:
        c.shutdown(7)
    assert e.value.name == "WSAEINVAL"
    for x in (c, s, ls):
        x.close()


def test_shutdown_on_an_unconnected_socket_is_wsaenotconn(pair):
    a, _ = pair
    with a.socket() as s, pytest.raises(ustack.WSAError) as e:
        s.shutdown(ustack.SD_BOTH)
    assert e.value.name == "WSAENOTCONN"


def test_closing_a_socket_wakes_a_recv_blocked_on_it(pair):
    c, s, ls = connected(pair)
    w = Worker(s.recv, 10)
    # Whether the recv was already blocked (WSAEINTR) or not yet called (WSAENOTSOCK), it
    # returns: the close never leaves it hanging.
    s.close()
    with pytest.raises(ustack.WSAError) as e:
        w.join()
    assert e.value.name in ("WSAEINTR", "WSAENOTSOCK")
    c.close()
    ls.close()


def test_accepted_socket_reads_data_the_client_sent_before_accept(pair):
    a, b = pair
    ls = listener(b)
    c = a.socket()
    c.connect(SERVER)
    c.sendall(b"early")
    c.shutdown(ustack.SD_SEND)
    s, _ = ls.accept()
    assert recv_exactly(s, 5) == b"early"
    assert s.recv(5) == b""
    for x in (c, s, ls):
        x.close()
