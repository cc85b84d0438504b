// The 40-byte TCP option space and what each option takes of it.
//
// RFC 9293 §3.1: the data offset is 4 bits of 32-bit words, so a header holds at most
// 60 - 20 = 40 bytes of options. The codec lays options out as Linux's tcp_options_write does
// (tcp_options.cpp, plan_options), every group padded to a 32-bit boundary with NOPs:
//
//   MSS                          4   kind len mss(2)                      RFC 9293 §3.2
//   timestamps                  12   NOP NOP TS(10), or SACKOK TS(10)     RFC 7323 §3.2
//   SACK-permitted               4   NOP NOP SACKOK -- without timestamps; with them it takes
//                                    the two NOPs' place                  RFC 2018 §2
//   window scale                 4   NOP WS(3)                            RFC 7323 §2.2
//   message mode                 4   kind len ExID(2)                     DESIGN.md §3b
//   SACK, n blocks          4 + 8n   NOP NOP kind len, 8 bytes a block     RFC 2018 §3
//   disconnect data, N bytes        NOPs, then kind len ExID(2) N: 4 + N rounded up to 4
//                                    (RFC 6994 §3, DESIGN.md §3)
//
// option_space_left() is the one place this arithmetic is done: the codec's layout, the
// engine's disconnect-data limit and its SACK blocks all use it. Standard library only.
// A SYN with MSS, SACK-permitted, timestamps and window scale leaves 20 bytes, 16 of them for
// connect data (DESIGN.md §3c); with the message-mode option 16 and 12.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>

#include "ustack/segment.hpp"

namespace ustack {

inline constexpr std::size_t kMssOptionSpace = 4;
inline constexpr std::size_t kTimestampOptionSpace = 12;
inline constexpr std::size_t kSackPermittedOptionSpace = 4;  // without timestamps
inline constexpr std::size_t kWindowScaleOptionSpace = 4;
inline constexpr std::size_t kMessageModeOptionSpace = kMessageModeOptionLength;  // no padding
inline constexpr std::size_t kSackOptionBase = 4;  // NOP NOP kind len
inline constexpr std::size_t kSackBlockSpace = 8;  // one block: left and right edge

// The bytes n SACK blocks take (0 for none).
constexpr std::size_t sack_option_space(std::size_t blocks) {
    return blocks == 0 ? 0 : kSackOptionBase + kSackBlockSpace * blocks;
}
// The bytes the disconnect-data option with `len` bytes of data takes, padding included.
constexpr std::size_t disconnect_option_space(std::size_t len) {
    return (kDisconnectOptionOverhead + len + 3) & ~std::size_t{3};
}

// What one segment carries, for the space arithmetic.
struct CarriedOptions {
    bool mss = false;
    bool window_scale = false;
    bool sack_permitted = false;
    bool timestamps = false;
    std::size_t sack_blocks = 0;
    std::optional<std::size_t> disconnect_data;  // the option with this many bytes of data
    bool message_mode = false;                   // DESIGN.md §3b (a SYN or SYN-ACK)
};

// The bytes of the 40-byte option space that a segment carrying `c` leaves free (0 when `c`
// does not fit at all).
constexpr std::size_t option_space_left(const CarriedOptions& c) {
    std::size_t used = 0;
    if (c.mss)
        used += kMssOptionSpace;
    if (c.timestamps)
        used += kTimestampOptionSpace;
    if (c.sack_permitted && !c.timestamps)
        used += kSackPermittedOptionSpace;
    if (c.window_scale)
        used += kWindowScaleOptionSpace;
    if (c.message_mode)
        used += kMessageModeOptionSpace;
    used += sack_option_space(c.sack_blocks);
    if (c.disconnect_data)
        used += disconnect_option_space(*c.disconnect_data);
    return used >= kMaxOptionSpace ? 0 : kMaxOptionSpace - used;
}

// The most disconnect data (DESIGN.md §3, §3c) a segment carrying `c` (and no disconnect
// option yet) has room for: what is left minus the option's 4-byte RFC 6994 header.
constexpr std::size_t disconnect_data_room(const CarriedOptions& c) {
    const std::size_t left = option_space_left(c);
    return left > kDisconnectOptionOverhead ? left - kDisconnectOptionOverhead : 0;
}

// The most SACK blocks (RFC 2018 §3: at most 4) a segment carrying `c` (and no SACK yet) has
// room for.
constexpr std::size_t sack_blocks_room(const CarriedOptions& c) {
    const std::size_t left = option_space_left(c);
    if (left < sack_option_space(1))
        return 0;
    return std::min<std::size_t>(kMaxSackBlocks, (left - kSackOptionBase) / kSackBlockSpace);
}

}  // namespace ustack
