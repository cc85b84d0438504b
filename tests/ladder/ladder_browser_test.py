#!/usr/bin/env python3
"""The ladders of apps/ladder/scenarios.py, rendered by a real browser (headless Chromium).

  ladder_browser_test.py BUILD_DIR [OUT_DIR]

Runs every scenario (two ustack hosts in memory, each writing its pcap and state log), draws
each ladder with ustack-ladder, has Chromium load each page (--dump-dom: the document as the
browser built it; --screenshot: a PNG of it, kept in OUT_DIR) and checks the page itself:

  - the arrows in order, with their labels (flags, relative SEQ/ACK, the disconnect data decoded
    as a total on both FINs of the eight-step exchange);
  - each side's state sequence (RFC 9293 §3.3.2, from the state logs, not inferred);
  - the scenario's mark: crossing FINs and CLOSING on both sides, the RST of SO_LINGER {1,0},
    the linger interval and RST of an expired linger, the RST of a close with unread data;
  - no console error, a PNG that is not empty.

Exit status 0 when all hold, 1 otherwise (each failure printed), 77 when Chromium or the Python
module is missing.
"""

import html.parser
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Page(html.parser.HTMLParser):
    """The ladder's elements as the browser's DOM has them: arrows, state bands, calls."""

    def __init__(self):
        super().__init__()
        self.arrows, self.states, self.calls, self.lingers = [], {"a": [], "b": []}, [], 0
        self._seg = None       # the arrow whose <g> we are in
        self._label = False    # inside its label's <text>

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "g" and "seg" in cls:
            self._seg = {"flags": a.get("data-flags") or "", "from": a.get("data-from"),
                         "total": a.get("data-disc-total"), "classes": cls, "label": ""}
            self.arrows.append(self._seg)
        elif tag == "g" and "state" in cls:
            self.states[a["data-side"]].append((a["data-state"], "inferred" in cls,
                                                a.get("data-cause", "")))
        elif tag == "g" and "call" in cls:
            self.calls.append((a.get("data-side"), a.get("data-call")))
        elif tag == "g" and "linger" in cls:
            self.lingers += 1
        elif tag == "text" and self._seg is not None and "seglabel" in cls:
            self._label = True

    def handle_endtag(self, tag):
        if tag == "text":
            self._label = False
        elif tag == "g":
            self._seg = None

    def handle_data(self, data):
        if self._label and self._seg is not None:
            self._seg["label"] += data


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def render(browser, page, png, home):
    flags = [browser, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={home}", "--enable-logging=stderr", "--v=0"]
    url = page.resolve().as_uri()
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    shot = subprocess.run(flags + [f"--screenshot={png}", "--window-size=1580,1300", url],
                          capture_output=True, text=True, timeout=120)
    console = [line for line in (dom.stderr + shot.stderr).splitlines()
               if "CONSOLE" in line or "Uncaught" in line]
    return dom.stdout, console


def states(p, side):
    return [s for s, _inferred, _cause in p.states[side]]


def main():
    build = pathlib.Path(sys.argv[1]).resolve()
    browser = chromium()
    if browser is None:
        print("ladder: SKIP: no chromium (scripts/install-deps.sh installs it)")
        return 77
    env = dict(os.environ, PYTHONPATH=str(build / "python"))
    if subprocess.run([sys.executable, "-c", "import ustack"], env=env).returncode != 0:
        print("ladder: SKIP: the Python module is not built")
        return 77
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory(prefix="ustack-ladder.") as tmp:
        tmp = pathlib.Path(tmp)
        run = subprocess.run([sys.executable, str(ROOT / "apps/ladder/scenarios.py"),
                              str(tmp / "pages")], env=env, capture_output=True, text=True,
                             timeout=300)
        check(run.returncode == 0, "scenarios.py ran every scenario" +
              ("" if run.returncode == 0 else ": " + run.stderr[-2000:]))
        if run.returncode != 0:
            return 1
        pages = {}
        for name in ("graceful", "simultaneous", "linger0", "linger-expiry", "unread"):
            png = tmp / f"{name}.png"
            dom, console = render(browser, tmp / "pages" / f"{name}.html", png, tmp / "home")
            p = Page()
            p.feed(dom)
            pages[name] = p
            check(not console, f"{name}: no console message ({console[:3]})")
            check(png.exists() and png.stat().st_size > 10000, f"{name}: a PNG was rendered")
            check(not p.states["a"] or not any(i for _s, i, _c in p.states["a"]),
                  f"{name}: the client's states come from its state log, not inferred")
            if out is not None and png.exists():
                out.mkdir(parents=True, exist_ok=True)
                shutil.copy(png, out / png.name)

        g = pages["graceful"]
        flags = [a["flags"] for a in g.arrows]
        check(flags[:3] == ["SYN", "SYN,ACK", "ACK"], f"graceful: the handshake first {flags[:3]}")
        fins = [a for a in g.arrows if "FIN" in (a["flags"] or "")]
        check([a["from"] for a in fins] == ["a", "b"], "graceful: one FIN each way, client first")
        check([a["total"] for a in fins] == ["11033", "11033"],
              f"graceful: both FINs decode the total 11033 ({[a['total'] for a in fins]})")
        check(all("= 11033" in a["label"] for a in fins), "graceful: the FIN labels show the total")
        check("seq=0" in g.arrows[0]["label"] and "ack=1" in g.arrows[1]["label"],
              "graceful: relative SEQ/ACK in the labels")
        client = [s for s in states(g, "a") if s != "FIN-WAIT-2"]
        check(client == ["SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "TIME-WAIT"] and
              "FIN-WAIT-2" in states(g, "a") + ["FIN-WAIT-2"],
              f"graceful: client ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT "
              f"({states(g, 'a')})")
        check(states(g, "b") == ["SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK",
                                 "CLOSED"],
              f"graceful: server ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED "
              f"({states(g, 'b')})")
        calls = [c for _s, c in g.calls]
        check(calls.count("WSPSendDisconnect") == 2 and calls.count("WSPRecvDisconnect") == 2,
              "graceful: both sides' WSPSendDisconnect and WSPRecvDisconnect are drawn")

        s = pages["simultaneous"]
        check("CLOSING" in states(s, "a") and "CLOSING" in states(s, "b"),
              f"simultaneous: CLOSING on both sides ({states(s, 'a')} / {states(s, 'b')})")
        check(states(s, "a")[-1] == "TIME-WAIT" and states(s, "b")[-1] == "TIME-WAIT",
              "simultaneous: both sides end in TIME-WAIT")

        z = pages["linger0"]
        rst = [a for a in z.arrows if "RST" in a["flags"]]
        check(bool(rst) and rst[0]["from"] == "a" and "rst" in rst[0]["classes"],
              "linger0: the client's RST, marked")
        check("TIME-WAIT" not in states(z, "a") and states(z, "a")[-1] == "CLOSED",
              f"linger0: no TIME-WAIT ({states(z, 'a')})")
        check(z.states["a"][-1][2] == "abort", "linger0: CLOSED caused by abort")

        e = pages["linger-expiry"]
        check(e.lingers == 1, "linger-expiry: the linger interval is drawn")
        rst = [a for a in e.arrows if "RST" in a["flags"] and a["from"] == "a"]
        check(bool(rst), "linger-expiry: the client resets when the linger expires")
        check(("a", "linger-expired") in e.calls, "linger-expiry: the expiry is drawn")

        u = pages["unread"]
        rst = [a for a in u.arrows if "RST" in a["flags"]]
        check(bool(rst) and rst[0]["from"] == "b" and not any(
            "FIN" in a["flags"] and a["from"] == "b" for a in u.arrows),
              "unread: the server's close is a RST, not a FIN")
    print(f"ladder: {len(failures)} failure(s)" if failures else "ladder: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
