// encode(): the 40-byte option space (RFC 9293 §3.1: data offset is 4 bits of 32-bit words) and
// what yields when the options do not fit (DESIGN.md §3: SACK blocks yield to disconnect data).
#include "ustack/option_space.hpp"

#include <doctest/doctest.h>

#include "codec_test_util.hpp"
#include "ustack/codec.hpp"

using namespace ustack;
using namespace ustack::codec_test;

namespace {

Segment fin_segment() {
    Segment s;
    s.src_addr = ipv4(10, 0, 1, 2);
    s.dst_addr = ipv4(10, 0, 2, 2);
    s.src_port = 1234;
    s.dst_port = 80;
    s.seq = SeqNum(10);
    s.ack = SeqNum(20);
    s.flags = tcp_flag::fin | tcp_flag::ack;
    s.window = 100;
    return s;
}

void add_sack_blocks(Segment& s, std::uint8_t n) {
    s.options.sack_count = n;
    for (std::uint32_t i = 0; i < n; ++i) {
        s.options.sack[i] = {SeqNum(1000 + 100 * i), SeqNum(1050 + 100 * i)};
    }
}

// Encode, check the header is legal, decode again with a fresh codec.
Segment encode_decode(Codec& codec, const Segment& s, std::vector<std::byte>& wire) {
    REQUIRE(codec.encode(s, wire));
    const Bytes b = to_bytes(wire);
    const std::size_t doff = static_cast<std::size_t>(b[20 + 12] >> 4) * 4;
    CHECK(doff >= 20);
    CHECK(doff <= 60);
    Codec reader;
    const auto back = reader.decode(std::span<const std::byte>(wire));
    REQUIRE(back.has_value());
    CHECK(reader.stats().bad_known_option_length == 0);
    return *back;
}

std::size_t option_bytes(const std::vector<std::byte>& wire) {
    return static_cast<std::size_t>(std::to_integer<std::uint8_t>(wire[20 + 12]) >> 4) * 4 - 20;
}

}  // namespace

TEST_SUITE("codec") {
    TEST_CASE("DESIGN.md §3: timestamps + 24 bytes of disconnect data fit exactly (12 + 28 = 40)") {
        Codec codec;
        Segment s = fin_segment();
        s.options.timestamps = Timestamps{1, 2};
        const Bytes data = seq_bytes(24);
        s.options.disconnect = disc(data);
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(option_bytes(wire) == 40);
        CHECK(back.options == s.options);
        CHECK(codec.stats().disconnect_dropped_for_space == 0);
    }

    TEST_CASE("DESIGN.md §3: 36 bytes of disconnect data fit without timestamps") {
        Codec codec;
        Segment s = fin_segment();
        s.options.disconnect = disc(seq_bytes(36));
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(option_bytes(wire) == 40);
        CHECK(back.options == s.options);
    }

    TEST_CASE("DESIGN.md §3: SACK blocks yield to disconnect data and go from the end") {
        Codec codec;
        Segment s = fin_segment();
        s.options.timestamps = Timestamps{1, 2};
        add_sack_blocks(s, 3);
        s.options.disconnect = disc(seq_bytes(8));  // 12 (TS) + 12 (disc) leaves 16: one block
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(option_bytes(wire) == 12 + 12 + 12);
        CHECK(back.options.disconnect == s.options.disconnect);
        CHECK(back.options.timestamps == s.options.timestamps);
        REQUIRE(back.options.sack_count == 1);
        CHECK(back.options.sack[0] == s.options.sack[0]);
        CHECK(codec.stats().sack_blocks_dropped_for_space == 2);
    }

    TEST_CASE("DESIGN.md §3: with 24 bytes of disconnect data every SACK block goes") {
        Codec codec;
        Segment s = fin_segment();
        s.options.timestamps = Timestamps{1, 2};
        add_sack_blocks(s, 2);
        s.options.disconnect = disc(seq_bytes(24));
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(back.options.sack_count == 0);
        CHECK(back.options.disconnect == s.options.disconnect);
        CHECK(codec.stats().sack_blocks_dropped_for_space == 2);
    }

    TEST_CASE("RFC 2018 §3: with timestamps at most 3 SACK blocks fit") {
        Codec codec;
        Segment s = fin_segment();
        s.flags = tcp_flag::ack;
        s.options.timestamps = Timestamps{1, 2};
        add_sack_blocks(s, 4);
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(option_bytes(wire) == 40);
        REQUIRE(back.options.sack_count == 3);
        for (std::size_t i = 0; i < 3; ++i) CHECK(back.options.sack[i] == s.options.sack[i]);
        CHECK(codec.stats().sack_blocks_dropped_for_space == 1);
    }

    TEST_CASE("RFC 2018 §3: without timestamps 4 SACK blocks fit (4 + 32 = 36)") {
        Codec codec;
        Segment s = fin_segment();
        s.flags = tcp_flag::ack;
        add_sack_blocks(s, 4);
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(option_bytes(wire) == 36);
        CHECK(back.options == s.options);
        CHECK(codec.stats().sack_blocks_dropped_for_space == 0);
    }

    TEST_CASE("encode: disconnect data too long for the space is left out whole and counted") {
        Codec codec;
        Segment s = fin_segment();
        s.options.timestamps = Timestamps{1, 2};
        add_sack_blocks(s, 1);
        s.options.disconnect = disc(seq_bytes(25));  // 12 + 32 > 40: an engine bug
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK_FALSE(back.options.disconnect.has_value());
        CHECK(back.options.timestamps == s.options.timestamps);
        CHECK(back.options.sack_count == 1);  // it did not cost the SACK block
        CHECK(codec.stats().disconnect_dropped_for_space == 1);
        CHECK(codec.stats().sack_blocks_dropped_for_space == 0);
    }

    TEST_CASE("encode: a DisconnectData whose len exceeds 36 is never read past its array") {
        Codec codec;
        Segment s = fin_segment();
        DisconnectData d;
        d.len = 200;  // not producible by DisconnectData::from, but the field is public
        s.options.disconnect = d;
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK_FALSE(back.options.disconnect.has_value());
        CHECK(codec.stats().disconnect_dropped_for_space == 1);
    }

    TEST_CASE("encode: sack_count above 4 is clamped and the excess counted") {
        Codec codec;
        Segment s = fin_segment();
        add_sack_blocks(s, 4);
        s.options.sack_count = 9;
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(back.options.sack_count == 4);
        CHECK(codec.stats().sack_blocks_dropped_for_space == 5);
    }

    TEST_CASE("RFC 9293 §3.1: every option set at once still fits in 40 bytes") {
        Codec codec;
        Segment s = fin_segment();
        s.flags = tcp_flag::syn | tcp_flag::fin;
        s.options.mss = 1460;
        s.options.window_scale = 7;
        s.options.sack_permitted = true;
        s.options.timestamps = Timestamps{1, 2};
        add_sack_blocks(s, 4);
        s.options.disconnect = disc(seq_bytes(16));  // 20 fixed + 20 = 40: no room for SACK
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(option_bytes(wire) == 40);
        CHECK(back.options.mss == 1460);
        CHECK(back.options.window_scale == 7);
        CHECK(back.options.sack_permitted);
        CHECK(back.options.timestamps == s.options.timestamps);
        CHECK(back.options.disconnect == s.options.disconnect);
        CHECK(back.options.sack_count == 0);
        CHECK(codec.stats().sack_blocks_dropped_for_space == 4);
    }

    TEST_CASE(
        "RFC 791 §3.1: a payload that would exceed 65535 bytes is refused with out left empty") {
        Codec codec;
        Segment s = fin_segment();
        const std::vector<std::byte> big(65535 - 40 + 1);
        s.payload = big;
        std::vector<std::byte> wire(3);
        CHECK_FALSE(codec.encode(s, wire));
        CHECK(wire.empty());
        CHECK(codec.stats().encode_failures == 1);
        CHECK(codec.stats().encoded == 0);

        const std::vector<std::byte> largest(65535 - 40);
        s.payload = largest;
        REQUIRE(codec.encode(s, wire));
        CHECK(wire.size() == 65535);
        Codec reader;
        const auto back = reader.decode(std::span<const std::byte>(wire));
        REQUIRE(back.has_value());
        CHECK(back->payload.size() == largest.size());
    }

    TEST_CASE("encode: a 0.0.0.0 source is encoded as given (no interface lookup)") {
        Codec codec;
        Segment s = fin_segment();
        s.src_addr = 0;
        std::vector<std::byte> wire;
        const Segment back = encode_decode(codec, s, wire);
        CHECK(back.src_addr == 0);
        CHECK(back.dst_addr == s.dst_addr);
        CHECK(wire.size() == 40);
    }

    // ---- option_space_left: the one home of the arithmetic ------------------------------------

    TEST_CASE("option_space_left: each option's share of the 40 bytes (RFC 9293 §3.1)") {
        static_assert(option_space_left({}) == 40);
        CHECK(option_space_left({.mss = true}) == 36);
        CHECK(option_space_left({.timestamps = true}) == 28);      // NOP NOP TS
        CHECK(option_space_left({.sack_permitted = true}) == 36);  // NOP NOP SACKOK
        CHECK(option_space_left({.sack_permitted = true, .timestamps = true}) == 28);  // SACKOK TS
        CHECK(option_space_left({.window_scale = true}) == 36);                        // NOP WS
        CHECK(option_space_left({.sack_blocks = 1}) == 28);  // NOP NOP 5 10 + 8
        CHECK(option_space_left({.sack_blocks = 4}) == 4);
        CHECK(option_space_left({.disconnect_data = 0}) == 36);  // fd 04 d1 5c
        CHECK(option_space_left({.disconnect_data = 5}) == 28);  // 9 bytes padded to 12
        CHECK(option_space_left({.timestamps = true, .sack_blocks = 4}) == 0);  // does not fit
    }

    TEST_CASE("DESIGN.md §3: disconnect_data_room is 24 with timestamps and 36 without") {
        static_assert(disconnect_data_room({.timestamps = true}) == 24);  // 40 - 12 - 4
        CHECK(disconnect_data_room({}) == 36);                            // 40 - 4
        CHECK(disconnect_data_room({.timestamps = true, .sack_blocks = 1}) == 12);
    }

    TEST_CASE(
        "DESIGN.md §3c: a SYN with MSS SACK-permitted timestamps and window scale has room "
        "for 16 bytes of connect data") {
        CHECK(
            option_space_left(
                {.mss = true, .window_scale = true, .sack_permitted = true, .timestamps = true}) ==
            20);
        CHECK(
            disconnect_data_room(
                {.mss = true, .window_scale = true, .sack_permitted = true, .timestamps = true}) ==
            16);
    }

    TEST_CASE(
        "DESIGN.md §3c: the message-mode option takes 4 bytes and leaves 12 bytes of connect data "
        "on a SYN with every option") {
        static_assert(kMessageModeOptionSpace == 4);
        CHECK(option_space_left({.message_mode = true}) == 36);  // fd 04 d1 5d
        const CarriedOptions all{.mss = true,
                                 .window_scale = true,
                                 .sack_permitted = true,
                                 .timestamps = true,
                                 .message_mode = true};
        CHECK(option_space_left(all) == 16);
        CHECK(disconnect_data_room(all) == 12);
        CarriedOptions full = all;
        full.disconnect_data = 12;
        CHECK(option_space_left(full) == 0);
    }

    TEST_CASE(
        "DESIGN.md §3b and §3c: a SYN with every option the message-mode option and 12 bytes of "
        "connect data fills 40 bytes and 13 bytes do not fit") {
        Codec codec;
        Segment s = fin_segment();
        s.flags = tcp_flag::syn;
        s.options.mss = 1460;
        s.options.window_scale = 7;
        s.options.sack_permitted = true;
        s.options.timestamps = Timestamps{1, 2};
        s.options.message_mode = true;
        s.options.disconnect = disc(seq_bytes(12));
        std::vector<std::byte> wire;
        Segment back = encode_decode(codec, s, wire);
        CHECK(option_bytes(wire) == 40);
        CHECK(back.options.message_mode);
        CHECK(back.options.disconnect == s.options.disconnect);
        CHECK(back.options.timestamps == s.options.timestamps);
        CHECK(codec.stats().disconnect_dropped_for_space == 0);

        s.options.disconnect = disc(seq_bytes(13));  // an engine bug: left out whole, counted
        back = encode_decode(codec, s, wire);
        CHECK(option_bytes(wire) == 24);
        CHECK(back.options.message_mode);
        CHECK_FALSE(back.options.disconnect.has_value());
        CHECK(codec.stats().disconnect_dropped_for_space == 1);
    }

    TEST_CASE(
        "RFC 2018 §3: sack_blocks_room is 4 alone and 3 with timestamps and yields to "
        "disconnect data") {
        CHECK(sack_blocks_room({}) == 4);
        CHECK(sack_blocks_room({.timestamps = true}) == 3);
        CHECK(sack_blocks_room({.timestamps = true, .disconnect_data = 8}) == 1);   // 40-12-12=16
        CHECK(sack_blocks_room({.timestamps = true, .disconnect_data = 12}) == 1);  // 40-12-16=12
        CHECK(sack_blocks_room({.timestamps = true, .disconnect_data = 13}) == 0);  // 8 left
        CHECK(sack_blocks_room({.timestamps = true, .disconnect_data = 24}) == 0);
    }

    TEST_CASE("option_space_left agrees with what encode() lays out for every option mix") {
        Codec codec;
        for (unsigned mask = 0; mask < 16; ++mask) {
            for (std::uint8_t blocks = 0; blocks <= kMaxSackBlocks; ++blocks) {
                CAPTURE(mask);
                CAPTURE(blocks);
                Segment s = fin_segment();
                CarriedOptions c{.mss = (mask & 1) != 0,
                                 .window_scale = (mask & 2) != 0,
                                 .sack_permitted = (mask & 4) != 0,
                                 .timestamps = (mask & 8) != 0,
                                 .sack_blocks = blocks};
                if (c.mss)
                    s.options.mss = 1460;
                if (c.window_scale)
                    s.options.window_scale = 7;
                s.options.sack_permitted = c.sack_permitted;
                if (c.timestamps)
                    s.options.timestamps = Timestamps{1, 2};
                add_sack_blocks(s, blocks);
                std::vector<std::byte> wire;
                const Segment back = encode_decode(codec, s, wire);
                c.sack_blocks = back.options.sack_count;  // what fitted
                CHECK(option_bytes(wire) == 40 - option_space_left(c));
                CHECK(back.options.sack_count ==
                      std::min<std::size_t>(blocks,
                                            sack_blocks_room({.mss = c.mss,
                                                              .window_scale = c.window_scale,
                                                              .sack_permitted = c.sack_permitted,
                                                              .timestamps = c.timestamps})));
            }
        }
    }
}
