// Connect data and conditional listeners (DESIGN.md §3c): caller data on the SYN's
// disconnect-data offer (kind 253, ExID 0xD15C, length 4+N), callee data on the SYN-ACK's echo,
// the same bytes on every retransmission; the limit is what the SYN's other options leave; a SYN
// with caller data whose SYN-ACK does not echo is reset and ends connect_data_refused; SYN
// cookies never answer caller data; a conditional listener holds SYNs for a verdict.
// Scripted Connections (script.hpp) and hand-fed Stacks (stack_host.hpp, pair.hpp); the
// simulation under loss is tests/sim/connect_data_sim_test.cpp.
#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "support/pair.hpp"
#include "support/script.hpp"
#include "support/stack_host.hpp"
#include "ustack/stack.hpp"
#include "ustack/syn_options.hpp"

using namespace ustack;
using namespace ustack::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t kPort = kLocal.port;

StackConfig disc_stack(Ipv4Addr addr) {
    StackConfig c = pair_config(addr);
    c.tcp.disconnect_data = true;
    return c;
}

struct Host : StackHost {
    explicit Host(StackConfig cfg = disc_stack(kLocal.addr))
        : StackHost(cfg, pair_key(11), Instant{1'000'000us}) {}
};

// A SYN from kRemote's address and `src_port`: MSS, and -- unless `offer` is false -- the
// disconnect-data offer carrying `data`.
Segment syn_from(std::uint16_t src_port, std::uint32_t seq, std::string_view data = {},
                 bool offer = true) {
    SegBuilder b;
    b.seq(seq).syn().mss(1460);
    Segment s = b.build();  // no payload: nothing borrowed from the builder
    if (offer)
        s.options.disconnect = DisconnectData::from(bytes_of(data));
    s.src_port = src_port;
    return s;
}

// The peer's ACK of our SYN-ACK `sa`.
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

std::string str(std::span<const std::byte> b) {
    return string_of(b);
}
std::string disc_str(const Segment& s) {
    REQUIRE(s.options.disconnect.has_value());
    return string_of(s.options.disconnect->data());
}

}  // namespace

TEST_SUITE("connection") {
    // ---- the active side ------------------------------------------------------------------

    TEST_CASE(
        "DESIGN.md §3c: caller data rides on the SYN's offer and every retransmission carries "
        "the same bytes") {
        TcpConfig cfg = Script::disc_config();
        cfg.max_syn_retransmits = 3;
        Script t(cfg);
        t.conn().open_active(t.now(), bytes_of("client-42"));
        const OwnedSegment syn = t.expect_one();
        REQUIRE(syn->flags == tcp_flag::syn);
        CHECK(disc_str(syn.get()) == "client-42");
        CHECK(str(t.conn().connect_data()) == "client-42");
        CHECK(t.conn().stats().connect_data_sent == 1);
        for (unsigned i = 0; i < cfg.max_syn_retransmits; ++i) {
            CAPTURE(i);
            REQUIRE(t.fire_next_timer());
            const OwnedSegment again = t.expect_one();
            CHECK(again->flags == tcp_flag::syn);
            CHECK(again->options.disconnect == syn->options.disconnect);
        }
        CHECK(t.conn().stats().syn_retransmits == cfg.max_syn_retransmits);
        CHECK(t.conn().stats().connect_data_sent == 1);  // a connection, not a transmission
    }

    TEST_CASE("DESIGN.md §3c: the SYN-ACK's echo brings callee data to the active connection") {
        Script t(Script::disc_config());
        t.conn().open_active(t.now(), bytes_of("who"));
        (void)t.expect_one();
        t.send(t.peer().seq(kPeerIss).syn().ack(kIss + 1).mss(1460).disc("session-7"));
        CHECK(t.conn().state() == TcpState::established);
        CHECK(t.conn().disconnect_negotiated());
        CHECK(str(t.conn().peer_connect_data()) == "session-7");
        CHECK(t.conn().stats().connect_data_received == 1);
        const OwnedSegment ack = t.expect_one();
        CHECK(ack->flags == tcp_flag::ack);
        CHECK_FALSE(ack->options.disconnect.has_value());  // the option belongs to the SYNs
        // An echo without data: none (a plain offer's answer).
        Script u(Script::disc_config());
        u.establish_active();
        CHECK(u.conn().peer_connect_data().empty());
        CHECK(u.conn().stats().connect_data_received == 0);
    }

    TEST_CASE(
        "DESIGN.md §3c: a SYN-ACK without the echo after caller data draws <SEQ=SEG.ACK><CTL=RST> "
        "and ends connect_data_refused (counted)") {
        Script t(Script::disc_config());
        t.conn().open_active(t.now(), bytes_of("x"));
        (void)t.expect_one();
        t.send(t.peer().seq(kPeerIss).syn().ack(kIss + 1).mss(1460));  // Linux: no echo
        const OwnedSegment rst = t.expect_one();
        CHECK(rst->flags == tcp_flag::rst);
        CHECK(rst->seq == SeqNum(kIss + 1));  // SEG.ACK
        CHECK(t.conn().state() == TcpState::closed);
        CHECK(t.conn().close_reason() == CloseReason::connect_data_refused);
        CHECK(t.closed_event() == CloseReason::connect_data_refused);
        CHECK(to_string(CloseReason::connect_data_refused) == "connect_data_refused");
        CHECK(t.conn().stats().connect_data_refused == 1);
        CHECK(t.conn().stats().rst_sent == 1);
        CHECK(t.conn().peer_connect_data().empty());
        CHECK_FALSE(t.conn().poll_timeout().has_value());
        t.expect_nothing();
        CHECK(t.conn().send(bytes_of("x")).error == Errc::no_proto_opt);
    }

    TEST_CASE(
        "DESIGN.md §3c: a simultaneous open whose SYN lacks the option after caller data is "
        "refused with <SEQ=SND.NXT><ACK=SEG.SEQ+SEG.LEN><CTL=RST+ACK>") {
        Script t(Script::disc_config());
        t.conn().open_active(t.now(), bytes_of("x"));
        (void)t.expect_one();
        t.send(t.peer().seq(kPeerIss).syn().mss(1460));
        const OwnedSegment rst = t.expect_one();
        CHECK(rst->flags == (tcp_flag::rst | tcp_flag::ack));
        CHECK(rst->seq == SeqNum(kIss + 1));
        CHECK(rst->ack == SeqNum(kPeerIss + 1));
        CHECK(t.conn().close_reason() == CloseReason::connect_data_refused);
    }

    TEST_CASE("DESIGN.md §3c: a plain offer whose SYN-ACK does not echo still falls back to TCP") {
        Script t(Script::disc_config());
        t.conn().open_active(t.now());
        const OwnedSegment syn = t.expect_one();
        CHECK(syn->options.disconnect == std::optional<DisconnectData>(DisconnectData{}));
        CHECK(t.conn().stats().connect_data_sent == 0);
        t.send(t.peer().seq(kPeerIss).syn().ack(kIss + 1).mss(1460));
        CHECK(t.conn().state() == TcpState::established);
        CHECK_FALSE(t.conn().disconnect_negotiated());
        CHECK(t.conn().stats().connect_data_refused == 0);
        CHECK(t.expect_one()->flags == tcp_flag::ack);
    }

    TEST_CASE("DESIGN.md §3c: without the extension caller data is never sent") {
        Script t;  // disconnect_data off
        CHECK(t.conn().connect_data_limit() == 0);
        t.conn().open_active(t.now(), bytes_of("x"));
        const OwnedSegment syn = t.expect_one();
        CHECK_FALSE(syn->options.disconnect.has_value());
        CHECK(t.conn().connect_data().empty());
    }

    // ---- the passive side -----------------------------------------------------------------

    TEST_CASE(
        "DESIGN.md §3c: a passive connection keeps the SYN's caller data and every SYN-ACK "
        "carries its callee data") {
        TcpConfig cfg = Script::disc_config();
        cfg.max_synack_retransmits = 2;
        Script t(cfg);
        const Segment syn = t.peer().seq(kPeerIss).syn().mss(1460).disc("caller").build();
        t.conn().open_passive(syn, t.now(), bytes_of("callee"));
        CHECK(str(t.conn().peer_connect_data()) == "caller");
        CHECK(t.conn().stats().connect_data_received == 1);
        const OwnedSegment sa = t.expect_one();
        REQUIRE(sa->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK(disc_str(sa.get()) == "callee");
        CHECK(t.conn().stats().connect_data_sent == 1);
        // The RTO: the same bytes.
        REQUIRE(t.fire_next_timer());
        CHECK(disc_str(t.expect_one().get()) == "callee");
        // The peer's retransmitted SYN (our SYN-ACK was lost): the same bytes again.
        t.set_peer_nxt(kPeerIss);
        t.send(t.peer().syn().mss(1460).disc("caller"));
        CHECK(disc_str(t.expect_one().get()) == "callee");
        t.set_peer_nxt(kPeerIss + 1);
        t.send(t.peer().ack(kIss + 1));
        CHECK(t.conn().state() == TcpState::established);
        CHECK(str(t.conn().peer_connect_data()) == "caller");
    }

    TEST_CASE(
        "DESIGN.md §3c: caller data on a SYN to an end without the extension is ignored and not "
        "echoed (counted)") {
        Script t;  // disconnect_data off
        const Segment syn = t.peer().seq(kPeerIss).syn().mss(1460).disc("caller").build();
        t.conn().open_passive(syn, t.now(), bytes_of("callee"));
        CHECK(t.conn().peer_connect_data().empty());
        CHECK(t.conn().stats().disc_option_ignored == 1);
        const OwnedSegment sa = t.expect_one();
        CHECK_FALSE(sa->options.disconnect.has_value());
        CHECK(t.conn().connect_data().empty());
    }

    // ---- the limit ------------------------------------------------------------------------

    TEST_CASE(
        "DESIGN.md §3c: the connect-data limit is the SYN's option space left - 16 bytes with "
        "every option and 12 with message mode and more without timestamps or window scale") {
        struct Case {
            bool ts, ws, sack, msg;
            std::size_t limit;
        };
        // MSS 4, timestamps 12 (SACK-permitted rides in their NOPs), SACK-permitted alone 4,
        // window scale 4, message mode 4; then 4 for the option's header.
        const Case cases[] = {
            {true, true, true, false, 16},    {true, true, true, true, 12},
            {false, true, true, false, 24},   {false, true, true, true, 20},
            {true, false, true, false, 20},   {true, true, false, false, 16},
            {false, false, true, false, 28},  {false, true, false, false, 28},
            {false, false, false, false, 32}, {false, false, false, true, 28},
        };
        for (const Case& c : cases) {
            CAPTURE(c.ts);
            CAPTURE(c.ws);
            CAPTURE(c.sack);
            CAPTURE(c.msg);
            StackConfig sc = disc_stack(kLocal.addr);
            sc.tcp.timestamps = c.ts;
            sc.tcp.window_scaling = c.ws;
            sc.tcp.sack = c.sack;
            const Stack st(sc, pair_key(3));
            CHECK(st.connect_data_limit(c.msg) == c.limit);
            TcpConfig tc = sc.tcp;
            tc.message_mode = c.msg;
            CHECK(connect_data_room(syn_offer(tc)) == c.limit);
            // A SYN with that much data fills the option space, one byte more would not fit.
            const SynOptionSet set = syn_offer(tc);
            const CarriedOptions carried{.mss = true,
                                         .window_scale = set.window_scaling,
                                         .sack_permitted = set.sack,
                                         .timestamps = set.timestamps,
                                         .disconnect_data = c.limit,
                                         .message_mode = set.message_mode};
            CHECK(option_space_left(carried) < 4);
            Connection conn(tc, kLocal, kRemote, SeqNum(kIss));
            CHECK(conn.connect_data_limit() == c.limit);
        }
        // Without the extension: nothing.
        const Stack off(pair_config(kLocal.addr), pair_key(3));
        CHECK(off.connect_data_limit(false) == 0);
        CHECK(off.connect_data_limit(true) == 0);
    }

    TEST_CASE("DESIGN.md §3c: caller data of exactly the limit goes out whole on the SYN") {
        for (const bool msg : {false, true}) {
            CAPTURE(msg);
            TcpConfig cfg = Script::disc_config();
            cfg.message_mode = msg;
            Script t(cfg);
            const std::size_t limit = t.conn().connect_data_limit();
            CHECK(limit == (msg ? 12U : 16U));
            const auto data = pattern_bytes(limit);
            t.conn().open_active(t.now(), data);
            const OwnedSegment syn = t.expect_one();
            REQUIRE(syn->options.disconnect.has_value());
            CHECK(syn->options.disconnect->len == limit);
            CHECK(syn->options.disconnect->data()[limit - 1] == data[limit - 1]);
            CHECK(syn->options.timestamps.has_value());
            CHECK(syn->options.window_scale.has_value());
            CHECK(syn->options.sack_permitted);
            CHECK(syn->options.message_mode == msg);
        }
    }
}

TEST_SUITE("stack") {
    // ---- Stack::connect ---------------------------------------------------------------------

    TEST_CASE(
        "DESIGN.md §3c: connect with caller data over the limit fails with msg_size and creates "
        "and sends nothing") {
        Host h;
        const auto d17 = pattern_bytes(17);
        const auto r = h.stack.connect(kRemote, h.now, 0, {}, false, d17);
        CHECK(r.error == Errc::msg_size);
        const auto d13 = pattern_bytes(13);
        CHECK(h.stack.connect(kRemote, h.now, 0, {}, true, d13).error == Errc::msg_size);
        CHECK(h.stack.stats().connections_current == 0);
        CHECK(h.stack.stats().connections_opened == 0);
        CHECK(h.out().empty());
        // At the limit it goes.
        const auto d16 = pattern_bytes(16);
        const auto ok = h.stack.connect(kRemote, h.now, 0, {}, false, d16);
        REQUIRE(ok.ok());
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        REQUIRE(out[0]->options.disconnect.has_value());
        CHECK(out[0]->options.disconnect->len == 16);
    }

    TEST_CASE(
        "DESIGN.md §3c: connect with caller data fails with no_proto_opt when the host has the "
        "extension off") {
        Host h(pair_config(kLocal.addr));
        CHECK(h.stack.connect(kRemote, h.now, 0, {}, false, bytes_of("x")).error ==
              Errc::no_proto_opt);
        CHECK(h.stack.stats().connections_current == 0);
        CHECK(h.out().empty());
        CHECK(h.stack.connect(kRemote, h.now).ok());  // without data as ever
    }

    TEST_CASE(
        "DESIGN.md §3c: caller data reaches an ordinary listener's connection and its SYN-ACK "
        "echoes with no callee data") {
        StackPair p(disc_stack(kPairAddrA), disc_stack(kPairAddrB));
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, false, bytes_of("id=9"));
        REQUIRE(c.ok());
        p.pump();
        REQUIRE(p.trace.size() == 3);
        CHECK(disc_str(p.trace[0].seg.get()) == "id=9");
        CHECK(disc_str(p.trace[1].seg.get()).empty());
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        CHECK(str(p.b.find(s.value)->peer_connect_data()) == "id=9");
        CHECK(p.a.find(c.value)->state() == TcpState::established);
        CHECK(p.a.find(c.value)->peer_connect_data().empty());
        CHECK(p.b.stats().connect_data_syns == 1);
        CHECK(p.a.connection_totals().connect_data_sent == 1);
        CHECK(p.b.connection_totals().connect_data_received == 1);
    }

    TEST_CASE(
        "DESIGN.md §3c: a connect with caller data to a host without the extension is reset and "
        "ends connect_data_refused with nothing left on either side") {
        StackPair p(disc_stack(kPairAddrA), pair_config(kPairAddrB));
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, false, bytes_of("x"));
        REQUIRE(c.ok());
        p.pump();
        REQUIRE(p.trace.size() == 3);
        CHECK_FALSE(p.trace[1].seg->options.disconnect.has_value());
        CHECK(p.trace[2].seg->flags == tcp_flag::rst);
        CHECK(p.trace[2].seg->seq == p.trace[1].seg->ack);
        CHECK(p.a.find(c.value)->close_reason() == CloseReason::connect_data_refused);
        CHECK(has_conn_event(p.events_a, c.value, EventKind::closed,
                             CloseReason::connect_data_refused));
        CHECK(p.a.connection_totals().connect_data_refused == 1);
        CHECK(p.b.stats().connections_current == 0);
        CHECK(p.b.accept_queue_size(l.value) == 0);
    }

    // ---- SYN cookies ------------------------------------------------------------------------

    TEST_CASE(
        "DESIGN.md §3c: beyond the SYN queue a SYN with caller data is dropped instead of "
        "answered with a cookie (counted) while a plain offer still gets one") {
        Host h;
        const auto l = h.stack.listen(kPort, 1);
        REQUIRE(l.ok());
        h.in(syn_from(3999, 1));  // fills the SYN queue
        const auto first = h.out();
        REQUIRE(first.size() == 1);
        h.in(syn_from(4000, 500, "data"));
        CHECK(h.out().empty());
        CHECK(h.stack.stats().syn_dropped_connect_data == 1);
        CHECK(h.stack.stats().syn_cookies_sent == 0);
        CHECK(h.stack.stats().connect_data_syns == 1);
        h.in(syn_from(4001, 900));  // the plain offer
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(h.stack.stats().syn_cookies_sent == 1);
        CHECK(out[0]->flags == (tcp_flag::syn | tcp_flag::ack));
        // Once the queue has room, the client's retransmission is answered, its data kept.
        h.in(ack_of(first[0].get()));
        REQUIRE(h.stack.accept(l.value).ok());
        h.in(syn_from(4000, 500, "data"));
        const auto sa = h.out();
        REQUIRE(sa.size() == 1);
        CHECK(disc_str(sa[0].get()).empty());  // the echo, no callee data
        h.in(ack_of(sa[0].get()));
        const auto id = h.stack.accept(l.value);
        REQUIRE(id.ok());
        CHECK(str(h.stack.find(id.value)->peer_connect_data()) == "data");
        CHECK(h.stack.stats().syn_dropped_connect_data == 1);
    }

    // ---- conditional listeners ----------------------------------------------------------------

    TEST_CASE(
        "DESIGN.md §3c: a conditional listener holds a SYN unanswered as a request and tells "
        "the application") {
        Host h;
        const auto l = h.stack.listen(kPort, 4, {}, false, true);
        REQUIRE(l.ok());
        CHECK(h.stack.listener_conditional(l.value));
        CHECK_FALSE(h.stack.front_request(l.value).has_value());
        h.in(syn_from(4000, 500, "hello"));
        CHECK(h.out().empty());  // no SYN-ACK
        CHECK(h.stack.held_requests(l.value) == 1);
        CHECK(h.stack.accept_queue_size(l.value) == 0);
        CHECK(h.stack.syn_queue_size(l.value) == 0);
        CHECK(h.stack.stats().connections_current == 0);
        CHECK(h.stack.stats().requests_held == 1);
        const auto ev = h.events();
        REQUIRE(ev.size() == 1);
        CHECK(ev[0].kind == StackEventKind::accept_ready);
        CHECK(ev[0].listener == l.value);
        const auto r = h.stack.front_request(l.value);
        REQUIRE(r.has_value());
        CHECK(r->remote == Endpoint{kRemote.addr, 4000});
        CHECK(str(r->caller_data) == "hello");
        CHECK(r->since == h.now);
        CHECK(r->callee_data_limit == 32);  // the SYN carried MSS and the offer only
        // The second request waits behind the first, in arrival order.
        h.in(syn_from(4001, 700));
        CHECK(h.stack.held_requests(l.value) == 2);
        CHECK(h.stack.front_request(l.value)->remote.port == 4000);
        // An ordinary listener never holds.
        CHECK(h.stack.held_requests(ListenerId{}) == 0);
    }

    TEST_CASE(
        "DESIGN.md §3c: retransmitted SYNs of a held request are absorbed (counted) and a new "
        "SEG.SEQ replaces the held SYN in place") {
        Host h;
        const auto l = h.stack.listen(kPort, 4, {}, false, true);
        REQUIRE(l.ok());
        h.in(syn_from(4000, 500, "v1"));
        h.in(syn_from(4001, 700));
        (void)h.events();
        h.now += 1s;
        h.in(syn_from(4000, 500, "v1"));
        h.now += 2s;
        h.in(syn_from(4000, 500, "v1"));
        CHECK(h.out().empty());
        CHECK(h.events().empty());
        CHECK(h.stack.held_requests(l.value) == 2);
        CHECK(h.stack.stats().held_syns_absorbed == 2);
        CHECK(h.stack.stats().requests_held == 2);
        // The client started over from the same port.
        h.in(syn_from(4000, 9000, "v2"));
        CHECK(h.stack.held_requests(l.value) == 2);
        const auto r = h.stack.front_request(l.value);
        REQUIRE(r.has_value());
        CHECK(r->remote.port == 4000);
        CHECK(str(r->caller_data) == "v2");
        CHECK(r->since == Instant{1'000'000us});  // its place and age stay
        REQUIRE(h.stack.decide_front(l.value, Verdict::accept, {}, h.now) == Errc::ok);
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->ack == SeqNum(9001));
    }

    TEST_CASE(
        "DESIGN.md §3c: accepting a held request sends the SYN-ACK with callee data and the "
        "connection carries the caller data once established") {
        StackPair p(disc_stack(kPairAddrA), disc_stack(kPairAddrB));
        const auto l = p.b.listen(80, 4, {}, false, true);
        REQUIRE(l.ok());
        const auto c =
            p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, false, bytes_of("client-1"));
        REQUIRE(c.ok());
        p.pump();
        REQUIRE(p.trace.size() == 1);  // the SYN, unanswered
        REQUIRE(p.b.held_requests(l.value) == 1);
        CHECK(str(p.b.front_request(l.value)->caller_data) == "client-1");
        CHECK(p.b.front_request(l.value)->callee_data_limit == 16);  // every option echoed
        REQUIRE(p.b.decide_front(l.value, Verdict::accept, bytes_of("session-77"), p.now()) ==
                Errc::ok);
        CHECK(p.b.held_requests(l.value) == 0);
        CHECK(p.b.syn_queue_size(l.value) == 1);
        p.pump();
        REQUIRE(p.trace.size() == 3);
        CHECK(p.trace[1].seg->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK(disc_str(p.trace[1].seg.get()) == "session-77");
        const Connection* cc = p.a.find(c.value);
        REQUIRE(cc != nullptr);
        CHECK(cc->state() == TcpState::established);
        CHECK(str(cc->peer_connect_data()) == "session-77");
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        const Connection* sc = p.b.find(s.value);
        CHECK(sc->state() == TcpState::established);
        CHECK(str(sc->peer_connect_data()) == "client-1");
        CHECK(str(sc->connect_data()) == "session-77");
        CHECK(p.b.stats().held_requests_accepted == 1);
        CHECK(p.b.connection_totals().connect_data_sent == 1);
        CHECK(p.a.connection_totals().connect_data_received == 1);
        // Data flows as on any connection.
        p.write(p.a, c.value, "ping");
        p.pump();
        CHECK(p.read(p.b, s.value) == "ping");
    }

    TEST_CASE(
        "DESIGN.md §3c: rejecting a held request answers the SYN with "
        "<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST+ACK> and the connect is refused") {
        StackPair p(disc_stack(kPairAddrA), disc_stack(kPairAddrB));
        const auto l = p.b.listen(80, 4, {}, false, true);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, false, bytes_of("x"));
        REQUIRE(c.ok());
        p.pump();
        REQUIRE(p.b.decide_front(l.value, Verdict::reject, {}, p.now()) == Errc::ok);
        p.pump();
        REQUIRE(p.trace.size() == 2);
        const Segment& rst = p.trace[1].seg.get();
        CHECK(rst.flags == (tcp_flag::rst | tcp_flag::ack));
        CHECK(rst.seq == SeqNum(0));
        CHECK(rst.ack == p.trace[0].seg->seq + 1);
        CHECK(p.a.find(c.value)->close_reason() == CloseReason::refused);
        CHECK(p.b.held_requests(l.value) == 0);
        CHECK(p.b.stats().held_requests_rejected == 1);
        CHECK(p.b.stats().connections_current == 0);
        CHECK(p.b.decide_front(l.value, Verdict::reject, {}, p.now()) == Errc::would_block);
    }

    TEST_CASE(
        "DESIGN.md §3c: a held request nobody decides on is dropped after held_request_timeout "
        "(counted) and poll_timeout includes that deadline") {
        Host h;
        const auto l = h.stack.listen(kPort, 4, {}, false, true);
        REQUIRE(l.ok());
        const Instant t0 = h.now;
        const Duration bound = h.stack.config().tcp.held_request_timeout;
        CHECK(bound == 30s);
        h.in(syn_from(4000, 500));
        h.now += 5s;
        h.in(syn_from(4001, 700));
        CHECK(h.stack.poll_timeout() == std::optional<Instant>(t0 + bound));
        h.advance_to(t0 + bound - 1us);
        CHECK(h.stack.held_requests(l.value) == 2);
        h.advance_to(t0 + bound);
        CHECK(h.stack.held_requests(l.value) == 1);
        CHECK(h.stack.stats().held_requests_expired == 1);
        CHECK(h.stack.front_request(l.value)->remote.port == 4001);
        CHECK(h.stack.poll_timeout() == std::optional<Instant>(t0 + 5s + bound));
        h.advance_to(t0 + 5s + bound);
        CHECK(h.stack.held_requests(l.value) == 0);
        CHECK(h.stack.stats().held_requests_expired == 2);
        CHECK_FALSE(h.stack.poll_timeout().has_value());
        CHECK(h.out().empty());  // nothing is sent for an expiry
        // A decided request leaves no deadline behind.
        h.in(syn_from(4002, 900));
        REQUIRE(h.stack.decide_front(l.value, Verdict::reject, {}, h.now) == Errc::ok);
        CHECK_FALSE(h.stack.poll_timeout().has_value());
        // The client's next SYN after an expiry is a new request.
        h.in(syn_from(4000, 500));
        CHECK(h.stack.held_requests(l.value) == 1);
        CHECK(h.stack.front_request(l.value)->since == h.now);
    }

    TEST_CASE(
        "DESIGN.md §3c: a conditional listener holds at most its backlog and never answers with "
        "a SYN cookie (counted)") {
        Host h;
        const auto l = h.stack.listen(kPort, 2, {}, false, true);
        REQUIRE(l.ok());
        for (std::uint16_t i = 0; i < 5; ++i)
            h.in(syn_from(static_cast<std::uint16_t>(4000 + i), 500));
        CHECK(h.out().empty());
        CHECK(h.stack.held_requests(l.value) == 2);
        CHECK(h.stack.stats().held_backlog_drops == 3);
        CHECK(h.stack.stats().syn_cookies_sent == 0);
        // A decision makes room.
        REQUIRE(h.stack.decide_front(l.value, Verdict::reject, {}, h.now) == Errc::ok);
        h.in(syn_from(4004, 500));
        CHECK(h.stack.held_requests(l.value) == 2);
    }

    TEST_CASE("DESIGN.md §3c: decide_front errors leave the request held") {
        Host h;
        const auto plain = h.stack.listen(81, 4);
        REQUIRE(plain.ok());
        CHECK(h.stack.decide_front(plain.value, Verdict::accept, {}, h.now) ==
              Errc::invalid_argument);
        CHECK(h.stack.decide_front(ListenerId{}, Verdict::accept, {}, h.now) ==
              Errc::invalid_argument);
        const auto l = h.stack.listen(kPort, 4, {}, false, true);
        REQUIRE(l.ok());
        CHECK(h.stack.decide_front(l.value, Verdict::accept, {}, h.now) == Errc::would_block);
        h.in(syn_from(4000, 500, "c"));
        // Callee data too long for the SYN-ACK (MSS and the echo only: 36 - 4 = 32).
        const auto d33 = pattern_bytes(33);
        CHECK(h.stack.decide_front(l.value, Verdict::accept, d33, h.now) == Errc::msg_size);
        CHECK(h.stack.held_requests(l.value) == 1);
        // A SYN without the offer has no echo to carry callee data.
        h.in(syn_from(4001, 700, {}, false));
        REQUIRE(h.stack.decide_front(l.value, Verdict::accept, pattern_bytes(32), h.now) ==
                Errc::ok);
        CHECK(disc_str(h.out().at(0).get()).size() == 32);
        CHECK(h.stack.decide_front(l.value, Verdict::accept, bytes_of("x"), h.now) ==
              Errc::no_proto_opt);
        CHECK(h.stack.held_requests(l.value) == 1);
        REQUIRE(h.stack.decide_front(l.value, Verdict::accept, {}, h.now) == Errc::ok);
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK_FALSE(out[0]->options.disconnect.has_value());  // a plain TCP SYN-ACK
        // A closed listener's handle is stale.
        CHECK(h.stack.close_listener(l.value) == Errc::ok);
        CHECK(h.stack.decide_front(l.value, Verdict::accept, {}, h.now) == Errc::invalid_argument);
    }

    TEST_CASE(
        "DESIGN.md §3c: closing a conditional listener forgets its held requests and their "
        "deadlines") {
        Host h;
        const auto l = h.stack.listen(kPort, 4, {}, false, true);
        REQUIRE(l.ok());
        h.in(syn_from(4000, 500));
        h.in(syn_from(4001, 700));
        REQUIRE(h.stack.poll_timeout().has_value());
        CHECK(h.stack.close_listener(l.value) == Errc::ok);
        CHECK_FALSE(h.stack.poll_timeout().has_value());
        CHECK(h.out().empty());
        // The port is free again, and the same clients are new requests of a new listener.
        const auto l2 = h.stack.listen(kPort, 4, {}, false, true);
        REQUIRE(l2.ok());
        h.in(syn_from(4000, 500));
        CHECK(h.stack.held_requests(l2.value) == 1);
        CHECK(h.stack.stats().held_syns_absorbed == 0);
    }

    TEST_CASE(
        "DESIGN.md §3c: accept_from takes the connection of one accepted request from the accept "
        "queue when handshakes complete out of order") {
        Host h;
        const auto l = h.stack.listen(kPort, 4, {}, false, true);
        REQUIRE(l.ok());
        h.in(syn_from(4000, 500, "first"));
        h.in(syn_from(4001, 700, "second"));
        REQUIRE(h.stack.decide_front(l.value, Verdict::accept, bytes_of("one"), h.now) == Errc::ok);
        REQUIRE(h.stack.decide_front(l.value, Verdict::accept, bytes_of("two"), h.now) == Errc::ok);
        const auto sa = h.out();
        REQUIRE(sa.size() == 2);
        const Endpoint first{kRemote.addr, 4000};
        const Endpoint second{kRemote.addr, 4001};
        CHECK(h.stack.accept_from(l.value, first).error == Errc::would_block);  // SYN-RECEIVED
        h.in(ack_of(sa[1].get()));  // the second handshake completes first
        CHECK(h.stack.accept_from(l.value, first).error == Errc::would_block);
        const auto b = h.stack.accept_from(l.value, second);
        REQUIRE(b.ok());
        CHECK(str(h.stack.find(b.value)->peer_connect_data()) == "second");
        CHECK(h.stack.accept_from(l.value, second).error == Errc::would_block);  // taken
        h.in(ack_of(sa[0].get()));
        const auto a = h.stack.accept_from(l.value, first);
        REQUIRE(a.ok());
        CHECK(str(h.stack.find(a.value)->peer_connect_data()) == "first");
        CHECK(str(h.stack.find(a.value)->connect_data()) == "one");
        CHECK(h.stack.accept_queue_size(l.value) == 0);
        CHECK(h.stack.accept_from(ListenerId{}, first).error == Errc::invalid_argument);
    }

    TEST_CASE(
        "DESIGN.md §3c: a SYN that reopens a TIME-WAIT connection at a conditional listener is "
        "held for a verdict") {
        StackPair p(disc_stack(kPairAddrA), disc_stack(kPairAddrB));
        const auto l = p.b.listen(80, 4, {}, false, true);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, false, bytes_of("one"));
        REQUIRE(c.ok());
        p.pump();
        REQUIRE(p.b.decide_front(l.value, Verdict::accept, {}, p.now()) == Errc::ok);
        p.pump();
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        // The server closes first and lets go: b ends in TIME-WAIT as an orphan.
        CHECK(p.b.release(s.value) == Errc::ok);
        p.pump();
        p.a.connection(c.value)->close();
        p.pump();
        REQUIRE(p.b.stats().time_wait == 1);
        CHECK(p.a.release(c.value) == Errc::ok);
        p.pump();
        p.run_for(1s);
        const auto c2 = p.a.connect({kPairAddrB, 80}, p.now(), 5555, {}, false, bytes_of("two"));
        REQUIRE(c2.ok());
        p.pump();
        CHECK(p.b.stats().time_wait_reopened == 1);
        REQUIRE(p.b.held_requests(l.value) == 1);
        CHECK(str(p.b.front_request(l.value)->caller_data) == "two");
        CHECK(p.a.find(c2.value)->state() == TcpState::syn_sent);
        REQUIRE(p.b.decide_front(l.value, Verdict::accept, bytes_of("ok"), p.now()) == Errc::ok);
        p.pump();
        CHECK(p.a.find(c2.value)->state() == TcpState::established);
        CHECK(str(p.a.find(c2.value)->peer_connect_data()) == "ok");
    }

    TEST_CASE(
        "DESIGN.md §3c: a conditional listener without the extension holds plain SYNs and "
        "accepts them as plain TCP") {
        Host h(pair_config(kLocal.addr));
        const auto l = h.stack.listen(kPort, 4, {}, false, true);
        REQUIRE(l.ok());
        h.in(syn_from(4000, 500, "ignored"));
        const auto r = h.stack.front_request(l.value);
        REQUIRE(r.has_value());
        CHECK(r->caller_data.empty());  // not echoed, so not delivered
        CHECK(r->callee_data_limit == 0);
        CHECK(h.stack.decide_front(l.value, Verdict::accept, bytes_of("x"), h.now) ==
              Errc::no_proto_opt);
        REQUIRE(h.stack.decide_front(l.value, Verdict::accept, {}, h.now) == Errc::ok);
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK_FALSE(out[0]->options.disconnect.has_value());
        h.in(ack_of(out[0].get()));
        const auto id = h.stack.accept(l.value);
        REQUIRE(id.ok());
        CHECK(h.stack.find(id.value)->peer_connect_data().empty());
    }
}
