// Accepting on a WSP listener (see socket.hpp): WSPAccept with its condition function
// (LPWSPACCEPT's ConditionFunc: CF_ACCEPT, CF_REJECT, CF_DEFER), on an ordinary listener (the
// handshake first) and on one with SO_CONDITIONAL_ACCEPT (SYNs held until the verdict,
// DESIGN.md §3c). The rules and their sources: SEMANTICS.md §1 and its checklist (numbers in
// the comments).
#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "blocking.hpp"
#include "host.hpp"
#include "socket.hpp"
#include "socket_table.hpp"
#include "ustack/byte_order.hpp"
#include "wsa_errors.hpp"

namespace ustack {

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

// Wait until `ready(listener)` holds: at once if it does; else WSAEINPROGRESS when the call
// cannot wait for the running condition function (must_not_wait), WSAEWOULDBLOCK when
// non-blocking, or sleep until it holds (or the call is cancelled).
template <typename Ready>
Errc await_turn(Host& h, ApiLock& lock, SocketId lid, const Ready& ready) {
    const Socket* l = h.sockets().find(lid);
    if (ready(*l)) {
        return Errc::ok;
    }
    if (must_not_wait(*l)) {
        return Errc::callback_running;
    }
    if (l->nonblocking) {
        return Errc::would_block;
    }
    const Errc e = wait_on_socket(
        h, lock, lid, [&] { return h.network_failed() || ready(*h.sockets().find(lid)); });
    return e == Errc::ok && h.network_failed() ? Errc::net_down : e;
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
    n.keepalive = l.keepalive;
    n.recv_timeout_ms = l.recv_timeout_ms;
    n.send_timeout_ms = l.send_timeout_ms;
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
        conn->set_keepalive(n.keepalive.on, n.keepalive.idle, n.keepalive.interval, h.now());
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
    if (const Errc e = await_turn(h, lock, lid, queued); e != Errc::ok) {
        return e;
    }
    l = h.sockets().find(lid);
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
        const auto data = conn->peer_connect_data();
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
// earlier non-blocking CF_ACCEPT admitted come out first, once ESTABLISHED, without asking
// again; else the condition function decides on the head request. CF_ACCEPT sends the SYN-ACK
// with the callee data; a non-blocking call then answers WSAEWOULDBLOCK (FD_ACCEPT follows
// when the connection is in the accept queue); a blocking one claims the connection and waits
// for its handshake: it returns that connection -- the caller its condition function saw --
// or, if the handshake fails, goes on to the next request. CF_REJECT answers the SYN with a
// RST. No condition function: accept without callee data.
Errc accept_held(Host& h, ApiLock& lock, SocketId lid, const AcceptCondition& cond, SOCKET* out,
                 std::optional<Endpoint>* peer) {
    Socket* l = h.sockets().find(lid);
    const ListenerId listener = *l->listener;
    // An established connection no blocking call claimed.
    auto unclaimed = [&] {
        return h.stack().oldest_queued_except(listener, h.sockets().find(lid)->claimed);
    };
    auto take = [&](Endpoint remote) -> Errc {
        Socket* n = h.sockets().create(h.key());
        if (n == nullptr) {
            return Errc::too_many_sockets;  // the connection stays queued
        }
        auto r = h.stack().accept_from(listener, remote);
        if (!r.ok()) {
            h.sockets().erase(n->id);
            return r.error;
        }
        *peer = remote;
        *out = adopt(h, *h.sockets().find(lid), *n, r.value);
        return Errc::ok;
    };
    // An established connection can be taken any time; the head request only by one call at
    // a time.
    auto waiting = [&](const Socket& x) {
        return unclaimed().has_value() || (!x.deciding && h.stack().held_requests(listener) > 0);
    };
    for (;;) {
        if (const Errc e = await_turn(h, lock, lid, waiting); e != Errc::ok) {
            return e;
        }
        l = h.sockets().find(lid);
        if (const std::optional<Endpoint> r = unclaimed()) {
            return take(*r);
        }
        const std::optional<HeldRequest> req = h.stack().front_request(listener);
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
                              h.stack().connect_data_limit(l->message)};
            if (!decide_unlocked(h, lock, lid, [&] { v = ask(cond, offer, callee); })) {
                return Errc::interrupted;
            }
            // Still the same request? It may have expired while the function ran ("the connection
            // request that was offered has timed out or been withdrawn": WSAEACCES), or the client
            // started over with other caller data.
            const std::optional<HeldRequest> now = h.stack().front_request(listener);
            if (!now || now->remote != req->remote || now->since != req->since ||
                !std::equal(now->caller_data.begin(), now->caller_data.end(),
                            offer.caller_data.begin(), offer.caller_data.end())) {
                return Errc::withdrawn;
            }
        }
        switch (v) {
            case Answer::defer: h.count_accept_deferred(); return Errc::try_again;
            case Answer::invalid: return Errc::invalid_argument;
            case Answer::reject: {
                const Errc e = h.stack().decide_front(listener, Verdict::reject, {}, h.now());
                h.after_call();
                if (e != Errc::ok) {
                    return e;
                }
                h.count_accept_rejected();
                return Errc::refused;
            }
            case Answer::accept: break;
        }
        if (const Errc e = h.stack().decide_front(listener, Verdict::accept, callee, h.now());
            e != Errc::ok) {
            return e;
        }
        h.after_call();
        l = h.sockets().find(lid);
        if (l->nonblocking) {
            return Errc::would_block;  // FD_ACCEPT when the handshake has completed
        }
        // A blocking call waits for the handshake of the connection it admitted.
        const Endpoint mine = req->remote;
        l->claimed.push_back(mine);
        const Errc e = wait_on_socket(h, lock, lid, [&] {
            return h.stack().passive_stage(listener, mine) != Stack::PassiveStage::handshake;
        });
        if (Socket* x = h.sockets().find(lid)) {
            std::erase(x->claimed, mine);
        }
        if (e != Errc::ok) {
            return e;
        }
        if (h.stack().passive_stage(listener, mine) == Stack::PassiveStage::queued) {
            return take(mine);
        }
        // The handshake failed (the client reset it, or the SYN-ACK's retransmissions gave
        // up): a blocking WSPAccept goes on to the next request, as it would have.
    }
}

}  // namespace

Errc accept_socket(Host& h, ApiLock& lock, SocketId lid, const AcceptCondition& cond, SOCKET* out,
                   std::optional<Endpoint>* peer) {
    Socket* l = h.sockets().find(lid);
    if (l->kind != Socket::Kind::listening || !l->listener) {
        return Errc::invalid_argument;
    }
    if (h.network_failed()) {
        return Errc::net_down;  // the device is gone for good (HostCore::link_changed)
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

}  // namespace ustack
