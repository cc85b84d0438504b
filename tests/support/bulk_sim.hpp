// One-way bulk transfer between two Connections over a SimLink, for loss-recovery measurements:
// A (active opener) sends as fast as its windows allow for a fixed span of simulated time, B
// reads everything. Reports goodput (bytes per simulated second) and the sender's recovery
// counters (RTOs, fast retransmits, ...), so a stall shows up as numbers, not as a hang.
//
//   BulkParams p; p.link.loss = 0.01; p.cfg.send_buffer = p.cfg.recv_buffer = 4 << 20;
//   BulkResult r = run_bulk(p);
//   CHECK(r.sender.timeouts <= 2);
//
// Header-only on purpose (no CMake).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "support/sim_link.hpp"
#include "ustack/connection.hpp"

namespace ustack::test {

struct BulkParams {
    LinkParams link;
    TcpConfig cfg;
    Duration duration{2'000'000};  // simulated time from ESTABLISHED
    std::uint64_t seed = 1;
};

struct BulkResult {
    bool established = false;
    std::uint64_t bytes = 0;      // delivered in order to B's application
    double seconds = 0;           // simulated time measured over
    double mib_per_s = 0;         // bytes / seconds / 2^20
    ConnStats sender;             // A's counters
    LinkStats forward;            // A -> B link counters
    std::uint32_t final_cwnd = 0;
};

inline BulkResult run_bulk(const BulkParams& p) {
    constexpr Endpoint a_ep{ipv4(10, 0, 1, 2), 40000};
    constexpr Endpoint b_ep{ipv4(10, 0, 2, 2), 7000};
    Connection a(p.cfg, a_ep, b_ep, SeqNum(static_cast<std::uint32_t>(p.seed * 7919 + 1)));
    PassiveNode b{
        Connection(p.cfg, b_ep, a_ep, SeqNum(static_cast<std::uint32_t>(p.seed * 104729 + 3)))};
    SimLink<Connection, PassiveNode> sim(a, b, p.link, p.seed);
    a.open_active(sim.now());
    std::vector<std::byte> chunk(256 * 1024, std::byte{0x5a});
    std::vector<std::byte> sink(256 * 1024);
    BulkResult res;
    std::optional<Instant> start;
    (void)sim.run_until(
        [&] { return start && sim.now() >= *start + p.duration; },
        p.duration + Duration(std::int64_t{10} * 1'000'000), [&](Instant now) {
            if (a.state() == TcpState::established) {
                if (!start) start = now;
                while (a.send_space() > 0) {
                    const auto n = std::min(chunk.size(), a.send_space());
                    auto r = a.send(std::span(chunk).first(n));
                    if (!r.ok() || r.value == 0) break;
                }
            }
            if (b.opened) {
                for (;;) {
                    auto r = b.conn.recv(sink);
                    if (!r.ok() || r.value == 0) break;
                    res.bytes += r.value;
                }
            }
        });
    res.established = start.has_value();
    if (start) res.seconds = std::chrono::duration<double>(sim.now() - *start).count();
    if (res.seconds > 0) res.mib_per_s = static_cast<double>(res.bytes) / res.seconds / (1 << 20);
    res.sender = a.stats();
    res.forward = sim.a_to_b().stats();
    res.final_cwnd = a.cwnd();
    return res;
}

inline void print_bulk(const char* label, const BulkResult& r) {
    std::printf("%-40s %8.2f MiB/s  rto %3llu  fast %4llu  retx %5llu  sack-rxt %5llu  "
                "lost %5llu  qdrop %5llu  cwnd %u\n",
                label, r.mib_per_s, static_cast<unsigned long long>(r.sender.timeouts),
                static_cast<unsigned long long>(r.sender.fast_retransmits),
                static_cast<unsigned long long>(r.sender.retransmits),
                static_cast<unsigned long long>(r.sender.sack_retransmits),
                static_cast<unsigned long long>(r.forward.lost),
                static_cast<unsigned long long>(r.forward.queue_drops), r.final_cwnd);
}

}  // namespace ustack::test
