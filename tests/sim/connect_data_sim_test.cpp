// Connect data and conditional accept between two Stacks over the simulated link (DESIGN.md
// §3c), under 10 % loss each way so SYNs, SYN-ACKs, ACKs and RSTs get lost and retransmitted:
// 1,000 clients each put 16 bytes of caller data on their SYN; a conditional listener's
// application accepts nine in ten with 16 bytes of callee data and rejects the rest. Every
// accepted client's caller data reaches exactly one server connection and its callee data
// exactly one client, byte for byte; every rejected client ends refused with no callee data.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <vector>

#include "support/pair.hpp"
#include "support/sim_link.hpp"
#include "ustack/stack.hpp"

using namespace ustack;
using namespace ustack::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t kPort = 7000;
constexpr int kClients = 1000;
constexpr std::size_t kDataLen = 16;  // the limit with every SYN option on

bool rejected(int id) {
    return id % 10 == 9;
}

// 16 recognisable bytes for client `id`: a tag ('C' caller, 'S' callee), the id in 4 digits,
// then a pattern that depends on both.
std::array<std::byte, kDataLen> data_for(int id, char tag) {
    std::array<std::byte, kDataLen> d{};
    std::array<char, 16> head{};  // room for any int: -Wformat-truncation
    (void)std::snprintf(head.data(), head.size(), "%c%04d", tag, id);
    for (std::size_t i = 0; i < 5; ++i) d[i] = static_cast<std::byte>(head[i]);
    for (std::size_t i = 5; i < kDataLen; ++i) {
        d[i] = static_cast<std::byte>((static_cast<std::size_t>(id) * 7 + i * 13 + tag) & 0xff);
    }
    return d;
}

// The client id a caller/callee datum names, or -1 if it is not exactly data_for(id, tag).
int id_of(std::span<const std::byte> d, char tag) {
    if (d.size() != kDataLen || static_cast<char>(d[0]) != tag)
        return -1;
    int id = 0;
    for (std::size_t i = 1; i < 5; ++i) {
        const char c = static_cast<char>(d[i]);
        if (c < '0' || c > '9')
            return -1;
        id = id * 10 + (c - '0');
    }
    if (id >= kClients)
        return -1;
    const auto want = data_for(id, tag);
    return std::equal(want.begin(), want.end(), d.begin()) ? id : -1;
}

StackConfig disc_stack(Ipv4Addr addr) {
    StackConfig c = pair_config(addr);
    c.tcp.disconnect_data = true;
    return c;
}

}  // namespace

TEST_SUITE("sim") {
    TEST_CASE(
        "DESIGN.md §3c: 1000 conditional connects under 10 % loss deliver every caller and "
        "callee byte exactly once") {
        Stack a(disc_stack(kPairAddrA), pair_key(21));
        Stack b(disc_stack(kPairAddrB), pair_key(22));
        LinkParams lp;
        lp.delay = 2ms;
        lp.loss = 0.10;
        SimLink<Stack, Stack> sim(a, b, lp, 19);
        const auto l = b.listen(kPort, 2048, {}, false, true);
        REQUIRE(l.ok());
        REQUIRE(a.connect_data_limit(false) == kDataLen);

        struct Client {
            ConnId id;
            bool done = false;
            bool established = false;
            CloseReason reason = CloseReason::none;
            int callee_seen = 0;  // SYN-ACK echoes carrying this client's callee data
        };
        std::vector<Client> clients(kClients);
        for (int i = 0; i < kClients; ++i) {
            const auto caller = data_for(i, 'C');
            const auto r = a.connect({kPairAddrB, kPort}, sim.now(), 0, {}, false, caller);
            REQUIRE(r.ok());
            clients[static_cast<std::size_t>(i)].id = r.value;
        }
        std::vector<int> requests(kClients, 0);  // verdicts asked per client (rejects repeat)
        std::vector<int> accepted(kClients, 0);  // server connections carrying its caller data
        int bad_caller = 0;
        int bad_callee = 0;
        int unresolved = kClients;

        auto apps = [&](Instant now) {
            // The server's condition function: every held request, oldest first.
            while (const auto r = b.front_request(l.value)) {
                const int id = id_of(r->caller_data, 'C');
                if (id < 0) {
                    ++bad_caller;
                    REQUIRE(b.decide_front(l.value, Verdict::reject, {}, now) == Errc::ok);
                    continue;
                }
                ++requests[static_cast<std::size_t>(id)];
                if (rejected(id)) {
                    REQUIRE(b.decide_front(l.value, Verdict::reject, {}, now) == Errc::ok);
                } else {
                    const auto callee = data_for(id, 'S');
                    REQUIRE(b.decide_front(l.value, Verdict::accept, callee, now) == Errc::ok);
                }
            }
            while (const auto s = b.accept(l.value)) {
                const Connection* c = b.find(s.value);
                REQUIRE(c != nullptr);
                const int id = id_of(c->peer_connect_data(), 'C');
                if (id < 0) {
                    ++bad_caller;
                } else {
                    ++accepted[static_cast<std::size_t>(id)];
                }
                REQUIRE(b.release(s.value) == Errc::ok);
            }
            // The clients: the outcome of each connect, then let go.
            for (std::size_t i = 0; i < clients.size(); ++i) {
                Client& cl = clients[i];
                if (cl.done)
                    continue;
                const Connection* c = a.find(cl.id);
                REQUIRE(c != nullptr);
                if (c->is_synchronized()) {
                    cl.established = true;
                    if (id_of(c->peer_connect_data(), 'S') == static_cast<int>(i)) {
                        ++cl.callee_seen;
                    } else {
                        ++bad_callee;
                    }
                } else if (c->is_closed()) {
                    cl.reason = c->close_reason();
                    if (!c->peer_connect_data().empty())
                        ++bad_callee;
                } else {
                    continue;
                }
                cl.done = true;
                --unresolved;
                REQUIRE(a.release(cl.id) == Errc::ok);
            }
        };
        const bool finished = sim.run_until(
            [&] {
                return unresolved == 0 && a.stats().connections_current == 0 &&
                       b.stats().connections_current == 0;
            },
            900s, apps);
        CHECK(finished);
        CHECK(unresolved == 0);
        CHECK(bad_caller == 0);
        CHECK(bad_callee == 0);
        int n_accepted = 0;
        int n_rejected = 0;
        for (int i = 0; i < kClients; ++i) {
            CAPTURE(i);
            const Client& cl = clients[static_cast<std::size_t>(i)];
            const auto idx = static_cast<std::size_t>(i);
            if (rejected(i)) {
                ++n_rejected;
                CHECK_FALSE(cl.established);
                CHECK(cl.reason == CloseReason::refused);
                CHECK(cl.callee_seen == 0);
                CHECK(accepted[idx] == 0);
                CHECK(requests[idx] >= 1);  // a lost RST: the next SYN asks again
            } else {
                ++n_accepted;
                CHECK(cl.established);
                CHECK(cl.callee_seen == 1);
                CHECK(accepted[idx] == 1);
                CHECK(requests[idx] == 1);  // decided once: retransmissions meet the connection
            }
        }
        CHECK(n_accepted == 900);
        CHECK(n_rejected == 100);
        // The loss really bit, and the counters agree with what the applications saw.
        CHECK(sim.a_to_b().stats().lost > 0);
        CHECK(sim.b_to_a().stats().lost > 0);
        const StackStats& sb = b.stats();
        CHECK(sb.held_requests_accepted == 900U);
        CHECK(sb.held_requests_rejected >= 100U);
        CHECK(sb.held_requests_expired == 0U);
        CHECK(sb.held_backlog_drops == 0U);
        CHECK(sb.requests_held == sb.held_requests_accepted + sb.held_requests_rejected);
        CHECK(a.connection_totals().connect_data_sent == 1000U);
        CHECK(a.connection_totals().connect_data_received == 900U);
        CHECK(a.connection_totals().connect_data_refused == 0U);
        CHECK(b.connection_totals().connect_data_sent == 900U);
        CHECK(b.connection_totals().connect_data_received == 900U);
        CHECK(a.connection_totals().syn_retransmits > 0);
    }
}
