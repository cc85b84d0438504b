// SEMANTICS.md checklist 55-61: blocking vs non-blocking calls, protocol info, SO_DISCDATALEN;
// and WSPSelect.
#include <string>

#include "wsp_fixture.hpp"

using namespace wsptest;

TEST_SUITE("wsp") {
    TEST_CASE("SEMANTICS 55 56 - non-blocking connect WSAEWOULDBLOCK then WSAEALREADY while in progress and WSAEISCONN once connected") {
        Hosts h;
        const SOCKET listener = listen_on(h.b, kAddrB, 5000);
        (void)listener;
        h.set_loss(1.0);  // hold the handshake so the connect stays in progress
        const SOCKET c = new_socket(h.a);
        REQUIRE(set_nonblocking(c, true) == 0);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEALREADY);
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(c, buf, sizeof buf, &n) == WSAEWOULDBLOCK);  // not yet connected
        Events ev(c, FD_CONNECT);
        CHECK_FALSE(wait_event(ev, FD_CONNECT, kQuiet));
        h.set_loss(0.0);  // the SYN retransmission gets through
        REQUIRE(wait_event(ev, FD_CONNECT));
        CHECK(ev.error(FD_CONNECT_BIT) == 0);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEISCONN);
        // Blocking connect: WSAEISCONN too.
        const SOCKET b = new_socket(h.a);
        REQUIRE(connect_to(b, kAddrB, 5000) == 0);
        CHECK(connect_to(b, kAddrB, 5000) == WSAEISCONN);
        // Blocking connect to a closed port fails WSAECONNREFUSED.
        CHECK(connect_to(new_socket(h.a), kAddrB, 5999) == WSAECONNREFUSED);
    }

    TEST_CASE("SEMANTICS 57 58 59 - non-blocking accept recv and send fail WSAEWOULDBLOCK") {
        PairParams pp;
        pp.a.send_buffer = 4096;
        pp.b.recv_buffer = 2048;
        Hosts h(pp);
        Pair p = connect_pair(h);
        REQUIRE(set_nonblocking(p.listener, true) == 0);
        int err = 0;
        CHECK(WSPAccept(p.listener, nullptr, nullptr, &err) == INVALID_SOCKET);  // 57
        CHECK(err == WSAEWOULDBLOCK);
        REQUIRE(set_nonblocking(p.server, true) == 0);
        char buf[16];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAEWOULDBLOCK);  // 58
        REQUIRE(set_nonblocking(p.client, true) == 0);
        int e = 0;
        std::size_t total = 0;
        for (int i = 0; i < 1000 && e == 0; ++i) {
            DWORD sent = 0;
            e = send_str(p.client, pattern(1000), &sent);
            total += sent;
        }
        CHECK(e == WSAEWOULDBLOCK);  // 59
        CHECK(total >= 4096);
    }

    TEST_CASE("SEMANTICS 60 61 - XP1 flags via WSPGetServiceFlags and SO_DISCDATALEN") {
        PairParams pp;
        pp.a.disconnect_data = 0;
        Hosts h(pp);
        CHECK((WSPGetServiceFlags(h.a) & XP1_GRACEFUL_CLOSE) != 0);
        CHECK((WSPGetServiceFlags(h.a) & XP1_DISCONNECT_DATA) == 0);
        CHECK(WSPGetServiceFlags(h.b) == (XP1_GRACEFUL_CLOSE | XP1_DISCONNECT_DATA));
        CHECK(WSPGetServiceFlags(nullptr) == 0);
        Hosts both;
        Pair p = connect_pair(both);
        int limit = 0;
        REQUIRE(get_int_opt(p.server, SOL_SOCKET, SO_DISCDATALEN, &limit) == 0);
        CHECK(limit > 0);
        CHECK(limit <= 36);
        char small[2];
        int len = sizeof small;
        int err = 0;
        CHECK(WSPGetSockOpt(p.server, SOL_SOCKET, SO_DISCDATALEN, small, &len, &err) ==
              SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
    }

    TEST_CASE("WSPSelect - readable writable and exceptfds with timeouts") {
        Hosts h;
        Pair p = connect_pair(h);
        int err = 0;
        WSP_FD_SET rd{};
        rd.fd_count = 1;
        rd.fd_array[0] = p.server;
        TIMEVAL zero{0, 0};
        CHECK(WSPSelect(0, &rd, nullptr, nullptr, &zero, &err) == 0);  // nothing to read
        CHECK(rd.fd_count == 0);
        WSP_FD_SET wr{};
        wr.fd_count = 2;
        wr.fd_array[0] = p.client;
        wr.fd_array[1] = p.server;
        CHECK(WSPSelect(0, nullptr, &wr, nullptr, &zero, &err) == 2);
        REQUIRE(send_str(p.client, "x") == 0);
        rd.fd_count = 1;
        rd.fd_array[0] = p.server;
        TIMEVAL tv{30, 0};
        CHECK(WSPSelect(0, &rd, nullptr, nullptr, &tv, &err) == 1);
        CHECK(rd.fd_count == 1);
        CHECK(rd.fd_array[0] == p.server);
        // A listener with a pending connection is readable.
        const SOCKET c2 = new_socket(h.a);
        REQUIRE(connect_to(c2, kAddrB, 5000) == 0);
        rd.fd_count = 1;
        rd.fd_array[0] = p.listener;
        CHECK(WSPSelect(0, &rd, nullptr, nullptr, &tv, &err) == 1);
        // A failed non-blocking connect shows in exceptfds.
        const SOCKET r = new_socket(h.a);
        REQUIRE(set_nonblocking(r, true) == 0);
        CHECK(connect_to(r, kAddrB, 5999) == WSAEWOULDBLOCK);
        WSP_FD_SET ex{};
        ex.fd_count = 1;
        ex.fd_array[0] = r;
        CHECK(WSPSelect(0, nullptr, nullptr, &ex, &tv, &err) == 1);
        // A socket with end of stream is readable.
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        char buf[4];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        rd.fd_count = 1;
        rd.fd_array[0] = p.server;
        CHECK(WSPSelect(0, &rd, nullptr, nullptr, &tv, &err) == 1);
        // Errors.
        WSP_FD_SET bad{};
        bad.fd_count = 1;
        bad.fd_array[0] = 0xdead;
        CHECK(WSPSelect(0, &bad, nullptr, nullptr, &zero, &err) == SOCKET_ERROR);
        CHECK(err == WSAENOTSOCK);
        CHECK(WSPSelect(0, nullptr, nullptr, nullptr, &zero, &err) == SOCKET_ERROR);
        CHECK(err == WSAEINVAL);
        TIMEVAL negative{-1, 0};
        rd.fd_count = 1;
        rd.fd_array[0] = p.server;
        CHECK(WSPSelect(0, &rd, nullptr, nullptr, &negative, &err) == SOCKET_ERROR);
        CHECK(err == WSAEINVAL);
    }
}
