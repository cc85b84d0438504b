// NewReno window arithmetic (RFC 5681 §3.1, RFC 6582), and the controller factory.
//
// Heads up: the recovery procedure itself (fast retransmit, inflation by duplicate ACKs, the
// partial-ACK rule of RFC 6582 §3.2 step 5) lives in the Connection (connection_recovery.cpp);
// this file only says how the window grows and what ssthresh becomes on a loss.
#include <algorithm>

#include "ustack/congestion.hpp"

namespace ustack {

std::string_view to_string(CongestionAlgorithm a) {
    switch (a) {
        case CongestionAlgorithm::cubic: return "cubic";
        case CongestionAlgorithm::newreno: return "newreno";
        case CongestionAlgorithm::bbr: return "bbr";
    }
    return "?";
}

std::optional<CongestionAlgorithm> congestion_from_string(std::string_view name) {
    for (auto a : {CongestionAlgorithm::cubic, CongestionAlgorithm::newreno,
                   CongestionAlgorithm::bbr}) {
        if (to_string(a) == name) return a;
    }
    return std::nullopt;
}

std::uint32_t initial_window(std::uint32_t mss) {
    return std::min<std::uint32_t>(10U * mss, std::max<std::uint32_t>(2U * mss, 14600U));
}

namespace {

class NewReno final : public CongestionControl {
public:
    using CongestionControl::CongestionControl;
    [[nodiscard]] CongestionAlgorithm algorithm() const override {
        return CongestionAlgorithm::newreno;
    }

    void on_ack(std::uint32_t acked, std::uint32_t flight, std::optional<Duration> srtt,
                Instant now) override {
        (void)flight;
        (void)srtt;
        (void)now;
        if (in_slow_start()) {
            slow_start(acked);
            return;
        }
        // RFC 5681 §3.1 eq. (3): cwnd += SMSS*SMSS/cwnd per ACK, i.e. about one SMSS per RTT.
        // Counted in bytes so delayed ACKs (two segments per ACK) do not halve the growth.
        bytes_acked_ += acked;
        if (bytes_acked_ >= cwnd_) {
            bytes_acked_ -= cwnd_;
            cwnd_ += mss_;
        }
    }

    void on_congestion_event(std::uint32_t flight, Instant now) override {
        (void)now;
        // RFC 5681 §3.2 step 2 (eq. (4)): ssthresh = max(FlightSize / 2, 2*SMSS).
        ssthresh_ = std::max(flight / 2, 2U * mss_);
        cwnd_ = ssthresh_;
        bytes_acked_ = 0;
    }

    void on_rto(std::uint32_t flight, Instant now) override {
        (void)now;
        // RFC 5681 §3.1 eq. (4) and "cwnd = LW = 1 SMSS".
        ssthresh_ = std::max(flight / 2, 2U * mss_);
        cwnd_ = mss_;
        bytes_acked_ = 0;
    }

private:
    std::uint32_t bytes_acked_ = 0;  // bytes acknowledged since cwnd last grew in CA
};

}  // namespace

std::unique_ptr<CongestionControl> make_cubic(std::uint32_t mss, std::uint32_t iw);  // cubic.cpp
std::unique_ptr<CongestionControl> make_bbr(std::uint32_t mss, std::uint32_t iw);    // bbr.cpp

std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm a,
                                                           std::uint32_t mss) {
    const std::uint32_t iw = initial_window(mss);
    switch (a) {
        case CongestionAlgorithm::newreno: return std::make_unique<NewReno>(mss, iw);
        case CongestionAlgorithm::cubic: return make_cubic(mss, iw);
        case CongestionAlgorithm::bbr: return make_bbr(mss, iw);
    }
    return std::make_unique<NewReno>(mss, iw);
}

}  // namespace ustack
