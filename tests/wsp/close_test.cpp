// SEMANTICS.md checklist 29-31, 34-37, 39, 40 and WSPCleanup: WSPCloseSocket, SO_LINGER /
// SO_DONTLINGER on non-blocking sockets, handle validity, orphaned closes -- on virtual time.
// (Lingering blocking closes and cancelled blocked calls: threads/blocking_test.cpp.)
#include <string>
#include <vector>

#include "virtual_fixture.hpp"

using namespace wsptest;

namespace {
// Queue n bytes (they fit in the send buffer) and run the link: with the peer's receive window
// small and the peer not reading, most of them stay unacknowledged.
void send_unacked(Net& net, SOCKET s, std::size_t n) {
    DWORD sent = 0;
    REQUIRE(send_str(s, pattern(n), &sent) == 0);
    REQUIRE(sent == n);
    net.run();
}
}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE(
        "SEMANTICS 29 - default close returns at once and queued data is still delivered then "
        "FIN") {
        Net net;
        Pair p = connect_pair(net);
        const std::string data = pattern(150 * 1000, 4);
        DWORD sent = 0;
        REQUIRE(send_str(p.client, data, &sent) == 0);
        REQUIRE(sent == data.size());
        REQUIRE(close_socket(p.client) == 0);
        int e = 0;
        CHECK(read_to_eof(net, p.server, &e) == data);
        CHECK(e == 0);
    }

    TEST_CASE(
        "SEMANTICS 30 - default close on a non-blocking socket with unacked data never fails "
        "WSAEWOULDBLOCK") {
        NetParams np;
        np.b.recv_buffer = 2048;
        Net net(np);
        Pair p = connect_pair(net);
        send_unacked(net, p.client, 20000);
        CHECK(close_socket(p.client) == 0);
        int e = 0;
        CHECK(read_to_eof(net, p.server, &e) == pattern(20000));
        CHECK(e == 0);
    }

    TEST_CASE(
        "SEMANTICS 31 41 - SO_LINGER 1 0 resets and the peer's WSPRecv fails WSAECONNRESET - no "
        "TIME-WAIT") {
        Net net;
        Pair p = connect_pair(net);
        Events sev(p.server, FD_CLOSE);
        REQUIRE(send_str(p.client, pattern(1000)) == 0);
        REQUIRE(set_linger(p.client, 1, 0) == 0);
        REQUIRE(close_socket(p.client) == 0);
        REQUIRE(net.until_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == WSAECONNRESET);
        CHECK(host_stat(net.a, "rst_sent") == 1);
        char buf[2000];
        DWORD n = 0;
        int e = 0;
        do {
            e = recv_bytes(p.server, buf, sizeof buf, &n);
        } while (e == 0 && n > 0);  // bytes that arrived before the RST may still be read
        CHECK(e == WSAECONNRESET);
        CHECK(host_stat(net.a, "time_wait") == 0);
        CHECK(host_stat(net.a, "connections_current") == 0);
    }

    TEST_CASE(
        "SEMANTICS 34 - SO_LINGER 1 n non-blocking close fails WSAEWOULDBLOCK - handle still valid "
        "and no FIN sent") {
        NetParams np;
        np.b.recv_buffer = 2048;
        Net net(np);
        Pair p = connect_pair(net);
        Events sev(p.server, FD_READ | FD_CLOSE);
        send_unacked(net, p.client, 20000);
        REQUIRE(set_linger(p.client, 1, 5) == 0);
        CHECK(close_socket(p.client) == WSAEWOULDBLOCK);
        CHECK(close_socket(p.client) == WSAEWOULDBLOCK);  // "can continue to fail"
        // The handle is valid.
        int linger_on = -1;
        CHECK(get_int_opt(p.client, SOL_SOCKET, SO_DONTLINGER, &linger_on) == 0);
        CHECK(send_str(p.client, "more") == 0);  // still sending: no shutdown happened
        // The peer gets every byte, then no FIN: no FD_CLOSE, no end of stream -- not even once
        // the linger time and every other deadline are long past.
        const std::string want = pattern(20000) + "more";
        std::string got;
        char buf[4096];
        while (got.size() < want.size()) {
            DWORD n = 0;
            const int e = recv_bytes(p.server, buf, sizeof buf, &n);
            if (e == WSAEWOULDBLOCK) {
                REQUIRE(net.until_event(sev, FD_READ | FD_CLOSE));
                sev.take(FD_READ);
                continue;
            }
            REQUIRE(e == 0);
            REQUIRE(n > 0);
            got.append(buf, n);
        }
        CHECK(got == want);
        net.advance(kPastEveryDeadline);
        CHECK_FALSE(sev.has(FD_CLOSE));
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAEWOULDBLOCK);  // not 0: no FIN
        CHECK(host_stat(net.a, "rst_sent") == 0);
        // A remedy: SO_DONTLINGER (graceful close in the background).
        BOOL dont = 1;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.client, SOL_SOCKET, SO_DONTLINGER,
                              reinterpret_cast<const char*>(&dont), sizeof dont, &err) == 0);
        CHECK(close_socket(p.client) == 0);
        REQUIRE(net.until_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == 0);
    }

    TEST_CASE(
        "SEMANTICS 34 - SO_LINGER 1 n non-blocking close succeeds at once when everything is "
        "acknowledged - then FIN") {
        Net net;
        Pair p = connect_pair(net);
        Events sev(p.server, FD_READ | FD_CLOSE);
        REQUIRE(send_str(p.client, "abc") == 0);
        REQUIRE(net.run_until([&] { return fionread(p.server) == 3; }, kBound, "data arrived"));
        net.advance(1s);  // and was acknowledged (delayed ACK)
        REQUIRE(set_linger(p.client, 1, 5) == 0);
        CHECK(close_socket(p.client) == 0);  // completable at once: no WSAEWOULDBLOCK
        int e = 0;
        CHECK(read_to_eof(net, p.server, &e) == "abc");
        CHECK(e == 0);
        REQUIRE(net.until_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == 0);  // graceful
    }

    TEST_CASE(
        "SEMANTICS 35 36 - SO_DONTLINGER TRUE is SO_LINGER l_onoff 0 and FALSE reinstates the "
        "previous l_linger") {
        Net net;
        const SOCKET s = new_socket(net.a);
        auto get_linger = [&] {
            LINGER l{9, 9};
            int len = sizeof l;
            int err = 0;
            REQUIRE(WSPGetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), &len,
                                  &err) == 0);
            CHECK(len == static_cast<int>(sizeof l));
            return l;
        };
        auto set_dont = [&](BOOL v) {
            int err = 0;
            REQUIRE(WSPSetSockOpt(s, SOL_SOCKET, SO_DONTLINGER, reinterpret_cast<const char*>(&v),
                                  sizeof v, &err) == 0);
        };
        int dont = -1;
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_DONTLINGER, &dont) == 0);
        CHECK(dont == 1);  // SO_DONTLINGER is the default
        CHECK(get_linger().l_onoff == 0);
        REQUIRE(set_linger(s, 1, 7) == 0);
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_DONTLINGER, &dont) == 0);
        CHECK(dont == 0);
        set_dont(1);  // 35
        CHECK(get_linger().l_onoff == 0);
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_DONTLINGER, &dont) == 0);
        CHECK(dont == 1);
        set_dont(0);  // 36
        const LINGER l = get_linger();
        CHECK(l.l_onoff != 0);
        CHECK(l.l_linger == 7);
        // Behaviour, not just the option value: with SO_DONTLINGER a non-blocking close with
        // unacknowledged data succeeds (35), and the data and the FIN still arrive.
        NetParams np;
        np.b.recv_buffer = 2048;
        Net net2(np);
        Pair p = connect_pair(net2);
        send_unacked(net2, p.client, 20000);
        REQUIRE(set_linger(p.client, 1, 5) == 0);
        BOOL v = 1;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.client, SOL_SOCKET, SO_DONTLINGER,
                              reinterpret_cast<const char*>(&v), sizeof v, &err) == 0);
        CHECK(close_socket(p.client) == 0);
        int e = 0;
        CHECK(read_to_eof(net2, p.server, &e) == pattern(20000));
        CHECK(e == 0);
    }

    TEST_CASE("SEMANTICS 37 - every call on a closed handle fails WSAENOTSOCK") {
        Net net;
        Pair p = connect_pair(net);
        const SOCKET handles[] = {p.client, p.server, p.listener, new_socket(net.a)};
        for (SOCKET s : handles) REQUIRE(close_socket(s) == 0);
        for (SOCKET s : handles) {
            CAPTURE(s);
            char buf[16];
            DWORD n = 0;
            int err = 0;
            CHECK(close_socket(s) == WSAENOTSOCK);
            CHECK(send_str(s, "x") == WSAENOTSOCK);
            CHECK(recv_bytes(s, buf, sizeof buf, &n) == WSAENOTSOCK);
            CHECK(shutdown_socket(s, SD_SEND) == WSAENOTSOCK);
            CHECK(send_disconnect(s, "x", 1) == WSAENOTSOCK);
            std::string d;
            CHECK(recv_disconnect(s, &d) == WSAENOTSOCK);
            CHECK(set_linger(s, 1, 0) == WSAENOTSOCK);
            int v = 0;
            CHECK(get_int_opt(s, SOL_SOCKET, SO_ERROR, &v) == WSAENOTSOCK);
            CHECK(set_nonblocking(s, true) == WSAENOTSOCK);
            CHECK(connect_to(s, kAddrB, 5000) == WSAENOTSOCK);
            CHECK(WSPAccept(s, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET);
            CHECK(err == WSAENOTSOCK);
            WSAEVENT ev = WSACreateEvent();
            CHECK(WSPEventSelect(s, ev, FD_READ, &err) == SOCKET_ERROR);
            CHECK(err == WSAENOTSOCK);
            WSACloseEvent(ev);
        }
        // Handles are not reused (DESIGN.md §4): a new socket gets a new value.
        const SOCKET fresh = new_socket(net.a);
        for (SOCKET s : handles) CHECK(fresh != s);
    }

    TEST_CASE("SEMANTICS 39 - no FD_CLOSE is recorded after WSPCloseSocket") {
        Net net;
        Pair p = connect_pair(net);
        WSAEVENT ev = WSACreateEvent();
        int err = 0;
        REQUIRE(WSPEventSelect(p.client, ev, FD_CLOSE, &err) == 0);
        REQUIRE(close_socket(p.client) == 0);  // graceful: FIN
        int e = 0;
        CHECK(read_to_eof(net, p.server, &e).empty());
        REQUIRE(close_socket(p.server) == 0);  // the peer's FIN reaches the orphan
        REQUIRE(net.until_no_connections(net.b));
        // The orphan on a enters TIME-WAIT (where a socket would get FD_CLOSE) and ends.
        net.advance(kPastEveryDeadline);
        CHECK(host_stat(net.a, "connections_current") == 0);
        CHECK(WSAWaitForMultipleEvents(1, &ev, 0, 0, 0) == WSA_WAIT_TIMEOUT);
        WSACloseEvent(ev);
    }

    TEST_CASE("SEMANTICS 40 - close with unread received data sends RST instead of FIN") {
        Net net;
        Pair p = connect_pair(net);
        Events cev(p.client, FD_CLOSE);
        Events sev(p.server, FD_READ);
        REQUIRE(send_str(p.client, "never read") == 0);
        REQUIRE(net.until_event(sev, FD_READ));
        REQUIRE(close_socket(p.server) == 0);
        REQUIRE(net.until_event(cev, FD_CLOSE));
        CHECK(cev.error(FD_CLOSE_BIT) == WSAECONNRESET);
        CHECK(host_stat(net.b, "rst_sent") == 1);
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == WSAECONNRESET);
    }

    TEST_CASE(
        "WSPCleanup - waits for orphaned FINs so owed disconnect data is delivered - and is "
        "bounded when the peer is gone") {
        NetParams np;
        np.loss = 0.1;
        np.seed = 99;
        np.cleanup_timeout = 60s;  // a bound: the FINs get through long before
        Net net(np);
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        std::vector<SOCKET> servers;
        for (int i = 0; i < 5; ++i) {
            const Pair p = accept_pair(net, listener, 5000);
            servers.push_back(p.server);
            const std::string d = "owed #" + std::to_string(i);
            REQUIRE(send_disconnect(p.client, d.data(), d.size()) == 0);
            if (i % 2 == 0)
                REQUIRE(close_socket(p.client) == 0);  // the others WSPCleanup closes
        }
        const Instant t0 = net.now();
        REQUIRE(net.cleanup(net.a) == 0);  // returns once every FIN was acknowledged
        CHECK(net.now() - t0 < 60s);       // ... not at its bound
        for (int i = 0; i < 5; ++i) {
            CAPTURE(i);
            const SOCKET s = servers[static_cast<std::size_t>(i)];
            // Everything arrived before WSPCleanup returned: host a is gone, nothing more comes.
            char buf[8];
            DWORD n = 9;
            CHECK(recv_bytes(s, buf, sizeof buf, &n) == 0);
            CHECK(n == 0);
            std::string d;
            REQUIRE(recv_disconnect(s, &d) == 0);
            CHECK(d == "owed #" + std::to_string(i));
            REQUIRE(set_linger(s, 1, 0) == 0);
            REQUIRE(close_socket(s) == 0);
        }
    }

    TEST_CASE("WSPCleanup - bounded by cleanup_timeout_ms when FINs can never be acknowledged") {
        NetParams np;
        np.cleanup_timeout = 300ms;
        Net net(np);
        Pair p = connect_pair(net);
        net.set_loss(1.0);
        REQUIRE(send_disconnect(p.client, "lost", 4) == 0);
        const Instant t0 = net.now();
        CHECK(net.cleanup(net.a) == 0);
        CHECK(net.now() - t0 >= 300ms);  // it waited out its bound, on the host's clock
    }
}
