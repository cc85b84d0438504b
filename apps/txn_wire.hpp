// The transaction-total demo's wire format: totals travel as 8-byte big-endian signed integers.
#pragma once

#include <cstdint>

#include "ustack/byte_order.hpp"

namespace apps {

// Two's complement in 8 big-endian bytes.
inline void put_be64(unsigned char* p, std::int64_t v) {
    ustack::store_be64(p, static_cast<std::uint64_t>(v));
}

inline std::int64_t get_be64(const unsigned char* p) {
    return static_cast<std::int64_t>(ustack::load_be64(p));
}

}  // namespace apps
