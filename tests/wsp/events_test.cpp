// SEMANTICS.md checklist 41-55: WSPEventSelect / WSPEnumNetworkEvents (FD_CLOSE timing and error
// codes, re-enabling, records, inheritance), FD_CONNECT -- on virtual time.
#include <string>

#include "virtual_fixture.hpp"

using namespace wsptest;

TEST_SUITE("wsp") {
    TEST_CASE(
        "SEMANTICS 41 43 45 - FD_CLOSE 0 on entering CLOSE-WAIT and on TIME-WAIT after our SD_SEND "
        "- once only") {
        Net net;
        Pair p = connect_pair(net);
        Events cev(p.client, FD_CLOSE);
        Events sev(p.server, FD_CLOSE);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        REQUIRE(net.until_event(sev, FD_CLOSE));  // server: CLOSE-WAIT
        CHECK(sev.error(FD_CLOSE_BIT) == 0);
        // Client: FIN-WAIT-2 (its socket is open, so no timeout ends it): no FD_CLOSE, ever.
        net.advance(kPastEveryDeadline);
        CHECK_FALSE(cev.has(FD_CLOSE));
        REQUIRE(shutdown_socket(p.server, SD_SEND) == 0);
        REQUIRE(net.until_event(cev, FD_CLOSE));  // client: TIME-WAIT
        CHECK(cev.error(FD_CLOSE_BIT) == 0);
        // One-shot (45): reading end of stream and the connection closing do not repeat it.
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == 0);
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        REQUIRE(net.run_until([&] { return host_stat(net.a, "time_wait") == 0; }, kBound,
                              "TIME-WAIT ended"));
        net.advance(kPastEveryDeadline);
        cev.poll();
        sev.poll();
        CHECK(cev.count(FD_CLOSE_BIT) == 1);
        CHECK(sev.count(FD_CLOSE_BIT) == 1);
    }

    TEST_CASE(
        "SEMANTICS 43 - TIME-WAIT lasts 2 MSL on the host clock then the connection is gone") {
        Net net;
        Pair p = connect_pair(net);
        Events cev(p.client, FD_CLOSE);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        REQUIRE(shutdown_socket(p.server, SD_SEND) == 0);
        REQUIRE(net.until_event(cev, FD_CLOSE));  // client: TIME-WAIT
        const Instant entered = net.now();
        CHECK(host_stat(net.a, "time_wait") == 1);
        net.advance(59s);
        CHECK(host_stat(net.a, "time_wait") == 1);  // 2 x 30 s not yet over
        REQUIRE(net.run_until([&] { return host_stat(net.a, "time_wait") == 0; }, 10s,
                              "TIME-WAIT ended"));
        CHECK(net.now() - entered >= 60s);
    }

    TEST_CASE(
        "SEMANTICS 44 - FD_CLOSE is withheld until all data is read and no FD_READ is raised for "
        "the FIN") {
        Net net;
        Pair p = connect_pair(net);
        Events sev(p.server, FD_READ | FD_CLOSE);
        REQUIRE(send_str(p.client, "0123456789") == 0);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        REQUIRE(net.until_event(sev, FD_READ));
        // The FIN has arrived (and long been acknowledged): still no FD_CLOSE while data waits.
        net.advance(kPastEveryDeadline);
        CHECK_FALSE(sev.has(FD_CLOSE));
        sev.take(FD_READ);
        char buf[4];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, 4, &n) == 0);  // partial read: still data, no FD_CLOSE
        CHECK(n == 4);
        CHECK((sev.poll() & FD_CLOSE) == 0);
        sev.take(FD_READ);  // (re-recorded: data remains after the partial read, 46)
        char rest[16];
        REQUIRE(recv_bytes(p.server, rest, sizeof rest, &n) == 0);
        CHECK(n == 6);
        REQUIRE(net.until_event(sev, FD_CLOSE));
        CHECK(sev.error(FD_CLOSE_BIT) == 0);
        sev.take(FD_CLOSE);
        sev.poll();
        CHECK((sev.seen() & FD_READ) == 0);  // the FIN raised no FD_READ
    }

    TEST_CASE(
        "SEMANTICS 46 - FD_READ is level-triggered and re-armed by any WSPRecv even a failing "
        "one") {
        Net net;
        Pair p = connect_pair(net);
        Events sev(p.server, FD_READ);
        REQUIRE(send_str(p.client, pattern(100)) == 0);
        REQUIRE(net.until_event(sev, FD_READ));
        sev.take(FD_READ);
        CHECK(sev.count(FD_READ_BIT) == 1);
        // More data arriving without a WSPRecv does not record FD_READ again.
        REQUIRE(send_str(p.client, pattern(10)) == 0);
        REQUIRE(net.run_until([&] { return fionread(p.server) == 110; }, kBound, "110 bytes"));
        CHECK((sev.poll() & FD_READ) == 0);
        // 110 bytes, read 50: FD_READ again, because data remains.
        char buf[64];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, 50, &n) == 0);
        CHECK(n == 50);
        CHECK((sev.poll() & FD_READ) != 0);
        // Read the rest: no FD_READ.
        REQUIRE(recv_bytes(p.server, buf, 64, &n) == 0);
        CHECK(n == 60);
        CHECK((sev.poll() & FD_READ) == 0);
        // A failing WSPRecv (WSAEWOULDBLOCK) also re-enables: the next data records FD_READ.
        CHECK(recv_bytes(p.server, buf, 64, &n) == WSAEWOULDBLOCK);
        sev.take(FD_READ);
        REQUIRE(send_str(p.client, "x") == 0);
        REQUIRE(net.until_event(sev, FD_READ));
        CHECK(sev.error(FD_READ_BIT) == 0);
    }

    TEST_CASE(
        "SEMANTICS 47 59 - FD_WRITE on connect and again only after a WSAEWOULDBLOCK send once "
        "space frees") {
        NetParams np;
        np.a.send_buffer = 8192;
        np.b.recv_buffer = 2048;
        Net net(np);
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        const SOCKET c = new_socket(net.a);
        Events cev(c, FD_CONNECT | FD_WRITE);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(cev, FD_CONNECT));
        REQUIRE(net.until_event(cev, FD_WRITE));  // on connection
        CHECK(cev.error(FD_WRITE_BIT) == 0);
        cev.take(FD_WRITE);
        REQUIRE(net.until_readable(listener));
        const SOCKET sv = accept_now(listener);
        // Successful sends do not record FD_WRITE.
        REQUIRE(send_str(c, "abc") == 0);
        net.run();
        CHECK((cev.poll() & FD_WRITE) == 0);
        // Fill everything until WSAEWOULDBLOCK (59).
        const std::string chunk = pattern(4096);
        std::size_t queued = 3;
        int e = 0;
        for (int i = 0; i < 1000; ++i) {
            DWORD sent = 0;
            e = send_str(c, chunk, &sent);
            if (e != 0)
                break;
            queued += sent;
            net.run();
        }
        REQUIRE(e == WSAEWOULDBLOCK);
        CHECK((cev.poll() & FD_WRITE) == 0);
        // The peer reads: space frees, FD_WRITE is recorded.
        std::string got;
        char buf[4096];
        while (!cev.has(FD_WRITE)) {
            DWORD n = 0;
            const int r = recv_bytes(sv, buf, sizeof buf, &n);
            if (r == WSAEWOULDBLOCK) {
                REQUIRE(net.run_until([&] { return readable(sv) || cev.has(FD_WRITE); }, kBound,
                                      "data or FD_WRITE"));
                continue;
            }
            REQUIRE(r == 0);
            got.append(buf, n);
        }
        CHECK(cev.error(FD_WRITE_BIT) == 0);
        CHECK(got.size() <= queued);
    }

    TEST_CASE(
        "SEMANTICS 48 49 54 - FD_ACCEPT recorded at once for a pending connection - re-armed by "
        "WSPAccept - inherited registration") {
        Net net;
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        const SOCKET c1 = connect_client(net, 5000);
        const SOCKET c2 = connect_client(net, 5000);
        // A connection is queued before the selection: FD_ACCEPT is recorded at once (49).
        WSP_FD_SET rd{};
        rd.fd_count = 1;
        rd.fd_array[0] = listener;
        TIMEVAL tv{0, 0};
        int serr = 0;
        REQUIRE(WSPSelect(0, &rd, nullptr, nullptr, &tv, &serr) == 1);
        Events lev(listener, FD_ACCEPT | FD_READ | FD_CLOSE);
        CHECK(WSAWaitForMultipleEvents(1, std::array{lev.event()}.data(), 0, 0, 0) ==
              WSA_WAIT_EVENT_0);
        CHECK((lev.poll() & FD_ACCEPT) != 0);
        CHECK((lev.poll() & FD_ACCEPT) == 0);  // not again until WSPAccept
        int err = 0;
        const SOCKET s1 = WSPAccept(listener, nullptr, nullptr, nullptr, 0, &err);
        REQUIRE(s1 != INVALID_SOCKET);
        // The second connection is queued too: it is recorded because WSPAccept re-armed
        // FD_ACCEPT (48).
        lev.take(FD_ACCEPT);
        REQUIRE(net.until_event(lev, FD_ACCEPT));
        const SOCKET s2 = WSPAccept(listener, nullptr, nullptr, nullptr, 0, &err);
        REQUIRE(s2 != INVALID_SOCKET);
        CHECK((lev.poll() & FD_ACCEPT) == 0);
        // WSAEWOULDBLOCK from the (non-blocking) listener also re-arms it.
        CHECK(WSPAccept(listener, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET);
        CHECK(err == WSAEWOULDBLOCK);
        lev.take(FD_ACCEPT);
        const SOCKET c3 = nb_socket(net.a);
        REQUIRE(connect_to(c3, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(lev, FD_ACCEPT));
        // Accepted sockets inherit the registration (54): same event object, same mask, and
        // non-blocking.
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(s1, buf, sizeof buf, &n) == WSAEWOULDBLOCK);
        CHECK(set_nonblocking(s1, false) == WSAEINVAL);
        REQUIRE(send_str(c1, "hi") == 0);
        WSANETWORKEVENTS ne{};
        REQUIRE(net.run_until(
            [&] {
                if (WSAWaitForMultipleEvents(1, std::array{lev.event()}.data(), 0, 0, 0) !=
                    WSA_WAIT_EVENT_0)
                    return false;
                REQUIRE(WSPEnumNetworkEvents(s1, lev.event(), &ne, &err) == 0);
                return (ne.lNetworkEvents & FD_READ) != 0;
            },
            kBound, "FD_READ on the accepted socket"));
        CHECK((ne.lNetworkEvents & FD_READ) != 0);
        (void)c2;
    }

    TEST_CASE(
        "SEMANTICS 47 54 - an accepted socket inherits the listener's FD_WRITE registration and "
        "records FD_WRITE at once") {
        Net net;
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        Events lev(listener, FD_ACCEPT | FD_WRITE | FD_READ);
        (void)connect_client(net, 5000);
        REQUIRE(net.until_event(lev, FD_ACCEPT));
        int err = 0;
        const SOCKET s = WSPAccept(listener, nullptr, nullptr, nullptr, 0, &err);
        REQUIRE(s != INVALID_SOCKET);
        // "FD_WRITE ... when a socket is first connected ... or accepted" [S10], on the
        // listener's event object.
        WSANETWORKEVENTS ne{};
        REQUIRE(WSPEnumNetworkEvents(s, lev.event(), &ne, &err) == 0);
        CHECK(ne.lNetworkEvents == FD_WRITE);
        CHECK(ne.iErrorCode[FD_WRITE_BIT] == 0);
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(s, buf, sizeof buf, &n) == WSAEWOULDBLOCK);  // non-blocking (50)
    }

    TEST_CASE(
        "SEMANTICS 57 - an accepted socket has the non-blocking mode of its FIONBIO listener") {
        Net net;
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        REQUIRE(set_nonblocking(listener, true) == 0);
        (void)connect_client(net, 5000);
        REQUIRE(net.until_readable(listener));
        int err = 0;
        const SOCKET s = WSPAccept(listener, nullptr, nullptr, nullptr, 0, &err);
        REQUIRE(s != INVALID_SOCKET);
        // "Newly created sockets have the same properties as the socket s" [S12]. (On
        // virtual time a blocking WSPRecv would never return.)
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(s, buf, sizeof buf, &n) == WSAEWOULDBLOCK);
    }

    TEST_CASE(
        "SEMANTICS 50 - EventSelect forces non-blocking and FIONBIO 0 fails WSAEINVAL until "
        "EventSelect s 0 0") {
        Net net;
        Pair p = connect_pair(net);
        REQUIRE(set_nonblocking(p.server, false) == 0);  // a blocking socket to begin with
        WSAEVENT ev = WSACreateEvent();
        int err = 0;
        REQUIRE(WSPEventSelect(p.server, ev, 0, &err) == 0);  // even with no events
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAEWOULDBLOCK);
        REQUIRE(WSPEventSelect(p.server, ev, FD_READ, &err) == 0);
        CHECK(set_nonblocking(p.server, false) == WSAEINVAL);
        CHECK(set_nonblocking(p.server, true) == 0);
        REQUIRE(WSPEventSelect(p.server, nullptr, 0, &err) == 0);
        CHECK(set_nonblocking(p.server, false) == 0);
        REQUIRE(send_str(p.client, "z") == 0);
        net.run();
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);  // blocking again (data is there)
        CHECK(n == 1);
        WSACloseEvent(ev);
    }

    TEST_CASE("SEMANTICS 51 - a second EventSelect replaces the first and clears the record") {
        Net net;
        Pair p = connect_pair(net);
        WSAEVENT e1 = WSACreateEvent();
        WSAEVENT e2 = WSACreateEvent();
        int err = 0;
        REQUIRE(WSPEventSelect(p.server, e1, FD_READ, &err) == 0);
        REQUIRE(send_str(p.client, "x") == 0);
        REQUIRE(net.run_until(
            [&] { return WSAWaitForMultipleEvents(1, &e1, 0, 0, 0) == WSA_WAIT_EVENT_0; }, kBound,
            "event 1 signalled"));
        // FD_READ is recorded; the new selection (FD_CLOSE only) clears it.
        REQUIRE(WSPEventSelect(p.server, e2, FD_CLOSE, &err) == 0);
        WSANETWORKEVENTS ne{};
        REQUIRE(WSPEnumNetworkEvents(p.server, e2, &ne, &err) == 0);
        CHECK(ne.lNetworkEvents == 0);
        CHECK(WSAWaitForMultipleEvents(1, &e2, 0, 0, 0) == WSA_WAIT_TIMEOUT);
        // Only the new selection's events are reported, on the new event object.
        REQUIRE(WSAResetEvent(e1));
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        char buf[4];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        REQUIRE(net.run_until(
            [&] { return WSAWaitForMultipleEvents(1, &e2, 0, 0, 0) == WSA_WAIT_EVENT_0; }, kBound,
            "event 2 signalled"));
        REQUIRE(WSPEnumNetworkEvents(p.server, e2, &ne, &err) == 0);
        CHECK(ne.lNetworkEvents == FD_CLOSE);
        CHECK(WSAWaitForMultipleEvents(1, &e1, 0, 0, 0) == WSA_WAIT_TIMEOUT);
        WSACloseEvent(e1);
        WSACloseEvent(e2);
    }

    TEST_CASE(
        "WSAEventSelect [S10] - an EventSelect on a socket whose connection has closed records "
        "FD_CLOSE at once with its error - graceful 0 and reset WSAECONNRESET - also when the "
        "record that held it was cleared unread") {
        Net net;
        Pair g = connect_pair(net, 5000);  // closed gracefully
        Pair r = connect_pair(net, 5001);  // reset
        WSAEVENT ev[4] = {WSACreateEvent(), WSACreateEvent(), WSACreateEvent(), WSACreateEvent()};
        int err = 0;
        auto signalled = [&](WSAEVENT e) {
            return WSAWaitForMultipleEvents(1, &e, 0, 0, 0) == WSA_WAIT_EVENT_0;
        };
        // Graceful: FD_CLOSE(0) under the first selection, never read ...
        REQUIRE(WSPEventSelect(g.server, ev[0], FD_CLOSE, &err) == 0);
        REQUIRE(shutdown_socket(g.client, SD_SEND) == 0);
        REQUIRE(net.run_until([&] { return signalled(ev[0]); }, kBound, "FD_CLOSE recorded"));
        // ... a new selection clears that record (51) and records FD_CLOSE again at once.
        REQUIRE(WSPEventSelect(g.server, ev[1], FD_READ | FD_CLOSE, &err) == 0);
        CHECK(signalled(ev[1]));
        WSANETWORKEVENTS ne{};
        REQUIRE(WSPEnumNetworkEvents(g.server, ev[1], &ne, &err) == 0);
        CHECK(ne.lNetworkEvents == FD_CLOSE);
        CHECK(ne.iErrorCode[FD_CLOSE_BIT] == 0);
        // Once per selection: nothing more under this one.
        net.advance(kPastEveryDeadline);
        REQUIRE(WSPEnumNetworkEvents(g.server, ev[1], &ne, &err) == 0);
        CHECK(ne.lNetworkEvents == 0);
        // Reset: FD_CLOSE(WSAECONNRESET) read under the first selection, and again under the next.
        REQUIRE(WSPEventSelect(r.server, ev[2], FD_CLOSE, &err) == 0);
        REQUIRE(set_linger(r.client, 1, 0) == 0);
        REQUIRE(close_socket(r.client) == 0);
        REQUIRE(net.run_until([&] { return signalled(ev[2]); }, kBound, "FD_CLOSE recorded"));
        REQUIRE(WSPEnumNetworkEvents(r.server, ev[2], &ne, &err) == 0);
        CHECK(ne.lNetworkEvents == FD_CLOSE);
        CHECK(ne.iErrorCode[FD_CLOSE_BIT] == WSAECONNRESET);
        REQUIRE(WSPEventSelect(r.server, ev[3], FD_CLOSE, &err) == 0);
        ne = WSANETWORKEVENTS{};
        REQUIRE(WSPEnumNetworkEvents(r.server, ev[3], &ne, &err) == 0);
        CHECK(ne.lNetworkEvents == FD_CLOSE);
        CHECK(ne.iErrorCode[FD_CLOSE_BIT] == WSAECONNRESET);
        for (WSAEVENT e : ev) WSACloseEvent(e);
    }

    TEST_CASE(
        "SEMANTICS 52 53 - EnumNetworkEvents clears record and event atomically - on failure "
        "neither - iErrorCode only at reported bits") {
        Net net;
        Pair p = connect_pair(net);
        WSAEVENT ev = WSACreateEvent();
        int err = 0;
        REQUIRE(WSPEventSelect(p.server, ev, FD_READ | FD_CLOSE, &err) == 0);
        REQUIRE(set_linger(p.client, 1, 0) == 0);
        REQUIRE(close_socket(p.client) == 0);  // RST: FD_CLOSE with WSAECONNRESET
        REQUIRE(net.run_until(
            [&] { return WSAWaitForMultipleEvents(1, &ev, 0, 0, 0) == WSA_WAIT_EVENT_0; }, kBound,
            "event signalled"));
        // A failing call (NULL output) leaves the event signalled and the record intact.
        CHECK(WSPEnumNetworkEvents(p.server, ev, nullptr, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        CHECK(WSAWaitForMultipleEvents(1, &ev, 0, 0, 0) == WSA_WAIT_EVENT_0);
        WSANETWORKEVENTS ne{};
        for (int& e : ne.iErrorCode) e = 0x7777;
        REQUIRE(WSPEnumNetworkEvents(p.server, ev, &ne, &err) == 0);
        CHECK(ne.lNetworkEvents == FD_CLOSE);
        CHECK(ne.iErrorCode[FD_CLOSE_BIT] == WSAECONNRESET);
        for (int b = 0; b < FD_MAX_EVENTS; ++b)
            if (b != FD_CLOSE_BIT)
                CHECK(ne.iErrorCode[b] == 0x7777);  // 53
        // Cleared and reset (52).
        CHECK(WSAWaitForMultipleEvents(1, &ev, 0, 0, 0) == WSA_WAIT_TIMEOUT);
        WSANETWORKEVENTS again{};
        REQUIRE(WSPEnumNetworkEvents(p.server, ev, &again, &err) == 0);
        CHECK(again.lNetworkEvents == 0);
        WSACloseEvent(ev);
    }

    TEST_CASE("SEMANTICS 45 55 - FD_CONNECT once with 0 - and WSAECONNREFUSED to a closed port") {
        Net net;
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        (void)listener;
        const SOCKET c = new_socket(net.a);
        Events cev(c, FD_CONNECT | FD_CLOSE);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(cev, FD_CONNECT));
        CHECK(cev.error(FD_CONNECT_BIT) == 0);
        const SOCKET r = new_socket(net.a);
        Events rev(r, FD_CONNECT | FD_CLOSE | FD_WRITE);
        CHECK(connect_to(r, kAddrB, 5999) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(rev, FD_CONNECT));
        CHECK(rev.error(FD_CONNECT_BIT) == WSAECONNREFUSED);
        net.advance(kPastEveryDeadline);
        rev.poll();
        CHECK((rev.seen() & (FD_CLOSE | FD_WRITE)) == 0);  // a failed connect is not a close
        int so_error = -1;
        CHECK(get_int_opt(r, SOL_SOCKET, SO_ERROR, &so_error) == 0);
        CHECK(so_error == WSAECONNREFUSED);
        // After a refused connect the socket may connect again (SPI WSPConnect).
        CHECK(connect_to(r, kAddrB, 5000) == WSAEWOULDBLOCK);
        rev.take(FD_CONNECT);
        REQUIRE(net.until_event(rev, FD_CONNECT));
        CHECK(rev.error(FD_CONNECT_BIT) == 0);
        net.advance(kPastEveryDeadline);
        cev.poll();
        CHECK(cev.count(FD_CONNECT_BIT) == 1);
    }

    TEST_CASE("SEMANTICS 55 - FD_CONNECT with WSAETIMEDOUT once the SYN retransmissions give up") {
        Net net;
        const SOCKET listener = listen_on(net.b, kAddrB, 5000);
        (void)listener;
        net.set_loss(1.0);  // nothing gets through
        const SOCKET c = new_socket(net.a);
        Events cev(c, FD_CONNECT | FD_CLOSE | FD_WRITE);
        const Instant t0 = net.now();
        CHECK(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(cev, FD_CONNECT, 10min));
        CHECK(cev.error(FD_CONNECT_BIT) == WSAETIMEDOUT);
        // 1 s initial RTO, six retransmissions (config.hpp): 1 + 2 + ... + 64 = 127 s.
        CHECK(net.now() - t0 >= 100s);
        CHECK((cev.seen() & (FD_CLOSE | FD_WRITE)) == 0);
        int so_error = -1;
        CHECK(get_int_opt(c, SOL_SOCKET, SO_ERROR, &so_error) == 0);
        CHECK(so_error == WSAETIMEDOUT);
        // After WSAETIMEDOUT the socket may connect again (SPI WSPConnect).
        net.set_loss(0.0);
        cev.take(FD_CONNECT);
        CHECK(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(cev, FD_CONNECT));
        CHECK(cev.error(FD_CONNECT_BIT) == 0);
    }

    TEST_CASE("SEMANTICS 42 - FD_CLOSE with WSAECONNABORTED when the retransmissions give up") {
        Net net;
        Pair p = connect_pair(net);
        Events cev(p.client, FD_CLOSE);
        net.set_loss(1.0);  // the peer is unreachable from now on
        REQUIRE(send_str(p.client, "lost") == 0);
        const Instant t0 = net.now();
        REQUIRE(net.until_event(cev, FD_CLOSE, 30min));
        CHECK(cev.error(FD_CLOSE_BIT) == WSAECONNABORTED);
        CHECK(net.now() - t0 >= 100s);  // RFC 9293 §3.8.3 R2: at least 100 s
        CHECK(host_stat(net.a, "retransmission_timeouts") >= 12);
        // The calls report the give-up too (never a graceful end): WSAETIMEDOUT or
        // WSAECONNABORTED, both "time-out" codes of WSPRecv / WSPSend.
        char buf[8];
        DWORD n = 0;
        const int r = recv_bytes(p.client, buf, sizeof buf, &n);
        CHECK((r == WSAETIMEDOUT || r == WSAECONNABORTED));
        const int s = send_str(p.client, "x");
        CHECK((s == WSAETIMEDOUT || s == WSAECONNABORTED));
    }
}
