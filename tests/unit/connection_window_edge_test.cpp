// The right edge of the peer's window (RFC 9293 §3.8.6): no segment we send ends past
// SND.UNA + SND.WND -- not new data, not a retransmission (RTO, fast retransmit, RFC 6675
// NextSeg), not the RFC 8985 tail loss probe, not a FIN riding on data; the zero-window probe
// (§3.8.6.1) is the one segment allowed past it, and ours carries no data. One test per path
// that sizes a segment (Connection::send_one and its window_room).
//
// The peer in these scripts scales its window by 4 (RFC 7323 §2.3) and offers a window field of
// 64: 1,024 bytes, less than one SMSS (1,460), so the window, not the MSS, sizes the segments.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr Duration kMs{1'000};
constexpr Duration kRtt = 10 * kMs;
constexpr std::uint8_t kShift = 4;
constexpr std::uint16_t kField = 64;  // << 4 = 1,024 bytes
constexpr std::uint32_t kWnd = std::uint32_t{kField} << kShift;
constexpr std::uint32_t S = 1460;  // SMSS: no timestamps in these scripts
constexpr std::uint32_t kBase = kIss + 1;

struct Peer {
    bool sack = true;
    std::uint16_t syn_window = kWnd;  // unscaled on the SYN (RFC 7323 §2.2)
};

// Our active open against a peer with window scale 4, with an RTT sample of kRtt.
void open_active(Script& t, Peer p = {}) {
    t.conn().open_active(t.now());
    REQUIRE(t.expect_one()->flags == tcp_flag::syn);
    t.advance(kRtt);
    t.set_peer_nxt(kPeerIss);
    SegBuilder sa = t.peer();
    sa.syn().ack(kBase).mss(1460).win(p.syn_window).wscale(kShift);
    if (p.sack)
        sa.sack_perm();
    t.send(sa);
    REQUIRE(t.expect_one()->flags == tcp_flag::ack);
    REQUIRE(t.conn().state() == TcpState::established);
    REQUIRE(t.conn().snd_wnd() == p.syn_window);
    (void)t.events();
}

// The peer's active open to us (we are the passive side), the same options.
void open_passive(Script& t, Peer p = {}) {
    t.set_peer_nxt(kPeerIss);
    SegBuilder s = t.peer();
    s.syn().no_ack().mss(1460).win(p.syn_window).wscale(kShift);
    if (p.sack)
        s.sack_perm();
    const Segment syn = s.build();
    t.conn().open_passive(syn, t.now());
    t.set_peer_nxt(kPeerIss + 1);
    REQUIRE(t.expect_one()->flags == (tcp_flag::syn | tcp_flag::ack));
    t.advance(kRtt);
    t.send(t.peer().ack(kBase).win(kField));
    REQUIRE(t.conn().state() == TcpState::established);
    REQUIRE(t.conn().snd_wnd() == kWnd);
    t.expect_nothing();
    (void)t.events();
}

// Every data or FIN segment in `v` ends at or before SND.UNA + SND.WND (the sequence space a
// FIN takes counts: RFC 9293 §3.10.7.4 trims "including SYN and FIN").
void check_within_window(Script& t, const std::vector<OwnedSegment>& v) {
    const SeqNum edge = t.conn().snd_una() + t.conn().snd_wnd();
    for (const auto& s : v) {
        const SeqNum end = s->seq + s->seg_len();
        CHECK_MESSAGE(end <= edge, "segment ends "
                                       << (end - edge)
                                       << " octets past the right edge: " << to_string(s.get()));
    }
}

TcpConfig tlp_config() {
    TcpConfig c = Script::default_config();
    c.tail_loss_probe = true;
    // RFC 6298 §2.4's 1 s minimum RTO: the probe timeout of a lone segment (2 SRTT + 200 ms,
    // RFC 8985 §7.2) comes first -- as it does with the 200 ms minimum once the RTO has
    // backed off.
    c.rto_min = 1'000 * kMs;
    return c;
}

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE(
        "RFC 9293 §3.8.6: the tail loss probe after a window-sized segment stays within SND.UNA + "
        "SND.WND - active and passive") {
        // The black-box finding: after the peer ACKs X with 1,024 bytes of window, 1,024 new bytes
        // go at X; when they time out the probe re-sent X with 1,025 bytes.
        for (const bool passive : {false, true}) {
            CAPTURE(passive);
            Script t(tlp_config());
            if (passive) {
                open_passive(t);
            } else {
                open_active(t);
            }
            REQUIRE(t.conn().send(pattern_bytes(8 * kWnd)).value == 8 * kWnd);
            auto first = t.expect_one();
            CHECK(first->payload.size() == kWnd);
            t.advance(kRtt);
            t.send(t.peer_ack().win(kField));  // ACK of X, window 1,024
            auto next = t.expect_one();
            CHECK(next->seq == SeqNum(kBase + kWnd));
            CHECK(next->payload.size() == kWnd);
            // Nothing more: the probe timeout fires first.
            REQUIRE(t.fire_next_timer());
            auto probe = t.transmit();
            REQUIRE(probe.size() == 1);
            CHECK(t.conn().stats().tail_loss_probes == 1);
            CHECK(t.conn().stats().timeouts == 0);
            CHECK(probe[0]->seq == SeqNum(kBase + kWnd));
            CHECK(probe[0]->payload.size() == kWnd);  // the last segment again, not one octet more
            check_within_window(t, probe);
        }
    }

    TEST_CASE(
        "RFC 9293 §3.8.6: new data stops at the right edge - also when an ACK moves it by part of "
        "a "
        "segment") {
        Script t;
        open_active(t);
        REQUIRE(t.conn().send(pattern_bytes(4 * S)).value == 4 * S);
        auto a = t.expect_one();
        CHECK(a->payload.size() == kWnd);
        check_within_window(t, {a});
        // Half of it acknowledged, the window field still 64: the edge moves by 512 bytes only.
        t.send(t.peer().ack(kBase + kWnd / 2).win(kField));
        auto b = t.transmit();
        REQUIRE(b.size() == 1);
        CHECK(b[0]->seq == SeqNum(kBase + kWnd));
        CHECK(b[0]->payload.size() == kWnd / 2);
        check_within_window(t, b);
    }

    TEST_CASE(
        "RFC 9293 §3.8.6: a retransmission timeout resends only what the window holds - also after "
        "it shrank") {
        Script t;
        open_active(t, Peer{.sack = false, .syn_window = 65535});
        REQUIRE(t.conn().send(pattern_bytes(4 * S)).value == 4 * S);
        (void)t.expect_n(4);
        // The peer shrinks its window to 512 bytes (SHLD-14 says it should not; MUST-34: the sender
        // copes): §3.8.6 SHLD-16, retransmit "the old unacknowledged data between SND.UNA and
        // SND.UNA+SND.WND".
        t.send(t.peer().ack(kBase).win(kField / 2));
        REQUIRE(t.conn().snd_wnd() == kWnd / 2);
        t.expect_nothing();
        REQUIRE(t.fire_next_timer());
        CHECK(t.conn().stats().timeouts == 1);
        auto r = t.transmit();
        REQUIRE(r.size() == 1);
        CHECK(r[0]->seq == SeqNum(kBase));
        CHECK(r[0]->payload.size() == kWnd / 2);
        check_within_window(t, r);
    }

    TEST_CASE(
        "RFC 9293 §3.8.6: a fast retransmission is cut to a window that shrank below one segment") {
        Script t;
        open_active(t, Peer{.sack = false, .syn_window = 65535});
        REQUIRE(t.conn().send(pattern_bytes(6 * S)).value == 6 * S);
        (void)t.expect_n(6);
        // The first segment is lost; the window shrinks to 62 << 4 = 992 bytes with the first
        // ACK (a window update, not a duplicate), then three duplicates of it.
        constexpr std::uint16_t kSmall = 62;
        t.send(t.peer().ack(kBase).win(kSmall));
        for (int i = 0; i < 3; ++i) t.send(t.peer().ack(kBase).win(kSmall));
        CHECK(t.conn().stats().fast_retransmits == 1);
        auto r = t.transmit();
        REQUIRE(r.size() == 1);
        CHECK(r[0]->seq == SeqNum(kBase));
        CHECK(r[0]->payload.size() == std::uint32_t{kSmall} << kShift);
        check_within_window(t, r);
    }

    TEST_CASE("RFC 9293 §3.8.6: RFC 6675 NextSeg does not retransmit a hole past the right edge") {
        Script t;
        open_active(t, Peer{.sack = true, .syn_window = 65535});
        REQUIRE(t.conn().send(pattern_bytes(10 * S)).value == 10 * S);
        (void)t.expect_n(10);
        // Segments 1 and 3 are lost (as in the RFC 6675 §5 test), and every ACK offers a window of
        // 228 << 4 = 3,648 bytes from SND.UNA = segment 1: the edge lies inside hole 3.
        constexpr std::uint16_t kField2 = 228;
        auto ack = [&] {
            SegBuilder b = t.peer();
            b.ack(kBase + S).win(kField2);
            return b;
        };
        t.send(ack());
        t.send(ack().sack(kBase + 2 * S, kBase + 3 * S));
        t.send(ack().sack(kBase + 4 * S, kBase + 5 * S).sack(kBase + 2 * S, kBase + 3 * S));
        t.expect_nothing();
        t.send(ack().sack(kBase + 4 * S, kBase + 6 * S).sack(kBase + 2 * S, kBase + 3 * S));
        auto r1 = t.transmit();  // fast retransmission of segment 1: inside the window
        REQUIRE(r1.size() == 1);
        CHECK(r1[0]->seq == SeqNum(kBase + S));
        CHECK(r1[0]->payload.size() == S);
        check_within_window(t, r1);
        // Segment 6 SACKed: hole 3 IsLost(), NextSeg rule (1) picks it -- only what the window
        // leaves of it may go (the edge is at SND.UNA + 3,648).
        t.send(ack().sack(kBase + 4 * S, kBase + 7 * S).sack(kBase + 2 * S, kBase + 3 * S));
        REQUIRE(t.conn().in_recovery());
        auto r2 = t.transmit();
        REQUIRE(r2.size() == 1);
        CHECK(r2[0]->seq == SeqNum(kBase + 3 * S));
        CHECK(r2[0]->payload.size() == (std::uint32_t{kField2} << kShift) - 2 * S);
        check_within_window(t, r2);
    }

    TEST_CASE(
        "RFC 9293 §3.8.6 / §3.10.7.4: our FIN rides on data only if it fits in the window - else "
        "it waits for the ACK") {
        // The FIN takes a sequence number, which the receiver trims "including SYN and FIN" when it
        // lies outside its window: it counts against the window like a data octet.
        Script t;
        open_active(t);
        REQUIRE(t.conn().send(pattern_bytes(kWnd)).value == kWnd);
        REQUIRE(t.conn().shutdown_send() == Errc::ok);
        auto a = t.expect_one();
        CHECK(a->payload.size() == kWnd);
        CHECK_FALSE(a->has(tcp_flag::fin));  // at SND.UNA + SND.WND: one past the edge
        check_within_window(t, {a});
        t.advance(kRtt);
        t.send(t.peer_ack().win(kField));
        auto fin = t.expect_one();
        CHECK(fin->has(tcp_flag::fin));
        CHECK(fin->payload.empty());
        // With one octet of room to spare the FIN goes on the data.
        Script u;
        open_active(u);
        REQUIRE(u.conn().send(pattern_bytes(kWnd - 1)).value == kWnd - 1);
        REQUIRE(u.conn().shutdown_send() == Errc::ok);
        auto b = u.expect_one();
        CHECK(b->payload.size() == kWnd - 1);
        CHECK(b->has(tcp_flag::fin));
        check_within_window(u, {b});
    }

    TEST_CASE(
        "RFC 9293 §3.8.6.1: the zero-window probe is the one segment past the edge - and it "
        "carries no data") {
        Script t;
        open_active(t);
        REQUIRE(t.conn().send(pattern_bytes(2 * kWnd)).value == 2 * kWnd);
        (void)t.expect_one();
        t.advance(kRtt);
        t.send(t.peer_ack().win(0));  // everything ACKed, the window closed
        t.expect_nothing();
        REQUIRE(t.conn().timer(Timer::persist).has_value());
        REQUIRE(t.fire_next_timer());
        auto probe = t.expect_one();
        CHECK(t.conn().stats().zero_window_probes == 1);
        CHECK(probe->payload.empty());
        CHECK_FALSE(probe->has(tcp_flag::fin));
        CHECK(probe->seq + probe->seg_len() <= t.conn().snd_una() + 1U);
        // The window opens: data again, within it.
        t.send(t.peer_ack().win(kField));
        auto d = t.expect_one();
        CHECK(d->payload.size() == kWnd);
        check_within_window(t, {d});
    }

}  // TEST_SUITE
