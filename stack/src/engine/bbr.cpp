// BBR congestion control (draft-cardwell-iccrg-bbr-congestion-control-00, "BBR v1"), driven by
// the delivery-rate samples of rate_sampler.hpp.
//
// Heads up! Read the draft (§4) before changing this file. BBR does not read loss as congestion;
// it keeps a model of the path -- BtlBw, the windowed maximum of the delivery rate over the last
// 10 round trips, and RTprop, the minimum RTT of the last 10 s -- and bounds what is in flight by
// cwnd_gain * BDP (BDP = BtlBw * RTprop). Random loss therefore costs only the retransmissions,
// not a window reduction (CUBIC loses 30 % of its window per loss event; at 1 % loss on a path of
// 100 us that leaves it about 15 segments). The states:
//   Startup   cwnd grows by what each ACK delivers (as slow start), target 2/ln2 * BDP, until
//             BtlBw grew by less than 25 % in three rounds ("full pipe", §4.3.2.2);
//   Drain     cwnd = 1 * BDP until in flight is down to one BDP (the queue Startup built);
//   ProbeBW   cwnd = 2 * BDP (+ the ACK-aggregation allowance below);
//   ProbeRTT  when RTprop has not been refreshed for 10 s: cwnd = 4 segments for at least
//             200 ms and one round, so the queue drains and the true RTT can be seen.
// Loss recovery: one round of packet conservation (cwnd = in flight + newly delivered) on
// entering fast recovery, the previous cwnd restored when it ends (draft §4.2.3.4); after a
// retransmission timeout cwnd restarts from one segment and the old cwnd comes back once
// everything outstanding at the timeout is acknowledged.
//
// Where this differs from the draft, and why:
//   - No pacing. The engine is sans-I/O and the host's timer resolution is far coarser than the
//     ~20 us between 64 KB bursts at full rate over TUN; so the pacing gains (Startup's 2.89,
//     ProbeBW's 1.25/0.75 cycle) have nothing to act on, and Drain drains by cwnd instead.
//     BBR then acts as a model-based cwnd cap, which is what it is when the path, not the
//     pacing rate, is the bottleneck.
//   - The quantization budget is Linux's, 3 bursts of up to 64 KB (send_quantum), not 3 MSS.
//   - The ACK-aggregation allowance of Linux's tcp_bbr.c ("extra_acked": the most data
//     delivered beyond BtlBw * elapsed in one ACK epoch, over 10 rounds, capped at 100 ms of
//     BtlBw) is added to the ProbeBW target: receivers that ACK once per flight -- every one
//     behind a batching TUN or GRO -- would otherwise starve the 2 * BDP window.
#include <algorithm>
#include <array>
#include <optional>

#include "ustack/congestion.hpp"

namespace ustack {

namespace {

constexpr double kHighGain = 2.885;  // 2 / ln 2 (draft §4.3.2.1)
constexpr double kCwndGain = 2.0;    // ProbeBW (§4.3.4.2)
constexpr unsigned kBwRounds = 10;   // BtlBwFilterLen (§4.1.1.4)
constexpr Duration kMinRttWindow = std::chrono::seconds(10);   // RTpropFilterLen
constexpr Duration kProbeRttTime = std::chrono::milliseconds(200);  // ProbeRTTDuration
constexpr unsigned kFullBwRounds = 3;   // §4.3.2.2
constexpr double kFullBwGrowth = 1.25;  // §4.3.2.2
constexpr std::uint32_t kMinCwndSegments = 4;  // §4.3.5
constexpr unsigned kAckAggRounds = 5;          // tcp_bbr.c bbr_extra_acked_win_rtts
constexpr Duration kAckAggMax = std::chrono::milliseconds(100);  // bbr_extra_acked_max_us
constexpr std::uint32_t kMaxBurst = 65536;  // one TSO super-packet (GSO_MAX_SIZE)

class Bbr final : public CongestionControl {
public:
    using CongestionControl::CongestionControl;
    [[nodiscard]] CongestionAlgorithm algorithm() const override {
        return CongestionAlgorithm::bbr;
    }
    [[nodiscard]] bool wants_rate_samples() const override { return true; }

    // Growth happens in on_rate_sample, on every ACK that delivers data.
    void on_ack(std::uint32_t, std::uint32_t, std::optional<Duration>, Instant) override {}

    void on_congestion_event(std::uint32_t flight, Instant now) override {
        (void)now;
        // §4.2.3.4: save cwnd, then one round of packet conservation, starting now. The first
        // rate sample (of this same ACK) sets cwnd = in flight + delivered.
        save_cwnd();
        conservation_ = true;
        next_round_delivered_ = total_delivered_;
        cwnd_ = mss_;
        // Without SACK the Connection inflates ssthresh + 3 SMSS (RFC 5681 §3.2 step 3):
        // ssthresh here is what is in flight, so that is "in flight plus the segments that
        // left", the same conservation.
        ssthresh_ = std::max(flight, 2U * mss_);
    }

    void on_recovery_end(std::uint32_t flight, bool sack) override {
        (void)flight;
        (void)sack;
        conservation_ = false;
        cwnd_ = std::max(cwnd_, prior_cwnd_);
    }

    void on_rto(std::uint32_t flight, Instant now) override {
        (void)flight;
        (void)now;
        save_cwnd();
        conservation_ = false;
        cwnd_ = mss_;
        full_bw_ = 0;  // tcp_bbr.c: a timeout restarts the full-pipe estimate
        full_bw_count_ = 0;
    }

    void on_rto_recovered() override { cwnd_ = std::max(cwnd_, prior_cwnd_); }

    // BBR keeps its window across idle periods (the model still describes the path; the
    // draft's restart from idle only changes the pacing rate, which is not used here).
    void on_idle_restart(Instant now) override { (void)now; }

    void on_rate_sample(const RateSample& rs, Instant now) override {
        total_delivered_ = rs.total_delivered;
        update_round(rs);
        update_bw(rs);
        update_ack_aggregation(rs, now);
        check_full_pipe(rs);
        check_drain(rs);
        update_min_rtt(rs, now);
        set_cwnd(rs);
    }

private:
    enum class Mode : std::uint8_t { startup, drain, probe_bw, probe_rtt };

    // BtlBw in bytes per microsecond. The window moves only when a sample is taken (as a running
    // max filter does): an application-limited spell, whose samples are skipped, keeps it.
    [[nodiscard]] double max_bw() const { return btl_bw_; }
    // The burst the sender emits at once (tcp_bbr.c bbr_tso_segs_goal: 1 ms at BtlBw, at least
    // two segments, at most one 64 KB TSO super-packet). Three of them go on top of the BDP
    // target. With 3 MSS instead (the draft's text, written for paced senders) the window
    // behind a TUN link, where the measured RTprop is tens of microseconds but every hop batches
    // 64 KB, is about one super-packet: 2 * 30 KB + 4 KB.
    [[nodiscard]] double send_quantum() const {
        const double one_ms = max_bw() * 1000.0;
        return std::clamp(one_ms, 2.0 * mss_, static_cast<double>(kMaxBurst));
    }
    [[nodiscard]] bool have_model() const { return min_rtt_.has_value() && max_bw() > 0; }
    [[nodiscard]] double bdp() const {
        return max_bw() * static_cast<double>(min_rtt_ ? min_rtt_->count() : 0);
    }

    void save_cwnd() {
        // tcp_bbr.c bbr_save_cwnd: the window from before any reduction of this episode.
        if (!conservation_ && mode_ != Mode::probe_rtt) {
            prior_cwnd_ = cwnd_;
        } else {
            prior_cwnd_ = std::max(prior_cwnd_, cwnd_);
        }
    }

    void update_round(const RateSample& rs) {
        // §4.1.1.3: a round trip ends when a segment sent after the round began is delivered.
        round_start_ = false;
        if (rs.interval > Duration{0} || rs.rtt) {
            if (rs.prior_delivered >= next_round_delivered_) {
                next_round_delivered_ = rs.total_delivered;
                ++round_count_;
                round_start_ = true;
                conservation_ = false;  // conservation lasts one round
            }
        }
    }

    void update_bw(const RateSample& rs) {
        if (rs.interval <= Duration{0} || rs.delivered == 0) return;
        const double bw = static_cast<double>(rs.delivered) / static_cast<double>(rs.interval.count());
        // §4.1.1.5: app-limited samples only count when they exceed the estimate. ProbeRTT's
        // samples (and those of the round after it, sent while cwnd was 4 segments) are
        // limited by our own window, not the path: as app-limited (tcp_bbr.c marks the
        // connection app-limited on entering ProbeRTT for the same reason).
        const bool limited = rs.app_limited || mode_ == Mode::probe_rtt ||
                             round_count_ <= probe_rtt_exit_round_ + 1;
        if (limited && bw < max_bw()) return;
        const unsigned i = static_cast<unsigned>(round_count_ % kBwRounds);
        if (bw_round_[i] != round_count_) {
            bw_round_[i] = round_count_;
            bw_[i] = 0;
        }
        bw_[i] = std::max(bw_[i], bw);
        btl_bw_ = 0;
        for (unsigned k = 0; k < kBwRounds; ++k) {
            if (bw_round_[k] + kBwRounds > round_count_) btl_bw_ = std::max(btl_bw_, bw_[k]);
        }
    }

    void update_ack_aggregation(const RateSample& rs, Instant now) {
        if (rs.acked == 0 || rs.interval <= Duration{0}) return;
        if (round_start_ && ++agg_rounds_ >= kAckAggRounds) {
            agg_rounds_ = 0;
            agg_idx_ ^= 1U;
            extra_acked_[agg_idx_] = 0;
        }
        const double bw = max_bw();
        double expected = bw * static_cast<double>((now - agg_epoch_).count());
        // The epoch restarts when ACKs arrive no faster than BtlBw (nothing aggregated).
        if (static_cast<double>(agg_acked_) <= expected || agg_acked_ > (std::uint64_t{1} << 30)) {
            agg_acked_ = 0;
            agg_epoch_ = now;
            expected = 0;
        }
        agg_acked_ += rs.acked;
        const double extra = std::min(static_cast<double>(agg_acked_) - expected,
                                      static_cast<double>(cwnd_));
        extra_acked_[agg_idx_] = std::max(extra_acked_[agg_idx_], extra);
    }

    void check_full_pipe(const RateSample& rs) {
        // §4.3.2.2: BtlBw grew by less than 25 % for three rounds: the pipe is full.
        if (full_bw_reached_ || !round_start_ || rs.app_limited) return;
        const double bw = max_bw();
        if (bw >= full_bw_ * kFullBwGrowth) {
            full_bw_ = bw;
            full_bw_count_ = 0;
            return;
        }
        if (++full_bw_count_ >= kFullBwRounds) full_bw_reached_ = true;
    }

    void check_drain(const RateSample& rs) {
        if (mode_ == Mode::startup && full_bw_reached_) mode_ = Mode::drain;  // §4.3.3
        if (mode_ == Mode::drain && static_cast<double>(rs.inflight) <= bdp()) {
            mode_ = Mode::probe_bw;  // §4.3.4
        }
    }

    void update_min_rtt(const RateSample& rs, Instant now) {
        // §4.1.2.3: RTprop is the minimum over 10 s; an expired estimate takes any sample and
        // sends the flow to ProbeRTT (§4.3.5).
        const bool expired = min_rtt_ && now > min_rtt_stamp_ + kMinRttWindow;
        if (rs.rtt && (!min_rtt_ || *rs.rtt < *min_rtt_ || expired)) {
            min_rtt_ = std::max(*rs.rtt, Duration{1});
            min_rtt_stamp_ = now;
        }
        if (expired && mode_ != Mode::probe_rtt) {
            save_cwnd();
            mode_ = Mode::probe_rtt;
            probe_rtt_done_.reset();
        }
        if (mode_ != Mode::probe_rtt) return;
        if (!probe_rtt_done_) {
            if (rs.inflight <= kMinCwndSegments * mss_) {
                probe_rtt_done_ = now + kProbeRttTime;
                probe_rtt_round_done_ = false;
                next_round_delivered_ = rs.total_delivered;
            }
            return;
        }
        if (round_start_) probe_rtt_round_done_ = true;
        if (probe_rtt_round_done_ && now >= *probe_rtt_done_) {
            min_rtt_stamp_ = now;
            probe_rtt_exit_round_ = round_count_;
            cwnd_ = std::max(cwnd_, prior_cwnd_);
            mode_ = full_bw_reached_ ? Mode::probe_bw : Mode::startup;
        }
    }

    void set_cwnd(const RateSample& rs) {
        const std::uint32_t floor = kMinCwndSegments * mss_;
        if (conservation_) {
            // §4.2.3.4: in the first round of recovery send one segment per segment delivered.
            cwnd_ = std::max(cwnd_, rs.inflight + rs.acked);
        } else if (!have_model()) {
            cwnd_ += rs.acked;  // no estimate yet: grow as slow start
        } else {
            const double gain = mode_ == Mode::startup ? kHighGain : kCwndGain;
            double target = gain * bdp() + 3.0 * send_quantum();  // quantization budget (§4.2.3.2)
            if (mode_ == Mode::drain) {
                target = bdp();  // drain by window (no pacing): until one BDP is in flight
            } else if (full_bw_reached_) {
                const double cap = max_bw() * static_cast<double>(kAckAggMax.count());
                target += std::min(std::max(extra_acked_[0], extra_acked_[1]), cap);
            }
            const auto t = static_cast<std::uint32_t>(std::min(target, 1.0e9));
            if (full_bw_reached_) {
                cwnd_ = std::min(cwnd_ + rs.acked, std::max(t, floor));
            } else if (cwnd_ < t || rs.total_delivered < restart_window()) {
                cwnd_ += rs.acked;
            }
        }
        cwnd_ = std::max(cwnd_, floor);
        if (mode_ == Mode::probe_rtt) cwnd_ = std::min(cwnd_, floor);
    }

    Mode mode_ = Mode::startup;
    std::uint64_t total_delivered_ = 0;
    std::uint64_t round_count_ = 0;
    std::uint64_t next_round_delivered_ = 0;
    bool round_start_ = false;
    std::array<double, kBwRounds> bw_{};  // per-round maximum delivery rate, bytes/us
    std::array<std::uint64_t, kBwRounds> bw_round_{};
    double btl_bw_ = 0;  // max of bw_ over the rounds still in the window at the last sample
    std::optional<Duration> min_rtt_;
    Instant min_rtt_stamp_{};
    std::optional<Instant> probe_rtt_done_;
    std::uint64_t probe_rtt_exit_round_ = 0;
    bool probe_rtt_round_done_ = false;
    double full_bw_ = 0;
    unsigned full_bw_count_ = 0;
    bool full_bw_reached_ = false;
    bool conservation_ = false;
    std::uint32_t prior_cwnd_ = 0;
    // ACK aggregation (tcp_bbr.c bbr_update_ack_aggregation): two windows of kAckAggRounds.
    std::array<double, 2> extra_acked_{};
    unsigned agg_idx_ = 0;
    unsigned agg_rounds_ = 0;
    Instant agg_epoch_{};
    std::uint64_t agg_acked_ = 0;
};

}  // namespace

std::unique_ptr<CongestionControl> make_bbr(std::uint32_t mss, std::uint32_t iw) {
    return std::make_unique<Bbr>(mss, iw);
}

}  // namespace ustack
