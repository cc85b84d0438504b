// ACKs inside a received batch (RFC 5681 §4.2, §3.2): the host hands the connection a batch of
// segments -- on_segment one after another -- and calls poll_transmit once. The ACKs the batch
// owes all come out of that one poll, in order: one for at least every second full-sized
// segment, and an immediate duplicate ACK for out-of-order data (with its SACK blocks), not one
// ACK for the whole batch. With SACK, a run of contiguous segments above a hole draws one
// duplicate ACK, as one GRO packet of them would (Connection::queued_acks_). Each script below
// feeds a batch with no poll in between.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr std::uint32_t kBase = kPeerIss + 1;  // the peer's first data octet

TcpConfig delayed_config() {
    TcpConfig cfg = Script::default_config();
    cfg.delayed_ack = true;
    cfg.recv_buffer = std::size_t{1} << 20;  // the window never limits these batches
    return cfg;
}

// The peer's segment of `n` bytes at relative offset `at`, acknowledging our SYN.
SegBuilder seg_at(const Script& t, std::uint32_t at, std::size_t n) {
    SegBuilder b = t.peer();
    b.seq(kBase + at).ack(kIss + 1).data(pattern_bytes(n));
    return b;
}

// The peer opens to us (passive open) offering SACK and, if `ts`, timestamps (RFC 7323: then
// the peer's segments carry TSval 101, 102, ... from the handshake's ACK on: `tsval`).
void open_passive(Script& t, bool ts, std::uint32_t* tsval = nullptr) {
    t.set_peer_nxt(kPeerIss);
    SegBuilder syn = t.peer();
    syn.syn().no_ack().mss(1460).sack_perm();
    if (ts)
        syn.ts(100, 0);
    t.conn().open_passive(syn.build(), t.now());
    t.set_peer_nxt(kPeerIss + 1);
    auto sa = t.expect_one();
    REQUIRE(sa->flags == (tcp_flag::syn | tcp_flag::ack));
    SegBuilder ack = t.peer();
    ack.ack(kIss + 1);
    if (ts) {
        REQUIRE(sa->options.timestamps.has_value());
        ack.ts(101, sa->options.timestamps->tsval);
        if (tsval != nullptr)
            *tsval = 101;
    }
    t.send(ack);
    REQUIRE(t.conn().state() == TcpState::established);
    t.expect_nothing();
    (void)t.events();
}

// A passive connection with delayed ACKs on, ESTABLISHED (SACK-permitted if `sack`), its
// full-sized segment `mss` bytes.
struct Receiver {
    TcpConfig cfg = delayed_config();
    Script t{cfg};
    std::uint32_t mss = cfg.mss;
    explicit Receiver(bool sack = false) {
        if (sack) {
            open_passive(t, false);
        } else {
            t.establish_passive();
        }
    }
    // `count` full-sized segments in a row, the first at segment index `first`, no poll between.
    void full_segments(std::uint32_t first, std::uint32_t count) {
        for (std::uint32_t i = first; i < first + count; ++i) t.send(seg_at(t, i * mss, mss));
    }
};

// What the next poll sends: exactly `n` segments, each a pure ACK (no data, no SYN/FIN/RST).
std::vector<OwnedSegment> expect_pure_acks(Script& t, std::size_t n) {
    auto v = t.expect_n(n);
    for (const auto& s : v) {
        CHECK(s->flags == tcp_flag::ack);
        CHECK(s->payload.empty());
    }
    return v;
}

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE(
        "RFC 5681 §4.2: a batch of ten full-sized segments draws five ACKs from one poll - one per "
        "two in order") {
        Receiver r;
        Script& t = r.t;
        const std::uint32_t mss = r.mss;
        r.full_segments(0, 10);
        auto acks = expect_pure_acks(t, 5);
        for (std::uint32_t k = 0; k < 5; ++k)
            CHECK(acks[k]->ack == SeqNum(kBase + (2 * k + 2) * mss));
        CHECK(t.conn().stats().batch_acks == 4);
        CHECK_FALSE(t.conn().timer(Timer::delayed_ack).has_value());
        t.expect_nothing();
        CHECK(t.read_all().size() == 10 * mss);
    }

    TEST_CASE(
        "RFC 5681 §4.2: an odd full-sized segment at the end of a batch waits for the delayed-ACK "
        "timer") {
        Receiver r;
        Script& t = r.t;
        const std::uint32_t mss = r.mss;
        r.full_segments(0, 3);
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kBase + 2 * mss));
        REQUIRE(t.conn().timer(Timer::delayed_ack).has_value());
        t.advance(r.cfg.delayed_ack_timeout);
        auto b = t.expect_one();
        CHECK(b->ack == SeqNum(kBase + 3 * mss));
    }

    TEST_CASE("RFC 5681 §4.2: with delayed ACK off every segment of a batch is ACKed") {
        Script t;  // delayed_ack = false
        t.establish_passive();
        for (std::uint32_t i = 0; i < 4; ++i) t.send(seg_at(t, i * 100, 100));
        auto acks = expect_pure_acks(t, 4);
        for (std::uint32_t k = 0; k < 4; ++k) CHECK(acks[k]->ack == SeqNum(kBase + (k + 1) * 100));
    }

    TEST_CASE(
        "RFC 5681 §4.2 / RFC 6675 §4: contiguous out-of-order segments of one batch draw one "
        "immediate duplicate ACK - its first SACK block covering them all") {
        // The first segment is lost; four more arrive in one batch, as one GRO packet would: a
        // SACK sender counts the segments SACKed above the hole (RFC 6675 IsLost), not the ACKs.
        Receiver r(true);
        Script& t = r.t;
        const std::uint32_t mss = r.mss;
        r.full_segments(1, 4);
        auto acks = expect_pure_acks(t, 1);
        CHECK(acks[0]->ack == SeqNum(kBase));  // a duplicate: RCV.NXT has not moved
        REQUIRE(acks[0]->options.sack_count == 1);
        CHECK(acks[0]->options.sack[0] == SackBlock{SeqNum(kBase + mss), SeqNum(kBase + 5 * mss)});
        CHECK(t.conn().stats().ooo_segments == 4);
        t.expect_nothing();
    }

    TEST_CASE(
        "RFC 5681 §3.2 / §4.2: without SACK each out-of-order segment of a batch draws its own "
        "immediate duplicate ACK - the sender counts them") {
        Receiver r;  // no SACK
        Script& t = r.t;
        r.full_segments(1, 4);
        auto acks = expect_pure_acks(t, 4);
        for (const auto& a : acks) {
            CHECK(a->ack == SeqNum(kBase));
            CHECK(a->options.sack_count == 0);
            CHECK(a->window == acks[0]->window);
        }
        CHECK(t.conn().stats().batch_acks == 3);
        t.expect_nothing();
    }

    TEST_CASE(
        "RFC 5681 §4.2 / RFC 2018 §4: a hole inside a batch ends its run - the cumulative ACK "
        "before it then each new block's duplicate ACK") {
        Receiver r(true);
        Script& t = r.t;
        const std::uint32_t mss = r.mss;
        r.full_segments(0, 2);  // in order
        r.full_segments(3, 2);  // segment 2 is lost
        r.full_segments(6, 1);  // and segment 5
        auto acks = expect_pure_acks(t, 3);
        CHECK(acks[0]->ack == SeqNum(kBase + 2 * mss));
        CHECK(acks[0]->options.sack_count == 0);
        CHECK(acks[1]->ack == SeqNum(kBase + 2 * mss));
        REQUIRE(acks[1]->options.sack_count == 1);
        CHECK(acks[1]->options.sack[0] ==
              SackBlock{SeqNum(kBase + 3 * mss), SeqNum(kBase + 5 * mss)});
        CHECK(acks[2]->ack == SeqNum(kBase + 2 * mss));
        REQUIRE(acks[2]->options.sack_count == 2);
        CHECK(acks[2]->options.sack[0] ==
              SackBlock{SeqNum(kBase + 6 * mss), SeqNum(kBase + 7 * mss)});
        CHECK(acks[2]->options.sack[1] ==
              SackBlock{SeqNum(kBase + 3 * mss), SeqNum(kBase + 5 * mss)});
        CHECK(t.conn().stats().batch_acks == 2);
        t.expect_nothing();
    }

    TEST_CASE(
        "RFC 5681 §4.2: a batch that ends by filling the gap draws the duplicate ACKs and then the "
        "cumulative ACK") {
        Receiver r;
        Script& t = r.t;
        const std::uint32_t mss = r.mss;
        t.send(seg_at(t, mss, mss));
        t.send(seg_at(t, 2 * mss, mss));
        t.send(seg_at(t, 0, mss));  // the retransmission fills the hole
        auto acks = expect_pure_acks(t, 3);
        CHECK(acks[0]->ack == SeqNum(kBase));
        CHECK(acks[1]->ack == SeqNum(kBase));
        CHECK(acks[2]->ack == SeqNum(kBase + 3 * mss));
        CHECK(acks[2]->options.sack_count == 0);
    }

    TEST_CASE(
        "RFC 5681 §4.2: a link-coalesced segment counts as the segments it stands for - one ACK "
        "each in a batch") {
        // Three GRO super-segments of 10 x MSS: each is many full-sized segments, so each draws its
        // ACK -- one, as Linux answers one GRO packet (no ACK splitting).
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        t.establish_passive();
        const std::uint32_t big = 10U * cfg.mss;
        for (std::uint32_t i = 0; i < 3; ++i) t.send(seg_at(t, i * big, big));
        auto acks = expect_pure_acks(t, 3);
        for (std::uint32_t k = 0; k < 3; ++k) CHECK(acks[k]->ack == SeqNum(kBase + (k + 1) * big));
    }

    TEST_CASE(
        "RFC 5681 §4.2 / RFC 1122 §4.2.3.2: the batch's last ACK rides on data - the earlier ones "
        "go before it as pure ACKs") {
        Receiver r;
        Script& t = r.t;
        const std::uint32_t mss = r.mss;
        r.full_segments(0, 4);
        REQUIRE(t.conn().send(bytes_of("reply")).value == 5);
        auto out = t.transmit();
        REQUIRE(out.size() == 2);
        CHECK(out[0]->flags == tcp_flag::ack);
        CHECK(out[0]->payload.empty());
        CHECK(out[0]->ack == SeqNum(kBase + 2 * mss));
        CHECK(string_of(out[1].payload()) == "reply");
        CHECK(out[1]->ack == SeqNum(kBase + 4 * mss));  // no pure ACK of 4 * mss besides it
    }

    TEST_CASE(
        "RFC 5681 §2 / §4.2: a duplicate ACK goes as a pure ACK even when data is waiting - on "
        "data it would count as none") {
        Script t;
        t.establish_passive();
        t.send(seg_at(t, 100, 100));  // out of order
        REQUIRE(t.conn().send(bytes_of("data")).value == 4);
        auto out = t.transmit();
        REQUIRE(out.size() == 2);
        CHECK(out[0]->flags == tcp_flag::ack);
        CHECK(out[0]->payload.empty());
        CHECK(out[0]->ack == SeqNum(kBase));
        CHECK(string_of(out[1].payload()) == "data");
        CHECK(out[1]->ack == SeqNum(kBase));
    }

    TEST_CASE(
        "RFC 5681 §4.2: a segment of a batch that brings nothing new merges into the ACK owed - no "
        "ACK twice") {
        Receiver r;
        Script& t = r.t;
        const std::uint32_t mss = r.mss;
        t.send(seg_at(t, 0, mss));
        t.send(seg_at(t, mss, mss));
        t.send(seg_at(t, 0, mss));  // a copy of the first (a spurious retransmission)
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kBase + 2 * mss));
        CHECK(t.conn().stats().batch_acks == 0);
    }

    TEST_CASE(
        "RFC 5681 §4.2 / RFC 9293 §3.8.6.1: probes of a closed window in one batch draw one ACK") {
        TcpConfig cfg = Script::default_config();
        cfg.recv_buffer = 4096;
        Script t(cfg);
        t.establish_passive();
        t.send(seg_at(t, 0, 4096));  // fills the buffer: the window closes
        auto full = t.expect_one();
        CHECK(full->window == 0);
        // Two one-octet probes at RCV.NXT: both are trimmed to nothing.
        t.send(seg_at(t, 4096, 1));
        t.send(seg_at(t, 4096, 1));
        auto a = t.expect_one();
        CHECK(a->ack == SeqNum(kBase + 4096));
        CHECK(a->window == 0);
    }

    TEST_CASE(
        "RFC 5681 §4.2: the ACKs held for one poll are bounded - beyond 64 the owed ACK merges "
        "into the next") {
        Script t;
        t.establish_passive();
        // 70 contiguous out-of-order segments (one SACK block growing), the first octet missing.
        for (std::uint32_t i = 0; i < 70; ++i) t.send(seg_at(t, 1 + i * 10, 10));
        auto acks = expect_pure_acks(t, 65);  // 64 held, then the one owed at the poll
        CHECK(t.conn().stats().batch_acks == 64);
        CHECK(t.conn().stats().batch_acks_merged == 5);
        CHECK(acks.back()->ack == SeqNum(kBase));
        t.expect_nothing();
    }

    TEST_CASE(
        "RFC 7323 §4.3: each ACK of a batch echoes the TSval of the oldest segment it "
        "acknowledges") {
        const TcpConfig cfg = delayed_config();
        Script t(cfg);
        std::uint32_t tsval = 0;
        open_passive(t, true, &tsval);
        const std::uint32_t mss = t.conn().snd_mss();  // 1460 - 12 (timestamps)
        for (std::uint32_t i = 0; i < 4; ++i) {
            SegBuilder b = seg_at(t, i * mss, mss);
            b.ts(++tsval, 0);
            t.send(b);
        }
        auto acks = expect_pure_acks(t, 2);
        REQUIRE(acks[0]->options.timestamps.has_value());
        REQUIRE(acks[1]->options.timestamps.has_value());
        CHECK(acks[0]->ack == SeqNum(kBase + 2 * mss));
        CHECK(acks[0]->options.timestamps->tsecr == 102);  // the first of the two it ACKs
        CHECK(acks[1]->ack == SeqNum(kBase + 4 * mss));
        CHECK(acks[1]->options.timestamps->tsecr == 104);
        CHECK(acks[0]->options.timestamps->tsval <= acks[1]->options.timestamps->tsval);
    }

}  // TEST_SUITE
