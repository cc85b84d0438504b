// Internal state of the WSP layer: sockets, hosts, event objects. Everything here is guarded by
// api_mutex(); nothing is touched without it.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ustack/errc.hpp"
#include "ustack/host_core.hpp"
#include "ustack/wsp.h"
#include "wait_word.hpp"

struct ustack_event {
    bool signaled = false;
};

struct ustack_host {
    std::unique_ptr<ustack::HostCore> core;
    std::unique_ptr<ustack::HostDriver> driver;
};

namespace ustack {

// One WSP socket handle.
struct SocketState {
    enum class Kind : std::uint8_t { fresh, listening, connection };

    SOCKET handle = INVALID_SOCKET;
    HostCore* core = nullptr;
    Kind kind = Kind::fresh;
    bool open = true;  // false once WSPCloseSocket (or WSPCleanup) took the handle

    // Addressing.
    std::uint16_t bound_port = 0;  // WSPBind's port (0: none or ephemeral)
    bool bound = false;
    std::optional<ConnId> conn;         // kind == connection
    std::optional<ListenerId> listener;  // kind == listening

    // Connection progress. `connecting` from WSPConnect until the outcome is known; then
    // `connect_error` holds 0 or the WSAE* code of the failure.
    bool connecting = false;
    bool connected = false;  // reached ESTABLISHED at least once (through connect or accept)
    int connect_error = 0;
    int last_error = 0;      // SO_ERROR

    // Options.
    bool nonblocking = false;
    LINGER linger{0, 0};
    bool nodelay = false;

    // WSPEventSelect registration and the network event record (SEMANTICS.md §1.9).
    WSAEVENT event = nullptr;
    long mask = 0;
    long record = 0;
    std::array<int, FD_MAX_EVENTS> errors{};
    bool read_enabled = true;    // FD_READ re-enabled by WSPRecv
    bool accept_enabled = true;  // FD_ACCEPT re-enabled by WSPAccept
    bool write_enabled = false;  // FD_WRITE: on connect/accept, then after a WSAEWOULDBLOCK send
    bool connect_reported = false;  // FD_CONNECT is one-shot
    bool close_reported = false;    // FD_CLOSE is one-shot

    // Linger (blocking WSPCloseSocket with SO_LINGER {1,n}): a deadline in host time.
    std::optional<Instant> linger_deadline;
    bool linger_expired = false;

    // Blocking calls on this one socket wait here (wait_for), so the engine wakes only the
    // threads whose socket changed, not every blocked thread of the process (wait_word.hpp).
    WaitWord wake_word;
    bool wake_queued = false;  // in Registry::wake_chain (under the lock)
    int waiters = 0;  // threads waiting on wake_word (under the lock)
};

// The driver whose direct sink holds packets the calling thread has yet to write (set by
// HostCore::Impl::wake(), cleared by ApiLock::unlock()).
HostDriver*& pending_tx();

struct HostCore::Impl {
    Impl(HostCore& c, const HostOptions& o) : core(c), stack(o.stack, o.secret) {}

    HostCore& core;
    Stack stack;
    Codec codec;
    HostDriver* driver = nullptr;
    bool stopping = false;  // WSPCleanup under way: no new sockets

    std::unordered_map<std::uint64_t, std::shared_ptr<SocketState>> by_conn;      // ConnId key
    std::unordered_map<std::uint64_t, std::shared_ptr<SocketState>> by_listener;  // ListenerId key
    std::unordered_set<std::uint16_t> bound_ports;  // bound, not yet listening or connecting
    std::vector<std::shared_ptr<SocketState>> lingering;  // sockets with a linger deadline
    std::optional<Instant> cleanup_deadline;
    bool cleanup_expired = false;
    // Released connections (4-tuples) whose graceful close may still owe a FIN.
    std::vector<std::pair<std::uint16_t, Endpoint>> released;
    std::size_t released_prune_at = 1024;  // prune_released() runs when released grows past it
    // Forget released connections that owe nothing any more (amortized: when the list has
    // doubled since the last pruning), so a long-running host's list stays bounded by the
    // connections still closing.
    void prune_released();
    std::vector<std::byte> packet;  // encode buffer, reused
    EncoderStats encoder;           // summed over every service()
    std::uint64_t services = 0;       // service() runs so far (WSPCleanup waits for one more)
    std::uint64_t disc_sent = 0;      // WSPSendDisconnect calls that queued data on a FIN
    std::uint64_t disc_received = 0;  // WSPRecvDisconnect calls that returned data

    // After an application call changed engine state (under the lock): transmit what is ready
    // right here when the driver allows it (saves the hand-off to the engine thread on the
    // latency path), then have the engine thread run service() only if it has work the call
    // left for it: stack events to deliver, or a deadline earlier than the driver's timer. A
    // send or receive on an established connection usually leaves neither, so the common call
    // costs no wake-up of the engine thread (a cross-thread post and an epoll interruption).
    void wake() {
        if (driver == nullptr) return;
        PacketSink* direct = driver->direct_sink();
        if (direct == nullptr) {
            driver->wake();
            return;
        }
        if (transmit(*direct, driver->now()) > 0)
            pending_tx() = driver;  // written when the call's ApiLock is released
        if (stack.has_events() || timer_late()) driver->wake();
    }
    // Have the engine thread run service() soon, whatever the call changed.
    void wake_engine() {
        if (driver != nullptr) driver->wake();
    }
    // The earliest deadline service() must run at: engine timers, linger and cleanup deadlines.
    [[nodiscard]] std::optional<Instant> deadline() const;
    // Would the driver's timer (timer_at) fire after deadline()?
    [[nodiscard]] bool timer_late() const {
        const std::optional<Instant> d = deadline();
        return d && (!timer_at || *d < *timer_at);
    }
    // What the driver's timer should be set to now (HostCore::service's result).
    std::optional<Instant> arm_timer(Instant now);
    // What the driver's timer is set to (under the lock, so an application
    // call that moves a deadline earlier sees the engine thread's latest choice).
    std::optional<Instant> timer_at;
    // poll_transmit into `out` through a SegmentEncoder (under the lock). Returns the number of
    // packets handed to `out`.
    std::uint64_t transmit(PacketSink& out, Instant now);
    [[nodiscard]] Instant now() const { return driver != nullptr ? driver->now() : Instant{}; }

    // Bring a socket's view up to date with its connection and record network events.
    void refresh(SocketState& s);
    // Any connection released by this host still owing a FIN (for WSPCleanup).
    [[nodiscard]] bool orphans_pending() const;
};

// The lock of one API call (api_mutex()), and the packets the call sends from its own thread.
// HostCore::Impl::wake() collects them under the lock; they are written once it is released, so
// no system call runs under the process-wide lock and the engine thread never waits for an
// application's write. Before releasing the lock the thread takes its place in the device's
// transmit order (HostDriver::claim_order), so the wire still sees the engine's order.
class ApiLock {
public:
    ApiLock() : lock_(api_mutex()) {}
    ~ApiLock() {
        if (lock_.owns_lock()) unlock();
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

// Process-wide tables (under api_mutex()).
struct Registry {
    std::unordered_map<SOCKET, std::shared_ptr<SocketState>> sockets;
    // Threads waiting on api_cv() for several objects (select, WSAWaitForMultipleEvents,
    // WSPCleanup): api_cv() is notified for events only while there are any.
    int multi_waiters = 0;
    std::unordered_set<ustack_host*> hosts;
    std::unordered_set<ustack_event*> events;
    SOCKET next_handle = 0x100;  // handles are never reused (DESIGN.md §4)
    // Sockets whose blocked callers an engine pass has yet to wake, oldest first (see
    // chain_push).
    std::deque<std::shared_ptr<SocketState>> wake_chain;
};
Registry& registry();

// The wake chain: an engine pass that changes many sockets at once (one batch of packets
// completing many connections' requests) does not wake all their blocked callers together --
// on a machine with fewer cores than callers they would queue on the API lock, each costing a
// futex wait, a futex wake and two more context switches. It wakes the first; every release of
// the API lock wakes the next (ApiLock::unlock, wait_for before it sleeps, the engine's
// service). A woken caller re-takes the lock and releases it, so the chain always moves on.
// Under the lock.
void chain_push(const std::shared_ptr<SocketState>& s);
// The next socket to wake and how many of its waiters (after the lock is released; call
// wake()), or no socket. Under the lock.
struct ChainWake {
    std::shared_ptr<SocketState> socket;
    int count = 0;
    void wake() const {
        if (socket) socket->wake_word.wake(count);
    }
};
ChainWake chain_next();

// Wake the threads blocked on `s` (under the lock).
inline void wake_socket(SocketState& s) {
    if (s.waiters > 0) s.wake_word.wake_all();
}
// Wake every blocked thread: each socket's waiters and api_cv()'s (rare paths: closes,
// deadlines, cleanup).
void wake_all_waiters();
// api_cv().wait with multi_waiters counted (under the lock held by `lock`).
template <typename Lock>
void wait_multi(Lock& lock) {
    ++registry().multi_waiters;
    api_cv().wait(lock);
    --registry().multi_waiters;
}
template <typename Lock, typename Clock, typename Dur>
std::cv_status wait_multi_until(Lock& lock, const std::chrono::time_point<Clock, Dur>& t) {
    ++registry().multi_waiters;
    const std::cv_status r = api_cv().wait_until(lock, t);
    --registry().multi_waiters;
    return r;
}

// Errc -> WSAE* (one table, wsa_errors.cpp).
int wsa_error(Errc e);
// The WSAE* code a CloseReason reports on FD_CLOSE (0 for graceful).
int close_event_error(CloseReason r);
// The WSAE* code a failed connect reports.
int connect_error_for(CloseReason r);

void signal_event(WSAEVENT e);

}  // namespace ustack
