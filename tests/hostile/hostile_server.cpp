// ustack-hostile-server: the ustack end of the hostile-peer tests (tests/hostile/*.sh).
//
// A host like the apps' (WSP API over a TUN device), except that it starts the host itself so the
// tests can set engine knobs WSPHOSTCONFIG does not carry (user timeout, retransmission limits,
// orphan timeout, bounds), and that it prints every StackStats counter and its memory at exit:
//
//   listening <port> | accepted <addr:port> | OK ... | ERR <WSAE...> ... | FD_CLOSE <0|WSAE...>
//   sha256 sent|recv <hex> <bytes>
//   <WSPFormatHostStats lines>               e.g. challenge_acks 10, drop_bad_tcp_checksum 1
//   stack_<StackStats field> <n>             e.g. stack_syn_cookies_sent 49872
//   rss_kb <n> / rss_peak_kb <n>             VmRSS / VmHWM of this process at exit
//
// Modes (one connection accepted on --port):
//   recv-then-send  read to end of stream, send --bytes, close (gracefully)
//   send            send --bytes, shutdown(SD_SEND), read to end of stream, close
//   recv            read to end of stream, close
//   zero-window     send until WSAEWOULDBLOCK (the peer's window is closed), then: with --linger
//                   S, SO_LINGER {1,S} and a blocking close (timed); else wait for FD_CLOSE (the
//                   user timeout, --user-timeout-ms) and time it
//   send-close      send --bytes, close at once (orphaned graceful close), then wait until the
//                   host has no connection left (stack_connections_current 0) and time it
//   serve-many      accept and serve --conns connections with recv-then-send, one at a time
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "data_gen.hpp"
#include "host_options.hpp"
#include "sha256.hpp"
#include "ustack/host.hpp"
#include "ustack/host_core.hpp"
#include "ustack/tun_device.hpp"
#include "ustack/wsp.h"

namespace {

const char* kHelp =
    "usage: ustack-hostile-server --addr A.B.C.D/N --port P --mode M [options]\n"
    "  --mode M               recv-then-send | send | recv | zero-window | send-close | "
    "serve-many\n"
    "  --bytes N              bytes to send (K, M, G suffixes; default 1M)\n"
    "  --conns N              serve-many: connections to serve (default 1)\n"
    "  --backlog N            listen backlog (default 0: the stack's default, 128)\n"
    "  --linger S             zero-window: SO_LINGER {1,S} and a blocking close\n"
    "  --user-timeout-ms T    TcpConfig::user_timeout (RFC 5482; default off)\n"
    "  --max-retransmits N    TcpConfig::max_retransmits (default 12)\n"
    "  --rto-max-ms T         TcpConfig::rto_max (default 60000)\n"
    "  --orphan-timeout-ms T  StackConfig::orphan_fin_wait_2_timeout (default 60000)\n"
    "  --recv-buffer N        TcpConfig::recv_buffer\n"
    "  --no-syn-cookies       StackConfig::syn_cookies = false\n"
    "  --no-offload           TUN without virtio-net offloads\n"
    "  --timeout-ms T         bound on every wait (default 30000)\n";

struct Opts {
    unsigned short port = 9000;
    std::string mode;
    std::uint64_t bytes = 1 << 20;
    unsigned conns = 1;
    int backlog = 0;
    int linger = -1;
    unsigned user_timeout_ms = 0;
    int max_retransmits = -1;
    unsigned rto_max_ms = 0;
    unsigned orphan_timeout_ms = 0;
    std::size_t recv_buffer = 0;
    bool syn_cookies = true;
    bool offload = true;
    unsigned timeout_ms = 30000;
};

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

ustack::HostCore* g_core = nullptr;  // for the StackStats at exit (HostCore::stack_stats locks)

// Start a host as WSPStartup does, with our StackConfig.
WSPHOST start_host(const apps::HostOptions& ho, const Opts& o) {
    WSPHOSTCONFIG cfg{};
    std::string error;
    if (!apps::to_config(ho, cfg, error)) {
        std::cerr << "error: " << error << "\n";
        std::exit(2);
    }
    ustack::HostOptions opts;
    const auto* a = reinterpret_cast<const unsigned char*>(&cfg.addr.s_addr);
    opts.stack.addr = ustack::ipv4(a[0], a[1], a[2], a[3]);
    opts.stack.syn_cookies = o.syn_cookies;
    if (ho.msl_ms != 0)
        opts.stack.tcp.msl = ustack::Duration(std::int64_t{ho.msl_ms} * 1000);
    if (o.user_timeout_ms != 0)
        opts.stack.tcp.user_timeout = ustack::Duration(std::int64_t{o.user_timeout_ms} * 1000);
    if (o.max_retransmits >= 0)
        opts.stack.tcp.max_retransmits = static_cast<unsigned>(o.max_retransmits);
    if (o.rto_max_ms != 0)
        opts.stack.tcp.rto_max = ustack::Duration(std::int64_t{o.rto_max_ms} * 1000);
    if (o.orphan_timeout_ms != 0)
        opts.stack.orphan_fin_wait_2_timeout =
            ustack::Duration(std::int64_t{o.orphan_timeout_ms} * 1000);
    if (o.recv_buffer != 0)
        opts.stack.tcp.recv_buffer = o.recv_buffer;
    opts.cleanup_timeout = ustack::Duration(2'000'000);
    std::random_device rd;
    for (auto& b : opts.secret) b = static_cast<std::uint8_t>(rd());

    std::unique_ptr<ustack::PcapWriter> pcap;
    if (!ho.pcap.empty())
        pcap = std::make_unique<ustack::PcapWriter>(ho.pcap);
    std::unique_ptr<ustack::Device> device;
    try {
        ustack::TunOptions to;
        to.offload = o.offload && pcap == nullptr;
        device = ustack::TunDevice::open(ho.tun, to);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        std::exit(1);
    }
    const ustack::DriverFactory factory =
        [&](ustack::HostCore& core) -> std::unique_ptr<ustack::HostDriver> {
        g_core = &core;
        auto driver = std::make_unique<ustack::AsioHost>(core, std::move(device), std::move(pcap));
        driver->start();
        return driver;
    };
    int err = 0;
    WSPHOST h = ustack::create_host(opts, factory, &err);
    if (h == nullptr) {
        std::cerr << "error: starting the host failed: " << WSPErrorName(err) << "\n";
        std::exit(1);
    }
    return h;
}

std::string proc_status(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string l;
    while (std::getline(f, l)) {
        if (l.rfind(key, 0) == 0) {
            std::string v = l.substr(std::strlen(key));
            const auto b = v.find_first_not_of(" \t");
            const auto e = v.find(' ', b);
            return v.substr(b, e - b);
        }
    }
    return "?";
}

void print_stats(WSPHOST host) {
    static char buf[16384];
    if (WSPFormatHostStats(host, buf, sizeof buf) > 0)
        std::fputs(buf, stdout);
    const ustack::StackStats s = g_core->stack_stats();
#define F(name) std::printf("stack_" #name " %llu\n", static_cast<unsigned long long>(s.name))
    F(segs_in);
    F(segs_out);
    F(dropped_not_for_us);
    F(dropped_invalid);
    F(rst_sent_unknown);
    F(rst_ignored_unknown);
    F(rst_queue_drops);
    F(dropped_listener_other);
    F(syn_backlog_drops);
    F(syn_limit_drops);
    F(accept_overflows);
    F(removed_before_accept);
    F(time_wait_reopened);
    F(orphan_timeouts);
    F(connections_opened);
    F(connections_current);
    F(connections_peak);
    F(time_wait);
    F(orphans);
    F(syn_cookies_sent);
    F(syn_cookies_validated);
    F(syn_cookies_failed);
    F(syn_cookies_failed_dropped);
    F(syn_cookies_queue_drops);
    F(connect_limit_failures);
    F(orphan_limit_aborts);
    F(time_wait_recycled);
#undef F
    std::printf("rss_kb %s\nrss_peak_kb %s\n", proc_status("VmRSS:").c_str(),
                proc_status("VmHWM:").c_str());
    std::fflush(stdout);
}

using apps::DataGen;

bool send_all(SOCKET s, std::uint64_t n) {
    DataGen g(7);
    apps::Sha256 h;
    std::vector<unsigned char> buf(64 * 1024);
    std::uint64_t done = 0;
    while (done < n) {
        const std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - done));
        g.fill(buf.data(), chunk);
        std::size_t off = 0;
        while (off < chunk) {
            WSABUF b{static_cast<u_long>(chunk - off), reinterpret_cast<char*>(buf.data() + off)};
            DWORD sent = 0;
            int e = 0;
            if (WSPSend(s, &b, 1, &sent, 0, &e) != 0) {
                report_err(e, "WSPSend after " + std::to_string(done + off) + " bytes");
                return false;
            }
            off += sent;
        }
        h.update(buf.data(), chunk);
        done += chunk;
    }
    line("sha256 sent " + h.hex_digest() + " " + std::to_string(done));
    return true;
}

bool recv_all(SOCKET s) {
    apps::Sha256 h;
    std::vector<char> buf(256 * 1024);
    std::uint64_t done = 0;
    for (;;) {
        WSABUF b{static_cast<u_long>(buf.size()), buf.data()};
        DWORD got = 0, flags = 0;
        int e = 0;
        if (WSPRecv(s, &b, 1, &got, &flags, &e) != 0) {
            report_err(e, "WSPRecv after " + std::to_string(done) + " bytes");
            line("sha256 recv " + h.hex_digest() + " " + std::to_string(done));
            return false;
        }
        if (got == 0)
            break;
        h.update(buf.data(), got);
        done += got;
    }
    line("sha256 recv " + h.hex_digest() + " " + std::to_string(done));
    return true;
}

bool close_socket(SOCKET s, const std::string& what = "WSPCloseSocket") {
    int e = 0;
    const double t0 = now_s();
    const int r = WSPCloseSocket(s, &e);
    char d[64];
    std::snprintf(d, sizeof d, " (%.2f s)", now_s() - t0);
    if (r != 0) {
        report_err(e, what + d);
        return false;
    }
    line("OK " + what + d);
    return true;
}

// Wait (bounded) until FD_CLOSE; prints it with the time it took.
bool wait_fd_close(SOCKET s, unsigned timeout_ms) {
    WSAEVENT ev = WSACreateEvent();
    int e = 0;
    if (WSPEventSelect(s, ev, FD_CLOSE, &e) != 0) {
        report_err(e, "WSPEventSelect");
        return false;
    }
    const double t0 = now_s();
    const double deadline = t0 + timeout_ms / 1000.0;
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
        if (WSPEnumNetworkEvents(s, ev, &ne, &e) != 0) {
            report_err(e, "WSPEnumNetworkEvents");
            return false;
        }
        if (ne.lNetworkEvents & FD_CLOSE) {
            char d[64];
            std::snprintf(d, sizeof d, " after %.2f s", now_s() - t0);
            line(std::string("FD_CLOSE ") +
                 (ne.iErrorCode[FD_CLOSE_BIT] ? WSPErrorName(ne.iErrorCode[FD_CLOSE_BIT]) : "0") +
                 d);
            return true;
        }
    }
}

SOCKET accept_one(SOCKET ls) {
    SOCKADDR_IN peer{};
    int len = sizeof peer;
    int e = 0;
    SOCKET s = WSPAccept(ls, reinterpret_cast<SOCKADDR*>(&peer), &len, nullptr, 0, &e);
    if (s == INVALID_SOCKET) {
        report_err(e, "WSPAccept");
        return s;
    }
    const auto* a = reinterpret_cast<const unsigned char*>(&peer.sin_addr.s_addr);
    const auto* p = reinterpret_cast<const unsigned char*>(&peer.sin_port);
    line("accepted " + std::to_string(a[0]) + "." + std::to_string(a[1]) + "." +
         std::to_string(a[2]) + "." + std::to_string(a[3]) + ":" +
         std::to_string((p[0] << 8) | p[1]));
    return s;
}

int serve(SOCKET s, const Opts& o) {
    int e = 0;
    const std::string& m = o.mode;
    if (m == "recv-then-send" || m == "serve-many") {
        if (!recv_all(s) || !send_all(s, o.bytes))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "send") {
        if (!send_all(s, o.bytes))
            return 1;
        if (WSPShutdown(s, SD_SEND, &e) != 0)
            report_err(e, "WSPShutdown");
        if (!recv_all(s))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "recv") {
        if (!recv_all(s))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "zero-window") {
        u_long nb = 1;
        DWORD ret = 0;
        WSPIoctl(s, FIONBIO, &nb, sizeof nb, nullptr, 0, &ret, &e);
        std::vector<char> buf(64 * 1024, 'z');
        std::uint64_t queued = 0;
        for (;;) {
            WSABUF b{static_cast<u_long>(buf.size()), buf.data()};
            DWORD sent = 0;
            if (WSPSend(s, &b, 1, &sent, 0, &e) != 0) {
                if (e != WSAEWOULDBLOCK) {
                    report_err(e, "WSPSend");
                    return 1;
                }
                break;
            }
            queued += sent;
        }
        line("OK queued " + std::to_string(queued) + " bytes (WSAEWOULDBLOCK)");
        nb = 0;
        WSPIoctl(s, FIONBIO, &nb, sizeof nb, nullptr, 0, &ret, &e);
        if (o.linger >= 0) {
            LINGER l{1, static_cast<u_short>(o.linger)};
            WSPSetSockOpt(s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), sizeof l, &e);
            return close_socket(s, "WSPCloseSocket linger {1," + std::to_string(o.linger) + "}")
                       ? 0
                       : 1;
        }
        if (!wait_fd_close(s, o.timeout_ms))
            return 1;
        return close_socket(s) ? 0 : 1;
    }
    if (m == "send-close") {
        if (!send_all(s, o.bytes))
            return 1;
        if (!close_socket(s))
            return 1;
        const double t0 = now_s();
        while (g_core->stack_stats().connections_current != 0) {
            if (now_s() - t0 > o.timeout_ms / 1000.0) {
                line("ERR TIMEOUT connections_current " +
                     std::to_string(g_core->stack_stats().connections_current));
                return 1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        char d[64];
        std::snprintf(d, sizeof d, "OK slot freed after %.2f s", now_s() - t0);
        line(d);
        return 0;
    }
    std::cerr << "unknown --mode " << m << "\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    apps::HostOptions ho;
    apps::CommandLine cl(argc, argv);
    Opts o;
    constexpr std::uint64_t kMaxMs = 86'400'000;
    while (cl.next()) {
        if (cl.is("--help") || cl.is("-h")) {
            std::cout << kHelp << apps::host_options_help();
            return 0;
        } else if (cl.is("--port")) {
            o.port = static_cast<unsigned short>(cl.number(1, 65535));
        } else if (cl.is("--mode")) {
            o.mode = cl.choice(
                {"recv-then-send", "send", "recv", "zero-window", "send-close", "serve-many"});
        } else if (cl.is("--bytes")) {
            o.bytes = cl.size(0, std::uint64_t{1} << 40, "0..1024G");
        } else if (cl.is("--conns")) {
            o.conns = static_cast<unsigned>(cl.number(1, 1'000'000));
        } else if (cl.is("--backlog")) {
            o.backlog = static_cast<int>(cl.number(0, 65535));
        } else if (cl.is("--linger")) {
            o.linger = static_cast<int>(cl.number(0, 65535));
        } else if (cl.is("--user-timeout-ms")) {
            o.user_timeout_ms = static_cast<unsigned>(cl.number(1, kMaxMs));
        } else if (cl.is("--max-retransmits")) {
            o.max_retransmits = static_cast<int>(cl.number(0, 1000));
        } else if (cl.is("--rto-max-ms")) {
            o.rto_max_ms = static_cast<unsigned>(cl.number(1, kMaxMs));
        } else if (cl.is("--orphan-timeout-ms")) {
            o.orphan_timeout_ms = static_cast<unsigned>(cl.number(1, kMaxMs));
        } else if (cl.is("--recv-buffer")) {
            o.recv_buffer = static_cast<std::size_t>(cl.size(1, std::uint64_t{1} << 30, "1..1G"));
        } else if (cl.is("--no-syn-cookies")) {
            o.syn_cookies = false;
        } else if (cl.is("--no-offload")) {
            o.offload = false;
        } else if (cl.is("--timeout-ms")) {
            o.timeout_ms = static_cast<unsigned>(cl.number(1, kMaxMs));
        } else if (!apps::parse_host_option(cl, ho)) {
            cl.unknown();
        }
    }
    apps::check_host_options(cl, ho);
    if (o.mode.empty()) {
        std::cerr << kHelp;
        return 2;
    }
    WSPHOST host = start_host(ho, o);
    int e = 0;
    SOCKET ls = WSPSocket(host, AF_INET, SOCK_STREAM, IPPROTO_TCP, &e);
    IN_ADDR any{};
    SOCKADDR_IN sin = apps::make_sockaddr(any, o.port);
    if (WSPBind(ls, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin, &e) != 0 ||
        WSPListen(ls, o.backlog, &e) != 0) {
        report_err(e, "bind/listen");
        return 1;
    }
    line("listening " + std::to_string(o.port));
    int rc = 0;
    const unsigned n = o.mode == "serve-many" ? o.conns : 1;
    for (unsigned i = 0; i < n && rc == 0; ++i) {
        SOCKET s = accept_one(ls);
        if (s == INVALID_SOCKET) {
            rc = 1;
            break;
        }
        rc = serve(s, o);
    }
    WSPCloseSocket(ls, &e);
    line(rc == 0 ? "DONE" : "FAILED");
    print_stats(host);
    WSPCleanup(host, &e);
    return rc;
}
