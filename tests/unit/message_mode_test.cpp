// Message-mode negotiation (DESIGN.md §3b): the option kind 253 / ExID 0xD15D on the SYN and
// the SYN-ACK. Per connection (TcpConfig::message_mode, set by Stack::connect / Stack::listen):
// a message-mode connection offers it on its SYN and every retransmission; a message-mode
// listener echoes it and answers a SYN without it with a RST as a closed port would; a
// message-mode connect whose SYN-ACK lacks it resets the half-open connection and ends refused;
// stream ends ignore it. Scripted Connections (script.hpp) and hand-fed Stacks (stack_host.hpp,
// pair.hpp); the two-stack simulation is tests/sim/message_mode_sim_test.cpp.
#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "support/pair.hpp"
#include "support/script.hpp"
#include "support/stack_host.hpp"
#include "ustack/option_space.hpp"
#include "ustack/stack.hpp"
#include "ustack/syn_options.hpp"

using namespace ustack;
using namespace ustack::test;
using namespace std::chrono_literals;

namespace {

// The Stack tests' host is kLocal's address and listens on kLocal's port; the peer is kRemote's
// address (script.hpp), from the source port each test picks.
constexpr std::uint16_t kPort = kLocal.port;

struct Host : StackHost {
    Host() : StackHost(pair_config(kLocal.addr), pair_key(11), Instant{1'000'000us}) {}
};

// A SYN from kRemote's address and `src_port`, with or without the message-mode option.
Segment syn_from(std::uint16_t src_port, std::uint32_t seq, bool message, bool timestamps = false) {
    SegBuilder b;
    b.seq(seq).syn().mss(1460);
    if (message)
        b.message();
    if (timestamps)
        b.ts(4242);
    Segment s = b.build();  // no payload: nothing borrowed from the builder
    s.src_port = src_port;
    return s;
}

// The peer's ACK of our SYN-ACK `sa` (echoing its TSval, if any).
Segment ack_of(const Segment& sa) {
    Segment a;
    a.set_endpoints(sa.dst(), sa.src());
    a.seq = sa.ack;
    a.ack = sa.seq + 1;
    a.flags = tcp_flag::ack;
    a.window = 65535;
    if (sa.options.timestamps)
        a.options.timestamps = Timestamps{4243, sa.options.timestamps->tsval};
    return a;
}

}  // namespace

TEST_SUITE("unit") {
    // ---- the active side: our SYN, the peer's SYN-ACK ------------------------------------------

    TEST_CASE("DESIGN.md §3b: a message-mode SYN and every retransmission of it carry the option") {
        TcpConfig cfg = Script::message_config();
        cfg.max_syn_retransmits = 3;
        Script t(cfg);
        t.conn().open_active(t.now());
        const OwnedSegment syn = t.expect_one();
        REQUIRE(syn->flags == tcp_flag::syn);
        CHECK(syn->options.message_mode);
        for (unsigned i = 0; i < cfg.max_syn_retransmits; ++i) {
            CAPTURE(i);
            REQUIRE(t.fire_next_timer());
            const OwnedSegment again = t.expect_one();
            CHECK(again->flags == tcp_flag::syn);
            CHECK(again->options.message_mode);
        }
        CHECK(t.conn().stats().syn_retransmits == cfg.max_syn_retransmits);
        // A stream connection's SYN never carries it.
        Script s;
        s.conn().open_active(s.now());
        CHECK_FALSE(s.expect_one()->options.message_mode);
    }

    TEST_CASE(
        "DESIGN.md §3b: a message-mode connect whose SYN-ACK echoes the option is established in "
        "message mode") {
        Script t(Script::message_config());
        t.establish_active();
        CHECK(t.conn().message_mode());
        CHECK(t.conn().info(t.now()).message_mode);
        CHECK(t.conn().stats().message_mode_refused == 0);
        CHECK(t.conn().stats().message_option_ignored == 0);
        // The option belongs to the SYNs: the ACK and data carry none.
        REQUIRE(t.conn().send(bytes_of("hi")).ok());
        CHECK_FALSE(t.expect_one()->options.message_mode);
    }

    TEST_CASE(
        "DESIGN.md §3b: a message-mode connect whose SYN-ACK lacks the option sends "
        "<SEQ=SEG.ACK><CTL=RST> and ends refused (counted)") {
        Script t(Script::message_config());
        t.conn().open_active(t.now());
        (void)t.expect_one();
        t.send(t.peer().seq(kPeerIss).syn().ack(kIss + 1).mss(1460));
        const OwnedSegment rst = t.expect_one();
        CHECK(rst->flags == tcp_flag::rst);
        CHECK(rst->seq == SeqNum(kIss + 1));  // SEG.ACK
        CHECK_FALSE(rst->options.message_mode);
        CHECK(t.conn().state() == TcpState::closed);
        CHECK(t.conn().close_reason() == CloseReason::refused);
        CHECK(t.closed_event() == CloseReason::refused);
        CHECK_FALSE(t.conn().message_mode());
        CHECK(t.conn().stats().message_mode_refused == 1);
        CHECK(t.conn().stats().rst_sent == 1);
        CHECK_FALSE(t.conn().poll_timeout().has_value());
        t.expect_nothing();
        CHECK(t.conn().send(bytes_of("x")).error == Errc::refused);
    }

    TEST_CASE(
        "DESIGN.md §3b: a simultaneous open of a message-mode connection goes on with the option "
        "and is refused with a RST without it") {
        {
            Script t(Script::message_config());
            t.conn().open_active(t.now());
            (void)t.expect_one();
            t.send(t.peer().seq(kPeerIss).syn().no_ack().mss(1460).message());
            const OwnedSegment sa = t.expect_one();
            CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
            CHECK(sa->options.message_mode);  // the SYN-ACK echoes it
            t.send(t.peer().seq(kPeerIss + 1).ack(kIss + 1));
            CHECK(t.conn().state() == TcpState::established);
            CHECK(t.conn().message_mode());
        }
        {
            Script t(Script::message_config());
            t.conn().open_active(t.now());
            (void)t.expect_one();
            t.send(t.peer().seq(kPeerIss).syn().no_ack().mss(1460));
            const OwnedSegment rst = t.expect_one();
            // <SEQ=SND.NXT><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
            CHECK(rst->flags == (tcp_flag::rst | tcp_flag::ack));
            CHECK(rst->seq == SeqNum(kIss + 1));
            CHECK(rst->ack == SeqNum(kPeerIss + 1));
            CHECK(t.conn().close_reason() == CloseReason::refused);
            CHECK(t.conn().stats().message_mode_refused == 1);
        }
    }

    TEST_CASE("DESIGN.md §3b: a stream connect ignores the option on a SYN-ACK (counted)") {
        Script t;
        t.conn().open_active(t.now());
        CHECK_FALSE(t.expect_one()->options.message_mode);
        t.send(t.peer().seq(kPeerIss).syn().ack(kIss + 1).mss(1460).message());
        const OwnedSegment ack = t.expect_one();
        CHECK(ack->flags == tcp_flag::ack);
        CHECK(t.conn().state() == TcpState::established);
        CHECK_FALSE(t.conn().message_mode());
        CHECK(t.conn().stats().message_option_ignored == 1);
        CHECK(t.conn().stats().message_mode_refused == 0);
    }

    // ---- the passive side: the peer's SYN, our SYN-ACK -----------------------------------------

    TEST_CASE(
        "DESIGN.md §3b: a message-mode connection echoes the option on its SYN-ACK and every "
        "retransmission of it") {
        Script t(Script::message_config());
        const Segment syn = t.peer().seq(kPeerIss).syn().no_ack().mss(1460).message().build();
        t.conn().open_passive(syn, t.now());
        const OwnedSegment sa = t.expect_one();
        CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK(sa->options.message_mode);
        REQUIRE(t.fire_next_timer());
        const OwnedSegment again = t.expect_one();
        CHECK(again->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK(again->options.message_mode);
        t.set_peer_nxt(kPeerIss + 1);
        t.send(t.peer().ack(kIss + 1));
        CHECK(t.conn().state() == TcpState::established);
        CHECK(t.conn().message_mode());
    }

    TEST_CASE("DESIGN.md §3b: a stream connection's SYN-ACK does not echo the option") {
        Script t;
        const Segment syn = t.peer().seq(kPeerIss).syn().no_ack().mss(1460).message().build();
        t.conn().open_passive(syn, t.now());
        const OwnedSegment sa = t.expect_one();
        CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK_FALSE(sa->options.message_mode);
        CHECK_FALSE(t.conn().message_mode());
        CHECK(t.conn().stats().message_option_ignored == 1);
    }

    TEST_CASE("DESIGN.md §3b: the option on a segment without SYN is ignored and counted") {
        Script t(Script::message_config());
        t.establish_active();
        t.send(t.peer_ack().data("abc").message());
        CHECK(t.read_all() == "abc");
        CHECK(t.conn().message_mode());
        CHECK(t.conn().stats().message_option_ignored == 1);
    }

    TEST_CASE(
        "DESIGN.md §3b: the message-mode option and the disconnect offer ride on one SYN and are "
        "both agreed") {
        TcpConfig cfg = Script::message_config();
        cfg.disconnect_data = true;
        Script t(cfg);
        t.conn().open_active(t.now());
        const OwnedSegment syn = t.expect_one();
        CHECK(syn->options.message_mode);
        CHECK(syn->options.disconnect == std::optional<DisconnectData>(DisconnectData{}));
        CHECK(syn->options.mss.has_value());
        CHECK(syn->options.window_scale.has_value());
        CHECK(syn->options.sack_permitted);
        CHECK(syn->options.timestamps.has_value());
        // DESIGN.md §3c: what this SYN leaves for connect data.
        CHECK(disconnect_data_room({.mss = true,
                                    .window_scale = true,
                                    .sack_permitted = true,
                                    .timestamps = true,
                                    .message_mode = true}) == 12);
        t.send(t.peer().seq(kPeerIss).syn().ack(kIss + 1).mss(1460).message().disc_offer());
        CHECK(t.conn().state() == TcpState::established);
        CHECK(t.conn().message_mode());
        CHECK(t.conn().disconnect_negotiated());
    }

    // ---- the Stack: listeners, RSTs, cookies ---------------------------------------------------

    TEST_CASE(
        "DESIGN.md §3b: a message-mode listener echoes the option on its SYN-ACK and its "
        "connections are message-mode") {
        Host h;
        const auto l = h.stack.listen(kPort, 8, {}, true);
        REQUIRE(l.ok());
        CHECK(h.stack.listener_message_mode(l.value));
        h.in(syn_from(4000, 500, true));
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK(out[0]->options.message_mode);
        h.in(ack_of(out[0].get()));
        const auto id = h.stack.accept(l.value);
        REQUIRE(id.ok());
        const Connection* c = h.stack.find(id.value);
        REQUIRE(c != nullptr);
        CHECK(c->state() == TcpState::established);
        CHECK(c->message_mode());
        CHECK(h.stack.stats().message_mode_refused == 0);
    }

    TEST_CASE(
        "DESIGN.md §3b: a message-mode listener answers a SYN without the option with a RST as a "
        "closed port would (counted)") {
        Host h;
        const auto l = h.stack.listen(kPort, 8, {}, true);
        REQUIRE(l.ok());
        h.in(syn_from(4000, 500, false));
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        CHECK(out[0]->flags == (tcp_flag::rst | tcp_flag::ack));
        CHECK(out[0]->seq == SeqNum(0));
        CHECK(out[0]->ack == SeqNum(501));
        CHECK(out[0]->dst_port == 4000);
        CHECK(h.stack.stats().message_mode_refused == 1);
        CHECK(h.stack.stats().rst_sent_unknown == 1);
        CHECK(h.stack.stats().connections_current == 0);
        CHECK(h.stack.syn_queue_size(l.value) == 0);
        CHECK(h.stack.lookup(kPort, {kRemote.addr, 4000}) == nullptr);
    }

    TEST_CASE(
        "DESIGN.md §3b: a stream listener ignores the option and a message-mode connect to it is "
        "refused with no connection left on either side") {
        StackPair p;
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        CHECK_FALSE(p.b.listener_message_mode(l.value));
        const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, true);
        REQUIRE(c.ok());
        p.pump();
        // SYN with the option, SYN-ACK without it, the client's RST.
        REQUIRE(p.trace.size() == 3);
        CHECK(p.trace[0].from_a);
        CHECK(p.trace[0].seg->flags == tcp_flag::syn);
        CHECK(p.trace[0].seg->options.message_mode);
        CHECK_FALSE(p.trace[1].from_a);
        CHECK(p.trace[1].seg->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK_FALSE(p.trace[1].seg->options.message_mode);
        CHECK(p.trace[2].from_a);
        CHECK(p.trace[2].seg->flags == tcp_flag::rst);
        CHECK(p.trace[2].seg->seq == p.trace[1].seg->ack);  // <SEQ=SEG.ACK>
        const Connection* cc = p.a.find(c.value);
        REQUIRE(cc != nullptr);
        CHECK(cc->close_reason() == CloseReason::refused);
        CHECK(cc->stats().message_mode_refused == 1);
        CHECK(has_conn_event(p.events_a, c.value, EventKind::closed, CloseReason::refused));
        // The server's half-open connection was reset and forgotten ("returns to LISTEN").
        CHECK(p.b.stats().removed_before_accept == 1);
        CHECK(p.b.stats().connections_current == 0);
        CHECK(p.b.accept_queue_size(l.value) == 0);
        CHECK(p.b.connection_totals().message_option_ignored == 1);
        CHECK(p.a.release(c.value) == Errc::ok);
        p.pump();
        CHECK(p.a.stats().connections_current == 0);
    }

    TEST_CASE(
        "DESIGN.md §3b: a SYN-cookie connection of a message-mode listener is message-mode with "
        "or without timestamps") {
        for (const bool timestamps : {false, true}) {
            CAPTURE(timestamps);
            Host h;
            const auto l = h.stack.listen(kPort, 1, {}, true);
            REQUIRE(l.ok());
            h.in(syn_from(3999, 1, true, timestamps));  // fills the SYN queue
            REQUIRE(h.out().size() == 1);
            h.in(syn_from(4000, 500, true, timestamps));
            const auto out = h.out();
            REQUIRE(out.size() == 1);
            REQUIRE(h.stack.stats().syn_cookies_sent == 1);
            CHECK(out[0]->flags == (tcp_flag::syn | tcp_flag::ack));
            CHECK(out[0]->options.message_mode);  // no cookie bit: the listener requires it
            CHECK(out[0]->options.timestamps.has_value() == timestamps);
            h.in(ack_of(out[0].get()));
            CHECK(h.stack.stats().syn_cookies_validated == 1);
            const auto id = h.stack.accept(l.value);
            REQUIRE(id.ok());
            const Connection* c = h.stack.find(id.value);
            REQUIRE(c != nullptr);
            CHECK(c->state() == TcpState::established);
            CHECK(c->iss() == out[0]->seq);
            CHECK(c->message_mode());
            // A SYN without the option is refused before any cookie is made.
            h.in(syn_from(4001, 900, false, timestamps));
            const auto rst = h.out();
            REQUIRE(rst.size() == 1);
            CHECK(rst[0]->flags == (tcp_flag::rst | tcp_flag::ack));
            CHECK(h.stack.stats().syn_cookies_sent == 1);
            CHECK(h.stack.stats().message_mode_refused == 1);
        }
    }

    TEST_CASE(
        "DESIGN.md §3b: a stream listener's SYN-cookie connection ignores the option and is a "
        "stream") {
        Host h;
        const auto l = h.stack.listen(kPort, 1);
        REQUIRE(l.ok());
        h.in(syn_from(3999, 1, true, true));
        REQUIRE(h.out().size() == 1);
        h.in(syn_from(4000, 500, true, true));
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        REQUIRE(h.stack.stats().syn_cookies_sent == 1);
        CHECK_FALSE(out[0]->options.message_mode);
        h.in(ack_of(out[0].get()));
        const auto id = h.stack.accept(l.value);
        REQUIRE(id.ok());
        CHECK_FALSE(h.stack.find(id.value)->message_mode());
    }

    TEST_CASE(
        "DESIGN.md §3b: a SYN without the option does not reopen a TIME-WAIT connection for a "
        "message-mode listener") {
        StackPair p;
        const auto l = p.b.listen(80, 0, {}, true);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, true);
        REQUIRE(c.ok());
        p.pump();
        CHECK(p.a.find(c.value)->message_mode());
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        CHECK(p.b.find(s.value)->message_mode());
        // The server closes first and lets go: b ends in TIME-WAIT as an orphan.
        CHECK(p.b.release(s.value) == Errc::ok);
        p.pump();
        p.a.connection(c.value)->close();
        p.pump();
        REQUIRE(p.b.stats().time_wait == 1);
        CHECK(p.a.release(c.value) == Errc::ok);
        p.pump();

        // The same 4-tuple again a second later, as a stream connect: not reopened, not admitted.
        p.run_for(1s);
        const auto c2 = p.a.connect({kPairAddrB, 80}, p.now(), 5555);
        REQUIRE(c2.ok());
        p.pump();
        CHECK(p.b.stats().time_wait_reopened == 0);
        CHECK(p.b.accept_queue_size(l.value) == 0);
        CHECK(p.a.find(c2.value)->state() != TcpState::established);

        // As a message-mode connect it reopens the TIME-WAIT connection (RFC 9293 §3.6.1 MAY-2).
        CHECK(p.a.release(c2.value) == Errc::ok);
        p.pump();
        p.run_for(1s);
        const auto c3 = p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, true);
        REQUIRE(c3.ok());
        p.pump();
        CHECK(p.b.stats().time_wait_reopened == 1);
        CHECK(p.a.find(c3.value)->state() == TcpState::established);
        CHECK(p.a.find(c3.value)->message_mode());
    }
}
