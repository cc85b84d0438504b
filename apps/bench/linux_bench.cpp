// linux-bench: the benchmark modes of bench_modes.hpp on the Linux kernel's TCP (BSD sockets), the
// baseline and the interop peer of ustack-bench; scripts/bench.sh runs both.
//
//   linux-bench --listen --mode bulk
//   linux-bench --connect 10.0.0.2 --mode bulk --seconds 10
//
// Socket buffers: by default the kernel autotunes them (net.ipv4.tcp_rmem / tcp_wmem), which is
// how Linux reaches its best throughput; --buffer sets SO_SNDBUF/SO_RCVBUF (and so turns the
// autotuning off, capped by net.core.wmem_max / rmem_max). Mode hold also reports the kernel's
// socket memory (bench_common.hpp: KernelMem), as the before/after difference.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "bench_modes.hpp"

namespace {

const char* kHelp =
    "usage: linux-bench (--connect A.B.C.D | --listen) --mode M [bench options]\n"
    "Benchmark modes on Linux TCP sockets; ustack-bench is the same on a ustack host.\n\n";

std::string errno_name(int e) {
    switch (e) {
        case ECONNREFUSED: return "ECONNREFUSED";
        case ECONNRESET: return "ECONNRESET";
        case ETIMEDOUT: return "ETIMEDOUT";
        case EPIPE: return "EPIPE";
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
        case EADDRINUSE: return "EADDRINUSE";
        case EMFILE: return "EMFILE";
        case ENFILE: return "ENFILE";
        case EINVAL: return "EINVAL";
        case ENOTCONN: return "ENOTCONN";
        case EHOSTUNREACH: return "EHOSTUNREACH";
        case ENETUNREACH: return "ENETUNREACH";
        case ENOBUFS: return "ENOBUFS";
        case EAGAIN: return "EAGAIN";
        default: return "errno" + std::to_string(e);
    }
}

// bench_modes.hpp's Net over BSD sockets.
class LinuxNet {
public:
    using Sock = int;
    static constexpr Sock kInvalid = -1;

    LinuxNet(std::uint64_t buffer, std::string cc) : buffer_(buffer), cc_(std::move(cc)) {}

    Sock connect(std::uint32_t addr, unsigned port, bool nodelay, std::string& err) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return failed(err);
        if (!configure(fd, nodelay, err)) {
            ::close(fd);
            return kInvalid;
        }
        const sockaddr_in sin = address(addr, port);
        int r = 0;
        do {
            r = ::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
        } while (r != 0 && errno == EINTR);
        if (r != 0) {
            const int saved = errno;
            ::close(fd);
            errno = saved;
            return failed(err);
        }
        return fd;
    }

    Sock listen(unsigned port, int backlog, bool nodelay, std::string& err) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return failed(err);
        const int one = 1;
        const sockaddr_in sin = address(INADDR_ANY, port);
        if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            !configure(fd, nodelay, err) ||
            ::bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 ||
            ::listen(fd, backlog) != 0) {
            if (err.empty())
                err = errno_name(errno);
            ::close(fd);
            return kInvalid;
        }
        return fd;
    }

    Sock accept(Sock l, std::string& err) {
        for (;;) {
            const int fd = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd >= 0) {
                // Accepted sockets inherit TCP_NODELAY and the buffer sizes from the listener.
                return fd;
            }
            if (errno != EINTR)
                return failed(err);
        }
    }
    // shutdown() on a listening socket makes blocked and later accept() calls fail (EINVAL);
    // the descriptor is closed only when no thread can still use it.
    void wake_listener(Sock l) { (void)::shutdown(l, SHUT_RDWR); }
    void close_listener(Sock l) { (void)::close(l); }

    long send(Sock s, const unsigned char* p, std::size_t n, std::string& err) {
        for (;;) {
            const ssize_t k = ::send(s, p, n, MSG_NOSIGNAL);
            if (k >= 0)
                return static_cast<long>(k);
            if (errno != EINTR)
                return fail_long(err);
        }
    }
    long recv(Sock s, unsigned char* p, std::size_t n, std::string& err) {
        for (;;) {
            const ssize_t k = ::recv(s, p, n, 0);
            if (k >= 0)
                return static_cast<long>(k);
            if (errno != EINTR)
                return fail_long(err);
        }
    }
    bool shutdown_send(Sock s, std::string& err) {
        if (::shutdown(s, SHUT_WR) == 0)
            return true;
        err = errno_name(errno);
        return false;
    }
    bool close(Sock s, std::string& err) {
        if (::close(s) == 0)
            return true;
        err = errno_name(errno);
        return false;
    }
    // Linux TCP has no disconnect data.
    bool send_disconnect(Sock, const unsigned char*, std::size_t, std::string& err) {
        err = "unsupported";
        return false;
    }
    long recv_disconnect(Sock, unsigned char*, std::size_t, std::string& err) {
        err = "unsupported";
        return -1;
    }
    void mem_begin() { kmem_before_ = bench::kernel_mem(); }
    std::string mem_end() { return bench::kernel_mem_delta(kmem_before_, bench::kernel_mem()); }

private:
    static sockaddr_in address(std::uint32_t addr, unsigned port) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(static_cast<std::uint16_t>(port));
        sin.sin_addr.s_addr = htonl(addr);
        return sin;
    }
    bool configure(int fd, bool nodelay, std::string& err) const {
        const int one = 1;
        if (nodelay && ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
            err = "TCP_NODELAY: " + errno_name(errno);
            return false;
        }
        if (!cc_.empty() && ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc_.data(),
                                         static_cast<socklen_t>(cc_.size())) != 0) {
            err = "TCP_CONGESTION " + cc_ + ": " + errno_name(errno);
            return false;
        }
        if (buffer_ != 0) {
            const int b = static_cast<int>(buffer_);
            if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof b) != 0 ||
                ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof b) != 0) {
                err = "SO_SNDBUF/SO_RCVBUF: " + errno_name(errno);
                return false;
            }
        }
        return true;
    }
    static Sock failed(std::string& err) {
        err = errno_name(errno);
        return kInvalid;
    }
    static long fail_long(std::string& err) {
        err = errno_name(errno);
        return -1;
    }

    std::uint64_t buffer_;
    std::string cc_;  // TCP_CONGESTION, empty: the kernel's default
    bench::KernelMem kmem_before_;
};

// Mode hold needs a descriptor per connection: raise the soft limit to the hard one.
bool raise_fd_limit(std::uint64_t need) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need;
}

}  // namespace

int main(int argc, char** argv) {
    apps::CommandLine cl(argc, argv);
    bench::Options o;
    while (cl.next()) {
        if (cl.is("--help") || cl.is("-h")) {
            std::printf("%s%s", kHelp, bench::options_help());
            return 0;
        }
        if (!bench::parse_option(cl, o))
            cl.unknown();
    }
    bench::check_options(cl, o);
    std::uint32_t addr = 0;
    if (!o.connect.empty() && !bench::parse_ipv4(o.connect, addr))
        cl.fail("bad --connect address " + o.connect);
    if (o.disc_data)
        cl.fail("--disc-data: Linux TCP has no disconnect data");
    if (o.message)
        cl.fail("--message: Linux TCP has no message-oriented sockets");
    if (o.connect_data)
        cl.fail("--connect-data: Linux TCP has no connect data");
    if (o.mode == "hold" && !raise_fd_limit(o.count + 64)) {
        std::fprintf(stderr, "ERROR linux-bench: RLIMIT_NOFILE is below %llu (ulimit -n)\n",
                     static_cast<unsigned long long>(o.count + 64));
        return 1;
    }
    bench::start_watchdog(o.timeout_ms, "linux-bench");
    LinuxNet net(o.buffer, o.cc);
    return bench::run_mode(net, o, addr);
}
