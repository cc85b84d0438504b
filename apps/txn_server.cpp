// txn-server: the server of the Winsock "Connection Shutdown" transaction-total example.
//
// Per client (steps 2-5' of the page's table): receive transactions (8-byte big-endian signed
// integers) and sum them; on the client's disconnect (recv returns 0 / FD_CLOSE) take the client's
// total with WSPRecvDisconnect, check it against the sum, add it to the grand total, answer with
// the grand total as disconnect data (WSPSendDisconnect), close. Clients are served concurrently,
// one thread each.
//
// --message: a message-oriented listener (SOCK_SEQPACKET, DESIGN.md §3b). Each transaction is one
// message, and step 2 -- the "Connection Shutdown" page's "WSPRecv with a return value of zero
// or WSAEDISCON" -- is WSPRecv failing with WSAEDISCON (a zero-byte read is a zero-length message
// there). The server prints which of the two it got.
//
// --connect-data: a conditional listener (SO_CONDITIONAL_ACCEPT, DESIGN.md §3c). WSPAccept's
// condition function reads the client's id from its caller data (on the SYN) and answers with a
// session number (8 bytes, big-endian) as callee data on the SYN-ACK; a SYN without caller data
// is accepted without a session.
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host_options.hpp"
#include "txn_wire.hpp"

namespace {

std::mutex g_mu;
std::int64_t g_grand_total = 0;
std::atomic<int> g_failures{0};
std::atomic<int> g_served{0};

bool g_message = false;       // --message
bool g_connect_data = false;  // --connect-data
std::uint64_t g_next_session = 1;

// What the condition function saw of the connection WSPAccept returned.
struct Admission {
    std::string client_id;  // the caller data (empty: none)
    std::uint64_t session = 0;
};

// WSPAccept's condition function (--connect-data): the caller data is the client's id; the
// callee data its session number.
int CALLBACK admit(LPWSABUF /*caller_id*/, LPWSABUF caller_data, LPQOS /*sqos*/, LPQOS /*gqos*/,
                   LPWSABUF /*callee_id*/, LPWSABUF callee_data, GROUP* /*g*/, DWORD_PTR data) {
    auto* a = reinterpret_cast<Admission*>(data);
    a->client_id = caller_data != nullptr ? std::string(caller_data->buf, caller_data->len) : "";
    a->session = 0;
    if (!a->client_id.empty() && callee_data != nullptr && callee_data->len >= 8) {
        a->session = g_next_session++;
        apps::put_be64(reinterpret_cast<unsigned char*>(callee_data->buf),
                       static_cast<std::int64_t>(a->session));
        callee_data->len = 8;
    } else if (callee_data != nullptr) {
        callee_data->len = 0;
    }
    return CF_ACCEPT;
}

// What step 2 received from one client.
struct Tally {
    std::int64_t sum = 0;
    std::uint64_t count = 0;      // transactions
    std::uint64_t malformed = 0;  // stream: bytes left over; messages: messages not of 8 bytes
};

void add_transaction(Tally& t, const unsigned char* p, int id, const apps::HostOptions& ho) {
    const std::int64_t v = apps::get_be64(p);
    t.sum += v;
    ++t.count;
    apps::log(apps::LogLevel::debug, ho,
              "client " + std::to_string(id) + ": transaction " + std::to_string(v));
}

// Step 2: receive the client's transactions until its graceful close -- over a stream, 8-byte
// transactions back to back until WSPRecv returns 0; over a message socket, one transaction
// per message (a longer one comes in parts, MSG_PARTIAL on all but the last) until WSPRecv
// fails with WSAEDISCON. False (after printing) on another error.
bool receive_transactions(SOCKET s, int id, const apps::HostOptions& ho, Tally& t) {
    int err = 0;
    std::uint64_t messages = 0;
    std::vector<unsigned char> pending;  // stream: an unfinished transaction; else the message
    char buf[4096];
    for (;;) {
        WSABUF b{sizeof buf, buf};
        DWORD got = 0;
        DWORD flags = 0;
        if (WSPRecv(s, &b, 1, &got, &flags, &err) != 0) {
            if (g_message && err == WSAEDISCON && pending.empty()) {
                std::printf("client %d: step 2: WSPRecv failed with WSAEDISCON after %" PRIu64
                            " messages (the client's graceful close)\n",
                            id, messages);
                return true;
            }
            std::printf("client %d: WSPRecv failed: %s\n", id, WSPErrorName(err));
            return false;
        }
        if (!g_message && got == 0)
            break;  // the client's FIN, after all its data
        pending.insert(pending.end(), buf, buf + got);
        if (!g_message) {
            std::size_t i = 0;
            for (; i + 8 <= pending.size(); i += 8) add_transaction(t, pending.data() + i, id, ho);
            pending.erase(pending.begin(), pending.begin() + static_cast<long>(i));
            continue;
        }
        if ((flags & MSG_PARTIAL) != 0)
            continue;  // the rest of this message comes with the next calls
        ++messages;
        if (pending.size() == 8) {
            add_transaction(t, pending.data(), id, ho);
        } else {
            ++t.malformed;
            std::printf("client %d: a %zu-byte message is not a transaction\n", id, pending.size());
        }
        pending.clear();
    }
    t.malformed = pending.size();
    return true;
}

void serve(SOCKET s, int id, const apps::HostOptions& ho) {
    int err = 0;
    Tally t;
    if (!receive_transactions(s, id, ho, t)) {
        g_failures++;
        (void)WSPCloseSocket(s, &err);
        return;
    }
    // Step 3: the client's transaction total, carried on its FIN.
    unsigned char disc[64];
    WSABUF d{sizeof disc, reinterpret_cast<char*>(disc)};
    if (WSPRecvDisconnect(s, &d, &err) != 0 || d.len != 8) {
        std::printf("client %d: no transaction total in disconnect data (%s, %lu bytes)\n", id,
                    WSPErrorName(err), static_cast<unsigned long>(d.len));
        g_failures++;
        (void)WSPCloseSocket(s, &err);
        return;
    }
    const std::int64_t client_total = apps::get_be64(disc);
    const bool match = client_total == t.sum && t.malformed == 0;
    if (!match)
        g_failures++;
    // Step 4: the grand total.
    std::int64_t grand = 0;
    {
        std::lock_guard lock(g_mu);
        g_grand_total += client_total;
        grand = g_grand_total;
    }
    // Step 5: answer with the grand total; 5': close at once (the FIN and its data are delivered
    // in the background).
    unsigned char out[8];
    apps::put_be64(out, grand);
    WSABUF o{8, reinterpret_cast<char*>(out)};
    if (WSPSendDisconnect(s, &o, &err) != 0) {
        std::printf("client %d: WSPSendDisconnect failed: %s\n", id, WSPErrorName(err));
        g_failures++;
    }
    std::printf("client %d: %" PRIu64 " transactions, sum %" PRId64 ", client total %" PRId64
                " %s, grand total %" PRId64 "\n",
                id, t.count, t.sum, client_total, match ? "OK" : "MISMATCH", grand);
    std::fflush(stdout);
    (void)WSPCloseSocket(s, &err);
    g_served++;
}

}  // namespace

int main(int argc, char** argv) {
    apps::HostOptions ho;
    ho.disconnect_data = false;
    apps::CommandLine cl(argc, argv);
    unsigned short port = 7000;
    int clients = 0;  // 0: serve forever
    while (cl.next()) {
        if (cl.is("--help") || cl.is("-h")) {
            std::printf(
                "usage: txn-server --addr A.B.C.D/N [--port P] [--clients N] [--message]\n"
                "                  [--connect-data] [host options]\n"
                "Serves the transaction-total exchange: sums each client's transactions,\n"
                "checks the total it sends as disconnect data, answers with the grand total.\n"
                "  --port P      listen port, 1..65535 (default 7000)\n"
                "  --clients N   exit after serving N clients, 0..1000000 (default and 0: run\n"
                "                forever)\n"
                "  --message     message-oriented listener (SOCK_SEQPACKET): one transaction\n"
                "                per message; the client's close reads as WSAEDISCON\n"
                "  --connect-data  hold each SYN for WSPAccept's condition function\n"
                "                (SO_CONDITIONAL_ACCEPT): the client's id comes as caller data,\n"
                "                its session number goes back as callee data (needs\n"
                "                --disconnect-data)\n%s",
                apps::host_options_help());
            return 0;
        } else if (cl.is("--port")) {
            port = static_cast<unsigned short>(cl.number(1, 65535));
        } else if (cl.is("--clients")) {
            clients = static_cast<int>(cl.number(0, 1'000'000));
        } else if (cl.is("--message")) {
            g_message = true;
        } else if (cl.is("--connect-data")) {
            g_connect_data = true;
        } else if (!apps::parse_host_option(cl, ho)) {
            cl.unknown();
        }
    }
    apps::check_host_options(cl, ho);
    WSPHOST host = apps::start_host(ho);
    int err = 0;
    SOCKET ls =
        WSPSocket(host, AF_INET, g_message ? SOCK_SEQPACKET : SOCK_STREAM, IPPROTO_TCP, &err);
    IN_ADDR any{INADDR_ANY};
    SOCKADDR_IN sin = apps::make_sockaddr(any, port);
    const BOOL conditional = g_connect_data ? 1 : 0;
    if (ls == INVALID_SOCKET ||
        WSPSetSockOpt(ls, SOL_SOCKET, SO_CONDITIONAL_ACCEPT,
                      reinterpret_cast<const char*>(&conditional), sizeof conditional, &err) != 0 ||
        WSPBind(ls, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin, &err) != 0 ||
        WSPListen(ls, 64, &err) != 0) {
        std::cerr << "txn-server: cannot listen on port " << port << ": " << WSPErrorName(err)
                  << "\n";
        return 1;
    }
    std::printf("txn-server: listening on %s port %u%s%s%s\n", ho.addr.c_str(), port,
                ho.disconnect_data ? " (disconnect data on)" : "",
                g_message ? " (message-oriented)" : "",
                g_connect_data ? " (conditional accept: sessions as callee data)" : "");
    std::fflush(stdout);
    std::vector<std::thread> workers;
    for (int id = 1; clients == 0 || id <= clients; ++id) {
        Admission adm;
        SOCKET s = WSPAccept(ls, nullptr, nullptr, g_connect_data ? &admit : nullptr,
                             reinterpret_cast<DWORD_PTR>(&adm), &err);
        if (s == INVALID_SOCKET) {
            std::cerr << "txn-server: WSPAccept failed: " << WSPErrorName(err) << "\n";
            // A request that went away before it was accepted is that client's loss only.
            if (err == WSAECONNRESET || err == WSAEACCES) {
                --id;
                continue;
            }
            break;
        }
        if (g_connect_data) {
            std::printf("client %d: id '%s', session %" PRIu64 "\n", id, adm.client_id.c_str(),
                        adm.session);
            std::fflush(stdout);
        }
        workers.emplace_back(serve, s, id, std::cref(ho));
    }
    for (auto& t : workers) t.join();
    (void)WSPCloseSocket(ls, &err);
    std::int64_t grand = 0;
    {
        std::lock_guard lock(g_mu);
        grand = g_grand_total;
    }
    std::printf("txn-server: served %d clients, grand total %" PRId64 ", %d failures\n",
                g_served.load(), grand, g_failures.load());
    apps::stop_host(host, ho);
    return g_failures.load() == 0 ? 0 : 1;
}
