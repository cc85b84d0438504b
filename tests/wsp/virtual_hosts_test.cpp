// The virtual-time harness itself (tests/support/virtual_hosts.hpp), through the WSP API: runs
// repeat to the packet, packets are routed by address among more than two hosts, and
// destroy_host stops a host without waiting.
#include <string>
#include <vector>

#include "virtual_fixture.hpp"

using namespace wsptest;

namespace {

// A lossy, duplicating transfer and close; returns everything observable about the run.
std::string lossy_run(std::uint64_t seed) {
    NetParams np;
    np.loss = 0.2;
    np.duplicate = 0.05;
    np.seed = seed;
    Net net(np);
    Pair p = connect_pair(net);
    const std::string data = pattern(100 * 1000, static_cast<unsigned>(seed));
    REQUIRE(send_all(net, p.client, data) == 0);
    REQUIRE(send_disconnect(p.client, "fin", 3) == 0);
    int e = 0;
    CHECK(read_to_eof(net, p.server, &e) == data);
    CHECK(e == 0);
    std::string d;
    REQUIRE(recv_disconnect(p.server, &d) == 0);
    CHECK(d == "fin");
    REQUIRE(close_socket(p.server) == 0);
    REQUIRE(close_socket(p.client) == 0);
    CHECK(net.settle(kPastEveryDeadline));
    std::vector<char> a(8192);
    std::vector<char> b(8192);
    REQUIRE(WSPFormatHostStats(net.a, a.data(), a.size()) > 0);
    REQUIRE(WSPFormatHostStats(net.b, b.data(), b.size()) > 0);
    const ustack::test::VirtualLinkStats& ls = net.link_stats();
    CHECK(ls.lost > 0);
    CHECK(ls.duplicated > 0);
    return std::string(a.data()) + std::string(b.data()) + "delivered " +
           std::to_string(ls.delivered) + "\nlost " + std::to_string(ls.lost) + "\nduplicated " +
           std::to_string(ls.duplicated) + "\nnow " + std::to_string(ustack::to_us(net.now()));
}

}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE("virtual time - a seeded lossy run repeats to the packet") {
        const std::string first = lossy_run(5);
        CHECK(first == lossy_run(5));
        CHECK(first != lossy_run(6));  // the seed matters
    }

    TEST_CASE("virtual time - three hosts - packets go to the host that owns the destination") {
        ustack::test::VirtualHosts net({}, [](const std::string& m) { FAIL(m); });
        Watchdog w(std::chrono::seconds(60), "three hosts");
        WSPHOST h[3];
        for (int i = 0; i < 3; ++i) {
            h[i] = net.add_host(ustack::test::VirtualHosts::wsp_options(
                ustack::ipv4(10, 0, 0, static_cast<std::uint8_t>(1 + i))));
            REQUIRE(h[i] != nullptr);
        }
        const IN_ADDR addr3 = in_addr_of(10, 0, 0, 3);
        const SOCKET l = listen_on(h[2], addr3, 7000);
        REQUIRE(set_nonblocking(l, true) == 0);
        SOCKET c[2];
        for (int i = 0; i < 2; ++i) {
            c[i] = new_socket(h[i]);
            REQUIRE(set_nonblocking(c[i], true) == 0);
            REQUIRE(connect_to(c[i], addr3, 7000) == WSAEWOULDBLOCK);
        }
        const SOCKET nowhere = new_socket(h[0]);
        REQUIRE(set_nonblocking(nowhere, true) == 0);
        REQUIRE(connect_to(nowhere, in_addr_of(10, 0, 0, 9), 7000) == WSAEWOULDBLOCK);
        net.run();
        for (int i = 0; i < 2; ++i) {
            int err = 0;
            const SOCKET s = WSPAccept(l, nullptr, nullptr, nullptr, 0, &err);
            REQUIRE(s != INVALID_SOCKET);
            REQUIRE(send_str(c[i], std::to_string(i)) == 0);
            net.run();
            char buf[4];
            DWORD n = 0;
            REQUIRE(recv_bytes(s, buf, sizeof buf, &n) == 0);
            CHECK(std::string(buf, n) == std::to_string(i));  // in connection order
        }
        CHECK(net.link_stats().unrouted >= 1);  // the SYN to 10.0.0.9
        CHECK(host_stat(h[1], "segments_in") > 0);
        CHECK(host_stat(h[1], "drop_not_for_us") == 0);
    }

    TEST_CASE("virtual time - destroy_host stops a host at once - its peer sees nothing more") {
        Net net;
        Pair p = connect_pair(net);
        REQUIRE(send_str(p.client, pattern(5000)) == 0);  // queued, not yet sent
        const long long out_before = host_stat(net.a, "segments_out");
        REQUIRE(net.destroy(net.a) == 0);
        net.advance(kPastEveryDeadline);
        CHECK(net.link_stats().undeliverable == 0);  // a sent nothing after it stopped
        CHECK(fionread(p.server) == 0);
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAEWOULDBLOCK);  // no FIN, no RST
        CHECK(out_before > 0);
    }
}
