// RttEstimator: the retransmission timer computation of RFC 6298.
#pragma once

#include <optional>

#include "ustack/time.hpp"

namespace ustack {

class RttEstimator {
public:
    RttEstimator(Duration initial_rto, Duration min_rto, Duration max_rto, Duration granularity);

    // A new RTT measurement R (RFC 6298 §2.2 for the first, §2.3 after). Callers follow Karn's
    // rule (§3): no samples from retransmitted segments. Resets the backoff.
    void on_sample(Duration rtt);
    // RFC 6298 §5.5: double the RTO (bounded by max) after a timer expiry.
    void backoff();
    // Drop the backoff (a new ACK after retransmission; RFC 6298 §5.7 keeps the doubled value
    // until a new sample, which on_sample() does -- this is for callers that want it explicitly).
    void reset_backoff() { backoff_shift_ = 0; }

    // The current RTO: clamp(SRTT + max(G, 4*RTTVAR), min, max) doubled per backoff, capped at
    // max (§2.3, §2.4, §2.5). Before the first sample it is initial_rto (§2.1), doubled per
    // backoff and capped at max likewise.
    [[nodiscard]] Duration rto() const;
    [[nodiscard]] std::optional<Duration> srtt() const { return srtt_; }
    [[nodiscard]] Duration rttvar() const { return rttvar_; }
    // The smallest sample given to on_sample (TCP_INFO's minimum RTT); empty before the first.
    [[nodiscard]] std::optional<Duration> min_rtt() const { return min_rtt_; }
    // Timer expiries (backoff() calls) since the last sample or reset_backoff(). Keeps counting
    // after the RTO has reached max, so it can serve as a retry counter.
    [[nodiscard]] unsigned backoff_count() const { return backoff_shift_; }

private:
    Duration initial_rto_, min_rto_, max_rto_, granularity_;  // as configured; G = granularity
    std::optional<Duration> srtt_;     // SRTT; empty until the first sample (§2.1)
    std::optional<Duration> min_rtt_;  // smallest sample so far (not part of RFC 6298)
    Duration rttvar_{0};               // RTTVAR; meaningful once srtt_ is set
    Duration base_rto_;                // RTO before backoff once srtt_ is set: §2.3 value, clamped
    unsigned backoff_shift_ = 0;       // number of §5.5 doublings applied on top of base_rto_
};

}  // namespace ustack
