// WSPAccept's condition function on blocking sockets (DESIGN.md §3c): it runs on WSPAccept's
// thread after the wait for a connection; CF_DEFER and CF_REJECT answer at once.
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "wsp_fixture.hpp"

using namespace wsptest;

namespace {

struct Answer {
    int verdict = CF_ACCEPT;
    std::thread::id thread;
    int calls = 0;
};

int CALLBACK answer(LPWSABUF /*caller_id*/, LPWSABUF /*caller_data*/, LPQOS /*sqos*/,
                    LPQOS /*gqos*/, LPWSABUF /*callee_id*/, LPWSABUF /*callee_data*/, GROUP* /*g*/,
                    DWORD_PTR data) {
    auto* a = reinterpret_cast<Answer*>(data);
    a->thread = std::this_thread::get_id();
    ++a->calls;
    return a->verdict;
}

}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE(
        "LPWSPACCEPT blocking: the condition function runs on the accepting thread once a "
        "connection is there - CF_DEFER then CF_REJECT answer at once - CF_ACCEPT returns it") {
        Hosts h;
        const SOCKET l = listen_on(h.b, kAddrB, 5000);
        Answer a;
        a.verdict = CF_DEFER;
        int err = 0;
        std::atomic<int> accept_error{0};
        // A blocking WSPAccept waits for the connection, then asks.
        std::thread server([&] {
            int e = 0;
            if (WSPAccept(l, nullptr, nullptr, &answer, reinterpret_cast<DWORD_PTR>(&a), &e) ==
                INVALID_SOCKET)
                accept_error = e;
        });
        const std::thread::id server_id = server.get_id();
        const SOCKET c = new_socket(h.a);
        REQUIRE(connect_to(c, kAddrB, 5000) == 0);
        server.join();
        CHECK(accept_error == WSATRY_AGAIN);
        CHECK(a.thread == server_id);
        // The connection stays at the head: a blocking WSPAccept asks again at once.
        a.verdict = CF_DEFER;
        CHECK(WSPAccept(l, nullptr, nullptr, &answer, reinterpret_cast<DWORD_PTR>(&a), &err) ==
              INVALID_SOCKET);
        CHECK(err == WSATRY_AGAIN);
        CHECK(a.thread == std::this_thread::get_id());
        a.verdict = CF_ACCEPT;
        const SOCKET s =
            WSPAccept(l, nullptr, nullptr, &answer, reinterpret_cast<DWORD_PTR>(&a), &err);
        REQUIRE_MESSAGE(s != INVALID_SOCKET, WSPErrorName(err));
        CHECK(a.calls == 3);
        REQUIRE(send_str(c, "x") == 0);
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(s, buf, sizeof buf, &n) == 0);
        CHECK(n == 1);
        // A second connection, rejected: the client's blocking receive sees the reset.
        const SOCKET c2 = new_socket(h.a);
        REQUIRE(connect_to(c2, kAddrB, 5000) == 0);
        a.verdict = CF_REJECT;
        CHECK(WSPAccept(l, nullptr, nullptr, &answer, reinterpret_cast<DWORD_PTR>(&a), &err) ==
              INVALID_SOCKET);
        CHECK(err == WSAECONNREFUSED);
        CHECK(recv_bytes(c2, buf, sizeof buf, &n) == WSAECONNRESET);
    }

    TEST_CASE(
        "LPWSPACCEPT blocking: WSPAccepts on one listener from several threads take one verdict "
        "at a time - none fails WSAEINPROGRESS") {
        Hosts h;
        const SOCKET l = listen_on(h.b, kAddrB, 5000, 64);
        constexpr int kServers = 4;
        constexpr int kClients = 40;
        std::atomic<int> accepted{0};
        std::atomic<int> last_error{0};
        std::atomic<int> inside{0};  // condition functions running at once
        std::atomic<int> most{0};
        struct Count {
            std::atomic<int>* inside;
            std::atomic<int>* most;
        } count{&inside, &most};
        auto slow = [](LPWSABUF, LPWSABUF, LPQOS, LPQOS, LPWSABUF, LPWSABUF, GROUP*,
                       DWORD_PTR data) -> int {
            auto* c = reinterpret_cast<Count*>(data);
            const int now = ++*c->inside;
            int m = c->most->load();
            while (now > m && !c->most->compare_exchange_weak(m, now)) {
            }
            std::this_thread::yield();
            --*c->inside;
            return CF_ACCEPT;
        };
        std::vector<std::thread> servers;
        for (int i = 0; i < kServers; ++i) {
            servers.emplace_back([&] {
                for (;;) {
                    int e = 0;
                    const SOCKET s = WSPAccept(l, nullptr, nullptr, slow,
                                               reinterpret_cast<DWORD_PTR>(&count), &e);
                    if (s == INVALID_SOCKET) {
                        // The listener closed: under the call (WSAEINTR) or before it.
                        if (e != WSAEINTR && e != WSAENOTSOCK)
                            last_error = e;
                        return;
                    }
                    ++accepted;
                    accepted.notify_all();
                }
            });
        }
        std::vector<SOCKET> clients;
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(new_socket(h.a));
            REQUIRE(connect_to(clients.back(), kAddrB, 5000) == 0);
        }
        // Every connection accepted (the fixture's watchdog bounds the wait); the servers end
        // when the listener closes.
        for (int n = accepted.load(); n < kClients; n = accepted.load()) accepted.wait(n);
        CHECK(accepted == kClients);
        REQUIRE(close_socket(l) == 0);
        for (auto& t : servers) t.join();
        CHECK_MESSAGE(last_error == 0, WSPErrorName(last_error));
        CHECK(most == 1);
    }

    TEST_CASE(
        "SO_CONDITIONAL_ACCEPT blocking: CF_ACCEPT waits for the handshake and returns the "
        "connection - a blocking WSPConnect gets the callee data or WSAEFAULT when it does not "
        "fit") {
        Hosts h;
        const SOCKET l = new_socket(h.b);
        int err = 0;
        const BOOL on = 1;
        REQUIRE(WSPSetSockOpt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT,
                              reinterpret_cast<const char*>(&on), sizeof on, &err) == 0);
        const SOCKADDR_IN at = sockaddr_of(kAddrB, 5000);
        REQUIRE(WSPBind(l, sa(at), kSaLen, &err) == 0);
        REQUIRE(WSPListen(l, 8, &err) == 0);
        struct Callee {
            const char* data;
        };
        auto give = [](LPWSABUF, LPWSABUF, LPQOS, LPQOS, LPWSABUF, LPWSABUF callee_data, GROUP*,
                       DWORD_PTR data) -> int {
            const char* d = reinterpret_cast<Callee*>(data)->data;
            const u_long n = static_cast<u_long>(std::strlen(d));
            if (callee_data == nullptr || callee_data->len < n)
                return CF_REJECT;
            std::memcpy(callee_data->buf, d, n);
            callee_data->len = n;
            return CF_ACCEPT;
        };
        Callee session{"session-42"};
        SOCKET server = INVALID_SOCKET;
        std::atomic<int> accept_error{0};
        std::thread t([&] {
            int e = 0;
            server =
                WSPAccept(l, nullptr, nullptr, give, reinterpret_cast<DWORD_PTR>(&session), &e);
            accept_error = e;
        });
        const SOCKET c = new_socket(h.a);
        char room[32];
        WSABUF callee{sizeof room, room};
        char hello[] = "client-7";
        WSABUF caller{8, hello};
        const SOCKADDR_IN to = sockaddr_of(kAddrB, 5000);
        REQUIRE(WSPConnect(c, sa(to), kSaLen, &caller, &callee, nullptr, nullptr, &err) == 0);
        CHECK(std::string(room, callee.len) == "session-42");
        t.join();
        REQUIRE_MESSAGE(server != INVALID_SOCKET, WSPErrorName(accept_error));
        char got[32];
        int len = sizeof got;
        REQUIRE(WSPGetSockOpt(server, SOL_SOCKET, SO_CONNDATA, got, &len, &err) == 0);
        CHECK(std::string(got, static_cast<std::size_t>(len)) == "client-7");
        // A callee buffer too small: WSAEFAULT, the connection stands, SO_CONNDATA has it.
        std::thread t2([&] {
            int e = 0;
            server =
                WSPAccept(l, nullptr, nullptr, give, reinterpret_cast<DWORD_PTR>(&session), &e);
        });
        const SOCKET c2 = new_socket(h.a);
        char tiny[4];
        WSABUF small{sizeof tiny, tiny};
        CHECK(WSPConnect(c2, sa(to), kSaLen, &caller, &small, nullptr, nullptr, &err) ==
              SOCKET_ERROR);
        CHECK(err == WSAEFAULT);
        CHECK(small.len == sizeof tiny);  // nothing written
        t2.join();
        len = sizeof got;
        REQUIRE(WSPGetSockOpt(c2, SOL_SOCKET, SO_CONNDATA, got, &len, &err) == 0);
        CHECK(std::string(got, static_cast<std::size_t>(len)) == "session-42");
        REQUIRE(send_str(c2, "ok") == 0);  // connected
    }
}

namespace {

// A conditional listener on b:5000 (SO_CONDITIONAL_ACCEPT set before WSPListen).
SOCKET conditional_listener(Hosts& h, int backlog) {
    const SOCKET l = new_socket(h.b);
    int err = 0;
    const BOOL on = 1;
    REQUIRE(WSPSetSockOpt(l, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, reinterpret_cast<const char*>(&on),
                          sizeof on, &err) == 0);
    const SOCKADDR_IN at = sockaddr_of(kAddrB, 5000);
    REQUIRE(WSPBind(l, sa(at), kSaLen, &err) == 0);
    REQUIRE(WSPListen(l, backlog, &err) == 0);
    return l;
}

// The caller data a condition function saw, per accepting call.
struct Seen {
    std::string caller;
    int calls = 0;
    SOCKET close_first = INVALID_SOCKET;  // closed from inside the first call (then CF_ACCEPT)
};

int CALLBACK note_caller(LPWSABUF /*caller_id*/, LPWSABUF caller_data, LPQOS /*sqos*/,
                         LPQOS /*gqos*/, LPWSABUF /*callee_id*/, LPWSABUF /*callee_data*/,
                         GROUP* /*g*/, DWORD_PTR data) {
    auto* seen = reinterpret_cast<Seen*>(data);
    seen->caller = caller_data != nullptr ? std::string(caller_data->buf, caller_data->len) : "";
    if (++seen->calls == 1 && seen->close_first != INVALID_SOCKET)
        close_socket(seen->close_first);
    return CF_ACCEPT;
}

// SO_CONNDATA of an accepted socket: the caller data its SYN carried.
std::string caller_data_of(SOCKET s) {
    char got[64];
    int len = sizeof got;
    int err = 0;
    if (WSPGetSockOpt(s, SOL_SOCKET, SO_CONNDATA, got, &len, &err) != 0)
        return std::string("error ") + WSPErrorName(err);
    return {got, static_cast<std::size_t>(len)};
}

}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE(
        "LPWSPACCEPT blocking on a conditional listener: each of several threads' WSPAccept "
        "returns the connection its own condition function admitted") {
        Hosts h;
        constexpr int kServers = 3;
        constexpr int kClients = 60;
        const SOCKET l = conditional_listener(h, 64);
        std::atomic<int> accepted{0};
        std::atomic<int> mismatched{0};
        std::atomic<int> last_error{0};
        std::vector<std::thread> servers;
        std::vector<std::string> first_mismatch(kServers);
        for (int i = 0; i < kServers; ++i) {
            servers.emplace_back([&, i] {
                for (;;) {
                    Seen seen;
                    int e = 0;
                    const SOCKET s = WSPAccept(l, nullptr, nullptr, note_caller,
                                               reinterpret_cast<DWORD_PTR>(&seen), &e);
                    if (s == INVALID_SOCKET) {
                        if (e != WSAEINTR && e != WSAENOTSOCK)
                            last_error = e;
                        return;
                    }
                    if (const std::string got = caller_data_of(s); got != seen.caller) {
                        ++mismatched;
                        first_mismatch[static_cast<std::size_t>(i)] =
                            "admitted " + seen.caller + ", returned " + got;
                    }
                    ++accepted;
                    accepted.notify_all();
                }
            });
        }
        // Non-blocking connects, all at once, so that admitted handshakes overlap.
        std::vector<SOCKET> clients;
        std::vector<std::string> ids;
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(new_socket(h.a));
            REQUIRE(set_nonblocking(clients.back(), true) == 0);
            ids.push_back("client-" + std::to_string(i));
            WSABUF caller{static_cast<u_long>(ids.back().size()), ids.back().data()};
            const SOCKADDR_IN to = sockaddr_of(kAddrB, 5000);
            int err = 0;
            const int r = WSPConnect(clients.back(), sa(to), kSaLen, &caller, nullptr, nullptr,
                                     nullptr, &err);
            REQUIRE((r == 0 || err == WSAEWOULDBLOCK));
        }
        for (int n = accepted.load(); n < kClients; n = accepted.load()) accepted.wait(n);
        REQUIRE(close_socket(l) == 0);
        for (auto& t : servers) t.join();
        CHECK(accepted == kClients);
        CHECK_MESSAGE(last_error == 0, WSPErrorName(last_error));
        std::string detail;
        for (const auto& m : first_mismatch) detail += m.empty() ? "" : m + "; ";
        CHECK_MESSAGE(mismatched == 0, detail);
    }

    TEST_CASE(
        "LPWSPACCEPT blocking on a conditional listener: when the handshake of the admitted "
        "caller fails (RFC 9293 §3.10.7.4 reset in SYN-RECEIVED) the call goes on to the next "
        "request and returns that one") {
        Hosts h;
        const SOCKET l = conditional_listener(h, 8);
        // The first caller's socket is closed while the condition function decides on it: its
        // host then answers the SYN-ACK with a RST, which ends the admitted handshake.
        const SOCKET gone = new_socket(h.a);
        REQUIRE(set_nonblocking(gone, true) == 0);
        std::string first = "client-gone";
        WSABUF caller{static_cast<u_long>(first.size()), first.data()};
        const SOCKADDR_IN to = sockaddr_of(kAddrB, 5000);
        int err = 0;
        const int r = WSPConnect(gone, sa(to), kSaLen, &caller, nullptr, nullptr, nullptr, &err);
        REQUIRE((r == 0 || err == WSAEWOULDBLOCK));
        const long long resets_before = host_stat(h.b, "rst_received");
        Seen seen;
        seen.close_first = gone;
        SOCKET server = INVALID_SOCKET;
        std::atomic<int> accept_error{0};
        std::atomic<bool> returned{false};
        std::thread t([&] {
            int e = 0;
            server =
                WSPAccept(l, nullptr, nullptr, note_caller, reinterpret_cast<DWORD_PTR>(&seen), &e);
            accept_error = e;
            returned = true;
        });
        // The second caller connects (blocking) once the first handshake has been reset: its
        // connection can only complete through the same WSPAccept deciding on it.
        const auto deadline = std::chrono::steady_clock::now() + kWait;
        while (host_stat(h.b, "rst_received") == resets_before &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
        REQUIRE(host_stat(h.b, "rst_received") > resets_before);
        CHECK_FALSE(returned.load());
        const SOCKET next = new_socket(h.a);
        std::string second = "client-next";
        WSABUF caller2{static_cast<u_long>(second.size()), second.data()};
        REQUIRE(WSPConnect(next, sa(to), kSaLen, &caller2, nullptr, nullptr, nullptr, &err) == 0);
        t.join();
        REQUIRE_MESSAGE(server != INVALID_SOCKET, WSPErrorName(accept_error));
        CHECK(seen.calls == 2);
        CHECK(seen.caller == "client-next");
        CHECK(caller_data_of(server) == "client-next");
        REQUIRE(send_str(next, "hi") == 0);
        char buf[4];
        DWORD n = 0;
        CHECK(recv_bytes(server, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "hi");
    }
}
