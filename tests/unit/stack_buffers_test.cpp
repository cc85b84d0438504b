// Stack: a socket's buffer sizes (BufferSizes, SO_SNDBUF / SO_RCVBUF) given to connect() and
// listen() apply from the SYN on -- to the active connection, to every connection a listener
// opens, and to its SYN-cookie connections, whose cookie SYN-ACK carries the window and shift of
// the listener's receive buffer (RFC 7323 §2.2, RFC 4987 §3.6).
#include <doctest/doctest.h>

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
    Host() : StackHost(host_config(), pair_key(11), Instant{1'000'000us}) {}
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

// A SYN offering MSS 1460, window scale 2 and timestamps.
Segment syn_from(std::uint16_t port, std::uint32_t seq) {
    Segment s = from_peer(port, tcp_flag::syn, seq);
    s.options.mss = 1460;
    s.options.window_scale = 2;
    s.options.timestamps = Timestamps{77, 0};
    return s;
}

OwnedSegment only(std::vector<OwnedSegment> v) {
    REQUIRE(v.size() == 1);
    return v.front();
}

}  // namespace

TEST_SUITE("stack") {

TEST_CASE("BufferSizes: connect gives the connection its buffer sizes from the SYN on") {
    Host h;
    const auto id = h.stack.connect({kThem, 80}, h.now, 0, BufferSizes{.send = 10000, .recv = 1 << 20});
    REQUIRE(id.ok());
    const OwnedSegment syn = only(h.out());
    CHECK(syn->options.window_scale == std::optional<std::uint8_t>(5));  // RFC 7323 §2.2
    CHECK(syn->window == 65535);
    const Connection* c = h.stack.find(id.value);
    REQUIRE(c != nullptr);
    CHECK(c->send_buffer() == 10000);
    CHECK(c->recv_buffer() == 1 << 20);

    // 0 takes TcpConfig's sizes.
    const auto d = h.stack.connect({kThem, 81}, h.now, 0, BufferSizes{.send = 0, .recv = 3000});
    REQUIRE(d.ok());
    const OwnedSegment syn2 = only(h.out());
    CHECK(syn2->options.window_scale == std::optional<std::uint8_t>(0));
    CHECK(syn2->window == 3000);
    CHECK(h.stack.find(d.value)->send_buffer() == h.stack.config().tcp.send_buffer);
    CHECK(h.stack.find(d.value)->recv_buffer() == 3000);
}

TEST_CASE("BufferSizes: a listener's sizes reach the connections it accepts") {
    Host h;
    const auto l = h.stack.listen(kPort, 4, BufferSizes{.send = 5000, .recv = 1 << 21});
    REQUIRE(l.ok());
    CHECK(h.stack.listener_buffers(l.value) == BufferSizes{.send = 5000, .recv = 1 << 21});
    h.in(syn_from(4000, 100));
    const OwnedSegment sa = only(h.out());
    CHECK(sa->options.window_scale == std::optional<std::uint8_t>(6));
    CHECK(sa->window == 65535);
    Segment ack = from_peer(4000, tcp_flag::ack, 101, sa->seq.raw() + 1);
    ack.options.timestamps = Timestamps{78, sa->options.timestamps->tsval};
    h.in(ack);
    const auto id = h.stack.accept(l.value);
    REQUIRE(id.ok());
    const Connection* c = h.stack.find(id.value);
    CHECK(c->send_buffer() == 5000);
    CHECK(c->recv_buffer() == 1 << 21);
    CHECK(c->rcv_wscale() == 6);

    // set_listener_buffers: for the connections opened from then on.
    REQUIRE(h.stack.set_listener_buffers(l.value, BufferSizes{.send = 0, .recv = 2000}) ==
            Errc::ok);
    h.in(syn_from(4001, 900));
    const OwnedSegment sb = only(h.out());
    CHECK(sb->options.window_scale == std::optional<std::uint8_t>(0));
    CHECK(sb->window == 2000);
    CHECK(h.stack.find(id.value)->recv_buffer() == 1 << 21);  // the accepted one keeps its own
    CHECK(h.stack.set_listener_buffers(ListenerId{}, BufferSizes{}) == Errc::invalid_argument);
}

TEST_CASE("RFC 4987 §3.6 and RFC 7323 §2.2: a SYN-cookie SYN-ACK carries the window and shift of "
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
        h.in(syn_from(4000, 500));
        const OwnedSegment sa = only(h.out());
        REQUIRE(h.stack.stats().syn_cookies_sent == 1);
        CHECK(sa->options.window_scale == std::optional<std::uint8_t>(k.shift));
        CHECK(sa->window == k.window);
        Segment ack = from_peer(4000, tcp_flag::ack, 501, sa->seq.raw() + 1);
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

TEST_CASE("BufferSizes: two stacks exchange a transfer larger than a small receive buffer") {
    StackPair p;
    const auto l = p.b.listen(80, 0, BufferSizes{.send = 0, .recv = 2048}).value;
    const auto c = p.a.connect({kPairAddrB, 80}, p.now(), 0, BufferSizes{.send = 4096, .recv = 0})
                       .value;
    p.pump();
    const auto s = p.b.accept(l);
    REQUIRE(s.ok());
    std::string big(50'000, 'x');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    std::size_t sent = 0;
    std::string got;
    for (int round = 0; round < 10'000 && got.size() < big.size(); ++round) {
        if (sent < big.size()) sent += StackPair::write(p.a, c, std::string_view(big).substr(sent));
        CHECK(p.a.find(c)->send_queued() <= 4096);
        p.run_for(50ms);
        got += StackPair::read(p.b, s.value);
    }
    CHECK(got == big);
    CHECK(p.b.find(s.value)->info(p.now()).rcv_wnd <= 2048);
}

}  // TEST_SUITE
