// A WSP socket's lifecycle over the engine (see socket.hpp). The rules and their sources:
// SEMANTICS.md §1 and its checklist (numbers in the comments), DESIGN.md §4.
#include "socket.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "blocking.hpp"
#include "host.hpp"
#include "message_socket.hpp"
#include "socket_table.hpp"
#include "state_log.hpp"
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
    const auto data = c.peer_connect_data();
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
           h.stack().held_requests(*s.listener);
}

std::size_t accept_wakeups(const Host& h, const Socket& s) {
    if (s.kind != Socket::Kind::listening || !s.listener) {
        return 0;
    }
    // A call waiting for the handshake of the connection it admitted must hear of it (done or
    // failed), and a chain wake-up cannot pick that call: wake every one.
    if (!s.claimed.empty()) {
        return SIZE_MAX;
    }
    // One per connection to take, and one for a verdict.
    const bool verdict_due = s.deferred.has_value() || h.stack().held_requests(*s.listener) > 0;
    return h.stack().accept_queue_size(*s.listener) + (verdict_due && !s.deciding ? 1 : 0);
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
    const SocketConditions now = conditions(h, s);
    const bool close_before = s.events.close_reported();
    s.events.update(now);
    if (!close_before && s.events.close_reported() && h.state_log_on()) {
        const int error = now.closed ? now.hard_close_error : 0;
        log_call(h, s, "FD_CLOSE",
                 std::string("\"error\":\"") + (error != 0 ? WSPErrorName(error) : "0") + "\"");
    }
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

void init_socket(const Host& h, Socket& s) {
    const TcpConfig& tcp = h.options().stack.tcp;
    s.keepalive = {tcp.keepalive, tcp.keepalive_idle, tcp.keepalive_interval};
}

void set_keepalive(Host& h, Socket& s, const Socket::KeepAlive& k) {
    s.keepalive = k;
    if (Connection* c = use_connection(h, s); c != nullptr) {
        c->set_keepalive(k.on, k.idle, k.interval, h.now());
        h.after_call();  // the keep-alive deadline may now be the earliest
    }
}

std::optional<Instant> call_deadline(const Host& h, std::uint32_t ms) {
    if (ms == 0) {
        return std::nullopt;
    }
    return h.now() + std::chrono::milliseconds(ms);
}

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
    if (h.network_failed()) {
        return Errc::net_down;
    }
    h.sockets().unreserve_port(s.bound_port);
    auto r = h.stack().listen(s.bound_port, static_cast<std::size_t>(std::max(backlog, 0)),
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
    if (!h.link_up()) {
        return Errc::net_down;  // no device to send the SYN on (HostCore::link_changed)
    }
    if (s->bound) {
        h.sockets().unreserve_port(s->bound_port);
    }
    auto r = h.stack().connect(remote, h.now(), s->bound ? s->bound_port : 0, s->buffers,
                               s->message, caller);
    if (!r.ok()) {
        if (s->bound) {
            h.sockets().reserve_port(s->bound_port);
        }
        return r.error;
    }
    s->kind = Socket::Kind::connection;
    s->conn = r.value;
    Connection* conn = h.stack().connection(r.value);
    if (s->nodelay) {
        conn->set_nodelay(true);
    }
    conn->set_keepalive(s->keepalive.on, s->keepalive.idle, s->keepalive.interval, h.now());
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
    const std::optional<Instant> deadline = call_deadline(h, s->send_timeout_ms);
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
        const Errc e = wait_for(
            h, lock, id,
            [&](const Socket& x) {
                const Connection* cc = connection_of(h, x);
                return cc == nullptr || cc->send_space() > 0 || cc->is_closed() || cc->send_shut();
            },
            deadline);
        if (e == Errc::timed_out && done > 0) {
            break;  // SO_SNDTIMEO: report what was queued
        }
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
    const std::optional<Instant> deadline = call_deadline(h, s->recv_timeout_ms);
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
        if (Errc e = wait_for(
                h, lock, id, [](const Socket& x) { return !x.connecting; }, deadline);
            e != Errc::ok) {
            return e;
        }
        if (h.sockets().find(id)->connect_error != Errc::ok) {
            return Errc::not_connected;
        }
        // One byte is enough (SEMANTICS checklist 28).
        if (Errc e = wait_for(
                h, lock, id,
                [&](const Socket& x) {
                    const Connection* c = connection_of(h, x);
                    return c == nullptr || c->recv_available() > 0 || c->at_eof() ||
                           c->is_closed() || c->recv_shut();
                },
                deadline);
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
    if (h.state_log_on()) {
        const char* name = how == SD_RECEIVE ? "SD_RECEIVE"
                           : how == SD_SEND  ? "SD_SEND"
                                             : "SD_BOTH";
        log_call(h, s, "WSPShutdown", std::string("\"how\":\"") + name + "\"");
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
    if (e == Errc::ok && h.state_log_on()) {
        log_call(h, s, "WSPSendDisconnect",
                 hex_field("data", disc != nullptr ? disc->bytes.data() : nullptr,
                           disc != nullptr ? disc->len : 0));
    }
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
    if (h.state_log_on()) {
        log_call(h, s, "WSPRecvDisconnect",
                 hex_field("data", n > 0 ? peer->bytes.data() : nullptr, n));
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
    if (h.state_log_on()) {
        const std::string linger = s->linger.l_onoff == 0    ? std::string("\"off\"")
                                   : s->linger.l_linger == 0 ? std::string("\"abortive\"")
                                                             : std::to_string(s->linger.l_linger);
        log_call(h, *s, "WSPCloseSocket", "\"linger\":" + linger);
    }
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
            log_call(h, *s, "linger-expired");
            close_now(h, *s, true);  // linger expired: hard close, no TIME-WAIT (33)
            return Errc::ok;
        }
    }
    close_now(h, *s, false);
    return Errc::ok;
}

}  // namespace ustack
