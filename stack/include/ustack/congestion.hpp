// CongestionControl: how big the congestion window is, behind a small interface.
//
// Heads up! Read these before changing this file:
//   RFC 5681  TCP congestion control (slow start, congestion avoidance, §3.1 eq. (4) ssthresh)
//   RFC 6582  NewReno fast recovery          RFC 6675  SACK-based loss recovery (the "pipe")
//   RFC 9438  CUBIC                          RFC 6928  initial window
//   draft-cardwell-iccrg-bbr-congestion-control  BBR (bbr.cpp)
//   draft-cheng-iccrg-delivery-rate-estimation   the rate samples BBR runs on (rate_sampler.hpp)
//
// Division of labour: the Connection owns loss *detection* and *recovery* (duplicate ACKs, the
// SACK scoreboard, which segment to retransmit, RFC 6582 / RFC 6675 bookkeeping). A controller
// owns only the window arithmetic: how cwnd grows on an ACK, what ssthresh becomes when a loss
// is detected, and what happens on a retransmission timeout. Adding an algorithm is one .cpp file
// with a subclass plus one enumerator in TcpConfig (CongestionAlgorithm) and one case in
// make_congestion_control().
//
// Units: bytes for windows, the engine's Duration/Instant for time (controllers never read a
// clock; `now` comes with every call).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "ustack/config.hpp"
#include "ustack/time.hpp"

namespace ustack {

std::string_view to_string(CongestionAlgorithm a);
// "cubic", "newreno", "bbr" -> the algorithm; anything else -> nullopt.
std::optional<CongestionAlgorithm> congestion_from_string(std::string_view name);

// One delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation §3.3), taken on an ACK
// that delivered data, for controllers that model the path (wants_rate_samples()).
struct RateSample {
    std::uint64_t delivered = 0;        // bytes delivered over `interval`
    Duration interval{0};               // max(send_elapsed, ack_elapsed); 0 = no valid rate
    std::uint64_t prior_delivered = 0;  // C.delivered when the newest delivered segment was sent
    std::uint64_t total_delivered = 0;  // C.delivered now
    std::optional<Duration> rtt;        // now - send time of that segment
    bool app_limited = false;           // that segment went out while the sender was app-limited
    std::uint32_t acked = 0;            // bytes newly delivered by this ACK (cumulative + SACK)
    std::uint32_t inflight = 0;         // bytes in flight after it (RFC 6675 pipe in SACK recovery)
    bool in_recovery = false;           // fast recovery (or recovery after an RTO) under way
};

class CongestionControl {
public:
    // `mss` is SMSS (the sender's effective MSS, options excluded); `iw` the initial window.
    CongestionControl(std::uint32_t mss, std::uint32_t iw) : mss_(mss), cwnd_(iw) {}
    virtual ~CongestionControl() = default;
    CongestionControl(const CongestionControl&) = delete;
    CongestionControl& operator=(const CongestionControl&) = delete;

    [[nodiscard]] virtual CongestionAlgorithm algorithm() const = 0;

    // `acked` new bytes were cumulatively acknowledged outside loss recovery. `flight` is the
    // FlightSize before the ACK, `srtt` the smoothed RTT if known. Grows cwnd (slow start below
    // ssthresh, congestion avoidance above; RFC 5681 §3.1).
    virtual void on_ack(std::uint32_t acked, std::uint32_t flight, std::optional<Duration> srtt,
                        Instant now) = 0;
    // A loss was detected by duplicate ACKs / SACK (entering fast recovery, RFC 5681 §3.2 step 2,
    // RFC 6675 §5 step 4.2): set ssthresh (and remember what the algorithm needs); cwnd becomes
    // ssthresh (the Connection may inflate it for NewReno without SACK).
    virtual void on_congestion_event(std::uint32_t flight, Instant now) = 0;
    // The retransmission timer expired (RFC 5681 §3.1 eq. (4), RFC 9438 §4.8): ssthresh from
    // FlightSize, cwnd = one segment (the loss window).
    virtual void on_rto(std::uint32_t flight, Instant now) = 0;
    // Fast recovery ended: the recovery point was acknowledged (`flight` = FlightSize now).
    // RFC 6675 §5 leaves cwnd = ssthresh; RFC 6582 §3.2 step 3 (option 1) deflates to
    // min(ssthresh, max(FlightSize, SMSS) + SMSS).
    virtual void on_recovery_end(std::uint32_t flight, bool sack) {
        if (sack) {
            set_cwnd(ssthresh_);
        } else {
            set_cwnd(std::min(ssthresh_, std::max(flight, mss_) + mss_));
        }
    }
    // Everything outstanding at a retransmission timeout has been acknowledged.
    virtual void on_rto_recovered() {}
    // Model-based controllers (BBR) take a delivery-rate sample on every ACK that delivers data;
    // the Connection then keeps per-segment send records for them (rate_sampler.hpp).
    [[nodiscard]] virtual bool wants_rate_samples() const { return false; }
    virtual void on_rate_sample(const RateSample& rs, Instant now) { (void)rs; (void)now; }
    // A retransmission timeout turned out to be spurious, or the idle restart of RFC 5681 §4.1.
    virtual void on_idle_restart(Instant now) { (void)now; cwnd_ = std::min(cwnd_, restart_window()); }

    [[nodiscard]] std::uint32_t cwnd() const { return cwnd_; }
    [[nodiscard]] std::uint32_t ssthresh() const { return ssthresh_; }
    [[nodiscard]] std::uint32_t mss() const { return mss_; }
    [[nodiscard]] bool in_slow_start() const { return cwnd_ < ssthresh_; }
    // The Connection adjusts cwnd directly during recovery (RFC 5681 §3.2 steps 3-6 inflation,
    // RFC 6582 §3.2 partial-ACK deflation, RFC 6675 "cwnd = ssthresh").
    void set_cwnd(std::uint32_t w) { cwnd_ = std::max(w, mss_); }
    // RFC 6928 §2 after more than one SYN timeout: IW = 1 segment.
    void set_initial_window(std::uint32_t iw) { cwnd_ = iw; }

protected:
    // RFC 5681 §3.1: slow start adds at most SMSS per ACK (we count bytes, RFC 3465 with L=1).
    void slow_start(std::uint32_t acked) { cwnd_ += std::min(acked, mss_); }
    [[nodiscard]] std::uint32_t restart_window() const {
        return std::min<std::uint32_t>(10U * mss_, std::max<std::uint32_t>(2U * mss_, 14600U));
    }

    std::uint32_t mss_;                       // SMSS in bytes, > 0
    std::uint32_t cwnd_;                      // congestion window in bytes, >= mss_ once running
    std::uint32_t ssthresh_ = 0xffffffffU;    // RFC 5681 §3.1: "arbitrarily high" initially
};

// RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
[[nodiscard]] std::uint32_t initial_window(std::uint32_t mss);

// A controller of the given kind, with cwnd = initial_window(mss).
[[nodiscard]] std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm a,
                                                                         std::uint32_t mss);

}  // namespace ustack
