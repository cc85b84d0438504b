// RFC 8985 §7 Tail Loss Probe (TcpConfig::tail_loss_probe): a lost tail -- or the lost ACKs of
// one -- costs about two round trips, not a retransmission timeout.
#include <doctest/doctest.h>

#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr std::uint32_t S = 1460;  // SMSS (no timestamps in these scripts)
constexpr std::uint32_t kBase = kIss + 1;
constexpr Duration kRtt{10'000};  // 10 ms

TcpConfig tlp_config(bool on = true) {
    TcpConfig c = Script::default_config();
    c.tail_loss_probe = on;
    return c;
}

// Active open with an RTT sample of kRtt from the handshake; the peer offers SACK.
void establish(Script& t) {
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.advance(kRtt);
    t.set_peer_nxt(kPeerIss);
    t.send(t.peer().syn().ack(kIss + 1).mss(1460).win(65535).sack_perm());
    REQUIRE(t.expect_one()->flags == tcp_flag::ack);
    REQUIRE(t.conn().state() == TcpState::established);
    (void)t.events();
}

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE(
        "RFC 8985 §7.2-7.3: with data in flight and no ACK the probe resends the last segment "
        "after 2 SRTT + 2 ms") {
        Script t(tlp_config());
        establish(t);
        REQUIRE(t.conn().send(pattern_bytes(4 * S)).value == 4 * S);
        (void)t.expect_n(4);
        // The PTO (2 x 10 ms + 2 ms) comes long before the RTO (>= 200 ms).
        CHECK(t.next_timer_in() == Duration{22'000});
        REQUIRE(t.fire_next_timer());
        auto probe = t.expect_one();
        CHECK(probe->seq == SeqNum(kBase + 3 * S));  // the last segment, again
        CHECK(probe->payload.size() == S);
        CHECK(t.conn().stats().tail_loss_probes == 1);
        CHECK(t.conn().stats().timeouts == 0);
        // cwnd untouched, and one probe only: the next timer is the RTO.
        CHECK(t.next_timer_in() >= Duration{150'000});
        // The receiver had everything (its ACKs were lost): the ACK the probe draws completes it.
        t.send(t.peer().ack(kBase + 4 * S).win(65535).sack(kBase + 3 * S, kBase + 4 * S));
        CHECK(t.conn().snd_una() == SeqNum(kBase + 4 * S));
        CHECK(t.conn().stats().timeouts == 0);
    }

    TEST_CASE(
        "RFC 8985 §7.2: a single segment in flight adds the worst-case delayed ACK (200 ms) to the "
        "PTO") {
        Script t(tlp_config());
        establish(t);
        REQUIRE(t.conn().send(pattern_bytes(100)).value == 100);
        (void)t.expect_one();
        // 2 x 10 ms + 200 ms is not earlier than the RTO (200 ms min + ...)? The RTO here is
        // max(200 ms, SRTT + 4 RTTVAR) = 200 ms, so the RTO fires first and no PTO is armed.
        CHECK(t.next_timer_in() == t.conn().rtt().rto());
        REQUIRE(t.fire_next_timer());
        (void)t.expect_one();
        CHECK(t.conn().stats().tail_loss_probes == 0);
        CHECK(t.conn().stats().timeouts == 1);
    }

    TEST_CASE(
        "RFC 8985 §7.2-7.3 (extended): with SACKed data above a hole and the ACK clock stopped - "
        "the probe resends the segment at SND.UNA") {
        Script t(tlp_config());
        establish(t);
        REQUIRE(t.conn().send(pattern_bytes(6 * S)).value == 6 * S);
        (void)t.expect_n(6);
        // Segment 0 lost, 1 SACKed, and no further ACK (fewer than DupThresh duplicates: no fast
        // retransmit). RFC 8985 would leave this to RACK; without a later delivery RACK cannot
        // act, so the probe goes to the hole instead of waiting for the RTO.
        t.send(t.peer().ack(kBase).win(65535).sack(kBase + S, kBase + 2 * S));
        t.expect_nothing();
        CHECK(t.next_timer_in() == Duration{22'000});
        REQUIRE(t.fire_next_timer());
        auto probe = t.expect_one();
        CHECK(probe->seq == SeqNum(kBase));
        CHECK(probe->payload.size() == S);
        CHECK(t.conn().stats().tail_loss_probes == 1);
        CHECK(t.conn().stats().timeouts == 0);
        // One probe per silence: the next timer is the RTO.
        CHECK(t.next_timer_in() >= Duration{150'000});
        t.send(t.peer().ack(kBase + 6 * S).win(65535));
        CHECK(t.conn().snd_una() == SeqNum(kBase + 6 * S));
    }

    TEST_CASE(
        "RFC 8985 §7 (extended) / RFC 6675 §5.1: in SACK recovery a lost fast retransmission with "
        "nothing sent after it is probed after 2 SRTT - not the RTO") {
        Script t(tlp_config());
        establish(t);
        const std::uint16_t win = 4 * S;  // the window is full: no new data can follow
        REQUIRE(t.conn().send(pattern_bytes(4 * S)).value == 4 * S);
        (void)t.expect_n(4);
        t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 2 * S));
        t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 3 * S));
        t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 4 * S));
        REQUIRE(t.conn().in_recovery());
        CHECK(t.expect_one()->seq == SeqNum(kBase));  // the fast retransmission (lost)
        t.expect_nothing();
        const Duration pto = t.next_timer_in();
        CHECK(pto == Duration{22'000});
        REQUIRE(t.fire_next_timer());
        auto probe = t.expect_one();
        CHECK(probe->seq == SeqNum(kBase));
        CHECK(t.conn().stats().tail_loss_probes == 1);
        CHECK(t.conn().stats().timeouts == 0);
        // It arrives: the cumulative ACK ends the recovery without a timeout; cwnd was not reset.
        t.send(t.peer().ack(kBase + 4 * S).win(65535));
        CHECK(t.conn().snd_una() == SeqNum(kBase + 4 * S));
        CHECK_FALSE(t.conn().in_recovery());
        CHECK(t.conn().stats().timeouts == 0);
        CHECK(t.conn().cwnd() > S);
    }

    TEST_CASE(
        "RFC 8985 §7.2-7.3: the tail of a transfer that ends with our FIN (FIN-WAIT-1) is probed "
        "too - the FIN riding on the probe") {
        Script t(tlp_config());
        establish(t);
        REQUIRE(t.conn().send(pattern_bytes(4 * S)).value == 4 * S);
        REQUIRE(t.conn().shutdown_send(nullptr) == Errc::ok);
        auto first = t.expect_n(4);
        CHECK(first.back()->has(tcp_flag::fin));
        REQUIRE(t.conn().state() == TcpState::fin_wait_1);
        CHECK(t.next_timer_in() == Duration{22'000});
        REQUIRE(t.fire_next_timer());
        auto probe = t.expect_one();
        CHECK(probe->seq == SeqNum(kBase + 3 * S));
        CHECK(probe->payload.size() == S);
        CHECK(probe->has(tcp_flag::fin));
        CHECK(t.conn().stats().tail_loss_probes == 1);
        CHECK(t.conn().stats().timeouts == 0);
        t.send(t.peer().ack(kBase + 4 * S + 1).win(65535));
        CHECK(t.conn().state() == TcpState::fin_wait_2);
    }

    TEST_CASE("RFC 8985 §7.3: an ACK of new data re-arms the PTO from the remaining flight") {
        Script t(tlp_config());
        establish(t);
        REQUIRE(t.conn().send(pattern_bytes(4 * S)).value == 4 * S);
        (void)t.expect_n(4);
        t.advance(Duration{5'000});
        t.send(t.peer().ack(kBase + 2 * S).win(65535));
        (void)t.transmit();
        CHECK(t.next_timer_in() <= Duration{22'000});
        REQUIRE(t.fire_next_timer());
        auto probe = t.expect_one();
        CHECK(probe->seq == SeqNum(kBase + 3 * S));
        CHECK(t.conn().stats().tail_loss_probes == 1);
    }

    TEST_CASE(
        "RFC 6298 §5: with tail_loss_probe off (the engine default) the RTO alone repairs a lost "
        "tail") {
        Script t(tlp_config(false));
        establish(t);
        REQUIRE(t.conn().send(pattern_bytes(4 * S)).value == 4 * S);
        (void)t.expect_n(4);
        CHECK(t.next_timer_in() == t.conn().rtt().rto());
        REQUIRE(t.fire_next_timer());
        auto r = t.expect_one();
        CHECK(r->seq == SeqNum(kBase));
        CHECK(t.conn().stats().tail_loss_probes == 0);
        CHECK(t.conn().stats().timeouts == 1);
    }

}  // TEST_SUITE
