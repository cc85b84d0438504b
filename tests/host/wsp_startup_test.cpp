// WSPStartup: config validation, and real hosts (HostCore + AsioHost on their own engine threads)
// joined by a MemoryLink. This file includes ustack/wsp.h, so no socket header: the tun/ headers
// and device_peer.hpp include none.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "device_peer.hpp"
#include "support/wsp_address.hpp"
#include "ustack/codec.hpp"
#include "ustack/memory_link.hpp"
#include "ustack/wsp.h"

using namespace std::chrono_literals;
using ustack::MemoryLink;
using ustack::test::DevicePeer;
using ustack::test::in_addr_of;
using ustack::test::sockaddr_of;

namespace {

WSPHOSTCONFIG config_for(void* device, IN_ADDR addr) {
    WSPHOSTCONFIG c{};
    c.device = device;
    c.addr = addr;
    c.prefix_len = 24;
    c.isn_seed = 1;
    c.cleanup_timeout_ms = 2000;
    return c;
}

int startup_error(const WSPHOSTCONFIG& c) {
    WSPHOST h = nullptr;
    int err = 0;
    const int r = WSPStartup(&c, &h, &err);
    if (r == 0) {
        int e2 = 0;
        WSPCleanup(h, &e2);
        return 0;
    }
    CHECK(r == SOCKET_ERROR);
    CHECK(h == nullptr);
    return err;
}

}  // namespace

TEST_SUITE("host") {
    TEST_CASE("WSPStartup refuses bad configurations (and still owns the device it was given)") {
        const IN_ADDR addr = in_addr_of(10, 7, 0, 1);
        int err = 0;
        WSPHOST h = nullptr;
        CHECK(WSPStartup(nullptr, &h, &err) == SOCKET_ERROR);
        CHECK(err == WSAEFAULT);

        auto fresh_device = [] { return MemoryLink::make_pair().a.release(); };
        {
            WSPHOSTCONFIG c = config_for(fresh_device(), addr);
            CHECK(WSPStartup(&c, nullptr, &err) == SOCKET_ERROR);
            CHECK(err == WSAEFAULT);
        }
        {
            WSPHOSTCONFIG c = config_for(nullptr, addr);  // neither device nor tun_name
            CHECK(startup_error(c) == WSAEINVAL);
        }
        {
            WSPHOSTCONFIG c = config_for(fresh_device(), addr);
            c.tun_name = "tun0";  // both
            CHECK(startup_error(c) == WSAEINVAL);
        }
        for (IN_ADDR bad : {in_addr_of(0, 0, 0, 0), in_addr_of(127, 0, 0, 1),
                            in_addr_of(224, 0, 0, 1), in_addr_of(255, 255, 255, 255)}) {
            WSPHOSTCONFIG c = config_for(fresh_device(), bad);
            CHECK(startup_error(c) == WSAEINVAL);
        }
        {
            WSPHOSTCONFIG c = config_for(fresh_device(), addr);
            c.prefix_len = 33;
            CHECK(startup_error(c) == WSAEINVAL);
        }
        {
            WSPHOSTCONFIG c = config_for(fresh_device(), addr);
            c.recv_buffer = (1U << 30) + 1;
            CHECK(startup_error(c) == WSAEINVAL);
        }
        {
            WSPHOSTCONFIG c = config_for(fresh_device(), addr);
            c.congestion = "vegas";  // not one of cubic, newreno, bbr
            CHECK(startup_error(c) == WSAEINVAL);
        }
        {
            WSPHOSTCONFIG c = config_for(nullptr, addr);
            c.tun_name = "ust-name-far-too-long";
            CHECK(startup_error(c) == WSAEINVAL);
        }
        {
            WSPHOSTCONFIG c = config_for(fresh_device(), addr);
            c.pcap_path = "/nonexistent-dir/x.pcap";
            CHECK(startup_error(c) == WSAEINVAL);
        }
    }

    TEST_CASE("WSPStartup: two hosts over a MemoryLink exchange data and disconnect data") {
        auto ends = MemoryLink::make_pair({.loss = 0.02, .seed = 5});
        const IN_ADDR a_addr = in_addr_of(10, 7, 0, 1);
        const IN_ADDR b_addr = in_addr_of(10, 7, 0, 2);
        WSPHOSTCONFIG ca = config_for(ends.a.release(), a_addr);
        WSPHOSTCONFIG cb = config_for(ends.b.release(), b_addr);
        ca.disconnect_data = 1;
        cb.disconnect_data = 1;
        cb.isn_seed = 2;
        int err = 0;
        WSPHOST a = nullptr;
        WSPHOST b = nullptr;
        REQUIRE(WSPStartup(&ca, &a, &err) == 0);
        REQUIRE(WSPStartup(&cb, &b, &err) == 0);
        CHECK((WSPGetServiceFlags(a) & XP1_DISCONNECT_DATA) != 0);

        SOCKET ls = WSPSocket(a, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
        REQUIRE(ls != INVALID_SOCKET);
        const SOCKADDR_IN any = sockaddr_of(in_addr_of(0, 0, 0, 0), 7000);
        REQUIRE(WSPBind(ls, reinterpret_cast<const SOCKADDR*>(&any), sizeof any, &err) == 0);
        REQUIRE(WSPListen(ls, 4, &err) == 0);

        std::string server_got;
        std::vector<char> server_disc;
        std::thread server([&] {
            int e = 0;
            SOCKET s = WSPAccept(ls, nullptr, nullptr, nullptr, 0, &e);
            REQUIRE(s != INVALID_SOCKET);
            char buf[256];
            for (;;) {
                WSABUF wb{sizeof buf, buf};
                DWORD n = 0;
                DWORD flags = 0;
                if (WSPRecv(s, &wb, 1, &n, &flags, &e) != 0 || n == 0)
                    break;
                server_got.append(buf, n);
            }
            char disc[64];
            WSABUF db{sizeof disc, disc};
            if (WSPRecvDisconnect(s, &db, &e) == 0)
                server_disc.assign(disc, disc + db.len);
            WSPCloseSocket(s, &e);
        });

        SOCKET c = WSPSocket(b, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
        REQUIRE(c != INVALID_SOCKET);
        const SOCKADDR_IN to = sockaddr_of(a_addr, 7000);
        REQUIRE(WSPConnect(c, reinterpret_cast<const SOCKADDR*>(&to), sizeof to, nullptr, nullptr,
                           nullptr, nullptr, &err) == 0);
        std::string message(20000, 'x');
        for (std::size_t i = 0; i < message.size(); ++i)
            message[i] = static_cast<char>('a' + i % 26);
        WSABUF mb{static_cast<u_long>(message.size()), message.data()};
        DWORD sent = 0;
        REQUIRE(WSPSend(c, &mb, 1, &sent, 0, &err) == 0);
        CHECK(sent == message.size());
        char total[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        WSABUF tb{sizeof total, total};
        CHECK(WSPSendDisconnect(c, &tb, &err) == 0);

        server.join();
        CHECK(server_got == message);
        CHECK(server_disc == std::vector<char>(total, total + 8));
        WSPCloseSocket(c, &err);
        WSPCloseSocket(ls, &err);
        CHECK(WSPCleanup(b, &err) == 0);
        CHECK(WSPCleanup(a, &err) == 0);
    }

    TEST_CASE("WSPStartup's host runs service() at the engine's deadline: SYN-ACK retransmission") {
        auto ends = MemoryLink::make_pair();
        DevicePeer peer(std::move(ends.b));
        const IN_ADDR addr = in_addr_of(10, 7, 1, 1);
        WSPHOSTCONFIG cfg = config_for(ends.a.release(), addr);
        int err = 0;
        WSPHOST h = nullptr;
        REQUIRE(WSPStartup(&cfg, &h, &err) == 0);
        SOCKET ls = WSPSocket(h, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
        const SOCKADDR_IN any = sockaddr_of(in_addr_of(0, 0, 0, 0), 80);
        REQUIRE(WSPBind(ls, reinterpret_cast<const SOCKADDR*>(&any), sizeof any, &err) == 0);
        REQUIRE(WSPListen(ls, 4, &err) == 0);

        ustack::Segment syn;
        syn.src_addr = ustack::ipv4(10, 7, 1, 2);
        syn.dst_addr = ustack::ipv4(10, 7, 1, 1);
        syn.src_port = 40000;
        syn.dst_port = 80;
        syn.seq = ustack::SeqNum(5000);
        syn.flags = ustack::tcp_flag::syn;
        syn.window = 65535;
        syn.options.mss = 1460;
        ustack::Codec codec;
        std::vector<std::byte> bytes;
        REQUIRE(codec.encode(syn, bytes));
        peer.send(bytes);

        // We never answer: the SYN-ACK comes again when the initial RTO (1 s, RFC 6298) expires --
        // only the driver's deadline timer can make that happen.
        REQUIRE(peer.wait_for(2, 4s));
        const auto got = peer.received();
        for (int i = 0; i < 2; ++i) {
            const auto seg = codec.decode(got[i].bytes);
            REQUIRE(seg.has_value());
            CHECK(seg->has(ustack::tcp_flag::syn));
            CHECK(seg->has(ustack::tcp_flag::ack));
            CHECK(seg->ack == ustack::SeqNum(5001));
        }
        const auto gap = got[1].at - got[0].at;
        CHECK(gap >= 900ms);
        CHECK(gap < 2500ms);

        WSPCloseSocket(ls, &err);
        CHECK(WSPCleanup(h, &err) == 0);
    }

}  // TEST_SUITE
