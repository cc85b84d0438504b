// The WSP calls: a thin facade over the socket room (socket.hpp). Each call takes the API lock,
// finds the socket its handle names (WSAENOTSOCK otherwise), checks its own arguments (the
// WSAE* codes Winsock gives for them), calls one operation and maps its Errc (wsa_errors.cpp).
// The calls of network events are in network_events.cpp, options and ioctls in
// socket_options.cpp, host statistics in host_stats.cpp. Read DESIGN.md §4 and SEMANTICS.md §1.
#include <cstring>
#include <optional>
#include <span>

#include "blocking.hpp"
#include "host.hpp"
#include "socket.hpp"
#include "socket_table.hpp"
#include "state_log.hpp"
#include "ustack/byte_order.hpp"
#include "wsa_errors.hpp"

using namespace ustack;

namespace {

// A SOCKADDR_IN in network byte order -> Endpoint; false if `name` is not one.
bool parse_sockaddr(const SOCKADDR* name, int namelen, Endpoint& out) {
    if (name == nullptr || namelen < static_cast<int>(sizeof(SOCKADDR_IN))) {
        return false;
    }
    SOCKADDR_IN sin;
    std::memcpy(&sin, name, sizeof sin);
    if (sin.sin_family != AF_INET) {
        return false;
    }
    out.addr = load_be32(reinterpret_cast<const std::uint8_t*>(&sin.sin_addr.s_addr));
    out.port = load_be16(reinterpret_cast<const std::uint8_t*>(&sin.sin_port));
    return true;
}

int write_sockaddr(Endpoint e, SOCKADDR* name, LPINT namelen) {
    if (name == nullptr || namelen == nullptr || *namelen < static_cast<int>(sizeof(SOCKADDR_IN))) {
        return WSAEFAULT;
    }
    SOCKADDR_IN sin{};
    sin.sin_family = AF_INET;
    store_be32(reinterpret_cast<std::uint8_t*>(&sin.sin_addr.s_addr), e.addr);
    store_be16(reinterpret_cast<std::uint8_t*>(&sin.sin_port), e.port);
    std::memcpy(name, &sin, sizeof sin);
    *namelen = static_cast<int>(sizeof sin);
    return 0;
}

// Every WSABUF must be addressable before a call starts, so a blocking call never waits first
// and fails later, and a send never queues some buffers and then fails on the next.
bool bufs_valid(LPWSABUF bufs, DWORD count) {
    if (count > 0 && bufs == nullptr) {
        return false;
    }
    for (DWORD i = 0; i < count; ++i) {
        if (bufs[i].len > 0 && bufs[i].buf == nullptr) {
            return false;
        }
    }
    return true;
}

SOCKET fail_socket(LPINT err, int code) {
    (void)fail(err, code);
    return INVALID_SOCKET;
}

}  // namespace

// ---- hosts
// ----------------------------------------------------------------------------------------

extern "C" int WSPCleanup(WSPHOST host, LPINT lpErrno) {
    const int e = cleanup_host(host, true);
    return e == 0 ? succeed(lpErrno) : fail(lpErrno, e);
}

extern "C" DWORD WSPGetServiceFlags(WSPHOST host) {
    ApiLock lock;
    const Host* h = find_host(host);
    if (h == nullptr) {
        return 0;
    }
    return provider_flags(*h, false);
}

// ---- sockets ----------------------------------------------------------------------------------

extern "C" SOCKET WSPSocket(WSPHOST host, int af, int type, int protocol, LPINT lpErrno) {
    ApiLock lock;
    Host* h = find_host(host);
    if (h == nullptr || h->stopping()) {
        return fail_socket(lpErrno, WSANOTINITIALISED);
    }
    if (af != AF_INET) {
        return fail_socket(lpErrno, WSAEAFNOSUPPORT);
    }
    if (type != SOCK_STREAM && type != SOCK_SEQPACKET) {
        return fail_socket(lpErrno, WSAESOCKTNOSUPPORT);
    }
    if (protocol != 0 && protocol != IPPROTO_TCP) {
        return fail_socket(lpErrno, WSAEPROTONOSUPPORT);
    }
    Socket* s = h->sockets().create(h->key());
    if (s == nullptr) {
        return fail_socket(lpErrno, wsa_error(Errc::too_many_sockets));
    }
    init_socket(*h, *s);
    if (type == SOCK_SEQPACKET) {
        make_message_socket(*h, *s);  // DESIGN.md §3b
    }
    succeed(lpErrno);
    return s->handle;
}

extern "C" int WSPBind(SOCKET sock, const SOCKADDR* name, int namelen, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    Endpoint ep;
    if (!parse_sockaddr(name, namelen, ep)) {
        return fail(lpErrno, WSAEFAULT);
    }
    if (ep.addr != 0 && ep.addr != r.host->stack().config().addr) {
        return fail(lpErrno, WSAEADDRNOTAVAIL);
    }
    return result(lpErrno, bind_socket(*r.host, *r.socket, ep.port));
}

extern "C" int WSPListen(SOCKET sock, int backlog, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    return result(lpErrno, listen_socket(*r.host, *r.socket, backlog));
}

extern "C" SOCKET WSPAccept(SOCKET sock, SOCKADDR* addr, LPINT addrlen,
                            LPCONDITIONPROC lpfnCondition, DWORD_PTR dwCallbackData,
                            LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail_socket(lpErrno, WSAENOTSOCK);
    }
    // A too-small or missing address buffer fails before anything is dequeued.
    if (addr != nullptr &&
        (addrlen == nullptr || *addrlen < static_cast<int>(sizeof(SOCKADDR_IN)))) {
        return fail_socket(lpErrno, WSAEFAULT);
    }
    SOCKET out = INVALID_SOCKET;
    std::optional<Endpoint> peer;
    const Errc e =
        accept_socket(*r.host, lock, r.socket->id, {lpfnCondition, dwCallbackData}, &out, &peer);
    // addr and addrlen "shall be filled in regardless of whether the condition function is
    // specified or what it returns" (LPWSPACCEPT), once a request was decided on.
    if (addr != nullptr && peer) {
        (void)write_sockaddr(*peer, addr, addrlen);
    }
    if (e != Errc::ok) {
        return fail_socket(lpErrno, wsa_error(e));
    }
    succeed(lpErrno);
    return out;
}

extern "C" int WSPConnect(SOCKET sock, const SOCKADDR* name, int namelen, LPWSABUF lpCallerData,
                          LPWSABUF lpCalleeData, LPQOS lpSQOS, LPQOS lpGQOS, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    // No QOS: "Flow specifications specified in lpSQOS cannot be satisfied" (and lpGQOS is
    // reserved).
    if (lpSQOS != nullptr || lpGQOS != nullptr) {
        return fail(lpErrno, WSAEOPNOTSUPP);
    }
    Endpoint remote;
    if (!parse_sockaddr(name, namelen, remote)) {
        // A readable address of another family: "Addresses in the specified family cannot be
        // used with this socket".
        if (name != nullptr && namelen >= static_cast<int>(sizeof(SOCKADDR_IN)) &&
            name->sa_family != AF_INET) {
            return fail(lpErrno, WSAEAFNOSUPPORT);
        }
        return fail(lpErrno, WSAEFAULT);
    }
    if (!bufs_valid(lpCallerData, lpCallerData != nullptr ? 1 : 0) ||
        !bufs_valid(lpCalleeData, lpCalleeData != nullptr ? 1 : 0)) {
        return fail(lpErrno, WSAEFAULT);
    }
    if (remote.addr == 0 || remote.port == 0) {
        return fail(lpErrno, WSAEADDRNOTAVAIL);
    }
    // Zero bytes of caller data are none ("If lpCallerData is null, no user data will be
    // passed"); its length is checked against the SYN's room by the connect (Stack::connect).
    std::span<const std::byte> caller;
    if (lpCallerData != nullptr && lpCallerData->len > 0) {
        caller =
            std::span(reinterpret_cast<const std::byte*>(lpCallerData->buf), lpCallerData->len);
    }
    return result(lpErrno,
                  connect_socket(*r.host, lock, r.socket->id, remote, caller, lpCalleeData));
}

extern "C" int WSPSend(SOCKET sock, LPWSABUF bufs, DWORD count, LPDWORD sent, DWORD flags,
                       LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    if (!bufs_valid(bufs, count)) {
        return fail(lpErrno, WSAEFAULT);
    }
    if (flags != 0) {
        return fail(lpErrno, WSAEOPNOTSUPP);
    }
    std::size_t n = 0;
    const Errc e = send_socket(*r.host, lock, r.socket->id, std::span(bufs, count), &n);
    if (e != Errc::ok) {
        return fail(lpErrno, e);
    }
    if (sent != nullptr) {
        *sent = static_cast<DWORD>(n);
    }
    return succeed(lpErrno);
}

extern "C" int WSPRecv(SOCKET sock, LPWSABUF bufs, DWORD count, LPDWORD received, LPDWORD flags,
                       LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    if (!bufs_valid(bufs, count)) {
        return fail(lpErrno, WSAEFAULT);
    }
    if (flags != nullptr && *flags != 0) {
        return fail(lpErrno, WSAEOPNOTSUPP);
    }
    std::size_t n = 0;
    bool partial = false;
    const Errc e = recv_socket(*r.host, lock, r.socket->id, std::span(bufs, count), &n, &partial);
    log_recv_outcome(*r.host, r.socket->id, e, n, std::span(bufs, count));
    if (e != Errc::ok) {
        return fail(lpErrno, e);
    }
    if (received != nullptr) {
        *received = static_cast<DWORD>(n);
    }
    if (flags != nullptr) {
        *flags = partial ? MSG_PARTIAL : 0;  // the message continues in the next call
    }
    return succeed(lpErrno);
}

extern "C" int WSPShutdown(SOCKET sock, int how, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    if (how != SD_RECEIVE && how != SD_SEND && how != SD_BOTH) {
        return fail(lpErrno, WSAEINVAL);
    }
    return result(lpErrno, shutdown_socket(*r.host, *r.socket, how));
}

extern "C" int WSPSendDisconnect(SOCKET sock, LPWSABUF data, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    DisconnectData disc;
    if (data != nullptr) {
        if (data->len > 0 && data->buf == nullptr) {
            return fail(lpErrno, WSAEFAULT);  // checklist 13
        }
        // More than the option can hold on any segment (DESIGN.md §3); the connection's own,
        // smaller limit is checked by the Connection.
        if (data->len > kMaxDisconnectData) {
            return fail(lpErrno, WSAEMSGSIZE);
        }
        disc = DisconnectData::from(
            std::span(reinterpret_cast<const std::byte*>(data->buf), data->len));
    }
    return result(lpErrno, send_disconnect(*r.host, *r.socket, data != nullptr ? &disc : nullptr));
}

extern "C" int WSPRecvDisconnect(SOCKET sock, LPWSABUF data, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    return result(lpErrno, recv_disconnect(*r.host, *r.socket, data));
}

extern "C" int WSPCloseSocket(SOCKET sock, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    return result(lpErrno, close_socket(*r.host, lock, r.socket->id));
}

extern "C" int WSPGetPeerName(SOCKET sock, SOCKADDR* name, LPINT namelen, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    const Connection* c = connection_of(*r.host, *r.socket);
    if (c == nullptr || !r.socket->connected) {
        return fail(lpErrno, WSAENOTCONN);
    }
    if (int e = write_sockaddr(c->remote(), name, namelen); e != 0) {
        return fail(lpErrno, e);
    }
    return succeed(lpErrno);
}

extern "C" int WSPGetSockName(SOCKET sock, SOCKADDR* name, LPINT namelen, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    const Socket& s = *r.socket;
    if (!s.bound && !s.conn && !s.listener) {
        return fail(lpErrno, WSAEINVAL);
    }
    Endpoint e{r.host->stack().config().addr, s.bound_port};
    if (const Connection* c = connection_of(*r.host, s)) {
        e = c->local();
    }
    if (int rc = write_sockaddr(e, name, namelen); rc != 0) {
        return fail(lpErrno, rc);
    }
    return succeed(lpErrno);
}
