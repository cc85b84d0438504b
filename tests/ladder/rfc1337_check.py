#!/usr/bin/env python3
"""Check the RFC 1337 ladder that tests/ladder/rfc1337.sh drew, as headless Chromium renders it.

  rfc1337_check.py PAGE.html [OUT_DIR]

The crafted peer opens the connection, so it is side "a" (no state log: its states are
inferred); ustack is side "b" (its state log gives its states). Checks: the handshake, ustack's FIN first; a RST from the peer that arrives while
ustack is in TIME-WAIT, marked as a RST; ustack's TIME-WAIT ends by its timer
(time_wait_timeout), not by that RST; the retransmitted FIN after the RST is acknowledged; no
console error and a PNG. Exit 0 when all hold, 1 otherwise, 77 without Chromium.
"""
import pathlib
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from ladder_browser_test import Page, check, chromium, failures, render, states  # noqa: E402


def main():
    page = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else None
    browser = chromium()
    if browser is None:
        print("rfc1337: SKIP: no chromium")
        return 77
    with tempfile.TemporaryDirectory(prefix="ustack-ladder.") as tmp:
        tmp = pathlib.Path(tmp)
        png = tmp / "rfc1337.png"
        dom, console = render(browser, page, png, tmp / "home")
        p = Page()
        p.feed(dom)
        check(not console, f"no console message ({console[:3]})")
        check(png.exists() and png.stat().st_size > 10000, "a PNG was rendered")
        if out is not None and png.exists():
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy(png, out / png.name)
    flags = [(a["from"], a["flags"]) for a in p.arrows]
    check([f for _s, f in flags[:3]] == ["SYN", "SYN,ACK", "ACK"], f"the handshake first {flags[:3]}")
    fins = [i for i, (s, f) in enumerate(flags) if "FIN" in f]
    check(bool(fins) and flags[fins[0]][0] == "b", "ustack's FIN comes first (it closes actively)")
    rsts = [a for a in p.arrows if "RST" in a["flags"]]
    check(len(rsts) == 1 and rsts[0]["from"] == "a" and "rst" in rsts[0]["classes"],
          f"one RST, from the peer, marked ({[(a['from'], a['classes']) for a in rsts]})")
    check(not any("RST" in a["flags"] and a["from"] == "b" for a in p.arrows),
          "ustack sends no RST")
    a_states = p.states["b"]
    check(bool(a_states) and not any(i for _s, i, _c in a_states),
          "ustack's states come from its state log, not inferred")
    names = states(p, "b")
    check("TIME-WAIT" in names and names[-1] == "CLOSED",
          f"ustack goes through TIME-WAIT to CLOSED ({names})")
    check(bool(a_states) and a_states[-1][2] == "time_wait_timeout",
          f"TIME-WAIT ends by its timer, not by the RST (cause {a_states[-1][2] if a_states else None})")
    after = flags[flags.index(("a", rsts[0]["flags"])) + 1:] if rsts else []
    check(("a", "FIN,ACK") in after and ("b", "ACK") in after,
          f"after the RST the peer's FIN again, and ustack's ACK of it ({after})")
    print(f"rfc1337: {len(failures)} failure(s)" if failures else "rfc1337: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
