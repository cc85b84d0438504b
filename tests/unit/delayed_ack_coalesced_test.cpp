// Delayed ACK with link-coalesced segments (RFC 1122 §4.2.3.2, RFC 5681 §4.2): a TUN device with
// GRO hands the engine one "segment" carrying many wire segments' worth of payload; it counts as
// the full-sized segments it stands for, so it draws an ACK at once instead of waiting for the
// delayed-ACK timer, while a lone full-sized segment still waits and small ones count one each.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr Duration kMs{1'000};

TcpConfig delayed_config() {
    TcpConfig cfg = Script::default_config();
    cfg.delayed_ack = true;
    cfg.recv_buffer = 1 << 20;  // room for several coalesced 64 KB segments
    return cfg;
}

// The peer's in-order data (seq = the peer's next sequence number), acknowledging our SYN.
SegBuilder data_seg(const Script& t, std::size_t n, char first = 'a') {
    SegBuilder b = t.peer();
    b.ack(kIss + 1).data(pattern_bytes(n, first));
    return b;
}

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE("RFC 5681 §4.2: one link-coalesced segment of 10 x MSS is ACKed at once - no timer") {
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        t.establish_passive();
        const std::size_t mss = cfg.mss;
        t.send(data_seg(t, 10 * mss));
        auto a = t.expect_one();
        CHECK(a->flags == tcp_flag::ack);
        CHECK(a->ack == SeqNum(kPeerIss + 1 + static_cast<std::uint32_t>(10 * mss)));
        CHECK_FALSE(t.conn().timer(Timer::delayed_ack).has_value());
        t.expect_nothing();
        t.advance(cfg.delayed_ack_timeout);
        t.expect_nothing();  // nothing left owed
        CHECK(t.read_all().size() == 10 * mss);
    }

    TEST_CASE("RFC 5681 §4.2: a coalesced 64 KB segment of 1448-byte segments is ACKed at once") {
        // 45 wire segments of 1448 bytes (1460 minus 12 for RFC 7323 timestamps), as Linux GRO
        // builds.
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, 45 * 1448));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + 45 * 1448));
        CHECK_FALSE(t.conn().timer(Timer::delayed_ack).has_value());
    }

    TEST_CASE("RFC 5681 §4.2: a coalesced segment of two full-sized segments is ACKed at once") {
        const TcpConfig cfg = delayed_config();
        for (const std::size_t n :
             {std::size_t{2} * cfg.mss, std::size_t{cfg.mss} + 1, std::size_t{2} * 1448}) {
            CAPTURE(n);
            Script t(cfg);
            t.establish_passive();
            t.send(data_seg(t, n));
            auto a = t.expect_one();
            CHECK(a->ack == SeqNum(kPeerIss + 1 + static_cast<std::uint32_t>(n)));
            CHECK_FALSE(t.conn().timer(Timer::delayed_ack).has_value());
        }
    }

    TEST_CASE("RFC 1122 §4.2.3.2: one full-sized segment alone waits for the delayed-ACK timer") {
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, cfg.mss));
        t.expect_nothing();
        CHECK(t.conn().timer(Timer::delayed_ack) == t.now() + cfg.delayed_ack_timeout);
        t.advance(cfg.delayed_ack_timeout - kMs);
        t.expect_nothing();
        t.advance(kMs);
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + cfg.mss));
        t.expect_nothing();
    }

    TEST_CASE("RFC 5681 §4.2: a second full-sized segment draws the ACK before the timer") {
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, cfg.mss));
        t.expect_nothing();
        t.advance(10 * kMs);
        t.send(data_seg(t, cfg.mss, 'k'));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + 2U * cfg.mss));
        CHECK_FALSE(t.conn().timer(Timer::delayed_ack).has_value());
        // The count starts over after the ACK: one more full-sized segment waits again.
        t.send(data_seg(t, cfg.mss, 'c'));
        t.expect_nothing();
        CHECK(t.conn().timer(Timer::delayed_ack) == t.now() + cfg.delayed_ack_timeout);
    }

    TEST_CASE(
        "RFC 5681 §4.2: after a coalesced segment is ACKed a lone full-sized one waits again") {
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, 10 * std::size_t{cfg.mss}));
        (void)t.expect_one();
        t.send(data_seg(t, cfg.mss));
        t.expect_nothing();
        CHECK(t.conn().timer(Timer::delayed_ack) == t.now() + cfg.delayed_ack_timeout);
        // A coalesced segment while one full-sized segment is owed: ACK at once, covering both.
        t.send(data_seg(t, 3 * std::size_t{cfg.mss}));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + 14U * cfg.mss));
        CHECK_FALSE(t.conn().timer(Timer::delayed_ack).has_value());
    }

    TEST_CASE("RFC 1122 §4.2.3.2: small segments still count one each - the second draws the ACK") {
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, 100));
        t.expect_nothing();
        CHECK(t.conn().timer(Timer::delayed_ack) == t.now() + cfg.delayed_ack_timeout);
        t.send(data_seg(t, 1));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + 101));
        // After full-sized segments were seen (the receive MSS estimate is up), small ones still
        // count one each, never less: one waits, two draw the ACK.
        t.send(data_seg(t, 10 * std::size_t{cfg.mss}));
        (void)t.expect_one();
        t.send(data_seg(t, 10));
        t.expect_nothing();
        CHECK(t.conn().timer(Timer::delayed_ack) == t.now() + cfg.delayed_ack_timeout);
        t.send(data_seg(t, 10));
        auto b = t.expect_one();
        CHECK(b->ack == SeqNum(kPeerIss + 1 + 121 + 10U * cfg.mss));
    }

    TEST_CASE("RFC 1122 §4.2.3.2: a full-sized segment then a small one draw the ACK together") {
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, cfg.mss));
        t.expect_nothing();
        t.send(data_seg(t, 5));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + cfg.mss + 5));
    }

    TEST_CASE("RFC 1122 §4.2.3.2: with delayed ACK off a coalesced segment draws exactly one ACK") {
        TcpConfig cfg = delayed_config();
        cfg.delayed_ack = false;
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, 10 * std::size_t{cfg.mss}));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + 10U * cfg.mss));
        t.expect_nothing();
    }

}  // TEST_SUITE

TEST_SUITE("connection") {
    TEST_CASE("RFC 5681 §4.2: with an MSS below 536 a coalesced 2 x MSS segment is ACKed at once") {
        // rcv_mss_ starts at 536 whatever cfg.mss is, so 2 x 200 bytes count as one segment.
        TcpConfig cfg = delayed_config();
        cfg.mss = 200;
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, 2 * std::size_t{cfg.mss}));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + 2U * cfg.mss));
    }

    // Known limitation, skipped: the link's gso_size (the wire segment size) is not passed up to
    // the engine, so the receive-MSS estimate cannot tell 2 x 1448 from one 2896-byte segment.
    TEST_CASE("RFC 5681 §4.2: coalesced segments far below our MSS (jumbo TUN) are ACKed at once" *
              doctest::skip()) {
        // A jumbo-MTU TUN (our MSS 8960) and a peer behind a 1500-byte path (1448-byte segments):
        // GRO hands over 2 x 1448 bytes; the receive MSS estimate takes the coalesced size itself
        // as the segment size (the link's gso_size is not passed up), so it counts as one.
        TcpConfig cfg = delayed_config();
        cfg.mss = 8960;
        Script t(cfg);
        t.establish_passive();
        t.send(data_seg(t, 2 * 1448));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kPeerIss + 1 + 2 * 1448));
    }

}  // TEST_SUITE
