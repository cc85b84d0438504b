// IPv4 addresses as ustack/wsp.h wants them: IN_ADDR and SOCKADDR_IN hold network byte order.
//
// This header includes ustack/wsp.h, so no socket header may be included next to it.
#pragma once

#include <cstdint>
#include <cstring>

#include "ustack/segment.hpp"
#include "ustack/wsp.h"

namespace ustack::test {

inline IN_ADDR in_addr_of(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IN_ADDR r{};
    const std::uint8_t bytes[4] = {a, b, c, d};  // network order: most significant first
    std::memcpy(&r.s_addr, bytes, 4);
    return r;
}
// The engine's host-order address (ustack::ipv4) as an IN_ADDR.
inline IN_ADDR wsp_addr(Ipv4Addr a) {
    return in_addr_of(static_cast<std::uint8_t>(a >> 24), static_cast<std::uint8_t>(a >> 16),
                      static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a));
}

inline SOCKADDR_IN sockaddr_of(IN_ADDR addr, std::uint16_t port) {
    SOCKADDR_IN s{};
    s.sin_family = AF_INET;
    s.sin_addr = addr;
    const std::uint8_t p[2] = {static_cast<std::uint8_t>(port >> 8),
                               static_cast<std::uint8_t>(port & 0xff)};
    std::memcpy(&s.sin_port, p, 2);
    return s;
}

}  // namespace ustack::test
