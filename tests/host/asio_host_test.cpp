// AsioHost driving a real HostCore over a MemoryLink: received packets reach the engine and its
// answers reach the device (and the pcap file); wake() coalesces; now() is steady microseconds.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "device_peer.hpp"
#include "ustack/codec.hpp"
#include "ustack/host.hpp"
#include "ustack/memory_link.hpp"

using namespace std::chrono_literals;
using ustack::AsioHost;
using ustack::HostCore;
using ustack::HostOptions;
using ustack::MemoryLink;
using ustack::test::DevicePeer;

namespace {

constexpr ustack::Ipv4Addr kHostAddr = ustack::ipv4(10, 9, 0, 1);
constexpr ustack::Ipv4Addr kPeerAddr = ustack::ipv4(10, 9, 0, 2);

HostOptions host_options() {
    HostOptions o;
    o.stack.addr = kHostAddr;
    o.secret[0] = 1;
    return o;
}

std::vector<std::byte> syn_to(std::uint16_t port) {
    ustack::Segment syn;
    syn.src_addr = kPeerAddr;
    syn.dst_addr = kHostAddr;
    syn.src_port = 40000;
    syn.dst_port = port;
    syn.seq = ustack::SeqNum(1000);
    syn.flags = ustack::tcp_flag::syn;
    syn.window = 65535;
    syn.options.mss = 1460;
    ustack::Codec codec;
    std::vector<std::byte> out;
    REQUIRE(codec.encode(syn, out));
    return out;
}

// Poll `pred` for up to `timeout` (the engine runs on its own thread).
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 3s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

class FailingDevice final : public ustack::Device {
public:
    void start(boost::asio::io_context&, ustack::RxHandler, ustack::LinkHandler) override {
        throw std::system_error(std::make_error_code(std::errc::no_such_device), "no device");
    }
    void send(std::span<const std::byte>, const ustack::TxPacketInfo&) override {}
    void stop() override { ++stops; }
    [[nodiscard]] std::string name() const override { return "failing"; }
    [[nodiscard]] ustack::DeviceStats stats() const override { return {}; }
    int stops = 0;
};

}  // namespace

TEST_SUITE("host") {
    TEST_CASE("AsioHost: a received SYN to a closed port is answered with RST and captured") {
        const std::string pcap = (std::filesystem::temp_directory_path() /
                                  ("ustack-asio-host-" + std::to_string(::getpid()) + ".pcap"))
                                     .string();
        HostCore core(host_options());
        auto ends = MemoryLink::make_pair();
        DevicePeer peer(std::move(ends.b));
        {
            AsioHost host(core, std::move(ends.a), std::make_unique<ustack::PcapWriter>(pcap));
            host.start();
            CHECK(host.device().name() == "memory-link:a");
            CHECK(host.stats().services == 1);  // the first service(), at start

            peer.send(syn_to(9));
            REQUIRE(peer.wait_for(1));
            ustack::Codec codec;
            const auto bytes = peer.received()[0].bytes;
            const auto rst = codec.decode(bytes);
            REQUIRE(rst.has_value());
            CHECK(rst->has(ustack::tcp_flag::rst));
            CHECK(rst->src_addr == kHostAddr);
            CHECK(rst->dst_addr == kPeerAddr);
            CHECK(rst->src_port == 9);
            CHECK(rst->dst_port == 40000);
            CHECK(rst->ack == ustack::SeqNum(1001));

            const auto s = host.stats();
            CHECK(s.rx_batches == 1);
            CHECK(s.rx_packets == 1);
            CHECK(s.tx_packets == 1);
            CHECK(s.services == 2);
            CHECK(core.codec_stats().decoded == 1);
            host.stop();
        }
        // Both packets are in the capture: 24-byte header + 2 x (16-byte record header + 40 + 4 MSS
        // for the SYN, 40 for the RST).
        const auto size = std::filesystem::file_size(pcap);
        CHECK(size == 24 + (16 + 44) + (16 + 40));
        std::filesystem::remove(pcap);
    }

    TEST_CASE("AsioHost: wake() runs service() on the engine thread and coalesces bursts") {
        HostCore core(host_options());
        auto ends = MemoryLink::make_pair();
        AsioHost host(core, std::move(ends.a));
        host.start();
        const auto s0 = host.stats();
        std::thread other([&] {
            for (int i = 0; i < 500; ++i) host.wake();
        });
        for (int i = 0; i < 500; ++i) host.wake();
        other.join();
        // Every posted wake-up runs exactly one service(); 1000 wakes make at most 1000 posts.
        CHECK(eventually([&] {
            const auto s = host.stats();
            return s.wakeups > s0.wakeups && s.services - s0.services == s.wakeups - s0.wakeups;
        }));
        CHECK(host.stats().wakeups - s0.wakeups <= 1000);
        host.stop();
    }

    TEST_CASE("AsioHost: now() is steady-clock microseconds since construction") {
        HostCore core(host_options());
        auto ends = MemoryLink::make_pair();
        AsioHost host(core, std::move(ends.a));
        const auto t0 = host.now();
        CHECK(ustack::to_us(t0) >= 0);
        CHECK(ustack::to_us(t0) < 1'000'000);
        std::this_thread::sleep_for(20ms);
        const auto t1 = host.now();
        CHECK(t1 - t0 >= 20ms);
        CHECK(t1 - t0 < 5s);
    }

    TEST_CASE("AsioHost: stop() is idempotent and wake() after stop is harmless") {
        HostCore core(host_options());
        auto ends = MemoryLink::make_pair();
        DevicePeer peer(std::move(ends.b));
        AsioHost host(core, std::move(ends.a));
        host.start();
        host.stop();
        host.stop();
        host.wake();
        // The device is stopped: the peer's packets are dropped at its end.
        peer.send(syn_to(9));
        peer.sync();
        CHECK(peer.stats().tx_dropped == 1);
    }

    TEST_CASE("AsioHost: start() rethrows the device's start failure") {
        HostCore core(host_options());
        auto dev = std::make_unique<FailingDevice>();
        FailingDevice* raw = dev.get();
        AsioHost host(core, std::move(dev));
        CHECK_THROWS_AS(host.start(), std::system_error);
        CHECK(raw->stops == 1);  // start() stopped the host
        host.stop();
        CHECK(raw->stops == 1);
        CHECK_THROWS_AS(AsioHost(core, nullptr), std::invalid_argument);
    }

}  // TEST_SUITE
