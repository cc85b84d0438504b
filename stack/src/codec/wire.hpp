// Raw-byte checks for one IPv4+TCP packet, done before libtins sees anything (STYLE.md §3.6:
// validate lengths once, in a checked view; never allocate, never throw).
//
// Internal to the codec. Read with RFC 791 §3.1, RFC 9293 §3.1-3.2 and RFC 1071.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "ustack/byte_order.hpp"
#include "ustack/codec.hpp"

namespace ustack::wire {

inline constexpr std::size_t kIpv4MinHeader = 20;  // RFC 791 §3.1: IHL >= 5 words
inline constexpr std::size_t kTcpMinHeader = 20;   // RFC 9293 §3.1: data offset >= 5 words
inline constexpr std::size_t kTcpMaxHeader = 60;   // data offset is 4 bits of 32-bit words
inline constexpr std::uint8_t kProtoTcp = 6;

inline std::uint8_t u8(std::span<const std::byte> b, std::size_t i) {
    return std::to_integer<std::uint8_t>(b[i]);
}
// Multi-byte fields: load_be16 / load_be32 (ustack/byte_order.hpp).

// RFC 1071 one's-complement sum of `data` as big-endian 16-bit words (an odd last byte is
// padded with zero), added to `acc`. Not folded: call fold() at the end.
std::uint32_t ones_sum(std::span<const std::byte> data, std::uint32_t acc = 0);
// Fold carries into 16 bits. A header whose checksum field is right folds to 0xffff.
std::uint16_t fold(std::uint32_t acc);
// Sum of the TCP pseudo-header (RFC 9293 §3.1): src, dst, zero, PTCL=6, TCP length.
std::uint32_t pseudo_header_sum(std::span<const std::byte> ip_header, std::size_t tcp_len);

// Where the parts of a packet that passed check_packet() are.
struct PacketLayout {
    std::span<const std::byte> ip_header;   // IHL*4 bytes, IP options included
    std::span<const std::byte> tcp_header;  // data offset*4 bytes, TCP options included
    std::span<const std::byte> payload;     // up to the IPv4 total length
    // Offset in tcp_header just past the option list: the byte after EOL, or the header length.
    // Bytes from here to the end of the header are padding (RFC 9293 §3.2: ignored).
    std::size_t options_end = 0;
};

struct CheckResult {
    std::optional<PacketLayout> layout;      // set when the packet is acceptable
    DropReason reason = DropReason::count_;  // why not, when layout is empty
};

// Check, in this order (a corrupted length field is blamed on the checksum that covers it):
// IPv4 version, IHL, header checksum, total length, fragmentation, protocol; TCP length, data
// offset, checksum, then the option list's structure. Option *semantics* are not checked here.
// With `link_checked_tcp_checksum` the TCP checksum is not computed: the link vouches for it
// (a TUN device with virtio-net offload: checksum verified, or partial and never corrupted).
CheckResult check_packet(std::span<const std::byte> packet,
                         bool link_checked_tcp_checksum = false) noexcept;

}  // namespace ustack::wire
