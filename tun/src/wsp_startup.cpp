// WSPStartup: validate a WSPHOSTCONFIG, open the device, and start a host (HostCore + AsioHost).
// WSPCleanup is in stack/src/api (host.cpp: cleanup_host).
//
// This file includes ustack/wsp.h, so it may include no socket header -- and the tun/ headers
// include none (they declare Asio's io_context without including Asio).
#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <new>
#include <random>
#include <string>

#include "ustack/byte_order.hpp"
#include "ustack/host.hpp"
#include "ustack/host_core.hpp"
#include "ustack/pcap_writer.hpp"
#include "ustack/state_log_writer.hpp"
#include "ustack/tun_device.hpp"
#include "ustack/wsp.h"

namespace {

// Largest per-connection buffer accepted (1 GiB: the most a scaled TCP window can announce,
// RFC 7323 §2.3).
constexpr std::uint32_t kMaxBuffer = 1U << 30;
constexpr std::uint32_t kMaxConnections = (1U << 20) - 1;  // the socket table's slots
// SO_MAX_MSG_SIZE's range (DESIGN.md §3b: at least 64 KiB; 16 MiB keeps a message within what
// a receive buffer holds).
constexpr std::uint32_t kMinMaxMessage = 1U << 16;
constexpr std::uint32_t kMaxMaxMessage = 1U << 24;
// A host's default buffers per connection. Larger than the engine's conservative defaults
// (config.hpp): storage grows with use (RingBuffer), so a connection pays for a large window
// only when it fills it, and a fast path over TUN offload needs about 1 MB in flight
// (~1 GB/s x the few hundred microseconds a loaded round trip takes).
constexpr std::uint32_t kDefaultRecvBuffer = 1U << 20;
constexpr std::uint32_t kDefaultSendBuffer = 1U << 20;
// IFNAMSIZ - 1 (<net/if.h>, which this file may not include next to wsp.h).
constexpr std::size_t kMaxTunName = 15;

int fail(LPINT lpErrno, int error) {
    if (lpErrno != nullptr)
        *lpErrno = error;
    return SOCKET_ERROR;
}

int reject(LPINT lpErrno, const std::string& why) {
    std::cerr << "ustack: WSPStartup: " << why << "\n";
    return fail(lpErrno, WSAEINVAL);
}

// IN_ADDR holds the address in network byte order: its first byte in memory is the most
// significant. Read it that way, independent of the machine's byte order.
ustack::Ipv4Addr host_order(IN_ADDR a) {
    return ustack::load_be32(reinterpret_cast<const std::uint8_t*>(&a.s_addr));
}

// A unicast address a host can own: not 0/8 ("this network", RFC 1122 §3.2.1.3), loopback
// (127/8), multicast (224/4) or reserved/broadcast (240/4).
bool usable_unicast(ustack::Ipv4Addr a) {
    const unsigned first = a >> 24;
    return first != 0 && first != 127 && first < 224;
}

// splitmix64 (Steele, Lea, Flood 2014): expands a 64-bit seed into well-mixed words.
std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// The ISN / port-selection secret (RFC 6528): random, or a fixed expansion of `seed` (tests).
ustack::SipKey make_secret(std::uint64_t seed) {
    ustack::SipKey key{};
    if (seed != 0) {
        std::uint64_t state = seed;
        for (std::size_t i = 0; i < key.size(); i += 8) {
            std::uint64_t w = splitmix64(state);
            for (std::size_t j = 0; j < 8; ++j)
                key[i + j] = static_cast<std::uint8_t>(w >> (8 * j));
        }
    } else {
        std::random_device rd;
        for (std::size_t i = 0; i < key.size(); i += 4) {
            const std::uint32_t w = rd();
            for (std::size_t j = 0; j < 4; ++j)
                key[i + j] = static_cast<std::uint8_t>(w >> (8 * j));
        }
    }
    return key;
}

}  // namespace

extern "C" int WSPStartup(const WSPHOSTCONFIG* config, WSPHOST* host, LPINT lpErrno) {
    // The host owns config->device from here on, on every path (also when startup fails).
    std::unique_ptr<ustack::Device> device(
        config != nullptr ? static_cast<ustack::Device*>(config->device) : nullptr);
    if (host != nullptr)
        *host = nullptr;
    if (config == nullptr || host == nullptr)
        return fail(lpErrno, WSAEFAULT);

    // ---- validate ------------------------------------------------------------------------
    const bool has_tun = config->tun_name != nullptr;
    if (has_tun == (device != nullptr)) {
        return reject(lpErrno, "set exactly one of tun_name and device");
    }
    if (has_tun && std::strlen(config->tun_name) > kMaxTunName) {
        return reject(lpErrno, std::string("tun_name \"") + config->tun_name +
                                   "\" is too long: an interface name has at most 15 characters");
    }
    const ustack::Ipv4Addr addr = host_order(config->addr);
    if (!usable_unicast(addr)) {
        return reject(lpErrno, "addr " + ustack::ipv4_to_string(addr) +
                                   " is not a unicast address a host can own");
    }
    if (config->prefix_len < 0 || config->prefix_len > 32) {
        return reject(lpErrno, "prefix_len must be 0..32");
    }
    if (config->max_message_size != 0 &&
        (config->max_message_size < kMinMaxMessage || config->max_message_size > kMaxMaxMessage)) {
        return reject(lpErrno, "max_message_size must be 65536 .. 16 MiB (or 0 for 65536)");
    }
    if (config->max_connections > kMaxConnections) {
        return reject(lpErrno, "max_connections may be at most 1048575");
    }
    if (config->recv_buffer > kMaxBuffer || config->send_buffer > kMaxBuffer) {
        return reject(lpErrno, "recv_buffer and send_buffer may be at most 1 GiB");
    }

    std::optional<ustack::CongestionAlgorithm> congestion = ustack::CongestionAlgorithm::cubic;
    if (config->congestion != nullptr) {
        congestion = ustack::congestion_from_string(config->congestion);
        if (!congestion) {
            return reject(lpErrno, std::string("congestion \"") + config->congestion +
                                       "\" is not one of cubic, newreno, bbr");
        }
    }

    try {
        // ---- options ---------------------------------------------------------------------
        ustack::HostOptions opts;
        opts.stack.tcp.congestion = *congestion;
        opts.stack.addr = addr;
        opts.stack.tcp.disconnect_data = config->disconnect_data != 0;
        if (config->msl_ms != 0) {
            opts.stack.tcp.msl = ustack::Duration(std::int64_t{config->msl_ms} * 1000);
        }
        opts.stack.tcp.tail_loss_probe = true;  // RFC 8985 §7 (config.hpp)
        // Keep-alive as Windows has it: off unless asked, 2 h idle, 1 s between probes (and
        // TcpConfig's 10 probes): SO_KEEPALIVE, SIO_KEEPALIVE_VALS.
        opts.stack.tcp.keepalive = config->keepalive != 0;
        opts.stack.tcp.keepalive_idle =
            config->keepalive_time_ms != 0
                ? ustack::Duration(std::int64_t{config->keepalive_time_ms} * 1000)
                : ustack::Duration(std::int64_t{7200} * 1'000'000);
        opts.stack.tcp.keepalive_interval =
            config->keepalive_interval_ms != 0
                ? ustack::Duration(std::int64_t{config->keepalive_interval_ms} * 1000)
                : ustack::Duration(1'000'000);
        opts.stack.tcp.recv_buffer =
            config->recv_buffer != 0 ? config->recv_buffer : kDefaultRecvBuffer;
        opts.stack.tcp.send_buffer =
            config->send_buffer != 0 ? config->send_buffer : kDefaultSendBuffer;
        if (config->cleanup_timeout_ms != 0) {
            opts.cleanup_timeout =
                ustack::Duration(std::int64_t{config->cleanup_timeout_ms} * 1000);
        }
        opts.secret = make_secret(config->isn_seed);
        if (config->max_message_size != 0) {
            opts.max_message = config->max_message_size;
        }
        opts.device_may_return = has_tun && config->reattach != 0;
        if (config->max_connections != 0) {
            opts.stack.max_connections = config->max_connections;
        }

        // ---- capture file and device -----------------------------------------------------
        std::unique_ptr<ustack::PcapWriter> pcap;
        if (config->pcap_path != nullptr && config->pcap_path[0] != '\0') {
            try {
                pcap = std::make_unique<ustack::PcapWriter>(config->pcap_path);
            } catch (const std::runtime_error& e) {
                return reject(lpErrno, e.what());
            }
        }
        std::unique_ptr<ustack::StateLogWriter> state_log;
        if (config->state_log_path != nullptr && config->state_log_path[0] != '\0') {
            try {
                state_log = std::make_unique<ustack::StateLogWriter>(config->state_log_path);
            } catch (const std::runtime_error& e) {
                return reject(lpErrno, e.what());
            }
            opts.stack.record_state_changes = true;
        }
        if (!device) {
            try {
                // A capture should hold the segments as on the wire, with real checksums: a
                // host writing one runs without offload.
                ustack::TunOptions to;
                to.offload = config->no_offload == 0 && pcap == nullptr;
                to.create = config->create_tun != 0;
                to.reattach = config->reattach != 0;
                device = ustack::TunDevice::open(config->tun_name, to);
            } catch (const std::exception& e) {
                std::cerr << "ustack: WSPStartup: " << e.what() << "\n";
                return fail(lpErrno, WSASYSNOTREADY);
            }
        }

        // ---- the host --------------------------------------------------------------------
        const ustack::DriverFactory factory =
            [&](ustack::HostCore& core) -> std::unique_ptr<ustack::HostDriver> {
            auto driver = std::make_unique<ustack::AsioHost>(core, std::move(device),
                                                             std::move(pcap), std::move(state_log));
            try {
                driver->start();
            } catch (const std::exception& e) {
                std::cerr << "ustack: WSPStartup: starting the host failed: " << e.what() << "\n";
                throw;
            }
            return driver;
        };
        int error = 0;
        WSPHOST h = ustack::create_host(opts, factory, &error);
        if (h == nullptr)
            return fail(lpErrno, error != 0 ? error : WSASYSNOTREADY);
        *host = h;
        return 0;
    } catch (const std::bad_alloc&) {
        return fail(lpErrno, WSAENOBUFS);
    }
}
