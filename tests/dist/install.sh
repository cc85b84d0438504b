#!/usr/bin/env bash
# install.sh BUILD_DIR -- ustack installed into a fresh prefix, used as a user's own program would
# (README "Use it from your own code"):
#   1. `cmake --install BUILD_DIR --prefix P`: the library, header, CMake package, .pc, tools;
#   2. libustack.so: SONAME libustack.so.0, and its dynamic symbols are the WSP*/WSA* functions
#      of ustack/wsp.h and nothing else (no C++ engine, libtins or Boost symbol);
#   3. examples/ built out of tree with find_package(ustack CONFIG), and run;
#   4. examples/ built with pkg-config (its Makefile), and run;
#   5. the installed tools answer --help and --version, with a man page each.
# Exit 0 when all hold, 1 otherwise (each failure printed), 77 when a C compiler or make is missing.
set -uo pipefail
build=$(cd "${1:?usage: install.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for tool in cc make nm objdump pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install: SKIP: no $tool" >&2; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ustack-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# 1. install
if ! cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"; echo "FAIL: cmake --install"; exit 1
fi
libdir=$(dirname "$(find "$prefix" -name 'libustack.so.0' | head -1)")
[ -f "$prefix/include/ustack/wsp.h" ] && ok "header installed" || fail "no include/ustack/wsp.h"
[ -f "$libdir/pkgconfig/ustack.pc" ] && ok "ustack.pc installed" || fail "no ustack.pc"
[ -f "$libdir/cmake/ustack/ustackConfigVersion.cmake" ] && ok "CMake package installed" ||
  fail "no CMake package"

# 2. the shared library's interface
soname=$(objdump -p "$libdir/libustack.so.0" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libustack.so.0 ] && ok "SONAME libustack.so.0" || fail "SONAME is '$soname'"
nm -D --defined-only "$libdir/libustack.so.0" | awk '$2 != "A" {print $3}' | sed 's/@.*//' \
  | sort >"$tmp/exports"
others=$(grep -Ev '^WS[PA][A-Z][A-Za-z]*$' "$tmp/exports" || true)
[ -z "$others" ] && ok "exports only WSP*/WSA* ($(wc -l <"$tmp/exports") functions)" ||
  fail "libustack.so exports more than WSP*/WSA*: $(head -5 <<<"$others" | tr '\n' ' ')"
# ... and every function the header declares.
grep -oE '\b(WSP|WSA)[A-Z][A-Za-z]*\(' "$root/stack/include/ustack/wsp.h" | tr -d '(' | sort -u \
  | grep -v -e '^WSAMAKE' >"$tmp/declared"
missing=$(comm -23 "$tmp/declared" "$tmp/exports" | tr '\n' ' ')
[ -z "$missing" ] && ok "exports every function wsp.h declares" || fail "not exported: $missing"

# 3. find_package
if cmake -S "$root/examples" -B "$tmp/ex-cmake" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/ex.log" 2>&1 &&
   cmake --build "$tmp/ex-cmake" >>"$tmp/ex.log" 2>&1; then
  if out=$("$tmp/ex-cmake/txn_total" 2>&1) && [ "$(tail -1 <<<"$out")" = OK ]; then
    ok "examples/ with find_package(ustack CONFIG): the eight steps ran"
  else
    echo "$out"; fail "examples/ (find_package) did not end OK"
  fi
else
  cat "$tmp/ex.log"; fail "examples/ does not build with find_package"
fi

# 4. pkg-config
if PKG_CONFIG_PATH="$libdir/pkgconfig" make -s -C "$root/examples" OUT="$tmp" >"$tmp/mk.log" 2>&1; then
  if out=$(LD_LIBRARY_PATH="$libdir" "$tmp/txn_total" 2>&1) && [ "$(tail -1 <<<"$out")" = OK ]; then
    ok "examples/ with pkg-config: the eight steps ran"
  else
    echo "$out"; fail "examples/ (pkg-config) did not end OK"
  fi
else
  cat "$tmp/mk.log"; fail "examples/ does not build with pkg-config"
fi

# 5. tools
for t in txn-server txn-client wsp-shell ustack-peer ustack-ladder; do
  if "$prefix/bin/$t" --help >/dev/null 2>&1 &&
     [ "$("$prefix/bin/$t" --version)" = "$t (ustack) $(pkg-config --modversion "$libdir/pkgconfig/ustack.pc")" ]; then
    ok "$t --help and --version"
  else
    fail "$t --help / --version"
  fi
  [ -s "$prefix/share/man/man1/$t.1" ] || fail "no man page for $t"
done
for t in ustack-netns-up ustack-netns-down; do
  help=$("$prefix/bin/$t" --help 2>&1)
  grep -q "Usage:" <<<"$help" && ok "$t --help" || fail "$t --help"
done

[ "$fails" -eq 0 ] && echo "install: all checks passed" || echo "install: $fails check(s) failed"
[ "$fails" -eq 0 ]
