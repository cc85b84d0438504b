// DeliveryRateSampler: per-segment send records and the delivery-rate samples taken from them.
//
// Heads up! Read draft-cheng-iccrg-delivery-rate-estimation-02 (§3) before changing this. Each
// transmission records C.delivered, C.delivered_time, C.first_sent_time and whether the sender
// was application-limited; an ACK that delivers data (cumulatively or by SACK) takes the most
// recently sent of the segments it delivered, P, and the sample is
//     delivered = C.delivered - P.delivered
//     interval  = max(P.sent_time - P.first_sent_time, C.delivered_time - P.delivered_time)
// (the longer of the send and the ACK phase, so neither a burst sent at once nor a compressed
// run of ACKs overstates the rate). Only model-based controllers (BBR) use it; the Connection
// creates one for them and no one else pays for the records.
//
// Bounds: at most kMaxRecords segments are recorded (a segment sent beyond that just yields no
// sample); the ring grows with use, so an idle connection holds no records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ustack/congestion.hpp"
#include "ustack/segment.hpp"
#include "ustack/seq.hpp"
#include "ustack/time.hpp"

namespace ustack {

class DeliveryRateSampler {
public:
    static constexpr std::size_t kMaxRecords = 2048;

    // [start, end) leaves now; `inflight` = bytes outstanding before it. Sending into an empty
    // pipe restarts both clocks (§3.2: "the first packet of a flight").
    void on_send(SeqNum start, SeqNum end, std::uint32_t inflight, Instant now);
    // The sender had room in cwnd but nothing to send (§3.4): samples from segments sent until
    // what is in flight now has been delivered are marked app-limited.
    void mark_app_limited(std::uint32_t inflight);
    // An ACK delivered `newly` bytes (cumulative advance plus SACK growth); `una` is SND.UNA
    // after it and `sacked` the SACK scoreboard (sorted, disjoint). Returns the sample, if a
    // recorded segment was delivered. The sample's RTT is empty when P was a retransmission.
    std::optional<RateSample> on_ack(SeqNum una, std::span<const SackBlock> sacked,
                                     bool sack_changed, std::uint64_t newly, Instant now);

    [[nodiscard]] std::uint64_t delivered() const { return delivered_; }
    [[nodiscard]] std::size_t records() const { return len_; }
    [[nodiscard]] bool app_limited() const { return app_limited_until_ != 0; }

private:
    struct Record {
        SeqNum start;
        SeqNum end;
        Instant sent;
        Instant first_sent;
        Instant delivered_time;
        std::uint64_t delivered;
        bool app_limited;
        bool retransmit;  // sent below an earlier record's end: out of sequence order
        bool done;        // delivered (SACKed or cumulatively ACKed) and already considered
    };
    Record& at(std::size_t i) { return ring_[(head_ + i) & (ring_.size() - 1)]; }
    void consider(const Record& r);

    std::vector<Record> ring_;  // power-of-two size, send order from head_
    std::size_t head_ = 0;
    std::size_t len_ = 0;
    std::size_t retransmits_ = 0;  // records with `retransmit` in the ring
    std::optional<SeqNum> highest_end_;

    std::uint64_t delivered_ = 0;  // C.delivered: bytes delivered so far
    Instant delivered_time_{};     // C.delivered_time
    Instant first_sent_time_{};    // C.first_sent_time
    std::uint64_t app_limited_until_ = 0;  // C.app_limited: 0 = not app-limited
    bool have_best_ = false;  // during on_ack: P found
    Record best_{};           // P, the newest delivered segment
};

}  // namespace ustack
