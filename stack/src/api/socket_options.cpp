// Socket options and ioctls: WSPSetSockOpt, WSPGetSockOpt, WSPIoctl (SEMANTICS.md §1.6 linger,
// §1.10 FIONBIO, §1.11 SO_DISCDATALEN).
#include <algorithm>
#include <cstring>
#include <span>

#include "blocking.hpp"
#include "host.hpp"
#include "message_socket.hpp"
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

ULONG clamp32(std::uint64_t v) {
    return static_cast<ULONG>(std::min<std::uint64_t>(v, 0xffffffffU));
}
ULONG micros(Duration d) {
    return clamp32(static_cast<std::uint64_t>(std::max<std::int64_t>(d.count(), 0)));
}

// SIO_TCP_INFO: the socket's connection as the engine sees it (Connection::info), in every
// state while the handle is open -- also after the connection ended (CLOSED keeps its
// counters); a socket without a connection is CLOSED, a listening one LISTEN.
USTACK_TCP_INFO tcp_info(const Host& h, const Socket& s) {
    USTACK_TCP_INFO out{};
    TCP_INFO_v0& v0 = out.v0;
    v0.State = s.kind == Socket::Kind::listening ? TCPSTATE_LISTEN : TCPSTATE_CLOSED;
    v0.RcvBuf = buffers_of(h, s).recv;
    out.SndBuf = buffers_of(h, s).send;
    out.SsThresh = 0xffffffffU;
    const Connection* c = connection_of(h, s);
    if (c == nullptr) {
        return out;
    }
    const TcpInfo i = c->info(h.now());
    // TcpState follows RFC 9293 §3.3.2 in Winsock's TCPSTATE order.
    static_assert(static_cast<int>(TcpState::closed) == TCPSTATE_CLOSED &&
                  static_cast<int>(TcpState::listen) == TCPSTATE_LISTEN &&
                  static_cast<int>(TcpState::syn_sent) == TCPSTATE_SYN_SENT &&
                  static_cast<int>(TcpState::syn_received) == TCPSTATE_SYN_RCVD &&
                  static_cast<int>(TcpState::established) == TCPSTATE_ESTABLISHED &&
                  static_cast<int>(TcpState::fin_wait_1) == TCPSTATE_FIN_WAIT_1 &&
                  static_cast<int>(TcpState::fin_wait_2) == TCPSTATE_FIN_WAIT_2 &&
                  static_cast<int>(TcpState::close_wait) == TCPSTATE_CLOSE_WAIT &&
                  static_cast<int>(TcpState::closing) == TCPSTATE_CLOSING &&
                  static_cast<int>(TcpState::last_ack) == TCPSTATE_LAST_ACK &&
                  static_cast<int>(TcpState::time_wait) == TCPSTATE_TIME_WAIT);
    v0.State = static_cast<TCPSTATE>(i.state);
    v0.Mss = i.mss;
    v0.ConnectionTimeMs =
        static_cast<ULONG64>(std::max<std::int64_t>(i.connection_time.count(), 0) / 1000);
    v0.TimestampsEnabled = i.timestamps ? 1 : 0;
    v0.RttUs = micros(i.srtt);
    v0.MinRttUs = micros(i.min_rtt);
    v0.BytesInFlight = i.bytes_in_flight;
    v0.Cwnd = i.cwnd;
    v0.SndWnd = i.snd_wnd;
    v0.RcvWnd = i.rcv_wnd;
    v0.RcvBuf = clamp32(i.recv_buffer);
    v0.BytesOut = i.bytes_out;
    v0.BytesIn = i.bytes_in;
    v0.BytesReordered = clamp32(i.bytes_reordered);
    v0.BytesRetrans = clamp32(i.bytes_retransmitted);
    v0.FastRetrans = clamp32(i.fast_retransmits);
    v0.DupAcksIn = clamp32(i.dup_acks_in);
    v0.TimeoutEpisodes = clamp32(i.timeout_episodes);
    v0.SynRetrans = static_cast<UCHAR>(std::min<std::uint64_t>(i.syn_retransmits, 255));
    out.SackEnabled = i.sack ? 1 : 0;
    out.WindowScalingEnabled = i.window_scaling ? 1 : 0;
    out.SndWindShift = i.snd_wscale;
    out.RcvWindShift = i.rcv_wscale;
    out.RttVarUs = micros(i.rttvar);
    out.RtoUs = micros(i.rto);
    out.SsThresh = i.ssthresh;
    out.SndBuf = clamp32(i.send_buffer);
    out.SegsOut = i.segs_out;
    out.SegsIn = i.segs_in;
    out.Retransmits = i.retransmits;
    return out;
}

// SO_PROTOCOL_INFO: the socket's provider as Winsock's WSAPROTOCOL_INFO describes one.
WSAPROTOCOL_INFOA protocol_info(const Host& h, const Socket& s) {
    WSAPROTOCOL_INFOA p{};
    p.dwServiceFlags1 = provider_flags(h, s.message);
    p.ProtocolChain.ChainLen = 1;  // a base protocol
    p.iVersion = 2;
    p.iAddressFamily = AF_INET;
    p.iMaxSockAddr = static_cast<int>(sizeof(SOCKADDR_IN));
    p.iMinSockAddr = static_cast<int>(sizeof(SOCKADDR_IN));
    p.iSocketType = s.message ? SOCK_SEQPACKET : SOCK_STREAM;
    p.iProtocol = IPPROTO_TCP;
    p.iNetworkByteOrder = 0;                                    // BIGENDIAN
    p.dwMessageSize = s.message ? h.options().max_message : 0;  // 0: a stream
    const char* name = s.message ? "ustack TCP (message-oriented)" : "ustack TCP";
    std::memcpy(p.szProtocol, name, std::strlen(name) + 1);
    return p;
}

}  // namespace

DWORD ustack::provider_flags(const Host& h, bool message) {
    DWORD f = XP1_GRACEFUL_CLOSE;
    if (message) {
        f |= XP1_MESSAGE_ORIENTED | XP1_PARTIAL_MESSAGE;  // DESIGN.md §3b
    }
    if (h.options().stack.tcp.disconnect_data) {
        f |= XP1_DISCONNECT_DATA;
    }
    if (h.stack().connect_data_limit(false) > 0) {
        f |= XP1_CONNECT_DATA;  // caller and callee data on the SYN and SYN-ACK (DESIGN.md §3c)
    }
    return f;
}

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
    if (level == SOL_SOCKET && optname == SO_CONDITIONAL_ACCEPT) {
        // A DWORD-sized BOOL (the SO_CONDITIONAL_ACCEPT page: shorter is WSAEFAULT), set before
        // WSPListen ("also returned if the socket was already in a listening state": WSAEINVAL).
        BOOL v = 0;
        if (optlen < static_cast<int>(sizeof(DWORD)) || !read_bool(optval, optlen, &v)) {
            return fail(lpErrno, WSAEFAULT);
        }
        if (s.kind == Socket::Kind::listening) {
            return fail(lpErrno, WSAEINVAL);
        }
        s.conditional_accept = v != 0;
        return succeed(lpErrno);
    }
    if (level == SOL_SOCKET && (optname == SO_SNDBUF || optname == SO_RCVBUF)) {
        int v = 0;
        if (optlen < static_cast<int>(sizeof v)) {
            return fail(lpErrno, WSAEFAULT);
        }
        std::memcpy(&v, optval, sizeof v);
        if (v < 0) {
            return fail(lpErrno, WSAEINVAL);
        }
        // 0 (Winsock: "no buffering") is the smallest size here.
        const auto bytes = static_cast<std::uint32_t>(std::max(v, 1));
        set_buffers(*r.host, s,
                    optname == SO_SNDBUF ? BufferSizes{bytes, 0} : BufferSizes{0, bytes});
        return succeed(lpErrno);
    }
    if (level == SOL_SOCKET && optname == SO_KEEPALIVE) {
        BOOL v = 0;
        if (!read_bool(optval, optlen, &v)) {
            return fail(lpErrno, WSAEFAULT);
        }
        Socket::KeepAlive k = s.keepalive;
        k.on = v != 0;
        set_keepalive(*r.host, s, k);
        return succeed(lpErrno);
    }
    if (level == SOL_SOCKET && (optname == SO_RCVTIMEO || optname == SO_SNDTIMEO)) {
        DWORD ms = 0;
        if (optlen < static_cast<int>(sizeof ms)) {
            return fail(lpErrno, WSAEFAULT);
        }
        std::memcpy(&ms, optval, sizeof ms);
        (optname == SO_RCVTIMEO ? s.recv_timeout_ms : s.send_timeout_ms) = ms;
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
        if (n > 0) {
            std::memcpy(optval, v, n);
        }
        *optlen = static_cast<int>(n);
        return succeed(lpErrno);
    };
    auto put_int = [&](int v) { return put(&v, sizeof v); };
    if (level == SOL_SOCKET) {
        switch (optname) {
            case SO_LINGER: return put(&s.linger, sizeof(LINGER));
            case SO_DONTLINGER: return put_int(s.linger.l_onoff == 0 ? 1 : 0);
            case SO_DISCDATALEN: {
                // DESIGN.md §3: the connection's limit, 0 when not negotiated (checklist 61).
                const Connection* c = connection_of(*r.host, s);
                return put_int(c != nullptr ? static_cast<int>(c->disconnect_data_limit()) : 0);
            }
            case SO_CONNDATALEN:
                // DESIGN.md §3c: what a SYN (or SYN-ACK) of this socket's type can carry.
                return put_int(static_cast<int>(r.host->stack().connect_data_limit(s.message)));
            case SO_CONNDATA: {
                // The peer's connect data: an accepted socket's caller data, a connected one's
                // callee data; *optlen its length (0: none, or no connection).
                const Connection* c = connection_of(*r.host, s);
                const auto data =
                    c != nullptr ? c->peer_connect_data() : std::span<const std::byte>{};
                return put(data.data(), data.size());
            }
            case SO_CONDITIONAL_ACCEPT: return put_int(s.conditional_accept ? 1 : 0);
            case SO_ERROR: {
                const int e = wsa_error(s.last_error);
                s.last_error = Errc::ok;
                return put_int(e);
            }
            case SO_TYPE: return put_int(s.message ? SOCK_SEQPACKET : SOCK_STREAM);
            case SO_MAX_MSG_SIZE:
                // "Has no meaning for stream-oriented sockets" (SOL_SOCKET options page).
                if (!s.message) {
                    return fail(lpErrno, WSAENOPROTOOPT);
                }
                return put_int(static_cast<int>(r.host->options().max_message));
            case SO_PROTOCOL_INFO: {
                const WSAPROTOCOL_INFOA info = protocol_info(*r.host, s);
                return put(&info, sizeof info);
            }
            case SO_KEEPALIVE: return put_int(s.keepalive.on ? 1 : 0);
            case SO_RCVTIMEO: {
                const DWORD ms = s.recv_timeout_ms;
                return put(&ms, sizeof ms);
            }
            case SO_SNDTIMEO: {
                const DWORD ms = s.send_timeout_ms;
                return put(&ms, sizeof ms);
            }
            case SO_SNDBUF: return put_int(static_cast<int>(buffers_of(*r.host, s).send));
            case SO_RCVBUF: return put_int(static_cast<int>(buffers_of(*r.host, s).recv));
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
        // A message socket: the size of the first whole message (message_socket.hpp).
        const Connection* c = connection_of(*r.host, s);
        const u_long n = s.message      ? static_cast<u_long>(first_message_size(*r.host, s))
                         : c != nullptr ? static_cast<u_long>(c->recv_available())
                                        : 0;
        std::memcpy(out, &n, sizeof n);
        if (returned != nullptr) {
            *returned = sizeof n;
        }
        return succeed(lpErrno);
    }
    if (code == SIO_KEEPALIVE_VALS) {
        tcp_keepalive v{};
        if (in == nullptr || in_len < sizeof v) {
            return fail(lpErrno, WSAEFAULT);
        }
        std::memcpy(&v, in, sizeof v);
        if (v.onoff != 0 && (v.keepalivetime == 0 || v.keepaliveinterval == 0)) {
            return fail(lpErrno, WSAEINVAL);
        }
        Socket::KeepAlive k = s.keepalive;
        k.on = v.onoff != 0;
        if (k.on) {
            k.idle = std::chrono::milliseconds(v.keepalivetime);
            k.interval = std::chrono::milliseconds(v.keepaliveinterval);
        }
        set_keepalive(*r.host, s, k);
        if (returned != nullptr) {
            *returned = 0;
        }
        return succeed(lpErrno);
    }
    if (code == SIO_TCP_INFO) {
        // Input: a DWORD version -- 0 for TCP_INFO_v0, USTACK_TCP_INFO_VERSION for ustack's
        // extension; Winsock's version 1 needs send-limit counters ustack does not keep.
        if (in == nullptr || in_len < sizeof(DWORD)) {
            return fail(lpErrno, WSAEFAULT);
        }
        DWORD version = 0;
        std::memcpy(&version, in, sizeof version);
        if (version != 0 && version != USTACK_TCP_INFO_VERSION) {
            return fail(lpErrno, WSAEINVAL);
        }
        const std::size_t size = version == 0 ? sizeof(TCP_INFO_v0) : sizeof(USTACK_TCP_INFO);
        if (out == nullptr || out_len < size) {
            return fail(lpErrno, WSAEFAULT);
        }
        const USTACK_TCP_INFO info = tcp_info(*r.host, s);
        std::memcpy(out, &info, size);  // TCP_INFO_v0 is the extension's first member
        if (returned != nullptr) {
            *returned = static_cast<DWORD>(size);
        }
        return succeed(lpErrno);
    }
    return fail(lpErrno, WSAEINVAL);
}
