// Blocking: the API lock, the wake chain, and waits with time-outs -- the only room of the WSP
// layer that sleeps, wakes threads or reads a clock of its own (DESIGN.md §2).
//
// Rules of the room:
//   * Every WSP call holds the process-wide api_mutex() (ApiLock) while it looks at sockets or
//     the engine; no system call runs under it. Packets a call transmits from its own thread
//     are written after the lock is released (ApiLock::unlock / flush).
//   * A call that blocks on one socket sleeps on that socket's Waiter (a futex word, wait_word.hpp)
//     until the condition it waits for may have changed: the host's engine pass wakes it through
//     the wake chain after an event, WSPCloseSocket wakes it (the call then fails `interrupted`),
//     and a time-out wakes it.
//   * Threads that wait for several objects at once (WSPSelect, WSAWaitForMultipleEvents,
//     WSPCleanup) sleep on api_cv(), which is notified on every event while any of them waits.
//   * Every time-out is a deadline on a host's clock (HostDriver::now), kept by that host's
//     Timeouts and expired by its service() pass like an engine timer: so a host driven on
//     virtual time (tests) times calls out in virtual time. The one exception is a
//     WSAWaitForMultipleEvents on event objects that no socket has selected, which belongs to
//     no host: it waits on the process's monotonic clock (blocking.cpp).
#pragma once

#include <climits>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>

#include "ustack/host_core.hpp"
#include "ustack/time.hpp"
#include "wait_word.hpp"

namespace ustack {

class WaitHost;

// Where the blocked callers of one socket sleep. Lives in the socket table's slot, outside the
// socket's own state, so a caller woken after the socket was closed (and its slot reused) still
// finds the word it slept on. Under the lock except `word`.
struct Waiter {
    WaitWord word;
    int waiters = 0;                 // threads sleeping (or about to) on `word`
    bool queued = false;             // in the wake chain
    int wake_count = 0;              // how many of them the chain wakes (see chain_push)
    const WaitHost* host = nullptr;  // the host whose table holds this waiter
};

// The packets the calling thread has transmitted under the lock and must write after it: the
// driver whose direct sink holds them (set by Host::after_call, cleared by ApiLock::unlock).
HostDriver*& pending_tx();

// The lock of one API call (api_mutex()). Releasing it writes what the call transmitted and
// wakes the next caller in the wake chain.
class ApiLock {
public:
    ApiLock() : lock_(api_mutex()) {}
    ~ApiLock() {
        if (lock_.owns_lock()) {
            unlock();
        }
    }
    ApiLock(const ApiLock&) = delete;
    ApiLock& operator=(const ApiLock&) = delete;
    // Release the lock, then write what this call transmitted.
    void unlock();
    // Before blocking: write what this call transmitted so far (without the lock) and take the
    // lock again. Returns false, the lock kept throughout, if there was nothing to write; true
    // means the state may have changed meanwhile (check again before waiting).
    bool flush();
    std::unique_lock<std::mutex>& unique() { return lock_; }

private:
    std::unique_lock<std::mutex> lock_;
};

// ---- the wake chain ---------------------------------------------------------------------------
// An engine pass that changes many sockets at once (one batch of packets completing many
// connections' requests) does not wake all their blocked callers together -- on a machine with
// fewer cores than callers they would queue on the API lock, each costing a futex wait, a futex
// wake and two more context switches. It wakes the first; every release of the API lock wakes
// the next (ApiLock::unlock, a wait before it sleeps, the engine's service). A woken caller
// re-takes the lock and releases it, so the chain always moves on. Under the lock.

// Queue `w`'s sleepers to be woken, at most `count` of them (threads blocked in WSPAccept on
// one listener: one per queued connection, not all -- 32 serving threads woken per connection,
// 31 of them to sleep again, cost more context switches than the connections themselves).
void chain_push(Waiter& w, int count = INT_MAX);
// The next waiter to wake (after the lock is released: call wake()). Under the lock.
struct ChainWake {
    Waiter* waiter = nullptr;
    int count = 0;
    void wake() const {
        if (waiter != nullptr) {
            waiter->word.wake(count);
        }
    }
};
ChainWake chain_next();
// Drop a host's waiters from the chain (the host is going away). Under the lock.
void chain_forget(const WaitHost* host);

// Wake every thread blocked on `w` now (closes; under the lock).
inline void wake_waiter(Waiter& w) {
    if (w.waiters > 0) {
        w.word.wake_all();
    }
}

// ---- time-outs --------------------------------------------------------------------------------
// The deadlines of a host's blocked calls, expired by the host's service() pass: a waiter is
// woken through the wake chain, a multi-object waiter (nullptr) by api_cv(). Under the lock.
class Timeouts {
public:
    using Key = std::pair<Instant, std::uint64_t>;
    Key add(Instant at, Waiter* w) {
        const Key k{at, next_++};
        map_.emplace(k, w);
        return k;
    }
    void remove(const Key& k) { map_.erase(k); }
    [[nodiscard]] std::optional<Instant> next() const {
        if (map_.empty()) {
            return std::nullopt;
        }
        return map_.begin()->first.first;
    }
    // Wake every waiter whose deadline has come and forget its entry (the waiter finds out
    // itself that the time passed). Returns true if a multi-object waiter's came: api_cv()
    // must be notified.
    bool expire(Instant now);

private:
    std::map<Key, Waiter*> map_;
    std::uint64_t next_ = 0;
};

// What the room needs of a host whose clock times waits out: the clock, the deadlines and
// whether the host is going away. Host (host.hpp) is one. Under the lock.
class WaitHost {
public:
    [[nodiscard]] virtual Instant now() const = 0;
    // A deadline was added: the host's timer must fire by then.
    virtual void arm_deadlines() = 0;

    [[nodiscard]] Timeouts& timeouts() { return timeouts_; }
    [[nodiscard]] const Timeouts& timeouts() const { return timeouts_; }
    // WSPCleanup under way: no new sockets; waits on the host leave as soon as they can.
    [[nodiscard]] bool stopping() const { return stopping_; }
    void set_stopping() { stopping_ = true; }
    // Multi-object waits with a deadline on this host's clock (HostDeadline), under way
    // (WSPCleanup waits until none is left).
    [[nodiscard]] int timed_waits() const { return timed_waits_; }
    void enter_timed_wait() { ++timed_waits_; }
    void leave_timed_wait() { --timed_waits_; }

protected:
    WaitHost() = default;
    ~WaitHost() = default;
    WaitHost(const WaitHost&) = delete;
    WaitHost& operator=(const WaitHost&) = delete;

private:
    Timeouts timeouts_;
    int timed_waits_ = 0;
    bool stopping_ = false;
};

// A borrowed callable `bool()` (the condition a wait re-checks), so the waits need no template.
// It refers to the callable it was made from: use it within the full expression that made it
// (as an argument of the wait).
class Condition {
public:
    template <class F>
    Condition(F&& f)  // NOLINT(google-explicit-constructor, bugprone-forwarding-reference-overload)
        : obj_(const_cast<void*>(static_cast<const void*>(&f))),
          call_([](void* o) { return (*static_cast<std::remove_reference_t<F>*>(o))(); }) {}
    bool operator()() const { return call_(obj_); }

private:
    void* obj_;
    bool (*call_)(void*);
};

// The result of a wait.
enum class WaitResult : std::uint8_t { ready, gone, timed_out };

// Wait (a blocking call on one socket of `host`) until `ready()` holds, `alive()` fails (the
// socket was closed: gone) or the host's clock reaches `deadline` (timed_out). Both conditions
// are checked under the lock before the first sleep and after every wake-up.
WaitResult wait_until(ApiLock& lock, WaitHost& host, Waiter& w, std::optional<Instant> deadline,
                      Condition alive, Condition ready);

// Multi-object waits (select, event waits, cleanup) sleep on api_cv(), counted, so the engine
// notifies it only while anybody waits. Under the lock held by `lock`. Until notified (the
// caller re-checks its condition, and its HostDeadline, and waits again).
void wait_multi(ApiLock& lock);

// The deadline of one multi-object wait on `host`'s clock, kept in the host's Timeouts from
// construction to destruction (registered once, however often the wait wakes), so the host's
// pass at that time notifies api_cv(). WSPCleanup waits until none is left on its host. With
// no deadline (or no host) it is inert. Under the lock.
class HostDeadline {
public:
    HostDeadline(WaitHost* host, std::optional<Instant> at);
    ~HostDeadline();
    HostDeadline(const HostDeadline&) = delete;
    HostDeadline& operator=(const HostDeadline&) = delete;
    // Has the host's clock reached the deadline? (Never, without one.)
    [[nodiscard]] bool passed() const;

private:
    WaitHost* host_;
    std::optional<Instant> at_;
    std::optional<Timeouts::Key> entry_;
};
// A deadline on the process's monotonic clock, for the one wait that belongs to no host (see
// the top).
class WallDeadline {
public:
    explicit WallDeadline(Duration from_now);
    [[nodiscard]] bool passed() const;
    [[nodiscard]] std::int64_t at_ns() const { return at_ns_; }

private:
    std::int64_t at_ns_;
};
// Until notified or `deadline` has passed; false when it has.
bool wait_multi(ApiLock& lock, const WallDeadline& deadline);
// Threads waiting on api_cv() (the engine then notifies it on every event).
[[nodiscard]] int multi_waiters();
void notify_multi();

}  // namespace ustack
