// SEMANTICS.md checklist 1-23, 26, 27: WSPShutdown, WSPSendDisconnect, WSPRecvDisconnect and
// WSPRecv at shutdown, observed through the API on both ends -- on virtual time.
#include <string>

#include "virtual_fixture.hpp"

using namespace wsptest;

TEST_SUITE("wsp") {
    TEST_CASE(
        "SEMANTICS 1 and 9 and 43 - SD_SEND sends FIN after queued data and the half-closed socket "
        "still receives") {
        Net net;
        Pair p = connect_pair(net);
        Events sev(p.server, FD_READ | FD_CLOSE);
        const std::string data = pattern(20000);
        DWORD queued = 0;
        REQUIRE(send_str(p.client, data, &queued) == 0);
        REQUIRE(queued == data.size());
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        // The server reads all the data, then end of stream (FIN came after the data).
        std::string got;
        char buf[4096];
        for (;;) {
            DWORD n = 0;
            const int e = recv_bytes(p.server, buf, sizeof buf, &n);
            if (e == WSAEWOULDBLOCK) {
                REQUIRE(net.until_event(sev, FD_READ | FD_CLOSE));
                sev.take(FD_READ);
                continue;
            }
            REQUIRE(e == 0);
            if (n == 0)
                break;
            got.append(buf, n);
        }
        CHECK(got == data);
        REQUIRE(net.until_event(sev, FD_CLOSE));  // FD_CLOSE once everything was read (43, 44)
        CHECK(sev.error(FD_CLOSE_BIT) == 0);
        // Half-close (9): the server still sends, the client (FIN-WAIT-2) receives it.
        REQUIRE(set_nonblocking(p.server, false) == WSAEINVAL);  // EventSelect in force (50)
        const std::string reply = pattern(5000, 9);
        DWORD sent = 0;
        REQUIRE(send_str(p.server, reply, &sent) == 0);
        REQUIRE(sent == reply.size());
        REQUIRE(shutdown_socket(p.server, SD_SEND) == 0);
        int e = 0;
        CHECK(read_to_eof(net, p.client, &e) == reply);
        CHECK(e == 0);
    }

    TEST_CASE("SEMANTICS 2 3 12 18 - shutdown errors WSAEINVAL and WSAENOTCONN") {
        Net net;
        const SOCKET fresh = new_socket(net.a);
        CHECK(shutdown_socket(fresh, SD_SEND) == WSAENOTCONN);     // 3
        CHECK(shutdown_socket(fresh, SD_RECEIVE) == WSAENOTCONN);  // 3
        CHECK(send_disconnect(fresh, "x", 1) == WSAENOTCONN);      // 12
        int err = 0;
        CHECK(WSPSendDisconnect(fresh, nullptr, &err) == SOCKET_ERROR);
        CHECK(err == WSAENOTCONN);  // 12
        std::string d;
        CHECK(recv_disconnect(fresh, &d) == WSAENOTCONN);  // 18
        Pair p = connect_pair(net);
        CHECK(shutdown_socket(p.client, 3) == WSAEINVAL);            // 2
        CHECK(shutdown_socket(p.client, -1) == WSAEINVAL);           // 2
        CHECK(shutdown_socket(p.listener, SD_SEND) == WSAENOTCONN);  // a listener is not connected
        CHECK(shutdown_socket(p.client, SD_BOTH) == 0);
    }

    TEST_CASE(
        "SEMANTICS 4 - shutdown and the disconnect calls never block whatever SO_LINGER says") {
        // Blocking sockets lingering {1, 3600} with data the peer never acknowledges (its
        // window is full). On virtual time nothing runs the engine while a call waits, so a
        // call that waited for anything -- an ACK, the linger time -- would never return and
        // the watchdog would end the test.
        NetParams np;
        np.b.recv_buffer = 2048;
        Net net(np);
        Pair p = connect_pair(net);
        REQUIRE(set_linger(p.client, 1, 3600) == 0);
        REQUIRE(set_linger(p.server, 1, 3600) == 0);
        const std::string data = pattern(50000);
        DWORD sent = 0;
        REQUIRE(send_str(p.client, data, &sent) == 0);
        net.run();  // the peer's window is full, the rest waits unacknowledged
        REQUIRE(set_nonblocking(p.client, false) == 0);
        REQUIRE(set_nonblocking(p.server, false) == 0);
        Watchdog w(std::chrono::seconds(60), "non-blocking shutdown calls");
        CHECK(send_disconnect(p.client, "bye", 3) == 0);
        CHECK(shutdown_socket(p.client, SD_SEND) == 0);
        std::string d;
        CHECK(recv_disconnect(p.client, &d) == 0);
        CHECK(shutdown_socket(p.server, SD_SEND) == 0);
        CHECK(shutdown_socket(p.server, SD_BOTH) == 0);  // SD_RECEIVE with unread data: RST (7)
    }

    TEST_CASE(
        "SEMANTICS 5 6 17 23 - WSAESHUTDOWN after SD_SEND SD_RECEIVE SD_BOTH SendDisconnect and "
        "RecvDisconnect") {
        Net net;
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        auto fresh_pair = [&] { return accept_pair(net, listener, 5000); };
        char buf[8];
        DWORD n = 0;
        SUBCASE("5: send after SD_SEND") {
            Pair p = fresh_pair();
            REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
            CHECK(send_str(p.client, "x") == WSAESHUTDOWN);
        }
        SUBCASE("5 and 6: send and recv after SD_BOTH") {
            Pair p = fresh_pair();
            REQUIRE(shutdown_socket(p.client, SD_BOTH) == 0);
            CHECK(send_str(p.client, "x") == WSAESHUTDOWN);
            CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == WSAESHUTDOWN);
        }
        SUBCASE("6: recv after SD_RECEIVE - blocking or not") {
            Pair p = fresh_pair();
            REQUIRE(set_nonblocking(p.client, false) == 0);
            REQUIRE(shutdown_socket(p.client, SD_RECEIVE) == 0);
            CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == WSAESHUTDOWN);  // does not block
            REQUIRE(set_nonblocking(p.client, true) == 0);
            CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == WSAESHUTDOWN);
            CHECK(send_str(p.client, "still sends") == 0);  // the send side is untouched
        }
        SUBCASE("17: send after SendDisconnect") {
            Pair p = fresh_pair();
            REQUIRE(send_disconnect(p.client, "d", 1) == 0);
            CHECK(send_str(p.client, "x") == WSAESHUTDOWN);
            CHECK(send_disconnect(p.client, "again", 5) == WSAESHUTDOWN);  // data can no longer go
            int err = 0;
            CHECK(WSPSendDisconnect(p.client, nullptr, &err) == 0);  // like a second SD_SEND
        }
        SUBCASE("23: recv after RecvDisconnect") {
            Pair p = fresh_pair();
            REQUIRE(send_disconnect(p.server, "bye", 3) == 0);
            Events ev(p.client, FD_CLOSE);
            REQUIRE(net.until_event(ev, FD_CLOSE));
            std::string d;
            REQUIRE(recv_disconnect(p.client, &d) == 0);
            CHECK(d == "bye");
            CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == WSAESHUTDOWN);
        }
    }

    TEST_CASE(
        "SEMANTICS 7 and 42 - SD_RECEIVE with unread data resets - peer sees WSAECONNRESET and we "
        "see WSAECONNABORTED") {
        Net net;
        Pair p = connect_pair(net);
        Events cev(p.client, FD_CLOSE);
        Events sev(p.server, FD_READ | FD_CLOSE);
        REQUIRE(send_str(p.client, "unread") == 0);
        REQUIRE(net.until_event(sev, FD_READ));
        const long long rst_before = host_stat(net.b, "rst_sent");
        REQUIRE(shutdown_socket(p.server, SD_RECEIVE) == 0);
        REQUIRE(net.until_event(cev, FD_CLOSE));
        CHECK(cev.error(FD_CLOSE_BIT) == WSAECONNRESET);  // 41: FD_CLOSE with WSAECONNRESET on RST
        CHECK(host_stat(net.b, "rst_sent") == rst_before + 1);
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == WSAECONNRESET);  // 27
        CHECK(send_str(p.client, "x") == WSAECONNRESET);
        // Our side reset the connection: "terminated due to ... other failure" (42).
        REQUIRE(net.until_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == WSAECONNABORTED);
    }

    TEST_CASE("SEMANTICS 8 - data arriving after SD_RECEIVE resets the connection") {
        Net net;
        Pair p = connect_pair(net);
        Events cev(p.client, FD_CLOSE);
        REQUIRE(shutdown_socket(p.server, SD_RECEIVE) == 0);
        // Nothing happens until data arrives: no RST, however long the link runs.
        net.advance(kPastEveryDeadline);
        CHECK_FALSE(cev.has(FD_CLOSE));
        CHECK(host_stat(net.b, "rst_sent") == 0);
        REQUIRE(send_str(p.client, "too late") == 0);
        REQUIRE(net.until_event(cev, FD_CLOSE));
        CHECK(cev.error(FD_CLOSE_BIT) == WSAECONNRESET);
        CHECK(host_stat(net.b, "rst_sent") == 1);
        CHECK(send_str(p.client, "x") == WSAECONNRESET);
    }

    TEST_CASE(
        "SEMANTICS 10 and 21 - SendDisconnect NULL is shutdown SD_SEND and the peer's "
        "RecvDisconnect gets 0 bytes") {
        Net net;
        Pair p = connect_pair(net);
        Events sev(p.server, FD_READ | FD_CLOSE);
        REQUIRE(send_str(p.client, "data") == 0);
        int err = 0;
        REQUIRE(WSPSendDisconnect(p.client, nullptr, &err) == 0);
        CHECK(send_str(p.client, "x") == WSAESHUTDOWN);
        REQUIRE(net.until_event(sev, FD_READ));  // FD_CLOSE waits until the data is read (44)
        char buf[16];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "data");
        REQUIRE(net.until_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == 0);
        // A FIN without the option: RecvDisconnect succeeds with len 0 (21).
        char dbuf[8];
        WSABUF wb{sizeof dbuf, dbuf};
        REQUIRE(WSPRecvDisconnect(p.server, &wb, &err) == 0);
        CHECK(wb.len == 0);
        CHECK(host_stat(net.a, "disconnect_data_sent") == 0);
        // A zero-length disconnect buffer is legal too and arrives as 0 bytes.
        Pair q = connect_pair(net, 5001);
        Events qev(q.server, FD_CLOSE);
        WSABUF empty{0, nullptr};
        REQUIRE(WSPSendDisconnect(q.client, &empty, &err) == 0);
        REQUIRE(net.until_event(qev, FD_CLOSE));
        WSABUF wb2{sizeof dbuf, dbuf};
        REQUIRE(WSPRecvDisconnect(q.server, &wb2, &err) == 0);
        CHECK(wb2.len == 0);
    }

    TEST_CASE(
        "SEMANTICS 11 and 60 and 61 - WSAENOPROTOOPT when one host does not offer disconnect "
        "data") {
        NetParams np;
        np.b.disconnect_data = 0;
        Net net(np);
        CHECK(WSPGetServiceFlags(net.a) ==
              (XP1_GRACEFUL_CLOSE | XP1_CONNECT_DATA | XP1_DISCONNECT_DATA));
        CHECK(WSPGetServiceFlags(net.b) == XP1_GRACEFUL_CLOSE);
        Pair p = connect_pair(net);
        int limit = -1;
        REQUIRE(get_int_opt(p.client, SOL_SOCKET, SO_DISCDATALEN, &limit) == 0);
        CHECK(limit == 0);  // not negotiated
        CHECK(send_disconnect(p.client, "x", 1) == WSAENOPROTOOPT);
        CHECK(send_disconnect(p.server, "x", 1) == WSAENOPROTOOPT);
        // Nothing was sent: the connection is intact and the app may fall back to shutdown.
        net.advance(kPastEveryDeadline);
        CHECK(host_stat(net.a, "disconnect_data_sent") == 0);
        CHECK(host_stat(net.b, "disconnect_data_sent") == 0);
        REQUIRE(send_str(p.client, "ok") == 0);
        REQUIRE(net.until_readable(p.server));
        char buf[4];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "ok");
        int err = 0;
        REQUIRE(WSPSendDisconnect(p.client, nullptr, &err) == 0);
        int e = 0;
        CHECK(read_to_eof(net, p.server, &e).empty());
        CHECK(e == 0);
        std::string d = "junk";
        CHECK(recv_disconnect(p.server, &d) == 0);
        CHECK(d.empty());
    }

    TEST_CASE(
        "SEMANTICS 13 - SendDisconnect with a NULL data pointer and nonzero length fails "
        "WSAEFAULT") {
        Net net;
        Pair p = connect_pair(net);
        WSABUF bad{8, nullptr};
        int err = 0;
        CHECK(WSPSendDisconnect(p.client, &bad, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        CHECK(send_str(p.client, "still open") == 0);  // nothing was shut
    }

    TEST_CASE(
        "SEMANTICS 14 15 16 61 - SO_DISCDATALEN is the limit - longer data fails WSAEMSGSIZE and "
        "the limit itself arrives intact") {
        NetParams np;
        np.loss = 0.2;  // retransmitted FINs must carry the same bytes (15)
        np.seed = 5;
        Net net(np);
        Pair p = connect_pair(net);
        int limit = 0;
        REQUIRE(get_int_opt(p.client, SOL_SOCKET, SO_DISCDATALEN, &limit) == 0);
        CHECK((limit == 36 || limit == 24));  // DESIGN.md §3: 36, or 24 with timestamps
        int before = -1;
        REQUIRE(get_int_opt(new_socket(net.a), SOL_SOCKET, SO_DISCDATALEN, &before) == 0);
        CHECK(before == 0);  // no connection yet
        const std::string too_long = pattern(static_cast<std::size_t>(limit) + 1);
        CHECK(send_disconnect(p.client, too_long.data(), too_long.size()) == WSAEMSGSIZE);
        CHECK(send_str(p.client, "x") == 0);  // nothing was sent or shut (16)
        const std::string max = pattern(static_cast<std::size_t>(limit), 2);
        REQUIRE(send_disconnect(p.client, max.data(), max.size()) == 0);  // 14
        Events sev(p.server, FD_READ | FD_CLOSE);
        REQUIRE(net.until_event(sev, FD_READ));
        char buf[4];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(n == 1);
        REQUIRE(net.until_event(sev, FD_CLOSE));
        std::string d;
        REQUIRE(recv_disconnect(p.server, &d) == 0);
        CHECK(d == max);
        CHECK(host_stat(net.a, "disconnect_data_sent") == 1);
        CHECK(host_stat(net.b, "disconnect_data_received") == 1);
    }

    TEST_CASE(
        "SEMANTICS 19 20 - a short RecvDisconnect buffer fails WSAEFAULT and the data stays "
        "retrievable") {
        Net net;
        Pair p = connect_pair(net);
        const std::string data = "0123456789abcdef";
        REQUIRE(send_disconnect(p.client, data.data(), data.size()) == 0);
        Events sev(p.server, FD_CLOSE);
        REQUIRE(net.until_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == 0);
        char small[8];
        WSABUF wb{sizeof small, small};
        int err = 0;
        CHECK(WSPRecvDisconnect(p.server, &wb, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        CHECK(WSPRecvDisconnect(p.server, nullptr, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        // Receives are still allowed after the failure: the stream ends normally.
        char buf[4];
        DWORD n = 9;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(n == 0);
        char big[64];
        WSABUF wb2{sizeof big, big};
        REQUIRE(WSPRecvDisconnect(p.server, &wb2, &err) == 0);
        CHECK(wb2.len == data.size());  // 20: len = bytes copied
        CHECK(std::string(big, wb2.len) == data);
        // Retrievable again (the data is not consumed).
        WSABUF wb3{sizeof big, big};
        REQUIRE(WSPRecvDisconnect(p.server, &wb3, &err) == 0);
        CHECK(std::string(big, wb3.len) == data);
    }

    TEST_CASE(
        "SEMANTICS 22 - RecvDisconnect before the peer's FIN returns 0 bytes and disables "
        "receives") {
        Net net;
        Pair p = connect_pair(net);
        char dbuf[16];
        WSABUF wb{sizeof dbuf, dbuf};
        int err = 0;
        REQUIRE(WSPRecvDisconnect(p.server, &wb, &err) == 0);  // not WSAENOTCONN
        CHECK(wb.len == 0);
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAESHUTDOWN);
        // As SD_RECEIVE: the server can still send, and data arriving now resets (8).
        REQUIRE(send_str(p.server, "hi") == 0);
        REQUIRE(net.until_readable(p.client));
        REQUIRE(recv_bytes(p.client, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "hi");
        Events cev(p.client, FD_CLOSE);
        REQUIRE(send_str(p.client, "late") == 0);
        REQUIRE(net.until_event(cev, FD_CLOSE));
        CHECK(cev.error(FD_CLOSE_BIT) == WSAECONNRESET);
    }

    TEST_CASE(
        "SEMANTICS 26 - non-blocking recv returns 0 after the FIN once all data is read - sticky - "
        "never WSAEDISCON") {
        Net net;
        Pair p = connect_pair(net);
        REQUIRE(send_str(p.client, "abc") == 0);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        net.run();
        char buf[100];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, 2, &n) == 0);
        CHECK(std::string(buf, n) == "ab");
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "c");
        for (int i = 0; i < 3; ++i) {  // end of stream is sticky
            REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
            CHECK(n == 0);
        }
        net.advance(kPastEveryDeadline);
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(n == 0);
    }

    TEST_CASE("SEMANTICS 27 - recv when the connection was reset after data arrived") {
        // Data, then the peer's RST: WSPRecv may deliver bytes that were already buffered, but
        // it must end in WSAECONNRESET and never report a graceful end (0).
        Net net;
        Pair p = connect_pair(net);
        Events sev(p.server, FD_READ | FD_CLOSE);
        const std::string data = pattern(3000);
        REQUIRE(send_str(p.client, data) == 0);
        REQUIRE(net.until_event(sev, FD_READ));
        REQUIRE(set_linger(p.client, 1, 0) == 0);
        REQUIRE(close_socket(p.client) == 0);
        REQUIRE(net.until_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == WSAECONNRESET);
        std::string got;
        char buf[512];
        int e = 0;
        for (int i = 0; i < 100; ++i) {
            DWORD n = 0;
            e = recv_bytes(p.server, buf, sizeof buf, &n);
            if (e != 0)
                break;
            REQUIRE(n > 0);  // never a graceful end of stream
            got.append(buf, n);
        }
        CHECK(e == WSAECONNRESET);
        CHECK(data.compare(0, got.size(), got) == 0);
    }
}
