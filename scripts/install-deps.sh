#!/usr/bin/env bash
# Install (idempotently) every Debian package ustack's build, tests, demo and tools need.
# Needs root on a bare machine; does nothing when everything is already there.
set -euo pipefail

PACKAGES=(
  # build
  g++ cmake ninja-build pkg-config make
  libtins-dev libpcap-dev libboost-dev doctest-dev
  # end-to-end tests and demo: namespaces, veth, TUN, packet loss rules, captures
  iproute2 iputils-ping nftables tshark tcpdump procps ethtool
  # lwIP, the second independent TCP peer of the end-to-end tests (tests/lwip, tests/e2e/lwip.sh)
  liblwip-dev
  # fuzzing and sanitizers (clang's libFuzzer and runtimes); the style checks
  clang libclang-rt-14-dev clang-format clang-tidy
  # small tools the scripts use
  python3 coreutils
  # the Python module and its tests (Debian's python3, not a pyenv one: python/CMakeLists.txt)
  python3-dev pybind11-dev python3-pytest
  # the installed package: man pages from --help, Debian packages with CPack
  help2man dpkg-dev file
  # ustack-ladder's pages, rendered and checked in a real browser (tests/ladder)
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
