// MemoryLink: delivery between two engine threads, seeded loss, delay, and either end stopping
// first.
#include "ustack/memory_link.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "device_peer.hpp"

using namespace std::chrono_literals;
using ustack::MemoryLink;
using ustack::MemoryLinkParams;
using ustack::test::DevicePeer;

namespace {

// A fake "packet" carrying its index (the link does not look inside).
std::vector<std::byte> numbered(std::uint32_t i, std::size_t size = 64) {
    std::vector<std::byte> p(size, std::byte{0xab});
    std::memcpy(p.data(), &i, sizeof i);
    return p;
}

std::uint32_t number_of(const std::vector<std::byte>& p) {
    std::uint32_t i = 0;
    std::memcpy(&i, p.data(), sizeof i);
    return i;
}

// Send `n` numbered packets a -> b through a link with `params`; the indices b received.
std::vector<std::uint32_t> run_lossy(const MemoryLinkParams& params, std::uint32_t n,
                                     ustack::DeviceStats* a_stats = nullptr) {
    auto ends = MemoryLink::make_pair(params);
    DevicePeer a(std::move(ends.a));
    DevicePeer b(std::move(ends.b));
    for (std::uint32_t i = 0; i < n; ++i) a.send(numbered(i));
    a.sync();  // every send() has run
    const auto s = a.stats();
    REQUIRE(s.tx_packets + s.tx_dropped == n);
    REQUIRE(b.wait_for(s.tx_packets - s.tx_lost));
    b.sync();
    if (a_stats != nullptr)
        *a_stats = s;
    std::vector<std::uint32_t> got;
    for (const auto& p : b.received()) got.push_back(number_of(p.bytes));
    return got;
}

}  // namespace

TEST_SUITE("host") {
    TEST_CASE("MemoryLink delivers packets in order both ways between two engine threads") {
        auto ends = MemoryLink::make_pair({.name = "t"});
        CHECK(ends.a->name() == "t:a");
        CHECK(ends.b->name() == "t:b");
        DevicePeer a(std::move(ends.a));
        DevicePeer b(std::move(ends.b));

        constexpr std::uint32_t n = 500;
        for (std::uint32_t i = 0; i < n; ++i) a.send(numbered(i, 40 + i % 1400));
        REQUIRE(b.wait_for(n));
        const auto got = b.received();
        REQUIRE(got.size() == n);
        for (std::uint32_t i = 0; i < n; ++i) {
            CHECK(number_of(got[i].bytes) == i);
            CHECK(got[i].bytes.size() == 40 + i % 1400);
        }
        // Sends that arrive while the receiver is busy share one wake-up (one on_rx batch).
        CHECK(b.batches() >= 1);
        CHECK(b.batches() <= n);

        b.send(numbered(7));
        REQUIRE(a.wait_for(1));
        CHECK(number_of(a.received()[0].bytes) == 7);

        a.sync();
        b.sync();
        CHECK(a.stats().tx_packets == n);
        CHECK(a.stats().tx_dropped == 0);
        CHECK(a.stats().rx_packets == 1);
        CHECK(b.stats().rx_packets == n);
    }

    TEST_CASE("MemoryLink loses about `loss` of the packets and the same ones for the same seed") {
        constexpr std::uint32_t n = 20000;
        const MemoryLinkParams params{.loss = 0.2, .seed = 42, .queue_limit = n};
        ustack::DeviceStats s;
        const auto first = run_lossy(params, n, &s);
        CHECK(s.tx_packets == n);
        CHECK(s.tx_dropped == 0);
        CHECK(first.size() == n - s.tx_lost);
        // Binomial(20000, 0.2): sd = 57 packets; allow 5 sd.
        const double share = static_cast<double>(s.tx_lost) / n;
        CHECK(share == doctest::Approx(0.2).epsilon(0.0143 / 0.2));
        // Whatever arrives, arrives in order.
        for (std::size_t i = 1; i < first.size(); ++i) CHECK(first[i - 1] < first[i]);

        CHECK(run_lossy(params, n) == first);  // reproducible
        auto other = params;
        other.seed = 43;
        CHECK(run_lossy(other, n) != first);  // and seed-dependent
    }

    TEST_CASE("MemoryLink: set_loss cuts and restores the link and refuses bad probabilities") {
        auto ends = MemoryLink::make_pair();
        MemoryLink link = ends.link;
        DevicePeer a(std::move(ends.a));
        DevicePeer b(std::move(ends.b));

        link.set_loss(1.0);
        CHECK(link.loss() == 1.0);
        for (std::uint32_t i = 0; i < 10; ++i) a.send(numbered(i));
        a.sync();
        CHECK(a.stats().tx_lost == 10);

        link.set_loss(0.0);
        a.send(numbered(99));
        REQUIRE(b.wait_for(1));
        CHECK(number_of(b.received()[0].bytes) == 99);

        CHECK_THROWS_AS(link.set_loss(1.5), std::invalid_argument);
        CHECK_THROWS_AS(link.set_loss(-0.1), std::invalid_argument);
        CHECK_THROWS_AS((void)MemoryLink::make_pair({.loss = 2.0}), std::invalid_argument);
        CHECK_THROWS_AS((void)MemoryLink::make_pair({.queue_limit = 0}), std::invalid_argument);
    }

    TEST_CASE("MemoryLink delay holds packets back in order") {
        auto ends = MemoryLink::make_pair({.delay = 30ms});
        DevicePeer a(std::move(ends.a));
        DevicePeer b(std::move(ends.b));
        const auto sent = std::chrono::steady_clock::now();
        for (std::uint32_t i = 0; i < 20; ++i) a.send(numbered(i));
        REQUIRE(b.wait_for(20));
        const auto got = b.received();
        for (std::uint32_t i = 0; i < 20; ++i) {
            CHECK(number_of(got[i].bytes) == i);
            CHECK(got[i].at - sent >= 30ms);
        }
    }

    TEST_CASE("MemoryLink drops sends to an end that has not started or has stopped or is full") {
        SUBCASE("not started yet") {
            auto ends = MemoryLink::make_pair();
            DevicePeer a(std::move(ends.a));
            for (std::uint32_t i = 0; i < 5; ++i) a.send(numbered(i));
            a.sync();
            CHECK(a.stats().tx_dropped == 5);
            CHECK(a.stats().tx_packets == 0);
        }
        SUBCASE("stopped and destroyed, with its io_context") {
            auto ends = MemoryLink::make_pair();
            DevicePeer a(std::move(ends.a));
            auto b = std::make_unique<DevicePeer>(std::move(ends.b));
            a.send(numbered(1));
            REQUIRE(b->wait_for(1));
            b.reset();  // stops b's engine thread and destroys its end and io_context
            for (std::uint32_t i = 0; i < 5; ++i) a.send(numbered(i));
            a.sync();
            CHECK(a.stats().tx_packets == 1);
            CHECK(a.stats().tx_dropped == 5);
        }
        SUBCASE("the receiver's queue is full") {
            auto ends = MemoryLink::make_pair({.queue_limit = 8});
            DevicePeer a(std::move(ends.a));
            DevicePeer b(std::move(ends.b));
            std::promise<void> gate;
            std::shared_future<void> open = gate.get_future().share();
            b.post([open] { open.wait(); });  // b's engine thread is busy: nothing is drained
            for (std::uint32_t i = 0; i < 20; ++i) a.send(numbered(i));
            a.sync();
            CHECK(a.stats().tx_packets == 8);
            CHECK(a.stats().tx_dropped == 12);
            gate.set_value();
            REQUIRE(b.wait_for(8));
            b.sync();
            CHECK(b.received_count() == 8);
            CHECK(number_of(b.received()[7].bytes) == 7);
        }
    }

    TEST_CASE(
        "MemoryLink::fail: the failed end's host hears on_link(false) once - nothing crosses "
        "either way after it - a bad side is refused") {
        auto ends = MemoryLink::make_pair();
        MemoryLink link = ends.link;
        std::atomic<int> downs{0};
        std::atomic<int> ups{0};
        DevicePeer a(std::move(ends.a));
        DevicePeer b(std::move(ends.b), [&](bool up) { (up ? ups : downs).fetch_add(1); });
        a.send(numbered(1));
        REQUIRE(b.wait_for(1));
        link.fail(1);
        link.fail(1);  // once
        b.sync();      // the posted on_link has run
        CHECK(downs.load() == 1);
        CHECK(ups.load() == 0);
        for (std::uint32_t i = 0; i < 4; ++i) a.send(numbered(i));
        for (std::uint32_t i = 0; i < 3; ++i) b.send(numbered(i));
        a.sync();
        b.sync();
        CHECK(a.stats().tx_packets == 1);
        CHECK(a.stats().tx_dropped == 4);
        CHECK(b.stats().tx_packets == 0);
        CHECK(b.stats().tx_dropped == 3);
        CHECK(b.received_count() == 1);
        CHECK(a.received_count() == 0);
        CHECK_THROWS_AS(link.fail(2), std::invalid_argument);
    }

    TEST_CASE("MemoryLink survives one end stopping while the other is sending") {
        for (int round = 0; round < 20; ++round) {
            auto ends = MemoryLink::make_pair({.seed = static_cast<std::uint64_t>(round)});
            DevicePeer a(std::move(ends.a));
            auto b = std::make_unique<DevicePeer>(std::move(ends.b));
            constexpr std::uint32_t n = 2000;
            for (std::uint32_t i = 0; i < n; ++i) a.send(numbered(i));
            std::this_thread::sleep_for(std::chrono::microseconds(50 * round));
            b.reset();  // while a's sends are still running
            a.sync();
            const auto s = a.stats();
            CHECK(s.tx_packets + s.tx_dropped == n);
        }
    }

}  // TEST_SUITE
