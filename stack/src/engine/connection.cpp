// Connection: construction, application calls, timers and lifecycle.
// Input processing (RFC 9293 §3.10.7) is in connection_input.cpp, output in connection_output.cpp.
//
/*
State diagram (RFC 9293 §3.3.2, Figure 5), as implemented here:

                             +---------+ ---------\      active OPEN
                             |  CLOSED |            \    -----------
                             +---------+<---------\   \   create TCB
                               |     ^              \   \  snd SYN
                  passive OPEN |     |   CLOSE        \   \
                  ------------ |     | ----------       \   \
                   (Stack       V     | delete TCB         \   \
                   listener) +---------+                     \   \
              rcv SYN        |  LISTEN |                      |    |
  open_passive()   /---------|         |                      |    V
 +---------+      / snd SYN,ACK+---------+          +---------+
 |         |<----/                                  |         |
 |   SYN   |                    rcv SYN             |   SYN   |
 |   RCVD  |<-----------------------------------------|   SENT  |
 |         |                  snd SYN,ACK           |         |
 |         |------------------           -------------|         |
 +---------+   rcv ACK of SYN  \       /  rcv SYN,ACK  +---------+
   |           --------------   |     |   -----------
   |                  x         |     |     snd ACK
   |                            V     V
   |  CLOSE                   +---------+
   | -------                  |  ESTAB  |
   | (FIN once ACK of SYN)    +---------+
   |          CLOSE     |     |    rcv FIN
   V         -------    |     |    -------
 +---------+ snd FIN  /       \   snd ACK         +---------+
 |  FIN    |<----------         ------------------>|  CLOSE  |
 | WAIT-1  |------------------                    |   WAIT  |
 +---------+          rcv FIN  \                   +---------+
   | rcv ACK of FIN   -------   |                   CLOSE  |
   | --------------   snd ACK   |                  ------- |
   V        x                   V                  snd FIN V
 +---------+               +---------+              +---------+
 |FINWAIT-2|               | CLOSING |              | LAST-ACK|
 +---------+               +---------+              +---------+
   |              rcv ACK of FIN |                 rcv ACK of FIN |
   |  rcv FIN     -------------- |    Timeout=2MSL -------------- |
   |  -------            x       V    ------------        x       V
    \ snd ACK              +---------+delete TCB          +---------+
      -------------------->|TIME-WAIT|------------------->| CLOSED  |
                           +---------+                    +---------+

Deliberate choices: CLOSE in SYN-RECEIVED queues the FIN until our SYN is acknowledged and then
goes straight to FIN-WAIT-1 (RFC 9293 §3.10.4 allows queueing); LISTEN -> SYN-SENT by SEND is not
offered (no socket API asks for it); in a simultaneous open the peer's SYN,ACK in SYN-RECEIVED is
taken as the ACK of our SYN (Figure 8 line 6); a RST in TIME-WAIT is ignored (RFC 1337 F1); a
passively opened connection "returning to LISTEN" closes with reason reset and the Stack forgets
it. Each arrow has a test in tests/unit/connection_state_diagram_test.cpp.
*/
#include "ustack/connection.hpp"

#include <algorithm>

#include "ustack/option_space.hpp"
#include "ustack/syn_options.hpp"

namespace ustack {

std::string_view to_string(TransitionCause c) {
    switch (c) {
        case TransitionCause::segment: return "segment";
        case TransitionCause::connect: return "connect";
        case TransitionCause::shutdown: return "shutdown";
        case TransitionCause::shutdown_receive: return "shutdown_receive";
        case TransitionCause::close: return "close";
        case TransitionCause::abort: return "abort";
        case TransitionCause::retransmit_timeout: return "retransmit_timeout";
        case TransitionCause::time_wait_timeout: return "time_wait_timeout";
        case TransitionCause::keepalive_timeout: return "keepalive_timeout";
        case TransitionCause::user_timeout: return "user_timeout";
        case TransitionCause::orphan_timeout: return "orphan_timeout";
        case TransitionCause::network_down: return "network_down";
    }
    return "?";
}

std::string_view to_string(TcpState s) {
    switch (s) {
        case TcpState::closed: return "CLOSED";
        case TcpState::listen: return "LISTEN";
        case TcpState::syn_sent: return "SYN-SENT";
        case TcpState::syn_received: return "SYN-RECEIVED";
        case TcpState::established: return "ESTABLISHED";
        case TcpState::fin_wait_1: return "FIN-WAIT-1";
        case TcpState::fin_wait_2: return "FIN-WAIT-2";
        case TcpState::close_wait: return "CLOSE-WAIT";
        case TcpState::closing: return "CLOSING";
        case TcpState::last_ack: return "LAST-ACK";
        case TcpState::time_wait: return "TIME-WAIT";
    }
    return "?";
}

std::string_view to_string(CloseReason r) {
    switch (r) {
        case CloseReason::none: return "none";
        case CloseReason::graceful: return "graceful";
        case CloseReason::reset: return "reset";
        case CloseReason::refused: return "refused";
        case CloseReason::timed_out: return "timed_out";
        case CloseReason::aborted: return "aborted";
        case CloseReason::keepalive_failed: return "keepalive_failed";
        case CloseReason::network_down: return "network_down";
        case CloseReason::connect_data_refused: return "connect_data_refused";
    }
    return "?";
}

std::string_view to_string(EventKind k) {
    switch (k) {
        case EventKind::connected: return "connected";
        case EventKind::readable: return "readable";
        case EventKind::writable: return "writable";
        case EventKind::peer_fin: return "peer_fin";
        case EventKind::closed: return "closed";
    }
    return "?";
}

std::string_view to_string(Timer t) {
    switch (t) {
        case Timer::retransmit: return "retransmit";
        case Timer::tail_loss_probe: return "tail_loss_probe";
        case Timer::delayed_ack: return "delayed_ack";
        case Timer::persist: return "persist";
        case Timer::time_wait: return "time_wait";
        case Timer::keepalive: return "keepalive";
        case Timer::user_timeout: return "user_timeout";
        case Timer::count_: break;
    }
    return "?";
}

namespace {
// RFC 9293 §3.7.1 (MUST-15): without an MSS option, assume 536.
constexpr std::uint16_t kDefaultPeerMss = 536;
// Floor for a peer's MSS option, so a hostile MSS of 1 cannot make us send byte-sized segments
// (Linux uses 88 for the same reason).
constexpr std::uint16_t kMinPeerMss = 64;
// RFC 6298 §5.7: the RTO after a handshake whose SYN (or SYN,ACK) timed out.
constexpr Duration kSynTimeoutRto{3'000'000};
}  // namespace

Connection::Connection(const TcpConfig& cfg, Endpoint local, Endpoint remote, SeqNum iss)
    : cfg_(cfg),
      local_(local),
      remote_(remote),
      iss_(iss),
      snd_una_(iss),
      snd_nxt_(iss),
      snd_max_(iss),
      send_buf_(cfg.send_buffer),
      snd_buf_size_(cfg.send_buffer),
      send_front_(iss + 1),
      recv_buf_(cfg.recv_buffer),
      rcv_buf_size_(cfg.recv_buffer),
      reassembly_(cfg.max_ooo_ranges),
      nodelay_(cfg.nodelay),
      wscale_offer_(window_shift_for(cfg.recv_buffer)),
      rtt_(cfg.rto_initial, cfg.rto_min, cfg.rto_max, cfg.clock_granularity),
      recover_(iss),
      high_rxt_(iss) {}

bool Connection::is_synchronized() const {
    switch (state_) {
        case TcpState::established:
        case TcpState::fin_wait_1:
        case TcpState::fin_wait_2:
        case TcpState::close_wait:
        case TcpState::closing:
        case TcpState::last_ack:
        case TcpState::time_wait: return true;
        default: return false;
    }
}

// ---- opening ---------------------------------------------------------------------------------

void Connection::open_active(Instant now, std::span<const std::byte> caller_data) {
    if (state_ != TcpState::closed || reason_ != CloseReason::none)
        return;
    // DESIGN.md §3c: caller data rides on our SYN's offer (send_syn), when we offer at all.
    conn_data_out_ = DisconnectData::from(
        caller_data.first(std::min(caller_data.size(), connect_data_room(syn_offer(cfg_)))));
    // RFC 5681 §3.1 / RFC 6928: initial window set once the MSS is known (on the SYN-ACK).
    opened_at_ = now;
    cause_ = TransitionCause::connect;
    enter(TcpState::syn_sent, now);
    syn_pending_ = true;
}

void Connection::open_passive(const Segment& syn, Instant now,
                              std::span<const std::byte> callee_data) {
    if (state_ != TcpState::closed || reason_ != CloseReason::none)
        return;
    passive_ = true;
    opened_at_ = now;
    note_cause(syn);
    stats_.segs_in++;
    // RFC 9293 §3.10.7.2 (LISTEN, third: SYN): RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ; data on the SYN
    // is not accepted (no TFO): the peer sends it again after the handshake.
    irs_ = syn.seq;
    rcv_nxt_ = syn.seq + 1;
    rcv_adv_ = rcv_nxt_;
    accept_options_on_syn(syn, now);
    snd_wnd_ = syn.window;  // RFC 7323 §2.2: the window in a SYN is never scaled
    max_snd_wnd_ = snd_wnd_;
    snd_wl1_ = syn.seq;
    snd_wl2_ = iss_;
    // DESIGN.md §3c: callee data rides on our SYN-ACK's echo -- only if the SYN offered the
    // option (accept_options_on_syn decided disc_ok_; connect_data_limit is then its room).
    conn_data_out_ =
        DisconnectData::from(callee_data.first(std::min(callee_data.size(), connect_data_limit())));
    enter(TcpState::syn_received, now);
    syn_pending_ = true;
}

void Connection::accept_options_on_syn(const Segment& syn, Instant now) {
    const std::uint16_t peer_mss = syn.options.mss.value_or(kDefaultPeerMss);
    snd_mss_ = std::max(kMinPeerMss, std::min(peer_mss, cfg_.mss));
    // RFC 7323 §2.2 / §3.2, RFC 2018 §2, DESIGN.md §3: each option is in use only if both SYNs
    // carried it (syn_options.hpp).
    const SynOptionSet agreed = syn_agreement(cfg_, syn.options);
    peer_offered_disc_ = syn.options.disconnect.has_value();
    disc_ok_ = agreed.disconnect;
    // DESIGN.md §3c: the offer (or echo) may carry the peer's connect data; it counts only when
    // the option is in use -- a host without the extension ignores it (no echo, counted).
    if (syn.options.disconnect && syn.options.disconnect->len > 0) {
        if (disc_ok_) {
            peer_conn_data_ = *syn.options.disconnect;
            stats_.connect_data_received++;
        } else {
            stats_.disc_option_ignored++;
        }
    }
    // DESIGN.md §3b: a stream connection ignores the message-mode option (no echo).
    msg_ok_ = agreed.message_mode;
    if (syn.options.message_mode && !msg_ok_)
        stats_.message_option_ignored++;
    wscale_ok_ = agreed.window_scaling;
    if (wscale_ok_) {
        // RFC 7323 §2.3: a shift above 14 is taken as 14.
        snd_wscale_ = std::min(*syn.options.window_scale, kMaxWindowShift);
        rcv_wscale_ = wscale_offer_;
    }
    // RFC 7323 §4.3: TS.Recent starts at the SYN's TSval.
    ts_ok_ = agreed.timestamps;
    if (ts_ok_) {
        ts_recent_ = syn.options.timestamps->tsval;
        ts_recent_at_ = now;
        // §3.2: TSopt with padding takes kTimestampOptionSpace bytes of every segment; the
        // payload per segment shrinks by that much so segments still fit the path MTU (Linux).
        constexpr auto ts_space = static_cast<std::uint16_t>(kTimestampOptionSpace);
        if (snd_mss_ > kMinPeerMss + ts_space)
            snd_mss_ -= ts_space;
    }
    sack_ok_ = agreed.sack;
    // RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)) (inside make_congestion_control).
    cc_ = make_congestion_control(cfg_.congestion, snd_mss_);
    if (cc_->wants_rate_samples())
        rate_ = std::make_unique<DeliveryRateSampler>();
}

std::uint32_t Connection::tsval(Instant now) const {
    // RFC 7323 §5.4; the clock a cookie SYN-ACK's TSval came from too (syn_cookie.cpp).
    return tsval_clock(iss_, now);
}

std::uint32_t Connection::next_tsval(Instant now) {
    // RFC 7323 §5.4: the clock "must be at least approximately proportional to real time" and
    // values sent must never go backwards -- the peer's PAWS (§5.3) drops a segment whose TSval
    // is below the last one it took. A caller's `now` can be older than one it passed before
    // (threads read the clock before they take the host lock), so what is sent is clamped to
    // the largest value sent so far. (Seen: two ustack hosts lost every segment of a 64 KB burst
    // to PAWS because it carried TSval n after a window update with n + 1; bulk throughput fell
    // to 5-200 MiB/s while the sender retransmitted one segment per delayed ACK.)
    std::uint32_t v = tsval(now);
    if (ts_sent_any_ && static_cast<std::int32_t>(v - ts_sent_max_) < 0)
        v = ts_sent_max_;
    ts_sent_max_ = v;
    ts_sent_any_ = true;
    return v;
}

// Our SYN (or SYN,ACK) has just been acknowledged, before on_new_ack takes the ACK.
void Connection::on_handshake_acked() {
    // Timer expiries while waiting for the ACK of our SYN (rtt_ backed off; Karn left no sample).
    const unsigned syn_timeouts = rtt_.backoff_count();
    if (syn_timeouts == 0 || rtt_.srtt())
        return;
    // RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN segment and the TCP
    // implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3
    // seconds when data transmission begins". Without a sample the fresh estimator's RTO is its
    // initial value, so re-create it with 3 s (or the configured initial RTO if larger).
    rtt_ = RttEstimator(std::max(cfg_.rto_initial, kSynTimeoutRto), cfg_.rto_min, cfg_.rto_max,
                        cfg_.clock_granularity);
    // RFC 6928 §2 (relaxing RFC 5681 §3.1): the initial window drops to one segment only after
    // more than one SYN or SYN,ACK retransmission.
    if (syn_timeouts > 1 && cc_)
        cc_->set_initial_window(snd_mss_);
}

// ---- application calls -------------------------------------------------------------------------

namespace {
Errc error_for(CloseReason r) {
    switch (r) {
        case CloseReason::reset: return Errc::reset;
        case CloseReason::refused: return Errc::refused;
        case CloseReason::timed_out: return Errc::timed_out;
        case CloseReason::aborted: return Errc::aborted;
        case CloseReason::keepalive_failed: return Errc::net_reset;
        case CloseReason::network_down: return Errc::net_down;
        case CloseReason::connect_data_refused: return Errc::no_proto_opt;  // DESIGN.md §3c
        case CloseReason::none:
        case CloseReason::graceful: break;
    }
    return Errc::not_connected;
}
}  // namespace

std::size_t Connection::send_space() const {
    switch (state_) {
        case TcpState::syn_sent:
        case TcpState::syn_received:
        case TcpState::established:
        case TcpState::close_wait: break;
        default: return 0;
    }
    if (snd_shut_ || send_buf_.size() >= snd_buf_size_)
        return 0;
    return std::min(snd_buf_size_ - send_buf_.size(), send_buf_.free());
}

void Connection::set_send_buffer(std::size_t bytes) {
    snd_buf_size_ = bytes;
    // Queued bytes above a smaller size stay; the ring shrinks to it once they fit (on_new_ack).
    if (bytes > send_buf_.capacity() || send_buf_.size() <= bytes)
        send_buf_.resize(bytes);
}

void Connection::set_recv_buffer(std::size_t bytes) {
    const std::uint32_t old_wnd = rcv_wnd();
    rcv_buf_size_ = bytes;
    if (!syn_options_sent_) {
        // RFC 7323 §2.2: the shift is sent on the SYN (SYN-ACK) and holds for the connection's
        // life; until then it follows the buffer.
        wscale_offer_ = window_shift_for(bytes);
        if (wscale_ok_)
            rcv_wscale_ = wscale_offer_;
    }
    if (bytes > recv_buf_.capacity()) {
        recv_buf_.resize(bytes);
    } else {
        fit_recv_buffer();
    }
    announce_window_if_opened(old_wnd);
}

std::size_t Connection::rcv_space() const {
    const std::size_t unread = recv_buf_.size();
    return rcv_buf_size_ > unread ? std::min(rcv_buf_size_ - unread, recv_buf_.free()) : 0;
}

std::size_t Connection::rcv_promised() const {
    // In SYN-SENT the window of our SYN becomes the peer's to fill once it answers.
    if (state_ == TcpState::syn_sent)
        return syn_options_sent_ ? last_adv_window_ : 0U;
    return rcv_wnd();
}

void Connection::fit_recv_buffer() {
    if (recv_buf_.capacity() > rcv_buf_size_ &&
        recv_buf_.size() + rcv_promised() <= rcv_buf_size_) {
        recv_buf_.resize(rcv_buf_size_);
    }
}

void Connection::announce_window_if_opened(std::uint32_t old_wnd) {
    // RFC 9293 §3.8.6.2.2 (receiver SWS avoidance) and §3.8.6.2.1: tell the peer about a window
    // that reopened by a useful amount -- at least min(buffer/2, MSS) and at least doubling what
    // it last saw -- instead of letting it wait for its persist timer.
    const auto can_offer =
        static_cast<std::uint32_t>(std::min<std::size_t>(rcv_space(), max_offer()));
    const auto threshold =
        static_cast<std::uint32_t>(std::min<std::size_t>(rcv_buf_size_ / 2, snd_mss_));
    if (is_synchronized() && !fin_received_ && can_offer > old_wnd &&
        can_offer - old_wnd >= std::max(threshold, old_wnd)) {
        ack_pending_ = true;
    }
}

Result<std::size_t> Connection::send(std::span<const std::byte> data) {
    if (snd_shut_)
        return Errc::shutdown;
    switch (state_) {
        case TcpState::closed: return error_for(reason_);
        case TcpState::listen: return Errc::not_connected;
        case TcpState::syn_sent:
        case TcpState::syn_received:
        case TcpState::established:
        case TcpState::close_wait: break;
        default: return Errc::closing;  // RFC 9293 §3.10.2 "error: connection closing"
    }
    if (data.empty())
        return std::size_t{0};
    const std::size_t n = send_buf_.write(data.first(std::min(data.size(), send_space())));
    if (n == 0)
        return Errc::would_block;
    return n;
}

Result<std::size_t> Connection::recv(std::span<std::byte> out) {
    if (rcv_shut_)
        return Errc::shutdown;
    if (!recv_buf_.empty()) {
        if (out.empty())
            return std::size_t{0};
        const std::uint32_t old_wnd = rcv_wnd();
        const std::size_t n = recv_buf_.read(out);
        fit_recv_buffer();
        announce_window_if_opened(old_wnd);
        release_buffers_if_done();
        return n;
    }
    // A connection that ended badly reports that, also after the peer's FIN: RFC 9293 §3.10.7.4
    // (RST in CLOSE-WAIT etc.) "any outstanding RECEIVEs and SEND should receive 'reset'
    // responses"; a graceful end keeps returning end of stream.
    if (state_ == TcpState::closed && reason_ != CloseReason::graceful &&
        reason_ != CloseReason::none) {
        return error_for(reason_);
    }
    if (fin_received_)
        return std::size_t{0};  // end of stream
    switch (state_) {
        case TcpState::closed: return error_for(reason_);
        case TcpState::listen:
        case TcpState::syn_sent:
        case TcpState::syn_received: return Errc::not_connected;
        default: return Errc::would_block;
    }
}

Errc Connection::shutdown_send(const DisconnectData* disc) {
    cause_ = TransitionCause::shutdown;
    return queue_fin(disc);
}

Errc Connection::queue_fin(const DisconnectData* disc) {
    switch (state_) {
        case TcpState::closed:
            return reason_ == CloseReason::none ? Errc::not_connected : error_for(reason_);
        case TcpState::listen:
        case TcpState::syn_sent: return Errc::not_connected;
        case TcpState::syn_received:
        case TcpState::established:
        case TcpState::close_wait: break;
        default:
            // Already shut: no second FIN (RFC 9293 §3.10.4). Disconnect data can no longer go.
            return disc != nullptr ? Errc::shutdown : Errc::ok;
    }
    if (snd_shut_)
        return disc != nullptr ? Errc::shutdown : Errc::ok;
    if (disc != nullptr) {
        if (!disc_ok_)
            return Errc::no_proto_opt;  // DESIGN.md §3: not negotiated
        if (disc->len > disconnect_data_limit())
            return Errc::msg_size;
        disc_out_ = *disc;
    }
    snd_shut_ = true;
    if (state_ == TcpState::established) {
        set_state(TcpState::fin_wait_1);
    } else if (state_ == TcpState::close_wait) {
        set_state(TcpState::last_ack);
    }
    // SYN-RECEIVED: the FIN waits for the ACK of our SYN (see the diagram notes).
    return Errc::ok;
}

Errc Connection::shutdown_receive() {
    cause_ = TransitionCause::shutdown_receive;
    return shut_receive();
}

Errc Connection::shut_receive() {
    switch (state_) {
        case TcpState::closed:
            if (reason_ == CloseReason::none)
                return Errc::not_connected;
            break;
        case TcpState::listen:
        case TcpState::syn_sent: return Errc::not_connected;
        default: break;
    }
    rcv_shut_ = true;
    if (!recv_buf_.empty()) {
        // RFC 9293 SHLD-3 / RFC 2525 §2.17: received data was lost -- say so with a RST.
        recv_buf_.clear();
        switch (state_) {
            case TcpState::syn_received:
            case TcpState::established:
            case TcpState::fin_wait_1:
            case TcpState::fin_wait_2:
            case TcpState::close_wait: reset_connection(CloseReason::aborted); break;
            default: break;  // CLOSING / LAST-ACK / TIME-WAIT / CLOSED: nothing to reset
        }
    }
    return Errc::ok;
}

void Connection::close() {
    cause_ = TransitionCause::close;
    switch (state_) {
        case TcpState::closed:
            discard_unread_after_close();
            recv_buf_.release();
            send_buf_.release();
            return;
        case TcpState::listen:
        case TcpState::syn_sent:
            // RFC 9293 §3.10.4: delete the TCB.
            enter_closed(CloseReason::aborted);
            return;
        default: break;
    }
    (void)shut_receive();  // resets on unread data (RFC 2525 §2.17)
    if (state_ != TcpState::closed)
        (void)queue_fin(nullptr);
    release_buffers_if_done();
}

void Connection::abort(TransitionCause why) {
    cause_ = why;
    switch (state_) {
        case TcpState::syn_received:
        case TcpState::established:
        case TcpState::fin_wait_1:
        case TcpState::fin_wait_2:
        case TcpState::close_wait: reset_connection(CloseReason::aborted); break;
        case TcpState::syn_sent:
        case TcpState::closing:
        case TcpState::last_ack:
        case TcpState::time_wait:
            // RFC 9293 §3.10.5: "Respond with 'ok' and delete the TCB" -- no RST.
            enter_closed(CloseReason::aborted);
            break;
        case TcpState::closed: discard_unread_after_close(); break;
        case TcpState::listen: break;
    }
    recv_buf_.release();
    send_buf_.release();
}

void Connection::network_down() {
    if (state_ == TcpState::closed)
        return;
    cause_ = TransitionCause::network_down;
    enter_closed(CloseReason::network_down);
}

void Connection::discard_unread_after_close() {
    // The connection ended gracefully (the peer's FIN came, our FIN was acknowledged) but bytes
    // before that FIN were never read, and they are being thrown away now. recv() must not then
    // report a clean end of stream (0: "the peer's FIN, all data read"): the stream was cut
    // short, as by close / shutdown_receive with unread data in any other state (RFC 2525
    // §2.17). No RST -- there is no connection left to reset.
    if (reason_ == CloseReason::graceful && !recv_buf_.empty())
        reason_ = CloseReason::aborted;
}

// ---- state queries ---------------------------------------------------------------------------

bool Connection::all_acked() const {
    if (!send_buf_.empty())
        return false;
    if (snd_una_ != snd_max_)
        return false;
    if (snd_shut_ && !(fin_sent_ && snd_una_ == fin_seq_ + 1))
        return false;
    return true;
}

std::size_t Connection::connect_data_limit() const {
    // DESIGN.md §3c: the room our SYN (what the configuration offers) or SYN-ACK (what the SYN
    // offered and we enable, as send_syn answers) leaves.
    const bool syn_ack = passive_ || state_ == TcpState::syn_received;
    return connect_data_room(syn_ack ? SynOptionSet{wscale_ok_, ts_ok_, sack_ok_, disc_ok_, msg_ok_}
                                     : syn_offer(cfg_));
}

std::size_t Connection::disconnect_data_limit() const {
    if (!disc_ok_)
        return 0;
    // DESIGN.md §3: what the FIN must carry besides -- timestamps once they are in use -- leaves
    // 40 - 12 - 4 = 24 bytes of data, 36 without them.
    return disconnect_data_room(CarriedOptions{.timestamps = ts_ok_});
}

std::uint32_t Connection::rcv_wnd() const {
    const std::int32_t w = rcv_adv_ - rcv_nxt_;
    return w > 0 ? static_cast<std::uint32_t>(w) : 0U;
}

bool Connection::persisting_with_data() const {
    return snd_wnd_ == 0 &&
           (data_end() > snd_nxt_ || (snd_shut_ && !fin_sent_) || snd_nxt_ != snd_max_);
}

SeqNum Connection::data_end() const {
    return send_front_ + static_cast<std::uint32_t>(send_buf_.size());
}

TcpInfo Connection::info(Instant now) const {
    TcpInfo i;
    i.state = state_;
    i.mss = snd_mss_;
    if (opened_at_ && now > *opened_at_)
        i.connection_time = now - *opened_at_;
    i.timestamps = ts_ok_;
    i.sack = sack_ok_;
    i.window_scaling = wscale_ok_;
    i.snd_wscale = snd_wscale_;
    i.rcv_wscale = rcv_wscale_;
    i.message_mode = msg_ok_;
    i.srtt = rtt_.srtt().value_or(Duration{0});
    i.rttvar = rtt_.rttvar();
    i.rto = rtt_.rto();
    i.min_rtt = rtt_.min_rtt().value_or(Duration{0});
    i.bytes_in_flight = flight_size();
    i.cwnd = cwnd();
    i.ssthresh = ssthresh();
    i.snd_wnd = snd_wnd_;
    i.rcv_wnd = rcv_wnd();
    i.recv_buffer = rcv_buf_size_;
    i.send_buffer = snd_buf_size_;
    i.bytes_out = stats_.bytes_out;
    i.bytes_in = stats_.bytes_in;
    i.bytes_reordered = stats_.bytes_reordered;
    i.bytes_retransmitted = stats_.bytes_retransmitted;
    i.fast_retransmits = stats_.fast_retransmits;
    i.dup_acks_in = stats_.dup_acks_in;
    i.timeout_episodes = stats_.timeout_episodes;
    i.syn_retransmits = stats_.syn_retransmits;
    i.segs_in = stats_.segs_in;
    i.segs_out = stats_.segs_out;
    i.retransmits = stats_.retransmits;
    return i;
}

// ---- timers ----------------------------------------------------------------------------------

std::optional<Instant> Connection::poll_timeout() const {
    std::optional<Instant> next;
    for (const auto& t : timers_) {
        if (t && (!next || *t < *next))
            next = t;
    }
    return next;
}

void Connection::on_timeout(Instant now) {
    for (std::size_t i = 0; i < timers_.size(); ++i) {
        if (!timers_[i] || *timers_[i] > now)
            continue;
        timers_[i].reset();
        switch (static_cast<Timer>(i)) {
            case Timer::retransmit:
                cause_ = TransitionCause::retransmit_timeout;
                on_retransmit_timeout(now);
                break;
            case Timer::delayed_ack: ack_pending_ = true; break;
            case Timer::persist: on_persist_timeout(now); break;
            case Timer::time_wait:
                // RFC 9293 §3.10.8: TIME-WAIT timeout -> delete the TCB.
                cause_ = TransitionCause::time_wait_timeout;
                if (state_ == TcpState::time_wait)
                    enter_closed(CloseReason::graceful);
                break;
            case Timer::keepalive:
                cause_ = TransitionCause::keepalive_timeout;
                on_keepalive_timeout(now);
                break;
            case Timer::tail_loss_probe:
                // RFC 8985 §7.3: the probe goes out on the next poll_transmit.
                if (snd_una_ != snd_max_ && !tlp_outstanding_)
                    tlp_pending_ = true;
                break;
            case Timer::user_timeout:
                // RFC 9293 §3.10.8 USER TIMEOUT: "flush all queues, signal the user 'error:
                // connection aborted due to user timeout' ..., enter the CLOSED state". No RST.
                // Data in flight, or data (or our FIN) held back by a zero window: RFC 5482 §2
                // counts data that cannot be delivered, not only data sent (Linux: "tcp: fix
                // TCP_USER_TIMEOUT with zero window").
                if (snd_una_ != snd_max_ || persisting_with_data()) {
                    cause_ = TransitionCause::user_timeout;
                    enter_closed(CloseReason::timed_out);
                }
                break;
            case Timer::count_: break;
        }
        if (state_ == TcpState::closed)
            return;
    }
}

void Connection::restart_retransmit_timer(Instant now) {
    arm(Timer::retransmit, now + rtt_.rto());
    // RFC 5482 / RFC 9293 §3.8.3: the user timeout runs from the oldest unacknowledged
    // transmission; on_new_ack restarts it when the peer makes progress.
    if (cfg_.user_timeout > Duration{0} && !armed(Timer::user_timeout)) {
        arm(Timer::user_timeout, now + cfg_.user_timeout);
    }
}

void Connection::arm_tail_loss_probe(Instant now) {
    disarm(Timer::tail_loss_probe);
    const auto srtt = rtt_.srtt();
    // RFC 8985 §7.2: only with an RTT sample, data in flight and no probe already unanswered.
    // Unlike §7.2 also in SACK recovery and with SACKed data: §7.2 leaves those to RACK's
    // time-based detection, which needs a segment sent after the lost one to be delivered --
    // and there is none when the ACK clock stops in recovery (the fast retransmission, or the
    // one ACK a stretch-ACKing receiver sends for it, is lost, and cwnd allows nothing new).
    // Against Linux at 1 % loss that ended most recoveries that failed in a 200 ms RTO; the
    // probe costs 2 SRTT instead and leaves cwnd alone (poll_transmit: it resends SND.UNA's
    // segment then).
    // Also once our FIN is out (FIN-WAIT-1, CLOSING, LAST-ACK): the tail of a transfer that
    // ends with a close is the tail TLP exists for.
    const bool sending_state = state_ == TcpState::established || state_ == TcpState::close_wait ||
                               state_ == TcpState::fin_wait_1 || state_ == TcpState::closing ||
                               state_ == TcpState::last_ack;
    if (!cfg_.tail_loss_probe || !srtt || tlp_outstanding_ || snd_una_ == snd_max_ ||
        !sending_state) {
        return;
    }
    const auto flight = static_cast<std::uint32_t>(snd_max_ - snd_una_);
    Duration pto = 2 * *srtt;
    // A single segment in flight may sit behind the receiver's delayed ACK (WCDelAckT).
    pto += flight <= snd_mss_ ? Duration{200'000} : Duration{2'000};
    const Instant at = now + pto;
    if (const auto& rto = timers_[static_cast<std::size_t>(Timer::retransmit)]; rto && at >= *rto) {
        return;  // the RTO comes first anyway
    }
    arm(Timer::tail_loss_probe, at);
}

void Connection::restart_keepalive(Instant now) {
    // RFC 1122 §4.2.3.6: probe only after `keepalive_idle` without receiving anything.
    keepalive_sent_ = 0;
    if (cfg_.keepalive && is_synchronized() && state_ != TcpState::time_wait) {
        arm(Timer::keepalive, now + cfg_.keepalive_idle);
    }
}

void Connection::set_keepalive(bool on, Duration idle, Duration interval, Instant now) {
    cfg_.keepalive = on;
    cfg_.keepalive_idle = idle;
    cfg_.keepalive_interval = interval;
    if (on) {
        restart_keepalive(now);
    } else {
        disarm(Timer::keepalive);
        keepalive_sent_ = 0;
    }
}

void Connection::on_keepalive_timeout(Instant now) {
    if (!cfg_.keepalive || state_ == TcpState::time_wait || !is_synchronized())
        return;
    if (snd_una_ != snd_max_ || armed(Timer::persist)) {
        // Data is outstanding: the retransmission (or persist) timer watches the path.
        arm(Timer::keepalive, now + cfg_.keepalive_idle);
        return;
    }
    if (keepalive_sent_ >= cfg_.keepalive_count) {
        // RFC 1122 §4.2.3.6: a connection whose probes go unanswered is dead.
        enter_closed(CloseReason::keepalive_failed);
        return;
    }
    // The probe: <SEQ=SND.NXT-1><ACK=RCV.NXT>, no data (RFC 1122 §4.2.3.6 allows an empty probe;
    // the peer answers an old sequence number with an ACK). Sent by poll_transmit.
    keepalive_sent_++;
    stats_.keepalive_probes++;
    probe_pending_ = true;
    arm(Timer::keepalive, now + cfg_.keepalive_interval);
}

void Connection::on_retransmit_timeout(Instant now) {
    stats_.timeouts++;
    // An episode is a run of consecutive expiries: retries_ is 0 after an ACK of new data (or
    // the other resets of the retry count), so this expiry starts a new one.
    if (retries_ == 0)
        stats_.timeout_episodes++;
    unsigned limit = cfg_.max_retransmits;
    if (state_ == TcpState::syn_sent)
        limit = cfg_.max_syn_retransmits;
    if (state_ == TcpState::syn_received)
        limit = cfg_.max_synack_retransmits;
    if (retries_ >= limit) {
        // RFC 9293 §3.8.3 (R2): give up and close; RFC 1122 says inform the user. No RST: the
        // path is presumed dead.
        enter_closed(CloseReason::timed_out);
        return;
    }
    retries_++;
    rtt_.backoff();    // RFC 6298 §5.5
    rtt_seq_.reset();  // Karn's rule: no sample from a retransmitted segment
    if (state_ == TcpState::syn_sent || state_ == TcpState::syn_received) {
        syn_pending_ = true;
    } else if (snd_una_ != snd_max_) {
        // RFC 5681 §3.1 eq. (4) (RFC 9438 §4.8 for CUBIC): ssthresh from FlightSize; cwnd =
        // 1 SMSS (LW). Only the first expiry of a series counts as a congestion signal (the
        // later ones find FlightSize already collapsed; RFC 5681 §3.1 "subsequent" note).
        if (cc_ && retries_ == 1)
            cc_->on_rto(flight_size(), now);
        if (cc_)
            cc_->set_cwnd(snd_mss_);
        in_fast_recovery_ = false;
        rto_recovery_ = true;
        // RFC 6675 §5.1 / RFC 2018 §8: after a timeout the receiver may have reneged; forget the
        // SACK information and retransmit from SND.UNA.
        scoreboard_.clear();
        rxt_log_.clear();
        high_rxt_ = snd_una_;
        dup_acks_ = 0;
        recover_ = snd_max_;  // RFC 6582 §3.2 step 1 analogue after a timeout
        snd_nxt_ = snd_una_;  // go back: resend from the oldest unacknowledged octet
    }
    restart_retransmit_timer(now);  // RFC 6298 §5.6
}

void Connection::on_persist_timeout(Instant now) {
    // RFC 9293 §3.8.6.1: probe the zero window; keep probing (with backoff) as long as the
    // peer answers -- the connection is not closed for a zero window (MUST-67).
    if (snd_wnd_ != 0 || state_ == TcpState::closed)
        return;
    probe_pending_ = true;
    stats_.zero_window_probes++;
    // RFC 5482 / RFC 9293 §3.8.3: data held back by a zero window is as undelivered as data in
    // flight, but no retransmission timer runs for it (the probes carry no data). Run the user
    // timeout from the first probe, as Linux does (icsk_probes_tstamp, 5.11); a reopened window
    // stops it (check_ack), an ACK of new data restarts it (on_new_ack).
    if (cfg_.user_timeout > Duration{0} && !armed(Timer::user_timeout) && persisting_with_data()) {
        arm(Timer::user_timeout, now + cfg_.user_timeout);
    }
    persist_backoff_ = std::min(persist_backoff_ * 2, cfg_.persist_max);
    arm(Timer::persist, now + persist_backoff_);
}

// ---- lifecycle -------------------------------------------------------------------------------

void Connection::note_cause(const Segment& seg) {
    cause_ = TransitionCause::segment;
    cause_seg_ = {.flags = seg.flags,
                  .seq = seg.seq.raw(),
                  .ack = seg.ack.raw(),
                  .len = static_cast<std::uint32_t>(seg.payload.size())};
}

void Connection::set_state(TcpState s) {
    if (state_log_ != nullptr && s != state_) {
        // A passive connection starts where its listener is: LISTEN (RFC 9293 §3.3.2).
        const bool from_listen =
            passive_ && state_ == TcpState::closed && reason_ == CloseReason::none;
        state_log_->push_back(
            {.local = local_,
             .remote = remote_,
             .from = from_listen ? TcpState::listen : state_,
             .to = s,
             .cause = cause_,
             .seg = cause_ == TransitionCause::segment ? cause_seg_ : StateChange::Seg{}});
    }
    state_ = s;
}

void Connection::enter(TcpState s, Instant now) {
    set_state(s);
    if (s == TcpState::established) {
        push_event(EventKind::connected);
        restart_keepalive(now);
    }
}

void Connection::enter_time_wait(Instant now) {
    set_state(TcpState::time_wait);
    disarm(Timer::retransmit);
    disarm(Timer::persist);
    // RFC 9293 §3.4.2 / MUST-13: linger 2*MSL.
    arm(Timer::time_wait, now + 2 * cfg_.msl);
    release_buffers_if_done();
}

void Connection::enter_closed(CloseReason reason) {
    if (state_ == TcpState::closed && reason_ != CloseReason::none)
        return;
    set_state(TcpState::closed);
    reason_ = reason;
    for (auto& t : timers_) t.reset();
    syn_pending_ = false;
    ack_pending_ = false;
    dup_ack_owed_ = false;
    queued_acks_ = {};
    probe_pending_ = false;
    fast_retransmit_pending_ = false;
    reassembly_.clear();
    send_buf_.release();
    if (reason != CloseReason::graceful) {
        // RFC 9293 §3.10.7.4 (RST): "all segment queues should be flushed".
        recv_buf_.release();
    } else {
        release_buffers_if_done();
    }
    push_event(EventKind::closed, reason);
}

void Connection::reset_connection(CloseReason reason) {
    // RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>. We use the highest sequence number sent,
    // which is what the peer expects next if everything arrived (RFC 5961: an exact match resets).
    rst_pending_ = true;
    rst_seq_ = snd_max_;
    rst_has_ack_ = false;
    stats_.rst_sent++;
    enter_closed(reason);
}

void Connection::release_buffers_if_done() {
    const bool done_sending = state_ == TcpState::time_wait || state_ == TcpState::closed;
    if (done_sending && send_buf_.allocated())
        send_buf_.release();
    if ((done_sending || rcv_shut_) && recv_buf_.empty() && recv_buf_.allocated() &&
        (fin_received_ || rcv_shut_ || state_ == TcpState::closed)) {
        recv_buf_.release();
    }
}

void Connection::push_event(EventKind k, CloseReason r) {
    // Coalesce: readable/writable are level information; one pending copy is enough.
    if (k == EventKind::readable || k == EventKind::writable) {
        for (const auto& e : events_)
            if (e.kind == k)
                return;
    }
    events_.push_back(Event{k, r});
}

std::optional<Event> Connection::poll_event() {
    if (events_.empty())
        return std::nullopt;
    Event e = events_.front();
    events_.pop_front();
    return e;
}

}  // namespace ustack
