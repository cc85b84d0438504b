// draft-cheng-iccrg-delivery-rate-estimation-02 §3: the delivery-rate samples BBR runs on.
#include "ustack/rate_sampler.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace ustack;

namespace {

Instant at(std::int64_t us) {
    return instant_from_us(us);
}

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("delivery-rate §3.3: a steady flight -- rate = delivered / max(send - ACK phase)") {
        DeliveryRateSampler s;
        // Ten 1000-byte segments sent 10 us apart from t = 0, into an empty pipe.
        for (std::uint32_t i = 0; i < 10; ++i) {
            s.on_send(SeqNum(1000 * i), SeqNum(1000 * (i + 1)), 1000 * i, at(10 * i));
        }
        CHECK(s.records() == 10);
        // The first ACK, at 100 us, for two segments: P = segment 2 (sent at 10 us, P.delivered =
        // 0).
        auto r = s.on_ack(SeqNum(2000), {}, false, 2000, at(100));
        REQUIRE(r);
        CHECK(r->delivered == 2000);
        CHECK(r->prior_delivered == 0);
        CHECK(r->rtt == Duration{90});
        // send phase 10 - 0 = 10 us, ACK phase 100 - 0 = 100 us: the longer one counts.
        CHECK(r->interval == Duration{100});
        CHECK_FALSE(r->app_limited);
        // The next ACK, 20 us later, for two more: P = segment 4, sent at 30 us when nothing was
        // delivered yet -- the sample spans the flight so far, 4000 bytes over 120 us.
        r = s.on_ack(SeqNum(4000), {}, false, 2000, at(120));
        REQUIRE(r);
        CHECK(r->delivered == 4000);
        CHECK(r->interval == Duration{120});
        CHECK(r->total_delivered == 4000);
        CHECK(s.records() == 6);
    }

    TEST_CASE(
        "delivery-rate §3.3: the newest delivered segment is P -- SACKed and retransmitted ones "
        "too") {
        DeliveryRateSampler s;
        for (std::uint32_t i = 0; i < 4; ++i) {
            s.on_send(SeqNum(1000 * i), SeqNum(1000 * (i + 1)), 1000 * i, at(i));
        }
        // Segment 0 lost; 1..3 SACKed at 100 us: P is segment 3 (the last sent of those delivered).
        std::vector<SackBlock> sb{{SeqNum(1000), SeqNum(4000)}};
        auto r = s.on_ack(SeqNum(0), sb, true, 3000, at(100));
        REQUIRE(r);
        CHECK(r->rtt == Duration{97});
        CHECK(r->delivered == 3000);
        // Segment 0 retransmitted at 110 us, cumulatively ACKed at 200 us: P is the retransmission,
        // not the lost original sent at 0 -- and gives no RTT (Karn, RFC 6298 §3).
        s.on_send(SeqNum(0), SeqNum(1000), 1000, at(110));
        r = s.on_ack(SeqNum(4000), {}, false, 1000, at(200));
        REQUIRE(r);
        CHECK_FALSE(r->rtt);
        CHECK(r->interval ==
              Duration{107});  // send phase: 110 - 3 (the last P sent) > ACK phase 100
        CHECK(r->prior_delivered == 3000);
        CHECK(r->delivered == 1000);
        CHECK(s.records() == 0);
    }

    TEST_CASE(
        "delivery-rate §3.4: samples from segments sent while app-limited are marked - until that "
        "data is delivered") {
        DeliveryRateSampler s;
        s.on_send(SeqNum(0), SeqNum(1000), 0, at(0));
        s.mark_app_limited(1000);  // nothing more to send, cwnd had room
        CHECK(s.app_limited());
        s.on_send(SeqNum(1000), SeqNum(2000), 1000, at(5));
        auto r = s.on_ack(SeqNum(1000), {}, false, 1000, at(50));
        REQUIRE(r);
        CHECK_FALSE(r->app_limited);  // sent before the mark
        CHECK(s.app_limited());  // 1000 delivered: not past the mark (delivered + inflight) yet
        r = s.on_ack(SeqNum(2000), {}, false, 1000, at(60));
        REQUIRE(r);
        CHECK(r->app_limited);         // sent after the mark
        CHECK_FALSE(s.app_limited());  // everything in flight at the mark is delivered
    }

    TEST_CASE("delivery-rate: records are bounded - an ACK of unrecorded data yields no sample") {
        DeliveryRateSampler s;
        const auto n = static_cast<std::uint32_t>(DeliveryRateSampler::kMaxRecords);
        for (std::uint32_t i = 0; i < n + 100; ++i) {
            s.on_send(SeqNum(10 * i), SeqNum(10 * (i + 1)), 10 * i, at(i));
        }
        CHECK(s.records() == DeliveryRateSampler::kMaxRecords);
        CHECK(s.on_ack(SeqNum(10 * n), {}, false, 10 * n, at(5000)));
        CHECK(s.records() == 0);
        // The last 100 segments were never recorded.
        CHECK_FALSE(s.on_ack(SeqNum(10 * (n + 100)), {}, false, 1000, at(5100)));
        CHECK(s.delivered() == 10 * (n + 100));
        CHECK_FALSE(s.on_ack(SeqNum(10 * (n + 100)), {}, false, 0, at(5200)));  // nothing new
    }

}  // TEST_SUITE
