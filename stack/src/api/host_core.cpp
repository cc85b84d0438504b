// HostCore: the engine-thread side of a host (packets in, service, deadlines) and the network
// event bookkeeping of WSPEventSelect (SEMANTICS.md §1.8, §1.9).
#include <algorithm>
#include <utility>

#include "api_internal.hpp"

namespace ustack {

std::mutex& api_mutex() {
    static std::mutex m;
    return m;
}
std::condition_variable& api_cv() {
    static std::condition_variable cv;
    return cv;
}
Registry& registry() {
    static Registry r;
    return r;
}

HostDriver*& pending_tx() {
    thread_local HostDriver* d = nullptr;
    return d;
}

void chain_push(const std::shared_ptr<SocketState>& s) {
    if (s->waiters > 0 && !s->wake_queued) {  // once: a batch often has two events for it
        s->wake_queued = true;
        registry().wake_chain.push_back(s);
    }
}

ChainWake chain_next() {
    auto& chain = registry().wake_chain;
    while (!chain.empty()) {
        std::shared_ptr<SocketState> s = std::move(chain.front());
        chain.pop_front();
        s->wake_queued = false;
        if (s->waiters == 0) continue;  // its callers woke some other way and left
        // Threads blocked in WSPAccept on one listener: one per queued connection, not all
        // (32 serving threads woken per connection, 31 of them to sleep again, cost more
        // context switches than the connections themselves). A woken thread that finds the
        // queue empty (another took it) sleeps again; a connection left queued always has a
        // woken thread or a caller that has not slept yet.
        int count = INT_MAX;
        if (s->open && s->listener) {  // (a closed socket's host may be gone)
            const std::size_t queued = s->core->impl().stack.accept_queue_size(*s->listener);
            if (queued > 0) count = static_cast<int>(std::min<std::size_t>(queued, INT_MAX));
        }
        return {std::move(s), count};
    }
    return {};
}

void ApiLock::unlock() {
    HostDriver* d = std::exchange(pending_tx(), nullptr);
    const bool write = d != nullptr && d->claim_order();
    const ChainWake next = chain_next();
    lock_.unlock();
    next.wake();  // first: it runs on the other core while we write
    if (write) d->write_claimed();
}

bool ApiLock::flush() {
    if (pending_tx() == nullptr) return false;
    unlock();
    lock_.lock();
    return true;
}

void wake_all_waiters() {
    for (auto& [h, s] : registry().sockets) wake_socket(*s);
    api_cv().notify_all();
}

void signal_event(WSAEVENT e) {
    if (e != nullptr && registry().events.count(e) != 0) {
        e->signaled = true;
        api_cv().notify_all();
    }
}

HostCore::HostCore(const HostOptions& opts) : opts_(opts), impl_(std::make_unique<Impl>(*this, opts)) {}
HostCore::~HostCore() = default;

void HostCore::on_packets(std::span<const RxPacket> packets, Instant now) {
    std::lock_guard lock(api_mutex());
    for (const auto& p : packets) {
        if (auto seg = impl_->codec.decode(p)) impl_->stack.on_segment(*seg, now);
    }
}

std::optional<Instant> HostCore::service(Instant now, PacketSink& out) {
    return service({}, now, out);
}

std::optional<Instant> HostCore::service(std::span<const RxPacket> packets, Instant now,
                                         PacketSink& out) {
    // The callers to wake join the wake chain under the lock; the first is woken after the
    // lock is released (a thread woken under the lock would wake only to block on it again).
    // Waiters read the socket's wake counter under the lock, so no wake-up is lost.
    bool notify_multi = false;
    std::optional<Instant> timer;
    ChainWake first;
    {
        std::lock_guard lock(api_mutex());
        Impl& im = *impl_;
        // The caller read the clock before it waited for the lock, and application threads
        // read it under the lock meanwhile: read it again, so the engine never sees time go
        // back (TSvals, RTT samples and timers all take it).
        if (im.driver != nullptr) now = std::max(now, im.driver->now());
        for (const auto& p : packets) {
            if (auto seg = im.codec.decode(p)) im.stack.on_segment(*seg, now);
        }
        auto wake_later = [](const std::shared_ptr<SocketState>& s) { chain_push(s); };
        if (auto t = im.stack.poll_timeout(); t && *t <= now) im.stack.on_timeout(now);

        // Linger and cleanup deadlines are host time, like engine timers. Every lingering
        // WSPCloseSocket is woken: it waits for "everything acked" too, which no stack event
        // announces (the ACK of our FIN moves FIN-WAIT-1 to FIN-WAIT-2 silently) -- without
        // this it slept until the linger deadline (wsp test "SEMANTICS 32").
        bool woke = false;
        bool expired = false;
        for (auto& s : im.lingering) {
            if (s->linger_deadline && *s->linger_deadline <= now) {
                s->linger_deadline.reset();
                s->linger_expired = true;
                woke = true;
            }
            wake_later(s);
        }
        std::erase_if(im.lingering, [](const auto& s) { return !s->linger_deadline; });
        if (im.cleanup_deadline && *im.cleanup_deadline <= now) {
            im.cleanup_deadline.reset();
            im.cleanup_expired = true;
            expired = true;
            woke = true;
        }

        im.transmit(out, now);
        im.services++;

        while (auto ev = im.stack.poll_event()) {
            std::shared_ptr<SocketState> s;
            if (ev->kind == StackEventKind::connection) {
                if (auto it = im.by_conn.find(ev->conn.key()); it != im.by_conn.end())
                    s = it->second;
            } else if (auto it = im.by_listener.find(ev->listener.key());
                       it != im.by_listener.end()) {
                s = it->second;
            }
            if (s) {
                im.refresh(*s);
                wake_later(s);
            }
            woke = true;
        }
        // Events may have been produced by transmit-side work too (e.g. a connection closing
        // after its last retransmission); a spurious wake-up costs a predicate check.
        // Only the sockets that changed are woken; threads waiting on several objects (select,
        // event waits) hear about every change; deadlines and cleanup wake everyone (rare:
        // under the lock, as wake_all_waiters walks the registry).
        if (expired || im.cleanup_deadline) {
            wake_all_waiters();
        } else if (woke && registry().multi_waiters > 0) {
            notify_multi = true;
        }
        timer = im.arm_timer(now);
        if (im.driver != nullptr) (void)im.driver->claim_order();  // the engine thread writes
        first = chain_next();
    }
    first.wake();
    if (notify_multi) api_cv().notify_all();
    return timer;
}

std::uint64_t HostCore::Impl::transmit(PacketSink& out, Instant now) {
    SegmentEncoder enc(codec, out, packet);
    stack.poll_transmit(now, enc);
    enc.flush();
    const EncoderStats& es = enc.stats();
    encoder.packets += es.packets;
    encoder.super_packets += es.super_packets;
    encoder.segments += es.segments;
    return es.packets;
}

std::optional<Instant> HostCore::Impl::deadline() const {
    std::optional<Instant> next = stack.poll_timeout();
    auto consider = [&](std::optional<Instant> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    for (const auto& s : lingering) consider(s->linger_deadline);
    consider(cleanup_deadline);
    return next;
}

std::optional<Instant> HostCore::Impl::arm_timer(Instant now) {
    const std::optional<Instant> d = deadline();
    // Keep a timer that is still ahead and not later than what is due: it fires early (or for
    // nothing), service() finds nothing expired, and the timer is set again then. Deadlines that
    // move later on every ACK (retransmission, delayed ACK) so cost no timer system call each.
    const bool keep = timer_at && *timer_at > now && (!d || *timer_at <= *d);
    if (!keep) timer_at = d;
    return timer_at;
}

StackStats HostCore::stack_stats() const {
    std::lock_guard lock(api_mutex());
    return impl_->stack.stats();
}

CodecStats HostCore::codec_stats() const {
    std::lock_guard lock(api_mutex());
    return impl_->codec.stats();
}

EncoderStats HostCore::encoder_stats() const {
    std::lock_guard lock(api_mutex());
    return impl_->encoder;
}

// ---- network events ---------------------------------------------------------------------------

void HostCore::Impl::refresh(SocketState& s) {
    if (!s.open) return;
    long fresh = 0;
    auto record = [&](int bit, int error) {
        fresh |= 1L << bit;
        s.errors[static_cast<std::size_t>(bit)] = error;
    };

    if (s.kind == SocketState::Kind::listening && s.listener) {
        // FD_ACCEPT: level-triggered, re-enabled by WSPAccept.
        if ((s.mask & FD_ACCEPT) && s.accept_enabled && stack.accept_queue_size(*s.listener) > 0) {
            record(FD_ACCEPT_BIT, 0);
            s.accept_enabled = false;
        }
    }

    const Connection* c = s.conn ? stack.find(*s.conn) : nullptr;
    if (c != nullptr) {
        // Connection progress: the outcome of a connect is known once the handshake completes
        // or the connection dies first.
        if (s.connecting) {
            if (c->is_synchronized()) {
                s.connecting = false;
                s.connected = true;
                s.connect_error = 0;
                s.write_enabled = true;  // FD_WRITE on connect completion (SEMANTICS checklist 47)
            } else if (c->is_closed()) {
                s.connecting = false;
                s.connect_error = connect_error_for(c->close_reason());
                s.last_error = s.connect_error;
            }
            if (!s.connecting && (s.mask & FD_CONNECT) && !s.connect_reported) {
                record(FD_CONNECT_BIT, s.connect_error);
                s.connect_reported = true;
            }
        }
        if (s.connected) {
            if ((s.mask & FD_READ) && s.read_enabled && c->recv_available() > 0 &&
                !c->recv_shut()) {
                record(FD_READ_BIT, 0);
                s.read_enabled = false;
            }
            if ((s.mask & FD_WRITE) && s.write_enabled && c->send_space() > 0) {
                record(FD_WRITE_BIT, 0);
                s.write_enabled = false;
            }
            // FD_CLOSE: once; graceful only after every received byte was read (no FD_READ for
            // the FIN itself); with the reset's or abort's error otherwise (SEMANTICS §1.8).
            if ((s.mask & FD_CLOSE) && !s.close_reported) {
                const bool graceful_end = c->at_eof();
                const bool hard_end = c->is_closed() && c->close_reason() != CloseReason::graceful &&
                                      c->close_reason() != CloseReason::none;
                if (hard_end) {
                    record(FD_CLOSE_BIT, close_event_error(c->close_reason()));
                    s.close_reported = true;
                } else if (graceful_end) {
                    record(FD_CLOSE_BIT, 0);
                    s.close_reported = true;
                }
            }
        }
    }

    if (fresh != 0) {
        s.record |= fresh;
        signal_event(s.event);
    }
}

namespace {
// Does this released connection still owe its FIN (or the disconnect data on it)?
bool owes_fin(const Connection* c) {
    if (c == nullptr) return false;
    switch (c->state()) {
        case TcpState::closed:
        case TcpState::fin_wait_2:  // our FIN (and its disconnect data) was acknowledged
        case TcpState::time_wait: return false;
        default: return true;
    }
}
}  // namespace

bool HostCore::Impl::orphans_pending() const {
    return std::any_of(released.begin(), released.end(), [&](const auto& r) {
        return owes_fin(stack.lookup(r.first, r.second));
    });
}

void HostCore::Impl::prune_released() {
    if (released.size() < released_prune_at) return;
    std::erase_if(released, [&](const auto& r) { return !owes_fin(stack.lookup(r.first, r.second)); });
    released_prune_at = std::max<std::size_t>(1024, 2 * released.size());
}

ustack_host* create_host(const HostOptions& opts, const DriverFactory& factory, int* error) {
    auto host = std::make_unique<ustack_host>();
    host->core = std::make_unique<HostCore>(opts);
    try {
        host->driver = factory(*host->core);
    } catch (const std::exception&) {
        if (error != nullptr) *error = WSASYSNOTREADY;
        return nullptr;
    }
    if (!host->driver) {
        if (error != nullptr) *error = WSASYSNOTREADY;
        return nullptr;
    }
    std::lock_guard lock(api_mutex());
    host->core->impl().driver = host->driver.get();
    ustack_host* raw = host.release();
    registry().hosts.insert(raw);
    return raw;
}

}  // namespace ustack

// ---- event objects ----------------------------------------------------------------------------

using ustack::api_cv;
using ustack::api_mutex;
using ustack::registry;

extern "C" WSAEVENT WSACreateEvent(void) {
    std::lock_guard lock(api_mutex());
    auto* e = new ustack_event();  // owned by the registry until WSACloseEvent
    registry().events.insert(e);
    return e;
}

extern "C" BOOL WSACloseEvent(WSAEVENT e) {
    std::lock_guard lock(api_mutex());
    if (registry().events.erase(e) == 0) return 0;
    for (auto& [h, s] : registry().sockets)
        if (s->event == e) s->event = nullptr;
    delete e;
    api_cv().notify_all();
    return 1;
}

extern "C" BOOL WSASetEvent(WSAEVENT e) {
    std::lock_guard lock(api_mutex());
    if (registry().events.count(e) == 0) return 0;
    ustack::signal_event(e);
    return 1;
}

extern "C" BOOL WSAResetEvent(WSAEVENT e) {
    std::lock_guard lock(api_mutex());
    if (registry().events.count(e) == 0) return 0;
    e->signaled = false;
    return 1;
}

extern "C" DWORD WSAWaitForMultipleEvents(DWORD count, const WSAEVENT* events, BOOL wait_all,
                                          DWORD timeout_ms, BOOL /*alertable*/) {
    if (count == 0 || count > WSA_MAXIMUM_WAIT_EVENTS || events == nullptr) return WSA_WAIT_FAILED;
    std::unique_lock lock(api_mutex());
    auto ready = [&]() -> std::optional<DWORD> {
        DWORD n = 0;
        for (DWORD i = 0; i < count; ++i) {
            if (registry().events.count(events[i]) == 0) return WSA_WAIT_FAILED;
            if (events[i]->signaled) {
                if (!wait_all) return WSA_WAIT_EVENT_0 + i;
                ++n;
            }
        }
        if (wait_all && n == count) return WSA_WAIT_EVENT_0;
        return std::nullopt;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (auto r = ready()) return *r;
        if (timeout_ms == 0) return WSA_WAIT_TIMEOUT;
        if (timeout_ms == WSA_INFINITE) {
            ustack::wait_multi(lock);
        } else if (ustack::wait_multi_until(lock, deadline) == std::cv_status::timeout) {
            if (auto r = ready()) return *r;
            return WSA_WAIT_TIMEOUT;
        }
    }
}
