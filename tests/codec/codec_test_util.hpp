// Helpers for the codec tests: packets written by hand, and checksums computed here, independently
// of the codec (a deliberately naive RFC 1071 sum, not the codec's wire::ones_sum).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "ustack/codec.hpp"
#include "ustack/segment.hpp"

namespace ustack::codec_test {

using Bytes = std::vector<std::uint8_t>;

inline std::span<const std::byte> as_span(const Bytes& b) {
    return std::as_bytes(std::span(b));
}
inline Bytes to_bytes(const std::vector<std::byte>& v) {
    Bytes out(v.size());
    std::transform(v.begin(), v.end(), out.begin(),
                   [](std::byte x) { return std::to_integer<std::uint8_t>(x); });
    return out;
}
inline std::vector<std::byte> to_std_bytes(const Bytes& v) {
    std::vector<std::byte> out(v.size());
    std::transform(v.begin(), v.end(), out.begin(), [](std::uint8_t x) { return std::byte{x}; });
    return out;
}

inline std::string hex(const Bytes& b) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i != 0)
            s += (i % 16 == 0) ? '\n' : ' ';
        s += digits[b[i] >> 4];
        s += digits[b[i] & 0xf];
    }
    return s;
}

// The one's-complement checksum of RFC 1071 §4.1, written the textbook way: add 16-bit words,
// add the carries back in, complement.
inline std::uint16_t inet_checksum(const Bytes& data, std::size_t from, std::size_t len,
                                   std::uint32_t initial = 0) {
    std::uint64_t sum = initial;
    for (std::size_t i = 0; i < len; i += 2) {
        const std::uint32_t hi = data[from + i];
        const std::uint32_t lo = (i + 1 < len) ? data[from + i + 1] : 0;
        sum += (hi << 8) | lo;
    }
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

inline void put16(Bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v & 0xff);
}
inline std::uint16_t get16(const Bytes& b, std::size_t at) {
    return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

// Recompute the IPv4 header checksum of `p` (RFC 791 §3.1), trusting its IHL.
inline void fix_ip_checksum(Bytes& p) {
    const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    put16(p, 10, 0);
    put16(p, 10, inet_checksum(p, 0, ihl));
}

// Recompute the TCP checksum (RFC 9293 §3.1) over pseudo-header + segment, where the segment is
// everything from IHL*4 to the IPv4 total length; then the IPv4 checksum.
inline void fix_checksums(Bytes& p) {
    const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    const std::size_t total = get16(p, 2);
    const std::size_t tcp_len = total - ihl;
    put16(p, ihl + 16, 0);
    std::uint32_t pseudo = 0;
    pseudo += get16(p, 12) + get16(p, 14) + get16(p, 16) + get16(p, 18);  // src, dst
    pseudo += 6;                                                          // zero, PTCL
    pseudo += static_cast<std::uint32_t>(tcp_len);                        // TCP length
    put16(p, ihl + 16, inet_checksum(p, ihl, tcp_len, pseudo));
    fix_ip_checksum(p);
}

// A packet written field by field, the way the RFC diagrams lay it out.
struct PacketSpec {
    std::uint32_t src = ipv4(10, 0, 1, 2);
    std::uint32_t dst = ipv4(10, 0, 2, 2);
    std::uint16_t sport = 49152;
    std::uint16_t dport = 8080;
    std::uint32_t seq = 1000;
    std::uint32_t ack = 0;
    std::uint8_t flags = tcp_flag::ack;
    std::uint16_t window = 65535;
    std::uint16_t urgent = 0;
    Bytes tcp_options;  // raw bytes; padded with zeros (EOL) to a multiple of 4 by make_packet
    Bytes payload;
    Bytes ip_options;  // raw bytes; padded with zeros to a multiple of 4
    std::uint8_t ttl = 64;
    std::uint16_t ip_id = 0;
    std::uint16_t frag = 0x4000;  // flags + offset word: DF
    std::uint8_t protocol = 6;
};

inline Bytes padded(Bytes b) {
    while (b.size() % 4 != 0) b.push_back(0);
    return b;
}

// Build the packet and fill in both checksums.
inline Bytes make_packet(const PacketSpec& s) {
    const Bytes ipo = padded(s.ip_options);
    const Bytes tcpo = padded(s.tcp_options);
    const std::size_t ihl = 20 + ipo.size();
    const std::size_t doff = 20 + tcpo.size();
    const std::size_t total = ihl + doff + s.payload.size();
    Bytes p(total, 0);
    p[0] = static_cast<std::uint8_t>(0x40 | (ihl / 4));
    put16(p, 2, static_cast<std::uint16_t>(total));
    put16(p, 4, s.ip_id);
    put16(p, 6, s.frag);
    p[8] = s.ttl;
    p[9] = s.protocol;
    put16(p, 12, static_cast<std::uint16_t>(s.src >> 16));
    put16(p, 14, static_cast<std::uint16_t>(s.src & 0xffff));
    put16(p, 16, static_cast<std::uint16_t>(s.dst >> 16));
    put16(p, 18, static_cast<std::uint16_t>(s.dst & 0xffff));
    std::copy(ipo.begin(), ipo.end(), p.begin() + 20);
    const std::size_t t = ihl;
    put16(p, t + 0, s.sport);
    put16(p, t + 2, s.dport);
    put16(p, t + 4, static_cast<std::uint16_t>(s.seq >> 16));
    put16(p, t + 6, static_cast<std::uint16_t>(s.seq & 0xffff));
    put16(p, t + 8, static_cast<std::uint16_t>(s.ack >> 16));
    put16(p, t + 10, static_cast<std::uint16_t>(s.ack & 0xffff));
    p[t + 12] = static_cast<std::uint8_t>((doff / 4) << 4);
    p[t + 13] = s.flags;
    put16(p, t + 14, s.window);
    put16(p, t + 18, s.urgent);
    std::copy(tcpo.begin(), tcpo.end(), p.begin() + static_cast<std::ptrdiff_t>(t + 20));
    std::copy(s.payload.begin(), s.payload.end(),
              p.begin() + static_cast<std::ptrdiff_t>(t + doff));
    fix_checksums(p);
    return p;
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
}
inline Bytes be32(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}
inline Bytes seq_bytes(std::size_t n, std::uint8_t first = 0) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(first + i);
    return b;
}

inline DisconnectData disc(const Bytes& data) {
    return DisconnectData::from(std::as_bytes(std::span(data)));
}

// Field-by-field comparison with readable failures (Segment has no operator==: it borrows).
inline void check_same(const Segment& got, const Segment& want) {
    INFO("got:  ", to_string(got));
    INFO("want: ", to_string(want));
    CHECK(got.src_addr == want.src_addr);
    CHECK(got.dst_addr == want.dst_addr);
    CHECK(got.src_port == want.src_port);
    CHECK(got.dst_port == want.dst_port);
    CHECK(got.seq == want.seq);
    CHECK(got.ack == want.ack);
    CHECK(got.flags == want.flags);
    CHECK(got.window == want.window);
    CHECK(got.urgent == want.urgent);
    CHECK(got.options.mss == want.options.mss);
    CHECK(got.options.window_scale == want.options.window_scale);
    CHECK(got.options.sack_permitted == want.options.sack_permitted);
    CHECK(got.options.sack_count == want.options.sack_count);
    CHECK(got.options.timestamps == want.options.timestamps);
    CHECK(got.options.disconnect == want.options.disconnect);
    CHECK(got.options.message_mode == want.options.message_mode);
    CHECK(got.options == want.options);
    CHECK(std::equal(got.payload.begin(), got.payload.end(), want.payload.begin(),
                     want.payload.end()));
}

// A random segment; every option appears with probability 1/2 (the message-mode option, drawn
// last, too). `bytes` owns the payload.
inline Segment random_segment(std::mt19937& rng, std::vector<std::byte>& bytes,
                              std::size_t max_payload = 1460) {
    auto u32 = [&] { return static_cast<std::uint32_t>(rng()); };
    auto coin = [&] { return (rng() & 1) != 0; };
    auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    Segment s;
    s.src_addr = u32();
    s.dst_addr = u32();
    s.src_port = static_cast<std::uint16_t>(u32());
    s.dst_port = static_cast<std::uint16_t>(u32());
    s.seq = SeqNum(u32());
    s.ack = SeqNum(u32());
    s.flags = static_cast<std::uint8_t>(u32());
    s.window = static_cast<std::uint16_t>(u32());
    s.urgent = static_cast<std::uint16_t>(u32());
    auto& o = s.options;
    if (coin())
        o.mss = static_cast<std::uint16_t>(u32());
    if (coin())
        o.window_scale = static_cast<std::uint8_t>(below(15));
    o.sack_permitted = coin();
    if (coin()) {
        o.sack_count = static_cast<std::uint8_t>(1 + below(kMaxSackBlocks));
        for (std::size_t i = 0; i < o.sack_count; ++i) {
            o.sack[i] = SackBlock{SeqNum(u32()), SeqNum(u32())};
        }
    }
    if (coin())
        o.timestamps = Timestamps{u32(), u32()};
    if (coin()) {
        Bytes d(below(kMaxDisconnectData + 1));
        for (auto& x : d) x = static_cast<std::uint8_t>(u32());
        o.disconnect = disc(d);
    }
    bytes.resize(coin() ? below(max_payload + 1) : 0);
    for (auto& x : bytes) x = static_cast<std::byte>(u32());
    s.payload = bytes;
    o.message_mode = coin();
    return s;
}

}  // namespace ustack::codec_test
