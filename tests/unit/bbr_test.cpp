// BBR (draft-cardwell-iccrg-bbr-congestion-control-00) as a window controller, fed with the
// rate samples of a path modelled by hand: bottleneck `bw` bytes/us, round trip `rtprop` us,
// a queue that adds (inflight - BDP) / bw when more than one BDP is in flight.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>

#include "ustack/congestion.hpp"

using namespace ustack;

namespace {

constexpr std::uint32_t kMss = 1000;

struct Path {
    double bw = 100.0;           // bytes per microsecond (100 MB/s)
    std::int64_t rtprop = 1000;  // us: BDP = 100,000 bytes
    std::unique_ptr<CongestionControl> cc = make_congestion_control(CongestionAlgorithm::bbr, kMss);
    std::int64_t now = 0;
    std::uint64_t delivered = 0;
    std::deque<std::pair<std::int64_t, std::uint64_t>> history;  // (time, delivered)

    [[nodiscard]] double bdp() const { return bw * static_cast<double>(rtprop); }

    // One ACK of `acked` bytes with cwnd bytes in flight (a cwnd-limited sender): time moves by
    // acked / rate, the RTT includes the queue, and P was sent one RTT ago.
    void ack(std::uint32_t acked = 10 * kMss, std::optional<std::uint32_t> inflight = {}) {
        const double in = inflight ? *inflight : cc->cwnd();
        const double rtt = std::max(static_cast<double>(rtprop), in / bw);
        const double rate = std::min(bw, in / static_cast<double>(rtprop));
        now += std::max<std::int64_t>(1, static_cast<std::int64_t>(acked / rate));
        delivered += acked;
        history.emplace_back(now, delivered);
        // P: the newest segment delivered was sent `rtt` ago, when `prior` had been delivered.
        std::uint64_t prior = 0;
        std::int64_t prior_t = 0;
        for (const auto& [t, d] : history) {
            if (t > now - static_cast<std::int64_t>(rtt))
                break;
            prior = d;
            prior_t = t;
        }
        while (history.size() > 1 &&
               history.front().first < now - 4 * static_cast<std::int64_t>(rtt)) {
            history.pop_front();
        }
        RateSample rs;
        rs.prior_delivered = prior;
        rs.total_delivered = delivered;
        rs.delivered = delivered - prior;
        rs.interval = Duration{std::max<std::int64_t>(1, now - prior_t)};
        rs.rtt = Duration{static_cast<std::int64_t>(rtt)};
        rs.acked = acked;
        rs.inflight = static_cast<std::uint32_t>(in);
        cc->on_rate_sample(rs, instant_from_us(now));
    }
    void run_for(std::int64_t us) {
        const std::int64_t end = now + us;
        while (now < end) ack();
    }
};

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE(
        "BBR §4.3.2 Startup grows like slow start - §4.3.2.2 full pipe - §4.3.4 ProbeBW holds cwnd "
        "near 2 BDP") {
        Path p;
        CHECK(p.cc->wants_rate_samples());
        CHECK(p.cc->cwnd() == initial_window(kMss));
        // Startup: cwnd doubles per round while the delivery rate keeps growing.
        p.run_for(3 * p.rtprop);
        CHECK(p.cc->cwnd() >= 40 * kMss);
        // Long after the pipe filled: cwnd = 2 * BDP + 3 bursts of 64 KB (1 ms at 100 MB/s is more)
        // (+ the ACK-aggregation allowance, here at most a couple of ACKs since ACKs arrive at the
        // bottleneck rate).
        p.run_for(200 * p.rtprop);
        const double w = p.cc->cwnd();
        CHECK(w >= 2 * p.bdp() + 3 * 65536);
        CHECK(w <= 2 * p.bdp() + 3 * 65536 + 30 * kMss);
    }

    TEST_CASE(
        "BBR §4.2.3.2 quantization budget: three bursts of min(64 KB - 1 ms at BtlBw) - at least 2 "
        "MSS each") {
        // A TUN-like path: 1 GB/s, RTprop 30 us (BDP 30 KB) -- the budget, not the BDP, keeps
        // three 64 KB super-packets in flight.
        Path fast;
        fast.bw = 1000.0;
        fast.rtprop = 30;
        fast.run_for(2000 * fast.rtprop);
        CHECK(fast.cc->cwnd() >= 2 * fast.bdp() + 3 * 65536);
        // A slow path: 1 MB/s, RTprop 10 ms -- 1 ms at BtlBw is 1,000 bytes, below 2 MSS.
        Path slow;
        slow.bw = 1.0;
        slow.rtprop = 10'000;
        slow.run_for(200 * slow.rtprop);
        CHECK(slow.cc->cwnd() >= 2 * slow.bdp() + 3 * 2 * kMss);
        CHECK(slow.cc->cwnd() <= 2 * slow.bdp() + 3 * 2 * kMss + 30 * kMss);
    }

    TEST_CASE(
        "BBR §4.2.3.4: loss is not congestion -- one round of packet conservation - then the old "
        "window") {
        Path p;
        p.run_for(200 * p.rtprop);
        const std::uint32_t before = p.cc->cwnd();
        // Fast recovery starts: cwnd becomes what is in flight plus what this ACK delivered.
        p.cc->on_congestion_event(before, instant_from_us(p.now));
        p.ack(2 * kMss, 150'000);
        CHECK(p.cc->cwnd() == 152'000);
        p.ack(3 * kMss, 100'000);  // still the first round: never below in flight + delivered
        CHECK(p.cc->cwnd() == 152'000);
        // Recovery ends: the window from before it comes back.
        p.cc->on_recovery_end(before, true);
        CHECK(p.cc->cwnd() >= before);
    }

    TEST_CASE(
        "BBR: a retransmission timeout restarts from one segment and restores the window when "
        "recovered") {
        Path p;
        p.run_for(200 * p.rtprop);
        const std::uint32_t before = p.cc->cwnd();
        p.cc->on_rto(before, instant_from_us(p.now));
        p.cc->set_cwnd(kMss);  // what the Connection does (RFC 5681 §3.1 loss window)
        p.ack(kMss, kMss);
        CHECK(p.cc->cwnd() < before / 4);
        p.cc->on_rto_recovered();
        CHECK(p.cc->cwnd() >= before);
    }

    TEST_CASE(
        "BBR §4.3.5 ProbeRTT: RTprop not refreshed for 10 s -> 4 segments for 200 ms and a round - "
        "then back") {
        Path p;
        p.run_for(200 * p.rtprop);
        const std::uint32_t probe_bw = p.cc->cwnd();
        // The path's RTT rises (another flow's queue): no sample reaches the old minimum again.
        p.rtprop = 1500;
        std::int64_t entered = -1;
        const std::int64_t end = p.now + 11'000'000;
        while (p.now < end) {
            p.ack();
            if (p.cc->cwnd() == 4 * kMss) {
                entered = p.now;
                break;
            }
        }
        REQUIRE(entered > 0);
        CHECK(entered >= 10'000'000);  // the 10 s window (from t = 0; samples before it were lower)
        // ProbeRTT holds 4 segments for at least 200 ms ...
        while (p.now < entered + 190'000) {
            p.ack(kMss, 4 * kMss);
            REQUIRE(p.cc->cwnd() == 4 * kMss);
        }
        // ... and then restores the window it had.
        for (int i = 0; i < 100 && p.cc->cwnd() == 4 * kMss; ++i) p.ack(kMss, 4 * kMss);
        CHECK(p.cc->cwnd() >= probe_bw);
    }

    TEST_CASE("BBR §4.1.1.5: app-limited samples below the estimate do not lower it") {
        Path p;
        p.run_for(200 * p.rtprop);
        const std::uint32_t w = p.cc->cwnd();
        // A slow application: 1/10 of the bottleneck, marked app-limited.
        for (int i = 0; i < 200; ++i) {
            p.now += 1000;
            p.delivered += 10 * kMss;
            RateSample rs;
            rs.prior_delivered = p.delivered - 10 * kMss;
            rs.total_delivered = p.delivered;
            rs.delivered = 10 * kMss;
            rs.interval = Duration{1000};
            rs.rtt = Duration{1000};
            rs.app_limited = true;
            rs.acked = 10 * kMss;
            rs.inflight = 10 * kMss;
            p.cc->on_rate_sample(rs, instant_from_us(p.now));
        }
        CHECK(p.cc->cwnd() >= w - 3 * kMss);
    }

}  // TEST_SUITE
