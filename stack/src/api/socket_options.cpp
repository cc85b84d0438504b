// Socket options and ioctls: WSPSetSockOpt, WSPGetSockOpt, WSPIoctl (SEMANTICS.md §1.6 linger,
// §1.10 FIONBIO, §1.11 SO_DISCDATALEN).
#include <cstring>

#include "blocking.hpp"
#include "host.hpp"
#include "socket.hpp"
#include "socket_table.hpp"
#include "wsa_errors.hpp"

using namespace ustack;

namespace {

// Read a BOOL option value.
bool read_bool(const char* optval, int optlen, BOOL* out) {
    if (optlen < static_cast<int>(sizeof(BOOL))) {
        return false;
    }
    std::memcpy(out, optval, sizeof(BOOL));
    return true;
}

}  // namespace

extern "C" int WSPSetSockOpt(SOCKET sock, int level, int optname, const char* optval, int optlen,
                             LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    if (optval == nullptr) {
        return fail(lpErrno, WSAEFAULT);
    }
    Socket& s = *r.socket;
    if (level == SOL_SOCKET && optname == SO_LINGER) {
        if (optlen < static_cast<int>(sizeof(LINGER))) {
            return fail(lpErrno, WSAEFAULT);
        }
        std::memcpy(&s.linger, optval, sizeof(LINGER));
        return succeed(lpErrno);
    }
    if (level == SOL_SOCKET && optname == SO_DONTLINGER) {
        BOOL v = 0;
        if (!read_bool(optval, optlen, &v)) {
            return fail(lpErrno, WSAEFAULT);
        }
        // TRUE is SO_LINGER l_onoff 0 (SEMANTICS checklist 35); FALSE lingers again with the
        // previous l_linger (36).
        s.linger.l_onoff = v != 0 ? 0 : 1;
        return succeed(lpErrno);
    }
    if (level == IPPROTO_TCP && optname == TCP_NODELAY) {
        BOOL v = 0;
        if (!read_bool(optval, optlen, &v)) {
            return fail(lpErrno, WSAEFAULT);
        }
        s.nodelay = v != 0;
        if (s.conn) {
            if (Connection* c = r.host->stack().connection(*s.conn)) {
                c->set_nodelay(s.nodelay);  // Nagle off / on (RFC 896, RFC 1122 §4.2.3.4)
            }
        }
        return succeed(lpErrno);
    }
    return fail(lpErrno, WSAENOPROTOOPT);
}

extern "C" int WSPGetSockOpt(SOCKET sock, int level, int optname, char* optval, LPINT optlen,
                             LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    if (optval == nullptr || optlen == nullptr) {
        return fail(lpErrno, WSAEFAULT);
    }
    Socket& s = *r.socket;
    auto put = [&](const void* v, std::size_t n) {
        if (*optlen < static_cast<int>(n)) {
            return fail(lpErrno, WSAEFAULT);
        }
        std::memcpy(optval, v, n);
        *optlen = static_cast<int>(n);
        return succeed(lpErrno);
    };
    auto put_int = [&](int v) { return put(&v, sizeof v); };
    const TcpConfig& tcp = r.host->stack().config().tcp;
    if (level == SOL_SOCKET) {
        switch (optname) {
            case SO_LINGER: return put(&s.linger, sizeof(LINGER));
            case SO_DONTLINGER: return put_int(s.linger.l_onoff == 0 ? 1 : 0);
            case SO_DISCDATALEN: {
                // DESIGN.md §3: the connection's limit, 0 when not negotiated (checklist 61).
                const Connection* c = connection_of(*r.host, s);
                return put_int(c != nullptr ? static_cast<int>(c->disconnect_data_limit()) : 0);
            }
            case SO_ERROR: {
                const int e = wsa_error(s.last_error);
                s.last_error = Errc::ok;
                return put_int(e);
            }
            case SO_TYPE: return put_int(SOCK_STREAM);
            case SO_SNDBUF: return put_int(static_cast<int>(tcp.send_buffer));
            case SO_RCVBUF: return put_int(static_cast<int>(tcp.recv_buffer));
            default: break;
        }
    }
    if (level == IPPROTO_TCP && optname == TCP_NODELAY) {
        return put_int(s.nodelay ? 1 : 0);
    }
    return fail(lpErrno, WSAENOPROTOOPT);
}

extern "C" int WSPIoctl(SOCKET sock, DWORD code, void* in, DWORD in_len, void* out, DWORD out_len,
                        LPDWORD returned, LPINT lpErrno) {
    ApiLock lock;
    const SocketRef r = find_socket(sock);
    if (!r) {
        return fail(lpErrno, WSAENOTSOCK);
    }
    Socket& s = *r.socket;
    if (code == FIONBIO) {
        if (in == nullptr || in_len < sizeof(u_long)) {
            return fail(lpErrno, WSAEFAULT);
        }
        u_long v = 0;
        std::memcpy(&v, in, sizeof v);
        // Blocking mode cannot come back while WSPEventSelect is in force (checklist 50).
        if (v == 0 && s.events.mask() != 0) {
            return fail(lpErrno, WSAEINVAL);
        }
        s.nonblocking = v != 0;
        if (returned != nullptr) {
            *returned = 0;
        }
        return succeed(lpErrno);
    }
    if (code == FIONREAD) {
        if (out == nullptr || out_len < sizeof(u_long)) {
            return fail(lpErrno, WSAEFAULT);
        }
        const Connection* c = connection_of(*r.host, s);
        const u_long n = c != nullptr ? static_cast<u_long>(c->recv_available()) : 0;
        std::memcpy(out, &n, sizeof n);
        if (returned != nullptr) {
            *returned = sizeof n;
        }
        return succeed(lpErrno);
    }
    return fail(lpErrno, WSAEINVAL);
}
