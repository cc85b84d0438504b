// WaitWord: a counter that threads sleep on until it moves -- the wake-up of a blocking WSP call.
// Part of the blocking room (blocking.hpp): with blocking.cpp the only code of the WSP layer that
// makes a system call or reads a clock.
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
#include <chrono>
#include <climits>
#include <cstdint>
#include <thread>

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
        // Spin first, briefly, while the process is nearly idle: when at most one other thread
        // of the process is blocked here and no other one spins. A request/response caller
        // then sees the answer without a futex sleep and wake-up -- on a VM a cross-CPU wake-up
        // costs several microseconds of a ~50 us round trip between two ustack hosts. With
        // many blocked threads (32 connection-rate clients) nobody spins: a spinner there
        // takes a core from the engine thread (connections/s fell to a tenth when one thread
        // always spun). The spin lasts at most kSpin, so an idle thread costs that once. After
        // kSpinAlone the spinner yields its CPU at every clock check: when the machine has fewer
        // CPUs than busy threads, the thread that will move the counter (an engine thread woken
        // on this CPU) may be queued behind the spinner, and without the yield waits for the end
        // of its time slice. Measured with scripts/bench.sh --pairs ll,uu --measure rtt on a
        // 2-CPU VM, 8 alternating runs: the ustack<->ustack 1-byte p99 was 43-130 us without the
        // yield (over 97 us in 3 runs), 31-70 us with it after 20 us, medians alike (14-21 us);
        // yielding from the start cost 4-6 us of median.
        const int w = waiting_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (w <= 2 && spinners_.fetch_add(1, std::memory_order_relaxed) == 0) {
            const auto start = std::chrono::steady_clock::now();
            const auto until = start + kSpin;
            const auto yield_from = start + kSpinAlone;
            bool moved = false;
            for (int i = 0; !moved; ++i) {
                if (v_.load(std::memory_order_acquire) != seen) {
                    moved = true;
                } else if ((i & 31) == 31) {
                    const auto t = std::chrono::steady_clock::now();
                    if (t >= until)
                        break;
                    if (t >= yield_from)
                        std::this_thread::yield();
                } else {
                    cpu_relax();
                }
            }
            spinners_.fetch_sub(1, std::memory_order_relaxed);
            if (moved) {
                waiting_.fetch_sub(1, std::memory_order_relaxed);
                return;
            }
        } else if (w <= 2) {
            spinners_.fetch_sub(1, std::memory_order_relaxed);
        }
        struct Leave {
            ~Leave() { waiting_.fetch_sub(1, std::memory_order_relaxed); }
        } leave;
#if defined(__linux__)
        (void)::syscall(SYS_futex, word(), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
#else
        v_.wait(seen, std::memory_order_acquire);
#endif
    }

    // Move the counter and wake every thread sleeping on it.
    void wake_all() {
        wake(INT_MAX);
    }
    // Move the counter and wake up to `n` (> 0) threads sleeping on it. The others sleep on
    // (their wait() saw the old value); a thread that has read the counter but not yet slept
    // returns at once.
    void wake(int n) {
        v_.fetch_add(1, std::memory_order_release);
#if defined(__linux__)
        (void)::syscall(SYS_futex, word(), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
#else
        if (n == 1)
            v_.notify_one();
        else
            v_.notify_all();
#endif
    }

private:
    static constexpr std::chrono::microseconds kSpin{50};
    static constexpr std::chrono::microseconds kSpinAlone{20};
    static void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    }
    // Threads of the process in wait(), and those spinning (process-wide).
    static inline std::atomic<int> waiting_{0};
    static inline std::atomic<int> spinners_{0};
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free);
    std::uint32_t* word() {
        return reinterpret_cast<std::uint32_t*>(&v_);
    }
    std::atomic<std::uint32_t> v_{0};
};

}  // namespace ustack
