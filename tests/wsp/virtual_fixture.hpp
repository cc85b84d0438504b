// Fixture for the WSP semantics tests on virtual time: two hosts (HostCore + the WSP layer, as
// WSPStartup builds them) on ustack::test::VirtualHosts -- one virtual clock, a deterministic
// link with optional seeded loss, no engine threads. Tests use non-blocking sockets only and
// move the link themselves:
//
//   Net net;                                   // a = 10.0.0.1, b = 10.0.0.2
//   Pair p = connect_pair(net);                // non-blocking connect, run, accept
//   REQUIRE(send_str(p.client, "x") == 0);
//   net.run();                                 // until nothing moves
//   REQUIRE(net.until_event(sev, FD_CLOSE));   // advance deadline by deadline until reported
//   net.advance(kPastEveryDeadline);           // before a negative check ("no FD_CLOSE")
//
// A failed bound fails the test; a watchdog ends the process if a call blocks by mistake
// (nothing runs the engine while this thread waits).
//
// This header includes ustack/wsp.h, so no socket header may be included next to it.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "support/virtual_hosts.hpp"
#include "support/watchdog.hpp"
#include "wsp_calls.hpp"

namespace wsptest {

using namespace std::chrono_literals;
using ustack::Duration;
using ustack::Instant;
using ustack::test::Watchdog;

// Upper bound of virtual time for one awaited condition (a bound, not a timing assertion).
constexpr Duration kBound = 120s;
// Long enough for every deadline a test here starts to pass: TIME-WAIT (2 x 30 s), linger
// (<= 5 s here), the orphan FIN-WAIT-2 timeout (60 s), the retransmission backoff to the give-up
// (12 tries, RTO capped at 60 s: under 9 min) and the cleanup bound (10 s). Advancing an idle
// link costs nothing, so negative checks advance this far before they look.
constexpr Duration kPastEveryDeadline = 15min;

struct NetParams {
    double loss = 0.0;
    double duplicate = 0.0;
    std::uint64_t seed = 7;
    HostParams a;
    HostParams b;
    Duration msl = 30s;              // TIME-WAIT 60 s (the library's default)
    Duration cleanup_timeout = 10s;  // WSPCleanup's bound (the library's default)
};

namespace detail {
struct NetGuard {
    ustack::test::Watchdog watchdog{std::chrono::seconds(120), "virtual-time test"};
};
}  // namespace detail

// Two hosts on a virtual link: a = 10.0.0.1 (usually the client), b = 10.0.0.2 (the server).
// The destructor stops both with ustack::destroy_host (no waiting); cleanup() runs WSPCleanup.
class Net : private detail::NetGuard, public ustack::test::VirtualHosts {
public:
    explicit Net(const NetParams& p = {})
        : VirtualHosts({.loss = p.loss, .duplicate = p.duplicate, .seed = p.seed},
                       [](const std::string& m) { FAIL(m); }) {
        a = add_host(options(ustack::ipv4(10, 0, 0, 1), p, p.a));
        b = add_host(options(ustack::ipv4(10, 0, 0, 2), p, p.b));
        REQUIRE(a != nullptr);
        REQUIRE(b != nullptr);
    }

    // Advance until one of `bits` has been reported on `ev` since its last take().
    bool until_event(Events& ev, long bits, Duration bound = kBound) {
        return run_until(
            [&] { return ev.has(bits); }, bound,
            "network event 0x" + hex(bits) + " on socket " + std::to_string(ev.socket()));
    }
    // Advance until WSPSelect (zero timeout) reports `s` readable / writable.
    bool until_readable(SOCKET s, Duration bound = kBound) {
        return run_until([&] { return readable(s); }, bound, "readable socket");
    }
    bool until_writable(SOCKET s, Duration bound = kBound) {
        return run_until([&] { return writable(s); }, bound, "writable socket");
    }
    // Advance until host h has no connection left in any state (host stats).
    bool until_no_connections(WSPHOST h, Duration bound = kBound) {
        return run_until([&] { return host_stat(h, "connections_current") == 0; }, bound,
                         "no connections left");
    }

    WSPHOST a = nullptr;
    WSPHOST b = nullptr;

private:
    static ustack::HostOptions options(ustack::Ipv4Addr addr, const NetParams& p,
                                       const HostParams& hp) {
        ustack::HostOptions o = wsp_options(addr, hp.disconnect_data != 0);
        if (hp.recv_buffer != 0)
            o.stack.tcp.recv_buffer = hp.recv_buffer;
        if (hp.send_buffer != 0)
            o.stack.tcp.send_buffer = hp.send_buffer;
        o.stack.tcp.msl = p.msl;
        o.cleanup_timeout = p.cleanup_timeout;
        o.device_may_return = hp.device_may_return;
        return o;
    }
    static std::string hex(long v) {
        char buf[24];
        std::snprintf(buf, sizeof buf, "%lx", v);
        return buf;
    }
};

// A non-blocking socket.
inline SOCKET nb_socket(WSPHOST h) {
    const SOCKET s = new_socket(h);
    REQUIRE(set_nonblocking(s, true) == 0);
    return s;
}

// Non-blocking accept of a connection that must be queued already.
inline SOCKET accept_now(SOCKET listener) {
    int err = 0;
    const SOCKET s = WSPAccept(listener, nullptr, nullptr, nullptr, 0, &err);
    REQUIRE_MESSAGE(s != INVALID_SOCKET, WSPErrorName(err));
    REQUIRE(set_nonblocking(s, true) == 0);
    return s;
}

// Connect a non-blocking client on a to b:port (WSAEWOULDBLOCK) and advance until it is
// connected (writable).
inline SOCKET connect_client(Net& net, std::uint16_t port) {
    const SOCKET c = nb_socket(net.a);
    REQUIRE(connect_to(c, kAddrB, port) == WSAEWOULDBLOCK);
    REQUIRE(net.until_writable(c));
    return c;
}

// A new client connected to `listener` (at b:port), and the server socket accepted from it;
// both non-blocking.
inline Pair accept_pair(Net& net, SOCKET listener, std::uint16_t port) {
    Pair p;
    p.listener = listener;
    p.client = connect_client(net, port);
    REQUIRE(net.until_readable(listener));
    p.server = accept_now(listener);
    return p;
}

// A connected pair of non-blocking sockets: a (non-blocking) listener on b:port, the client on
// a, the accepted server on b.
inline Pair connect_pair(Net& net, std::uint16_t port = 5000) {
    const SOCKET listener = listen_on(net.b, kAddrB, port);
    REQUIRE(set_nonblocking(listener, true) == 0);
    return accept_pair(net, listener, port);
}

// Read a non-blocking socket until end of stream (or an error, returned in *err), running the
// link whenever it would block.
inline std::string read_to_eof(Net& net, SOCKET s, int* err, Duration bound = kBound) {
    std::string out;
    char buf[4096];
    for (;;) {
        DWORD got = 0;
        *err = recv_bytes(s, buf, sizeof buf, &got);
        if (*err == WSAEWOULDBLOCK) {
            if (!net.until_readable(s, bound))
                return out;
            continue;
        }
        if (*err != 0 || got == 0)
            return out;
        out.append(buf, got);
    }
}

// Send all of `data` on a non-blocking socket, running the link whenever it would block.
inline int send_all(Net& net, SOCKET s, const std::string& data, Duration bound = kBound) {
    std::size_t off = 0;
    while (off < data.size()) {
        DWORD sent = 0;
        const int e = send_bytes(s, data.data() + off, data.size() - off, &sent);
        if (e == WSAEWOULDBLOCK) {
            if (!net.until_writable(s, bound))
                return e;
            continue;
        }
        if (e != 0)
            return e;
        off += sent;
    }
    return 0;
}

}  // namespace wsptest
