// Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation-02 §3); see
// rate_sampler.hpp.
#include "ustack/rate_sampler.hpp"

#include <algorithm>

namespace ustack {

void DeliveryRateSampler::on_send(SeqNum start, SeqNum end, std::uint32_t inflight, Instant now) {
    if (inflight == 0) {
        // §3.2: nothing in flight -- this segment starts a new flight; its send and ACK phases
        // are measured from now.
        first_sent_time_ = now;
        delivered_time_ = now;
    }
    if (!(start < end)) return;
    const bool retransmit = highest_end_ && start < *highest_end_;
    if (!highest_end_ || end > *highest_end_) highest_end_ = end;
    if (len_ == ring_.size()) {
        if (ring_.size() >= kMaxRecords) return;  // bounded: this one yields no sample
        std::vector<Record> bigger(ring_.empty() ? 64 : ring_.size() * 2);
        for (std::size_t i = 0; i < len_; ++i) bigger[i] = at(i);
        ring_ = std::move(bigger);
        head_ = 0;
    }
    Record& r = ring_[(head_ + len_) & (ring_.size() - 1)];
    r = Record{start, end, now, first_sent_time_, delivered_time_, delivered_,
               app_limited_until_ != 0, retransmit, false};
    ++len_;
    if (retransmit) ++retransmits_;
}

void DeliveryRateSampler::mark_app_limited(std::uint32_t inflight) {
    app_limited_until_ = std::max<std::uint64_t>(delivered_ + inflight, 1);
}

void DeliveryRateSampler::consider(const Record& r) {
    // §3.3: P is the most recently sent of the delivered segments -- the one with the largest
    // C.delivered at its transmission, and of those the one sent last.
    if (!have_best_ || r.delivered > best_.delivered ||
        (r.delivered == best_.delivered && r.sent > best_.sent)) {
        best_ = r;
        have_best_ = true;
    }
}

std::optional<RateSample> DeliveryRateSampler::on_ack(SeqNum una, std::span<const SackBlock> sacked,
                                                      bool sack_changed, std::uint64_t newly,
                                                      Instant now) {
    if (newly == 0) return std::nullopt;
    delivered_ += newly;
    delivered_time_ = now;
    have_best_ = false;
    auto covered = [&](const Record& r) {
        if (r.end <= una) return true;
        for (const auto& b : sacked) {
            if (b.left <= r.start && r.end <= b.right) return true;
            if (b.left > r.start) break;
        }
        return false;
    };
    // Out-of-order records (retransmissions) or new SACK information: any record may have been
    // delivered. Otherwise records are in sequence order and only the head can be.
    if (retransmits_ > 0 || sack_changed) {
        for (std::size_t i = 0; i < len_; ++i) {
            Record& r = at(i);
            if (!r.done && covered(r)) {
                r.done = true;
                consider(r);
            }
        }
    }
    while (len_ > 0) {
        Record& r = at(0);
        if (!r.done && !covered(r)) break;
        if (!r.done) consider(r);
        if (r.retransmit) --retransmits_;
        head_ = (head_ + 1) & (ring_.size() - 1);
        --len_;
    }
    if (len_ == 0) highest_end_.reset();
    // §3.4: the app-limited phase ends once what was in flight when it began is delivered.
    if (app_limited_until_ != 0 && delivered_ > app_limited_until_) app_limited_until_ = 0;
    if (!have_best_) return std::nullopt;
    const Record& p = best_;
    first_sent_time_ = p.sent;  // §3.3: the next flight's send phase starts here
    RateSample rs;
    rs.prior_delivered = p.delivered;
    rs.total_delivered = delivered_;
    rs.delivered = delivered_ - p.delivered;
    rs.interval = std::max(p.sent - p.first_sent, delivered_time_ - p.delivered_time);
    // Karn (RFC 6298 §3): no RTT from a retransmission -- the ACK may answer the original, and
    // a resend of data already delivered (a probe, a spurious retransmission) would read as a
    // near-zero RTT and shrink BBR's RTprop, and with it the window, to nothing.
    if (!p.retransmit) rs.rtt = now - p.sent;
    rs.app_limited = p.app_limited;
    rs.acked = static_cast<std::uint32_t>(std::min<std::uint64_t>(newly, 0xffffffffU));
    have_best_ = false;
    return rs;
}

}  // namespace ustack
