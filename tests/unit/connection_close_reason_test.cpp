// RFC 9293 MUST-12: the application learns whether its connection closed normally or not. Every
// end of a Connection is one `closed` event carrying the reason, and close_reason() says the same.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {
// After the close: exactly one closed event with `want`, the reason sticks, nothing is left to
// send or time, and later calls do not produce a second event.
void check_closed_once(Script& t, CloseReason want) {
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == want);
    CHECK(t.closed_event() == want);
    (void)t.transmit();
    CHECK_FALSE(t.conn().poll_timeout().has_value());
    t.conn().abort();
    t.conn().close();
    t.send(t.peer().rst());
    CHECK(t.events().empty());
    CHECK(t.conn().close_reason() == want);
    t.expect_nothing();
}
}  // namespace

TEST_SUITE("connection") {

TEST_CASE("RFC 9293 MUST-12 closed(graceful): both FINs exchanged and acknowledged") {
    Script t;
    SUBCASE("active close via TIME-WAIT") {
        t.to_time_wait();
        REQUIRE(t.fire_next_timer());
    }
    SUBCASE("passive close via LAST-ACK") {
        (void)t.to_last_ack();
        t.send(t.peer().ack(kIss + 2));
    }
    check_closed_once(t, CloseReason::graceful);
}

TEST_CASE("RFC 9293 MUST-12 closed(reset): the peer's acceptable RST") {
    Script t;
    t.establish_active();
    t.send(t.peer().rst());
    check_closed_once(t, CloseReason::reset);
}

TEST_CASE("RFC 9293 MUST-12 closed(refused): RST in answer to our SYN") {
    Script t;
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().rst().ack(kIss + 1));
    check_closed_once(t, CloseReason::refused);
}

TEST_CASE("RFC 9293 MUST-12 closed(timed_out): retransmissions exhausted") {
    TcpConfig cfg = Script::default_config();
    cfg.max_retransmits = 1;
    Script t(cfg);
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("x")).value == 1);
    (void)t.expect_one();
    REQUIRE(t.fire_next_timer());
    (void)t.expect_one();
    REQUIRE(t.fire_next_timer());
    check_closed_once(t, CloseReason::timed_out);
}

TEST_CASE("RFC 9293 MUST-12 closed(aborted): abort() - or close with unread data") {
    Script t;
    t.establish_active();
    SUBCASE("abort") { t.conn().abort(); }
    SUBCASE("close with unread data") {
        t.send(t.peer().ack(kIss + 1).data("unread"));
        (void)t.expect_one();
        t.conn().close();
    }
    auto r = t.expect_one();
    CHECK(r->has(tcp_flag::rst));
    check_closed_once(t, CloseReason::aborted);
}

}  // TEST_SUITE
