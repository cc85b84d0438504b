// Message-mode negotiation between two Stacks over the simulated link (DESIGN.md §3b), under
// seeded loss, reordering and duplication so SYNs, SYN-ACKs and RSTs get lost and retransmitted:
// a message-mode connect to a message-mode listener is established in message mode at both
// ends and carries data; toward a stream listener it ends refused, and a stream connect toward a
// message-mode listener is refused by it -- with no connection left behind on either side.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "support/pair.hpp"
#include "support/sim_link.hpp"
#include "ustack/stack.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

constexpr std::uint16_t kPort = 7000;
constexpr int kConns = 4;
constexpr std::array<std::byte, 5> kHello{std::byte{'h'}, std::byte{'e'}, std::byte{'l'},
                                          std::byte{'l'}, std::byte{'o'}};

LinkParams lossy(std::uint64_t seed) {
    LinkParams lp;
    lp.delay = Duration(2'000 + static_cast<std::int64_t>(seed % 3) * 5'000);
    lp.loss = 0.2;
    lp.reorder = 0.1;
    lp.duplicate = 0.1;
    return lp;
}

struct Outcome {
    bool finished = false;
    int established = 0;   // client connections that reached ESTABLISHED
    int refused = 0;       // client connections that ended refused
    int message_both = 0;  // pairs with message_mode() on both ends
    int data_ok = 0;       // pairs whose 5 bytes arrived
    std::uint64_t left_a = 0;
    std::uint64_t left_b = 0;
    StackStats stats_b;
    ConnStats totals_a;
    std::uint64_t syn_retransmits = 0;  // SYNs and SYN-ACKs sent again, both sides
};

// kConns clients on `a` connect to the listener on `b`; each established pair exchanges one short
// message, then every handle is released and the run waits until both tables are empty.
Outcome run(std::uint64_t seed, bool client_message, bool listener_message) {
    Stack a(pair_config(kPairAddrA), pair_key(static_cast<std::uint8_t>(seed)));
    Stack b(pair_config(kPairAddrB), pair_key(static_cast<std::uint8_t>(seed + 50)));
    SimLink<Stack, Stack> sim(a, b, lossy(seed), seed);
    const auto l = b.listen(kPort, 16, {}, listener_message);
    REQUIRE(l.ok());

    std::vector<ConnId> clients;
    for (int i = 0; i < kConns; ++i) {
        const auto id = a.connect({kPairAddrB, kPort}, sim.now(), 0, {}, client_message);
        REQUIRE(id.ok());
        clients.push_back(id.value);
    }
    std::vector<ConnId> servers;
    std::array<bool, kConns> done{};
    std::array<bool, kConns> released{};
    std::vector<bool> server_released;
    Outcome out;

    const bool ok = sim.run_until(
        [&] {
            for (bool r : released)
                if (!r)
                    return false;
            for (bool r : server_released)
                if (!r)
                    return false;
            return a.stats().connections_current == 0 && b.stats().connections_current == 0;
        },
        Duration(std::int64_t{600} * 1'000'000),
        [&](Instant) {
            for (auto r = b.accept(l.value); r.ok(); r = b.accept(l.value)) {
                servers.push_back(r.value);
                server_released.push_back(false);
                Connection* s = b.connection(r.value);
                REQUIRE(s != nullptr);
                const auto sent = s->send(kHello);
                CHECK(sent.ok());
            }
            for (std::size_t i = 0; i < clients.size(); ++i) {
                if (released[i])
                    continue;
                Connection* c = a.connection(clients[i]);
                REQUIRE(c != nullptr);
                if (c->is_closed()) {
                    if (c->close_reason() == CloseReason::refused)
                        out.refused++;
                    (void)a.release(clients[i]);
                    released[i] = true;
                    continue;
                }
                if (!c->is_synchronized() || done[i])
                    continue;
                std::array<std::byte, 16> buf{};
                const auto n = c->recv(buf);
                if (!n.ok() || n.value == 0)
                    continue;
                CHECK(n.value == 5);
                done[i] = true;
                out.established++;
                out.data_ok++;
                // Find the server end of this connection and check both ends agree.
                for (const ConnId sid : servers) {
                    const Connection* s = b.find(sid);
                    if (s != nullptr && s->remote() == c->local()) {
                        if (c->message_mode() && s->message_mode())
                            out.message_both++;
                    }
                }
                (void)a.release(clients[i]);
                released[i] = true;
            }
            for (std::size_t i = 0; i < servers.size(); ++i) {
                if (server_released[i])
                    continue;
                const Connection* s = b.find(servers[i]);
                // Release once the client end has read (it releases at once) or the server end
                // has ended.
                if (s == nullptr || s->is_closed() || s->peer_fin_received()) {
                    (void)b.release(servers[i]);
                    server_released[i] = true;
                }
            }
            while (a.poll_event()) {
            }
            while (b.poll_event()) {
            }
        });
    out.finished = ok;
    out.left_a = a.stats().connections_current;
    out.left_b = b.stats().connections_current;
    out.stats_b = b.stats();
    out.totals_a = a.connection_totals();
    out.syn_retransmits = out.totals_a.syn_retransmits + b.connection_totals().syn_retransmits;
    return out;
}

}  // namespace

TEST_SUITE("sim") {
    TEST_CASE(
        "DESIGN.md §3b: message-mode connects to a message-mode listener are established in "
        "message mode at both ends under loss - 8 seeds") {
        std::uint64_t syn_retransmits = 0;
        for (std::uint64_t seed = 1; seed <= 8; ++seed) {
            CAPTURE(seed);
            const Outcome r = run(seed, true, true);
            CHECK(r.finished);
            CHECK(r.established == kConns);
            CHECK(r.message_both == kConns);
            CHECK(r.data_ok == kConns);
            CHECK(r.refused == 0);
            CHECK(r.stats_b.message_mode_refused == 0);
            CHECK(r.left_a == 0);
            CHECK(r.left_b == 0);
            syn_retransmits += r.syn_retransmits;
        }
        CHECK(syn_retransmits > 0);  // the loss reached the handshakes (every copy carried it)
    }

    TEST_CASE(
        "DESIGN.md §3b: message-mode connects to a stream listener end refused on the client with "
        "no connection left on the server under loss - 8 seeds") {
        for (std::uint64_t seed = 1; seed <= 8; ++seed) {
            CAPTURE(seed);
            const Outcome r = run(seed, true, false);
            CHECK(r.finished);
            CHECK(r.refused == kConns);
            CHECK(r.established == 0);
            CHECK(r.totals_a.message_mode_refused == kConns);
            CHECK(r.stats_b.connections_opened >= kConns);  // half-open, then reset
            CHECK(r.left_a == 0);
            CHECK(r.left_b == 0);
        }
    }

    TEST_CASE(
        "DESIGN.md §3b: stream connects to a message-mode listener are refused by it with no "
        "connection left on the server under loss - 8 seeds") {
        for (std::uint64_t seed = 1; seed <= 8; ++seed) {
            CAPTURE(seed);
            const Outcome r = run(seed, false, true);
            CHECK(r.finished);
            CHECK(r.refused == kConns);
            CHECK(r.established == 0);
            CHECK(r.stats_b.message_mode_refused >= kConns);  // each SYN copy that arrived
            CHECK(r.stats_b.connections_opened == 0);
            CHECK(r.left_a == 0);
            CHECK(r.left_b == 0);
        }
    }
}
