#!/usr/bin/env bash
# check-layers.sh -- the layering rules of DESIGN.md §1-§2 that a grep can hold:
#
#   * the engine parts (stack/src/base, codec, engine and the engine's public headers) read no
#     clock, make no system call, start no thread and take no lock;
#   * in the WSP layer (stack/src/api) only the blocking room (blocking.hpp, blocking.cpp,
#     wait_word.hpp) reads a clock, sleeps, makes a system call or waits on a condition variable.
#
# Comments are ignored (a comment may name what the code must not do). Prints every offending
# line as FILE:LINE: TEXT and exits 1 if there is one; 0 otherwise. Run from anywhere.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Clocks, sleeps, system calls, threads, OS headers.
clock_syscall='steady_clock|system_clock|high_resolution_clock|[^_a-z]time\(|clock_gettime|gettimeofday|sleep_for|sleep_until|usleep|nanosleep|[^_a-z]syscall\(|SYS_futex|futex|#include <(sys/|unistd\.h|fcntl\.h|linux/|poll\.h|thread>|chrono>.*now)|std::thread|std::this_thread|getpid|(^|[^A-Za-z0-9_:])::(read|write|open|close|ioctl|poll|epoll_wait)\('
# Locks and blocking waits (the engine takes none; the WSP layer only in the blocking room).
locks='std::mutex|condition_variable|#include <(mutex|condition_variable)>|\.wait(_until|_for)?\(|notify_(one|all)\('

status=0
# check FILES... PATTERN WHAT
check() {
    local pattern=$1 what=$2
    shift 2
    local f
    for f in "$@"; do
        # Strip // comments (not inside strings; good enough for this tree), then grep.
        if out=$(sed -e 's|//.*$||' "$f" | grep -nE "$pattern"); then
            while IFS= read -r line; do
                printf '%s:%s  (%s)\n' "$f" "$line" "$what"
            done <<<"$out"
            status=1
        fi
    done
}

mapfile -t engine < <(find stack/src/base stack/src/codec stack/src/engine -name '*.[ch]pp' | sort)
# The engine's public headers: everything in stack/include/ustack but the WSP layer's own.
mapfile -t engine_headers < <(find stack/include/ustack -name '*.hpp' ! -name host_core.hpp | sort)
check "$clock_syscall|$locks" "no clock, system call, thread or lock in the engine" \
    "${engine[@]}" "${engine_headers[@]}"

mapfile -t api < <(find stack/src/api -name '*.[ch]pp' ! -name 'blocking.[ch]pp' \
    ! -name wait_word.hpp | sort)
check "$clock_syscall|$locks" "only the blocking room blocks, reads a clock or makes a system call" \
    "${api[@]}"

if [ "$status" -eq 0 ]; then
    echo "check-layers: ok (${#engine[@]} engine files, ${#engine_headers[@]} engine headers, ${#api[@]} API files outside the blocking room)"
fi
exit "$status"
