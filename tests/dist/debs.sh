#!/usr/bin/env bash
# debs.sh BUILD_DIR -- the Debian packages, built from BUILD_DIR with CPack and installed with
# apt-get as on a machine that never saw the tree (README "Use it from your own code"):
#   1. `cpack -G DEB`: libustack0, libustack-dev, ustack-tools (and python3-ustack when the
#      module was built), each with its files;
#   2. `apt-get install ./*.deb`;
#   3. the installed tools: wsp-shell --help and --version, a man page;
#   4. examples/ built against the installed libustack-dev with plain pkg-config, run, writing a
#      capture; tshark decodes the disconnect data on its FINs with the installed dissector,
#      without -X;
#   5. `import ustack` from Debian's python3 (python3-ustack);
#   6. `apt-get purge` -- also when a step fails (trap).
# Needs root (installs into /usr). Exit 0 when all hold, 1 otherwise, 77 without root, apt-get,
# cpack or tshark. CTest runs it alone (RUN_SERIAL): while it runs, /usr has the dissector.
set -uo pipefail
build=$(cd "${1:?usage: debs.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "debs: SKIP: needs root" >&2; exit 77; fi
for tool in apt-get dpkg-deb cpack tshark cc make; do
  command -v "$tool" >/dev/null 2>&1 || { echo "debs: SKIP: no $tool" >&2; exit 77; }
done
packages=(libustack0 libustack-dev ustack-tools python3-ustack)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ustack-debs.XXXXXX")
purge() {
  local installed=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && installed+=("$p")
  done
  if [ ${#installed[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${installed[@]}" >/dev/null 2>&1 ||
      echo "debs: WARNING: apt-get purge ${installed[*]} failed" >&2
  fi
}
trap 'purge; rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
purge  # a previous run that was killed may have left them

# 1. build the packages
if ! (cd "$build" && cpack -G DEB -B "$tmp/debs") >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1
fi
# contents PACKAGE PATH... -- the package was built and holds each PATH
contents() {
  local pkg=$1 deb
  shift
  deb=$(ls "$tmp/debs/${pkg}"_*.deb 2>/dev/null | head -1)
  if [ -z "$deb" ]; then fail "no package $pkg"; return; fi
  local listing
  listing=$(dpkg-deb -c "$deb" | awk '{print $6}')
  for path in "$@"; do
    grep -qxF ".$path" <<<"$listing" || fail "$pkg lacks $path"
  done
  ok "$pkg: $(dpkg-deb -f "$deb" Version), Depends: $(dpkg-deb -f "$deb" Depends)"
}
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
contents libustack0 "/usr/lib/$arch/libustack.so.0"
contents libustack-dev /usr/include/ustack/wsp.h "/usr/lib/$arch/libustack.so" \
  "/usr/lib/$arch/pkgconfig/ustack.pc" "/usr/lib/$arch/cmake/ustack/ustackConfig.cmake"
contents ustack-tools /usr/bin/wsp-shell /usr/bin/txn-server /usr/bin/txn-client \
  /usr/bin/ustack-peer /usr/bin/ustack-netns-up /usr/bin/ustack-netns-down /usr/bin/ustack-ladder \
  "/usr/lib/$arch/wireshark/plugins/ustack.lua" /usr/share/man/man1/wsp-shell.1
with_python=0
if ls "$tmp/debs"/python3-ustack_*.deb >/dev/null 2>&1; then
  with_python=1
  contents python3-ustack /usr/lib/python3/dist-packages/ustack/__init__.py
fi

# 2. install them
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     "$tmp"/debs/*.deb >"$tmp/apt.log" 2>&1; then
  cat "$tmp/apt.log"; echo "FAIL: apt-get install ./*.deb"; exit 1
fi
ok "apt-get install $(cd "$tmp/debs" && ls *.deb | tr '\n' ' ')"

# 3. the tools
help=$(/usr/bin/wsp-shell --help 2>&1)
if grep -q '^usage: wsp-shell' <<<"$help" &&
   [ "$(/usr/bin/wsp-shell --version)" = "wsp-shell (ustack) $(pkg-config --modversion ustack)" ]; then
  ok "wsp-shell --help and --version"
else
  fail "wsp-shell --help / --version"
fi
[ -s /usr/share/man/man1/wsp-shell.1.gz ] || [ -s /usr/share/man/man1/wsp-shell.1 ] ||
  fail "no man page for wsp-shell"

# 4. a program on the installed library, and tshark with the installed dissector
if make -s -C "$root/examples" OUT="$tmp" >"$tmp/mk.log" 2>&1; then
  if out=$("$tmp/txn_total" "$tmp/exchange.pcap" 2>&1) && [ "$(tail -1 <<<"$out")" = OK ]; then
    ok "examples/ built with pkg-config against /usr: the eight steps ran"
  else
    echo "$out"; fail "examples/ did not end OK"
  fi
else
  cat "$tmp/mk.log"; fail "examples/ does not build against the installed package"
fi
if [ -s "$tmp/exchange.pcap" ]; then
  mkdir -p "$tmp/home"
  fins=$(HOME=$tmp/home tshark -n -r "$tmp/exchange.pcap" -Y "tcp.flags.fin == 1" \
           -T fields -e ip.src -e ustack.exid -e ustack.disc.total 2>"$tmp/tshark.err")
  expected=$(printf '10.9.0.1\t0xd15c\t11033\n10.9.0.2\t0xd15c\t11033')
  if [ "$fins" = "$expected" ] && ! grep -qi "lua" "$tmp/tshark.err"; then
    ok "tshark (no -X) decodes both FINs' disconnect data with the installed dissector"
  else
    echo "$fins"; cat "$tmp/tshark.err"; fail "tshark decode of the FINs without -X"
  fi
fi

# 5. the Python module
if [ "$with_python" -eq 1 ]; then
  if out=$(cd "$tmp" && /usr/bin/python3 -c 'import ustack; a, b = ustack.memory_pair(); a.close(); b.close(); print("ok")' 2>&1) &&
     [ "$out" = ok ]; then
    ok "import ustack (python3-ustack) and an in-memory pair"
  else
    echo "$out"; fail "python3-ustack: import ustack"
  fi
fi

[ "$fails" -eq 0 ] && echo "debs: all checks passed" || echo "debs: $fails check(s) failed"
[ "$fails" -eq 0 ]
