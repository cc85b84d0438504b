// byte_order.hpp: big- and little-endian loads and stores -- known byte patterns (network byte
// order, RFC 791 Appendix B), round trips, unaligned spans, and use in constant expressions.
#include "ustack/byte_order.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

using namespace ustack;

namespace {

constexpr std::array<std::byte, 8> kPattern{std::byte{0x01}, std::byte{0x23}, std::byte{0x45},
                                            std::byte{0x67}, std::byte{0x89}, std::byte{0xab},
                                            std::byte{0xcd}, std::byte{0xef}};

// Compile-time checks: the functions are constexpr.
static_assert(load_be16(kPattern.data()) == 0x0123);
static_assert(load_be32(kPattern.data()) == 0x01234567U);
static_assert(load_be64(kPattern.data()) == 0x0123456789abcdefULL);
static_assert(load_le64(kPattern.data()) == 0xefcdab8967452301ULL);
static_assert(load_le64(kPattern.data(), 3) == 0x452301U);
static_assert(byteswap16(0x1234) == 0x3412);
static_assert([] {
    std::array<unsigned char, 4> b{};
    store_be32(b.data(), 0xdeadbeefU);
    return b[0] == 0xde && b[1] == 0xad && b[2] == 0xbe && b[3] == 0xef;
}());

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("byte order: big-endian loads read the first byte as the most significant") {
        CHECK(load_be16(kPattern.data() + 6) == 0xcdef);
        CHECK(load_be32(kPattern.data() + 4) == 0x89abcdefU);
        CHECK(load_be64(kPattern.data()) == 0x0123456789abcdefULL);
        // The other byte types.
        const std::array<std::uint8_t, 4> u{0xc0, 0xa8, 0x00, 0x01};  // 192.168.0.1
        CHECK(load_be32(u.data()) == 0xc0a80001U);
        const char c[2] = {'\x80', '\x01'};  // a signed char's high bit is a byte value too
        CHECK(load_be16(c) == 0x8001);
    }

    TEST_CASE("byte order: big-endian stores write network byte order") {
        std::array<std::byte, 8> b{};
        store_be16(b.data(), 0xabcd);
        CHECK(b[0] == std::byte{0xab});
        CHECK(b[1] == std::byte{0xcd});
        store_be32(b.data(), 0x0a000102U);  // 10.0.1.2
        CHECK(b[0] == std::byte{10});
        CHECK(b[1] == std::byte{0});
        CHECK(b[2] == std::byte{1});
        CHECK(b[3] == std::byte{2});
        store_be64(b.data(), 0x0123456789abcdefULL);
        CHECK(b == kPattern);
    }

    TEST_CASE("byte order: little-endian loads and stores (SipHash words)") {
        std::array<std::uint8_t, 8> b{};
        store_le64(b.data(), 0x0123456789abcdefULL);
        CHECK(b == std::array<std::uint8_t, 8>{0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01});
        CHECK(load_le64(b.data()) == 0x0123456789abcdefULL);
        CHECK(load_le64(b.data(), 0) == 0);
        CHECK(load_le64(b.data(), 1) == 0xef);
    }

    TEST_CASE("byte order: every value round-trips at every offset of an unaligned span") {
        std::mt19937_64 rng(7);
        std::vector<std::byte> buf(64);
        const std::span<std::byte> all(buf);
        for (std::size_t at = 0; at + 8 <= buf.size(); ++at) {
            CAPTURE(at);
            const std::uint64_t v = rng();
            store_be16(all, at, static_cast<std::uint16_t>(v));
            CHECK(load_be16(std::span<const std::byte>(all), at) == static_cast<std::uint16_t>(v));
            store_be32(all, at, static_cast<std::uint32_t>(v));
            CHECK(load_be32(all, at) == static_cast<std::uint32_t>(v));
            store_be64(all, at, v);
            CHECK(load_be64(all, at) == v);
            store_le64(all, at, v);
            CHECK(load_le64(all, at) == v);
            // The two orders are each other's mirror.
            CHECK(load_be64(all, at) ==
                  (std::uint64_t{byteswap16(static_cast<std::uint16_t>(v >> 48))} |
                   (std::uint64_t{byteswap16(static_cast<std::uint16_t>(v >> 32))} << 16) |
                   (std::uint64_t{byteswap16(static_cast<std::uint16_t>(v >> 16))} << 32) |
                   (std::uint64_t{byteswap16(static_cast<std::uint16_t>(v))} << 48)));
        }
    }

    TEST_CASE("byte order: a store touches only its own bytes") {
        std::array<std::byte, 12> b{};
        for (auto& x : b) x = std::byte{0x5a};
        store_be32(std::span(b), 3, 0x11223344U);
        const std::array<std::byte, 12> want{std::byte{0x5a}, std::byte{0x5a}, std::byte{0x5a},
                                             std::byte{0x11}, std::byte{0x22}, std::byte{0x33},
                                             std::byte{0x44}, std::byte{0x5a}, std::byte{0x5a},
                                             std::byte{0x5a}, std::byte{0x5a}, std::byte{0x5a}};
        CHECK(b == want);
    }

}  // TEST_SUITE
