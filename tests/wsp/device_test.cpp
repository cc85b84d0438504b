// A device that fails reaches the API (issue 22 item 2), on virtual time: the link's set_device
// does what a TUN device deleted under the host reports (HostCore::link_changed). Without
// re-attach the network is down for good: connections end with FD_CLOSE(WSAENETDOWN) and every
// call that needs the network fails WSAENETDOWN ("the network subsystem has failed"); with it
// (WSPHOSTCONFIG::reattach) connections keep their state and timers until the device is back.
// The real device's side -- a deleted interface noticed at once, a new one re-attached -- is in
// tests/host/tun_device_test.cpp.
#include "virtual_fixture.hpp"

using namespace wsptest;

TEST_SUITE("wsp") {
    TEST_CASE(
        "issue 22: the device fails - connections end at once with FD_CLOSE(WSAENETDOWN) - "
        "WSPRecv WSPSend WSPAccept WSPListen and WSPConnect fail WSAENETDOWN") {
        Net net;
        const Pair p = connect_pair(net);
        REQUIRE(send_str(p.client, "unread") == 0);
        net.run();
        Events ev(p.server, FD_CLOSE);
        const Instant cut = net.now();
        net.set_device(net.b, false);
        REQUIRE(net.until_event(ev, FD_CLOSE));
        CHECK(ev.error(FD_CLOSE_BIT) == WSAENETDOWN);
        CHECK(net.now() == cut);  // at once: no timer had to run out
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAENETDOWN);
        CHECK(send_str(p.server, "x") == WSAENETDOWN);
        int err = 0;
        CHECK(WSPAccept(p.listener, nullptr, nullptr, nullptr, 0, &err) == INVALID_SOCKET);
        CHECK(err == WSAENETDOWN);
        const SOCKET fresh = nb_socket(net.b);
        CHECK(connect_to(fresh, kAddrA, 6000) == WSAENETDOWN);
        const SOCKET l2 = new_socket(net.b);
        const SOCKADDR_IN at = sockaddr_of(kAddrB, 5001);
        REQUIRE(WSPBind(l2, sa(at), kSaLen, &err) == 0);
        CHECK(WSPListen(l2, 4, &err) == SOCKET_ERROR);
        CHECK(err == WSAENETDOWN);
        CHECK(host_stat(net.b, "device_failures") == 1);
        CHECK(host_stat(net.b, "network_down_closes") == 1);
        // Nothing was sent: the peer's connection still stands (its own timers will tell it).
        CHECK(host_stat(net.b, "rst_sent") == 0);
        CHECK(host_stat(net.a, "connections_current") == 1);
        // Closing still works: the handles go.
        CHECK(close_socket(p.server) == 0);
        CHECK(close_socket(fresh) == 0);
        CHECK(net.until_no_connections(net.b));
    }

    TEST_CASE(
        "issue 22: a WSPRecv blocked when the device fails wakes with WSAENETDOWN - not at its "
        "SO_RCVTIMEO") {
        Net net;
        const Pair p = connect_pair(net);
        REQUIRE(set_nonblocking(p.server, false) == 0);
        const DWORD ms = 30000;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.server, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms),
                              sizeof ms, &err) == 0);
        REQUIRE(send_str(p.client, "lost") == 0);
        // The client's first segment is lost; its retransmission -- one RTO later, so only once
        // the WSPRecv below is asleep (virtual time moves only then) -- comes with the device's
        // failure.
        int a_batches = 0;
        net.set_filter([&](std::size_t from, std::vector<std::vector<std::byte>>& batch) {
            if (from != 0)
                return;
            if (++a_batches == 1) {
                batch.clear();
            } else if (a_batches == 2) {
                net.set_device(net.b, false);
            }
        });
        const Instant t0 = net.now();
        char buf[8];
        DWORD n = 0;
        int r = 0;
        net.run_blocking(
            net.b, [&] { r = recv_bytes(p.server, buf, sizeof buf, &n); }, 60s,
            "WSPRecv blocked when the device fails");
        CHECK(r == WSAENETDOWN);
        CHECK(a_batches >= 2);
        CHECK(net.now() - t0 < 10s);
    }

    TEST_CASE(
        "issue 22: with reattach a connection outlives the device's absence - connects fail "
        "WSAENETDOWN meanwhile - what was sent arrives once it is back") {
        NetParams np;
        np.b.device_may_return = true;
        Net net(np);
        const Pair p = connect_pair(net);
        net.set_device(net.b, false);
        REQUIRE(send_str(p.client, "sent while b's device was gone") == 0);
        const SOCKET fresh = nb_socket(net.b);
        CHECK(connect_to(fresh, kAddrA, 6000) == WSAENETDOWN);
        net.advance(20s);  // the client retransmits into the void
        CHECK(host_stat(net.b, "connections_current") == 1);
        CHECK(host_stat(net.b, "network_down_closes") == 0);
        net.set_device(net.b, true);
        REQUIRE(net.until_readable(p.server));
        char buf[64];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "sent while b's device was gone");
        REQUIRE(send_str(p.server, "and back") == 0);
        REQUIRE(net.until_readable(p.client));
        REQUIRE(recv_bytes(p.client, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "and back");
        CHECK(host_stat(net.b, "device_failures") == 1);
        CHECK(host_stat(net.b, "device_reattached") == 1);
        // The host connects again.
        const SOCKET again = nb_socket(net.b);
        CHECK(connect_to(again, kAddrA, 6000) == WSAEWOULDBLOCK);
    }
}
