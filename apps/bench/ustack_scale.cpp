// ustack-scale: how many established connections two ustack hosts hold, and at what cost
// (issue 22 item 7). Two hosts in this process on an in-memory link (WSPCreateMemoryLink: no
// TUN, no privilege); B listens on enough ports for N connections (one client address and one
// server port give at most --per-port of A's ephemeral ports), A opens N connections in batches
// and B accepts every one. Then, with all N established and idle:
//
//   RESULT mode=scale connections=N ports=P setup_s=S rss_before_kib=R0 rss_after_kib=R1
//          bytes_per_connection=B bytes_per_endpoint=E idle_window_ms=W idle_cpu_ms=C
//          new_connection=ok cleanup_s=T
//
// bytes_per_connection is the growth of this process's resident size divided by N (both ends'
// state: the two Stacks' connections, the sockets, the buffers they have touched);
// bytes_per_endpoint half of it. idle_cpu_ms is the CPU time (user + system, both engine
// threads and this one) over an idle window of W ms: idle connections have no timer running, so
// it should be 0 but for the window's own wake-ups. new_connection says whether one more
// connection -- with a byte each way -- still works with N established.
//
// Exit status 0 when every connection was established and the new one worked, 1 otherwise
// (ERROR <what> on stderr), 2 on bad arguments ("ustack-scale: <reason>").
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "command_line.hpp"
#include "ustack/wsp.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Opts {
    std::uint64_t connections = 100000;
    std::uint64_t per_port = 16000;
    std::uint64_t batch = 512;
    std::uint64_t idle_ms = 2000;
    std::uint64_t timeout_ms = 600000;
};

const char* kHelp =
    "usage: ustack-scale [--connections N] [--per-port K] [--batch B] [--idle-ms W] "
    "[--timeout-ms T]\n"
    "  N established connections (default 100000; 1..1000000), K per server port (default\n"
    "  16000; 1..16384), connected B at a time (default 512; 1..4096), then W ms idle\n"
    "  (default 2000; 0..600000); the whole run bounded by T ms (default 600000;\n"
    "  1000..86400000).\n";

IN_ADDR addr(unsigned char a, unsigned char b, unsigned char c, unsigned char d) {
    IN_ADDR x{};
    auto* p = reinterpret_cast<unsigned char*>(&x.s_addr);
    p[0] = a;
    p[1] = b;
    p[2] = c;
    p[3] = d;
    return x;
}

SOCKADDR_IN sockaddr_of(IN_ADDR a, std::uint16_t port) {
    SOCKADDR_IN s{};
    s.sin_family = AF_INET;
    s.sin_addr = a;
    ustack::store_be16(reinterpret_cast<unsigned char*>(&s.sin_port), port);
    return s;
}

bool set_nonblocking(SOCKET s) {
    u_long on = 1;
    DWORD ret = 0;
    int err = 0;
    return WSPIoctl(s, FIONBIO, &on, sizeof on, nullptr, 0, &ret, &err) == 0;
}

double cpu_ms() {
    const bench::CpuSample c = bench::cpu_sample();
    return c.user_ms + c.sys_ms;
}

}  // namespace

int main(int argc, char** argv) {
    Opts o;
    apps::CommandLine cl(argc, argv);
    while (cl.next()) {
        if (cl.is("--help") || cl.is("-h")) {
            std::fputs(kHelp, stdout);
            return 0;
        }
        if (cl.is("--connections"))
            o.connections = cl.number(1, 1000000);
        else if (cl.is("--per-port"))
            o.per_port = cl.number(1, 16384);
        else if (cl.is("--batch"))
            o.batch = cl.number(1, 4096);
        else if (cl.is("--idle-ms"))
            o.idle_ms = cl.number(0, 600000);
        else if (cl.is("--timeout-ms"))
            o.timeout_ms = cl.number(1000, 86400000);
        else
            cl.unknown();
    }
    bench::start_watchdog(static_cast<unsigned>(o.timeout_ms), "ustack-scale");
    const std::uint64_t n = o.connections;
    const auto ports = static_cast<std::uint16_t>((n + o.per_port - 1) / o.per_port);
    const IN_ADDR a_addr = addr(10, 77, 0, 1);
    const IN_ADDR b_addr = addr(10, 77, 0, 2);
    const std::uint64_t rss0 = bench::rss_kib();

    void* da = nullptr;
    void* db = nullptr;
    int err = 0;
    if (WSPCreateMemoryLink(0.0, 1, 0, &da, &db, &err) != 0)
        return bench::fail(std::string("WSPCreateMemoryLink: ") + WSPErrorName(err));
    WSPHOSTCONFIG ca{};
    ca.device = da;
    ca.addr = a_addr;
    ca.prefix_len = 24;
    ca.max_connections = static_cast<std::uint32_t>(n + 1024);
    ca.cleanup_timeout_ms = 5000;
    WSPHOSTCONFIG cb = ca;
    cb.device = db;
    cb.addr = b_addr;
    WSPHOST ha = nullptr;
    WSPHOST hb = nullptr;
    if (WSPStartup(&ca, &ha, &err) != 0)
        return bench::fail(std::string("WSPStartup A: ") + WSPErrorName(err));
    if (WSPStartup(&cb, &hb, &err) != 0)
        return bench::fail(std::string("WSPStartup B: ") + WSPErrorName(err));
    const std::uint64_t rss_hosts = bench::rss_kib();

    std::vector<SOCKET> listeners;
    for (std::uint16_t p = 0; p < ports; ++p) {
        const SOCKET l = WSPSocket(hb, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
        const SOCKADDR_IN at = sockaddr_of(b_addr, static_cast<std::uint16_t>(7000 + p));
        if (l == INVALID_SOCKET ||
            WSPBind(l, reinterpret_cast<const SOCKADDR*>(&at), sizeof at, &err) != 0 ||
            WSPListen(l, static_cast<int>(o.batch), &err) != 0 || !set_nonblocking(l))
            return bench::fail(std::string("listen: ") + WSPErrorName(err));
        listeners.push_back(l);
    }

    std::vector<SOCKET> clients;
    std::vector<SOCKET> servers;
    clients.reserve(n);
    servers.reserve(n);
    const auto t0 = Clock::now();
    std::uint64_t refused = 0;
    while (clients.size() < n) {
        const std::uint64_t upto = std::min<std::uint64_t>(n, clients.size() + o.batch);
        while (clients.size() < upto) {
            const SOCKET c = WSPSocket(ha, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
            if (c == INVALID_SOCKET || !set_nonblocking(c))
                return bench::fail(std::string("WSPSocket: ") + WSPErrorName(err));
            const auto port = static_cast<std::uint16_t>(7000 + clients.size() % ports);
            const SOCKADDR_IN to = sockaddr_of(b_addr, port);
            if (WSPConnect(c, reinterpret_cast<const SOCKADDR*>(&to), sizeof to, nullptr, nullptr,
                           nullptr, nullptr, &err) != 0 &&
                err != WSAEWOULDBLOCK)
                return bench::fail("WSPConnect " + std::to_string(clients.size()) + ": " +
                                   WSPErrorName(err));
            clients.push_back(c);
        }
        // Take this batch's connections as they arrive (WSPSelect on the listeners).
        const auto batch_deadline = Clock::now() + std::chrono::seconds(30);
        while (servers.size() < clients.size()) {
            bool took = false;
            for (const SOCKET l : listeners) {
                for (;;) {
                    const SOCKET s = WSPAccept(l, nullptr, nullptr, nullptr, 0, &err);
                    if (s == INVALID_SOCKET) {
                        if (err != WSAEWOULDBLOCK)
                            ++refused;
                        break;
                    }
                    servers.push_back(s);
                    took = true;
                }
            }
            if (took)
                continue;
            if (Clock::now() > batch_deadline)
                return bench::fail("only " + std::to_string(servers.size()) + " of " +
                                   std::to_string(clients.size()) +
                                   " connections accepted within 30 s of their batch");
            WSP_FD_SET rd{};
            for (const SOCKET l : listeners) rd.fd_array[rd.fd_count++] = l;
            TIMEVAL tv{0, 100000};
            (void)WSPSelect(0, &rd, nullptr, nullptr, &tv, &err);
        }
    }
    const double setup_s = bench::seconds_since(t0);
    // Let the last handshakes' ACKs and any delayed ACK settle before measuring.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::uint64_t rss1 = bench::rss_kib();

    const double cpu0 = cpu_ms();
    const auto w0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(o.idle_ms));
    const double idle_window = bench::seconds_since(w0) * 1e3;
    const double idle_cpu = cpu_ms() - cpu0;

    // One more connection, a byte each way, with all of them established.
    bool fresh_ok = false;
    {
        const SOCKET c = WSPSocket(ha, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
        const SOCKADDR_IN to = sockaddr_of(b_addr, 7000);
        if (c != INVALID_SOCKET && WSPConnect(c, reinterpret_cast<const SOCKADDR*>(&to), sizeof to,
                                              nullptr, nullptr, nullptr, nullptr, &err) == 0) {
            WSP_FD_SET rd{};
            rd.fd_count = 1;
            rd.fd_array[0] = listeners[0];
            TIMEVAL tv{10, 0};
            SOCKET s = INVALID_SOCKET;
            if (WSPSelect(0, &rd, nullptr, nullptr, &tv, &err) == 1)
                s = WSPAccept(listeners[0], nullptr, nullptr, nullptr, 0, &err);
            u_long off = 0;  // (accepted sockets inherit the listener's non-blocking mode)
            DWORD ret = 0;
            if (s != INVALID_SOCKET)
                (void)WSPIoctl(s, FIONBIO, &off, sizeof off, nullptr, 0, &ret, &err);
            char x = 'x';
            char y = 0;
            WSABUF bx{1, &x};
            WSABUF by{1, &y};
            DWORD done = 0;
            DWORD flags = 0;
            const DWORD ms = 10000;
            fresh_ok = s != INVALID_SOCKET &&
                       WSPSetSockOpt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms),
                                     sizeof ms, &err) == 0 &&
                       WSPSend(c, &bx, 1, &done, 0, &err) == 0 &&
                       WSPRecv(s, &by, 1, &done, &flags, &err) == 0 && done == 1 && y == 'x';
        }
        if (!fresh_ok)
            bench::error(std::string("the new connection failed: ") + WSPErrorName(err));
    }

    const std::uint64_t grown_kib = rss1 > rss_hosts ? rss1 - rss_hosts : 0;
    const double per_conn = static_cast<double>(grown_kib) * 1024.0 / static_cast<double>(n);
    // The servers close first, so each client's own close (WSPCleanup) finds CLOSE-WAIT and ends
    // in LAST-ACK at once, with no orphan waiting in FIN-WAIT-2 for a FIN.
    const auto t1 = Clock::now();
    for (const SOCKET s : servers) (void)WSPCloseSocket(s, &err);
    (void)WSPCleanup(ha, &err);
    (void)WSPCleanup(hb, &err);
    const double cleanup_s = bench::seconds_since(t1);
    bench::result(
        "mode=scale connections=" + std::to_string(n) + " ports=" + std::to_string(ports) +
        " setup_s=" + bench::fmt(setup_s, 2) + " rss_before_kib=" + std::to_string(rss0) +
        " rss_hosts_kib=" + std::to_string(rss_hosts) + " rss_after_kib=" + std::to_string(rss1) +
        " bytes_per_connection=" + bench::fmt(per_conn, 0) + " bytes_per_endpoint=" +
        bench::fmt(per_conn / 2, 0) + " idle_window_ms=" + bench::fmt(idle_window, 0) +
        " idle_cpu_ms=" + bench::fmt(idle_cpu, 1) + " accept_errors=" + std::to_string(refused) +
        " new_connection=" + (fresh_ok ? "ok" : "failed") +
        " cleanup_s=" + bench::fmt(cleanup_s, 2));
    return fresh_ok && servers.size() == n ? 0 : 1;
}
