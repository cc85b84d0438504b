// Connection: what goes out -- SYN/SYN-ACK, data, FIN (with disconnect data), ACKs, RSTs, probes.
#include <algorithm>
#include <vector>

#include "ustack/connection.hpp"
#include "ustack/option_space.hpp"
#include "ustack/syn_options.hpp"

namespace ustack {

Segment Connection::make_segment(SeqNum seq, std::uint8_t flags) const {
    Segment s;
    s.set_endpoints(local_, remote_);
    s.seq = seq;
    s.flags = flags;
    if ((flags & tcp_flag::ack) != 0)
        s.ack = rcv_nxt_;
    return s;
}

std::uint32_t Connection::advertised_window() const {
    const std::size_t cap = rcv_buf_size_;
    if (state_ == TcpState::syn_sent) {
        return static_cast<std::uint32_t>(std::min<std::size_t>(rcv_space(), 65535));
    }
    std::uint32_t wnd = static_cast<std::uint32_t>(std::min<std::size_t>(rcv_space(), max_offer()));
    const SeqNum edge = rcv_nxt_ + wnd;
    if (edge < rcv_adv_) {
        // Never shrink the window (RFC 9293 §3.8.6.2.2, SHLD-14).
        wnd = rcv_wnd();
    } else if (edge > rcv_adv_ && rcv_adv_ != rcv_nxt_) {
        // Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, RFC 1122 §4.2.3.3): move the right edge only
        // by at least min(buffer/2, MSS). (A closed window -- rcv_adv_ == rcv_nxt_ -- is reopened
        // by the same rule, applied to the whole new window.)
        const auto step = static_cast<std::uint32_t>(std::min<std::size_t>(cap / 2, snd_mss_));
        if (static_cast<std::uint32_t>(edge - rcv_adv_) < step)
            wnd = rcv_wnd();
    } else if (rcv_adv_ == rcv_nxt_) {
        const auto step = static_cast<std::uint32_t>(std::min<std::size_t>(cap / 2, snd_mss_));
        if (wnd < step)
            wnd = 0;
    }
    return wnd;
}

void Connection::add_options(Segment& seg, Instant now) {
    if (ts_ok_) {
        // RFC 7323 §3.2: once negotiated, every non-RST segment carries TSopt; TSecr echoes
        // TS.Recent when the ACK bit is set.
        seg.options.timestamps =
            Timestamps{next_tsval(now), seg.has(tcp_flag::ack) ? ts_recent_ : 0U};
    }
    if (!sack_ok_ || !seg.has(tcp_flag::ack) || reassembly_.empty())
        return;
    // RFC 2018 §3: 2 + 8n bytes (plus 2 NOPs); at most 4 blocks, 3 with timestamps. DESIGN.md §3:
    // on a FIN with disconnect data the blocks yield (fewer, or none).
    CarriedOptions carried{.timestamps = ts_ok_};
    if (seg.options.disconnect)
        carried.disconnect_data = seg.options.disconnect->len;
    const std::size_t max_blocks = sack_blocks_room(carried);
    if (max_blocks == 0)
        return;
    // RFC 2018 §4: the first block MUST hold the most recently received segment; the others
    // SHOULD repeat "the most recently reported SACK blocks (based on first SACK blocks in
    // previous SACK options)" -- sack_recent_, newest first, as Linux orders them. The room left
    // goes to the other blocks, highest first, so that every block is reported while they fit.
    std::uint8_t n = 0;
    auto put = [&](const SackBlock& b) {
        for (std::uint8_t i = 0; i < n; ++i) {
            if (seg.options.sack[i] == b)
                return;  // blocks are disjoint: a block seen before is the same block
        }
        seg.options.sack[n++] = b;
    };
    for (std::uint8_t i = 0; i < sack_recent_count_ && n < max_blocks; ++i) {
        if (const auto b = sack_block_at(sack_recent_[i]))
            put(*b);
    }
    const auto& ranges = reassembly_.ranges();
    for (std::size_t k = ranges.size(); k-- > 0 && n < max_blocks;) {
        put(SackBlock{rcv_nxt_ + static_cast<std::uint32_t>(ranges[k].offset),
                      rcv_nxt_ + static_cast<std::uint32_t>(ranges[k].offset + ranges[k].len)});
    }
    seg.options.sack_count = n;
    stats_.sack_blocks_sent += n;
}

std::optional<SackBlock> Connection::sack_block_at(SeqNum s) const {
    if (s < rcv_nxt_)
        return std::nullopt;  // delivered since
    const auto off = static_cast<std::size_t>(s - rcv_nxt_);
    for (const auto& r : reassembly_.ranges()) {
        if (off < r.offset)
            break;
        if (off < r.offset + r.len) {
            return SackBlock{rcv_nxt_ + static_cast<std::uint32_t>(r.offset),
                             rcv_nxt_ + static_cast<std::uint32_t>(r.offset + r.len)};
        }
    }
    return std::nullopt;
}

void Connection::note_sack_arrival(SeqNum seq) {
    // The arrival's block (it may have merged others) moves to the front; entries inside it, or
    // in no block any more, go; the oldest falls off beyond kMaxSackBlocks.
    const std::optional<SackBlock> b = sack_block_at(seq);
    std::array<SeqNum, kMaxSackBlocks> kept{};
    std::uint8_t n = 0;
    kept[n++] = seq;
    for (std::uint8_t i = 0; i < sack_recent_count_ && n < kMaxSackBlocks; ++i) {
        const SeqNum e = sack_recent_[i];
        if (b && b->left <= e && e < b->right)
            continue;
        if (sack_block_at(e))
            kept[n++] = e;
    }
    sack_recent_ = kept;
    sack_recent_count_ = n;
}

void Connection::stamp(Segment& seg, Instant now) {
    if (!seg.has(tcp_flag::rst)) {
        const std::uint32_t bytes = advertised_window();
        std::uint8_t shift = 0;
        std::uint32_t field = 0;
        if (seg.has(tcp_flag::syn)) {
            field = syn_window(bytes);  // RFC 7323 §2.2: SYNs are unscaled
        } else {
            // RFC 7323 §2.3: the field is the window >> Rcv.Wind.Shift. Rounding down could
            // retract the edge already advertised; round up then (§2.4, as Linux) -- but never
            // past the end of the buffer by a whole scaling unit. RCV.NXT moves by amounts that
            // are not multiples of the unit, so rounding the previous edge up on every ACK would
            // let the edge creep further past the buffer each time (up to 2^shift - 1 bytes per
            // ACK while the application does not read). Capped at ceil(free / unit) units, the
            // edge stays below buffer end + one unit; the retraction this may cost is less than
            // one unit, which §2.4 expects ("the TCP will have to either advertise a new window
            // that is beyond what it previously advertised (and perhaps beyond the buffer) or
            // ... a smaller window") and which the receiver absorbs by honouring segments up to
            // the largest edge it ever advertised (rcv_adv_, §2.4 items 1 and 2).
            shift = rcv_wscale_;
            const std::uint32_t unit_less = (1U << shift) - 1U;
            field = bytes >> shift;
            if ((field << shift) < rcv_wnd()) {
                const auto free_units = static_cast<std::uint32_t>(
                    (std::min<std::size_t>(rcv_space(), max_offer()) + unit_less) >> shift);
                field = std::max(field, std::min((rcv_wnd() + unit_less) >> shift, free_units));
            }
            field = std::min<std::uint32_t>(field, 65535);
        }
        seg.window = static_cast<std::uint16_t>(field);
        if (state_ != TcpState::syn_sent) {
            const SeqNum edge = rcv_nxt_ + (field << shift);
            if (edge > rcv_adv_)
                rcv_adv_ = edge;
        }
        last_adv_window_ = seg.window;
        if (!seg.has(tcp_flag::syn))
            add_options(seg, now);
    }
    if (seg.has(tcp_flag::ack)) {
        ack_pending_ = false;
        dup_ack_owed_ = false;
        segs_since_ack_ = 0;
        run_open_ = false;          // the next segment starts a run of its own
        last_ack_sent_ = rcv_nxt_;  // RFC 7323 §4.3 Last.ACK.sent
        disarm(Timer::delayed_ack);
    }
}

void Connection::emit(SegmentSink& out, Segment& seg, Instant now) {
    stamp(seg, now);
    stats_.segs_out++;
    stats_.bytes_out += seg.payload.size();
    out.emit(seg);
}

bool Connection::seal_pending_ack(Instant now) {
    if (!ack_pending_)
        return false;
    if (queued_acks_.size() >= kMaxQueuedAcks) {
        stats_.batch_acks_merged++;
        return false;
    }
    // Stamped now, as if it went now: its window is the one offered at this point (rcv_adv_
    // records it), its TSecr the TS.Recent of the segments it acknowledges, its SACK blocks
    // the ones this moment reports (the first: the latest out-of-order arrival, RFC 2018 §4).
    Segment s = make_segment(snd_max_, tcp_flag::ack);
    stamp(s, now);
    QueuedAck q;
    q.ack = s.ack;
    if (s.options.timestamps) {
        q.tsval = s.options.timestamps->tsval;
        q.tsecr = s.options.timestamps->tsecr;
    }
    q.window = s.window;
    q.sack_count = s.options.sack_count;
    q.sack = s.options.sack;
    queued_acks_.push_back(q);
    return true;
}

void Connection::send_queued_acks(SegmentSink& out, Instant now) {
    // A duplicate ACK still owed goes pure too: on a data segment it would not count as one
    // (RFC 5681 §2 (b), RFC 6675 §2), and the sender's loss detection needs the count. (With
    // the queue full it goes last, as any owed ACK.)
    if (dup_ack_owed_ && queued_acks_.size() < kMaxQueuedAcks)
        (void)seal_pending_ack(now);
    for (const QueuedAck& q : queued_acks_) {
        // <SEQ=SND.NXT><ACK=...>: nothing was sent since it was stamped, so SND.MAX is its
        // sequence number still.
        Segment s = make_segment(snd_max_, tcp_flag::ack);
        s.ack = q.ack;
        s.window = q.window;
        if (ts_ok_)
            s.options.timestamps = Timestamps{q.tsval, q.tsecr};
        s.options.sack_count = q.sack_count;
        s.options.sack = q.sack;
        stats_.segs_out++;
        out.emit(s);
    }
    queued_acks_.clear();
    if (!takes_text() && queued_acks_.capacity() > 0)
        queued_acks_ = {};  // no batch will need it again
}

void Connection::send_rst(SegmentSink& out, SeqNum seq, bool with_ack, SeqNum ack, Instant now) {
    Segment s = make_segment(seq, tcp_flag::rst);
    if (with_ack) {
        s.flags |= tcp_flag::ack;
        s.ack = ack;
    }
    s.window = 0;
    emit(out, s, now);
}

void Connection::send_syn(SegmentSink& out, Instant now) {
    const bool syn_ack = state_ == TcpState::syn_received;
    // Our SYN occupies ISS; it has been sent before if SND.MAX is already past it (a timeout, the
    // peer's retransmitted SYN, or the SYN,ACK of a simultaneous open re-sending our SYN).
    const bool first_transmission = snd_max_ == iss_;
    Segment s = make_segment(iss_, syn_ack ? (tcp_flag::syn | tcp_flag::ack) : tcp_flag::syn);
    // RFC 7323 §2.2 / §3.2, RFC 2018 §2, DESIGN.md §3 / §3b: offer on the SYN what is
    // configured; answer on the SYN,ACK only what the SYN offered (the *_ok_ flags were set
    // from it).
    const SynOptionSet set =
        syn_ack ? SynOptionSet{wscale_ok_, ts_ok_, sack_ok_, disc_ok_, msg_ok_} : syn_offer(cfg_);
    Timestamps ts{};
    if (set.timestamps)
        ts = Timestamps{next_tsval(now), syn_ack ? ts_recent_ : 0U};
    // DESIGN.md §3c: the offer (echo) carries our caller (callee) data, the same bytes on every
    // transmission.
    s.options = syn_options(set, cfg_.mss, wscale_offer_, ts, conn_data_out_);
    syn_options_sent_ = true;  // RFC 7323 §2.2: the shift is fixed from now on
    if (first_transmission && set.disconnect && conn_data_out_.len > 0)
        stats_.connect_data_sent++;
    if (!first_transmission) {
        stats_.retransmits++;
        stats_.syn_retransmits++;
        // Karn (RFC 6298 §3): an ACK of ISS+1 could now be for either copy -- no RTT sample.
        rtt_seq_.reset();
    }
    emit(out, s, now);
    snd_nxt_ = iss_ + 1;
    snd_max_ = seq_max(snd_max_, snd_nxt_);
    if (first_transmission) {
        rtt_seq_ = iss_ + 1;
        rtt_start_ = now;
    }
    if (!armed(Timer::retransmit))
        restart_retransmit_timer(now);
}

bool Connection::sender_may_send(std::uint32_t len, std::uint32_t avail) const {
    // RFC 1122 §4.2.3.4: send (1) a full-sized segment, or (2) when everything queued fits and
    // nothing is unacknowledged -- Nagle (RFC 896) -- or always with TCP_NODELAY, or (3) at
    // least half the largest window the peer ever offered (sender SWS avoidance, Fs = 1/2).
    if (len >= snd_mss_)
        return true;
    const bool idle = snd_una_ == snd_max_;
    if (len == avail && (nodelay_ || idle || snd_shut_))
        return true;  // a FIN pushes the tail
    if (max_snd_wnd_ > 0 && len >= max_snd_wnd_ / 2)
        return true;
    // (4) The window, not the queue, limits us and nothing is in flight: no ACK will come to
    // reopen it, so send now (this stands in for RFC 1122's override timeout).
    return idle && len < avail;
}

std::uint32_t Connection::window_room(SeqNum seq) const {
    // RFC 9293 §3.3.1: the send window is the sequence numbers SND.UNA .. SND.UNA + SND.WND - 1.
    // Our FIN occupies one of them (§3.3.1: it "is considered to occur after the last actual
    // data octet") and counts like a data octet here: a receiver trims "any portions that lie
    // outside the window (including SYN and FIN)" (§3.10.7.4, first check; process_text does),
    // so a FIN past the right edge is lost and costs a retransmission timeout. Linux's sender
    // agrees (tcp_snd_wnd_test compares end_seq, the FIN included, with the window's end).
    // Retransmissions too: after the window shrank, §3.8.6 says to "retransmit normally the old
    // unacknowledged data between SND.UNA and SND.UNA+SND.WND" (SHLD-16); its MAY-7 (old data
    // beyond the edge) is not taken.
    const SeqNum edge = snd_una_ + snd_wnd_;
    return seq < edge ? static_cast<std::uint32_t>(edge - seq) : 0U;
}

std::uint32_t Connection::send_one(SegmentSink& out, SeqNum seq, std::uint32_t room, Instant now) {
    // The peer's window bounds every segment, whatever limit the caller had in mind (cwnd, one
    // SMSS, a hole, the probe's length).
    room = std::min(room, window_room(seq));
    const SeqNum end = data_end();
    std::uint32_t len = 0;
    bool fin = false;
    if (seq < end) {
        const auto avail = static_cast<std::uint32_t>(end - seq);
        len = std::min({avail, std::uint32_t{snd_mss_}, room});
        if (len == 0)
            return 0;  // window closed: the persist timer takes over
        // Our FIN rides on the last data segment when it fits in the window.
        fin = snd_shut_ && len == avail && room > len;
    } else if (snd_shut_ && seq == end && (!fin_sent_ || seq == fin_seq_)) {
        if (room == 0)
            return 0;
        fin = true;
    } else {
        return 0;
    }

    const bool retransmission = seq < snd_max_;
    const auto inflight_before = static_cast<std::uint32_t>(snd_max_ - snd_una_);
    std::uint8_t flags = tcp_flag::ack;
    if (len > 0 && seq + len == end)
        flags |= tcp_flag::psh;
    if (fin)
        flags |= tcp_flag::fin;
    Segment s = make_segment(seq, flags);
    // Scratch for a payload that wraps around the ring (one copy; the common case borrows).
    std::vector<std::byte> scratch;
    if (len > 0) {
        const auto parts = send_buf_.peek_spans(static_cast<std::size_t>(seq - send_front_), len);
        if (parts[1].empty()) {
            s.payload = parts[0];
        } else {
            scratch.assign(parts[0].begin(), parts[0].end());
            scratch.insert(scratch.end(), parts[1].begin(), parts[1].end());
            s.payload = scratch;
        }
    }
    if (fin) {
        fin_sent_ = true;
        fin_seq_ = seq + len;
        // DESIGN.md §3: every transmission of the FIN carries the same option bytes.
        s.options.disconnect = disc_out_;
    }
    if (retransmission) {
        stats_.retransmits++;
        stats_.bytes_retransmitted += len;
        if (rtt_seq_ && *rtt_seq_ > seq)
            rtt_seq_.reset();  // Karn
    }
    emit(out, s, now);
    const std::uint32_t used = len + (fin ? 1U : 0U);
    const SeqNum next = seq + used;
    if (rate_)
        rate_->on_send(seq, next, inflight_before, now);
    if (next > snd_max_) {
        snd_max_ = next;
        if (!rtt_seq_ && !retransmission) {
            rtt_seq_ = next;
            rtt_start_ = now;
        }
    }
    if (!armed(Timer::retransmit))
        restart_retransmit_timer(now);
    // RFC 8985 §7.2: after new data; in recovery after every transmission (see
    // arm_tail_loss_probe), so a recovery whose ACK clock stops is probed, not timed out.
    if (!retransmission || in_fast_recovery_)
        arm_tail_loss_probe(now);
    return used;
}

bool Connection::send_data(SegmentSink& out, Instant now, unsigned max_segments) {
    bool sent_any = false;
    unsigned segments = 0;
    while (segments < max_segments) {
        const SeqNum end = data_end();
        // The usable window: min(SND.WND, cwnd) from SND.UNA (RFC 5681 §2, RFC 9293 §3.8.6).
        // RFC 3042 limited transmit: on the first and second duplicate ACK, up to that many more
        // segments of new data may go beyond cwnd (never beyond the receiver's window).
        std::uint32_t cw = cwnd();
        const bool limited = cfg_.limited_transmit && !in_fast_recovery_ && dup_acks_ > 0 &&
                             dup_acks_ < cfg_.dupthresh && snd_nxt_ == snd_max_;
        if (limited)
            cw += std::min(dup_acks_, 2U) * std::uint32_t{snd_mss_};
        const std::uint32_t limit = std::min(snd_wnd_, cw);
        const SeqNum wnd_end = snd_una_ + limit;
        const std::int32_t room_signed = wnd_end - snd_nxt_;
        const std::uint32_t room = room_signed > 0 ? static_cast<std::uint32_t>(room_signed) : 0U;
        // Nagle and sender SWS avoidance apply to new data only (a retransmission goes as it is).
        if (snd_nxt_ >= snd_max_ && snd_nxt_ < end) {
            const auto avail = static_cast<std::uint32_t>(end - snd_nxt_);
            const std::uint32_t len = std::min({avail, std::uint32_t{snd_mss_}, room});
            if (len == 0 || !sender_may_send(len, avail))
                break;
        }
        const std::uint32_t used = send_one(out, snd_nxt_, room, now);
        if (used == 0)
            break;
        if (limited && snd_nxt_ + used > snd_una_ + std::min(snd_wnd_, cwnd())) {
            stats_.limited_transmits++;
        }
        snd_nxt_ = snd_nxt_ + used;
        sent_any = true;
        ++segments;
        if (fin_sent_ && snd_nxt_ == fin_seq_ + 1)
            break;
    }
    return sent_any;
}

void Connection::poll_transmit(Instant now, SegmentSink& out) {
    if (rst_pending_) {
        rst_pending_ = false;
        send_rst(out, rst_seq_, rst_has_ack_, rst_ack_, now);
    }
    switch (state_) {
        case TcpState::closed:
        case TcpState::listen: return;
        case TcpState::syn_sent:
            if (syn_pending_) {
                syn_pending_ = false;
                send_syn(out, now);
            }
            return;
        case TcpState::syn_received:
            if (syn_pending_) {
                syn_pending_ = false;
                send_syn(out, now);
            } else if (ack_pending_) {
                Segment s = make_segment(snd_nxt_, tcp_flag::ack);
                emit(out, s, now);
            }
            return;
        default: break;
    }
    send_queued_acks(out, now);

    if (tlp_pending_) {
        // RFC 8985 §7.3: the probe. cwnd is not touched; the RTO is restarted for what the
        // probe does not repair. Without a hole below it, the last segment sent, again (the
        // RFC's alternative to new data; a receiver that has everything answers with a
        // D-SACK and the cumulative ACK). With one -- SACKed data above SND.UNA, or recovery
        // under way -- the segment at SND.UNA: the oldest data the receiver is known to miss,
        // or whose ACK was lost (then the D-SACK it draws carries the cumulative ACK).
        tlp_pending_ = false;
        if (snd_una_ != snd_max_ && !tlp_outstanding_ && state_ != TcpState::closed) {
            tlp_outstanding_ = true;  // first: sending must not arm the next probe
            std::uint32_t sent = 0;
            if (in_fast_recovery_ || !scoreboard_.empty()) {
                sent = send_one(out, snd_una_, snd_mss_ + 1U, now);
                note_recovery_retransmission(snd_una_, sent);
            } else {
                // The last segment: up to one SMSS of data before SND.MAX, and our FIN again if
                // it was sent (it rides on that data). The room is exactly that: any more would
                // add unsent octets to the probe.
                const SeqNum data_to = fin_sent_ ? fin_seq_ : snd_max_;
                const std::uint32_t len = std::min<std::uint32_t>(
                    static_cast<std::uint32_t>(seq_max(data_to, snd_una_) - snd_una_), snd_mss_);
                sent = send_one(out, data_to - len, len + (fin_sent_ ? 1U : 0U), now);
            }
            if (sent > 0) {
                stats_.tail_loss_probes++;
                restart_retransmit_timer(now);
            } else {
                tlp_outstanding_ = false;
            }
        }
    }
    if (fast_retransmit_pending_) {
        // RFC 5681 §3.2 step 2 / RFC 6582: resend the first unacknowledged segment now, whatever
        // cwnd says -- but within the peer's window (send_one), which may have shrunk since.
        fast_retransmit_pending_ = false;
        if (snd_una_ != snd_max_) {
            // Exactly one segment at SND.UNA, outside the cwnd checks (room for one full
            // segment and a FIN riding on it).
            const std::uint32_t used = send_one(out, snd_una_, snd_mss_ + 1U, now);
            if (snd_nxt_ < snd_una_ + used)
                snd_nxt_ = snd_una_ + used;
            restart_retransmit_timer(now);
            // RFC 6675 §5 step 4.3: that was the first NextSeg; HighRxt moves past what went.
            if (sack_ok_)
                high_rxt_ = seq_max(high_rxt_, seq_min(snd_una_ + used, snd_max_));
            note_recovery_retransmission(snd_una_, used);
        }
    }

    if (in_fast_recovery_ && sack_ok_ && cc_) {
        send_sack_recovery(out, now);
    } else {
        (void)send_data(out, now);
        // draft-cheng-iccrg-delivery-rate-estimation §3.4: everything queued is out and cwnd
        // had room -- the application, not the network, limits the rate now.
        if (rate_ && data_end() == snd_max_ && snd_nxt_ == snd_max_ && !rto_recovery_ &&
            flight_size() < cwnd()) {
            rate_->mark_app_limited(flight_size());
        }
    }

    if (probe_pending_) {
        // Zero-window probe: an ACK with an old sequence number makes the peer answer with its
        // current window (RFC 9293 §3.8.6.1 allows any probe; this one sends no data).
        probe_pending_ = false;
        Segment s = make_segment(snd_una_ - 1, tcp_flag::ack);
        emit(out, s, now);
    }

    // Arm the persist timer when the peer's window is closed, something waits to be sent (new
    // data, our FIN, or what was in flight when the window shrank to zero -- snd_nxt_ pulled
    // back), and no retransmission timer covers data in flight.
    const bool waiting = data_end() > snd_nxt_ || (snd_shut_ && !fin_sent_) || snd_nxt_ != snd_max_;
    if (snd_wnd_ == 0 && waiting && !armed(Timer::retransmit) && !armed(Timer::persist)) {
        if (persist_backoff_ == Duration{0})
            persist_backoff_ = rtt_.rto();
        arm(Timer::persist, now + persist_backoff_);
    }

    if (ack_pending_) {
        // <SEQ=SND.NXT><ACK=RCV.NXT>: the RFC's SND.NXT is our snd_max_ (snd_nxt_ may have been
        // pulled back for retransmission). An ACK carrying an older sequence number would be
        // unacceptable to the peer, which would then drop the ACK information in it.
        Segment s = make_segment(snd_max_, tcp_flag::ack);
        emit(out, s, now);
    }
}

}  // namespace ustack
