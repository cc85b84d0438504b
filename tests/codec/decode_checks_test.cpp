// decode(): every malformed packet is dropped and counted by its reason; what is legal but
// unusual (IP options, link padding, odd option layouts) is accepted.
#include <doctest/doctest.h>

#include "codec_test_util.hpp"
#include "ustack/codec.hpp"

using namespace ustack;
using namespace ustack::codec_test;

namespace {

constexpr std::size_t kTcp = 20;  // offset of the TCP header in packets without IP options

PacketSpec data_packet() {
    PacketSpec s;
    s.payload = {'h', 'e', 'l', 'l', 'o'};
    return s;
}

void expect_drop(const Bytes& p, DropReason why) {
    INFO("packet:\n", hex(p));
    INFO("expected drop: ", to_string(why));
    Codec codec;
    CHECK_FALSE(codec.decode(as_span(p)).has_value());
    CHECK(codec.stats().drop_count(why) == 1);
    CHECK(codec.stats().total_drops() == 1);
    CHECK(codec.stats().decoded == 0);
}

// Decodes `p`, which must be accepted (the Segment borrows from `p`).
Segment expect_accept(Codec& codec, const Bytes& p) {
    INFO("packet:\n", hex(p));
    const auto seg = codec.decode(as_span(p));
    REQUIRE(seg.has_value());
    CHECK(codec.stats().total_drops() == 0);
    CHECK(codec.stats().decoded == 1);
    return *seg;
}

// Decodes a data packet carrying `options`. The packet dies here: the returned Segment's
// payload is cleared rather than left dangling.
Segment decode_options(Codec& codec, const Bytes& options) {
    PacketSpec s = data_packet();
    s.tcp_options = options;
    const Bytes p = make_packet(s);
    Segment seg = expect_accept(codec, p);
    seg.payload = {};
    return seg;
}

}  // namespace

TEST_SUITE("codec") {
    // ---- IPv4 (RFC 791 §3.1) --------------------------------------------------------------

    TEST_CASE("RFC 791 §3.1: a packet shorter than the 20-byte IPv4 header is dropped") {
        const Bytes p = make_packet(data_packet());
        expect_drop(Bytes(p.begin(), p.begin() + 19), DropReason::truncated_ip);
        expect_drop(Bytes{}, DropReason::truncated_ip);
    }

    TEST_CASE("RFC 791 §3.1: a version other than 4 is dropped") {
        Bytes p = make_packet(data_packet());
        p[0] = 0x65;
        fix_ip_checksum(p);
        expect_drop(p, DropReason::bad_ip_version);
    }

    TEST_CASE("RFC 791 §3.1: IHL below 5 is dropped") {
        Bytes p = make_packet(data_packet());
        p[0] = 0x44;
        expect_drop(p, DropReason::bad_ihl);
        p[0] = 0x40;
        expect_drop(p, DropReason::bad_ihl);
    }

    TEST_CASE("RFC 791 §3.1: IHL running past the buffer is dropped") {
        Bytes p = make_packet(PacketSpec{});  // 40 bytes
        p[0] = 0x4f;                          // 60-byte header
        expect_drop(p, DropReason::bad_ihl);
    }

    TEST_CASE("RFC 791 §3.1: a bad header checksum is dropped") {
        Bytes p = make_packet(data_packet());
        p[11] ^= 0x01;
        expect_drop(p, DropReason::bad_ip_checksum);
    }

    TEST_CASE("RFC 791 §3.1: total length beyond the buffer is dropped") {
        Bytes p = make_packet(data_packet());
        put16(p, 2, static_cast<std::uint16_t>(p.size() + 1));
        fix_ip_checksum(p);
        expect_drop(p, DropReason::bad_total_length);
    }

    TEST_CASE("RFC 791 §3.1: total length below the header length is dropped") {
        Bytes p = make_packet(data_packet());
        put16(p, 2, 19);
        fix_ip_checksum(p);
        expect_drop(p, DropReason::bad_total_length);
        put16(p, 2, 0);  // what TSO super-packets would carry
        fix_ip_checksum(p);
        expect_drop(p, DropReason::bad_total_length);
    }

    TEST_CASE("RFC 791 §3.2: a first fragment (MF set) is dropped") {
        PacketSpec s = data_packet();
        s.frag = 0x2000;
        expect_drop(make_packet(s), DropReason::ip_fragment);
    }

    TEST_CASE("RFC 791 §3.2: a later fragment (offset != 0) is dropped") {
        PacketSpec s = data_packet();
        s.frag = 0x0001;  // offset 8 bytes, last fragment
        expect_drop(make_packet(s), DropReason::ip_fragment);
        s.frag = 0x4000 | 0x1fff;
        expect_drop(make_packet(s), DropReason::ip_fragment);
    }

    TEST_CASE("RFC 791 §3.1: a protocol other than TCP (6) is dropped") {
        PacketSpec s = data_packet();
        s.protocol = 17;
        expect_drop(make_packet(s), DropReason::not_tcp);
    }

    TEST_CASE("RFC 791 §3.1: bytes past the total length are ignored (link padding)") {
        Bytes p = make_packet(data_packet());
        p.insert(p.end(), {0, 0, 0, 0xff, 0xee, 0xdd});
        Codec codec;
        const Segment seg = expect_accept(codec, p);
        CHECK(seg.payload.size() == 5);
        CHECK(std::to_integer<char>(seg.payload[0]) == 'h');
    }

    TEST_CASE("RFC 791 §3.1: IP options are skipped - even ones libtins would reject") {
        for (const Bytes& ip_options : {Bytes{0x01, 0x01, 0x01, 0x00},  // NOP NOP NOP EOL
                                        Bytes{0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00},  // RR
                                        Bytes{0x00, 0x00, 0x00, 0x00},     // EOL, then padding
                                        Bytes{0x01, 0x00, 0xaa, 0xbb}}) {  // EOL, then garbage
            CAPTURE(hex(ip_options));
            PacketSpec s = data_packet();
            s.ip_options = ip_options;
            s.tcp_options = {0x02, 0x04, 0x05, 0xb4};
            Codec codec;
            const Bytes p = make_packet(s);
            const Segment seg = expect_accept(codec, p);
            CHECK(seg.src_addr == s.src);
            CHECK(seg.dst_port == s.dport);
            CHECK(seg.options.mss == 1460);
            CHECK(seg.payload.size() == 5);
            CHECK(std::to_integer<char>(seg.payload[4]) == 'o');
        }
    }

    // ---- TCP header (RFC 9293 §3.1) -------------------------------------------------------

    TEST_CASE("RFC 9293 §3.1: an IP payload shorter than 20 bytes is dropped") {
        Bytes p = make_packet(PacketSpec{});
        put16(p, 2, 20 + 19);
        fix_ip_checksum(p);
        expect_drop(p, DropReason::truncated_tcp);
        put16(p, 2, 20);
        fix_ip_checksum(p);
        expect_drop(Bytes(p.begin(), p.begin() + 20), DropReason::truncated_tcp);
    }

    TEST_CASE("RFC 9293 §3.1: data offset below 5 is dropped") {
        for (int doff : {0, 1, 4}) {
            Bytes p = make_packet(data_packet());
            p[kTcp + 12] = static_cast<std::uint8_t>(doff << 4);
            fix_checksums(p);
            expect_drop(p, DropReason::bad_data_offset);
        }
    }

    TEST_CASE("RFC 9293 §3.1: data offset past the IP payload is dropped") {
        Bytes p = make_packet(PacketSpec{});  // no payload: the segment is 20 bytes
        p[kTcp + 12] = 6 << 4;
        fix_checksums(p);
        expect_drop(p, DropReason::bad_data_offset);

        Bytes q = make_packet(data_packet());  // 5 bytes of payload are not 8 bytes of options
        q[kTcp + 12] = 7 << 4;
        fix_checksums(q);
        expect_drop(q, DropReason::bad_data_offset);
    }

    TEST_CASE("RFC 9293 §3.1: a bad TCP checksum is dropped") {
        Bytes p = make_packet(data_packet());
        p.back() ^= 0x80;
        expect_drop(p, DropReason::bad_tcp_checksum);

        Bytes q = make_packet(data_packet());  // the pseudo-header is covered too
        q[19] ^= 0x01;                         // destination address
        fix_ip_checksum(q);
        expect_drop(q, DropReason::bad_tcp_checksum);
    }

    TEST_CASE(
        "RFC 9293 §3.1: a corrupted option byte is a checksum drop and not a malformed option") {
        PacketSpec s = data_packet();
        s.tcp_options = {0x02, 0x04, 0x05, 0xb4};
        Bytes p = make_packet(s);
        p[kTcp + 21] = 0x00;  // MSS length 0, but the checksum no longer matches
        expect_drop(p, DropReason::bad_tcp_checksum);
    }

    // ---- option list structure (RFC 9293 §3.2, MUST-6, MUST-7) -----------------------------

    TEST_CASE("RFC 9293 §3.2 MUST-7: option length 0 drops the packet") {
        PacketSpec s = data_packet();
        s.tcp_options = {0x02, 0x00, 0x05, 0xb4};
        expect_drop(make_packet(s), DropReason::bad_option_length);
        s.tcp_options = {0x1e, 0x00, 0x00, 0x00};  // unknown kind: same rule
        expect_drop(make_packet(s), DropReason::bad_option_length);
    }

    TEST_CASE("RFC 9293 §3.2 MUST-7: option length 1 drops the packet") {
        PacketSpec s = data_packet();
        s.tcp_options = {0x01, 0x01, 0x08, 0x01};
        expect_drop(make_packet(s), DropReason::bad_option_length);
    }

    TEST_CASE("RFC 9293 §3.2 MUST-7: an option running past the header drops the packet") {
        PacketSpec s = data_packet();
        s.tcp_options = {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1};  // TS needs 10, 6 are left
        expect_drop(make_packet(s), DropReason::bad_option_length);
        s.tcp_options = {0xfd, 0x29, 0xd1, 0x5c};  // length 41
        expect_drop(make_packet(s), DropReason::bad_option_length);
    }

    TEST_CASE(
        "RFC 9293 §3.2 MUST-6: a kind in the last header byte with no length octet is dropped") {
        PacketSpec s = data_packet();
        s.tcp_options = {0x01, 0x01, 0x01, 0x02};
        expect_drop(make_packet(s), DropReason::bad_option_length);
    }

    TEST_CASE("RFC 9293 §3.2: EOL ends the list and what follows is ignored even if not zero") {
        Codec codec;
        const Segment seg = decode_options(codec, {0x02, 0x04, 0x05, 0xb4, 0x00, 0x08, 0x01, 0xff});
        CHECK(seg.options.mss == 1460);
        CHECK_FALSE(seg.options.timestamps.has_value());
        CHECK(codec.stats().drop_count(DropReason::library_error) == 0);
    }

    TEST_CASE("RFC 9293 §3.2 MUST-64: options need not be aligned") {
        Codec codec;
        const Segment seg =
            decode_options(codec, concat({{0x01, 0x02, 0x04, 0x05, 0xb4},  // NOP, MSS at offset 1
                                          {0x08, 0x0a},
                                          be32(11),
                                          be32(22),            // TS at offset 5
                                          {0x03, 0x03, 0x02},  // WS at offset 15
                                          {0x04, 0x02},        // SACKOK at offset 18
                                          {0x05, 0x0a},
                                          be32(100),
                                          be32(200)}));  // SACK at offset 20
        CHECK(seg.options.mss == 1460);
        CHECK(seg.options.timestamps == Timestamps{11, 22});
        CHECK(seg.options.window_scale == 2);
        CHECK(seg.options.sack_permitted);
        REQUIRE(seg.options.sack_count == 1);
        CHECK(seg.options.sack[0] == SackBlock{SeqNum(100), SeqNum(200)});
    }

    // ---- option semantics ------------------------------------------------------------------

    TEST_CASE("RFC 9293 §3.2 MUST-5: an unknown kind is skipped by its length and counted") {
        Codec codec;
        const Segment seg =
            decode_options(codec, {0x1e, 0x06, 1, 2, 3, 4, 0x02, 0x04, 0x05, 0xb4, 0x00});
        CHECK(seg.options.mss == 1460);
        CHECK(codec.stats().unknown_options == 1);
    }

    TEST_CASE("RFC 9293 §3.2 MUST-7: a known kind with the wrong length is skipped and not fatal") {
        struct Case {
            const char* name;
            Bytes option;
        };
        for (const Case& c :
             {Case{"MSS len 3", {0x02, 0x03, 0x05}},
              Case{"MSS len 6", {0x02, 0x06, 0, 0, 0x05, 0xb4}},
              Case{"WS len 4", {0x03, 0x04, 0x07, 0x00}}, Case{"SACKOK len 3", {0x04, 0x03, 0x00}},
              Case{"TS len 6", {0x08, 0x06, 0, 0, 0, 1}}, Case{"SACK len 2", {0x05, 0x02}},
              Case{"SACK len 6", {0x05, 0x06, 0, 0, 0, 1}}}) {
            CAPTURE(c.name);
            Codec codec;
            const Segment seg = decode_options(codec, concat({c.option, {0x01, 0x03, 0x03, 0x05}}));
            CHECK(codec.stats().bad_known_option_length == 1);
            CHECK(seg.options.window_scale == 5);  // the option after it is still read
            CHECK_FALSE(seg.options.mss.has_value());
            CHECK_FALSE(seg.options.sack_permitted);
            CHECK(seg.options.sack_count == 0);
            CHECK_FALSE(seg.options.timestamps.has_value());
        }
    }

    TEST_CASE("RFC 7323 §2.3: a window shift above 14 is used as 14 and counted") {
        for (int shift : {15, 200, 255}) {
            Codec codec;
            const Segment seg =
                decode_options(codec, {0x01, 0x03, 0x03, static_cast<std::uint8_t>(shift)});
            CHECK(seg.options.window_scale == 14);
            CHECK(codec.stats().window_scale_clamped == 1);
        }
        Codec codec;
        CHECK(decode_options(codec, {0x01, 0x03, 0x03, 14}).options.window_scale == 14);
        CHECK(codec.stats().window_scale_clamped == 0);
    }

    TEST_CASE("RFC 2018 §3: one to four SACK blocks are read in order") {
        for (std::uint8_t n = 1; n <= 4; ++n) {
            Bytes opt = {0x01, 0x01, 0x05, static_cast<std::uint8_t>(2 + 8 * n)};
            for (std::uint32_t i = 0; i < n; ++i) {
                opt = concat({opt, be32(1000 * (i + 1)), be32(1000 * (i + 1) + 500)});
            }
            Codec codec;
            const Segment seg = decode_options(codec, opt);
            REQUIRE(seg.options.sack_count == n);
            for (std::uint32_t i = 0; i < n; ++i) {
                CHECK(seg.options.sack[i].left == SeqNum(1000 * (i + 1)));
                CHECK(seg.options.sack[i].right == SeqNum(1000 * (i + 1) + 500));
            }
        }
    }

    TEST_CASE("RFC 9293 §3.2: when a kind appears twice the later one wins") {
        Codec codec;
        const Segment seg = decode_options(codec, {0x02, 0x04, 0x05, 0xb4, 0x02, 0x04, 0x02, 0x18});
        CHECK(seg.options.mss == 536);
    }

    TEST_CASE("RFC 6994 §3: an unknown ExID under kind 253 is ignored and counted") {
        Codec codec;
        const Segment seg = decode_options(codec, {0xfd, 0x06, 0x12, 0x34, 0xaa, 0xbb});
        CHECK_FALSE(seg.options.disconnect.has_value());
        CHECK(codec.stats().unknown_exid == 1);
    }

    TEST_CASE("RFC 6994 §3: kind 254 is never ours (TFO's 0xF989 included)") {
        for (const Bytes& opt :
             {Bytes{0xfe, 0x04, 0xf9, 0x89}, concat({{0xfe, 0x0c, 0xf9, 0x89}, seq_bytes(8)}),
              Bytes{0xfe, 0x06, 0xd1, 0x5c, 0x01, 0x02}}) {
            Codec codec;
            const Segment seg = decode_options(codec, opt);
            CHECK_FALSE(seg.options.disconnect.has_value());
            CHECK(codec.stats().unknown_exid == 1);
        }
        Codec codec;  // 254 too short for an ExID: just an unknown option
        decode_options(codec, {0xfe, 0x02, 0x01, 0x01});
        CHECK(codec.stats().unknown_options == 1);
    }

    TEST_CASE("DESIGN.md §3: kind 253 shorter than 4 is ignored and counted but not fatal") {
        for (const Bytes& opt : {Bytes{0xfd, 0x02}, Bytes{0xfd, 0x03, 0xd1}}) {
            Codec codec;
            const Segment seg = decode_options(codec, concat({opt, {0x02, 0x04, 0x05, 0xb4}}));
            CHECK_FALSE(seg.options.disconnect.has_value());
            CHECK(seg.options.mss == 1460);
            CHECK(codec.stats().bad_disconnect_option == 1);
        }
    }

    TEST_CASE("DESIGN.md §3: kind 253 ExID 0xD15C carries N = 0 / 8 / 24 / 36 bytes") {
        for (std::size_t n : {0, 8, 24, 36}) {
            CAPTURE(n);
            const Bytes data = seq_bytes(n, 0x10);
            const Bytes opt = concat({{0xfd, static_cast<std::uint8_t>(4 + n), 0xd1, 0x5c}, data});
            Codec codec;
            const Segment seg = decode_options(codec, opt);
            REQUIRE(seg.options.disconnect.has_value());
            CHECK(seg.options.disconnect->len == n);
            CHECK(*seg.options.disconnect == disc(data));
            CHECK(codec.stats().unknown_exid == 0);
            CHECK(codec.stats().bad_disconnect_option == 0);
        }
    }

    TEST_CASE("DESIGN.md §3: the disconnect option is read wherever it sits among others") {
        Codec codec;
        const Bytes data = {1, 2, 3};
        const Segment seg = decode_options(
            codec, concat({{0xfd, 0x07, 0xd1, 0x5c}, data, {0x08, 0x0a}, be32(5), be32(6)}));
        REQUIRE(seg.options.disconnect.has_value());
        CHECK(*seg.options.disconnect == disc(data));
        CHECK(seg.options.timestamps == Timestamps{5, 6});
    }

    TEST_CASE("DESIGN.md §3b: kind 253 ExID 0xD15D with length 4 is the message-mode option") {
        Codec codec;
        const Segment seg = decode_options(codec, {0xfd, 0x04, 0xd1, 0x5d});
        CHECK(seg.options.message_mode);
        CHECK_FALSE(seg.options.disconnect.has_value());
        CHECK(codec.stats().unknown_exid == 0);
        CHECK(codec.stats().bad_message_option == 0);
    }

    TEST_CASE(
        "DESIGN.md §3b: the message-mode option with a length other than 4 is ignored and counted "
        "but not fatal") {
        for (const Bytes& opt : {Bytes{0xfd, 0x05, 0xd1, 0x5d, 0x01, 0x01, 0x01, 0x01},
                                 Bytes{0xfd, 0x06, 0xd1, 0x5d, 0x00, 0x00},
                                 concat({{0xfd, 0x0c, 0xd1, 0x5d}, seq_bytes(8)})}) {
            Codec codec;
            const Segment seg = decode_options(codec, concat({opt, {0x02, 0x04, 0x05, 0xb4}}));
            CHECK_FALSE(seg.options.message_mode);
            CHECK(seg.options.mss == 1460);
            CHECK(codec.stats().bad_message_option == 1);
            CHECK(codec.stats().unknown_exid == 0);
            CHECK(codec.stats().total_drops() == 0);
        }
    }

    TEST_CASE("DESIGN.md §3b: ExID 0xD15D under kind 254 is not ours") {
        Codec codec;
        const Segment seg = decode_options(codec, {0xfe, 0x04, 0xd1, 0x5d});
        CHECK_FALSE(seg.options.message_mode);
        CHECK(codec.stats().unknown_exid == 1);
    }

    TEST_CASE(
        "DESIGN.md §3b: the message-mode and disconnect options are both read in either order") {
        const Bytes msg = {0xfd, 0x04, 0xd1, 0x5d};
        const Bytes dsc = {0xfd, 0x07, 0xd1, 0x5c, 7, 8, 9, 0x01};
        for (const Bytes& opts : {concat({msg, dsc}), concat({dsc, msg})}) {
            Codec codec;
            const Segment seg = decode_options(codec, opts);
            CHECK(seg.options.message_mode);
            REQUIRE(seg.options.disconnect.has_value());
            CHECK(*seg.options.disconnect == disc({7, 8, 9}));
            CHECK(codec.stats().unknown_exid == 0);
        }
    }

    TEST_CASE("decode: the payload borrows from the packet and the counters add up") {
        Codec codec;
        const Bytes p = make_packet(data_packet());
        const auto seg = codec.decode(as_span(p));
        REQUIRE(seg.has_value());
        CHECK(reinterpret_cast<const std::uint8_t*>(seg->payload.data()) == p.data() + 40);
        CHECK(seg->payload.size() == 5);
        CHECK_FALSE(codec.decode(as_span(Bytes{0x45})).has_value());
        CHECK(codec.stats().decoded == 1);
        CHECK(codec.stats().total_drops() == 1);
    }

    TEST_CASE("DropReason: every reason has a distinct name") {
        std::vector<std::string_view> names;
        for (std::size_t i = 0; i < kDropReasonCount; ++i) {
            names.push_back(to_string(static_cast<DropReason>(i)));
            CHECK(names.back() != "unknown");
        }
        std::sort(names.begin(), names.end());
        CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
        CHECK(to_string(DropReason::bad_option_length) == "bad_option_length");
    }
}
