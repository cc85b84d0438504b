// ustack-peer: one connection of a scripted end-to-end test, on ustack (the far end is usually a
// Linux socket, see tests/e2e/linux_peer.py). Every outcome is one line on stdout:
//
//   listening <port>                     (--listen: ready for the peer to connect)
//   connected <peer addr:port>
//   OK <what> [...]                      a step that succeeded
//   ERR <WSAE...> <what>                 a call that failed (the test decides if that was expected)
//   FD_CLOSE <0|WSAE...>                 the FD_CLOSE network event and its error code
//   sha256 sent|recv <hex> <bytes>       digest of everything sent / received on the connection
//   rate sent|recv <MiB/s>               throughput of the transfer
//
// Exit status: 0 when the mode ran to its end (whatever errors it reported as expected), 1 on an
// unexpected failure, 2 on bad arguments.
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "data_gen.hpp"
#include "host_options.hpp"
#include "sha256.hpp"
#include "ustack/byte_order.hpp"

namespace {

const char* kHelp =
    "usage: ustack-peer --addr A.B.C.D/N (--connect A.B.C.D | --listen) [--port P] --mode M "
    "[options]\n"
    "One TCP connection on ustack, for end-to-end tests against Linux or another ustack.\n"
    "  --connect A.B.C.D   connect to this address (port --port)\n"
    "  --listen            listen on --port and accept one connection\n"
    "  --port P            1..65535 (default 9000)\n"
    "  --mode M            what to do on the connection:\n"
    "     send             send --bytes, WSPShutdown(SD_SEND), read to end of stream, close\n"
    "     recv             read to end of stream, close\n"
    "     duplex           send --bytes (then SD_SEND) while reading to end of stream\n"
    "     send-then-recv   send --bytes, SD_SEND, then read to end of stream (half-close by us)\n"
    "     recv-then-send   read to end of stream (the peer's half-close), then send --bytes, "
    "close\n"
    "     wait-reset       read --bytes, select FD_READ|FD_CLOSE, send \"go\", wait for FD_CLOSE,\n"
    "                      then WSPRecv (expects the peer to reset: WSAECONNRESET twice)\n"
    "     abort            send --bytes, SO_LINGER {1,0}, close (RST)\n"
    "     close-unread     wait until data is readable, close without reading it (RST)\n"
    "     linger-expiry    fill the send path (non-blocking sends until WSAEWOULDBLOCK, at most\n"
    "                      --bytes), SO_LINGER {1,--linger}, blocking close (expiry: RST)\n"
    "     discdata         send --bytes, WSPSendDisconnect with 8 bytes (--disc-total); on\n"
    "                      WSAENOPROTOOPT fall back to WSPShutdown(SD_SEND); read to end, close\n"
    "  --bytes N           bytes to send, 0..1024G (suffixes K, M, G: KiB, MiB, GiB; default\n"
    "                      1M)\n"
    "  --seed S            seed of the deterministic data, 0..2^64-1 (default 1)\n"
    "  --linger N          linger seconds for linger-expiry, 0..65535 (default 1)\n"
    "  --disc-total T      the 8-byte disconnect data of mode discdata, a signed 64-bit\n"
    "                      number (default 42)\n"
    "  --timeout-ms T      bound on every wait, 1..86400000: accept, connect, and each\n"
    "                      WSPSend/WSPRecv (SO_SNDTIMEO/SO_RCVTIMEO: ERR WSAETIMEDOUT);\n"
    "                      default 30000\n"
    "  --hold-ms N         keep the host running N ms after the mode ends, before WSPCleanup\n"
    "                      (0..86400000)\n"
    "  --no-digest         skip generating and hashing the data (profiling: the sha256 lines\n"
    "                      then show '-'); the byte counts are still reported\n"
    "  --self-test         check the SHA-256 implementation (FIPS 180-4 vectors) and exit\n";

constexpr std::uint64_t kMaxBytes = std::uint64_t{1} << 40;  // --bytes: 1 TiB
constexpr std::uint64_t kMaxMs = 86'400'000;                 // --timeout-ms, --hold-ms: a day

struct Opts {
    std::string connect;
    bool listen = false;
    unsigned short port = 9000;
    std::string mode;
    std::uint64_t bytes = 1 << 20;
    std::uint64_t seed = 1;
    unsigned linger = 1;
    std::int64_t disc_total = 42;
    unsigned timeout_ms = 30000;
    unsigned hold_ms = 0;
};

bool g_digest = true;  // --no-digest clears it

void line(const std::string& s) {
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
}

void report_err(int e, const std::string& what) {
    line(std::string("ERR ") + WSPErrorName(e) + " " + what);
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

using apps::DataGen;

// Send `n` deterministic bytes; false (after reporting) on failure.
bool send_all(SOCKET s, std::uint64_t n, std::uint64_t seed, const char* what) {
    DataGen g(seed);
    apps::Sha256 h;
    std::vector<unsigned char> buf(256 * 1024);
    std::uint64_t done = 0;
    const double t0 = now_s();
    while (done < n) {
        const std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - done));
        if (g_digest || done == 0)
            g.fill(buf.data(), chunk);
        std::size_t off = 0;
        while (off < chunk) {
            WSABUF b{static_cast<u_long>(chunk - off), reinterpret_cast<char*>(buf.data() + off)};
            DWORD sent = 0;
            int e = 0;
            if (WSPSend(s, &b, 1, &sent, 0, &e) != 0) {
                report_err(e, std::string(what) + " WSPSend after " + std::to_string(done + off) +
                                  " bytes");
                return false;
            }
            off += sent;
        }
        if (g_digest)
            h.update(buf.data(), chunk);
        done += chunk;
    }
    const double dt = now_s() - t0;
    line("sha256 sent " + (g_digest ? h.hex_digest() : std::string("-")) + " " +
         std::to_string(done));
    char r[64];
    std::snprintf(r, sizeof r, "rate sent %.1f MiB/s (%.2f s)",
                  dt > 0 ? static_cast<double>(done) / 1048576.0 / dt : 0.0, dt);
    line(r);
    return true;
}

// Read to end of stream; false (after reporting) on an error.
bool recv_all(SOCKET s, const char* what) {
    apps::Sha256 h;
    std::vector<char> buf(256 * 1024);
    std::uint64_t done = 0;
    const double t0 = now_s();
    for (;;) {
        WSABUF b{static_cast<u_long>(buf.size()), buf.data()};
        DWORD got = 0, flags = 0;
        int e = 0;
        if (WSPRecv(s, &b, 1, &got, &flags, &e) != 0) {
            report_err(e, std::string(what) + " WSPRecv after " + std::to_string(done) + " bytes");
            line("sha256 recv " + h.hex_digest() + " " + std::to_string(done));
            return false;
        }
        if (got == 0)
            break;
        if (g_digest)
            h.update(buf.data(), got);
        done += got;
    }
    const double dt = now_s() - t0;
    line("sha256 recv " + (g_digest ? h.hex_digest() : std::string("-")) + " " +
         std::to_string(done));
    line("OK eof " + std::string(what));
    char r[64];
    std::snprintf(r, sizeof r, "rate recv %.1f MiB/s (%.2f s)",
                  dt > 0 ? static_cast<double>(done) / 1048576.0 / dt : 0.0, dt);
    line(r);
    return true;
}

bool recv_exact(SOCKET s, std::uint64_t n) {
    std::vector<char> buf(64 * 1024);
    std::uint64_t done = 0;
    while (done < n) {
        WSABUF b{static_cast<u_long>(std::min<std::uint64_t>(buf.size(), n - done)), buf.data()};
        DWORD got = 0, flags = 0;
        int e = 0;
        if (WSPRecv(s, &b, 1, &got, &flags, &e) != 0) {
            report_err(e, "WSPRecv");
            return false;
        }
        if (got == 0) {
            line("ERR EOF after " + std::to_string(done) + " of " + std::to_string(n) + " bytes");
            return false;
        }
        done += got;
    }
    line("OK received " + std::to_string(done) + " bytes");
    return true;
}

bool shutdown_send(SOCKET s) {
    int e = 0;
    if (WSPShutdown(s, SD_SEND, &e) != 0) {
        report_err(e, "WSPShutdown(SD_SEND)");
        return false;
    }
    line("OK WSPShutdown(SD_SEND)");
    return true;
}

bool close_socket(SOCKET s, const char* what = "WSPCloseSocket") {
    int e = 0;
    const double t0 = now_s();
    const int r = WSPCloseSocket(s, &e);
    char d[64];
    std::snprintf(d, sizeof d, " (%.2f s)", now_s() - t0);
    if (r != 0) {
        report_err(e, std::string(what) + d);
        return false;
    }
    line(std::string("OK ") + what + d);
    return true;
}

// --timeout-ms on the connection's own calls: a WSPSend or WSPRecv that waits longer fails with
// WSAETIMEDOUT (SO_SNDTIMEO / SO_RCVTIMEO), and the mode reports it like any other error.
bool bound_calls(SOCKET s, unsigned timeout_ms) {
    int e = 0;
    const DWORD ms = timeout_ms;
    for (const int opt : {SO_RCVTIMEO, SO_SNDTIMEO}) {
        if (WSPSetSockOpt(s, SOL_SOCKET, opt, reinterpret_cast<const char*>(&ms), sizeof ms, &e) !=
            0) {
            report_err(e, opt == SO_RCVTIMEO ? "SO_RCVTIMEO" : "SO_SNDTIMEO");
            return false;
        }
    }
    return true;
}

// Wait at most timeout_ms for `s` to be readable (a listener: a connection to accept) or, with
// `write`, writable or failed (a non-blocking connect that completed). 1 ready, 0 timed out,
// -1 error (reported).
int wait_ready(SOCKET s, bool write, unsigned timeout_ms, const char* what) {
    WSP_FD_SET set{};
    set.fd_count = 1;
    set.fd_array[0] = s;
    WSP_FD_SET failed = set;
    TIMEVAL tv{static_cast<long>(timeout_ms / 1000), static_cast<long>(timeout_ms % 1000) * 1000};
    int e = 0;
    const int n = write ? WSPSelect(0, nullptr, &set, &failed, &tv, &e)
                        : WSPSelect(0, &set, nullptr, nullptr, &tv, &e);
    if (n < 0) {
        report_err(e, std::string("WSPSelect ") + what);
        return -1;
    }
    if (n == 0)
        line(std::string("ERR TIMEOUT ") + what + " (--timeout-ms " + std::to_string(timeout_ms) +
             ")");
    return n > 0 ? 1 : 0;
}

// WSPConnect bounded by timeout_ms: non-blocking, then WSPSelect; the error of a connect that
// failed is SO_ERROR's. The socket is blocking again on success.
bool connect_bounded(SOCKET s, const SOCKADDR_IN& sin, unsigned timeout_ms, const char* what) {
    int e = 0;
    u_long nb = 1;
    DWORD ret = 0;
    if (WSPIoctl(s, FIONBIO, &nb, sizeof nb, nullptr, 0, &ret, &e) != 0) {
        report_err(e, "FIONBIO 1");
        return false;
    }
    if (WSPConnect(s, reinterpret_cast<const SOCKADDR*>(&sin), sizeof sin, nullptr, nullptr,
                   nullptr, nullptr, &e) != 0) {
        if (e != WSAEWOULDBLOCK) {
            report_err(e, what);
            return false;
        }
        if (wait_ready(s, true, timeout_ms, what) != 1)
            return false;
        int soerr = 0;
        int len = sizeof soerr;
        if (WSPGetSockOpt(s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&soerr), &len, &e) !=
            0) {
            report_err(e, "SO_ERROR");
            return false;
        }
        if (soerr != 0) {
            report_err(soerr, what);
            return false;
        }
    }
    nb = 0;
    if (WSPIoctl(s, FIONBIO, &nb, sizeof nb, nullptr, 0, &ret, &e) != 0) {
        report_err(e, "FIONBIO 0");
        return false;
    }
    return true;
}

std::string addr_str(const SOCKADDR_IN& sin) {
    const auto* a = reinterpret_cast<const unsigned char*>(&sin.sin_addr.s_addr);
    const auto port = ustack::load_be16(reinterpret_cast<const unsigned char*>(&sin.sin_port));
    return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
           std::to_string(a[3]) + ":" + std::to_string(port);
}

// Wait (bounded) until FD_CLOSE is recorded; print every network event seen.
bool wait_fd_close(SOCKET s, WSAEVENT ev, unsigned timeout_ms) {
    const double deadline = now_s() + timeout_ms / 1000.0;
    for (;;) {
        const double left = deadline - now_s();
        if (left <= 0) {
            line("ERR TIMEOUT waiting for FD_CLOSE");
            return false;
        }
        if (WSAWaitForMultipleEvents(1, &ev, 0, static_cast<DWORD>(left * 1000) + 1, 0) !=
            WSA_WAIT_EVENT_0)
            continue;
        WSANETWORKEVENTS ne{};
        int e = 0;
        if (WSPEnumNetworkEvents(s, ev, &ne, &e) != 0) {
            report_err(e, "WSPEnumNetworkEvents");
            return false;
        }
        if (ne.lNetworkEvents & FD_READ)
            line(std::string("FD_READ ") +
                 (ne.iErrorCode[FD_READ_BIT] ? WSPErrorName(ne.iErrorCode[FD_READ_BIT]) : "0"));
        if (ne.lNetworkEvents & FD_CLOSE) {
            line(std::string("FD_CLOSE ") +
                 (ne.iErrorCode[FD_CLOSE_BIT] ? WSPErrorName(ne.iErrorCode[FD_CLOSE_BIT]) : "0"));
            return true;
        }
    }
}

int run(SOCKET s, const Opts& o) {
    int e = 0;
    const std::string& m = o.mode;
    if (m == "send") {
        if (!send_all(s, o.bytes, o.seed, "send") || !shutdown_send(s) ||
            !recv_all(s, "after send"))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "recv") {
        if (!recv_all(s, "recv"))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "duplex") {
        std::atomic<bool> send_ok{false};
        std::thread t(
            [&] { send_ok = send_all(s, o.bytes, o.seed, "duplex") && shutdown_send(s); });
        const bool recv_ok = recv_all(s, "duplex");
        t.join();
        if (!send_ok || !recv_ok)
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "send-then-recv") {
        if (!send_all(s, o.bytes, o.seed, "first") || !shutdown_send(s) ||
            !recv_all(s, "half-closed"))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "recv-then-send") {
        if (!recv_all(s, "peer half-closed"))
            return 1;
        if (!send_all(s, o.bytes, o.seed, "after peer FIN"))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "wait-reset") {
        if (!recv_exact(s, o.bytes))
            return 1;
        WSAEVENT ev = WSACreateEvent();
        if (WSPEventSelect(s, ev, FD_READ | FD_CLOSE, &e) != 0) {
            report_err(e, "WSPEventSelect");
            return 1;
        }
        char go[2] = {'g', 'o'};
        WSABUF b{2, go};
        DWORD sent = 0;
        if (WSPSend(s, &b, 1, &sent, 0, &e) != 0) {
            report_err(e, "WSPSend(go)");
            return 1;
        }
        line("OK sent go");
        if (!wait_fd_close(s, ev, o.timeout_ms))
            return 1;
        char buf[256];
        WSABUF rb{sizeof buf, buf};
        DWORD got = 0, flags = 0;
        if (WSPRecv(s, &rb, 1, &got, &flags, &e) != 0) {
            report_err(e, "WSPRecv");
        } else {
            line("OK WSPRecv " + std::to_string(got));
        }
        close_socket(s);
        WSACloseEvent(ev);
        return 0;
    }
    if (m == "abort") {
        if (!send_all(s, o.bytes, o.seed, "abort"))
            return 1;
        LINGER l{1, 0};
        if (WSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), sizeof l, &e) !=
            0) {
            report_err(e, "SO_LINGER {1,0}");
            return 1;
        }
        return close_socket(s, "WSPCloseSocket linger {1,0}") ? 0 : 1;
    }
    if (m == "close-unread") {
        WSP_FD_SET rd{};
        rd.fd_count = 1;
        rd.fd_array[0] = s;
        TIMEVAL tv{static_cast<long>(o.timeout_ms / 1000),
                   static_cast<long>(o.timeout_ms % 1000) * 1000};
        const int n = WSPSelect(0, &rd, nullptr, nullptr, &tv, &e);
        if (n != 1) {
            if (n < 0)
                report_err(e, "WSPSelect");
            else
                line("ERR TIMEOUT waiting for data");
            return 1;
        }
        // Let the whole burst arrive, then report how much is left unread.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        u_long unread = 0;
        DWORD ret = 0;
        if (WSPIoctl(s, FIONREAD, nullptr, 0, &unread, sizeof unread, &ret, &e) != 0) {
            report_err(e, "FIONREAD");
            return 1;
        }
        line("OK unread " + std::to_string(unread) + " bytes");
        return close_socket(s, "WSPCloseSocket with unread data") ? 0 : 1;
    }
    if (m == "linger-expiry") {
        u_long nb = 1;
        DWORD ret = 0;
        if (WSPIoctl(s, FIONBIO, &nb, sizeof nb, nullptr, 0, &ret, &e) != 0) {
            report_err(e, "FIONBIO 1");
            return 1;
        }
        DataGen g(o.seed);
        std::vector<unsigned char> buf(64 * 1024);
        std::uint64_t queued = 0;
        bool blocked = false;
        const double deadline = now_s() + o.timeout_ms / 1000.0;
        while (queued < o.bytes && now_s() < deadline) {
            g.fill(buf.data(), buf.size());
            WSABUF b{static_cast<u_long>(buf.size()), reinterpret_cast<char*>(buf.data())};
            DWORD sent = 0;
            if (WSPSend(s, &b, 1, &sent, 0, &e) != 0) {
                if (e != WSAEWOULDBLOCK) {
                    report_err(e, "WSPSend");
                    return 1;
                }
                // Blocked: wait a little in case the peer's window still opens, then stop.
                if (blocked)
                    break;
                blocked = true;
                std::this_thread::sleep_for(std::chrono::milliseconds(300));
                continue;
            }
            blocked = false;
            queued += sent;
        }
        line("OK queued " + std::to_string(queued) + " bytes" +
             (blocked ? " (WSAEWOULDBLOCK)" : ""));
        nb = 0;
        if (WSPIoctl(s, FIONBIO, &nb, sizeof nb, nullptr, 0, &ret, &e) != 0) {
            report_err(e, "FIONBIO 0");
            return 1;
        }
        LINGER l{1, static_cast<u_short>(o.linger)};
        if (WSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), sizeof l, &e) !=
            0) {
            report_err(e, "SO_LINGER");
            return 1;
        }
        return close_socket(s,
                            ("WSPCloseSocket linger {1," + std::to_string(o.linger) + "}").c_str())
                   ? 0
                   : 1;
    }
    if (m == "discdata") {
        int len = 0;
        int optlen = sizeof len;
        if (WSPGetSockOpt(s, SOL_SOCKET, SO_DISCDATALEN, reinterpret_cast<char*>(&len), &optlen,
                          &e) != 0) {
            report_err(e, "SO_DISCDATALEN");
        } else {
            line("OK SO_DISCDATALEN " + std::to_string(len));
        }
        if (o.bytes > 0 && !send_all(s, o.bytes, o.seed, "discdata"))
            return 1;
        unsigned char d[8];
        ustack::store_be64(d, static_cast<std::uint64_t>(o.disc_total));
        WSABUF b{8, reinterpret_cast<char*>(d)};
        if (WSPSendDisconnect(s, &b, &e) != 0) {
            report_err(e, "WSPSendDisconnect");
            if (e != WSAENOPROTOOPT || !shutdown_send(s))
                return 1;
        } else {
            line("OK WSPSendDisconnect");
        }
        if (!recv_all(s, "after disconnect"))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    std::cerr << "ustack-peer: unknown --mode " << m << " (see --help)\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    apps::HostOptions ho;
    apps::CommandLine cl(argc, argv);
    Opts o;
    IN_ADDR dst{};
    while (cl.next()) {
        if (cl.is("--help") || cl.is("-h")) {
            std::printf("%s%s", kHelp, apps::host_options_help());
            return 0;
        } else if (cl.is("--self-test")) {
            const bool ok = apps::sha256_self_test();
            std::printf("sha256 self-test %s\n", ok ? "OK" : "FAILED");
            return ok ? 0 : 1;
        } else if (cl.is("--connect")) {
            const auto a = cl.ipv4();
            std::memcpy(&dst.s_addr, a.data(), a.size());
            o.connect = std::to_string(a[0]) + "." + std::to_string(a[1]) + "." +
                        std::to_string(a[2]) + "." + std::to_string(a[3]);
        } else if (cl.is("--listen")) {
            o.listen = true;
        } else if (cl.is("--port")) {
            o.port = static_cast<unsigned short>(cl.number(1, 65535));
        } else if (cl.is("--mode")) {
            o.mode =
                cl.choice({"send", "recv", "duplex", "send-then-recv", "recv-then-send",
                           "wait-reset", "abort", "close-unread", "linger-expiry", "discdata"});
        } else if (cl.is("--bytes")) {
            o.bytes = cl.size(0, kMaxBytes, "0..1024G");
        } else if (cl.is("--no-digest")) {
            g_digest = false;
        } else if (cl.is("--seed")) {
            o.seed = cl.number(0, UINT64_MAX);
        } else if (cl.is("--linger")) {
            o.linger = static_cast<unsigned>(cl.number(0, 65535));
        } else if (cl.is("--disc-total")) {
            o.disc_total = cl.signed_number(INT64_MIN, INT64_MAX);
        } else if (cl.is("--hold-ms")) {
            o.hold_ms = static_cast<unsigned>(cl.number(0, kMaxMs));
        } else if (cl.is("--timeout-ms")) {
            o.timeout_ms = static_cast<unsigned>(cl.number(1, kMaxMs));
        } else if (!apps::parse_host_option(cl, ho)) {
            cl.unknown();
        }
    }
    apps::check_host_options(cl, ho);
    if (o.mode.empty() || (o.connect.empty() == !o.listen))
        cl.fail("need --mode and exactly one of --connect/--listen");
    if (!apps::sha256_self_test()) {
        std::cerr << "ustack-peer: SHA-256 self-test failed\n";
        return 1;
    }
    WSPHOST host = apps::start_host(ho);
    int e = 0;
    int status = 1;
    SOCKET ls = INVALID_SOCKET;
    SOCKET s = INVALID_SOCKET;
    do {
        if (o.listen) {
            ls = WSPSocket(host, AF_INET, SOCK_STREAM, IPPROTO_TCP, &e);
            SOCKADDR_IN sin = apps::make_sockaddr(IN_ADDR{INADDR_ANY}, o.port);
            if (ls == INVALID_SOCKET ||
                WSPBind(ls, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin, &e) != 0 ||
                WSPListen(ls, 4, &e) != 0) {
                report_err(e, "listen");
                break;
            }
            line("listening " + std::to_string(o.port));
            if (wait_ready(ls, false, o.timeout_ms, "waiting for a connection") != 1)
                break;
            SOCKADDR_IN peer{};
            int len = sizeof peer;
            s = WSPAccept(ls, reinterpret_cast<SOCKADDR*>(&peer), &len, nullptr, 0, &e);
            if (s == INVALID_SOCKET) {
                report_err(e, "WSPAccept");
                break;
            }
            line("connected " + addr_str(peer));
            (void)WSPCloseSocket(ls, &e);
            ls = INVALID_SOCKET;
        } else {
            s = WSPSocket(host, AF_INET, SOCK_STREAM, IPPROTO_TCP, &e);
            if (s == INVALID_SOCKET) {
                report_err(e, "WSPSocket");
                break;
            }
            const SOCKADDR_IN sin = apps::make_sockaddr(dst, o.port);
            if (!connect_bounded(s, sin, o.timeout_ms, ("WSPConnect " + o.connect).c_str()))
                break;
            line("connected " + o.connect + ":" + std::to_string(o.port));
        }
        if (bound_calls(s, o.timeout_ms))
            status = run(s, o);
    } while (false);
    if (ls != INVALID_SOCKET)
        (void)WSPCloseSocket(ls, &e);
    if (o.hold_ms != 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(o.hold_ms));
    apps::stop_host(host, ho);
    return status;
}
