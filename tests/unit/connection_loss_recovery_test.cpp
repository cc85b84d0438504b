// Scripted loss-recovery exchanges (issue #6): when a new recovery may start (RFC 6582 §3.2,
// RFC 6675 §5.1), and a lost retransmission repaired without the RTO (RFC 8985 §6.2's rule).
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr std::uint32_t S = 1460;  // SMSS (no timestamps in these scripts)
constexpr std::uint32_t kBase = kIss + 1;

// Active open; the peer offers `sack`, no timestamps, no window scaling.
void establish(Script& t, bool sack, std::uint16_t win = 65535) {
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.set_peer_nxt(kPeerIss);
    SegBuilder sa = t.peer();
    sa.syn().ack(kIss + 1).mss(1460).win(win);
    if (sack) sa.sack_perm();
    t.send(sa);
    REQUIRE(t.expect_one()->flags == tcp_flag::ack);
    REQUIRE(t.conn().state() == TcpState::established);
    (void)t.events();
}

// Segment number of a sequence number (0 = the first data segment).
std::uint32_t segno(SeqNum s) { return (s.raw() - kBase) / S; }

bool has_seq(const std::vector<OwnedSegment>& v, std::uint32_t seq) {
    return std::any_of(v.begin(), v.end(),
                       [&](const OwnedSegment& s) { return s->seq == SeqNum(seq) && !s->payload.empty(); });
}

}  // namespace

TEST_SUITE("connection") {

TEST_CASE("RFC 6582 §3.2 / RFC 6675 §5.1: a new SACK recovery may start when the ACK reaches the old recovery point") {
    Script t;
    const std::uint16_t win = 10 * S;  // the peer's window holds exactly the first flight
    establish(t, true, win);
    REQUIRE(t.conn().send(pattern_bytes(16 * S)).value == 16 * S);
    (void)t.expect_n(10);  // segments 0..9; SND.MAX = base + 10 S = the recovery point to come
    // Segment 0 is lost; 1, 2, 3 arrive: fast retransmit, recovery with recover = base + 10 S.
    t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 2 * S));
    t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 3 * S));
    t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 4 * S));
    auto r = t.expect_one();
    CHECK(r->seq == SeqNum(kBase));
    REQUIRE(t.conn().in_recovery());
    // The retransmission fills the hole: the ACK reaches exactly the old SND.MAX -- a full
    // acknowledgment, recovery ends -- and the window opens for segments 10..15.
    t.send(t.peer().ack(kBase + 10 * S).win(win));
    CHECK_FALSE(t.conn().in_recovery());
    auto fresh = t.transmit();
    REQUIRE(fresh.size() == 6);
    CHECK(fresh.front()->seq == SeqNum(kBase + 10 * S));
    // Segment 10 -- the first octet past the old recovery point -- is lost; 11, 12, 13 are
    // SACKed with ACK = base + 10 S, i.e. SND.UNA == the old "recover". The cumulative ACK
    // covers more than recover (= base + 10 S - 1), so this is a new loss: fast retransmit now,
    // not 200 ms later on the RTO.
    t.send(t.peer().ack(kBase + 10 * S).win(win).sack(kBase + 11 * S, kBase + 12 * S));
    t.send(t.peer().ack(kBase + 10 * S).win(win).sack(kBase + 11 * S, kBase + 13 * S));
    t.send(t.peer().ack(kBase + 10 * S).win(win).sack(kBase + 11 * S, kBase + 14 * S));
    auto r2 = t.transmit();
    REQUIRE_FALSE(r2.empty());
    CHECK(r2.front()->seq == SeqNum(kBase + 10 * S));
    CHECK(t.conn().in_recovery());
    CHECK(t.conn().stats().sack_recoveries == 2);
    CHECK(t.conn().stats().fast_retransmits == 2);
    CHECK(t.conn().stats().timeouts == 0);
}

TEST_CASE("RFC 6582 §3.2 step 1: three duplicate ACKs at exactly the old recover point start a new fast retransmit (NewReno)") {
    Script t;
    const std::uint16_t win = 10 * S;
    establish(t, false, win);
    REQUIRE(t.conn().send(pattern_bytes(16 * S)).value == 16 * S);
    (void)t.expect_n(10);
    // Segment 0 lost: three duplicate ACKs, fast retransmit, recover = base + 10 S.
    for (int i = 0; i < 3; ++i) t.send(t.peer().ack(kBase).win(win));
    CHECK(t.expect_one()->seq == SeqNum(kBase));
    REQUIRE(t.conn().in_recovery());
    // Full acknowledgment (exactly the old SND.MAX): recovery ends (§3.2 step 3), new data flows.
    t.send(t.peer().ack(kBase + 10 * S).win(win));
    CHECK_FALSE(t.conn().in_recovery());
    std::vector<OwnedSegment> sent = t.transmit();
    REQUIRE_FALSE(sent.empty());
    CHECK(sent.front()->seq == SeqNum(kBase + 10 * S));
    // Segment 10 is lost; each later segment draws a duplicate ACK of base + 10 S (limited
    // transmit, RFC 3042, keeps segments coming). The third must retransmit segment 10.
    bool retransmitted = false;
    for (int i = 0; i < 3; ++i) {
        t.send(t.peer().ack(kBase + 10 * S).win(win));
        auto out = t.transmit();
        if (has_seq(out, kBase + 10 * S)) retransmitted = true;
    }
    CHECK(retransmitted);
    CHECK(t.conn().in_recovery());
    CHECK(t.conn().stats().fast_retransmits == 2);
    CHECK(t.conn().stats().timeouts == 0);
}

TEST_CASE("RFC 8985 §6.2 / RFC 6675 §5.1: a lost fast retransmission is sent again once data sent after it is SACKed - no RTO") {
    for (const bool detection : {true, false}) {
        CAPTURE(detection);
        TcpConfig cfg = Script::default_config();
        cfg.lost_retransmission_detection = detection;
        Script t(cfg);
        establish(t, true);
        REQUIRE(t.conn().send(pattern_bytes(40 * S)).value == 40 * S);
        (void)t.expect_n(10);  // initial window: segments 0..9
        // Segment 0 is lost: SACKs of 1..3 trigger its fast retransmission, sent while SND.MAX
        // is base + 10 S -- everything from there on is sent after it.
        t.send(t.peer().ack(kBase).sack(kBase + S, kBase + 2 * S));
        t.send(t.peer().ack(kBase).sack(kBase + S, kBase + 3 * S));
        t.send(t.peer().ack(kBase).sack(kBase + S, kBase + 4 * S));
        auto first = t.transmit();
        REQUIRE_FALSE(first.empty());
        CHECK(first.front()->seq == SeqNum(kBase));
        REQUIRE(t.conn().in_recovery());
        // That retransmission is lost too. Segments 4..9 and then the new data sent during
        // recovery are SACKed, one ACK per segment, in the order they were sent.
        std::vector<std::uint32_t> pending;  // new segments sent, not yet SACKed
        for (std::size_t i = 1; i < first.size(); ++i) pending.push_back(segno(first[i]->seq));
        std::uint32_t sacked_to = 4;  // SACKed: [1, sacked_to)
        int resent_after = -1;        // segments SACKed beyond the mark when segment 0 went again
        for (int step = 0; step < 20 && resent_after < 0; ++step) {
            std::uint32_t next = sacked_to;
            if (sacked_to >= 10) {
                std::sort(pending.begin(), pending.end());
                REQUIRE_FALSE(pending.empty());
                REQUIRE(pending.front() == sacked_to);
                pending.erase(pending.begin());
            }
            sacked_to = next + 1;
            t.send(t.peer().ack(kBase).sack(kBase + S, kBase + sacked_to * S));
            auto out = t.transmit();
            for (const auto& s : out) {
                if (s->seq == SeqNum(kBase)) {
                    resent_after = static_cast<int>(sacked_to) - 10;
                } else if (!s->payload.empty()) {
                    pending.push_back(segno(s->seq));
                }
            }
        }
        if (detection) {
            // Not before more than DupThresh - 1 segments sent after it were SACKed (the
            // reordering allowance of IsLost, RFC 6675 §4), but on the third.
            CHECK(resent_after == 3);
            CHECK(t.conn().in_recovery());
            CHECK(t.conn().stats().timeouts == 0);
            CHECK(t.conn().stats().sack_recoveries == 1);
            // The second copy arrives: everything up to the SACKed edge is acknowledged.
            t.send(t.peer().ack(kBase + sacked_to * S));
            CHECK(t.conn().snd_una() == SeqNum(kBase + sacked_to * S));
        } else {
            // RFC 6675 alone: HighRxt is past segment 0, so only the RTO would resend it.
            CHECK(resent_after == -1);
            CHECK(t.conn().stats().timeouts == 0);
        }
    }
}

TEST_CASE("RFC 6675 §5.1: the retransmission timer still repairs a retransmission that is lost with nothing sent after it") {
    Script t;
    const std::uint16_t win = 4 * S;  // the window is full: no new data can follow the retransmission
    establish(t, true, win);
    REQUIRE(t.conn().send(pattern_bytes(8 * S)).value == 8 * S);
    (void)t.expect_n(4);
    t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 2 * S));
    t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 3 * S));
    t.send(t.peer().ack(kBase).win(win).sack(kBase + S, kBase + 4 * S));
    CHECK(t.expect_one()->seq == SeqNum(kBase));
    t.expect_nothing();  // no SACK news can come: nothing is sent again before the timer
    t.fire_next_timer();
    CHECK(t.conn().stats().timeouts == 1);
    auto r = t.transmit();
    REQUIRE_FALSE(r.empty());
    CHECK(r.front()->seq == SeqNum(kBase));
}

}  // TEST_SUITE
