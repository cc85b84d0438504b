// Raw-byte checks for one IPv4+TCP packet (see wire.hpp).
//
// IPv4 header, RFC 791 §3.1:
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |Version|  IHL  |Type of Service|          Total Length         |  0
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |         Identification        |Flags|      Fragment Offset    |  4
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |  Time to Live |    Protocol   |         Header Checksum       |  8
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                       Source Address                          | 12
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                    Destination Address                        | 16
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                    Options (IHL > 5)                          | 20
//
// Flags (3 bits): reserved, DF (0x4000 of the 16-bit word), MF (0x2000); offset: low 13 bits.
// The TCP header is drawn in codec.cpp.
#include "wire.hpp"

#include <bit>
#include <cstring>

namespace ustack::wire {

std::uint32_t ones_sum(std::span<const std::byte> data, std::uint32_t acc) {
    // RFC 1071 §2(B): the one's-complement sum does not depend on byte order, so sum the data
    // as little-endian 32-bit words in a 64-bit accumulator (8 bytes per step; a 64 KB packet
    // adds at most 2^14 words of < 2^32, far below 2^64), fold, and swap the two bytes of the
    // 16-bit result to get the big-endian sum.
    const std::byte* p = data.data();
    std::size_t n = data.size();
    std::uint64_t sum = 0;
    while (n >= 8) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, 8);
        sum += (w & 0xffffffffU) + (w >> 32);
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        std::uint32_t w = 0;
        std::memcpy(&w, p, 4);
        sum += w;
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        std::uint16_t w = 0;
        std::memcpy(&w, p, 2);
        sum += w;
        p += 2;
        n -= 2;
    }
    if (n == 1)
        sum += std::to_integer<std::uint8_t>(*p);  // the low byte of a little-endian word
    while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
    static_assert(std::endian::native == std::endian::little, "ones_sum assumes little-endian");
    const auto le = static_cast<std::uint16_t>(sum);
    return acc + byteswap16(le);
}

std::uint16_t fold(std::uint32_t acc) {
    while ((acc >> 16) != 0) acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<std::uint16_t>(acc);
}

std::uint32_t pseudo_header_sum(std::span<const std::byte> ip_header, std::size_t tcp_len) {
    // src (12..15) and dst (16..19), then zero:PTCL and the TCP length (header + data).
    std::uint32_t acc = ones_sum(ip_header.subspan(12, 8));
    acc += kProtoTcp;
    acc += static_cast<std::uint32_t>(tcp_len);
    return acc;
}

namespace {

CheckResult reject(DropReason r) {
    return CheckResult{std::nullopt, r};
}

// Walk the option list for structure only (RFC 9293 §3.2): EOL (kind 0) ends it, NOP (kind 1)
// is one byte, every other kind has a length octet that counts kind and length (MUST-6), so it
// must be >= 2 and stay inside the header (MUST-7). Options may start on any byte (MUST-64).
// Returns the offset just past the list, or nullopt if it is malformed.
std::optional<std::size_t> walk_options(std::span<const std::byte> tcp_header) {
    std::size_t i = kTcpMinHeader;
    const std::size_t end = tcp_header.size();
    while (i < end) {
        const std::uint8_t kind = u8(tcp_header, i);
        if (kind == 0)
            return i + 1;  // EOL: what follows is padding
        if (kind == 1) {   // NOP
            ++i;
            continue;
        }
        if (i + 1 >= end)
            return std::nullopt;  // no room for the length octet
        const std::size_t len = u8(tcp_header, i + 1);
        if (len < 2 || len > end - i)
            return std::nullopt;
        i += len;
    }
    return end;
}

}  // namespace

CheckResult check_packet(std::span<const std::byte> packet,
                         bool link_checked_tcp_checksum) noexcept {
    // --- IPv4, RFC 791 §3.1 ---
    if (packet.size() < kIpv4MinHeader)
        return reject(DropReason::truncated_ip);
    if ((u8(packet, 0) >> 4) != 4)
        return reject(DropReason::bad_ip_version);
    const std::size_t ihl = static_cast<std::size_t>(u8(packet, 0) & 0x0f) * 4;
    if (ihl < kIpv4MinHeader || ihl > packet.size())
        return reject(DropReason::bad_ihl);
    const auto ip_header = packet.first(ihl);
    if (fold(ones_sum(ip_header)) != 0xffff)
        return reject(DropReason::bad_ip_checksum);

    // Total length counts header and data; bytes beyond it are link padding and ignored.
    const std::size_t total = load_be16(packet, 2);
    if (total > packet.size() || total < ihl)
        return reject(DropReason::bad_total_length);

    // RFC 791 §3.2: a fragment has MF set or a non-zero offset. We do not reassemble (a TCP
    // that sets DF and clamps its MSS to the path never needs it).
    const std::uint16_t frag = load_be16(packet, 6);
    if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0)
        return reject(DropReason::ip_fragment);
    if (u8(packet, 9) != kProtoTcp)
        return reject(DropReason::not_tcp);

    // --- TCP, RFC 9293 §3.1 ---
    const auto segment = packet.subspan(ihl, total - ihl);
    if (segment.size() < kTcpMinHeader)
        return reject(DropReason::truncated_tcp);
    const std::size_t doff = static_cast<std::size_t>(u8(segment, 12) >> 4) * 4;
    if (doff < kTcpMinHeader || doff > segment.size())
        return reject(DropReason::bad_data_offset);

    // The checksum covers the pseudo-header, the TCP header and the data (RFC 9293 §3.1). We
    // check it before the options, so line corruption is not counted as a malformed sender.
    if (!link_checked_tcp_checksum &&
        fold(ones_sum(segment, pseudo_header_sum(ip_header, segment.size()))) != 0xffff)
        return reject(DropReason::bad_tcp_checksum);

    const auto tcp_header = segment.first(doff);
    const auto options_end = walk_options(tcp_header);
    if (!options_end)
        return reject(DropReason::bad_option_length);

    return CheckResult{PacketLayout{.ip_header = ip_header,
                                    .tcp_header = tcp_header,
                                    .payload = segment.subspan(doff),
                                    .options_end = *options_end},
                       DropReason::count_};
}

}  // namespace ustack::wire
