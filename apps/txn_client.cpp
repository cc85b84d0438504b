// txn-client: the client of the Winsock "Connection Shutdown" transaction-total example.
//
// Step 1: send N transactions, then WSPSendDisconnect with the transaction total as disconnect
// data. Step 6: wait for FD_CLOSE (the server's FIN). Step 7: WSPRecvDisconnect for the grand
// total. Step 8: WSPCloseSocket. Exit status 0 only if the whole exchange completed.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "host_options.hpp"
#include "txn_wire.hpp"

int main(int argc, char** argv) {
    apps::HostOptions ho;
    auto args = apps::parse_host_options(argc, argv, ho);
    std::string server;
    unsigned short port = 7000;
    int count = 10;
    unsigned seed = 1;
    unsigned timeout_ms = 30000;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::printf(
                "usage: txn-client --addr A.B.C.D/N --server A.B.C.D [--port P] [--count N]\n"
                "                  [--seed S] [--timeout-ms T] [host options]\n"
                "Sends N transactions, then its transaction total as disconnect data; prints\n"
                "the grand total the server answers with on its FIN.\n"
                "  --server A.B.C.D  the txn-server's address (required)\n"
                "  --port P          its port (default 7000)\n"
                "  --count N         transactions to send (default 10)\n"
                "  --seed S          seed of the transaction amounts (default 1)\n"
                "  --timeout-ms T    give up waiting for the server after T ms (default 30000)\n%s",
                apps::host_options_help());
            return 0;
        } else if (a == "--server" && i + 1 < args.size()) {
            server = args[++i];
        } else if (a == "--port" && i + 1 < args.size()) {
            port = static_cast<unsigned short>(std::atoi(args[++i].c_str()));
        } else if (a == "--count" && i + 1 < args.size()) {
            count = std::atoi(args[++i].c_str());
        } else if (a == "--seed" && i + 1 < args.size()) {
            seed = static_cast<unsigned>(std::strtoul(args[++i].c_str(), nullptr, 10));
        } else if (a == "--timeout-ms" && i + 1 < args.size()) {
            timeout_ms = static_cast<unsigned>(std::strtoul(args[++i].c_str(), nullptr, 10));
        } else {
            std::cerr << "txn-client: unknown argument " << a << " (see --help)\n";
            return 2;
        }
    }
    IN_ADDR srv{};
    if (server.empty() || !apps::parse_ipv4(server, srv)) {
        std::cerr << "txn-client: --server A.B.C.D is required\n";
        return 2;
    }
    WSPHOST host = apps::start_host(ho);
    int err = 0;
    int status = 1;
    SOCKET s = WSPSocket(host, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
    SOCKADDR_IN sin = apps::make_sockaddr(srv, port);
    WSAEVENT ev = WSACreateEvent();
    std::int64_t total = 0;
    do {
        if (s == INVALID_SOCKET ||
            WSPConnect(s, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin, &err) != 0) {
            std::printf("txn-client: connect to %s:%u failed: %s\n", server.c_str(), port,
                        WSPErrorName(err));
            break;
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
        WSABUF b{static_cast<u_long>(wire.size()), reinterpret_cast<char*>(wire.data())};
        DWORD sent = 0;
        if (!wire.empty() && WSPSend(s, &b, 1, &sent, 0, &err) != 0) {
            std::printf("txn-client: WSPSend failed: %s\n", WSPErrorName(err));
            break;
        }
        unsigned char tot[8];
        apps::put_be64(tot, total);
        WSABUF d{8, reinterpret_cast<char*>(tot)};
        if (WSPSendDisconnect(s, &d, &err) != 0) {
            std::printf("txn-client: WSPSendDisconnect failed: %s%s\n", WSPErrorName(err),
                        err == WSAENOPROTOOPT ? " (the peer did not negotiate disconnect data)" : "");
            break;
        }
        std::printf("txn-client: sent %d transactions, total %" PRId64 "\n", count, total);
        std::fflush(stdout);
        // Step 6: FD_CLOSE announces the server's FIN (and so its disconnect data).
        if (WSPEventSelect(s, ev, FD_CLOSE, &err) != 0) {
            std::printf("txn-client: WSPEventSelect failed: %s\n", WSPErrorName(err));
            break;
        }
        if (WSAWaitForMultipleEvents(1, &ev, 0, timeout_ms, 0) != WSA_WAIT_EVENT_0) {
            std::printf("txn-client: no FD_CLOSE within %u ms\n", timeout_ms);
            break;
        }
        WSANETWORKEVENTS ne{};
        if (WSPEnumNetworkEvents(s, ev, &ne, &err) != 0 || !(ne.lNetworkEvents & FD_CLOSE)) {
            std::printf("txn-client: WSPEnumNetworkEvents failed: %s\n", WSPErrorName(err));
            break;
        }
        if (ne.iErrorCode[FD_CLOSE_BIT] != 0) {
            std::printf("txn-client: FD_CLOSE with %s\n", WSPErrorName(ne.iErrorCode[FD_CLOSE_BIT]));
            break;
        }
        // Step 7: the grand total.
        unsigned char grand[64];
        WSABUF g{sizeof grand, reinterpret_cast<char*>(grand)};
        if (WSPRecvDisconnect(s, &g, &err) != 0 || g.len != 8) {
            std::printf("txn-client: no grand total (%s, %lu bytes)\n", WSPErrorName(err),
                        static_cast<unsigned long>(g.len));
            break;
        }
        std::printf("txn-client: total %" PRId64 ", grand total %" PRId64 "\n", total,
                    apps::get_be64(grand));
        status = 0;
    } while (false);
    // Step 8.
    if (s != INVALID_SOCKET) (void)WSPCloseSocket(s, &err);
    WSACloseEvent(ev);
    apps::stop_host(host, ho);
    return status;
}
