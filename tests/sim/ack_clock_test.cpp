// The sender's ACK clock when the receiver gets every flight as one batch (RFC 5681 §4.2, §3.1).
//
// Two Stacks over a SimLink with no bandwidth limit: everything one poll sends arrives at the
// other end at the same instant and is handed over in one go before its next poll -- the batch
// a TUN host reads per wake-up. A receiver that answered each batch with one ACK gave a slow
// starting sender one SMSS of growth per round trip (RFC 5681 §3.1 grows cwnd by at most SMSS
// per ACK); with an ACK per two full-sized segments the window grows by half a flight per RTT.
#include <doctest/doctest.h>

#include <vector>

#include "support/pair.hpp"
#include "support/sim_link.hpp"
#include "ustack/stack.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr std::uint16_t kPort = 7000;
constexpr Duration kOneWay{10'000};  // 20 ms RTT

}  // namespace

TEST_SUITE("sim") {
    TEST_CASE(
        "RFC 5681 §4.2 / §3.1: a receiver handed whole flights as one batch ACKs every second "
        "segment - the sender's cwnd grows 1.5x per RTT in slow start") {
        StackConfig ca = pair_config(kPairAddrA);
        ca.tcp.send_buffer = std::size_t{8} << 20;
        StackConfig cb = pair_config(kPairAddrB);
        cb.tcp.recv_buffer = std::size_t{8} << 20;  // the window never limits the flights
        Stack a(ca, pair_key(1));
        Stack b(cb, pair_key(2));
        SimLink<Stack, Stack> sim(a, b, LinkParams{.delay = kOneWay, .bandwidth_bps = 0}, 1);
        auto l = b.listen(kPort, 8);
        REQUIRE(l.ok());
        auto id = a.connect({kPairAddrB, kPort}, sim.now());
        REQUIRE(id.ok());

        std::vector<std::byte> chunk(64 * 1024, std::byte{0x5a});
        std::vector<std::byte> sink(64 * 1024);
        std::optional<ConnId> server;
        auto apps = [&](Instant) {
            Connection* c = a.connection(id.value);
            if (c != nullptr && c->state() == TcpState::established) {
                while (c->send_space() > 0) {
                    auto r =
                        c->send(std::span(chunk).first(std::min(chunk.size(), c->send_space())));
                    if (!r.ok() || r.value == 0)
                        break;
                }
            }
            if (!server) {
                if (auto r = b.accept(l.value); r.ok())
                    server = r.value;
            }
            if (server) {
                if (Connection* s = b.connection(*server)) {
                    while (s->recv(sink).ok()) {
                    }
                }
            }
            while (a.poll_event()) {
            }
            while (b.poll_event()) {
            }
        };
        // Established after one RTT; sample cwnd at the end of each following round trip, before
        // the flight's ACKs raise it again (a quarter RTT into it).
        REQUIRE(sim.run_until([&] { return server.has_value(); }, Duration{1'000'000}, apps));
        const Instant t0 = sim.now();
        std::vector<std::uint32_t> cwnd;
        for (int rtt = 1; rtt <= 6; ++rtt) {
            const Instant at = t0 + rtt * 2 * kOneWay + kOneWay / 2;
            REQUIRE(sim.run_until([&] { return sim.now() >= at; }, Duration{1'000'000}, apps));
            cwnd.push_back(a.find(id.value)->cwnd());
        }
        const std::uint32_t mss = a.find(id.value)->snd_mss();
        const Connection* rx = b.find(*server);
        REQUIRE(rx != nullptr);
        MESSAGE("cwnd per RTT (segments): "
                << cwnd[0] / mss << " " << cwnd[1] / mss << " " << cwnd[2] / mss << " "
                << cwnd[3] / mss << " " << cwnd[4] / mss << " " << cwnd[5] / mss
                << "; receiver's ACKs held in batches: " << rx->stats().batch_acks);
        CHECK(a.find(id.value)->stats().timeouts == 0);
        CHECK(a.find(id.value)->stats().retransmits == 0);
        // Every round trip multiplies the window by about 1.5 (an ACK for every second segment,
        // SMSS of growth each); one ACK per batch added one SMSS per round trip.
        for (std::size_t i = 1; i < cwnd.size(); ++i) {
            CAPTURE(i);
            CHECK(cwnd[i] * 10 >= cwnd[i - 1] * 14);
        }
        // IW = 10 segments; after six round trips at x1.5 about 10 * 1.5^6 = 114.
        CHECK(cwnd.back() >= 90U * mss);
        CHECK(rx->stats().batch_acks > 0);
    }

}  // TEST_SUITE
