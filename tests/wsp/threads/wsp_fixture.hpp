// Fixture for the WSP tests that exercise blocking itself (blocking calls, close cancelling
// them, event and select waits, many application threads): two real hosts (HostCore + AsioHost
// engine threads) joined by tun/'s in-memory link with optional seeded loss -- no TUN, no root.
// Nothing here sleeps: every wait is an event wait with an upper bound (a hang guard, never a
// timing assertion), and a watchdog ends the process if a blocking call hangs. Everything else
// runs on virtual time (../virtual_fixture.hpp).
//
// This header includes ustack/wsp.h, so no socket header may be included next to it.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "support/watchdog.hpp"
#include "ustack/memory_link.hpp"
#include "wsp_calls.hpp"

namespace wsptest {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;
using ustack::test::Watchdog;

// Upper bound of any single wait -- a hang guard, never a timing assertion.
constexpr Ms kWait{30'000};

struct PairParams {
    double loss = 0.0;
    std::uint64_t seed = 7;
    HostParams a;
    HostParams b;
    std::uint32_t msl_ms = 200;  // TIME-WAIT 400 ms
    std::uint32_t cleanup_timeout_ms = 1000;
};

// Two hosts: a = 10.0.0.1 (usually the client), b = 10.0.0.2 (usually the server). The
// destructor runs WSPCleanup on both, also when a REQUIRE failed.
class Hosts {
public:
    explicit Hosts(const PairParams& p = {}) : watchdog_(std::chrono::seconds(240), "Hosts") {
        auto ends = ustack::MemoryLink::make_pair({.loss = p.loss, .seed = p.seed});
        link_.emplace(ends.link);
        a = start(ends.a.release(), kAddrA, p, p.a);
        b = start(ends.b.release(), kAddrB, p, p.b);
        REQUIRE(a != nullptr);
        REQUIRE(b != nullptr);
    }
    // Both hosts are cleaned up at once, so each one's orphaned closes can still be answered by
    // the other while it waits (a host cleaned up alone waits cleanup_timeout_ms for FINs its
    // stopped peer will never acknowledge).
    ~Hosts() {
        int ea = 0;
        int eb = 0;
        int ra = 0;
        std::thread ta([&] {
            if (a != nullptr)
                ra = WSPCleanup(a, &ea);
        });
        const int rb = b != nullptr ? WSPCleanup(b, &eb) : 0;
        ta.join();
        CHECK(ra == 0);
        CHECK(rb == 0);
    }
    Hosts(const Hosts&) = delete;
    Hosts& operator=(const Hosts&) = delete;

    void set_loss(double loss) { link_->set_loss(loss); }
    // Fail host a's (side 0) or host b's (side 1) device for good (MemoryLink::fail).
    void fail_device(int side) { link_->fail(side); }

    WSPHOST a = nullptr;
    WSPHOST b = nullptr;

private:
    static WSPHOST start(ustack::Device* dev, IN_ADDR addr, const PairParams& p,
                         const HostParams& hp) {
        WSPHOSTCONFIG c{};
        c.device = dev;
        c.addr = addr;
        c.prefix_len = 24;
        c.disconnect_data = hp.disconnect_data;
        c.msl_ms = p.msl_ms;
        c.cleanup_timeout_ms = p.cleanup_timeout_ms;
        c.recv_buffer = hp.recv_buffer;
        c.send_buffer = hp.send_buffer;
        c.isn_seed = addr.s_addr ^ 0x5eed;
        WSPHOST h = nullptr;
        int err = 0;
        if (WSPStartup(&c, &h, &err) != 0) {
            FAIL_CHECK("WSPStartup failed: " << WSPErrorName(err));
            return nullptr;
        }
        return h;
    }

    Watchdog watchdog_;
    std::optional<ustack::MemoryLink> link_;
};

// Blocking connect and accept.
inline Pair connect_pair(Hosts& h, std::uint16_t port = 5000) {
    Pair p;
    p.listener = listen_on(h.b, kAddrB, port);
    p.client = new_socket(h.a);
    const int e = connect_to(p.client, kAddrB, port);
    REQUIRE_MESSAGE(e == 0, WSPErrorName(e));
    int err = 0;
    p.server = WSPAccept(p.listener, nullptr, nullptr, nullptr, 0, &err);
    REQUIRE_MESSAGE(p.server != INVALID_SOCKET, WSPErrorName(err));
    return p;
}

// Blocking socket: read until end of stream (or an error, returned in *err).
inline std::string read_to_eof(SOCKET s, int* err) {
    std::string out;
    char buf[4096];
    for (;;) {
        DWORD got = 0;
        *err = recv_bytes(s, buf, sizeof buf, &got);
        if (*err != 0 || got == 0)
            return out;
        out.append(buf, got);
    }
}

// Wait (WSAWaitForMultipleEvents on the event object) until one of `bits` has been reported
// since the last take(), at most `timeout`.
inline bool wait_event(Events& ev, long bits, Ms timeout = kWait) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (ev.has(bits))
            return true;
        const auto left = std::chrono::duration_cast<Ms>(end - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return false;
        WSAEVENT e = ev.event();
        const DWORD r = WSAWaitForMultipleEvents(1, &e, 0, static_cast<DWORD>(left.count()), 0);
        if (r == WSA_WAIT_FAILED)
            return false;
    }
}

}  // namespace wsptest
