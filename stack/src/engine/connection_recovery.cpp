// Connection: loss recovery -- duplicate ACKs, fast retransmit / fast recovery, the SACK
// scoreboard and RFC 6675 recovery -- and the hand-off to the congestion controller.
//
// Heads up! Read these before changing this file:
//   RFC 5681 §3.2  fast retransmit / fast recovery     RFC 6582  NewReno (partial ACKs)
//   RFC 3042       limited transmit (in send_data)     RFC 2018  SACK option
//   RFC 6675       conservative SACK-based loss recovery (IsLost, SetPipe, NextSeg)
//
// Two recovery procedures share the entry point (three duplicate ACKs, RFC 5681 §3.2 step 2):
//   - without SACK: NewReno -- cwnd = ssthresh + 3*SMSS, inflated by one SMSS per further
//     duplicate ACK, each partial ACK retransmits the next hole (RFC 6582 §3.2 step 5);
//   - with SACK: RFC 6675 -- cwnd = ssthresh, and while cwnd - pipe >= SMSS the sender sends
//     NextSeg(): first the holes the scoreboard deems lost, then new data. Every hole is
//     retransmitted once per recovery (HighRxt), so all holes of a window are filled in about
//     one RTT instead of one hole per RTT.
// The congestion controller (congestion.hpp) only decides ssthresh and the growth outside
// recovery.
#include <algorithm>

#include "ustack/connection.hpp"

namespace ustack {

void Connection::on_ack_congestion(std::uint32_t acked, std::uint32_t flight_before,
                                   Instant now) {
    // The cumulative ACK moved: SACK information below it is no longer needed (RFC 6675 §5
    // "Update()"), and nothing below SND.UNA can be a retransmission candidate.
    std::erase_if(scoreboard_, [&](const SackBlock& b) { return b.right <= snd_una_; });
    for (auto& b : scoreboard_) b.left = seq_max(b.left, snd_una_);
    high_rxt_ = seq_max(high_rxt_, snd_una_);
    if (!cc_) return;
    if (in_fast_recovery_) {
        if (snd_una_ >= recover_) {
            // Full acknowledgment: recovery ends. RFC 6582 §3.2 step 3 (option 1) deflates to
            // min(ssthresh, max(FlightSize, SMSS) + SMSS); RFC 6675 §5 leaves cwnd = ssthresh
            // (CongestionControl::on_recovery_end; BBR restores its window instead).
            cc_->on_recovery_end(flight_size(), sack_ok_);
            in_fast_recovery_ = false;
            end_recovery_bookkeeping();
        } else if (!sack_ok_) {
            // RFC 6582 §3.2 step 5, partial acknowledgment: retransmit the first unacknowledged
            // segment, deflate cwnd by the amount acknowledged and add back one SMSS.
            fast_retransmit_pending_ = true;
            const std::uint32_t w = cc_->cwnd();
            cc_->set_cwnd((w > acked ? w - acked : 0U) + snd_mss_);
        }
    } else if (state_ != TcpState::syn_sent && state_ != TcpState::syn_received) {
        if (rto_recovery_ && snd_una_ >= recover_) {
            rto_recovery_ = false;  // all that was outstanding at the timeout is acknowledged
            cc_->on_rto_recovered();
        }
        // RFC 5681 §3.1 slow start / congestion avoidance, or CUBIC's window (RFC 9438 §4).
        cc_->on_ack(acked, flight_before, rtt_.srtt(), now);
    }
}

void Connection::on_delivery(SeqNum una_before, std::uint32_t sacked_before, Instant now) {
    const std::uint32_t sacked_now = sacked_bytes();
    const std::int64_t newly = std::int64_t{snd_una_ - una_before} + std::int64_t{sacked_now} -
                               std::int64_t{sacked_before};
    if (newly <= 0) return;
    RateSample rs;
    if (auto s = rate_->on_ack(snd_una_, scoreboard_, sacked_now != sacked_before,
                               static_cast<std::uint64_t>(newly), now)) {
        rs = *s;
    } else {
        // No recorded segment among those delivered (records are bounded): no rate, but the
        // controller still sees what was delivered.
        rs.total_delivered = rate_->delivered();
        rs.acked = static_cast<std::uint32_t>(newly);
    }
    rs.inflight = in_fast_recovery_ && sack_ok_ ? pipe() : flight_size();
    rs.in_recovery = in_fast_recovery_ || rto_recovery_;
    cc_->on_rate_sample(rs, now);
}

void Connection::on_duplicate_ack(const Segment& seg, bool sack_news, Instant now) {
    (void)seg;
    (void)sack_news;
    dup_acks_++;
    if (!cc_) return;
    if (in_fast_recovery_) {
        // RFC 5681 §3.2 step 4: each further duplicate ACK means a segment left the network;
        // NewReno inflates cwnd by SMSS. With SACK the pipe estimate accounts for it instead.
        if (!sack_ok_) cc_->set_cwnd(cc_->cwnd() + snd_mss_);
        return;
    }
    // RFC 5681 §3.2 step 2: DupThresh duplicate ACKs. RFC 6675 §5 step 2 adds: or the scoreboard
    // already says SND.UNA is lost (enough data SACKed above it).
    const bool loss = dup_acks_ >= cfg_.dupthresh || (sack_ok_ && is_lost(snd_una_));
    // RFC 6582 §3.2 step 1: a new recovery starts only if "the Cumulative Acknowledgment field
    // covers more than recover", where recover is "the highest sequence number transmitted" --
    // the last octet sent, SND.MAX - 1. recover_ holds SND.MAX, so the test is SND.UNA >=
    // recover_: an ACK that reaches exactly the old SND.MAX covers every octet of the old window,
    // and a hole at that point is a new loss (RFC 6675 §5.1 says the same with "HighACK >=
    // RecoveryPoint", HighACK = SND.UNA - 1, RecoveryPoint = HighData = SND.MAX - 1). With ">"
    // such a hole could only be repaired by the retransmission timer.
    if (!loss || snd_una_ < recover_) return;
    recover_ = snd_max_;
    in_fast_recovery_ = true;
    cc_->on_congestion_event(flight_size(), now);
    if (!sack_ok_) {
        // RFC 5681 §3.2 step 3: cwnd = ssthresh + 3*SMSS ("artificially inflates").
        cc_->set_cwnd(cc_->ssthresh() + 3U * snd_mss_);
    } else {
        stats_.sack_recoveries++;
        high_rxt_ = snd_una_;
        rxt_log_.clear();
    }
    // Step 2 (RFC 6675 §5 step 4.3): retransmit the first unacknowledged segment now.
    fast_retransmit_pending_ = true;
    rtt_seq_.reset();  // Karn: the timed segment's ACK may now answer the retransmission
    stats_.fast_retransmits++;
}

// ---- the scoreboard -------------------------------------------------------------------------

bool Connection::update_scoreboard(const Segment& seg) {
    if (!sack_ok_ || seg.options.sack_count == 0) return false;
    const std::uint32_t before = sacked_bytes();
    const std::size_t n = std::min<std::size_t>(seg.options.sack_count, kMaxSackBlocks);
    for (std::size_t i = 0; i < n; ++i) {
        SackBlock b = seg.options.sack[i];
        // RFC 2018 §3 / RFC 6675 §4: only blocks above the cumulative ACK, within what was sent.
        // A block reaching past SND.MAX is bogus and ignored (D-SACK blocks, below SND.UNA,
        // fall out here too: D-SACK is not used).
        if (!(b.left < b.right) || b.right > snd_max_ || b.right <= snd_una_) continue;
        b.left = seq_max(b.left, snd_una_);
        // Insert and merge (sorted, disjoint, non-adjacent).
        auto first = std::find_if(scoreboard_.begin(), scoreboard_.end(),
                                  [&](const SackBlock& x) { return x.right >= b.left; });
        auto last = std::find_if(first, scoreboard_.end(),
                                 [&](const SackBlock& x) { return x.left > b.right; });
        if (first == last) {
            if (scoreboard_.size() >= cfg_.max_sack_ranges) continue;  // bounded: forget it
            scoreboard_.insert(first, b);
            continue;
        }
        first->left = seq_min(first->left, b.left);
        first->right = seq_max(std::prev(last)->right, b.right);
        scoreboard_.erase(std::next(first), last);
    }
    return sacked_bytes() > before;
}

std::uint32_t Connection::sacked_bytes() const {
    std::uint32_t n = 0;
    for (const auto& b : scoreboard_) n += static_cast<std::uint32_t>(b.right - b.left);
    return n;
}

// RFC 6675 §4 IsLost(SeqNum): more than (DupThresh - 1) * SMSS bytes above it are SACKed.
// (The RFC's other test, DupThresh discontiguous SACKed segments, is implied for full-sized
// segments.)
bool Connection::is_lost(SeqNum s) const {
    std::uint32_t above = 0;
    for (const auto& b : scoreboard_) {
        if (b.right <= s) continue;
        above += static_cast<std::uint32_t>(b.right - seq_max(b.left, s + 1));
    }
    return above > (cfg_.dupthresh - 1) * std::uint32_t{snd_mss_};
}

// RFC 6675 §4 SetPipe(): the octets presumed in the network. Every unSACKed octet between
// SND.UNA and SND.MAX counts once unless it is lost, and once more if it was retransmitted
// (below HighRxt). Holes are whole runs of octets with the same answer, so this walks holes.
std::uint32_t Connection::pipe() const {
    const std::uint32_t threshold = (cfg_.dupthresh - 1) * std::uint32_t{snd_mss_};
    std::uint32_t total_sacked = sacked_bytes();
    std::uint32_t p = 0;
    SeqNum cur = snd_una_;
    auto hole = [&](SeqNum l, SeqNum r, std::uint32_t sacked_above) {
        if (!(l < r)) return;
        const auto len = static_cast<std::uint32_t>(r - l);
        if (sacked_above <= threshold) p += len;  // not lost: still in flight
        if (l < high_rxt_) p += static_cast<std::uint32_t>(seq_min(r, high_rxt_) - l);
    };
    for (const auto& b : scoreboard_) {
        hole(cur, b.left, total_sacked);
        total_sacked -= static_cast<std::uint32_t>(b.right - b.left);
        cur = b.right;
    }
    hole(cur, snd_max_, 0);
    return p;
}

void Connection::on_sack_recovery_ack(Instant now) {
    (void)now;
    // poll_transmit runs the RFC 6675 §5 (C) loop, which reads the updated scoreboard and pipe;
    // here only the retransmissions of this recovery are checked for loss.
    detect_lost_retransmissions();
}

// ---- lost retransmissions -------------------------------------------------------------------
//
// RFC 6675 retransmits every hole once (HighRxt only moves forward); if that retransmission is
// lost too, nothing but the retransmission timer repairs it (§5.1) -- with a 200 ms minimum RTO
// that is hundreds of RTTs on a fast path, and at 1 % random loss it happens in about one
// recovery in a hundred. RFC 8985 (RACK, §6.2) detects it by time: a segment is lost once a
// segment *sent after it* has been delivered (and a reordering window has passed). Here the
// order of transmission is read from sequence numbers: new data always goes out at SND.MAX, so
// data above the SND.MAX of the moment a retransmission went out was sent after it. When more than
// (DupThresh - 1) * SMSS such octets are SACKed -- the reordering allowance of IsLost(), RFC 6675
// §4 -- and the retransmitted range is still neither ACKed nor SACKed, it is lost; send_sack_
// recovery sends it again (first, before NextSeg) and restarts its mark. This is what Linux did
// before RACK (tcp_mark_lost_retrans: "received_upto" past the snd_nxt recorded at
// retransmission) and what draft-scheffenegger-tcpm-lrd specifies. No further cwnd reduction:
// the loss belongs to the episode already being recovered (as Linux).

void Connection::note_recovery_retransmission(SeqNum seq, std::uint32_t len) {
    if (!cfg_.lost_retransmission_detection || !sack_ok_ || !in_fast_recovery_ || len == 0) return;
    const SeqNum right = seq_min(seq + len, snd_max_);
    if (!(seq < right)) return;
    for (auto& r : rxt_log_) {
        if (r.left == seq) {  // the same range again: it is the newest transmission now
            r.right = seq_max(r.right, right);
            r.mark = snd_max_;
            r.lost = false;
            return;
        }
    }
    if (rxt_log_.size() >= kMaxRecoveryRetransmits) return;  // bounded: the RTO covers it
    rxt_log_.push_back(RecoveryRetransmit{seq, right, snd_max_, false});
}

std::uint32_t Connection::sacked_above(SeqNum s) const {
    std::uint32_t n = 0;
    for (auto it = scoreboard_.rbegin(); it != scoreboard_.rend() && it->right > s; ++it) {
        n += static_cast<std::uint32_t>(it->right - seq_max(it->left, s));
    }
    return n;
}

void Connection::detect_lost_retransmissions() {
    if (rxt_log_.empty()) return;
    const std::uint32_t threshold = (cfg_.dupthresh - 1) * std::uint32_t{snd_mss_};
    const SeqNum highest = scoreboard_.empty() ? snd_una_ : scoreboard_.back().right;
    std::erase_if(rxt_log_, [&](RecoveryRetransmit& r) {
        if (r.right <= snd_una_) return true;  // cumulatively acknowledged
        r.left = seq_max(r.left, snd_una_);
        for (const auto& b : scoreboard_) {
            if (b.left <= r.left && r.right <= b.right) return true;  // SACKed: delivered
        }
        if (!r.lost && highest > r.mark &&
            static_cast<std::uint32_t>(highest - r.mark) > threshold &&
            sacked_above(r.mark) > threshold) {
            r.lost = true;
        }
        return false;
    });
}

void Connection::end_recovery_bookkeeping() {
    rxt_log_.clear();
}

// RFC 6675 §5 step (C): while cwnd - pipe >= 1 SMSS, send NextSeg().
void Connection::send_sack_recovery(SegmentSink& out, Instant now) {
    const std::uint32_t threshold = (cfg_.dupthresh - 1) * std::uint32_t{snd_mss_};
    for (unsigned guard = 0; guard < 4096; ++guard) {
        const std::uint32_t cw = cc_->cwnd();
        const std::uint32_t in_pipe = pipe();
        if (cw <= in_pipe || cw - in_pipe < snd_mss_) break;

        // A retransmission found lost (detect_lost_retransmissions) goes again first: it is
        // the oldest data missing at the receiver.
        auto lost = std::find_if(rxt_log_.begin(), rxt_log_.end(),
                                 [](const RecoveryRetransmit& r) { return r.lost; });
        if (lost != rxt_log_.end()) {
            const SeqNum at = lost->left;
            const auto len = std::min<std::uint32_t>(
                static_cast<std::uint32_t>(lost->right - lost->left), snd_mss_);
            const std::uint32_t n = send_one(out, at, len, now);
            if (n == 0) break;
            stats_.sack_retransmits++;
            note_recovery_retransmission(at, n);
            continue;
        }

        // NextSeg rule (1): the first octet >= HighRxt in a hole that IsLost().
        std::optional<SeqNum> seq;
        std::uint32_t room = 0;
        std::uint32_t total_sacked = sacked_bytes();
        SeqNum cur = snd_una_;
        for (const auto& b : scoreboard_) {
            const SeqNum start = seq_max(cur, high_rxt_);
            if (start < b.left && total_sacked > threshold) {
                seq = start;
                room = std::min<std::uint32_t>(static_cast<std::uint32_t>(b.left - start),
                                               snd_mss_);
                break;
            }
            total_sacked -= static_cast<std::uint32_t>(b.right - b.left);
            cur = b.right;
        }
        if (seq) {
            const std::uint32_t n = send_one(out, *seq, room, now);
            if (n == 0) break;
            high_rxt_ = *seq + n;
            stats_.sack_retransmits++;
            note_recovery_retransmission(*seq, n);
            continue;
        }
        // Rule (2): new data, if the receiver's window allows. (Rule (3), re-sending octets not
        // yet deemed lost, is optional and not done; the RTO covers that case.)
        const SeqNum wnd_end = snd_una_ + snd_wnd_;
        const std::int32_t r = wnd_end - snd_max_;
        if (r <= 0) break;
        const std::uint32_t n =
            send_one(out, snd_max_, std::min<std::uint32_t>(static_cast<std::uint32_t>(r), snd_mss_ + 1U), now);
        if (n == 0) break;
        snd_nxt_ = snd_max_;
    }
}

}  // namespace ustack
