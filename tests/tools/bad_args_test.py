#!/usr/bin/env python3
"""Every tool refuses a bad command line (issue 22, item 3): exit status 2 and one line on stderr,
"<tool>: <reason> (see --help)", naming the option (or argument) that was wrong -- and it does so
before it opens any device, so this runs without root or /dev/net/tun.

usage: bad_args_test.py TOOL=PATH ...   (txn-client=build/apps/txn-client ...)

Every case below holds at least one bad argument, so no case can reach the TUN device. The
checks after each tool's cases: --help exits 0 and prints a usage line; --version (where the
tool takes the host options) prints "<tool> (ustack) <version>".
"""
import subprocess
import sys

HOST = ["--addr", "10.0.1.2/24", "--gateway", "10.0.1.1"]
BIG = str(2**33)  # 8589934592: wraps to 0 in 32 bits

# (argv after the host options, the word the message must name)
HOST_CASES = [
    (["--addr", "10.0.0.1/40"], "--addr"),
    (["--addr", "10.0.0.1/0"], "--addr"),
    (["--addr", "10.0.0.1/24x"], "--addr"),
    (["--addr", "10.0.0.1/+24"], "--addr"),
    (["--addr", "10.0.0.1"], "--addr"),
    (["--addr", "10.0.0.256/24"], "--addr"),
    (["--addr", "10.0.0/24"], "--addr"),
    (["--addr", "+10.0.0.1/24"], "--addr"),
    (["--addr", " 10.0.0.1/24"], "--addr"),
    (["--addr", "10.0.0.0001/24"], "--addr"),
    (["--gateway", "10.0.1"], "--gateway"),
    (["--gateway", "10.0.1.1.1"], "--gateway"),
    (["--msl-ms", BIG], "--msl-ms"),
    (["--msl-ms", "-1"], "--msl-ms"),
    (["--msl-ms", "1000ms"], "--msl-ms"),
    (["--msl-ms", "0x10"], "--msl-ms"),
    (["--msl-ms", ""], "--msl-ms"),
    (["--max-message-size", "1X"], "--max-message-size"),
    (["--max-message-size", "65535"], "--max-message-size"),
    (["--max-message-size", "16777217"], "--max-message-size"),
    (["--log", "loud"], "--log"),
    (["--bogus"], "--bogus"),
    (["extra"], "extra"),
    (["--msl-ms"], "--msl-ms"),  # no value
]

PORTS = [
    (["--port", "70000"], "--port"),
    (["--port", "0"], "--port"),
    (["--port", "-1"], "--port"),
    (["--port", "+80"], "--port"),
    (["--port", "80x"], "--port"),
    (["--port", "0x50"], "--port"),
    (["--port", " 80"], "--port"),
    (["--port", "99999999999999999999999"], "--port"),
    (["--port"], "--port"),
]

CASES = {
    "txn-client": PORTS + [
        (["--server", "10.0.2.2", "--timeout-ms", BIG], "--timeout-ms"),
        (["--server", "10.0.2.2", "--timeout-ms", "0"], "--timeout-ms"),
        (["--server", "10.0.2.2", "--count", "1X"], "--count"),
        (["--server", "10.0.2.2", "--count", "-5"], "--count"),
        (["--server", "10.0.2.2", "--count", "1000001"], "--count"),
        (["--server", "10.0.2.2", "--clients", "0"], "--clients"),
        (["--server", "10.0.2.2", "--clients", "1001"], "--clients"),
        (["--server", "10.0.2.2", "--seed", "4294967296"], "--seed"),
        (["--server", "10.0.2.256"], "--server"),
        (["--server", "localhost"], "--server"),
        (["--port", "7000"], "--server"),  # required, missing
    ],
    "txn-server": PORTS + [
        (["--clients", "-1"], "--clients"),
        (["--clients", "1.5"], "--clients"),
        (["--clients", "1000001"], "--clients"),
    ],
    "wsp-shell": [],
    "ustack-peer": PORTS + [
        (["--listen", "--mode", "recv", "--linger", "70000"], "--linger"),
        (["--listen", "--mode", "recv", "--timeout-ms", BIG], "--timeout-ms"),
        (["--listen", "--mode", "recv", "--hold-ms", BIG], "--hold-ms"),
        (["--listen", "--mode", "send", "--bytes", "1X"], "--bytes"),
        (["--listen", "--mode", "send", "--bytes", "2048G"], "--bytes"),
        (["--listen", "--mode", "send", "--bytes", "-1M"], "--bytes"),
        (["--listen", "--mode", "send", "--bytes", "M"], "--bytes"),
        (["--listen", "--mode", "nope"], "--mode"),
        (["--listen", "--mode", "discdata", "--disc-total", str(2**63)], "--disc-total"),
        (["--listen", "--mode", "discdata", "--disc-total", "+5"], "--disc-total"),
        (["--listen", "--mode", "recv", "--seed", str(2**64)], "--seed"),
        (["--connect", "10.0.0.1.5", "--mode", "recv"], "--connect"),
        (["--listen"], "--mode"),  # required, missing
        (["--listen", "--connect", "10.0.2.2", "--mode", "recv"], "--connect"),
    ],
    "ustack-hostile-server": PORTS + [
        (["--mode", "recv", "--linger", "70000"], "--linger"),
        (["--mode", "recv", "--user-timeout-ms", BIG], "--user-timeout-ms"),
        (["--mode", "recv", "--recv-buffer", "1X"], "--recv-buffer"),
        (["--mode", "recv", "--backlog", "-1"], "--backlog"),
        (["--mode", "bogus"], "--mode"),
    ],
}
BENCH = PORTS + [
    (["--listen", "--mode", "bulk", "--seconds", "-1"], "--seconds"),
    (["--listen", "--mode", "bulk", "--seconds", "1e3"], "--seconds"),
    (["--listen", "--mode", "bulk", "--seconds", "nan"], "--seconds"),
    (["--listen", "--mode", "bulk", "--seconds", "0"], "--seconds"),
    (["--listen", "--mode", "bulk", "--seconds", "1."], "--seconds"),
    (["--listen", "--mode", "pingpong", "--count", "0"], "--count"),
    (["--listen", "--mode", "pingpong", "--count", "1k"], "--count"),
    (["--listen", "--mode", "connrate", "--threads", "5000"], "--threads"),
    (["--listen", "--mode", "bulk", "--buffer", "2G"], "--buffer"),
    (["--listen", "--mode", "bulk", "--buffer", "1X"], "--buffer"),
    (["--listen", "--mode", "bulk", "--timeout-ms", BIG], "--timeout-ms"),
    (["--listen", "--mode", "hold", "--settle-ms", BIG], "--settle-ms"),
    (["--listen", "--mode", "bogus"], "--mode"),
    (["--connect", "10.0.0.300", "--mode", "bulk"], "--connect"),
    (["--mode", "bulk"], "--connect"),  # neither --connect nor --listen
]
CASES["ustack-bench"] = BENCH + [
    (["--listen", "--mode", "bulk", "--cc", "vegas"], "--cc"),
    (["--listen", "--mode", "bulk", "--disc-data"], "--disc-data"),
]
CASES["linux-bench"] = BENCH + [
    (["--listen", "--mode", "bulk", "--message"], "--message"),
]
TAKES_HOST_OPTIONS = {"txn-client", "txn-server", "wsp-shell", "ustack-peer",
                      "ustack-hostile-server", "ustack-bench"}

failures = 0
checked = 0


def check(ok, what):
    global failures, checked
    checked += 1
    if not ok:
        failures += 1
        print("FAIL", what)


def run(path, argv):
    return subprocess.run([path] + argv, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=20)


def main():
    tools = dict(a.split("=", 1) for a in sys.argv[1:])
    for tool, cases in CASES.items():
        if tool not in tools:
            continue
        path = tools[tool]
        all_cases = list(cases)
        if tool in TAKES_HOST_OPTIONS:
            all_cases += HOST_CASES
        for argv, word in all_cases:
            # Host options first (a later bad --addr overrides them), the case last.
            full = (HOST if tool in TAKES_HOST_OPTIONS else []) + argv
            if tool in TAKES_HOST_OPTIONS and argv[:1] == ["--addr"]:
                full = argv
            r = run(path, full)
            err = r.stderr.decode("utf-8", "replace")
            lines = err.splitlines()
            what = f"{tool} {' '.join(repr(a) for a in full)}"
            check(r.returncode == 2, f"{what}: exit {r.returncode}, want 2 ({err.strip()!r})")
            check(len(lines) == 1 and lines[0].startswith(tool + ": "),
                  f"{what}: stderr {err!r}, want one line '{tool}: ...'")
            check(word in err, f"{what}: stderr {err!r} does not name {word!r}")
            check(r.stdout == b"", f"{what}: stdout {r.stdout[:200]!r}, want nothing")
        r = run(path, ["--help"])
        check(r.returncode == 0 and b"usage:" in r.stdout, f"{tool} --help: exit {r.returncode}")
        if tool in TAKES_HOST_OPTIONS:
            r = run(path, ["--version"])
            check(r.returncode == 0 and r.stdout.startswith(f"{tool} (ustack) ".encode()),
                  f"{tool} --version: {r.returncode} {r.stdout!r}")
        print(f"{tool}: {len(all_cases)} bad command lines")
    missing = set(CASES) - set(tools)
    if missing:
        print("FAIL: no path given for", ", ".join(sorted(missing)))
        return 1
    print(f"{checked} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
