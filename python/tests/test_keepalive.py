"""Keep-alive and call time-outs from Python: SO_KEEPALIVE, SIO_KEEPALIVE_VALS (set_keepalive_vals),
SO_RCVTIMEO, SO_SNDTIMEO and the host-wide keep-alive defaults."""

import pytest

import ustack
from support import connected, make_pair


def test_so_rcvtimeo_a_blocking_recv_raises_wsaetimedout_and_the_socket_stays_usable(pair):
    c, s, _ls = connected(pair)
    s.setsockopt(ustack.SOL_SOCKET, ustack.SO_RCVTIMEO, 100)
    assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_RCVTIMEO) == 100
    with pytest.raises(ustack.WSAError) as e:
        s.recv(8)
    assert e.value.name == "WSAETIMEDOUT"
    c.sendall(b"late")
    assert s.recv(8) == b"late"
    c.close()
    s.close()


def test_sio_keepalive_vals_sets_so_keepalive_and_rejects_zero_times(pair):
    c, _s, _ls = connected(pair)
    assert c.getsockopt(ustack.SOL_SOCKET, ustack.SO_KEEPALIVE) == 0
    c.set_keepalive_vals(True, 1000, 500)
    assert c.getsockopt(ustack.SOL_SOCKET, ustack.SO_KEEPALIVE) == 1
    with pytest.raises(ustack.WSAError) as e:
        c.set_keepalive_vals(True, 0, 500)
    assert e.value.name == "WSAEINVAL"
    c.set_keepalive_vals(False, 0, 0)
    assert c.getsockopt(ustack.SOL_SOCKET, ustack.SO_KEEPALIVE) == 0
    c.close()
    _s.close()


def test_host_keepalive_default_is_on_for_new_sockets_and_probes_an_idle_peer():
    a, b = make_pair(keepalive=True, keepalive_time_ms=50, keepalive_interval_ms=20)
    try:
        pair = (a, b)
        c, s, _ls = connected(pair)
        assert c.getsockopt(ustack.SOL_SOCKET, ustack.SO_KEEPALIVE) == 1
        assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_KEEPALIVE) == 1
        # Wait (bounded) for a probe to be answered: the connection stands meanwhile.
        c.setsockopt(ustack.SOL_SOCKET, ustack.SO_RCVTIMEO, 300)
        with pytest.raises(ustack.WSAError) as e:
            c.recv(8)
        assert e.value.name == "WSAETIMEDOUT"
        assert a.stats()["keepalive_probes"] >= 1
        s.sendall(b"alive")
        assert c.recv(8) == b"alive"
        c.close()
        s.close()
    finally:
        a.close()
        b.close()
