"""The transaction-total exchange between two processes over TUN devices in network namespaces
(scripts/netns-up.sh): ustack A 10.0.1.2 in P-a, ustack B 10.0.2.2 in P-b. Root only."""

import os
import selectors
import shutil
import subprocess
import sys
import time

import pytest

from support import SOURCE_DIR

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
EXAMPLE = SOURCE_DIR / "python/examples/txn_total.py"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or shutil.which("ip") is None,
    reason="needs root, /dev/net/tun and iproute2 (network namespaces, TUN)")


@pytest.fixture
def netns():
    # Unique, at most 13 characters (the veth names "<prefix>va" must fit in 15).
    prefix = f"py{os.getpid() % 0xFFFFF:x}{int.from_bytes(os.urandom(2), 'big'):04x}"[:13]
    up = subprocess.run(["bash", str(SOURCE_DIR / "scripts/netns-up.sh"), "--prefix", prefix,
                         "-q"], capture_output=True, text=True, timeout=60)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield prefix
    finally:
        subprocess.run(["bash", str(SOURCE_DIR / "scripts/netns-down.sh"), "--prefix", prefix,
                        "--kill", "-q"], capture_output=True, timeout=60)


def wait_line(proc, text, timeout):
    """Read proc's stdout until a line containing `text` (or EOF, or the deadline)."""
    seen = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(deadline - time.monotonic()):
                break
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if text in line:
                return seen
    raise AssertionError(f"no line with {text!r} within {timeout} s: {''.join(seen)}")


def test_transaction_total_between_two_processes_over_tun(netns):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ns_a, ns_b = f"{netns}-a", f"{netns}-b"
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns_b, "timeout", "60", PYTHON, str(EXAMPLE), "server",
         "--tun", "tun0", "--addr", "10.0.2.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_line(server, "server: listening", 30)
        client = subprocess.run(
            ["ip", "netns", "exec", ns_a, "timeout", "60", PYTHON, str(EXAMPLE), "client",
             "--tun", "tun0", "--addr", "10.0.1.2", "--server", "10.0.2.2", "--count", "500"],
            capture_output=True, text=True, env=env, timeout=90)
        assert client.returncode == 0, client.stdout + client.stderr
        assert "(ok)" in client.stdout and "grand total" in client.stdout
        out, _ = server.communicate(timeout=60)
        assert server.returncode == 0, out
        assert "from 10.0.1.2" in out or "10.0.1.2:" in out
        assert "(agrees)" in out
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
