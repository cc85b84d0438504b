// TcpInfo (Connection::info): the TCP_INFO snapshot -- Winsock's TCP_INFO_v0 fields and the
// RFC 6298 / RFC 5681 / RFC 7323 variables behind them -- in every RFC 9293 state.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr Duration kMs{1'000};

// ESTABLISHED by an active open whose SYN-ACK carries timestamps, SACK-permitted and window
// scale 7 (RFC 7323 §2-3, RFC 2018 §2).
void establish_with_options(Script& t) {
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.set_peer_nxt(t.peer_iss());
    t.send(t.peer().syn().ack(t.iss() + 1).mss(1460).wscale(7).ts(100, 0).sack_perm());
    REQUIRE(t.conn().state() == TcpState::established);
    (void)t.expect_one();
}

}  // namespace

TEST_SUITE("connection") {
    // ---- the state, one test per RFC 9293 §3.3.2 state
    // ----------------------------------------------

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state SYN-SENT") {
        Script t;
        t.conn().open_active(t.now());
        CHECK(t.conn().info(t.now()).state == TcpState::syn_sent);
        (void)t.expect_one();
        CHECK(t.conn().info(t.now()).state == TcpState::syn_sent);
    }

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state SYN-RECEIVED") {
        Script t;
        t.conn().open_passive(t.peer().syn().no_ack().mss(1460).build(), t.now());
        (void)t.expect_one();
        CHECK(t.conn().info(t.now()).state == TcpState::syn_received);
    }

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state ESTABLISHED") {
        Script t;
        t.establish_active();
        CHECK(t.conn().info(t.now()).state == TcpState::established);
    }

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state FIN-WAIT-1") {
        Script t;
        (void)t.to_fin_wait_1();
        CHECK(t.conn().info(t.now()).state == TcpState::fin_wait_1);
    }

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state FIN-WAIT-2") {
        Script t;
        t.to_fin_wait_2();
        CHECK(t.conn().info(t.now()).state == TcpState::fin_wait_2);
    }

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state CLOSE-WAIT") {
        Script t;
        t.to_close_wait();
        CHECK(t.conn().info(t.now()).state == TcpState::close_wait);
    }

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state CLOSING") {
        Script t;
        t.to_closing();
        CHECK(t.conn().info(t.now()).state == TcpState::closing);
    }

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state LAST-ACK") {
        Script t;
        (void)t.to_last_ack();
        CHECK(t.conn().info(t.now()).state == TcpState::last_ack);
    }

    TEST_CASE("RFC 9293 §3.3.2: TcpInfo names the state TIME-WAIT") {
        Script t;
        t.to_time_wait();
        CHECK(t.conn().info(t.now()).state == TcpState::time_wait);
    }

    TEST_CASE(
        "RFC 9293 §3.3.2: TcpInfo names the state CLOSED and after the connection ended its "
        "counters keep their values") {
        SUBCASE("never opened") {
            Script t;
            const TcpInfo i = t.conn().info(t.now());
            CHECK(i.state == TcpState::closed);
            CHECK(i.connection_time == Duration{0});
            CHECK(i.segs_out == 0);
            CHECK(i.cwnd == 0);
            CHECK(i.ssthresh == 0xffffffffU);
        }
        SUBCASE("after TIME-WAIT (graceful)") {
            Script t;
            t.establish_active();
            REQUIRE(t.conn().send(bytes_of("hello")).value == 5);
            (void)t.expect_one();
            t.send(t.peer_ack().data("abc"));
            (void)t.expect_one();
            REQUIRE(t.conn().shutdown_send() == Errc::ok);
            CHECK(t.expect_one()->has(tcp_flag::fin));
            t.send(t.peer_ack().fin());  // the ACK of our FIN and the peer's FIN
            REQUIRE(t.conn().state() == TcpState::time_wait);
            (void)t.expect_one();
            const TcpInfo before = t.conn().info(t.now());
            REQUIRE(t.fire_next_timer());  // 2 MSL
            REQUIRE(t.conn().state() == TcpState::closed);
            const TcpInfo after = t.conn().info(t.now());
            CHECK(after.state == TcpState::closed);
            CHECK(after.bytes_out == 5);
            CHECK(after.bytes_in == 3);
            CHECK(after.segs_out == before.segs_out);
            CHECK(after.segs_in == before.segs_in);
            CHECK(after.mss == before.mss);
            CHECK(after.connection_time == before.connection_time + 2 * t.config().msl);
        }
        SUBCASE("after a reset") {
            Script t;
            t.establish_active();
            t.send(t.peer_ack().data("abcd"));
            (void)t.expect_one();
            t.send(t.peer_ack().rst());
            REQUIRE(t.conn().state() == TcpState::closed);
            const TcpInfo i = t.conn().info(t.now());
            CHECK(i.state == TcpState::closed);
            CHECK(i.bytes_in == 4);
            CHECK(i.segs_in == t.conn().stats().segs_in);
        }
    }

    // ---- counters
    // ----------------------------------------------------------------------------------

    TEST_CASE("RFC 5681 §2: duplicate ACKs are counted in TcpInfo") {
        Script t;
        t.establish_active();
        REQUIRE(t.conn().send(pattern_bytes(4 * 1460)).value == 4 * 1460);
        (void)t.expect_n(4);
        const std::uint32_t una = kIss + 1 + 1460;
        t.send(t.peer().ack(una));  // new data acknowledged: not a duplicate
        CHECK(t.conn().info(t.now()).dup_acks_in == 0);

        // (e) a window other than the last one's: not a duplicate (a window update).
        t.send(t.peer().ack(una).win(60000));
        CHECK(t.conn().info(t.now()).dup_acks_in == 0);
        // (b) carries data: not a duplicate.
        t.send(t.peer().ack(una).win(60000).data("x"));
        (void)t.transmit();
        CHECK(t.conn().info(t.now()).dup_acks_in == 0);

        // (a)-(e): three duplicates; the third triggers fast retransmit (RFC 5681 §3.2).
        for (int k = 0; k < 3; ++k) {
            t.send(t.peer().ack(una).win(60000));
            (void)t.transmit();
        }
        TcpInfo i = t.conn().info(t.now());
        CHECK(i.dup_acks_in == 3);
        CHECK(i.fast_retransmits == 1);
        CHECK(i.retransmits == 1);
        CHECK(i.bytes_retransmitted == 1460);

        // (a) nothing outstanding: an ACK of SND.UNA is no duplicate.
        t.send(t.peer_ack().win(60000));
        (void)t.transmit();
        REQUIRE(t.conn().snd_una() == t.conn().snd_max());
        t.send(t.peer_ack().win(60000));
        CHECK(t.conn().info(t.now()).dup_acks_in == 3);
    }

    TEST_CASE(
        "RFC 6298 §5.5: a retransmission timeout counts one episode however often it expires "
        "and the bytes it retransmits") {
        Script t;
        t.establish_active(65535, 100 * kMs);
        REQUIRE(t.conn().send(pattern_bytes(100)).value == 100);
        (void)t.expect_one();
        REQUIRE(t.fire_next_timer());
        CHECK(t.expect_one().payload().size() == 100);
        REQUIRE(t.fire_next_timer());  // the same episode: no ACK between the two expiries
        CHECK(t.expect_one().payload().size() == 100);
        TcpInfo i = t.conn().info(t.now());
        CHECK(t.conn().stats().timeouts == 2);
        CHECK(i.timeout_episodes == 1);
        CHECK(i.retransmits == 2);
        CHECK(i.bytes_retransmitted == 200);
        CHECK(i.bytes_out == 300);
        CHECK(i.rto == 4 * 300 * kMs);  // backed off twice from SRTT + 4 RTTVAR = 300 ms

        // An ACK of new data ends the episode; the next expiry starts another.
        t.send(t.peer_ack());
        REQUIRE(t.conn().send(pattern_bytes(50)).value == 50);
        (void)t.expect_one();
        REQUIRE(t.fire_next_timer());
        CHECK(t.expect_one().payload().size() == 50);
        i = t.conn().info(t.now());
        CHECK(t.conn().stats().timeouts == 3);
        CHECK(i.timeout_episodes == 2);
        CHECK(i.bytes_retransmitted == 250);
    }

    TEST_CASE("RFC 9293 §3.8.1: SYN and SYN-ACK retransmissions are counted in TcpInfo") {
        SUBCASE("SYN") {
            Script t;
            t.conn().open_active(t.now());
            (void)t.expect_one();
            REQUIRE(t.fire_next_timer());
            CHECK(t.expect_one()->flags == tcp_flag::syn);
            const TcpInfo i = t.conn().info(t.now());
            CHECK(i.syn_retransmits == 1);
            CHECK(i.retransmits == 1);
            CHECK(i.timeout_episodes == 1);
            CHECK(i.bytes_retransmitted == 0);
        }
        SUBCASE("SYN-ACK: on timeout and in answer to a retransmitted SYN") {
            Script t;
            const Segment syn = t.peer().syn().no_ack().mss(1460).build();
            t.conn().open_passive(syn, t.now());
            (void)t.expect_one();
            REQUIRE(t.fire_next_timer());
            CHECK(t.expect_one()->flags == (tcp_flag::syn | tcp_flag::ack));
            t.conn().on_segment(syn, t.now());
            CHECK(t.expect_one()->flags == (tcp_flag::syn | tcp_flag::ack));
            CHECK(t.conn().info(t.now()).syn_retransmits == 2);
            CHECK(t.conn().info(t.now()).timeout_episodes == 1);
        }
    }

    TEST_CASE("RFC 9293 §3.10.7.4 seventh: bytes that arrive out of order are counted in TcpInfo") {
        Script t;
        t.establish_active();
        const std::uint32_t rcv = t.peer_nxt();
        t.send(t.peer().seq(rcv + 10).ack(kIss + 1).data("world"));
        CHECK(t.expect_one()->ack == SeqNum(rcv));  // the duplicate ACK (RFC 5681 §4.2)
        TcpInfo i = t.conn().info(t.now());
        CHECK(i.bytes_reordered == 5);
        CHECK(i.bytes_in == 0);
        t.send(t.peer().seq(rcv).ack(kIss + 1).data("0123456789"));
        (void)t.expect_one();
        i = t.conn().info(t.now());
        CHECK(i.bytes_reordered == 5);
        CHECK(i.bytes_in == 15);
        CHECK(t.read_all() == "0123456789world");
    }

    // ---- RTT, windows, buffers, options
    // ----------------------------------------------------------

    TEST_CASE(
        "RFC 6298 §2: TcpInfo reports SRTT and RTTVAR and the RTO and the smallest RTT sample") {
        Script t;
        CHECK(t.conn().info(t.now()).srtt == Duration{0});  // no sample yet
        CHECK(t.conn().info(t.now()).rto == t.config().rto_initial);
        t.establish_active(65535, 10 * kMs);  // the handshake's sample: R = 10 ms
        TcpInfo i = t.conn().info(t.now());
        CHECK(i.srtt == 10 * kMs);
        CHECK(i.rttvar == 5 * kMs);
        CHECK(i.rto == t.config().rto_min);  // 10 + 4 * 5 ms, below the 200 ms floor (§2.4)
        CHECK(i.min_rtt == 10 * kMs);
        REQUIRE(t.conn().send(pattern_bytes(100)).value == 100);
        (void)t.expect_one();
        t.advance(30 * kMs);
        t.send(t.peer_ack());
        i = t.conn().info(t.now());
        CHECK(i.srtt == Duration{12'500});  // 7/8 * 10 + 1/8 * 30
        CHECK(i.min_rtt == 10 * kMs);
        CHECK(i.connection_time == 40 * kMs);
    }

    TEST_CASE("RFC 9293 §3.3.1: TcpInfo reports the windows and the flight and the buffer sizes") {
        Script t;
        t.establish_active(30000);
        REQUIRE(t.conn().send(pattern_bytes(1000)).value == 1000);
        (void)t.expect_one();
        const TcpInfo i = t.conn().info(t.now());
        CHECK(i.mss == 1460);
        CHECK(i.bytes_in_flight == 1000);  // SND.MAX - SND.UNA
        CHECK(i.snd_wnd == 30000);
        CHECK(i.rcv_wnd == 65535);
        CHECK(i.cwnd == t.conn().cwnd());
        CHECK(i.cwnd == 14600);  // RFC 6928: min(10 MSS, max(2 MSS, 14600))
        CHECK(i.ssthresh == t.conn().ssthresh());
        CHECK(i.recv_buffer == t.config().recv_buffer);
        CHECK(i.send_buffer == t.config().send_buffer);
        CHECK(i.bytes_out == 1000);
        CHECK(i.segs_out == t.conn().stats().segs_out);
        CHECK(i.segs_in == t.conn().stats().segs_in);
        CHECK_FALSE(i.timestamps);
        CHECK_FALSE(i.sack);
        CHECK_FALSE(i.window_scaling);
    }

    TEST_CASE("RFC 7323 §2-3 and RFC 2018 §2: TcpInfo reports the options negotiated on the SYNs") {
        TcpConfig cfg = Script::default_config();
        cfg.recv_buffer = 1 << 20;  // our shift: 5
        Script t(cfg);
        establish_with_options(t);
        const TcpInfo i = t.conn().info(t.now());
        CHECK(i.timestamps);
        CHECK(i.sack);
        CHECK(i.window_scaling);
        CHECK(i.snd_wscale == 7);
        CHECK(i.rcv_wscale == 5);
        CHECK(i.mss == 1460 - 12);  // TSopt with padding takes 12 bytes of every segment
    }

}  // TEST_SUITE
