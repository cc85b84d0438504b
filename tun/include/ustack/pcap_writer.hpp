// PcapWriter: a pcap file of bare IPv4 packets (LINKTYPE_RAW = 101, microsecond timestamps), as
// Wireshark, tshark and tcpdump read them. The host writes every packet it receives and sends
// (WSPHOSTCONFIG::pcap_path), so the capture shows what the host saw, even with no TUN at all.
//
// Written with libtins' Tins::PacketWriter (STYLE.md §5 "libtins placement"); no libtins type
// appears in this header. Records go through a stdio buffer: the file is complete once the
// writer is destroyed (WSPCleanup), and a reader of a live file may lag a few packets behind.
//
// Not thread-safe: one writer belongs to one host's engine thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace ustack {

class PcapWriter {
public:
    // The pcap link type of the file: LINKTYPE_RAW, each record one IPv4 (or IPv6) packet.
    static constexpr std::uint32_t kLinkTypeRaw = 101;

    // Create (truncate) `path` and write the pcap global header. Throws std::runtime_error naming
    // the path when the file cannot be created.
    explicit PcapWriter(const std::string& path);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Append one packet, stamped with `when` (default: now, by the system clock -- pcap
    // timestamps are wall-clock time). Never throws; a write that fails is counted.
    void write(std::span<const std::byte> ip_packet);
    void write(std::span<const std::byte> ip_packet, std::chrono::system_clock::time_point when);

    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] std::uint64_t packets_written() const { return written_; }
    [[nodiscard]] std::uint64_t write_errors() const { return errors_; }

private:
    struct Impl;
    std::string path_;
    std::unique_ptr<Impl> impl_;
    std::uint64_t written_ = 0;
    std::uint64_t errors_ = 0;
};

}  // namespace ustack
