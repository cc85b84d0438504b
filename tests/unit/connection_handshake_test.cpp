// Opening a connection: SYN and SYN-ACK retransmission, simultaneous open, refusals, the checks of
// RFC 9293 §3.10.7.3 (SYN-SENT) and §3.10.7.4 (SYN-RECEIVED), and the MSS option.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {
constexpr Duration kSecond{1'000'000};
}

TEST_SUITE("connection") {

TEST_CASE("RFC 6298 §5.5 SYN retransmitted with exponential backoff - then timed_out") {
    TcpConfig cfg = Script::default_config();
    cfg.max_syn_retransmits = 4;
    Script t(cfg);
    t.conn().open_active(t.now());
    auto first = t.expect_one();
    // RFC 6298 §2.1 initial RTO 1 s, then §5.5 doubling: 1, 2, 4, 8 s.
    Duration expected = kSecond;
    for (unsigned i = 0; i < cfg.max_syn_retransmits; ++i) {
        CAPTURE(i);
        CHECK(t.next_timer_in() == expected);
        t.advance(expected - Duration{1});
        t.expect_nothing();
        t.advance(Duration{1});
        auto again = t.expect_one();
        CHECK(again->flags == tcp_flag::syn);
        CHECK(again->seq == SeqNum(kIss));
        CHECK(again->options.mss == first->options.mss);
        expected *= 2;
    }
    CHECK(t.conn().stats().retransmits == cfg.max_syn_retransmits);
    CHECK(t.conn().state() == TcpState::syn_sent);
    // The last wait (16 s) runs out: give up, no RST (the path is presumed dead).
    CHECK(t.next_timer_in() == expected);
    t.advance(expected);
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::timed_out);
    t.expect_nothing();
    CHECK(t.closed_event() == CloseReason::timed_out);
    std::vector<std::byte> buf(4);
    CHECK(t.conn().recv(buf).error == Errc::timed_out);
    CHECK(t.conn().send(bytes_of("x")).error == Errc::timed_out);
}

TEST_CASE("RFC 6298 §5.5 SYN-ACK retransmitted with backoff - bounded by max_synack_retransmits") {
    TcpConfig cfg = Script::default_config();
    cfg.max_synack_retransmits = 3;
    Script t(cfg);
    const auto syn = t.peer().syn().mss(1460).build();
    t.conn().open_passive(syn, t.now());
    (void)t.expect_one();
    Duration expected = kSecond;
    for (unsigned i = 0; i < cfg.max_synack_retransmits; ++i) {
        CAPTURE(i);
        CHECK(t.next_timer_in() == expected);
        t.advance(expected);
        auto sa = t.expect_one();
        CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK(sa->seq == SeqNum(kIss));
        CHECK(sa->ack == SeqNum(kPeerIss + 1));
        expected *= 2;
    }
    t.advance(expected);
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::timed_out);
    t.expect_nothing();
    CHECK(t.closed_event() == CloseReason::timed_out);
}

TEST_CASE("RFC 9293 §3.10.7.4 retransmitted SYN in SYN-RECEIVED re-sends the SYN-ACK") {
    Script t;
    const auto syn = t.peer().syn().mss(1460).build();
    t.conn().open_passive(syn, t.now());
    (void)t.expect_one();
    t.advance(Duration{300'000});
    t.conn().on_segment(syn, t.now());  // our SYN-ACK was lost; the peer sends its SYN again
    CHECK(t.conn().state() == TcpState::syn_received);
    auto sa = t.expect_one();
    CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
    CHECK(sa->seq == SeqNum(kIss));
    CHECK(sa->ack == SeqNum(kPeerIss + 1));
    t.expect_nothing();
    t.set_peer_nxt(kPeerIss + 1);
    t.advance(Duration{100'000});
    t.send(t.peer().ack(kIss + 1));
    CHECK(t.conn().state() == TcpState::established);
    // Karn (RFC 6298 §3): the SYN-ACK was sent twice, so the ACK gives no RTT sample.
    CHECK_FALSE(t.conn().rtt().srtt().has_value());
}

TEST_CASE("RFC 9293 §3.5 Figure 8 simultaneous open: SYN - then the peer's SYN ACK -> ESTABLISHED") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.advance(Duration{50'000});
    t.send(t.peer().syn().no_ack().mss(1000));
    REQUIRE(t.conn().state() == TcpState::syn_received);
    auto sa = t.expect_one();
    CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
    CHECK(sa->ack == SeqNum(kPeerIss + 1));
    t.advance(Duration{10'000});
    // Figure 8 line 6: their SYN,ACK <SEQ=IRS><ACK=ISS+1> moves us to ESTABLISHED. (The SYN lies
    // before RCV.NXT, so a strict reading of the acceptability test would drop it.)
    t.send(t.peer().seq(kPeerIss).syn().ack(kIss + 1).mss(1000));
    CHECK(t.conn().state() == TcpState::established);
    CHECK(t.conn().snd_una() == SeqNum(kIss + 1));
    CHECK(t.conn().rcv_nxt() == SeqNum(kPeerIss + 1));
    CHECK(t.conn().snd_mss() == 1000);
    CHECK(t.saw_event(EventKind::connected));
    t.expect_nothing();  // Figure 8 line 7: our SYN,ACK already says everything
    // Karn (RFC 6298 §3): our SYN went out twice (SYN, then SYN,ACK): no RTT sample.
    CHECK_FALSE(t.conn().rtt().srtt().has_value());
    // Data flows.
    REQUIRE(t.conn().send(bytes_of("abc")).value == 3);
    auto d = t.expect_one();
    CHECK(d->seq == SeqNum(kIss + 1));
    CHECK(d->ack == SeqNum(kPeerIss + 1));
}

TEST_CASE("RFC 9293 §3.5 simultaneous open: SYN - then the ACK of our SYN ACK -> ESTABLISHED") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().syn().no_ack().mss(1460));
    REQUIRE(t.conn().state() == TcpState::syn_received);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 1).data("early"));
    CHECK(t.conn().state() == TcpState::established);
    CHECK(t.read_all() == "early");
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 6));
    // The SYN-ACK of a simultaneous open is bounded by the SYN-ACK limit, and a RST to it is a
    // refusal, not a return to LISTEN (checked in the next case).
}

TEST_CASE("RFC 9293 §3.10.7.4 simultaneous open: RST in SYN-RECEIVED (active) -> refused") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().syn().no_ack().mss(1460));
    (void)t.expect_one();
    t.send(t.peer().rst());
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::refused);
    t.expect_nothing();
    CHECK(t.closed_event() == CloseReason::refused);
}

TEST_CASE("RFC 9293 §3.10.7.3 RST acknowledging our SYN -> refused") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().seq(0).rst().ack(kIss + 1));
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::refused);
    t.expect_nothing();
    CHECK(t.closed_event() == CloseReason::refused);
    CHECK(t.conn().stats().rst_received == 1);
    std::vector<std::byte> buf(4);
    CHECK(t.conn().recv(buf).error == Errc::refused);
}

TEST_CASE("RFC 9293 §3.10.7.3 RST in SYN-SENT without an acceptable ACK is ignored") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().rst());  // no ACK bit: cannot be about our SYN
    CHECK(t.conn().state() == TcpState::syn_sent);
    t.send(t.peer().rst().ack(kIss + 7));  // acknowledges something we never sent
    CHECK(t.conn().state() == TcpState::syn_sent);
    t.expect_nothing();  // never answer a RST
    t.send(t.peer().syn().ack(kIss + 1).mss(1460));
    CHECK(t.conn().state() == TcpState::established);
}

TEST_CASE("RFC 9293 §3.10.7.3 SYN-SENT with an unacceptable ACK -> <SEQ=SEG.ACK><CTL=RST>") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    SUBCASE("ACK beyond SND.NXT") {
        t.send(t.peer().syn().ack(kIss + 500).mss(1460));
        auto r = t.expect_one();
        CHECK(r->flags == tcp_flag::rst);
        CHECK(r->seq == SeqNum(kIss + 500));
    }
    SUBCASE("ACK of the ISS itself (SEG.ACK =< ISS)") {
        t.send(t.peer().ack(kIss));
        auto r = t.expect_one();
        CHECK(r->flags == tcp_flag::rst);
        CHECK(r->seq == SeqNum(kIss));
    }
    CHECK(t.conn().state() == TcpState::syn_sent);  // the segment is dropped, we keep trying
    CHECK(t.conn().stats().dropped_bad_ack == 1);
    t.send(t.peer().syn().ack(kIss + 1).mss(1460));
    CHECK(t.conn().state() == TcpState::established);
}

TEST_CASE("RFC 9293 §3.10.7.4 SYN-RECEIVED with an unacceptable ACK -> <SEQ=SEG.ACK><CTL=RST>") {
    Script t;
    const auto syn = t.peer().syn().mss(1460).build();
    t.conn().open_passive(syn, t.now());
    t.set_peer_nxt(kPeerIss + 1);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 77));
    auto r = t.expect_one();
    CHECK(r->flags == tcp_flag::rst);
    CHECK(r->seq == SeqNum(kIss + 77));
    CHECK(t.conn().state() == TcpState::syn_received);
    t.send(t.peer().ack(kIss));  // acknowledges nothing of ours
    auto r2 = t.expect_one();
    CHECK(r2->flags == tcp_flag::rst);
    CHECK(r2->seq == SeqNum(kIss));
    CHECK(t.conn().state() == TcpState::syn_received);
    t.send(t.peer().ack(kIss + 1));
    CHECK(t.conn().state() == TcpState::established);
}

TEST_CASE("RFC 5961 §3.2 SYN-RECEIVED: RST in the window but not exact -> challenge ACK") {
    Script t;
    t.conn().open_passive(t.peer().syn().mss(1460).build(), t.now());
    t.set_peer_nxt(kPeerIss + 1);
    (void)t.expect_one();
    t.send(t.peer().seq(kPeerIss + 100).rst());
    CHECK(t.conn().state() == TcpState::syn_received);
    auto c = t.expect_one();
    CHECK(c->flags == tcp_flag::ack);
    CHECK(c->seq == SeqNum(kIss + 1));
    CHECK(c->ack == SeqNum(kPeerIss + 1));
}

TEST_CASE("RFC 9293 §3.10.7.4 SYN-RECEIVED (passive): a new SYN returns it to LISTEN") {
    Script t;
    t.conn().open_passive(t.peer().syn().mss(1460).build(), t.now());
    t.set_peer_nxt(kPeerIss + 1);
    (void)t.expect_one();
    t.send(t.peer().seq(kPeerIss + 10).syn().no_ack());  // in the window, another ISN
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::reset);
    t.expect_nothing();  // §3.10.7.4 fourth: "return this connection to the LISTEN state"
}

TEST_CASE("RFC 9293 §3.10.5 ABORT in SYN-RECEIVED sends <SEQ=SND.NXT><CTL=RST>") {
    Script t;
    t.conn().open_passive(t.peer().syn().mss(1460).build(), t.now());
    (void)t.expect_one();
    t.conn().abort();
    CHECK(t.conn().state() == TcpState::closed);
    auto r = t.expect_one();
    CHECK(r->flags == tcp_flag::rst);
    CHECK(r->seq == SeqNum(kIss + 1));
    CHECK(t.closed_event() == CloseReason::aborted);
}

TEST_CASE("RFC 9293 §3.7.1 MSS option: 536 when absent (MUST-15) - else min(peer - ours)") {
    SUBCASE("absent") {
        Script t;
        t.conn().open_active(t.now());
        (void)t.expect_one();
        t.send(t.peer().syn().ack(kIss + 1));  // no MSS option
        (void)t.expect_one();
        CHECK(t.conn().snd_mss() == 536);
        REQUIRE(t.conn().send(pattern_bytes(1000)).value == 1000);
        auto v = t.expect_n(2);
        CHECK(v[0].payload().size() == 536);
        CHECK(v[1].payload().size() == 464);
    }
    SUBCASE("peer larger than ours") {
        Script t;
        t.conn().open_active(t.now());
        (void)t.expect_one();
        t.send(t.peer().syn().ack(kIss + 1).mss(9000));
        (void)t.expect_one();
        CHECK(t.conn().snd_mss() == t.config().mss);
    }
    SUBCASE("peer smaller than ours") {
        Script t;
        const auto syn = t.peer().syn().mss(700).build();
        t.conn().open_passive(syn, t.now());
        t.set_peer_nxt(kPeerIss + 1);
        (void)t.expect_one();
        t.send(t.peer().ack(kIss + 1));
        CHECK(t.conn().snd_mss() == 700);
        REQUIRE(t.conn().send(pattern_bytes(1500)).value == 1500);
        auto v = t.expect_n(3);
        CHECK(v[0].payload().size() == 700);
        CHECK(v[1].payload().size() == 700);
        CHECK(v[2].payload().size() == 100);
    }
}

TEST_CASE("RFC 9293 §3.10.7.3 data and FIN on the SYN ACK are accepted") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().syn().ack(kIss + 1).mss(1460).data("hello").fin());
    CHECK(t.conn().state() == TcpState::close_wait);
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 1 + 5 + 1));
    CHECK(t.read_all() == "hello");
    CHECK(t.conn().at_eof());
}

TEST_CASE("RFC 9293 §3.10.7.4 a retransmitted SYN ACK in ESTABLISHED is ACKed again") {
    Script t;
    t.establish_active();
    // Our ACK of the SYN,ACK was lost: the peer (still SYN-RECEIVED) sends it again.
    t.send(t.peer().seq(kPeerIss).syn().ack(kIss + 1).mss(1460));
    CHECK(t.conn().state() == TcpState::established);
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->seq == SeqNum(kIss + 1));
    CHECK(a->ack == SeqNum(kPeerIss + 1));
}

TEST_CASE("RFC 9293 §3.5 data queued in SYN-SENT goes out once ESTABLISHED") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    REQUIRE(t.conn().send(bytes_of("queued")).value == 6);
    t.expect_nothing();  // no data before the handshake completes
    t.send(t.peer().syn().ack(kIss + 1).mss(1460));
    auto d = t.expect_one();  // the ACK of their SYN rides on the data
    CHECK(d->seq == SeqNum(kIss + 1));
    CHECK(d->ack == SeqNum(kPeerIss + 1));
    CHECK(string_of(d.payload()) == "queued");
}

TEST_CASE("RFC 6298 §5.7 after a SYN timeout the RTO restarts at 3 s - RFC 6928 §2 IW") {
    SUBCASE("one SYN retransmission: RTO 3 s, initial window kept") {
        Script t;
        t.conn().open_active(t.now());
        (void)t.expect_one();
        t.advance(kSecond);
        (void)t.expect_one();  // SYN again
        t.send(t.peer().syn().ack(kIss + 1).mss(1000));
        (void)t.expect_one();
        CHECK_FALSE(t.conn().rtt().srtt().has_value());  // Karn: no sample from the SYN
        REQUIRE(t.conn().send(pattern_bytes(3000)).value == 3000);
        (void)t.expect_n(3);  // RFC 6928 §2: only more than one retransmission shrinks IW
        CHECK(t.next_timer_in() == 3 * kSecond);
    }
    SUBCASE("two SYN retransmissions: RTO 3 s, initial window one segment") {
        Script t;
        t.conn().open_active(t.now());
        (void)t.expect_one();
        t.advance(kSecond);
        (void)t.expect_one();
        t.advance(2 * kSecond);
        (void)t.expect_one();
        t.send(t.peer().syn().ack(kIss + 1).mss(1000));
        (void)t.expect_one();
        REQUIRE(t.conn().send(pattern_bytes(3000)).value == 3000);
        auto d = t.expect_one();
        CHECK(d.payload().size() == 1000);
        CHECK(t.next_timer_in() == 3 * kSecond);
    }
    SUBCASE("passive: a SYN,ACK retransmission") {
        Script t;
        t.conn().open_passive(t.peer().syn().mss(1460).build(), t.now());
        t.set_peer_nxt(kPeerIss + 1);
        (void)t.expect_one();
        t.advance(kSecond);
        (void)t.expect_one();  // SYN,ACK again
        t.send(t.peer().ack(kIss + 1));
        REQUIRE(t.conn().state() == TcpState::established);
        CHECK_FALSE(t.conn().rtt().srtt().has_value());
        REQUIRE(t.conn().send(bytes_of("x")).value == 1);
        (void)t.expect_one();
        CHECK(t.next_timer_in() == 3 * kSecond);
    }
    SUBCASE("no SYN timeout: the RTO comes from the handshake sample") {
        Script t;
        t.establish_active(65535, Duration{400'000});
        REQUIRE(t.conn().send(bytes_of("x")).value == 1);
        (void)t.expect_one();
        CHECK(t.next_timer_in() == Duration{1'200'000});  // 400 ms + 4 * 200 ms
    }
}

TEST_CASE("RFC 9293 §3.10.7.4 the ACK completing a passive open may carry data and a FIN") {
    Script t;
    t.conn().open_passive(t.peer().syn().mss(1460).build(), t.now());
    t.set_peer_nxt(kPeerIss + 1);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 1).data("GET /").fin());
    CHECK(t.conn().state() == TcpState::close_wait);
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 1 + 5 + 1));
    auto ev = t.events();
    REQUIRE(ev.size() == 3);
    CHECK(ev[0].kind == EventKind::connected);
    CHECK(ev[2].kind == EventKind::peer_fin);
    CHECK(t.read_all() == "GET /");
}

TEST_CASE("RFC 9293 §3.4 sequence numbers wrap around 2^32 on both sides") {
    const std::uint32_t iss = 0xFFFFFF00U;
    const std::uint32_t peer_iss = 0xFFFFFFF0U;
    Script t(Script::default_config(), iss, peer_iss);
    t.establish_active();
    const auto data = pattern_bytes(3000);
    REQUIRE(t.conn().send(data).value == 3000);
    auto v = t.expect_n(3);
    CHECK(v[0]->seq == SeqNum(iss + 1));
    CHECK(v[2]->seq == SeqNum(iss + 1 + 2920));  // past zero
    t.send(t.peer().ack(iss + 1 + 1460));
    t.send(t.peer().ack(iss + 1 + 3000).data(pattern_bytes(40, 'k')));  // peer crosses zero too
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(peer_iss + 1 + 40));
    CHECK(t.conn().all_acked());
    // Out of order across the wrap, then the gap fills.
    const std::uint32_t base = peer_iss + 1 + 40;
    t.send(t.peer().seq(base + 10).ack(iss + 3001).data("later").fin());
    (void)t.expect_one();
    t.send(t.peer().seq(base).ack(iss + 3001).data("0123456789"));
    auto a2 = t.expect_one();
    CHECK(a2->ack == SeqNum(base + 16));
    CHECK(t.read_all() == string_of(pattern_bytes(40, 'k')) + "0123456789later");
    CHECK(t.conn().state() == TcpState::close_wait);
}

}  // TEST_SUITE
