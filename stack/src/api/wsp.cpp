// The WSP-style socket API: Winsock SPI shapes and semantics over Stack / Connection.
//
// Read DESIGN.md §4 and SEMANTICS.md §1 first. Every call takes the process-wide api_mutex(),
// changes engine state, transmits (directly, or by waking the host's engine thread); a blocking
// call on one socket waits on that socket's condition variable, which the engine thread notifies
// when the socket's connection or listener has news; waits on several objects (select, event
// waits, cleanup) use api_cv().
#include <algorithm>
#include <cstring>
#include <string>

#include "api_internal.hpp"

using namespace ustack;

namespace {


int fail(LPINT err, int code) {
    if (err != nullptr) *err = code;
    return SOCKET_ERROR;
}
int succeed(LPINT err) {
    if (err != nullptr) *err = 0;
    return 0;
}

std::shared_ptr<SocketState> find_socket(SOCKET s) {
    auto& socks = registry().sockets;
    auto it = socks.find(s);
    return it == socks.end() ? nullptr : it->second;
}

HostCore::Impl& host_of(const SocketState& s) { return s.core->impl(); }

Connection* conn_of(SocketState& s) {
    return s.conn ? host_of(s).stack.connection(*s.conn) : nullptr;
}
const Connection* find_conn(const SocketState& s) {
    return s.conn ? host_of(s).stack.find(*s.conn) : nullptr;
}

// Wait (blocking call) until `ready()` holds. Returns 0, or WSAEINTR when the socket was closed
// meanwhile (SEMANTICS checklist 38: close cancels pending blocking calls).
template <class Pred>
int wait_for(ApiLock& lock, const std::shared_ptr<SocketState>& s, Pred ready) {
    for (;;) {
        if (!s->open) return WSAEINTR;
        if (ready()) return 0;
        if (lock.flush()) continue;  // what this call sent went out first; look again
        const std::uint32_t seen = s->wake_word.load();
        ++s->waiters;
        const ChainWake next = chain_next();
        lock.unique().unlock();
        next.wake();
        s->wake_word.wait(seen);
        lock.unique().lock();
        --s->waiters;
    }
}

bool parse_sockaddr(const SOCKADDR* name, int namelen, Endpoint& out) {
    if (name == nullptr || namelen < static_cast<int>(sizeof(SOCKADDR_IN))) return false;
    SOCKADDR_IN sin;
    std::memcpy(&sin, name, sizeof sin);
    if (sin.sin_family != AF_INET) return false;
    const auto* a = reinterpret_cast<const std::uint8_t*>(&sin.sin_addr.s_addr);
    const auto* p = reinterpret_cast<const std::uint8_t*>(&sin.sin_port);
    out.addr = ipv4(a[0], a[1], a[2], a[3]);
    out.port = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
    return true;
}

int write_sockaddr(Endpoint e, SOCKADDR* name, LPINT namelen) {
    if (name == nullptr || namelen == nullptr || *namelen < static_cast<int>(sizeof(SOCKADDR_IN)))
        return WSAEFAULT;
    SOCKADDR_IN sin{};
    sin.sin_family = AF_INET;
    auto* a = reinterpret_cast<std::uint8_t*>(&sin.sin_addr.s_addr);
    a[0] = static_cast<std::uint8_t>(e.addr >> 24);
    a[1] = static_cast<std::uint8_t>(e.addr >> 16);
    a[2] = static_cast<std::uint8_t>(e.addr >> 8);
    a[3] = static_cast<std::uint8_t>(e.addr);
    auto* p = reinterpret_cast<std::uint8_t*>(&sin.sin_port);
    p[0] = static_cast<std::uint8_t>(e.port >> 8);
    p[1] = static_cast<std::uint8_t>(e.port);
    std::memcpy(name, &sin, sizeof sin);
    *namelen = static_cast<int>(sizeof sin);
    return 0;
}

// Register a socket and return its handle (handles are never reused).
SOCKET add_socket(std::shared_ptr<SocketState> s) {
    auto& r = registry();
    s->handle = r.next_handle++;
    r.sockets.emplace(s->handle, s);
    return s->handle;
}

// Release a socket's connection handle back to the stack (graceful orphan unless aborted).
void release_conn(SocketState& s) {
    auto& im = host_of(s);
    if (!s.conn) return;
    if (const Connection* c = im.stack.find(*s.conn); c != nullptr && !c->is_closed()) {
        im.released.emplace_back(c->local().port, c->remote());
        im.prune_released();
    }
    im.by_conn.erase(s.conn->key());
    (void)im.stack.release(*s.conn);
    s.conn.reset();
}

// The socket leaves the table: no more events, calls fail WSAENOTSOCK, waiters wake.
void remove_socket(SocketState& s) {
    auto& im = host_of(s);
    s.open = false;
    if (s.listener) {
        im.by_listener.erase(s.listener->key());
        (void)im.stack.close_listener(*s.listener);
        s.listener.reset();
    }
    if (s.bound && s.kind == SocketState::Kind::fresh) im.bound_ports.erase(s.bound_port);
    std::erase_if(im.lingering, [&](const auto& p) { return p.get() == &s; });
    registry().sockets.erase(s.handle);
    im.wake();
    // Its own blocked calls end (WSAEINTR); select and event waits may name it. Nobody else
    // can be waiting for this socket.
    wake_socket(s);
    if (registry().multi_waiters > 0) api_cv().notify_all();
}

// Winsock's graceful / abortive close, without the linger wait (the caller did that).
void close_now(SocketState& s, bool abortive) {
    if (Connection* c = conn_of(s); c != nullptr && abortive) c->abort();
    release_conn(s);
    remove_socket(s);
}

// Fix (wsp tests, misuse table): every WSABUF must be addressable before a call starts -- a
// NULL `buf` with a nonzero `len` used to be found only after a blocking WSPRecv had waited for
// data (hanging on an idle connection), or after a WSPSend had already queued earlier buffers.
bool bufs_valid(LPWSABUF bufs, DWORD count) {
    if (count > 0 && bufs == nullptr) return false;
    for (DWORD i = 0; i < count; ++i)
        if (bufs[i].len > 0 && bufs[i].buf == nullptr) return false;
    return true;
}

std::size_t total_len(LPWSABUF bufs, DWORD count) {
    std::size_t n = 0;
    for (DWORD i = 0; i < count; ++i) n += bufs[i].len;
    return n;
}

}  // namespace

// ---- hosts -----------------------------------------------------------------------------------

extern "C" int WSPCleanup(WSPHOST host, LPINT lpErrno) {
    ApiLock lock;
    if (registry().hosts.count(host) == 0) return fail(lpErrno, WSANOTINITIALISED);
    auto& im = host->core->impl();
    im.stopping = true;
    // Close every socket of this host as WSPCloseSocket would by default (graceful, in the
    // background; RST where data was left unread).
    std::vector<std::shared_ptr<SocketState>> mine;
    for (auto& [h, s] : registry().sockets)
        if (s->core == host->core.get()) mine.push_back(s);
    for (auto& s : mine) close_now(*s, s->linger.l_onoff != 0 && s->linger.l_linger == 0);
    // DESIGN.md §1: let orphaned graceful closes finish (bounded) so no FIN or disconnect data
    // that is still owed is lost when the process exits.
    im.cleanup_deadline = im.now() + host->core->options().cleanup_timeout;
    im.cleanup_expired = false;
    im.wake_engine();  // WSPCleanup waits for a service() run below
    // At least one engine pass after the closes above, so what they queued -- the RST of an
    // abortive close above all, which leaves no orphan to wait for -- is on the wire before the
    // engine stops.
    const std::uint64_t flushed = im.services + 1;
    while ((im.services < flushed || im.orphans_pending()) && !im.cleanup_expired) {
        if (!lock.flush()) wait_multi(lock.unique());
    }
    im.cleanup_deadline.reset();
    registry().hosts.erase(host);
    lock.unlock();
    host->driver->stop();  // joins the engine thread; no more calls into the core after this
    delete host;
    return succeed(lpErrno);
}

namespace ustack {
int destroy_host(ustack_host* host) {
    ApiLock lock;
    if (registry().hosts.count(host) == 0) return WSANOTINITIALISED;
    auto& im = host->core->impl();
    im.stopping = true;
    std::vector<std::shared_ptr<SocketState>> mine;
    for (auto& [h, s] : registry().sockets)
        if (s->core == host->core.get()) mine.push_back(s);
    for (auto& s : mine) close_now(*s, false);
    registry().hosts.erase(host);
    lock.unlock();
    host->driver->stop();
    delete host;
    return 0;
}
}  // namespace ustack

extern "C" DWORD WSPGetServiceFlags(WSPHOST host) {
    ApiLock lock;
    if (registry().hosts.count(host) == 0) return 0;
    DWORD f = XP1_GRACEFUL_CLOSE;
    if (host->core->options().stack.tcp.disconnect_data) f |= XP1_DISCONNECT_DATA;
    return f;
}

// ---- sockets ---------------------------------------------------------------------------------

extern "C" SOCKET WSPSocket(WSPHOST host, int af, int type, int protocol, LPINT lpErrno) {
    ApiLock lock;
    if (registry().hosts.count(host) == 0 || host->core->impl().stopping) {
        fail(lpErrno, WSANOTINITIALISED);
        return INVALID_SOCKET;
    }
    if (af != AF_INET) {
        fail(lpErrno, WSAEAFNOSUPPORT);
        return INVALID_SOCKET;
    }
    if (type != SOCK_STREAM) {
        fail(lpErrno, WSAESOCKTNOSUPPORT);
        return INVALID_SOCKET;
    }
    if (protocol != 0 && protocol != IPPROTO_TCP) {
        fail(lpErrno, WSAEPROTONOSUPPORT);
        return INVALID_SOCKET;
    }
    auto s = std::make_shared<SocketState>();
    s->core = host->core.get();
    succeed(lpErrno);
    return add_socket(std::move(s));
}

extern "C" int WSPBind(SOCKET sock, const SOCKADDR* name, int namelen, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    Endpoint ep;
    if (!parse_sockaddr(name, namelen, ep)) return fail(lpErrno, WSAEFAULT);
    if (s->bound || s->kind != SocketState::Kind::fresh || s->connecting) return fail(lpErrno, WSAEINVAL);
    auto& im = host_of(*s);
    if (ep.addr != 0 && ep.addr != im.stack.config().addr) return fail(lpErrno, WSAEADDRNOTAVAIL);
    if (ep.port != 0 && (im.stack.port_in_use(ep.port) || im.bound_ports.count(ep.port) != 0))
        return fail(lpErrno, WSAEADDRINUSE);
    s->bound = true;
    s->bound_port = ep.port;
    if (ep.port != 0) im.bound_ports.insert(ep.port);
    return succeed(lpErrno);
}

extern "C" int WSPListen(SOCKET sock, int backlog, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (s->kind == SocketState::Kind::listening) return succeed(lpErrno);
    if (s->kind == SocketState::Kind::connection || s->connecting) return fail(lpErrno, WSAEISCONN);
    if (!s->bound) return fail(lpErrno, WSAEINVAL);  // Winsock: listen needs a bound socket
    auto& im = host_of(*s);
    im.bound_ports.erase(s->bound_port);
    auto r = im.stack.listen(s->bound_port, static_cast<std::size_t>(std::max(backlog, 0)));
    if (!r.ok()) {
        if (s->bound_port != 0) im.bound_ports.insert(s->bound_port);
        return fail(lpErrno, wsa_error(r.error));
    }
    s->kind = SocketState::Kind::listening;
    s->listener = r.value;
    s->bound_port = im.stack.listener_port(r.value);
    im.by_listener[r.value.key()] = s;
    im.refresh(*s);
    return succeed(lpErrno);
}

extern "C" SOCKET WSPAccept(SOCKET sock, SOCKADDR* addr, LPINT addrlen, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) {
        fail(lpErrno, WSAENOTSOCK);
        return INVALID_SOCKET;
    }
    if (s->kind != SocketState::Kind::listening || !s->listener) {
        fail(lpErrno, WSAEINVAL);
        return INVALID_SOCKET;
    }
    // Fix (wsp tests, misuse table): a too-small or missing address buffer fails WSAEFAULT
    // before anything is dequeued -- it used to block first and then drop the address.
    if (addr != nullptr &&
        (addrlen == nullptr || *addrlen < static_cast<int>(sizeof(SOCKADDR_IN)))) {
        fail(lpErrno, WSAEFAULT);
        return INVALID_SOCKET;
    }
    auto& im = host_of(*s);
    s->accept_enabled = true;  // FD_ACCEPT re-enabled by any WSPAccept (SEMANTICS checklist 48)
    if (s->nonblocking) {
        if (im.stack.accept_queue_size(*s->listener) == 0) {
            im.refresh(*s);
            fail(lpErrno, WSAEWOULDBLOCK);
            return INVALID_SOCKET;
        }
    } else if (int e = wait_for(lock, s, [&] {
                   return !s->listener || im.stack.accept_queue_size(*s->listener) > 0;
               });
               e != 0) {
        fail(lpErrno, e);
        return INVALID_SOCKET;
    }
    if (!s->listener) {
        fail(lpErrno, WSAEINTR);
        return INVALID_SOCKET;
    }
    auto r = im.stack.accept(*s->listener);
    if (!r.ok()) {
        fail(lpErrno, wsa_error(r.error));
        return INVALID_SOCKET;
    }
    auto n = std::make_shared<SocketState>();
    n->core = s->core;
    n->kind = SocketState::Kind::connection;
    n->conn = r.value;
    n->connected = true;
    n->write_enabled = true;  // FD_WRITE on accept (SEMANTICS checklist 47)
    // Accepted sockets inherit the listener's properties, event registration included (54).
    n->nonblocking = s->nonblocking;
    n->linger = s->linger;
    n->nodelay = s->nodelay;
    if (Connection* ac = im.stack.connection(r.value); ac != nullptr && n->nodelay) ac->set_nodelay(true);
    n->event = s->event;
    n->mask = s->mask;
    const Connection* c = im.stack.find(r.value);
    if (addr != nullptr && addrlen != nullptr && c != nullptr) (void)write_sockaddr(c->remote(), addr, addrlen);
    const SOCKET h = add_socket(n);
    im.by_conn[r.value.key()] = n;
    im.refresh(*n);
    im.refresh(*s);
    im.wake();
    succeed(lpErrno);
    return h;
}

extern "C" int WSPConnect(SOCKET sock, const SOCKADDR* name, int namelen, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (s->kind == SocketState::Kind::listening) return fail(lpErrno, WSAEINVAL);
    if (s->connecting) return fail(lpErrno, WSAEALREADY);  // SEMANTICS checklist 56
    if (s->kind == SocketState::Kind::connection) {
        const Connection* c = find_conn(*s);
        if (c != nullptr && !c->is_closed()) return fail(lpErrno, WSAEISCONN);
        if (s->connected) return fail(lpErrno, WSAEISCONN);
        release_conn(*s);  // a failed attempt: the socket may connect again (SPI WSPConnect)
    }
    Endpoint remote;
    if (!parse_sockaddr(name, namelen, remote)) {
        // Fix (wsp misuse table): a readable address of another family is WSAEAFNOSUPPORT
        // ("Addresses in the specified family cannot be used with this socket"), not WSAEFAULT.
        if (name != nullptr && namelen >= static_cast<int>(sizeof(SOCKADDR_IN)) &&
            name->sa_family != AF_INET)
            return fail(lpErrno, WSAEAFNOSUPPORT);
        return fail(lpErrno, WSAEFAULT);
    }
    if (remote.addr == 0 || remote.port == 0) return fail(lpErrno, WSAEADDRNOTAVAIL);
    auto& im = host_of(*s);
    if (s->bound) im.bound_ports.erase(s->bound_port);
    auto r = im.stack.connect(remote, im.now(), s->bound ? s->bound_port : 0);
    if (!r.ok()) {
        if (s->bound && s->bound_port != 0) im.bound_ports.insert(s->bound_port);
        return fail(lpErrno, wsa_error(r.error));
    }
    s->kind = SocketState::Kind::connection;
    s->conn = r.value;
    if (s->nodelay) im.stack.connection(r.value)->set_nodelay(true);
    s->connecting = true;
    s->connect_error = 0;
    s->connect_reported = false;
    im.by_conn[r.value.key()] = s;
    im.wake();
    if (s->nonblocking) return fail(lpErrno, WSAEWOULDBLOCK);  // outcome via FD_CONNECT (55)
    if (int e = wait_for(lock, s, [&] { return !s->connecting; }); e != 0) return fail(lpErrno, e);
    if (s->connect_error != 0) return fail(lpErrno, s->connect_error);
    return succeed(lpErrno);
}

extern "C" int WSPSend(SOCKET sock, LPWSABUF bufs, DWORD count, LPDWORD sent, DWORD flags,
                       LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (!bufs_valid(bufs, count)) return fail(lpErrno, WSAEFAULT);
    if (flags != 0) return fail(lpErrno, WSAEOPNOTSUPP);
    auto& im = host_of(*s);
    if (s->kind != SocketState::Kind::connection || (!s->connected && !s->connecting))
        return fail(lpErrno, WSAENOTCONN);
    s->write_enabled = false;  // FD_WRITE is re-armed only by a WSAEWOULDBLOCK send
    std::size_t done = 0;
    const std::size_t total = total_len(bufs, count);
    DWORD bi = 0;
    std::size_t off = 0;
    while (done < total) {
        Connection* c = conn_of(*s);
        if (c == nullptr) return fail(lpErrno, WSAENOTCONN);
        while (bi < count && off == bufs[bi].len) {
            ++bi;
            off = 0;
        }
        if (bufs[bi].buf == nullptr) return fail(lpErrno, WSAEFAULT);
        const auto chunk = std::span(reinterpret_cast<const std::byte*>(bufs[bi].buf) + off,
                                     bufs[bi].len - off);
        auto r = c->send(chunk);
        if (r.ok()) {
            done += r.value;
            off += r.value;
            im.wake();
            continue;
        }
        if (r.error != Errc::would_block) {
            if (done > 0) break;  // report what was queued; the error shows on the next call
            return fail(lpErrno, wsa_error(r.error));
        }
        if (s->nonblocking) {
            if (done > 0) break;
            s->write_enabled = true;  // FD_WRITE when space frees (SEMANTICS checklist 47, 59)
            return fail(lpErrno, WSAEWOULDBLOCK);
        }
        if (int e = wait_for(lock, s, [&] {
                const Connection* cc = find_conn(*s);
                return cc == nullptr || cc->send_space() > 0 || cc->is_closed() || cc->send_shut();
            });
            e != 0) {
            return fail(lpErrno, e);
        }
    }
    if (sent != nullptr) *sent = static_cast<DWORD>(done);
    return succeed(lpErrno);
}

extern "C" int WSPRecv(SOCKET sock, LPWSABUF bufs, DWORD count, LPDWORD received, LPDWORD flags,
                       LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (!bufs_valid(bufs, count)) return fail(lpErrno, WSAEFAULT);
    if (flags != nullptr && *flags != 0) return fail(lpErrno, WSAEOPNOTSUPP);
    auto& im = host_of(*s);
    s->read_enabled = true;  // any WSPRecv re-enables FD_READ, even a failing one (46)
    struct Refresh {
        HostCore::Impl& im;
        SocketState& s;
        ~Refresh() { im.refresh(s); }
    } refresh_on_exit{im, *s};
    if (s->kind != SocketState::Kind::connection || !s->connected) {
        if (s->connecting && s->nonblocking) return fail(lpErrno, WSAEWOULDBLOCK);
        if (!s->connecting) return fail(lpErrno, WSAENOTCONN);
    }
    if (!s->nonblocking) {
        // Blocking: one byte is enough (SEMANTICS checklist 28).
        if (int e = wait_for(lock, s, [&] {
                const Connection* c = find_conn(*s);
                return c == nullptr || !s->connecting;
            });
            e != 0)
            return fail(lpErrno, e);
        if (s->connect_error != 0) return fail(lpErrno, WSAENOTCONN);
        if (int e = wait_for(lock, s, [&] {
                const Connection* c = find_conn(*s);
                return c == nullptr || c->recv_available() > 0 || c->at_eof() || c->is_closed() ||
                       c->recv_shut();
            });
            e != 0)
            return fail(lpErrno, e);
    }
    Connection* c = conn_of(*s);
    if (c == nullptr) return fail(lpErrno, WSAENOTCONN);
    std::size_t done = 0;
    for (DWORD i = 0; i < count; ++i) {
        if (bufs[i].len == 0) continue;
        if (bufs[i].buf == nullptr) return fail(lpErrno, WSAEFAULT);
        auto r = c->recv(std::span(reinterpret_cast<std::byte*>(bufs[i].buf), bufs[i].len));
        if (!r.ok()) {
            if (done > 0) break;
            return fail(lpErrno, wsa_error(r.error));
        }
        done += r.value;
        if (r.value < bufs[i].len) break;
    }
    if (count == 0 || total_len(bufs, count) == 0) {
        // A zero-length receive still reports the connection's state.
        if (c->recv_shut()) return fail(lpErrno, WSAESHUTDOWN);
    }
    im.wake();  // a window update may be due
    if (received != nullptr) *received = static_cast<DWORD>(done);
    if (flags != nullptr) *flags = 0;
    return succeed(lpErrno);
}

extern "C" int WSPShutdown(SOCKET sock, int how, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (how != SD_RECEIVE && how != SD_SEND && how != SD_BOTH) return fail(lpErrno, WSAEINVAL);
    Connection* c = conn_of(*s);
    if (c == nullptr || !s->connected) return fail(lpErrno, WSAENOTCONN);  // checklist 3
    auto& im = host_of(*s);
    Errc e = Errc::ok;
    if (how == SD_RECEIVE || how == SD_BOTH) e = c->shutdown_receive();
    // Fix (wsp test "SEMANTICS 4"): SD_BOTH with unread data resets the connection in its
    // SD_RECEIVE half (checklist 7); that reset is the requested outcome, so the SD_SEND half has
    // nothing left to do and must not turn it into WSAECONNABORTED.
    const bool reset_by_receive_half = c->is_closed();
    if (e == Errc::ok && (how == SD_SEND || how == SD_BOTH) && !reset_by_receive_half)
        e = c->shutdown_send(nullptr);
    im.wake();
    im.refresh(*s);
    if (e != Errc::ok) return fail(lpErrno, wsa_error(e));
    return succeed(lpErrno);
}

extern "C" int WSPSendDisconnect(SOCKET sock, LPWSABUF data, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    Connection* c = conn_of(*s);
    if (c == nullptr || !s->connected) return fail(lpErrno, WSAENOTCONN);  // checklist 12
    DisconnectData disc;
    const DisconnectData* dp = nullptr;
    if (data != nullptr) {
        if (data->len > 0 && data->buf == nullptr) return fail(lpErrno, WSAEFAULT);  // 13
        if (!c->disconnect_negotiated()) return fail(lpErrno, WSAENOPROTOOPT);      // 11
        if (data->len > c->disconnect_data_limit()) return fail(lpErrno, WSAEMSGSIZE);  // 16
        disc = DisconnectData::from(
            std::span(reinterpret_cast<const std::byte*>(data->buf), data->len));
        dp = &disc;
    }
    const Errc e = c->shutdown_send(dp);  // checklist 10: NULL data == shutdown(SD_SEND)
    host_of(*s).wake();
    if (e == Errc::ok && dp != nullptr) host_of(*s).disc_sent++;
    if (e != Errc::ok) return fail(lpErrno, wsa_error(e));
    return succeed(lpErrno);
}

extern "C" int WSPRecvDisconnect(SOCKET sock, LPWSABUF data, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    Connection* c = conn_of(*s);
    if (c == nullptr || !s->connected) return fail(lpErrno, WSAENOTCONN);  // checklist 18
    const auto& peer = c->peer_disconnect_data();
    const std::size_t n = (c->peer_fin_received() && peer) ? peer->len : 0;
    if (n > 0 && (data == nullptr || data->buf == nullptr || data->len < n))
        return fail(lpErrno, WSAEFAULT);  // checklist 19: the data stays retrievable
    if (n > 0) {
        std::memcpy(data->buf, peer->bytes.data(), n);
        host_of(*s).disc_received++;
    }
    if (data != nullptr) data->len = static_cast<u_long>(n);
    // "subsequent receives on the socket will be disallowed" (checklist 22, 23): as SD_RECEIVE.
    if (!c->recv_shut()) (void)c->shutdown_receive();
    host_of(*s).wake();
    return succeed(lpErrno);
}

extern "C" int WSPCloseSocket(SOCKET sock, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    auto& im = host_of(*s);
    Connection* c = conn_of(*s);
    const bool linger_on = s->linger.l_onoff != 0;
    if (c == nullptr || c->is_closed() || !linger_on) {
        close_now(*s, false);  // SO_DONTLINGER: graceful in the background (29, 30)
        return succeed(lpErrno);
    }
    if (s->linger.l_linger == 0) {
        close_now(*s, true);  // SO_LINGER {1,0}: RST now, no TIME-WAIT (31)
        return succeed(lpErrno);
    }
    // SO_LINGER {1,n}.
    const bool completable = c->all_acked() && c->send_queued() == 0;
    if (s->nonblocking && !completable) {
        // Checklist 34: WSAEWOULDBLOCK, the handle stays valid, nothing is sent.
        return fail(lpErrno, WSAEWOULDBLOCK);
    }
    c->close();
    im.wake();
    if (!s->nonblocking) {
        s->linger_deadline = im.now() + std::chrono::seconds(s->linger.l_linger);
        s->linger_expired = false;
        im.lingering.push_back(s);
        im.wake();
        // Block until everything we sent (FIN included) is acknowledged or n seconds pass (32).
        (void)wait_for(lock, s, [&] {
            const Connection* cc = find_conn(*s);
            return cc == nullptr || cc->is_closed() || cc->all_acked() || s->linger_expired;
        });
        std::erase_if(im.lingering, [&](const auto& p) { return p == s; });
        const Connection* cc = find_conn(*s);
        if (s->open && cc != nullptr && !cc->is_closed() && !cc->all_acked()) {
            close_now(*s, true);  // linger expired: hard close, no TIME-WAIT (33)
            return succeed(lpErrno);
        }
        if (!s->open) return succeed(lpErrno);  // WSPCleanup took it meanwhile
    }
    close_now(*s, false);
    return succeed(lpErrno);
}

extern "C" int WSPSetSockOpt(SOCKET sock, int level, int optname, const char* optval, int optlen,
                             LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (optval == nullptr) return fail(lpErrno, WSAEFAULT);
    if (level == SOL_SOCKET && optname == SO_LINGER) {
        if (optlen < static_cast<int>(sizeof(LINGER))) return fail(lpErrno, WSAEFAULT);
        std::memcpy(&s->linger, optval, sizeof(LINGER));
        return succeed(lpErrno);
    }
    if (level == SOL_SOCKET && optname == SO_DONTLINGER) {
        if (optlen < static_cast<int>(sizeof(BOOL))) return fail(lpErrno, WSAEFAULT);
        BOOL v = 0;
        std::memcpy(&v, optval, sizeof v);
        // TRUE == SO_LINGER l_onoff 0 (35); FALSE re-enables lingering with the previous l_linger
        // (36).
        s->linger.l_onoff = v != 0 ? 0 : 1;
        return succeed(lpErrno);
    }
    if (level == IPPROTO_TCP && optname == TCP_NODELAY) {
        if (optlen < static_cast<int>(sizeof(BOOL))) return fail(lpErrno, WSAEFAULT);
        BOOL v = 0;
        std::memcpy(&v, optval, sizeof v);
        s->nodelay = v != 0;
        if (Connection* c = conn_of(*s)) c->set_nodelay(s->nodelay);  // Nagle off/on (RFC 896)
        return succeed(lpErrno);
    }
    return fail(lpErrno, WSAENOPROTOOPT);
}

extern "C" int WSPGetSockOpt(SOCKET sock, int level, int optname, char* optval, LPINT optlen,
                             LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (optval == nullptr || optlen == nullptr) return fail(lpErrno, WSAEFAULT);
    auto put_int = [&](int v) {
        if (*optlen < static_cast<int>(sizeof(int))) return fail(lpErrno, WSAEFAULT);
        std::memcpy(optval, &v, sizeof v);
        *optlen = static_cast<int>(sizeof v);
        return succeed(lpErrno);
    };
    auto& im = host_of(*s);
    if (level == SOL_SOCKET) {
        switch (optname) {
            case SO_LINGER:
                if (*optlen < static_cast<int>(sizeof(LINGER))) return fail(lpErrno, WSAEFAULT);
                std::memcpy(optval, &s->linger, sizeof(LINGER));
                *optlen = static_cast<int>(sizeof(LINGER));
                return succeed(lpErrno);
            case SO_DONTLINGER: return put_int(s->linger.l_onoff == 0 ? 1 : 0);
            case SO_DISCDATALEN: {
                // DESIGN.md §3: the connection's limit, 0 when not negotiated (checklist 61).
                const Connection* c = find_conn(*s);
                return put_int(c != nullptr ? static_cast<int>(c->disconnect_data_limit()) : 0);
            }
            case SO_ERROR: {
                const int e = s->last_error;
                s->last_error = 0;
                return put_int(e);
            }
            case SO_TYPE: return put_int(SOCK_STREAM);
            case SO_SNDBUF: return put_int(static_cast<int>(im.stack.config().tcp.send_buffer));
            case SO_RCVBUF: return put_int(static_cast<int>(im.stack.config().tcp.recv_buffer));
            default: break;
        }
    }
    if (level == IPPROTO_TCP && optname == TCP_NODELAY) return put_int(s->nodelay ? 1 : 0);
    return fail(lpErrno, WSAENOPROTOOPT);
}

extern "C" int WSPIoctl(SOCKET sock, DWORD code, void* in, DWORD in_len, void* out, DWORD out_len,
                        LPDWORD returned, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (code == FIONBIO) {
        if (in == nullptr || in_len < sizeof(u_long)) return fail(lpErrno, WSAEFAULT);
        u_long v = 0;
        std::memcpy(&v, in, sizeof v);
        // Checklist 50: blocking mode cannot come back while WSPEventSelect is in force.
        if (v == 0 && s->mask != 0) return fail(lpErrno, WSAEINVAL);
        s->nonblocking = v != 0;
        if (returned != nullptr) *returned = 0;
        return succeed(lpErrno);
    }
    if (code == FIONREAD) {
        if (out == nullptr || out_len < sizeof(u_long)) return fail(lpErrno, WSAEFAULT);
        const Connection* c = find_conn(*s);
        const u_long n = c != nullptr ? static_cast<u_long>(c->recv_available()) : 0;
        std::memcpy(out, &n, sizeof n);
        if (returned != nullptr) *returned = sizeof n;
        return succeed(lpErrno);
    }
    return fail(lpErrno, WSAEINVAL);
}

extern "C" int WSPEventSelect(SOCKET sock, WSAEVENT ev, long events, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (events != 0 && (ev == nullptr || registry().events.count(ev) == 0))
        return fail(lpErrno, WSAEINVAL);
    // A new selection replaces the old one and clears the record (51); it forces non-blocking
    // mode (50); conditions that already hold are recorded at once (49).
    s->event = events != 0 ? ev : nullptr;
    s->mask = events;
    s->record = 0;
    s->errors.fill(0);
    // Fix (wsp test "SEMANTICS 50"): "automatically sets socket s to nonblocking mode,
    // regardless of the value of lNetworkEvents" [S9] -- also for lNetworkEvents == 0.
    s->nonblocking = true;
    s->read_enabled = true;
    s->accept_enabled = true;
    s->write_enabled = s->connected;
    if (s->connecting || !s->connected) s->connect_reported = false;
    if (!s->connecting && s->connected) s->connect_reported = true;
    host_of(*s).refresh(*s);
    return succeed(lpErrno);
}

extern "C" int WSPEnumNetworkEvents(SOCKET sock, WSAEVENT ev, LPWSANETWORKEVENTS out,
                                    LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    if (out == nullptr) return fail(lpErrno, WSAEFAULT);  // record and event left as they were
    if (ev != nullptr && registry().events.count(ev) == 0) return fail(lpErrno, WSAEINVAL);
    // Copy, clear and reset atomically (52); iErrorCode only at reported bits (53).
    out->lNetworkEvents = s->record;
    for (int b = 0; b < FD_MAX_EVENTS; ++b)
        if (s->record & (1L << b)) out->iErrorCode[b] = s->errors[static_cast<std::size_t>(b)];
    s->record = 0;
    if (ev != nullptr) ev->signaled = false;
    return succeed(lpErrno);
}

namespace {
bool readable(const SocketState& s) {
    if (s.kind == SocketState::Kind::listening && s.listener)
        return host_of(s).stack.accept_queue_size(*s.listener) > 0;
    const Connection* c = find_conn(s);
    if (c == nullptr) return false;
    return c->recv_available() > 0 || c->at_eof() || (c->is_closed() && !s.connecting && s.connected);
}
bool writable(const SocketState& s) {
    const Connection* c = find_conn(s);
    return c != nullptr && s.connected && !s.connecting && c->send_space() > 0;
}
bool excepted(const SocketState& s) { return !s.connecting && s.connect_error != 0; }
}  // namespace

extern "C" int WSPSelect(int /*nfds*/, WSP_FD_SET* rd, WSP_FD_SET* wr, WSP_FD_SET* ex,
                         const TIMEVAL* timeout, LPINT lpErrno) {
    ApiLock lock;
    auto check = [&](WSP_FD_SET* set) -> int {
        if (set == nullptr) return 0;
        if (set->fd_count > WSP_FD_SETSIZE) return WSAEINVAL;
        for (unsigned i = 0; i < set->fd_count; ++i)
            if (!find_socket(set->fd_array[i])) return WSAENOTSOCK;
        return 0;
    };
    // Fix (wsp test "WSPSelect"): Winsock's select fails WSAEINVAL when all three sets are NULL
    // or the timeout is not valid (this used to wait forever / treat it as expired).
    if ((rd == nullptr || rd->fd_count == 0) && (wr == nullptr || wr->fd_count == 0) &&
        (ex == nullptr || ex->fd_count == 0))
        return fail(lpErrno, WSAEINVAL);
    if (timeout != nullptr &&
        (timeout->tv_sec < 0 || timeout->tv_usec < 0 || timeout->tv_usec >= 1'000'000))
        return fail(lpErrno, WSAEINVAL);
    for (auto* set : {rd, wr, ex})
        if (int e = check(set); e != 0) return fail(lpErrno, e);
    auto count_ready = [&](WSP_FD_SET* set, bool (*pred)(const SocketState&), bool apply) {
        int n = 0;
        if (set == nullptr) return 0;
        WSP_FD_SET out{};
        for (unsigned i = 0; i < set->fd_count; ++i) {
            auto s = find_socket(set->fd_array[i]);
            if (s && pred(*s)) {
                ++n;
                out.fd_array[out.fd_count++] = set->fd_array[i];
            }
        }
        if (apply) *set = out;
        return n;
    };
    const auto deadline =
        timeout != nullptr
            ? std::chrono::steady_clock::now() + std::chrono::seconds(timeout->tv_sec) +
                  std::chrono::microseconds(timeout->tv_usec)
            : std::chrono::steady_clock::time_point::max();
    for (;;) {
        const int n = count_ready(rd, readable, false) + count_ready(wr, writable, false) +
                      count_ready(ex, excepted, false);
        const bool expired = timeout != nullptr && std::chrono::steady_clock::now() >= deadline;
        if (n > 0 || expired) {
            const int total = count_ready(rd, readable, true) + count_ready(wr, writable, true) +
                              count_ready(ex, excepted, true);
            succeed(lpErrno);
            return total;
        }
        if (timeout == nullptr) {
            wait_multi(lock.unique());
        } else {
            wait_multi_until(lock.unique(), deadline);
        }
    }
}

extern "C" int WSPGetPeerName(SOCKET sock, SOCKADDR* name, LPINT namelen, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    const Connection* c = find_conn(*s);
    if (c == nullptr || !s->connected) return fail(lpErrno, WSAENOTCONN);
    if (int e = write_sockaddr(c->remote(), name, namelen); e != 0) return fail(lpErrno, e);
    return succeed(lpErrno);
}

extern "C" int WSPGetSockName(SOCKET sock, SOCKADDR* name, LPINT namelen, LPINT lpErrno) {
    ApiLock lock;
    auto s = find_socket(sock);
    if (!s) return fail(lpErrno, WSAENOTSOCK);
    auto& im = host_of(*s);
    Endpoint e{im.stack.config().addr, s->bound_port};
    if (const Connection* c = find_conn(*s)) e = c->local();
    if (!s->bound && !s->conn && !s->listener) return fail(lpErrno, WSAEINVAL);
    if (int r = write_sockaddr(e, name, namelen); r != 0) return fail(lpErrno, r);
    return succeed(lpErrno);
}

extern "C" int WSPFormatHostStats(WSPHOST host, char* buf, size_t len) {
    ApiLock lock;
    if (registry().hosts.count(host) == 0 || buf == nullptr || len == 0) return -1;
    auto& im = host->core->impl();
    const StackStats& st = im.stack.stats();
    const ConnStats c = im.stack.connection_totals();
    const CodecStats& cs = im.codec.stats();
    std::string out;
    auto line = [&](std::string_view name, std::uint64_t v) {
        out += name;
        out += ' ';
        out += std::to_string(v);
        out += '\n';
    };
    line("packets_decoded", cs.decoded);
    line("packets_encoded", cs.encoded);
    line("packets_out", im.encoder.packets);                 // super-packets count once
    line("super_packets_out", im.encoder.super_packets);     // TSO: several segments each
    line("segments_in", st.segs_in);
    line("segments_out", st.segs_out);
    line("payload_bytes_in", c.bytes_in);
    line("payload_bytes_out", c.bytes_out);
    line("retransmissions", c.retransmits);
    line("retransmission_timeouts", c.timeouts);
    line("fast_retransmits", c.fast_retransmits);
    line("tail_loss_probes", c.tail_loss_probes);
    line("rst_sent", c.rst_sent + st.rst_sent_unknown);
    line("rst_received", c.rst_received);
    line("rst_ignored", c.rst_ignored + st.rst_ignored_unknown);
    line("challenge_acks", c.challenge_acks);
    line("challenge_acks_suppressed", c.challenge_acks_suppressed);
    line("zero_window_probes", c.zero_window_probes);
    line("connections_opened", st.connections_opened);
    line("connections_current", st.connections_current);
    line("time_wait", st.time_wait);
    for (std::size_t i = 0; i < kDropReasonCount; ++i)
        line("drop_" + std::string(to_string(static_cast<DropReason>(i))), cs.drops[i]);
    line("drop_not_for_us", st.dropped_not_for_us);
    line("drop_invalid_address", st.dropped_invalid);
    line("drop_unacceptable_segment", c.dropped_unacceptable);
    line("drop_bad_ack", c.dropped_bad_ack);
    line("drop_reassembly_limit", c.dropped_ooo_limit);
    line("drop_paws", c.paws_dropped);
    line("drop_missing_timestamp", c.missing_ts_dropped);
    line("drop_syn_backlog", st.syn_backlog_drops + st.syn_limit_drops);
    line("syn_cookies_sent", st.syn_cookies_sent);
    line("syn_cookies_validated", st.syn_cookies_validated);
    line("syn_cookies_failed", st.syn_cookies_failed);
    line("orphan_limit_aborts", st.orphan_limit_aborts);
    line("time_wait_recycled", st.time_wait_recycled);
    line("connect_limit_failures", st.connect_limit_failures);
    line("options_unknown", cs.unknown_options);
    line("options_unknown_exid", cs.unknown_exid);
    line("disconnect_option_ignored", c.disc_option_ignored + cs.bad_disconnect_option);
    line("disconnect_data_sent", im.disc_sent);
    line("disconnect_data_received", im.disc_received);
    const std::size_t n = std::min(out.size(), len - 1);
    std::memcpy(buf, out.data(), n);
    buf[n] = '\0';
    return static_cast<int>(n);
}
