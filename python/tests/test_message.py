"""Message-oriented sockets (SOCK_SEQPACKET, README "Message-oriented sockets")."""

import pytest

import ustack
from support import SERVER, connected, listener, make_pair, wait_events

SEQ = ustack.SOCK_SEQPACKET


def test_message_socket_keeps_message_boundaries(pair):
    c, s, ls = connected(pair, SEQ)
    msgs = [b"one", b"", b"three" * 1000, b"4"]
    for m in msgs:
        assert c.send(m) == len(m)
    assert [s.recv(65536) for _ in msgs] == msgs
    for x in (c, s, ls):
        x.close()


def test_message_send_gather_is_one_message(pair):
    c, s, ls = connected(pair, SEQ)
    c.send_gather([b"head:", b"body"])
    c.send(b"next")
    assert s.recv(100) == b"head:body"
    assert s.recv(100) == b"next"
    for x in (c, s, ls):
        x.close()


def test_message_graceful_close_is_wsaediscon_on_every_later_recv(pair):
    c, s, ls = connected(pair, SEQ)
    c.send(b"last")
    c.shutdown(ustack.SD_SEND)
    assert s.recv(100) == b"last"
    for _ in range(2):
        with pytest.raises(ustack.WSAError) as e:
            s.recv(100)
        assert e.value.name == "WSAEDISCON"
    for x in (c, s, ls):
        x.close()


def test_message_peer_reset_is_wsaeconnreset(pair):
    c, s, ls = connected(pair, SEQ)
    c.set_linger(True, 0)
    c.close()
    with pytest.raises(ustack.WSAError) as e:
        s.recv(100)
    assert e.value.name == "WSAECONNRESET"
    s.close()
    ls.close()


def test_message_recv_into_a_small_buffer_gives_msg_partial_then_the_rest(pair):
    c, s, ls = connected(pair, SEQ)
    c.send(b"0123456789")
    data, flags = s.recv_with_flags(4)
    assert (data, flags & ustack.MSG_PARTIAL) == (b"0123", ustack.MSG_PARTIAL)
    data, flags = s.recv_with_flags(100)
    assert (data, flags & ustack.MSG_PARTIAL) == (b"456789", 0)
    for x in (c, s, ls):
        x.close()


def test_message_larger_than_so_max_msg_size_is_wsaemsgsize_and_nothing_is_sent(pair):
    c, s, ls = connected(pair, SEQ)
    bound = c.getsockopt(ustack.SOL_SOCKET, ustack.SO_MAX_MSG_SIZE)
    assert bound == 65536
    with pytest.raises(ustack.WSAError) as e:
        c.send(b"x" * (bound + 1))
    assert e.value.name == "WSAEMSGSIZE"
    c.send(b"x" * bound)
    assert len(s.recv(bound)) == bound
    for x in (c, s, ls):
        x.close()


def test_host_max_message_size_sets_so_max_msg_size():
    a, b = make_pair(max_message_size=1 << 20)
    try:
        with a.socket(SEQ) as s:
            assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_MAX_MSG_SIZE) == 1 << 20
            assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_PROTOCOL_INFO)[
                "message_size"] == 1 << 20
    finally:
        a.close()
        b.close()


def test_so_max_msg_size_on_a_stream_socket_is_wsaenoprotoopt(pair):
    a, _ = pair
    with a.socket() as s, pytest.raises(ustack.WSAError) as e:
        s.getsockopt(ustack.SOL_SOCKET, ustack.SO_MAX_MSG_SIZE)
    assert e.value.name == "WSAENOPROTOOPT"


def test_message_socket_protocol_info_is_message_oriented(pair):
    a, _ = pair
    with a.socket(SEQ) as s:
        info = s.getsockopt(ustack.SOL_SOCKET, ustack.SO_PROTOCOL_INFO)
        want = ustack.XP1_MESSAGE_ORIENTED | ustack.XP1_PARTIAL_MESSAGE | ustack.XP1_GRACEFUL_CLOSE
        assert info["service_flags"] & want == want
        assert info["socket_type"] == SEQ and info["protocol"] == ustack.IPPROTO_TCP
        assert s.getsockopt(ustack.SOL_SOCKET, ustack.SO_TYPE) == SEQ
        assert s.type == SEQ


def test_message_connect_to_a_stream_listener_is_wsaeconnrefused(pair):
    a, b = pair
    ls = listener(b)  # a stream listener
    with a.socket(SEQ) as c, pytest.raises(ustack.WSAError) as e:
        c.connect(SERVER)
    assert e.value.name == "WSAECONNREFUSED"
    ls.close()


def test_message_fd_close_after_the_peer_fin_carries_zero(pair):
    c, s, ls = connected(pair, SEQ)
    c.send_disconnect(b"bye")
    events, errors = wait_events(s, ustack.FD_CLOSE)
    assert errors[ustack.FD_CLOSE] == 0
    assert s.recv_disconnect() == b"bye"
    for x in (c, s, ls):
        x.close()
