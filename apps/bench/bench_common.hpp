// What ustack-bench and linux-bench share, with no socket header in sight (ustack/wsp.h and
// <sys/socket.h> cannot meet in one translation unit): the command line, the data pattern the
// bulk receiver verifies, the wire constants of every mode, percentiles, the process's resident
// size and the kernel's socket memory, CPU time (the process's and the machine's), a watchdog,
// and the RESULT line the bench script parses.
//
// Every figure is printed as one line on stdout:
//
//   RESULT mode=<mode> role=<client|server> key=value ...
//
// and every failure as "ERROR <what>" on stderr, with exit status 1 (2: bad arguments, 124: the
// watchdog fired).
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "command_line.hpp"
#include "ustack/byte_order.hpp"

namespace bench {

// ---- options ---------------------------------------------------------------------------------

struct Options {
    std::string mode;     // bulk | pingpong | connrate | hold
    std::string connect;  // client: the server's address
    bool listen = false;  // server
    unsigned port = 5201;
    double seconds = 10;       // bulk, connrate: how long the client runs
    std::uint64_t count = 0;   // pingpong: round trips; hold: connections (0: mode default)
    unsigned threads = 0;      // connrate: concurrent clients / serving threads; hold: connectors
    std::uint64_t buffer = 0;  // socket buffers in bytes (0: the stack's default / autotuning)
    unsigned settle_ms = 500;  // hold: pause between the last connection and the measurement
    unsigned hold_ms = 1000;   // hold server: keep everything open this long after measuring
    unsigned timeout_ms = 120000;  // watchdog: the whole run
    bool disc_data = false;        // connrate: disconnect data both ways (ustack only)
    std::string cc;                // congestion control (empty: the stack's default)
    bool message = false;          // bulk, pingpong: message-oriented sockets (ustack only)
    bool connect_data = false;     // connrate: caller data on the SYNs, checked by WSPAccept's
                                   // condition function (ustack only)
    bool conditional = false;      // ... with SO_CONDITIONAL_ACCEPT: callee data back
};

// Mode bulk's unit of sending: a stream socket is given 128 KiB per send; a message socket sends
// 64 KiB messages (SO_MAX_MSG_SIZE's default bound, 65536), each one send and one receive.
constexpr std::size_t kBulkChunk = 128 * 1024;
constexpr std::size_t kBulkMessage = 64 * 1024;

inline const char* options_help() {
    return "bench options:\n"
           "  --mode M            bulk | pingpong | connrate | hold\n"
           "  --connect A.B.C.D   client: the server's address\n"
           "  --listen            server\n"
           "  --port P            server port, 1..65535 (default 5201)\n"
           "  --seconds S         bulk, connrate: client run time, 0.001..86400 (default 10)\n"
           "  --count N           pingpong: round trips (default 20000); hold: connections\n"
           "                      (default 10000); 1..100000000\n"
           "  --threads T         connrate: concurrent clients, serving threads (default 32);\n"
           "                      hold: connecting threads (default 8); 1..1024\n"
           "  --buffer BYTES      socket buffers, 0..1G (suffix K, M, G); default and 0: the\n"
           "                      stack's own\n"
           "  --settle-ms N       hold: wait before measuring, 0..86400000 (default 500)\n"
           "  --hold-ms N         hold server: keep the connections N ms after measuring,\n"
           "                      0..86400000 (default 1000)\n"
           "  --timeout-ms N      give up (exit 124) after N ms, 1..86400000 (default 120000)\n"
           "  --disc-data         connrate: disconnect data both ways (ustack <-> ustack)\n"
           "  --cc NAME           congestion control: ustack cubic | newreno | bbr; Linux any\n"
           "                      name the kernel knows (TCP_CONGESTION); default: the stack's\n"
           "  --message           bulk, pingpong: message-oriented sockets (SOCK_SEQPACKET,\n"
           "                      ustack <-> ustack): bulk sends 64 KiB messages, pingpong\n"
           "                      1-byte messages; the server checks every message's size\n"
           "  --connect-data      connrate: 16 bytes of caller data on every SYN, checked by the\n"
           "                      server's condition function (ustack <-> ustack,\n"
           "                      --disconnect-data)\n"
           "  --conditional       with --connect-data: the server listens with\n"
           "                      SO_CONDITIONAL_ACCEPT (each SYN waits for the condition\n"
           "                      function) and answers 16 bytes of callee data, which the\n"
           "                      client checks\n"
           "\n"
           "modes (client / server):\n"
           "  bulk      the client sends a verifiable byte pattern for --seconds, shuts down, and\n"
           "            waits for the server's report (byte count, pattern check); one connection\n"
           "  pingpong  1-byte request, 1-byte answer, --count times after a warm-up; median and\n"
           "            p99 round trip; TCP_NODELAY on both ends\n"
           "  connrate  --threads clients loop connect, 1 KiB request, 1 KiB echo, disconnect\n"
           "            (client first), close, for --seconds; then one STOP request ends the "
           "server\n"
           "  hold      --count idle established connections; both ends report their resident\n"
           "            size before and after (and linux-bench the kernel's socket memory); then\n"
           "            the server closes, the client reads end of stream and closes\n";
}

constexpr std::uint64_t kMaxMs = 86'400'000;  // --settle-ms, --hold-ms, --timeout-ms: a day

// If the current argument of `cl` is a bench option, read it into `o` and return true; a bad
// value exits with status 2.
inline bool parse_option(apps::CommandLine& cl, Options& o) {
    if (cl.is("--mode")) {
        o.mode = cl.choice({"bulk", "pingpong", "connrate", "hold"});
    } else if (cl.is("--connect")) {
        const auto a = cl.ipv4();
        o.connect = std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) +
                    "." + std::to_string(a[3]);
    } else if (cl.is("--listen")) {
        o.listen = true;
    } else if (cl.is("--port")) {
        o.port = static_cast<unsigned>(cl.number(1, 65535));
    } else if (cl.is("--seconds")) {
        o.seconds = cl.seconds(0.001, 86400, "0.001..86400");
    } else if (cl.is("--count")) {
        o.count = cl.number(1, 100'000'000);
    } else if (cl.is("--threads")) {
        o.threads = static_cast<unsigned>(cl.number(1, 1024));
    } else if (cl.is("--buffer")) {
        o.buffer = cl.size(0, std::uint64_t{1} << 30, "0..1G");
    } else if (cl.is("--settle-ms")) {
        o.settle_ms = static_cast<unsigned>(cl.number(0, kMaxMs));
    } else if (cl.is("--hold-ms")) {
        o.hold_ms = static_cast<unsigned>(cl.number(0, kMaxMs));
    } else if (cl.is("--timeout-ms")) {
        o.timeout_ms = static_cast<unsigned>(cl.number(1, kMaxMs));
    } else if (cl.is("--disc-data")) {
        o.disc_data = true;
    } else if (cl.is("--cc")) {
        o.cc = cl.value();
    } else if (cl.is("--message")) {
        o.message = true;
    } else if (cl.is("--connect-data")) {
        o.connect_data = true;
    } else if (cl.is("--conditional")) {
        o.conditional = true;
    } else {
        return false;
    }
    return true;
}

// After the last argument: the options' combinations, and the modes' defaults. Exits 2 on an
// error.
inline void check_options(const apps::CommandLine& cl, Options& o) {
    if (o.mode.empty() || o.connect.empty() == !o.listen)
        cl.fail("need --mode bulk|pingpong|connrate|hold and exactly one of --connect/--listen");
    if (o.message && o.mode != "bulk" && o.mode != "pingpong")
        cl.fail("--message is for modes bulk and pingpong");
    if ((o.connect_data && o.mode != "connrate") || (o.conditional && !o.connect_data))
        cl.fail("--connect-data is for mode connrate (--conditional with it)");
    if (o.count == 0)
        o.count = o.mode == "hold" ? 10000 : 20000;
    if (o.threads == 0)
        o.threads = o.mode == "hold" ? 8 : 32;
}

// "A.B.C.D" -> the address in host byte order.
inline bool parse_ipv4(const std::string& s, std::uint32_t& out) {
    const auto a = apps::parse_ipv4_bytes(s);
    if (!a)
        return false;
    out = (std::uint32_t{(*a)[0]} << 24) | (std::uint32_t{(*a)[1]} << 16) |
          (std::uint32_t{(*a)[2]} << 8) | (*a)[3];
    return true;
}

// ---- time, output, watchdog ------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline void result(const std::string& fields) {
    std::printf("RESULT %s\n", fields.c_str());
    std::fflush(stdout);
}

inline void error(const std::string& what) {
    std::fprintf(stderr, "ERROR %s\n", what.c_str());
    std::fflush(stderr);
}
// error(), and the exit status of a failed mode.
inline int fail(const std::string& what) {
    error(what);
    return 1;
}

inline std::string fmt(double v, int decimals = 1) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}

// Exit 124 if the run is not over within `ms` (a stalled transfer must not hang the script).
inline void start_watchdog(unsigned ms, const char* prog) {
    std::thread([ms, prog] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        std::fprintf(stderr, "ERROR %s: watchdog: still running after %u ms\n", prog, ms);
        std::fflush(stdout);
        std::_Exit(124);
    }).detach();
}

// ---- bulk data pattern -----------------------------------------------------------------------

// Byte i of every bulk stream is kPattern[i % period]. The period is prime-ish and not a multiple
// of any chunk size, so a lost, repeated or reordered chunk is caught by comparing with memcmp at
// memory speed (generating or hashing per byte would cap Linux <-> Linux throughput).
class Pattern {
public:
    static constexpr std::size_t kPeriod = (1u << 20) + 4093;

    Pattern() : bytes_(2 * kPeriod) {
        std::uint64_t x = 0x9E3779B97F4A7C15ull;
        for (std::size_t i = 0; i < kPeriod; ++i) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            bytes_[i] = static_cast<unsigned char>((x * 0x2545F4914F6CDD1Dull) >> 56);
        }
        std::copy_n(bytes_.begin(), kPeriod, bytes_.begin() + static_cast<std::ptrdiff_t>(kPeriod));
    }
    // Contiguous bytes for stream offsets [offset, offset + n), n <= kPeriod.
    [[nodiscard]] const unsigned char* at(std::uint64_t offset) const {
        return bytes_.data() + offset % kPeriod;
    }
    // True if `p[0..n)` is what the stream holds at `offset`.
    [[nodiscard]] bool matches(std::uint64_t offset, const unsigned char* p, std::size_t n) const {
        while (n > 0) {
            const std::size_t k = std::min<std::size_t>(n, kPeriod);
            if (std::memcmp(at(offset), p, k) != 0)
                return false;
            offset += k;
            p += k;
            n -= k;
        }
        return true;
    }

private:
    std::vector<unsigned char> bytes_;
};

// ---- wire constants --------------------------------------------------------------------------

constexpr std::size_t kRequestSize = 1024;             // connrate request and response
constexpr std::uint64_t kStopTag = ~std::uint64_t{0};  // connrate: first 8 bytes of STOP
constexpr std::size_t kBulkReportSize = 16;            // bulk: 8-byte count + 8-byte verdict, BE
constexpr unsigned char kPongXor = 0x5a;               // pingpong: answer = request ^ 0x5a

// ---- statistics ------------------------------------------------------------------------------

// The q-quantile (0..1) of `v` (sorted in place), nearest rank.
inline double quantile(std::vector<double>& v, double q) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    std::size_t rank = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
    rank = std::clamp<std::size_t>(rank, 1, v.size());
    return v[rank - 1];
}

// Counts errors by name across threads (the caller locks).
using ErrorCounts = std::map<std::string, std::uint64_t>;
inline std::string format_errors(const ErrorCounts& e) {
    std::string s;
    for (const auto& [name, n] : e) s += (s.empty() ? "" : ",") + name + ":" + std::to_string(n);
    return s.empty() ? "none" : s;
}

// ---- memory ----------------------------------------------------------------------------------

// This process's resident set size in KiB (/proc/self/status VmRSS), 0 if unreadable.
inline std::uint64_t rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtoull(line.c_str() + 6, nullptr, 10);
    }
    return 0;
}

// The kernel memory that TCP sockets occupy, as far as /proc shows it: the slab caches a
// connected TCP socket lives in (the socket itself, its inode, file and dentry, the port's bind
// buckets), in bytes of whole slabs, plus the TCP buffer pages of /proc/net/sockstat ("mem",
// pages; the count is kernel-wide). Slab figures are kernel-wide too, so other activity on the
// machine shows up as noise.
struct KernelMem {
    std::uint64_t slab_bytes = 0;
    std::uint64_t tcp_mem_pages = 0;
    std::uint64_t tcp_inuse = 0;  // this namespace's TCP sockets (sockstat "inuse")
    bool ok = false;
};

inline const std::array<const char*, 7>& kernel_socket_slabs() {
    static const std::array<const char*, 7> names = {"TCP",
                                                     "request_sock_TCP",
                                                     "tcp_bind_bucket",
                                                     "tcp_bind2_bucket",
                                                     "sock_inode_cache",
                                                     "filp",
                                                     "dentry"};
    return names;
}

inline KernelMem kernel_mem() {
    KernelMem m;
    std::ifstream slab("/proc/slabinfo");
    std::string line;
    const long page = 4096;
    bool any = false;
    while (std::getline(slab, line)) {
        std::istringstream in(line);
        std::string name;
        in >> name;
        const auto& names = kernel_socket_slabs();
        if (std::find(names.begin(), names.end(), name) == names.end())
            continue;
        // name active_objs num_objs objsize objperslab pagesperslab : tunables a b c : slabdata
        // active_slabs num_slabs sharedavail
        std::uint64_t active = 0, num = 0, objsize = 0, perslab = 0, pages = 0;
        in >> active >> num >> objsize >> perslab >> pages;
        std::string tok;
        std::uint64_t active_slabs = 0, num_slabs = 0;
        while (in >> tok && tok != "slabdata") {
        }
        in >> active_slabs >> num_slabs;
        m.slab_bytes += num_slabs * pages * static_cast<std::uint64_t>(page);
        any = true;
    }
    std::ifstream ss("/proc/net/sockstat");
    while (std::getline(ss, line)) {
        if (line.rfind("TCP:", 0) != 0)
            continue;
        std::istringstream in(line.substr(4));
        std::string key;
        std::uint64_t v = 0;
        while (in >> key >> v) {
            if (key == "mem")
                m.tcp_mem_pages = v;
            if (key == "inuse")
                m.tcp_inuse = v;
        }
    }
    m.ok = any;
    return m;
}

inline std::string kernel_mem_delta(const KernelMem& before, const KernelMem& after) {
    if (!before.ok || !after.ok)
        return "kmem=unavailable";
    const auto d = static_cast<long long>(after.slab_bytes) -
                   static_cast<long long>(before.slab_bytes) +
                   (static_cast<long long>(after.tcp_mem_pages) -
                    static_cast<long long>(before.tcp_mem_pages)) *
                       4096;
    return "kmem_delta_bytes=" + std::to_string(d) + " kslab_delta_bytes=" +
           std::to_string(static_cast<long long>(after.slab_bytes) -
                          static_cast<long long>(before.slab_bytes)) +
           " ktcp_mem_pages_delta=" +
           std::to_string(static_cast<long long>(after.tcp_mem_pages) -
                          static_cast<long long>(before.tcp_mem_pages)) +
           " ktcp_inuse=" + std::to_string(after.tcp_inuse);
}

// ---- CPU time --------------------------------------------------------------------------------

// A point in time with the CPU time spent so far, by this process (getrusage RUSAGE_SELF: every
// thread, user and system; the kernel's TCP work that ran in the process's context -- its system
// calls, and softirqs that interrupted it -- is system time) and by the whole machine (the
// "cpu" line of /proc/stat: all CPUs, every process and the kernel). Two samples bracket a
// measurement; cpu_fields() reports the difference.
struct CpuSample {
    Clock::time_point at{};
    double user_ms = 0, sys_ms = 0;  // this process
    // The machine, ms summed over CPUs: user + nice, system, irq + softirq, steal, idle + iowait.
    double m_user = 0, m_sys = 0, m_irq = 0, m_steal = 0, m_idle = 0;
    bool machine_ok = false;
    // Every other process (not a ustack-bench or linux-bench) by PID: its CPU time so far, ms
    // (/proc/PID/stat utime + stime + cutime + cstime), and whether it is a kernel thread
    // (ksoftirqd, kworkers).
    struct Other {
        double ms = 0;
        bool kthread = false;
    };
    std::map<long, Other> others;
};

inline void others_cpu(CpuSample& c, double tick_ms) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string pid = e.path().filename().string();
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::ifstream f(e.path() / "stat");
        std::string line;
        if (!std::getline(f, line))
            continue;
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime cutime cstime ...
        const auto open = line.find('('), close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close < open)
            continue;
        const std::string comm = line.substr(open + 1, close - open - 1);
        if (comm == "ustack-bench" || comm == "linux-bench")
            continue;
        std::istringstream in(line.substr(close + 1));
        std::string state;
        long long ppid = 0, pgrp = 0, session = 0, tty = 0, tpgid = 0;
        unsigned long long flags = 0, minflt = 0, cminflt = 0, majflt = 0, cmajflt = 0;
        double utime = 0, stime = 0, cutime = 0, cstime = 0;
        if (!(in >> state >> ppid >> pgrp >> session >> tty >> tpgid >> flags >> minflt >>
              cminflt >> majflt >> cmajflt >> utime >> stime >> cutime >> cstime))
            continue;
        constexpr unsigned long long kPfKthread = 0x00200000;  // PF_KTHREAD
        c.others[std::stol(pid)] = {(utime + stime + cutime + cstime) * tick_ms,
                                    (flags & kPfKthread) != 0};
    }
}

// What the other processes spent between two samples, ms: {user-space processes, kernel
// threads}. A process in both samples counts its difference, a new one all its time. A process
// that ended in between added its whole time to its parent's cutime when the parent reaped it, so
// its time before the first sample is taken off again -- except for kernel threads, which nobody
// reaps (kthreadd ignores SIGCHLD): their last moments are lost instead. A user-space process
// reaped without a wait (SIGCHLD ignored) would likewise be taken off without having been added;
// the sums are clamped at 0.
inline std::pair<double, double> others_delta(const CpuSample& a, const CpuSample& b) {
    double procs = 0, kthreads = 0;
    for (const auto& [pid, o] : b.others) {
        const auto it = a.others.find(pid);
        const double before = it == a.others.end() || it->second.ms > o.ms ? 0 : it->second.ms;
        (o.kthread ? kthreads : procs) += o.ms - before;
    }
    for (const auto& [pid, o] : a.others) {
        if (!o.kthread && b.others.count(pid) == 0)
            procs -= o.ms;
    }
    return {std::max(procs, 0.0), std::max(kthreads, 0.0)};
}

inline CpuSample cpu_sample() {
    CpuSample c;
    const long hz = ::sysconf(_SC_CLK_TCK);
    const double tick_ms = 1e3 / static_cast<double>(hz > 0 ? hz : 100);
    others_cpu(c, tick_ms);
    c.at = Clock::now();
    rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) == 0) {
        auto ms = [](const timeval& tv) {
            return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
        };
        c.user_ms = ms(ru.ru_utime);
        c.sys_ms = ms(ru.ru_stime);
    }
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ ticks;
    // guest time is already in user and nice)
    std::ifstream f("/proc/stat");
    std::string name;
    double t[8] = {};
    if (f >> name && name == "cpu" &&
        f >> t[0] >> t[1] >> t[2] >> t[3] >> t[4] >> t[5] >> t[6] >> t[7]) {
        c.m_user = (t[0] + t[1]) * tick_ms;
        c.m_sys = t[2] * tick_ms;
        c.m_irq = (t[5] + t[6]) * tick_ms;
        c.m_steal = t[7] * tick_ms;
        c.m_idle = (t[3] + t[4]) * tick_ms;
        c.machine_ok = true;
    }
    return c;
}

// The CPU time from `a` to `b` as RESULT fields: cpu_user_ms, cpu_sys_ms (this process);
// mach_busy_ms (user + nice + system + irq + softirq of all CPUs: steal, the time the hypervisor
// gave this VM's CPUs to others, and idle are not busy), mach_user_ms, mach_sys_ms, mach_irq_ms,
// mach_steal_ms, mach_idle_ms; others_ms and kthreads_ms, what other processes and kernel
// threads spent of it; cpu_wall_ms, the window's length.
inline std::string cpu_fields(const CpuSample& a, const CpuSample& b) {
    std::string s =
        "cpu_user_ms=" + fmt(b.user_ms - a.user_ms) + " cpu_sys_ms=" + fmt(b.sys_ms - a.sys_ms) +
        " cpu_wall_ms=" + fmt(std::chrono::duration<double, std::milli>(b.at - a.at).count());
    if (a.machine_ok && b.machine_ok) {
        const double user = b.m_user - a.m_user, sys = b.m_sys - a.m_sys, irq = b.m_irq - a.m_irq;
        const auto [others, kthreads] = others_delta(a, b);
        s += " mach_busy_ms=" + fmt(user + sys + irq, 0) + " mach_user_ms=" + fmt(user, 0) +
             " mach_sys_ms=" + fmt(sys, 0) + " mach_irq_ms=" + fmt(irq, 0) +
             " mach_steal_ms=" + fmt(b.m_steal - a.m_steal, 0) +
             " mach_idle_ms=" + fmt(b.m_idle - a.m_idle, 0) + " others_ms=" + fmt(others, 0) +
             " kthreads_ms=" + fmt(kthreads, 0);
    }
    return s;
}

}  // namespace bench
