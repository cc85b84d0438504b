// Connection: a passive open completed by a SYN cookie (RFC 4987 §3.6).
//
// Heads up! The Stack (stack.cpp, "SYN cookies") validates the cookie and rebuilds the SYN it
// stands for: SEG.SEQ = the peer's ISS, the MSS from the cookie's table index, and -- when
// timestamps were in use -- window scale, SACK-permitted and the disconnect-data offer from the
// low bits of the echoed TSval. Everything after that is the ordinary RFC 9293 path: this file
// only reproduces the state that open_passive() and send_syn() would have left, so the ACK is
// processed by check_ack()'s SYN-RECEIVED branch like any other (§3.10.7.4 fifth).
#include "ustack/connection.hpp"

namespace ustack {

void Connection::open_from_cookie(const Segment& syn, std::uint16_t syn_ack_window, Instant now) {
    if (state_ != TcpState::closed || reason_ != CloseReason::none)
        return;
    // RFC 9293 §3.10.7.2 (LISTEN, third): IRS, RCV.NXT, options, SND.WND from the SYN.
    open_passive(syn, now);
    // What send_syn() would have done for the SYN-ACK the Stack sent in our name: our SYN occupies
    // ISS, the window we offered starts at RCV.NXT, and that SYN-ACK acknowledged RCV.NXT
    // (RFC 7323 §4.3 Last.ACK.sent). No retransmission timer and no Karn sample: the ACK is here.
    syn_pending_ = false;
    syn_options_sent_ = true;
    snd_nxt_ = iss_ + 1;
    snd_max_ = snd_nxt_;
    last_adv_window_ = syn_ack_window;
    rcv_adv_ = rcv_nxt_ + std::uint32_t{syn_ack_window};
    last_ack_sent_ = rcv_nxt_;
    stats_.segs_out++;
}

}  // namespace ustack
