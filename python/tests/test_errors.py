"""WSAError and the mapping of every WSAE* code the C API returns."""

import pytest

import ustack
from support import PORT, SERVER, connected, listener

WSAE_NAMES = [n for n in dir(ustack)
              if n.startswith(("WSAE", "WSASYS", "WSAVER", "WSANOT", "WSATRY")) and n != "WSAError"]


def test_wsaerror_is_an_oserror_with_code_name_and_winsock_message(pair):
    a, _ = pair
    s = a.socket()
    s.close()
    with pytest.raises(ustack.WSAError) as info:
        s.recv(1)
    e = info.value
    assert isinstance(e, OSError)
    assert e.code == 10038 == ustack.WSAENOTSOCK
    assert e.errno == e.code
    assert e.name == "WSAENOTSOCK"
    assert str(e).startswith("WSAENOTSOCK (10038): ")


@pytest.mark.parametrize("name", WSAE_NAMES)
def test_wsaerror_name_is_wsperrorname_of_each_wsae_constant(name):
    code = getattr(ustack, name)
    assert ustack.error_name(code) == name
    e = ustack.WSAError(code, ustack.error_name(code), "x")
    assert e.name == name and e.code == code


def test_unknown_error_code_is_named_wsa_question_mark():
    assert ustack.error_name(12345) == "WSA?"


def test_constants_carry_the_values_of_wsp_h():
    u = ustack
    assert (u.AF_INET, u.SOCK_STREAM, u.SOCK_SEQPACKET, u.IPPROTO_TCP) == (2, 1, 5, 6)
    assert (u.SD_RECEIVE, u.SD_SEND, u.SD_BOTH) == (0, 1, 2)
    assert (u.SOL_SOCKET, u.SO_LINGER, u.SO_DONTLINGER) == (0xFFFF, 0x80, ~0x80)
    assert (u.SO_SNDBUF, u.SO_RCVBUF, u.SO_CONDITIONAL_ACCEPT, u.SO_MAX_MSG_SIZE) == (
        0x1001, 0x1002, 0x3002, 0x2003)
    assert (u.FD_READ, u.FD_WRITE, u.FD_ACCEPT, u.FD_CONNECT, u.FD_CLOSE) == (1, 2, 8, 16, 32)
    assert (u.CF_ACCEPT, u.CF_REJECT, u.CF_DEFER) == (0, 1, 2)
    assert (u.XP1_GRACEFUL_CLOSE, u.XP1_DISCONNECT_DATA, u.XP1_CONNECT_DATA) == (
        0x20, 0x100, 0x80)
    assert u.TCP_NODELAY == 1 and u.MSG_PARTIAL == 0x8000
    assert (u.WSAECONNRESET, u.WSAEDISCON, u.WSATRY_AGAIN) == (10054, 10101, 11002)


def test_recv_on_an_unconnected_socket_is_wsaenotconn(pair):
    a, _ = pair
    with a.socket() as s, pytest.raises(ustack.WSAError) as info:
        s.recv(10)
    assert info.value.name == "WSAENOTCONN"


def test_listen_on_an_unbound_socket_is_wsaeinval(pair):
    a, _ = pair
    with a.socket() as s, pytest.raises(ustack.WSAError) as info:
        s.listen(1)
    assert info.value.name == "WSAEINVAL"


def test_nonblocking_recv_without_data_is_wsaewouldblock(pair):
    c, s, ls = connected(pair)
    s.set_nonblocking(True)
    with pytest.raises(ustack.WSAError) as info:
        s.recv(10)
    assert info.value.name == "WSAEWOULDBLOCK"
    for x in (c, s, ls):
        x.close()


def test_connect_to_a_port_without_listener_is_wsaeconnrefused(pair):
    a, _ = pair
    with a.socket() as c, pytest.raises(ustack.WSAError) as info:
        c.connect(SERVER)
    assert info.value.name == "WSAECONNREFUSED"


def test_bind_to_a_port_in_use_is_wsaeaddrinuse(pair):
    _, b = pair
    with listener(b) as ls, b.socket() as s2:
        with pytest.raises(ustack.WSAError) as info:
            s2.bind(("0.0.0.0", PORT))
        assert info.value.name == "WSAEADDRINUSE"
        assert ls.getsockname()[1] == PORT


def test_connect_on_a_connected_socket_is_wsaeisconn(pair):
    c, s, ls = connected(pair)
    with pytest.raises(ustack.WSAError) as info:
        c.connect(SERVER)
    assert info.value.name == "WSAEISCONN"
    for x in (c, s, ls):
        x.close()


def test_getsockopt_with_a_short_buffer_is_wsaefault(pair):
    a, _ = pair
    with a.socket() as s, pytest.raises(ustack.WSAError) as info:
        s.getsockopt(ustack.SOL_SOCKET, ustack.SO_LINGER, buflen=2)
    assert info.value.name == "WSAEFAULT"


def test_unknown_socket_option_is_wsaenoprotoopt(pair):
    a, _ = pair
    with a.socket() as s:
        with pytest.raises(ustack.WSAError) as info:
            s.getsockopt(ustack.SOL_SOCKET, 0x4242)
        assert info.value.name == "WSAENOPROTOOPT"
        with pytest.raises(ustack.WSAError) as info:
            s.setsockopt(ustack.SOL_SOCKET, ustack.SO_CONNDATA, b"x")
        assert info.value.name == "WSAENOPROTOOPT"


def test_unsupported_socket_type_is_an_error(pair):
    a, _ = pair
    with pytest.raises(ustack.WSAError) as info:
        a.socket(2)  # SOCK_DGRAM
    assert info.value.name in ("WSAESOCKTNOSUPPORT", "WSAEPROTOTYPE", "WSAEINVAL")


def test_memory_link_loss_outside_zero_one_is_wsaeinval():
    with pytest.raises(ustack.WSAError) as info:
        ustack.create_memory_link(1.5, 1)
    assert info.value.name == "WSAEINVAL"


def test_host_with_a_missing_device_is_an_error_not_a_crash():
    with pytest.raises(ustack.WSAError) as info:
        ustack.Host(addr="10.9.0.1")  # neither tun_name nor device
    assert info.value.name in ("WSAEINVAL", "WSASYSNOTREADY")


def test_accept_called_from_its_own_condition_function_is_wsaeinprogress(pair):
    a, b = pair
    ls = listener(b, conditional=True)
    c = a.socket()
    from support import Worker
    w = Worker(c.connect, SERVER, None)
    inner = []

    def condition(addr, data):
        try:
            ls.accept()
        except ustack.WSAError as e:
            inner.append(e.name)
        return ustack.CF_ACCEPT

    s, _ = ls.accept(condition)
    w.join()
    assert inner == ["WSAEINPROGRESS"]
    for x in (c, s, ls):
        x.close()


def test_send_with_msg_oob_is_wsaeopnotsupp(pair):
    c, s, ls = connected(pair)
    with pytest.raises(ustack.WSAError) as info:
        c.send(b"urgent", 1)  # MSG_OOB: no urgent data
    assert info.value.name == "WSAEOPNOTSUPP"
    for x in (c, s, ls):
        x.close()


def test_second_nonblocking_connect_while_the_first_is_pending_is_wsaealready(pair):
    a, b = pair
    ls = listener(b, conditional=True)  # holds the SYN: the connect stays pending
    with a.socket() as c:
        c.set_nonblocking(True)
        with pytest.raises(ustack.WSAError) as info:
            c.connect(SERVER)
        assert info.value.name == "WSAEWOULDBLOCK"
        with pytest.raises(ustack.WSAError) as info:
            c.connect(SERVER)
        assert info.value.name == "WSAEALREADY"
    ls.close()


def test_bind_to_an_address_not_the_hosts_is_wsaeaddrnotavail(pair):
    a, _ = pair
    with a.socket() as s, pytest.raises(ustack.WSAError) as info:
        s.bind(("10.9.0.77", 7000))
    assert info.value.name == "WSAEADDRNOTAVAIL"


def test_accept_with_a_timeout_and_no_caller_is_wsaetimedout(pair):
    _, b = pair
    with listener(b) as ls:
        with pytest.raises(ustack.WSAError) as info:
            ls.accept(timeout=0.05)
        assert info.value.name == "WSAETIMEDOUT"
        with pytest.raises(ValueError):
            ls.accept(timeout=-1)


def test_accept_with_a_timeout_returns_a_waiting_connection(pair):
    a, b = pair
    with listener(b) as ls, a.socket() as c:
        c.connect(SERVER)
        s, addr = ls.accept(timeout=5)
        assert addr == c.getsockname()
        s.close()
