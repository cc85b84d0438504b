// SEMANTICS.md checklist 29-40: WSPCloseSocket, SO_LINGER / SO_DONTLINGER, handle validity,
// cancellation of blocked calls.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "wsp_fixture.hpp"

using namespace wsptest;

namespace {
// Fill the peer's (small) receive window and our send buffer's first part, so some of what we
// sent stays unacknowledged while the peer does not read.
void send_unacked(SOCKET s, std::size_t n) {
    REQUIRE(set_nonblocking(s, true) == 0);
    DWORD sent = 0;
    REQUIRE(send_str(s, pattern(n), &sent) == 0);
    REQUIRE(sent == n);  // fits in the send buffer
}
}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE("SEMANTICS 29 - default close returns at once and queued data is still delivered then FIN") {
        Hosts h;
        Pair p = connect_pair(h);
        const std::string data = pattern(150 * 1000, 4);  // more than the peer's window
        DWORD sent = 0;
        REQUIRE(send_str(p.client, data, &sent) == 0);
        REQUIRE(sent == data.size());
        REQUIRE(close_socket(p.client) == 0);
        int e = 0;
        CHECK(read_to_eof(p.server, &e) == data);
        CHECK(e == 0);
    }

    TEST_CASE("SEMANTICS 30 - default close on a non-blocking socket with unacked data never fails WSAEWOULDBLOCK") {
        PairParams pp;
        pp.b.recv_buffer = 2048;
        Hosts h(pp);
        Pair p = connect_pair(h);
        send_unacked(p.client, 20000);
        CHECK(close_socket(p.client) == 0);
        int e = 0;
        CHECK(read_to_eof(p.server, &e) == pattern(20000));
        CHECK(e == 0);
    }

    TEST_CASE("SEMANTICS 31 41 - SO_LINGER 1 0 resets and the peer's WSPRecv fails WSAECONNRESET - no TIME-WAIT") {
        Hosts h;
        Pair p = connect_pair(h);
        Events sev(p.server, FD_CLOSE);
        REQUIRE(send_str(p.client, pattern(1000)) == 0);
        REQUIRE(set_linger(p.client, 1, 0) == 0);
        REQUIRE(close_socket(p.client) == 0);
        REQUIRE(wait_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == WSAECONNRESET);
        char buf[2000];
        DWORD n = 0;
        int e = 0;
        do {
            e = recv_bytes(p.server, buf, sizeof buf, &n);
        } while (e == 0 && n > 0);  // bytes that arrived before the RST may still be read
        CHECK(e == WSAECONNRESET);
        CHECK(host_stat(h.a, "time_wait") == 0);
        CHECK(host_stat(h.a, "connections_current") == 0);
    }

    TEST_CASE("SEMANTICS 32 - SO_LINGER 1 n blocking close waits until everything is acknowledged and returns 0") {
        Hosts h;
        Pair p = connect_pair(h);
        const std::string data = pattern(30000);  // fits in the peer's 64 KB window
        DWORD sent = 0;
        REQUIRE(send_str(p.client, data, &sent) == 0);
        REQUIRE(set_linger(p.client, 1, 30) == 0);
        REQUIRE(close_socket(p.client) == 0);
        // close returned only after the data was acknowledged, so it sits in the peer's buffer.
        CHECK(fionread(p.server) == data.size());
        int e = 0;
        CHECK(read_to_eof(p.server, &e) == data);
        CHECK(e == 0);
    }

    TEST_CASE("SEMANTICS 33 - SO_LINGER 1 n blocking close resets when the time runs out - peer sees WSAECONNRESET") {
        PairParams pp;
        pp.b.recv_buffer = 2048;  // the peer does not read: most data stays unacknowledged
        Hosts h(pp);
        Pair p = connect_pair(h);
        Events sev(p.server, FD_CLOSE);
        send_unacked(p.client, 50000);
        REQUIRE(set_nonblocking(p.client, false) == 0);
        REQUIRE(set_linger(p.client, 1, 1) == 0);
        CHECK(close_socket(p.client) == 0);  // "won't return an error code" [S14]
        REQUIRE(wait_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == WSAECONNRESET);
        CHECK(host_stat(h.a, "time_wait") == 0);
        int err = 0;
        CHECK(WSPCloseSocket(p.client, &err) == SOCKET_ERROR);  // the handle is gone (37)
        CHECK(err == WSAENOTSOCK);
    }

    TEST_CASE("SEMANTICS 34 - SO_LINGER 1 n non-blocking close fails WSAEWOULDBLOCK - handle still valid and no FIN sent") {
        PairParams pp;
        pp.b.recv_buffer = 2048;
        Hosts h(pp);
        Pair p = connect_pair(h);
        Events sev(p.server, FD_READ | FD_CLOSE);
        send_unacked(p.client, 20000);
        REQUIRE(set_linger(p.client, 1, 5) == 0);
        CHECK(close_socket(p.client) == WSAEWOULDBLOCK);
        CHECK(close_socket(p.client) == WSAEWOULDBLOCK);  // "can continue to fail"
        // The handle is valid.
        int linger_on = -1;
        CHECK(get_int_opt(p.client, SOL_SOCKET, SO_DONTLINGER, &linger_on) == 0);
        CHECK(send_str(p.client, "more") == 0);  // still sending: no shutdown happened
        // The peer gets every byte, then no FIN: no FD_CLOSE, no end of stream.
        const std::string want = pattern(20000) + "more";
        std::string got;
        char buf[4096];
        while (got.size() < want.size()) {
            DWORD n = 0;
            const int e = recv_bytes(p.server, buf, sizeof buf, &n);
            if (e == WSAEWOULDBLOCK) {
                REQUIRE(wait_event(sev, FD_READ | FD_CLOSE));
                sev.take(FD_READ);
                continue;
            }
            REQUIRE(e == 0);
            REQUIRE(n > 0);
            got.append(buf, n);
        }
        CHECK(got == want);
        CHECK_FALSE(wait_event(sev, FD_CLOSE, kQuiet));
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAEWOULDBLOCK);  // not 0: no FIN
        // A remedy: SO_DONTLINGER (graceful close in the background).
        BOOL dont = 1;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.client, SOL_SOCKET, SO_DONTLINGER,
                              reinterpret_cast<const char*>(&dont), sizeof dont, &err) == 0);
        CHECK(close_socket(p.client) == 0);
        REQUIRE(wait_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == 0);
    }

    TEST_CASE("SEMANTICS 35 36 - SO_DONTLINGER TRUE is SO_LINGER l_onoff 0 and FALSE reinstates the previous l_linger") {
        Hosts h;
        const SOCKET s = new_socket(h.a);
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
        // unacknowledged data succeeds (35).
        PairParams pp;
        pp.b.recv_buffer = 2048;
        Hosts h2(pp);
        Pair p = connect_pair(h2);
        send_unacked(p.client, 20000);
        REQUIRE(set_linger(p.client, 1, 5) == 0);
        BOOL v = 1;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.client, SOL_SOCKET, SO_DONTLINGER,
                              reinterpret_cast<const char*>(&v), sizeof v, &err) == 0);
        CHECK(close_socket(p.client) == 0);
    }

    TEST_CASE("SEMANTICS 37 - every call on a closed handle fails WSAENOTSOCK") {
        Hosts h;
        Pair p = connect_pair(h);
        const SOCKET handles[] = {p.client, p.server, p.listener, new_socket(h.a)};
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
            CHECK(WSPAccept(s, nullptr, nullptr, &err) == INVALID_SOCKET);
            CHECK(err == WSAENOTSOCK);
            WSAEVENT ev = WSACreateEvent();
            CHECK(WSPEventSelect(s, ev, FD_READ, &err) == SOCKET_ERROR);
            CHECK(err == WSAENOTSOCK);
            WSACloseEvent(ev);
        }
        // Handles are not reused (DESIGN.md §4): a new socket gets a new value.
        const SOCKET fresh = new_socket(h.a);
        for (SOCKET s : handles) CHECK(fresh != s);
    }

    TEST_CASE("SEMANTICS 38 - close cancels blocked WSPRecv WSPAccept and WSPSend in other threads") {
        PairParams pp;
        pp.b.recv_buffer = 2048;
        pp.a.send_buffer = 8192;
        Hosts h(pp);
        Pair p = connect_pair(h);
        const SOCKET idle_listener = listen_on(h.b, kAddrB, 5001);
        std::atomic<int> recv_err{-1}, accept_err{-1}, send_err{-1};
        std::atomic<int> started{0};
        std::thread tr([&] {
            char buf[8];
            DWORD n = 0;
            started++;
            recv_err = recv_bytes(p.client, buf, sizeof buf, &n);  // the server sends nothing
        });
        std::thread ta([&] {
            int err = 0;
            started++;
            if (WSPAccept(idle_listener, nullptr, nullptr, &err) == INVALID_SOCKET) accept_err = err;
            else accept_err = 0;
        });
        std::thread ts([&] {
            DWORD sent = 0;
            started++;
            send_err = send_str(p.client, pattern(200000), &sent);  // blocks: window and buffer full
        });
        REQUIRE(eventually([&] { return started.load() == 3; }));
        // Whether or not the threads are already blocked, closing makes their calls fail.
        REQUIRE(close_socket(idle_listener) == 0);
        REQUIRE(close_socket(p.client) == 0);
        tr.join();
        ta.join();
        ts.join();
        CHECK((recv_err == WSAEINTR || recv_err == WSAENOTSOCK));
        CHECK((accept_err == WSAEINTR || accept_err == WSAENOTSOCK));
        CHECK((send_err == WSAEINTR || send_err == WSAENOTSOCK));
    }

    TEST_CASE("SEMANTICS 39 - no FD_CLOSE is recorded after WSPCloseSocket") {
        Hosts h;
        Pair p = connect_pair(h);
        WSAEVENT ev = WSACreateEvent();
        int err = 0;
        REQUIRE(WSPEventSelect(p.client, ev, FD_CLOSE, &err) == 0);
        REQUIRE(close_socket(p.client) == 0);  // graceful: FIN
        int e = 0;
        CHECK(read_to_eof(p.server, &e).empty());
        REQUIRE(close_socket(p.server) == 0);  // the peer's FIN reaches the orphan
        REQUIRE(eventually([&] { return host_stat(h.b, "connections_current") == 0; }));
        CHECK(WSAWaitForMultipleEvents(1, &ev, 0, static_cast<DWORD>(kQuiet.count()), 0) ==
              WSA_WAIT_TIMEOUT);
        WSACloseEvent(ev);
    }

    TEST_CASE("SEMANTICS 40 - close with unread received data sends RST instead of FIN") {
        Hosts h;
        Pair p = connect_pair(h);
        Events cev(p.client, FD_CLOSE);
        Events sev(p.server, FD_READ);
        REQUIRE(send_str(p.client, "never read") == 0);
        REQUIRE(wait_event(sev, FD_READ));
        REQUIRE(close_socket(p.server) == 0);
        REQUIRE(wait_event(cev, FD_CLOSE));
        CHECK(cev.error(FD_CLOSE_BIT) == WSAECONNRESET);
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == WSAECONNRESET);
    }

    TEST_CASE("WSPCleanup - waits for orphaned FINs so owed disconnect data is delivered - and is bounded when the peer is gone") {
        PairParams pp;
        pp.loss = 0.1;
        pp.seed = 99;
        pp.cleanup_timeout_ms = 60000;  // a hang guard: the FIN gets through long before
        Hosts h(pp);
        const SOCKET listener = listen_on(h.b, kAddrB, 5000);
        std::vector<SOCKET> servers;
        for (int i = 0; i < 5; ++i) {
            const SOCKET c = new_socket(h.a);
            REQUIRE(connect_to(c, kAddrB, 5000) == 0);
            int err = 0;
            servers.push_back(WSPAccept(listener, nullptr, nullptr, &err));
            REQUIRE(servers.back() != INVALID_SOCKET);
            const std::string d = "owed #" + std::to_string(i);
            REQUIRE(send_disconnect(c, d.data(), d.size()) == 0);
            if (i % 2 == 0) REQUIRE(close_socket(c) == 0);  // the others WSPCleanup closes
        }
        REQUIRE(h.cleanup(h.a) == 0);  // returns once every FIN was acknowledged
        for (int i = 0; i < 5; ++i) {
            CAPTURE(i);
            int e = 0;
            CHECK(read_to_eof(servers[static_cast<std::size_t>(i)], &e).empty());
            CHECK(e == 0);
            std::string d;
            REQUIRE(recv_disconnect(servers[static_cast<std::size_t>(i)], &d) == 0);
            CHECK(d == "owed #" + std::to_string(i));
            // Host a is gone: close abortively, or b's own WSPCleanup would wait (bounded) for
            // ACKs of FINs that nobody can send.
            REQUIRE(set_linger(servers[static_cast<std::size_t>(i)], 1, 0) == 0);
            REQUIRE(close_socket(servers[static_cast<std::size_t>(i)]) == 0);
        }
    }

    TEST_CASE("WSPCleanup - bounded by cleanup_timeout_ms when FINs can never be acknowledged") {
        PairParams pp;
        pp.cleanup_timeout_ms = 300;
        Hosts h(pp);
        Pair p = connect_pair(h);
        h.set_loss(1.0);
        REQUIRE(send_disconnect(p.client, "lost", 4) == 0);
        Watchdog w(std::chrono::seconds(60), "bounded WSPCleanup");
        CHECK(h.cleanup(h.a) == 0);
    }
}
