// Data transfer: send buffer, segmentation, windows both ways, reassembly, zero-window probing and
// delayed ACKs (RFC 9293 §3.8, §3.10.7.4 seventh; RFC 1122 §4.2.3; RFC 5681 §4.2).
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {
constexpr Duration kMs{1'000};
}

TEST_SUITE("connection") {

TEST_CASE("RFC 9293 §3.10.2 SEND: the send buffer bounds what is taken - would_block when full") {
    TcpConfig cfg = Script::default_config();
    cfg.send_buffer = 1000;
    Script t(cfg);
    t.establish_active(/*peer_window=*/500);
    CHECK(t.conn().send_space() == 1000);
    auto r = t.conn().send(pattern_bytes(1500));
    REQUIRE(r.ok());
    CHECK(r.value == 1000);
    CHECK(t.conn().send_space() == 0);
    CHECK(t.conn().send(pattern_bytes(10)).error == Errc::would_block);
    auto d = t.expect_one();  // the peer's window lets 500 out
    CHECK(d.payload().size() == 500);
    CHECK(t.conn().send(pattern_bytes(10)).error == Errc::would_block);  // unacked data stays
    t.send(t.peer().ack(kIss + 1 + 500).win(500));
    CHECK(t.saw_event(EventKind::writable));
    CHECK(t.conn().send_space() == 500);
    CHECK(t.conn().send(pattern_bytes(600)).value == 500);
}

TEST_CASE("RFC 9293 §3.7.1 data is segmented at the send MSS") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().syn().ack(kIss + 1).mss(1000));
    (void)t.expect_one();
    const auto data = pattern_bytes(2500);
    REQUIRE(t.conn().send(data).value == 2500);
    auto v = t.expect_n(3);
    CHECK(v[0]->seq == SeqNum(kIss + 1));
    CHECK(v[0].payload().size() == 1000);
    CHECK(v[1]->seq == SeqNum(kIss + 1001));
    CHECK(v[1].payload().size() == 1000);
    CHECK(v[2]->seq == SeqNum(kIss + 2001));
    CHECK(v[2].payload().size() == 500);
    CHECK((v[2]->flags & tcp_flag::psh) != 0);  // the last segment of what was queued
    std::string all;
    for (const auto& s : v) all += string_of(s.payload());
    CHECK(all == string_of(data));
}

TEST_CASE("RFC 9293 §3.8.6 the peer's window limits what we send") {
    Script t;
    t.establish_active(/*peer_window=*/1000);
    REQUIRE(t.conn().send(pattern_bytes(3000)).value == 3000);
    auto d = t.expect_one();
    CHECK(d.payload().size() == 1000);
    t.expect_nothing();
    t.send(t.peer().ack(kIss + 501).win(1000));  // right edge moves by 500
    auto d2 = t.expect_one();
    CHECK(d2->seq == SeqNum(kIss + 1001));
    CHECK(d2.payload().size() == 500);
    t.send(t.peer().ack(kIss + 1501).win(2000));  // right edge kIss+3501
    auto v = t.expect_n(2);
    CHECK(v[0]->seq == SeqNum(kIss + 1501));
    CHECK(v[0].payload().size() == 1460);
    CHECK(v[1].payload().size() == 40);
    t.expect_nothing();
}

TEST_CASE("RFC 9293 §3.10.7.4 window update only from an ACK with SND.UNA =< SEG.ACK") {
    Script t;
    t.establish_active(/*peer_window=*/1000);
    REQUIRE(t.conn().send(pattern_bytes(3000)).value == 3000);
    (void)t.expect_one();  // 1000 bytes
    t.send(t.peer().ack(kIss + 1001).win(0));
    CHECK(t.conn().snd_wnd() == 0);
    // A segment with a newer SEG.SEQ than the last window update (SND.WL1) but an older SEG.ACK:
    // its window is relative to an old ACK and must not be used.
    t.send(t.peer().seq(kPeerIss + 3).ack(kIss + 1).win(4000).data("xy"));
    CHECK(t.conn().snd_wnd() == 0);
    auto a = t.expect_one();  // its data is still taken (held out of order) and ACKed
    CHECK(a->ack == SeqNum(kPeerIss + 1));
    CHECK(a.payload().empty());
    CHECK(t.conn().stats().ooo_segments == 1);
}

TEST_CASE("RFC 9293 §3.8.6.2 the receive window is advertised from free buffer space") {
    TcpConfig cfg = Script::default_config();
    cfg.recv_buffer = 4000;
    Script t(cfg);
    t.establish_passive();
    t.send(t.peer().ack(kIss + 1).data(pattern_bytes(1000)));
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 1001));
    CHECK(a->window == 3000);
    CHECK(t.conn().rcv_wnd() == 3000);
}

TEST_CASE("RFC 9293 §3.10.7.4 data beyond the receive window is trimmed") {
    TcpConfig cfg = Script::default_config();
    cfg.recv_buffer = 1000;
    Script t(cfg);
    t.establish_passive();
    t.send(t.peer().ack(kIss + 1).data(pattern_bytes(1500)).fin());
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 1 + 1000));  // neither the tail nor the FIN taken
    CHECK(a->window == 0);
    CHECK(t.conn().state() == TcpState::established);
    CHECK(t.read_all() == string_of(pattern_bytes(1000)));
    CHECK_FALSE(t.conn().peer_fin_received());
}

TEST_CASE("RFC 9293 §3.10.7.4 out-of-order segments are held and delivered when the gap fills") {
    Script t;
    t.establish_passive();
    const std::uint32_t base = kPeerIss + 1;
    t.send(t.peer().seq(base + 3).ack(kIss + 1).data("def"));
    auto d1 = t.expect_one();  // RFC 5681 §4.2: immediate duplicate ACK for out-of-order data
    CHECK(d1->ack == SeqNum(base));
    t.send(t.peer().seq(base + 9).ack(kIss + 1).data("jkl"));
    auto d2 = t.expect_one();
    CHECK(d2->ack == SeqNum(base));
    CHECK(t.conn().recv_available() == 0);
    CHECK_FALSE(t.saw_event(EventKind::readable));
    CHECK(t.conn().stats().ooo_segments == 2);
    t.send(t.peer().seq(base).ack(kIss + 1).data("abc"));
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(base + 6));  // "abc" + the held "def"
    t.send(t.peer().seq(base + 6).ack(kIss + 1).data("ghi"));
    auto a2 = t.expect_one();
    CHECK(a2->ack == SeqNum(base + 12));
    CHECK(t.saw_event(EventKind::readable));
    CHECK(t.read_all() == "abcdefghijkl");
}

TEST_CASE("RFC 9293 §3.10.7.4 reassembly is bounded: beyond max_ooo_ranges a segment is dropped") {
    TcpConfig cfg = Script::default_config();
    cfg.max_ooo_ranges = 2;
    Script t(cfg);
    t.establish_passive();
    const std::uint32_t base = kPeerIss + 1;
    t.send(t.peer().seq(base + 10).ack(kIss + 1).data("B"));
    t.send(t.peer().seq(base + 20).ack(kIss + 1).data("C"));
    t.send(t.peer().seq(base + 30).ack(kIss + 1).data("D"));  // a third range: dropped
    CHECK(t.conn().stats().ooo_segments == 2);
    CHECK(t.conn().stats().dropped_ooo_limit == 1);
    t.send(t.peer().seq(base + 11).ack(kIss + 1).data("b"));  // extends a range: kept
    CHECK(t.conn().stats().ooo_segments == 3);
    (void)t.transmit();
    // Fill everything up to the first range: B b held, then C; D must be sent again.
    t.send(t.peer().seq(base).ack(kIss + 1).data("0123456789"));
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(base + 12));
    CHECK(t.read_all() == "0123456789Bb");
}

TEST_CASE("RFC 9293 §3.10.7.4 duplicate data is re-ACKed and not delivered twice") {
    Script t;
    t.establish_passive();
    t.send(t.peer().ack(kIss + 1).data("hello"));
    (void)t.expect_one();
    CHECK(t.read_all() == "hello");
    t.send(t.peer().seq(kPeerIss + 1).ack(kIss + 1).data("hello"));  // the same again
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 6));
    CHECK(t.conn().recv_available() == 0);
    // Overlapping: old bytes trimmed, the new ones taken.
    t.send(t.peer().seq(kPeerIss + 4).ack(kIss + 1).data("loworld"));
    auto a2 = t.expect_one();
    CHECK(a2->ack == SeqNum(kPeerIss + 11));
    CHECK(t.read_all() == "world");
}

TEST_CASE("RFC 9293 §3.8.6.1 zero window: sender stops - probes back off - resumes on update") {
    Script t;
    t.establish_active(/*peer_window=*/1000);
    REQUIRE(t.conn().send(pattern_bytes(3000)).value == 3000);
    (void)t.expect_one();  // 1000 bytes
    t.send(t.peer().ack(kIss + 1001).win(0));
    t.expect_nothing();  // the window is closed
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());
    REQUIRE(t.conn().timer(Timer::persist).has_value());
    const Duration first = t.next_timer_in();
    CHECK(first == t.conn().rtt().rto());  // SHLD-29: the first probe after one RTO
    Duration gap = first;
    for (int i = 0; i < 4; ++i) {
        CAPTURE(i);
        CHECK(t.next_timer_in() == gap);
        t.advance(gap);
        auto p = t.expect_one();
        CHECK(p->flags == tcp_flag::ack);
        CHECK(p->seq == SeqNum(kIss + 1000));  // SND.UNA - 1: the peer must answer it
        CHECK(p.payload().empty());
        // The peer answers: still zero. MUST-67: the connection is not dropped for that.
        t.send(t.peer().ack(kIss + 1001).win(0));
        t.expect_nothing();
        gap *= 2;  // SHLD-30: exponential backoff
    }
    CHECK(t.conn().stats().zero_window_probes == 4);
    CHECK(t.conn().state() == TcpState::established);
    t.send(t.peer().ack(kIss + 1001).win(1500));  // the window opens
    auto v = t.expect_one();
    CHECK(v->seq == SeqNum(kIss + 1001));
    CHECK(v.payload().size() == 1460);
    // Sender SWS avoidance (RFC 1122 §4.2.3.4): the 40 bytes the window still allows are not
    // sent while data is in flight (less than MSS and less than half the largest window).
    CHECK_FALSE(t.conn().timer(Timer::persist).has_value());
    t.send(t.peer().ack(kIss + 2461).win(1500));
    auto rest = t.expect_one();
    CHECK(rest.payload().size() == 540);
}

TEST_CASE("RFC 9293 MUST-35 a window that shrinks to zero under data in flight is probed") {
    TcpConfig cfg = Script::default_config();
    cfg.max_retransmits = 3;
    Script t(cfg);
    t.establish_active(/*peer_window=*/3000);
    REQUIRE(t.conn().send(pattern_bytes(3000)).value == 3000);
    (void)t.expect_n(3);
    // The receiver takes the first segment and shrinks its window to zero (SHLD-14 says it
    // should not; MUST-34 says we must cope): the other 1540 bytes lie beyond the window.
    t.send(t.peer().ack(kIss + 1461).win(0));
    t.expect_nothing();
    CHECK_FALSE(t.conn().timer(Timer::retransmit).has_value());
    REQUIRE(t.conn().timer(Timer::persist).has_value());
    // Far longer than max_retransmits timeouts would take: probes, answered, and no time-out
    // (SHLD-16).
    for (int i = 0; i < 10; ++i) {
        REQUIRE(t.fire_next_timer());
        auto p = t.expect_one();
        CHECK(p.payload().empty());
        CHECK(p->seq == SeqNum(kIss + 1460));
        t.send(t.peer().ack(kIss + 1461).win(0));
        t.expect_nothing();
    }
    CHECK(t.conn().state() == TcpState::established);
    t.send(t.peer().ack(kIss + 1461).win(4000));  // it opens: the dropped data goes again
    auto v = t.expect_n(2);
    CHECK(v[0]->seq == SeqNum(kIss + 1461));
    CHECK(v[0].payload().size() == 1460);
    CHECK(v[1]->seq == SeqNum(kIss + 2921));
    CHECK(v[1].payload().size() == 80);
    CHECK(t.conn().timer(Timer::retransmit).has_value());
    t.send(t.peer().ack(kIss + 3001).win(4000));
    CHECK(t.conn().all_acked());
}

TEST_CASE("RFC 9293 §3.8.6.1 persist backoff is capped at persist_max") {
    TcpConfig cfg = Script::default_config();
    cfg.persist_max = Duration{1'000'000};
    Script t(cfg);
    t.establish_active(/*peer_window=*/100);
    REQUIRE(t.conn().send(pattern_bytes(300)).value == 300);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 101).win(0));
    t.expect_nothing();
    for (int i = 0; i < 8; ++i) {
        CHECK(t.next_timer_in() <= cfg.persist_max);
        REQUIRE(t.fire_next_timer());
        (void)t.expect_one();
    }
    CHECK(t.next_timer_in() == cfg.persist_max);
}

TEST_CASE("RFC 9293 §3.8.6.2.2 a window update goes out when the app reads a closed window") {
    TcpConfig cfg = Script::default_config();
    cfg.recv_buffer = 4096;
    Script t(cfg);
    t.establish_passive();
    t.send(t.peer().ack(kIss + 1).data(pattern_bytes(1460)));
    CHECK(t.expect_one()->window == 4096 - 1460);
    t.send(t.peer().ack(kIss + 1).data(pattern_bytes(1460)));
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 1).data(pattern_bytes(1176)));
    auto a = t.expect_one();
    CHECK(a->window == 0);
    CHECK(t.conn().rcv_wnd() == 0);
    std::vector<std::byte> buf(100);
    REQUIRE(t.conn().recv(buf).value == 100);
    t.expect_nothing();  // SWS avoidance: 100 bytes are not worth announcing
    std::vector<std::byte> big(2000);
    REQUIRE(t.conn().recv(big).value == 2000);
    auto upd = t.expect_one();
    CHECK(upd->flags == tcp_flag::ack);
    CHECK(upd->ack == SeqNum(kPeerIss + 1 + 4096));
    CHECK(upd->window == 2100);
}

TEST_CASE("RFC 1122 §4.2.3.2 delayed ACK: every second segment - else within the timeout") {
    TcpConfig cfg = Script::default_config();
    cfg.delayed_ack = true;
    Script t(cfg);
    t.establish_passive();
    t.send(t.peer().ack(kIss + 1).data(pattern_bytes(1460)));
    t.expect_nothing();
    CHECK(t.conn().timer(Timer::delayed_ack) == t.now() + cfg.delayed_ack_timeout);
    t.send(t.peer().ack(kIss + 1).data(pattern_bytes(1460)));
    auto a = t.expect_one();  // RFC 5681 §4.2: at least every second full-sized segment
    CHECK(a->ack == SeqNum(kPeerIss + 1 + 2920));
    CHECK_FALSE(t.conn().timer(Timer::delayed_ack).has_value());
    // A lone segment: ACKed when the timer fires, not before.
    t.send(t.peer().ack(kIss + 1).data("x"));
    t.advance(cfg.delayed_ack_timeout - kMs);
    t.expect_nothing();
    t.advance(kMs);
    auto a2 = t.expect_one();
    CHECK(a2->ack == SeqNum(kPeerIss + 1 + 2921));
    t.expect_nothing();
}

TEST_CASE("RFC 5681 §4.2 delayed ACK: out-of-order data and a FIN are ACKed at once") {
    TcpConfig cfg = Script::default_config();
    cfg.delayed_ack = true;
    Script t(cfg);
    t.establish_passive();
    const std::uint32_t base = kPeerIss + 1;
    t.send(t.peer().seq(base + 5).ack(kIss + 1).data("world"));
    auto d = t.expect_one();
    CHECK(d->ack == SeqNum(base));
    t.send(t.peer().seq(base).ack(kIss + 1).data("hello"));  // fills the gap: at once too
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(base + 10));
    t.send(t.peer().seq(base + 10).ack(kIss + 1).data("!"));
    t.expect_nothing();  // a lone in-order segment waits
    t.send(t.peer().seq(base + 11).ack(kIss + 1).fin());
    auto f = t.expect_one();
    CHECK(f->ack == SeqNum(base + 12));
}

TEST_CASE("RFC 1122 §4.2.3.2 delayed ACK rides on outgoing data") {
    TcpConfig cfg = Script::default_config();
    cfg.delayed_ack = true;
    Script t(cfg);
    t.establish_passive();
    t.send(t.peer().ack(kIss + 1).data("ping"));
    t.expect_nothing();
    REQUIRE(t.conn().send(bytes_of("pong")).value == 4);
    auto d = t.expect_one();
    CHECK(d->ack == SeqNum(kPeerIss + 5));
    CHECK(string_of(d.payload()) == "pong");
    CHECK_FALSE(t.conn().timer(Timer::delayed_ack).has_value());
    t.advance(cfg.delayed_ack_timeout);
    t.expect_nothing();
}

}  // TEST_SUITE
