// Message-oriented sockets: see message_socket.hpp (DESIGN.md §3b, SEMANTICS.md §1.7).
#include "message_socket.hpp"

#include <algorithm>
#include <array>

#include "host.hpp"
#include "socket_table.hpp"
#include "wsa_errors.hpp"

namespace ustack {

namespace {

// A connection's unread bytes as MessageReader reads them (message_framing.hpp): looked at in
// place, taken through Connection::recv (which keeps the receive window up to date).
struct ConnectionBytes {
    const Connection* view;
    Connection* owner = nullptr;  // for take(); null: look only
    [[nodiscard]] std::size_t available() const { return view->recv_available(); }
    std::size_t peek(std::size_t offset, std::span<std::byte> out) const {
        return view->peek(offset, out);
    }
    std::size_t take(std::span<std::byte> out) {
        const Result<std::size_t> r = owner->recv(out);
        return r.ok() ? r.value : 0;
    }
};

MessageReader::ScanResult scan_of(const Socket& s, const Connection& c) {
    return s.reader->scan(ConnectionBytes{&c});
}

void framing_error(Host& h, Connection& c, Host::FramingError e) {
    c.abort();  // RST: the peer learns at once (DESIGN.md §3b)
    h.count_framing_error(e);
    h.after_call();
}

}  // namespace

bool message_ready(const Host& h, const Socket& s) {
    if (s.ended) {
        return true;
    }
    const Connection* c = connection_of(h, s);
    if (c == nullptr || c->recv_shut() || c->is_closed() || c->peer_fin_received()) {
        return true;  // the call reports it at once
    }
    return scan_of(s, *c).scan != MessageReader::Scan::incomplete;
}

std::size_t first_message_size(const Host& h, const Socket& s) {
    const Connection* c = connection_of(h, s);
    if (c == nullptr) {
        return 0;
    }
    const MessageReader::ScanResult r = scan_of(s, *c);
    return r.scan == MessageReader::Scan::complete ? static_cast<std::size_t>(r.left) : 0;
}

void check_framing(Host& h, Socket& s) {
    if (!s.reader || !s.conn) {
        return;
    }
    Connection* c = h.stack().connection(*s.conn);
    if (c == nullptr || c->is_closed()) {
        return;
    }
    const MessageReader::Scan scan = scan_of(s, *c).scan;
    if (scan == MessageReader::Scan::too_long) {
        framing_error(h, *c, Host::FramingError::too_long);
    } else if (scan == MessageReader::Scan::incomplete && c->peer_fin_received() &&
               !s.reader->ends_cleanly(ConnectionBytes{c})) {
        framing_error(h, *c, Host::FramingError::fin_inside_message);
    }
}

Errc send_message(Host& h, ApiLock& lock, SocketId id, std::span<const WSABUF> bufs,
                  std::size_t* sent) {
    *sent = 0;
    Socket* s = h.sockets().find(id);
    if (s->kind != Socket::Kind::connection || (!s->connected && !s->connecting)) {
        return Errc::not_connected;
    }
    s->events.on_send_call();
    const std::optional<Instant> deadline = call_deadline(h, s->send_timeout_ms);
    std::uint64_t total = 0;
    for (const WSABUF& b : bufs) {
        total += b.len;
    }
    if (total > h.options().max_message) {
        return Errc::msg_size;  // nothing sent
    }
    const std::size_t need = kRecordHeader + static_cast<std::size_t>(total);
    for (;;) {
        s = h.sockets().find(id);
        Connection* c = use_connection(h, *s);
        if (c == nullptr) {
            return Errc::not_connected;
        }
        // The connection's own refusal (shut, closing, reset ...) comes first.
        if (const Result<std::size_t> probe = c->send({}); !probe.ok()) {
            return probe.error;
        }
        if (c->send_space() >= need) {
            // Whole: the header and every buffer fit (the send buffer holds at least one
            // message of the bound: make_message_socket).
            const auto header = message_header(static_cast<std::uint32_t>(total));
            std::size_t queued = c->send(header).value;
            for (const WSABUF& b : bufs) {
                if (b.len > 0) {
                    queued +=
                        c->send(std::span(reinterpret_cast<const std::byte*>(b.buf), b.len)).value;
                }
            }
            (void)queued;  // == need
            h.after_call();
            *sent = static_cast<std::size_t>(total);
            return Errc::ok;
        }
        if (s->nonblocking) {
            s->events.on_send_would_block();  // FD_WRITE when space frees (SEMANTICS 47)
            return Errc::would_block;         // nothing queued
        }
        const Errc e = wait_on_socket(
            h, lock, id,
            [&] {
                const Connection* cc = connection_of(h, *h.sockets().find(id));
                return cc == nullptr || cc->send_space() >= need || cc->is_closed() ||
                       cc->send_shut();
            },
            deadline);  // SO_SNDTIMEO: nothing of the message is queued
        if (e != Errc::ok) {
            return e;
        }
    }
}

Errc recv_message(Host& h, ApiLock& lock, SocketId id, std::span<const WSABUF> bufs,
                  std::size_t* received, bool* partial) {
    *received = 0;
    *partial = false;
    Socket* s = h.sockets().find(id);
    if (s->ended) {
        return Errc::disconnected;  // and on every later call
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
        const std::optional<Instant> deadline = call_deadline(h, s->recv_timeout_ms);
        if (Errc e = wait_on_socket(
                h, lock, id, [&] { return !h.sockets().find(id)->connecting; }, deadline);
            e != Errc::ok) {
            return e;
        }
        if (h.sockets().find(id)->connect_error != Errc::ok) {
            return Errc::not_connected;
        }
        if (Errc e = wait_on_socket(
                h, lock, id, [&] { return message_ready(h, *h.sockets().find(id)); }, deadline);
            e != Errc::ok) {
            return e;
        }
        s = h.sockets().find(id);
    }
    Connection* c = use_connection(h, *s);
    if (c == nullptr) {
        return Errc::not_connected;
    }
    if (c->recv_shut()) {
        return Errc::shutdown;
    }
    check_framing(h, *s);  // a framing error resets the connection: reported below
    ConnectionBytes bytes{c, c};
    // Whole messages that arrived are read, also after the connection ended (as a stream's
    // bytes are); an incomplete one never is.
    {
        if (scan_of(*s, *c).scan == MessageReader::Scan::complete) {
            bool ended = false;
            std::size_t done = 0;
            bool any = false;
            for (const WSABUF& b : bufs) {
                if (b.len == 0) {
                    continue;
                }
                any = true;
                const auto r =
                    s->reader->read(bytes, std::span(reinterpret_cast<std::byte*>(b.buf), b.len));
                done += r.bytes;
                if (r.message_ended) {
                    ended = true;
                    break;
                }
            }
            if (!any) {
                ended = s->reader->read(bytes, {}).message_ended;  // a zero-length message
            }
            *received = done;
            *partial = !ended;  // MSG_PARTIAL: the rest on the next calls
            h.after_call();     // a window update may be due
            return Errc::ok;
        }
    }
    if (c->is_closed() && c->close_reason() != CloseReason::graceful &&
        c->close_reason() != CloseReason::none) {
        return connect_errc(c->close_reason());  // reset, or our framing abort
    }
    if (c->peer_fin_received()) {
        s->ended = true;  // every message read, the stream ended cleanly (check_framing)
        return Errc::disconnected;
    }
    return Errc::would_block;
}

}  // namespace ustack
