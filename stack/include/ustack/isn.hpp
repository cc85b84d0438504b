// IsnGenerator: initial sequence numbers per RFC 6528 (RFC 9293 §3.4.1).
//
//   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//
// M is a timer that ticks every 4 microseconds (taken from the Instant we are given -- the engine
// reads no clock); F is SipHash-2-4 keyed with a 128-bit secret injected by the host (random at
// startup), so F cannot be computed from outside (MUST-9).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ustack/segment.hpp"
#include "ustack/seq.hpp"
#include "ustack/time.hpp"

namespace ustack {

using SipKey = std::array<std::uint8_t, 16>;

// SipHash-2-4 (Aumasson & Bernstein), 64-bit output.
std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> data);

class IsnGenerator {
public:
    explicit IsnGenerator(const SipKey& secret) : secret_(secret) {}
    [[nodiscard]] SeqNum generate(Endpoint local, Endpoint remote, Instant now) const;

private:
    SipKey secret_;
};

}  // namespace ustack
