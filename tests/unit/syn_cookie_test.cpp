// SynCookies on its own (RFC 4987 §3.6, syn_cookie.hpp): the cookie round trip, the MSS table,
// the age limit, the TSval low bits and what a cookie cannot carry without timestamps. The Stack's
// use of cookies (when to send them, the accept queue, RSTs) is tested in syncookie_test.cpp.
#include "ustack/syn_cookie.hpp"

#include <doctest/doctest.h>

#include "ustack/syn_options.hpp"

using namespace ustack;
using namespace std::chrono_literals;

namespace {

constexpr Ipv4Addr kUs = ipv4(10, 0, 1, 2);
constexpr Endpoint kPeer{ipv4(10, 0, 2, 2), 4000};
constexpr std::uint16_t kPort = 7000;
constexpr Instant kT0 = instant_from_us(1'000'000);

SipKey key(std::uint8_t seed) {
    SipKey k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 7 + i);
    return k;
}

SynCookies make_cookies() {
    return SynCookies(key(1), key(2), kUs);
}

TcpConfig config() {
    TcpConfig c;
    c.disconnect_data = true;
    c.recv_buffer = 1 << 20;  // shift 5
    return c;
}

Segment syn_from(std::uint32_t seq, bool timestamps) {
    Segment s;
    s.src_addr = kPeer.addr;
    s.src_port = kPeer.port;
    s.dst_addr = kUs;
    s.dst_port = kPort;
    s.seq = SeqNum(seq);
    s.flags = tcp_flag::syn;
    s.window = 65535;
    s.options.mss = 1452;
    s.options.window_scale = 9;
    s.options.sack_permitted = true;
    s.options.disconnect = DisconnectData{};
    if (timestamps)
        s.options.timestamps = Timestamps{777, 0};
    return s;
}

// The peer's ACK of a cookie SYN-ACK (echoing its TSval if it had one).
Segment ack_of(const Segment& syn_ack) {
    Segment a;
    a.src_addr = syn_ack.dst_addr;
    a.src_port = syn_ack.dst_port;
    a.dst_addr = syn_ack.src_addr;
    a.dst_port = syn_ack.src_port;
    a.seq = syn_ack.ack;
    a.ack = syn_ack.seq + 1;
    a.flags = tcp_flag::ack;
    a.window = 1000;
    if (syn_ack.options.timestamps) {
        a.options.timestamps = Timestamps{778, syn_ack.options.timestamps->tsval};
    }
    return a;
}

}  // namespace

TEST_SUITE("stack") {
    TEST_CASE(
        "RFC 4987 §3.6: check_ack rebuilds the SYN a cookie stands for (options from the "
        "TSval's low bits)") {
        const SynCookies c = make_cookies();
        const TcpConfig cfg = config();
        const Segment syn = syn_from(500, true);
        const Segment sa = c.make_syn_ack(kPort, syn, cfg, kT0);
        CHECK(sa.ack == SeqNum(501));
        CHECK(sa.seq == c.cookie(kPort, kPeer, SeqNum(500), SynCookies::mss_index(1452), kT0));
        CHECK(sa.window == 65535);
        CHECK(sa.options.window_scale == std::optional<std::uint8_t>(5));  // our shift
        REQUIRE(sa.options.timestamps.has_value());
        CHECK((sa.options.timestamps->tsval & SynCookies::kTsOptMask) ==
              (9U | SynCookies::kTsSack | SynCookies::kTsDisc));
        const auto back = c.check_ack(kPort, ack_of(sa), cfg, kT0 + 10ms);
        REQUIRE(back.has_value());
        CHECK(back->seq == SeqNum(500));
        CHECK(back->flags == tcp_flag::syn);
        CHECK(back->src() == kPeer);
        CHECK(back->options.mss ==
              std::optional<std::uint16_t>(1440));  // the table value below 1452
        CHECK(back->options.window_scale == std::optional<std::uint8_t>(9));
        CHECK(back->options.sack_permitted);
        CHECK(back->options.disconnect.has_value());
        CHECK(back->options.timestamps == std::optional<Timestamps>(Timestamps{778, 0}));
    }

    TEST_CASE("RFC 4987 §3.6: without timestamps the cookie SYN-ACK carries only the MSS") {
        const SynCookies c = make_cookies();
        const TcpConfig cfg = config();
        const Segment sa = c.make_syn_ack(kPort, syn_from(500, false), cfg, kT0);
        CHECK(sa.options.mss == std::optional<std::uint16_t>(cfg.mss));
        CHECK_FALSE(sa.options.timestamps.has_value());
        CHECK_FALSE(sa.options.window_scale.has_value());
        CHECK_FALSE(sa.options.sack_permitted);
        CHECK_FALSE(sa.options.disconnect.has_value());
        const auto back = c.check_ack(kPort, ack_of(sa), cfg, kT0);
        REQUIRE(back.has_value());
        CHECK_FALSE(back->options.window_scale.has_value());
        CHECK_FALSE(back->options.sack_permitted);
        CHECK_FALSE(back->options.disconnect.has_value());
    }

    TEST_CASE(
        "DESIGN.md §3b: a message-mode listener's cookie needs no bit -- its SYN-ACK echoes the "
        "option and check_ack rebuilds a SYN that carries it") {
        const SynCookies c = make_cookies();
        for (const bool timestamps : {false, true}) {
            CAPTURE(timestamps);
            TcpConfig cfg = config();
            cfg.message_mode = true;
            Segment syn = syn_from(500, timestamps);
            syn.options.message_mode = true;
            const Segment sa = c.make_syn_ack(kPort, syn, cfg, kT0);
            CHECK(sa.options.message_mode);
            if (timestamps) {  // the low TSval bits hold what they held before
                REQUIRE(sa.options.timestamps.has_value());
                CHECK((sa.options.timestamps->tsval & SynCookies::kTsOptMask) ==
                      (9U | SynCookies::kTsSack | SynCookies::kTsDisc));
            }
            const auto back = c.check_ack(kPort, ack_of(sa), cfg, kT0 + 10ms);
            REQUIRE(back.has_value());
            CHECK(back->options.message_mode);
            // A stream listener's cookie: no echo, and the rebuilt SYN has no option.
            const TcpConfig stream = config();
            const Segment ssa = c.make_syn_ack(kPort, syn, stream, kT0);
            CHECK_FALSE(ssa.options.message_mode);
            const auto sback = c.check_ack(kPort, ack_of(ssa), stream, kT0 + 10ms);
            REQUIRE(sback.has_value());
            CHECK_FALSE(sback->options.message_mode);
        }
    }

    TEST_CASE("RFC 4987 §3.6: the MSS table index is the largest value not above the peer's MSS") {
        CHECK(SynCookies::mss_index(1460) == 7);
        CHECK(SynCookies::mss_index(9000) == 7);
        CHECK(SynCookies::mss_index(1452) == 6);
        CHECK(SynCookies::mss_index(1000) == 2);
        CHECK(SynCookies::mss_index(std::nullopt) == 2);  // RFC 9293 §3.7.1: 536
        CHECK(SynCookies::mss_index(300) == 1);
        CHECK(SynCookies::mss_index(40) == 0);
        CHECK(SynCookies::kMss[SynCookies::mss_index(536)] == 536);
    }

    TEST_CASE("RFC 4987 §3.6: a cookie is good for kMaxAge ticks after its own and then refused") {
        const SynCookies c = make_cookies();
        const TcpConfig cfg = config();
        const Segment sa = c.make_syn_ack(kPort, syn_from(500, false), cfg, kT0);
        CHECK(c.check_ack(kPort, ack_of(sa), cfg, kT0 + 2 * SynCookies::kTick).has_value());
        CHECK_FALSE(c.check_ack(kPort, ack_of(sa), cfg, kT0 + 3 * SynCookies::kTick).has_value());
        CHECK(SynCookies::kLifetime == 3 * SynCookies::kTick);
    }

    TEST_CASE(
        "RFC 4987 §3.6 and RFC 6528: a cookie verifies only for its 4-tuple and peer ISS and "
        "under its keys") {
        const SynCookies c = make_cookies();
        const TcpConfig cfg = config();
        const Segment sa = c.make_syn_ack(kPort, syn_from(500, false), cfg, kT0);
        Segment a = ack_of(sa);
        CHECK(c.check_ack(kPort, a, cfg, kT0).has_value());
        CHECK_FALSE(c.check_ack(kPort + 1, a, cfg, kT0).has_value());  // another local port
        Segment other_port = a;
        other_port.src_port = 4001;
        CHECK_FALSE(c.check_ack(kPort, other_port, cfg, kT0).has_value());
        Segment other_seq = a;
        other_seq.seq = a.seq + 1;
        CHECK_FALSE(c.check_ack(kPort, other_seq, cfg, kT0).has_value());
        Segment other_cookie = a;
        other_cookie.ack = a.ack + 1;
        CHECK_FALSE(c.check_ack(kPort, other_cookie, cfg, kT0).has_value());
        const SynCookies other_keys(key(3), key(2), kUs);
        CHECK_FALSE(other_keys.check_ack(kPort, a, cfg, kT0).has_value());
    }

    TEST_CASE(
        "RFC 4987 §3.6: option bits the configuration does not allow or a stale echo fail the "
        "cookie") {
        const SynCookies c = make_cookies();
        TcpConfig cfg = config();
        const Segment sa = c.make_syn_ack(kPort, syn_from(500, true), cfg, kT0);
        const Segment a = ack_of(sa);
        TcpConfig no_sack = cfg;
        no_sack.sack = false;
        CHECK_FALSE(c.check_ack(kPort, a, no_sack, kT0).has_value());
        TcpConfig no_disc = cfg;
        no_disc.disconnect_data = false;
        CHECK_FALSE(c.check_ack(kPort, a, no_disc, kT0).has_value());
        Segment stale = a;
        stale.options.timestamps->tsecr -= 10'000'000;  // far older than any cookie
        CHECK_FALSE(c.check_ack(kPort, stale, cfg, kT0).has_value());
    }

    TEST_CASE("RFC 7323 §5.4: a cookie TSval holds its bits and never runs ahead of the clock") {
        for (const std::int64_t ms : {0, 1, 62, 63, 64, 1000, 123'457}) {
            CAPTURE(ms);
            const Instant now = instant_from_us(ms * 1000);
            const SeqNum iss(0x12345678U);
            for (const std::uint32_t bits : {0U, 0x2aU, 0x3fU}) {
                const std::uint32_t ts = SynCookies::cookie_tsval(iss, bits, now);
                CHECK((ts & SynCookies::kTsOptMask) == bits);
                const std::uint32_t behind = tsval_clock(iss, now) - ts;
                CHECK(behind <= SynCookies::kTsOptMask);
            }
        }
    }

}  // TEST_SUITE
