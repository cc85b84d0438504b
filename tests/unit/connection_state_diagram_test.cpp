// Every arrow of the RFC 9293 §3.3.2 state diagram (Figure 5), one TEST_CASE each, as the
// Connection implements it.
//
// Not here: CLOSED -> LISTEN (passive OPEN) and LISTEN -> CLOSED (CLOSE of a listener) are the
// Stack's (a Connection is never in LISTEN; listeners live in Stack and are tested with it), and
// LISTEN -> SYN-SENT (SEND on a listener) is not offered (no socket API asks for it). "LISTEN ->
// SYN-RECEIVED" below is the Stack handing a SYN to a fresh Connection (open_passive), and
// "SYN-RECEIVED -> LISTEN" is the Connection closing so the Stack forgets it while the listener
// stays.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

TEST_SUITE("connection") {

TEST_CASE("RFC 9293 §3.3.2 CLOSED -> SYN-SENT: active OPEN sends <SEQ=ISS><CTL=SYN>") {
    Script t;
    CHECK(t.conn().state() == TcpState::closed);
    t.conn().open_active(t.now());
    CHECK(t.conn().state() == TcpState::syn_sent);
    auto syn = t.expect_one();
    CHECK(syn->flags == tcp_flag::syn);
    CHECK(syn->seq == SeqNum(kIss));
    CHECK(syn->payload.empty());
    CHECK(syn->options.mss == std::optional<std::uint16_t>(t.config().mss));
    CHECK(t.conn().snd_nxt() == SeqNum(kIss + 1));
    // RFC 6298 §2.1 / §5.1: the timer runs for the SYN, initial RTO 1 s.
    CHECK(t.conn().timer(Timer::retransmit) == t.now() + t.config().rto_initial);
    t.expect_nothing();
    CHECK(t.events().empty());
}

TEST_CASE("RFC 9293 §3.3.2 LISTEN -> SYN-RECEIVED: rcv SYN - snd <SEQ=ISS><ACK=RCV.NXT><SYN ACK>") {
    Script t;
    const auto syn = t.peer().syn().mss(1200).win(4000).build();
    t.conn().open_passive(syn, t.now());
    CHECK(t.conn().state() == TcpState::syn_received);
    CHECK(t.conn().was_passive());
    CHECK(t.conn().irs() == SeqNum(kPeerIss));
    CHECK(t.conn().rcv_nxt() == SeqNum(kPeerIss + 1));
    auto sa = t.expect_one();
    CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
    CHECK(sa->seq == SeqNum(kIss));
    CHECK(sa->ack == SeqNum(kPeerIss + 1));
    CHECK(sa->options.mss == std::optional<std::uint16_t>(t.config().mss));
    CHECK(sa->window > 0);
    CHECK(t.conn().snd_mss() == 1200);
    CHECK(t.conn().snd_wnd() == 4000);
    CHECK(t.conn().timer(Timer::retransmit) == t.now() + t.config().rto_initial);
    CHECK(t.events().empty());  // not connected yet
}

TEST_CASE("RFC 9293 §3.3.2 SYN-SENT -> SYN-RECEIVED: simultaneous open - rcv SYN - snd SYN ACK") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().syn().no_ack().mss(1460));  // their SYN crosses ours (RFC 9293 Figure 8)
    CHECK(t.conn().state() == TcpState::syn_received);
    CHECK_FALSE(t.conn().was_passive());
    auto sa = t.expect_one();
    CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
    CHECK(sa->seq == SeqNum(kIss));
    CHECK(sa->ack == SeqNum(kPeerIss + 1));
    CHECK(t.events().empty());
}

TEST_CASE("RFC 9293 §3.3.2 SYN-SENT -> ESTABLISHED: rcv SYN ACK - snd ACK") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().syn().ack(kIss + 1).mss(1460).win(30000));
    CHECK(t.conn().state() == TcpState::established);
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->seq == SeqNum(kIss + 1));
    CHECK(a->ack == SeqNum(kPeerIss + 1));
    CHECK(t.conn().snd_una() == SeqNum(kIss + 1));
    CHECK(t.conn().snd_wnd() == 30000);
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());  // nothing outstanding
    CHECK(t.events() == std::vector<Event>{Event{EventKind::connected}});
}

TEST_CASE("RFC 9293 §3.3.2 SYN-RECEIVED -> ESTABLISHED: rcv ACK of SYN") {
    Script t;
    const auto syn = t.peer().syn().mss(1460).build();
    t.conn().open_passive(syn, t.now());
    t.set_peer_nxt(kPeerIss + 1);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 1).win(20000));
    CHECK(t.conn().state() == TcpState::established);
    CHECK(t.conn().snd_una() == SeqNum(kIss + 1));
    CHECK(t.conn().snd_wnd() == 20000);
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());
    t.expect_nothing();  // a pure ACK is not acknowledged
    CHECK(t.events() == std::vector<Event>{Event{EventKind::connected}});
}

TEST_CASE("RFC 9293 §3.3.2 SYN-RECEIVED -> LISTEN: rcv RST (passive open) - no RST in answer") {
    Script t;
    const auto syn = t.peer().syn().mss(1460).build();
    t.conn().open_passive(syn, t.now());
    t.set_peer_nxt(kPeerIss + 1);
    (void)t.expect_one();
    // RFC 9293 §3.10.7.4 second (with RFC 5961 §3): an RST at exactly RCV.NXT. A passively opened
    // connection "returns to LISTEN": the Connection closes (reason reset) and the Stack forgets
    // it; the listener itself is untouched.
    t.send(t.peer().rst());
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::reset);
    t.expect_nothing();  // never answer a RST with a RST
    CHECK_FALSE(t.conn().poll_timeout().has_value());
    CHECK(t.closed_event() == CloseReason::reset);
}

TEST_CASE("RFC 9293 §3.3.2 SYN-RECEIVED -> FIN-WAIT-1: CLOSE - FIN after the ACK of our SYN") {
    // RFC 9293 §3.10.4: CLOSE in SYN-RECEIVED "If no SENDs have been issued and there is no
    // pending data to send, then form a FIN segment and send it" -- the documented choice here
    // is to queue the FIN until our SYN is acknowledged (allowed by the same paragraph's
    // "queue for processing after entering ESTABLISHED state").
    Script t;
    const auto syn = t.peer().syn().mss(1460).build();
    t.conn().open_passive(syn, t.now());
    t.set_peer_nxt(kPeerIss + 1);
    (void)t.expect_one();
    t.conn().close();
    CHECK(t.conn().state() == TcpState::syn_received);
    CHECK(t.conn().send_shut());
    t.expect_nothing();  // no FIN before our SYN is acknowledged
    t.send(t.peer().ack(kIss + 1));
    CHECK(t.conn().state() == TcpState::fin_wait_1);
    auto fin = t.expect_one();
    CHECK(fin->flags == (tcp_flag::fin | tcp_flag::ack));
    CHECK(fin->seq == SeqNum(kIss + 1));
    CHECK(fin->ack == SeqNum(kPeerIss + 1));
    CHECK(t.conn().timer(Timer::retransmit).has_value());
}

TEST_CASE("RFC 9293 §3.3.2 SYN-SENT -> CLOSED: CLOSE deletes the TCB - nothing sent") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.conn().close();
    CHECK(t.conn().state() == TcpState::closed);
    t.expect_nothing();  // §3.10.4: "delete the TCB" -- no RST, no FIN
    CHECK_FALSE(t.conn().poll_timeout().has_value());
    CHECK(t.closed_event() == CloseReason::aborted);
    // A late SYN-ACK finds nothing (the Stack would answer it with a RST).
    t.send(t.peer().syn().ack(kIss + 1));
    t.expect_nothing();
    CHECK(t.conn().state() == TcpState::closed);
}

TEST_CASE("RFC 9293 §3.3.2 ESTABLISHED -> FIN-WAIT-1: CLOSE - snd FIN") {
    Script t;
    t.establish_active();
    CHECK(t.conn().shutdown_send() == Errc::ok);
    CHECK(t.conn().state() == TcpState::fin_wait_1);
    auto fin = t.expect_one();
    CHECK(fin->flags == (tcp_flag::fin | tcp_flag::ack));
    CHECK(fin->seq == SeqNum(kIss + 1));
    CHECK(fin->ack == SeqNum(kPeerIss + 1));
    CHECK(t.conn().snd_nxt() == SeqNum(kIss + 2));
    CHECK(t.conn().timer(Timer::retransmit).has_value());
}

TEST_CASE("RFC 9293 §3.3.2 ESTABLISHED -> CLOSE-WAIT: rcv FIN - snd ACK") {
    Script t;
    t.establish_active();
    t.send(t.peer().ack(kIss + 1).fin());
    CHECK(t.conn().state() == TcpState::close_wait);
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    CHECK(t.conn().peer_fin_received());
    CHECK(t.events() == std::vector<Event>{Event{EventKind::peer_fin}});
}

TEST_CASE("RFC 9293 §3.3.2 FIN-WAIT-1 -> FIN-WAIT-2: rcv ACK of FIN") {
    Script t;
    (void)t.to_fin_wait_1();
    t.send(t.peer().ack(kIss + 1));  // ACKs nothing new: still FIN-WAIT-1
    CHECK(t.conn().state() == TcpState::fin_wait_1);
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::fin_wait_2);
    CHECK(t.conn().all_acked());
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());
    t.expect_nothing();
}

TEST_CASE("RFC 9293 §3.3.2 FIN-WAIT-1 -> CLOSING: rcv FIN (ours not yet ACKed) - snd ACK") {
    Script t;
    (void)t.to_fin_wait_1();
    t.send(t.peer().ack(kIss + 1).fin());
    CHECK(t.conn().state() == TcpState::closing);
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->seq == SeqNum(kIss + 2));
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    CHECK(t.conn().timer(Timer::retransmit).has_value());  // our FIN is still owed an ACK
}

TEST_CASE("RFC 9293 §3.3.2 FIN-WAIT-1 -> TIME-WAIT: FIN and the ACK of our FIN in one segment") {
    Script t;
    (void)t.to_fin_wait_1();
    t.send(t.peer().ack(kIss + 2).fin());
    CHECK(t.conn().state() == TcpState::time_wait);
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    CHECK(t.conn().timer(Timer::time_wait) == t.now() + 2 * t.config().msl);
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());
}

TEST_CASE("RFC 9293 §3.3.2 FIN-WAIT-2 -> TIME-WAIT: rcv FIN - snd ACK") {
    Script t;
    t.to_fin_wait_2();
    t.send(t.peer().ack(kIss + 2).fin());
    CHECK(t.conn().state() == TcpState::time_wait);
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->seq == SeqNum(kIss + 2));
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    CHECK(t.conn().timer(Timer::time_wait) == t.now() + 2 * t.config().msl);
    CHECK(t.events() == std::vector<Event>{Event{EventKind::peer_fin}});
}

TEST_CASE("RFC 9293 §3.3.2 CLOSING -> TIME-WAIT: rcv ACK of FIN") {
    Script t;
    t.to_closing();
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::time_wait);
    t.expect_nothing();
    CHECK(t.conn().timer(Timer::time_wait) == t.now() + 2 * t.config().msl);
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());
}

TEST_CASE("RFC 9293 §3.3.2 TIME-WAIT -> CLOSED: timeout = 2 MSL - delete TCB") {
    TcpConfig cfg = Script::default_config();
    cfg.msl = Duration{10'000'000};
    Script t(cfg);
    t.to_time_wait();
    CHECK(t.next_timer_in() == Duration{20'000'000});
    t.advance(Duration{20'000'000} - Duration{1});
    CHECK(t.conn().state() == TcpState::time_wait);
    t.advance(Duration{1});
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::graceful);
    t.expect_nothing();
    CHECK_FALSE(t.conn().poll_timeout().has_value());
    CHECK(t.closed_event() == CloseReason::graceful);
}

TEST_CASE("RFC 9293 §3.3.2 CLOSE-WAIT -> LAST-ACK: CLOSE - snd FIN") {
    Script t;
    t.to_close_wait();
    t.conn().close();
    CHECK(t.conn().state() == TcpState::last_ack);
    auto fin = t.expect_one();
    CHECK(fin->flags == (tcp_flag::fin | tcp_flag::ack));
    CHECK(fin->seq == SeqNum(kIss + 1));
    CHECK(fin->ack == SeqNum(kPeerIss + 2));
    CHECK(t.conn().timer(Timer::retransmit).has_value());
}

TEST_CASE("RFC 9293 §3.3.2 LAST-ACK -> CLOSED: rcv ACK of FIN - no TIME-WAIT") {
    Script t;
    (void)t.to_last_ack();
    t.send(t.peer().ack(kIss + 1));  // not the ACK of our FIN
    CHECK(t.conn().state() == TcpState::last_ack);
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::graceful);
    t.expect_nothing();
    CHECK_FALSE(t.conn().poll_timeout().has_value());
    CHECK(t.closed_event() == CloseReason::graceful);
}

}  // TEST_SUITE
