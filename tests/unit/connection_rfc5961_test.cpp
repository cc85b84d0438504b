// RFC 5961 blind-attack hardening as folded into RFC 9293 §3.10.7.4: RST and SYN checks with
// challenge ACKs (rate-limited), the ACK acceptability test, and unacceptable segments.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

TEST_SUITE("connection") {

TEST_CASE("RFC 5961 §3.2 RST with SEQ == RCV.NXT resets the connection") {
    Script t;
    t.establish_active();
    t.send(t.peer().rst());
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::reset);
    t.expect_nothing();  // a RST is never answered
    CHECK(t.closed_event() == CloseReason::reset);
    CHECK(t.conn().stats().rst_received == 1);
    std::vector<std::byte> buf(4);
    CHECK(t.conn().recv(buf).error == Errc::reset);
    CHECK(t.conn().send(bytes_of("x")).error == Errc::reset);
    CHECK_FALSE(t.conn().poll_timeout().has_value());
}

TEST_CASE("RFC 5961 §3.2 RST in the window but not at RCV.NXT -> challenge ACK - no reset") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("data")).value == 4);
    (void)t.expect_one();
    t.send(t.peer().seq(kPeerIss + 1 + 1000).rst());
    CHECK(t.conn().state() == TcpState::established);
    auto c = t.expect_one();
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    CHECK(c->flags == tcp_flag::ack);
    CHECK(c->seq == SeqNum(kIss + 5));
    CHECK(c->ack == SeqNum(kPeerIss + 1));
    CHECK(c.payload().empty());
    CHECK(t.conn().stats().challenge_acks == 1);
    CHECK(t.events().empty());
    // The real peer, having lost its state, answers the challenge ACK with an exact RST.
    t.send(t.peer().seq(kPeerIss + 1).rst());
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::reset);
}

TEST_CASE("RFC 5961 §3.2 RST outside the window is dropped silently") {
    Script t;
    t.establish_active();
    t.send(t.peer().seq(kPeerIss + 1 + 200000).rst());  // beyond RCV.NXT + RCV.WND
    t.send(t.peer().seq(kPeerIss - 10).rst());          // before RCV.NXT
    CHECK(t.conn().state() == TcpState::established);
    t.expect_nothing();
    CHECK(t.conn().stats().rst_ignored == 2);
    CHECK(t.conn().stats().challenge_acks == 0);
}

TEST_CASE("RFC 9293 SHLD-2 a RST carrying data is processed like any RST") {
    Script t;
    t.establish_active();
    t.send(t.peer().rst().data("diagnostic text"));
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::reset);
    CHECK(t.conn().recv_available() == 0);  // the text is not delivered
}

TEST_CASE("RFC 5961 §3.2 RST resets FIN-WAIT-1/2 - CLOSE-WAIT - CLOSING and LAST-ACK just close") {
    Script t;
    SUBCASE("FIN-WAIT-1") { (void)t.to_fin_wait_1(); }
    SUBCASE("FIN-WAIT-2") { t.to_fin_wait_2(); }
    SUBCASE("CLOSE-WAIT") { t.to_close_wait(); }
    SUBCASE("CLOSING") { t.to_closing(); }
    SUBCASE("LAST-ACK") { (void)t.to_last_ack(); }
    (void)t.events();
    t.send(t.peer().rst());
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.closed_event() == CloseReason::reset);
    t.expect_nothing();
}

TEST_CASE("RFC 5961 §4.2 SYN in ESTABLISHED -> challenge ACK - segment dropped") {
    Script t;
    t.establish_active();
    SUBCASE("in the window") { t.send(t.peer().syn().no_ack()); }
    SUBCASE("outside the window") { t.send(t.peer().seq(kPeerIss + 900000).syn().no_ack()); }
    SUBCASE("SYN,ACK with data") { t.send(t.peer().syn().ack(kIss + 1).data("x")); }
    CHECK(t.conn().state() == TcpState::established);
    auto c = t.expect_one();
    CHECK(c->flags == tcp_flag::ack);
    CHECK(c->seq == SeqNum(kIss + 1));
    CHECK(c->ack == SeqNum(kPeerIss + 1));
    CHECK(t.conn().recv_available() == 0);
}

TEST_CASE("RFC 5961 §4.2 SYN in TIME-WAIT -> challenge ACK") {
    Script t;
    t.to_time_wait();
    t.send(t.peer().seq(kPeerIss + 50000).syn().no_ack());
    CHECK(t.conn().state() == TcpState::time_wait);
    auto c = t.expect_one();
    CHECK(c->flags == tcp_flag::ack);
    CHECK(c->ack == SeqNum(kPeerIss + 2));
}

TEST_CASE("RFC 5961 §7 challenge ACKs are rate-limited per second") {
    TcpConfig cfg = Script::default_config();
    cfg.challenge_ack_limit = 3;
    Script t(cfg);
    t.establish_active();
    t.advance(Duration{5'000'000});
    int acks = 0;
    for (int i = 0; i < 5; ++i) {
        t.send(t.peer().seq(kPeerIss + 100 + static_cast<std::uint32_t>(i)).rst());
        acks += static_cast<int>(t.transmit().size());
    }
    t.send(t.peer().syn().no_ack());
    acks += static_cast<int>(t.transmit().size());
    CHECK(acks == 3);
    CHECK(t.conn().stats().challenge_acks == 3);
    CHECK(t.conn().stats().challenge_acks_suppressed == 3);
    t.advance(Duration{1'000'000});  // a new second
    t.send(t.peer().syn().no_ack());
    CHECK(t.transmit().size() == 1);
    CHECK(t.conn().stats().challenge_acks == 4);
    CHECK(t.conn().state() == TcpState::established);
}

TEST_CASE("RFC 5961 §7 the rate limit also covers SYNs outside the window") {
    TcpConfig cfg = Script::default_config();
    cfg.challenge_ack_limit = 2;
    Script t(cfg);
    t.establish_active();
    t.advance(Duration{5'000'000});
    std::size_t acks = 0;
    for (std::uint32_t i = 0; i < 6; ++i) {
        t.send(t.peer().seq(kPeerIss + 900000 + i * 1000).syn().no_ack());  // spoofed SYN flood
        acks += t.transmit().size();
    }
    CHECK(acks == 2);
    CHECK(t.conn().stats().challenge_acks == 2);
    CHECK(t.conn().stats().challenge_acks_suppressed == 4);
    CHECK(t.conn().state() == TcpState::established);
}

TEST_CASE("RFC 9293 §3.10.7.4 ACK of data not yet sent (> SND.NXT) -> dropped - ACK sent") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("abc")).value == 3);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 100).data("text"));
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->seq == SeqNum(kIss + 4));
    CHECK(a->ack == SeqNum(kPeerIss + 1));  // the text was dropped with the segment
    CHECK(t.conn().recv_available() == 0);
    CHECK(t.conn().snd_una() == SeqNum(kIss + 1));
    CHECK(t.conn().stats().dropped_bad_ack == 1);
}

TEST_CASE("RFC 5961 §5.2 ACK older than SND.UNA - MAX.SND.WND -> dropped - ACK sent") {
    Script t;
    t.establish_active(/*peer_window=*/1000);
    // Move SND.UNA well past MAX.SND.WND.
    for (int i = 0; i < 3; ++i) {
        REQUIRE(t.conn().send(pattern_bytes(1000)).value == 1000);
        (void)t.expect_one();
        t.send(t.peer_ack().win(1000));
    }
    REQUIRE(t.conn().snd_una() == SeqNum(kIss + 3001));
    // SEG.ACK = SND.UNA - 1000 is still acceptable (a duplicate): processed, data taken.
    t.send(t.peer().ack(kIss + 2001).win(1000).data("ok"));
    auto a1 = t.expect_one();
    CHECK(a1->ack == SeqNum(kPeerIss + 3));
    CHECK(t.read_all() == "ok");
    // SEG.ACK = SND.UNA - 1001 is too old: dropped with its data, ACK sent.
    t.send(t.peer().ack(kIss + 2000).win(1000).data("no"));
    auto a2 = t.expect_one();
    CHECK(a2->ack == SeqNum(kPeerIss + 3));
    CHECK(t.conn().recv_available() == 0);
    CHECK(t.conn().stats().dropped_bad_ack == 1);
}

TEST_CASE("RFC 9293 §3.10.7.4 unacceptable segment (outside the window) -> ACK and drop") {
    TcpConfig cfg = Script::default_config();
    cfg.recv_buffer = 2000;
    Script t(cfg);
    t.establish_active();
    SUBCASE("data beyond the window") {
        t.send(t.peer().seq(kPeerIss + 1 + 5000).ack(kIss + 1).data("far"));
    }
    SUBCASE("old data entirely before RCV.NXT") {
        t.send(t.peer().ack(kIss + 1).data("abc"));
        (void)t.expect_one();
        (void)t.read_all();
        t.send(t.peer().seq(kPeerIss - 20).ack(kIss + 1).data("old"));
    }
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->ack == t.conn().rcv_nxt());
    CHECK(t.conn().recv_available() == 0);
    CHECK(t.conn().stats().dropped_unacceptable == 1);
}

TEST_CASE("RFC 9293 §3.10.7.4 unacceptable pure ACKs are answered at most once per 500 ms") {
    Script t;
    t.establish_active();
    t.send(t.peer().seq(kPeerIss + 900000).ack(kIss + 1));
    CHECK(t.transmit().size() == 1);
    t.send(t.peer().seq(kPeerIss + 900000).ack(kIss + 1));
    CHECK(t.transmit().empty());  // no ACK war with a confused peer
    t.advance(Duration{500'000});
    t.send(t.peer().seq(kPeerIss + 900000).ack(kIss + 1));
    CHECK(t.transmit().size() == 1);
    CHECK(t.conn().stats().dropped_unacceptable == 3);
}

TEST_CASE("RFC 9293 §3.10.7.4 zero receive window: only segments at RCV.NXT are acceptable") {
    TcpConfig cfg = Script::default_config();
    cfg.recv_buffer = 1000;
    Script t(cfg);
    t.establish_passive();
    t.send(t.peer().ack(kIss + 1).data(pattern_bytes(1000)));
    REQUIRE(t.expect_one()->window == 0);
    // Text at RCV.NXT: ACK processed, text trimmed away, ACK sent with the zero window.
    REQUIRE(t.conn().send(bytes_of("hi")).value == 2);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 3).data("more"));
    CHECK(t.conn().snd_una() == SeqNum(kIss + 3));  // its ACK was taken
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 1001));
    CHECK(a->window == 0);
    // A RST at RCV.NXT is still acceptable.
    t.send(t.peer().seq(kPeerIss + 1001).rst());
    CHECK(t.conn().close_reason() == CloseReason::reset);
}

}  // TEST_SUITE
