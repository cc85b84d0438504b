// Network events: the record's rules, the event objects and the calls that wait for either
// (see network_events.hpp).
#include "network_events.hpp"

#include <unordered_set>
#include <vector>

#include "blocking.hpp"
#include "host.hpp"
#include "socket.hpp"
#include "socket_table.hpp"
#include "wsa_errors.hpp"

namespace ustack {

namespace {
// The open event objects (under the lock).
std::unordered_set<ustack_event*>& events() {
    static std::unordered_set<ustack_event*> e;
    return e;
}
}  // namespace

bool event_open(WSAEVENT e) {
    return e != nullptr && events().count(e) != 0;
}

void signal_event(WSAEVENT e) {
    if (event_open(e)) {
        e->signaled = true;
        notify_multi();
    }
}

// ---- the record ---------------------------------------------------------------------------------

void NetworkEvents::select(WSAEVENT e, long mask, const SocketConditions& c) {
    // A new selection replaces the old one and clears the record (SEMANTICS checklist 51);
    // conditions that already hold are recorded at once (49).
    event_ = mask != 0 ? e : nullptr;
    mask_ = mask;
    record_ = 0;
    errors_.fill(0);
    read_enabled_ = true;
    accept_enabled_ = true;
    write_enabled_ = c.connected;
    // FD_CONNECT reports an attempt still under way; one that ended before is not reported.
    connect_reported_ = !c.connecting;
    // FD_CLOSE is recorded "when WSAEventSelect [is] called, if [the] socket connection has been
    // closed" ([S10]'s summary of conditions): once per selection, so one a cleared record lost
    // comes back, with its error.
    close_reported_ = false;
    update(c);
}

void NetworkEvents::inherit(const NetworkEvents& listener) {
    event_ = listener.event_;
    mask_ = listener.mask_;
}

void NetworkEvents::update(const SocketConditions& c) {
    long fresh = 0;
    auto record = [&](int bit, int error) {
        fresh |= 1L << bit;
        errors_[static_cast<std::size_t>(bit)] = error;
    };
    if (c.listening) {
        // FD_ACCEPT: level-triggered, re-enabled by WSPAccept.
        if ((mask_ & FD_ACCEPT) != 0 && accept_enabled_ && c.accept_queue > 0) {
            record(FD_ACCEPT_BIT, 0);
            accept_enabled_ = false;
        }
    }
    if (!c.connecting && !connect_reported_ && c.has_conn) {
        if ((mask_ & FD_CONNECT) != 0) {
            record(FD_CONNECT_BIT, c.connect_error);
            connect_reported_ = true;
        }
    }
    if (c.connected && c.has_conn) {
        if ((mask_ & FD_READ) != 0 && read_enabled_ && c.data_ready && !c.recv_shut) {
            record(FD_READ_BIT, 0);
            read_enabled_ = false;
        }
        if ((mask_ & FD_WRITE) != 0 && write_enabled_ && c.send_space > 0) {
            record(FD_WRITE_BIT, 0);
            write_enabled_ = false;
        }
        // FD_CLOSE: once; graceful only after every received byte was read (no FD_READ for the
        // FIN itself); with the reset's or abort's error otherwise (SEMANTICS §1.8).
        if ((mask_ & FD_CLOSE) != 0 && !close_reported_) {
            if (c.closed && c.hard_close_error != 0) {
                record(FD_CLOSE_BIT, c.hard_close_error);
                close_reported_ = true;
            } else if (c.at_eof) {
                record(FD_CLOSE_BIT, 0);
                close_reported_ = true;
            }
        }
    }
    if (fresh != 0) {
        record_ |= fresh;
        signal_event(event_);
    }
}

void NetworkEvents::take(WSANETWORKEVENTS& out) {
    // Copy and clear (SEMANTICS checklist 52); iErrorCode only at reported bits (53).
    out.lNetworkEvents = record_;
    for (int b = 0; b < FD_MAX_EVENTS; ++b) {
        if ((record_ & (1L << b)) != 0) {
            out.iErrorCode[b] = errors_[static_cast<std::size_t>(b)];
        }
    }
    record_ = 0;
}

bool select_readable(const SocketConditions& c) {
    if (c.listening) {
        return c.accept_queue > 0;
    }
    return c.has_conn && (c.data_ready || c.at_eof || (c.closed && !c.connecting && c.connected));
}

bool select_writable(const SocketConditions& c) {
    return c.has_conn && c.connected && !c.connecting && c.send_space > 0;
}

bool select_excepted(const SocketConditions& c) {
    return !c.connecting && c.connect_error != 0;
}

}  // namespace ustack

// ---- the calls ----------------------------------------------------------------------------------

using namespace ustack;

extern "C" int WSPEventSelect(SOCKET sock, WSAEVENT ev, long events_mask, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    if (events_mask != 0 && !event_open(ev)) {
        return fail(lpErrno, WSAEINVAL);
    }
    Socket& s = *r.socket;
    // "automatically sets socket s to nonblocking mode, regardless of the value of
    // lNetworkEvents" [S9] (SEMANTICS checklist 50).
    s.nonblocking = true;
    if (events_mask != 0) {
        ev->host_key = r.host->key();
    }
    s.events.select(ev, events_mask, conditions(*r.host, s));
    return succeed(lpErrno);
}

extern "C" int WSPEnumNetworkEvents(SOCKET sock, WSAEVENT ev, LPWSANETWORKEVENTS out,
                                    LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    // On failure the record and the event are left as they were (SEMANTICS checklist 52).
    if (out == nullptr) {
        return fail(lpErrno, WSAEFAULT);
    }
    if (ev != nullptr && !event_open(ev)) {
        return fail(lpErrno, WSAEINVAL);
    }
    r.socket->events.take(*out);
    if (ev != nullptr) {
        ev->signaled = false;
    }
    return succeed(lpErrno);
}

namespace {
int check_set(const WSP_FD_SET* set) {
    if (set == nullptr) {
        return 0;
    }
    if (set->fd_count > WSP_FD_SETSIZE) {
        return WSAEINVAL;
    }
    for (unsigned i = 0; i < set->fd_count; ++i) {
        if (!find_socket(set->fd_array[i])) {
            return WSAENOTSOCK;
        }
    }
    return 0;
}

bool empty_set(const WSP_FD_SET* set) {
    return set == nullptr || set->fd_count == 0;
}

// The sockets of `set` that satisfy `pred`; with `apply`, `set` keeps only those.
int count_ready(WSP_FD_SET* set, bool (*pred)(const SocketConditions&), bool apply) {
    if (set == nullptr) {
        return 0;
    }
    int n = 0;
    WSP_FD_SET out{};
    for (unsigned i = 0; i < set->fd_count; ++i) {
        const SocketRef r = find_socket(set->fd_array[i]);
        if (r && pred(conditions(*r.host, *r.socket))) {
            ++n;
            out.fd_array[out.fd_count++] = set->fd_array[i];
        }
    }
    if (apply) {
        *set = out;
    }
    return n;
}

unsigned set_size(const WSP_FD_SET* set) {
    return set == nullptr ? 0 : set->fd_count;
}
unsigned open_count(const WSP_FD_SET* set) {
    unsigned n = 0;
    for (unsigned i = 0; i < set_size(set); ++i) {
        n += find_socket(set->fd_array[i]) ? 1 : 0;
    }
    return n;
}

// The host whose clock times a WSPSelect out: the first socket's.
Host* first_host(WSP_FD_SET* rd, WSP_FD_SET* wr, WSP_FD_SET* ex) {
    for (WSP_FD_SET* set : {rd, wr, ex}) {
        if (set != nullptr && set->fd_count > 0) {
            return find_socket(set->fd_array[0]).host;
        }
    }
    return nullptr;
}
}  // namespace

extern "C" int WSPSelect(int /*nfds*/, WSP_FD_SET* rd, WSP_FD_SET* wr, WSP_FD_SET* ex,
                         const TIMEVAL* timeout, LPINT lpErrno) {
    ApiLock lock;
    // Winsock's select fails WSAEINVAL when all three sets are empty or the time-out is not valid.
    if (empty_set(rd) && empty_set(wr) && empty_set(ex)) {
        return fail(lpErrno, WSAEINVAL);
    }
    if (timeout != nullptr &&
        (timeout->tv_sec < 0 || timeout->tv_usec < 0 || timeout->tv_usec >= 1'000'000)) {
        return fail(lpErrno, WSAEINVAL);
    }
    for (const WSP_FD_SET* set : {rd, wr, ex}) {
        if (int e = check_set(set); e != 0) {
            return fail(lpErrno, e);
        }
    }
    // The time-out is a deadline on the clock of the first socket's host (blocking.hpp).
    Host* clock = first_host(rd, wr, ex);
    const unsigned watched = set_size(rd) + set_size(wr) + set_size(ex);
    std::optional<Instant> at;
    if (timeout != nullptr) {
        at = clock->now() + std::chrono::seconds(timeout->tv_sec) +
             std::chrono::microseconds(timeout->tv_usec);
    }
    const HostDeadline deadline(clock, at);
    for (;;) {
        const int n = count_ready(rd, select_readable, false) +
                      count_ready(wr, select_writable, false) +
                      count_ready(ex, select_excepted, false);
        // A socket of the sets closed meanwhile (by another thread, or WSPCleanup): return what
        // is ready; the closed one is dropped from its set.
        const bool closed = open_count(rd) + open_count(wr) + open_count(ex) < watched;
        if (n > 0 || closed || deadline.passed()) {
            const int total = count_ready(rd, select_readable, true) +
                              count_ready(wr, select_writable, true) +
                              count_ready(ex, select_excepted, true);
            succeed(lpErrno);
            return total;
        }
        wait_multi(lock);
    }
}

// ---- event objects ------------------------------------------------------------------------------

extern "C" WSAEVENT WSACreateEvent(void) {
    ApiLock lock;
    auto* e = new ustack_event();  // owned by the open set until WSACloseEvent
    events().insert(e);
    return e;
}

extern "C" BOOL WSACloseEvent(WSAEVENT e) {
    ApiLock lock;
    if (events().erase(e) == 0) {
        return 0;
    }
    // Sockets of any host may name it (each selected it once).
    for_each_host([&](Host& h) { h.sockets().for_each([&](Socket& s) { s.events.forget(e); }); });
    delete e;
    notify_multi();
    return 1;
}

extern "C" BOOL WSASetEvent(WSAEVENT e) {
    ApiLock lock;
    if (!event_open(e)) {
        return 0;
    }
    signal_event(e);
    return 1;
}

extern "C" BOOL WSAResetEvent(WSAEVENT e) {
    ApiLock lock;
    if (!event_open(e)) {
        return 0;
    }
    e->signaled = false;
    return 1;
}

extern "C" DWORD WSAWaitForMultipleEvents(DWORD count, const WSAEVENT* evs, BOOL wait_all,
                                          DWORD timeout_ms, BOOL /*alertable*/) {
    if (count == 0 || count > WSA_MAXIMUM_WAIT_EVENTS || evs == nullptr) {
        return WSA_WAIT_FAILED;
    }
    ApiLock lock;
    auto ready = [&]() -> std::optional<DWORD> {
        DWORD n = 0;
        for (DWORD i = 0; i < count; ++i) {
            if (!event_open(evs[i])) {
                return WSA_WAIT_FAILED;
            }
            if (evs[i]->signaled) {
                if (!wait_all) {
                    return WSA_WAIT_EVENT_0 + i;
                }
                ++n;
            }
        }
        if (wait_all && n == count) {
            return WSA_WAIT_EVENT_0;
        }
        return std::nullopt;
    };
    if (auto r = ready()) {
        return *r;
    }
    if (timeout_ms == 0) {
        return WSA_WAIT_TIMEOUT;
    }
    const bool infinite = timeout_ms == WSA_INFINITE;
    const Duration span = std::chrono::milliseconds(timeout_ms);
    // The time-out runs on the clock of the host whose socket selected the first event that
    // has one; events no socket selected belong to no host (blocking.hpp).
    Host* clock = nullptr;
    for (DWORD i = 0; i < count && clock == nullptr && !infinite; ++i) {
        clock = find_host(evs[i]->host_key);
        if (clock != nullptr && clock->stopping()) {
            clock = nullptr;  // its clock is about to go: the process's then
        }
    }
    // (An optional: a host that starts WSPCleanup meanwhile is left for the process's clock.)
    std::optional<HostDeadline> deadline;
    if (clock != nullptr) {
        deadline.emplace(clock, clock->now() + span);
    }
    const WallDeadline wall(span);
    for (;;) {
        if (infinite || deadline) {
            wait_multi(lock);
        } else if (!wait_multi(lock, wall)) {
            return ready().value_or(WSA_WAIT_TIMEOUT);
        }
        if (auto r = ready()) {
            return *r;
        }
        if (deadline && deadline->passed()) {
            return WSA_WAIT_TIMEOUT;
        }
        if (deadline && clock->stopping()) {
            deadline.reset();  // WSPCleanup waits for this wait to leave its host
        }
    }
}
