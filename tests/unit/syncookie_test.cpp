// SYN cookies in the Stack (RFC 4987 §3.6, as Linux implements them): a listener whose SYN queue
// is full answers statelessly, and the ACK that returns a valid cookie opens the connection
// (RFC 9293 §3.10.7.2 LISTEN otherwise answers such an ACK with a RST). Engine only, virtual clock.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "support/pair.hpp"
#include "support/stack_host.hpp"
#include "ustack/stack.hpp"

using namespace ustack;
using namespace ustack::test;
using namespace std::chrono_literals;

namespace {

constexpr Ipv4Addr kUs = ipv4(10, 0, 1, 2);
constexpr Ipv4Addr kThem = ipv4(10, 0, 2, 2);
constexpr std::uint16_t kPort = 7000;

StackConfig cookie_config() {
    StackConfig c;
    c.addr = kUs;
    c.tcp.delayed_ack = false;
    return c;
}

struct Host : StackHost {
    explicit Host(const StackConfig& cfg = cookie_config())
        : StackHost(cfg, pair_key(9), Instant{1'000'000us}) {}
};

Segment from(Ipv4Addr addr, std::uint16_t src_port, std::uint8_t flags, std::uint32_t seq,
             std::uint32_t ack = 0) {
    Segment s;
    s.src_addr = addr;
    s.dst_addr = kUs;
    s.src_port = src_port;
    s.dst_port = kPort;
    s.seq = SeqNum(seq);
    s.ack = SeqNum(ack);
    s.flags = flags;
    s.window = 65535;
    return s;
}

Segment syn_from(std::uint16_t port, std::uint32_t seq) {
    Segment s = from(kThem, port, tcp_flag::syn, seq);
    s.options.mss = 1460;
    return s;
}

// Fill a backlog-1 listener's SYN queue with one half-open connection.
ListenerId flooded_listener(Host& h) {
    const auto l = h.stack.listen(kPort, 1);
    REQUIRE(l.ok());
    h.in(syn_from(3999, 1));
    REQUIRE(h.out().size() == 1);
    REQUIRE(h.stack.syn_queue_size(l.value) == 1);
    return l.value;
}

// SYN from kThem:port, returns the cookie SYN-ACK (exactly one segment out).
OwnedSegment cookie_for(Host& h, const Segment& syn) {
    h.in(syn);
    auto out = h.out();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0]->flags == (tcp_flag::syn | tcp_flag::ack));
    return out[0];
}

std::vector<std::byte> bytes(std::string_view s) {
    std::vector<std::byte> b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    return b;
}

}  // namespace

TEST_SUITE("stack") {
    TEST_CASE(
        "RFC 4987 §3.6: a full SYN queue answers a SYN with a cookie SYN-ACK and keeps no state") {
        Host h;
        const ListenerId l = flooded_listener(h);
        const OwnedSegment sa = cookie_for(h, syn_from(4000, 500));
        CHECK(sa->ack == SeqNum(501));
        CHECK(sa->dst_port == 4000);
        CHECK(sa->options.mss == std::optional<std::uint16_t>(1460));
        CHECK(h.stack.stats().syn_cookies_sent == 1);
        CHECK(h.stack.stats().syn_backlog_drops == 0);
        CHECK(h.stack.stats().connections_current == 1);  // only the queued one
        CHECK(h.stack.syn_queue_size(l) == 1);
        CHECK(h.stack.lookup(kPort, {kThem, 4000}) == nullptr);
        // Stateless and deterministic: the same SYN at the same time gets the same cookie.
        const OwnedSegment again = cookie_for(h, syn_from(4000, 500));
        CHECK(again->seq == sa->seq);
        // A different peer ISS gives a different cookie (the MAC covers SEG.SEQ).
        const OwnedSegment other = cookie_for(h, syn_from(4000, 501));
        CHECK(other->seq != sa->seq);
    }

    TEST_CASE(
        "RFC 4987 §3.6 and RFC 9293 §3.10.7.2: the ACK of a valid cookie creates an ESTABLISHED "
        "connection on the accept queue and takes the data it carries") {
        Host h;
        const ListenerId l = flooded_listener(h);
        const OwnedSegment sa = cookie_for(h, syn_from(4000, 500));
        const auto data = bytes("hello");
        Segment ack = from(kThem, 4000, tcp_flag::ack | tcp_flag::psh, 501, sa->seq.raw() + 1);
        ack.payload = data;
        h.in(ack);
        CHECK(h.stack.stats().syn_cookies_validated == 1);
        CHECK(h.stack.stats().syn_cookies_failed == 0);
        CHECK(h.stack.accept_queue_size(l) == 1);
        CHECK(h.stack.syn_queue_size(l) == 1);  // the bound held: the cookie connection skipped it
        auto out = h.out();
        REQUIRE(out.size() == 1);  // the ACK of "hello"
        CHECK(out[0]->flags == tcp_flag::ack);
        CHECK(out[0]->ack == SeqNum(506));
        CHECK(out[0]->seq == sa->seq + 1);
        const auto id = h.stack.accept(l);
        REQUIRE(id.ok());
        Connection* c = h.stack.connection(id.value);
        REQUIRE(c != nullptr);
        CHECK(c->state() == TcpState::established);
        CHECK(c->was_passive());
        CHECK(c->iss() == sa->seq);
        CHECK(c->irs() == SeqNum(500));
        CHECK(c->recv_available() == 5);
        CHECK(c->snd_mss() == 1460);
        // No timestamps on the SYN: no options that need them.
        CHECK_FALSE(c->timestamps_enabled());
        CHECK_FALSE(c->window_scaling_enabled());
        CHECK_FALSE(c->sack_enabled());
        // And it sends like any connection.
        REQUIRE(c->send(bytes("world")).ok());
        out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0].payload().size() == 5);
        CHECK(out[0]->seq == sa->seq + 1);
    }

    TEST_CASE(
        "RFC 4987 §3.6 with RFC 7323 §3: the cookie SYN-ACK's TSval carries window scale and "
        "SACK-permitted in its low 6 bits and the echo restores them") {
        Host h;
        const ListenerId l = flooded_listener(h);
        Segment syn = syn_from(4000, 500);
        syn.options.window_scale = 7;
        syn.options.sack_permitted = true;
        syn.options.timestamps = Timestamps{12345, 0};
        const OwnedSegment sa = cookie_for(h, syn);
        REQUIRE(sa->options.timestamps.has_value());
        CHECK(sa->options.timestamps->tsecr == 12345);
        CHECK((sa->options.timestamps->tsval & 0x3f) == (7 | 0x10));
        CHECK(sa->options.window_scale.has_value());
        CHECK(sa->options.sack_permitted);
        CHECK(sa->window == 65535);
        Segment ack = from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1);
        ack.window = 1000;  // scaled by 2^7
        ack.options.timestamps = Timestamps{12346, sa->options.timestamps->tsval};
        h.in(ack);
        REQUIRE(h.stack.stats().syn_cookies_validated == 1);
        const auto id = h.stack.accept(l);
        REQUIRE(id.ok());
        const Connection* c = h.stack.find(id.value);
        REQUIRE(c != nullptr);
        CHECK(c->timestamps_enabled());
        CHECK(c->window_scaling_enabled());
        CHECK(c->snd_wscale() == 7);
        CHECK(c->snd_wnd() == 1000U << 7);
        CHECK(c->sack_enabled());
        CHECK(c->snd_mss() == 1460 - 12);
        // Our TSvals carry on from the cookie's: never below it (the peer's PAWS, RFC 7323 §5).
        Connection* cm = h.stack.connection(id.value);
        REQUIRE(cm->send(bytes("x")).ok());
        auto out = h.out();
        REQUIRE(out.size() == 1);
        REQUIRE(out[0]->options.timestamps.has_value());
        CHECK(static_cast<std::int32_t>(out[0]->options.timestamps->tsval -
                                        sa->options.timestamps->tsval) >= 0);
        CHECK(out[0]->options.timestamps->tsecr == 12346);
    }

    TEST_CASE(
        "RFC 4987 §3.6: without timestamps the cookie SYN-ACK offers no window scaling and no "
        "SACK (documented fallback)") {
        Host h;
        const ListenerId l = flooded_listener(h);
        Segment syn = syn_from(4000, 500);
        syn.options.window_scale = 7;
        syn.options.sack_permitted = true;
        const OwnedSegment sa = cookie_for(h, syn);
        CHECK_FALSE(sa->options.timestamps.has_value());
        CHECK_FALSE(sa->options.window_scale.has_value());
        CHECK_FALSE(sa->options.sack_permitted);
        h.in(from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1));
        const auto id = h.stack.accept(l);
        REQUIRE(id.ok());
        const Connection* c = h.stack.find(id.value);
        CHECK_FALSE(c->window_scaling_enabled());
        CHECK_FALSE(c->sack_enabled());
    }

    TEST_CASE(
        "RFC 4987 §3.6: the cookie keeps the peer's MSS as the largest table value not above it") {
        struct Case {
            std::optional<std::uint16_t> mss;
            std::uint16_t expect;
        };
        for (const Case k : {Case{1460, 1460}, Case{1452, 1440}, Case{1000, 536},
                             Case{std::nullopt, 536}, Case{300, 256}, Case{40, 64}}) {
            CAPTURE(k.expect);
            Host h;
            const ListenerId l = flooded_listener(h);
            Segment syn = syn_from(4000, 500);
            syn.options.mss = k.mss;
            const OwnedSegment sa = cookie_for(h, syn);
            h.in(from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1));
            const auto id = h.stack.accept(l);
            REQUIRE(id.ok());
            CHECK(h.stack.find(id.value)->snd_mss() == k.expect);
        }
    }

    TEST_CASE(
        "RFC 4987 §3.6 and RFC 9293 §3.10.7.2: a forged or misdirected cookie ACK is refused "
        "with <SEQ=SEG.ACK><CTL=RST> and counted") {
        Host h;
        const ListenerId l = flooded_listener(h);
        const OwnedSegment sa = cookie_for(h, syn_from(4000, 500));
        // Wrong cookie value.
        h.in(from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 2));
        // Right cookie, wrong peer sequence number (SEG.SEQ-1 is not the ISS the MAC covered).
        h.in(from(kThem, 4000, tcp_flag::ack, 601, sa->seq.raw() + 1));
        // Right cookie, another peer port.
        h.in(from(kThem, 4001, tcp_flag::ack, 501, sa->seq.raw() + 1));
        // Right cookie, another peer address.
        h.in(from(ipv4(10, 0, 2, 3), 4000, tcp_flag::ack, 501, sa->seq.raw() + 1));
        CHECK(h.stack.stats().syn_cookies_failed == 4);
        CHECK(h.stack.stats().syn_cookies_validated == 0);
        const auto out = h.out();
        REQUIRE(out.size() == 4);
        for (const auto& r : out) CHECK(r->flags == tcp_flag::rst);
        CHECK(out[0]->seq == sa->seq + 2);
        CHECK(h.stack.accept_queue_size(l) == 0);
        CHECK(h.stack.stats().connections_current == 1);
    }

    TEST_CASE(
        "RFC 4987 §3.6: a segment with data or FIN that fails the cookie check is dropped "
        "without a RST -- a later segment of a peer whose first ones were lost -- and its "
        "retransmission from ISS+1 opens the connection") {
        Host h;
        const ListenerId l = flooded_listener(h);
        const OwnedSegment sa = cookie_for(h, syn_from(4000, 500));
        const auto first = bytes("0123456789");
        const auto second = bytes("abcdefghij");
        // The handshake's ACK and the first 10 bytes were lost; the next 10 bytes and the FIN
        // arrive (SEG.SEQ-1 is not the ISS the cookie covered).
        Segment later = from(kThem, 4000, tcp_flag::ack | tcp_flag::psh, 511, sa->seq.raw() + 1);
        later.payload = second;
        h.in(later);
        h.in(from(kThem, 4000, tcp_flag::ack | tcp_flag::fin, 521, sa->seq.raw() + 1));
        CHECK(h.stack.stats().syn_cookies_failed == 2);
        CHECK(h.stack.stats().syn_cookies_failed_dropped == 2);
        CHECK(h.out().empty());
        CHECK(h.stack.accept_queue_size(l) == 0);
        // A bare ACK that fails still gets the RST (the check above is not a blanket drop).
        h.in(from(kThem, 4000, tcp_flag::ack, 511, sa->seq.raw() + 1));
        auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == tcp_flag::rst);
        CHECK(h.stack.stats().syn_cookies_failed_dropped == 2);
        // The peer's retransmission from ISS+1 returns the cookie: the connection opens.
        Segment again = from(kThem, 4000, tcp_flag::ack | tcp_flag::psh, 501, sa->seq.raw() + 1);
        again.payload = first;
        h.in(again);
        CHECK(h.stack.stats().syn_cookies_validated == 1);
        CHECK(h.stack.accept_queue_size(l) == 1);
        out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == tcp_flag::ack);
        CHECK(out[0]->ack == SeqNum(511));
    }

    TEST_CASE(
        "RFC 4987 §3.6: a cookie is good for two ticks of its 64 s counter and then refused") {
        Host h;
        const ListenerId l = flooded_listener(h);
        const OwnedSegment sa = cookie_for(h, syn_from(4000, 500));
        const OwnedSegment sb = cookie_for(h, syn_from(4001, 700));
        // 128 s later (2 ticks): still good.
        h.now += 128s;
        h.in(from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1));
        CHECK(h.stack.stats().syn_cookies_validated == 1);
        CHECK(h.stack.accept_queue_size(l) == 1);
        // 3 ticks after it was made: refused (RST, counted; the listener still sent cookies
        // recently enough to check).
        h.now += 63s;
        h.in(from(kThem, 4001, tcp_flag::ack, 701, sb->seq.raw() + 1));
        CHECK(h.stack.stats().syn_cookies_failed == 1);
        CHECK(h.stack.accept_queue_size(l) == 1);
    }

    TEST_CASE(
        "RFC 9293 §3.10.7.2: a listener that sent no cookie lately answers any ACK with a RST "
        "without looking for one") {
        Host h;
        const ListenerId l = flooded_listener(h);
        const OwnedSegment sa = cookie_for(h, syn_from(4000, 500));
        h.now += 200s;  // past the last cookie's lifetime
        h.in(from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1));
        CHECK(h.stack.stats().syn_cookies_failed == 0);
        CHECK(h.stack.stats().syn_cookies_validated == 0);
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == tcp_flag::rst);
        CHECK(out[0]->seq == sa->seq + 1);
        CHECK(h.stack.accept_queue_size(l) == 0);
    }

    TEST_CASE(
        "RFC 4987 §3.6: a tampered TSecr (option bits we never offered or a stale echo) fails "
        "the cookie") {
        StackConfig cfg = cookie_config();
        cfg.tcp.sack = false;
        Host h(cfg);
        flooded_listener(h);
        Segment syn = syn_from(4000, 500);
        syn.options.timestamps = Timestamps{1, 0};
        const OwnedSegment sa = cookie_for(h, syn);
        const std::uint32_t ts = sa->options.timestamps->tsval;
        Segment ack = from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1);
        ack.options.timestamps = Timestamps{2, ts | 0x10};  // SACK-permitted: we have SACK off
        h.in(ack);
        ack.options.timestamps = Timestamps{2, ts - 10'000'000};  // far older than any cookie
        h.in(ack);
        CHECK(h.stack.stats().syn_cookies_failed == 2);
        ack.options.timestamps = Timestamps{2, ts};
        h.in(ack);
        CHECK(h.stack.stats().syn_cookies_validated == 1);
    }

    TEST_CASE("RFC 4987 §3.6: with syn_cookies off a full SYN queue drops SYNs (counted)") {
        StackConfig cfg = cookie_config();
        cfg.syn_cookies = false;
        Host h(cfg);
        flooded_listener(h);
        h.in(syn_from(4000, 500));
        CHECK(h.out().empty());
        CHECK(h.stack.stats().syn_backlog_drops == 1);
        CHECK(h.stack.stats().syn_cookies_sent == 0);
    }

    TEST_CASE(
        "RFC 4987 §3.6: a full accept queue still drops SYNs and a valid cookie completing "
        "into it is reset") {
        Host h;
        const auto l = h.stack.listen(kPort, 1);
        REQUIRE(l.ok());
        // One connection SYN-RECEIVED (queue full) and a cookie handed out.
        h.in(syn_from(3999, 1));
        const auto sa1 = h.out();
        REQUIRE(sa1.size() == 1);
        const OwnedSegment sa = cookie_for(h, syn_from(4000, 500));
        // The queued one completes: accept queue full (1), SYN queue empty.
        h.in(from(kThem, 3999, tcp_flag::ack, 2, sa1[0]->seq.raw() + 1));
        REQUIRE(h.stack.accept_queue_size(l.value) == 1);
        h.in(syn_from(4001, 900));
        CHECK(h.out().empty());
        CHECK(h.stack.stats().syn_backlog_drops == 1);
        // The valid cookie now finds the accept queue full: RST, counted as an overflow.
        h.in(from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1));
        const auto out = h.out();
        REQUIRE(out.size() == 1);
        CHECK(out[0]->flags == tcp_flag::rst);
        CHECK(h.stack.stats().accept_overflows == 1);
        CHECK(h.stack.stats().syn_cookies_validated == 0);
        CHECK(h.stack.stats().connections_current == 1);
    }

    TEST_CASE(
        "RFC 4987 §3.6 and RFC 9293 §3.10.7.2: a CLOSED connection the app still holds does "
        "not own its 4-tuple -- a new SYN on it gets a cookie and the cookie ACK opens a new "
        "connection beside the old handle") {
        Host h;
        const ListenerId l = flooded_listener(h);
        // An accepted connection from kThem:4000 (a cookie one), reset by the peer: CLOSED, not
        // released by the app.
        const OwnedSegment sa = cookie_for(h, syn_from(4000, 500));
        h.in(from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1));
        const auto old_id = h.stack.accept(l);
        REQUIRE(old_id.ok());
        h.in(from(kThem, 4000, tcp_flag::rst, 501));
        REQUIRE(h.stack.find(old_id.value) != nullptr);
        REQUIRE(h.stack.find(old_id.value)->state() == TcpState::closed);
        CHECK(h.stack.lookup(kPort, {kThem, 4000}) == nullptr);
        // The peer's next incarnation on the same 4-tuple: the SYN queue is still full, so a
        // cookie.
        const OwnedSegment sb = cookie_for(h, syn_from(4000, 90'000));
        CHECK(sb->ack == SeqNum(90'001));
        CHECK(sb->seq != h.stack.find(old_id.value)->iss());
        h.in(from(kThem, 4000, tcp_flag::ack, 90'001, sb->seq.raw() + 1));
        CHECK(h.stack.stats().syn_cookies_validated == 2);
        const auto new_id = h.stack.accept(l);
        REQUIRE(new_id.ok());
        const Connection* now_live = h.stack.lookup(kPort, {kThem, 4000});
        REQUIRE(now_live != nullptr);
        CHECK(now_live == h.stack.find(new_id.value));
        CHECK(now_live->state() == TcpState::established);
        CHECK(now_live->iss() == sb->seq);
        // The old handle still names its CLOSED connection, and releasing it leaves the new one.
        CHECK(h.stack.find(old_id.value)->state() == TcpState::closed);
        CHECK(h.stack.release(old_id.value) == Errc::ok);
        CHECK(h.stack.lookup(kPort, {kThem, 4000}) == now_live);
        CHECK(now_live->state() == TcpState::established);
    }

    TEST_CASE(
        "RFC 4987 §3.6: 50000 spoofed SYNs leave the table at the backlog and a real client "
        "still connects and exchanges data (two stacks)") {
        StackConfig bcfg = pair_config(kPairAddrB);
        bcfg.default_syn_backlog = 128;
        bcfg.rst_queue_limit = 1 << 20;  // one poll for the whole flood below
        StackPair p(pair_config(kPairAddrA), bcfg);
        const auto l = p.b.listen(80, 0).value;
        for (std::uint32_t i = 0; i < 50'000; ++i) {
            Segment s;
            s.src_addr =
                ipv4(10, 9, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i));
            s.dst_addr = kPairAddrB;
            s.src_port = static_cast<std::uint16_t>(1024 + i % 60000);
            s.dst_port = 80;
            s.seq = SeqNum(i * 7919U);
            s.flags = tcp_flag::syn;
            s.window = 65535;
            s.options.mss = 1460;
            s.options.timestamps = Timestamps{i, 0};
            p.b.on_segment(s, p.now());
        }
        CHECK(p.b.stats().connections_current == 128);
        CHECK(p.b.syn_queue_size(l) == 128);
        CHECK(p.b.stats().syn_cookies_sent == 50'000 - 128);
        const auto c = p.a.connect({kPairAddrB, 80}, p.now()).value;
        p.pump();
        CHECK(p.b.stats().syn_cookies_validated == 1);
        const auto s = p.b.accept(l);
        REQUIRE(s.ok());
        CHECK(p.a.find(c)->state() == TcpState::established);
        CHECK(p.b.find(s.value)->sack_enabled());
        CHECK(p.b.find(s.value)->window_scaling_enabled());
        std::string big(200'000, 'q');
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
        std::size_t sent = 0;
        std::string got;
        while (got.size() < big.size()) {
            if (sent < big.size())
                sent += StackPair::write(p.a, c, std::string_view(big).substr(sent));
            p.run_for(10ms);
            got += StackPair::read(p.b, s.value);
        }
        CHECK(got == big);
        CHECK(StackPair::write(p.b, s.value, "pong") == 4);
        p.pump();
        CHECK(StackPair::read(p.a, c) == "pong");
    }

    TEST_CASE(
        "RFC 4987 §3.6 and RFC 7323 §2.2: a SYN-cookie SYN-ACK carries the window and shift of "
        "the listener's receive buffer and the cookie connection gets the listener's sizes") {
        struct Case {
            std::uint32_t recv;
            std::uint8_t shift;
            std::uint16_t window;
        };
        for (const Case k : {Case{1 << 21, 6, 65535}, Case{3000, 0, 3000}}) {
            CAPTURE(k.recv);
            Host h;
            const auto l = h.stack.listen(kPort, 1, BufferSizes{.send = 7000, .recv = k.recv});
            REQUIRE(l.ok());
            h.in(syn_from(3999, 1));  // fills the SYN queue
            REQUIRE(h.out().size() == 1);
            Segment syn = syn_from(4000, 500);
            syn.options.window_scale = 2;
            syn.options.timestamps = Timestamps{77, 0};
            const OwnedSegment sa = cookie_for(h, syn);
            CHECK(sa->options.window_scale == std::optional<std::uint8_t>(k.shift));
            CHECK(sa->window == k.window);
            Segment ack = from(kThem, 4000, tcp_flag::ack, 501, sa->seq.raw() + 1);
            ack.options.timestamps = Timestamps{78, sa->options.timestamps->tsval};
            h.in(ack);
            REQUIRE(h.stack.stats().syn_cookies_validated == 1);
            const auto id = h.stack.accept(l.value);
            REQUIRE(id.ok());
            const Connection* c = h.stack.find(id.value);
            CHECK(c->rcv_wscale() == k.shift);
            CHECK(c->send_buffer() == 7000);
            CHECK(c->recv_buffer() == k.recv);
            // The window the cookie SYN-ACK offered is the connection's (RFC 9293 §3.8.6).
            CHECK(c->info(h.now).rcv_wnd == k.window);
        }
    }

}  // TEST_SUITE
