// A WSP socket's lifecycle over the engine (see socket.hpp). The rules and their sources:
// SEMANTICS.md §1 and its checklist (numbers in the comments), DESIGN.md §4.
#include "socket.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "blocking.hpp"
#include "connect_data.hpp"
#include "host.hpp"
#include "message_socket.hpp"
#include "socket_table.hpp"
#include "ustack/byte_order.hpp"
#include "wsa_errors.hpp"

namespace ustack {

namespace {

template <class Ready>
Errc wait_for(Host& h, ApiLock& lock, SocketId id, Ready ready,
              std::optional<Instant> deadline = std::nullopt) {
    auto cond = [&] { return ready(*h.sockets().find(id)); };
    return wait_on_socket(h, lock, id, cond, deadline);
}

// Give a socket's connection back to the stack (graceful orphan unless aborted first).
void release_conn(Host& h, Socket& s) {
    if (!s.conn) {
        return;
    }
    if (const Connection* c = h.stack().find(*s.conn); c != nullptr && !c->is_closed()) {
        h.sockets().note_released(h.stack(), c->local().port, c->remote());
    }
    h.sockets().detach(*s.conn);
    (void)h.stack().release(*s.conn);
    s.conn.reset();
}

// The socket leaves the table: no more events, its handle fails WSAENOTSOCK, its blocked
// calls end (interrupted), and waits on several objects that name it look again.
void remove_socket(Host& h, Socket& s) {
    if (s.deferred) {
        // A connection taken from the queue with no verdict yet goes as the queued ones do
        // (Stack::close_listener: reset).
        if (Connection* c = h.stack().connection(*s.deferred); c != nullptr) {
            c->abort();
        }
        (void)h.stack().release(*s.deferred);
        s.deferred.reset();
    }
    if (s.listener) {
        h.sockets().detach(*s.listener);
        (void)h.stack().close_listener(*s.listener);
        s.listener.reset();
    }
    if (s.bound && s.kind == Socket::Kind::fresh) {
        h.sockets().unreserve_port(s.bound_port);
    }
    const SocketId id = s.id;
    h.sockets().erase(id);  // `s` is gone from here on
    h.after_call();
    wake_waiter(h.sockets().waiter(id));
    if (multi_waiters() > 0) {
        notify_multi();
    }
}

// A connect completed: WSPConnect's lpCalleeData gets the SYN-ACK's callee data ("The
// lpCalleeData->len will be set to zero if no user data has been passed back"), if it fits
// (else nothing is written: `callee_too_small`, and SO_CONNDATA has it).
void deliver_callee_data(Socket& s, const Connection& c) {
    const auto data = peer_connect_data(c);
    WSABUF* out = std::exchange(s.callee_out, nullptr);
    if (out == nullptr) {
        return;
    }
    if (data.size() > out->len) {
        s.callee_too_small = true;
        return;
    }
    if (!data.empty()) {
        std::memcpy(out->buf, data.data(), data.size());
    }
    out->len = static_cast<u_long>(data.size());
}

}  // namespace

Errc wait_on_socket(Host& h, ApiLock& lock, SocketId id, Condition ready,
                    std::optional<Instant> deadline) {
    auto alive = [&] { return h.sockets().find(id) != nullptr; };
    switch (wait_until(lock, h, h.sockets().waiter(id), deadline, alive, ready)) {
        case WaitResult::ready: return Errc::ok;
        case WaitResult::gone: return Errc::interrupted;
        case WaitResult::timed_out: return Errc::timed_out;
    }
    return Errc::interrupted;
}

Connection* use_connection(Host& h, const Socket& s) {
    return s.conn ? h.stack().connection(*s.conn) : nullptr;
}

const Connection* connection_of(const Host& h, const Socket& s) {
    return s.conn ? h.stack().find(*s.conn) : nullptr;
}

std::size_t accept_waiting(const Host& h, const Socket& s) {
    if (s.kind != Socket::Kind::listening || !s.listener) {
        return 0;
    }
    return (s.deferred ? 1 : 0) + h.stack().accept_queue_size(*s.listener) +
           held_requests(h, *s.listener);
}

std::size_t accept_wakeups(const Host& h, const Socket& s) {
    if (s.kind != Socket::Kind::listening || !s.listener) {
        return 0;
    }
    // A verdict is for one thread; but the one woken may be waiting for its handshake (it
    // would sleep again): wake those too.
    const bool verdict_due = s.deferred.has_value() || held_requests(h, *s.listener) > 0;
    const std::size_t deciders =
        verdict_due && !s.deciding ? 1 + static_cast<std::size_t>(s.handshake_waiters) : 0;
    return h.stack().accept_queue_size(*s.listener) + deciders;
}

SocketConditions conditions(const Host& h, const Socket& s) {
    SocketConditions c;
    c.listening = s.kind == Socket::Kind::listening && s.listener;
    if (c.listening) {
        c.accept_queue = accept_waiting(h, s);
    }
    c.connecting = s.connecting;
    c.connected = s.connected;
    c.connect_error = wsa_error(s.connect_error);
    if (const Connection* conn = connection_of(h, s)) {
        c.has_conn = true;
        c.data_ready = s.message ? message_ready(h, s) : conn->recv_available() > 0;
        c.recv_available = conn->recv_available();
        c.recv_shut = conn->recv_shut();
        c.at_eof = conn->at_eof();
        c.closed = conn->is_closed();
        const CloseReason r = conn->close_reason();
        if (c.closed && r != CloseReason::graceful && r != CloseReason::none) {
            c.hard_close_error = close_event_error(r);
        }
        c.send_space = conn->send_space();
    }
    return c;
}

void settle(Host& h, Socket& s) {
    // The outcome of a connect is known once the handshake completes or the connection dies.
    if (s.connecting) {
        if (const Connection* c = connection_of(h, s)) {
            if (c->is_synchronized()) {
                s.connecting = false;
                s.connected = true;
                s.connect_error = Errc::ok;
                deliver_callee_data(s, *c);
                s.events.on_connected();  // FD_WRITE on connect completion (47)
            } else if (c->is_closed()) {
                s.connecting = false;
                // (Caller data the SYN-ACK did not echo was not delivered: we reset the
                // half-open connection, DESIGN.md §3c -- WSAENOPROTOOPT, connect_errc.)
                s.connect_error = connect_errc(c->close_reason());
                s.last_error = s.connect_error;
                s.callee_out = nullptr;
            }
        }
    }
    if (s.message) {
        check_framing(h, s);  // a peer that broke the framing is reset now, not at the next read
    }
    s.events.update(conditions(h, s));
}

void make_message_socket(Host& h, Socket& s) {
    s.message = true;
    s.reader.emplace(h.options().max_message);
    // Room for one whole message of the bound each way: a message is sent whole or not at all,
    // and read only once it arrived whole (the window must be able to hold it).
    const auto need = static_cast<std::uint32_t>(kRecordHeader + h.options().max_message);
    const BufferSizes now = buffers_of(h, s);
    set_buffers(h, s, {now.send < need ? need : 0, now.recv < need ? need : 0});
}

void set_buffers(Host& h, Socket& s, BufferSizes sizes) {
    // A message socket's buffers hold a whole message of the bound (make_message_socket).
    const std::uint32_t floor =
        s.message ? static_cast<std::uint32_t>(kRecordHeader + h.options().max_message)
                  : kMinSocketBuffer;
    auto clamp = [&](std::uint32_t v) {
        return v == 0 ? 0 : std::clamp(v, std::max(floor, kMinSocketBuffer), kMaxSocketBuffer);
    };
    if (sizes.send != 0) {
        s.buffers.send = clamp(sizes.send);
    }
    if (sizes.recv != 0) {
        s.buffers.recv = clamp(sizes.recv);
    }
    if (Connection* c = use_connection(h, s)) {
        if (sizes.send != 0) {
            c->set_send_buffer(s.buffers.send);
        }
        if (sizes.recv != 0) {
            c->set_recv_buffer(s.buffers.recv);
        }
        h.after_call();  // a larger receive buffer may open the window
    } else if (s.listener) {
        (void)h.stack().set_listener_buffers(*s.listener, s.buffers);
    }
}

BufferSizes buffers_of(const Host& h, const Socket& s) {
    if (const Connection* c = connection_of(h, s)) {
        return {static_cast<std::uint32_t>(c->send_buffer()),
                static_cast<std::uint32_t>(c->recv_buffer())};
    }
    const TcpConfig& tcp = h.stack().config().tcp;
    return {s.buffers.send != 0 ? s.buffers.send : static_cast<std::uint32_t>(tcp.send_buffer),
            s.buffers.recv != 0 ? s.buffers.recv : static_cast<std::uint32_t>(tcp.recv_buffer)};
}

// ---- binding, listening, accepting ------------------------------------------------------------

Errc bind_socket(Host& h, Socket& s, std::uint16_t port) {
    if (s.bound || s.kind != Socket::Kind::fresh || s.connecting) {
        return Errc::invalid_argument;
    }
    if (port != 0 && (h.stack().port_in_use(port) || h.sockets().port_reserved(port))) {
        return Errc::addr_in_use;
    }
    s.bound = true;
    s.bound_port = port;
    h.sockets().reserve_port(port);
    return Errc::ok;
}

Errc listen_socket(Host& h, Socket& s, int backlog) {
    if (s.kind == Socket::Kind::listening) {
        return Errc::ok;
    }
    if (s.kind == Socket::Kind::connection || s.connecting) {
        return Errc::already_connected;
    }
    if (!s.bound) {
        return Errc::invalid_argument;  // Winsock: listen needs a bound socket
    }
    h.sockets().unreserve_port(s.bound_port);
    auto r = open_listener(h, s.bound_port, static_cast<std::size_t>(std::max(backlog, 0)),
                           s.buffers, s.message, s.conditional_accept);
    if (!r.ok()) {
        h.sockets().reserve_port(s.bound_port);
        return r.error;
    }
    s.kind = Socket::Kind::listening;
    s.listener = r.value;
    s.bound_port = h.stack().listener_port(r.value);
    h.sockets().attach(r.value, s.id);
    settle(h, s);
    return Errc::ok;
}

namespace {

// The condition function's verdict on one request.
enum class Answer : std::uint8_t { accept, reject, defer, invalid };

// What the condition function is shown of one request (a copy: it runs without the lock).
struct Offer {
    Endpoint caller;
    Endpoint callee;
    std::vector<std::byte> caller_data;
    std::size_t callee_room = 0;  // 0: no callee data possible ("not supported", LPWSPACCEPT)
};

SOCKADDR_IN sockaddr_in_of(Endpoint e) {
    SOCKADDR_IN sin{};
    sin.sin_family = AF_INET;
    store_be32(reinterpret_cast<std::uint8_t*>(&sin.sin_addr.s_addr), e.addr);
    store_be16(reinterpret_cast<std::uint8_t*>(&sin.sin_port), e.port);
    return sin;
}

// Ask the condition function about `o` (LPWSPACCEPT's ConditionFunc); `callee` gets the callee
// data it wrote. lpCallerData is NULL when the request carried none ("If no caller identifier
// or caller data is available, the corresponding parameter will be null"); the QOS pointers
// are NULL (no QOS); *g must stay 0 (no socket groups: "parameter g ... is not a valid value"
// is WSAEINVAL).
Answer ask(const AcceptCondition& cond, const Offer& o, std::vector<std::byte>& callee) {
    SOCKADDR_IN caller_sin = sockaddr_in_of(o.caller);
    SOCKADDR_IN callee_sin = sockaddr_in_of(o.callee);
    WSABUF caller_id{sizeof caller_sin, reinterpret_cast<CHAR*>(&caller_sin)};
    WSABUF callee_id{sizeof callee_sin, reinterpret_cast<CHAR*>(&callee_sin)};
    std::vector<std::byte> caller_copy = o.caller_data;
    WSABUF caller_data{static_cast<u_long>(caller_copy.size()),
                       reinterpret_cast<CHAR*>(caller_copy.data())};
    // Room for callee_room bytes (at least one, so a function that ignores len writes nowhere
    // it should not).
    callee.assign(std::max<std::size_t>(o.callee_room, 1), std::byte{0});
    WSABUF callee_data{static_cast<u_long>(o.callee_room), reinterpret_cast<CHAR*>(callee.data())};
    GROUP g = 0;
    const int r = cond.fn(&caller_id, caller_copy.empty() ? nullptr : &caller_data, nullptr,
                          nullptr, &callee_id, &callee_data, &g, cond.data);
    callee.resize(std::min<std::size_t>(callee_data.len, o.callee_room));
    if (g != 0) {
        return Answer::invalid;
    }
    switch (r) {
        case CF_ACCEPT: return Answer::accept;
        case CF_REJECT: return Answer::reject;
        case CF_DEFER: return Answer::defer;
        default:
            return Answer::invalid;  // "the return value of the condition function is not
                                     // a valid one": WSAEINVAL
    }
}

// The listener whose condition function this thread is running (SocketId{}: none).
thread_local SocketId t_deciding{};

// Run the condition function (`f`) without the API lock -- it is application code, and may
// call WSP functions -- as a call blocked on the listener `id` (WSPCleanup waits for it, so
// the host stays). The listener is marked `deciding` meanwhile: other WSPAccepts on it wait
// (blocking) or fail WSAEINPROGRESS (non-blocking, or the function's own). Returns false if
// the listener was closed meanwhile.
template <class F>
bool decide_unlocked(Host& h, ApiLock& lock, SocketId id, F f) {
    h.sockets().find(id)->deciding = true;
    Waiter& w = h.sockets().waiter(id);
    ++w.waiters;
    const SocketId outer = std::exchange(t_deciding, id);
    lock.unlock();
    f();
    lock.unique().lock();
    t_deciding = outer;
    --w.waiters;
    if (multi_waiters() > 0) {
        notify_multi();  // a WSPCleanup may be waiting for this call to leave
    }
    Socket* l = h.sockets().find(id);
    if (l == nullptr) {
        return false;
    }
    l->deciding = false;
    // WSPAccepts that waited for the verdict: as many as can go on.
    if (const std::size_t n = accept_wakeups(h, *l); n > 0) {
        chain_push(w, static_cast<int>(std::min<std::size_t>(n, INT_MAX)));
    }
    return true;
}

// Another WSPAccept runs the condition function on listener `l`: this call cannot wait for it
// (non-blocking, or it is that function's own call).
bool must_not_wait(const Socket& l) {
    return l.deciding && (l.nonblocking || t_deciding == l.id);
}

// Give an established connection `c` (app-owned) a new socket accepted on listener `l`.
SOCKET adopt(Host& h, Socket& l, Socket& n, ConnId c) {
    n.kind = Socket::Kind::connection;
    n.conn = c;
    n.connected = true;
    n.events.on_connected();  // FD_WRITE on accept (47)
    // Accepted sockets inherit the listener's properties, event registration included (54).
    n.nonblocking = l.nonblocking;
    n.linger = l.linger;
    n.nodelay = l.nodelay;
    n.buffers = l.buffers;  // (the connection has them since its SYN: Stack::listen)
    n.message = l.message;  // (its SYN carried the option: Stack::listen, DESIGN.md §3b)
    if (n.message) {
        n.reader.emplace(h.options().max_message);
    }
    n.events.inherit(l.events);
    if (Connection* conn = h.stack().connection(c); conn != nullptr) {
        if (n.nodelay) {
            conn->set_nodelay(true);
        }
    }
    h.sockets().attach(c, n.id);
    settle(h, n);
    h.after_call();
    return n.handle;
}

// A listener without SO_CONDITIONAL_ACCEPT: the handshake is done; the condition function
// decides on the established connection at the head of the queue (taken from the stack's
// queue into `deferred` while undecided). CF_REJECT resets it.
Errc accept_established(Host& h, ApiLock& lock, SocketId lid, const AcceptCondition& cond,
                        SOCKET* out, std::optional<Endpoint>* peer) {
    Socket* l = h.sockets().find(lid);
    const ListenerId listener = *l->listener;
    // One verdict at a time: the head is the deferred connection, else the queue's oldest.
    auto queued = [&](const Socket& x) {
        return !x.deciding && (x.deferred.has_value() || h.stack().accept_queue_size(listener) > 0);
    };
    if (!queued(*l)) {
        if (must_not_wait(*l)) {
            return Errc::callback_running;
        }
        if (l->nonblocking) {
            return Errc::would_block;
        }
        if (const Errc e = wait_for(h, lock, lid, queued); e != Errc::ok) {
            return e;
        }
        l = h.sockets().find(lid);
    }
    if (!l->deferred) {
        auto r = h.stack().accept(listener);
        if (!r.ok()) {
            return r.error;
        }
        l->deferred = r.value;
    }
    const ConnId c = *l->deferred;
    const Connection* conn = h.stack().find(c);
    if (conn == nullptr || conn->is_closed()) {
        // "An incoming connection was indicated, but was subsequently terminated by the remote
        // peer prior to accepting the call" (LPWSPACCEPT): WSAECONNRESET.
        l->deferred.reset();
        (void)h.stack().release(c);
        return Errc::reset;
    }
    *peer = conn->remote();
    if (cond.fn != nullptr) {
        const auto data = peer_connect_data(*conn);
        const Offer offer{conn->remote(), conn->local(), {data.begin(), data.end()}, 0};
        Answer v = Answer::invalid;
        std::vector<std::byte> callee;  // ignored: the SYN-ACK has gone (callee_room 0)
        if (!decide_unlocked(h, lock, lid, [&] { v = ask(cond, offer, callee); })) {
            return Errc::interrupted;  // the listener was closed (and its deferred connection)
        }
        l = h.sockets().find(lid);
        switch (v) {
            case Answer::accept: break;
            case Answer::reject: {
                l->deferred.reset();
                if (Connection* x = h.stack().connection(c); x != nullptr) {
                    x->abort();  // the established connection is reset (DESIGN.md §3c)
                }
                (void)h.stack().release(c);
                h.count_accept_rejected();
                h.after_call();
                return Errc::refused;
            }
            case Answer::defer: h.count_accept_deferred(); return Errc::try_again;
            case Answer::invalid: return Errc::invalid_argument;
        }
    }
    Socket* n = h.sockets().create(h.key());
    if (n == nullptr) {
        return Errc::too_many_sockets;  // the connection stays at the head of the queue
    }
    l = h.sockets().find(lid);
    l->deferred.reset();
    *out = adopt(h, *l, *n, c);
    return Errc::ok;
}

// A listener with SO_CONDITIONAL_ACCEPT: SYNs wait unanswered for a verdict. Connections an
// earlier CF_ACCEPT admitted come out first, once ESTABLISHED, without asking again; else the
// condition function decides on the head request. CF_ACCEPT sends the SYN-ACK with the callee
// data; a blocking call then waits for the handshake and returns the connection (with several
// accepting threads: one they admitted that completed first); a non-blocking one answers
// WSAEWOULDBLOCK
// (FD_ACCEPT follows when the connection is in the accept queue). CF_REJECT answers the SYN with
// a RST. No condition function: accept without callee data.
Errc accept_held(Host& h, ApiLock& lock, SocketId lid, const AcceptCondition& cond, SOCKET* out,
                 std::optional<Endpoint>* peer) {
    Socket* l = h.sockets().find(lid);
    const ListenerId listener = *l->listener;
    auto established = [&] { return h.stack().accept_queue_size(listener) > 0; };
    auto take = [&]() -> Errc {
        Socket* n = h.sockets().create(h.key());
        if (n == nullptr) {
            return Errc::too_many_sockets;  // the connection stays queued
        }
        auto r = h.stack().accept(listener);
        if (!r.ok()) {
            h.sockets().erase(n->id);
            return r.error;
        }
        Socket* x = h.sockets().find(lid);
        if (const Connection* c = h.stack().find(r.value); c != nullptr) {
            *peer = c->remote();
        }
        *out = adopt(h, *x, *n, r.value);
        return Errc::ok;
    };
    // An established connection can be taken any time; the head request only by one call at
    // a time.
    auto waiting = [&](const Socket& x) {
        return established() || (!x.deciding && held_requests(h, listener) > 0);
    };
    for (;;) {
        l = h.sockets().find(lid);
        if (!waiting(*l)) {
            if (must_not_wait(*l)) {
                return Errc::callback_running;
            }
            if (l->nonblocking) {
                return Errc::would_block;
            }
            if (const Errc e = wait_for(h, lock, lid, waiting); e != Errc::ok) {
                return e;
            }
            l = h.sockets().find(lid);
        }
        if (established()) {
            return take();
        }
        const std::optional<PendingRequest> req = front_request(h, listener);
        if (!req) {
            return Errc::withdrawn;
        }
        *peer = req->remote;
        Answer v = Answer::accept;
        std::vector<std::byte> callee;
        if (cond.fn != nullptr) {
            const Endpoint local{h.stack().config().addr, h.stack().listener_port(listener)};
            const Offer offer{req->remote,
                              local,
                              {req->caller_data.begin(), req->caller_data.end()},
                              connect_data_limit(h, l->message)};
            if (!decide_unlocked(h, lock, lid, [&] { v = ask(cond, offer, callee); })) {
                return Errc::interrupted;
            }
            // Still the same request? It may have expired while the function ran ("the connection
            // request that was offered has timed out or been withdrawn": WSAEACCES), or the client
            // started over with other caller data.
            const std::optional<PendingRequest> now = front_request(h, listener);
            if (!now || !now->same(*req) ||
                !std::equal(now->caller_data.begin(), now->caller_data.end(),
                            offer.caller_data.begin(), offer.caller_data.end())) {
                return Errc::withdrawn;
            }
        }
        switch (v) {
            case Answer::defer: h.count_accept_deferred(); return Errc::try_again;
            case Answer::invalid: return Errc::invalid_argument;
            case Answer::reject: {
                const Errc e = decide_front(h, listener, false, {});
                h.after_call();
                if (e != Errc::ok) {
                    return e;
                }
                h.count_accept_rejected();
                return Errc::refused;
            }
            case Answer::accept: break;
        }
        if (const Errc e = decide_front(h, listener, true, callee); e != Errc::ok) {
            return e;
        }
        h.after_call();
        l = h.sockets().find(lid);
        if (l->nonblocking) {
            return Errc::would_block;  // FD_ACCEPT when the handshake has completed
        }
        // A blocking call waits for the handshake: for an established connection (this one, or
        // one another thread admitted that completed first), or for none to be on its way.
        ++l->handshake_waiters;
        const Errc e = wait_for(h, lock, lid, [&](const Socket&) {
            return established() || h.stack().syn_queue_size(listener) == 0;
        });
        if (Socket* x = h.sockets().find(lid)) {
            --x->handshake_waiters;
        }
        if (e != Errc::ok) {
            return e;
        }
        if (established()) {
            return take();
        }
        // None completed and none is on its way: another thread took it, or its caller ended
        // it. A blocking WSPAccept goes on to the next, as it would have.
    }
}

}  // namespace

Errc accept_socket(Host& h, ApiLock& lock, SocketId lid, const AcceptCondition& cond, SOCKET* out,
                   std::optional<Endpoint>* peer) {
    Socket* l = h.sockets().find(lid);
    if (l->kind != Socket::Kind::listening || !l->listener) {
        return Errc::invalid_argument;
    }
    const Errc e = l->conditional_accept ? accept_held(h, lock, lid, cond, out, peer)
                                         : accept_established(h, lock, lid, cond, out, peer);
    if (Socket* x = h.sockets().find(lid)) {
        // FD_ACCEPT is re-enabled by any WSPAccept, "unless the error code returned is
        // WSATRY_AGAIN" (48); level-triggered: what is still queued is recorded again.
        if (e != Errc::try_again) {
            x->events.on_accept_call();
        }
        settle(h, *x);
    }
    return e;
}

// ---- connecting -------------------------------------------------------------------------------

Errc connect_socket(Host& h, ApiLock& lock, SocketId id, Endpoint remote,
                    std::span<const std::byte> caller, WSABUF* callee) {
    Socket* s = h.sockets().find(id);
    if (s->kind == Socket::Kind::listening) {
        return Errc::invalid_argument;
    }
    if (s->connecting) {
        return Errc::in_progress;  // WSAEALREADY (56)
    }
    if (s->kind == Socket::Kind::connection) {
        const Connection* c = connection_of(h, *s);
        if ((c != nullptr && !c->is_closed()) || s->connected) {
            return Errc::already_connected;  // WSAEISCONN (56)
        }
        release_conn(h, *s);  // a failed attempt: the socket may connect again (SPI WSPConnect)
    }
    if (s->bound) {
        h.sockets().unreserve_port(s->bound_port);
    }
    auto r =
        open_connection(h, remote, s->bound ? s->bound_port : 0, s->buffers, s->message, caller);
    if (!r.ok()) {
        if (s->bound) {
            h.sockets().reserve_port(s->bound_port);
        }
        return r.error;
    }
    s->kind = Socket::Kind::connection;
    s->conn = r.value;
    if (s->nodelay) {
        h.stack().connection(r.value)->set_nodelay(true);
    }
    s->connecting = true;
    s->connect_error = Errc::ok;
    s->callee_out = callee;
    s->callee_too_small = false;
    s->events.on_connect_started();
    h.sockets().attach(r.value, id);
    h.after_call();
    if (s->nonblocking) {
        return Errc::would_block;  // the outcome comes as FD_CONNECT (55)
    }
    if (Errc e = wait_for(h, lock, id, [](const Socket& x) { return !x.connecting; });
        e != Errc::ok) {
        return e;
    }
    s = h.sockets().find(id);
    if (s->connect_error == Errc::ok && s->callee_too_small) {
        return Errc::buffer_too_small;  // WSAEFAULT: "the buffer length for lpCalleeData ... is
                                        // too small"; the connection stands
    }
    return s->connect_error;
}

// ---- data -------------------------------------------------------------------------------------

Errc send_socket(Host& h, ApiLock& lock, SocketId id, std::span<const WSABUF> bufs,
                 std::size_t* sent) {
    *sent = 0;
    Socket* s = h.sockets().find(id);
    if (s->message) {
        return send_message(h, lock, id, bufs, sent);
    }
    if (s->kind != Socket::Kind::connection || (!s->connected && !s->connecting)) {
        return Errc::not_connected;
    }
    s->events.on_send_call();  // FD_WRITE is re-armed only by a WSAEWOULDBLOCK send (47)
    std::size_t total = 0;
    for (const WSABUF& b : bufs) {
        total += b.len;
    }
    std::size_t done = 0;
    std::size_t bi = 0;
    std::size_t off = 0;
    while (done < total) {
        s = h.sockets().find(id);
        Connection* c = use_connection(h, *s);
        if (c == nullptr) {
            return Errc::not_connected;
        }
        while (bi < bufs.size() && off == bufs[bi].len) {
            ++bi;
            off = 0;
        }
        const auto chunk =
            std::span(reinterpret_cast<const std::byte*>(bufs[bi].buf) + off, bufs[bi].len - off);
        auto r = c->send(chunk);
        if (r.ok()) {
            done += r.value;
            off += r.value;
            h.after_call();
            continue;
        }
        if (r.error != Errc::would_block) {
            if (done > 0) {
                break;  // report what was queued; the error shows on the next call
            }
            return r.error;
        }
        if (s->nonblocking) {
            if (done > 0) {
                break;
            }
            s->events.on_send_would_block();  // FD_WRITE when space frees (47, 59)
            return Errc::would_block;
        }
        const Errc e = wait_for(h, lock, id, [&](const Socket& x) {
            const Connection* cc = connection_of(h, x);
            return cc == nullptr || cc->send_space() > 0 || cc->is_closed() || cc->send_shut();
        });
        if (e != Errc::ok) {
            return e;
        }
    }
    *sent = done;
    return Errc::ok;
}

Errc recv_socket(Host& h, ApiLock& lock, SocketId id, std::span<const WSABUF> bufs,
                 std::size_t* received, bool* partial) {
    *received = 0;
    *partial = false;
    Socket* s = h.sockets().find(id);
    s->events.on_recv_call();  // any WSPRecv re-enables FD_READ, even a failing one (46)
    // Level-triggered FD_READ: whatever this call leaves unread is recorded again.
    struct Settle {
        Host& h;
        SocketId id;
        ~Settle() {
            if (Socket* x = h.sockets().find(id)) {
                settle(h, *x);
            }
        }
    } settle_on_exit{h, id};
    if (s->message) {
        return recv_message(h, lock, id, bufs, received, partial);
    }
    if (s->kind != Socket::Kind::connection || !s->connected) {
        if (s->connecting && s->nonblocking) {
            return Errc::would_block;
        }
        if (!s->connecting) {
            return Errc::not_connected;
        }
    }
    if (!s->nonblocking) {
        // A blocking receive during a connect waits for its outcome first.
        if (Errc e = wait_for(h, lock, id, [](const Socket& x) { return !x.connecting; });
            e != Errc::ok) {
            return e;
        }
        if (h.sockets().find(id)->connect_error != Errc::ok) {
            return Errc::not_connected;
        }
        // One byte is enough (SEMANTICS checklist 28).
        if (Errc e = wait_for(h, lock, id,
                              [&](const Socket& x) {
                                  const Connection* c = connection_of(h, x);
                                  return c == nullptr || c->recv_available() > 0 || c->at_eof() ||
                                         c->is_closed() || c->recv_shut();
                              });
            e != Errc::ok) {
            return e;
        }
        s = h.sockets().find(id);
    }
    Connection* c = use_connection(h, *s);
    if (c == nullptr) {
        return Errc::not_connected;
    }
    std::size_t done = 0;
    std::size_t wanted = 0;
    for (const WSABUF& b : bufs) {
        wanted += b.len;
        if (b.len == 0) {
            continue;
        }
        auto r = c->recv(std::span(reinterpret_cast<std::byte*>(b.buf), b.len));
        if (!r.ok()) {
            if (done > 0) {
                break;
            }
            return r.error;
        }
        done += r.value;
        if (r.value < b.len) {
            break;
        }
    }
    // A zero-length receive still reports the connection's state.
    if (wanted == 0 && c->recv_shut()) {
        return Errc::shutdown;
    }
    h.after_call();  // a window update may be due
    *received = done;
    return Errc::ok;
}

// ---- shutdown and disconnect data -------------------------------------------------------------

Errc shutdown_socket(Host& h, Socket& s, int how) {
    Connection* c = use_connection(h, s);
    if (c == nullptr || !s.connected) {
        return Errc::not_connected;  // checklist 3
    }
    Errc e = Errc::ok;
    if (how == SD_RECEIVE || how == SD_BOTH) {
        e = c->shutdown_receive();
    }
    // SD_BOTH with unread data resets the connection in its SD_RECEIVE half (checklist 7); that
    // reset is the requested outcome, so the SD_SEND half has nothing left to do.
    if (e == Errc::ok && (how == SD_SEND || how == SD_BOTH) && !c->is_closed()) {
        e = c->shutdown_send(nullptr);
    }
    h.after_call();
    settle(h, s);
    return e;
}

Errc send_disconnect(Host& h, Socket& s, const DisconnectData* disc) {
    Connection* c = use_connection(h, s);
    if (c == nullptr || !s.connected) {
        return Errc::not_connected;  // checklist 12
    }
    // Negotiation and the connection's limit are the Connection's to check (11, 16); NULL data
    // is exactly shutdown(SD_SEND) (10).
    const Errc e = c->shutdown_send(disc);
    h.after_call();
    if (e == Errc::ok && disc != nullptr) {
        h.count_disconnect_sent();
    }
    return e;
}

Errc recv_disconnect(Host& h, Socket& s, WSABUF* buf) {
    Connection* c = use_connection(h, s);
    if (c == nullptr || !s.connected) {
        return Errc::not_connected;  // checklist 18
    }
    const auto& peer = c->peer_disconnect_data();
    const std::size_t n = (c->peer_fin_received() && peer) ? peer->len : 0;
    if (n > 0 && (buf == nullptr || buf->buf == nullptr || buf->len < n)) {
        return Errc::buffer_too_small;  // checklist 19 (WSAEFAULT): the data stays retrievable
    }
    if (n > 0) {
        std::memcpy(buf->buf, peer->bytes.data(), n);
        h.count_disconnect_received();
    }
    if (buf != nullptr) {
        buf->len = static_cast<u_long>(n);
    }
    // "subsequent receives on the socket will be disallowed" (checklist 22, 23): as SD_RECEIVE.
    if (!c->recv_shut()) {
        (void)c->shutdown_receive();
    }
    h.after_call();
    return Errc::ok;
}

// ---- closing ----------------------------------------------------------------------------------

void close_now(Host& h, Socket& s, bool abortive) {
    if (Connection* c = use_connection(h, s); c != nullptr && abortive) {
        c->abort();
    }
    release_conn(h, s);
    remove_socket(h, s);
}

Errc close_socket(Host& h, ApiLock& lock, SocketId id) {
    Socket* s = h.sockets().find(id);
    Connection* c = use_connection(h, *s);
    if (c == nullptr || c->is_closed() || s->linger.l_onoff == 0) {
        close_now(h, *s, false);  // SO_DONTLINGER: graceful in the background (29, 30)
        return Errc::ok;
    }
    if (s->linger.l_linger == 0) {
        close_now(h, *s, true);  // SO_LINGER {1,0}: RST now, no TIME-WAIT (31)
        return Errc::ok;
    }
    // SO_LINGER {1,n}.
    if (s->nonblocking && !(c->all_acked() && c->send_queued() == 0)) {
        return Errc::would_block;  // 34: the handle stays valid, nothing is sent
    }
    c->close();
    h.after_call();
    if (!s->nonblocking) {
        // Block until everything we sent (FIN included) is acknowledged or n seconds pass (32).
        // "Everything acked" is no engine event: every engine pass wakes this wait.
        const Instant deadline = h.now() + std::chrono::seconds(s->linger.l_linger);
        Waiter* w = &h.sockets().waiter(id);
        h.watch(w);
        const Errc e = wait_for(
            h, lock, id,
            [&](const Socket& x) {
                const Connection* cc = connection_of(h, x);
                return cc == nullptr || cc->is_closed() || cc->all_acked();
            },
            deadline);
        h.unwatch(w);
        if (e == Errc::interrupted) {
            return Errc::ok;  // WSPCleanup took it meanwhile
        }
        s = h.sockets().find(id);
        const Connection* cc = connection_of(h, *s);
        if (e == Errc::timed_out && cc != nullptr && !cc->is_closed() && !cc->all_acked()) {
            close_now(h, *s, true);  // linger expired: hard close, no TIME-WAIT (33)
            return Errc::ok;
        }
    }
    close_now(h, *s, false);
    return Errc::ok;
}

}  // namespace ustack
