"""The state log (Host(state_log=...), WSPHOSTCONFIG::state_log_path): JSON lines of every
state change with its cause, and of the API calls of note."""

import json

import ustack
from support import SERVER, listener


def test_state_log_records_the_graceful_close_with_causes_and_disconnect_data(tmp_path):
    end_a, end_b = ustack.create_memory_link(0.0, 1)
    log_a, log_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    with ustack.Host(addr="10.9.0.1", device=end_a, state_log=log_a, msl_ms=5000) as a, \
            ustack.Host(addr="10.9.0.2", device=end_b, state_log=log_b) as b:
        ls = listener(b)
        c = a.socket()
        c.connect(SERVER)
        s, _ = ls.accept()
        c.send_disconnect(b"\x00\x00\x00\x00\x00\x00\x2b\x19")
        assert s.recv(16) == b""
        total = s.recv_disconnect()
        assert total == b"\x00\x00\x00\x00\x00\x00\x2b\x19"
        s.send_disconnect(total)
        s.close()
        assert c.recv(16) == b""
        assert c.recv_disconnect() == total
        c.close()
        ls.close()
        b.close()  # first: its LAST-ACK ends while A (in TIME-WAIT) still answers
    lines_a = [json.loads(line) for line in log_a.read_text().splitlines()]
    lines_b = [json.loads(line) for line in log_b.read_text().splitlines()]
    assert lines_a[0]["type"] == "host" and lines_a[0]["addr"] == "10.9.0.1"
    client = [(x["to"], x["cause"]) for x in lines_a if x["type"] == "state"]
    assert client[:3] == [("SYN-SENT", "connect"), ("ESTABLISHED", "segment"),
                          ("FIN-WAIT-1", "shutdown")]
    assert client[-1] == ("TIME-WAIT", "segment")
    server = [x["to"] for x in lines_b if x["type"] == "state"]
    assert server == ["SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED"]
    calls = [(x["call"], x.get("data")) for x in lines_a if x["type"] == "api"]
    assert ("WSPSendDisconnect", "0000000000002b19") in calls
    assert ("WSPRecvDisconnect", "0000000000002b19") in calls


def test_state_log_in_a_directory_that_does_not_exist_fails_wsaeinval(tmp_path):
    end_a, _ = ustack.create_memory_link(0.0, 1)
    try:
        ustack.Host(addr="10.9.0.1", device=end_a, state_log=tmp_path / "no" / "such.jsonl")
    except ustack.WSAError as e:
        assert e.name == "WSAEINVAL"
    else:
        raise AssertionError("Host() with an unwritable state log did not fail")
