// The Stack's bounds (README "Limits"): every table a peer or an application can grow has a limit
// that is enforced and counted when hit -- connections, SYN and accept queues (RFC 9293
// §3.10.7.2, RFC 4987 §3.6), orphans and TIME-WAIT (RFC 9293 §3.4.2 / §3.10.5), the stack's reply
// queue (§3.5.2), and per connection the buffers and reassembly (§3.8.6.2, §3.10.7.4).
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

StackConfig host_config() {
    StackConfig c;
    c.addr = kUs;
    c.tcp.delayed_ack = false;
    return c;
}

struct Host : StackHost {
    explicit Host(const StackConfig& cfg = host_config()) : StackHost(cfg, pair_key(11)) {}
};

Segment from_peer(std::uint16_t src_port, std::uint8_t flags, std::uint32_t seq,
                  std::uint32_t ack = 0) {
    Segment s;
    s.src_addr = kThem;
    s.dst_addr = kUs;
    s.src_port = src_port;
    s.dst_port = kPort;
    s.seq = SeqNum(seq);
    s.ack = SeqNum(ack);
    s.flags = flags;
    s.window = 65535;
    return s;
}

// A passive connection from kThem:port established by hand (peer ISS 1000); returns our ISS.
SeqNum establish(Host& h, std::uint16_t port) {
    h.in(from_peer(port, tcp_flag::syn, 1000));
    auto sa = h.out();
    REQUIRE(sa.size() == 1);
    h.in(from_peer(port, tcp_flag::ack, 1001, sa[0]->seq.raw() + 1));
    (void)h.out();
    return sa[0]->seq;
}

std::vector<std::byte> bytes(std::size_t n, char c = 'z') {
    return std::vector<std::byte>(n, static_cast<std::byte>(c));
}

// `n` connections a -> b:80, established and accepted; returns {a's ids, b's ids}.
std::pair<std::vector<ConnId>, std::vector<ConnId>> open_pairs(StackPair& p, ListenerId l, int n) {
    std::vector<ConnId> as;
    std::vector<ConnId> bs;
    for (int i = 0; i < n; ++i) {
        as.push_back(p.a.connect({kPairAddrB, 80}, p.now()).value);
        p.pump();
        const auto s = p.b.accept(l);
        REQUIRE(s.ok());
        bs.push_back(s.value);
    }
    return {as, bs};
}

}  // namespace

TEST_SUITE("stack") {

TEST_CASE("limit max_connections: connect() fails with no_buffers and a SYN is dropped and both "
          "are counted") {
    StackConfig cfg = host_config();
    cfg.max_connections = 2;
    Host h(cfg);
    REQUIRE(h.stack.listen(kPort, 8).ok());
    REQUIRE(h.stack.connect({kThem, 80}, h.now).ok());
    (void)h.out();
    establish(h, 4000);
    CHECK(h.stack.stats().connections_current == 2);
    CHECK(h.stack.connect({kThem, 81}, h.now).error == Errc::no_buffers);
    CHECK(h.stack.stats().connect_limit_failures == 1);
    h.in(from_peer(4001, tcp_flag::syn, 1));
    CHECK(h.out().empty());
    CHECK(h.stack.stats().syn_limit_drops == 1);
    CHECK(h.stack.stats().connections_current == 2);
    CHECK(h.stack.stats().connections_peak == 2);
}

TEST_CASE("limit SYN backlog (RFC 9293 §3.10.7.2 and RFC 4987 §3.6): SYN-RECEIVED connections "
          "never exceed the backlog and the excess is answered with cookies") {
    Host h;
    const auto l = h.stack.listen(kPort, 16);
    REQUIRE(l.ok());
    for (std::uint16_t p = 0; p < 1000; ++p) h.in(from_peer(static_cast<std::uint16_t>(2000 + p), tcp_flag::syn, p));
    // 16 SYN-ACKs from the 16 connections, and cookies up to the reply queue's bound (256).
    CHECK(h.out().size() == 16 + 256);
    CHECK(h.stack.syn_queue_size(l.value) == 16);
    CHECK(h.stack.stats().connections_current == 16);
    CHECK(h.stack.stats().syn_cookies_sent == 256);
    CHECK(h.stack.stats().syn_cookies_queue_drops == 1000 - 16 - 256);
}

TEST_CASE("limit accept backlog: listen() clamps the backlog to max_accept_backlog and a full "
          "accept queue drops SYNs (counted)") {
    StackConfig cfg = host_config();
    cfg.max_accept_backlog = 3;
    Host h(cfg);
    const auto l = h.stack.listen(kPort, 1000);
    REQUIRE(l.ok());
    for (std::uint16_t p = 4000; p < 4003; ++p) establish(h, p);
    CHECK(h.stack.accept_queue_size(l.value) == 3);
    h.in(from_peer(4100, tcp_flag::syn, 1));
    CHECK(h.out().empty());
    CHECK(h.stack.stats().syn_backlog_drops == 1);
    CHECK(h.stack.stats().syn_cookies_sent == 0);
    CHECK(h.stack.accept_queue_size(l.value) == 3);
}

TEST_CASE("limit RST queue (RFC 9293 §3.5.2): stateless replies between two polls are bounded "
          "and the excess is counted") {
    StackConfig cfg = host_config();
    cfg.rst_queue_limit = 4;
    Host h(cfg);
    for (std::uint16_t p = 0; p < 10; ++p) h.in(from_peer(static_cast<std::uint16_t>(3000 + p), tcp_flag::ack, 1, 2));
    CHECK(h.out().size() == 4);
    CHECK(h.stack.stats().rst_queue_drops == 6);
    CHECK(h.stack.stats().rst_sent_unknown == 4);
}

TEST_CASE("limit max_orphans (RFC 9293 §3.10.5): a release beyond the bound aborts with a RST "
          "instead of closing in the background") {
    StackConfig acfg = pair_config(kPairAddrA);
    acfg.max_orphans = 1;
    StackPair p(acfg, pair_config(kPairAddrB));
    const auto l = p.b.listen(80, 0).value;
    auto [as, bs] = open_pairs(p, l, 3);
    // First release: graceful; the peer does not close, so it waits in FIN-WAIT-2 as an orphan.
    REQUIRE(p.a.release(as[0]) == Errc::ok);
    p.pump();
    CHECK(p.a.stats().orphans == 1);
    CHECK(p.a.lookup(p.b.find(bs[0])->remote().port, {kPairAddrB, 80})->state() ==
          TcpState::fin_wait_2);
    CHECK(p.a.stats().orphan_limit_aborts == 0);
    // Second release: the bound is reached: abort, RST on the wire, the peer sees a reset.
    const std::size_t rsts_before = p.sent(true, tcp_flag::rst).size();
    REQUIRE(p.a.release(as[1]) == Errc::ok);
    p.pump();
    CHECK(p.a.stats().orphan_limit_aborts == 1);
    CHECK(p.sent(true, tcp_flag::rst).size() == rsts_before + 1);
    CHECK(p.b.find(bs[1])->close_reason() == CloseReason::reset);
    CHECK(p.a.stats().orphans == 1);
    // Orphans in TIME-WAIT do not count: once the first finishes its close, a third may orphan.
    Connection* b0 = p.b.connection(bs[0]);
    b0->close();
    p.pump();
    CHECK(p.a.stats().time_wait == 1);
    REQUIRE(p.a.release(as[2]) == Errc::ok);
    p.pump();
    CHECK(p.a.stats().orphan_limit_aborts == 1);
    CHECK(p.a.stats().orphans == 2);
}

TEST_CASE("limit max_time_wait (RFC 9293 §3.4.2): one TIME-WAIT too many silently recycles the "
          "oldest") {
    StackConfig acfg = pair_config(kPairAddrA);
    acfg.max_time_wait = 2;
    StackPair p(acfg, pair_config(kPairAddrB));
    const auto l = p.b.listen(80, 0).value;
    auto [as, bs] = open_pairs(p, l, 3);
    std::vector<std::uint16_t> ports;
    for (const ConnId b : bs) ports.push_back(p.b.find(b)->remote().port);
    for (std::size_t i = 0; i < 3; ++i) {
        REQUIRE(p.a.release(as[i]) == Errc::ok);  // a closes first: a ends in TIME-WAIT
        p.pump();
        p.b.connection(bs[i])->close();
        p.pump();
        p.run_for(1s);  // distinct entry times
    }
    CHECK(p.a.stats().time_wait == 2);
    CHECK(p.a.stats().time_wait_recycled == 1);
    CHECK(p.a.lookup(ports[0], {kPairAddrB, 80}) == nullptr);  // the oldest is gone
    CHECK(p.a.lookup(ports[1], {kPairAddrB, 80})->state() == TcpState::time_wait);
    CHECK(p.a.lookup(ports[2], {kPairAddrB, 80})->state() == TcpState::time_wait);
    CHECK_FALSE(p.a.port_in_use(ports[0]));
    CHECK(p.sent(true, tcp_flag::rst).empty());  // recycling sends nothing
    CHECK(p.a.stats().connections_current == 2);
    CHECK(p.a.stats().orphans == 2);
}

TEST_CASE("limit max_time_wait = 0 (RFC 9293 §3.4.2): no TIME-WAIT is kept at all") {
    StackConfig acfg = pair_config(kPairAddrA);
    acfg.max_time_wait = 0;
    StackPair p(acfg, pair_config(kPairAddrB));
    const auto l = p.b.listen(80, 0).value;
    auto [as, bs] = open_pairs(p, l, 1);
    REQUIRE(p.a.release(as[0]) == Errc::ok);
    p.pump();
    p.b.connection(bs[0])->close();
    p.pump();
    CHECK(p.a.stats().time_wait == 0);
    CHECK(p.a.stats().time_wait_recycled == 1);
    CHECK(p.a.stats().connections_current == 0);
    CHECK(p.b.find(bs[0])->close_reason() == CloseReason::graceful);
}

TEST_CASE("limit TIME-WAIT table under churn: 200 closes with max_time_wait 16 keep the table "
          "and its bookkeeping bounded") {
    StackConfig acfg = pair_config(kPairAddrA);
    acfg.max_time_wait = 16;
    StackPair p(acfg, pair_config(kPairAddrB));
    const auto l = p.b.listen(80, 0).value;
    for (int i = 0; i < 200; ++i) {
        auto [as, bs] = open_pairs(p, l, 1);
        REQUIRE(p.a.release(as[0]) == Errc::ok);
        p.pump();
        REQUIRE(p.b.release(bs[0]) == Errc::ok);
        p.pump();
        CHECK(p.a.stats().time_wait <= 16);
    }
    CHECK(p.a.stats().time_wait == 16);
    CHECK(p.a.stats().time_wait_recycled == 200 - 16);
    CHECK(p.a.stats().connections_current == 16);
}

TEST_CASE("limit receive buffer (RFC 9293 §3.8.6.2 and §3.10.7.4): data beyond the advertised "
          "window is trimmed and never buffered and counted") {
    StackConfig cfg = host_config();
    cfg.tcp.recv_buffer = 4096;
    cfg.tcp.window_scaling = false;
    Host h(cfg);
    const auto l = h.stack.listen(kPort, 4);
    REQUIRE(l.ok());
    const SeqNum iss = establish(h, 4000);
    const auto id = h.stack.accept(l.value).value;
    // 10000 bytes at once into a 4096-byte window: 4096 kept, the rest trimmed.
    const auto big = bytes(10000);
    Segment s = from_peer(4000, tcp_flag::ack, 1001, iss.raw() + 1);
    s.payload = big;
    h.in(s);
    CHECK(h.stack.find(id)->recv_available() == 4096);
    auto out = h.out();
    REQUIRE(!out.empty());
    CHECK(out.back()->ack == SeqNum(1001 + 4096));
    CHECK(out.back()->window == 0);
    // More while the window is zero: unacceptable, dropped and counted.
    Segment more = from_peer(4000, tcp_flag::ack, 1001 + 4096 + 100, iss.raw() + 1);
    more.payload = std::span<const std::byte>(big).first(100);
    h.in(more);
    CHECK(h.stack.find(id)->recv_available() == 4096);
    CHECK(h.stack.connection_totals().dropped_unacceptable >= 1);
}

TEST_CASE("limit send buffer: send() takes at most send_buffer bytes and then would_block") {
    StackConfig cfg = host_config();
    cfg.tcp.send_buffer = 8192;
    Host h(cfg);
    const auto l = h.stack.listen(kPort, 4);
    REQUIRE(l.ok());
    establish(h, 4000);
    const auto id = h.stack.accept(l.value).value;
    Connection* c = h.stack.connection(id);
    const auto data = bytes(20000);
    const auto r = c->send(data);
    REQUIRE(r.ok());
    CHECK(r.value == 8192);
    CHECK(c->send(data).error == Errc::would_block);
    CHECK(c->send_queued() == 8192);
}

TEST_CASE("limit reassembly (RFC 9293 §3.10.7.4 and RFC 5681 §4.2): out-of-order ranges stop at "
          "max_ooo_ranges and the bytes held never exceed the window") {
    StackConfig cfg = host_config();
    cfg.tcp.max_ooo_ranges = 8;
    cfg.tcp.recv_buffer = 16384;
    cfg.tcp.window_scaling = false;
    Host h(cfg);
    const auto l = h.stack.listen(kPort, 4);
    REQUIRE(l.ok());
    const SeqNum iss = establish(h, 4000);
    const auto id = h.stack.accept(l.value).value;
    // Reference stream: byte i is 'a' + i % 26.
    std::vector<std::byte> stream(16384);
    for (std::size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<std::byte>('a' + i % 26);
    // 100 one-byte segments with gaps: only 8 ranges are held.
    for (std::uint32_t k = 1; k <= 100; ++k) {
        const std::uint32_t off = k * 100;
        Segment s = from_peer(4000, tcp_flag::ack, 1001 + off, iss.raw() + 1);
        s.payload = std::span<const std::byte>(stream).subspan(off, 1);
        h.in(s);
    }
    // Far beyond the window: not held at all.
    Segment far = from_peer(4000, tcp_flag::ack, 1001 + 1'000'000, iss.raw() + 1);
    far.payload = std::span<const std::byte>(stream).first(1000);
    h.in(far);
    (void)h.out();
    const ConnStats st = h.stack.connection_totals();
    CHECK(st.ooo_segments == 8);
    CHECK(st.dropped_ooo_limit == 92);
    CHECK(st.dropped_unacceptable >= 1);
    CHECK(h.stack.find(id)->recv_available() == 0);
    // The real stream in order fills every gap: the bytes come out intact.
    std::vector<std::byte> got;
    std::vector<std::byte> buf(20000);
    for (std::uint32_t off = 0; off < stream.size(); off += 1000) {
        Segment s = from_peer(4000, tcp_flag::ack, 1001 + off, iss.raw() + 1);
        s.payload = std::span<const std::byte>(stream).subspan(
            off, std::min<std::size_t>(1000, stream.size() - off));
        h.in(s);
        (void)h.out();
        Connection* c = h.stack.connection(id);
        while (c->recv_available() > 0) {
            const auto r = c->recv(buf);
            REQUIRE(r.ok());
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.value));
        }
    }
    CHECK(got == stream);
}

}  // TEST_SUITE
