// WaitWord: a counter that threads sleep on until it moves -- the wake-up of a blocking WSP call.
//
// Why not std::condition_variable: a thread woken from pthread_cond_wait takes the mutex back in
// glibc's "contended" mode, so its next unlock makes a futex system call even when nobody waits
// (one extra per wake-up). Why not std::atomic::wait: libstdc++ spins first, with four
// sched_yield calls, before it sleeps. A blocked WSPRecv waits tens of microseconds at least, so
// both cost system calls on every round trip. On Linux this is the futex itself; elsewhere
// std::atomic::wait.
//
// Use: read the counter under the lock that guards the condition, release the lock, wait(seen);
// the waker changes the condition under the lock, then calls wake_all() (with or without it).
// A wake_all() between the read and the wait makes wait() return at once: nothing is lost.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ustack {

class WaitWord {
public:
    [[nodiscard]] std::uint32_t load() const { return v_.load(std::memory_order_acquire); }

    // Sleep while the counter still reads `seen` (may return spuriously: re-check the condition).
    void wait(std::uint32_t seen) {
#if defined(__linux__)
        (void)::syscall(SYS_futex, word(), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
#else
        v_.wait(seen, std::memory_order_acquire);
#endif
    }

    // Move the counter and wake every thread sleeping on it.
    void wake_all() { wake(INT_MAX); }
    // Move the counter and wake up to `n` (> 0) threads sleeping on it. The others sleep on
    // (their wait() saw the old value); a thread that has read the counter but not yet slept
    // returns at once.
    void wake(int n) {
        v_.fetch_add(1, std::memory_order_release);
#if defined(__linux__)
        (void)::syscall(SYS_futex, word(), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
#else
        if (n == 1) v_.notify_one(); else v_.notify_all();
#endif
    }

private:
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free);
    std::uint32_t* word() { return reinterpret_cast<std::uint32_t*>(&v_); }
    std::atomic<std::uint32_t> v_{0};
};

}  // namespace ustack
