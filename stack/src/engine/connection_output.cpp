// Connection: what goes out -- SYN/SYN-ACK, data, FIN (with disconnect data), ACKs, RSTs, probes.
#include <algorithm>
#include <vector>

#include "ustack/connection.hpp"

namespace ustack {

Segment Connection::make_segment(SeqNum seq, std::uint8_t flags) const {
    Segment s;
    s.src_addr = local_.addr;
    s.src_port = local_.port;
    s.dst_addr = remote_.addr;
    s.dst_port = remote_.port;
    s.seq = seq;
    s.flags = flags;
    if ((flags & tcp_flag::ack) != 0) s.ack = rcv_nxt_;
    return s;
}

std::uint16_t Connection::advertised_window() const {
    const std::size_t cap = recv_buf_.capacity();
    if (state_ == TcpState::syn_sent) {
        return static_cast<std::uint16_t>(std::min<std::size_t>(cap, 65535));
    }
    std::uint32_t wnd = static_cast<std::uint32_t>(std::min<std::size_t>(recv_buf_.free(), 65535));
    const SeqNum edge = rcv_nxt_ + wnd;
    if (edge < rcv_adv_) {
        // Never shrink the window (RFC 9293 §3.8.6.2.2, SHLD-14).
        wnd = rcv_wnd();
    } else if (edge > rcv_adv_ && rcv_adv_ != rcv_nxt_) {
        // Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, RFC 1122 §4.2.3.3): move the right edge only
        // by at least min(buffer/2, MSS). (A closed window -- rcv_adv_ == rcv_nxt_ -- is reopened
        // by the same rule, applied to the whole new window.)
        const auto step = static_cast<std::uint32_t>(std::min<std::size_t>(cap / 2, snd_mss_));
        if (static_cast<std::uint32_t>(edge - rcv_adv_) < step) wnd = rcv_wnd();
    } else if (rcv_adv_ == rcv_nxt_) {
        const auto step = static_cast<std::uint32_t>(std::min<std::size_t>(cap / 2, snd_mss_));
        if (wnd < step) wnd = 0;
    }
    return static_cast<std::uint16_t>(wnd);
}

void Connection::emit(SegmentSink& out, Segment& seg, Instant now) {
    (void)now;
    if (!seg.has(tcp_flag::rst)) {
        seg.window = advertised_window();
        if (state_ != TcpState::syn_sent) {
            const SeqNum edge = rcv_nxt_ + seg.window;
            if (edge > rcv_adv_) rcv_adv_ = edge;
        }
        last_adv_window_ = seg.window;
    }
    if (seg.has(tcp_flag::ack)) {
        ack_pending_ = false;
        segs_since_ack_ = 0;
        disarm(Timer::delayed_ack);
    }
    stats_.segs_out++;
    stats_.bytes_out += seg.payload.size();
    out.emit(seg);
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
    s.options.mss = cfg_.mss;
    // DESIGN.md §3: offer the option on our SYN when enabled; on the SYN-ACK only if the SYN had
    // it.
    if (syn_ack ? disc_ok_ : cfg_.disconnect_data) s.options.disconnect = DisconnectData{};
    if (!first_transmission) {
        stats_.retransmits++;
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
    if (!armed(Timer::retransmit)) restart_retransmit_timer(now);
}

// Emit one segment starting at `seq` (data and/or our FIN) -- the common path for new data,
// go-back retransmission and fast retransmission. Returns the sequence space it used.
namespace {
struct Piece {
    std::uint32_t len = 0;  // payload bytes
    bool fin = false;
};
}  // namespace

bool Connection::send_data(SegmentSink& out, Instant now, unsigned max_segments) {
    bool sent_any = false;
    unsigned segments = 0;
    // Scratch for payloads that wrap around the ring (one copy; the common case borrows).
    std::vector<std::byte> scratch;
    while (segments < max_segments) {
        const SeqNum end = data_end();
        // The usable window: min(SND.WND, cwnd) from SND.UNA (RFC 5681 §2, RFC 9293 §3.8.6).
        const std::uint32_t limit = std::min(snd_wnd_, cwnd_);
        const SeqNum wnd_end = snd_una_ + limit;
        const std::int32_t room_signed = wnd_end - snd_nxt_;
        const std::uint32_t room = room_signed > 0 ? static_cast<std::uint32_t>(room_signed) : 0U;

        Piece p;
        if (snd_nxt_ < end) {
            const auto avail = static_cast<std::uint32_t>(end - snd_nxt_);
            p.len = std::min({avail, std::uint32_t{snd_mss_}, room});
            if (p.len == 0) break;  // window closed: the persist timer takes over
            // Our FIN rides on the last data segment when it fits in the window.
            p.fin = snd_shut_ && p.len == avail && room > p.len;
        } else if (snd_shut_ && snd_nxt_ == end && (!fin_sent_ || snd_nxt_ == fin_seq_)) {
            if (room == 0) break;
            p.fin = true;
        } else {
            break;
        }

        const SeqNum seq = snd_nxt_;
        const bool retransmission = seq < snd_max_;
        std::uint8_t flags = tcp_flag::ack;
        if (p.len > 0 && seq + p.len == end) flags |= tcp_flag::psh;
        if (p.fin) flags |= tcp_flag::fin;
        Segment s = make_segment(seq, flags);
        if (p.len > 0) {
            const auto parts =
                send_buf_.peek_spans(static_cast<std::size_t>(seq - send_front_), p.len);
            if (parts[1].empty()) {
                s.payload = parts[0];
            } else {
                scratch.assign(parts[0].begin(), parts[0].end());
                scratch.insert(scratch.end(), parts[1].begin(), parts[1].end());
                s.payload = scratch;
            }
        }
        if (p.fin) {
            fin_sent_ = true;
            fin_seq_ = seq + p.len;
            // DESIGN.md §3: every transmission of the FIN carries the same option bytes.
            s.options.disconnect = disc_out_;
        }
        if (retransmission) {
            stats_.retransmits++;
            if (rtt_seq_ && *rtt_seq_ > seq) rtt_seq_.reset();  // Karn
        }
        emit(out, s, now);
        sent_any = true;
        ++segments;
        snd_nxt_ = seq + p.len + (p.fin ? 1U : 0U);
        if (snd_nxt_ > snd_max_) {
            snd_max_ = snd_nxt_;
            if (!rtt_seq_ && !retransmission) {
                rtt_seq_ = snd_nxt_;
                rtt_start_ = now;
            }
        }
        if (!armed(Timer::retransmit)) restart_retransmit_timer(now);
        if (p.fin) break;
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

    if (fast_retransmit_pending_) {
        // RFC 5681 §3.2 step 2 / RFC 6582: resend the first unacknowledged segment now, whatever
        // the window says (it was in the window when first sent).
        fast_retransmit_pending_ = false;
        if (snd_una_ != snd_max_) {
            const SeqNum saved_nxt = snd_nxt_;
            const std::uint32_t saved_cwnd = cwnd_;
            const std::uint32_t saved_wnd = snd_wnd_;
            snd_nxt_ = snd_una_;
            cwnd_ = snd_mss_ + 1;     // room for one full segment and a FIN riding on it
            snd_wnd_ = std::max<std::uint32_t>(snd_wnd_, snd_mss_ + 1);
            const SeqNum end = data_end();
            if (snd_nxt_ < end || snd_shut_) {
                // Exactly one segment: the +1 above would otherwise let a 1-byte segment follow
                // a full one (RFC 5681 §3.2 step 2 retransmits "the lost segment", just one).
                (void)send_data(out, now, 1);
            }
            cwnd_ = saved_cwnd;
            snd_wnd_ = saved_wnd;
            snd_nxt_ = seq_max(snd_nxt_, saved_nxt);
            restart_retransmit_timer(now);
        }
    }

    (void)send_data(out, now);

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
    const bool waiting =
        data_end() > snd_nxt_ || (snd_shut_ && !fin_sent_) || snd_nxt_ != snd_max_;
    if (snd_wnd_ == 0 && waiting && !armed(Timer::retransmit) && !armed(Timer::persist)) {
        if (persist_backoff_ == Duration{0}) persist_backoff_ = rtt_.rto();
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
