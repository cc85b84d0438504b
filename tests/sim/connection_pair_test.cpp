// Two Connections over the simulated link (no Stack): bulk data both ways under loss, reordering
// and duplication, then a graceful close; every byte checked, across many seeds.
#include <doctest/doctest.h>

#include <array>
#include <cstring>

#include "support/sim_link.hpp"
#include "ustack/connection.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr Endpoint kA{ipv4(10, 0, 1, 2), 40000};
constexpr Endpoint kB{ipv4(10, 0, 2, 2), 7000};

// Byte i of the stream sent by side `who`: a cheap deterministic pattern with a long period.
std::byte pattern(int who, std::uint64_t i) {
    const std::uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(who);
    return static_cast<std::byte>((x >> 29) ^ (x >> 7));
}


// One side's application: send `total` bytes, shut down, read everything, then close.
struct BulkApp {
    int who;
    std::uint64_t total;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t expect_total;
    bool eof = false;
    bool closed = false;
    bool corrupt = false;

    void step(Connection& c) {
        std::array<std::byte, 16384> buf{};
        while (sent < total) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>({buf.size(), total - sent, c.send_space()}));
            if (n == 0) break;
            for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(who, sent + i);
            auto r = c.send(std::span(buf).first(n));
            if (!r.ok() || r.value == 0) break;
            sent += r.value;
        }
        if (sent == total && !c.send_shut() && c.is_synchronized()) (void)c.shutdown_send();
        while (!eof) {
            auto r = c.recv(buf);
            if (!r.ok()) break;
            if (r.value == 0) {
                eof = true;
                break;
            }
            for (std::size_t i = 0; i < r.value; ++i)
                if (buf[i] != pattern(1 - who, received + i)) corrupt = true;
            received += r.value;
        }
        if (eof && sent == total && !closed) {
            c.close();
            closed = true;
        }
    }
};

struct Outcome {
    bool finished;
    bool corrupt;
    std::uint64_t a_received, b_received;
    CloseReason a_reason, b_reason;
    std::uint64_t retransmits;
};

Outcome run_pair(LinkParams lp, std::uint64_t seed, std::uint64_t bytes_each_way) {
    TcpConfig cfg;
    cfg.recv_buffer = 65535;
    Connection a(cfg, kA, kB, SeqNum(static_cast<std::uint32_t>(seed * 7919 + 1)));
    PassiveNode b{Connection(cfg, kB, kA, SeqNum(static_cast<std::uint32_t>(seed * 104729 + 3)))};
    SimLink<Connection, PassiveNode> sim(a, b, lp, seed);
    a.open_active(sim.now());
    BulkApp app_a{0, bytes_each_way, 0, 0, bytes_each_way};
    BulkApp app_b{1, bytes_each_way, 0, 0, bytes_each_way};
    const bool ok = sim.run_until(
        [&] { return a.is_closed() && b.conn.is_closed(); }, Duration(std::int64_t{3600} * 1'000'000),
        [&](Instant) {
            if (a.state() != TcpState::syn_sent && !a.is_closed()) app_a.step(a);
            if (b.opened && b.conn.state() != TcpState::syn_received && !b.conn.is_closed())
                app_b.step(b.conn);
        });
    return {ok, app_a.corrupt || app_b.corrupt, app_a.received, app_b.received, a.close_reason(),
            b.conn.close_reason(), a.stats().retransmits + b.conn.stats().retransmits};
}

}  // namespace

TEST_SUITE("sim") {

TEST_CASE("RFC 9293 §3.8: 2 MiB each way over a clean link - graceful close") {
    const auto o = run_pair(LinkParams{}, 1, 2 << 20);
    CHECK(o.finished);
    CHECK_FALSE(o.corrupt);
    CHECK(o.a_received == (2u << 20));
    CHECK(o.b_received == (2u << 20));
    CHECK(o.a_reason == CloseReason::graceful);
    CHECK(o.b_reason == CloseReason::graceful);
    CHECK(o.retransmits == 0);
}

TEST_CASE("RFC 9293 §3.8 / RFC 6298: 1 MiB each way with loss - reordering and duplication - many seeds") {
    for (std::uint64_t seed = 1; seed <= 24; ++seed) {
        LinkParams lp;
        lp.delay = Duration(2'000 + static_cast<std::int64_t>(seed % 5) * 3'000);
        lp.loss = 0.02 + 0.01 * static_cast<double>(seed % 4);
        lp.reorder = 0.05;
        lp.duplicate = 0.02;
        CAPTURE(seed);
        const auto o = run_pair(lp, seed, 1 << 20);
        CHECK(o.finished);
        CHECK_FALSE(o.corrupt);
        CHECK(o.a_received == (1u << 20));
        CHECK(o.b_received == (1u << 20));
        CHECK(o.a_reason == CloseReason::graceful);
        CHECK(o.b_reason == CloseReason::graceful);
        CHECK(o.retransmits > 0);
    }
}

}  // TEST_SUITE
