// Stack: demultiplexing (RFC 9293 §3.10.7.1-2), listeners and their queues, ports (RFC 6056),
// generation-checked handles, orphaned graceful close (DESIGN.md §4), and the deadline heap.
//
// Single-stack tests feed hand-built segments to one Stack (Host below); exchanges between two
// stacks use StackPair (support/pair.hpp).
#include "ustack/stack.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "support/pair.hpp"
#include "support/sim_link.hpp"
#include "support/stack_host.hpp"
#include "ustack/isn.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr Ipv4Addr kUs = ipv4(10, 0, 1, 2);
constexpr Ipv4Addr kThem = ipv4(10, 0, 2, 2);
constexpr std::uint16_t kPort = 7000;

StackConfig host_config() {
    StackConfig c;
    c.addr = kUs;
    c.tcp.delayed_ack = false;
    return c;
}

// One Stack under a virtual clock, fed by hand.
struct Host : StackHost {
    explicit Host(const StackConfig& cfg = host_config()) : StackHost(cfg, pair_key(7)) {}
};

// A segment from kThem:src_port to us:dst_port.
Segment from_peer(std::uint16_t src_port, std::uint16_t dst_port, std::uint8_t flags,
                  std::uint32_t seq, std::uint32_t ack = 0) {
    Segment s;
    s.src_addr = kThem;
    s.dst_addr = kUs;
    s.src_port = src_port;
    s.dst_port = dst_port;
    s.seq = SeqNum(seq);
    s.ack = SeqNum(ack);
    s.flags = flags;
    s.window = 65535;
    return s;
}

std::size_t count_kind(const std::vector<StackEvent>& v, StackEventKind k) {
    std::size_t n = 0;
    for (const auto& e : v) n += e.kind == k ? 1U : 0U;
    return n;
}

// Complete a passive handshake from kThem:src_port (peer ISS `seq`); returns the SYN-ACK.
OwnedSegment handshake(Host& h, std::uint16_t src_port, std::uint32_t seq) {
    h.in(from_peer(src_port, kPort, tcp_flag::syn, seq));
    auto sa = h.out();
    REQUIRE(sa.size() == 1);
    REQUIRE(sa[0]->flags == (tcp_flag::syn | tcp_flag::ack));
    h.in(from_peer(src_port, kPort, tcp_flag::ack, seq + 1, sa[0]->seq.raw() + 1));
    return sa[0];
}

}  // namespace

TEST_SUITE("stack") {
    // ---- RFC 9293 §3.10.7.1: CLOSED ------------------------------------------------------------

    TEST_CASE("RFC 9293 §3.10.7.1: an ACK to a closed port draws <SEQ=SEG.ACK><CTL=RST>") {
        Host h;
        h.in(from_peer(4000, 9, tcp_flag::ack | tcp_flag::psh, 100, 777));
        auto out = h.out();
        REQUIRE(out.size() == 1);
        const Segment& r = out[0].get();
        CHECK(r.flags == tcp_flag::rst);
        CHECK(r.seq == SeqNum(777));
        CHECK(r.src_addr == kUs);
        CHECK(r.src_port == 9);
        CHECK(r.dst_addr == kThem);
        CHECK(r.dst_port == 4000);
        CHECK(h.stack.stats().rst_sent_unknown == 1);
        CHECK(h.stack.stats().segs_out == 1);
        CHECK(h.out().empty());  // sent once
    }

    TEST_CASE("RFC 9293 §3.10.7.1: no ACK bit -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST|ACK>") {
        Host h;
        SUBCASE("a SYN (SEG.LEN counts the SYN)") {
            h.in(from_peer(4000, 9, tcp_flag::syn, 1000));
            auto out = h.out();
            REQUIRE(out.size() == 1);
            CHECK(out[0]->flags == (tcp_flag::rst | tcp_flag::ack));
            CHECK(out[0]->seq == SeqNum(0));
            CHECK(out[0]->ack == SeqNum(1001));
        }
        SUBCASE("data and a FIN without ACK") {
            std::vector<std::byte> data(5);
            Segment s = from_peer(4000, 9, tcp_flag::fin, 0xfffffffe);
            s.payload = data;
            h.in(s);
            auto out = h.out();
            REQUIRE(out.size() == 1);
            CHECK(out[0]->flags == (tcp_flag::rst | tcp_flag::ack));
            CHECK(out[0]->ack == SeqNum(0xfffffffeU + 6U));  // wraps modulo 2^32
        }
    }

    TEST_CASE("RFC 9293 §3.10.7.1: a RST that matches nothing is never answered") {
        Host h;
        h.in(from_peer(4000, 9, tcp_flag::rst, 5));
        h.in(from_peer(4000, 9, tcp_flag::rst | tcp_flag::ack, 5, 6));
        CHECK(h.out().empty());
        CHECK(h.stack.stats().rst_ignored_unknown == 2);
        CHECK(h.stack.stats().rst_sent_unknown == 0);
    }

    TEST_CASE(
        "RFC 1122 §4.2.3.10: segments for another address or from broadcast/multicast are "
        "dropped and counted") {
        Host h;
        Segment s = from_peer(4000, 9, tcp_flag::syn, 1);
        s.dst_addr = ipv4(10, 0, 1, 3);
        h.in(s);
        CHECK(h.stack.stats().dropped_not_for_us == 1);
        // RFC 1122 §4.2.3.10: never answer a broadcast or multicast source.
        s = from_peer(4000, 9, tcp_flag::syn, 1);
        s.src_addr = ipv4(224, 0, 0, 1);
        h.in(s);
        s.src_addr = ipv4(255, 255, 255, 255);
        h.in(s);
        s = from_peer(0, 9, tcp_flag::syn, 1);  // port 0
        h.in(s);
        CHECK(h.stack.stats().dropped_invalid == 3);
        CHECK(h.out().empty());
        CHECK(h.stack.stats().segs_in == 4);
    }

    TEST_CASE("stack RSTs wait in a bounded queue and the excess is dropped and counted") {
        StackConfig cfg = host_config();
        cfg.rst_queue_limit = 2;
        Host h(cfg);
        for (std::uint16_t p = 1; p <= 5; ++p) h.in(from_peer(p, 9, tcp_flag::ack, 1, 2));
        CHECK(h.out().size() == 2);
        CHECK(h.stack.stats().rst_queue_drops == 3);
        CHECK(h.stack.stats().rst_sent_unknown == 2);
    }

    // ---- RFC 9293 §3.10.7.2: LISTEN ------------------------------------------------------------

    TEST_CASE(
        "RFC 9293 §3.10.7.2: a SYN to a listener is answered with a SYN-ACK from the RFC 6528 "
        "ISS") {
        Host h;
        h.now = instant_from_us(123'456);
        const auto l = h.stack.listen(kPort, 0);
        REQUIRE(l.ok());
        h.in(from_peer(4000, kPort, tcp_flag::syn, 5000));
        CHECK(h.stack.syn_queue_size(l.value) == 1);
        auto out = h.out();
        REQUIRE(out.size() == 1);
        const Segment& sa = out[0].get();
        CHECK(sa.flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK(sa.ack == SeqNum(5001));
        const IsnGenerator gen(pair_key(7));
        CHECK(sa.seq == gen.generate({kUs, kPort}, {kThem, 4000}, h.now));
        CHECK(sa.src_port == kPort);
        CHECK(sa.dst_port == 4000);
        const Connection* c = h.stack.lookup(kPort, {kThem, 4000});
        REQUIRE(c != nullptr);
        CHECK(c->state() == TcpState::syn_received);
        CHECK(c->was_passive());
        CHECK(h.stack.stats().connections_current == 1);
    }

    TEST_CASE(
        "RFC 9293 §3.10.7.2: at a listener a RST is ignored and an ACK draws "
        "<SEQ=SEG.ACK><CTL=RST> and anything else is dropped") {
        Host h;
        REQUIRE(h.stack.listen(kPort, 0).ok());
        h.in(from_peer(4000, kPort, tcp_flag::rst, 1));
        CHECK(h.out().empty());
        h.in(from_peer(4000, kPort, tcp_flag::ack, 1, 999));
        auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == tcp_flag::rst);
        CHECK(out[0]->seq == SeqNum(999));
        h.in(from_peer(4000, kPort, tcp_flag::syn | tcp_flag::ack, 1,
                       42));  // ACK checked before SYN
        out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == tcp_flag::rst);
        CHECK(out[0]->seq == SeqNum(42));
        h.in(from_peer(4000, kPort, tcp_flag::fin, 1));
        h.in(from_peer(4000, kPort, 0, 1));
        CHECK(h.out().empty());
        CHECK(h.stack.stats().dropped_listener_other == 2);
        CHECK(h.stack.stats().connections_current == 0);
    }

    TEST_CASE(
        "issue 22: network_down ends every connection at once with network_down and sends "
        "nothing - app-owned ones raise closed - the others are freed - held requests go") {
        Host h;
        const auto l = h.stack.listen(kPort, 0);
        REQUIRE(l.ok());
        const auto cond = h.stack.listen(kPort + 1, 0, {}, false, true);
        REQUIRE(cond.ok());
        h.in(from_peer(4000, kPort, tcp_flag::syn, 100));      // SYN-RECEIVED, the listener's
        h.in(from_peer(4001, kPort + 1, tcp_flag::syn, 200));  // a held request
        const auto c = h.stack.connect({kThem, 80}, h.now);    // SYN-SENT, the app's
        REQUIRE(c.ok());
        (void)h.out();
        (void)h.events();
        REQUIRE(h.stack.stats().connections_current == 2);
        REQUIRE(h.stack.held_requests(cond.value) == 1);
        h.in(from_peer(4002, 9999, tcp_flag::ack, 1, 1));  // an RST for a closed port, queued

        h.stack.network_down(h.now);
        CHECK(h.out().empty());  // not even the queued RST: there is no link
        const auto ev = h.events();
        CHECK(has_conn_event(ev, c.value, EventKind::closed, CloseReason::network_down));
        const Connection* conn = h.stack.find(c.value);
        REQUIRE(conn != nullptr);
        CHECK(conn->state() == TcpState::closed);
        CHECK(conn->close_reason() == CloseReason::network_down);
        CHECK(h.stack.syn_queue_size(l.value) == 0);
        CHECK(h.stack.held_requests(cond.value) == 0);
        CHECK(h.stack.stats().network_down_closes == 2);
        CHECK(h.stack.stats().connections_current == 1);  // the app's, until released
        CHECK_FALSE(h.stack.poll_timeout().has_value());
        // The listener stays: a SYN that arrives later is answered.
        h.in(from_peer(4003, kPort, tcp_flag::syn, 300));
        CHECK(h.out().size() == 1);
    }

    TEST_CASE(
        "bounded SYN backlog: SYNs beyond the listener's backlog are dropped early and counted") {
        StackConfig cfg = host_config();
        cfg.syn_cookies =
            false;  // with cookies (the default) they are answered: syncookie_test.cpp
        Host h(cfg);
        const auto l = h.stack.listen(kPort, 2);
        REQUIRE(l.ok());
        for (std::uint16_t p = 4000; p < 4005; ++p) h.in(from_peer(p, kPort, tcp_flag::syn, 100));
        auto out = h.out();
        CHECK(out.size() == 2);  // two SYN-ACKs, no RST for the rest (the port is open, just busy)
        for (const auto& s : out) CHECK(s->flags == (tcp_flag::syn | tcp_flag::ack));
        CHECK(h.stack.syn_queue_size(l.value) == 2);
        CHECK(h.stack.stats().syn_backlog_drops == 3);
        CHECK(h.stack.stats().connections_current == 2);
        // A retransmitted SYN of an admitted connection reaches its connection, not the backlog.
        h.in(from_peer(4000, kPort, tcp_flag::syn, 100));
        CHECK(h.stack.stats().syn_backlog_drops == 3);
    }

    TEST_CASE(
        "accept queue: an established passive connection is announced and accepted once "
        "and an empty queue would block") {
        Host h;
        const auto l = h.stack.listen(kPort, 4);
        REQUIRE(l.ok());
        CHECK(h.stack.accept(l.value).error == Errc::would_block);
        handshake(h, 4000, 100);
        CHECK(h.stack.syn_queue_size(l.value) == 0);
        CHECK(h.stack.accept_queue_size(l.value) == 1);
        const auto ev = h.events();
        REQUIRE(ev.size() == 1);  // no per-connection events for a handle nobody holds yet
        CHECK(ev[0].kind == StackEventKind::accept_ready);
        CHECK(ev[0].listener == l.value);
        const auto c = h.stack.accept(l.value);
        REQUIRE(c.ok());
        Connection* conn = h.stack.connection(c.value);
        REQUIRE(conn != nullptr);
        CHECK(conn->state() == TcpState::established);
        CHECK(conn->remote() == Endpoint{kThem, 4000});
        CHECK(h.stack.accept(l.value).error == Errc::would_block);
        CHECK(h.stack.accept_queue_size(l.value) == 0);
    }

    TEST_CASE(
        "a full accept queue stops admitting SYNs and a handshake completing into a full "
        "queue is reset") {
        Host h;
        const auto l = h.stack.listen(kPort, 2);
        REQUIRE(l.ok());
        // Two SYN-RECEIVED; one completes (accept 1, syn 1), so a third SYN is admitted (1 < 2, 1 <
        // 2).
        h.in(from_peer(4001, kPort, tcp_flag::syn, 100));
        h.in(from_peer(4002, kPort, tcp_flag::syn, 200));
        auto sas = h.out();
        REQUIRE(sas.size() == 2);
        h.in(from_peer(4001, kPort, tcp_flag::ack, 101, sas[0]->seq.raw() + 1));
        CHECK(h.stack.accept_queue_size(l.value) == 1);
        h.in(from_peer(4003, kPort, tcp_flag::syn, 300));
        auto sa3 = h.out();
        REQUIRE(sa3.size() == 1);
        CHECK(h.stack.syn_queue_size(l.value) == 2);
        h.in(from_peer(4002, kPort, tcp_flag::ack, 201, sas[1]->seq.raw() + 1));
        CHECK(h.stack.accept_queue_size(l.value) == 2);
        // Queue full: a new SYN is dropped early ...
        h.in(from_peer(4004, kPort, tcp_flag::syn, 400));
        CHECK(h.stack.stats().syn_backlog_drops == 1);
        // ... and the handshake that was already admitted is reset when it completes.
        h.in(from_peer(4003, kPort, tcp_flag::ack, 301, sa3[0]->seq.raw() + 1));
        auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == tcp_flag::rst);
        CHECK(out[0]->dst_port == 4003);
        CHECK(h.stack.stats().accept_overflows == 1);
        CHECK(h.stack.accept_queue_size(l.value) == 2);
        CHECK(h.stack.stats().connections_current == 2);
    }

    TEST_CASE(
        "RFC 9293 §3.10.7.4: a passive connection reset in SYN-RECEIVED returns to LISTEN "
        "(silently removed: nothing sent and only the listener told)") {
        Host h;
        const auto l = h.stack.listen(kPort, 1);
        REQUIRE(l.ok());
        h.in(from_peer(4000, kPort, tcp_flag::syn, 100));
        REQUIRE(h.out().size() == 1);
        h.in(from_peer(4000, kPort, tcp_flag::rst, 101));  // exact RCV.NXT: acceptable
        CHECK(h.out().empty());
        const auto ev = h.events();
        REQUIRE(ev.size() == 1);
        CHECK(ev[0].kind == StackEventKind::handshake_failed);
        CHECK(ev[0].listener == l.value);
        CHECK(h.stack.syn_queue_size(l.value) == 0);
        CHECK(h.stack.stats().removed_before_accept == 1);
        CHECK(h.stack.stats().connections_current == 0);
        CHECK(h.stack.lookup(kPort, {kThem, 4000}) == nullptr);
        // The listener takes a new SYN again (backlog 1 is free).
        h.in(from_peer(4001, kPort, tcp_flag::syn, 100));
        CHECK(h.out().size() == 1);
    }

    TEST_CASE(
        "RFC 9293 §3.10.5: close_listener resets the connections in its SYN and accept queues") {
        Host h;
        const auto l = h.stack.listen(kPort, 4);
        REQUIRE(l.ok());
        handshake(h, 4000, 100);
        h.in(from_peer(4001, kPort, tcp_flag::syn, 500));
        (void)h.out();
        CHECK(h.stack.accept_queue_size(l.value) == 1);
        CHECK(h.stack.syn_queue_size(l.value) == 1);
        CHECK(h.stack.close_listener(l.value) == Errc::ok);
        auto out = h.out();
        REQUIRE(out.size() == 2);
        std::set<std::uint16_t> ports;
        for (const auto& s : out) {
            CHECK(s->flags == tcp_flag::rst);
            ports.insert(s->dst_port);
        }
        CHECK(ports == std::set<std::uint16_t>{4000, 4001});
        CHECK(h.stack.stats().connections_current == 0);
        CHECK_FALSE(h.stack.port_in_use(kPort));
        // Now the port is closed: RFC 9293 §3.10.7.1 answers.
        h.in(from_peer(4002, kPort, tcp_flag::syn, 1));
        out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == (tcp_flag::rst | tcp_flag::ack));
        CHECK(h.stack.listen(kPort, 1).ok());
    }

    // ---- handles, ports, limits
    // ------------------------------------------------------------------

    TEST_CASE("stale handles are rejected with invalid_argument (generation-checked)") {
        Host h;
        CHECK(h.stack.connection(ConnId{}) == nullptr);
        CHECK(h.stack.release(ConnId{}) == Errc::invalid_argument);
        CHECK(h.stack.accept(ListenerId{}).error == Errc::invalid_argument);
        CHECK(h.stack.close_listener(ListenerId{}) == Errc::invalid_argument);

        const auto c = h.stack.connect({kThem, 80}, h.now);
        REQUIRE(c.ok());
        REQUIRE(h.stack.connection(c.value) != nullptr);
        CHECK(h.stack.release(c.value) == Errc::ok);    // SYN-SENT: close just deletes the TCB
        CHECK(h.stack.connection(c.value) == nullptr);  // invalid at once
        CHECK(h.stack.find(c.value) == nullptr);
        CHECK(h.stack.release(c.value) == Errc::invalid_argument);
        (void)h.out();
        CHECK(h.stack.stats().connections_current == 0);
        // The slot may be reused, but not the handle.
        const auto c2 = h.stack.connect({kThem, 81}, h.now);
        REQUIRE(c2.ok());
        CHECK_FALSE(c2.value == c.value);
        CHECK(h.stack.connection(c.value) == nullptr);
        CHECK(h.stack.connection(c2.value) != nullptr);

        const auto l = h.stack.listen(kPort, 1);
        REQUIRE(l.ok());
        CHECK(h.stack.close_listener(l.value) == Errc::ok);
        CHECK(h.stack.close_listener(l.value) == Errc::invalid_argument);
        CHECK(h.stack.accept(l.value).error == Errc::invalid_argument);
        const auto l2 = h.stack.listen(kPort, 1);
        REQUIRE(l2.ok());
        CHECK_FALSE(l2.value == l.value);
        CHECK(h.stack.listener_port(l.value) == 0);
        CHECK(h.stack.listener_port(l2.value) == kPort);
    }

    TEST_CASE(
        "RFC 6056: ephemeral ports are unique per remote and in range - exhaustion is "
        "addr_not_available - another remote shares them (RFC 6056 §2.1) - a listener's port is "
        "never shared") {
        StackConfig cfg = host_config();
        cfg.ephemeral_first = 50000;
        cfg.ephemeral_last = 50007;
        Host h(cfg);
        std::set<std::uint16_t> ports;
        std::vector<ConnId> ids;
        for (int i = 0; i < 8; ++i) {
            const auto c = h.stack.connect({kThem, 80}, h.now);
            REQUIRE(c.ok());
            ids.push_back(c.value);
            const std::uint16_t p = h.stack.find(c.value)->local().port;
            CHECK(p >= 50000);
            CHECK(p <= 50007);
            ports.insert(p);
        }
        CHECK(ports.size() == 8);
        CHECK(h.stack.connect({kThem, 80}, h.now).error == Errc::addr_not_available);
        CHECK(h.stack.listen(0, 1).error == Errc::addr_not_available);
        // Freeing one connection frees its port.
        const std::uint16_t freed = h.stack.find(ids[3])->local().port;
        h.stack.connection(ids[3])->abort();
        CHECK(h.stack.release(ids[3]) == Errc::ok);
        (void)h.out();
        CHECK_FALSE(h.stack.port_in_use(freed));
        const auto again = h.stack.connect({kThem, 80}, h.now);
        REQUIRE(again.ok());
        CHECK(h.stack.find(again.value)->local().port == freed);
        // Another remote: the same ports again, each 4-tuple still unique.
        std::set<std::uint16_t> other;
        for (int i = 0; i < 8; ++i) {
            const auto c = h.stack.connect({kThem, 81}, h.now);
            REQUIRE(c.ok());
            other.insert(h.stack.find(c.value)->local().port);
        }
        CHECK(other == ports);
        CHECK(h.stack.connect({kThem, 81}, h.now).error == Errc::addr_not_available);
        // A listener's port is never a connection's.
        CHECK(h.stack.listen(0, 1).error == Errc::addr_not_available);
    }

    TEST_CASE("a port used by a listener or a connection is addr_in_use") {
        Host h;
        const auto l = h.stack.listen(kPort, 1);
        REQUIRE(l.ok());
        CHECK(h.stack.listen(kPort, 1).error == Errc::addr_in_use);
        CHECK(h.stack.connect({kThem, 80}, h.now, kPort).error == Errc::addr_in_use);
        const auto c = h.stack.connect({kThem, 80}, h.now, 6000);
        REQUIRE(c.ok());
        CHECK(h.stack.find(c.value)->local().port == 6000);
        CHECK(h.stack.listen(6000, 1).error == Errc::addr_in_use);
        CHECK(h.stack.connect({kThem, 81}, h.now, 6000).error == Errc::addr_in_use);
        // listen(0) picks a free ephemeral port.
        const auto l0 = h.stack.listen(0, 1);
        REQUIRE(l0.ok());
        CHECK(h.stack.listener_port(l0.value) >= 49152);
        CHECK(h.stack.port_in_use(h.stack.listener_port(l0.value)));
    }

    TEST_CASE("RFC 1122 §4.2.3.10: connect rejects a zero or broadcast or multicast remote") {
        Host h;
        CHECK(h.stack.connect({kThem, 0}, h.now).error == Errc::invalid_argument);
        CHECK(h.stack.connect({0, 80}, h.now).error == Errc::invalid_argument);
        CHECK(h.stack.connect({ipv4(239, 1, 1, 1), 80}, h.now).error == Errc::invalid_argument);
        CHECK(h.stack.connect({ipv4(255, 255, 255, 255), 80}, h.now).error ==
              Errc::invalid_argument);
        CHECK(h.stack.stats().connections_current == 0);
    }

    TEST_CASE("max_connections bounds the table: connect gets no_buffers and a SYN is dropped") {
        StackConfig cfg = host_config();
        cfg.max_connections = 2;
        Host h(cfg);
        REQUIRE(h.stack.listen(kPort, 8).ok());
        REQUIRE(h.stack.connect({kThem, 80}, h.now).ok());
        h.in(from_peer(4000, kPort, tcp_flag::syn, 1));
        CHECK(h.stack.stats().connections_current == 2);
        CHECK(h.stack.connect({kThem, 80}, h.now).error == Errc::no_buffers);
        h.in(from_peer(4001, kPort, tcp_flag::syn, 1));
        CHECK(h.stack.stats().syn_limit_drops == 1);
        CHECK(h.stack.stats().connections_peak == 2);
        CHECK(h.out().size() == 2);  // our SYN and one SYN-ACK
    }

    // ---- deadlines and the dirty list
    // -------------------------------------------------------------

    TEST_CASE("poll_timeout is the minimum over all connections (RFC 6298 initial RTO per SYN)") {
        Host h;
        CHECK_FALSE(h.stack.poll_timeout().has_value());
        std::vector<ConnId> ids;
        for (int i = 0; i < 3; ++i) {
            h.now = instant_from_us(std::int64_t{100'000} * i);
            const auto c = h.stack.connect({kThem, static_cast<std::uint16_t>(80 + i)}, h.now);
            REQUIRE(c.ok());
            ids.push_back(c.value);
            REQUIRE(h.out().size() == 1);  // SYN; arms the retransmission timer
        }
        const Duration rto = host_config().tcp.rto_initial;
        REQUIRE(h.stack.poll_timeout().has_value());
        CHECK(*h.stack.poll_timeout() == instant_from_us(0) + rto);
        CHECK(*h.stack.poll_timeout() == *h.stack.find(ids[0])->poll_timeout());

        // The earliest one goes away: the minimum moves to the next.
        h.stack.connection(ids[0])->abort();
        (void)h.out();
        CHECK(*h.stack.poll_timeout() == instant_from_us(100'000) + rto);

        // Firing it retransmits that SYN only, and re-arms it with backoff (RFC 6298 §5.5).
        h.advance_to(*h.stack.poll_timeout());
        auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == tcp_flag::syn);
        CHECK(out[0]->dst_port == 81);
        CHECK(*h.stack.poll_timeout() == instant_from_us(200'000) + rto);
        CHECK(*h.stack.find(ids[1])->poll_timeout() > *h.stack.poll_timeout());
    }

    TEST_CASE("the deadline heap stays exact under churn (lazy invalidation)") {
        // 20 connections over a 5 ms wire; the clients send at varying times, so retransmission and
        // delayed-ACK deadlines move all the time. At every step the Stack's deadline must equal
        // the minimum of its connections' deadlines.
        StackPair p(pair_config(kPairAddrA), pair_config(kPairAddrB), 5ms);
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        std::vector<ConnId> cs;
        cs.reserve(20);
        for (int i = 0; i < 20; ++i) cs.push_back(p.a.connect({kPairAddrB, 80}, p.now()).value);
        std::vector<ConnId> ss;
        auto min_of = [](Stack& st, const std::vector<ConnId>& ids) {
            std::optional<Instant> m;
            for (const auto& id : ids) {
                const auto t = st.find(id)->poll_timeout();
                if (t && (!m || *t < *m))
                    m = t;
            }
            return m;
        };
        std::uint32_t x = 12345;
        for (int round = 0; round < 400; ++round) {
            x = x * 1103515245U + 12345U;
            const ConnId id = cs[(x >> 8) % cs.size()];
            if (p.a.find(id)->state() == TcpState::established && (x & 1U) != 0) {
                StackPair::write(p.a, id, std::string((x >> 4) % 3000, 'q'));
            }
            if (!p.step(p.now() + 1s))
                break;
            while (true) {
                const auto s = p.b.accept(l.value);
                if (!s.ok())
                    break;
                ss.push_back(s.value);
            }
            for (const auto& s : ss) (void)StackPair::read(p.b, s);
            p.pump();
            CHECK(p.a.poll_timeout() == min_of(p.a, cs));
            // (b's SYN-RECEIVED connections have deadlines too but no handles yet.)
            if (ss.size() == cs.size()) {
                INFO("round " << round);
                CHECK(p.b.poll_timeout() == min_of(p.b, ss));
            }
        }
        CHECK(ss.size() == cs.size());
    }

    TEST_CASE("poll_transmit visits only connections touched since the last call") {
        StackPair p;
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        std::vector<ConnId> cs;
        for (int i = 0; i < 50; ++i) {
            const auto c = p.a.connect({kPairAddrB, 80}, p.now());
            REQUIRE(c.ok());
            cs.push_back(c.value);
        }
        CHECK(p.a.dirty_count() == 50);
        p.pump();
        CHECK(p.a.dirty_count() == 0);
        CHECK(p.b.accept_queue_size(l.value) == 50);
        const std::size_t before = p.trace.size();
        {
            VectorSink sink;  // nothing touched: nothing to send
            p.a.poll_transmit(p.now(), sink);
            CHECK(sink.out.empty());
        }
        CHECK(StackPair::write(p.a, cs[7], "x") == 1);
        CHECK(p.a.dirty_count() == 1);
        p.pump();
        CHECK(p.trace.size() == before + 1);  // the data segment (its ACK is delayed, RFC 1122)
    }

    // ---- buffer sizes (BufferSizes: SO_SNDBUF / SO_RCVBUF before connect / listen)
    // ---------------

    TEST_CASE("BufferSizes: connect gives the connection its buffer sizes from the SYN on") {
        Host h;
        const auto id =
            h.stack.connect({kThem, 80}, h.now, 0, BufferSizes{.send = 10000, .recv = 1 << 20});
        REQUIRE(id.ok());
        auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->options.window_scale == std::optional<std::uint8_t>(5));  // RFC 7323 §2.2
        CHECK(out[0]->window == 65535);
        const Connection* c = h.stack.find(id.value);
        REQUIRE(c != nullptr);
        CHECK(c->send_buffer() == 10000);
        CHECK(c->recv_buffer() == 1 << 20);

        // 0 takes TcpConfig's sizes.
        const auto d = h.stack.connect({kThem, 81}, h.now, 0, BufferSizes{.send = 0, .recv = 3000});
        REQUIRE(d.ok());
        out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->options.window_scale == std::optional<std::uint8_t>(0));
        CHECK(out[0]->window == 3000);
        CHECK(h.stack.find(d.value)->send_buffer() == h.stack.config().tcp.send_buffer);
        CHECK(h.stack.find(d.value)->recv_buffer() == 3000);
    }

    TEST_CASE("BufferSizes: a listener's sizes reach the connections it accepts") {
        Host h;
        const auto l = h.stack.listen(kPort, 4, BufferSizes{.send = 5000, .recv = 1 << 21});
        REQUIRE(l.ok());
        CHECK(h.stack.listener_buffers(l.value) == BufferSizes{.send = 5000, .recv = 1 << 21});
        Segment syn = from_peer(4000, kPort, tcp_flag::syn, 100);
        syn.options.window_scale = 2;
        h.in(syn);
        auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->options.window_scale == std::optional<std::uint8_t>(6));
        CHECK(out[0]->window == 65535);
        h.in(from_peer(4000, kPort, tcp_flag::ack, 101, out[0]->seq.raw() + 1));
        const auto id = h.stack.accept(l.value);
        REQUIRE(id.ok());
        const Connection* c = h.stack.find(id.value);
        CHECK(c->send_buffer() == 5000);
        CHECK(c->recv_buffer() == 1 << 21);
        CHECK(c->rcv_wscale() == 6);

        // set_listener_buffers: for the connections opened from then on.
        REQUIRE(h.stack.set_listener_buffers(l.value, BufferSizes{.send = 0, .recv = 2000}) ==
                Errc::ok);
        syn.src_port = 4001;
        h.in(syn);
        out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->options.window_scale == std::optional<std::uint8_t>(0));
        CHECK(out[0]->window == 2000);
        CHECK(h.stack.find(id.value)->recv_buffer() == 1 << 21);  // the accepted one keeps its own
        CHECK(h.stack.set_listener_buffers(ListenerId{}, BufferSizes{}) == Errc::invalid_argument);
    }

    TEST_CASE("BufferSizes: two stacks exchange a transfer larger than a small receive buffer") {
        StackPair p;
        const auto l = p.b.listen(80, 0, BufferSizes{.send = 0, .recv = 2048}).value;
        const auto c =
            p.a.connect({kPairAddrB, 80}, p.now(), 0, BufferSizes{.send = 4096, .recv = 0}).value;
        p.pump();
        const auto s = p.b.accept(l);
        REQUIRE(s.ok());
        std::string big(50'000, 'x');
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
        std::size_t sent = 0;
        std::string got;
        for (int round = 0; round < 10'000 && got.size() < big.size(); ++round) {
            if (sent < big.size())
                sent += StackPair::write(p.a, c, std::string_view(big).substr(sent));
            CHECK(p.a.find(c)->send_queued() <= 4096);
            p.run_for(Duration{50'000});
            got += StackPair::read(p.b, s.value);
        }
        CHECK(got == big);
        CHECK(p.b.find(s.value)->info(p.now()).rcv_wnd <= 2048);
    }

    // ---- two stacks
    // --------------------------------------------------------------------------------

    TEST_CASE("RFC 9293 §3.5: two stacks connect and exchange data and forward events") {
        StackPair p;
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now());
        REQUIRE(c.ok());
        p.pump();
        CHECK(has_conn_event(p.events_a, c.value, EventKind::connected));
        REQUIRE(count_kind(p.events_b, StackEventKind::accept_ready) == 1);
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        CHECK(p.b.find(s.value)->remote() == p.a.find(c.value)->local());

        StackPair::write(p.a, c.value, "hello");
        p.pump();
        CHECK(has_conn_event(p.events_b, s.value, EventKind::readable));
        CHECK(StackPair::read(p.b, s.value) == "hello");
        StackPair::write(p.b, s.value, "world");
        p.pump();
        CHECK(StackPair::read(p.a, c.value) == "world");
        CHECK(p.a.stats().segs_out == p.b.stats().segs_in);
        CHECK(p.b.stats().segs_out == p.a.stats().segs_in);
    }

    TEST_CASE("RFC 9293 §3.10.7.1 and §3.10.7.3: connecting to a closed port is refused") {
        StackPair p;
        const auto c = p.a.connect({kPairAddrB, 81}, p.now());
        REQUIRE(c.ok());
        p.pump();
        CHECK(p.b.stats().rst_sent_unknown == 1);
        CHECK(has_conn_event(p.events_a, c.value, EventKind::closed, CloseReason::refused));
        const Connection* conn = p.a.find(c.value);
        REQUIRE(conn != nullptr);  // the app still holds the handle ...
        CHECK(conn->close_reason() == CloseReason::refused);
        CHECK_FALSE(p.a.port_in_use(conn->local().port));  // ... but not the port
        CHECK_FALSE(p.a.poll_timeout().has_value());
        CHECK(p.a.release(c.value) == Errc::ok);
        p.pump();
        CHECK(p.a.stats().connections_current == 0);
    }

    TEST_CASE("accept restates data and a FIN that arrived before accept") {
        StackPair p;
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now());
        REQUIRE(c.ok());
        p.pump();
        StackPair::write(p.a, c.value, "early");
        REQUIRE(p.a.connection(c.value)->shutdown_send() == Errc::ok);
        p.pump();
        p.events_b.clear();
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        p.pump();
        CHECK(has_conn_event(p.events_b, s.value, EventKind::readable));
        CHECK(has_conn_event(p.events_b, s.value, EventKind::peer_fin));
        CHECK(p.b.find(s.value)->state() == TcpState::close_wait);
        CHECK(StackPair::read(p.b, s.value) == "early");
    }

    TEST_CASE(
        "DESIGN.md §4: a released connection closes gracefully in the background: its FIN is "
        "retransmitted until ACKed - then TIME-WAIT holds no buffers and the slot is freed") {
        StackPair p;
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now());
        REQUIRE(c.ok());
        p.pump();
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        const Endpoint a_local = p.a.find(c.value)->local();

        // The wire eats a's first three FINs, so nothing acknowledges them.
        int fins_dropped = 0;
        p.filter = [&](const Segment& seg, bool from_a) {
            if (from_a && seg.has(tcp_flag::fin) && fins_dropped < 3) {
                ++fins_dropped;
                return false;
            }
            return true;
        };
        StackPair::write(p.a, c.value, "bye");
        p.a.connection(c.value)->close();
        CHECK(p.a.release(c.value) == Errc::ok);
        CHECK(p.a.connection(c.value) == nullptr);  // the handle is gone at once
        CHECK(p.a.stats().orphans == 1);
        p.events_a.clear();

        // The orphan keeps retransmitting its FIN (RTO backoff) until b acknowledges it.
        CHECK(p.run_until(
            [&] {
                return p.a.lookup(a_local.port, {kPairAddrB, 80})->state() == TcpState::fin_wait_2;
            },
            30s));
        CHECK(fins_dropped == 3);
        CHECK(p.sent(true, tcp_flag::fin).size() == 4);
        CHECK(p.events_a.empty());  // nobody holds the handle: no events
        CHECK(StackPair::read(p.b, s.value) == "bye");

        // b closes too: a goes to TIME-WAIT without buffers, then is freed after 2*MSL.
        p.b.connection(s.value)->close();
        p.pump();
        const Connection* orphan = p.a.lookup(a_local.port, {kPairAddrB, 80});
        REQUIRE(orphan != nullptr);
        CHECK(orphan->state() == TcpState::time_wait);
        CHECK_FALSE(orphan->holds_buffers());
        CHECK(p.a.stats().time_wait == 1);
        CHECK(p.a.port_in_use(a_local.port));  // TIME-WAIT holds the port
        CHECK(p.b.find(s.value)->close_reason() == CloseReason::graceful);

        p.run_for(2 * host_config().tcp.msl + 1s);
        CHECK(p.a.lookup(a_local.port, {kPairAddrB, 80}) == nullptr);
        CHECK(p.a.stats().time_wait == 0);
        CHECK(p.a.stats().orphans == 0);
        CHECK(p.a.stats().connections_current == 0);
        CHECK_FALSE(p.a.port_in_use(a_local.port));
        CHECK_FALSE(p.a.poll_timeout().has_value());
    }

    TEST_CASE("an orphan in FIN-WAIT-2 is aborted after orphan_fin_wait_2_timeout") {
        StackPair p;
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now());
        REQUIRE(c.ok());
        p.pump();
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        CHECK(p.a.release(c.value) == Errc::ok);  // implies a graceful close
        p.pump();
        CHECK(p.b.find(s.value)->state() == TcpState::close_wait);  // b never closes
        const Instant start = p.now();
        p.run_for(p.a.config().orphan_fin_wait_2_timeout - 1s);
        CHECK(p.a.stats().connections_current == 1);
        p.run_for(2s);
        CHECK(p.a.stats().orphan_timeouts == 1);
        CHECK(p.a.stats().connections_current == 0);
        const auto rsts = p.sent(true, tcp_flag::rst);
        REQUIRE(rsts.size() == 1);
        CHECK(rsts[0]->at == start + p.a.config().orphan_fin_wait_2_timeout);
        CHECK(p.b.find(s.value)->close_reason() == CloseReason::reset);
    }

    TEST_CASE("RFC 9293 §3.6.1 MAY-2: a new SYN reopens an orphaned connection in TIME-WAIT") {
        StackPair p;
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 5555);
        REQUIRE(c.ok());
        p.pump();
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        // The server closes first and lets go: b ends in TIME-WAIT as an orphan.
        CHECK(p.b.release(s.value) == Errc::ok);
        p.pump();
        p.a.connection(c.value)->close();
        p.pump();
        REQUIRE(p.b.stats().time_wait == 1);
        CHECK(p.a.find(c.value)->close_reason() == CloseReason::graceful);  // LAST-ACK acked
        CHECK(p.a.release(c.value) == Errc::ok);
        p.pump();

        // A second later the client reuses the same 4-tuple: its ISS is larger (RFC 6528's clock).
        p.run_for(1s);
        const auto c2 = p.a.connect({kPairAddrB, 80}, p.now(), 5555);
        REQUIRE(c2.ok());
        p.pump();
        CHECK(p.b.stats().time_wait_reopened == 1);
        CHECK(p.b.stats().time_wait == 0);
        CHECK(p.a.find(c2.value)->state() == TcpState::established);
        const auto s2 = p.b.accept(l.value);
        REQUIRE(s2.ok());
        CHECK(p.b.find(s2.value)->remote() == Endpoint{kPairAddrA, 5555});
    }

    TEST_CASE("RFC 1337: a TIME-WAIT connection the app still holds is not reopened by a SYN") {
        StackPair p;
        const auto l = p.b.listen(80, 0);
        REQUIRE(l.ok());
        const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 5555);
        REQUIRE(c.ok());
        p.pump();
        const auto s = p.b.accept(l.value);
        REQUIRE(s.ok());
        p.b.connection(s.value)->close();  // b closes first but keeps its handle
        p.pump();
        p.a.connection(c.value)->close();
        p.pump();
        REQUIRE(p.b.find(s.value)->state() == TcpState::time_wait);
        CHECK(p.a.release(c.value) == Errc::ok);
        p.run_for(1s);
        const auto c2 = p.a.connect({kPairAddrB, 80}, p.now(), 5555);
        REQUIRE(c2.ok());
        p.pump();
        CHECK(p.b.stats().time_wait_reopened == 0);
        CHECK(p.b.find(s.value)->state() == TcpState::time_wait);
        CHECK(p.a.find(c2.value)->state() != TcpState::established);
    }

    TEST_CASE("over a lossy link (SimLink) transfer and an orphaned close both complete") {
        std::uint64_t lost = 0;
        for (std::uint64_t seed = 1; seed <= 4; ++seed) {
            CAPTURE(seed);
            Stack a(pair_config(kPairAddrA), pair_key(1));
            Stack b(pair_config(kPairAddrB), pair_key(2));
            LinkParams lp;
            lp.delay = 10ms;
            lp.loss = 0.05;
            lp.duplicate = 0.01;
            SimLink<Stack, Stack> sim(a, b, lp, seed);
            const auto l = b.listen(80, 0);
            REQUIRE(l.ok());
            const auto c = a.connect({kPairAddrB, 80}, sim.now());
            REQUIRE(c.ok());
            const std::string payload(60'000, 'p');
            std::size_t written = 0;
            std::size_t got = 0;
            bool a_released = false;
            std::optional<ConnId> s;
            bool b_released = false;
            auto apps = [&](Instant) {
                if (Connection* ca = a.connection(c.value); ca != nullptr) {
                    if (written < payload.size() && ca->is_synchronized()) {
                        const std::string_view rest = std::string_view(payload).substr(written);
                        written += StackPair::write(a, c.value, rest);
                    }
                    if (written == payload.size()) {
                        CHECK(a.release(c.value) == Errc::ok);  // graceful close in the background
                        a_released = true;
                    }
                }
                if (!s) {
                    if (const auto r = b.accept(l.value); r.ok())
                        s = r.value;
                }
                if (s && !b_released) {
                    got += StackPair::read(b, *s).size();
                    if (b.find(*s)->at_eof()) {
                        CHECK(b.release(*s) == Errc::ok);
                        b_released = true;
                    }
                }
                while (a.poll_event()) {
                }
                while (b.poll_event()) {
                }
            };
            const bool done = sim.run_until(
                [&] {
                    return a_released && b_released && a.stats().connections_current == 0 &&
                           b.stats().connections_current == 0;
                },
                600s, apps);
            CHECK(done);
            CHECK(got == payload.size());
            CHECK(a.stats().orphans == 0);
            CHECK(b.stats().orphans == 0);
            lost += sim.a_to_b().stats().lost + sim.b_to_a().stats().lost;
        }
        CHECK(lost > 0);  // the loss really happened
    }

    TEST_CASE("10000 connections: demux and accept and the deadline heap stay cheap" *
              doctest::timeout(60)) {
        StackConfig ac = pair_config(kPairAddrA);
        StackConfig bc = pair_config(kPairAddrB);
        bc.max_accept_backlog = 1024;
        StackPair p(ac, bc);
        const auto l = p.b.listen(80, 1024);
        REQUIRE(l.ok());
        std::vector<ConnId> client;
        std::vector<ConnId> server;
        constexpr int kN = 10'000;
        while (client.size() < kN) {
            for (int i = 0; i < 1000 && client.size() < kN; ++i) {
                const auto c = p.a.connect({kPairAddrB, 80}, p.now());
                REQUIRE(c.ok());
                client.push_back(c.value);
            }
            p.pump();
            for (;;) {
                const auto s = p.b.accept(l.value);
                if (!s.ok())
                    break;
                server.push_back(s.value);
            }
        }
        CHECK(server.size() == kN);
        CHECK(p.a.stats().connections_current == kN);
        CHECK(p.b.stats().connections_current == kN);
        CHECK(p.b.stats().syn_backlog_drops == 0);
        CHECK_FALSE(p.a.poll_timeout().has_value());  // everything acknowledged: no timers

        // One byte on one connection touches one connection.
        StackPair::write(p.a, client[4242], "z");
        CHECK(p.a.dirty_count() == 1);
        p.pump();
        CHECK(StackPair::read(p.b, server[4242]) == "z");

        // Everyone closes and lets go; all are freed together 2*MSL later.
        for (const auto& id : client) CHECK(p.a.release(id) == Errc::ok);
        for (const auto& id : server) CHECK(p.b.release(id) == Errc::ok);
        p.pump();
        // The FINs crossed (simultaneous close, RFC 9293 §3.6): both sides end in TIME-WAIT.
        CHECK(p.a.stats().time_wait == kN);
        CHECK(p.b.stats().time_wait == kN);
        p.run_for(2 * p.a.config().tcp.msl + 1s);
        CHECK(p.a.stats().connections_current == 0);
        CHECK(p.b.stats().connections_current == 0);
        CHECK(p.a.stats().orphans == 0);
        CHECK(p.a.stats().connections_peak == kN);
    }

}  // TEST_SUITE
