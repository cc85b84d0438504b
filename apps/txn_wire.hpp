// The transaction-total demo's wire format: totals travel as 8-byte big-endian signed integers.
#pragma once

#include <cstdint>

namespace apps {

inline void put_be64(unsigned char* p, std::int64_t v) {
    const auto u = static_cast<std::uint64_t>(v);
    for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(u >> (56 - 8 * i));
}

inline std::int64_t get_be64(const unsigned char* p) {
    std::uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u = (u << 8) | p[i];
    return static_cast<std::int64_t>(u);
}

}  // namespace apps
