// SEMANTICS.md §1.1 (the SPI "Connection Shutdown" page): the transaction-total scenario run
// thousands of times by many application threads at once, with and without 10 % loss (issue
// #4's bar: no lost or corrupted disconnect data, no hang), on real engine threads -- the
// concurrency of blocking calls, event waits and the engine is what is under test here. The
// step-by-step runs are on virtual time (../scenario_test.cpp). Checklist items 20, 24, 25, 38,
// 41, 43.
#include "scenario.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "wsp_fixture.hpp"

using namespace wsptest;

namespace {

// Failures seen on worker threads (doctest's REQUIRE must not throw there).
struct Failures {
    std::atomic<int> count{0};
    std::mutex m;
    std::string first;
    void add(const std::string& msg) {
        if (count.fetch_add(1) == 0) {
            std::lock_guard lock(m);
            first = msg;
        }
    }
};

std::string err_text(const char* what, int e) {
    return std::string(what) + ": " + WSPErrorName(e);
}

// Steps 2-5' on an accepted socket. `use_fd_close`: learn of the client's disconnect from
// FD_CLOSE (else from a blocking WSPRecv returning 0). Returns "" or what went wrong.
std::string serve(SOCKET sv, bool use_fd_close) {
    std::string data;
    char buf[2048];
    int err = 0;
    if (use_fd_close) {
        WSAEVENT ev = WSACreateEvent();
        if (WSPEventSelect(sv, ev, FD_READ | FD_CLOSE, &err) != 0) {
            WSACloseEvent(ev);
            return err_text("server EventSelect", err);
        }
        bool closed = false;
        std::string failure;
        while (!closed && failure.empty()) {
            if (WSAWaitForMultipleEvents(1, &ev, 0, static_cast<DWORD>(kWait.count()), 0) ==
                WSA_WAIT_TIMEOUT) {
                failure = "server: step 2 never came (no FD_CLOSE)";
                break;
            }
            WSANETWORKEVENTS ne{};
            if (WSPEnumNetworkEvents(sv, ev, &ne, &err) != 0) {
                failure = err_text("server EnumNetworkEvents", err);
                break;
            }
            if (ne.lNetworkEvents & (FD_READ | FD_CLOSE)) {
                for (;;) {
                    DWORD got = 0;
                    const int e = recv_bytes(sv, buf, sizeof buf, &got);
                    if (e == WSAEWOULDBLOCK)
                        break;
                    if (e != 0) {
                        failure = err_text("server recv", e);
                        break;
                    }
                    if (got == 0)
                        break;
                    data.append(buf, got);
                }
            }
            if (ne.lNetworkEvents & FD_CLOSE) {
                if (ne.iErrorCode[FD_CLOSE_BIT] != 0)
                    failure = err_text("server FD_CLOSE error", ne.iErrorCode[FD_CLOSE_BIT]);
                closed = true;
            }
        }
        WSACloseEvent(ev);
        if (!failure.empty())
            return failure;
    } else {
        data = read_to_eof(sv, &err);  // step 2: WSPRecv returns 0
        if (err != 0)
            return err_text("server recv", err);
    }
    if (data.size() % 8 != 0)
        return "server: torn transaction records";
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < data.size(); i += 8) sum += load64(data, i);
    std::string disc;
    if (int e = recv_disconnect(sv, &disc); e != 0)
        return err_text("server RecvDisconnect", e);
    if (disc.size() != 8 || load64(disc) != sum)
        return "server: client's total lost or corrupted (" + std::to_string(disc.size()) +
               " bytes)";
    const std::string grand = bytes64(grand_of(sum));                     // step 4
    if (int e = send_disconnect(sv, grand.data(), grand.size()); e != 0)  // step 5
        return err_text("server SendDisconnect", e);
    if (int e = close_socket(sv); e != 0)
        return err_text("server CloseSocket", e);  // step 5'
    return {};
}

// The client's side of one scenario (steps 1, 6, 7, 8). Returns "" or what went wrong.
std::string run_client(WSPHOST host, std::uint16_t port, std::uint64_t seed) {
    int err = 0;
    SOCKET s = WSPSocket(host, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
    if (s == INVALID_SOCKET)
        return err_text("client socket", err);
    if (int e = connect_to(s, kAddrB, port); e != 0) {
        close_socket(s);
        return err_text("client connect", e);
    }
    WSAEVENT ev = WSACreateEvent();
    auto finish = [&](std::string r) {
        close_socket(s);  // step 8 (or clean-up on failure)
        WSACloseEvent(ev);
        return r;
    };
    if (WSPEventSelect(s, ev, FD_READ | FD_CLOSE, &err) != 0)
        return finish(err_text("client EventSelect", err));
    // The transactions: a few 8-byte amounts; the total goes in the disconnect data.
    std::mt19937_64 rng(seed);
    const int records = 1 + static_cast<int>(seed % 5);
    std::string tx;
    std::uint64_t total = 0;
    for (int i = 0; i < records; ++i) {
        const std::uint64_t amount = rng();
        total += amount;
        tx += bytes64(amount);
    }
    DWORD sent = 0;
    if (int e = send_str(s, tx, &sent); e != 0 || sent != tx.size())
        return finish(err_text("client send", e));
    const std::string t = bytes64(total);
    if (int e = send_disconnect(s, t.data(), t.size()); e != 0)  // step 1
        return finish(err_text("client SendDisconnect", e));
    // Step 6: FD_CLOSE with error 0.
    for (;;) {
        if (WSAWaitForMultipleEvents(1, &ev, 0, static_cast<DWORD>(kWait.count()), 0) ==
            WSA_WAIT_TIMEOUT)
            return finish("client: step 6 never came (no FD_CLOSE)");
        WSANETWORKEVENTS ne{};
        if (WSPEnumNetworkEvents(s, ev, &ne, &err) != 0)
            return finish(err_text("client EnumNetworkEvents", err));
        if (ne.lNetworkEvents & FD_READ)
            return finish("client: unexpected FD_READ");
        if (ne.lNetworkEvents & FD_CLOSE) {
            if (ne.iErrorCode[FD_CLOSE_BIT] != 0)
                return finish(err_text("client FD_CLOSE error", ne.iErrorCode[FD_CLOSE_BIT]));
            break;
        }
    }
    std::string disc;  // step 7
    if (int e = recv_disconnect(s, &disc); e != 0)
        return finish(err_text("client RecvDisconnect", e));
    if (disc.size() != 8 || load64(disc) != grand_of(total))
        return finish("client: grand total lost or corrupted (" + std::to_string(disc.size()) +
                      " bytes)");
    return finish({});
}

struct RunResult {
    int done = 0;
    int failed = 0;
    std::string first_failure;
    double seconds = 0;
};

// `clients` client threads each run `per_client` scenarios back to back against `clients`
// server threads that accept from one listener.
RunResult run_many(Hosts& h, std::uint16_t port, int clients, int per_client) {
    const SOCKET listener = listen_on(h.b, kAddrB, port, 4 * clients);
    Failures fails;
    std::atomic<int> done{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> servers;
    for (int i = 0; i < clients; ++i) {
        servers.emplace_back([&, i] {
            for (int n = 0;; ++n) {
                int err = 0;
                const SOCKET sv = WSPAccept(listener, nullptr, nullptr, nullptr, 0, &err);
                if (sv == INVALID_SOCKET)
                    return;  // the listener was closed: done
                if (std::string f = serve(sv, (i + n) % 2 == 0); !f.empty()) {
                    fails.add(f);
                    close_socket(sv);
                }
            }
        });
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
            for (int n = 0; n < per_client; ++n) {
                const std::uint64_t seed = static_cast<std::uint64_t>(i) * 100'003 + n;
                if (std::string f = run_client(h.a, port, seed); !f.empty())
                    fails.add(f);
                done.fetch_add(1);
            }
        });
    }
    for (auto& t : threads) t.join();
    close_socket(listener);  // wakes the servers' blocking WSPAccept (checklist 38)
    for (auto& t : servers) t.join();
    RunResult r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.done = done.load();
    r.failed = fails.count.load();
    r.first_failure = fails.first;
    return r;
}

}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE("SEMANTICS 1.1 checklist 24 25 - concurrent scenarios without loss") {
        Hosts h;
        const RunResult r = run_many(h, 6100, 20, 25);
        MESSAGE(r.done << " scenarios without loss in " << r.seconds << " s");
        CHECK_MESSAGE(r.failed == 0, r.failed << " failed; first: " << r.first_failure);
        CHECK(r.done == 500);
    }

    TEST_CASE(
        "SEMANTICS 1.1 checklist 24 25 - thousands of scenarios with 10 pct loss - no lost or "
        "corrupted disconnect data and no hang") {
        PairParams pp;
        pp.loss = 0.10;
        pp.seed = 2024;
        Hosts h(pp);
        const RunResult r = run_many(h, 6200, 100, 20);
        MESSAGE(r.done << " scenarios with 10% loss in " << r.seconds << " s");
        CHECK_MESSAGE(r.failed == 0, r.failed << " failed; first: " << r.first_failure);
        CHECK(r.done == 2000);
        CHECK(host_stat(h.a, "disconnect_data_sent") == 2000);
        CHECK(host_stat(h.b, "disconnect_data_received") == 2000);
        CHECK(host_stat(h.b, "disconnect_data_sent") == 2000);
        CHECK(host_stat(h.a, "disconnect_data_received") == 2000);
    }
}
