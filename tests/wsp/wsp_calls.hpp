// What every WSP API test uses, on virtual time or on real threads: the two hosts' addresses,
// small call wrappers that return the WSAE* code, network-event collection, host counters.
// Only ustack/wsp.h -- the public API.
//
// This header includes ustack/wsp.h, so no socket header may be included next to it.
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "support/wsp_address.hpp"
#include "ustack/wsp.h"

namespace wsptest {

using ustack::test::in_addr_of;
using ustack::test::sockaddr_of;

inline const IN_ADDR kAddrA = in_addr_of(10, 0, 0, 1);  // client side
inline const IN_ADDR kAddrB = in_addr_of(10, 0, 0, 2);  // server side

inline const SOCKADDR* sa(const SOCKADDR_IN& s) {
    return reinterpret_cast<const SOCKADDR*>(&s);
}
inline constexpr int kSaLen = static_cast<int>(sizeof(SOCKADDR_IN));

// One host's settings in a test pair.
struct HostParams {
    int disconnect_data = 1;
    bool device_may_return = false;  // HostOptions: WSPHOSTCONFIG::reattach
    std::uint32_t recv_buffer = 0;   // 0: the host default (1 MiB)
    std::uint32_t send_buffer = 0;
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
    return WSPConnect(s, sa(to), kSaLen, nullptr, nullptr, nullptr, nullptr, &err) == 0 ? 0 : err;
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
    if (sent != nullptr)
        *sent = n;
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

inline int shutdown_socket(SOCKET s, int how) {
    int err = 0;
    return WSPShutdown(s, how, &err) == 0 ? 0 : err;
}

inline int send_disconnect(SOCKET s, const void* data, std::size_t len) {
    WSABUF b{static_cast<u_long>(len), const_cast<CHAR*>(static_cast<const CHAR*>(data))};
    int err = 0;
    return WSPSendDisconnect(s, &b, &err) == 0 ? 0 : err;
}

// RecvDisconnect into a `cap`-byte buffer (64 unless told); *out gets the data.
inline int recv_disconnect(SOCKET s, std::string* out, u_long cap = 64) {
    std::vector<CHAR> buf(cap == 0 ? 1 : cap);
    WSABUF b{cap, buf.data()};
    int err = 0;
    if (WSPRecvDisconnect(s, &b, &err) != 0)
        return err;
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
    return WSPGetSockOpt(s, level, name, reinterpret_cast<char*>(value), &len, &err) == 0 ? 0 : err;
}

inline u_long fionread(SOCKET s) {
    u_long n = 0;
    DWORD ret = 0;
    int err = 0;
    CHECK(WSPIoctl(s, FIONREAD, nullptr, 0, &n, sizeof n, &ret, &err) == 0);
    return n;
}

// WSPSelect on one socket in one of its sets; returns WSPSelect's result (the count, or
// SOCKET_ERROR with the code in *err).
enum class Sel { read, write, except };
inline int select_one(SOCKET s, Sel which, TIMEVAL tv = {0, 0}, int* err = nullptr) {
    WSP_FD_SET set{};
    set.fd_count = 1;
    set.fd_array[0] = s;
    int e = 0;
    const int r =
        WSPSelect(0, which == Sel::read ? &set : nullptr, which == Sel::write ? &set : nullptr,
                  which == Sel::except ? &set : nullptr, &tv, &e);
    if (err != nullptr)
        *err = e;
    return r;
}
// With a zero timeout: readable (data, end of stream, reset, or a pending connection on a
// listener) / writable.
inline bool readable(SOCKET s) {
    return select_one(s, Sel::read) == 1;
}
inline bool writable(SOCKET s) {
    return select_one(s, Sel::write) == 1;
}

// WSPSelect on an idle connected pair: the server is not readable (its set comes back
// empty), both ends are writable.
inline void check_select_idle(SOCKET client, SOCKET server) {
    int err = 0;
    WSP_FD_SET rd{};
    rd.fd_count = 1;
    rd.fd_array[0] = server;
    const TIMEVAL zero{0, 0};
    CHECK(WSPSelect(0, &rd, nullptr, nullptr, &zero, &err) == 0);
    CHECK(rd.fd_count == 0);
    WSP_FD_SET wr{};
    wr.fd_count = 2;
    wr.fd_array[0] = client;
    wr.fd_array[1] = server;
    CHECK(WSPSelect(0, nullptr, &wr, nullptr, &zero, &err) == 2);
    CHECK(wr.fd_count == 2);
}
// WSPSelect reports `s` readable and leaves just it in the set.
inline void check_select_readable(SOCKET s, TIMEVAL tv) {
    int err = 0;
    WSP_FD_SET rd{};
    rd.fd_count = 1;
    rd.fd_array[0] = s;
    CHECK(WSPSelect(0, &rd, nullptr, nullptr, &tv, &err) == 1);
    CHECK(rd.fd_count == 1);
    CHECK(rd.fd_array[0] == s);
}

// WSPSelect's argument errors: an unknown handle, no sets at all, a negative time-out (`valid`
// is any open socket).
inline void check_select_errors(SOCKET valid) {
    int err = 0;
    CHECK(select_one(0xdead, Sel::read, {0, 0}, &err) == SOCKET_ERROR);
    CHECK(err == WSAENOTSOCK);
    const TIMEVAL zero{0, 0};
    CHECK(WSPSelect(0, nullptr, nullptr, nullptr, &zero, &err) == SOCKET_ERROR);
    CHECK(err == WSAEINVAL);
    CHECK(select_one(valid, Sel::read, {-1, 0}, &err) == SOCKET_ERROR);
    CHECK(err == WSAEINVAL);
}

// A connected pair: client on host a, server (accepted) on host b.
struct Pair {
    SOCKET listener = INVALID_SOCKET;
    SOCKET client = INVALID_SOCKET;
    SOCKET server = INVALID_SOCKET;
};

// WSPEventSelect on one socket with its own event object; collects the reported events.
// (Waiting for them is the fixture's business: an event wait on real threads, the link's
// run_until on virtual time.)
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
    SOCKET socket() const { return s_; }

    // Enumerate once (no wait); returns the bits just reported.
    long poll() {
        WSANETWORKEVENTS ne{};
        int err = 0;
        if (WSPEnumNetworkEvents(s_, ev_, &ne, &err) != 0)
            return 0;
        for (int b = 0; b < FD_MAX_EVENTS; ++b) {
            if (ne.lNetworkEvents & (1L << b)) {
                errors_[static_cast<std::size_t>(b)] = ne.iErrorCode[b];
                counts_[static_cast<std::size_t>(b)]++;
            }
        }
        seen_ |= ne.lNetworkEvents;
        return ne.lNetworkEvents;
    }
    // Whether one of `bits` has been reported since the last take() (polls first).
    bool has(long bits) {
        poll();
        return (seen_ & bits) != 0;
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

// One counter of WSPFormatHostStats ("name value" lines), or -1.
inline long long host_stat(WSPHOST h, const std::string& name) {
    std::vector<char> buf(8192);
    if (WSPFormatHostStats(h, buf.data(), buf.size()) < 0)
        return -1;
    const std::string text(buf.data());
    const std::string key = name + " ";
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t eol = text.find('\n', pos);
        const std::string line = text.substr(pos, eol - pos);
        if (line.rfind(key, 0) == 0)
            return std::stoll(line.substr(key.size()));
        if (eol == std::string::npos)
            break;
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
