// Byte-array goldens: packets written out by hand from RFC 791 §3.1 / RFC 9293 §3.1 and the
// option RFCs, checksums filled in by the test's own RFC 1071 helper. Each golden is checked in
// both directions: the bytes decode to the Segment, and the Segment encodes to exactly the bytes.
#include <doctest/doctest.h>

#include "codec_test_util.hpp"
#include "ustack/codec.hpp"

using namespace ustack;
using namespace ustack::codec_test;

namespace {

// 10.0.1.2:49152 -> 10.0.2.2:8080, TTL 64, DF, id 0: what Codec{} emits.
Bytes ip_header(std::size_t total_len) {
    return {0x45,
            0x00,
            static_cast<std::uint8_t>(total_len >> 8),
            static_cast<std::uint8_t>(total_len & 0xff),
            0x00,
            0x00,
            0x40,
            0x00,  // id 0; flags DF, offset 0
            0x40,
            0x06,
            0x00,
            0x00,  // TTL 64, protocol 6 (TCP), checksum (filled in)
            10,
            0,
            1,
            2,  // source
            10,
            0,
            2,
            2};  // destination
}

Bytes tcp_header(std::uint32_t seq, std::uint32_t ack, std::size_t header_len, std::uint8_t flags,
                 std::uint16_t window) {
    return concat({{0xc0, 0x00, 0x1f, 0x90},  // ports 49152 -> 8080
                   be32(seq),
                   be32(ack),
                   {static_cast<std::uint8_t>((header_len / 4) << 4), flags,
                    static_cast<std::uint8_t>(window >> 8), static_cast<std::uint8_t>(window), 0x00,
                    0x00,           // checksum (filled in)
                    0x00, 0x00}});  // urgent pointer
}

Bytes golden(std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::uint16_t window,
             const Bytes& options, const Bytes& payload = {}) {
    REQUIRE(options.size() % 4 == 0);
    const std::size_t tcp_len = 20 + options.size();
    Bytes p = concat({ip_header(20 + tcp_len + payload.size()),
                      tcp_header(seq, ack, tcp_len, flags, window), options, payload});
    fix_checksums(p);
    return p;
}

Segment base_segment(std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                     std::uint16_t window) {
    Segment s;
    s.src_addr = ipv4(10, 0, 1, 2);
    s.dst_addr = ipv4(10, 0, 2, 2);
    s.src_port = 49152;
    s.dst_port = 8080;
    s.seq = SeqNum(seq);
    s.ack = SeqNum(ack);
    s.flags = flags;
    s.window = window;
    return s;
}

// Both directions, on both backends (Codec::Config::backend).
void check_golden_both_backends(const Bytes& bytes, const Segment& seg) {
    for (const Codec::Backend backend : {Codec::Backend::native, Codec::Backend::libtins}) {
        CAPTURE(static_cast<int>(backend));
        INFO("golden:\n", hex(bytes));
        Codec codec(Codec::Config{.backend = backend});
        const auto decoded = codec.decode(as_span(bytes));
        REQUIRE(decoded.has_value());
        check_same(*decoded, seg);
        CHECK(codec.stats().total_drops() == 0);
        CHECK(codec.stats().unknown_exid == 0);
        std::vector<std::byte> out;
        REQUIRE(codec.encode(seg, out));
        const Bytes encoded = to_bytes(out);
        INFO("encoded:\n", hex(encoded));
        CHECK(encoded == bytes);
    }
}

// Both directions.
void check_golden(const Bytes& bytes, const Segment& seg) {
    INFO("golden:\n", hex(bytes));
    Codec codec;
    const auto decoded = codec.decode(as_span(bytes));
    REQUIRE(decoded.has_value());
    check_same(*decoded, seg);
    CHECK(codec.stats().total_drops() == 0);

    std::vector<std::byte> out;
    REQUIRE(codec.encode(seg, out));
    const Bytes encoded = to_bytes(out);
    INFO("encoded:\n", hex(encoded));
    CHECK(encoded == bytes);
}

}  // namespace

TEST_SUITE("codec") {
    TEST_CASE("RFC 1071 §3: the test's checksum helper matches a published IPv4 header") {
        // The commonly quoted example header 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        Bytes h = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
        CHECK(inet_checksum(h, 0, h.size()) == 0xb861);
        put16(h, 10, 0xb861);
        CHECK(inet_checksum(h, 0, h.size()) == 0);
    }

    TEST_CASE("golden: Linux-style SYN with MSS + SACK-permitted + timestamps + window scale") {
        // RFC 9293 §3.2 MSS, RFC 2018 §2 SACKOK, RFC 7323 §3.2 TS, RFC 7323 §2.2 WS.
        const Bytes options = {
            0x02, 0x04, 0x05, 0xb4,                          // MSS 1460
            0x04, 0x02,                                      // SACK permitted
            0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0, 0, 0, 0,  // TS val 123456 ecr 0
            0x01, 0x03, 0x03, 0x07,                          // NOP, WS 7
        };
        const Bytes bytes = golden(0x3c5d1e2f, 0, tcp_flag::syn, 64240, options);
        REQUIRE(bytes.size() == 60);
        // Pin the checksums the helper filled in (worked out separately, by a Python one-liner).
        CHECK(get16(bytes, 10) == 0x23b9);
        CHECK(get16(bytes, 20 + 16) == 0x19ad);
        Segment s = base_segment(0x3c5d1e2f, 0, tcp_flag::syn, 64240);
        s.options.mss = 1460;
        s.options.sack_permitted = true;
        s.options.timestamps = Timestamps{123456, 0};
        s.options.window_scale = 7;
        check_golden(bytes, s);
    }

    TEST_CASE("golden: SYN without timestamps uses NOP NOP SACKOK and NOP WS") {
        const Bytes options = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x01,
                               0x04, 0x02, 0x01, 0x03, 0x03, 0x0e};
        Segment s = base_segment(7, 0, tcp_flag::syn, 65535);
        s.options.mss = 1460;
        s.options.sack_permitted = true;
        s.options.window_scale = 14;
        check_golden(golden(7, 0, tcp_flag::syn, 65535, options), s);
    }

    TEST_CASE("golden DESIGN.md §3: SYN-ACK offering the disconnect option with N=0") {
        const Bytes options = {
            0x02, 0x04, 0x05, 0xb4,                                      // MSS 1460
            0x04, 0x02, 0x08, 0x0a, 0, 0, 0, 9, 0x00, 0x01, 0xe2, 0x40,  // SACKOK, TS 9 / 123456
            0x01, 0x03, 0x03, 0x07,                                      // NOP, WS 7
            0xfd, 0x04, 0xd1, 0x5c,                                      // kind 253, len 4, ExID
        };
        Segment s = base_segment(5000, 0x3c5d1e30, tcp_flag::syn | tcp_flag::ack, 65160);
        s.options.mss = 1460;
        s.options.sack_permitted = true;
        s.options.timestamps = Timestamps{9, 123456};
        s.options.window_scale = 7;
        s.options.disconnect = DisconnectData{};
        check_golden(golden(5000, 0x3c5d1e30, tcp_flag::syn | tcp_flag::ack, 65160, options), s);
    }

    TEST_CASE(
        "golden DESIGN.md §3b: SYN with MSS SACK-permitted timestamps window scale the disconnect "
        "offer and the message-mode option") {
        const Bytes options = {
            0x02, 0x04, 0x05, 0xb4,                          // MSS 1460
            0x04, 0x02,                                      // SACK permitted
            0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0, 0, 0, 0,  // TS val 123456 ecr 0
            0x01, 0x03, 0x03, 0x07,                          // NOP, WS 7
            0xfd, 0x04, 0xd1, 0x5d,                          // kind 253, len 4, ExID 0xD15D
            0xfd, 0x04, 0xd1, 0x5c,                          // kind 253, len 4, ExID 0xD15C
        };
        const Bytes bytes = golden(0x3c5d1e2f, 0, tcp_flag::syn, 64240, options);
        REQUIRE(bytes.size() == 68);
        CHECK(bytes[20 + 12] == 0xc0);  // data offset 12: 20 + 28 bytes of options
        Segment s = base_segment(0x3c5d1e2f, 0, tcp_flag::syn, 64240);
        s.options.mss = 1460;
        s.options.sack_permitted = true;
        s.options.timestamps = Timestamps{123456, 0};
        s.options.window_scale = 7;
        s.options.message_mode = true;
        s.options.disconnect = DisconnectData{};
        check_golden_both_backends(bytes, s);
    }

    TEST_CASE("golden DESIGN.md §3b: SYN-ACK with MSS and the message-mode option alone") {
        const Bytes options = {0x02, 0x04, 0x05, 0xb4, 0xfd, 0x04, 0xd1, 0x5d};
        Segment s = base_segment(5000, 0x3c5d1e30, tcp_flag::syn | tcp_flag::ack, 65535);
        s.options.mss = 1460;
        s.options.message_mode = true;
        check_golden_both_backends(
            golden(5000, 0x3c5d1e30, tcp_flag::syn | tcp_flag::ack, 65535, options), s);
    }

    TEST_CASE("golden DESIGN.md §3: FIN with timestamps and 8 bytes of disconnect data") {
        const Bytes total = {0, 0, 0, 0, 0, 0, 0x30, 0x39};  // a 64-bit transaction total 12345
        const Bytes options = concat(
            {{0x01, 0x01, 0x08, 0x0a}, be32(1000), be32(2000), {0xfd, 0x0c, 0xd1, 0x5c}, total});
        const Bytes payload = {'b', 'y', 'e'};
        const auto flags = static_cast<std::uint8_t>(tcp_flag::fin | tcp_flag::ack | tcp_flag::psh);
        Segment s = base_segment(100, 200, flags, 502);
        s.options.timestamps = Timestamps{1000, 2000};
        s.options.disconnect = disc(total);
        s.payload = as_span(payload);
        check_golden(golden(100, 200, flags, 502, options, payload), s);
    }

    TEST_CASE("golden RFC 2018 §3: ACK with two SACK blocks after NOP NOP TS") {
        const Bytes options = concat({{0x01, 0x01, 0x08, 0x0a},
                                      be32(77),
                                      be32(66),
                                      {0x01, 0x01, 0x05, 0x12},
                                      be32(3000),
                                      be32(4000),
                                      be32(5000),
                                      be32(5500)});
        Segment s = base_segment(1, 2000, tcp_flag::ack, 1000);
        s.options.timestamps = Timestamps{77, 66};
        s.options.sack_count = 2;
        s.options.sack[0] = {SeqNum(3000), SeqNum(4000)};
        s.options.sack[1] = {SeqNum(5000), SeqNum(5500)};
        check_golden(golden(1, 2000, tcp_flag::ack, 1000, options), s);
    }

    TEST_CASE("golden DESIGN.md §3: timestamps + 24 bytes of disconnect data fill 40 exactly") {
        const Bytes data = seq_bytes(24, 0xa0);
        const Bytes options = concat(
            {{0x01, 0x01, 0x08, 0x0a}, be32(0xdeadbeef), be32(1), {0xfd, 0x1c, 0xd1, 0x5c}, data});
        REQUIRE(options.size() == 40);
        const auto flags = static_cast<std::uint8_t>(tcp_flag::fin | tcp_flag::ack);
        Segment s = base_segment(9, 10, flags, 4096);
        s.options.timestamps = Timestamps{0xdeadbeef, 1};
        s.options.disconnect = disc(data);
        const Bytes bytes = golden(9, 10, flags, 4096, options);
        CHECK(bytes[20 + 12] == 0xf0);  // data offset 15: the largest header there is
        check_golden(bytes, s);
    }

    TEST_CASE("golden DESIGN.md §3: odd-length disconnect data is aligned with leading NOPs") {
        const Bytes options = {0x01, 0x01, 0x01, 0xfd, 0x05, 0xd1, 0x5c, 0x2a};
        Segment s = base_segment(9, 10, tcp_flag::fin | tcp_flag::ack, 4096);
        s.options.disconnect = disc({0x2a});
        check_golden(golden(9, 10, tcp_flag::fin | tcp_flag::ack, 4096, options), s);
    }

    TEST_CASE(
        "golden DESIGN.md §3c: SYN with every option and 16 bytes of caller data fills 40 "
        "exactly") {
        const Bytes data = seq_bytes(16, 0x40);
        const Bytes options = concat({{
                                          0x02, 0x04, 0x05, 0xb4,  // MSS 1460
                                          0x04, 0x02,              // SACK permitted
                                          0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0, 0, 0, 0,  // TS
                                          0x01, 0x03, 0x03, 0x07,  // NOP, WS 7
                                          0xfd, 0x14, 0xd1, 0x5c,  // kind 253, len 4+16, ExID
                                      },
                                      data});
        REQUIRE(options.size() == 40);
        const Bytes bytes = golden(0x3c5d1e2f, 0, tcp_flag::syn, 64240, options);
        CHECK(bytes[20 + 12] == 0xf0);  // data offset 15
        Segment s = base_segment(0x3c5d1e2f, 0, tcp_flag::syn, 64240);
        s.options.mss = 1460;
        s.options.sack_permitted = true;
        s.options.timestamps = Timestamps{123456, 0};
        s.options.window_scale = 7;
        s.options.disconnect = disc(data);
        check_golden_both_backends(bytes, s);
    }

    TEST_CASE(
        "golden DESIGN.md §3c: message-mode SYN with every option and 12 bytes of caller data "
        "fills 40 exactly") {
        const Bytes data = seq_bytes(12, 0x60);
        const Bytes options = concat({{
                                          0x02, 0x04, 0x05, 0xb4,  // MSS 1460
                                          0x04, 0x02,              // SACK permitted
                                          0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0, 0, 0, 0,  // TS
                                          0x01, 0x03, 0x03, 0x07,  // NOP, WS 7
                                          0xfd, 0x04, 0xd1, 0x5d,  // message mode
                                          0xfd, 0x10, 0xd1, 0x5c,  // kind 253, len 4+12, ExID
                                      },
                                      data});
        REQUIRE(options.size() == 40);
        Segment s = base_segment(0x3c5d1e2f, 0, tcp_flag::syn, 64240);
        s.options.mss = 1460;
        s.options.sack_permitted = true;
        s.options.timestamps = Timestamps{123456, 0};
        s.options.window_scale = 7;
        s.options.message_mode = true;
        s.options.disconnect = disc(data);
        check_golden_both_backends(golden(0x3c5d1e2f, 0, tcp_flag::syn, 64240, options), s);
    }

    TEST_CASE(
        "golden DESIGN.md §3c: SYN-ACK echo with 5 bytes of callee data is aligned with leading "
        "NOPs") {
        const Bytes options = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x01, 0xfd,
                               0x09, 0xd1, 0x5c, 's',  'e',  's',  's',  '7'};
        Segment s = base_segment(5000, 0x3c5d1e30, tcp_flag::syn | tcp_flag::ack, 65535);
        s.options.mss = 1460;
        s.options.disconnect = disc({'s', 'e', 's', 's', '7'});
        check_golden_both_backends(
            golden(5000, 0x3c5d1e30, tcp_flag::syn | tcp_flag::ack, 65535, options), s);
    }

    TEST_CASE("golden RFC 9293 §3.1: a bare RST has a 20-byte header and every field in place") {
        Segment s = base_segment(0xfffffffe, 0x80000001, tcp_flag::rst | tcp_flag::ack, 0);
        s.urgent = 0;
        const Bytes bytes = golden(0xfffffffe, 0x80000001, tcp_flag::rst | tcp_flag::ack, 0, {});
        REQUIRE(bytes.size() == 40);
        check_golden(bytes, s);
    }

    TEST_CASE("golden RFC 9293 §3.1: URG + ECE + CWR bits and the urgent pointer survive") {
        const auto flags = static_cast<std::uint8_t>(tcp_flag::urg | tcp_flag::ack | tcp_flag::ece |
                                                     tcp_flag::cwr);
        Bytes bytes = golden(1, 1, flags, 1, {}, {'!'});
        put16(bytes, 20 + 18, 1);  // urgent pointer 1
        fix_checksums(bytes);
        Segment s = base_segment(1, 1, flags, 1);
        s.urgent = 1;
        const Bytes payload = {'!'};
        s.payload = as_span(payload);
        check_golden(bytes, s);
    }

    TEST_CASE("golden: Codec::Config sets TTL and DF") {
        Codec codec(Codec::Config{.ttl = 7, .dont_fragment = false});
        const Segment s = base_segment(1, 1, tcp_flag::ack, 1);
        std::vector<std::byte> out;
        REQUIRE(codec.encode(s, out));
        Bytes want = golden(1, 1, tcp_flag::ack, 1, {});
        want[8] = 7;
        put16(want, 6, 0);
        fix_ip_checksum(want);
        CHECK(to_bytes(out) == want);
    }
}
