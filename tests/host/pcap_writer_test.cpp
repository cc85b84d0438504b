// PcapWriter: the file is a raw-IP pcap (linktype 101, microseconds) holding exactly the packets.
#include "ustack/pcap_writer.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<std::byte> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(chars.size());
    std::memcpy(out.data(), chars.data(), chars.size());
    return out;
}

// pcap fields are in the writer's byte order; the magic number tells which (here: ours).
std::uint32_t u32(const std::vector<std::byte>& f, std::size_t at) {
    std::uint32_t v = 0;
    std::memcpy(&v, f.data() + at, sizeof v);
    return v;
}
std::uint16_t u16(const std::vector<std::byte>& f, std::size_t at) {
    std::uint16_t v = 0;
    std::memcpy(&v, f.data() + at, sizeof v);
    return v;
}

std::vector<std::byte> ip_packet(std::size_t payload, std::uint8_t fill) {
    std::vector<std::byte> p(20 + payload, std::byte{fill});
    const auto total = static_cast<std::uint16_t>(p.size());
    p[0] = std::byte{0x45};
    p[2] = std::byte{static_cast<std::uint8_t>(total >> 8)};
    p[3] = std::byte{static_cast<std::uint8_t>(total & 0xff)};
    p[8] = std::byte{64};
    p[9] = std::byte{6};
    return p;
}

std::string temp_path(const char* stem) {
    return (std::filesystem::temp_directory_path() /
            (std::string(stem) + "-" + std::to_string(::getpid()) + ".pcap"))
        .string();
}

}  // namespace

TEST_SUITE("host") {
    TEST_CASE("PcapWriter writes a LINKTYPE_RAW pcap with microsecond timestamps") {
        const std::string path = temp_path("ustack-pcap-test");
        const std::vector<std::vector<std::byte>> packets = {
            ip_packet(0, 0x11), ip_packet(100, 0x22), ip_packet(1460, 0x33)};
        using std::chrono::system_clock;
        const system_clock::time_point t0{std::chrono::seconds(1'700'000'000)};
        {
            ustack::PcapWriter w(path);
            CHECK(w.path() == path);
            for (std::size_t i = 0; i < packets.size(); ++i) {
                w.write(packets[i], t0 + std::chrono::microseconds(123'456 + 1000 * i));
            }
            CHECK(w.packets_written() == 3);
            CHECK(w.write_errors() == 0);
        }  // closed: everything is on disk

        const auto f = read_file(path);
        REQUIRE(f.size() >= 24);
        // Global header: magic, version 2.4, thiszone, sigfigs, snaplen, network (link type).
        CHECK(u32(f, 0) == 0xa1b2c3d4);  // microsecond resolution, our byte order
        CHECK(u16(f, 4) == 2);
        CHECK(u16(f, 6) == 4);
        CHECK(u32(f, 16) >= 65535);  // snaplen: whole packets
        CHECK(u32(f, 20) == ustack::PcapWriter::kLinkTypeRaw);
        CHECK(u32(f, 20) == 101);

        std::size_t at = 24;
        for (std::size_t i = 0; i < packets.size(); ++i) {
            REQUIRE(f.size() >= at + 16);
            CHECK(u32(f, at) == 1'700'000'000);           // ts_sec
            CHECK(u32(f, at + 4) == 123'456 + 1000 * i);  // ts_usec
            CHECK(u32(f, at + 8) == packets[i].size());   // incl_len
            CHECK(u32(f, at + 12) == packets[i].size());  // orig_len
            REQUIRE(f.size() >= at + 16 + packets[i].size());
            CHECK(std::memcmp(f.data() + at + 16, packets[i].data(), packets[i].size()) == 0);
            at += 16 + packets[i].size();
        }
        CHECK(at == f.size());  // nothing else in the file
        std::filesystem::remove(path);
    }

    TEST_CASE("PcapWriter stamps packets with the current time by default") {
        const std::string path = temp_path("ustack-pcap-now");
        const auto before = std::chrono::system_clock::now();
        {
            ustack::PcapWriter w(path);
            w.write(ip_packet(10, 0x44));
        }
        const auto after = std::chrono::system_clock::now();
        const auto f = read_file(path);
        REQUIRE(f.size() == 24 + 16 + 30);
        const auto stamp = std::chrono::seconds(u32(f, 24)) + std::chrono::microseconds(u32(f, 28));
        CHECK(stamp >= std::chrono::floor<std::chrono::microseconds>(before.time_since_epoch()));
        CHECK(stamp <= after.time_since_epoch());
        std::filesystem::remove(path);
    }

    TEST_CASE("PcapWriter names the path it cannot create") {
        try {
            ustack::PcapWriter w("/nonexistent-dir/ustack.pcap");
            FAIL("expected an exception");
        } catch (const std::runtime_error& e) {
            CHECK(std::string(e.what()).find("/nonexistent-dir/ustack.pcap") != std::string::npos);
        }
    }

}  // TEST_SUITE
