// Shared helpers for the libFuzzer targets in fuzz/ (see fuzz/README.md).
//
// FUZZ_CHECK(cond, fmt, ...) is an invariant: when it fails it prints what was expected and
// aborts, which libFuzzer reports as a crash (and saves the input). Never an assert(): the
// fuzz build is not NDEBUG-free by contract, and the message matters more than the condition.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "ustack/byte_order.hpp"

#define FUZZ_CHECK(cond, ...)                                                                \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "\nFUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, \
                         #cond);                                                             \
            std::fprintf(stderr, __VA_ARGS__);                                               \
            std::fprintf(stderr, "\n");                                                      \
            std::abort();                                                                    \
        }                                                                                    \
    } while (0)

namespace ustack::fuzz {

// Reads the fuzzer's input front to back; once it runs out every read returns 0 (so a short
// input is still a valid, shorter program -- libFuzzer's mutations stay meaningful).
class Reader {
public:
    Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    [[nodiscard]] bool empty() const { return pos_ >= size_; }
    [[nodiscard]] std::size_t remaining() const { return empty() ? 0 : size_ - pos_; }

    std::uint8_t u8() { return empty() ? 0 : data_[pos_++]; }
    // Big-endian, the bytes past the end of the input read as 0.
    std::uint16_t u16() {
        const std::array<std::uint8_t, 2> b{u8(), u8()};
        return ustack::load_be16(b.data());
    }
    std::uint32_t u32() {
        const std::array<std::uint8_t, 4> b{u8(), u8(), u8(), u8()};
        return ustack::load_be32(b.data());
    }
    std::int8_t s8() { return static_cast<std::int8_t>(u8()); }
    bool bit() { return (u8() & 1) != 0; }
    // Up to n bytes (fewer at the end of the input).
    std::span<const std::uint8_t> bytes(std::size_t n) {
        const std::size_t k = n < remaining() ? n : remaining();
        std::span<const std::uint8_t> out(data_ + pos_, k);
        pos_ += k;
        return out;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// ---- RFC 1071 checksums over raw packet bytes (independent of the codec) ---------------------

inline std::uint32_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
    std::size_t i = 0;
    for (; i + 1 < n; i += 2) acc += ustack::load_be16(p + i);
    if (i < n)
        acc += static_cast<std::uint32_t>(p[i]) << 8;
    return acc;
}
inline std::uint16_t fold(std::uint32_t acc) {
    while ((acc >> 16) != 0) acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<std::uint16_t>(acc);
}

// Fill in the IPv4 header checksum, if the header is there.
inline void fix_ip_checksum(std::vector<std::uint8_t>& pkt) {
    if (pkt.size() < 20)
        return;
    const std::size_t ihl = static_cast<std::size_t>(pkt[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > pkt.size())
        return;
    ustack::store_be16(&pkt[10], 0);
    ustack::store_be16(&pkt[10], static_cast<std::uint16_t>(~fold(ones_sum(pkt.data(), ihl))));
}

// Fill in the TCP checksum over the pseudo-header and the segment (IPv4 total length bounds the
// segment), if the layout allows it.
inline void fix_tcp_checksum(std::vector<std::uint8_t>& pkt) {
    if (pkt.size() < 20)
        return;
    const std::size_t ihl = static_cast<std::size_t>(pkt[0] & 0x0f) * 4;
    const std::size_t total = ustack::load_be16(&pkt[2]);
    if (ihl < 20 || total > pkt.size() || total < ihl + 20)
        return;
    std::uint8_t* tcp = &pkt[ihl];
    const std::size_t tcp_len = total - ihl;
    ustack::store_be16(tcp + 16, 0);
    std::uint32_t acc = ones_sum(&pkt[12], 8);
    acc += 6;
    acc += static_cast<std::uint32_t>(tcp_len);
    acc = ones_sum(tcp, tcp_len, acc);
    ustack::store_be16(tcp + 16, static_cast<std::uint16_t>(~fold(acc)));
}

// A 20-byte IPv4 header (DF, TTL 64, protocol 6) followed by a TCP header of `tcp_header_len`
// bytes (options zero-filled) and `payload` bytes; checksums are not filled in.
inline std::vector<std::uint8_t> ipv4_tcp_skeleton(std::uint32_t src, std::uint32_t dst,
                                                   std::size_t tcp_header_len,
                                                   std::size_t payload_len) {
    std::vector<std::uint8_t> p(20 + tcp_header_len + payload_len, 0);
    p[0] = 0x45;
    ustack::store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = 6;
    ustack::store_be32(&p[12], src);
    ustack::store_be32(&p[16], dst);
    p[20 + 12] = static_cast<std::uint8_t>((tcp_header_len / 4) << 4);
    return p;
}

}  // namespace ustack::fuzz
