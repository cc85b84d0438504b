// RttEstimator: RFC 6298 retransmission timer computation, values worked out by hand.
#include "ustack/rtt.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ustack::Duration;
using ustack::RttEstimator;

namespace {
// initial 1 s (§2.1), a 1 ms floor (so raw §2.3 values are visible), 60 s cap (§2.5), G = 1 ms.
RttEstimator raw_estimator() {
    return RttEstimator(1s, 1ms, 60s, 1ms);
}
}  // namespace

TEST_SUITE("rtt") {
    TEST_CASE("RFC 6298 §2.1: before any sample the RTO is the initial value") {
        const RttEstimator e = raw_estimator();
        CHECK(e.rto() == 1s);
        CHECK_FALSE(e.srtt().has_value());
        CHECK(e.backoff_count() == 0);
    }

    TEST_CASE("RFC 6298 §2.2: the first sample sets SRTT = R and RTTVAR = R/2") {
        RttEstimator e = raw_estimator();
        e.on_sample(100ms);
        REQUIRE(e.srtt().has_value());
        CHECK(*e.srtt() == 100ms);
        CHECK(e.rttvar() == 50ms);
        CHECK(e.rto() == 300ms);  // 100 + max(1, 4 * 50)
    }

    TEST_CASE("RFC 6298 §2.3: later samples use beta = 1/4 and alpha = 1/8 (old SRTT in RTTVAR)") {
        RttEstimator e = raw_estimator();
        e.on_sample(100ms);
        e.on_sample(200ms);
        // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 37.5 + 25 = 62.5 ms
        CHECK(e.rttvar() == 62500us);
        // SRTT = 7/8 * 100 + 1/8 * 200 = 87.5 + 25 = 112.5 ms
        CHECK(*e.srtt() == 112500us);
        // RTO = 112.5 + 4 * 62.5 = 362.5 ms
        CHECK(e.rto() == 362500us);

        // A third sample, 50 ms: RTTVAR = 3/4 * 62.5 + 1/4 * |112.5 - 50| = 46.875 + 15.625
        // = 62.5 ms; SRTT = 7/8 * 112.5 + 1/8 * 50 = 98.4375 + 6.25 = 104.6875 ms.
        e.on_sample(50ms);
        CHECK(e.rttvar() == 62500us);
        CHECK(*e.srtt() == 104687us);  // 104687.5 us, truncated to whole microseconds
        CHECK(e.rto() == 354687us);
    }

    TEST_CASE("RFC 6298 §2.3: the clock granularity G bounds the variance term from below") {
        RttEstimator e(1s, 1ms, 60s, 100ms);
        e.on_sample(40ms);  // RTTVAR 20 ms: 4 * 20 = 80 ms < G
        CHECK(e.rto() == 140ms);

        // Identical samples drive RTTVAR toward 0; the RTO converges on SRTT + G.
        RttEstimator f = raw_estimator();
        for (int i = 0; i < 200; ++i) {
            f.on_sample(50ms);
        }
        CHECK(*f.srtt() == 50ms);
        CHECK(f.rttvar() == 0us);
        CHECK(f.rto() == 51ms);
    }

    TEST_CASE("RFC 6298 §2.4: the RTO is rounded up to the minimum") {
        RttEstimator e(1s, 1s, 60s, 1ms);  // the RFC's 1 s floor
        e.on_sample(100ms);                // computed 300 ms
        CHECK(e.rto() == 1s);
        CHECK(*e.srtt() == 100ms);  // the estimator itself is not clamped
    }

    TEST_CASE("RFC 6298 §2.5: the RTO is capped at the maximum") {
        RttEstimator e(1s, 200ms, 60s, 1ms);
        e.on_sample(30s);  // computed 30 + 4 * 15 = 90 s
        CHECK(e.rto() == 60s);
    }

    TEST_CASE("RFC 6298 §5.5: backoff doubles the RTO") {
        RttEstimator e = raw_estimator();
        e.on_sample(100ms);
        e.backoff();
        CHECK(e.rto() == 600ms);
        CHECK(e.backoff_count() == 1);
        e.backoff();
        CHECK(e.rto() == 1200ms);
        e.backoff();
        CHECK(e.rto() == 2400ms);
        CHECK(e.backoff_count() == 3);
    }

    TEST_CASE("RFC 6298 §5.5 and §2.5: backoff is capped at the maximum") {
        RttEstimator e(1s, 1ms, 1s, 1ms);
        e.on_sample(100ms);  // 300 ms
        e.backoff();
        CHECK(e.rto() == 600ms);
        e.backoff();
        CHECK(e.rto() == 1s);  // 1200 ms capped
        e.backoff();
        CHECK(e.rto() == 1s);
        CHECK(e.backoff_count() == 3);  // keeps counting past the cap

        // Many expiries never overflow.
        for (int i = 0; i < 1000; ++i) {
            e.backoff();
        }
        CHECK(e.rto() == 1s);
        CHECK(e.backoff_count() == 1003);
    }

    TEST_CASE("RFC 6298 §2.1 and §5.5: the initial RTO backs off too (SYN retransmission)") {
        RttEstimator e = raw_estimator();
        const Duration expected[] = {2s, 4s, 8s, 16s, 32s, 60s, 60s};
        for (const Duration want : expected) {
            e.backoff();
            CHECK(e.rto() == want);
        }
    }

    TEST_CASE("RFC 6298 §5.7: a new sample clears the backoff") {
        RttEstimator e = raw_estimator();
        e.on_sample(100ms);
        e.backoff();
        e.backoff();
        REQUIRE(e.rto() == 1200ms);
        e.on_sample(100ms);
        // RTTVAR = 3/4 * 50 + 1/4 * 0 = 37.5 ms; SRTT stays 100 ms; RTO = 100 + 150 = 250 ms.
        CHECK(e.backoff_count() == 0);
        CHECK(e.rttvar() == 37500us);
        CHECK(e.rto() == 250ms);
    }

    TEST_CASE("RFC 6298 §5.7: reset_backoff drops the doubling but keeps the estimate") {
        RttEstimator e = raw_estimator();
        e.on_sample(100ms);
        e.backoff();
        REQUIRE(e.rto() == 600ms);
        e.reset_backoff();
        CHECK(e.backoff_count() == 0);
        CHECK(e.rto() == 300ms);
        CHECK(*e.srtt() == 100ms);
    }

    TEST_CASE("RFC 6298 §2.2: a zero RTT sample is accepted") {
        RttEstimator e(1s, 10ms, 60s, 1ms);
        e.on_sample(0us);
        CHECK(*e.srtt() == 0us);
        CHECK(e.rttvar() == 0us);
        CHECK(e.rto() == 10ms);  // G = 1 ms, then the floor
    }

    TEST_CASE("TCP_INFO min RTT: the smallest sample is kept (empty before the first)") {
        RttEstimator e = raw_estimator();
        CHECK_FALSE(e.min_rtt().has_value());
        e.on_sample(100ms);
        CHECK(e.min_rtt() == 100ms);
        e.on_sample(40ms);
        e.on_sample(70ms);
        CHECK(e.min_rtt() == 40ms);
        e.backoff();
        e.reset_backoff();
        CHECK(e.min_rtt() == 40ms);  // backoff does not touch it
    }
}
