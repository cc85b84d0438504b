// Connection: segment arrival, RFC 9293 §3.10.7 ("SEGMENT ARRIVES"), hardened per RFC 5961.
//
// The steps keep the RFC's numbering: first the sequence number, second RST, fourth SYN, fifth
// ACK, seventh segment text, eighth FIN (third, security, and sixth, URG, do not apply: urgent data
// is delivered inline as ordinary data, RFC 6093).
#include <algorithm>

#include "ustack/connection.hpp"
#include "ustack/syn_options.hpp"

namespace ustack {

namespace {
// Minimum spacing of ACKs sent in answer to unacceptable pure ACKs (Linux: 500 ms).
constexpr Duration kOutOfWindowAckInterval{500'000};
}  // namespace

void Connection::on_segment(const Segment& seg, Instant now) {
    stats_.segs_in++;
    note_cause(seg);
    seg_tsecr_.reset();
    if (ts_ok_ && seg.options.timestamps)
        seg_tsecr_ = seg.options.timestamps->tsecr;
    // RFC 1122 §4.2.3.6: anything from the peer shows it is alive; the idle period restarts.
    if (armed(Timer::keepalive))
        restart_keepalive(now);
    // DESIGN.md §3: the disconnect option only means something on SYN or FIN.
    if (seg.options.disconnect && !seg.has(tcp_flag::syn) && !seg.has(tcp_flag::fin)) {
        stats_.disc_option_ignored++;
    }
    // DESIGN.md §3b: the message-mode option only means something on a SYN.
    if (seg.options.message_mode && !seg.has(tcp_flag::syn))
        stats_.message_option_ignored++;
    switch (state_) {
        case TcpState::closed:
        case TcpState::listen: return;  // the Stack answers for these
        case TcpState::syn_sent: on_segment_syn_sent(seg, now); return;
        default: on_segment_synchronized(seg, now); return;
    }
}

// RFC 9293 §3.10.7.3: SYN-SENT.
void Connection::on_segment_syn_sent(const Segment& seg, Instant now) {
    // First, check the ACK bit: SEG.ACK must acknowledge our SYN and nothing we never sent.
    if (seg.has(tcp_flag::ack) && (seg.ack <= iss_ || seg.ack > snd_max_)) {
        stats_.dropped_bad_ack++;
        if (!seg.has(tcp_flag::rst)) {
            // <SEQ=SEG.ACK><CTL=RST>
            rst_pending_ = true;
            rst_seq_ = seg.ack;
            rst_has_ack_ = false;
            stats_.rst_sent++;
        }
        return;
    }
    // Second, the RST bit: acceptable only if it acknowledges our SYN (RFC 5961 §3 / §3.5.3).
    if (seg.has(tcp_flag::rst)) {
        if (seg.has(tcp_flag::ack)) {
            stats_.rst_received++;
            enter_closed(CloseReason::refused);  // "error: connection reset" -> refused
        } else {
            stats_.rst_ignored++;
        }
        return;
    }
    // Fourth, the SYN bit.
    if (!seg.has(tcp_flag::syn))
        return;
    // DESIGN.md §3b: a message-mode connect goes on only if the peer's SYN-ACK (or, in a
    // simultaneous open, its SYN) carries the message-mode option. Refused: reset the half-open
    // connection -- for the (acceptable) SYN-ACK <SEQ=SEG.ACK><CTL=RST>, RFC 9293 §3.10.7.3's
    // reset shape: SEG.ACK = ISS+1 is the peer's RCV.NXT, an exact match in SYN-RECEIVED (RFC
    // 5961 §3); for a SYN <SEQ=SND.NXT><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, which a peer in
    // SYN-SENT (its SYN acknowledged) and in SYN-RECEIVED (our SYN received) both accept.
    // DESIGN.md §3c: likewise a SYN that carried caller data whose answer does not echo the
    // option -- the data was not delivered (a peer without the extension, Linux), and nothing
    // may pretend it was. (A plain offer, N = 0, without echo is plain TCP as ever.)
    const bool msg_refused = syn_refused(cfg_, seg.options);
    const bool data_refused = conn_data_out_.len > 0 && !seg.options.disconnect;
    if (msg_refused || data_refused) {
        rst_pending_ = true;
        rst_has_ack_ = !seg.has(tcp_flag::ack);
        rst_seq_ = seg.has(tcp_flag::ack) ? seg.ack : snd_nxt_;
        rst_ack_ = seg.seq + seg.seg_len();
        stats_.rst_sent++;
        if (msg_refused) {
            stats_.message_mode_refused++;
            enter_closed(CloseReason::refused);
        } else {
            stats_.connect_data_refused++;
            enter_closed(CloseReason::connect_data_refused);
        }
        return;
    }
    irs_ = seg.seq;
    rcv_nxt_ = seg.seq + 1;
    // The window our SYN advertised starts at RCV.NXT now that it is known: data on the SYN,ACK
    // is inside it (without this it would be trimmed to a zero window and dropped).
    rcv_adv_ = rcv_nxt_ + last_adv_window_;
    accept_options_on_syn(seg, now);
    snd_wnd_ = seg.window;  // RFC 7323 §2.2: never scaled on a SYN
    max_snd_wnd_ = snd_wnd_;
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (seg.has(tcp_flag::ack)) {
        // Our SYN is acknowledged: ESTABLISHED, ACK the SYN.
        on_handshake_acked();
        on_new_ack(seg.ack, now);
        enter(TcpState::established, now);
        ack_pending_ = true;
        if (!seg.payload.empty() || seg.has(tcp_flag::fin)) {
            // Data or FIN on the SYN-ACK: "continue processing at the sixth step".
            Segment rest = seg;
            rest.seq = seg.seq + 1;
            rest.flags = static_cast<std::uint8_t>(rest.flags & ~tcp_flag::syn);
            process_text(rest, now);
        }
        // SYN-RECEIVED's deferred close does not apply here; a close in SYN-SENT deletes the TCB.
        if (snd_shut_)
            set_state(TcpState::fin_wait_1);
    } else {
        // Simultaneous open (RFC 9293 §3.5, Figure 8): SYN-RECEIVED, send SYN,ACK
        // <SEQ=ISS><ACK=RCV.NXT>. Data on the SYN is not kept (the peer resends it). (The
        // SYN,ACK re-sends our SYN, so send_syn drops the RTT measurement: Karn.)
        enter(TcpState::syn_received, now);
        syn_pending_ = true;
        retries_ = 0;
        disarm(Timer::retransmit);
    }
}

// RFC 9293 §3.10.7.4: every other state.
void Connection::on_segment_synchronized(const Segment& seg, Instant now) {
    // A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost; send it again.
    if (state_ == TcpState::syn_received && seg.has(tcp_flag::syn) && !seg.has(tcp_flag::ack) &&
        !seg.has(tcp_flag::rst) && seg.seq == irs_) {
        syn_pending_ = true;
        return;
    }
    // Simultaneous open, RFC 9293 §3.5 Figure 8 line 6: the peer's SYN,ACK <SEQ=IRS><ACK=ISS+1>
    // reaches us in SYN-RECEIVED and must take us to ESTABLISHED. Its SYN lies just before
    // RCV.NXT, so the strict acceptability test would drop the segment and both ends would wait
    // for a retransmission. The SYN is the one we already have: strip it (and its sequence
    // number) and process the rest -- the ACK of our SYN -- normally. (Linux does the same.)
    if (state_ == TcpState::syn_received && seg.has(tcp_flag::syn) && seg.has(tcp_flag::ack) &&
        !seg.has(tcp_flag::rst) && seg.seq == irs_) {
        Segment rest = seg;
        rest.flags = static_cast<std::uint8_t>(rest.flags & ~tcp_flag::syn);
        rest.seq = seg.seq + 1;
        on_segment_synchronized(rest, now);
        return;
    }
    // RFC 7323 §5.3 R1 (PAWS) comes before the acceptability test.
    if (paws_reject(seg, now))
        return;
    if (!check_sequence(seg, now))
        return;
    // TS.Recent (RFC 7323 §5.3 R3 / §4.3) is updated in check_ack, once the ACK is acceptable:
    // a segment that is dropped must not move it (see there).
    if (seg.has(tcp_flag::rst)) {
        (void)check_rst(seg, now);
        return;
    }
    if (seg.has(tcp_flag::syn)) {
        (void)check_syn(seg, now);
        return;
    }
    if (!seg.has(tcp_flag::ack))
        return;  // fifth: "if the ACK bit is off, drop the segment"
    // RFC 5681 §4.2 inside a batch: an ACK still owed to earlier segments goes as it stands
    // before this one -- which brings sequence space not yet received, into an open window, and
    // does not continue a run of the batch above a hole (queued_acks_) -- changes what it would
    // say. Before the
    // fifth step, so that TS.Recent is still the one it echoes. (Segments that bring nothing,
    // probes of a closed window among them, merge into the owed ACK: two identical ACKs would
    // read as a duplicate ACK.)
    const bool continues_run = run_open_ && seg.seq == run_end_ && sack_ok_ &&
                               (seg.seq != rcv_nxt_ || !reassembly_.empty());
    if (ack_pending_ && !continues_run && takes_text() && seg.seg_len() > 0 &&
        seg.seq + seg.seg_len() > rcv_nxt_ && rcv_wnd() > 0 && seal_pending_ack(now)) {
        stats_.batch_acks++;
    }
    if (!check_ack(seg, now))
        return;
    process_text(seg, now);
}

// First: is the segment acceptable (RFC 9293 §3.10.7.4, the four-case table)?
bool Connection::check_sequence(const Segment& seg, Instant now) {
    const std::uint32_t wnd = rcv_wnd();
    const std::uint32_t len = seg.seg_len();
    bool ok = false;
    if (len == 0) {
        ok = wnd == 0 ? seg.seq == rcv_nxt_ : seg.seq.in_window(rcv_nxt_, wnd);
    } else if (wnd == 0) {
        // "special allowance should be made to accept valid ACKs, URGs, and RSTs": a segment at
        // RCV.NXT is processed for its control information; its text is trimmed to nothing.
        // Like Linux, a FIN without data at RCV.NXT is accepted too (it needs no buffer space).
        ok = seg.seq == rcv_nxt_;
    } else {
        ok = seg.seq.in_window(rcv_nxt_, wnd) || (seg.seq + (len - 1)).in_window(rcv_nxt_, wnd);
    }
    if (ok)
        return true;

    if (seg.has(tcp_flag::rst)) {
        stats_.rst_ignored++;  // RFC 5961 §3.2: out-of-window RST is silently dropped
        return false;
    }
    stats_.dropped_unacceptable++;
    if (seg.has(tcp_flag::syn) && state_ != TcpState::syn_received) {
        // RFC 5961 §4.2 / RFC 9293 fourth step: a SYN in a synchronized state is answered with a
        // challenge ACK "irrespective of the sequence number" -- and challenge ACKs are
        // rate-limited (RFC 5961 §7), so a flood of out-of-window SYNs cannot bypass the limit.
        queue_challenge_ack(now);
        return false;
    }
    if (state_ == TcpState::time_wait && seg.has(tcp_flag::fin) &&
        seg.seq + (len - 1) == rcv_nxt_ - 1) {
        // RFC 9293 §3.10.7.4 (eighth, TIME-WAIT): the peer's FIN again -- our ACK was lost.
        // Acknowledge it and restart the 2 MSL timeout.
        arm(Timer::time_wait, now + 2 * cfg_.msl);
    }
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. An unacceptable segment with no text and no SYN/FIN
    // is answered at most once per kOutOfWindowAckInterval, so two ends that disagree can never
    // ping-pong ACKs forever (Linux's tcp_invalid_ratelimit does the same).
    if (seg.payload.empty() && !seg.has(tcp_flag::syn) && !seg.has(tcp_flag::fin)) {
        if (oow_ack_at_ && now - *oow_ack_at_ < kOutOfWindowAckInterval)
            return false;
        oow_ack_at_ = now;
    }
    ack_pending_ = true;
    return false;
}

// Second: the RST bit (RFC 5961 §3.2, RFC 9293 §3.10.7.4). The sequence number is in the window.
bool Connection::check_rst(const Segment& seg, Instant now) {
    if (state_ == TcpState::time_wait) {
        // RFC 1337 (F1): ignore RST in TIME-WAIT; the state must not be cut short.
        stats_.rst_ignored++;
        return false;
    }
    if (seg.seq != rcv_nxt_) {
        // In the window but not exact: challenge ACK, drop.
        queue_challenge_ack(now);
        return false;
    }
    stats_.rst_received++;
    if (state_ == TcpState::syn_received) {
        // Passive open: "return this connection to LISTEN" (the Stack forgets it). Active
        // (simultaneous) open: "the connection was refused".
        enter_closed(passive_ ? CloseReason::reset : CloseReason::refused);
        return true;
    }
    // ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT: "connection reset"; CLOSING, LAST-ACK: delete TCB.
    enter_closed(CloseReason::reset);
    return true;
}

// Fourth: the SYN bit, in a synchronized state (or SYN-RECEIVED).
bool Connection::check_syn(const Segment& seg, Instant now) {
    (void)seg;
    if (state_ == TcpState::syn_received && passive_) {
        // RFC 9293 §3.10.7.4 fourth: a passively opened connection "returns to LISTEN".
        enter_closed(CloseReason::reset);
        return true;
    }
    // RFC 5961 §4 / RFC 9293: "irrespective of the sequence number ... send a challenge ACK".
    queue_challenge_ack(now);
    return false;
}

// Fifth: the ACK field. Returns false if the segment is to be dropped.
bool Connection::check_ack(const Segment& seg, Instant now) {
    if (state_ == TcpState::syn_received) {
        // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED ... else <SEQ=SEG.ACK><CTL=RST>"
        if (!(snd_una_ < seg.ack && seg.ack <= snd_max_)) {
            stats_.dropped_bad_ack++;
            rst_pending_ = true;
            rst_seq_ = seg.ack;
            rst_has_ack_ = false;
            stats_.rst_sent++;
            return false;
        }
        update_ts_recent(seg, now);
        snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_wscale_;  // RFC 7323 §2.3
        max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
        snd_wl1_ = seg.seq;
        snd_wl2_ = seg.ack;
        on_handshake_acked();
        on_new_ack(seg.ack, now);
        enter(TcpState::established, now);
        if (snd_shut_)
            set_state(TcpState::fin_wait_1);  // the CLOSE queued in SYN-RECEIVED
        return true;
    }

    // RFC 5961 §5: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]; others are dropped
    // with an ACK. (We compare against the highest sequence number sent.) That ACK is rate-limited
    // like a challenge ACK (RFC 5961 §7, counted with them): answered one for one, a flood of
    // spoofed in-window segments acknowledging unsent data (RFC 9293 §3.10.7.4 "send an ACK,
    // drop the segment") would turn us into an ACK reflector. Linux does the same ("tcp: send a
    // challenge ACK on SEG.ACK > SND.NXT", through tcp_send_challenge_ack's rate limit).
    const SeqNum lowest = snd_una_ - max_snd_wnd_;
    if (seg.ack > snd_max_ || seg.ack < lowest) {
        stats_.dropped_bad_ack++;
        queue_challenge_ack(now);
        return false;
    }
    // RFC 7323 §4.3 (2) / §5.3 R3, only now that the segment is acceptable in sequence *and*
    // ACK: updated before the ACK test, a segment with an in-window SEQ, a huge TSval and an
    // unacceptable ACK (which is dropped) would raise TS.Recent, and PAWS (§5.3 R1) would then
    // drop every genuine segment. The rule is meant for segments the connection accepts (the
    // echo then dates the data being acknowledged); Linux likewise replaces ts_recent in tcp_ack()
    // only after the ACK is validated (FLAG_UPDATE_TS_RECENT, "tcp: fix ts_recent update").
    update_ts_recent(seg, now);

    const bool fin_was_acked = fin_sent_ && snd_una_ == fin_seq_ + 1;
    const std::uint32_t seg_wnd = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
    const SeqNum una_before = snd_una_;
    const std::uint32_t sacked_before = rate_ ? sacked_bytes() : 0U;
    if (snd_una_ < seg.ack) {
        on_new_ack(seg.ack, now);
        (void)update_scoreboard(seg);
        if (in_fast_recovery_ && sack_ok_)
            on_sack_recovery_ack(now);
    } else {
        // RFC 2018 / RFC 6675 §2: an ACK that does not move SND.UNA may still SACK new data.
        const bool sack_news = update_scoreboard(seg);
        // RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT": (a) data outstanding, (b) no data, (c) SYN
        // and FIN off (a SYN never gets here), (d) SEG.ACK = SND.UNA, (e) the same window as the
        // last ACK. Counted for TCP_INFO as defined there; what triggers loss recovery below
        // adds RFC 6675's SACK rule and leaves out zero windows.
        if (snd_una_ != snd_max_ && seg.payload.empty() && !seg.has(tcp_flag::fin) &&
            seg.ack == snd_una_ && seg_wnd == snd_wnd_) {
            stats_.dup_acks_in++;
        }
        if (seg.ack == snd_una_ && seg.payload.empty() && !seg.has(tcp_flag::fin) &&
            seg.window != 0 && snd_una_ != snd_max_ && (seg_wnd == snd_wnd_ || sack_news)) {
            // RFC 5681 §2 duplicate ACK (RFC 6675 §2: with SACK, one that reports new blocks).
            // Not with a zero window: those are answers to our window probes, not loss signals,
            // and a fast retransmission would push data into the closed window.
            on_duplicate_ack(seg, sack_news, now);
        }
        // New SACK information in recovery may show a retransmission lost.
        if (sack_news && in_fast_recovery_ && sack_ok_)
            on_sack_recovery_ack(now);
        if (sack_news) {
            // Feedback arrived: a probe sent is answered, and the next one waits for silence
            // from now on (arm_tail_loss_probe: TLP also covers holes and recovery).
            tlp_outstanding_ = false;
            arm_tail_loss_probe(now);
        }
    }
    if (rate_ && cc_)
        on_delivery(una_before, sacked_before, now);

    // Window update (RFC 9293 §3.10.7.4 fifth): "If SND.UNA =< SEG.ACK =< SND.NXT" (SND.UNA as it
    // was before this ACK, so SEG.ACK >= the updated snd_una_ is the same test), and only from a
    // segment newer than the last update. A window that comes with an older ACK is relative to
    // that ACK and would overstate what the peer offers.
    if (seg.ack >= snd_una_ &&
        (snd_wl1_ < seg.seq || (snd_wl1_ == seg.seq && snd_wl2_ <= seg.ack))) {
        snd_wnd_ = seg_wnd;
        max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
        snd_wl1_ = seg.seq;
        snd_wl2_ = seg.ack;
        if (snd_wnd_ > 0 && armed(Timer::persist)) {
            disarm(Timer::persist);
            persist_backoff_ = Duration{0};
            // The window reopened: the user timeout run for the persist state stops (with
            // nothing in flight; the data now sent starts it again, restart_retransmit_timer).
            if (snd_una_ == snd_max_)
                disarm(Timer::user_timeout);
        }
        if (snd_wnd_ == 0 && snd_una_ != snd_max_) {
            // The window shrank to zero under data in flight (RFC 9293 §3.8.6.2.2). That data lies
            // beyond the window, so the peer dropped it; resending it on the RTO would be refused
            // over and over and end in timed_out although the peer is alive. MUST-35: "If the
            // window shrinks to zero, the TCP implementation MUST probe it in the standard way";
            // SHLD-17: do not time out over it. So pull SND.NXT back to SND.UNA and let the
            // persist timer (armed by poll_transmit) probe; the data goes again when it opens.
            snd_nxt_ = snd_una_;
            disarm(Timer::retransmit);
            retries_ = 0;
            rtt_seq_.reset();  // Karn: that data will be sent again
        }
    }

    const bool fin_acked = fin_sent_ && snd_una_ == fin_seq_ + 1;
    switch (state_) {
        case TcpState::fin_wait_1:
            if (fin_acked)
                set_state(TcpState::fin_wait_2);
            break;
        case TcpState::closing:
            if (fin_acked) {
                enter_time_wait(now);
            }
            return false;  // nothing more to take from the segment (the FIN came earlier)
        case TcpState::last_ack:
            if (fin_acked && !fin_was_acked) {
                enter_closed(CloseReason::graceful);
                return false;
            }
            return false;
        default: break;
    }
    return true;
}

void Connection::on_new_ack(SeqNum ack, Instant now) {
    const std::uint32_t acked = static_cast<std::uint32_t>(ack - snd_una_);
    const std::uint32_t flight_before = flight_size();
    // Release acknowledged data from the send buffer (SYN and FIN occupy no buffer bytes).
    const SeqNum data_acked_to = seq_min(ack, data_end());
    if (data_acked_to > send_front_) {
        const auto n = static_cast<std::uint32_t>(data_acked_to - send_front_);
        send_buf_.consume(n);
        send_front_ += n;
        if (send_buf_.capacity() > snd_buf_size_ && send_buf_.size() <= snd_buf_size_) {
            send_buf_.resize(snd_buf_size_);  // a lowered send buffer size, now met
        }
        if (!snd_shut_)
            push_event(EventKind::writable);
    }
    snd_una_ = ack;
    if (snd_nxt_ < snd_una_)
        snd_nxt_ = snd_una_;

    if (rtt_seq_ && ack >= *rtt_seq_) {
        // RTT sample (RFC 6298 §3) from the one segment timed per flight, on the microsecond
        // clock of `now`, never from a retransmitted one (Karn). Preferred to the timestamp
        // echo also when timestamps are on: TSval ticks in milliseconds (RFC 7323 §5.4), which
        // on a path of 50 us rounds every sample to 0 or 1 ms -- SRTT came out 5-30 times the
        // real RTT, and with it the tail loss probe's timeout (as Linux, which times segments
        // with its own microsecond stamps, not with TSecr).
        rtt_.on_sample(now - rtt_start_);
        rtt_seq_.reset();
        ts_sample_seq_ = snd_max_;  // one sample per flight (RFC 7323 §4.2)
    } else if (ts_ok_ && seg_tsecr_) {
        // RFC 7323 §4.1 (RTTM): the echoed TSval dates the transmission the ACK answers, so
        // retransmissions are no ambiguity -- the sample for a flight whose timed segment was
        // retransmitted. One per flight (§4.2: more samples per RTT would shrink RTTVAR and
        // with it the RTO).
        if (ack >= ts_sample_seq_) {
            const std::uint32_t ms = tsval(now) - *seg_tsecr_;
            if (ms < 0x7fffffffU)
                rtt_.on_sample(Duration{std::int64_t{ms} * 1000});
            ts_sample_seq_ = snd_max_;
        } else if (rtt_.backoff_count() > 0) {
            // New data acknowledged after a retransmission timeout: the path works again, so
            // the backoff ends (as Linux does). Waiting for the next once-per-flight sample let
            // repeated losses double the RTO again and again (0.2 ... 12.8 s against Linux at
            // 2 % loss). No sample is taken here: the echo may date from before the timeout
            // and would inflate SRTT.
            rtt_.reset_backoff();
        }
    }
    retries_ = 0;
    // The peer made progress: the user timeout starts over (RFC 5482 §2).
    disarm(Timer::user_timeout);
    // RFC 6298 §5.2 / §5.3: stop the timer when everything is acknowledged, else restart it.
    tlp_outstanding_ = false;  // RFC 8985 §7: new data ACKed -- the probe (if any) is answered
    if (snd_una_ == snd_max_) {
        disarm(Timer::retransmit);
        disarm(Timer::tail_loss_probe);
    } else {
        restart_retransmit_timer(now);
        arm_tail_loss_probe(now);
    }

    on_ack_congestion(acked, flight_before, now);
    dup_acks_ = 0;
}

// Seventh and eighth: segment text, then FIN.
void Connection::process_text(const Segment& seg, Instant now) {
    switch (state_) {
        case TcpState::established:
        case TcpState::fin_wait_1:
        case TcpState::fin_wait_2: break;
        default:
            // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN came already; text is
            // ignored. A repeated FIN is acknowledged (TIME-WAIT restarts its timer).
            if (seg.has(tcp_flag::fin)) {
                ack_pending_ = true;
                if (state_ == TcpState::time_wait)
                    arm(Timer::time_wait, now + 2 * cfg_.msl);
            }
            return;
    }

    std::span<const std::byte> text = seg.payload;
    SeqNum seq = seg.seq;
    const SeqNum fin_seq = seg.seq + static_cast<std::uint32_t>(seg.payload.size());
    bool fin = seg.has(tcp_flag::fin);

    // Trim what we already have (before RCV.NXT) ...
    if (seq < rcv_nxt_) {
        const auto skip = static_cast<std::size_t>(rcv_nxt_ - seq);
        text = skip >= text.size() ? std::span<const std::byte>{} : text.subspan(skip);
        seq = rcv_nxt_;
    }
    // ... and what lies beyond the window (RFC 9293 §3.10.7.4 "trimmed to the window").
    const std::uint32_t wnd = rcv_wnd();
    const auto offset = static_cast<std::size_t>(seq - rcv_nxt_);
    if (offset + text.size() > wnd) {
        const std::size_t keep = offset >= wnd ? 0 : wnd - offset;
        text = text.first(std::min(keep, text.size()));
        fin = false;  // the FIN lies beyond the window
    }
    if (fin && fin_seq < rcv_nxt_)
        fin = false;  // an old FIN (already accepted)
    // With window scaling the advertised edge may exceed the free buffer by less than one
    // scaling unit (RFC 7323 §2.4 rounding): never record bytes the buffer cannot hold.
    if (offset + text.size() > recv_buf_.free()) {
        const std::size_t keep = offset >= recv_buf_.free() ? 0 : recv_buf_.free() - offset;
        text = text.first(std::min(keep, text.size()));
        fin = false;
    }

    if (!text.empty()) {
        run_open_ = true;  // the batch's run goes on from here (queued_acks_)
        run_end_ = seq + static_cast<std::uint32_t>(text.size());
        if (rcv_shut_) {
            // RFC 9293 SHLD-3 / RFC 2525 §2.17: data after the application stopped receiving.
            reset_connection(CloseReason::aborted);
            return;
        }
        if (offset == 0) {
            const std::size_t n = recv_buf_.write(text);
            const std::size_t more = reassembly_.advance(n);
            recv_buf_.commit(more);
            rcv_nxt_ += static_cast<std::uint32_t>(n + more);
            stats_.bytes_in += n + more;
            push_event(EventKind::readable);
            // RFC 5681 §4.2: ACK at once when a segment fills (part of) a gap.
            schedule_ack(more > 0 || !reassembly_.empty(), now, n);
        } else {
            // Out of order: keep it (bounded) and send a duplicate ACK at once (RFC 5681 §4.2).
            if (reassembly_.add(offset, text.size())) {
                (void)recv_buf_.write_at(offset, text);
                stats_.ooo_segments++;
                stats_.bytes_reordered += text.size();
                note_sack_arrival(seq);  // RFC 2018 §4: the first SACK block reports it
            } else {
                stats_.dropped_ooo_limit++;
            }
            ack_pending_ = true;
            dup_ack_owed_ = true;
        }
    } else if (seg.payload.size() > 0) {
        ack_pending_ = true;  // a duplicate: tell the peer where we are
    }

    if (fin) {
        if (fin_seq == rcv_nxt_) {
            // A copy of this FIN held out of order arrived first: its option is the one taken
            // (DESIGN.md §3, the first copy wins; a conforming peer sends the same bytes anyway).
            // (A copy: process_fin clears ooo_fin_disc_.)
            const bool held = ooo_fin_ && *ooo_fin_ == fin_seq;
            const std::optional<DisconnectData> disc =
                held ? ooo_fin_disc_ : seg.options.disconnect;
            process_fin(fin_seq, disc, now);
        } else if (fin_seq > rcv_nxt_) {
            // DESIGN.md §3: an out-of-order FIN keeps its option until the gap fills.
            if (!ooo_fin_) {
                ooo_fin_ = fin_seq;
                ooo_fin_disc_ = seg.options.disconnect;
            }
            ack_pending_ = true;
            dup_ack_owed_ = true;
        }
    }
    maybe_accept_pending_fin(now);
}

void Connection::maybe_accept_pending_fin(Instant now) {
    if (ooo_fin_ && *ooo_fin_ == rcv_nxt_ && !fin_received_) {
        const auto disc = ooo_fin_disc_;
        process_fin(*ooo_fin_, disc, now);
    }
}

void Connection::process_fin(SeqNum fin_seq, const std::optional<DisconnectData>& disc,
                             Instant now) {
    rcv_nxt_ = fin_seq + 1;
    fin_received_ = true;
    ooo_fin_.reset();
    ooo_fin_disc_.reset();
    if (disc) {
        if (disc_ok_) {
            if (!peer_disc_)
                peer_disc_ = disc;  // DESIGN.md §3: the first accepted copy wins
        } else {
            stats_.disc_option_ignored++;
        }
    }
    ack_pending_ = true;  // RFC 9293 §3.10.7.4 eighth: "send an acknowledgment for the FIN"
    push_event(EventKind::peer_fin);
    const bool fin_acked = fin_sent_ && snd_una_ == fin_seq_ + 1;
    switch (state_) {
        case TcpState::established: set_state(TcpState::close_wait); break;
        case TcpState::fin_wait_1:
            // "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT ...;
            // otherwise, enter the CLOSING state."
            if (fin_acked) {
                enter_time_wait(now);
            } else {
                set_state(TcpState::closing);
            }
            break;
        case TcpState::fin_wait_2: enter_time_wait(now); break;
        default: break;
    }
}

void Connection::queue_challenge_ack(Instant now) {
    // RFC 5961 §7: rate-limit challenge ACKs (at most challenge_ack_limit per second).
    if (now - challenge_window_start_ >= Duration{1'000'000}) {
        challenge_window_start_ = now;
        challenge_count_ = 0;
    }
    if (challenge_count_ < cfg_.challenge_ack_limit) {
        challenge_count_++;
        stats_.challenge_acks++;
        ack_pending_ = true;
    } else {
        stats_.challenge_acks_suppressed++;
    }
}

void Connection::schedule_ack(bool immediate, Instant now, std::size_t bytes) {
    // The receive MSS estimate: the largest segment seen, at most what we advertised. Segments
    // coalesced by the link (TUN offload: one 64 KB "segment" for many wire segments) count as
    // the wire segments they stand for.
    // Before any segment: RFC 9293 §3.7.1's default of 536, or our MSS if smaller.
    if (rcv_mss_ == 0)
        rcv_mss_ = static_cast<std::uint32_t>(std::min<std::size_t>(536, cfg_.mss));
    rcv_mss_ =
        std::max(rcv_mss_, static_cast<std::uint32_t>(std::min<std::size_t>(bytes, cfg_.mss)));
    if (immediate || !cfg_.delayed_ack) {
        ack_pending_ = true;
        return;
    }
    // RFC 1122 §4.2.3.2 / RFC 5681 §4.2: ACK at least every second full-sized segment, and
    // within the delayed-ACK timeout.
    segs_since_ack_ += std::max<std::size_t>(1, (bytes + rcv_mss_ - 1) / rcv_mss_);
    if (segs_since_ack_ >= 2) {
        ack_pending_ = true;
    } else if (!armed(Timer::delayed_ack)) {
        arm(Timer::delayed_ack, now + cfg_.delayed_ack_timeout);
    }
}

}  // namespace ustack
