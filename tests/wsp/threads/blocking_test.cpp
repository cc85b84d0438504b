// The calls that block, on real engine threads: blocking WSPRecv / WSPConnect, lingering
// WSPCloseSocket, WSPCloseSocket cancelling calls blocked in other threads, WSPSelect and
// WSAWaitForMultipleEvents waits. (SEMANTICS.md checklist 26-28, 32, 33, 38, 55, 56.) Every
// other WSP semantics test runs on virtual time (../*_test.cpp).
#include <atomic>
#include <latch>
#include <string>
#include <thread>

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

// Threads that count `started` down, then make one blocking call; `err` gets its error (0 if
// it succeeded).
std::thread blocked_recv(SOCKET s, std::atomic<int>& err, std::latch& started) {
    return std::thread([s, &err, &started] {
        char buf[8];
        DWORD n = 0;
        started.count_down();
        err = recv_bytes(s, buf, sizeof buf, &n);
    });
}

std::thread blocked_accept(SOCKET listener, std::atomic<int>& err, std::latch& started) {
    return std::thread([listener, &err, &started] {
        int e = 0;
        started.count_down();
        err = WSPAccept(listener, nullptr, nullptr, nullptr, 0, &e) == INVALID_SOCKET ? e : 0;
    });
}
}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE(
        "SEMANTICS 26 28 - blocking recv returns on one byte and 0 after FIN once data is read - "
        "never WSAEDISCON") {
        Hosts h;
        Pair p = connect_pair(h);
        REQUIRE(send_str(p.client, "a") == 0);
        char buf[100];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);  // blocking, 100-byte buffer
        CHECK(n == 1);
        REQUIRE(send_str(p.client, "bcd") == 0);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        REQUIRE(recv_bytes(p.server, buf, 2, &n) == 0);
        CHECK(std::string(buf, n) == "bc");
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "d");
        for (int i = 0; i < 3; ++i) {  // end of stream is sticky
            REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
            CHECK(n == 0);
        }
    }

    TEST_CASE("SEMANTICS 27 - peer RST fails a blocked WSPRecv and later ones with WSAECONNRESET") {
        Hosts h;
        Pair p = connect_pair(h);
        int blocked_err = -1;
        std::thread t([&] {
            char buf[8];
            DWORD n = 0;
            blocked_err = recv_bytes(p.server, buf, sizeof buf, &n);
        });
        // The reset may come before or after the thread blocks: both must fail WSAECONNRESET.
        REQUIRE(set_linger(p.client, 1, 0) == 0);
        REQUIRE(close_socket(p.client) == 0);
        t.join();
        CHECK(blocked_err == WSAECONNRESET);
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAECONNRESET);
    }

    TEST_CASE(
        "SEMANTICS 32 - SO_LINGER 1 n blocking close waits until everything is acknowledged and "
        "returns 0") {
        Hosts h;
        Pair p = connect_pair(h);
        const std::string data = pattern(30000);  // fits in the peer's window
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

    TEST_CASE(
        "SEMANTICS 33 - SO_LINGER 1 n blocking close resets when the time runs out - peer sees "
        "WSAECONNRESET") {
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

    TEST_CASE(
        "SEMANTICS 38 - close cancels blocked WSPRecv WSPAccept and WSPSend in other threads") {
        PairParams pp;
        pp.b.recv_buffer = 2048;
        pp.a.send_buffer = 8192;
        Hosts h(pp);
        Pair p = connect_pair(h);
        const SOCKET idle_listener = listen_on(h.b, kAddrB, 5001);
        std::atomic<int> recv_err{-1}, accept_err{-1}, send_err{-1};
        std::latch started(3);  // each thread is about to make its call
        std::thread tr = blocked_recv(p.client, recv_err, started);  // the server sends nothing
        std::thread ta = blocked_accept(idle_listener, accept_err, started);
        std::thread ts([&] {
            DWORD sent = 0;
            started.count_down();
            send_err =
                send_str(p.client, pattern(200000), &sent);  // blocks: window and buffer full
        });
        started.wait();
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

    TEST_CASE(
        "issue 22 - a device that fails ends a WSPAccept and a WSPRecv blocked in other threads "
        "with WSAENETDOWN - and the calls after them") {
        Hosts h;
        Pair p = connect_pair(h);
        std::atomic<int> recv_err{-1}, accept_err{-1};
        std::latch started(2);  // each thread is about to make its call
        std::thread tr = blocked_recv(p.server, recv_err, started);  // the client sends nothing
        std::thread ta = blocked_accept(p.listener, accept_err, started);
        started.wait();
        // Whether or not the threads are blocked yet, the failure ends their calls.
        h.fail_device(1);
        tr.join();
        ta.join();
        CHECK(recv_err == WSAENETDOWN);
        CHECK(accept_err == WSAENETDOWN);
        int err = 0;
        CHECK(WSPAccept(p.listener, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET);
        CHECK(err == WSAENETDOWN);
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAENETDOWN);
        CHECK(host_stat(h.b, "device_failures") == 1);
        CHECK(host_stat(h.a, "device_failures") == 0);
    }

    TEST_CASE(
        "SEMANTICS 55 56 - blocking connect returns 0 and then WSAEISCONN - and fails "
        "WSAECONNREFUSED to a closed port") {
        Hosts h;
        const SOCKET listener = listen_on(h.b, kAddrB, 5000);
        (void)listener;
        const SOCKET b = new_socket(h.a);
        REQUIRE(connect_to(b, kAddrB, 5000) == 0);
        CHECK(connect_to(b, kAddrB, 5000) == WSAEISCONN);
        CHECK(connect_to(new_socket(h.a), kAddrB, 5999) == WSAECONNREFUSED);
    }

    TEST_CASE("WSPSelect - readable writable and exceptfds with timeouts") {
        Hosts h;
        Pair p = connect_pair(h);
        check_select_idle(p.client, p.server);  // nothing to read, both writable
        REQUIRE(send_str(p.client, "x") == 0);
        const TIMEVAL tv{30, 0};  // waits until the data has arrived
        check_select_readable(p.server, tv);
        // A listener with a pending connection is readable.
        const SOCKET c2 = new_socket(h.a);
        REQUIRE(connect_to(c2, kAddrB, 5000) == 0);
        CHECK(select_one(p.listener, Sel::read, tv) == 1);
        // A failed non-blocking connect shows in exceptfds.
        const SOCKET r = new_socket(h.a);
        REQUIRE(set_nonblocking(r, true) == 0);
        CHECK(connect_to(r, kAddrB, 5999) == WSAEWOULDBLOCK);
        CHECK(select_one(r, Sel::except, tv) == 1);
        // A socket with end of stream is readable.
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        char buf[4];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(select_one(p.server, Sel::read, tv) == 1);
        check_select_errors(p.server);
    }

    TEST_CASE("API misuse - event objects and WSAWaitForMultipleEvents") {
        WSAEVENT ev = WSACreateEvent();
        REQUIRE(ev != WSA_INVALID_EVENT);
        CHECK(WSAWaitForMultipleEvents(1, &ev, 0, 0, 0) == WSA_WAIT_TIMEOUT);
        CHECK(WSASetEvent(ev) == 1);
        CHECK(WSAWaitForMultipleEvents(1, &ev, 0, 0, 0) == WSA_WAIT_EVENT_0);
        CHECK(WSAWaitForMultipleEvents(1, &ev, 1, 0, 0) == WSA_WAIT_EVENT_0);
        CHECK(WSAResetEvent(ev) == 1);
        WSAEVENT two[2] = {ev, WSACreateEvent()};
        CHECK(WSASetEvent(two[1]) == 1);
        CHECK(WSAWaitForMultipleEvents(2, two, 0, 0, 0) == WSA_WAIT_EVENT_0 + 1);
        CHECK(WSAWaitForMultipleEvents(2, two, 1, 10, 0) == WSA_WAIT_TIMEOUT);  // wait-all
        CHECK(WSAWaitForMultipleEvents(0, two, 0, 0, 0) == WSA_WAIT_FAILED);
        CHECK(WSAWaitForMultipleEvents(1, nullptr, 0, 0, 0) == WSA_WAIT_FAILED);
        CHECK(WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS + 1, two, 0, 0, 0) ==
              WSA_WAIT_FAILED);
        CHECK(WSACloseEvent(two[1]) == 1);
        CHECK(WSACloseEvent(two[1]) == 0);  // closed twice
        CHECK(WSASetEvent(two[1]) == 0);
        CHECK(WSAResetEvent(two[1]) == 0);
        CHECK(WSAWaitForMultipleEvents(2, two, 0, 0, 0) == WSA_WAIT_FAILED);
        CHECK(WSACloseEvent(nullptr) == 0);
        CHECK(WSACloseEvent(ev) == 1);
        CHECK(std::string(WSPErrorName(WSAECONNRESET)) == "WSAECONNRESET");
        CHECK(std::string(WSPErrorName(12345)) == "WSA?");
        char stats[16];
        CHECK(WSPFormatHostStats(nullptr, stats, sizeof stats) == -1);
    }
}

TEST_SUITE("wsp") {
    TEST_CASE(
        "SO_RCVTIMEO: a blocking WSPRecv with nothing to read fails WSAETIMEDOUT once the time-out "
        "passed - the socket stays usable and the next WSPRecv gets the data") {
        Hosts h;
        Pair p = connect_pair(h);
        const DWORD ms = 150;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.server, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms),
                              sizeof ms, &err) == 0);
        char buf[8];
        DWORD n = 0;
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAETIMEDOUT);
        CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(ms));
        REQUIRE(send_str(p.client, "late") == 0);
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "late");
    }

    TEST_CASE(
        "SO_SNDTIMEO: a blocking WSPSend that cannot queue all of its data before the time-out "
        "returns what it queued (or WSAETIMEDOUT when nothing fit)") {
        PairParams pp;
        pp.a.send_buffer = 8192;
        pp.b.recv_buffer = 8192;
        Hosts h(pp);
        Pair p = connect_pair(h);  // the server never reads: the client's window and buffer fill
        const DWORD ms = 150;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.client, SOL_SOCKET, SO_SNDTIMEO, reinterpret_cast<const char*>(&ms),
                              sizeof ms, &err) == 0);
        const std::string big(1 << 20, 'x');
        DWORD sent = 0;
        CHECK(send_bytes(p.client, big.data(), big.size(), &sent) == 0);
        CHECK(sent > 0);
        CHECK(sent < big.size());
        CHECK(send_bytes(p.client, big.data(), big.size(), &sent) == WSAETIMEDOUT);
        // Reading makes room again: the socket still sends.
        char buf[4096];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(n > 0);
    }
}
