// What the application can read about its connection: WSPIoctl(SIO_TCP_INFO) names every
// RFC 9293 §3.3.2 state and its counters move as the connection does; SO_SNDBUF / SO_RCVBUF
// size a connection before and after its SYN (Winsock's SIO_TCP_INFO and SOL_SOCKET pages;
// RFC 7323 §2.2 for the window scale). All on virtual time.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "virtual_fixture.hpp"

using namespace wsptest;

namespace {

// SIO_TCP_INFO with input `version`, into an `Info` (TCP_INFO_v0 for version 0,
// USTACK_TCP_INFO for USTACK_TCP_INFO_VERSION).
template <class Info>
Info tcp_info(SOCKET s, DWORD version) {
    Info info{};
    DWORD n = 0;
    int err = 0;
    REQUIRE_MESSAGE(
        WSPIoctl(s, SIO_TCP_INFO, &version, sizeof version, &info, sizeof info, &n, &err) == 0,
        WSPErrorName(err));
    CHECK(n == sizeof info);
    return info;
}
USTACK_TCP_INFO info_of(SOCKET s) {
    return tcp_info<USTACK_TCP_INFO>(s, USTACK_TCP_INFO_VERSION);
}
// The state Winsock's TCP_INFO_v0 reports.
TCPSTATE state_of(SOCKET s) {
    return tcp_info<TCP_INFO_v0>(s, 0).State;
}

// Does this IPv4 packet carry a TCP segment with these flags set (and `payload` bytes)?
bool tcp_flags(const std::vector<std::byte>& p, std::uint8_t* flags, std::size_t* payload) {
    if (p.size() < 40 || (std::to_integer<int>(p[0]) >> 4) != 4 || std::to_integer<int>(p[9]) != 6)
        return false;
    const std::size_t ihl = (std::to_integer<std::size_t>(p[0]) & 15) * 4;
    const std::size_t total =
        (std::to_integer<std::size_t>(p[2]) << 8) | std::to_integer<std::size_t>(p[3]);
    const std::size_t off = (std::to_integer<std::size_t>(p[ihl + 12]) >> 4) * 4;
    *flags = std::to_integer<std::uint8_t>(p[ihl + 13]);
    *payload = total - ihl - off;
    return true;
}
constexpr std::uint8_t kSyn = 0x02;

// Drop the first `n` packets host `from` sends that match `pred(flags, payload)`.
template <class Pred>
void drop_first(Net& net, std::size_t from, int n, Pred pred) {
    auto left = std::make_shared<int>(n);
    net.set_filter([=](std::size_t who, std::vector<std::vector<std::byte>>& batch) {
        if (who != from)
            return;
        std::erase_if(batch, [&](const std::vector<std::byte>& p) {
            std::uint8_t f = 0;
            std::size_t len = 0;
            if (*left == 0 || !tcp_flags(p, &f, &len) || !pred(f, len))
                return false;
            --*left;
            return true;
        });
    });
}

}  // namespace

TEST_SUITE("wsp") {
    // ---- one test per RFC 9293 §3.3.2 state
    // ---------------------------------------------------------

    TEST_CASE("SIO_TCP_INFO names RFC 9293 CLOSED - a fresh socket and a connection that ended") {
        Net net;
        const SOCKET fresh = nb_socket(net.a);
        CHECK(state_of(fresh) == TCPSTATE_CLOSED);
        // A connection that ended keeps its counters while the handle is open.
        Pair p = connect_pair(net);
        REQUIRE(send_str(p.client, "hello") == 0);
        net.run();
        REQUIRE(set_linger(p.client, 1, 0) == 0);
        std::string buf(16, '\0');
        DWORD got = 0;
        REQUIRE(recv_bytes(p.server, buf.data(), buf.size(), &got) == 0);
        REQUIRE(close_socket(p.client) == 0);  // RST
        net.run();
        CHECK(state_of(p.server) == TCPSTATE_CLOSED);
        CHECK(info_of(p.server).v0.BytesIn == 5);
    }

    TEST_CASE("SIO_TCP_INFO names RFC 9293 LISTEN") {
        Net net;
        const SOCKET l = listen_on(net.b, kAddrB, 5000);
        CHECK(state_of(l) == TCPSTATE_LISTEN);
    }

    TEST_CASE("SIO_TCP_INFO names RFC 9293 SYN-SENT - before the SYN-ACK") {
        Net net;
        (void)listen_on(net.b, kAddrB, 5000);
        const SOCKET c = nb_socket(net.a);
        REQUIRE(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        CHECK(state_of(c) == TCPSTATE_SYN_SENT);
    }

    TEST_CASE("SIO_TCP_INFO names RFC 9293 SYN-RECEIVED - simultaneous open (RFC 9293 Figure 8)") {
        Net net;
        const SOCKET a = nb_socket(net.a);
        const SOCKET b = nb_socket(net.b);
        const SOCKADDR_IN at_a = sockaddr_of(kAddrA, 6000);
        const SOCKADDR_IN at_b = sockaddr_of(kAddrB, 7000);
        int err = 0;
        REQUIRE(WSPBind(a, sa(at_a), kSaLen, &err) == 0);
        REQUIRE(WSPBind(b, sa(at_b), kSaLen, &err) == 0);
        REQUIRE(connect_to(a, kAddrB, 7000) == WSAEWOULDBLOCK);
        REQUIRE(connect_to(b, kAddrA, 6000) == WSAEWOULDBLOCK);
        // Both SYNs cross: each side answers the other's SYN with a SYN-ACK from SYN-SENT.
        (void)net.step();
        CHECK(state_of(a) == TCPSTATE_SYN_RCVD);
        CHECK(state_of(b) == TCPSTATE_SYN_RCVD);
        net.run();
        CHECK(state_of(a) == TCPSTATE_ESTABLISHED);
        CHECK(state_of(b) == TCPSTATE_ESTABLISHED);
    }

    TEST_CASE("SIO_TCP_INFO names RFC 9293 ESTABLISHED - both ends") {
        Net net;
        Pair p = connect_pair(net);
        CHECK(state_of(p.client) == TCPSTATE_ESTABLISHED);
        CHECK(state_of(p.server) == TCPSTATE_ESTABLISHED);
    }

    TEST_CASE("SIO_TCP_INFO names RFC 9293 FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT - the active close") {
        Net net;
        Pair p = connect_pair(net);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        CHECK(state_of(p.client) == TCPSTATE_FIN_WAIT_1);  // our FIN queued, not yet ACKed
        net.run();
        CHECK(state_of(p.client) == TCPSTATE_FIN_WAIT_2);
        REQUIRE(shutdown_socket(p.server, SD_SEND) == 0);
        net.run();
        CHECK(state_of(p.client) == TCPSTATE_TIME_WAIT);
        net.advance(2 * 30s + 1s);  // 2 MSL
        CHECK(state_of(p.client) == TCPSTATE_CLOSED);
    }

    TEST_CASE("SIO_TCP_INFO names RFC 9293 CLOSE-WAIT and LAST-ACK - the passive close") {
        Net net;
        Pair p = connect_pair(net);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        net.run();
        CHECK(state_of(p.server) == TCPSTATE_CLOSE_WAIT);
        REQUIRE(shutdown_socket(p.server, SD_SEND) == 0);
        CHECK(state_of(p.server) == TCPSTATE_LAST_ACK);  // our FIN queued, not yet ACKed
        net.run();
        CHECK(state_of(p.server) == TCPSTATE_CLOSED);  // no TIME-WAIT on the passive side
    }

    TEST_CASE("SIO_TCP_INFO names RFC 9293 CLOSING - simultaneous close (RFC 9293 Figure 13)") {
        Net net;
        Pair p = connect_pair(net);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        REQUIRE(shutdown_socket(p.server, SD_SEND) == 0);
        // Both FINs cross: each arrives while the receiver's own FIN is unacknowledged.
        (void)net.step();
        CHECK(state_of(p.client) == TCPSTATE_CLOSING);
        CHECK(state_of(p.server) == TCPSTATE_CLOSING);
        net.run();
        CHECK(state_of(p.client) == TCPSTATE_TIME_WAIT);
        CHECK(state_of(p.server) == TCPSTATE_TIME_WAIT);
    }

    // ---- the counters
    // -------------------------------------------------------------------------------

    TEST_CASE("SIO_TCP_INFO counts the bytes each way and the segments") {
        Net net;
        Pair p = connect_pair(net);
        const std::string data = pattern(10000);
        REQUIRE(send_str(p.client, data) == 0);
        net.run();
        net.advance(1s);  // the last delayed ACK (RFC 1122 §4.2.3.2)
        const USTACK_TCP_INFO c = info_of(p.client);
        const USTACK_TCP_INFO s = info_of(p.server);
        CHECK(c.v0.BytesOut == data.size());
        CHECK(s.v0.BytesIn == data.size());
        CHECK(c.v0.BytesIn == 0);
        CHECK(c.v0.BytesRetrans == 0);
        CHECK(c.Retransmits == 0);
        CHECK(c.v0.BytesInFlight == 0);  // everything acknowledged
        CHECK(c.SegsOut >=
              1 + (data.size() + c.v0.Mss - 1) / c.v0.Mss);  // the ACK of the SYN-ACK too
        CHECK(s.SegsIn >= (data.size() + s.v0.Mss - 1) / s.v0.Mss);
        CHECK(c.v0.Mss > 0);
        CHECK(c.v0.TimestampsEnabled == 1);
        CHECK(c.SackEnabled == 1);
        CHECK(c.RtoUs >= 200'000);  // RFC 6298 with the 200 ms floor (the link takes no time)
        CHECK(c.v0.Cwnd > 0);
        CHECK(c.v0.SndWnd == s.v0.RcvWnd);
        CHECK(s.v0.RcvBuf == (1U << 20));  // the host's default
    }

    TEST_CASE(
        "SIO_TCP_INFO counts a lost segment's retransmission (RFC 8985 §7 probe or RFC 6298 "
        "timeout)") {
        Net net;
        Pair p = connect_pair(net);
        drop_first(net, 0, 1, [](std::uint8_t, std::size_t len) { return len > 0; });
        REQUIRE(send_str(p.client, pattern(1000)) == 0);
        REQUIRE(net.run_until([&] { return fionread(p.server) == 1000; }, kBound));
        const USTACK_TCP_INFO c = info_of(p.client);
        CHECK(c.Retransmits >= 1);
        CHECK(c.v0.BytesRetrans >= 1000);
        CHECK(c.v0.BytesOut == 1000 + c.v0.BytesRetrans);
        CHECK(info_of(p.server).v0.BytesIn == 1000);
    }

    TEST_CASE("SIO_TCP_INFO counts one RFC 6298 timeout episode when the probe is lost too") {
        Net net;
        Pair p = connect_pair(net);
        // The segment and its tail-loss probe: only the retransmission timer repairs it.
        drop_first(net, 0, 2, [](std::uint8_t, std::size_t len) { return len > 0; });
        REQUIRE(send_str(p.client, pattern(1000)) == 0);
        REQUIRE(net.run_until([&] { return fionread(p.server) == 1000; }, kBound));
        const USTACK_TCP_INFO c = info_of(p.client);
        CHECK(c.v0.TimeoutEpisodes == 1);
        CHECK(c.Retransmits >= 2);
        CHECK(c.v0.BytesRetrans == 2000);
    }

    TEST_CASE("SIO_TCP_INFO counts a SYN retransmission") {
        Net net;
        (void)listen_on(net.b, kAddrB, 5000);
        drop_first(net, 0, 1, [](std::uint8_t f, std::size_t) { return (f & kSyn) != 0; });
        const SOCKET c = nb_socket(net.a);
        REQUIRE(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_writable(c));
        CHECK(info_of(c).v0.SynRetrans == 1);
        CHECK(state_of(c) == TCPSTATE_ESTABLISHED);
    }

    TEST_CASE("SIO_TCP_INFO counts RFC 5681 §2 duplicate ACKs and a fast retransmit after a hole") {
        Net net;
        Pair p = connect_pair(net);
        // Let the window open first, then lose the first of ten full-sized segments, sent one
        // per engine pass so that each out-of-order arrival is answered by its own ACK.
        REQUIRE(send_str(p.client, pattern(20000)) == 0);
        net.run();
        net.advance(1s);
        REQUIRE(fionread(p.server) == 20000);
        drop_first(net, 0, 1, [](std::uint8_t, std::size_t len) { return len > 0; });
        const std::size_t mss = info_of(p.client).v0.Mss;
        for (unsigned i = 0; i < 10; ++i) {
            REQUIRE(send_str(p.client, pattern(mss, 3 + i)) == 0);
            (void)net.step();  // the segment goes out and arrives
            (void)net.step();  // the receiver's ACK comes back
        }
        REQUIRE(net.run_until([&] { return fionread(p.server) == 20000 + 10 * mss; }, kBound));
        const USTACK_TCP_INFO c = info_of(p.client);
        CHECK(c.v0.DupAcksIn >= 3);
        CHECK(c.v0.FastRetrans == 1);
        CHECK(info_of(p.server).v0.BytesReordered > 0);
    }

    TEST_CASE(
        "SIO_TCP_INFO version checks - Winsock's v1 and unknown versions WSAEINVAL - short buffers "
        "WSAEFAULT") {
        Net net;
        const SOCKET s = nb_socket(net.a);
        USTACK_TCP_INFO info{};
        DWORD n = 0;
        int err = 0;
        DWORD v1 = 1;
        CHECK(WSPIoctl(s, SIO_TCP_INFO, &v1, sizeof v1, &info, sizeof info, &n, &err) ==
              SOCKET_ERROR);
        CHECK(err == WSAEINVAL);
        DWORD v0 = 0;
        CHECK(WSPIoctl(s, SIO_TCP_INFO, &v0, sizeof v0, &info, sizeof(TCP_INFO_v0) - 1, &n, &err) ==
              SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        CHECK(WSPIoctl(s, SIO_TCP_INFO, nullptr, 0, &info, sizeof info, &n, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        DWORD ext = USTACK_TCP_INFO_VERSION;
        CHECK(WSPIoctl(s, SIO_TCP_INFO, &ext, sizeof ext, &info, sizeof(TCP_INFO_v0), &n, &err) ==
              SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
    }

    // ---- SO_SNDBUF / SO_RCVBUF
    // -----------------------------------------------------------------------

    TEST_CASE("SO_RCVBUF before connect sets the window scale on the SYN (RFC 7323 §2.2)") {
        Net net;
        const SOCKET l = listen_on(net.b, kAddrB, 5000);
        REQUIRE(set_nonblocking(l, true) == 0);
        auto open_with = [&](int rcvbuf) {
            const SOCKET c = nb_socket(net.a);
            int err = 0;
            REQUIRE(WSPSetSockOpt(c, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&rcvbuf),
                                  sizeof rcvbuf, &err) == 0);
            REQUIRE(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
            REQUIRE(net.until_writable(c));
            REQUIRE(net.until_readable(l));
            const SOCKET s = accept_now(l);
            int got = 0;
            REQUIRE(get_int_opt(c, SOL_SOCKET, SO_RCVBUF, &got) == 0);
            CHECK(got == rcvbuf);
            const USTACK_TCP_INFO ci = info_of(c);
            const USTACK_TCP_INFO si = info_of(s);
            CHECK(ci.v0.RcvBuf == static_cast<ULONG>(rcvbuf));
            CHECK(si.SndWindShift ==
                  ci.RcvWindShift);  // what the server applies is what we offered
            return ci.RcvWindShift;
        };
        const UCHAR small = open_with(16 * 1024);
        const UCHAR large = open_with(4 * 1024 * 1024);
        CHECK(small == 0);  // 16 KiB fits the unscaled 16-bit field
        CHECK(large == 7);  // 4 MiB needs 65535 << 7 (README: "4 MiB (shift 7)")
    }

    TEST_CASE("SO_RCVBUF on an established connection opens the window within the SYN's scale") {
        Net net({.a = {.recv_buffer = 64 * 1024}});
        Pair p = connect_pair(net);
        const ULONG before = info_of(p.client).v0.RcvWnd;
        int bigger = 512 * 1024;
        int err = 0;
        REQUIRE(WSPSetSockOpt(p.client, SOL_SOCKET, SO_RCVBUF,
                              reinterpret_cast<const char*>(&bigger), sizeof bigger, &err) == 0);
        // The larger window goes out on the next segment (less than doubling the window is not
        // worth a window update of its own): the server sends a byte, the client ACKs it.
        REQUIRE(send_str(p.server, "x") == 0);
        net.run();
        net.advance(1s);
        const USTACK_TCP_INFO after = info_of(p.client);
        CHECK(after.v0.RcvBuf == static_cast<ULONG>(bigger));
        CHECK(after.v0.RcvWnd > before);
        CHECK(after.v0.RcvWnd <= (65535U << after.RcvWindShift));
        CHECK(info_of(p.server).v0.SndWnd == after.v0.RcvWnd);  // the server heard the update
    }

    TEST_CASE(
        "SO_SNDBUF bounds what a non-blocking send queues and is inherited from the listener") {
        Net net;
        const SOCKET l = listen_on(net.b, kAddrB, 5000);
        REQUIRE(set_nonblocking(l, true) == 0);
        int sndbuf = 8192;
        int err = 0;
        REQUIRE(WSPSetSockOpt(l, SOL_SOCKET, SO_SNDBUF, reinterpret_cast<const char*>(&sndbuf),
                              sizeof sndbuf, &err) == 0);
        Pair p = accept_pair(net, l, 5000);
        int got = 0;
        REQUIRE(get_int_opt(p.server, SOL_SOCKET, SO_SNDBUF, &got) == 0);
        CHECK(got == sndbuf);
        // The client does not read: the server queues at most its send buffer beyond what the
        // client's window takes.
        DWORD sent = 0;
        const std::string big = pattern(4 * 1024 * 1024);
        REQUIRE(send_str(p.server, big, &sent) == 0);
        CHECK(sent <= static_cast<DWORD>(sndbuf));
        CHECK(sent > 0);
        CHECK(info_of(p.server).SndBuf == static_cast<ULONG>(sndbuf));
    }

    TEST_CASE("SO_SNDBUF and SO_RCVBUF are clamped to 4 KiB .. 1 GiB and refuse negative sizes") {
        Net net;
        const SOCKET s = nb_socket(net.a);
        int err = 0;
        auto set = [&](int name, int v) {
            return WSPSetSockOpt(s, SOL_SOCKET, name, reinterpret_cast<const char*>(&v), sizeof v,
                                 &err) == 0
                       ? 0
                       : err;
        };
        int got = 0;
        CHECK(set(SO_SNDBUF, 100) == 0);
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_SNDBUF, &got) == 0);
        CHECK(got == 4096);
        CHECK(set(SO_RCVBUF, 0) == 0);  // Winsock's "no buffering": the smallest size here
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_RCVBUF, &got) == 0);
        CHECK(got == 4096);
        CHECK(set(SO_RCVBUF, 0x7fffffff) == 0);
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_RCVBUF, &got) == 0);
        CHECK(got == (1 << 30));
        CHECK(set(SO_SNDBUF, -1) == WSAEINVAL);
        char one = 1;
        CHECK(WSPSetSockOpt(s, SOL_SOCKET, SO_SNDBUF, &one, 1, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
    }

}  // TEST_SUITE
