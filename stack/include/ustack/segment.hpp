// Segment: the engine's own value type for one TCP/IPv4 segment.
//
// The codec (codec.hpp, libtins) turns wire bytes into a Segment and back; the engine never sees
// libtins types or wire bytes. Addresses and ports are in host byte order. `payload` borrows: on
// input it points into the received packet, on output into the connection's send buffer, and is
// valid only for the duration of the call that hands the Segment over.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ustack/seq.hpp"

namespace ustack {

using Ipv4Addr = std::uint32_t;  // host byte order: 10.0.0.1 == 0x0a000001

constexpr Ipv4Addr ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return (Ipv4Addr{a} << 24) | (Ipv4Addr{b} << 16) | (Ipv4Addr{c} << 8) | Ipv4Addr{d};
}
std::string ipv4_to_string(Ipv4Addr a);

struct Endpoint {
    Ipv4Addr addr = 0;
    std::uint16_t port = 0;
    constexpr bool operator==(const Endpoint&) const = default;
};
std::string to_string(const Endpoint& e);

// TCP header control bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;
}  // namespace tcp_flag
std::string flags_to_string(std::uint8_t flags);  // e.g. "SA", "F.", "R"

// The 40-byte option space (RFC 9293 §3.1: data offset is 4 bits of 32-bit words).
inline constexpr std::size_t kMaxOptionSpace = 40;

// Disconnect-data option (DESIGN.md §3): kind 253, ExID 0xD15C, RFC 6994 layout
//   kind=253 | length=4+N | ExID=0xD1 0x5C | N bytes of disconnect data
inline constexpr std::uint8_t kDisconnectOptionKind = 253;
inline constexpr std::uint16_t kDisconnectExId = 0xD15C;
inline constexpr std::size_t kDisconnectOptionOverhead = 4;  // kind, len, ExID
inline constexpr std::size_t kMaxDisconnectData =
    kMaxOptionSpace - kDisconnectOptionOverhead;  // 36

// Message-mode option (DESIGN.md §3b): kind 253, ExID 0xD15D, RFC 6994 layout, no data
//   kind=253 | length=4 | ExID=0xD1 0x5D          i.e. fd 04 d1 5d
// On a SYN (SYN-ACK) it asks for (agrees to) a message-oriented connection.
inline constexpr std::uint16_t kMessageModeExId = 0xD15D;
inline constexpr std::size_t kMessageModeOptionLength = 4;  // kind, len, ExID

struct DisconnectData {
    std::uint8_t len = 0;  // N, 0..36
    std::array<std::byte, kMaxDisconnectData> bytes{};
    [[nodiscard]] std::span<const std::byte> data() const { return {bytes.data(), len}; }
    bool operator==(const DisconnectData& o) const;
    static DisconnectData from(std::span<const std::byte> d);  // d.size() <= kMaxDisconnectData
};

struct SackBlock {
    SeqNum left;   // first sequence number of the block
    SeqNum right;  // sequence number just past the block
    constexpr bool operator==(const SackBlock&) const = default;
};

struct Timestamps {
    std::uint32_t tsval = 0;
    std::uint32_t tsecr = 0;
    constexpr bool operator==(const Timestamps&) const = default;
};

inline constexpr std::size_t kMaxSackBlocks = 4;

// The closed set of options the engine understands. Anything else is skipped by the codec.
struct TcpOptions {
    std::optional<std::uint16_t> mss;          // kind 2 (RFC 9293 §3.7.1), SYN only
    std::optional<std::uint8_t> window_scale;  // kind 3 (RFC 7323 §2), SYN only
    bool sack_permitted = false;               // kind 4 (RFC 2018), SYN only
    std::uint8_t sack_count = 0;               // kind 5 (RFC 2018): blocks in `sack`
    std::array<SackBlock, kMaxSackBlocks> sack{};
    std::optional<Timestamps> timestamps;      // kind 8 (RFC 7323 §3)
    std::optional<DisconnectData> disconnect;  // kind 253 / ExID 0xD15C (DESIGN.md §3)
    bool message_mode = false;                 // kind 253 / ExID 0xD15D (DESIGN.md §3b), SYN only

    bool operator==(const TcpOptions&) const = default;
};

struct Segment {
    Ipv4Addr src_addr = 0;
    Ipv4Addr dst_addr = 0;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    SeqNum seq;
    SeqNum ack;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;  // as on the wire (unscaled)
    std::uint16_t urgent = 0;
    TcpOptions options;
    std::span<const std::byte> payload;

    [[nodiscard]] bool has(std::uint8_t f) const { return (flags & f) != 0; }
    // SEG.LEN (RFC 9293 §3.4): payload octets plus one for SYN and one for FIN.
    [[nodiscard]] std::uint32_t seg_len() const {
        return static_cast<std::uint32_t>(payload.size()) + (has(tcp_flag::syn) ? 1U : 0U) +
               (has(tcp_flag::fin) ? 1U : 0U);
    }
    [[nodiscard]] Endpoint src() const { return {src_addr, src_port}; }
    [[nodiscard]] Endpoint dst() const { return {dst_addr, dst_port}; }
    void set_endpoints(Endpoint from, Endpoint to) {
        src_addr = from.addr;
        src_port = from.port;
        dst_addr = to.addr;
        dst_port = to.port;
    }
};

// A one-line, tcpdump-like description for traces and test failure messages.
std::string to_string(const Segment& s);

// A Segment that owns its payload (for tests, simulation queues and retransmission copies).
class OwnedSegment {
public:
    OwnedSegment() = default;
    explicit OwnedSegment(const Segment& s);
    OwnedSegment(const OwnedSegment& o);
    OwnedSegment& operator=(const OwnedSegment& o);
    OwnedSegment(OwnedSegment&& o) noexcept;
    OwnedSegment& operator=(OwnedSegment&& o) noexcept;
    ~OwnedSegment() = default;

    [[nodiscard]] const Segment& get() const { return seg_; }
    Segment& mut() { return seg_; }  // payload span must not be changed through this
    const Segment* operator->() const { return &seg_; }
    [[nodiscard]] std::span<const std::byte> payload() const { return data_; }

private:
    Segment seg_;
    std::vector<std::byte> data_;
};

// Where the engine puts the segments it wants sent. `emit` must copy what it needs: the payload
// span is only valid during the call.
class SegmentSink {
public:
    virtual ~SegmentSink() = default;
    virtual void emit(const Segment& seg) = 0;
};

// Collects emitted segments (tests, simulation).
class VectorSink final : public SegmentSink {
public:
    void emit(const Segment& seg) override { out.emplace_back(seg); }
    std::vector<OwnedSegment> out;
};

}  // namespace ustack
