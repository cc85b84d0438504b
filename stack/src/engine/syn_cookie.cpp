// SynCookies: encoding and checking RFC 4987 §3.6 cookies (the contract and layout are in
// syn_cookie.hpp). The options go through syn_options.hpp, as Connection's SYN-ACK does.
#include "ustack/syn_cookie.hpp"

#include <algorithm>

#include "ustack/byte_order.hpp"
#include "ustack/syn_options.hpp"

namespace ustack {

namespace {

constexpr std::uint32_t kMacMask = 0xffffff;  // 24 bits of MAC
constexpr std::uint32_t kTickMask = 0x1f;     // 5 bits of the tick counter
constexpr std::uint32_t kMssIndexMask = 0x7;  // 3 bits of MSS index
// RFC 9293 §3.7.1: the MSS to assume without an MSS option.
constexpr std::uint16_t kDefaultMss = 536;

std::uint32_t tick_at(Instant now) {
    const std::int64_t us = std::max<std::int64_t>(to_us(now), 0);
    return static_cast<std::uint32_t>(us / SynCookies::kTick.count());
}

}  // namespace

SynCookies::SynCookies(const SipKey& mac_key, const SipKey& offset_key, Ipv4Addr local_addr)
    : mac_key_(mac_key), offset_key_(offset_key), addr_(local_addr) {}

std::uint32_t SynCookies::mac(std::uint16_t local_port, Endpoint remote, SeqNum peer_iss,
                              std::uint32_t tick, std::uint32_t mss_index) const {
    std::array<std::byte, 21> m{};
    store_be32(m.data(), addr_);
    store_be16(m.data() + 4, local_port);
    store_be32(m.data() + 6, remote.addr);
    store_be16(m.data() + 10, remote.port);
    store_be32(m.data() + 12, peer_iss.raw());
    store_be32(m.data() + 16, tick);
    m[20] = static_cast<std::byte>(mss_index);
    return static_cast<std::uint32_t>(siphash24(mac_key_, m)) & kMacMask;
}

std::uint32_t SynCookies::offset(std::uint16_t local_port, Endpoint remote) const {
    std::array<std::byte, 12> m{};
    store_be32(m.data(), addr_);
    store_be16(m.data() + 4, local_port);
    store_be32(m.data() + 6, remote.addr);
    store_be16(m.data() + 10, remote.port);
    return static_cast<std::uint32_t>(siphash24(offset_key_, m));
}

std::uint32_t SynCookies::mss_index(std::optional<std::uint16_t> peer_mss) {
    const std::uint16_t mss = peer_mss.value_or(kDefaultMss);
    for (std::uint32_t i = kMss.size(); i-- > 0;) {
        if (kMss[i] <= mss)
            return i;
    }
    return 0;
}

SeqNum SynCookies::cookie(std::uint16_t local_port, Endpoint remote, SeqNum peer_iss,
                          std::uint32_t mss_index, Instant now) const {
    const std::uint32_t tick = tick_at(now);
    const std::uint32_t raw = ((tick & kTickMask) << 27) | (mss_index << 24) |
                              mac(local_port, remote, peer_iss, tick, mss_index);
    return SeqNum(raw + offset(local_port, remote));
}

std::uint32_t SynCookies::cookie_tsval(SeqNum iss, std::uint32_t bits, Instant now) {
    // Linux's cookie_init_timestamp: replace the low bits, and step back one unit if that went
    // into the future.
    const std::uint32_t clock = tsval_clock(iss, now);
    std::uint32_t ts = (clock & ~kTsOptMask) | bits;
    if (static_cast<std::int32_t>(ts - clock) > 0)
        ts -= kTsOptMask + 1;
    return ts;
}

// <SEQ=cookie><ACK=SEG.SEQ+1><CTL=SYN,ACK>, with what Connection::send_syn would put on it
// except the options the cookie cannot remember.
Segment SynCookies::make_syn_ack(std::uint16_t local_port, const Segment& syn, const TcpConfig& cfg,
                                 Instant now) const {
    const std::uint32_t index = mss_index(syn.options.mss);
    const SeqNum iss = cookie(local_port, syn.src(), syn.seq, index, now);

    Segment r;
    r.set_endpoints({addr_, local_port}, syn.src());
    r.seq = iss;
    r.ack = syn.seq + 1;
    r.flags = tcp_flag::syn | tcp_flag::ack;
    r.window = syn_window(cfg.recv_buffer);
    // Window scale, SACK-permitted and the disconnect offer ride on the TSval: without
    // timestamps the cookie offers none of them. The message-mode option needs no bit
    // (syn_cookie.hpp): a message-mode listener's SYN carried it, so its SYN-ACK echoes it.
    SynOptionSet set = syn_agreement(cfg, syn.options);
    if (!set.timestamps)
        set = SynOptionSet{.message_mode = set.message_mode};
    Timestamps ts{};
    if (set.timestamps) {
        std::uint32_t bits = kTsNoWscale;
        if (set.window_scaling) {
            bits = std::min<std::uint32_t>(*syn.options.window_scale, kMaxWindowShift);
        }
        if (set.sack)
            bits |= kTsSack;
        if (set.disconnect)
            bits |= kTsDisc;
        ts = Timestamps{cookie_tsval(iss, bits, now), syn.options.timestamps->tsval};
    }
    r.options = syn_options(set, cfg.mss, window_shift_for(cfg.recv_buffer), ts);
    return r;
}

std::optional<Segment> SynCookies::check_ack(std::uint16_t local_port, const Segment& ack,
                                             const TcpConfig& cfg, Instant now) const {
    const SeqNum iss = ack.ack - 1;
    const SeqNum peer_iss = ack.seq - 1;
    const std::uint32_t raw = iss.raw() - offset(local_port, ack.src());
    const std::uint32_t index = (raw >> 24) & kMssIndexMask;
    const std::uint32_t now_tick = tick_at(now);
    const std::uint32_t age = (now_tick - (raw >> 27)) & kTickMask;
    if (age > kMaxAge || age > now_tick ||
        (raw & kMacMask) != mac(local_port, ack.src(), peer_iss, now_tick - age, index)) {
        return std::nullopt;
    }
    // The SYN the cookie stands for, with the options its TSval carried (RFC 7323: the ACK
    // echoes it in TSecr).
    Segment syn;
    syn.set_endpoints(ack.src(), ack.dst());
    syn.seq = peer_iss;
    syn.flags = tcp_flag::syn;
    syn.window = ack.window;
    syn.options.mss = kMss[index];
    // DESIGN.md §3b: a message-mode listener sent cookies only for SYNs with the option.
    syn.options.message_mode = cfg.message_mode;
    if (cfg.timestamps && ack.options.timestamps) {
        const std::uint32_t tsecr = ack.options.timestamps->tsecr;
        const std::uint32_t ws = tsecr & kTsNoWscale;
        // The echo must be one of our recent TSvals (no older than the cookie may be).
        const std::uint32_t elapsed_ms = tsval_clock(iss, now) - tsecr;
        const auto max_ms = static_cast<std::uint32_t>(kLifetime.count() / 1000) + kTsOptMask;
        const bool ok = elapsed_ms <= max_ms &&
                        (ws == kTsNoWscale || (ws <= kMaxWindowShift && cfg.window_scaling)) &&
                        ((tsecr & kTsSack) == 0 || cfg.sack) &&
                        ((tsecr & kTsDisc) == 0 || cfg.disconnect_data);
        if (!ok)
            return std::nullopt;
        syn.options.timestamps = Timestamps{ack.options.timestamps->tsval, 0};
        if (ws != kTsNoWscale)
            syn.options.window_scale = static_cast<std::uint8_t>(ws);
        syn.options.sack_permitted = (tsecr & kTsSack) != 0;
        if ((tsecr & kTsDisc) != 0)
            syn.options.disconnect = DisconnectData{};
    }
    return syn;
}

}  // namespace ustack
