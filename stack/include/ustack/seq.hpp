// Sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
//
// Heads up: never compare raw uint32_t sequence values in the engine. Two sequence numbers a and
// b are ordered by the sign of the 32-bit difference a - b, which is meaningful only while they
// are less than 2^31 apart -- always true for values inside one connection's windows.
#pragma once

#include <cstdint>
#include <string>

namespace ustack {

class SeqNum {
public:
    constexpr SeqNum() = default;
    constexpr explicit SeqNum(std::uint32_t raw) : v_(raw) {}

    [[nodiscard]] constexpr std::uint32_t raw() const { return v_; }

    // Advance by n octets (wraps modulo 2^32).
    constexpr SeqNum operator+(std::uint32_t n) const { return SeqNum(v_ + n); }
    constexpr SeqNum operator-(std::uint32_t n) const { return SeqNum(v_ - n); }
    constexpr SeqNum& operator+=(std::uint32_t n) {
        v_ += n;
        return *this;
    }
    // Signed distance a - b; valid when |a - b| < 2^31.
    constexpr std::int32_t operator-(SeqNum other) const {
        return static_cast<std::int32_t>(v_ - other.v_);
    }

    constexpr bool operator==(const SeqNum&) const = default;
    constexpr bool operator<(SeqNum o) const { return (*this - o) < 0; }
    constexpr bool operator<=(SeqNum o) const { return (*this - o) <= 0; }
    constexpr bool operator>(SeqNum o) const { return (*this - o) > 0; }
    constexpr bool operator>=(SeqNum o) const { return (*this - o) >= 0; }

    // first <= *this < first + size  (the RFC 9293 §3.4 "window" test; size 0 is empty).
    [[nodiscard]] constexpr bool in_window(SeqNum first, std::uint32_t size) const {
        return static_cast<std::uint32_t>(v_ - first.v_) < size;
    }
    // lo <= *this <= hi
    [[nodiscard]] constexpr bool in_range(SeqNum lo, SeqNum hi) const {
        return lo <= *this && *this <= hi;
    }

private:
    std::uint32_t v_ = 0;
};

constexpr SeqNum seq_max(SeqNum a, SeqNum b) { return a < b ? b : a; }
constexpr SeqNum seq_min(SeqNum a, SeqNum b) { return a < b ? a : b; }

inline std::string to_string(SeqNum s) { return std::to_string(s.raw()); }

}  // namespace ustack
