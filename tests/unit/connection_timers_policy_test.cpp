// Issue #3, item 4: Nagle / TCP_NODELAY, keep-alive, user timeout, the FIN behind a zero window.
#include <doctest/doctest.h>

#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

TEST_SUITE("connection") {
    TEST_CASE(
        "RFC 896 / RFC 1122 §4.2.3.4 Nagle holds small segments while data is unacked - "
        "TCP_NODELAY") {
        TcpConfig cfg = Script::default_config();
        cfg.nodelay = false;  // the library default: Nagle on
        Script t(cfg);
        t.establish_active();
        CHECK_FALSE(t.conn().nodelay());
        REQUIRE(t.conn().send(bytes_of("a")).value == 1);
        CHECK(t.expect_one().payload().size() == 1);  // nothing in flight: goes at once
        REQUIRE(t.conn().send(bytes_of("b")).value == 1);
        t.expect_nothing();  // held: "a" is unacknowledged
        REQUIRE(t.conn().send(bytes_of("c")).value == 1);
        t.expect_nothing();
        t.send(t.peer_ack());
        auto bc = t.expect_one();  // coalesced
        CHECK(string_of(bc.payload()) == "bc");
        t.conn().set_nodelay(true);
        REQUIRE(t.conn().send(bytes_of("d")).value == 1);
        CHECK(string_of(t.expect_one().payload()) == "d");  // "bc" in flight, sent anyway
    }

    TEST_CASE("RFC 1122 §4.2.3.4 Nagle: full-sized segments and the FIN are not held") {
        TcpConfig cfg = Script::default_config();
        cfg.nodelay = false;
        Script t(cfg);
        t.establish_active();
        REQUIRE(t.conn().send(pattern_bytes(1460 + 100)).value == 1560);
        auto v = t.expect_one();  // the full segment; the 100-byte tail waits
        CHECK(v.payload().size() == 1460);
        REQUIRE(t.conn().shutdown_send() == Errc::ok);
        auto tail = t.expect_one();  // closing: nothing more can come, the tail goes with the FIN
        CHECK(tail.payload().size() == 100);
        CHECK(tail->has(tcp_flag::fin));
    }

    TEST_CASE(
        "RFC 1122 §4.2.3.6 keep-alive: probes after the idle time - every interval - then "
        "keepalive_failed") {
        TcpConfig cfg = Script::default_config();
        cfg.keepalive = true;
        cfg.keepalive_idle = Duration{10'000'000};
        cfg.keepalive_interval = Duration{1'000'000};
        cfg.keepalive_count = 3;
        Script t(cfg);
        t.establish_active();
        REQUIRE(t.conn().timer(Timer::keepalive).has_value());
        CHECK(t.next_timer_in() == Duration{10'000'000});
        t.fire_next_timer();
        auto p = t.expect_one();
        CHECK(p->seq == SeqNum(kIss));  // SND.NXT - 1: the peer must answer
        CHECK(p.payload().empty());
        t.send(t.peer_ack());  // answered: idle again
        CHECK(t.next_timer_in() == Duration{10'000'000});
        t.fire_next_timer();
        (void)t.expect_one();
        for (int i = 0; i < 2; ++i) {
            CHECK(t.next_timer_in() == Duration{1'000'000});
            t.fire_next_timer();
            (void)t.expect_one();
        }
        CHECK(t.conn().stats().keepalive_probes == 4);
        t.fire_next_timer();  // the third probe unanswered too
        CHECK(t.conn().state() == TcpState::closed);
        CHECK(t.closed_event() == CloseReason::keepalive_failed);
        CHECK(t.conn().send(bytes_of("x")).error == Errc::net_reset);
    }

    TEST_CASE(
        "RFC 1122 §4.2.3.6 keep-alive turned on for an established connection: the idle period "
        "starts then - off again disarms it") {
        Script t;
        t.establish_active();
        CHECK_FALSE(t.conn().timer(Timer::keepalive).has_value());
        t.advance(Duration{3'000'000});
        t.conn().set_keepalive(true, Duration{2'000'000}, Duration{500'000}, t.now());
        CHECK(t.next_timer_in() == Duration{2'000'000});
        t.fire_next_timer();
        (void)t.expect_one();  // the probe
        CHECK(t.next_timer_in() == Duration{500'000});
        t.conn().set_keepalive(false, Duration{2'000'000}, Duration{500'000}, t.now());
        CHECK_FALSE(t.conn().timer(Timer::keepalive).has_value());
    }

    TEST_CASE("RFC 1122 §4.2.3.6 keep-alive is off by default") {
        Script t;
        t.establish_active();
        CHECK_FALSE(t.conn().timer(Timer::keepalive).has_value());
        CHECK_FALSE(t.conn().poll_timeout().has_value());
    }

    TEST_CASE("RFC 9293 §3.8.3 / RFC 5482 user timeout aborts with timed_out") {
        TcpConfig cfg = Script::default_config();
        cfg.user_timeout = Duration{5'000'000};
        Script t(cfg);
        t.establish_active();
        const Instant t0 = t.now();
        REQUIRE(t.conn().send(bytes_of("lost")).value == 4);
        (void)t.expect_one();
        while (t.conn().state() != TcpState::closed && t.fire_next_timer()) (void)t.transmit();
        CHECK(t.conn().close_reason() == CloseReason::timed_out);
        CHECK(t.now() - t0 == Duration{5'000'000});  // well before the retransmission limit
    }

    TEST_CASE("RFC 9293 §3.8.6.1 a FIN stuck behind a zero window is probed - then sent") {
        Script t;
        t.establish_active(/*peer_window=*/1000);
        REQUIRE(t.conn().send(pattern_bytes(1000)).value == 1000);
        (void)t.expect_one();
        t.send(t.peer().ack(kIss + 1001).win(0));
        REQUIRE(t.conn().shutdown_send() == Errc::ok);
        t.expect_nothing();  // the FIN needs one octet of window
        Duration gap = t.next_timer_in();
        for (int i = 0; i < 3; ++i) {
            CHECK(t.next_timer_in() == gap);
            t.fire_next_timer();
            auto p = t.expect_one();
            CHECK_FALSE(p->has(tcp_flag::fin));
            CHECK(p->seq == SeqNum(kIss + 1000));
            t.send(t.peer().ack(kIss + 1001).win(0));
            gap *= 2;  // backoff
        }
        t.send(t.peer().ack(kIss + 1001).win(1000));
        auto fin = t.expect_one();
        CHECK(fin->has(tcp_flag::fin));
        CHECK(fin->seq == SeqNum(kIss + 1001));
    }

    TEST_CASE(
        "RFC 1122 §4.2.3.3 receiver SWS: a window that opens by less than an MSS is not "
        "advertised") {
        TcpConfig cfg = Script::default_config();
        cfg.recv_buffer = 8000;
        Script t(cfg);
        t.establish_active();
        t.send(t.peer_ack().data(pattern_bytes(8000)));
        auto a = t.expect_one();
        CHECK(a->window == 0);
        std::vector<std::byte> small(500);
        REQUIRE(t.conn().recv(small).value == 500);
        t.expect_nothing();  // 500 < min(buffer/2, MSS): no update
        std::vector<std::byte> more(1500);
        REQUIRE(t.conn().recv(more).value == 1500);
        auto upd = t.expect_one();
        CHECK(upd->window == 2000);
    }

}  // TEST_SUITE
