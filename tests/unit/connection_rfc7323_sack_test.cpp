// Issue #3, items 1-3: RFC 7323 (window scaling, timestamps, RTTM, PAWS), RFC 2018 SACK (receiver
// and sender), RFC 6675 recovery, RFC 3042 limited transmit, and the congestion controllers.
#include <doctest/doctest.h>

#include "support/script.hpp"
#include "ustack/congestion.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

struct PeerOpts {
    std::optional<std::uint8_t> shift = 2;
    bool ts = true;
    bool sack = true;
    std::uint16_t win = 65535;
};

// Active open against a peer that answers with the given options. Returns our SYN.
OwnedSegment establish_with(Script& t, PeerOpts o) {
    t.conn().open_active(t.now());
    auto syn = t.expect_one();
    t.set_peer_nxt(kPeerIss);
    SegBuilder sa = t.peer();
    sa.syn().ack(kIss + 1).mss(1460).win(o.win);
    if (o.shift)
        sa.wscale(*o.shift);
    if (o.ts)
        sa.ts(100, syn->options.timestamps ? syn->options.timestamps->tsval : 0);
    if (o.sack)
        sa.sack_perm();
    t.send(sa);
    auto ack = t.expect_one();
    REQUIRE(ack->flags == tcp_flag::ack);
    REQUIRE(t.conn().state() == TcpState::established);
    (void)t.events();
    return syn;
}

// The peer's segment [from, to), relative to its first data octet (with TSval `ts` when
// timestamps are on); returns the ACK it draws at once (out of order: a duplicate ACK).
OwnedSegment arrive(Script& t, std::uint32_t from, std::uint32_t to,
                    std::optional<std::uint32_t> ts = std::nullopt) {
    SegBuilder b = t.peer();
    b.seq(kPeerIss + 1 + from).ack(kIss + 1).data(pattern_bytes(to - from));
    if (ts)
        b.ts(*ts, 0);
    t.send(b);
    auto a = t.expect_one();
    if (from > 0)
        CHECK(a->ack == SeqNum(kPeerIss + 1));
    return a;
}

// The SACK block [from, to) relative to the peer's first data octet.
SackBlock rel(std::uint32_t from, std::uint32_t to) {
    return SackBlock{SeqNum(kPeerIss + 1 + from), SeqNum(kPeerIss + 1 + to)};
}

// `a` carries exactly the blocks `want`, in that order.
void check_blocks(const OwnedSegment& a, std::initializer_list<SackBlock> want) {
    REQUIRE(a->options.sack_count == want.size());
    std::size_t i = 0;
    for (const SackBlock& b : want) {
        CAPTURE(i);
        CHECK(a->options.sack[i++] == b);
    }
}

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE("RFC 7323 §2.2 §2.3 window scale - timestamps and SACK-permitted negotiated on SYN") {
        TcpConfig cfg = Script::default_config();
        cfg.recv_buffer = 4u << 20;  // 4 MiB: shift 7
        Script t(cfg);
        t.conn().open_active(t.now());
        auto syn = t.expect_one();
        CHECK(syn->options.window_scale == std::optional<std::uint8_t>(7));
        REQUIRE(syn->options.timestamps.has_value());
        CHECK(syn->options.timestamps->tsecr == 0);
        CHECK(syn->options.sack_permitted);
        CHECK(syn->window == 65535);  // §2.2: the SYN's window is never scaled
        t.set_peer_nxt(kPeerIss);
        t.send(t.peer()
                   .syn()
                   .ack(kIss + 1)
                   .mss(1460)
                   .win(1000)
                   .wscale(2)
                   .ts(100, syn->options.timestamps->tsval)
                   .sack_perm());
        auto ack = t.expect_one();
        CHECK(t.conn().window_scaling_enabled());
        CHECK(t.conn().snd_wscale() == 2);
        CHECK(t.conn().rcv_wscale() == 7);
        CHECK(t.conn().timestamps_enabled());
        CHECK(t.conn().sack_enabled());
        CHECK(t.conn().snd_wnd() == 1000);      // from the SYN,ACK: unscaled
        CHECK(ack->window == (4u << 20) >> 7);  // 4 MiB offered in units of 128 bytes
        REQUIRE(ack->options.timestamps.has_value());
        CHECK(ack->options.timestamps->tsecr == 100);  // §4.3: echo TS.Recent
        CHECK(t.conn().snd_mss() == 1460 - 12);        // TSopt takes 12 bytes of every segment
        t.send(t.peer().ack(kIss + 1).win(1000).ts(101, 0));
        CHECK(t.conn().snd_wnd() == 4000);  // §2.3: SEG.WND << Snd.Wind.Shift
    }

    TEST_CASE("RFC 7323 §2.2 no window scaling unless both SYNs carry the option") {
        TcpConfig cfg = Script::default_config();
        cfg.recv_buffer = 4u << 20;
        Script t(cfg);
        establish_with(t, PeerOpts{.shift = std::nullopt, .ts = false, .sack = false});
        CHECK_FALSE(t.conn().window_scaling_enabled());
        CHECK(t.conn().rcv_wscale() == 0);
        CHECK_FALSE(t.conn().timestamps_enabled());
        CHECK(t.conn().snd_mss() == 1460);
        REQUIRE(t.conn().send(bytes_of("x")).value == 1);
        auto d = t.expect_one();
        CHECK(d->window == 65535);  // the largest unscaled window
        CHECK_FALSE(d->options.timestamps.has_value());
    }

    TEST_CASE("RFC 7323 §2.3 a passive open answers the scale option only when offered") {
        TcpConfig cfg = Script::default_config();
        cfg.recv_buffer = 1u << 20;  // shift 5
        Script t(cfg);
        t.set_peer_nxt(kPeerIss);
        SegBuilder s = t.peer();
        s.syn().no_ack().mss(1460).wscale(3).ts(7, 0).sack_perm();
        const Segment syn = s.build();
        t.conn().open_passive(syn, t.now());
        auto sa = t.expect_one();
        CHECK(sa->options.window_scale == std::optional<std::uint8_t>(5));
        REQUIRE(sa->options.timestamps.has_value());
        CHECK(sa->options.timestamps->tsecr == 7);
        CHECK(sa->options.sack_permitted);
    }

    TEST_CASE("RFC 7323 §4 RTTM: an RTT sample from TSecr - also for a retransmitted segment") {
        Script t;
        establish_with(t, PeerOpts{.shift = 0});
        REQUIRE(t.conn().send(bytes_of("hello")).value == 5);
        auto d = t.expect_one();
        const std::uint32_t echo = d->options.timestamps->tsval;
        t.fire_next_timer();  // RTO: the same bytes again (Karn would forbid a sample now)
        auto again = t.expect_one();
        CHECK(again->seq == d->seq);
        t.advance(Duration{40'000});
        // The ACK echoes the first transmission's TSval: the sample is exact despite the resend.
        t.send(t.peer().ack(kIss + 6).ts(200, echo));
        REQUIRE(t.conn().rtt().srtt().has_value());
        CHECK(*t.conn().rtt().srtt() > Duration{0});
    }

    TEST_CASE("RFC 7323 §5.3 PAWS: a segment with an old TSval is dropped and ACKed") {
        Script t;
        establish_with(t, PeerOpts{.shift = 0});
        t.send(t.peer().ack(kIss + 1).ts(500, 0).data("new"));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 4));
        CHECK(a->options.timestamps->tsecr == 500);  // §4.3 R3: TS.Recent updated
        // An old duplicate from a previous incarnation: TSval 400 < TS.Recent 500.
        t.send(t.peer().ack(kIss + 1).ts(400, 0).data("old"));
        auto b = t.expect_one();
        CHECK(b->ack == SeqNum(kPeerIss + 4));  // not accepted
        CHECK(t.conn().stats().paws_dropped == 1);
        CHECK(t.read_all() == "new");
        // §3.2: after negotiating, a non-RST segment without TSopt is dropped.
        t.send(t.peer().ack(kIss + 1).data("none"));
        CHECK(t.conn().stats().missing_ts_dropped == 1);
        CHECK(t.read_all().empty());
    }

    TEST_CASE("RFC 7323 §5.4 TSval never goes backwards when the caller's clock does") {
        // Threads that read the clock before taking the host lock hand the engine a `now` older
        // than one it saw before; a TSval below one already sent would make the peer's PAWS
        // (§5.3) drop the segment.
        Script t;
        establish_with(t, PeerOpts{.shift = 0});
        t.conn().set_nodelay(true);
        t.advance(Duration{5'000});
        REQUIRE(t.conn().send(bytes_of("a")).value == 1);
        const std::uint32_t sent = t.expect_one()->options.timestamps->tsval;
        t.advance(Duration{-3'000});  // the next call's clock reads 3 ms earlier
        REQUIRE(t.conn().send(bytes_of("b")).value == 1);
        CHECK(t.expect_one()->options.timestamps->tsval == sent);  // not sent - 3
        t.send(t.peer().ack(kIss + 1).ts(300, 0).data("xy"));      // a pure ACK answers: same rule
        t.conn().set_nodelay(true);
        for (const auto& s : t.transmit()) CHECK(s->options.timestamps->tsval == sent);
        // Once the clock passes the clamp, TSval follows it again.
        t.advance(Duration{10'000});  // 12 ms after the first send's clock
        REQUIRE(t.conn().send(bytes_of("c")).value == 1);
        CHECK(t.expect_one()->options.timestamps->tsval == sent + 7);
    }

    TEST_CASE(
        "DESIGN.md §3 with timestamps the disconnect-data limit is 24 and SACK yields on the FIN") {
        TcpConfig cfg = Script::disc_config();
        Script t(cfg);
        t.conn().open_active(t.now());
        auto syn = t.expect_one();
        t.set_peer_nxt(kPeerIss);
        t.send(t.peer()
                   .syn()
                   .ack(kIss + 1)
                   .mss(1460)
                   .ts(1, syn->options.timestamps->tsval)
                   .sack_perm()
                   .disc_offer());
        (void)t.expect_one();
        CHECK(t.conn().disconnect_data_limit() == 24);
        // Out-of-order data so SACK blocks are owed, then a FIN with 24 bytes of disconnect data.
        t.send(t.peer().seq(kPeerIss + 101).ack(kIss + 1).ts(2, 0).data("ooo"));
        auto dup = t.expect_one();
        CHECK(dup->options.sack_count == 1);
        const DisconnectData dd = disc_of("123456789012345678901234");
        REQUIRE(t.conn().shutdown_send(&dd) == Errc::ok);
        auto fin = t.expect_one();
        REQUIRE(fin->has(tcp_flag::fin));
        CHECK(fin->options.disconnect == std::optional<DisconnectData>(dd));
        CHECK(fin->options.sack_count == 0);  // 12 (TS) + 28 (option) = 40: no room left
    }

    TEST_CASE("RFC 2018 §4 receiver: SACK blocks report out-of-order data - the latest first") {
        Script t;
        establish_with(t, PeerOpts{.shift = 0, .ts = false});
        const std::uint32_t base = kPeerIss + 1;
        t.send(t.peer().seq(base + 100).ack(kIss + 1).data("bb"));
        auto a = t.expect_one();  // immediate duplicate ACK (RFC 5681 §4.2)
        CHECK(a->ack == SeqNum(base));
        REQUIRE(a->options.sack_count == 1);
        CHECK(a->options.sack[0] == SackBlock{SeqNum(base + 100), SeqNum(base + 102)});
        t.send(t.peer().seq(base + 50).ack(kIss + 1).data("aa"));
        auto b = t.expect_one();
        REQUIRE(b->options.sack_count == 2);
        CHECK(b->options.sack[0] == SackBlock{SeqNum(base + 50), SeqNum(base + 52)});  // newest
        CHECK(b->options.sack[1] == SackBlock{SeqNum(base + 100), SeqNum(base + 102)});
        t.send(t.peer().seq(base).ack(kIss + 1).data(pattern_bytes(50)));
        auto c = t.expect_one();
        CHECK(c->ack == SeqNum(base + 52));
        REQUIRE(c->options.sack_count == 1);
        CHECK(c->options.sack[0] == SackBlock{SeqNum(base + 100), SeqNum(base + 102)});
    }

    TEST_CASE(
        "RFC 2018 §4 receiver: after the first block the blocks most recently reported come first "
        "- not the highest") {
        // The black-box case: out-of-order data at [300,400), [900,1000), [400,500), [1500,1600)
        // (relative): after the last, (1500,1600) first, then (300,500) -- reported first, just
        // extended, by the previous ACK -- before (900,1000). Linux orders them so.
        Script t;
        establish_with(t, PeerOpts{.shift = 0, .ts = false});
        (void)arrive(t, 300, 400);
        check_blocks(arrive(t, 900, 1000), {rel(900, 1000), rel(300, 400)});
        check_blocks(arrive(t, 400, 500), {rel(300, 500), rel(900, 1000)});
        check_blocks(arrive(t, 1500, 1600), {rel(1500, 1600), rel(300, 500), rel(900, 1000)});
    }

    TEST_CASE(
        "RFC 2018 §4 receiver: with more blocks than fit the most recently reported ones are "
        "repeated") {
        // Timestamps leave room for 3 blocks. Arrivals from the top down, then an extension of the
        // second: the block reported longest ago -- the highest -- is the one left out.
        Script t;
        establish_with(t, PeerOpts{.shift = 0, .ts = true});
        std::uint32_t tsval = 200;
        (void)arrive(t, 2100, 2200, ++tsval);
        (void)arrive(t, 1500, 1600, ++tsval);
        (void)arrive(t, 900, 1000, ++tsval);
        check_blocks(arrive(t, 300, 400, ++tsval),
                     {rel(300, 400), rel(900, 1000), rel(1500, 1600)});
        check_blocks(arrive(t, 1600, 1700, ++tsval),
                     {rel(1500, 1700), rel(300, 400), rel(900, 1000)});
        // The gap below 300 fills: ACK 400, and the blocks left, newest first.
        auto f = arrive(t, 0, 300, ++tsval);
        CHECK(f->ack == SeqNum(kPeerIss + 1 + 400));
        check_blocks(f, {rel(1500, 1700), rel(900, 1000), rel(2100, 2200)});
    }

    TEST_CASE(
        "RFC 3042 limited transmit: one new segment on each of the first two duplicate ACKs") {
        Script t;
        establish_with(t, PeerOpts{.shift = std::nullopt, .ts = false, .sack = false});
        REQUIRE(t.conn().send(pattern_bytes(12 * 1460)).value == 12 * 1460);
        (void)t.expect_n(10);  // RFC 6928 IW: 10 segments
        t.send(t.peer().ack(kIss + 1));
        auto a = t.expect_one();
        CHECK(a->seq == SeqNum(kIss + 1 + 10 * 1460));
        t.send(t.peer().ack(kIss + 1));
        auto b = t.expect_one();
        CHECK(b->seq == SeqNum(kIss + 1 + 11 * 1460));
        CHECK(t.conn().stats().limited_transmits == 2);
        t.send(t.peer().ack(kIss + 1));  // the third: fast retransmit of the first segment
        auto c = t.expect_one();
        CHECK(c->seq == SeqNum(kIss + 1));
    }

    TEST_CASE("RFC 6675 §5 SACK recovery fills every lost hole within one RTT") {
        Script t;
        establish_with(t, PeerOpts{.shift = 0, .ts = false});
        const std::uint32_t S = 1460;
        const std::uint32_t base = kIss + 1;
        REQUIRE(t.conn().send(pattern_bytes(10 * S)).value == 10 * S);
        (void)t.expect_n(10);
        // Segments 1 and 3 are lost. The peer ACKs segment 0, then SACKs 2, 4, 5, 6 ...
        t.send(t.peer().ack(base + S));
        t.expect_nothing();
        t.send(t.peer().ack(base + S).sack(base + 2 * S, base + 3 * S));
        t.send(t.peer()
                   .ack(base + S)
                   .sack(base + 4 * S, base + 5 * S)
                   .sack(base + 2 * S, base + 3 * S));
        t.expect_nothing();  // (limited transmit has no new data to send)
        t.send(t.peer()
                   .ack(base + S)
                   .sack(base + 4 * S, base + 6 * S)
                   .sack(base + 2 * S, base + 3 * S));
        auto r1 = t.expect_one();  // third duplicate ACK: segment 1 (RFC 6675 §5 step 4.3)
        CHECK(r1->seq == SeqNum(base + S));
        CHECK(t.conn().in_recovery());
        CHECK(t.conn().cwnd() == t.conn().ssthresh());
        // Segment 6 SACKed: now 3 segments lie above hole 3, so IsLost() and it is resent at once
        // -- no partial ACK (one RTT per hole, as NewReno needs) is awaited.
        t.send(t.peer()
                   .ack(base + S)
                   .sack(base + 4 * S, base + 7 * S)
                   .sack(base + 2 * S, base + 3 * S));
        auto r2 = t.expect_one();
        CHECK(r2->seq == SeqNum(base + 3 * S));
        CHECK(t.conn().stats().sack_recoveries == 1);
        CHECK(t.conn().stats().sack_retransmits == 1);
        CHECK(t.conn().stats().timeouts == 0);
        CHECK(t.conn().scoreboard().size() == 2);
        // Both retransmissions arrive: a full ACK ends recovery.
        t.send(t.peer().ack(base + 10 * S));
        CHECK_FALSE(t.conn().in_recovery());
        CHECK(t.conn().scoreboard().empty());
    }

    TEST_CASE(
        "RFC 9438 §4.6 CUBIC reduces to 0.7 - RFC 5681 §3.2 NewReno to 0.5 - §4.8 RTO to 1 MSS") {
        const Instant t0{};
        auto cubic = make_congestion_control(CongestionAlgorithm::cubic, 1000);
        auto reno = make_congestion_control(CongestionAlgorithm::newreno, 1000);
        CHECK(cubic->cwnd() == 10000);  // RFC 6928: min(10*MSS, max(2*MSS, 14600))
        cubic->on_congestion_event(20000, t0);
        reno->on_congestion_event(20000, t0);
        CHECK(cubic->ssthresh() == 14000);
        CHECK(reno->ssthresh() == 10000);
        // Congestion avoidance: both grow; over 5 s of 100 ms RTTs CUBIC regains its W_max (20
        // segments) -- the cubic function's plateau at K -- while NewReno adds one segment per RTT.
        const Duration rtt{100'000};
        Instant now = t0;
        for (int i = 0; i < 50; ++i) {
            now += rtt;
            for (std::uint32_t acked = 0; acked < cubic->cwnd(); acked += 1000)
                cubic->on_ack(1000, cubic->cwnd(), rtt, now);
            for (std::uint32_t acked = 0; acked < reno->cwnd(); acked += 1000)
                reno->on_ack(1000, reno->cwnd(), rtt, now);
        }
        CHECK(cubic->cwnd() >= 20000);
        CHECK(reno->cwnd() >= 10000 + 45 * 1000);
        CHECK(reno->cwnd() <= 10000 + 51 * 1000);
        cubic->on_rto(30000, now);
        CHECK(cubic->cwnd() == 1000);
        CHECK(cubic->ssthresh() == 21000);
    }

    TEST_CASE("RFC 5681 §3.1 an RTO during SACK recovery clears the scoreboard (RFC 6675 §5.1)") {
        Script t;
        establish_with(t, PeerOpts{.shift = 0, .ts = false});
        const std::uint32_t base = kIss + 1;
        REQUIRE(t.conn().send(pattern_bytes(4 * 1460)).value == 4 * 1460);
        (void)t.expect_n(4);
        t.send(t.peer().ack(base).sack(base + 1460, base + 2920));
        CHECK(t.conn().scoreboard().size() == 1);
        t.fire_next_timer();
        CHECK(t.conn().scoreboard().empty());
        CHECK(t.conn().cwnd() == t.conn().snd_mss());
        auto r = t.expect_one();
        CHECK(r->seq == SeqNum(base));
    }

    TEST_CASE(
        "RFC 6298 §5.7 / RFC 7323 §4.1: after an RTO the first timestamp echo ends the backoff") {
        // Regression: samples were taken once per flight only (ACK past the SND.MAX of the last
        // sample), so under repeated loss the backed-off RTO kept doubling (seen against Linux at
        // 2 % loss: 0.2, 0.4 ... 12.8 s between retransmissions).
        Script t;
        establish_with(t, PeerOpts{.shift = 0});
        REQUIRE(t.conn().send(pattern_bytes(3000)).value == 3000);
        auto flight = t.expect_n(3);
        const std::uint32_t first_len = static_cast<std::uint32_t>(flight[0].payload().size());
        t.advance(Duration{10'000});
        // The first segment is acknowledged: a regular sample, the next one is due past SND.MAX.
        t.send(t.peer().ack(kIss + 1 + first_len).ts(300, flight[0]->options.timestamps->tsval));
        (void)t.transmit();
        t.fire_next_timer();  // RTO: the second segment again, backoff 1
        auto r1 = t.transmit();
        REQUIRE_FALSE(r1.empty());
        t.fire_next_timer();  // and again, backoff 2
        auto r2 = t.transmit();
        REQUIRE_FALSE(r2.empty());
        CHECK(t.conn().rtt().backoff_count() == 2);
        // The retransmission arrives; the ACK (still short of SND.MAX) echoes its TSval.
        t.advance(Duration{5'000});
        t.send(t.peer().ack(kIss + 1 + 2 * first_len).ts(310, r2[0]->options.timestamps->tsval));
        CHECK(t.conn().rtt().backoff_count() == 0);
        CHECK(t.conn().rtt().rto() < Duration{1'000'000});
    }

}  // TEST_SUITE
