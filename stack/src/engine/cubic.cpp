// CUBIC window arithmetic (RFC 9438).
//
// Heads up! Read RFC 9438 §4 before changing this file. The window is a cubic function of the
// time since the last congestion event,
//     W_cubic(t) = C * (t - K)^3 + W_max                                      (§4.2 eq. 1)
//     K = cbrt((W_max - cwnd_epoch) / C)                                       (§4.2 eq. 2)
// in units of segments and seconds, with C = 0.4 and the multiplicative decrease β = 0.7 (§4.6).
// Next to it runs the Reno-friendly estimate W_est (§4.3), growing by α_cubic = 3(1-β)/(1+β)
// segments per RTT, so CUBIC is never slower than Reno on short or lossy paths. Fast convergence
// (§4.7) lowers W_max when a flow loses before regaining its previous maximum.
//
// Slow start is RFC 5681's (HyStart++ is optional in RFC 9438 §4.10 and not done here).
#include <algorithm>
#include <cmath>

#include "ustack/congestion.hpp"

namespace ustack {

namespace {

constexpr double kBeta = 0.7;  // β_cubic, RFC 9438 §4.6
constexpr double kC = 0.4;     // C, RFC 9438 §5
// α_cubic = 3 * (1 - β) / (1 + β) (RFC 9438 §4.3 eq. 4).
constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

class Cubic final : public CongestionControl {
public:
    using CongestionControl::CongestionControl;
    [[nodiscard]] CongestionAlgorithm algorithm() const override {
        return CongestionAlgorithm::cubic;
    }

    void on_ack(std::uint32_t acked, std::uint32_t flight, std::optional<Duration> srtt,
                Instant now) override {
        (void)flight;
        if (in_slow_start()) {
            slow_start(acked);
            return;
        }
        const double mss = mss_;
        const double cwnd = cwnd_ / mss;  // segments
        if (!epoch_) {
            // §4.2: a new congestion-avoidance epoch starts with the first ACK after a loss (or
            // after slow start ends without one: then W_max is the current window, K = 0).
            epoch_ = now;
            cwnd_epoch_ = cwnd;
            if (w_max_ < cwnd)
                w_max_ = cwnd;
            k_ = std::cbrt((w_max_ - cwnd_epoch_) / kC);
            w_est_ = cwnd;
        }
        const double rtt = srtt ? std::chrono::duration<double>(*srtt).count() : 0.1;
        const double t = std::chrono::duration<double>(now - *epoch_).count();
        // §4.2: the target is W_cubic one RTT ahead, kept within [cwnd, 1.5 cwnd].
        const double d = t + rtt - k_;
        double target = kC * d * d * d + w_max_;
        target = std::clamp(target, cwnd, 1.5 * cwnd);
        // §4.3: the Reno-friendly estimate grows α_cubic segments per RTT (per cwnd of ACKed
        // bytes); above W_max the RFC lets α become 1 (§4.3, "once W_est reaches W_max").
        const double alpha = w_est_ >= w_max_ ? 1.0 : kAlpha;
        w_est_ += alpha * (acked / mss) / cwnd;
        // The Reno-friendly region, else the concave / convex regions.
        const double next =
            w_est_ > target ? w_est_ : cwnd + (target - cwnd) * (acked / mss) / cwnd;
        cwnd_ = std::max(cwnd_, static_cast<std::uint32_t>(next * mss));
    }

    void on_congestion_event(std::uint32_t flight, Instant now) override {
        (void)now;
        const double cwnd = cwnd_ / static_cast<double>(mss_);
        // §4.7 fast convergence: losing again below the last maximum releases bandwidth.
        if (cwnd < w_max_) {
            w_max_ = cwnd * (1.0 + kBeta) / 2.0;
        } else {
            w_max_ = cwnd;
        }
        // §4.6: ssthresh = max(flight_size * β, 2 segments) -- the RFC allows cwnd or FlightSize;
        // FlightSize follows RFC 5681 and is right for application-limited senders.
        const auto reduced = static_cast<std::uint32_t>(std::max<double>(flight, mss_) * kBeta);
        ssthresh_ = std::max(reduced, 2U * mss_);
        cwnd_ = ssthresh_;
        epoch_.reset();
    }

    void on_rto(std::uint32_t flight, Instant now) override {
        // §4.8: as a congestion event for ssthresh and W_max, then cwnd = 1 segment (RFC 5681),
        // and the next epoch starts from slow start.
        on_congestion_event(flight, now);
        cwnd_ = mss_;
        epoch_.reset();
    }

private:
    std::optional<Instant> epoch_;  // t_epoch: start of the current CA epoch; empty = none yet
    double w_max_ = 0;              // W_max in segments: window just before the last reduction
    double k_ = 0;                  // K in seconds (§4.2 eq. 2)
    double cwnd_epoch_ = 0;         // cwnd at the start of the epoch, segments
    double w_est_ = 0;              // W_est (§4.3), segments
};

}  // namespace

std::unique_ptr<CongestionControl> make_cubic(std::uint32_t mss, std::uint32_t iw) {
    return std::make_unique<Cubic>(mss, iw);
}

}  // namespace ustack
