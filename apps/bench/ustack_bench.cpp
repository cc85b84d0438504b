// ustack-bench: the benchmark modes of bench_modes.hpp on ustack's WSP API (one process is one
// ustack host). Its counterpart on Linux sockets is linux-bench; scripts/bench.sh runs both.
//
//   ustack-bench --addr 10.0.2.2/24 --gateway 10.0.2.1 --listen --mode bulk
//   ustack-bench --addr 10.0.1.2/24 --gateway 10.0.1.1 --connect 10.0.2.2 --mode bulk --seconds 10
//
// Socket buffers: WSPSetSockOpt has no SO_SNDBUF/SO_RCVBUF (WSPGetSockOpt only reports them), so
// --buffer sets the host's per-connection buffers (WSPHOSTCONFIG send_buffer / recv_buffer);
// mode bulk defaults to 4 MiB, the other modes keep the stack's defaults.
//
// --message: message-oriented sockets (SOCK_SEQPACKET). bench_modes.hpp's Net contract has
// recv() return 0 at the end; a message socket reports the end as WSAEDISCON (a zero-byte read
// is a zero-length message there), so this Net maps WSAEDISCON to 0 and nothing else.
//
// --connect-data (connrate): every connect carries kCallerData as caller data on its SYN; the
// listener's condition function accepts a connection only if it carries exactly kCallerData.
// With --conditional the listener has SO_CONDITIONAL_ACCEPT (each SYN waits for the function)
// and the function answers kCalleeData, which the client checks (DESIGN.md §3c).
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_modes.hpp"
#include "host_options.hpp"

namespace {

const char* kHelp =
    "usage: ustack-bench HOST-OPTIONS (--connect A.B.C.D | --listen) --mode M [bench options]\n"
    "Benchmark modes on a ustack host (WSP API); linux-bench is the same on Linux sockets.\n\n";

// --connect-data: 16 bytes each way (SO_CONNDATALEN of a stream socket).
constexpr char kCallerData[] = "ustack-bench:SYN";
constexpr char kCalleeData[] = "ustack-bench:ACK";
constexpr u_long kConnectDataLen = 16;
static_assert(sizeof kCallerData == kConnectDataLen + 1 &&
              sizeof kCalleeData == kConnectDataLen + 1);

// The listener's condition function: the caller data must be kCallerData; callee data back
// where there is room for it (SO_CONDITIONAL_ACCEPT).
int CALLBACK check_caller(LPWSABUF /*caller_id*/, LPWSABUF caller_data, LPQOS /*sqos*/,
                          LPQOS /*gqos*/, LPWSABUF /*callee_id*/, LPWSABUF callee_data,
                          GROUP* /*g*/, DWORD_PTR /*data*/) {
    if (caller_data == nullptr || caller_data->len != kConnectDataLen ||
        std::memcmp(caller_data->buf, kCallerData, kConnectDataLen) != 0 ||
        callee_data == nullptr) {
        return CF_REJECT;
    }
    if (callee_data->len >= kConnectDataLen) {
        std::memcpy(callee_data->buf, kCalleeData, kConnectDataLen);
        callee_data->len = kConnectDataLen;
    }
    return CF_ACCEPT;
}

// bench_modes.hpp's Net over the WSP API.
class WspNet {
public:
    using Sock = SOCKET;
    static constexpr Sock kInvalid = INVALID_SOCKET;

    WspNet(WSPHOST host, bool message, bool connect_data, bool conditional)
        : host_(host),
          type_(message ? SOCK_SEQPACKET : SOCK_STREAM),
          connect_data_(connect_data),
          conditional_(conditional) {}

    Sock connect(std::uint32_t addr, unsigned port, bool nodelay, std::string& err) {
        int e = 0;
        SOCKET s = WSPSocket(host_, AF_INET, type_, IPPROTO_TCP, &e);
        if (s == INVALID_SOCKET)
            return failed(e, err);
        if (nodelay && !set_nodelay(s, err)) {
            (void)WSPCloseSocket(s, &e);
            return kInvalid;
        }
        const SOCKADDR_IN sin = sockaddr(addr, port);
        char caller_buf[kConnectDataLen];
        std::memcpy(caller_buf, kCallerData, kConnectDataLen);
        WSABUF caller{kConnectDataLen, caller_buf};
        char callee_buf[2 * kConnectDataLen];
        WSABUF callee{sizeof callee_buf, callee_buf};
        if (WSPConnect(s, reinterpret_cast<const SOCKADDR*>(&sin), sizeof sin,
                       connect_data_ ? &caller : nullptr, connect_data_ ? &callee : nullptr,
                       nullptr, nullptr, &e) != 0) {
            int e2 = 0;
            (void)WSPCloseSocket(s, &e2);
            return failed(e, err);
        }
        const u_long want = conditional_ ? kConnectDataLen : 0;
        if (connect_data_ &&
            (callee.len != want || std::memcmp(callee_buf, kCalleeData, want) != 0)) {
            err = "callee data differs (" + std::to_string(callee.len) + " bytes)";
            (void)WSPCloseSocket(s, &e);
            return kInvalid;
        }
        return s;
    }

    Sock listen(unsigned port, int backlog, bool nodelay, std::string& err) {
        int e = 0;
        SOCKET s = WSPSocket(host_, AF_INET, type_, IPPROTO_TCP, &e);
        if (s == INVALID_SOCKET)
            return failed(e, err);
        const SOCKADDR_IN sin = sockaddr(INADDR_ANY, port);
        const BOOL conditional = conditional_ ? 1 : 0;
        // Accepted sockets inherit TCP_NODELAY from the listener.
        if ((nodelay && !set_nodelay(s, err)) ||
            WSPSetSockOpt(s, SOL_SOCKET, SO_CONDITIONAL_ACCEPT,
                          reinterpret_cast<const char*>(&conditional), sizeof conditional,
                          &e) != 0 ||
            WSPBind(s, reinterpret_cast<const SOCKADDR*>(&sin), sizeof sin, &e) != 0 ||
            WSPListen(s, backlog, &e) != 0) {
            if (err.empty())
                err = WSPErrorName(e);
            (void)WSPCloseSocket(s, &e);
            return kInvalid;
        }
        return s;
    }

    Sock accept(Sock l, std::string& err) {
        int e = 0;
        SOCKET s = WSPAccept(l, nullptr, nullptr, connect_data_ ? &check_caller : nullptr, 0, &e);
        return s == INVALID_SOCKET ? failed(e, err) : s;
    }
    // Closing the listener wakes blocked WSPAccept calls (WSAEINTR) and fails later ones.
    void wake_listener(Sock l) {
        int e = 0;
        (void)WSPCloseSocket(l, &e);
    }
    void close_listener(Sock) {}

    long send(Sock s, const unsigned char* p, std::size_t n, std::string& err) {
        WSABUF b{static_cast<u_long>(n), const_cast<char*>(reinterpret_cast<const char*>(p))};
        DWORD sent = 0;
        int e = 0;
        if (WSPSend(s, &b, 1, &sent, 0, &e) != 0)
            return fail_long(e, err);
        return static_cast<long>(sent);
    }
    long recv(Sock s, unsigned char* p, std::size_t n, std::string& err) {
        WSABUF b{static_cast<u_long>(n), reinterpret_cast<char*>(p)};
        DWORD got = 0, flags = 0;
        int e = 0;
        if (WSPRecv(s, &b, 1, &got, &flags, &e) != 0) {
            if (e == WSAEDISCON && type_ == SOCK_SEQPACKET)
                return 0;
            return fail_long(e, err);
        }
        if ((flags & MSG_PARTIAL) != 0) {
            err = "MSG_PARTIAL (a message longer than the buffer)";
            return -1;
        }
        return static_cast<long>(got);
    }
    bool shutdown_send(Sock s, std::string& err) {
        int e = 0;
        return WSPShutdown(s, SD_SEND, &e) == 0 || fail_bool(e, err);
    }
    bool close(Sock s, std::string& err) {
        int e = 0;
        return WSPCloseSocket(s, &e) == 0 || fail_bool(e, err);
    }
    bool send_disconnect(Sock s, const unsigned char* p, std::size_t n, std::string& err) {
        WSABUF b{static_cast<u_long>(n), const_cast<char*>(reinterpret_cast<const char*>(p))};
        int e = 0;
        return WSPSendDisconnect(s, &b, &e) == 0 || fail_bool(e, err);
    }
    long recv_disconnect(Sock s, unsigned char* p, std::size_t n, std::string& err) {
        WSABUF b{static_cast<u_long>(n), reinterpret_cast<char*>(p)};
        int e = 0;
        if (WSPRecvDisconnect(s, &b, &e) != 0)
            return fail_long(e, err);
        return static_cast<long>(b.len);
    }
    // The host's memory is the process's: bench_modes.hpp reports the RSS already.
    void mem_begin() {}
    std::string mem_end() { return {}; }

private:
    static SOCKADDR_IN sockaddr(std::uint32_t addr, unsigned port) {
        IN_ADDR a{};
        auto* b = reinterpret_cast<unsigned char*>(&a.s_addr);
        for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(addr >> (24 - 8 * i));
        return apps::make_sockaddr(a, static_cast<unsigned short>(port));
    }
    static bool set_nodelay(SOCKET s, std::string& err) {
        const BOOL one = 1;
        int e = 0;
        if (WSPSetSockOpt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&one),
                          sizeof one, &e) == 0)
            return true;
        err = std::string("TCP_NODELAY: ") + WSPErrorName(e);
        return false;
    }
    static Sock failed(int e, std::string& err) {
        err = WSPErrorName(e);
        return kInvalid;
    }
    static long fail_long(int e, std::string& err) {
        err = WSPErrorName(e);
        return -1;
    }
    static bool fail_bool(int e, std::string& err) {
        err = WSPErrorName(e);
        return false;
    }

    WSPHOST host_;
    int type_;
    bool connect_data_;
    bool conditional_;
};

}  // namespace

int main(int argc, char** argv) {
    apps::HostOptions ho;
    apps::CommandLine cl(argc, argv);
    bench::Options o;
    while (cl.next()) {
        if (cl.is("--help") || cl.is("-h")) {
            std::printf("%s%s\n%s", kHelp, bench::options_help(), apps::host_options_help());
            return 0;
        }
        if (!bench::parse_option(cl, o) && !apps::parse_host_option(cl, ho))
            cl.unknown();
    }
    apps::check_host_options(cl, ho);
    bench::check_options(cl, o);
    std::uint32_t addr = 0;
    if (!o.connect.empty() && !bench::parse_ipv4(o.connect, addr))
        cl.fail("bad --connect address " + o.connect);
    if (!o.cc.empty() && o.cc != "cubic" && o.cc != "newreno" && o.cc != "bbr")
        cl.fail("bad --cc " + apps::quote_arg(o.cc) + " (cubic|newreno|bbr)");
    if (o.connect_data && !ho.disconnect_data)
        cl.fail("--connect-data needs the host option --disconnect-data");
    if (o.disc_data && !ho.disconnect_data)
        cl.fail("--disc-data needs the host option --disconnect-data");
    bench::start_watchdog(o.timeout_ms, "ustack-bench");

    WSPHOSTCONFIG cfg;
    std::string error;
    if (!apps::to_config(ho, cfg, error)) {
        std::fprintf(stderr, "ustack-bench: %s\n", error.c_str());
        return 2;
    }
    const std::uint64_t buffer = o.buffer != 0 ? o.buffer : (o.mode == "bulk" ? 4u << 20 : 0);
    cfg.send_buffer = static_cast<std::uint32_t>(buffer);
    cfg.recv_buffer = static_cast<std::uint32_t>(buffer);
    if (!o.cc.empty())
        cfg.congestion = o.cc.c_str();
    WSPHOST host = nullptr;
    int e = 0;
    if (WSPStartup(&cfg, &host, &e) != 0) {
        std::fprintf(stderr, "ERROR WSPStartup: %s\n", WSPErrorName(e));
        return 1;
    }
    WspNet net(host, o.message, o.connect_data, o.conditional);
    const int status = bench::run_mode(net, o, addr);
    apps::stop_host(host, ho);
    return status;
}
