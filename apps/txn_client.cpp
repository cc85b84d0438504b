// txn-client: the client of the Winsock "Connection Shutdown" transaction-total example.
//
// Step 1: send N transactions, then WSPSendDisconnect with the transaction total as disconnect
// data. Step 6: wait for FD_CLOSE (the server's FIN). Step 7: WSPRecvDisconnect for the grand
// total. Step 8: WSPCloseSocket. Exit status 0 only if the whole exchange completed (with
// --clients K: all K exchanges, run at once on one host).
//
// --message: a message-oriented socket (SOCK_SEQPACKET, DESIGN.md §3b), each transaction sent
// as one message; the rest of the exchange is the same (FD_CLOSE carries 0 as for a stream).
//
// --connect-data: the client's id ("client-<seed>") rides on the SYN as caller data (DESIGN.md
// §3c) and the server's session number comes back on the SYN-ACK as callee data.
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "host_options.hpp"
#include "txn_wire.hpp"
#include "ustack/byte_order.hpp"

namespace {

constexpr std::uint64_t kMaxCount = 1'000'000;       // --count: 8 MB of transactions
constexpr std::uint64_t kMaxClients = 1000;          // --clients: one thread each
constexpr std::uint64_t kMaxTimeoutMs = 86'400'000;  // --timeout-ms: a day

// What every exchange of this run shares (the command line).
struct Run {
    IN_ADDR srv{};
    std::string server;
    unsigned short port = 7000;
    int count = 10;
    unsigned timeout_ms = 30000;
    bool message = false;
    bool connect_data = false;
};

// Step 1's transactions: one WSPSend of them all (stream), or one message each (--message).
bool send_transactions(SOCKET s, std::vector<unsigned char>& wire, bool message, const char* me) {
    int err = 0;
    const std::size_t unit = message ? 8 : wire.size();
    for (std::size_t off = 0; off < wire.size(); off += unit) {
        WSABUF b{static_cast<u_long>(unit), reinterpret_cast<char*>(wire.data() + off)};
        DWORD sent = 0;
        if (WSPSend(s, &b, 1, &sent, 0, &err) != 0) {
            std::printf("%s: WSPSend failed: %s\n", me, WSPErrorName(err));
            return false;
        }
        if (message && sent != unit) {
            std::printf("%s: WSPSend sent %lu bytes of an %zu-byte message\n", me,
                        static_cast<unsigned long>(sent), unit);
            return false;
        }
    }
    return true;
}

// One transaction-total exchange on `host`; 0 when it completed.
int run_one(WSPHOST host, const Run& run, unsigned seed, const char* me) {
    const std::string& server = run.server;
    const unsigned short port = run.port;
    const int count = run.count;
    const unsigned timeout_ms = run.timeout_ms;
    int err = 0;
    int status = 1;
    SOCKET s =
        WSPSocket(host, AF_INET, run.message ? SOCK_SEQPACKET : SOCK_STREAM, IPPROTO_TCP, &err);
    SOCKADDR_IN sin = apps::make_sockaddr(run.srv, port);
    WSAEVENT ev = WSACreateEvent();
    std::int64_t total = 0;
    do {
        if (s == INVALID_SOCKET) {
            std::printf("%s: WSPSocket failed: %s\n", me, WSPErrorName(err));
            break;
        }
        // --timeout-ms bounds the blocking sends too (SO_SNDTIMEO: WSAETIMEDOUT).
        const DWORD send_ms = timeout_ms;
        if (WSPSetSockOpt(s, SOL_SOCKET, SO_SNDTIMEO, reinterpret_cast<const char*>(&send_ms),
                          sizeof send_ms, &err) != 0) {
            std::printf("%s: SO_SNDTIMEO failed: %s\n", me, WSPErrorName(err));
            break;
        }
        std::string id = "client-" + std::to_string(seed);
        WSABUF caller{static_cast<u_long>(id.size()), id.data()};
        unsigned char session[16];
        WSABUF callee{sizeof session, reinterpret_cast<char*>(session)};
        if (WSPConnect(s, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin,
                       run.connect_data ? &caller : nullptr, run.connect_data ? &callee : nullptr,
                       nullptr, nullptr, &err) != 0) {
            std::printf("%s: connect to %s:%u failed: %s%s\n", me, server.c_str(), port,
                        WSPErrorName(err),
                        run.message && err == WSAECONNREFUSED
                            ? " (no listener, or not a message-oriented one)"
                        : err == WSAENOPROTOOPT
                            ? " (the server did not take the caller data: no --disconnect-data)"
                            : "");
            break;
        }
        SOCKADDR_IN local{};
        int llen = sizeof local;
        unsigned lport = 0;
        if (WSPGetSockName(s, reinterpret_cast<SOCKADDR*>(&local), &llen, &err) == 0) {
            lport = ustack::load_be16(reinterpret_cast<const unsigned char*>(&local.sin_port));
        }
        // --connect-data: the session number the SYN-ACK brought back.
        if (run.connect_data) {
            if (callee.len == 8) {
                std::printf("%s: port %u id '%s', session %" PRId64 "\n", me, lport, id.c_str(),
                            apps::get_be64(session));
            } else {
                std::printf("%s: port %u id '%s', no session (%lu bytes of callee data)\n", me,
                            lport, id.c_str(), static_cast<unsigned long>(callee.len));
            }
            std::fflush(stdout);
        }
        // Step 1: the transactions, then the total as disconnect data.
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int> amount(-500, 5000);
        std::vector<unsigned char> wire(static_cast<std::size_t>(count) * 8);
        for (int i = 0; i < count; ++i) {
            const std::int64_t v = amount(rng);
            total += v;
            apps::put_be64(wire.data() + static_cast<std::size_t>(i) * 8, v);
        }
        if (!wire.empty() && !send_transactions(s, wire, run.message, me))
            break;
        unsigned char tot[8];
        apps::put_be64(tot, total);
        WSABUF d{8, reinterpret_cast<char*>(tot)};
        if (WSPSendDisconnect(s, &d, &err) != 0) {
            std::printf(
                "%s: WSPSendDisconnect failed: %s%s\n", me, WSPErrorName(err),
                err == WSAENOPROTOOPT ? " (the peer did not negotiate disconnect data)" : "");
            break;
        }
        std::printf("%s: sent %d transactions%s, total %" PRId64 "\n", me, count,
                    run.message ? " (one message each)" : "", total);
        std::fflush(stdout);
        // Step 6: FD_CLOSE announces the server's FIN (and so its disconnect data).
        if (WSPEventSelect(s, ev, FD_CLOSE, &err) != 0) {
            std::printf("%s: WSPEventSelect failed: %s\n", me, WSPErrorName(err));
            break;
        }
        if (WSAWaitForMultipleEvents(1, &ev, 0, timeout_ms, 0) != WSA_WAIT_EVENT_0) {
            std::printf("%s: no FD_CLOSE within %u ms\n", me, timeout_ms);
            break;
        }
        WSANETWORKEVENTS ne{};
        if (WSPEnumNetworkEvents(s, ev, &ne, &err) != 0 || !(ne.lNetworkEvents & FD_CLOSE)) {
            std::printf("%s: WSPEnumNetworkEvents failed: %s\n", me, WSPErrorName(err));
            break;
        }
        if (ne.iErrorCode[FD_CLOSE_BIT] != 0) {
            std::printf("%s: FD_CLOSE with %s\n", me, WSPErrorName(ne.iErrorCode[FD_CLOSE_BIT]));
            break;
        }
        // Step 7: the grand total.
        unsigned char grand[64];
        WSABUF g{sizeof grand, reinterpret_cast<char*>(grand)};
        if (WSPRecvDisconnect(s, &g, &err) != 0 || g.len != 8) {
            std::printf("%s: no grand total (%s, %lu bytes)\n", me, WSPErrorName(err),
                        static_cast<unsigned long>(g.len));
            break;
        }
        std::printf("%s: port %u total %" PRId64 ", grand total %" PRId64 "\n", me, lport, total,
                    apps::get_be64(grand));
        status = 0;
    } while (false);
    // Step 8.
    if (s != INVALID_SOCKET)
        (void)WSPCloseSocket(s, &err);
    WSACloseEvent(ev);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    apps::HostOptions ho;
    apps::CommandLine cl(argc, argv);
    Run run;
    unsigned seed = 1;
    unsigned clients = 1;
    bool have_server = false;
    while (cl.next()) {
        if (cl.is("--help") || cl.is("-h")) {
            std::printf(
                "usage: txn-client --addr A.B.C.D/N --server A.B.C.D [--port P] [--count N]\n"
                "                  [--seed S] [--clients K] [--timeout-ms T] [--message]\n"
                "                  [--connect-data] [host options]\n"
                "Sends N transactions, then its transaction total as disconnect data; prints\n"
                "the grand total the server answers with on its FIN.\n"
                "  --server A.B.C.D  the txn-server's address (required)\n"
                "  --port P          its port, 1..65535 (default 7000)\n"
                "  --count N         transactions to send, 0..1000000 (default 10)\n"
                "  --seed S          seed of the transaction amounts, 0..4294967295 (default 1)\n"
                "  --clients K       run K exchanges at once on this host (seeds S..S+K-1),\n"
                "                    1..1000 (default 1)\n"
                "  --timeout-ms T    give up waiting for the server after T ms, 1..86400000: a\n"
                "                    blocked send (SO_SNDTIMEO) or the wait for its FIN\n"
                "                    (default 30000)\n"
                "  --message         message-oriented socket (SOCK_SEQPACKET): each transaction\n"
                "                    is one message (the server needs --message too)\n"
                "  --connect-data    send the id client-<seed> as caller data on the SYN and\n"
                "                    print the session number the server answers with\n"
                "                    (callee data; needs --disconnect-data)\n%s",
                apps::host_options_help());
            return 0;
        } else if (cl.is("--server")) {
            const auto a = cl.ipv4();
            std::memcpy(&run.srv.s_addr, a.data(), a.size());
            run.server = std::to_string(a[0]) + "." + std::to_string(a[1]) + "." +
                         std::to_string(a[2]) + "." + std::to_string(a[3]);
            have_server = true;
        } else if (cl.is("--port")) {
            run.port = static_cast<unsigned short>(cl.number(1, 65535));
        } else if (cl.is("--count")) {
            run.count = static_cast<int>(cl.number(0, kMaxCount));
        } else if (cl.is("--seed")) {
            seed = static_cast<unsigned>(cl.number(0, UINT32_MAX));
        } else if (cl.is("--clients")) {
            clients = static_cast<unsigned>(cl.number(1, kMaxClients));
        } else if (cl.is("--timeout-ms")) {
            run.timeout_ms = static_cast<unsigned>(cl.number(1, kMaxTimeoutMs));
        } else if (cl.is("--message")) {
            run.message = true;
        } else if (cl.is("--connect-data")) {
            run.connect_data = true;
        } else if (!apps::parse_host_option(cl, ho)) {
            cl.unknown();
        }
    }
    apps::check_host_options(cl, ho);
    if (!have_server)
        cl.fail("--server A.B.C.D is required");
    WSPHOST host = apps::start_host(ho);
    int status = 0;
    if (clients <= 1) {
        status = run_one(host, run, seed, "txn-client");
    } else {
        // Several clients at once on this host, one thread each (seeds S, S+1, ...).
        std::vector<std::thread> threads;
        std::atomic<int> failed{0};
        for (unsigned i = 0; i < clients; ++i) {
            threads.emplace_back([&, i] {
                const std::string name = "txn-client[" + std::to_string(i + 1) + "]";
                if (run_one(host, run, seed + i, name.c_str()) != 0)
                    failed++;
            });
        }
        for (auto& t : threads) t.join();
        status = failed.load() == 0 ? 0 : 1;
    }
    apps::stop_host(host, ho);
    return status;
}
