// syn_options.hpp: the window shift (RFC 7323 §2.3), the SYN window (§2.2), the TSval clock
// (§5.4) and the options of our SYN and SYN-ACK (RFC 7323 §2-3, RFC 2018 §2, DESIGN.md §3) --
// shared by Connection and the SYN cookies, which must agree on them.
#include "ustack/syn_options.hpp"

#include <doctest/doctest.h>

#include "support/script.hpp"
#include "ustack/syn_cookie.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

TcpConfig all_on() {
    TcpConfig c = Script::default_config();
    c.window_scaling = true;
    c.timestamps = true;
    c.sack = true;
    c.disconnect_data = true;
    return c;
}

// A peer SYN offering the options `set` names (window scale 7, TSval 4242).
Segment peer_syn(const SynOptionSet& set) {
    SegBuilder b;
    b.seq(kPeerIss).syn().no_ack().mss(1400);
    if (set.window_scaling)
        b.wscale(7);
    if (set.timestamps)
        b.ts(4242, 0);
    if (set.sack)
        b.sack_perm();
    if (set.disconnect)
        b.disc_offer();
    return b.build();
}

SipKey key(std::uint8_t seed) {
    SipKey k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + 3 * i);
    return k;
}

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE(
        "RFC 7323 §2.3: window_shift_for is the smallest shift that fits the buffer (at most 14)") {
        static_assert(window_shift_for(0) == 0);
        CHECK(window_shift_for(65535) == 0);
        CHECK(window_shift_for(65536) == 1);
        CHECK(window_shift_for(131070) == 1);
        CHECK(window_shift_for(131071) == 1);
        CHECK(window_shift_for(131072) == 2);
        CHECK(window_shift_for(std::size_t{1} << 20) == 5);
        CHECK(window_shift_for(std::size_t{1} << 30) == 14);
        CHECK(window_shift_for(std::size_t{1} << 40) == 14);  // §2.3: 14 is the largest
    }

    TEST_CASE("RFC 7323 §2.2: the window of a SYN is the buffer and at most 65535 (never scaled)") {
        CHECK(syn_window(3000) == 3000);
        CHECK(syn_window(65535) == 65535);
        CHECK(syn_window(std::size_t{1} << 24) == 65535);
    }

    TEST_CASE("RFC 7323 §5.4: the TSval clock ticks in milliseconds from the ISS and wraps") {
        static_assert(tsval_clock(SeqNum(1000), instant_from_us(5'500'999)) == 1000 + 5500);
        CHECK(tsval_clock(SeqNum(0xfffffff0U), instant_from_us(32'000)) == 0x10U);
    }

    TEST_CASE(
        "RFC 7323 §2.2 §3.2 and RFC 2018 §2 and DESIGN.md §3: the SYN offers what is configured "
        "and an option is agreed only when both SYNs carry it") {
        TcpConfig c = all_on();
        CHECK(syn_offer(c) == SynOptionSet{true, true, true, true});
        c.sack = false;
        c.disconnect_data = false;
        CHECK(syn_offer(c) == SynOptionSet{true, true, false, false});
        const Segment everything = peer_syn({true, true, true, true});
        CHECK(syn_agreement(c, everything.options) == SynOptionSet{true, true, false, false});
        const Segment bare = peer_syn({});
        CHECK(syn_agreement(all_on(), bare.options) == SynOptionSet{});
        const Segment ts_only = peer_syn({false, true, false, false});
        CHECK(syn_agreement(all_on(), ts_only.options) == SynOptionSet{false, true, false, false});
    }

    TEST_CASE(
        "DESIGN.md §3b: the message-mode option is offered when configured and agreed only when "
        "both SYNs carry it and only a message-mode end refuses a peer without it") {
        TcpConfig msg = Script::message_config();
        TcpConfig stream = Script::default_config();
        CHECK(syn_offer(msg).message_mode);
        CHECK_FALSE(syn_offer(stream).message_mode);
        TcpOptions with;
        with.message_mode = true;
        const TcpOptions without;
        CHECK(syn_agreement(msg, with).message_mode);
        CHECK_FALSE(syn_agreement(msg, without).message_mode);
        CHECK_FALSE(syn_agreement(stream, with).message_mode);  // ignored: no echo
        CHECK_FALSE(syn_refused(msg, with));
        CHECK(syn_refused(msg, without));
        CHECK_FALSE(syn_refused(stream, with));
        CHECK_FALSE(syn_refused(stream, without));
        CHECK(syn_options({.message_mode = true}, 1460, 0, {}).message_mode);
        CHECK_FALSE(syn_options({}, 1460, 0, {}).message_mode);
        // The other options are untouched by it.
        msg.disconnect_data = true;
        CHECK(syn_offer(msg) == SynOptionSet{true, true, true, true, true});
    }

    TEST_CASE("syn_options: MSS always and each option of the set") {
        const TcpOptions none = syn_options({}, 1460, 7, Timestamps{1, 2});
        CHECK(none.mss == std::optional<std::uint16_t>(1460));
        CHECK_FALSE(none.window_scale.has_value());
        CHECK_FALSE(none.timestamps.has_value());
        CHECK_FALSE(none.sack_permitted);
        CHECK_FALSE(none.disconnect.has_value());
        const TcpOptions all = syn_options({true, true, true, true}, 1200, 7, Timestamps{1, 2});
        CHECK(all.mss == std::optional<std::uint16_t>(1200));
        CHECK(all.window_scale == std::optional<std::uint8_t>(7));
        CHECK(all.timestamps == std::optional<Timestamps>(Timestamps{1, 2}));
        CHECK(all.sack_permitted);
        CHECK(all.disconnect == std::optional<DisconnectData>(DisconnectData{}));
    }

    TEST_CASE(
        "RFC 4987 §3.6 and DESIGN.md §3b: a message-mode cookie SYN-ACK echoes the option as "
        "Connection's SYN-ACK does with or without timestamps") {
        for (const bool timestamps : {false, true}) {
            CAPTURE(timestamps);
            TcpConfig cfg = all_on();
            cfg.message_mode = true;
            Segment syn = peer_syn({true, timestamps, true, false});
            syn.options.message_mode = true;
            Script t(cfg);
            t.conn().open_passive(syn, t.now());
            const OwnedSegment conn_sa = t.expect_one();
            const SynCookies cookies(key(1), key(2), kLocal.addr);
            const Segment cookie_sa = cookies.make_syn_ack(kLocal.port, syn, cfg, t.now());
            CHECK(conn_sa->options.message_mode);
            CHECK(cookie_sa.options.message_mode);
            CHECK(cookie_sa.options.timestamps.has_value() == timestamps);
        }
    }

    TEST_CASE(
        "RFC 4987 §3.6: a cookie SYN-ACK carries the options Connection's SYN-ACK carries for the "
        "same SYN when timestamps hold the rest") {
        for (const SynOptionSet peer :
             {SynOptionSet{true, true, true, true}, SynOptionSet{false, true, true, false},
              SynOptionSet{true, true, false, true}}) {
            CAPTURE(peer.window_scaling);
            CAPTURE(peer.sack);
            CAPTURE(peer.disconnect);
            TcpConfig cfg = all_on();
            cfg.recv_buffer = 1 << 20;
            const Segment syn = peer_syn(peer);
            Script t(cfg);
            t.conn().open_passive(syn, t.now());
            const OwnedSegment conn_sa = t.expect_one();
            const SynCookies cookies(key(1), key(2), kLocal.addr);
            const Segment cookie_sa = cookies.make_syn_ack(kLocal.port, syn, cfg, t.now());
            CHECK(cookie_sa.flags == conn_sa->flags);
            CHECK(cookie_sa.ack == conn_sa->ack);
            CHECK(cookie_sa.window == conn_sa->window);
            CHECK(cookie_sa.options.mss == conn_sa->options.mss);
            CHECK(cookie_sa.options.window_scale == conn_sa->options.window_scale);
            CHECK(cookie_sa.options.sack_permitted == conn_sa->options.sack_permitted);
            CHECK(cookie_sa.options.disconnect == conn_sa->options.disconnect);
            REQUIRE(cookie_sa.options.timestamps.has_value());
            REQUIRE(conn_sa->options.timestamps.has_value());
            CHECK(cookie_sa.options.timestamps->tsecr == conn_sa->options.timestamps->tsecr);
            // The same clock, from each one's ISS: the cookie's TSval is its clock but for the low
            // 6 bits (SynCookies::cookie_tsval).
            CHECK(tsval_clock(cookie_sa.seq, t.now()) - cookie_sa.options.timestamps->tsval <
                  SynCookies::kTsOptMask + 1);
            CHECK(conn_sa->options.timestamps->tsval == tsval_clock(conn_sa->seq, t.now()));
        }
    }

}  // TEST_SUITE
