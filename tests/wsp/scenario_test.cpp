// SEMANTICS.md §1.1 (the SPI "Connection Shutdown" page): the eight-step transaction-total
// scenario, exactly in the table's order, step by step -- on virtual time, with and without
// loss. (Thousands of concurrent runs by application threads: threads/scenario_test.cpp.)
// Checklist items 20, 24, 25, 41, 43, 44, 49.
#include "scenario.hpp"

#include <cstdint>
#include <string>

#include "virtual_fixture.hpp"

using namespace wsptest;

TEST_SUITE("wsp") {
    TEST_CASE("SEMANTICS 1.1 and checklist 24 25 - the eight steps in the table's order") {
        Net net;
        const SOCKET listener = listen_on(net.b, kAddrB, 6000);
        for (int iter = 0; iter < 20; ++iter) {
            CAPTURE(iter);
            const Pair p = accept_pair(net, listener, 6000);
            const SOCKET c = p.client;
            const SOCKET sv = p.server;
            Events cev(c, FD_READ | FD_CLOSE);
            Events sev(sv, FD_READ | FD_CLOSE);
            const std::uint64_t total = 1000 + static_cast<std::uint64_t>(iter);

            // 1: client WSPSendDisconnect "to conclude session and supply transaction total".
            const std::string t = bytes64(total);
            REQUIRE(send_disconnect(c, t.data(), t.size()) == 0);
            // 2: server gets FD_CLOSE (error 0), and WSPRecv returns zero.
            REQUIRE(net.until_event(sev, FD_CLOSE));
            CHECK(sev.error(FD_CLOSE_BIT) == 0);
            CHECK((sev.seen() & FD_READ) == 0);  // no FD_READ for the FIN (checklist 44)
            char b[16];
            DWORD got = 99;
            CHECK(recv_bytes(sv, b, sizeof b, &got) == 0);
            CHECK(got == 0);
            // 3: server WSPRecvDisconnect gets the client's total.
            std::string disc;
            REQUIRE(recv_disconnect(sv, &disc) == 0);
            REQUIRE(disc.size() == 8);
            CHECK(load64(disc) == total);
            // 4 + 5: grand total, server WSPSendDisconnect.
            const std::string g = bytes64(grand_of(total));
            REQUIRE(send_disconnect(sv, g.data(), g.size()) == 0);
            // 5': server WSPCloseSocket at once.
            REQUIRE(close_socket(sv) == 0);
            // 6: client receives FD_CLOSE (error 0).
            REQUIRE(net.until_event(cev, FD_CLOSE));
            CHECK(cev.error(FD_CLOSE_BIT) == 0);
            CHECK((cev.seen() & FD_READ) == 0);
            // 7: client WSPRecvDisconnect receives the grand total.
            REQUIRE(recv_disconnect(c, &disc) == 0);
            REQUIRE(disc.size() == 8);
            CHECK(load64(disc) == grand_of(total));
            // 8: client WSPCloseSocket.
            CHECK(close_socket(c) == 0);
        }
        CHECK(host_stat(net.a, "disconnect_data_sent") == 20);
        CHECK(host_stat(net.b, "disconnect_data_received") == 20);
        CHECK(host_stat(net.b, "disconnect_data_sent") == 20);
        CHECK(host_stat(net.a, "disconnect_data_received") == 20);
    }

    TEST_CASE(
        "SEMANTICS 1.1 checklist 25 - server closes (5') before the client has read anything - 10 "
        "pct loss") {
        NetParams np;
        np.loss = 0.10;
        np.seed = 11;
        Net net(np);
        const SOCKET listener = listen_on(net.b, kAddrB, 6001);
        for (int iter = 0; iter < 8; ++iter) {
            CAPTURE(iter);
            const Pair p = accept_pair(net, listener, 6001);
            const SOCKET c = p.client;
            const SOCKET sv = p.server;
            const std::uint64_t total = 77 * static_cast<std::uint64_t>(iter);
            const std::string t = bytes64(total);
            REQUIRE(send_disconnect(c, t.data(), t.size()) == 0);
            {
                Events sev(sv, FD_CLOSE);
                REQUIRE(net.until_event(sev, FD_CLOSE));
                CHECK(sev.error(FD_CLOSE_BIT) == 0);
            }
            std::string disc;
            REQUIRE(recv_disconnect(sv, &disc) == 0);
            REQUIRE(disc.size() == 8);
            CHECK(load64(disc) == total);
            const std::string g = bytes64(grand_of(total));
            REQUIRE(send_disconnect(sv, g.data(), g.size()) == 0);
            REQUIRE(close_socket(sv) == 0);
            // Only now does the client even register for events: FD_CLOSE (already true) is
            // recorded at once or when the retransmitted FIN gets through (checklist 49).
            Events cev(c, FD_CLOSE);
            REQUIRE(net.until_event(cev, FD_CLOSE));
            CHECK(cev.error(FD_CLOSE_BIT) == 0);
            REQUIRE(recv_disconnect(c, &disc) == 0);
            REQUIRE(disc.size() == 8);
            CHECK(load64(disc) == grand_of(total));
            CHECK(close_socket(c) == 0);
        }
    }

    TEST_CASE(
        "SEMANTICS 1.1 checklist 25 - slow client reader gets data then grand total after the "
        "server's state is gone") {
        // The client's host has a 4 KB receive buffer; the server answers with 64 KB of data,
        // then its grand total, and closes at once. The client reads slowly, in 500-byte bites,
        // and asks for the disconnect data only after the server host has freed the
        // connection and the client's own TIME-WAIT is over.
        NetParams np;
        np.loss = 0.10;
        np.seed = 3;
        np.a.recv_buffer = 4096;
        Net net(np);
        const SOCKET listener = listen_on(net.b, kAddrB, 6002);
        for (int iter = 0; iter < 3; ++iter) {
            CAPTURE(iter);
            const Pair p = accept_pair(net, listener, 6002);
            const SOCKET c = p.client;
            const SOCKET sv = p.server;
            const std::string t = bytes64(42 + static_cast<std::uint64_t>(iter));
            REQUIRE(send_disconnect(c, t.data(), t.size()) == 0);
            int e = 0;
            CHECK(read_to_eof(net, sv, &e).empty());
            CHECK(e == 0);
            std::string disc;
            REQUIRE(recv_disconnect(sv, &disc) == 0);
            CHECK(disc == t);
            const std::string response = pattern(64 * 1024, static_cast<unsigned>(iter));
            DWORD sent = 0;
            REQUIRE(send_str(sv, response, &sent) == 0);  // all queued
            REQUIRE(sent == response.size());
            const std::string g = bytes64(grand_of(load64(t)));
            REQUIRE(send_disconnect(sv, g.data(), g.size()) == 0);
            REQUIRE(close_socket(sv) == 0);

            std::string got;
            char buf[500];
            for (;;) {
                DWORD n = 0;
                const int r = recv_bytes(c, buf, sizeof buf, &n);
                if (r == WSAEWOULDBLOCK) {
                    REQUIRE(net.until_readable(c));
                    continue;
                }
                REQUIRE(r == 0);
                if (n == 0)
                    break;
                got.append(buf, n);
            }
            CHECK(got == response);
            REQUIRE(net.until_no_connections(net.b));
            REQUIRE(net.run_until([&] { return host_stat(net.a, "time_wait") == 0; }, kBound,
                                  "the client's TIME-WAIT ended"));
            REQUIRE(recv_disconnect(c, &disc) == 0);
            CHECK(disc == g);
            CHECK(close_socket(c) == 0);
        }
    }
}
