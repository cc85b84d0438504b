// Teardown: FIN placement, the peer's FIN, half-close both ways, FIN retransmission, TIME-WAIT,
// ABORT, and the RST-on-lost-data rules (RFC 9293 §3.6, §3.10.4, §3.10.5, SHLD-3; RFC 1337;
// RFC 2525 §2.17; DESIGN.md §4).
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

TEST_SUITE("connection") {

TEST_CASE("RFC 9293 §3.10.4 CLOSE: the FIN rides on the last queued data segment") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("last words")).value == 10);
    REQUIRE(t.conn().shutdown_send() == Errc::ok);
    auto s = t.expect_one();
    CHECK(s->flags == (tcp_flag::fin | tcp_flag::psh | tcp_flag::ack));
    CHECK(s->seq == SeqNum(kIss + 1));
    CHECK(string_of(s.payload()) == "last words");
    CHECK(t.conn().snd_nxt() == SeqNum(kIss + 12));
    t.send(t.peer().ack(kIss + 12));
    CHECK(t.conn().state() == TcpState::fin_wait_2);
}

TEST_CASE("RFC 9293 §3.10.4 CLOSE: a FIN alone after data already sent") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("abc")).value == 3);
    (void)t.expect_one();
    REQUIRE(t.conn().shutdown_send() == Errc::ok);
    auto fin = t.expect_one();
    CHECK(fin->flags == (tcp_flag::fin | tcp_flag::ack));
    CHECK(fin->seq == SeqNum(kIss + 4));
    CHECK(fin.payload().empty());
}

TEST_CASE("RFC 9293 §3.10.4 CLOSE: the FIN waits for queued data the window holds back") {
    Script t;
    t.establish_active(/*peer_window=*/1000);
    REQUIRE(t.conn().send(pattern_bytes(2500)).value == 2500);
    REQUIRE(t.conn().shutdown_send() == Errc::ok);
    auto s1 = t.expect_one();
    CHECK_FALSE(s1->has(tcp_flag::fin));
    t.send(t.peer().ack(kIss + 1001).win(1000));
    auto s2 = t.expect_one();
    CHECK_FALSE(s2->has(tcp_flag::fin));
    t.send(t.peer().ack(kIss + 2001).win(1000));
    auto s3 = t.expect_one();
    CHECK(s3.payload().size() == 500);
    CHECK(s3->has(tcp_flag::fin));
    CHECK(t.conn().send(bytes_of("x")).error == Errc::shutdown);  // DESIGN.md §4
}

TEST_CASE("RFC 9293 §3.10.7.4 a FIN carrying data: text delivered - then end of stream") {
    Script t;
    t.establish_active();
    t.send(t.peer().ack(kIss + 1).data("bye").fin());
    CHECK(t.conn().state() == TcpState::close_wait);
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 5));
    auto ev = t.events();
    CHECK(ev == std::vector<Event>{Event{EventKind::readable}, Event{EventKind::peer_fin}});
    CHECK_FALSE(t.conn().at_eof());  // data still unread
    CHECK(t.read_all() == "bye");
    CHECK(t.conn().at_eof());
    std::vector<std::byte> buf(8);
    auto r = t.conn().recv(buf);
    CHECK(r.ok());
    CHECK(r.value == 0);
}

TEST_CASE("RFC 9293 §3.10.7.4 a FIN beyond missing data is held until the gap fills") {
    Script t;
    t.establish_passive();
    const std::uint32_t base = kPeerIss + 1;
    t.send(t.peer().seq(base + 3).ack(kIss + 1).data("def").fin());
    auto d = t.expect_one();
    CHECK(d->ack == SeqNum(base));  // nothing accepted in sequence yet
    CHECK(t.conn().state() == TcpState::established);
    CHECK_FALSE(t.conn().peer_fin_received());
    CHECK(t.events().empty());  // no peer_fin before the gap fills
    t.send(t.peer().seq(base).ack(kIss + 1).data("abc"));
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(base + 7));  // six bytes and the FIN
    CHECK(t.conn().state() == TcpState::close_wait);
    CHECK(t.conn().peer_fin_received());
    CHECK(t.saw_event(EventKind::peer_fin));
    CHECK(t.read_all() == "abcdef");
    CHECK(t.conn().at_eof());
}

TEST_CASE("RFC 9293 §3.6.1 half-close: after our FIN we keep receiving in FIN-WAIT-2") {
    Script t;
    t.to_fin_wait_2();
    CHECK(t.conn().send(bytes_of("no")).error == Errc::shutdown);
    t.send(t.peer().ack(kIss + 2).data("still talking"));
    CHECK(t.conn().state() == TcpState::fin_wait_2);
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 14));
    CHECK(a->seq == SeqNum(kIss + 2));
    CHECK(t.read_all() == "still talking");
    t.send(t.peer().ack(kIss + 2).data("!").fin());
    CHECK(t.conn().state() == TcpState::time_wait);
    CHECK(t.read_all() == "!");
}

TEST_CASE("RFC 9293 §3.6.1 half-close: after the peer's FIN we keep sending in CLOSE-WAIT") {
    Script t;
    t.to_close_wait();
    std::vector<std::byte> buf(8);
    CHECK(t.conn().recv(buf).value == 0);
    REQUIRE(t.conn().send(bytes_of("the answer")).value == 10);
    auto d = t.expect_one();
    CHECK(string_of(d.payload()) == "the answer");
    CHECK(d->ack == SeqNum(kPeerIss + 2));
    t.send(t.peer().ack(kIss + 11));
    CHECK(t.conn().state() == TcpState::close_wait);
    CHECK(t.conn().all_acked());
    t.conn().close();
    auto fin = t.expect_one();
    CHECK(fin->seq == SeqNum(kIss + 11));
    CHECK(fin->has(tcp_flag::fin));
    CHECK(t.conn().state() == TcpState::last_ack);
}

TEST_CASE("RFC 9293 §3.10.7.4 LAST-ACK retransmits its FIN until ACKed") {
    Script t;
    auto fin = t.to_last_ack();
    const Duration rto = t.conn().rtt().rto();
    t.advance(rto);
    auto r1 = t.expect_one();
    CHECK(r1->flags == fin->flags);
    CHECK(r1->seq == fin->seq);
    t.advance(2 * rto);
    auto r2 = t.expect_one();
    CHECK(r2->seq == fin->seq);
    CHECK(t.conn().state() == TcpState::last_ack);
    // The peer's FIN again (our ACK was lost): ACK it, stay.
    t.send(t.peer().seq(kPeerIss + 1).ack(kIss + 1).fin());
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    CHECK(a->flags == tcp_flag::ack);
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.closed_event() == CloseReason::graceful);
}

TEST_CASE("RFC 9293 §3.8.3 LAST-ACK: FIN never ACKed -> timed_out") {
    TcpConfig cfg = Script::default_config();
    cfg.max_retransmits = 2;
    Script t(cfg);
    (void)t.to_last_ack();
    REQUIRE(t.fire_next_timer());
    (void)t.expect_one();
    REQUIRE(t.fire_next_timer());
    (void)t.expect_one();
    REQUIRE(t.fire_next_timer());
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::timed_out);
    t.expect_nothing();
    CHECK(t.closed_event() == CloseReason::timed_out);
}

TEST_CASE("RFC 9293 §3.10.7.4 FIN-WAIT-1 retransmits its FIN on timeout") {
    Script t;
    auto fin = t.to_fin_wait_1();
    REQUIRE(t.fire_next_timer());
    auto r = t.expect_one();
    CHECK(r->flags == (tcp_flag::fin | tcp_flag::ack));
    CHECK(r->seq == fin->seq);
    CHECK(t.conn().state() == TcpState::fin_wait_1);
    CHECK(t.conn().stats().retransmits == 1);
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::fin_wait_2);
    t.expect_nothing();
}

TEST_CASE("RFC 9293 §3.10.7.4 TIME-WAIT: a retransmitted FIN is re-ACKed and restarts 2 MSL") {
    Script t;
    t.to_time_wait();
    const Duration two_msl = 2 * t.config().msl;
    t.advance(two_msl / 2);
    t.send(t.peer().seq(kPeerIss + 1).ack(kIss + 2).fin());  // the same FIN again
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->seq == SeqNum(kIss + 2));
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    CHECK(t.conn().timer(Timer::time_wait) == t.now() + two_msl);  // restarted
    t.advance(two_msl - Duration{1});
    CHECK(t.conn().state() == TcpState::time_wait);
    t.advance(Duration{1});
    CHECK(t.conn().state() == TcpState::closed);
}

TEST_CASE("RFC 1337 TIME-WAIT ignores RST (no assassination)") {
    Script t;
    t.to_time_wait();
    const auto deadline = t.conn().timer(Timer::time_wait);
    t.send(t.peer().rst());  // exactly at RCV.NXT
    CHECK(t.conn().state() == TcpState::time_wait);
    t.send(t.peer().seq(kPeerIss + 100).rst());  // in the window
    CHECK(t.conn().state() == TcpState::time_wait);
    t.send(t.peer().rst().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::time_wait);
    t.expect_nothing();  // no challenge ACK, no RST
    CHECK(t.conn().timer(Timer::time_wait) == deadline);  // not shortened, not restarted
    CHECK(t.conn().stats().rst_ignored == 3);
    CHECK(t.events().empty());
}

TEST_CASE("RFC 9293 §3.10.4 a second CLOSE/shutdown emits no second FIN") {
    Script t;
    auto fin = t.to_fin_wait_1();
    CHECK(t.conn().shutdown_send() == Errc::ok);
    t.conn().close();
    t.expect_nothing();
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::fin_wait_2);
    CHECK(t.conn().shutdown_send() == Errc::ok);
    t.conn().close();
    t.expect_nothing();
    CHECK(t.conn().snd_nxt() == fin->seq + 1);
    CHECK(t.conn().state() == TcpState::fin_wait_2);
}

TEST_CASE("RFC 9293 §3.10.5 ABORT in ESTABLISHED sends <SEQ=SND.NXT><CTL=RST>") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("unacked")).value == 7);
    (void)t.expect_one();
    REQUIRE(t.conn().send(bytes_of("unsent")).value == 6);
    t.conn().abort();
    CHECK(t.conn().state() == TcpState::closed);
    auto r = t.expect_one();
    CHECK(r->flags == tcp_flag::rst);
    CHECK(r->seq == SeqNum(kIss + 8));  // SND.NXT: past the data in flight, not the unsent
    CHECK(r.payload().empty());
    t.expect_nothing();
    CHECK(t.closed_event() == CloseReason::aborted);
    CHECK_FALSE(t.conn().poll_timeout().has_value());
    CHECK_FALSE(t.conn().holds_buffers());
    CHECK(t.conn().send(bytes_of("x")).error == Errc::aborted);
}

TEST_CASE("RFC 9293 §3.10.5 ABORT in FIN-WAIT-1 - FIN-WAIT-2 and CLOSE-WAIT sends a RST") {
    Script t;
    SUBCASE("FIN-WAIT-1") { (void)t.to_fin_wait_1(); }
    SUBCASE("FIN-WAIT-2") { t.to_fin_wait_2(); }
    SUBCASE("CLOSE-WAIT") { t.to_close_wait(); }
    const SeqNum nxt = t.conn().snd_nxt();
    t.conn().abort();
    auto r = t.expect_one();
    CHECK(r->flags == tcp_flag::rst);
    CHECK(r->seq == nxt);
    CHECK(t.conn().close_reason() == CloseReason::aborted);
}

TEST_CASE("RFC 9293 §3.10.5 ABORT in CLOSING - LAST-ACK - TIME-WAIT sends no RST") {
    Script t;
    SUBCASE("CLOSING") { t.to_closing(); }
    SUBCASE("LAST-ACK") { (void)t.to_last_ack(); }
    SUBCASE("TIME-WAIT") { t.to_time_wait(); }
    (void)t.events();
    t.conn().abort();
    CHECK(t.conn().state() == TcpState::closed);
    t.expect_nothing();
    CHECK_FALSE(t.conn().poll_timeout().has_value());
    CHECK(t.conn().stats().rst_sent == 0);
    CHECK(t.closed_event() == CloseReason::aborted);
}

TEST_CASE("RFC 9293 §3.10.5 ABORT in SYN-SENT sends nothing") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.conn().abort();
    CHECK(t.conn().state() == TcpState::closed);
    t.expect_nothing();
    CHECK(t.closed_event() == CloseReason::aborted);
}

TEST_CASE("RFC 2525 §2.17 close with unread data sends RST - reason aborted") {
    Script t;
    t.establish_active();
    t.send(t.peer().ack(kIss + 1).data("unread"));
    (void)t.expect_one();
    t.conn().close();
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::aborted);
    auto r = t.expect_one();
    CHECK(r->flags == tcp_flag::rst);
    CHECK(r->seq == SeqNum(kIss + 1));
    t.expect_nothing();  // no FIN
    CHECK(t.closed_event() == CloseReason::aborted);
    CHECK_FALSE(t.conn().holds_buffers());
}

TEST_CASE("RFC 9293 SHLD-3 shutdown_receive with unread data sends RST") {
    Script t;
    t.establish_active();
    t.send(t.peer().ack(kIss + 1).data("unread"));
    (void)t.expect_one();
    CHECK(t.conn().shutdown_receive() == Errc::ok);
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::aborted);
    auto r = t.expect_one();
    CHECK(r->flags == tcp_flag::rst);
    CHECK(t.closed_event() == CloseReason::aborted);
}

TEST_CASE("RFC 9293 SHLD-3 data arriving after shutdown_receive sends RST") {
    Script t;
    t.establish_active();
    CHECK(t.conn().shutdown_receive() == Errc::ok);
    CHECK(t.conn().state() == TcpState::established);
    std::vector<std::byte> buf(4);
    CHECK(t.conn().recv(buf).error == Errc::shutdown);  // DESIGN.md §4
    REQUIRE(t.conn().send(bytes_of("out")).value == 3);  // sending still works
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 4).data("late"));
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::aborted);
    auto r = t.expect_one();
    CHECK(r->flags == tcp_flag::rst);
    CHECK(r->seq == SeqNum(kIss + 4));
    CHECK(t.closed_event() == CloseReason::aborted);
}

TEST_CASE("RFC 9293 SHLD-3 after shutdown_receive a FIN without data is no loss: no RST") {
    Script t;
    t.establish_active();
    CHECK(t.conn().shutdown_receive() == Errc::ok);
    t.send(t.peer().ack(kIss + 1).fin());
    CHECK(t.conn().state() == TcpState::close_wait);
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    CHECK(t.conn().stats().rst_sent == 0);
}

TEST_CASE("RFC 2525 §2.17 data arriving after close (FIN-WAIT-2) sends RST") {
    Script t;
    t.establish_active();
    t.conn().close();
    (void)t.expect_one();  // FIN
    t.send(t.peer().ack(kIss + 2));
    REQUIRE(t.conn().state() == TcpState::fin_wait_2);
    t.send(t.peer().ack(kIss + 2).data("anyone?"));
    CHECK(t.conn().state() == TcpState::closed);
    auto r = t.expect_one();
    CHECK(r->flags == tcp_flag::rst);
    CHECK(r->seq == SeqNum(kIss + 2));
    CHECK(t.closed_event() == CloseReason::aborted);
}

TEST_CASE("RFC 9293 §3.10.7.4 after close a FIN without data still completes gracefully") {
    Script t;
    t.establish_active();
    t.conn().close();
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 2).fin());
    CHECK(t.conn().state() == TcpState::time_wait);
    auto a = t.expect_one();
    CHECK(a->flags == tcp_flag::ack);
}

TEST_CASE("DESIGN.md §4 TIME-WAIT holds no buffers") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("request")).value == 7);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 8).data("response"));
    (void)t.expect_one();
    CHECK(t.read_all() == "response");
    CHECK(t.conn().holds_buffers());
    REQUIRE(t.conn().shutdown_send() == Errc::ok);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 9).fin());
    REQUIRE(t.conn().state() == TcpState::time_wait);
    CHECK_FALSE(t.conn().holds_buffers());
    (void)t.expect_one();
}

TEST_CASE("DESIGN.md §4 TIME-WAIT keeps unread data readable - then releases the buffer") {
    Script t;
    (void)t.to_fin_wait_1();
    t.send(t.peer().ack(kIss + 2).data("unread").fin());
    REQUIRE(t.conn().state() == TcpState::time_wait);
    (void)t.expect_one();
    CHECK(t.conn().holds_buffers());
    CHECK(t.read_all() == "unread");
    CHECK_FALSE(t.conn().holds_buffers());
    std::vector<std::byte> buf(8);
    CHECK(t.conn().recv(buf).value == 0);
}

TEST_CASE("RFC 9293 §3.10.7.4 RST in CLOSE-WAIT: later RECEIVEs and SENDs get reset") {
    Script t;
    t.to_close_wait();
    std::vector<std::byte> buf(8);
    CHECK(t.conn().recv(buf).value == 0);  // end of stream seen
    t.send(t.peer().rst());
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.closed_event() == CloseReason::reset);
    CHECK(t.conn().recv(buf).error == Errc::reset);
    CHECK(t.conn().send(bytes_of("x")).error == Errc::reset);
}

}  // TEST_SUITE
