#include "host_options.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

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
           "  --addr A.B.C.D/N      this host's address and prefix length (required)\n"
           "  --gateway A.B.C.D     next hop: the kernel end of the TUN device\n"
           "  --disconnect-data     offer the disconnect-data TCP option (kind 253, ExID 0xD15C)\n"
           "  --pcap FILE           write this host's traffic to FILE (raw IP, microseconds)\n"
           "  --state-log FILE      write this host's state log to FILE (JSON lines: every\n"
           "                        state change with its cause, and the API calls of note)\n"
           "  --log LEVEL           error | info | debug (default info)\n"
           "  --stats               print the host's counters at exit\n"
           "  --msl-ms N            maximum segment lifetime in ms (TIME-WAIT = 2 MSL)\n"
           "  --max-message-size N  message sockets: the largest message, SO_MAX_MSG_SIZE\n"
           "                        (65536 .. 16777216; default 65536)\n"
           "  --version             print the program's name and ustack's version, then exit\n";
}

bool parse_ipv4(const std::string& s, IN_ADDR& out) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    char tail = 0;
    if (std::sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4)
        return false;
    if (a > 255 || b > 255 || c > 255 || d > 255)
        return false;
    auto* p = reinterpret_cast<unsigned char*>(&out.s_addr);
    p[0] = static_cast<unsigned char>(a);
    p[1] = static_cast<unsigned char>(b);
    p[2] = static_cast<unsigned char>(c);
    p[3] = static_cast<unsigned char>(d);
    return true;
}

SOCKADDR_IN make_sockaddr(IN_ADDR addr, unsigned short port) {
    SOCKADDR_IN sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr = addr;
    ustack::store_be16(reinterpret_cast<unsigned char*>(&sin.sin_port), port);
    return sin;
}

std::vector<std::string> parse_host_options(int argc, char** argv, HostOptions& host) {
    std::vector<std::string> rest;
    auto need = [&](int& i, const char* name) -> std::string {
        if (i + 1 >= argc) {
            std::cerr << argv[0] << ": " << name << " needs a value\n";
            std::exit(2);
        }
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--version") {
            const char* slash = std::strrchr(argv[0], '/');
            std::printf("%s (ustack) %s\n", slash != nullptr ? slash + 1 : argv[0], USTACK_VERSION);
            std::exit(0);
        } else if (a == "--tun") {
            host.tun = need(i, "--tun");
        } else if (a == "--addr") {
            host.addr = need(i, "--addr");
        } else if (a == "--gateway") {
            host.gateway = need(i, "--gateway");
        } else if (a == "--create-tun") {
            host.create_tun = true;
        } else if (a == "--reattach") {
            host.reattach = true;
        } else if (a == "--disconnect-data") {
            host.disconnect_data = true;
        } else if (a == "--pcap") {
            host.pcap = need(i, "--pcap");
        } else if (a == "--state-log") {
            host.state_log = need(i, "--state-log");
        } else if (a == "--log") {
            const std::string l = need(i, "--log");
            if (l == "error") {
                host.log = LogLevel::error;
            } else if (l == "info") {
                host.log = LogLevel::info;
            } else if (l == "debug") {
                host.log = LogLevel::debug;
            } else {
                std::cerr << argv[0] << ": --log: error, info or debug\n";
                std::exit(2);
            }
        } else if (a == "--stats") {
            host.stats = true;
        } else if (a == "--msl-ms") {
            host.msl_ms =
                static_cast<unsigned>(std::strtoul(need(i, "--msl-ms").c_str(), nullptr, 10));
        } else if (a == "--max-message-size") {
            const std::string v = need(i, "--max-message-size");
            char* end = nullptr;
            const unsigned long n = std::strtoul(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || n < 65536 || n > 16777216) {
                std::cerr << argv[0] << ": --max-message-size: 65536 .. 16777216, got " << v
                          << "\n";
                std::exit(2);
            }
            host.max_message_size = static_cast<unsigned>(n);
        } else {
            rest.push_back(a);
        }
    }
    return rest;
}

bool to_config(const HostOptions& o, WSPHOSTCONFIG& cfg, std::string& error) {
    cfg = WSPHOSTCONFIG{};
    if (o.addr.empty()) {
        error = "--addr A.B.C.D/N is required";
        return false;
    }
    const auto slash = o.addr.find('/');
    const std::string ip = o.addr.substr(0, slash);
    int prefix = 24;
    if (slash != std::string::npos)
        prefix = std::atoi(o.addr.c_str() + slash + 1);
    if (!parse_ipv4(ip, cfg.addr) || prefix < 1 || prefix > 32) {
        error = "--addr: expected A.B.C.D/N, got " + o.addr;
        return false;
    }
    cfg.prefix_len = prefix;
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
