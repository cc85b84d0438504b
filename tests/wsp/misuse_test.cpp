// API misuse: invalid and closed handles, NULL and short buffers, wrong states. Every call must
// return the right WSAE* code and never crash (run under ASan/UBSan too) -- on virtual time.
// (Event objects and WSAWaitForMultipleEvents with a time-out: threads/blocking_test.cpp.)
#include <functional>
#include <string>
#include <vector>

#include "virtual_fixture.hpp"

using namespace wsptest;

namespace {
struct Case {
    const char* what;
    int want;
    std::function<int()> call;  // returns the WSAE* code (0: success)
};

// `gone` has been stopped: its socket `s` and the host handle itself are invalid.
void check_gone(WSPHOST gone, SOCKET s) {
    CHECK(send_str(s, "x") == WSAENOTSOCK);
    CHECK(close_socket(s) == WSAENOTSOCK);
    int e = 0;
    CHECK(WSPSocket(gone, AF_INET, SOCK_STREAM, 0, &e) == INVALID_SOCKET);
    CHECK(e == WSANOTINITIALISED);
    CHECK(WSPCleanup(gone, &e) == SOCKET_ERROR);
    CHECK(e == WSANOTINITIALISED);
    CHECK(ustack::destroy_host(gone) == WSANOTINITIALISED);
}
}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE("API misuse table - bad handles bad buffers and wrong states give WSAE codes") {
        Net h;
        Pair p = connect_pair(h);
        REQUIRE(set_nonblocking(p.server, false) == 0);  // blocking (a zero-buffer WSPRecv below)
        const SOCKET fresh = new_socket(h.a);
        const SOCKET closed = new_socket(h.a);
        REQUIRE(close_socket(closed) == 0);
        const SOCKET bogus = 0xdeadbeef;
        const SOCKADDR_IN to = sockaddr_of(kAddrB, 5000);
        SOCKADDR_IN out{};
        int outlen = kSaLen;
        char buf[64];
        DWORD n = 0;
        DWORD flags = 0;
        int e = 0;
        auto r = [&](int rc) { return rc == 0 ? 0 : e; };
        auto rs = [&](SOCKET s) {
            if (s != INVALID_SOCKET)
                close_socket(s);
            return s == INVALID_SOCKET ? e : 0;
        };
        WSAEVENT ev = WSACreateEvent();
        const std::vector<Case> cases = {
            // invalid / closed handles
            {"Bind bogus", WSAENOTSOCK, [&] { return r(WSPBind(bogus, sa(to), kSaLen, &e)); }},
            {"Listen closed", WSAENOTSOCK, [&] { return r(WSPListen(closed, 1, &e)); }},
            {"Accept bogus", WSAENOTSOCK,
             [&] { return rs(WSPAccept(bogus, nullptr, nullptr, nullptr, 0, &e)); }},
            {"Connect closed", WSAENOTSOCK, [&] { return connect_to(closed, kAddrB, 5000); }},
            {"Send bogus", WSAENOTSOCK, [&] { return send_str(bogus, "x"); }},
            {"Recv INVALID_SOCKET", WSAENOTSOCK,
             [&] { return recv_bytes(INVALID_SOCKET, buf, 1, &n); }},
            {"Shutdown bogus", WSAENOTSOCK, [&] { return shutdown_socket(bogus, SD_SEND); }},
            {"SendDisconnect closed", WSAENOTSOCK, [&] { return send_disconnect(closed, "x", 1); }},
            {"RecvDisconnect bogus", WSAENOTSOCK,
             [&] { return r(WSPRecvDisconnect(bogus, nullptr, &e)); }},
            {"CloseSocket closed", WSAENOTSOCK, [&] { return close_socket(closed); }},
            {"SetSockOpt bogus", WSAENOTSOCK, [&] { return set_linger(bogus, 0, 0); }},
            {"GetSockOpt closed", WSAENOTSOCK,
             [&] {
                 int v;
                 return get_int_opt(closed, SOL_SOCKET, SO_TYPE, &v);
             }},
            {"Ioctl bogus", WSAENOTSOCK, [&] { return set_nonblocking(bogus, true); }},
            {"EventSelect closed", WSAENOTSOCK,
             [&] { return r(WSPEventSelect(closed, ev, FD_READ, &e)); }},
            {"EnumNetworkEvents bogus", WSAENOTSOCK,
             [&] {
                 WSANETWORKEVENTS ne{};
                 return r(WSPEnumNetworkEvents(bogus, ev, &ne, &e));
             }},
            {"GetPeerName closed", WSAENOTSOCK,
             [&] {
                 return r(WSPGetPeerName(closed, reinterpret_cast<SOCKADDR*>(&out), &outlen, &e));
             }},
            {"GetSockName bogus", WSAENOTSOCK,
             [&] {
                 return r(WSPGetSockName(bogus, reinterpret_cast<SOCKADDR*>(&out), &outlen, &e));
             }},
            // NULL and short buffers
            {"Bind NULL name", WSAEFAULT, [&] { return r(WSPBind(fresh, nullptr, kSaLen, &e)); }},
            {"Bind short namelen", WSAEFAULT, [&] { return r(WSPBind(fresh, sa(to), 4, &e)); }},
            {"Connect NULL name", WSAEFAULT,
             [&] {
                 return r(
                     WSPConnect(fresh, nullptr, kSaLen, nullptr, nullptr, nullptr, nullptr, &e));
             }},
            {"Connect short namelen", WSAEFAULT,
             [&] {
                 return r(WSPConnect(fresh, sa(to), 3, nullptr, nullptr, nullptr, nullptr, &e));
             }},
            {"Send NULL buffers", WSAEFAULT,
             [&] { return r(WSPSend(p.client, nullptr, 1, &n, 0, &e)); }},
            {"Send NULL buf pointer", WSAEFAULT,
             [&] {
                 WSABUF b{5, nullptr};
                 return r(WSPSend(p.client, &b, 1, &n, 0, &e));
             }},
            {"Recv NULL buffers", WSAEFAULT,
             [&] { return r(WSPRecv(p.client, nullptr, 1, &n, &flags, &e)); }},
            {"Recv NULL buf pointer", WSAEFAULT,
             [&] {
                 WSABUF b{5, nullptr};
                 return r(WSPRecv(p.client, &b, 1, &n, &flags, &e));
             }},
            {"SetSockOpt NULL optval", WSAEFAULT,
             [&] { return r(WSPSetSockOpt(fresh, SOL_SOCKET, SO_LINGER, nullptr, 4, &e)); }},
            {"SetSockOpt short LINGER", WSAEFAULT,
             [&] {
                 LINGER l{};
                 return r(WSPSetSockOpt(fresh, SOL_SOCKET, SO_LINGER,
                                        reinterpret_cast<const char*>(&l), 2, &e));
             }},
            {"GetSockOpt NULL optlen", WSAEFAULT,
             [&] {
                 int v;
                 return r(WSPGetSockOpt(fresh, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&v),
                                        nullptr, &e));
             }},
            {"GetSockOpt short LINGER", WSAEFAULT,
             [&] {
                 LINGER l{};
                 int len = 2;
                 return r(WSPGetSockOpt(fresh, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l),
                                        &len, &e));
             }},
            {"Ioctl FIONBIO NULL in", WSAEFAULT,
             [&] {
                 DWORD rr;
                 return r(WSPIoctl(fresh, FIONBIO, nullptr, 0, nullptr, 0, &rr, &e));
             }},
            {"Ioctl FIONREAD short out", WSAEFAULT,
             [&] {
                 char c;
                 DWORD rr;
                 return r(WSPIoctl(p.client, FIONREAD, nullptr, 0, &c, 1, &rr, &e));
             }},
            {"EnumNetworkEvents NULL", WSAEFAULT,
             [&] { return r(WSPEnumNetworkEvents(p.client, nullptr, nullptr, &e)); }},
            {"GetPeerName short", WSAEFAULT,
             [&] {
                 int len = 4;
                 return r(WSPGetPeerName(p.client, reinterpret_cast<SOCKADDR*>(&out), &len, &e));
             }},
            {"GetPeerName NULL", WSAEFAULT,
             [&] { return r(WSPGetPeerName(p.client, nullptr, &outlen, &e)); }},
            {"GetSockName NULL namelen", WSAEFAULT,
             [&] {
                 return r(WSPGetSockName(p.client, reinterpret_cast<SOCKADDR*>(&out), nullptr, &e));
             }},
            {"Accept short addrlen", WSAEFAULT,
             [&] {
                 int len = 2;
                 return rs(WSPAccept(p.listener, reinterpret_cast<SOCKADDR*>(&out), &len, nullptr,
                                     0, &e));
             }},
            {"Accept addr without addrlen", WSAEFAULT,
             [&] {
                 return rs(WSPAccept(p.listener, reinterpret_cast<SOCKADDR*>(&out), nullptr,
                                     nullptr, 0, &e));
             }},
            // wrong states and arguments
            {"Socket bad af", WSAEAFNOSUPPORT,
             [&] { return rs(WSPSocket(h.a, 23, SOCK_STREAM, 0, &e)); }},
            {"Socket bad type", WSAESOCKTNOSUPPORT,
             [&] { return rs(WSPSocket(h.a, AF_INET, 2, 0, &e)); }},
            {"Socket bad protocol", WSAEPROTONOSUPPORT,
             [&] { return rs(WSPSocket(h.a, AF_INET, SOCK_STREAM, 17, &e)); }},
            {"Socket bad host", WSANOTINITIALISED,
             [&] { return rs(WSPSocket(nullptr, AF_INET, SOCK_STREAM, 0, &e)); }},
            {"Cleanup bad host", WSANOTINITIALISED, [&] { return r(WSPCleanup(nullptr, &e)); }},
            {"Bind foreign address", WSAEADDRNOTAVAIL,
             [&] {
                 SOCKADDR_IN x = sockaddr_of(kAddrB, 1);
                 return r(WSPBind(fresh, sa(x), kSaLen, &e));
             }},
            {"Bind port in use", WSAEADDRINUSE,
             [&] {
                 SOCKADDR_IN x = sockaddr_of(kAddrB, 5000);
                 SOCKET t = new_socket(h.b);
                 int rc = r(WSPBind(t, sa(x), kSaLen, &e));
                 close_socket(t);
                 return rc;
             }},
            {"Bind twice", WSAEINVAL,
             [&] {
                 SOCKADDR_IN x = sockaddr_of(kAddrA, 0);
                 SOCKET t = new_socket(h.a);
                 WSPBind(t, sa(x), kSaLen, &e);
                 int rc = r(WSPBind(t, sa(x), kSaLen, &e));
                 close_socket(t);
                 return rc;
             }},
            {"Listen unbound", WSAEINVAL, [&] { return r(WSPListen(fresh, 1, &e)); }},
            {"Listen connected", WSAEISCONN, [&] { return r(WSPListen(p.client, 1, &e)); }},
            {"Accept not listening", WSAEINVAL,
             [&] { return rs(WSPAccept(fresh, nullptr, nullptr, nullptr, 0, &e)); }},
            {"Connect listener", WSAEINVAL, [&] { return connect_to(p.listener, kAddrB, 5000); }},
            {"Connect port 0", WSAEADDRNOTAVAIL, [&] { return connect_to(fresh, kAddrB, 0); }},
            {"Connect connected", WSAEISCONN, [&] { return connect_to(p.client, kAddrB, 5000); }},
            {"Connect bad family", WSAEAFNOSUPPORT,
             [&] {
                 SOCKADDR_IN x = to;
                 x.sin_family = 23;
                 return r(WSPConnect(fresh, sa(x), kSaLen, nullptr, nullptr, nullptr, nullptr, &e));
             }},
            {"Send fresh", WSAENOTCONN, [&] { return send_str(fresh, "x"); }},
            {"Send listener", WSAENOTCONN, [&] { return send_str(p.listener, "x"); }},
            {"Send flags", WSAEOPNOTSUPP,
             [&] {
                 WSABUF b{1, buf};
                 return r(WSPSend(p.client, &b, 1, &n, 1, &e));
             }},
            {"Recv fresh", WSAENOTCONN, [&] { return recv_bytes(fresh, buf, 1, &n); }},
            {"Recv listener", WSAENOTCONN, [&] { return recv_bytes(p.listener, buf, 1, &n); }},
            {"Recv flags", WSAEOPNOTSUPP,
             [&] {
                 WSABUF b{1, buf};
                 DWORD f = 1;
                 return r(WSPRecv(p.client, &b, 1, &n, &f, &e));
             }},
            {"Shutdown bad how", WSAEINVAL, [&] { return shutdown_socket(p.client, 7); }},
            {"Shutdown listener", WSAENOTCONN,
             [&] { return shutdown_socket(p.listener, SD_BOTH); }},
            {"SendDisconnect listener", WSAENOTCONN,
             [&] { return send_disconnect(p.listener, "x", 1); }},
            {"RecvDisconnect fresh", WSAENOTCONN,
             [&] {
                 std::string d;
                 return recv_disconnect(fresh, &d);
             }},
            {"SetSockOpt unknown", WSAENOPROTOOPT,
             [&] {
                 int v = 1;
                 return r(WSPSetSockOpt(fresh, SOL_SOCKET, 0x4242,
                                        reinterpret_cast<const char*>(&v), sizeof v, &e));
             }},
            {"GetSockOpt unknown level", WSAENOPROTOOPT,
             [&] {
                 int v;
                 return get_int_opt(fresh, 77, SO_TYPE, &v);
             }},
            {"Ioctl unknown code", WSAEINVAL,
             [&] {
                 DWORD rr;
                 return r(WSPIoctl(fresh, 0x12345678, nullptr, 0, nullptr, 0, &rr, &e));
             }},
            {"EventSelect bad event", WSAEINVAL,
             [&] {
                 return r(WSPEventSelect(fresh, reinterpret_cast<WSAEVENT>(&out), FD_READ, &e));
             }},
            {"EventSelect NULL event", WSAEINVAL,
             [&] { return r(WSPEventSelect(fresh, nullptr, FD_READ, &e)); }},
            {"GetPeerName fresh", WSAENOTCONN,
             [&] {
                 return r(WSPGetPeerName(fresh, reinterpret_cast<SOCKADDR*>(&out), &outlen, &e));
             }},
            {"GetSockName fresh", WSAEINVAL,
             [&] {
                 return r(WSPGetSockName(fresh, reinterpret_cast<SOCKADDR*>(&out), &outlen, &e));
             }},
            // Valid calls after all that: the connection still works.
            {"GetPeerName connected", 0,
             [&] {
                 outlen = kSaLen;
                 return r(WSPGetPeerName(p.client, reinterpret_cast<SOCKADDR*>(&out), &outlen, &e));
             }},
            {"Send still works", 0, [&] { return send_str(p.client, "ok"); }},
        };
        for (const Case& c : cases) {
            const std::string what = c.what;
            CAPTURE(what);
            e = 0;
            const int got = c.call();
            CHECK_MESSAGE(got == c.want, c.what << ": got " << WSPErrorName(got) << ", want "
                                                << WSPErrorName(c.want));
        }
        // NULL lpErrno is tolerated. (The zero-buffer WSPRecv on the blocking server returns at
        // once because "ok" has arrived.)
        CHECK(WSPCloseSocket(bogus, nullptr) == SOCKET_ERROR);
        h.run();
        CHECK(WSPRecv(p.server, nullptr, 0, nullptr, nullptr, nullptr) == 0);
        WSACloseEvent(ev);
    }

    TEST_CASE("API misuse - calls on sockets of a host after WSPCleanup fail WSAENOTSOCK") {
        SOCKET s = INVALID_SOCKET;
        WSPHOST gone = nullptr;
        {
            Net h;
            Pair p = connect_pair(h);
            s = p.client;
            gone = h.a;
            REQUIRE(h.cleanup(h.a) == 0);
        }
        check_gone(gone, s);
    }

    TEST_CASE("API misuse - calls on sockets of a host after destroy_host fail WSAENOTSOCK") {
        Net h;
        Pair p = connect_pair(h);
        const SOCKET s = p.client;
        WSPHOST gone = h.a;
        REQUIRE(h.destroy(h.a) == 0);
        check_gone(gone, s);
    }
}
