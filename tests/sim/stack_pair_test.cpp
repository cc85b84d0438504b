// Two Stacks over the simulated link: several concurrent connections move MiBs each way under
// seeded loss, reordering and duplication, close gracefully, and every byte is checked.
#include <doctest/doctest.h>

#include <array>
#include <map>

#include "support/sim_link.hpp"
#include "ustack/stack.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr Ipv4Addr kAddrA = ipv4(10, 0, 1, 2);
constexpr Ipv4Addr kAddrB = ipv4(10, 0, 2, 2);
constexpr std::uint16_t kPort = 7000;

std::byte pattern(std::uint64_t stream, std::uint64_t i) {
    const std::uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ (stream * 0xC2B2AE3D27D4EB4FULL);
    return static_cast<std::byte>((x >> 31) ^ (x >> 11));
}

SipKey key(std::uint8_t b) {
    SipKey k{};
    k.fill(b);
    return k;
}

// One end of one connection: sends `total` bytes of its stream, shuts down, reads the peer's
// stream to EOF checking each byte, then releases the handle (the close finishes as an orphan).
struct Endpoint_ {
    ConnId id;
    std::uint64_t tx_stream, rx_stream;
    std::uint64_t total;
    std::uint64_t sent = 0, received = 0;
    bool eof = false, released = false, corrupt = false;
    CloseReason reason = CloseReason::none;

    void step(Stack& st) {
        if (released) return;
        Connection* c = st.connection(id);
        if (c == nullptr) return;
        if (c->state() == TcpState::syn_sent || c->state() == TcpState::syn_received) return;
        std::array<std::byte, 8192> buf{};
        while (sent < total && !c->is_closed()) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>({buf.size(), total - sent, c->send_space()}));
            if (n == 0) break;
            for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(tx_stream, sent + i);
            auto r = c->send(std::span(buf).first(n));
            if (!r.ok() || r.value == 0) break;
            sent += r.value;
        }
        if (sent == total && !c->send_shut() && !c->is_closed()) (void)c->shutdown_send();
        while (!eof && !c->is_closed()) {
            auto r = c->recv(buf);
            if (!r.ok()) break;
            if (r.value == 0) {
                eof = true;
                break;
            }
            for (std::size_t i = 0; i < r.value; ++i)
                if (buf[i] != pattern(rx_stream, received + i)) corrupt = true;
            received += r.value;
        }
        if (c->is_closed()) {
            reason = c->close_reason();
            // A graceful end still owes us nothing; release either way.
        }
        if ((eof && sent == total && c->all_acked()) || c->is_closed()) {
            if (reason == CloseReason::none && c->is_closed()) reason = c->close_reason();
            (void)st.release(id);
            released = true;
        }
    }
};

struct Result_ {
    bool finished = false;
    bool corrupt = false;
    std::uint64_t bytes_ok = 0;
    std::uint64_t retransmits_hint = 0;
    std::size_t conns_left_a = 0, conns_left_b = 0;
    bool all_graceful = true;
};

Result_ run(LinkParams lp, std::uint64_t seed, int nconns, std::uint64_t bytes) {
    StackConfig ca;
    ca.addr = kAddrA;
    StackConfig cb;
    cb.addr = kAddrB;
    Stack a(ca, key(static_cast<std::uint8_t>(seed)));
    Stack b(cb, key(static_cast<std::uint8_t>(seed + 100)));
    SimLink<Stack, Stack> sim(a, b, lp, seed);
    auto l = b.listen(kPort, 64);
    REQUIRE(l.ok());

    std::vector<Endpoint_> clients, servers;
    for (int i = 0; i < nconns; ++i) {
        auto id = a.connect({kAddrB, kPort}, sim.now());
        REQUIRE(id.ok());
        clients.push_back({id.value, static_cast<std::uint64_t>(2 * i), static_cast<std::uint64_t>(2 * i + 1), bytes});
    }
    std::map<std::uint16_t, int> port_to_index;  // client local port -> index
    for (int i = 0; i < nconns; ++i) port_to_index[a.find(clients[static_cast<std::size_t>(i)].id)->local().port] = i;

    Result_ out;
    const bool ok = sim.run_until(
        [&] {
            for (auto& e : clients)
                if (!e.released) return false;
            if (static_cast<int>(servers.size()) < nconns) return false;
            for (auto& e : servers)
                if (!e.released) return false;
            // Orphans finish their closes (TIME-WAIT included) before we call it done.
            return a.stats().connections_current == 0 && b.stats().connections_current == 0;
        },
        Duration(std::int64_t{7200} * 1'000'000),
        [&](Instant) {
            while (true) {
                auto r = b.accept(l.value);
                if (!r.ok()) break;
                const Connection* c = b.find(r.value);
                const int i = port_to_index.at(c->remote().port);
                servers.push_back({r.value, static_cast<std::uint64_t>(2 * i + 1), static_cast<std::uint64_t>(2 * i), bytes});
            }
            for (auto& e : clients) e.step(a);
            for (auto& e : servers) e.step(b);
            while (a.poll_event()) {
            }
            while (b.poll_event()) {
            }
        });
    out.finished = ok;
    for (auto* v : {&clients, &servers})
        for (auto& e : *v) {
            out.corrupt |= e.corrupt;
            if (e.received == bytes && e.eof) out.bytes_ok += e.received;
            if (e.reason != CloseReason::none && e.reason != CloseReason::graceful) out.all_graceful = false;
        }
    out.conns_left_a = a.stats().connections_current;
    out.conns_left_b = b.stats().connections_current;
    return out;
}

}  // namespace

TEST_SUITE("sim") {

TEST_CASE("RFC 9293 §3.6 / §3.8: four connections - 2 MiB each way each - clean link") {
    const auto r = run(LinkParams{.delay = Duration(10'000)}, 7, 4, 2u << 20);
    CHECK(r.finished);
    CHECK_FALSE(r.corrupt);
    CHECK(r.bytes_ok == 8u * (2u << 20));
    CHECK(r.all_graceful);
}

TEST_CASE("RFC 9293 §3.8 / RFC 5681: three connections with loss - reordering and duplication - 16 seeds") {
    for (std::uint64_t seed = 1; seed <= 16; ++seed) {
        CAPTURE(seed);
        LinkParams lp;
        lp.delay = Duration(1'000 + static_cast<std::int64_t>(seed % 4) * 6'000);
        lp.loss = 0.01 + 0.02 * static_cast<double>(seed % 3);
        lp.reorder = 0.05;
        lp.duplicate = 0.03;
        lp.bandwidth_bps = 50e6;
        const auto r = run(lp, seed, 3, 1u << 20);
        CHECK(r.finished);
        CHECK_FALSE(r.corrupt);
        CHECK(r.bytes_ok == 6u * (1u << 20));
        CHECK(r.all_graceful);
        CHECK(r.conns_left_a == 0);
        CHECK(r.conns_left_b == 0);
    }
}

}  // TEST_SUITE
