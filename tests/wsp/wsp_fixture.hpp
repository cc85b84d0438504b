// Fixture for the WSP API tests: two real hosts (HostCore + AsioHost engine threads) joined by
// an in-memory link with optional seeded loss -- no TUN, no root. Everything that waits is
// bounded: event waits take a timeout, and a watchdog ends the process if a blocking call hangs.
//
// This header includes ustack/wsp.h, so no socket header may be included next to it.
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ustack/memory_link.hpp"
#include "ustack/wsp.h"

namespace wsptest {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

// Upper bound of any single wait -- a hang guard, never a timing assertion.
constexpr Ms kWait{30'000};
// How long a negative check ("no FD_CLOSE arrives") watches. Passing it proves nothing arrived
// in that window, so it can only fail when the stack really misbehaves.
constexpr Ms kQuiet{300};

inline IN_ADDR in_addr_of(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IN_ADDR r{};
    const std::uint8_t bytes[4] = {a, b, c, d};  // network order
    std::memcpy(&r.s_addr, bytes, 4);
    return r;
}
inline const IN_ADDR kAddrA = in_addr_of(10, 0, 0, 1);  // client side
inline const IN_ADDR kAddrB = in_addr_of(10, 0, 0, 2);  // server side

inline SOCKADDR_IN sockaddr_of(IN_ADDR addr, std::uint16_t port) {
    SOCKADDR_IN s{};
    s.sin_family = AF_INET;
    s.sin_addr = addr;
    const std::uint8_t p[2] = {static_cast<std::uint8_t>(port >> 8),
                               static_cast<std::uint8_t>(port & 0xff)};
    std::memcpy(&s.sin_port, p, 2);
    return s;
}
inline const SOCKADDR* sa(const SOCKADDR_IN& s) { return reinterpret_cast<const SOCKADDR*>(&s); }
inline constexpr int kSaLen = static_cast<int>(sizeof(SOCKADDR_IN));

// Ends the process if a test outlives its budget (a blocking call that never returns would
// otherwise hang CI until ctest's own timeout, without saying where).
class Watchdog {
public:
    explicit Watchdog(std::chrono::seconds budget, std::string what = "test")
        : what_(std::move(what)), thread_([this, budget] {
              std::unique_lock lock(m_);
              if (!cv_.wait_for(lock, budget, [this] { return done_; })) {
                  std::fprintf(stderr, "wsp tests: watchdog: %s still running after %llds\n",
                               what_.c_str(), static_cast<long long>(budget.count()));
                  std::fflush(stderr);
                  std::_Exit(124);
              }
          }) {}
    ~Watchdog() {
        {
            std::lock_guard lock(m_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

private:
    std::string what_;
    std::mutex m_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

struct HostParams {
    int disconnect_data = 1;
    std::uint32_t recv_buffer = 0;  // 0: default
    std::uint32_t send_buffer = 0;
};

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
            if (a != nullptr) ra = WSPCleanup(a, &ea);
        });
        const int rb = b != nullptr ? WSPCleanup(b, &eb) : 0;
        ta.join();
        CHECK(ra == 0);
        CHECK(rb == 0);
    }
    Hosts(const Hosts&) = delete;
    Hosts& operator=(const Hosts&) = delete;

    void set_loss(double loss) { link_->set_loss(loss); }
    // WSPCleanup one host now (the destructor then skips it).
    int cleanup(WSPHOST& h) {
        int err = 0;
        const int r = WSPCleanup(h, &err);
        h = nullptr;
        return r == 0 ? 0 : err;
    }

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

// ---- small call wrappers: return the WSAE* code (0 on success) ---------------------------

inline SOCKET new_socket(WSPHOST h) {
    int err = 0;
    SOCKET s = WSPSocket(h, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
    REQUIRE_MESSAGE(s != INVALID_SOCKET, WSPErrorName(err));
    return s;
}

inline SOCKET listen_on(WSPHOST h, IN_ADDR addr, std::uint16_t port, int backlog = 16) {
    SOCKET l = new_socket(h);
    int err = 0;
    const SOCKADDR_IN at = sockaddr_of(addr, port);
    REQUIRE_MESSAGE(WSPBind(l, sa(at), kSaLen, &err) == 0, WSPErrorName(err));
    REQUIRE_MESSAGE(WSPListen(l, backlog, &err) == 0, WSPErrorName(err));
    return l;
}

inline int connect_to(SOCKET s, IN_ADDR addr, std::uint16_t port) {
    int err = 0;
    const SOCKADDR_IN to = sockaddr_of(addr, port);
    return WSPConnect(s, sa(to), kSaLen, &err) == 0 ? 0 : err;
}

inline int close_socket(SOCKET s) {
    int err = 0;
    return WSPCloseSocket(s, &err) == 0 ? 0 : err;
}

// Send; *sent (optional) gets the byte count.
inline int send_bytes(SOCKET s, const void* data, std::size_t len, DWORD* sent = nullptr) {
    WSABUF b{static_cast<u_long>(len), const_cast<CHAR*>(static_cast<const CHAR*>(data))};
    DWORD n = 0;
    int err = 0;
    const int r = WSPSend(s, &b, 1, &n, 0, &err);
    if (sent != nullptr) *sent = n;
    return r == 0 ? 0 : err;
}
inline int send_str(SOCKET s, const std::string& d, DWORD* sent = nullptr) {
    return send_bytes(s, d.data(), d.size(), sent);
}

// Receive into buf; *got gets the byte count (0 = end of stream).
inline int recv_bytes(SOCKET s, void* buf, std::size_t len, DWORD* got) {
    WSABUF b{static_cast<u_long>(len), static_cast<CHAR*>(buf)};
    DWORD flags = 0;
    int err = 0;
    *got = 0;
    return WSPRecv(s, &b, 1, got, &flags, &err) == 0 ? 0 : err;
}

// Blocking socket: read until end of stream (or an error, returned in *err).
inline std::string read_to_eof(SOCKET s, int* err) {
    std::string out;
    char buf[4096];
    for (;;) {
        DWORD got = 0;
        *err = recv_bytes(s, buf, sizeof buf, &got);
        if (*err != 0 || got == 0) return out;
        out.append(buf, got);
    }
}

inline int shutdown_socket(SOCKET s, int how) {
    int err = 0;
    return WSPShutdown(s, how, &err) == 0 ? 0 : err;
}

inline int send_disconnect(SOCKET s, const void* data, std::size_t len) {
    WSABUF b{static_cast<u_long>(len), const_cast<CHAR*>(static_cast<const CHAR*>(data))};
    int err = 0;
    return WSPSendDisconnect(s, &b, &err) == 0 ? 0 : err;
}

// RecvDisconnect into a 64-byte buffer; *out gets the data.
inline int recv_disconnect(SOCKET s, std::string* out, u_long cap = 64) {
    std::vector<CHAR> buf(cap == 0 ? 1 : cap);
    WSABUF b{cap, buf.data()};
    int err = 0;
    if (WSPRecvDisconnect(s, &b, &err) != 0) return err;
    out->assign(buf.data(), b.len);
    return 0;
}

inline int set_linger(SOCKET s, u_short onoff, u_short secs) {
    LINGER l{onoff, secs};
    int err = 0;
    return WSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l,
                         &err) == 0
               ? 0
               : err;
}

inline int set_nonblocking(SOCKET s, bool on) {
    u_long v = on ? 1 : 0;
    DWORD ret = 0;
    int err = 0;
    return WSPIoctl(s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, &err) == 0 ? 0 : err;
}

inline int get_int_opt(SOCKET s, int level, int name, int* value) {
    int len = sizeof(int);
    int err = 0;
    return WSPGetSockOpt(s, level, name, reinterpret_cast<char*>(value), &len, &err) == 0 ? 0
                                                                                          : err;
}

inline u_long fionread(SOCKET s) {
    u_long n = 0;
    DWORD ret = 0;
    int err = 0;
    CHECK(WSPIoctl(s, FIONREAD, nullptr, 0, &n, sizeof n, &ret, &err) == 0);
    return n;
}

// A connected pair: client on host a, server (accepted) on host b.
struct Pair {
    SOCKET listener = INVALID_SOCKET;
    SOCKET client = INVALID_SOCKET;
    SOCKET server = INVALID_SOCKET;
};
inline Pair connect_pair(Hosts& h, std::uint16_t port = 5000) {
    Pair p;
    p.listener = listen_on(h.b, kAddrB, port);
    p.client = new_socket(h.a);
    const int e = connect_to(p.client, kAddrB, port);
    REQUIRE_MESSAGE(e == 0, WSPErrorName(e));
    int err = 0;
    p.server = WSPAccept(p.listener, nullptr, nullptr, &err);
    REQUIRE_MESSAGE(p.server != INVALID_SOCKET, WSPErrorName(err));
    return p;
}

// WSPEventSelect on one socket with its own event object; collects the reported events.
class Events {
public:
    Events(SOCKET s, long mask) : s_(s), ev_(WSACreateEvent()) {
        REQUIRE(ev_ != WSA_INVALID_EVENT);
        int err = 0;
        REQUIRE_MESSAGE(WSPEventSelect(s, ev_, mask, &err) == 0, WSPErrorName(err));
        errors_.fill(-1);
    }
    ~Events() { WSACloseEvent(ev_); }
    Events(const Events&) = delete;
    Events& operator=(const Events&) = delete;

    WSAEVENT event() const { return ev_; }

    // Enumerate once (no wait); returns the bits just reported.
    long poll() {
        WSANETWORKEVENTS ne{};
        int err = 0;
        if (WSPEnumNetworkEvents(s_, ev_, &ne, &err) != 0) return 0;
        for (int b = 0; b < FD_MAX_EVENTS; ++b) {
            if (ne.lNetworkEvents & (1L << b)) {
                errors_[static_cast<std::size_t>(b)] = ne.iErrorCode[b];
                counts_[static_cast<std::size_t>(b)]++;
            }
        }
        seen_ |= ne.lNetworkEvents;
        return ne.lNetworkEvents;
    }
    // Wait until one of `bits` has been reported (since the last take()), at most `timeout`.
    bool wait(long bits, Ms timeout = kWait) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            poll();
            if (seen_ & bits) return true;
            const auto left =
                std::chrono::duration_cast<Ms>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            WSAEVENT e = ev_;
            const DWORD r = WSAWaitForMultipleEvents(1, &e, 0, static_cast<DWORD>(left.count()), 0);
            if (r == WSA_WAIT_FAILED) return false;
        }
    }
    long seen() const { return seen_; }
    int error(int bit) const { return errors_[static_cast<std::size_t>(bit)]; }
    int count(int bit) const { return counts_[static_cast<std::size_t>(bit)]; }
    void take(long bits) { seen_ &= ~bits; }

private:
    SOCKET s_;
    WSAEVENT ev_;
    long seen_ = 0;
    std::array<int, FD_MAX_EVENTS> errors_{};
    std::array<int, FD_MAX_EVENTS> counts_{};
};

// Poll a condition with a deadline (for state only the host stats expose).
template <class Pred>
bool eventually(Pred pred, Ms timeout = kWait) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

// One counter of WSPFormatHostStats ("name value" lines), or -1.
inline long long host_stat(WSPHOST h, const std::string& name) {
    std::vector<char> buf(8192);
    if (WSPFormatHostStats(h, buf.data(), buf.size()) < 0) return -1;
    const std::string text(buf.data());
    const std::string key = name + " ";
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t eol = text.find('\n', pos);
        const std::string line = text.substr(pos, eol - pos);
        if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
        if (eol == std::string::npos) break;
        pos = eol + 1;
    }
    return -1;
}

inline std::string pattern(std::size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761U + 1;
    for (auto& c : s) {
        x = x * 1103515245U + 12345U;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

}  // namespace wsptest
