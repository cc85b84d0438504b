// Time as the engine sees it: an Instant it is *given*, never one it reads.
//
// The engine (stack/) has no clock. The host runtime (tun/) converts the system's monotonic clock
// to Instant; tests advance a virtual clock by hand. Instants passed to the engine must be
// monotonic.
#pragma once

#include <chrono>
#include <cstdint>

namespace ustack {

using Duration = std::chrono::microseconds;

// A clock type with no now(): it only names the epoch Instants are measured from.
struct EngineClock {
    using duration = Duration;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<EngineClock, Duration>;
    static constexpr bool is_steady = true;
};

using Instant = EngineClock::time_point;

constexpr Instant instant_from_us(std::int64_t us) {
    return Instant(Duration(us));
}
constexpr std::int64_t to_us(Instant t) {
    return t.time_since_epoch().count();
}

using namespace std::chrono_literals;

}  // namespace ustack
