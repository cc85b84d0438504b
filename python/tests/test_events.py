"""Event objects, event_select / enum_network_events, wait_for_multiple_events and select."""

import pytest

import ustack
from support import SERVER, connected, listener, recv_exactly, wait_events


def test_event_set_reset_and_wait():
    with ustack.Event() as ev:
        assert ev.wait(0) is False
        ev.set()
        assert ev.wait(0) is True
        assert ev.wait(0) is True  # manual reset
        ev.reset()
        assert ev.wait(10) is False
    assert ev.closed
    with pytest.raises(ValueError):
        ev.set()


def test_wait_for_multiple_events_returns_the_index_or_none_on_timeout():
    evs = [ustack.Event() for _ in range(3)]
    assert ustack.wait_for_multiple_events(evs, False, 0) is None
    evs[2].set()
    assert ustack.wait_for_multiple_events(evs, False, 1000) == 2
    assert ustack.wait_for_multiple_events(evs, True, 0) is None  # not all set
    evs[0].set()
    evs[1].set()
    assert ustack.wait_for_multiple_events(evs, True, 1000) == 0


def test_wait_for_multiple_events_rejects_bad_lists():
    with pytest.raises(ValueError):
        ustack.wait_for_multiple_events([], False, 0)
    with pytest.raises(ValueError):
        ustack.wait_for_multiple_events([ustack.Event() for _ in range(65)], False, 0)
    ev = ustack.Event()
    ev.close()
    with pytest.raises(ValueError):
        ustack.wait_for_multiple_events([ev], False, 0)
    with pytest.raises(TypeError):
        ustack.wait_for_multiple_events([1], False, 0)


def test_fd_accept_then_fd_read_then_fd_close_with_zero(pair):
    a, b = pair
    ls = listener(b)
    c = a.socket()
    c.connect(SERVER)
    events, errors = wait_events(ls, ustack.FD_ACCEPT)
    assert errors[ustack.FD_ACCEPT] == 0
    s, _ = ls.accept()
    # One registration for both: a new event_select clears the record, and FD_CLOSE is
    # recorded only once (a second registration could miss it).
    ev = ustack.Event()
    s.event_select(ev, ustack.FD_READ | ustack.FD_CLOSE)
    c.sendall(b"data")
    assert ustack.wait_for_multiple_events([ev], False, 5000) == 0
    events, _ = s.enum_network_events(ev)
    assert events & ustack.FD_READ
    assert recv_exactly(s, 4) == b"data"
    c.shutdown(ustack.SD_SEND)
    errors = {}
    while ustack.FD_CLOSE not in errors:
        assert ustack.wait_for_multiple_events([ev], False, 5000) == 0, "no FD_CLOSE"
        _, got = s.enum_network_events(ev)
        errors.update(got)
    assert errors[ustack.FD_CLOSE] == 0
    for x in (c, s, ls):
        x.close()


def test_event_select_makes_the_socket_nonblocking_and_blocking_cannot_come_back(pair):
    c, s, ls = connected(pair)
    ev = ustack.Event()
    s.event_select(ev, ustack.FD_READ)
    with pytest.raises(ustack.WSAError) as e:
        s.recv(1)
    assert e.value.name == "WSAEWOULDBLOCK"
    with pytest.raises(ustack.WSAError) as e:
        s.set_nonblocking(False)
    assert e.value.name == "WSAEINVAL"
    s.event_select(None, 0)  # cancel
    s.set_nonblocking(False)
    for x in (c, s, ls):
        x.close()


def test_nonblocking_connect_completes_with_fd_connect_and_callee_data(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    ev = ustack.Event()
    c.event_select(ev, ustack.FD_CONNECT)
    with pytest.raises(ustack.WSAError) as e:
        c.connect(SERVER, b"nb")
    assert e.value.name == "WSAEWOULDBLOCK"
    s, _ = ls.accept(lambda addr, data: (ustack.CF_ACCEPT, b"late-callee"))
    assert ustack.wait_for_multiple_events([ev], False, 5000) == 0
    events, errors = c.enum_network_events(ev)
    assert events & ustack.FD_CONNECT and errors[ustack.FD_CONNECT] == 0
    assert c.getsockopt(ustack.SOL_SOCKET, ustack.SO_CONNDATA) == b"late-callee"
    for x in (c, s, ls):
        x.close()


def test_closing_an_event_registered_with_a_socket_does_not_free_it_under_the_engine(pair):
    c, s, ls = connected(pair)
    ev = ustack.Event()
    s.event_select(ev, ustack.FD_READ)
    ev.close()
    del ev  # the socket still holds the handle: the engine may signal it safely
    c.sendall(b"x" * 10000)
    with ustack.Event() as ev2:
        s.event_select(ev2, ustack.FD_READ)
        assert ustack.wait_for_multiple_events([ev2], False, 5000) == 0
    for x in (c, s, ls):
        x.close()


def test_select_reports_readable_and_writable_sockets(pair):
    c, s, ls = connected(pair)
    r, w, x = ustack.select([s], [c], [], 0)
    assert r == [] and w == [c] and x == []
    c.sendall(b"ping")
    r, w, x = ustack.select([s, ls], [], [], 5.0)
    assert r == [s]
    r, _, _ = ustack.select([ls], [], [], 0)
    assert r == []
    with pytest.raises(ValueError):
        ustack.select([s], [], [], -1)
    for x_ in (c, s, ls):
        x_.close()


def test_accepted_socket_inherits_the_listener_event_registration(pair):
    a, b = pair
    ls = listener(b)
    ev = ustack.Event()
    ls.event_select(ev, ustack.FD_ACCEPT | ustack.FD_READ)
    c = a.socket()
    c.connect(SERVER)
    assert ustack.wait_for_multiple_events([ev], False, 5000) == 0
    ls.enum_network_events(ev)
    s, _ = ls.accept()
    ls.close()
    ev.reset()
    c.sendall(b"x")
    # No event_select on s: the registration came with it from the listener.
    assert ustack.wait_for_multiple_events([ev], False, 5000) == 0
    events, errors = s.enum_network_events(ev)
    assert events & ustack.FD_READ and errors[ustack.FD_READ] == 0
    assert s.recv(1) == b"x"
    c.close()
    s.close()
