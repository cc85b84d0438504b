// Retransmission: the RFC 6298 timer (initial value, estimation, Karn, backoff, give-up), go-back
// retransmission after a timeout, and RFC 5681 §3.2 fast retransmit.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {
constexpr Duration kMs{1'000};
}

TEST_SUITE("connection") {

TEST_CASE("RFC 6298 §2.1 the RTO is 1 s before any RTT sample (SYN and SYN-ACK)") {
    Script a;
    a.conn().open_active(a.now());
    (void)a.expect_one();
    CHECK(a.conn().rtt().rto() == Duration{1'000'000});
    CHECK(a.next_timer_in() == Duration{1'000'000});
    Script p;
    p.conn().open_passive(p.peer().syn().mss(1460).build(), p.now());
    (void)p.expect_one();
    CHECK(p.next_timer_in() == Duration{1'000'000});
}

TEST_CASE("RFC 6298 §2.2 §2.3 SRTT and RTTVAR from samples - §5.3 timer restarted on new ACK") {
    Script t;
    t.establish_active(65535, 100 * kMs);  // first sample R = 100 ms from the handshake
    REQUIRE(t.conn().rtt().srtt().has_value());
    CHECK(*t.conn().rtt().srtt() == 100 * kMs);  // §2.2: SRTT = R
    CHECK(t.conn().rtt().rttvar() == 50 * kMs);  //       RTTVAR = R/2
    CHECK(t.conn().rtt().rto() == 300 * kMs);    //       RTO = SRTT + 4*RTTVAR

    REQUIRE(t.conn().send(pattern_bytes(100)).value == 100);
    (void)t.expect_one();
    CHECK(t.next_timer_in() == 300 * kMs);  // §5.1: started with the current RTO
    t.advance(200 * kMs);
    t.send(t.peer().ack(kIss + 101));
    // §2.3: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5 ms; SRTT = 7/8*100 + 1/8*200 = 112.5 ms
    CHECK(*t.conn().rtt().srtt() == Duration{112'500});
    CHECK(t.conn().rtt().rttvar() == Duration{62'500});
    CHECK(t.conn().rtt().rto() == Duration{362'500});
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());  // §5.2: all acknowledged

    REQUIRE(t.conn().send(pattern_bytes(2000)).value == 2000);
    (void)t.expect_n(2);
    t.advance(100 * kMs);
    t.send(t.peer().ack(kIss + 101 + 1460));  // §5.3: new data acked, restart with RTO
    REQUIRE(t.conn().timer(Timer::retransmit).has_value());
    CHECK(t.next_timer_in() == t.conn().rtt().rto());
}

TEST_CASE("RFC 6298 §3 Karn: no RTT sample from a retransmitted segment - backoff kept until one") {
    Script t;
    t.establish_active(65535, 100 * kMs);
    const Duration rto = t.conn().rtt().rto();
    REQUIRE(rto == 300 * kMs);
    REQUIRE(t.conn().send(bytes_of("karn")).value == 4);
    (void)t.expect_one();
    t.advance(rto);
    auto re = t.expect_one();
    CHECK(string_of(re.payload()) == "karn");
    t.advance(20 * kMs);
    t.send(t.peer().ack(kIss + 5));  // the ACK of which copy? ambiguous: no sample
    CHECK(*t.conn().rtt().srtt() == 100 * kMs);
    CHECK(t.conn().rtt().rttvar() == 50 * kMs);
    // §5.7: the backed-off RTO (600 ms) is kept for the next segment...
    REQUIRE(t.conn().send(bytes_of("next")).value == 4);
    (void)t.expect_one();
    CHECK(t.next_timer_in() == 2 * rto);
    // ...until a segment that was sent once is acknowledged and gives a sample.
    t.advance(100 * kMs);
    t.send(t.peer().ack(kIss + 9));
    CHECK(t.conn().rtt().backoff_count() == 0);
    // R = 100 ms: RTTVAR = 3/4*50 + 0 = 37.5 ms, SRTT = 100 ms, RTO = 100 + 150 = 250 ms.
    CHECK(t.conn().rtt().rto() == Duration{250'000});
}

TEST_CASE("RFC 6298 §5.5 data retransmission backs off exponentially - then timed_out") {
    TcpConfig cfg = Script::default_config();
    cfg.max_retransmits = 4;
    Script t(cfg);
    t.establish_active();
    const Duration rto = t.conn().rtt().rto();
    REQUIRE(t.conn().send(bytes_of("lost")).value == 4);
    auto orig = t.expect_one();
    Duration gap = rto;
    for (unsigned i = 0; i < cfg.max_retransmits; ++i) {
        CAPTURE(i);
        CHECK(t.next_timer_in() == gap);
        t.advance(gap - Duration{1});
        t.expect_nothing();
        t.advance(Duration{1});
        auto re = t.expect_one();
        CHECK(re->seq == orig->seq);
        CHECK(string_of(re.payload()) == "lost");
        gap *= 2;
    }
    CHECK(t.conn().stats().retransmits == cfg.max_retransmits);
    CHECK(t.conn().stats().timeouts == cfg.max_retransmits);
    t.advance(gap);  // RFC 9293 §3.8.3 R2: give up
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::timed_out);
    t.expect_nothing();  // no RST: the path is presumed dead
    CHECK(t.closed_event() == CloseReason::timed_out);
    CHECK(t.conn().send(bytes_of("x")).error == Errc::timed_out);
    std::vector<std::byte> buf(4);
    CHECK(t.conn().recv(buf).error == Errc::timed_out);
    CHECK_FALSE(t.conn().holds_buffers());
}

TEST_CASE("RFC 6298 §2.5 the backed-off RTO is capped at rto_max") {
    TcpConfig cfg = Script::default_config();
    cfg.rto_max = Duration{1'000'000};
    Script t(cfg);
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("x")).value == 1);
    (void)t.expect_one();
    for (int i = 0; i < 6; ++i) {
        CHECK(t.next_timer_in() <= cfg.rto_max);
        REQUIRE(t.fire_next_timer());
        (void)t.expect_one();
    }
    CHECK(t.next_timer_in() == cfg.rto_max);
}

TEST_CASE("RFC 6928 §2 initial window of 10 segments - RFC 5681 §3.1 slow start per ACK") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(pattern_bytes(20 * 1460)).value == 20 * 1460);
    (void)t.expect_n(10);  // IW = min(10*MSS, max(2*MSS, 14600)) = 14600
    CHECK(t.conn().cwnd() == 14600);
    t.send(t.peer().ack(kIss + 1 + 2 * 1460));  // one ACK for two segments: cwnd += min(N, SMSS)
    CHECK(t.conn().cwnd() == 14600 + 1460);
    auto w = t.expect_n(3);  // two segments left the network, the window grew by one
    CHECK(w[0]->seq == SeqNum(kIss + 1 + 10 * 1460));
}

TEST_CASE("RFC 5681 §3.1 after a timeout: one segment - then go back and resend the rest") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(pattern_bytes(3 * 1460)).value == 3 * 1460);
    auto sent = t.expect_n(3);
    REQUIRE(t.fire_next_timer());
    // cwnd = 1 SMSS (loss window): only the oldest segment.
    auto r1 = t.expect_one();
    CHECK(r1->seq == SeqNum(kIss + 1));
    CHECK(r1.payload().size() == 1460);
    CHECK(t.conn().cwnd() == 1460);
    t.send(t.peer().ack(kIss + 1 + 1460));
    // Slow start: 2 SMSS; SND.NXT was pulled back, so the other two are sent again.
    auto r = t.expect_n(2);
    CHECK(r[0]->seq == SeqNum(kIss + 1 + 1460));
    CHECK(r[1]->seq == SeqNum(kIss + 1 + 2920));
    CHECK(string_of(r[1].payload()) == string_of(sent[2].payload()));
    CHECK(t.conn().stats().retransmits == 3);
    t.send(t.peer().ack(kIss + 1 + 3 * 1460));
    CHECK(t.conn().all_acked());
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());
}

TEST_CASE("RFC 6298 §5 an ACK covering segments never resent after go-back moves SND.NXT ahead") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(pattern_bytes(3 * 1460)).value == 3 * 1460);
    (void)t.expect_n(3);
    REQUIRE(t.fire_next_timer());
    (void)t.expect_one();  // first segment again
    // Only the ACKs had been lost: everything is acknowledged at once.
    t.send(t.peer().ack(kIss + 1 + 3 * 1460));
    CHECK(t.conn().snd_nxt() == SeqNum(kIss + 1 + 3 * 1460));
    t.expect_nothing();
    CHECK(t.conn().all_acked());
}

TEST_CASE("RFC 5681 §3.2 fast retransmit after 3 duplicate ACKs sends exactly one segment") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(pattern_bytes(5 * 1460)).value == 5 * 1460);
    auto sent = t.expect_n(5);
    t.send(t.peer().ack(kIss + 1 + 1460));  // segment 1 arrived; segment 2 is lost
    t.expect_nothing();
    t.send(t.peer().ack(kIss + 1 + 1460));
    t.send(t.peer().ack(kIss + 1 + 1460));
    t.expect_nothing();  // two duplicates are not enough
    t.send(t.peer().ack(kIss + 1 + 1460));
    auto re = t.expect_one();
    CHECK(re->seq == SeqNum(kIss + 1 + 1460));
    CHECK(re.payload().size() == 1460);
    CHECK(string_of(re.payload()) == string_of(sent[1].payload()));
    CHECK(t.conn().stats().fast_retransmits == 1);
    CHECK(t.conn().stats().retransmits == 1);
    // Further duplicates (recovery) do not resend it again.
    t.send(t.peer().ack(kIss + 1 + 1460));
    t.expect_nothing();
    CHECK(t.conn().stats().retransmits == 1);
    // The retransmission fills the hole: everything is acknowledged.
    t.send(t.peer().ack(kIss + 1 + 5 * 1460));
    t.expect_nothing();
    CHECK(t.conn().all_acked());
}

TEST_CASE("RFC 6582 §3.2 partial ACK in fast recovery resends the next hole") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(pattern_bytes(5 * 1460)).value == 5 * 1460);
    (void)t.expect_n(5);
    // Three duplicates of SND.UNA (segment 1 lost, and segment 3 too).
    for (int i = 0; i < 3; ++i) t.send(t.peer().ack(kIss + 1));
    auto re = t.expect_one();
    CHECK(re->seq == SeqNum(kIss + 1));
    t.send(t.peer().ack(kIss + 1 + 2 * 1460));  // partial: up to the second hole
    auto re2 = t.expect_one();
    CHECK(re2->seq == SeqNum(kIss + 1 + 2 * 1460));
    CHECK(re2.payload().size() == 1460);
}

}  // TEST_SUITE
