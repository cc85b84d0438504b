// Command-line options every ustack app shares: where the host lives and what it logs.
//
//   --tun NAME            TUN device to attach to (default tun0); it must exist, unless
//   --create-tun          (create it; it goes away with the host)
//   --reattach            a deleted device: wait for one of the same name (WSPHOSTCONFIG)
//   --addr A.B.C.D/N      this host's address and prefix (required)
//   --gateway A.B.C.D     the next hop (the kernel side of the TUN device)
//   --disconnect-data     offer the disconnect-data TCP option (off by default, DESIGN.md §3)
//   --pcap FILE           write this host's own traffic (raw IP, µs timestamps)
//   --state-log FILE      write this host's state log (JSON lines: state changes, API calls)
//   --log LEVEL           error | info | debug (default info)
//   --stats               print the host's counters at exit
//   --msl-ms N            maximum segment lifetime, 1 .. 3600000 ms (TIME-WAIT is 2 MSL)
//   --max-message-size N  SOCK_SEQPACKET: the largest message, SO_MAX_MSG_SIZE (65536 ..
//                         16777216; default 65536)
//   --version             print "<program> (ustack) <version>" and exit 0
//
// Values are read strictly (command_line.hpp): a bad one exits with status 2.
#pragma once

#include <string>

#include "command_line.hpp"
#include "ustack/wsp.h"

namespace apps {

enum class LogLevel { error, info, debug };

struct HostOptions {
    std::string tun = "tun0";
    std::string addr;  // "A.B.C.D/N"
    std::string gateway;
    bool create_tun = false;
    bool reattach = false;
    bool disconnect_data = false;
    std::string pcap;
    std::string state_log;
    LogLevel log = LogLevel::info;
    bool stats = false;
    unsigned msl_ms = 0;
    unsigned max_message_size = 0;  // 0: the library's default (65536)
};

constexpr unsigned kMaxMslMs = 3'600'000;  // --msl-ms: an hour

// If the current argument of `cl` is a shared option, read it (and its value) into `host` and
// return true; a bad value exits with status 2 (CommandLine::fail). --version exits 0.
bool parse_host_option(CommandLine& cl, HostOptions& host);
// After the last argument: what every host needs (--addr), else exit 2.
void check_host_options(const CommandLine& cl, const HostOptions& host);
const char* host_options_help();

// Fill a WSPHOSTCONFIG (pointing into `o`, which must outlive the call to WSPStartup).
bool to_config(const HostOptions& o, WSPHOSTCONFIG& cfg, std::string& error);

// Parse "A.B.C.D" (strictly: parse_ipv4_bytes) into a network-order IN_ADDR.
bool parse_ipv4(const std::string& s, IN_ADDR& out);
// Parse "A.B.C.D/N" (N 1..32).
bool parse_prefix(const std::string& s, IN_ADDR& addr, int& prefix_len);
SOCKADDR_IN make_sockaddr(IN_ADDR addr, unsigned short port);

// Logging to stderr with a level and a monotonic timestamp.
void log(LogLevel level, const HostOptions& o, const std::string& msg);

// Start the host or exit(1) with a clear message.
WSPHOST start_host(const HostOptions& o);
// Print the host's counters (when --stats) and clean up.
void stop_host(WSPHOST host, const HostOptions& o);

}  // namespace apps
