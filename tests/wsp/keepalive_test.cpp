// Keep-alive and call time-outs, Winsock's way (SO_KEEPALIVE, SIO_KEEPALIVE_VALS, SO_RCVTIMEO,
// SO_SNDTIMEO), on virtual time: the engine's keep-alive (RFC 1122 §4.2.3.6) behind them. The
// blocking time-outs themselves are in threads/blocking_test.cpp.
#include "virtual_fixture.hpp"

using namespace wsptest;

namespace {

int keepalive_vals(SOCKET s, ULONG onoff, ULONG time_ms, ULONG interval_ms, DWORD len = 0) {
    tcp_keepalive v{onoff, time_ms, interval_ms};
    DWORD returned = 0;
    int err = 0;
    const DWORD n = len != 0 ? len : static_cast<DWORD>(sizeof v);
    return WSPIoctl(s, SIO_KEEPALIVE_VALS, &v, n, nullptr, 0, &returned, &err) == 0 ? 0 : err;
}

int get_dword(SOCKET s, int name, DWORD* v) {
    int len = sizeof *v;
    int err = 0;
    return WSPGetSockOpt(s, SOL_SOCKET, name, reinterpret_cast<char*>(v), &len, &err) == 0 ? 0
                                                                                           : err;
}

int set_dword(SOCKET s, int name, DWORD v, int len = sizeof(DWORD)) {
    int err = 0;
    return WSPSetSockOpt(s, SOL_SOCKET, name, reinterpret_cast<const char*>(&v), len, &err) == 0
               ? 0
               : err;
}

}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE(
        "SIO_KEEPALIVE_VALS: a peer that vanished ends the idle connection after 10 unanswered "
        "probes - FD_CLOSE and WSPRecv report WSAENETRESET") {
        Net net;
        const Pair p = connect_pair(net);
        REQUIRE(keepalive_vals(p.client, 1, 2000, 500) == 0);
        Events ev(p.client, FD_CLOSE);
        const Instant cut = net.now();
        net.set_loss(1.0);  // the peer is gone: nothing reaches it, nothing comes back
        REQUIRE(net.until_event(ev, FD_CLOSE));
        CHECK(ev.error(FD_CLOSE_BIT) == WSAENETRESET);
        // 2 s idle, then a probe every 0.5 s: the tenth unanswered one ends it.
        CHECK(net.now() - cut >= Duration(2s + 10 * 500ms));
        CHECK(net.now() - cut < Duration(2s + 12 * 500ms));
        CHECK(host_stat(net.a, "keepalive_probes") == 10);
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(p.client, buf, sizeof buf, &n) == WSAENETRESET);
        CHECK(send_str(p.client, "x") == WSAENETRESET);
    }

    TEST_CASE(
        "SO_KEEPALIVE: off by default (RFC 1122 §4.2.3.6) - on, a live peer answers every probe "
        "and the idle connection stands") {
        NetParams np;
        Net net(np);
        const Pair p = connect_pair(net);
        int v = -1;
        REQUIRE(get_int_opt(p.client, SOL_SOCKET, SO_KEEPALIVE, &v) == 0);
        CHECK(v == 0);
        net.advance(3h);
        CHECK(host_stat(net.a, "keepalive_probes") == 0);
        const BOOL on = 1;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.client, SOL_SOCKET, SO_KEEPALIVE,
                              reinterpret_cast<const char*>(&on), sizeof on, &err) == 0);
        REQUIRE(get_int_opt(p.client, SOL_SOCKET, SO_KEEPALIVE, &v) == 0);
        CHECK(v == 1);
        net.advance(5h);  // the host's default idle time: 2 h
        CHECK(host_stat(net.a, "keepalive_probes") == 2);
        REQUIRE(send_str(p.client, "still here") == 0);
        net.run();
        char buf[16];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(n == 10);
    }

    TEST_CASE(
        "SIO_KEEPALIVE_VALS: a short buffer fails WSAEFAULT - zero times with onoff WSAEINVAL - "
        "off needs no times - SO_KEEPALIVE reads what it set") {
        Net net;
        const SOCKET s = new_socket(net.a);
        CHECK(keepalive_vals(s, 1, 1000, 1000, sizeof(ULONG) * 2) == WSAEFAULT);
        CHECK(keepalive_vals(s, 1, 0, 1000) == WSAEINVAL);
        CHECK(keepalive_vals(s, 1, 1000, 0) == WSAEINVAL);
        int v = -1;
        REQUIRE(keepalive_vals(s, 1, 1000, 1000) == 0);
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_KEEPALIVE, &v) == 0);
        CHECK(v == 1);
        REQUIRE(keepalive_vals(s, 0, 0, 0) == 0);
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_KEEPALIVE, &v) == 0);
        CHECK(v == 0);
    }

    TEST_CASE(
        "SO_RCVTIMEO and SO_SNDTIMEO: a DWORD of milliseconds - 0 by default - shorter than a "
        "DWORD WSAEFAULT - an accepted socket inherits them and SO_KEEPALIVE from its listener") {
        Net net;
        const SOCKET l = listen_on(net.b, kAddrB, 5000);
        DWORD ms = 7;
        REQUIRE(get_dword(l, SO_RCVTIMEO, &ms) == 0);
        CHECK(ms == 0);
        CHECK(set_dword(l, SO_RCVTIMEO, 250, 2) == WSAEFAULT);
        REQUIRE(set_dword(l, SO_RCVTIMEO, 250) == 0);
        REQUIRE(set_dword(l, SO_SNDTIMEO, 750) == 0);
        REQUIRE(keepalive_vals(l, 1, 60000, 1000) == 0);
        REQUIRE(set_nonblocking(l, true) == 0);
        const Pair p = accept_pair(net, l, 5000);
        REQUIRE(get_dword(p.server, SO_RCVTIMEO, &ms) == 0);
        CHECK(ms == 250);
        REQUIRE(get_dword(p.server, SO_SNDTIMEO, &ms) == 0);
        CHECK(ms == 750);
        int v = 0;
        REQUIRE(get_int_opt(p.server, SOL_SOCKET, SO_KEEPALIVE, &v) == 0);
        CHECK(v == 1);
        // ... and the connection probes: one minute idle, then the peer answers.
        net.advance(61s);
        CHECK(host_stat(net.b, "keepalive_probes") == 1);
    }
}
