# shellcheck shell=bash
# tests/e2e/lib.sh — shared by the end-to-end test scripts (source it after `set -euo pipefail`).
#
#   e2e_init NAME APPS_DIR   skip (exit 77) unless root with /dev/net/tun and python3; pick a
#                            unique namespace prefix; set up the EXIT trap (kills the PIDs
#                            started with e2e_bg, deletes the namespaces)
#   e2e_net [netns-up args]  create the two hosts (scripts/netns-up.sh --prefix $E2E_PREFIX ...)
#   e2e_bg NAME CMD...       run CMD in the background, output to $E2E_DIR/NAME.out
#   e2e_wait_line NAME RE S  wait up to S seconds for a line matching RE in NAME.out
#   e2e_wait NAME S          wait up to S seconds for NAME to exit; its status in $E2E_RC
#   e2e_expect NAME RE DESC  assert NAME.out has a line matching RE
#   e2e_field NAME RE N      print field N of the first line matching RE
#   e2e_check COND DESC      record a pass/fail
#   e2e_finish               print the summary, exit 0 or 1
#   e2e_shell_*              interactive wsp-shells (below)
#
# Address plan (scripts/lib/netns.sh): P-a: ustack A 10.0.1.2 behind tun0 (kernel 10.0.1.1),
# veth 10.0.0.1; P-b: ustack B 10.0.2.2 behind tun0 (kernel 10.0.2.1), veth 10.0.0.2.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_FAILS=0
E2E_PIDS=()
declare -A E2E_PID_OF=()

e2e_log() { printf '[%s] %s\n' "$E2E_NAME" "$*"; }

e2e_init() {
  E2E_NAME=$1
  E2E_APPS=$(cd "${2:?apps dir}" && pwd)
  E2E_T0=$(date +%s.%N)
  if [ "$(id -u)" -ne 0 ]; then e2e_log "SKIP: needs root (namespaces, TUN)"; exit 77; fi
  if [ ! -c /dev/net/tun ]; then e2e_log "SKIP: no /dev/net/tun"; exit 77; fi
  for tool in python3 ip timeout; do
    command -v "$tool" >/dev/null 2>&1 || { e2e_log "SKIP: $tool not found"; exit 77; }
  done
  for app in txn-server txn-client wsp-shell ustack-peer; do
    [ -x "$E2E_APPS/$app" ] || { e2e_log "FAIL: $E2E_APPS/$app not built"; exit 1; }
  done
  # Unique, at most 13 characters (interface names "${prefix}va" must fit in 15).
  E2E_PREFIX="e2$(printf '%x' $$)$(printf '%02x' $((RANDOM % 256)))"
  E2E_PREFIX=${E2E_PREFIX:0:13}
  E2E_DIR=${E2E_OUT:-$(mktemp -d "/tmp/ustack-e2e-$E2E_NAME.XXXXXX")}
  mkdir -p "$E2E_DIR"
  E2E_NET_UP=0
  trap e2e_cleanup EXIT
  trap 'exit 1' INT TERM
  e2e_log "namespaces $E2E_PREFIX-a/$E2E_PREFIX-b, logs in $E2E_DIR"
}

e2e_cleanup() {
  local rc=$? pid
  for pid in "${E2E_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${E2E_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$E2E_NET_UP" = 1 ]; then
    bash "$E2E_ROOT/scripts/netns-down.sh" --prefix "$E2E_PREFIX" --kill -q || true
  fi
  if [ $rc -ne 0 ] && [ -d "${E2E_DIR:-}" ]; then
    local f
    for f in "$E2E_DIR"/*.out; do
      [ -e "$f" ] || continue
      echo "---- $f (last 30 lines)"
      tail -n 30 "$f"
    done
  fi
  exit $rc
}

e2e_net() {
  bash "$E2E_ROOT/scripts/netns-up.sh" --prefix "$E2E_PREFIX" -q "$@" >"$E2E_DIR/netns-up.out" 2>&1 || {
    cat "$E2E_DIR/netns-up.out"; e2e_log "FAIL: netns-up.sh"; exit 1; }
  E2E_NET_UP=1
  NS_A=$E2E_PREFIX-a
  NS_B=$E2E_PREFIX-b
  VETH_A=${E2E_PREFIX}va
  VETH_B=${E2E_PREFIX}vb
  # ustack host options for A and B (the apps append their own).
  HOST_A=(--tun tun0 --addr 10.0.1.2/24 --gateway 10.0.1.1)
  HOST_B=(--tun tun0 --addr 10.0.2.2/24 --gateway 10.0.2.1)
}

# e2e_bg NAME [timeout-seconds] -- CMD...: background CMD (bounded by timeout), output in NAME.out
e2e_bg() {
  local name=$1 limit=$2
  shift 2
  [ "$1" = "--" ] && shift
  timeout -k 2 "$limit" "$@" >"$E2E_DIR/$name.out" 2>&1 &
  E2E_PID_OF[$name]=$!
  E2E_PIDS+=("$!")
}

e2e_wait_line() {
  local name=$1 re=$2 secs=$3 i
  for ((i = 0; i < secs * 20; i++)); do
    grep -Eq -- "$re" "$E2E_DIR/$name.out" 2>/dev/null && return 0
    kill -0 "${E2E_PID_OF[$name]}" 2>/dev/null || { grep -Eq -- "$re" "$E2E_DIR/$name.out" && return 0; break; }
    sleep 0.05
  done
  e2e_log "FAIL: no line /$re/ from $name within ${secs}s"
  cat "$E2E_DIR/$name.out" || true
  return 1
}

e2e_wait() {
  local name=$1 secs=$2 pid=${E2E_PID_OF[$1]} i
  for ((i = 0; i < secs * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    e2e_log "FAIL: $name still running after ${secs}s"
    E2E_RC=124
    return 0
  fi
  E2E_RC=0
  wait "$pid" || E2E_RC=$?
}

e2e_check() {
  local ok=$1 desc=$2
  if [ "$ok" = 0 ]; then
    e2e_log "ok   - $desc"
  else
    e2e_log "FAIL - $desc"
    E2E_FAILS=$((E2E_FAILS + 1))
  fi
}

e2e_expect() {
  local name=$1 re=$2 desc=$3
  if grep -Eq -- "$re" "$E2E_DIR/$name.out"; then e2e_check 0 "$desc"; else e2e_check 1 "$desc"; fi
}

e2e_field() { { grep -E -- "$2" "$E2E_DIR/$1.out" || true; } | head -1 | awk -v n="$3" '{print $n}'; }

e2e_finish() {
  local dt
  dt=$(awk -v a="$(date +%s.%N)" -v b="$E2E_T0" 'BEGIN { printf "%.1f", a - b }')
  if [ "$E2E_FAILS" -eq 0 ]; then
    e2e_log "PASS (${dt}s)"
    exit 0
  fi
  e2e_log "FAILED: $E2E_FAILS check(s) (${dt}s); logs in $E2E_DIR"
  exit 1
}

# e2e_capture_start NAME NS IFACE FILE: tcpdump on IFACE in NS into FILE (stopped by e2e_capture_stop)
e2e_capture_start() {
  local name=$1 ns=$2 ifc=$3 file=$4 i
  command -v tcpdump >/dev/null 2>&1 || { e2e_log "SKIP: tcpdump not found"; exit 77; }
  e2e_bg "$name" 300 ip netns exec "$ns" tcpdump -i "$ifc" -w "$file" -U -n --immediate-mode -B 32768 -s 256
  for ((i = 0; i < 100; i++)); do
    grep -q 'listening on' "$E2E_DIR/$name.out" 2>/dev/null && return 0
    sleep 0.05
  done
  e2e_log "FAIL: tcpdump did not start"; cat "$E2E_DIR/$name.out"; exit 1
}
e2e_capture_stop() {
  local name=$1 pid=${E2E_PID_OF[$1]}
  sleep 0.3
  # tcpdump runs under `timeout` (our child); SIGINT to it reaches tcpdump, which flushes and exits.
  kill -INT "$pid" 2>/dev/null || true
  e2e_wait "$name" 5
}

# ---- interactive wsp-shells (each answer read, bounded, before the next command goes out) ----
#   e2e_shell_start SIDE NS HOST-OPTIONS...   wsp-shell in NS on two FIFOs (not *.out: those are
#                                             shown on failure); transcript.out logs every side
#   e2e_shell_answer SIDE                     read lines until the result line (OK / ERR ...),
#                                             at most 10 s; it lands in E2E_ANS
#   e2e_shell_ask SIDE COMMAND                send COMMAND, read its answer into E2E_ANS
#   e2e_shell_check SIDE COMMAND ERE [NOTE]   ask; the answer must match ERE
#   e2e_shell_quit SIDE...                    quit each shell and check it exits 0
# E2E_SHELL_IN[SIDE] is the shell's stdin (for raw writes: printf ... >&"${E2E_SHELL_IN[a]}").
declare -A E2E_SHELL_IN=() E2E_SHELL_OUT=() E2E_SHELL_DEAD=()
E2E_ANS=

e2e_shell_start() {
  local side=$1 ns=$2 fd
  shift 2
  mkfifo "$E2E_DIR/$side.stdin" "$E2E_DIR/$side.stdout"
  e2e_bg "shell_$side" 120 bash -c 'exec ip netns exec "$0" "$1" "${@:4}" <"$2" >"$3"' \
    "$ns" "$E2E_APPS/wsp-shell" "$E2E_DIR/$side.stdin" "$E2E_DIR/$side.stdout" "$@"
  # The test holds both FIFOs read-write, so no open blocks.
  exec {fd}<>"$E2E_DIR/$side.stdin"
  E2E_SHELL_IN[$side]=$fd
  exec {fd}<>"$E2E_DIR/$side.stdout"
  E2E_SHELL_OUT[$side]=$fd
}

e2e_shell_answer() {
  local side=$1 line
  if [ -n "${E2E_SHELL_DEAD[$side]:-}" ]; then E2E_ANS="<shell $side gave no answer before>"; return 1; fi
  while IFS= read -r -t 10 line <&"${E2E_SHELL_OUT[$side]}"; do
    printf '%s< %s\n' "$side" "${line:0:300}" >>"$E2E_DIR/transcript.out"
    case $line in OK | "OK "* | "ERR "*) E2E_ANS=$line; return 0 ;; esac
  done
  E2E_SHELL_DEAD[$side]=1
  E2E_ANS="<no answer within 10 s>"
  return 1
}

e2e_shell_ask() {
  printf '%s\n' "$2" >&"${E2E_SHELL_IN[$1]}"
  printf '%s> %s\n' "$1" "${2:0:200}" >>"$E2E_DIR/transcript.out"
  e2e_shell_answer "$1" || true
}

e2e_shell_check() {
  local r
  e2e_shell_ask "$1" "$2"
  [[ $E2E_ANS =~ $3 ]] && r=0 || r=1
  e2e_check $r "$1: ${2:0:60} -> ${E2E_ANS:0:160}${4:+ $4}"
}

e2e_shell_quit() {
  local side
  for side in "$@"; do printf 'quit\n' >&"${E2E_SHELL_IN[$side]}"; done
  for side in "$@"; do
    e2e_wait "shell_$side" 20
    e2e_check "$E2E_RC" "wsp-shell ${side^^} exit 0"
  done
}
