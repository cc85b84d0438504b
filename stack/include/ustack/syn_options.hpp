// What our SYN and SYN-ACK carry, and the two values the handshake fixes for a connection's life:
// our window shift and the TSval clock. One home for both senders of SYN-ACKs -- Connection
// (connection_output.cpp, send_syn) and the SYN cookies (syn_cookie.cpp) -- so that a
// connection opened from a cookie carries on exactly where the cookie's SYN-ACK left off.
//
// Heads up! Read RFC 7323 §2.2-2.3 (window scale: offered on the SYN, in use only if both SYNs
// carry it, shift at most 14), §3.2 and §5.4 (timestamps and their clock), RFC 2018 §2
// (SACK-permitted), DESIGN.md §3 (the disconnect-data offer: on the SYN when enabled, on the
// SYN-ACK only if the SYN carried it), §3b (the message-mode option: the same, except that a
// message-mode end refuses a peer whose SYN or SYN-ACK lacks it -- the one option that decides
// whether the handshake goes on, syn_refused) and §3c (connect data: the disconnect-data offer
// of a SYN, or its echo on a SYN-ACK, carries N bytes -- as many as the other options leave
// room for, connect_data_room).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "ustack/config.hpp"
#include "ustack/option_space.hpp"
#include "ustack/segment.hpp"
#include "ustack/seq.hpp"
#include "ustack/time.hpp"

namespace ustack {

// RFC 7323 §2.3: the largest shift a window-scale option may carry.
inline constexpr std::uint8_t kMaxWindowShift = 14;

// RFC 7323 §2.3: the smallest shift with which a `buffer`-byte window fits the 16-bit window
// field -- the shift we offer for a receive buffer of that size (at most 14, i.e. 1 GiB).
constexpr std::uint8_t window_shift_for(std::size_t buffer) {
    std::uint8_t shift = 0;
    while (shift < kMaxWindowShift && (buffer >> shift) > 65535U) ++shift;
    return shift;
}

// RFC 7323 §2.2: the window field of a SYN or SYN-ACK is never scaled -- `bytes`, at most 65535.
constexpr std::uint16_t syn_window(std::size_t bytes) {
    return static_cast<std::uint16_t>(std::min<std::size_t>(bytes, 65535));
}

// RFC 7323 §5.4: the TSval clock, 1 ms per tick, offset by the connection's ISS (itself from
// the RFC 6528 keyed hash) so that TSval does not reveal the host's uptime.
constexpr std::uint32_t tsval_clock(SeqNum iss, Instant now) {
    return iss.raw() + static_cast<std::uint32_t>(to_us(now) / 1000);
}

// The options a SYN or SYN-ACK carries besides MSS (which every one of ours carries).
struct SynOptionSet {
    bool window_scaling = false;  // RFC 7323 §2
    bool timestamps = false;      // RFC 7323 §3
    bool sack = false;            // RFC 2018 §2 SACK-permitted
    bool disconnect = false;      // DESIGN.md §3: the disconnect-data offer (N = 0)
    bool message_mode = false;    // DESIGN.md §3b: the message-mode option
    constexpr bool operator==(const SynOptionSet&) const = default;
};

// Our SYN offers what the configuration enables (every retransmission of it too).
constexpr SynOptionSet syn_offer(const TcpConfig& cfg) {
    return {cfg.window_scaling, cfg.timestamps, cfg.sack, cfg.disconnect_data, cfg.message_mode};
}

// What a connection uses once it has the peer's SYN (or SYN-ACK) `peer`: what we enable and the
// peer's segment carried. A SYN-ACK of ours answers with exactly this; for an active opener the
// peer's SYN-ACK carries only what our SYN offered, so it is the same rule. (A stream end
// ignores a message-mode option -- no echo; a message-mode end agrees to it or, without it,
// refuses: syn_refused.)
constexpr SynOptionSet syn_agreement(const TcpConfig& cfg, const TcpOptions& peer) {
    return {cfg.window_scaling && peer.window_scale.has_value(),
            cfg.timestamps && peer.timestamps.has_value(), cfg.sack && peer.sack_permitted,
            cfg.disconnect_data && peer.disconnect.has_value(),
            cfg.message_mode && peer.message_mode};
}

// DESIGN.md §3b: must the handshake stop at the peer's SYN (or SYN-ACK) `peer`? Only a
// message-mode end refuses, and only a peer without the message-mode option: a message-mode
// listener answers such a SYN with a RST as a closed port would (RFC 9293 §3.10.7.1; Stack),
// a message-mode connect resets the half-open connection and ends refused (Connection, SYN-SENT).
constexpr bool syn_refused(const TcpConfig& cfg, const TcpOptions& peer) {
    return cfg.message_mode && !peer.message_mode;
}

// DESIGN.md §3c: the most connect data (caller data on a SYN, callee data on a SYN-ACK) a SYN or
// SYN-ACK of ours carrying `set` (and MSS, which every one of ours carries) has room for: the
// option space left minus the option's 4-byte header -- 40 - 20 (MSS, SACK-permitted,
// timestamps, window scale, with padding) - 4 = 16 bytes when all are sent, 12 with the
// message-mode option too, more without timestamps or window scale. 0 when the segment carries
// no disconnect-data option at all (the extension is off, or the peer's SYN did not offer it).
constexpr std::size_t connect_data_room(const SynOptionSet& set) {
    if (!set.disconnect)
        return 0;
    return disconnect_data_room(CarriedOptions{.mss = true,
                                               .window_scale = set.window_scaling,
                                               .sack_permitted = set.sack,
                                               .timestamps = set.timestamps,
                                               .message_mode = set.message_mode});
}

// The options of our SYN or SYN-ACK: MSS `mss`, and what `set` names -- window scale `shift`,
// timestamps `ts`, SACK-permitted, the disconnect-data offer (or echo) with `connect_data`
// (DESIGN.md §3c: N bytes of caller or callee data, N = 0 for the plain offer; at most
// connect_data_room(set) -- the caller checks), the message-mode option.
constexpr TcpOptions syn_options(const SynOptionSet& set, std::uint16_t mss, std::uint8_t shift,
                                 Timestamps ts, const DisconnectData& connect_data = {}) {
    TcpOptions o;
    o.mss = mss;
    if (set.window_scaling)
        o.window_scale = shift;
    if (set.timestamps)
        o.timestamps = ts;
    o.sack_permitted = set.sack;
    if (set.disconnect)
        o.disconnect = connect_data;
    o.message_mode = set.message_mode;
    return o;
}

}  // namespace ustack
