// Host and HostCore: the engine pass, creation and cleanup of a host (see host.hpp).
#include "host.hpp"

#include <algorithm>

#include "network_events.hpp"
#include "socket.hpp"
#include "state_log.hpp"
#include "wsa_errors.hpp"

namespace ustack {

Host::Host(ustack_host* handle, const HostOptions& opts)
    : handle_(handle), opts_(opts), stack_(opts.stack, opts.secret), sockets_(this) {}

void Host::after_call() {
    if (driver_ == nullptr) {
        return;
    }
    log_state_changes(*this);
    if (!state_lines_.empty()) {
        driver_->wake();  // the engine thread writes them after its pass
    }
    PacketSink* direct = driver_->direct_sink();
    if (direct == nullptr) {
        driver_->wake();
        return;
    }
    if (transmit(*direct, driver_->now()) > 0) {
        pending_tx() = driver_;  // written when the call's ApiLock is released
    }
    if (stack_.has_events() || timer_late()) {
        driver_->wake();
    }
}

void Host::unwatch(Waiter* w) {
    std::erase(watched_, w);
}

std::uint64_t Host::transmit(PacketSink& out, Instant now) {
    SegmentEncoder enc(codec_, out, packet_);
    stack_.poll_transmit(now, enc);
    enc.flush();
    const EncoderStats& es = enc.stats();
    encoder_.packets += es.packets;
    encoder_.super_packets += es.super_packets;
    encoder_.segments += es.segments;
    return es.packets;
}

std::optional<Instant> Host::deadline() const {
    std::optional<Instant> next = stack_.poll_timeout();
    if (const auto t = timeouts().next(); t && (!next || *t < *next)) {
        next = t;
    }
    return next;
}

bool Host::timer_late() const {
    const std::optional<Instant> d = deadline();
    return d && (!timer_at_ || *d < *timer_at_);
}

std::optional<Instant> Host::arm_timer(Instant now) {
    const std::optional<Instant> d = deadline();
    // Keep a timer that is still ahead and not later than what is due: it fires early (or for
    // nothing), the pass finds nothing expired, and the timer is set again then. Deadlines that
    // move later on every ACK (retransmission, delayed ACK) so cost no timer system call each.
    const bool keep = timer_at_ && *timer_at_ > now && (!d || *timer_at_ <= *d);
    if (!keep) {
        timer_at_ = d;
    }
    return timer_at_;
}

void Host::link_changed(bool up, Instant now) {
    std::lock_guard lock(api_mutex());
    if (up == link_up_ || network_failed_) {
        return;
    }
    link_up_ = up;
    if (up) {
        ++link_returns_;
        log_link(*this, now, true);
        return;
    }
    ++link_losses_;
    log_link(*this, now, false);
    if (opts_.device_may_return) {
        return;  // connections carry on; their timers decide
    }
    network_failed_ = true;
    stack_.network_down(now);
    // Blocked WSPAccepts (no stack event reaches a listener) look again and fail; the others
    // hear their connections' closed events in the pass the driver runs next.
    sockets_.for_each([this](Socket& s) { wake_waiter(sockets_.waiter(s.id)); });
}

void Host::decode(std::span<const RxPacket> packets, Instant now) {
    std::lock_guard lock(api_mutex());
    for (const auto& p : packets) {
        if (auto seg = codec_.decode(p)) {
            stack_.on_segment(*seg, now);
        }
    }
    log_state_changes(*this);
}

std::optional<Instant> Host::service(std::span<const RxPacket> packets, Instant now,
                                     PacketSink& out) {
    // The callers to wake join the wake chain under the lock; the first is woken after the
    // lock is released (a thread woken under the lock would wake only to block on it again).
    // Waiters read their word under the lock, so no wake-up is lost.
    bool notify = false;
    std::optional<Instant> timer;
    ChainWake first;
    {
        std::lock_guard lock(api_mutex());
        // The caller read the clock before it waited for the lock, and application threads
        // read it under the lock meanwhile: read it again, so the engine never sees time go
        // back (TSvals, RTT samples and timers all take it).
        if (driver_ != nullptr) {
            now = std::max(now, driver_->now());
        }
        for (const auto& p : packets) {
            if (auto seg = codec_.decode(p)) {
                stack_.on_segment(*seg, now);
            }
        }
        if (auto t = stack_.poll_timeout(); t && *t <= now) {
            stack_.on_timeout(now);
        }
        // Blocked calls' deadlines are host time, like engine timers.
        notify = timeouts().expire(now);
        for (Waiter* w : watched_) {
            chain_push(*w);
        }

        transmit(out, now);
        ++passes_;
        log_state_changes(*this);

        bool events = false;
        while (auto ev = stack_.poll_event()) {
            Socket* s = ev->kind == StackEventKind::connection ? sockets_.by_conn(ev->conn)
                                                               : sockets_.by_listener(ev->listener);
            if (s != nullptr) {
                settle(*this, *s);
                // Threads blocked in WSPAccept: as many as can go on (accept_wakeups; chain_push);
                // with nothing to take, every one (as ever), but none on a conditional
                // listener, whose held requests would otherwise wake them all for each SYN, and
                // none for a failed handshake nobody waits for (a SYN flood would wake them
                // all for each). Every thread for other sockets.
                int count = INT_MAX;
                if (s->listener) {
                    if (const std::size_t n = accept_wakeups(*this, *s); n > 0) {
                        count = static_cast<int>(std::min<std::size_t>(n, INT_MAX));
                    } else if (s->conditional_accept ||
                               ev->kind == StackEventKind::handshake_failed) {
                        count = 0;
                    }
                }
                if (count > 0) {
                    chain_push(sockets_.waiter(s->id), count);
                }
            }
            events = true;
        }
        // Threads waiting on several objects (select, event waits) hear about every change;
        // WSPCleanup about every pass.
        if ((events || stopping()) && multi_waiters() > 0) {
            notify = true;
        }
        timer = arm_timer(now);
        if (driver_ != nullptr) {
            (void)driver_->claim_order();  // the engine thread writes
        }
        first = chain_next();
    }
    first.wake();
    if (notify) {
        notify_multi();
    }
    return timer;
}

// ---- HostCore -----------------------------------------------------------------------------------

HostCore::HostCore(const HostOptions& opts, ustack_host* handle)
    : opts_(opts), host_(std::make_unique<Host>(handle, opts)) {}
HostCore::~HostCore() = default;

void HostCore::link_changed(bool up, Instant now) {
    host_->link_changed(up, now);
}

void HostCore::on_packets(std::span<const RxPacket> packets, Instant now) {
    host_->decode(packets, now);
}

std::optional<Instant> HostCore::service(Instant now, PacketSink& out) {
    return host_->service({}, now, out);
}

std::optional<Instant> HostCore::service(std::span<const RxPacket> packets, Instant now,
                                         PacketSink& out) {
    return host_->service(packets, now, out);
}

StackStats HostCore::stack_stats() const {
    std::lock_guard lock(api_mutex());
    return host_->stack().stats();
}

CodecStats HostCore::codec_stats() const {
    std::lock_guard lock(api_mutex());
    return host_->codec().stats();
}

EncoderStats HostCore::encoder_stats() const {
    std::lock_guard lock(api_mutex());
    return host_->encoder_stats();
}

// ---- creating and ending hosts ------------------------------------------------------------------

ustack_host* create_host(const HostOptions& opts, const DriverFactory& factory, int* error) {
    auto handle = std::make_unique<ustack_host>();
    handle->core = std::make_unique<HostCore>(opts, handle.get());
    {
        std::lock_guard lock(api_mutex());
        const std::uint32_t key = register_host(&handle->core->host());
        if (key == 0) {
            if (error != nullptr) {
                *error = WSAENOBUFS;  // kMaxHosts running
            }
            return nullptr;
        }
        handle->core->host().set_key(key);
    }
    auto unregister = [&] {
        std::lock_guard lock(api_mutex());
        unregister_host(handle->core->host().key());
    };
    try {
        handle->driver = factory(*handle->core);
    } catch (const std::exception&) {
        unregister();
        if (error != nullptr) {
            *error = WSASYSNOTREADY;
        }
        return nullptr;
    }
    if (!handle->driver) {
        unregister();
        if (error != nullptr) {
            *error = WSASYSNOTREADY;
        }
        return nullptr;
    }
    std::lock_guard lock(api_mutex());
    handle->core->host().attach(handle->driver.get());
    return handle.release();
}

int cleanup_host(ustack_host* handle, bool wait_for_orphans) {
    ApiLock lock;
    Host* h = find_host(handle);
    if (h == nullptr) {
        return WSANOTINITIALISED;
    }
    h->set_stopping();
    // Close every socket of this host as WSPCloseSocket would by default (graceful, in the
    // background; RST where data was left unread; SO_LINGER {1,0} resets).
    std::vector<SocketId> mine;
    h->sockets().for_each([&](Socket& s) { mine.push_back(s.id); });
    for (SocketId id : mine) {
        if (Socket* s = h->sockets().find(id)) {
            close_now(*h, *s, s->linger.l_onoff != 0 && s->linger.l_linger == 0);
        }
    }
    notify_multi();
    if (wait_for_orphans) {
        // DESIGN.md §1: let orphaned graceful closes finish (bounded) so no FIN or disconnect
        // data still owed is lost when the process exits; and at least one engine pass after
        // the closes above, so what they queued -- the RST of an abortive close above all,
        // which leaves no orphan to wait for -- is on the wire before the engine stops.
        const HostDeadline deadline(h, h->now() + h->options().cleanup_timeout);
        const std::uint64_t flushed = h->passes() + 1;
        h->wake_engine();
        while ((h->passes() < flushed || h->sockets().orphans_pending(h->stack())) &&
               !deadline.passed()) {
            if (!lock.flush()) {
                wait_multi(lock);
            }
        }
    }
    // Calls still blocked on its sockets have been woken by the closes (they fail WSAEINTR) and
    // waits timed on its clock look again: the host stays until all of them have left.
    while (h->sockets().blocked() > 0 || h->timed_waits() > 0) {
        wait_multi(lock);
    }
    chain_forget(h);
    unregister_host(h->key());
    lock.unlock();
    handle->driver->stop();  // joins the engine thread; no more calls into the core after this
    delete handle;
    return 0;
}

int destroy_host(ustack_host* host) {
    return cleanup_host(host, false);
}

}  // namespace ustack
