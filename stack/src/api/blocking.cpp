// Blocking: see blocking.hpp.
#include "blocking.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <utility>

namespace ustack {

namespace {

// Process-wide state of the room (under api_mutex()).
struct Room {
    std::deque<Waiter*> chain;  // waiters an engine pass has yet to wake, oldest first
    int multi_waiters = 0;      // threads in wait_multi
};
Room& room() {
    static Room r;
    return r;
}

}  // namespace

std::mutex& api_mutex() {
    static std::mutex m;
    return m;
}

std::condition_variable& api_cv() {
    static std::condition_variable cv;
    return cv;
}

HostDriver*& pending_tx() {
    thread_local HostDriver* d = nullptr;
    return d;
}

void ApiLock::unlock() {
    HostDriver* d = std::exchange(pending_tx(), nullptr);
    const bool write = d != nullptr && d->claim_order();
    const ChainWake next = chain_next();
    lock_.unlock();
    next.wake();  // first: it runs on the other core while we write
    if (write) {
        d->write_claimed();
    }
}

bool ApiLock::flush() {
    if (pending_tx() == nullptr) {
        return false;
    }
    unlock();
    lock_.lock();
    return true;
}

void chain_push(Waiter& w, int count) {
    if (w.waiters == 0) {
        return;
    }
    if (w.queued) {  // once: a batch often has two events for it
        w.wake_count = std::max(w.wake_count, count);
        return;
    }
    w.queued = true;
    w.wake_count = count;
    room().chain.push_back(&w);
}

ChainWake chain_next() {
    auto& chain = room().chain;
    while (!chain.empty()) {
        Waiter* w = chain.front();
        chain.pop_front();
        w->queued = false;
        if (w->waiters == 0) {
            continue;  // its callers woke some other way and left
        }
        return {w, w->wake_count};
    }
    return {};
}

void chain_forget(const WaitHost* host) {
    auto& chain = room().chain;
    std::erase_if(chain, [&](Waiter* w) {
        if (w->host != host) {
            return false;
        }
        w->queued = false;
        return true;
    });
}

bool Timeouts::expire(Instant now) {
    bool multi = false;
    while (!map_.empty() && map_.begin()->first.first <= now) {
        Waiter* w = map_.begin()->second;
        map_.erase(map_.begin());
        if (w == nullptr) {
            multi = true;
        } else {
            chain_push(*w);
        }
    }
    return multi;
}

namespace {
// Sleep on `w` until woken; takes the lock back before returning.
void sleep_on(ApiLock& lock, Waiter& w) {
    const std::uint32_t seen = w.word.load();
    ++w.waiters;
    const ChainWake next = chain_next();
    lock.unique().unlock();
    next.wake();
    w.word.wait(seen);
    lock.unique().lock();
    --w.waiters;
    if (w.host != nullptr && w.host->stopping()) {
        notify_multi();  // WSPCleanup waits until every blocked call has left
    }
}
}  // namespace

WaitResult wait_until(ApiLock& lock, WaitHost& host, Waiter& w, std::optional<Instant> deadline,
                      Condition alive, Condition ready) {
    std::optional<Timeouts::Key> entry;
    WaitResult result = WaitResult::ready;
    for (;;) {
        if (!alive()) {
            result = WaitResult::gone;
            break;
        }
        if (ready()) {
            break;
        }
        if (deadline && host.now() >= *deadline) {
            result = WaitResult::timed_out;
            break;
        }
        if (lock.flush()) {
            continue;  // what this call sent went out first; look again
        }
        if (deadline && !entry) {
            entry = host.timeouts().add(*deadline, &w);
            host.arm_deadlines();
        }
        sleep_on(lock, w);
    }
    // A closed socket's host may be gone by now only if nobody waited on it: WSPCleanup waits
    // until every blocked call has left (host.cpp), so `host` is still valid here.
    if (entry) {
        host.timeouts().remove(*entry);
    }
    return result;
}

void wait_multi(ApiLock& lock) {
    ++room().multi_waiters;
    api_cv().wait(lock.unique());
    --room().multi_waiters;
}

HostDeadline::HostDeadline(WaitHost* host, std::optional<Instant> at) : host_(host), at_(at) {
    if (host_ != nullptr && at_ && host_->now() < *at_) {
        entry_ = host_->timeouts().add(*at_, nullptr);
        host_->enter_timed_wait();
        host_->arm_deadlines();
    }
}

HostDeadline::~HostDeadline() {
    if (!entry_) {
        return;
    }
    // The host is still there: WSPCleanup waits until no timed wait is left on it.
    host_->timeouts().remove(*entry_);
    host_->leave_timed_wait();
    if (host_->stopping()) {
        notify_multi();  // WSPCleanup may be waiting for this wait to leave
    }
}

bool HostDeadline::passed() const {
    return host_ != nullptr && at_ && host_->now() >= *at_;
}

// The process's monotonic clock: the only clock the WSP layer reads, for WallDeadline here and
// WaitWord's spin (wait_word.hpp).
namespace {
std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

WallDeadline::WallDeadline(Duration from_now)
    : at_ns_(steady_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(from_now).count()) {
}

bool WallDeadline::passed() const {
    return steady_ns() >= at_ns_;
}

bool wait_multi(ApiLock& lock, const WallDeadline& deadline) {
    if (deadline.passed()) {
        return false;
    }
    const auto at = std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::nanoseconds(deadline.at_ns())));
    ++room().multi_waiters;
    api_cv().wait_until(lock.unique(), at);
    --room().multi_waiters;
    return !deadline.passed();
}

int multi_waiters() {
    return room().multi_waiters;
}

void notify_multi() {
    api_cv().notify_all();
}

}  // namespace ustack
