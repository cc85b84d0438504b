// Scripted hardening exchanges: the user timeout behind a zero window (RFC 5482), TS.Recent only
// from acceptable segments (RFC 7323 §4.3), rate-limited ACKs of unsent data (RFC 5961 §5 §7),
// and two fuzzing findings (fuzz/regressions/fuzz_engine/README.md): abort after a graceful
// close with unread data, and the scaled window edge drifting past the buffer (RFC 7323 §2.4).
#include <doctest/doctest.h>

#include <vector>

#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

struct PeerOpts {
    std::optional<std::uint8_t> shift;
    bool ts = false;
    std::uint16_t win = 65535;
};

// Active open against a peer that answers with the given options (its TSval starts at 100).
void establish_with(Script& t, PeerOpts o) {
    t.conn().open_active(t.now());
    auto syn = t.expect_one();
    t.set_peer_nxt(kPeerIss);
    SegBuilder sa = t.peer();
    sa.syn().ack(kIss + 1).mss(1460).win(o.win);
    if (o.shift) sa.wscale(*o.shift);
    if (o.ts) sa.ts(100, syn->options.timestamps ? syn->options.timestamps->tsval : 0);
    t.send(sa);
    auto ack = t.expect_one();
    REQUIRE(ack->flags == tcp_flag::ack);
    REQUIRE(t.conn().state() == TcpState::established);
    (void)t.events();
}

}  // namespace

TEST_SUITE("connection") {

// ---- 1. user timeout while the peer's window stays at zero ---------------------------------

TEST_CASE("RFC 5482 / RFC 9293 §3.8.3 the user timeout fires while a zero window holds queued data") {
    TcpConfig cfg = Script::default_config();
    cfg.user_timeout = Duration{5'000'000};
    Script t(cfg);
    t.establish_active(/*peer_window=*/0);
    REQUIRE(t.conn().send(pattern_bytes(3000)).value == 3000);
    t.expect_nothing();  // nothing fits the window
    std::optional<Instant> first_probe;
    // The peer answers every probe with window 0 (alive, but never reading). The user timeout
    // runs from the first probe (Linux, icsk_probes_tstamp).
    for (int i = 0; i < 40 && t.conn().state() != TcpState::closed; ++i) {
        REQUIRE(t.fire_next_timer());
        auto out = t.transmit();
        for (const auto& s : out) {
            CHECK(s->payload.empty());  // probes carry no data the window does not allow
            if (!first_probe) first_probe = t.now();
            t.send(t.peer().ack(kIss + 1).win(0));
        }
    }
    REQUIRE(first_probe.has_value());
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::timed_out);
    CHECK(t.now() - *first_probe == Duration{5'000'000});
    CHECK(t.conn().stats().zero_window_probes >= 2);
    CHECK(t.closed_event() == CloseReason::timed_out);
}

TEST_CASE("RFC 5482 / RFC 9293 §3.8.3 a FIN held back by a zero window is under the user timeout too") {
    TcpConfig cfg = Script::default_config();
    cfg.user_timeout = Duration{4'000'000};
    Script t(cfg);
    t.establish_active(/*peer_window=*/0);
    REQUIRE(t.conn().shutdown_send() == Errc::ok);
    t.expect_nothing();
    for (int i = 0; i < 40 && t.conn().state() != TcpState::closed; ++i) {
        REQUIRE(t.fire_next_timer());
        for (std::size_t n = t.transmit().size(); n > 0; --n) t.send(t.peer().ack(kIss + 1).win(0));
    }
    CHECK(t.conn().close_reason() == CloseReason::timed_out);
}

TEST_CASE("RFC 5482 §2 a zero window that reopens stops the user timeout") {
    TcpConfig cfg = Script::default_config();
    cfg.user_timeout = Duration{5'000'000};
    Script t(cfg);
    t.establish_active(/*peer_window=*/0);
    REQUIRE(t.conn().send(bytes_of("held")).value == 4);
    t.expect_nothing();
    REQUIRE(t.fire_next_timer());  // first probe: the user timeout starts
    REQUIRE(t.transmit().size() == 1);
    CHECK(t.conn().timer(Timer::user_timeout).has_value());
    t.send(t.peer().ack(kIss + 1).win(0));
    REQUIRE(t.fire_next_timer());  // second probe
    REQUIRE(t.transmit().size() == 1);
    t.send(t.peer().ack(kIss + 1).win(1000));  // the window opens: the data goes
    auto d = t.expect_one();
    CHECK(string_of(d->payload) == "held");
    t.send(t.peer_ack());
    CHECK_FALSE(t.conn().timer(Timer::user_timeout).has_value());
    t.advance(Duration{30'000'000});
    CHECK(t.conn().state() == TcpState::established);
}

// ---- 2. TS.Recent only from acceptable segments --------------------------------------------

TEST_CASE("RFC 7323 §4.3 TS.Recent is not raised by a segment dropped for an unacceptable ACK") {
    Script t;
    establish_with(t, {.shift = std::nullopt, .ts = true});
    REQUIRE(t.conn().send(bytes_of("abc")).value == 3);
    (void)t.expect_one();
    const std::uint32_t seq = t.peer_nxt();
    // Spoofed: SEQ in the window, TSval far in the future, ACK of data never sent (> SND.NXT).
    t.send(t.peer().ack(kIss + 100000).ts(0x7000'0000U, 0));
    CHECK(t.conn().stats().dropped_bad_ack == 1);
    auto a = t.transmit();  // the (rate-limited) ACK echoes the genuine TS.Recent
    REQUIRE(a.size() == 1);
    REQUIRE(a[0]->options.timestamps.has_value());
    CHECK(a[0]->options.timestamps->tsecr == 100);
    // The genuine peer goes on with its own clock: its segments must not fail PAWS.
    t.set_peer_nxt(seq);
    t.send(t.peer().ack(kIss + 4).ts(101, 0).data("xyz"));
    CHECK(t.conn().stats().paws_dropped == 0);
    CHECK(t.conn().snd_una() == SeqNum(kIss + 4));
    CHECK(t.read_all() == "xyz");
    auto b = t.expect_one();
    CHECK(b->ack == SeqNum(kPeerIss + 4));
    CHECK(b->options.timestamps->tsecr == 101);
}

TEST_CASE("RFC 7323 §4.3 TS.Recent is not raised by a segment with an ACK below SND.UNA - MAX.SND.WND") {
    Script t;
    establish_with(t, {.shift = std::nullopt, .ts = true, .win = 1000});
    REQUIRE(t.conn().send(pattern_bytes(1000)).value == 1000);
    (void)t.expect_one();
    t.send(t.peer().ack(kIss + 1001).ts(100, 0).win(1000));
    // ACK far below SND.UNA - MAX.SND.WND (RFC 5961 §5.2): dropped.
    t.send(t.peer().ack(kIss - 50000).ts(0x7000'0000U, 0));
    CHECK(t.conn().stats().dropped_bad_ack == 1);
    (void)t.transmit();
    t.send(t.peer().ack(kIss + 1001).ts(102, 0).data("ok"));
    CHECK(t.conn().stats().paws_dropped == 0);
    CHECK(t.read_all() == "ok");
}

// ---- 3. ACKs of unsent data are rate-limited ----------------------------------------------

TEST_CASE("RFC 5961 §5 §7 ACKs answering ACKs of unsent data are rate-limited like challenge ACKs") {
    TcpConfig cfg = Script::default_config();
    cfg.challenge_ack_limit = 3;
    Script t(cfg);
    t.establish_active();
    t.advance(Duration{5'000'000});
    std::size_t acks = 0;
    for (std::uint32_t i = 0; i < 20; ++i) {
        // A flood of in-window pure ACKs acknowledging data we never sent.
        t.send(t.peer().ack(kIss + 5000 + i * 100));
        acks += t.transmit().size();
    }
    CHECK(acks == 3);
    CHECK(t.conn().stats().dropped_bad_ack == 20);
    CHECK(t.conn().stats().challenge_acks == 3);
    CHECK(t.conn().stats().challenge_acks_suppressed == 17);
    CHECK(t.conn().state() == TcpState::established);
    t.advance(Duration{1'000'000});  // a new second: answered again
    t.send(t.peer().ack(kIss + 9999));
    CHECK(t.transmit().size() == 1);
}

// ---- 4a. abort after a graceful close with unread data ------------------------------------

TEST_CASE("RFC 9293 §3.10.5 / RFC 2525 §2.17 abort after a graceful close with unread data does not report end of stream") {
    Script t;
    t.establish_active();
    t.send(t.peer_ack().data("unread").fin());
    (void)t.transmit();
    REQUIRE(t.conn().state() == TcpState::close_wait);
    REQUIRE(t.conn().shutdown_send() == Errc::ok);
    auto fin = t.expect_one();
    REQUIRE(fin->has(tcp_flag::fin));
    t.send(t.peer_ack());
    REQUIRE(t.conn().state() == TcpState::closed);
    REQUIRE(t.conn().close_reason() == CloseReason::graceful);
    REQUIRE(t.conn().recv_available() == 6);
    t.conn().abort();
    t.expect_nothing();  // nothing left to reset
    std::vector<std::byte> buf(16);
    auto r = t.conn().recv(buf);
    CHECK_FALSE(r.ok());
    CHECK(r.error == Errc::aborted);
}

TEST_CASE("RFC 2525 §2.17 close after a graceful close with unread data does not report end of stream") {
    Script t;
    t.establish_active();
    t.send(t.peer_ack().data("unread").fin());
    (void)t.transmit();
    REQUIRE(t.conn().shutdown_send() == Errc::ok);
    (void)t.expect_one();
    t.send(t.peer_ack());
    REQUIRE(t.conn().close_reason() == CloseReason::graceful);
    t.conn().close();
    std::vector<std::byte> buf(16);
    auto r = t.conn().recv(buf);
    CHECK_FALSE(r.ok());
    CHECK(r.error == Errc::aborted);
}

TEST_CASE("RFC 9293 §3.10.5 abort after a graceful close with everything read still reports end of stream") {
    Script t;
    t.establish_active();
    t.send(t.peer_ack().data("read").fin());
    (void)t.transmit();
    CHECK(t.read_all() == "read");
    REQUIRE(t.conn().shutdown_send() == Errc::ok);
    (void)t.expect_one();
    t.send(t.peer_ack());
    REQUIRE(t.conn().close_reason() == CloseReason::graceful);
    t.conn().abort();
    std::vector<std::byte> buf(16);
    auto r = t.conn().recv(buf);
    REQUIRE(r.ok());
    CHECK(r.value == 0);
}

// ---- 4b. the scaled window edge stays within the buffer -----------------------------------

TEST_CASE("RFC 7323 §2.4 the scaled window edge stays less than one unit past the buffer while the app does not read") {
    TcpConfig cfg = Script::default_config();
    cfg.recv_buffer = 300000;  // shift 3: an 8-byte unit
    Script t(cfg);
    establish_with(t, {.shift = 0});
    REQUIRE(t.conn().rcv_wscale() == 3);
    const std::uint32_t unit = 8;
    SeqNum max_edge = t.conn().rcv_nxt();
    for (int i = 0; i < 250; ++i) {
        // 1001-byte segments: RCV.NXT moves by amounts that are not multiples of the unit.
        t.send(t.peer_ack().data(pattern_bytes(1001)));
        auto a = t.expect_one();
        const SeqNum edge = a->ack + (std::uint32_t{a->window} << 3);
        // Never beyond the buffer end by a whole unit ...
        CHECK(std::uint64_t{t.conn().rcv_wnd()} + t.conn().recv_available() < cfg.recv_buffer + unit);
        CHECK((std::uint64_t{a->window} << 3) + t.conn().recv_available() < cfg.recv_buffer + unit);
        // ... and never retracted by a whole unit (RFC 7323 §2.4 allows less).
        CHECK(edge + (unit - 1) >= max_edge);
        if (edge > max_edge) max_edge = edge;
    }
    CHECK(t.conn().recv_available() == 250U * 1001U);
    CHECK(t.conn().stats().bytes_in == 250U * 1001U);  // nothing the peer sent was trimmed
}

}  // TEST_SUITE
