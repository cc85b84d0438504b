// fuzz_wsp: random sequences of WSP calls on valid, closed and bogus handles, with valid, NULL,
// short and oversized buffers, over two hosts joined in memory.
//
// The hosts are real HostCores (the WSP layer, the Stack, the codec -- what WSPStartup builds)
// created with ustack::create_host, but driven by the deterministic, single-threaded driver of
// tests/support/virtual_hosts.hpp instead of AsioHost's engine thread: packets move between the
// hosts and virtual time advances only in the `pump` step. That keeps every run reproducible
// (libFuzzer must be able to replay a crash) and fast; tests/wsp runs the WSP semantics on the
// same driver, and the threaded runtime over tun/'s MemoryLink.
//
// Nothing may block: every socket is made non-blocking (FIONBIO) as soon as it exists, FIONBIO
// is only ever set to non-blocking, WSPSelect gets a zero (or an invalid) timeout and
// WSAWaitForMultipleEvents a zero timeout. WSPCleanup waits for engine passes, so it runs on
// the fixture's helper thread while this thread pumps both hosts until it returns (only where
// the input asks for WSPCleanup; otherwise an input ends with a fast, single-threaded teardown).
//
// Invariants: no crash, no sanitizer report, no hang; every call returns success (0, a count or
// a handle, with *lpErrno == 0) or SOCKET_ERROR / INVALID_SOCKET with a known WSAE* code;
// byte counts never exceed the buffers given.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "block_cache.hpp"
#include "fuzz_common.hpp"
#include "support/virtual_hosts.hpp"
#include "ustack/host_core.hpp"
#include "ustack/wsp.h"

using namespace ustack::fuzz;

namespace {

constexpr std::size_t kMaxOps = 300;
constexpr int kUnset = -7777;  // *lpErrno before a call: success must overwrite it with 0

bool known_error(int e) {
    return e >= WSABASEERR && std::strcmp(WSPErrorName(e), "WSA?") != 0;
}

void check_int(const char* call, int r, int err) {
    if (r == SOCKET_ERROR) {
        FUZZ_CHECK(known_error(err), "%s failed with unknown error %d", call, err);
    } else {
        FUZZ_CHECK(r == 0 && err == 0, "%s returned %d with error %d", call, r, err);
    }
}
void check_socket(const char* call, SOCKET s, int err) {
    if (s == INVALID_SOCKET) {
        FUZZ_CHECK(known_error(err), "%s failed with unknown error %d", call, err);
    } else {
        FUZZ_CHECK(err == 0, "%s returned a socket with error %d", call, err);
    }
}

// WSPAccept's condition function under the fuzzer: answers the verdict the input chose (passed
// as dwCallbackData), writing a few bytes of callee data when it accepts and there is room.
int CALLBACK fuzz_condition(LPWSABUF /*caller_id*/, LPWSABUF caller_data, LPQOS /*sqos*/,
                            LPQOS /*gqos*/, LPWSABUF /*callee_id*/, LPWSABUF callee_data, GROUP* g,
                            DWORD_PTR data) {
    const auto v = static_cast<int>(data & 0xff);
    if (caller_data != nullptr && caller_data->len > 0) {
        FUZZ_CHECK(caller_data->buf != nullptr, "caller data without a buffer");
    }
    if (v == CF_ACCEPT && callee_data != nullptr && callee_data->len > 0) {
        const u_long n = std::min<u_long>(callee_data->len, 3);
        std::memset(callee_data->buf, 0x5a, n);
        callee_data->len = n;
    }
    if ((data & 0x100) != 0) {
        *g = 1;  // a socket group: WSAEINVAL
    }
    return v;
}

class Harness {
public:
    explicit Harness(Reader& in) : in_(in) {
        const std::uint8_t cfg = in_.u8();
        real_cleanup_ = (cfg & 0x80) != 0;
        for (int i = 0; i < 2; ++i) {
            ustack::HostOptions o;
            o.stack.addr = ustack::ipv4(10, 0, 0, static_cast<std::uint8_t>(1 + i));
            o.stack.tcp.disconnect_data = (cfg & (1 << i)) != 0;
            o.stack.tcp.msl = ustack::Duration(100'000);
            o.stack.tcp.timestamps = (cfg & 0x04) == 0;
            if ((cfg & 0x08) != 0) {
                o.stack.tcp.recv_buffer = 2048;
                o.stack.tcp.send_buffer = 4096;
            }
            o.secret = ustack::SipKey{static_cast<std::uint8_t>(i + 1)};
            o.cleanup_timeout = ustack::Duration(1'000'000);
            host_[i] = net_.add_host(o);
            addr_[i] = ustack::test::wsp_addr(o.stack.addr);
        }
        // The input may drop, corrupt or duplicate what a lossy pump carries.
        net_.set_filter([this](std::size_t /*from*/, std::vector<std::vector<std::byte>>& batch) {
            if (lossy_)
                mangle(batch);
        });
    }

    ~Harness() {
        if (real_cleanup_) {
            cleanup({0, 1});
        } else {
            teardown();
        }
        for (WSAEVENT e : events_) (void)WSACloseEvent(e);
    }
    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;

    void run() {
        for (std::size_t n = 0; n < kMaxOps && !in_.empty(); ++n) step();
    }

private:
    // ---- the link and the clock ---------------------------------------------------------------

    // Service both hosts and carry packets across until nothing moves (at most 32 rounds).
    // `lossy`: the input may drop or corrupt packets.
    void pump(bool lossy) {
        lossy_ = lossy;
        (void)net_.run_rounds(32);
        lossy_ = false;
    }

    void mangle(std::vector<std::vector<std::byte>>& batch) {
        const std::uint8_t m = in_.u8();
        if ((m & 0x0f) == 0 && !batch.empty())
            batch.erase(batch.begin() + (m >> 4) % batch.size());
        if ((m & 0xf0) == 0x10 && !batch.empty()) {
            auto& p = batch[in_.u8() % batch.size()];
            if (!p.empty())
                p[in_.u16() % p.size()] ^= std::byte{static_cast<std::uint8_t>(1 + in_.u8() % 255)};
        }
        if ((m & 0xf0) == 0x20 && !batch.empty())
            batch.push_back(batch.front());
    }

    // A clock jump (timers run late, at the pump), then a pump.
    void advance() {
        static constexpr std::int64_t kSteps[] = {0, 1'000, 40'000, 200'000, 1'000'000, 5'000'000};
        const std::uint8_t k = in_.u8();
        net_.jump(ustack::Duration(kSteps[k % std::size(kSteps)]));
        pump((k & 0x80) != 0);
    }

    // WSPCleanup the given hosts, one after the other (the other host keeps answering), on the
    // fixture's helper thread while this thread pumps both and advances virtual time (never
    // lossy: the pump must not read the input while WSPCleanup runs).
    void cleanup(std::initializer_list<int> which) {
        std::vector<WSPHOST*> hosts;
        for (int i : which)
            if (host_[i] != nullptr)
                hosts.push_back(&host_[i]);
        for (WSPHOST* h : hosts) {
            const auto r = net_.cleanup({h}, kUnset);
            check_int("WSPCleanup", r[0].rc, r[0].err);
        }
    }

    // The fast end of an input (no threads): close every socket as WSPCloseSocket does, let
    // the hosts finish their closes in virtual time, then do what WSPCleanup does after its wait
    // (ustack::destroy_host). WSPCleanup itself needs a second thread to run the
    // engine while it waits, which costs more than the rest of a typical input, so it runs only
    // when the input asks for it (config bit 7, and the mid-run cleanup step).
    void teardown() {
        for (SOCKET s : sockets_) {
            int err = kUnset;
            const int r = WSPCloseSocket(s, &err);
            check_int("WSPCloseSocket", r, err);
            if (r == SOCKET_ERROR && err == WSAEWOULDBLOCK) {
                // Non-blocking SO_LINGER {1,n} that cannot complete: close abortively instead.
                const LINGER hard{1, 0};
                (void)WSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&hard),
                                    sizeof hard, &err);
                (void)WSPCloseSocket(s, &err);
            }
        }
        for (int i = 0; i < 40; ++i) {
            net_.jump(ustack::Duration(100'000));
            (void)net_.step();
        }
        for (WSPHOST& h : host_) {
            if (h == nullptr)
                continue;
            FUZZ_CHECK(net_.destroy(h) == 0, "destroy_host failed");
        }
    }

    // ---- operands -----------------------------------------------------------------------------

    WSPHOST pick_host() {
        const std::uint8_t k = in_.u8();
        switch (k % 8) {
            case 6: return nullptr;
            case 7: return reinterpret_cast<WSPHOST>(static_cast<std::uintptr_t>(0x1000 + k));
            default: return host_[k % 2];  // may be nullptr after a cleanup
        }
    }

    SOCKET pick_socket() {
        const std::uint8_t k = in_.u8();
        if (k < 224 && !sockets_.empty())
            return sockets_[k % sockets_.size()];
        switch (k % 4) {
            case 0: return INVALID_SOCKET;
            case 1: return 0;
            case 2: return static_cast<SOCKET>(0x100 + in_.u8());
            default: return static_cast<SOCKET>(in_.u32());
        }
    }

    WSAEVENT pick_event() {
        const std::uint8_t k = in_.u8();
        if (k < 200 && !events_.empty())
            return events_[k % events_.size()];
        if (k % 2 == 0)
            return WSA_INVALID_EVENT;
        return reinterpret_cast<WSAEVENT>(static_cast<std::uintptr_t>(0x40 + k));  // bogus
    }

    std::uint16_t pick_port() {
        static constexpr std::uint16_t kPorts[] = {0, 80, 81, 40000, 80, 81};
        const std::uint8_t k = in_.u8();
        return k < 240 ? kPorts[k % std::size(kPorts)] : in_.u16();
    }

    // An address for bind/connect: one of the hosts, any, another, or garbage; `len` and the
    // pointer vary too (NULL, short, wrong family).
    struct Addr {
        SOCKADDR_IN sin{};
        const SOCKADDR* ptr = nullptr;
        int len = 0;
    };
    Addr pick_addr() {
        Addr a;
        const std::uint8_t k = in_.u8();
        a.sin.sin_family = (k & 0x40) != 0 ? static_cast<short>(in_.u8()) : AF_INET;
        switch (k % 5) {
            case 0: a.sin.sin_addr = addr_[0]; break;
            case 1: a.sin.sin_addr = addr_[1]; break;
            case 2: a.sin.sin_addr.s_addr = INADDR_ANY; break;
            case 3: a.sin.sin_addr = ustack::test::wsp_addr(ustack::ipv4(10, 0, 0, 9)); break;
            default: a.sin.sin_addr.s_addr = in_.u32(); break;
        }
        const std::uint16_t port = pick_port();
        const std::uint8_t p[2] = {static_cast<std::uint8_t>(port >> 8),
                                   static_cast<std::uint8_t>(port & 0xff)};
        std::memcpy(&a.sin.sin_port, p, 2);
        a.ptr = (k & 0x80) != 0 && (k & 0x20) != 0 ? nullptr
                                                   : reinterpret_cast<const SOCKADDR*>(&a.sin);
        a.len =
            (k & 0x20) != 0 ? static_cast<int>(in_.s8()) : static_cast<int>(sizeof(SOCKADDR_IN));
        return a;
    }

    // A WSABUF array: up to 4 buffers of assorted lengths, some NULL with a length.
    struct Bufs {
        std::vector<WSABUF> v;
        std::vector<std::vector<char>> storage;
        LPWSABUF ptr = nullptr;
        DWORD count = 0;
        std::size_t total = 0;
    };
    Bufs pick_bufs() {
        Bufs b;
        const std::uint8_t k = in_.u8();
        const std::size_t n = k % 5;
        static constexpr std::size_t kLens[] = {0, 1, 7, 100, 1460, 5000, 70'000, 16};
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t l = in_.u8();
            const std::size_t len = kLens[l % std::size(kLens)];
            b.storage.emplace_back(len, static_cast<char>('a' + i));
            WSABUF w{static_cast<u_long>(len), b.storage.back().data()};
            if ((l & 0xf8) == 0xf8)
                w.buf = nullptr;  // NULL with a length: WSAEFAULT
            if (len == 0 && (l & 0x80) != 0)
                w.buf = nullptr;
            b.v.push_back(w);
            b.total += len;
        }
        b.ptr = (k & 0xe0) == 0xe0 ? nullptr : (b.v.empty() ? nullptr : b.v.data());
        b.count = static_cast<DWORD>(n);
        if (b.ptr == nullptr && (k & 0x10) != 0)
            b.count = 0;
        return b;
    }

    // ---- one step -------------------------------------------------------------------------------

    void step() {
        const std::uint8_t op = in_.u8();
        int err = kUnset;
        switch (op % 24) {
            case 0:
            case 1: {
                WSPHOST h = pick_host();
                const std::uint8_t k = in_.u8();
                const int af = (k & 0x03) == 0x03 ? 23 : AF_INET;
                // Stream and message-oriented sockets (DESIGN.md §3b) both, and a bad type.
                const int type = (k & 0x0c) == 0x0c   ? 2
                                 : (k & 0x0c) == 0x08 ? SOCK_SEQPACKET
                                                      : SOCK_STREAM;
                const int proto = (k & 0x30) == 0x30 ? 17 : ((k & 0x10) != 0 ? 0 : IPPROTO_TCP);
                const SOCKET s = WSPSocket(h, af, type, proto, &err);
                check_socket("WSPSocket", s, err);
                if (s != INVALID_SOCKET)
                    adopt(s);
                break;
            }
            case 2: {
                const SOCKET s = pick_socket();
                const Addr a = pick_addr();
                check_int("WSPBind", WSPBind(s, a.ptr, a.len, &err), err);
                break;
            }
            case 3: {
                const SOCKET s = pick_socket();
                check_int("WSPListen", WSPListen(s, in_.s8(), &err), err);
                break;
            }
            case 4: {
                const SOCKET s = pick_socket();
                SOCKADDR_IN sin{};
                int len = static_cast<int>(sizeof sin);
                const std::uint8_t k = in_.u8();
                if ((k & 3) == 1)
                    len = 4;
                SOCKADDR* ap = (k & 4) != 0 ? nullptr : reinterpret_cast<SOCKADDR*>(&sin);
                LPINT lp = (k & 8) != 0 ? nullptr : &len;
                // A condition function answering CF_ACCEPT, CF_REJECT, CF_DEFER or garbage, and
                // sometimes setting a group.
                static constexpr DWORD_PTR kVerdicts[] = {CF_ACCEPT, CF_REJECT, CF_DEFER, 9};
                const DWORD_PTR verdict = kVerdicts[(k >> 5) & 3] | ((k & 0x80) != 0 ? 0x100 : 0);
                const SOCKET n = WSPAccept(s, ap, lp, (k & 0x10) != 0 ? &fuzz_condition : nullptr,
                                           verdict, &err);
                check_socket("WSPAccept", n, err);
                if (n != INVALID_SOCKET)
                    adopt(n);
                break;
            }
            case 5: {
                const SOCKET s = pick_socket();
                const Addr a = pick_addr();
                // Caller data (0..31 bytes, sometimes a bad buffer), a callee buffer of 0..31
                // bytes that stays valid until the harness ends, QOS now and then.
                const std::uint8_t k = in_.u8();
                std::vector<char> caller(k & 31, 'c');
                WSABUF cb{static_cast<u_long>(caller.size()), caller.data()};
                if ((k & 0x20) != 0 && cb.len > 0)
                    cb.buf = nullptr;
                callee_.emplace_back(in_.u8() & 31);
                WSABUF* out = &callee_bufs_.emplace_back(
                    WSABUF{static_cast<u_long>(callee_.back().size()), callee_.back().data()});
                QOS qos{};
                check_int("WSPConnect",
                          WSPConnect(s, a.ptr, a.len, (k & 0x40) != 0 ? &cb : nullptr,
                                     (k & 0x80) != 0 ? out : nullptr,
                                     (k & 0x1f) == 0x1f ? &qos : nullptr, nullptr, &err),
                          err);
                break;
            }
            case 6:
            case 7: {
                const SOCKET s = pick_socket();
                Bufs b = pick_bufs();
                DWORD sent = 0xdeadbeef;
                const std::uint8_t k = in_.u8();
                const DWORD flags = (k & 0x0f) == 0x0f ? 1 : 0;
                const int r =
                    WSPSend(s, b.ptr, b.count, (k & 0x10) != 0 ? nullptr : &sent, flags, &err);
                check_int("WSPSend", r, err);
                if (r == 0 && (k & 0x10) == 0)
                    FUZZ_CHECK(sent <= b.total, "WSPSend reports %u of %zu bytes", sent, b.total);
                break;
            }
            case 8:
            case 9: {
                const SOCKET s = pick_socket();
                Bufs b = pick_bufs();
                DWORD got = 0xdeadbeef;
                const std::uint8_t k = in_.u8();
                DWORD flags = (k & 0x0f) == 0x0f ? 2 : 0;
                const int r = WSPRecv(s, b.ptr, b.count, (k & 0x10) != 0 ? nullptr : &got,
                                      (k & 0x20) != 0 ? nullptr : &flags, &err);
                check_int("WSPRecv", r, err);
                if (r == 0 && (k & 0x10) == 0)
                    FUZZ_CHECK(got <= b.total, "WSPRecv reports %u bytes in %zu", got, b.total);
                if (r == 0 && (k & 0x20) == 0)
                    FUZZ_CHECK(flags == 0 || flags == MSG_PARTIAL, "WSPRecv flags %u", flags);
                break;
            }
            case 10: {
                const SOCKET s = pick_socket();
                const std::uint8_t k = in_.u8();
                const int how = k < 240 ? k % 3 : static_cast<int>(in_.s8());
                check_int("WSPShutdown", WSPShutdown(s, how, &err), err);
                break;
            }
            case 11: {
                const SOCKET s = pick_socket();
                const std::uint8_t k = in_.u8();
                char data[48];
                std::memset(data, 'D', sizeof data);
                WSABUF w{static_cast<u_long>(k % 41), data};
                if ((k & 0xc0) == 0xc0)
                    w.buf = nullptr;
                check_int("WSPSendDisconnect",
                          WSPSendDisconnect(s, (k & 0xc0) == 0x80 ? nullptr : &w, &err), err);
                break;
            }
            case 12: {
                const SOCKET s = pick_socket();
                const std::uint8_t k = in_.u8();
                char data[64];
                WSABUF w{static_cast<u_long>(k % 65), data};
                if ((k & 0xc0) == 0xc0)
                    w.buf = nullptr;
                const int r = WSPRecvDisconnect(s, (k & 0xc0) == 0x80 ? nullptr : &w, &err);
                check_int("WSPRecvDisconnect", r, err);
                if (r == 0 && (k & 0xc0) != 0x80)
                    FUZZ_CHECK(w.len <= 36, "WSPRecvDisconnect returned %lu bytes", w.len);
                break;
            }
            case 13: {
                const SOCKET s = pick_socket();
                check_int("WSPCloseSocket", WSPCloseSocket(s, &err), err);
                break;
            }
            case 14: sockopt_set(); break;
            case 15: sockopt_get(); break;
            case 16: ioctl(); break;
            case 17: event_select(); break;
            case 18: select(); break;
            case 19: event_ops(); break;
            case 20: names(); break;
            case 21: {
                WSPHOST h = pick_host();
                (void)WSPGetServiceFlags(h);
                char buf[256];
                const std::size_t len = in_.u8() % 2 == 0 ? sizeof buf : in_.u8() % 8;
                const int n = WSPFormatHostStats(h, (len & 1) != 0 && len < 4 ? nullptr : buf, len);
                FUZZ_CHECK(n < 0 || static_cast<std::size_t>(n) < std::max<std::size_t>(len, 1),
                           "WSPFormatHostStats wrote %d into %zu", n, len);
                break;
            }
            case 22:
                if (in_.u8() == 0x5c) {
                    // Rarely: one host goes away in the middle of things.
                    cleanup({in_.u8() % 2});
                }
                break;
            default: advance(); break;
        }
    }

    void adopt(SOCKET s) {
        sockets_.push_back(s);
        u_long on = 1;
        int err = kUnset;
        const int r = WSPIoctl(s, FIONBIO, &on, sizeof on, nullptr, 0, nullptr, &err);
        FUZZ_CHECK(r == 0 && err == 0, "FIONBIO on a fresh socket failed: %d", err);
    }

    void sockopt_set() {
        const SOCKET s = pick_socket();
        const std::uint8_t k = in_.u8();
        static constexpr int kLevels[] = {SOL_SOCKET, IPPROTO_TCP, 0, 0x7fff};
        static constexpr int kOpts[] = {SO_LINGER,      SO_DONTLINGER, TCP_NODELAY, SO_ERROR,
                                        SO_DISCDATALEN, SO_SNDBUF,     0x1234,      SO_TYPE};
        const int level = kLevels[k & 3];
        const int opt = kOpts[(k >> 2) & 7];
        char val[8] = {};
        const LINGER l{static_cast<u_short>(in_.u8() % 2), static_cast<u_short>(in_.u8() % 4)};
        if (opt == SO_LINGER)
            std::memcpy(val, &l, sizeof l);
        else
            val[0] = static_cast<char>(in_.u8() % 2);
        const int len = (k & 0x20) != 0 ? in_.u8() % 8 : static_cast<int>(sizeof(int));
        int err = kUnset;
        check_int("WSPSetSockOpt",
                  WSPSetSockOpt(s, level, opt, (k & 0x40) != 0 && (k & 0x80) != 0 ? nullptr : val,
                                len, &err),
                  err);
    }

    void sockopt_get() {
        const SOCKET s = pick_socket();
        const std::uint8_t k = in_.u8();
        static constexpr int kLevels[] = {SOL_SOCKET, IPPROTO_TCP, 0, 0x7fff};
        static constexpr int kOpts[] = {SO_LINGER,      SO_DONTLINGER, TCP_NODELAY, SO_ERROR,
                                        SO_DISCDATALEN, SO_SNDBUF,     SO_RCVBUF,   SO_TYPE};
        char val[16];
        int len = (k & 0x20) != 0 ? in_.u8() % 8 : static_cast<int>(sizeof val);
        const int before = len;
        int err = kUnset;
        const int r = WSPGetSockOpt(s, kLevels[k & 3], kOpts[(k >> 2) & 7],
                                    (k & 0x40) != 0 && (k & 0x80) != 0 ? nullptr : val,
                                    (k & 0x80) != 0 && (k & 0x40) == 0 ? nullptr : &len, &err);
        check_int("WSPGetSockOpt", r, err);
        if (r == 0)
            FUZZ_CHECK(len <= before, "WSPGetSockOpt wrote %d bytes into %d", len, before);
    }

    void ioctl() {
        const SOCKET s = pick_socket();
        const std::uint8_t k = in_.u8();
        u_long in_val = 1 + in_.u8();  // FIONBIO: never back to blocking (no call may hang)
        u_long out_val = 0;
        DWORD ret = 0;
        const DWORD code = (k & 3) == 0   ? FIONBIO
                           : (k & 3) == 1 ? FIONREAD
                           : (k & 3) == 2 ? 0x12345678
                                          : FIONREAD;
        void* in = (k & 0x04) != 0 ? nullptr : &in_val;
        const DWORD in_len = (k & 0x08) != 0 ? 2 : sizeof in_val;
        void* out = (k & 0x10) != 0 ? nullptr : &out_val;
        const DWORD out_len = (k & 0x20) != 0 ? 2 : sizeof out_val;
        int err = kUnset;
        check_int(
            "WSPIoctl",
            WSPIoctl(s, code, in, in_len, out, out_len, (k & 0x40) != 0 ? nullptr : &ret, &err),
            err);
    }

    void event_select() {
        const SOCKET s = pick_socket();
        const WSAEVENT e = pick_event();
        const std::uint8_t k = in_.u8();
        const long mask = k < 200 ? (k & FD_ALL_EVENTS) : static_cast<long>(in_.u16());
        int err = kUnset;
        check_int("WSPEventSelect", WSPEventSelect(s, e, mask, &err), err);
    }

    void select() {
        WSP_FD_SET sets[3]{};
        WSP_FD_SET* p[3] = {nullptr, nullptr, nullptr};
        const std::uint8_t k = in_.u8();
        for (int i = 0; i < 3; ++i) {
            if ((k & (1 << i)) == 0)
                continue;
            p[i] = &sets[i];
            const unsigned n = in_.u8() % 5;
            for (unsigned j = 0; j < n; ++j) sets[i].fd_array[sets[i].fd_count++] = pick_socket();
            if ((k & 0x80) != 0 && i == 0)
                sets[i].fd_count = 65;  // > WSP_FD_SETSIZE
        }
        TIMEVAL tv{0, 0};
        if ((k & 0x30) == 0x10)
            tv.tv_sec = -1;
        if ((k & 0x30) == 0x20)
            tv.tv_usec = 1'000'000;
        int err = kUnset;
        const int r = WSPSelect(0, p[0], p[1], p[2], &tv, &err);
        if (r == SOCKET_ERROR) {
            FUZZ_CHECK(known_error(err), "WSPSelect failed with unknown error %d", err);
        } else {
            FUZZ_CHECK(r >= 0 && err == 0, "WSPSelect returned %d with error %d", r, err);
            unsigned total = 0;
            for (auto* set : p)
                if (set != nullptr)
                    total += set->fd_count;
            FUZZ_CHECK(static_cast<unsigned>(r) == total, "WSPSelect counted %d, sets hold %u", r,
                       total);
        }
    }

    void event_ops() {
        const std::uint8_t k = in_.u8();
        switch (k % 6) {
            case 0:
                if (events_.size() < 16) {
                    WSAEVENT e = WSACreateEvent();
                    FUZZ_CHECK(e != WSA_INVALID_EVENT, "WSACreateEvent failed");
                    events_.push_back(e);
                }
                break;
            case 1: {
                if (events_.empty())
                    break;
                const std::size_t i = in_.u8() % events_.size();
                FUZZ_CHECK(WSACloseEvent(events_[i]) != 0, "WSACloseEvent of a live event failed");
                events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(i));
                break;
            }
            case 2: (void)WSASetEvent(pick_event()); break;
            case 3: (void)WSAResetEvent(pick_event()); break;
            default: {
                WSAEVENT list[WSA_MAXIMUM_WAIT_EVENTS + 1];
                const std::uint8_t n = in_.u8();
                const DWORD count = n < 250 ? n % 5 : WSA_MAXIMUM_WAIT_EVENTS + 1;
                for (DWORD i = 0; i < std::min<DWORD>(count, WSA_MAXIMUM_WAIT_EVENTS + 1); ++i)
                    list[i] = pick_event();
                const DWORD r = WSAWaitForMultipleEvents(
                    count, (n & 0x80) != 0 && n < 250 ? nullptr : list, (k & 0x40) != 0, 0, 0);
                FUZZ_CHECK(r == WSA_WAIT_TIMEOUT || r == WSA_WAIT_FAILED || r < count,
                           "WSAWaitForMultipleEvents returned %u for %u events", r, count);
                break;
            }
        }
        if ((k & 0x80) != 0) {
            const SOCKET s = pick_socket();
            WSANETWORKEVENTS ne{};
            int err = kUnset;
            check_int("WSPEnumNetworkEvents",
                      WSPEnumNetworkEvents(s, pick_event(), (k & 0x40) != 0 ? nullptr : &ne, &err),
                      err);
        }
    }

    void names() {
        const SOCKET s = pick_socket();
        const std::uint8_t k = in_.u8();
        SOCKADDR_IN sin{};
        int len = (k & 2) != 0 ? static_cast<int>(in_.s8()) : static_cast<int>(sizeof sin);
        SOCKADDR* ap = (k & 4) != 0 ? nullptr : reinterpret_cast<SOCKADDR*>(&sin);
        LPINT lp = (k & 8) != 0 ? nullptr : &len;
        int err = kUnset;
        if ((k & 1) != 0)
            check_int("WSPGetPeerName", WSPGetPeerName(s, ap, lp, &err), err);
        else
            check_int("WSPGetSockName", WSPGetSockName(s, ap, lp, &err), err);
    }

    Reader& in_;
    ustack::test::VirtualHosts net_{
        {}, [](const std::string& m) { FUZZ_CHECK(false, "%s", m.c_str()); }};
    bool lossy_ = false;
    WSPHOST host_[2] = {nullptr, nullptr};
    IN_ADDR addr_[2]{};
    std::vector<SOCKET> sockets_;
    std::vector<WSAEVENT> events_;
    // WSPConnect's lpCalleeData buffers: written when a connect completes, so they live as
    // long as the hosts.
    std::deque<std::vector<char>> callee_;
    std::deque<WSABUF> callee_bufs_;
    bool real_cleanup_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in(data, size);
    Harness h(in);
    h.run();
    return 0;
}
