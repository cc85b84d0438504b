// PcapWriter: see pcap_writer.hpp.
#include "ustack/pcap_writer.hpp"

#include <pcap/pcap.h>
#include <tins/packet.h>
#include <tins/packet_writer.h>
#include <tins/rawpdu.h>
#include <tins/timestamp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace ustack::detail {
// Tag type naming the raw-IP link type for Tins::PacketWriter, which has no DataLinkType for
// bare IP. libpcap maps DLT_RAW (12 on Linux) to LINKTYPE_RAW (101) in the file header.
struct RawIpLink;
}  // namespace ustack::detail

template <>
struct Tins::DataLinkType<ustack::detail::RawIpLink> {
    [[nodiscard]] int get_type() const { return DLT_RAW; }
};

namespace ustack {

struct PcapWriter::Impl {
    explicit Impl(const std::string& path)
        : writer(path, Tins::DataLinkType<detail::RawIpLink>()) {}
    Tins::PacketWriter writer;
};

PcapWriter::PcapWriter(const std::string& path) : path_(path) {
    const std::string failed = "cannot create pcap file \"" + path + "\": ";
    // Create the file ourselves first: libtins 4.0's PacketWriter, when pcap_dump_open() fails,
    // closes the pcap handle and then reads its error message (a use after free).
    if (std::FILE* f = std::fopen(path.c_str(), "wb"); f != nullptr) {
        std::fclose(f);
    } else {
        throw std::runtime_error(failed + std::strerror(errno));
    }
    try {
        impl_ = std::make_unique<Impl>(path);
    } catch (const std::exception& e) {
        throw std::runtime_error(failed + e.what());
    }
}

PcapWriter::~PcapWriter() = default;  // Tins::PacketWriter flushes and closes the file

void PcapWriter::write(std::span<const std::byte> ip_packet) {
    write(ip_packet, std::chrono::system_clock::now());
}

void PcapWriter::write(std::span<const std::byte> ip_packet,
                       std::chrono::system_clock::time_point when) {
    try {
        const auto* first = reinterpret_cast<const std::uint8_t*>(ip_packet.data());
        auto pdu = std::make_unique<Tins::RawPDU>(first, first + ip_packet.size());
        const Tins::Timestamp ts(
            std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()));
        // The Packet owns (and deletes) the PDU from here on.
        Tins::Packet packet(pdu.release(), ts, Tins::Packet::own_pdu());
        impl_->writer.write(packet);
        ++written_;
    } catch (const std::exception&) {
        ++errors_;  // e.g. bad_alloc: the capture misses a packet, the host carries on
    }
}

}  // namespace ustack
