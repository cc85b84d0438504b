#!/usr/bin/env python3
"""Feed one real wsp-shell (a real host on a TUN device) a stream of hostile lines and check
(issue 22, items 3 and 5):

  * one answer line per command line, each "OK ..." or "ERR <WSAE...> ..."; every line the
    generator made invalid answers "ERR WSAEINVAL";
  * the shell stays alive to the end of its input and then exits 0;
  * its peak resident size (getrusage of the child: ru_maxrss) stays under --rss-limit-mib.

usage: shell_garbage.py --out DIR --netns NS --shell PATH [--lines N] [--seed S]
                        [--rss-limit-mib M] [--peer A.B.C.D:PORT] -- HOST-OPTIONS...

The stream, seeded (so a failure replays): a preamble that makes socket 1 (stream), 2
(message), 3 (stream, connected to --peer), all non-blocking, so no later command can block;
then every command with too few and too many arguments, every argument position with hostile
values (negative, sign-prefixed, hex, exponent, fraction, over its range, 2^32, 2^64, huge,
trailing text, NUL and high bytes), bad data (hex:zz, hex:abc, fill:99999999999, int:+1, ...),
unknown socket numbers, valid commands in between (with small time-outs only), random byte
lines (NUL and high bytes included), CRLF lines, blank and comment lines, and lines of
65535..1 MiB bytes. What the generator leaves out: lines that end the shell (quit, exit), print
more than their answer (help, stats) or could block (nonblocking <s> 0, a linger time above 0,
time-outs above a few ms), because the point is that every line gets its answer.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import time

MAX_LINE = 64 * 1024  # wsp_shell.cpp kMaxLine
BLANKS = b" \t\r\v\f"

# Hostile values for a number slot whose range is 0..hi: none of them is a valid number there.
def bad_numbers(hi):
    return [b"-1", b"+1", b"-0", b"+0", b"0x10", b"0X1", b"1e3", b"1.5", b"1,5", b"1k", b"01x",
            b"x1", b"1\x00", b"\x001", b"\xd9\xa3",  # ARABIC-INDIC DIGIT THREE
            b"\xff\xfe", str(hi + 1).encode(), str(2**32).encode(), str(2**32 + 1).encode(),
            str(2**63).encode(), str(2**64).encode(), str(2**64 + 1).encode(), b"9" * 40,
            b"-" + b"9" * 30, b"2147483648", b"4294967295" if hi < 4294967295 else b"-5",
            b"18446744073709551615"]

BAD_SOCKETS = [b"0", b"99999", b"-1", b"+1", b"4294967297", b"1x", b"x", b"01x", b"1.0",
               b"\xff", b"2147483648", b"18446744073709551617"]
BAD_DATA = [b"hex:zz", b"hex:abc", b"hex:0", b"hex:0g", b"hex:g0", b"hex:\xff\xff",
            b"hex:00\x0000", b"int:", b"int:abc", b"int:99999999999999999999", b"int:+1",
            b"int:0x10", b"int:1.5", b"int:--1", b"fill:99999999999", b"fill:-1",
            b"fill:16777217", b"fill:", b"fill:0x10", b"fill:+5", b"fill:1e9",
            b"fill:18446744073709551616"]
GOOD_DATA = [b"hello", b"hex:", b"hex:00ff", b"int:-1", b"int:42", b"fill:0", b"fill:100",
             b"fill:16777216", b"x\xffy", b"\x00\x01"]
BAD_ADDRS = [b"10.0.2", b"10.0.2.2.2", b"256.1.1.1", b"+1.2.3.4", b"-1.2.3.4", b"localhost",
             b"::1", b"10.0.2.2:80", b"10..2.2", b"1.2.3.4x", b"0x0a.0.0.1", b"1.2.3.1234",
             b"10.0.2.2\x00"]
GOOD_ADDRS = [b"10.0.2.2", b"10.0.9.9", b"127.0.0.1", b"0.0.0.0", b"255.255.255.255"]
OPTIONS = [b"discdatalen", b"conndatalen", b"conndata", b"condaccept", b"linger",
           b"dontlinger", b"error", b"nread", b"maxmsgsize", b"type", b"protocolinfo"]
EVENTS = [b"FD_READ", b"FD_WRITE", b"FD_OOB", b"FD_ACCEPT", b"FD_CONNECT", b"FD_CLOSE"]

# Slot kinds: ("S",) socket, ("N", hi, [good values]) number, ("T",) time-out ms (good: small),
# ("D",) data, ("A",) address, ("E", [words]) one of, ("V",) an accept verdict.
S = ("S",)
T = ("T",)
D = ("D",)
A = ("A",)
P = ("N", 65535, [b"0", b"7400", b"65535"])


def N(hi, good=None):
    return ("N", hi, good or [b"0", b"1", str(hi).encode()])


# Each command: its argument forms (the shortest first). Left out on purpose (see above):
# nonblocking with 0, quit/exit, help/stats valid forms.
COMMANDS = {
    b"socket": [[], [("E", [b"stream", b"message"])]],
    b"bind": [[S, P]],
    b"listen": [[S], [S, N(65535, [b"0", b"16"])]],
    b"condaccept": [[S, N(1)]],
    b"accept": [[S], [S, T], [S, T, ("E", [b"reject", b"defer"])], [S, T, ("E", [b"accept"]), D]],
    b"connect": [[S, A, P], [S, A, P, T]],
    b"connectdata": [[S, A, P, D], [S, A, P, D, T]],
    b"send": [[S, D], [S, D, T]],
    b"recv": [[S], [S, N(1048576, [b"0", b"1", b"4096", b"1048576"])],
              [S, N(1048576, [b"1", b"1048576"]), T]],
    b"shutdown": [[S, ("E", [b"send", b"receive", b"both", b"0", b"2", b"7", b"2147483647"])]],
    b"senddisconnect": [[S], [S, D]],
    b"recvdisconnect": [[S], [S, N(1048576, [b"0", b"64", b"1048576"])],
                        [S, N(1048576, [b"64"]), T]],
    b"linger": [[S, N(65535, [b"0", b"1", b"65535"]), N(65535, [b"0"])]],
    b"dontlinger": [[S, N(1)]],
    b"nonblocking": [[S, N(1, [b"1"])]],
    b"nodelay": [[S, N(1)]],
    b"sndbuf": [[S], [S, N(2147483647, [b"0", b"4096", b"2147483647"])]],
    b"rcvbuf": [[S], [S, N(2147483647, [b"0", b"65536"])]],
    b"select": [[S], [S, ("E", EVENTS)], [S, ("E", EVENTS), ("E", EVENTS)]],
    b"events": [[S]],
    b"wait": [[S, T]],
    b"getopt": [[S, ("E", OPTIONS)]],
    b"state": [[S]],
    b"info": [[S]],
    b"peer": [[S]],
    b"name": [[S]],
    b"close": [[S]],
    b"sleep": [[T]],
    b"flags": [[]],
}
# Valid only with no argument, left out: these may be fed only with too many.
NO_ARGS_ONLY = [b"stats", b"help", b"quit", b"exit", b"flags"]
SHORT_MS = [b"0", b"1", b"2", b"5"]


class Gen:
    def __init__(self, rng, sockets):
        self.rng = rng
        self.sockets = sockets  # the socket numbers that exist after the preamble

    def good(self, slot):
        r = self.rng
        kind = slot[0]
        if kind == "S":
            return r.choice(self.sockets)
        if kind == "N":
            return r.choice(slot[2])
        if kind == "T":
            return r.choice(SHORT_MS)
        if kind == "D":
            return r.choice(GOOD_DATA)
        if kind == "A":
            return r.choice(GOOD_ADDRS)
        if kind == "E":
            return r.choice(slot[1])
        raise ValueError(kind)

    def bad(self, slot):
        r = self.rng
        kind = slot[0]
        if kind == "S":
            return r.choice(BAD_SOCKETS)
        if kind == "N":
            return r.choice(bad_numbers(slot[1]))
        if kind == "T":
            return r.choice(bad_numbers(86_400_000) + [b"86400001"])
        if kind == "D":
            return r.choice(BAD_DATA)
        if kind == "A":
            return r.choice(BAD_ADDRS)
        if kind == "E":
            return r.choice([w.upper() + b"x" for w in slot[1]] + [b"\x00", b"\xff", b"garbage",
                                                                   b"-1", b"+1", b"0x1"])
        raise ValueError(kind)

    def command_line(self):
        """(line, expect): expect is b"inval" (must be ERR WSAEINVAL) or b"any"."""
        r = self.rng
        name = r.choice(list(COMMANDS))
        forms = COMMANDS[name]
        what = r.random()
        if what < 0.25 and name != b"close":  # valid (closes come at the end: main)
            form = r.choice(forms)
            return self.join(name, [self.good(s) for s in form]), b"any"
        if what < 0.40 and len(forms[0]) > 0:  # too few
            form = forms[0]
            k = r.randrange(len(form))
            return self.join(name, [self.good(s) for s in form[:k]]), b"inval"
        if what < 0.55:  # too many
            form = forms[-1]
            if name == b"select":  # takes any number of events: the extra one must be bad
                extra = [r.choice([b"extra", b"FD_BOGUS", b"fd_read", b"1"])]
            else:
                extra = [r.choice([b"extra", b"1", b"0", b"hex:00", b"\x00", b"\xff"])
                         for _ in range(r.randint(1, 3))]
            return self.join(name, [self.good(s) for s in form] + extra), b"inval"
        # one bad argument
        candidates = [f for f in forms if f]
        if not candidates:
            return self.join(name, [b"extra"]), b"inval"
        form = r.choice(candidates)
        i = r.randrange(len(form))
        words = [self.good(s) for s in form]
        words[i] = self.bad(form[i])
        return self.join(name, words), b"inval"

    def join(self, name, words):
        seps = [b" ", b"  ", b"\t", b" \t "]
        line = name
        for w in words:
            line += self.rng.choice(seps) + w
        if self.rng.random() < 0.05:
            line += b"\r"  # CRLF input: \r is a blank
        if self.rng.random() < 0.05:
            line = b" \t" + line
        return line

    def random_bytes(self):
        r = self.rng
        n = r.choice([1, 2, 5, 20, 100, 1000, 5000])
        alphabet = bytes(b for b in range(256) if b != 0x0A)
        return bytes(r.choice(alphabet) for _ in range(r.randint(1, n)))


def words_of(line):
    """The shell's split(): words between the blanks " \\t\\r\\v\\f" (NUL is no blank)."""
    for b in BLANKS[1:]:
        line = line.replace(bytes([b]), b" ")
    return line.split(b" ")


def expectation(line, expect):
    """What the shell answers to `line`: None (no answer), b"inval" or b"any"."""
    if len(line) > MAX_LINE:
        return b"inval"
    words = [w for w in words_of(line) if w]
    if not words or words[0].startswith(b"#"):
        return None
    if expect is None:  # a random line
        known = set(COMMANDS) | set(NO_ARGS_ONLY)
        return b"any" if words[0] in known else b"inval"
    return expect


def corpus(seed, n_lines, peer):
    rng = random.Random(seed)
    peer_addr, peer_port = peer.split(":")
    pre = [
        (b"socket", b"^OK 1$"),
        (b"socket message", b"^OK 2$"),
        (b"socket", b"^OK 3$"),
        (b"connect 3 %s %s 5000" % (peer_addr.encode(), peer_port.encode()), b"^OK$"),
        (b"nonblocking 1 1", b"^OK$"),
        (b"nonblocking 2 1", b"^OK$"),
        (b"nonblocking 3 1", b"^OK$"),
    ]
    lines = [(l, b"pre:" + e) for l, e in pre]
    gen = Gen(rng, [b"1", b"2", b"3"])
    # The reported examples, each once at the start.
    for l in [b"recv 3 2147483647", b"recv 1 2147483647", b"shutdown 3 garbage",
              b"linger 3 1 70000", b"linger 3 70000 0", b"send 3 hex:zz", b"send 3 hex:abc",
              b"send 3 fill:99999999999", b"send 3 hello extra", b"recvdisconnect 3 2147483647",
              b"bind 1 70000", b"connect 1 10.0.2.2 70000", b"wait 1 4294967296",
              b"sleep 99999999999", b"close 7", b"close -1"]:
        lines.append((l, b"inval"))
    for name in NO_ARGS_ONLY:
        lines.append((name + b" extra", b"inval"))
    lines.append((b"flags", b"any"))
    while len(lines) < n_lines:
        r = rng.random()
        if r < 0.80:
            lines.append(gen.command_line())
        elif r < 0.93:
            lines.append((gen.random_bytes(), None))
        elif r < 0.96:
            lines.append((rng.choice([b"", b" ", b"\t\r", b"\r", b"# a comment", b" #x y",
                                      b"#\x00\xff"]), None))
        else:
            # NUL or a high byte inside a command word or argument
            l, _ = gen.command_line()
            i = rng.randrange(len(l))
            lines.append((l[:i] + rng.choice([b"\x00", b"\xff", b"\x80"]) + l[i:], None))
    # Long lines: at the bound, just over it, far over it.
    for size in [MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, MAX_LINE + 7, 200_000, 1 << 20]:
        lines.append((b"send 99999 " + b"a" * (size - 11), b"inval"))
        lines.append((b"#" + b"c" * (size - 1), None))
        lines.append((bytes(rng.randrange(1, 256) for _ in range(min(size, 4096))).replace(
            b"\n", b"x") + b"z" * max(0, size - 4096), None))
    lines.append((b"send 3 " + b"a" * (MAX_LINE - 7), b"any"))  # exactly at the bound: a send
    head = len(pre) + 16  # the preamble and the reported examples stay first
    lines[head:] = rng.sample(lines[head:], len(lines) - head)
    # The end: the sockets closed, then lines on them (no socket any more).
    for k in [b"1", b"2", b"3"]:
        lines.append((b"close " + k, b"any"))
        lines.append((b"recv " + k, b"inval"))
    return [(l, expectation(l, e) if not (e or b"").startswith(b"pre:") else e) for l, e in lines]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--netns", required=True)
    ap.add_argument("--shell", required=True)
    ap.add_argument("--lines", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--rss-limit-mib", type=int, default=64)
    ap.add_argument("--peer", default="10.0.2.2:7400")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("host", nargs="*")
    a = ap.parse_args()

    lines = corpus(a.seed, a.lines, a.peer)
    inp = os.path.join(a.out, "garbage.in")
    outp = os.path.join(a.out, "garbage.answers")
    errp = os.path.join(a.out, "garbage.stderr")
    with open(inp, "wb") as f:
        for l, _ in lines:
            f.write(l + b"\n")
    expected = [(l, e) for l, e in lines if e is not None]
    print(f"{len(lines)} lines ({os.path.getsize(inp)} bytes), {len(expected)} answers expected, "
          f"{sum(1 for _, e in expected if e == b'inval')} of them ERR WSAEINVAL; seed {a.seed}")

    t0 = time.monotonic()
    with open(inp, "rb") as fin, open(outp, "wb") as fout, open(errp, "wb") as ferr:
        # ip netns exec execs the shell in place: the child's rusage is the shell's.
        p = subprocess.Popen(["ip", "netns", "exec", a.netns, a.shell] + a.host, stdin=fin,
                             stdout=fout, stderr=ferr)
        status = None
        while True:
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                status = st
                break
            if time.monotonic() - t0 > a.timeout:
                p.kill()
                _, st, ru = os.wait4(p.pid, 0)
                print(f"FAIL: the shell did not finish within {a.timeout:.0f} s (killed)")
                return 1
            time.sleep(0.05)
    dt = time.monotonic() - t0
    fails = 0

    def fail(msg):
        nonlocal fails
        fails += 1
        if fails <= 20:
            print("FAIL:", msg)

    code = os.waitstatus_to_exitcode(status)
    rss_mib = ru.ru_maxrss / 1024
    print(f"exit status {code}, {dt:.1f} s, peak RSS {rss_mib:.1f} MiB "
          f"(bound {a.rss_limit_mib} MiB)")
    if code != 0:
        fail(f"exit status {code}, want 0; stderr: {open(errp, 'rb').read()[-500:]!r}")
    if rss_mib >= a.rss_limit_mib:
        fail(f"peak RSS {rss_mib:.1f} MiB >= {a.rss_limit_mib} MiB")

    answers = open(outp, "rb").read().split(b"\n")
    if answers and answers[-1] == b"":
        answers.pop()
    if len(answers) != len(expected):
        fail(f"{len(answers)} answer lines for {len(expected)} command lines")
    counts = {}
    for i, ((line, want), got) in enumerate(zip(expected, answers)):
        shown = f"line {i + 1} {line[:80]!r}{'...' if len(line) > 80 else ''} -> {got[:120]!r}"
        if not re.match(rb"^(OK|OK .*|ERR WSA[A-Z_]+( .*)?)$", got):
            fail(f"{shown}: not an OK/ERR line")
        elif want.startswith(b"pre:"):
            if not re.match(want[4:], got):
                fail(f"{shown}: want /{want[4:].decode()}/")
        elif want == b"inval" and not got.startswith(b"ERR WSAEINVAL"):
            fail(f"{shown}: want ERR WSAEINVAL")
        key = got.split(b" ")[0] + (b" " + got.split(b" ")[1] if got.startswith(b"ERR") else b"")
        counts[key] = counts.get(key, 0) + 1
    valid = {}
    for (line, want), got in zip(expected, answers):
        if want == b"any":
            k = got.split(b" ")[0] + (b" " + got.split(b" ")[1] if got.startswith(b"ERR") else b"")
            valid[k] = valid.get(k, 0) + 1
    print("answers to the lines that could be valid:", ", ".join(
        f"{k.decode()} {v}" for k, v in sorted(valid.items(), key=lambda kv: -kv[1])))
    print("all answers:", ", ".join(f"{k.decode()} {v}" for k, v in
                                sorted(counts.items(), key=lambda kv: -kv[1])))
    print(f"{fails} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
