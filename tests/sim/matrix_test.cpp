// The performance matrix (issue #3 item 5): one bulk transfer per cell of
//   loss {0, 1, 5} %  x  RTT {1, 20, 100} ms  x  receive buffer {256 KiB, 4 MiB}
// over a 10 Mbit/s SimLink with a 100-packet queue, printing goodput and retransmission counts,
// and comparing a coarse summary against tests/golden/sim_matrix.txt (goodput in 10 % buckets of
// the link's capacity, retransmissions in powers of two), so a regression in loss recovery or
// congestion control shows up as a diff rather than a flaky threshold.
//
//   USTACK_SIM_BIG=1          a bigger variant (100 Mbit/s, 16 MiB per run; not compared)
//   USTACK_UPDATE_GOLDEN=1    rewrite the golden file from this run
//
// Acceptance (issue #3): at 1 % loss and 20 ms RTT with a 4 MiB buffer, goodput is within 25 % of
// the link's capacity, and no run stalls.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/sim_link.hpp"
#include "ustack/connection.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr Endpoint kA{ipv4(10, 0, 1, 2), 40000};
constexpr Endpoint kB{ipv4(10, 0, 2, 2), 7000};


struct Cell {
    double loss;
    int rtt_ms;
    std::size_t buffer;
};

struct CellResult {
    bool finished = false;
    double goodput_bps = 0;
    double capacity_bps = 0;
    std::uint64_t retransmits = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t fast_retransmits = 0;
};

CellResult run_cell(const Cell& c, double bandwidth, std::uint64_t bytes, std::uint64_t seed,
                CongestionAlgorithm cc = CongestionAlgorithm::cubic) {
    TcpConfig cfg;
    cfg.recv_buffer = c.buffer;
    cfg.send_buffer = c.buffer;
    cfg.congestion = cc;
    LinkParams lp;
    lp.delay = Duration(std::int64_t{c.rtt_ms} * 500);
    lp.bandwidth_bps = bandwidth;
    lp.queue_limit = 100;
    lp.loss = c.loss;
    Connection a(cfg, kA, kB, SeqNum(static_cast<std::uint32_t>(seed * 7919 + 1)));
    PassiveNode b{Connection(cfg, kB, kA, SeqNum(static_cast<std::uint32_t>(seed * 104729 + 3)))};
    SimLink<Connection, PassiveNode> sim(a, b, lp, seed);
    a.open_active(sim.now());
    std::vector<std::byte> chunk(64 * 1024, std::byte{0x5a});
    std::vector<std::byte> sink(64 * 1024);
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::optional<Instant> start;
    Instant end{};
    const bool ok = sim.run_until(
        [&] { return received >= bytes; }, Duration(std::int64_t{600} * 1'000'000),
        [&](Instant now) {
            if (a.state() == TcpState::established) {
                if (!start) start = now;
                while (sent < bytes) {
                    const auto n = static_cast<std::size_t>(
                        std::min<std::uint64_t>({chunk.size(), bytes - sent, a.send_space()}));
                    if (n == 0) break;
                    auto r = a.send(std::span(chunk).first(n));
                    if (!r.ok() || r.value == 0) break;
                    sent += r.value;
                }
            }
            if (b.opened) {
                for (;;) {
                    auto r = b.conn.recv(sink);
                    if (!r.ok() || r.value == 0) break;
                    received += r.value;
                    if (received >= bytes) end = now;
                }
            }
        });
    CellResult res;
    res.finished = ok;
    res.capacity_bps = bandwidth;
    if (ok && start) {
        const double secs = std::chrono::duration<double>(end - *start).count();
        res.goodput_bps = secs > 0 ? static_cast<double>(bytes) * 8.0 / secs : 0;
    }
    res.retransmits = a.stats().retransmits;
    res.timeouts = a.stats().timeouts;
    res.fast_retransmits = a.stats().fast_retransmits;
    return res;
}

std::string bucket_line(const Cell& c, const CellResult& r) {
    const int pct = static_cast<int>(100.0 * r.goodput_bps / r.capacity_bps);
    const int lo = std::min(pct / 10 * 10, 100);
    const int rx = r.retransmits == 0 ? 0 : 1 << static_cast<int>(std::log2(static_cast<double>(r.retransmits)));
    std::ostringstream o;
    o << "loss=" << static_cast<int>(c.loss * 100 + 0.5) << "% rtt=" << c.rtt_ms
      << "ms buf=" << c.buffer / 1024 << "KiB finished=" << (r.finished ? "yes" : "NO")
      << " goodput=" << lo << "-" << lo + 10 << "% retransmits~" << rx;
    return o.str();
}

std::filesystem::path golden_path() {
    return std::filesystem::path(__FILE__).parent_path().parent_path() / "golden" /
           "sim_matrix.txt";
}

}  // namespace

TEST_SUITE("sim") {

TEST_CASE("issue 3 matrix: goodput and retransmissions vs loss - RTT and buffer (golden summary)") {
    const bool big = std::getenv("USTACK_SIM_BIG") != nullptr;
    const double bandwidth = big ? 100e6 : 10e6;
    const std::uint64_t bytes = big ? (16u << 20) : (2u << 20);
    std::string summary;
    for (const double loss : {0.0, 0.01, 0.05}) {
        for (const int rtt : {1, 20, 100}) {
            for (const std::size_t buf : {std::size_t{256} << 10, std::size_t{4} << 20}) {
                const Cell c{loss, rtt, buf};
                const CellResult r = run_cell(c, bandwidth, bytes, 42);
                std::printf("loss %4.1f%%  rtt %3d ms  buf %5zu KiB  goodput %7.2f Mbit/s (%5.1f%%)"
                            "  retx %5llu  fast %4llu  rto %3llu%s\n",
                            loss * 100, rtt, buf / 1024, r.goodput_bps / 1e6,
                            100.0 * r.goodput_bps / r.capacity_bps,
                            static_cast<unsigned long long>(r.retransmits),
                            static_cast<unsigned long long>(r.fast_retransmits),
                            static_cast<unsigned long long>(r.timeouts),
                            r.finished ? "" : "  STALLED");
                CAPTURE(bucket_line(c, r));
                CHECK(r.finished);  // no run stalls
                if (loss == 0.01 && rtt == 20 && buf == (std::size_t{4} << 20)) {
                    // The acceptance criterion of issue #3.
                    CHECK(r.goodput_bps >= 0.75 * r.capacity_bps);
                }
                summary += bucket_line(c, r) + "\n";
            }
        }
    }
    if (big) return;
    if (std::getenv("USTACK_UPDATE_GOLDEN") != nullptr) {
        std::ofstream(golden_path()) << summary;
        MESSAGE("golden file rewritten: " << golden_path().string());
        return;
    }
    std::ifstream in(golden_path());
    REQUIRE_MESSAGE(in.good(), "missing " << golden_path().string()
                                          << " (run with USTACK_UPDATE_GOLDEN=1)");
    std::stringstream want;
    want << in.rdbuf();
    CHECK_MESSAGE(want.str() == summary, "matrix summary differs from the golden file; if the "
                                         "change is intended, rerun with USTACK_UPDATE_GOLDEN=1\n"
                                             << summary);
}

}  // TEST_SUITE
