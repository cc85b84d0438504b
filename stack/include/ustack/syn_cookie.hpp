// SynCookies: the stateless SYN-ACK of RFC 4987 §3.6, as Linux builds it (net/ipv4/syncookies.c).
//
// Heads up! Read RFC 4987 §3.6 (SYN cookies: what they cost -- the options a cookie cannot hold),
// RFC 7323 §3.2 and §5.4 (TSval, its clock, the echo in TSecr) and RFC 6528 (why the ISS must be
// unpredictable). The Stack uses this when a listener's SYN queue is full (stack.hpp).
//
// Contract:
//   make_syn_ack(local_port, syn, cfg, now)   the SYN-ACK answering `syn` (a SYN to our port
//                                             local_port), whose ISS is the cookie; nothing is
//                                             kept. Deterministic: the same SYN at the same tick
//                                             gets the same cookie.
//   check_ack(local_port, ack, cfg, now)      if `ack` (an ACK without SYN to local_port)
//                                             returns a valid cookie, the SYN it stands for --
//                                             rebuilt: SEG.SEQ = the peer's ISS, the MSS and the
//                                             options the cookie carried -- else nullopt.
//   `cfg` must be the TcpConfig of the connection the cookie would open, the same for both
//   calls (the listener's: its receive buffer decides the window and shift offered).
//   A cookie is valid for at most kMaxAge ticks after the one it was made in (kLifetime
//   covers every cookie sent until then). The class never reads a clock.
//
// The cookie (our ISS), t a 64 s tick counter, H and MAC SipHash-2-4 under keys the Stack derives
// from its secret (RFC 6528: not computable from outside):
//   ISS = H(4-tuple) + ((t mod 32) << 27 | mss_index << 24 | MAC24(4-tuple, peer ISS, t,
//   mss_index))
// mss_index picks one of 8 MSS values: the largest not above the peer's MSS option (536 without
// one, RFC 9293 §3.7.1).
// Options: the SYN-ACK carries what Connection's would (syn_options.hpp). When the SYN carried
// timestamps (and we use them), the low 6 bits of our TSval hold what the cookie cannot: the
// peer's window shift (4 bits, 15 = none), SACK-permitted and the disconnect-data offer; the ACK
// echoes them in TSecr. Without timestamps the SYN-ACK offers no window scaling, no SACK and no
// disconnect data: the connection works without them (RFC 4987 §3.6's documented loss).
// The message-mode option (DESIGN.md §3b) takes no bit, with or without timestamps: a
// message-mode listener (cfg.message_mode) answers a SYN without it with a RST before any
// cookie is made (stack.cpp), so every cookie SYN-ACK it sends echoes the option, and every
// SYN check_ack rebuilds for it carries the option -- the connection made from a valid cookie
// is message-mode. A stream listener's cookie SYN-ACK never carries it. (The cookie does not
// bind the mode: a listener closed and opened again on the same port in the other mode within
// kLifetime would take the old listener's cookies in its own mode.)
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "ustack/config.hpp"
#include "ustack/isn.hpp"
#include "ustack/segment.hpp"
#include "ustack/time.hpp"

namespace ustack {

class SynCookies {
public:
    // The tick of the cookie's time counter (Linux: 60 s) and how many ticks a cookie outlives
    // the one it was made in (Linux MAX_SYNCOOKIE_AGE = 2).
    static constexpr Duration kTick{64'000'000};
    static constexpr std::uint32_t kMaxAge = 2;
    // From the last cookie sent, ACKs may return a valid cookie for this long.
    static constexpr Duration kLifetime = kTick * (kMaxAge + 1);
    // The MSS values a cookie can carry (3 bits): the minimums, IPv6-in-IPv4 and tunnels, PPPoE,
    // Ethernet.
    static constexpr std::array<std::uint16_t, 8> kMss{64, 256, 536, 1200, 1360, 1400, 1440, 1460};
    // The low TSval bits of a cookie SYN-ACK: the peer's window shift (kTsNoWscale: none),
    // SACK-permitted and the disconnect-data offer (Linux: 4 bits wscale, SACK, ECN).
    static constexpr std::uint32_t kTsOptMask = 0x3f;
    static constexpr std::uint32_t kTsNoWscale = 0xf;
    static constexpr std::uint32_t kTsSack = 0x10;
    static constexpr std::uint32_t kTsDisc = 0x20;

    // `mac_key` keys the MAC, `offset_key` the per-4-tuple offset H; `local_addr` is our address.
    SynCookies(const SipKey& mac_key, const SipKey& offset_key, Ipv4Addr local_addr);

    [[nodiscard]] Segment make_syn_ack(std::uint16_t local_port, const Segment& syn,
                                       const TcpConfig& cfg, Instant now) const;
    [[nodiscard]] std::optional<Segment> check_ack(std::uint16_t local_port, const Segment& ack,
                                                   const TcpConfig& cfg, Instant now) const;

    // The parts, for tests.
    // The index into kMss for a peer MSS option (nullopt: none).
    [[nodiscard]] static std::uint32_t mss_index(std::optional<std::uint16_t> peer_mss);
    // The cookie (our ISS) for a SYN with SEG.SEQ = peer_iss from `remote` at `now`.
    [[nodiscard]] SeqNum cookie(std::uint16_t local_port, Endpoint remote, SeqNum peer_iss,
                                std::uint32_t mss_index, Instant now) const;
    // The TSval of a cookie SYN-ACK: the connection's clock (tsval_clock) with `bits` in the low 6
    // bits, never later than the clock, so later TSvals never fall below it (the peer's PAWS).
    [[nodiscard]] static std::uint32_t cookie_tsval(SeqNum iss, std::uint32_t bits, Instant now);

private:
    [[nodiscard]] std::uint32_t mac(std::uint16_t local_port, Endpoint remote, SeqNum peer_iss,
                                    std::uint32_t tick, std::uint32_t mss_index) const;
    [[nodiscard]] std::uint32_t offset(std::uint16_t local_port, Endpoint remote) const;

    SipKey mac_key_;
    SipKey offset_key_;
    Ipv4Addr addr_;
};

}  // namespace ustack
