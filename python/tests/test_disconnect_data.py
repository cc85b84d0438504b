"""Disconnect data (send_disconnect / recv_disconnect, DESIGN.md §3) both ways, and the
eight-step transaction-total exchange of Winsock's "Connection Shutdown" page."""

import os
import struct
import subprocess
import sys

import pytest

import ustack
from support import SOURCE_DIR, Worker, connected, recv_until_eof, wait_events


def test_disconnect_data_travels_both_ways_on_the_fins(pair):
    c, s, ls = connected(pair)
    c.send_disconnect(b"client total")
    assert recv_until_eof(s) == b""
    assert s.recv_disconnect() == b"client total"
    s.send_disconnect(b"grand total")
    events, errors = wait_events(c, ustack.FD_CLOSE)
    assert errors[ustack.FD_CLOSE] == 0  # graceful
    assert c.recv_disconnect() == b"grand total"
    for x in (c, s, ls):
        x.close()


def test_send_disconnect_without_data_is_a_plain_fin(pair):
    c, s, ls = connected(pair)
    c.send_disconnect()
    assert recv_until_eof(s) == b""
    assert s.recv_disconnect() == b""
    for x in (c, s, ls):
        x.close()


def test_recv_disconnect_before_the_peer_fin_returns_nothing_and_disables_receiving(pair):
    c, s, ls = connected(pair)
    assert s.recv_disconnect() == b""
    with pytest.raises(ustack.WSAError) as e:
        s.recv(1)
    assert e.value.name == "WSAESHUTDOWN"
    for x in (c, s, ls):
        x.close()


def test_recv_disconnect_into_a_short_buffer_is_wsaefault_and_the_data_stays(pair):
    c, s, ls = connected(pair)
    c.send_disconnect(b"0123456789")
    assert recv_until_eof(s) == b""
    with pytest.raises(ustack.WSAError) as e:
        s.recv_disconnect(4)
    assert e.value.name == "WSAEFAULT"
    assert s.recv_disconnect() == b"0123456789"
    for x in (c, s, ls):
        x.close()


def test_disconnect_data_longer_than_so_discdatalen_is_wsaemsgsize(pair):
    c, s, ls = connected(pair)
    room = c.getsockopt(ustack.SOL_SOCKET, ustack.SO_DISCDATALEN)
    with pytest.raises(ustack.WSAError) as e:
        c.send_disconnect(b"x" * (room + 1))
    assert e.value.name == "WSAEMSGSIZE"
    c.send_disconnect(b"x" * room)
    assert recv_until_eof(s) == b""
    assert s.recv_disconnect(room) == b"x" * room
    for x in (c, s, ls):
        x.close()


def test_disconnect_data_without_the_option_is_wsaenoprotoopt(plain_pair):
    c, s, ls = connected(plain_pair)
    with pytest.raises(ustack.WSAError) as e:
        c.send_disconnect(b"total")
    assert e.value.name == "WSAENOPROTOOPT"
    for x in (c, s, ls):
        x.close()


def test_winsock_connection_shutdown_steps_1_to_8_transaction_total(pair):
    c, s, ls = connected(pair)
    amounts = [17, -4, 5000, 123456789, -99]

    def server():
        total, buf = 0, b""
        while chunk := s.recv(4096):            # 2: the transactions, until the client's FIN
            buf += chunk
        for i in range(0, len(buf), 8):
            total += struct.unpack(">q", buf[i:i + 8])[0]
        claimed = struct.unpack(">q", s.recv_disconnect())[0]
        s.send_disconnect(struct.pack(">q", total + 1000))  # 3-5: check, answer, FIN
        s.close()
        return total, claimed

    w = Worker(server)
    c.sendall(b"".join(struct.pack(">q", v) for v in amounts))  # 1
    c.send_disconnect(struct.pack(">q", sum(amounts)))
    events, errors = wait_events(c, ustack.FD_CLOSE)             # 6
    assert errors[ustack.FD_CLOSE] == 0
    grand = struct.unpack(">q", c.recv_disconnect())[0]          # 7
    c.close()                                                    # 8
    total, claimed = w.join()
    assert total == claimed == sum(amounts)
    assert grand == sum(amounts) + 1000
    ls.close()


def test_example_txn_total_completes_over_the_memory_pair():
    env = dict(os.environ)
    r = subprocess.run([sys.executable, str(SOURCE_DIR / "python/examples/txn_total.py"),
                        "--count", "50"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(agrees)" in r.stdout and "(ok)" in r.stdout
