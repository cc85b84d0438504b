// SEMANTICS.md checklist 55-61: non-blocking calls, protocol info, SO_DISCDATALEN; and WSPSelect
// with zero time-outs -- on virtual time. (Blocking connect and WSPSelect waits:
// threads/blocking_test.cpp.)
#include <string>

#include "virtual_fixture.hpp"

using namespace wsptest;

TEST_SUITE("wsp") {
    TEST_CASE(
        "SEMANTICS 55 56 - non-blocking connect WSAEWOULDBLOCK then WSAEALREADY while in progress "
        "and WSAEISCONN once connected") {
        Net net;
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        (void)listener;
        net.set_loss(1.0);  // hold the handshake so the connect stays in progress
        const SOCKET c = nb_socket(net.a);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEALREADY);
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(c, buf, sizeof buf, &n) == WSAEWOULDBLOCK);  // not yet connected
        Events ev(c, FD_CONNECT);
        // The SYN and its first two retransmissions (at 1 s and 3 s) are lost: still in progress.
        net.advance(5s);
        CHECK_FALSE(ev.has(FD_CONNECT));
        CHECK(connect_to(c, kAddrB, 5000) == WSAEALREADY);
        net.set_loss(0.0);  // the next SYN retransmission gets through
        REQUIRE(net.until_event(ev, FD_CONNECT));
        CHECK(ev.error(FD_CONNECT_BIT) == 0);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEISCONN);
    }

    TEST_CASE("SEMANTICS 57 58 59 - non-blocking accept recv and send fail WSAEWOULDBLOCK") {
        NetParams np;
        np.a.send_buffer = 4096;
        np.b.recv_buffer = 2048;
        Net net(np);
        Pair p = connect_pair(net);
        REQUIRE(set_nonblocking(p.listener, true) == 0);
        int err = 0;
        CHECK(WSPAccept(p.listener, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET);  // 57
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
            net.run();
        }
        CHECK(e == WSAEWOULDBLOCK);  // 59
        CHECK(total >= 4096);
    }

    TEST_CASE("SEMANTICS 60 61 - XP1 flags via WSPGetServiceFlags and SO_DISCDATALEN") {
        NetParams np;
        np.a.disconnect_data = 0;
        Net net(np);
        CHECK((WSPGetServiceFlags(net.a) & XP1_GRACEFUL_CLOSE) != 0);
        CHECK((WSPGetServiceFlags(net.a) & XP1_DISCONNECT_DATA) == 0);
        CHECK(WSPGetServiceFlags(net.b) ==
              (XP1_GRACEFUL_CLOSE | XP1_CONNECT_DATA | XP1_DISCONNECT_DATA));
        CHECK(WSPGetServiceFlags(nullptr) == 0);
        Net both;
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

    TEST_CASE("WSPSelect - readable writable and exceptfds with zero timeouts") {
        Net net;
        Pair p = connect_pair(net);
        check_select_idle(p.client, p.server);  // nothing to read, both writable
        REQUIRE(send_str(p.client, "x") == 0);
        CHECK(select_one(p.server, Sel::read) == 0);  // not there yet
        net.run();
        check_select_readable(p.server, {0, 0});
        // A listener with a pending connection is readable.
        (void)connect_client(net, 5000);
        CHECK(select_one(p.listener, Sel::read) == 1);
        // A connect in progress is neither writable nor failed; a failed one shows in exceptfds.
        const SOCKET r = nb_socket(net.a);
        CHECK(connect_to(r, kAddrB, 5999) == WSAEWOULDBLOCK);
        CHECK(select_one(r, Sel::except) == 0);
        CHECK(select_one(r, Sel::write) == 0);
        net.run();
        CHECK(select_one(r, Sel::except) == 1);
        // A socket with end of stream is readable.
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        net.run();
        char buf[4];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(n == 1);
        CHECK(select_one(p.server, Sel::read) == 1);
        check_select_errors(p.server);
    }

    // The time-out is a deadline on the host's clock (stack/src/api/blocking.hpp).
    TEST_CASE(
        "WSPSelect - a 2 s timeout on the virtual driver returns 0 once virtual time passes 2 s") {
        Net net;
        Pair p = connect_pair(net);
        const Instant t0 = net.now();
        int r = -1;
        int err = 0;
        net.run_blocking(
            net.b,
            [&] {
                r = select_one(p.server, Sel::read, {2, 0}, &err);
            },  // nothing arrives
            10s, "WSPSelect with a 2 s timeout");
        CHECK(r == 0);
        CHECK(net.now() - t0 >= 2s);
        CHECK(net.now() - t0 < 3s);
    }
}
