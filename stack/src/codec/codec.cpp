// Codec: IPv4/TCP bytes <-> Segment through libtins (see codec.hpp for the contract).
//
// TCP header, RFC 9293 §3.1:
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |          Source Port          |       Destination Port        |  0
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                        Sequence Number                        |  4
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                    Acknowledgment Number                      |  8
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |  Data |       |C|E|U|A|P|R|S|F|                               |
//    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             | 12
//    |       |       |R|E|G|K|H|T|N|N|                               |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |           Checksum            |         Urgent Pointer        | 16
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                     Options (up to 40 bytes)                  | 20
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                             Data                              |
//
// Pseudo-header for the checksum: source address, destination address, zero, PTCL (6), TCP
// length (header plus data, not counted on the wire). The IPv4 header is drawn in wire.cpp.
//
// What libtins does and does not do, and what we do about it (libtins 4.0):
//   - Tins::IP / Tins::TCP parse without checking checksums or the option list's sanity beyond
//     throwing malformed_packet; wire::check_packet() runs first, so libtins only sees headers
//     we have accepted, and every exception is caught and counted (library_error).
//   - Tins::IP throws on some legal IPv4 option lists (EOL before the end) and Tins::TCP parses
//     bytes after EOL as more options. So libtins is handed a normalized image of the headers:
//     the 20-byte fixed IPv4 header (IHL set to 5, IP options left out -- we skip them) and the
//     TCP header with the padding after EOL zeroed (RFC 9293 §3.2: it carries nothing). The
//     payload is not copied: the Segment borrows it from the caller's packet.
//   - Serializing a Tins::IP whose source is 0.0.0.0 without a parent PDU makes libtins look up
//     a source address on the host's interfaces; such an IP is serialized under a throwaway
//     Tins::Loopback parent whose 4 bytes are then cut off.
//   - Tins::TCP writes options in the order they are added and pads with NOPs to a multiple of
//     4; our plan is already a multiple of 4, so the bytes are exactly the plan's.
#include "ustack/codec.hpp"

#include <tins/endianness.h>
#include <tins/ip.h>
#include <tins/ip_address.h>
#include <tins/loopback.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>

#include "tcp_options.hpp"
#include "wire.hpp"

namespace ustack {

std::string_view to_string(DropReason r) {
    switch (r) {
#define USTACK_X(name) \
    case DropReason::name: return #name;
        USTACK_CODEC_DROP_REASONS(USTACK_X)
#undef USTACK_X
        case DropReason::count_: break;
    }
    return "unknown";
}

std::uint64_t CodecStats::total_drops() const {
    return std::accumulate(drops.begin(), drops.end(), std::uint64_t{0});
}

namespace {

constexpr std::size_t kMaxIpv4Packet = 65535;  // RFC 791 §3.1: total length is 16 bits

Tins::IPv4Address to_tins(Ipv4Addr a) {
    // IPv4Address(uint32_t) takes the address as it lies in memory in network order.
    return Tins::IPv4Address(Tins::Endian::host_to_be(a));
}
Ipv4Addr from_tins(const Tins::IPv4Address& a) {
    return Tins::Endian::be_to_host(static_cast<std::uint32_t>(a));
}

Tins::TCP::option to_tins(const tcp_options::OptionItem& it) {
    // Tins::TCP::option's kind type is uint8_t, so any kind can be given.
    if (it.kind == tcp_options::kind::nop) {
        return Tins::TCP::option(it.kind);
    }
    // SACKOK has a length octet but no data; libtins writes kind, 2 for it.
    return Tins::TCP::option(it.kind, it.data_len, it.data_len > 0 ? it.data.data() : nullptr);
}

// The normalized header image handed to libtins (see the top of this file): at most 20 bytes
// of IPv4 and 60 of TCP.
struct HeaderImage {
    std::array<std::uint8_t, wire::kIpv4MinHeader + wire::kTcpMaxHeader> bytes{};
    std::size_t size = 0;
};

HeaderImage make_image(const wire::PacketLayout& l) {
    HeaderImage img;
    auto* out = img.bytes.data();
    std::memcpy(out, l.ip_header.data(), wire::kIpv4MinHeader);
    out[0] = 0x45;  // version 4, IHL 5: IP options are skipped
    const std::size_t tcp_len = l.tcp_header.size() + l.payload.size();
    const auto total = static_cast<std::uint16_t>(wire::kIpv4MinHeader + tcp_len);
    store_be16(out + 2, total);
    std::memcpy(out + wire::kIpv4MinHeader, l.tcp_header.data(), l.tcp_header.size());
    std::fill(out + wire::kIpv4MinHeader + l.options_end,
              out + wire::kIpv4MinHeader + l.tcp_header.size(), std::uint8_t{0});
    img.size = wire::kIpv4MinHeader + l.tcp_header.size();
    return img;
}

}  // namespace

std::optional<Segment> Codec::decode(std::span<const std::byte> packet,
                                     bool checksum_checked) noexcept {
    const wire::CheckResult checked = wire::check_packet(packet, checksum_checked);
    if (!checked.layout)
        return drop(checked.reason);
    const wire::PacketLayout& l = *checked.layout;

    if (config_.backend == Backend::native) {
        // Every length was validated by check_packet(): read the fields in place.
        const auto ip = l.ip_header;
        const auto tcp = l.tcp_header;
        Segment seg;
        seg.src_addr = load_be32(ip, 12);
        seg.dst_addr = load_be32(ip, 16);
        seg.src_port = load_be16(tcp, 0);
        seg.dst_port = load_be16(tcp, 2);
        seg.seq = SeqNum(load_be32(tcp, 4));
        seg.ack = SeqNum(load_be32(tcp, 8));
        seg.flags = wire::u8(tcp, 13);  // the reserved bits above CWR are in byte 12: ignored
        seg.window = load_be16(tcp, 14);
        seg.urgent = load_be16(tcp, 18);
        // The option list up to EOL; walk_options() checked every length.
        const auto* raw = reinterpret_cast<const std::uint8_t*>(tcp.data());
        for (std::size_t i = wire::kTcpMinHeader; i < l.options_end;) {
            const std::uint8_t k = raw[i];
            if (k == tcp_options::kind::eol)
                break;
            if (k == tcp_options::kind::nop) {
                ++i;
                continue;
            }
            const std::size_t len = raw[i + 1];
            tcp_options::apply_option(k, {raw + i + 2, len - 2}, seg.options, stats_);
            i += len;
        }
        seg.payload = l.payload;
        stats_.decoded++;
        return seg;
    }

    try {
        const HeaderImage img = make_image(l);
        Tins::IP ip(img.bytes.data(), static_cast<std::uint32_t>(img.size));
        const auto* tcp = ip.find_pdu<Tins::TCP>();
        // Only headers were handed over, so there must be a TCP with nothing inside it, and it
        // must agree with what we validated.
        if (tcp == nullptr || tcp->inner_pdu() != nullptr ||
            std::size_t{tcp->data_offset()} * 4 != l.tcp_header.size()) {
            return drop(DropReason::library_error);
        }

        Segment seg;
        seg.src_addr = from_tins(ip.src_addr());
        seg.dst_addr = from_tins(ip.dst_addr());
        seg.src_port = tcp->sport();
        seg.dst_port = tcp->dport();
        seg.seq = SeqNum(tcp->seq());
        seg.ack = SeqNum(tcp->ack_seq());
        // flags() also returns the 4 reserved bits above CWR; RFC 9293 §3.1: ignored on receipt.
        seg.flags = static_cast<std::uint8_t>(static_cast<std::uint16_t>(tcp->flags()) & 0xff);
        seg.window = tcp->window();
        seg.urgent = tcp->urg_ptr();
        for (const Tins::TCP::option& opt : tcp->options()) {
            const auto k = static_cast<std::uint8_t>(opt.option());
            if (k == tcp_options::kind::eol || k == tcp_options::kind::nop)
                continue;
            tcp_options::apply_option(k, {opt.data_ptr(), opt.data_size()}, seg.options, stats_);
        }
        seg.payload = l.payload;
        stats_.decoded++;
        return seg;
    } catch (...) {
        // malformed_packet and friends, or std::bad_alloc: the packet is dropped, never fatal.
        return drop(DropReason::library_error);
    }
}

bool Codec::encode(const Segment& seg, std::vector<std::byte>& out) noexcept {
    if (config_.backend == Backend::libtins)
        return encode_libtins(seg, out);
    out.clear();
    try {
        out.resize(wire::kIpv4MinHeader + wire::kTcpMaxHeader + seg.payload.size());
    } catch (...) {
        stats_.encode_failures++;
        return false;
    }
    const std::size_t n = encode_into(seg, out);
    out.resize(n);
    return n != 0;
}

std::size_t Codec::encode_into(const Segment& seg, std::span<std::byte> out,
                               TcpChecksum checksum) noexcept {
    const tcp_options::OptionPlan plan = tcp_options::plan_options(seg.options);
    const std::size_t tcp_header_len = wire::kTcpMinHeader + plan.wire_len;
    const std::size_t total = wire::kIpv4MinHeader + tcp_header_len + seg.payload.size();
    if (total > kMaxIpv4Packet || total > out.size()) {
        stats_.encode_failures++;
        return 0;
    }
    auto* p = reinterpret_cast<std::uint8_t*>(out.data());
    // IPv4 (RFC 791 §3.1; drawn in wire.cpp): IHL 5, TOS 0, ID 0 (RFC 6864 §4.1: an atomic
    // datagram may use any ID), DF from Config, no options.
    p[0] = 0x45;
    p[1] = 0;
    store_be16(p + 2, static_cast<std::uint16_t>(total));
    store_be16(p + 4, 0);
    store_be16(p + 6, config_.dont_fragment ? 0x4000 : 0);
    p[8] = config_.ttl;
    p[9] = wire::kProtoTcp;
    store_be16(p + 10, 0);
    store_be32(p + 12, seg.src_addr);
    store_be32(p + 16, seg.dst_addr);
    const auto ip_header = out.first(wire::kIpv4MinHeader);
    store_be16(p + 10, static_cast<std::uint16_t>(~wire::fold(wire::ones_sum(ip_header))));

    // TCP (drawn at the top of this file), then the options exactly as planned.
    std::uint8_t* t = p + wire::kIpv4MinHeader;
    store_be16(t, seg.src_port);
    store_be16(t + 2, seg.dst_port);
    store_be32(t + 4, seg.seq.raw());
    store_be32(t + 8, seg.ack.raw());
    t[12] = static_cast<std::uint8_t>((tcp_header_len / 4) << 4);
    t[13] = seg.flags;
    store_be16(t + 14, seg.window);
    store_be16(t + 16, 0);
    store_be16(t + 18, seg.urgent);
    std::uint8_t* o = t + wire::kTcpMinHeader;
    for (const tcp_options::OptionItem& it : plan.view()) {
        *o++ = it.kind;
        if (it.kind == tcp_options::kind::nop)
            continue;
        *o++ = static_cast<std::uint8_t>(it.data_len + 2);
        if (it.data_len > 0)
            std::memcpy(o, it.data.data(), it.data_len);
        o += it.data_len;
    }
    if (!seg.payload.empty())
        std::memcpy(t + tcp_header_len, seg.payload.data(), seg.payload.size());

    const std::size_t tcp_len = tcp_header_len + seg.payload.size();
    const std::uint32_t pseudo = wire::pseudo_header_sum(ip_header, tcp_len);
    if (checksum == TcpChecksum::partial) {
        store_be16(t + 16, wire::fold(pseudo));
    } else {
        store_be16(t + 16, static_cast<std::uint16_t>(~wire::fold(wire::ones_sum(
                               out.subspan(wire::kIpv4MinHeader, tcp_len), pseudo))));
    }

    stats_.sack_blocks_dropped_for_space += plan.sack_blocks_dropped;
    if (plan.disconnect_dropped)
        stats_.disconnect_dropped_for_space++;
    stats_.encoded++;
    return total;
}

bool Codec::encode_libtins(const Segment& seg, std::vector<std::byte>& out) noexcept {
    out.clear();
    const tcp_options::OptionPlan plan = tcp_options::plan_options(seg.options);
    const std::size_t tcp_header_len = wire::kTcpMinHeader + plan.wire_len;
    const std::size_t total = wire::kIpv4MinHeader + tcp_header_len + seg.payload.size();
    if (total > kMaxIpv4Packet) {
        stats_.encode_failures++;
        return false;
    }

    try {
        auto ip = std::make_unique<Tins::IP>(to_tins(seg.dst_addr), to_tins(seg.src_addr));
        ip->tos(0);
        ip->id(0);  // RFC 6864 §4.1: atomic datagrams (DF, not fragmented) may use any ID
        ip->ttl(config_.ttl);
        ip->flags(config_.dont_fragment ? Tins::IP::DONT_FRAGMENT
                                        : static_cast<Tins::IP::Flags>(0));

        auto tcp = std::make_unique<Tins::TCP>(seg.dst_port, seg.src_port);
        tcp->seq(seg.seq.raw());
        tcp->ack_seq(seg.ack.raw());
        tcp->flags(seg.flags);
        tcp->window(seg.window);
        tcp->urg_ptr(seg.urgent);
        for (const tcp_options::OptionItem& it : plan.view()) tcp->add_option(to_tins(it));
        if (tcp->header_size() != tcp_header_len) {
            stats_.encode_failures++;
            return false;
        }
        if (!seg.payload.empty()) {
            tcp->inner_pdu(std::make_unique<Tins::RawPDU>(
                               reinterpret_cast<const std::uint8_t*>(seg.payload.data()),
                               static_cast<std::uint32_t>(seg.payload.size()))
                               .release());
        }
        ip->inner_pdu(tcp.release());

        Tins::PDU::serialization_type bytes;
        std::size_t skip = 0;
        if (seg.src_addr != 0) {
            bytes = ip->serialize();
        } else {
            Tins::Loopback parent;  // see the top of this file
            skip = parent.header_size();
            parent.inner_pdu(ip.release());
            bytes = parent.serialize();
        }
        if (bytes.size() != skip + total) {
            stats_.encode_failures++;
            return false;
        }
        out.resize(total);
        std::memcpy(out.data(), bytes.data() + skip, total);
    } catch (...) {
        out.clear();
        stats_.encode_failures++;
        return false;
    }

    stats_.sack_blocks_dropped_for_space += plan.sack_blocks_dropped;
    if (plan.disconnect_dropped)
        stats_.disconnect_dropped_for_space++;
    stats_.encoded++;
    return true;
}

}  // namespace ustack
