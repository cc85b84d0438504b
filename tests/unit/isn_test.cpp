// IsnGenerator (RFC 6528, RFC 9293 §3.4.1) and SipHash-2-4 (Aumasson & Bernstein, 2012).
#include "ustack/isn.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <set>
#include <vector>

using ustack::Endpoint;
using ustack::instant_from_us;
using ustack::ipv4;
using ustack::IsnGenerator;
using ustack::SeqNum;
using ustack::siphash24;
using ustack::SipKey;

namespace {

// The SipHash paper's test key 00 01 .. 0f.
SipKey paper_key() {
    SipKey k{};
    for (std::size_t i = 0; i < k.size(); ++i) {
        k[i] = static_cast<std::uint8_t>(i);
    }
    return k;
}

// The paper's message of length n: 00 01 .. (n-1).
std::vector<std::byte> paper_message(std::size_t n) {
    std::vector<std::byte> m(n);
    for (std::size_t i = 0; i < n; ++i) {
        m[i] = static_cast<std::byte>(i);
    }
    return m;
}

// SipHash-2-4 outputs for key 00..0f and messages 00..(n-1), n = 0..63, as 64-bit integers (the
// reference implementation's vectors, stored there as the little-endian bytes of these values).
// n = 15 is the worked example of the paper's Appendix A. Cross-checked against an independent
// implementation while writing this test.
constexpr std::array<std::uint64_t, 64> kVectors = {
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
    0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
    0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
    0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
    0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
    0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
    0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
    0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
    0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
    0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95,
    0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
    0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a,
    0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea, 0x245731c13ca42499,
    0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
};

const Endpoint kLocal{ipv4(10, 0, 0, 1), 40000};
const Endpoint kRemote{ipv4(192, 168, 1, 20), 80};

SipKey secret_a() {
    SipKey k{};
    for (std::size_t i = 0; i < k.size(); ++i) {
        k[i] = static_cast<std::uint8_t>(0xa5U ^ (i * 37U));
    }
    return k;
}

}  // namespace

TEST_SUITE("isn") {
    TEST_CASE("SipHash-2-4: the paper's vectors for empty and 15-byte messages") {
        const SipKey k = paper_key();
        CHECK(siphash24(k, {}) == 0x726fdb47dd0e0e31ULL);
        CHECK(siphash24(k, paper_message(15)) == 0xa129ca6149be45e5ULL);
    }

    TEST_CASE("SipHash-2-4: all 64 reference vectors (every tail length 0..7 and many blocks)") {
        const SipKey k = paper_key();
        for (std::size_t n = 0; n < kVectors.size(); ++n) {
            CAPTURE(n);
            CHECK(siphash24(k, paper_message(n)) == kVectors[n]);
        }
    }

    TEST_CASE("SipHash-2-4: the key matters") {
        SipKey k = paper_key();
        const auto m = paper_message(12);
        const std::uint64_t h = siphash24(k, m);
        k[15] ^= 0x01;
        CHECK(siphash24(k, m) != h);
    }

    TEST_CASE("RFC 6528 §3: F is SipHash-2-4 of the 4-tuple in network byte order") {
        // At time 0, M = 0, so the ISN is F itself: pin the serialization of the connection-id.
        const SipKey key = secret_a();
        const std::array<std::byte, 12> id = {
            std::byte{10},   std::byte{0},    std::byte{0}, std::byte{1},   // local 10.0.0.1
            std::byte{0x9c}, std::byte{0x40},                               // local port 40000
            std::byte{192},  std::byte{168},  std::byte{1}, std::byte{20},  // 192.168.1.20
            std::byte{0x00}, std::byte{0x50},                               // remote port 80
        };
        const auto f = static_cast<std::uint32_t>(siphash24(key, id));
        const IsnGenerator gen(key);
        CHECK(gen.generate(kLocal, kRemote, instant_from_us(0)) == SeqNum(f));
    }

    TEST_CASE("RFC 6528 §3: M is a 4 microsecond timer: the ISN advances by 1 every 4 us") {
        const IsnGenerator gen(secret_a());
        const auto isn_at = [&](std::int64_t us) {
            return gen.generate(kLocal, kRemote, instant_from_us(us));
        };
        const SeqNum base = isn_at(1'000'000);  // a multiple of 4 us
        CHECK(isn_at(1'000'001) == base);
        CHECK(isn_at(1'000'003) == base);
        CHECK(isn_at(1'000'004) == base + 1);
        CHECK(isn_at(1'000'007) == base + 1);
        CHECK(isn_at(1'000'008) == base + 2);
        CHECK(isn_at(1'000'000 + 4 * 1000) == base + 1000);
        // One second is 250000 ticks.
        CHECK(isn_at(2'000'000) - base == 250000);
    }

    TEST_CASE("RFC 6528 §3: M is truncated to 32 bits and wraps after 2^32 ticks") {
        const IsnGenerator gen(secret_a());
        const std::int64_t t = 123'456'788;
        const std::int64_t period = 4LL << 32;  // 2^32 ticks of 4 us, about 4.77 hours
        CHECK(gen.generate(kLocal, kRemote, instant_from_us(t + period)) ==
              gen.generate(kLocal, kRemote, instant_from_us(t)));
        CHECK(gen.generate(kLocal, kRemote, instant_from_us(t + period - 4)) ==
              gen.generate(kLocal, kRemote, instant_from_us(t)) - 1);
    }

    TEST_CASE("RFC 6528 §3: the same 4-tuple and secret and time give the same ISN") {
        const IsnGenerator a(secret_a());
        const IsnGenerator b(secret_a());
        const auto now = instant_from_us(987'654'321);
        CHECK(a.generate(kLocal, kRemote, now) == b.generate(kLocal, kRemote, now));
    }

    TEST_CASE("RFC 6528 §3: different 4-tuples give different ISNs") {
        const IsnGenerator gen(secret_a());
        const auto now = instant_from_us(5'000'000);
        std::set<std::uint32_t> seen;
        seen.insert(gen.generate(kLocal, kRemote, now).raw());
        // Each field of the connection-id matters, and so does which side is local.
        seen.insert(gen.generate({kLocal.addr, 40001}, kRemote, now).raw());
        seen.insert(gen.generate({ipv4(10, 0, 0, 2), 40000}, kRemote, now).raw());
        seen.insert(gen.generate(kLocal, {kRemote.addr, 81}, now).raw());
        seen.insert(gen.generate(kLocal, {ipv4(192, 168, 1, 21), 80}, now).raw());
        seen.insert(gen.generate(kRemote, kLocal, now).raw());
        CHECK(seen.size() == 6);

        // Consecutive ephemeral ports spread over the sequence space (no predictable offset).
        std::set<std::uint32_t> ports;
        for (std::uint16_t p = 49152; p < 49152 + 1000; ++p) {
            ports.insert(gen.generate({kLocal.addr, p}, kRemote, now).raw());
        }
        CHECK(ports.size() == 1000);
    }

    TEST_CASE("RFC 6528 §3: different secrets give different ISNs (MUST-9: F is keyed)") {
        SipKey other = secret_a();
        other[0] ^= 0x80;
        const IsnGenerator a(secret_a());
        const IsnGenerator b(other);
        const auto now = instant_from_us(42);
        CHECK(a.generate(kLocal, kRemote, now) != b.generate(kLocal, kRemote, now));
    }
}
