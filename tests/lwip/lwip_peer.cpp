// lwip-peer: one TCP connection on lwIP (Debian's liblwip, NO_SYS=0), the second independent TCP
// of ustack's end-to-end tests (the first is the Linux kernel, tests/e2e/linux_peer.py). lwIP
// runs as its own host behind an existing persistent TUN device (IFF_TUN | IFF_NO_PI, bare IPv4
// packets): a reader thread hands every packet read from the device to lwIP's ip_input under
// the core lock; the netif's output writes each packet to the device. The connection is driven
// through lwIP's socket API (lwip_socket, lwip_send, lwip_recv, lwip_shutdown, ...).
//
// The same line protocol as apps/ustack_peer.cpp and linux_peer.py:
//   listening <port> | connected <addr:port> | OK ... | ERR <errno name> ... |
//   sha256 sent|recv <hex> <bytes> | rate sent|recv ... | RESULT ECONNRESET ... | RESULT EOF <n>
// Exit status: 0 when the mode ran to its end, 1 on a failure (or --timeout), 2 on bad arguments.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "data_gen.hpp"
#include "sha256.hpp"

// The build's lwipopts.h declares the core-lock functions without C linkage of its own.
extern "C" {
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/opt.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"  // tcp_active_pcbs
}
// The build's TCP options as the library sees them: read before lwip/sockets.h, whose system
// headers (<netinet/tcp.h>) redefine TCP_MSS as a socket option number.
constexpr unsigned kLwipMss = TCP_MSS;
constexpr unsigned kLwipWnd = TCP_WND;
constexpr unsigned kLwipRcvScale = TCP_RCV_SCALE;
constexpr unsigned kLwipSndBuf = TCP_SND_BUF;
constexpr unsigned kLwipSackOut = LWIP_TCP_SACK_OUT;
constexpr unsigned kLwipTimestamps = LWIP_TCP_TIMESTAMPS;
extern "C" {
#include "lwip/sockets.h"
#include "lwip/tcpip.h"
}

namespace {

const char* kHelp =
    "usage: lwip-peer --addr A.B.C.D/N --gateway G (--connect A.B.C.D | --listen) [--port P]\n"
    "                 --mode M [options]\n"
    "One TCP connection on lwIP over an existing TUN device, for ustack's end-to-end tests.\n"
    "  --tun NAME          the persistent TUN device to attach to (default tun0)\n"
    "  --addr A.B.C.D/N    lwIP's address and prefix on it\n"
    "  --gateway G         lwIP's default gateway (the kernel's end of the device)\n"
    "  --mtu N             the netif MTU (default 1500)\n"
    "  --connect A.B.C.D   connect to this address (port --port; retried while refused)\n"
    "  --listen            listen on --port and accept one connection\n"
    "  --port P            default 9000\n"
    "  --mode M\n"
    "     send             send --bytes, shutdown(SHUT_WR), read to EOF, close\n"
    "     recv             read to EOF, close\n"
    "     duplex           send --bytes (then SHUT_WR) while reading to EOF (lwip_poll)\n"
    "     send-then-recv   send --bytes, SHUT_WR (half-close by lwIP), read to EOF, close\n"
    "     recv-then-send   read to EOF (the peer's half-close), send --bytes, close\n"
    "     abort            send --bytes, wait for 2 bytes (\"go\"), SO_LINGER {1,0}, queue 64 KiB\n"
    "                      without waiting, close (lwIP resets only with data still queued)\n"
    "     expect-reset     send --bytes (may be 0), sleep --delay, read until error or EOF:\n"
    "                      RESULT ECONNRESET after <n> bytes | RESULT EOF <n>\n"
    "  --bytes N           bytes to send (suffixes K, M; default 1M)\n"
    "  --seed S            seed of the deterministic data (default 2)\n"
    "  --delay S           expect-reset: seconds to sleep before reading (default 0)\n"
    "  --timeout S         bound on the whole run and on each call (SO_RCVTIMEO/SO_SNDTIMEO);\n"
    "                      default 30\n"
    "  --hold-ms N         after the mode ends and no connection is active in lwIP any more\n"
    "                      (FIN acknowledged), keep lwIP running N ms (default 300), so the\n"
    "                      peer's last segments are still answered\n";

struct Opts {
    std::string tun = "tun0";
    std::string addr;
    unsigned prefix = 24;
    std::string gateway;
    unsigned mtu = 1500;
    std::string connect;
    bool listen = false;
    unsigned short port = 9000;
    std::string mode;
    std::uint64_t bytes = 1 << 20;
    std::uint64_t seed = 2;
    double delay = 0;
    double timeout = 30;
    unsigned hold_ms = 300;
};

void line(const std::string& s) {
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
}

std::string errno_name(int e) {
    const char* n = strerrorname_np(e);
    return n != nullptr ? n : std::to_string(e);
}

// ERR <errno name> <what>; a timed-out call (SO_RCVTIMEO/SO_SNDTIMEO) is ERR TIMEOUT.
void report_err(int e, const std::string& what) {
    line("ERR " + (e == EAGAIN ? std::string("TIMEOUT") : errno_name(e)) + " " + what);
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string rate(const char* dir, std::uint64_t n, double dt) {
    char r[96];
    std::snprintf(r, sizeof r, "rate %s %.1f MiB/s (%.2f s)", dir,
                  dt > 0 ? static_cast<double>(n) / 1048576.0 / dt : 0.0, dt);
    return r;
}

using apps::DataGen;

std::uint64_t parse_size(const std::string& s) {
    char* end = nullptr;
    std::uint64_t v = std::strtoull(s.c_str(), &end, 10);
    if (end && (*end == 'K' || *end == 'k'))
        v <<= 10;
    if (end && (*end == 'M' || *end == 'm'))
        v <<= 20;
    return v;
}

// ---- the host: lwIP's netif over the TUN device ----

int g_tun = -1;
netif g_netif{};
std::atomic<bool> g_stop{false};

// netif->output: one IPv4 packet (a pbuf chain) to the device. Runs with the core lock held.
err_t tun_output(netif* /*n*/, pbuf* p, const ip4_addr_t* /*next hop*/) {
    static std::vector<unsigned char> buf(65536);
    const void* data = p->payload;
    if (p->next != nullptr) {
        pbuf_copy_partial(p, buf.data(), p->tot_len, 0);
        data = buf.data();
    }
    // A full device queue drops the packet, as a wire would; TCP retransmits.
    if (::write(g_tun, data, p->tot_len) < 0 && errno != EAGAIN && errno != ENOBUFS)
        return ERR_IF;
    return ERR_OK;
}

err_t tun_netif_init(netif* n) {
    n->name[0] = 't';
    n->name[1] = 'n';
    n->output = tun_output;
    n->mtu = static_cast<u16_t>(reinterpret_cast<std::uintptr_t>(n->state));
    n->flags = 0;  // point to point: no ARP, no broadcast
    return ERR_OK;
}

// The reader thread: every packet from the device into ip_input, under the core lock (what
// LWIP_TCPIP_CORE_LOCKING_INPUT would do; no tcpip mailbox to overflow).
void tun_reader() {
    std::vector<unsigned char> buf(65536);
    while (!g_stop) {
        pollfd pfd{g_tun, POLLIN, 0};
        if (::poll(&pfd, 1, 100) <= 0)
            continue;
        const ssize_t n = ::read(g_tun, buf.data(), buf.size());
        if (n <= 0)
            continue;
        LOCK_TCPIP_CORE();
        pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(n), PBUF_RAM);
        if (p != nullptr) {
            pbuf_take(p, buf.data(), static_cast<u16_t>(n));
            if (g_netif.input(p, &g_netif) != ERR_OK)
                pbuf_free(p);
        }
        UNLOCK_TCPIP_CORE();
    }
}

bool parse_ip4(const std::string& s, ip4_addr_t& out) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1)
        return false;
    out.addr = a.s_addr;
    return true;
}

void tcpip_ready(void* arg) {
    static_cast<std::atomic<bool>*>(arg)->store(true);
}

// Attach to the TUN device, start lwIP's tcpip thread, bring the netif up. false on failure.
bool start_host(const Opts& o) {
    g_tun = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (g_tun < 0) {
        report_err(errno, "open /dev/net/tun");
        return false;
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, o.tun.c_str(), IFNAMSIZ - 1);
    if (::ioctl(g_tun, TUNSETIFF, &ifr) < 0) {
        report_err(errno, "TUNSETIFF " + o.tun);
        return false;
    }
    ip4_addr_t ip{}, mask{}, gw{};
    if (!parse_ip4(o.addr, ip) || !parse_ip4(o.gateway, gw) || o.prefix > 32) {
        line("ERR EINVAL --addr/--gateway");
        return false;
    }
    mask.addr = htonl(o.prefix == 0 ? 0 : ~0u << (32 - o.prefix));
    std::atomic<bool> ready{false};
    tcpip_init(tcpip_ready, &ready);
    while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    LOCK_TCPIP_CORE();
    void* mtu = reinterpret_cast<void*>(static_cast<std::uintptr_t>(o.mtu));
    const bool added =
        netif_add(&g_netif, &ip, &mask, &gw, mtu, tun_netif_init, ip_input) != nullptr;
    if (added) {
        netif_set_default(&g_netif);
        netif_set_up(&g_netif);
        netif_set_link_up(&g_netif);
    }
    UNLOCK_TCPIP_CORE();
    if (!added) {
        line("ERR netif_add");
        return false;
    }
    std::thread(tun_reader).detach();
    return true;
}

// ---- the connection ----

struct Peer {
    int s = -1;
    const Opts& o;

    // Send n deterministic bytes (blocking; each call bounded by SO_SNDTIMEO).
    bool send_all(std::uint64_t n, const char* what) const {
        DataGen g(o.seed);
        apps::Sha256 h;
        std::vector<unsigned char> buf(64 * 1024);
        std::uint64_t done = 0;
        const double t0 = now_s();
        while (done < n) {
            const std::size_t chunk = std::min<std::uint64_t>(buf.size(), n - done);
            g.fill(buf.data(), chunk);
            std::size_t off = 0;
            while (off < chunk) {
                const ssize_t r = lwip_send(s, buf.data() + off, chunk - off, 0);
                if (r < 0) {
                    report_err(errno, std::string(what) + " lwip_send after " +
                                          std::to_string(done + off) + " bytes");
                    return false;
                }
                off += static_cast<std::size_t>(r);
            }
            h.update(buf.data(), chunk);
            done += chunk;
        }
        line("sha256 sent " + h.hex_digest() + " " + std::to_string(done));
        line(rate("sent", done, now_s() - t0));
        return true;
    }

    // Read to EOF (each call bounded by SO_RCVTIMEO).
    bool recv_all(const char* what) const {
        apps::Sha256 h;
        std::vector<unsigned char> buf(256 * 1024);
        std::uint64_t done = 0;
        const double t0 = now_s();
        for (;;) {
            const ssize_t r = lwip_recv(s, buf.data(), buf.size(), 0);
            if (r < 0) {
                const int e = errno;
                line("sha256 recv " + h.hex_digest() + " " + std::to_string(done));
                report_err(
                    e, std::string(what) + " lwip_recv after " + std::to_string(done) + " bytes");
                return false;
            }
            if (r == 0)
                break;
            h.update(buf.data(), static_cast<std::size_t>(r));
            done += static_cast<std::uint64_t>(r);
        }
        line("sha256 recv " + h.hex_digest() + " " + std::to_string(done));
        line(std::string("OK eof ") + what);
        line(rate("recv", done, now_s() - t0));
        return true;
    }

    bool shutdown_send() const {
        if (lwip_shutdown(s, SHUT_WR) != 0) {
            report_err(errno, "shutdown(SHUT_WR)");
            return false;
        }
        line("OK shutdown(SHUT_WR)");
        return true;
    }

    bool close_socket(const char* what = "close") {
        const int r = lwip_close(s);
        s = -1;
        if (r != 0) {
            report_err(errno, what);
            return false;
        }
        line(std::string("OK ") + what);
        return true;
    }

    // Both directions at once on one thread: non-blocking sends and receives under lwip_poll
    // (lwIP's netconns are not full-duplex across threads in this build:
    // LWIP_NETCONN_FULLDUPLEX=0).
    bool duplex() {
        DataGen g(o.seed);
        apps::Sha256 hs, hr;
        std::vector<unsigned char> out(64 * 1024), in(256 * 1024);
        std::size_t out_len = 0, out_off = 0;
        std::uint64_t sent = 0, got = 0;
        bool send_done = o.bytes == 0, eof = false;
        const double t0 = now_s();
        double tr = t0;
        const double deadline = t0 + o.timeout;
        if (send_done && !finish_send(hs, sent, t0))
            return false;
        while (!eof || !send_done) {
            pollfd pfd{s, static_cast<short>((eof ? 0 : POLLIN) | (send_done ? 0 : POLLOUT)), 0};
            const int left_ms = static_cast<int>((deadline - now_s()) * 1000);
            if (left_ms <= 0) {
                line("ERR TIMEOUT duplex after " + std::to_string(sent) + " sent, " +
                     std::to_string(got) + " received");
                return false;
            }
            if (lwip_poll(&pfd, 1, std::min(left_ms, 1000)) < 0) {
                report_err(errno, "lwip_poll");
                return false;
            }
            if (!eof) {
                const ssize_t r = lwip_recv(s, in.data(), in.size(), MSG_DONTWAIT);
                if (r == 0) {
                    eof = true;
                    tr = now_s();
                } else if (r > 0) {
                    hr.update(in.data(), static_cast<std::size_t>(r));
                    got += static_cast<std::uint64_t>(r);
                } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    const int e = errno;
                    line("sha256 recv " + hr.hex_digest() + " " + std::to_string(got));
                    report_err(e, "duplex lwip_recv after " + std::to_string(got) + " bytes");
                    return false;
                }
            }
            while (!send_done) {
                if (out_off == out_len) {
                    out_len = std::min<std::uint64_t>(out.size(), o.bytes - sent);
                    out_off = 0;
                    g.fill(out.data(), out_len);
                    hs.update(out.data(), out_len);
                }
                const ssize_t r =
                    lwip_send(s, out.data() + out_off, out_len - out_off, MSG_DONTWAIT);
                if (r < 0) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK)
                        break;
                    report_err(errno, "duplex lwip_send after " + std::to_string(sent) + " bytes");
                    return false;
                }
                out_off += static_cast<std::size_t>(r);
                sent += static_cast<std::uint64_t>(r);
                if (sent == o.bytes) {
                    send_done = true;
                    if (!finish_send(hs, sent, t0))
                        return false;
                }
            }
        }
        line("sha256 recv " + hr.hex_digest() + " " + std::to_string(got));
        line("OK eof duplex");
        line(rate("recv", got, tr - t0));
        return true;
    }

    bool finish_send(apps::Sha256& hs, std::uint64_t sent, double t0) const {
        line("sha256 sent " + hs.hex_digest() + " " + std::to_string(sent));
        line(rate("sent", sent, now_s() - t0));
        return shutdown_send();
    }

    bool recv_exact(std::size_t n, std::string& got) const {
        std::vector<char> buf(n);
        std::size_t done = 0;
        while (done < n) {
            const ssize_t r = lwip_recv(s, buf.data() + done, n - done, 0);
            if (r < 0) {
                report_err(errno, "lwip_recv");
                return false;
            }
            if (r == 0) {
                line("ERR EOF after " + std::to_string(done) + " of " + std::to_string(n) +
                     " bytes");
                return false;
            }
            done += static_cast<std::size_t>(r);
        }
        got.assign(buf.data(), n);
        return true;
    }

    int run() {
        const std::string& m = o.mode;
        if (m == "send") {
            if (!send_all(o.bytes, "send") || !shutdown_send() || !recv_all("after send"))
                return 1;
            return close_socket() ? 0 : 1;
        }
        if (m == "recv")
            return recv_all("recv") && close_socket() ? 0 : 1;
        if (m == "duplex")
            return duplex() && close_socket() ? 0 : 1;
        if (m == "send-then-recv") {
            if (!send_all(o.bytes, "first") || !shutdown_send() || !recv_all("half-closed"))
                return 1;
            return close_socket() ? 0 : 1;
        }
        if (m == "recv-then-send") {
            if (!recv_all("peer half-closed") || !send_all(o.bytes, "after peer FIN"))
                return 1;
            return close_socket() ? 0 : 1;
        }
        if (m == "abort") {
            std::string go;
            if ((o.bytes > 0 && !send_all(o.bytes, "abort")) || !recv_exact(2, go))
                return 1;
            line("OK received " + go);
            const linger l{1, 0};
            if (lwip_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) {
                report_err(errno, "SO_LINGER {1,0}");
                return 1;
            }
            // lwIP resets on a linger-0 close only while data is still queued (api_msg.c,
            // lwip_netconn_do_close_internal); with everything acknowledged it sends a FIN. So
            // queue a tail without waiting (64 KiB: more than the congestion window lets out at
            // once), then close at once.
            std::vector<unsigned char> tail(64 * 1024);
            DataGen(o.seed + 1).fill(tail.data(), tail.size());
            const ssize_t q = lwip_send(s, tail.data(), tail.size(), MSG_DONTWAIT);
            line("OK queued " + std::to_string(q < 0 ? 0 : q) + " bytes before close");
            return close_socket("close with SO_LINGER {1,0}") ? 0 : 1;
        }
        if (m == "expect-reset") {
            if (o.bytes > 0 && !send_all(o.bytes, "expect-reset"))
                return 1;
            if (o.delay > 0)
                std::this_thread::sleep_for(std::chrono::duration<double>(o.delay));
            std::vector<char> buf(64 * 1024);
            std::uint64_t done = 0;
            for (;;) {
                const ssize_t r = lwip_recv(s, buf.data(), buf.size(), 0);
                if (r == 0) {
                    line("RESULT EOF " + std::to_string(done));
                    break;
                }
                if (r < 0) {
                    if (errno == ECONNRESET) {
                        line("RESULT ECONNRESET after " + std::to_string(done) + " bytes");
                        break;
                    }
                    report_err(errno, "expect-reset lwip_recv");
                    return 1;
                }
                done += static_cast<std::uint64_t>(r);
            }
            return close_socket() ? 0 : 1;
        }
        std::fprintf(stderr, "lwip-peer: unknown --mode %s (see --help)\n", m.c_str());
        return 2;
    }
};

bool bound_calls(int s, double timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout);
    tv.tv_usec = static_cast<suseconds_t>((timeout - static_cast<double>(tv.tv_sec)) * 1e6);
    for (const int opt : {SO_RCVTIMEO, SO_SNDTIMEO}) {
        if (lwip_setsockopt(s, SOL_SOCKET, opt, &tv, sizeof tv) != 0) {
            report_err(errno, opt == SO_RCVTIMEO ? "SO_RCVTIMEO" : "SO_SNDTIMEO");
            return false;
        }
    }
    return true;
}

sockaddr_in make_sin(std::uint32_t addr_be, unsigned short port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = addr_be;
    return sin;
}

// Listen and accept one connection, or connect (retried while refused). -1 on failure.
int open_connection(const Opts& o) {
    const double deadline = now_s() + o.timeout;
    if (o.listen) {
        const int ls = lwip_socket(AF_INET, SOCK_STREAM, 0);
        const sockaddr_in sin = make_sin(htonl(INADDR_ANY), o.port);
        if (ls < 0 || lwip_bind(ls, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 ||
            lwip_listen(ls, 1) != 0 || !bound_calls(ls, o.timeout)) {
            report_err(errno, "listen");
            return -1;
        }
        line("listening " + std::to_string(o.port));
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        const int s = lwip_accept(ls, reinterpret_cast<sockaddr*>(&peer), &len);
        if (s < 0) {
            report_err(errno, "lwip_accept");
            return -1;
        }
        lwip_close(ls);
        char a[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &peer.sin_addr, a, sizeof a);
        line("connected " + std::string(a) + ":" + std::to_string(ntohs(peer.sin_port)));
        return s;
    }
    ip4_addr_t dst{};
    if (!parse_ip4(o.connect, dst)) {
        line("ERR EINVAL --connect " + o.connect);
        return -1;
    }
    for (;;) {
        const int s = lwip_socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) {
            report_err(errno, "lwip_socket");
            return -1;
        }
        const sockaddr_in sin = make_sin(dst.addr, o.port);
        if (lwip_connect(s, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0) {
            line("connected " + o.connect + ":" + std::to_string(o.port));
            return s;
        }
        const int e = errno;
        lwip_close(s);
        if (e != ECONNREFUSED || now_s() > deadline) {
            report_err(e, "lwip_connect " + o.connect);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace

int main(int argc, char** argv) {
    Opts o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "lwip-peer: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            std::printf("%s", kHelp);
            return 0;
        } else if (a == "--tun") {
            o.tun = val();
        } else if (a == "--addr") {
            const std::string v = val();
            const auto slash = v.find('/');
            o.addr = v.substr(0, slash);
            if (slash != std::string::npos)
                o.prefix = static_cast<unsigned>(std::atoi(v.c_str() + slash + 1));
        } else if (a == "--gateway") {
            o.gateway = val();
        } else if (a == "--mtu") {
            o.mtu = static_cast<unsigned>(std::atoi(val().c_str()));
        } else if (a == "--connect") {
            o.connect = val();
        } else if (a == "--listen") {
            o.listen = true;
        } else if (a == "--port") {
            o.port = static_cast<unsigned short>(std::atoi(val().c_str()));
        } else if (a == "--mode") {
            o.mode = val();
        } else if (a == "--bytes") {
            o.bytes = parse_size(val());
        } else if (a == "--seed") {
            o.seed = std::strtoull(val().c_str(), nullptr, 10);
        } else if (a == "--delay") {
            o.delay = std::atof(val().c_str());
        } else if (a == "--timeout") {
            o.timeout = std::atof(val().c_str());
        } else if (a == "--hold-ms") {
            o.hold_ms = static_cast<unsigned>(std::strtoul(val().c_str(), nullptr, 10));
        } else {
            std::fprintf(stderr, "lwip-peer: unknown argument %s (see --help)\n", a.c_str());
            return 2;
        }
    }
    if (o.mode.empty() || o.addr.empty() || o.gateway.empty() || (o.connect.empty() == !o.listen) ||
        o.timeout <= 0) {
        std::fprintf(stderr,
                     "lwip-peer: need --addr, --gateway, --mode and exactly one of "
                     "--connect/--listen (see --help)\n");
        return 2;
    }
    if (!apps::sha256_self_test()) {
        std::fprintf(stderr, "lwip-peer: SHA-256 self-test failed\n");
        return 1;
    }
    // The whole run is bounded too (a connect whose SYNs go unanswered, a stuck close).
    std::thread([t = o.timeout + 5.0] {
        std::this_thread::sleep_for(std::chrono::duration<double>(t));
        line("ERR TIMEOUT the run took longer than --timeout + 5 s");
        std::_Exit(1);
    }).detach();
    if (!start_host(o))
        return 1;
    line("OK lwIP " LWIP_VERSION_STRING " TCP_MSS " + std::to_string(kLwipMss) + " TCP_WND " +
         std::to_string(kLwipWnd) + " TCP_RCV_SCALE " + std::to_string(kLwipRcvScale) +
         " TCP_SND_BUF " + std::to_string(kLwipSndBuf) + " LWIP_TCP_SACK_OUT " +
         std::to_string(kLwipSackOut) + " LWIP_TCP_TIMESTAMPS " + std::to_string(kLwipTimestamps));
    int status = 1;
    Peer p{-1, o};
    p.s = open_connection(o);
    if (p.s >= 0 && bound_calls(p.s, o.timeout))
        status = p.run();
    if (p.s >= 0)
        lwip_close(p.s);
    // A closed socket's connection lives on in lwIP (data and FIN not yet acknowledged, to be
    // retransmitted): wait until no connection is active any more (TIME-WAIT is not active), so
    // the process does not take them down with it, as a kernel would not.
    const double deadline = now_s() + o.timeout;
    for (;;) {
        LOCK_TCPIP_CORE();
        const bool active = tcp_active_pcbs != nullptr;
        UNLOCK_TCPIP_CORE();
        if (!active)
            break;
        if (now_s() > deadline) {
            line("ERR TIMEOUT a connection still active in lwIP after close");
            status = 1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.hold_ms));
    // lwIP has no orderly shutdown of its tcpip thread; leave without running destructors.
    g_stop = true;
    std::fflush(stdout);
    std::_Exit(status);
}
