// Round-trip expectations for TCP options (fuzz_codec, fuzz_options).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "fuzz_common.hpp"
#include "ustack/segment.hpp"

namespace ustack::fuzz {

// Options that survive one encode: everything but what the 40-byte plan had to leave out
// (counted in the encoder's stats).
inline void check_options_round_trip(const TcpOptions& in, const TcpOptions& out,
                                     std::uint64_t sack_dropped, bool disc_dropped) {
    FUZZ_CHECK(out.mss == in.mss, "mss changed in the round trip");
    // RFC 7323 §2.3: a shift above 14 is read back as 14.
    const auto ws = in.window_scale
                        ? std::optional<std::uint8_t>(std::min<std::uint8_t>(*in.window_scale, 14))
                        : std::nullopt;
    FUZZ_CHECK(out.window_scale == ws, "window scale changed in the round trip");
    FUZZ_CHECK(out.sack_permitted == in.sack_permitted, "SACK-permitted changed");
    FUZZ_CHECK(out.timestamps == in.timestamps, "timestamps changed in the round trip");
    FUZZ_CHECK(out.message_mode == in.message_mode, "message mode changed in the round trip");
    if (disc_dropped) {
        FUZZ_CHECK(!out.disconnect, "disconnect option counted as dropped but present");
    } else {
        FUZZ_CHECK(out.disconnect == in.disconnect, "disconnect data changed in the round trip");
    }
    const std::size_t in_blocks = std::min<std::size_t>(in.sack_count, kMaxSackBlocks);
    FUZZ_CHECK(sack_dropped <= in.sack_count, "more SACK blocks dropped (%llu) than given (%u)",
               static_cast<unsigned long long>(sack_dropped), in.sack_count);
    const std::size_t kept = in.sack_count - sack_dropped;
    FUZZ_CHECK(kept <= in_blocks && out.sack_count == kept,
               "SACK blocks: %u in, %llu dropped, %u out", in.sack_count,
               static_cast<unsigned long long>(sack_dropped), out.sack_count);
    for (std::size_t i = 0; i < kept; ++i)
        FUZZ_CHECK(out.sack[i] == in.sack[i], "SACK block %zu changed in the round trip", i);
}

}  // namespace ustack::fuzz
