#!/usr/bin/env bash
# e2e (issue 22, items 3 and 5): garbage into wsp-shell -> only OK/ERR lines, bounded memory.
# One wsp-shell on ustack A gets a seeded stream of hostile lines (shell_garbage.py: every
# command with too few and too many arguments, hostile numbers, bad hex:/int:/fill: data,
# unknown socket numbers, random bytes with NUL and high bytes, lines up to 1 MiB, valid
# commands in between, on a socket connected to a wsp-shell on B). Checked: one OK/ERR line
# per command line (ERR WSAEINVAL for each invalid one), exit 0 at the end of input, peak RSS
# under the bound; B's shell then accepts the connection A made.
#
#   wsp-shell-garbage.sh APPS_DIR [--lines N] [--seed S] [--rss-limit-mib M]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
e2e_init wsp-shell-garbage "$1"
shift
e2e_net

e2e_shell_start b "$NS_B" "${HOST_B[@]}" --disconnect-data
e2e_shell_check b "socket" '^OK 1$'
e2e_shell_check b "bind 1 7400" '^OK$'
e2e_shell_check b "listen 1" '^OK$'

rc=0
python3 "$here/shell_garbage.py" --out "$E2E_DIR" --netns "$NS_A" --shell "$E2E_APPS/wsp-shell" \
  --peer 10.0.2.2:7400 "$@" -- "${HOST_A[@]}" --disconnect-data >"$E2E_DIR/garbage.out" 2>&1 || rc=$?
sed 's/^/    /' "$E2E_DIR/garbage.out"
e2e_check $rc "garbage into wsp-shell A: one OK/ERR answer per command line - ERR WSAEINVAL for each invalid one - exit 0 - peak RSS under the bound"

# A's preamble connected its socket 3 to B: B takes it from the backlog (the host survived).
e2e_shell_check b "accept 1 5000" '^OK 2 10\.0\.1\.2:[0-9]+ 0$'
e2e_shell_check b "close 2" '^OK$'
e2e_shell_quit b
e2e_finish
