// The deterministic data the end-to-end peers send (ustack-peer, the lwIP peer, the hostile
// server): an xorshift64* stream from a seed, so a receiver's SHA-256 can be compared with the
// sender's. Standard library only.
//
//   apps::DataGen g(seed); g.fill(buf, n); g.fill(buf, n); ...   (continues the stream)
#pragma once

#include <cstddef>
#include <cstdint>

namespace apps {

struct DataGen {
    std::uint64_t x;
    explicit DataGen(std::uint64_t seed) : x(seed * 0x9E3779B97F4A7C15ull + 1) {}
    void fill(unsigned char* p, std::size_t n) {
        for (std::size_t i = 0; i < n; i += 8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            const std::uint64_t v = x * 0x2545F4914F6CDD1Dull;
            for (std::size_t j = 0; j < 8 && i + j < n; ++j)
                p[i + j] = static_cast<unsigned char>(v >> (8 * j));
        }
    }
};

}  // namespace apps
