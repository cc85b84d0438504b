// TCP options: the closed set the engine understands, one list (STYLE.md §3.7).
//
// Internal to the codec. decode: apply_option() turns one (kind, data) pair that libtins parsed
// into a field of TcpOptions. encode: plan_options() lays the options out in at most 40 bytes
// as a sequence of (kind, data) items that libtins writes verbatim.
//
// Read: RFC 9293 §3.2 (EOL, NOP, MSS), RFC 7323 §2-3 (window scale, timestamps), RFC 2018 §2-3
// (SACK-permitted, SACK), RFC 6994 §3 (ExIDs under kinds 253/254), DESIGN.md §3 and §3b.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "ustack/codec.hpp"
#include "ustack/option_space.hpp"
#include "ustack/segment.hpp"

namespace ustack::tcp_options {

// X(name, kind, wire length including kind and length octets; 0 = variable)
#define USTACK_TCP_OPTION_KINDS(X) \
    X(eol, 0, 1)                   \
    X(nop, 1, 1)                   \
    X(mss, 2, 4)                   \
    X(window_scale, 3, 3)          \
    X(sack_permitted, 4, 2)        \
    X(sack, 5, 0)                  \
    X(timestamps, 8, 10)           \
    X(experiment_1, 253, 0)        \
    X(experiment_2, 254, 0)

namespace kind {
#define USTACK_X(name, k, len) inline constexpr std::uint8_t name = k;
USTACK_TCP_OPTION_KINDS(USTACK_X)
#undef USTACK_X
}  // namespace kind

namespace length {
#define USTACK_X(name, k, len) inline constexpr std::uint8_t name = len;
USTACK_TCP_OPTION_KINDS(USTACK_X)
#undef USTACK_X
}  // namespace length

// "mss", "sack", ...; "unknown" for a kind outside the list.
std::string_view kind_name(std::uint8_t k);

// Our RFC 6994 experiments, all under kind 253 (experiment_1); anything else under 253 or 254
// is not ours. X(name, ExID, wire length including kind, length and ExID; 0 = variable)
#define USTACK_TCP_EXPERIMENTS(X)                                         \
    X(disconnect, kDisconnectExId, 0)                           /* §3 */ \
    X(message_mode, kMessageModeExId, kMessageModeOptionLength) /* §3b */

namespace exid {
#define USTACK_X(name, id, len) inline constexpr std::uint16_t name = id;
USTACK_TCP_EXPERIMENTS(USTACK_X)
#undef USTACK_X
}  // namespace exid

namespace exid_length {
#define USTACK_X(name, id, len) inline constexpr std::size_t name = len;
USTACK_TCP_EXPERIMENTS(USTACK_X)
#undef USTACK_X
}  // namespace exid_length

// RFC 7323 §2.3: a shift count above 14 is used as 14.
inline constexpr std::uint8_t kMaxWindowShift = 14;
// RFC 2018 §3: SACK is 2 + 8n bytes; the 40-byte space holds at most 4 blocks.
inline constexpr std::size_t kSackBlockLen = kSackBlockSpace;

// decode: apply one option that libtins parsed. `data` excludes the kind and length octets, so
// the wire length is data.size() + 2. Never called for EOL or NOP. Skipped options are counted
// in `stats`; nothing here drops the packet (the structure was checked in wire.cpp).
void apply_option(std::uint8_t kind, std::span<const std::uint8_t> data, TcpOptions& out,
                  CodecStats& stats);

// encode: the space each option takes is in ustack/option_space.hpp (option_space_left).
// One option on the wire. NOP has no length and no data; every other item is written
// as kind, 2 + data_len, data.
struct OptionItem {
    std::uint8_t kind = kind::nop;
    std::uint8_t data_len = 0;
    std::array<std::uint8_t, kMaxOptionSpace - 2> data{};
};

struct OptionPlan {
    // MSS 1, TS 3, SACKOK 3, WS 2, message mode 1, SACK 3, disconnect 1 + up to 3 NOPs = 17.
    static constexpr std::size_t kMaxItems = 17;
    std::array<OptionItem, kMaxItems> items{};
    std::size_t count = 0;
    std::size_t wire_len = 0;  // always a multiple of 4 and <= 40
    std::size_t sack_blocks_dropped = 0;
    bool disconnect_dropped = false;

    [[nodiscard]] std::span<const OptionItem> view() const { return {items.data(), count}; }
};

// Lay out `opts` (see Codec::encode for the order and the 40-byte rule).
OptionPlan plan_options(const TcpOptions& opts);

}  // namespace ustack::tcp_options
