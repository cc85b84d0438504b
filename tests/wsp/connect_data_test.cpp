// Connect data and conditional accept (DESIGN.md §3c, issue 19): WSPConnect's caller and callee
// data, WSPAccept's condition function (CF_ACCEPT / CF_REJECT / CF_DEFER), SO_CONNDATA,
// SO_CONNDATALEN and SO_CONDITIONAL_ACCEPT -- on virtual time. Each rule's test is named by its
// source: LPWSPACCEPT, LPWSPCONNECT, LPWSPASYNCSELECT's re-enabling table, the
// SO_CONDITIONAL_ACCEPT page, DESIGN.md §3c.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "virtual_fixture.hpp"

using namespace wsptest;

namespace {

// What a condition function saw, and what it answers.
struct Judge {
    int answer = CF_ACCEPT;
    std::string callee;  // CF_ACCEPT: written into lpCalleeData (as much as fits)
    int set_group = 0;   // nonzero: *g gets it
    // Seen on the last call.
    int calls = 0;
    bool caller_data_null = false;
    std::string caller_data;
    SOCKADDR_IN caller{};
    SOCKADDR_IN callee_id{};
    u_long callee_room = 0;
    bool qos_null = false;
    // Called from inside the function (the API lock is not held there).
    SOCKET listener = INVALID_SOCKET;
    int nested_accept_error = 0;   // WSPAccept on the same listener, from inside
    int nested_getsockopt = -1;    // WSPGetSockOpt(SO_TYPE) on the listener, from inside
    std::function<void()> during;  // run inside the function (e.g. let virtual time pass)
};

int CALLBACK judge(LPWSABUF caller_id, LPWSABUF caller_data, LPQOS sqos, LPQOS gqos,
                   LPWSABUF callee_id, LPWSABUF callee_data, GROUP* g, DWORD_PTR data) {
    auto* j = reinterpret_cast<Judge*>(data);
    ++j->calls;
    j->caller_data_null = caller_data == nullptr;
    j->caller_data = caller_data != nullptr ? std::string(caller_data->buf, caller_data->len) : "";
    if (caller_id != nullptr && caller_id->len >= sizeof(SOCKADDR_IN))
        std::memcpy(&j->caller, caller_id->buf, sizeof(SOCKADDR_IN));
    if (callee_id != nullptr && callee_id->len >= sizeof(SOCKADDR_IN))
        std::memcpy(&j->callee_id, callee_id->buf, sizeof(SOCKADDR_IN));
    j->qos_null = sqos == nullptr && gqos == nullptr;
    j->callee_room = callee_data != nullptr ? callee_data->len : 0;
    if (j->during)
        j->during();
    if (j->listener != INVALID_SOCKET) {
        int err = 0;
        if (WSPAccept(j->listener, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET)
            j->nested_accept_error = err;
        int type = 0;
        int len = sizeof type;
        if (WSPGetSockOpt(j->listener, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len,
                          &err) == 0)
            j->nested_getsockopt = type;
    }
    if (callee_data != nullptr && j->answer == CF_ACCEPT) {
        const std::size_t n = std::min<std::size_t>(j->callee.size(), callee_data->len);
        std::memcpy(callee_data->buf, j->callee.data(), n);
        callee_data->len = static_cast<u_long>(n);
    }
    if (j->set_group != 0)
        *g = static_cast<GROUP>(j->set_group);
    return j->answer;
}

// WSPAccept with the judge; returns the socket or INVALID_SOCKET with *err.
SOCKET accept_with(SOCKET listener, Judge& j, int* err, SOCKADDR_IN* addr = nullptr) {
    int len = sizeof(SOCKADDR_IN);
    return WSPAccept(listener, reinterpret_cast<SOCKADDR*>(addr), addr != nullptr ? &len : nullptr,
                     &judge, reinterpret_cast<DWORD_PTR>(&j), err);
}

u_short port_of(const SOCKADDR_IN& sin) {
    const auto* p = reinterpret_cast<const unsigned char*>(&sin.sin_port);
    return static_cast<u_short>((p[0] << 8) | p[1]);
}

// The local port of a socket (WSPGetSockName).
u_short local_port(SOCKET s) {
    SOCKADDR_IN sin{};
    int len = sizeof sin;
    int err = 0;
    REQUIRE(WSPGetSockName(s, reinterpret_cast<SOCKADDR*>(&sin), &len, &err) == 0);
    return port_of(sin);
}

// A non-blocking listener on b:port (SO_CONDITIONAL_ACCEPT if `conditional`, set before listen).
SOCKET listener_on(Net& net, std::uint16_t port, bool conditional = false) {
    const SOCKET l = new_socket(net.b);
    int err = 0;
    if (conditional) {
        const BOOL on = 1;
        REQUIRE(WSPSetSockOpt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT,
                              reinterpret_cast<const char*>(&on), sizeof on, &err) == 0);
    }
    const SOCKADDR_IN at = sockaddr_of(kAddrB, port);
    REQUIRE(WSPBind(l, sa(at), kSaLen, &err) == 0);
    REQUIRE(WSPListen(l, 16, &err) == 0);
    REQUIRE(set_nonblocking(l, true) == 0);
    return l;
}

// Non-blocking WSPConnect with caller data (nullptr: none) and a callee buffer.
int connect_data(SOCKET s, std::uint16_t port, const std::string* caller, WSABUF* callee) {
    WSABUF cb{caller != nullptr ? static_cast<u_long>(caller->size()) : 0,
              caller != nullptr ? const_cast<CHAR*>(caller->data()) : nullptr};
    const SOCKADDR_IN to = sockaddr_of(kAddrB, port);
    int err = 0;
    return WSPConnect(s, sa(to), kSaLen, caller != nullptr ? &cb : nullptr, callee, nullptr,
                      nullptr, &err) == 0
               ? 0
               : err;
}

// SO_CONNDATA of a socket as a string (a `cap`-byte buffer); *err the code.
std::string conn_data(SOCKET s, int* err, int cap = 64) {
    std::vector<char> buf(static_cast<std::size_t>(cap) + 1);
    int len = cap;
    *err = 0;
    if (WSPGetSockOpt(s, SOL_SOCKET, SO_CONNDATA, buf.data(), &len, err) != 0)
        return {};
    return std::string(buf.data(), static_cast<std::size_t>(len));
}

}  // namespace

TEST_SUITE("wsp") {
    // ---- WSPConnect's arguments ---------------------------------------------------------------

    TEST_CASE("LPWSPCONNECT: a non-NULL lpSQOS or lpGQOS fails WSAEOPNOTSUPP and sends nothing") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = nb_socket(net.a);
        QOS qos{};
        const SOCKADDR_IN to = sockaddr_of(kAddrB, 5000);
        int err = 0;
        CHECK(WSPConnect(c, sa(to), kSaLen, nullptr, nullptr, &qos, nullptr, &err) == SOCKET_ERROR);
        CHECK(err == WSAEOPNOTSUPP);
        CHECK(WSPConnect(c, sa(to), kSaLen, nullptr, nullptr, nullptr, &qos, &err) == SOCKET_ERROR);
        CHECK(err == WSAEOPNOTSUPP);
        net.advance(5s);
        CHECK(host_stat(net.a, "segments_out") == 0);
        CHECK_FALSE(readable(l));
        // The socket is still unconnected: a plain connect works.
        CHECK(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        CHECK(net.until_writable(c));
    }

    TEST_CASE("LPWSPCONNECT: lpCallerData or lpCalleeData with len and a NULL buf fail WSAEFAULT") {
        Net net;
        const SOCKET c = nb_socket(net.a);
        WSABUF bad{4, nullptr};
        const SOCKADDR_IN to = sockaddr_of(kAddrB, 5000);
        int err = 0;
        CHECK(WSPConnect(c, sa(to), kSaLen, &bad, nullptr, nullptr, nullptr, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        CHECK(WSPConnect(c, sa(to), kSaLen, nullptr, &bad, nullptr, nullptr, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        net.advance(5s);
        CHECK(host_stat(net.a, "segments_out") == 0);
    }

    TEST_CASE(
        "DESIGN.md §3c: caller data on a host without the disconnect-data option fails "
        "WSAENOPROTOOPT and sends nothing") {
        NetParams np;
        np.a.disconnect_data = 0;
        Net net(np);
        (void)listener_on(net, 5000);
        const SOCKET c = nb_socket(net.a);
        const std::string hello = "client-7";
        CHECK(connect_data(c, 5000, &hello, nullptr) == WSAENOPROTOOPT);
        net.advance(5s);
        CHECK(host_stat(net.a, "segments_out") == 0);
        int limit = -1;
        CHECK(get_int_opt(c, SOL_SOCKET, SO_CONNDATALEN, &limit) == 0);
        CHECK(limit == 0);
        CHECK((WSPGetServiceFlags(net.a) & XP1_CONNECT_DATA) == 0);
    }

    TEST_CASE(
        "LPWSPCONNECT: zero bytes of caller data are none and lpCalleeData->len is set to 0 when "
        "no callee data came back") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = nb_socket(net.a);
        const std::string none;
        char room[32];
        WSABUF callee{sizeof room, room};
        REQUIRE(connect_data(c, 5000, &none, &callee) == WSAEWOULDBLOCK);
        REQUIRE(net.until_writable(c));
        // "valid ... after the FD_CONNECT notification has occurred" for a non-blocking socket.
        CHECK(callee.len == 0);
        REQUIRE(net.until_readable(l));
        const SOCKET s = accept_now(l);
        int err = 0;
        CHECK(conn_data(s, &err).empty());
        CHECK(err == 0);
        CHECK(conn_data(c, &err).empty());
        CHECK(err == 0);
    }

    // ---- the condition function on a listener without SO_CONDITIONAL_ACCEPT ---------------------

    TEST_CASE(
        "LPWSPACCEPT: the condition function gets the caller's address and ours and no "
        "lpCalleeData room after the handshake") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = connect_client(net, 5000);
        REQUIRE(net.until_readable(l));
        Judge j;
        int err = 0;
        SOCKADDR_IN addr{};
        const SOCKET s = accept_with(l, j, &err, &addr);
        REQUIRE_MESSAGE(s != INVALID_SOCKET, WSPErrorName(err));
        CHECK(j.calls == 1);
        CHECK(j.caller.sin_family == AF_INET);
        CHECK(j.caller.sin_addr.s_addr == kAddrA.s_addr);
        CHECK(port_of(j.caller) == local_port(c));
        CHECK(j.callee_id.sin_addr.s_addr == kAddrB.s_addr);
        CHECK(port_of(j.callee_id) == 5000);
        // "A value of zero means passing user data back to the caller is not supported": the
        // SYN-ACK has gone.
        CHECK(j.callee_room == 0);
        CHECK(j.caller_data_null);  // no caller data: "the corresponding parameter will be null"
        CHECK(j.qos_null);
        CHECK(port_of(addr) == local_port(c));
        REQUIRE(send_str(c, "hi") == 0);
        REQUIRE(net.until_readable(s));
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(s, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "hi");
    }

    TEST_CASE(
        "LPWSPACCEPT: CF_REJECT resets the established connection and fails WSAECONNREFUSED") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = connect_client(net, 5000);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.answer = CF_REJECT;
        int err = 0;
        SOCKADDR_IN addr{};
        CHECK(accept_with(l, j, &err, &addr) == INVALID_SOCKET);
        CHECK(err == WSAECONNREFUSED);
        // "filled in regardless of whether the condition function is specified or what it
        // returns".
        CHECK(port_of(addr) == local_port(c));
        CHECK(host_stat(net.b, "accept_rejected") == 1);
        REQUIRE(net.until_readable(c));
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(c, buf, sizeof buf, &n) == WSAECONNRESET);
        // Nothing left to accept.
        CHECK(WSPAccept(l, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET);
        CHECK(err == WSAEWOULDBLOCK);
    }

    TEST_CASE(
        "LPWSPACCEPT: CF_DEFER fails WSATRY_AGAIN and keeps the connection at the head of the "
        "queue") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c1 = connect_client(net, 5000);
        const SOCKET c2 = connect_client(net, 5000);
        REQUIRE(net.run_until([&] { return host_stat(net.b, "connections_current") == 2; }, kBound,
                              "two connections"));
        net.run();
        Judge j;
        j.answer = CF_DEFER;
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSATRY_AGAIN);
        CHECK(port_of(j.caller) == local_port(c1));
        CHECK(readable(l));  // still something to accept
        // The next WSPAccept asks again about the same connection.
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSATRY_AGAIN);
        CHECK(port_of(j.caller) == local_port(c1));
        CHECK(host_stat(net.b, "accept_deferred") == 2);
        j.answer = CF_ACCEPT;
        const SOCKET s1 = accept_with(l, j, &err);
        REQUIRE(s1 != INVALID_SOCKET);
        CHECK(port_of(j.caller) == local_port(c1));
        // Without a condition function: the next one, no questions asked.
        SOCKADDR_IN addr{};
        int len = sizeof addr;
        const SOCKET s2 = WSPAccept(l, reinterpret_cast<SOCKADDR*>(&addr), &len, nullptr, 0, &err);
        REQUIRE(s2 != INVALID_SOCKET);
        CHECK(port_of(addr) == local_port(c2));
        CHECK(j.calls == 3);
    }

    TEST_CASE(
        "LPWSPASYNCSELECT: FD_ACCEPT is not re-enabled by a WSPAccept that fails WSATRY_AGAIN") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        Events ev(l, FD_ACCEPT);
        (void)connect_client(net, 5000);
        REQUIRE(net.until_event(ev, FD_ACCEPT));
        ev.take(FD_ACCEPT);
        Judge j;
        j.answer = CF_DEFER;
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSATRY_AGAIN);
        (void)connect_client(net, 5000);  // a second connection arrives
        net.advance(5s);
        CHECK_FALSE(ev.has(FD_ACCEPT));  // not re-enabled
        // Any other WSPAccept re-enables it, and what is still queued is recorded again.
        j.answer = CF_ACCEPT;
        REQUIRE(accept_with(l, j, &err) != INVALID_SOCKET);
        CHECK(ev.has(FD_ACCEPT));
    }

    TEST_CASE(
        "LPWSPACCEPT: a condition function answering neither CF_ACCEPT nor CF_REJECT nor CF_DEFER "
        "or setting g fails WSAEINVAL and leaves the connection queued") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = connect_client(net, 5000);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.answer = 7;
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAEINVAL);
        j.answer = CF_ACCEPT;
        j.set_group = 1;  // SG_UNCONSTRAINED_GROUP: ustack has no socket groups
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAEINVAL);
        j.set_group = 0;
        const SOCKET s = accept_with(l, j, &err);
        REQUIRE(s != INVALID_SOCKET);
        CHECK(port_of(j.caller) == local_port(c));
    }

    TEST_CASE(
        "LPWSPACCEPT: the condition function may call WSP functions and a WSPAccept on the same "
        "listener meanwhile fails WSAEINPROGRESS") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        (void)connect_client(net, 5000);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.listener = l;
        int err = 0;
        const SOCKET s = accept_with(l, j, &err);
        REQUIRE_MESSAGE(s != INVALID_SOCKET, WSPErrorName(err));
        CHECK(j.nested_accept_error == WSAEINPROGRESS);
        CHECK(j.nested_getsockopt == SOCK_STREAM);
    }

    TEST_CASE(
        "LPWSPACCEPT: a deferred connection the caller resets fails the next WSPAccept "
        "WSAECONNRESET") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = connect_client(net, 5000);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.answer = CF_DEFER;
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSATRY_AGAIN);
        REQUIRE(set_linger(c, 1, 0) == 0);
        REQUIRE(close_socket(c) == 0);  // RST
        net.run();
        j.answer = CF_ACCEPT;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAECONNRESET);
        CHECK(WSPAccept(l, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET);
        CHECK(err == WSAEWOULDBLOCK);
        CHECK_FALSE(readable(l));
    }

    TEST_CASE("LPWSPACCEPT: closing a listener resets the connection it deferred") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = connect_client(net, 5000);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.answer = CF_DEFER;
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        REQUIRE(close_socket(l) == 0);
        REQUIRE(net.until_readable(c));
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(c, buf, sizeof buf, &n) == WSAECONNRESET);
        CHECK(net.until_no_connections(net.b));
    }

    // ---- SO_CONDITIONAL_ACCEPT, SO_CONNDATA, SO_CONNDATALEN -------------------------------------

    TEST_CASE(
        "SO_CONDITIONAL_ACCEPT: off by default - set before WSPListen - WSAEINVAL on a listening "
        "socket - WSAEFAULT below a DWORD") {
        Net net;
        const SOCKET l = new_socket(net.b);
        int v = -1;
        CHECK(get_int_opt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, &v) == 0);
        CHECK(v == 0);
        int err = 0;
        const BOOL on = 1;
        const char tiny = 1;
        CHECK(WSPSetSockOpt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, &tiny, 1, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        CHECK(WSPSetSockOpt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT,
                            reinterpret_cast<const char*>(&on), sizeof on, &err) == 0);
        CHECK(get_int_opt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, &v) == 0);
        CHECK(v == 1);
        const SOCKADDR_IN at = sockaddr_of(kAddrB, 5000);
        REQUIRE(WSPBind(l, sa(at), kSaLen, &err) == 0);
        REQUIRE(WSPListen(l, 4, &err) == 0);
        const BOOL off = 0;
        CHECK(WSPSetSockOpt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT,
                            reinterpret_cast<const char*>(&off), sizeof off, &err) == SOCKET_ERROR);
        CHECK(err == WSAEINVAL);
        CHECK(get_int_opt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, &v) == 0);
        CHECK(v == 1);
    }

    TEST_CASE("SO_CONNOPT and SO_DISCDATA are not supported (WSAENOPROTOOPT)") {
        Net net;
        const SOCKET s = new_socket(net.a);
        int v = 0;
        CHECK(get_int_opt(s, SOL_SOCKET, SO_CONNOPT, &v) == WSAENOPROTOOPT);
        CHECK(get_int_opt(s, SOL_SOCKET, SO_DISCDATA, &v) == WSAENOPROTOOPT);
        int err = 0;
        CHECK(WSPSetSockOpt(s, SOL_SOCKET, SO_CONNDATA, "x", 1, &err) == SOCKET_ERROR);
        CHECK(err == WSAENOPROTOOPT);  // caller data goes in WSPConnect's lpCallerData
    }

    // ---- the data on the wire (DESIGN.md §3c) -----------------------------------------------

    TEST_CASE(
        "DESIGN.md §3c: caller data reaches the condition function and the accepted socket's "
        "SO_CONNDATA - SO_CONNDATALEN is 16 and 12 on a message socket") {
        Net net;
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = nb_socket(net.a);
        int limit = 0;
        CHECK(get_int_opt(c, SOL_SOCKET, SO_CONNDATALEN, &limit) == 0);
        CHECK(limit == 16);
        int err = 0;
        const SOCKET m = WSPSocket(net.a, AF_INET, SOCK_SEQPACKET, IPPROTO_TCP, &err);
        REQUIRE(m != INVALID_SOCKET);
        CHECK(get_int_opt(m, SOL_SOCKET, SO_CONNDATALEN, &limit) == 0);
        CHECK(limit == 12);
        CHECK((WSPGetServiceFlags(net.a) & XP1_CONNECT_DATA) != 0);
        const std::string hello = "client-7";
        REQUIRE(connect_data(c, 5000, &hello, nullptr) == WSAEWOULDBLOCK);
        REQUIRE(net.until_writable(c));
        REQUIRE(net.until_readable(l));
        Judge j;
        const SOCKET s = accept_with(l, j, &err);
        REQUIRE_MESSAGE(s != INVALID_SOCKET, WSPErrorName(err));
        CHECK_FALSE(j.caller_data_null);
        CHECK(j.caller_data == hello);
        CHECK(j.callee_room == 0);  // the handshake is done: no callee data
        CHECK(conn_data(s, &err) == hello);
        CHECK(conn_data(c, &err).empty());  // the SYN-ACK echoed with no callee data
        // A buffer too small for it: WSAEFAULT.
        (void)conn_data(s, &err, 3);
        CHECK(err == WSAEFAULT);
    }

    TEST_CASE(
        "DESIGN.md §3c: caller data longer than SO_CONNDATALEN fails WSAEMSGSIZE and sends "
        "nothing") {
        Net net;
        (void)listener_on(net, 5000);
        const SOCKET c = nb_socket(net.a);
        const std::string too_long(17, 'x');
        CHECK(connect_data(c, 5000, &too_long, nullptr) == WSAEMSGSIZE);
        net.advance(5s);
        CHECK(host_stat(net.a, "segments_out") == 0);
        const std::string just(16, 'y');
        CHECK(connect_data(c, 5000, &just, nullptr) == WSAEWOULDBLOCK);
        CHECK(net.until_writable(c));
    }

    TEST_CASE(
        "DESIGN.md §3c: a SYN-ACK that does not echo the offer resets the half-open connection "
        "and the connect fails WSAENOPROTOOPT") {
        NetParams np;
        np.b.disconnect_data = 0;  // a peer without the extension (as Linux)
        Net net(np);
        const SOCKET l = listener_on(net, 5000);
        const SOCKET c = nb_socket(net.a);
        Events ev(c, FD_CONNECT);
        const std::string hello = "client-7";
        REQUIRE(connect_data(c, 5000, &hello, nullptr) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(ev, FD_CONNECT));
        CHECK(ev.error(FD_CONNECT_BIT) == WSAENOPROTOOPT);
        int e = 0;
        CHECK(get_int_opt(c, SOL_SOCKET, SO_ERROR, &e) == 0);
        CHECK(e == WSAENOPROTOOPT);
        CHECK(host_stat(net.a, "connect_data_refused") == 1);
        // The listener's half-open connection was reset: nothing to accept.
        net.advance(kPastEveryDeadline);
        int err = 0;
        CHECK(WSPAccept(l, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET);
        CHECK(err == WSAEWOULDBLOCK);
    }

    // ---- SO_CONDITIONAL_ACCEPT listeners --------------------------------------------------------

    TEST_CASE(
        "SO_CONDITIONAL_ACCEPT: the SYN is held until CF_ACCEPT - whose callee data rides on the "
        "SYN-ACK into lpCalleeData - then WSPAccept returns the connection without asking "
        "again") {
        Net net;
        const SOCKET l = listener_on(net, 5000, true);
        Events lev(l, FD_ACCEPT);
        const SOCKET c = nb_socket(net.a);
        char room[32];
        WSABUF callee{sizeof room, room};
        const std::string hello = "client-7";
        REQUIRE(connect_data(c, 5000, &hello, &callee) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(lev, FD_ACCEPT));  // a held request
        net.advance(5s);
        CHECK_FALSE(writable(c));  // no SYN-ACK: the SYN (and its retransmissions) held
        CHECK(host_stat(net.b, "held_syns_absorbed") >= 1);
        Judge j;
        j.callee = "session-42";
        int err = 0;
        SOCKADDR_IN addr{};
        CHECK(accept_with(l, j, &err, &addr) == INVALID_SOCKET);
        CHECK(err == WSAEWOULDBLOCK);  // non-blocking: FD_ACCEPT once it is established
        CHECK(j.caller_data == hello);
        CHECK(j.callee_room == 16);
        CHECK(port_of(addr) == local_port(c));
        REQUIRE(net.until_writable(c));
        CHECK(std::string(room, callee.len) == "session-42");
        REQUIRE(net.until_readable(l));
        const SOCKET s = accept_with(l, j, &err);
        REQUIRE_MESSAGE(s != INVALID_SOCKET, WSPErrorName(err));
        CHECK(j.calls == 1);
        CHECK(conn_data(s, &err) == hello);
        CHECK(conn_data(c, &err) == "session-42");
    }

    TEST_CASE(
        "SO_CONDITIONAL_ACCEPT: CF_REJECT answers the held SYN with a RST and the connect fails "
        "WSAECONNREFUSED") {
        Net net;
        const SOCKET l = listener_on(net, 5000, true);
        const SOCKET c = nb_socket(net.a);
        Events ev(c, FD_CONNECT);
        REQUIRE(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.answer = CF_REJECT;
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAECONNREFUSED);
        REQUIRE(net.until_event(ev, FD_CONNECT));
        CHECK(ev.error(FD_CONNECT_BIT) == WSAECONNREFUSED);
        CHECK(host_stat(net.b, "accept_rejected") == 1);
        CHECK_FALSE(readable(l));
    }

    TEST_CASE(
        "SO_CONDITIONAL_ACCEPT: CF_DEFER fails WSATRY_AGAIN and keeps the SYN held - the next "
        "WSPAccept asks again") {
        Net net;
        const SOCKET l = listener_on(net, 5000, true);
        const SOCKET c = nb_socket(net.a);
        const std::string hello = "again";
        REQUIRE(connect_data(c, 5000, &hello, nullptr) == WSAEWOULDBLOCK);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.answer = CF_DEFER;
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSATRY_AGAIN);
        net.advance(3s);
        CHECK_FALSE(writable(c));
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSATRY_AGAIN);
        CHECK(j.caller_data == hello);
        j.answer = CF_ACCEPT;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAEWOULDBLOCK);
        REQUIRE(net.until_readable(l));
        CHECK(accept_with(l, j, &err) != INVALID_SOCKET);
        CHECK(j.calls == 3);
        CHECK(writable(c));
    }

    TEST_CASE(
        "SO_CONDITIONAL_ACCEPT: a held request nobody decides on is dropped after the bound and "
        "counted") {
        Net net;
        const SOCKET l = listener_on(net, 5000, true);
        const SOCKET c = nb_socket(net.a);
        REQUIRE(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_readable(l));
        REQUIRE(net.run_until([&] { return host_stat(net.b, "held_requests_expired") >= 1; }, 40s,
                              "the held request expired"));
        CHECK_FALSE(writable(c));
    }

    TEST_CASE(
        "SO_CONDITIONAL_ACCEPT: callee data for a caller whose SYN has no offer fails "
        "WSAENOPROTOOPT and the request stays held") {
        NetParams np;
        np.a.disconnect_data = 0;  // the caller has no extension (as Linux)
        Net net(np);
        const SOCKET l = listener_on(net, 5000, true);
        const SOCKET c = nb_socket(net.a);
        REQUIRE(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.callee = "nope";
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAENOPROTOOPT);
        j.callee.clear();
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAEWOULDBLOCK);
        REQUIRE(net.until_readable(l));
        CHECK(accept_with(l, j, &err) != INVALID_SOCKET);
        CHECK(writable(c));
    }

    TEST_CASE(
        "LPWSPACCEPT: a held request that expires while the condition function runs fails "
        "WSAEACCES") {
        Net net;
        const SOCKET l = listener_on(net, 5000, true);
        const SOCKET c = nb_socket(net.a);
        REQUIRE(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_readable(l));
        Judge j;
        // The function takes its time: the request's 30 s bound passes meanwhile.
        j.during = [&] { net.advance(30500ms); };
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAEACCES);  // "the connection request that was offered has timed out"
        CHECK(host_stat(net.b, "held_requests_expired") >= 1);
    }

    TEST_CASE(
        "LPWSPCONNECT: a non-blocking connect whose lpCalleeData is too small writes nothing "
        "and SO_CONNDATA has the callee data") {
        Net net;
        const SOCKET l = listener_on(net, 5000, true);
        const SOCKET c = nb_socket(net.a);
        char tiny[4] = {'-', '-', '-', '-'};
        WSABUF callee{sizeof tiny, tiny};
        const std::string hello = "client-7";
        REQUIRE(connect_data(c, 5000, &hello, &callee) == WSAEWOULDBLOCK);
        REQUIRE(net.until_readable(l));
        Judge j;
        j.callee = "session-42";
        int err = 0;
        CHECK(accept_with(l, j, &err) == INVALID_SOCKET);
        CHECK(err == WSAEWOULDBLOCK);
        REQUIRE(net.until_writable(c));  // connected: FD_CONNECT 0
        CHECK(callee.len == sizeof tiny);
        CHECK(std::string(tiny, sizeof tiny) == "----");
        CHECK(conn_data(c, &err) == "session-42");
        (void)conn_data(c, &err, 4);
        CHECK(err == WSAEFAULT);
    }

    TEST_CASE(
        "DESIGN.md §3c: 1000 connections under 10 pct loss through a conditional listener - every "
        "caller and callee byte arrives exactly once") {
        NetParams np;
        np.loss = 0.10;
        np.seed = 19;
        Net net(np);
        const SOCKET l = listener_on(net, 5000, true);
        constexpr int kTotal = 1000;
        constexpr int kWave = 50;
        // The server's condition function answers each caller "c<i>" with "s<i>".
        struct Echo {
            int calls = 0;
        } echo;
        auto answer = [](LPWSABUF, LPWSABUF caller_data, LPQOS, LPQOS, LPWSABUF,
                         LPWSABUF callee_data, GROUP*, DWORD_PTR data) -> int {
            ++reinterpret_cast<Echo*>(data)->calls;
            if (caller_data == nullptr || caller_data->len < 2 || callee_data == nullptr ||
                callee_data->len < caller_data->len)
                return CF_REJECT;
            std::memcpy(callee_data->buf, caller_data->buf, caller_data->len);
            callee_data->buf[0] = 's';
            callee_data->len = caller_data->len;
            return CF_ACCEPT;
        };
        std::vector<std::string> callers(kTotal);
        std::vector<std::array<char, 32>> rooms(kTotal);
        std::vector<WSABUF> callee(kTotal);
        std::vector<SOCKET> clients(kTotal, INVALID_SOCKET);
        std::vector<int> seen(kTotal, 0);  // caller data the server accepted, per client
        int accepted_total = 0;
        for (int first = 0; first < kTotal; first += kWave) {
            const int last = std::min(first + kWave, kTotal);
            for (int i = first; i < last; ++i) {
                std::array<char, 16> name{};
                (void)std::snprintf(name.data(), name.size(), "c%d", i);
                // Constructed, not assigned: GCC 12's -O3 -Wrestrict false positive in
                // basic_string::_M_replace.
                callers[static_cast<std::size_t>(i)] = std::string(name.data());
                callee[static_cast<std::size_t>(i)] = {32,
                                                       rooms[static_cast<std::size_t>(i)].data()};
                clients[static_cast<std::size_t>(i)] = nb_socket(net.a);
                REQUIRE(connect_data(clients[static_cast<std::size_t>(i)], 5000,
                                     &callers[static_cast<std::size_t>(i)],
                                     &callee[static_cast<std::size_t>(i)]) == WSAEWOULDBLOCK);
            }
            std::vector<SOCKET> servers;
            while (static_cast<int>(servers.size()) < last - first) {
                int err = 0;
                const SOCKET s = WSPAccept(l, nullptr, nullptr, answer,
                                           reinterpret_cast<DWORD_PTR>(&echo), &err);
                if (s != INVALID_SOCKET) {
                    servers.push_back(s);
                    const std::string got = conn_data(s, &err);
                    REQUIRE(got.size() >= 2);
                    const int i = std::stoi(got.substr(1));
                    REQUIRE(i >= first);
                    REQUIRE(i < last);
                    REQUIRE(got == callers[static_cast<std::size_t>(i)]);
                    ++seen[static_cast<std::size_t>(i)];
                    continue;
                }
                REQUIRE_MESSAGE(err == WSAEWOULDBLOCK, WSPErrorName(err));
                REQUIRE(net.until_readable(l, 10min));
            }
            accepted_total += static_cast<int>(servers.size());
            for (int i = first; i < last; ++i) {
                const auto k = static_cast<std::size_t>(i);
                REQUIRE(net.until_writable(clients[k], 10min));
                std::string want = callers[k];
                want[0] = 's';
                CHECK(std::string(rooms[k].data(), callee[k].len) == want);
                REQUIRE(set_linger(clients[k], 1, 0) == 0);
                REQUIRE(close_socket(clients[k]) == 0);
            }
            for (SOCKET s : servers) {
                REQUIRE(set_linger(s, 1, 0) == 0);
                REQUIRE(close_socket(s) == 0);
            }
            net.run();
        }
        CHECK(accepted_total == kTotal);
        for (int i = 0; i < kTotal; ++i) CHECK(seen[static_cast<std::size_t>(i)] == 1);
        CHECK(echo.calls == kTotal);  // one verdict per request: retransmitted SYNs absorbed
        MESSAGE("lost " << net.link_stats().lost << ", held SYNs absorbed "
                        << host_stat(net.b, "held_syns_absorbed"));
    }
}
