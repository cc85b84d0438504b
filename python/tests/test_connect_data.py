"""Connect data and conditional accept (README "Connect data and conditional accept"): the
condition callable, caller and callee data, CF_ACCEPT / CF_REJECT / CF_DEFER."""

import pytest

import ustack
from support import SERVER, Worker, listener, recv_exactly

SOL = ustack.SOL_SOCKET


def test_conditional_accept_sees_caller_data_and_returns_callee_data(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, b"client-7")
    seen = []

    def condition(addr, data):
        seen.append((addr, data))
        return ustack.CF_ACCEPT, b"session-42"

    s, addr = ls.accept(condition)
    assert w.join() == b"session-42"  # connect returns the callee data
    assert seen == [(addr, b"client-7")]
    assert addr == c.getsockname()
    assert s.getsockopt(SOL, ustack.SO_CONNDATA) == b"client-7"
    assert c.getsockopt(SOL, ustack.SO_CONNDATA) == b"session-42"
    c.sendall(b"hi")
    assert recv_exactly(s, 2) == b"hi"
    for x in (c, s, ls):
        x.close()


def test_conditional_accept_reject_refuses_the_caller(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, b"unwanted")
    with pytest.raises(ustack.WSAError) as e:
        ls.accept(lambda addr, data: ustack.CF_REJECT)
    assert e.value.name == "WSAECONNREFUSED"
    with pytest.raises(ustack.WSAError) as e:
        w.join()
    assert e.value.name == "WSAECONNREFUSED"
    c.close()
    ls.close()


def test_conditional_accept_defer_keeps_the_request_for_the_next_accept(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, None)
    with pytest.raises(ustack.WSAError) as e:
        ls.accept(lambda addr, data: ustack.CF_DEFER)
    assert e.value.name == "WSATRY_AGAIN"
    asked = []
    s, _ = ls.accept(lambda addr, data: asked.append(data) or ustack.CF_ACCEPT)
    assert asked == [None]  # no caller data: None, as the SPI's NULL
    assert w.join() is None  # no callee data
    for x in (c, s, ls):
        x.close()


def test_condition_without_so_conditional_accept_reject_resets_the_established_caller(pair):
    a, b = pair
    ls = listener(b)
    c = a.socket()
    # The handshake completes first: connect returns; the callee data is ignored.
    assert c.connect(SERVER, b"abc") is None
    with pytest.raises(ustack.WSAError) as e:
        ls.accept(lambda addr, data: (ustack.CF_REJECT, b"ignored"))
    assert e.value.name == "WSAECONNREFUSED"
    with pytest.raises(ustack.WSAError) as e:
        c.recv(1)
    assert e.value.name == "WSAECONNRESET"
    c.close()
    ls.close()


def test_condition_raising_rejects_and_accept_reraises_the_exception(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, b"x")

    def condition(addr, data):
        raise KeyError("decided badly")

    with pytest.raises(KeyError, match="decided badly"):
        ls.accept(condition)
    with pytest.raises(ustack.WSAError) as e:
        w.join()
    assert e.value.name == "WSAECONNREFUSED"
    c.close()
    ls.close()


def test_condition_returning_an_invalid_verdict_is_wsaeinval_and_decides_nothing(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, None)
    with pytest.raises(ustack.WSAError) as e:
        ls.accept(lambda addr, data: 7)
    assert e.value.name == "WSAEINVAL"
    s, _ = ls.accept(lambda addr, data: ustack.CF_ACCEPT)
    w.join()
    for x in (c, s, ls):
        x.close()


def test_condition_returning_a_non_verdict_is_typeerror(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, None)
    with pytest.raises(TypeError):
        ls.accept(lambda addr, data: "yes")
    with pytest.raises(ustack.WSAError):
        w.join()
    with pytest.raises(TypeError):
        ls.accept(condition=42)  # not callable
    c.close()
    ls.close()


def test_callee_data_longer_than_the_syn_ack_room_is_valueerror(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, b"x")
    room = ls.getsockopt(SOL, ustack.SO_CONNDATALEN)
    with pytest.raises(ValueError):
        ls.accept(lambda addr, data: (ustack.CF_ACCEPT, b"y" * (room + 1)))
    with pytest.raises(ustack.WSAError):
        w.join()
    c.close()
    ls.close()


def test_accept_without_condition_takes_a_held_request_without_callee_data(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    w = Worker(c.connect, SERVER, b"hello")
    s, _ = ls.accept()
    assert w.join() is None
    assert s.getsockopt(SOL, ustack.SO_CONNDATA) == b"hello"
    for x in (c, s, ls):
        x.close()


def test_caller_data_longer_than_so_conndatalen_is_wsaemsgsize(pair):
    a, b = pair
    ls = listener(b)
    with a.socket() as c:
        room = c.getsockopt(SOL, ustack.SO_CONNDATALEN)
        assert room == 16
        with pytest.raises(ustack.WSAError) as e:
            c.connect(SERVER, b"z" * (room + 1))
        assert e.value.name == "WSAEMSGSIZE"
    ls.close()


def test_caller_data_on_a_host_without_connect_data_is_wsaenoprotoopt(plain_pair):
    a, b = plain_pair
    ls = listener(b)
    with a.socket() as c:
        assert c.getsockopt(SOL, ustack.SO_CONNDATALEN) == 0
        with pytest.raises(ustack.WSAError) as e:
            c.connect(SERVER, b"id")
        assert e.value.name == "WSAENOPROTOOPT"
    ls.close()


def test_so_conditional_accept_on_a_listening_socket_is_wsaeinval(pair):
    _, b = pair
    ls = listener(b)
    with pytest.raises(ustack.WSAError) as e:
        ls.setsockopt(SOL, ustack.SO_CONDITIONAL_ACCEPT, True)
    assert e.value.name == "WSAEINVAL"
    ls.close()
