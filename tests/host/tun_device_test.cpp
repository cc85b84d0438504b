// TunDevice against the real kernel: needs /dev/net/tun and CAP_NET_ADMIN; each case skips (with
// a warning) where the device cannot be opened. Label "tun": `ctest -LE tun` leaves them out.
#include "ustack/tun_device.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "device_peer.hpp"
#include "ustack/unique_fd.hpp"

using ustack::TunDevice;
using ustack::TunOptions;

namespace {

TunOptions creating() {
    TunOptions o;
    o.create = true;
    return o;
}

// Whether this process may create TUN devices (root or CAP_NET_ADMIN, /dev/net/tun present).
bool tun_usable() {
    try {
        (void)TunDevice::open("", creating());  // a kernel-named device, gone again at once
        return true;
    } catch (const std::system_error& e) {
        MESSAGE("TUN tests skipped: " << e.what());
        return false;
    }
}

#define SKIP_WITHOUT_TUN()                                          \
    do {                                                            \
        if (!tun_usable()) {                                        \
            WARN_MESSAGE(false, "no usable /dev/net/tun: skipped"); \
            return;                                                 \
        }                                                           \
    } while (0)

std::string unique_name(const char* prefix) {
    return prefix + std::to_string(::getpid() % 100000);
}

bool interface_exists(const std::string& name) {
    return std::filesystem::exists("/sys/class/net/" + name);
}

std::error_code code_of(const std::function<void()>& f, std::string* what = nullptr) {
    try {
        f();
    } catch (const std::system_error& e) {
        if (what != nullptr)
            *what = e.what();
        return e.code();
    }
    return {};
}

// Give the interface an IPv4 address/30 and bring it up (what scripts/netns-up.sh does with ip).
void configure(const std::string& name, const char* addr) {
    ustack::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(s.valid());
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), name.size());
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, addr, &sin.sin_addr) == 1);
    std::memcpy(&ifr.ifr_addr, &sin, sizeof sin);
    REQUIRE(::ioctl(s.get(), SIOCSIFADDR, &ifr) == 0);
    REQUIRE(::inet_pton(AF_INET, "255.255.255.252", &sin.sin_addr) == 1);
    std::memcpy(&ifr.ifr_netmask, &sin, sizeof sin);
    REQUIRE(::ioctl(s.get(), SIOCSIFNETMASK, &ifr) == 0);
    REQUIRE(::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    REQUIRE(::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0);
}

std::uint16_t checksum(const std::byte* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum +=
            (std::to_integer<std::uint32_t>(p[i]) << 8) | std::to_integer<std::uint32_t>(p[i + 1]);
    if (n % 2 != 0)
        sum += std::to_integer<std::uint32_t>(p[n - 1]) << 8;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

void put16(std::vector<std::byte>& p, std::size_t at, std::uint16_t v) {
    p[at] = std::byte{static_cast<std::uint8_t>(v >> 8)};
    p[at + 1] = std::byte{static_cast<std::uint8_t>(v & 0xff)};
}

// An ICMP echo request src -> dst (RFC 792), id 0x5553 ("US"), sequence 1, 16 bytes of data.
std::vector<std::byte> echo_request(const char* src, const char* dst) {
    std::vector<std::byte> p(20 + 8 + 16, std::byte{0});
    p[0] = std::byte{0x45};
    put16(p, 2, static_cast<std::uint16_t>(p.size()));
    p[8] = std::byte{64};
    p[9] = std::byte{1};  // ICMP
    in_addr a{};
    REQUIRE(::inet_pton(AF_INET, src, &a) == 1);
    std::memcpy(p.data() + 12, &a, 4);
    REQUIRE(::inet_pton(AF_INET, dst, &a) == 1);
    std::memcpy(p.data() + 16, &a, 4);
    put16(p, 10, checksum(p.data(), 20));
    p[20] = std::byte{8};  // echo request
    put16(p, 24, 0x5553);
    put16(p, 26, 1);
    for (std::size_t i = 0; i < 16; ++i) p[28 + i] = std::byte{static_cast<std::uint8_t>(i)};
    put16(p, 22, checksum(p.data() + 20, p.size() - 20));
    return p;
}

// A persistent TUN interface (what `ip tuntap add dev NAME mode tun` makes), deleted again when
// the guard goes (if it still exists).
void make_persistent(const std::string& name) {
    ustack::UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    REQUIRE(fd.valid());
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, name.data(), name.size());
    REQUIRE(::ioctl(fd.get(), TUNSETIFF, &ifr) == 0);
    REQUIRE(::ioctl(fd.get(), TUNSETPERSIST, 1) == 0);
}
void delete_link(const std::string& name) {
    REQUIRE(std::system(("ip link del dev " + name).c_str()) == 0);
}
struct LinkGuard {
    std::string name;
    ~LinkGuard() {
        if (interface_exists(name))
            (void)std::system(("ip link del dev " + name + " 2>/dev/null").c_str());
    }
};

// Send an echo request through `peer` and wait (3 s at most) for its reply among the packets
// received after the first `seen`.
bool ping(ustack::test::DevicePeer& peer, const std::string& from, const std::string& to) {
    const std::size_t before = peer.received_count();
    peer.send(echo_request(from.c_str(), to.c_str()));
    for (std::size_t seen = before + 1; peer.wait_for(seen, std::chrono::seconds(3)); ++seen) {
        const auto p = peer.received()[seen - 1].bytes;
        if (p.size() < 28 || (std::to_integer<int>(p[0]) >> 4) != 4)
            continue;
        const bool icmp = std::to_integer<int>(p[9]) == 1;
        const bool echo_reply = std::to_integer<int>(p[20]) == 0;
        const bool ours =
            std::to_integer<int>(p[24]) == 0x55 && std::to_integer<int>(p[25]) == 0x53;
        if (icmp && echo_reply && ours)
            return true;
    }
    return false;
}

// The link states a device reported (its LinkHandler), for a test thread to wait on.
class LinkLog {
public:
    ustack::LinkHandler handler() {
        return [this](bool up) {
            std::lock_guard lock(m_);
            states_.push_back(up);
            cv_.notify_all();
        };
    }
    // Wait (5 s at most) until `n` states were reported; what was reported by then.
    std::vector<bool> wait_for(std::size_t n) {
        std::unique_lock lock(m_);
        cv_.wait_for(lock, std::chrono::seconds(5), [&] { return states_.size() >= n; });
        return states_;
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<bool> states_;
};

}  // namespace

TEST_SUITE("tun") {
    TEST_CASE("TunDevice creates a named TUN interface and refuses a second opener") {
        SKIP_WITHOUT_TUN();
        const std::string name = unique_name("ust");
        REQUIRE_FALSE(interface_exists(name));
        {
            auto dev = TunDevice::open(name, creating());
            CHECK(dev->name() == name);
            CHECK(interface_exists(name));

            std::string what;
            CHECK(code_of([&] { (void)TunDevice::open(name, creating()); }, &what) ==
                  std::errc::device_or_resource_busy);
            CHECK(what.find("busy") != std::string::npos);
            CHECK(what.find(name) != std::string::npos);
        }
        CHECK_FALSE(interface_exists(name));  // not persistent: gone with its last descriptor
    }

    TEST_CASE("TunDevice lets the kernel pick a name when given none") {
        SKIP_WITHOUT_TUN();
        auto dev = TunDevice::open("", creating());
        CHECK_FALSE(dev->name().empty());
        CHECK(interface_exists(dev->name()));
    }

    TEST_CASE("TunDevice refuses invalid names with a clear error") {
        std::string what;
        CHECK(code_of([&] { (void)TunDevice::open("ust-name-far-too-long"); }, &what) ==
              std::errc::invalid_argument);
        CHECK(what.find("too long") != std::string::npos);
        CHECK(what.find("15") != std::string::npos);
        CHECK(code_of([] { (void)TunDevice::open("a/b"); }) == std::errc::invalid_argument);
        CHECK(code_of([] { (void)TunDevice::open(".."); }) == std::errc::invalid_argument);
    }

    TEST_CASE("TunDevice refuses an interface that is not a TUN device") {
        SKIP_WITHOUT_TUN();
        std::string what;
        CHECK(code_of([&] { (void)TunDevice::open("lo"); }, &what) == std::errc::invalid_argument);
        CHECK(what.find("not a TUN device") != std::string::npos);
    }

    TEST_CASE("TunDevice exchanges packets with the kernel: a ping gets its echo reply") {
        SKIP_WITHOUT_TUN();
        const std::string name = unique_name("ustp");
        // 198.18.0.0/15 is set aside for benchmarking (RFC 2544): it collides with no real network.
        const std::string third = std::to_string(::getpid() % 250);
        const std::string kernel_addr = "198.18." + third + ".1";
        const std::string peer_addr = "198.18." + third + ".2";

        auto dev = TunDevice::open(name, creating());
        configure(name, kernel_addr.c_str());
        ustack::test::DevicePeer peer(std::move(dev));

        CHECK(ping(peer, peer_addr, kernel_addr));
        peer.sync();
        const auto s = peer.stats();
        CHECK(s.tx_packets == 1);
        CHECK(s.tx_dropped == 0);
        CHECK(s.rx_packets >= 1);
    }

    TEST_CASE(
        "issue 22: TunDevice refuses a name with no interface unless asked to create it - a typo "
        "is an error") {
        SKIP_WITHOUT_TUN();
        const std::string name = unique_name("ustn");
        REQUIRE_FALSE(interface_exists(name));
        std::string what;
        CHECK(code_of([&] { (void)TunDevice::open(name); }, &what) == std::errc::no_such_device);
        CHECK(what.find("does not exist") != std::string::npos);
        CHECK(what.find("--create-tun") != std::string::npos);
        CHECK_FALSE(interface_exists(name));  // nothing was created
        CHECK(code_of([&] { (void)TunDevice::open(""); }) == std::errc::no_such_device);
        // A persistent one (ip tuntap add) is attached to without being asked to create it.
        make_persistent(name);
        LinkGuard guard{name};
        auto dev = TunDevice::open(name);
        CHECK(dev->name() == name);
    }

    TEST_CASE(
        "issue 22: a deleted TUN interface is reported once through on_link - later sends are "
        "dropped and counted") {
        SKIP_WITHOUT_TUN();
        const std::string name = unique_name("ustd");
        make_persistent(name);
        LinkGuard guard{name};
        LinkLog log;
        ustack::test::DevicePeer peer(TunDevice::open(name), log.handler());
        delete_link(name);
        CHECK(log.wait_for(1) == std::vector<bool>{false});
        peer.send(echo_request("198.18.0.2", "198.18.0.1"));
        peer.sync();
        CHECK(peer.stats().tx_dropped == 1);
        CHECK(peer.stats().rx_errors >= 1);
        CHECK(log.wait_for(1) == std::vector<bool>{false});  // still one report
    }

    TEST_CASE(
        "issue 22: with reattach a TunDevice whose interface was deleted attaches to a new one of "
        "the same name and exchanges packets again") {
        SKIP_WITHOUT_TUN();
        const std::string name = unique_name("ustr");
        const std::string third = std::to_string(::getpid() % 250);
        const std::string kernel_addr = "198.19." + third + ".1";
        const std::string peer_addr = "198.19." + third + ".2";
        make_persistent(name);
        LinkGuard guard{name};
        TunOptions o;
        o.reattach = true;
        LinkLog log;
        ustack::test::DevicePeer peer(TunDevice::open(name, o), log.handler());
        configure(name, kernel_addr.c_str());
        CHECK(ping(peer, peer_addr, kernel_addr));

        delete_link(name);
        CHECK(log.wait_for(1) == std::vector<bool>{false});
        make_persistent(name);  // the administrator puts it back ...
        CHECK(log.wait_for(2) == std::vector<bool>{false, true});
        configure(name, kernel_addr.c_str());  // ... and configures it again
        CHECK(ping(peer, peer_addr, kernel_addr));
    }

}  // TEST_SUITE
