#include "host_options.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>

#include "ustack/byte_order.hpp"

namespace apps {

const char* host_options_help() {
    return "host options:\n"
           "  --tun NAME            TUN device to attach to (default tun0); it must exist\n"
           "                        (ip tuntap add dev NAME mode tun; scripts/netns-up.sh)\n"
           "  --create-tun          create the --tun device if it does not exist (it goes away\n"
           "                        with the host)\n"
           "  --reattach            if the device is deleted under the host, wait for one of\n"
           "                        the same name and attach to it (connections carry on);\n"
           "                        without: the network is down, calls fail WSAENETDOWN\n"
           "  --addr A.B.C.D/N      this host's address and prefix length, N 1..32 (required)\n"
           "  --gateway A.B.C.D     next hop: the kernel end of the TUN device\n"
           "  --disconnect-data     offer the disconnect-data TCP option (kind 253, ExID 0xD15C)\n"
           "  --pcap FILE           write this host's traffic to FILE (raw IP, microseconds)\n"
           "  --state-log FILE      write this host's state log to FILE (JSON lines: every\n"
           "                        state change with its cause, and the API calls of note)\n"
           "  --log LEVEL           error | info | debug (default info)\n"
           "  --stats               print the host's counters at exit\n"
           "  --msl-ms N            maximum segment lifetime in ms, 1 .. 3600000 (TIME-WAIT =\n"
           "                        2 MSL; default 30000)\n"
           "  --max-message-size N  message sockets: the largest message, SO_MAX_MSG_SIZE\n"
           "                        (65536 .. 16777216; default 65536)\n"
           "  --version             print the program's name and ustack's version, then exit\n"
           "Numbers are decimal with no sign; a bad option or value exits with status 2.\n";
}

bool parse_ipv4(const std::string& s, IN_ADDR& out) {
    const auto bytes = parse_ipv4_bytes(s);
    if (!bytes)
        return false;
    std::memcpy(&out.s_addr, bytes->data(), 4);
    return true;
}

bool parse_prefix(const std::string& s, IN_ADDR& addr, int& prefix_len) {
    const auto slash = s.find('/');
    if (slash == std::string::npos || !parse_ipv4(s.substr(0, slash), addr))
        return false;
    const auto n = parse_number(std::string_view(s).substr(slash + 1), 1, 32);
    if (!n)
        return false;
    prefix_len = static_cast<int>(*n);
    return true;
}

SOCKADDR_IN make_sockaddr(IN_ADDR addr, unsigned short port) {
    SOCKADDR_IN sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr = addr;
    ustack::store_be16(reinterpret_cast<unsigned char*>(&sin.sin_port), port);
    return sin;
}

bool parse_host_option(CommandLine& cl, HostOptions& host) {
    if (cl.is("--version")) {
        std::printf("%s (ustack) %s\n", cl.tool().c_str(), USTACK_VERSION);
        std::exit(0);
    } else if (cl.is("--tun")) {
        host.tun = cl.value();
    } else if (cl.is("--addr")) {
        host.addr = cl.value();
        IN_ADDR a{};
        int n = 0;
        if (!parse_prefix(host.addr, a, n))
            cl.fail("bad --addr " + quote_arg(host.addr) + " (A.B.C.D/N, N 1..32)");
    } else if (cl.is("--gateway")) {
        host.gateway = cl.value();
        IN_ADDR a{};
        if (!parse_ipv4(host.gateway, a))
            cl.fail("bad --gateway " + quote_arg(host.gateway) + " (A.B.C.D)");
    } else if (cl.is("--create-tun")) {
        host.create_tun = true;
    } else if (cl.is("--reattach")) {
        host.reattach = true;
    } else if (cl.is("--disconnect-data")) {
        host.disconnect_data = true;
    } else if (cl.is("--pcap")) {
        host.pcap = cl.value();
    } else if (cl.is("--state-log")) {
        host.state_log = cl.value();
    } else if (cl.is("--log")) {
        const std::string l = cl.choice({"error", "info", "debug"});
        host.log = l == "error" ? LogLevel::error : l == "info" ? LogLevel::info : LogLevel::debug;
    } else if (cl.is("--stats")) {
        host.stats = true;
    } else if (cl.is("--msl-ms")) {
        host.msl_ms = static_cast<unsigned>(cl.number(1, kMaxMslMs));
    } else if (cl.is("--max-message-size")) {
        host.max_message_size = static_cast<unsigned>(cl.number(65536, 16777216));
    } else {
        return false;
    }
    return true;
}

void check_host_options(const CommandLine& cl, const HostOptions& host) {
    if (host.addr.empty())
        cl.fail("--addr A.B.C.D/N is required");
}

bool to_config(const HostOptions& o, WSPHOSTCONFIG& cfg, std::string& error) {
    cfg = WSPHOSTCONFIG{};
    if (o.addr.empty()) {
        error = "--addr A.B.C.D/N is required";
        return false;
    }
    if (!parse_prefix(o.addr, cfg.addr, cfg.prefix_len)) {
        error = "--addr: expected A.B.C.D/N (N 1..32), got " + o.addr;
        return false;
    }
    if (!o.gateway.empty() && !parse_ipv4(o.gateway, cfg.gateway)) {
        error = "--gateway: expected A.B.C.D, got " + o.gateway;
        return false;
    }
    cfg.tun_name = o.tun.c_str();
    cfg.create_tun = o.create_tun ? 1 : 0;
    cfg.reattach = o.reattach ? 1 : 0;
    cfg.disconnect_data = o.disconnect_data ? 1 : 0;
    cfg.pcap_path = o.pcap.empty() ? nullptr : o.pcap.c_str();
    cfg.state_log_path = o.state_log.empty() ? nullptr : o.state_log.c_str();
    cfg.msl_ms = o.msl_ms;
    cfg.max_message_size = o.max_message_size;
    return true;
}

void log(LogLevel level, const HostOptions& o, const std::string& msg) {
    if (static_cast<int>(level) > static_cast<int>(o.log))
        return;
    static const auto start = std::chrono::steady_clock::now();
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "[%8.3f] %s\n", t, msg.c_str());
}

WSPHOST start_host(const HostOptions& o) {
    WSPHOSTCONFIG cfg;
    std::string error;
    if (!to_config(o, cfg, error)) {
        std::cerr << "error: " << error << "\n";
        std::exit(2);
    }
    WSPHOST host = nullptr;
    int err = 0;
    if (WSPStartup(&cfg, &host, &err) != 0) {
        std::cerr << "error: WSPStartup failed: " << WSPErrorName(err) << "\n";
        std::exit(1);
    }
    return host;
}

void stop_host(WSPHOST host, const HostOptions& o) {
    if (o.stats) {
        char buf[4096];
        if (WSPFormatHostStats(host, buf, sizeof buf) > 0)
            std::fputs(buf, stderr);
    }
    int err = 0;
    (void)WSPCleanup(host, &err);
}

}  // namespace apps
