// libtins as an independent oracle: what we encode, libtins parses back field by field (and,
// re-serialized by libtins with its own checksum code, gives the same bytes); what libtins
// builds, we decode. Plus seeded random round trips through our own encode and decode.
#include <doctest/doctest.h>
#include <tins/ip.h>
#include <tins/ip_address.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>

#include <algorithm>
#include <random>

#include "codec_test_util.hpp"
#include "ustack/codec.hpp"

using namespace ustack;
using namespace ustack::codec_test;

namespace {

Tins::IPv4Address tins_addr(Ipv4Addr a) {
    return Tins::IPv4Address(ipv4_to_string(a));
}

constexpr std::size_t round4(std::size_t n) {
    return (n + 3) / 4 * 4;
}

// What survives the 40-byte rule, derived from the rule as documented (Codec::encode).
TcpOptions expected_after_encode(const TcpOptions& in) {
    TcpOptions o = in;
    const bool ts = o.timestamps.has_value();
    const std::size_t fixed = (o.mss ? 4 : 0) + (ts ? 12 : 0) + (o.sack_permitted && !ts ? 4 : 0) +
                              (o.window_scale ? 4 : 0) + (o.message_mode ? 4 : 0);
    std::size_t disc_len = o.disconnect ? round4(4 + o.disconnect->len) : 0;
    if (fixed + disc_len > 40) {
        o.disconnect.reset();
        disc_len = 0;
    }
    while (o.sack_count > 0 && fixed + disc_len + 4 + 8 * std::size_t{o.sack_count} > 40) {
        o.sack_count--;
    }
    for (std::size_t i = o.sack_count; i < kMaxSackBlocks; ++i) o.sack[i] = SackBlock{};
    return o;
}

// Parse our bytes with libtins and compare with what we meant to send.
void check_with_tins(const std::vector<std::byte>& wire, const Segment& s, const TcpOptions& o,
                     std::uint8_t ttl = 64) {
    const Bytes b = to_bytes(wire);
    INFO("encoded:\n", hex(b));
    Tins::IP ip(b.data(), static_cast<std::uint32_t>(b.size()));
    CHECK(ip.version() == 4);
    CHECK(ip.head_len() == 5);
    CHECK(ip.tot_len() == b.size());
    CHECK(ip.id() == 0);
    CHECK(ip.ttl() == ttl);
    CHECK(ip.flags() == Tins::IP::DONT_FRAGMENT);
    CHECK(ip.fragment_offset() == 0);
    CHECK(ip.protocol() == 6);
    CHECK(ip.src_addr() == tins_addr(s.src_addr));
    CHECK(ip.dst_addr() == tins_addr(s.dst_addr));

    const auto* tcp = ip.find_pdu<Tins::TCP>();
    REQUIRE(tcp != nullptr);
    CHECK(tcp->sport() == s.src_port);
    CHECK(tcp->dport() == s.dst_port);
    CHECK(tcp->seq() == s.seq.raw());
    CHECK(tcp->ack_seq() == s.ack.raw());
    CHECK(static_cast<std::uint16_t>(tcp->flags()) == s.flags);
    CHECK(tcp->window() == s.window);
    CHECK(tcp->urg_ptr() == s.urgent);

    if (o.mss) {
        CHECK(tcp->mss() == *o.mss);
    } else {
        CHECK(tcp->search_option(Tins::TCP::MSS) == nullptr);
    }
    if (o.window_scale) {
        CHECK(tcp->winscale() == *o.window_scale);
    } else {
        CHECK(tcp->search_option(Tins::TCP::WSCALE) == nullptr);
    }
    CHECK(tcp->has_sack_permitted() == o.sack_permitted);
    if (o.sack_count > 0) {
        const Tins::TCP::sack_type edges = tcp->sack();
        REQUIRE(edges.size() == 2 * std::size_t{o.sack_count});
        for (std::size_t i = 0; i < o.sack_count; ++i) {
            CHECK(edges[2 * i] == o.sack[i].left.raw());
            CHECK(edges[2 * i + 1] == o.sack[i].right.raw());
        }
    } else {
        CHECK(tcp->search_option(Tins::TCP::SACK) == nullptr);
    }
    if (o.timestamps) {
        const auto ts = tcp->timestamp();
        CHECK(ts.first == o.timestamps->tsval);
        CHECK(ts.second == o.timestamps->tsecr);
    } else {
        CHECK(tcp->search_option(Tins::TCP::TSOPT) == nullptr);
    }
    // Kind 253 (RFC 6994): the disconnect option (ExID 0xD15C, DESIGN.md §3) and the
    // message-mode option (ExID 0xD15D, length 4, §3b), each at most once.
    const Tins::TCP::option* exp = nullptr;
    const Tins::TCP::option* msg = nullptr;
    std::size_t experiments = 0;
    for (const auto& opt : tcp->options()) {
        if (opt.option() != Tins::TCP::RFC_EXPERIMENT_1)
            continue;
        ++experiments;
        REQUIRE(opt.data_size() >= 2);
        const auto exid = static_cast<std::uint16_t>((opt.data_ptr()[0] << 8) | opt.data_ptr()[1]);
        if (exid == 0xd15c)
            exp = &opt;
        if (exid == 0xd15d)
            msg = &opt;
    }
    CHECK(experiments == (o.disconnect ? 1U : 0U) + (o.message_mode ? 1U : 0U));
    if (o.disconnect) {
        REQUIRE(exp != nullptr);
        REQUIRE(exp->data_size() == 2 + std::size_t{o.disconnect->len});
        CHECK(exp->data_ptr()[0] == 0xd1);
        CHECK(exp->data_ptr()[1] == 0x5c);
        const auto d = o.disconnect->data();
        CHECK(std::equal(d.begin(), d.end(), exp->data_ptr() + 2, [](std::byte x, std::uint8_t y) {
            return std::to_integer<std::uint8_t>(x) == y;
        }));
    } else {
        CHECK(exp == nullptr);
    }
    if (o.message_mode) {
        REQUIRE(msg != nullptr);
        CHECK(msg->data_size() == 2);  // fd 04 d1 5d: the ExID and nothing else
    } else {
        CHECK(msg == nullptr);
    }
    // Only EOL/NOP and the options above: nothing else leaked onto the wire.
    for (const auto& opt : tcp->options()) {
        const auto k = static_cast<int>(opt.option());
        CHECK((k == 1 || k == 2 || k == 3 || k == 4 || k == 5 || k == 8 || k == 253));
    }

    const auto* raw = tcp->find_pdu<Tins::RawPDU>();
    if (s.payload.empty()) {
        CHECK(raw == nullptr);
    } else {
        REQUIRE(raw != nullptr);
        const auto& pl = raw->payload();
        CHECK(std::equal(
            pl.begin(), pl.end(), s.payload.begin(), s.payload.end(),
            [](std::uint8_t x, std::byte y) { return x == std::to_integer<std::uint8_t>(y); }));
    }

    // libtins recomputes both checksums when it serializes: same bytes means same checksums.
    CHECK(ip.serialize() == b);
}

// Build a packet with libtins from `s`, adding the options in `order`; returns its bytes.
Bytes build_with_tins(const Segment& s, const std::vector<int>& order) {
    Tins::IP ip(tins_addr(s.dst_addr), tins_addr(s.src_addr));
    Tins::TCP tcp(s.dst_port, s.src_port);
    tcp.seq(s.seq.raw());
    tcp.ack_seq(s.ack.raw());
    tcp.flags(s.flags);
    tcp.window(s.window);
    tcp.urg_ptr(s.urgent);
    const auto& o = s.options;
    for (int which : order) {
        switch (which) {
            case 0:
                if (o.mss)
                    tcp.mss(*o.mss);
                break;
            case 1:
                if (o.window_scale)
                    tcp.winscale(*o.window_scale);
                break;
            case 2:
                if (o.sack_permitted)
                    tcp.sack_permitted();
                break;
            case 3:
                if (o.sack_count > 0) {
                    Tins::TCP::sack_type edges;
                    for (std::size_t i = 0; i < o.sack_count; ++i) {
                        edges.push_back(o.sack[i].left.raw());
                        edges.push_back(o.sack[i].right.raw());
                    }
                    tcp.sack(edges);
                }
                break;
            case 4:
                if (o.timestamps)
                    tcp.timestamp(o.timestamps->tsval, o.timestamps->tsecr);
                break;
            case 5:
                if (o.disconnect) {
                    Bytes data = {0xd1, 0x5c};
                    for (std::byte x : o.disconnect->data()) {
                        data.push_back(std::to_integer<std::uint8_t>(x));
                    }
                    tcp.add_option(
                        Tins::TCP::option(Tins::TCP::RFC_EXPERIMENT_1, data.size(), data.data()));
                }
                break;
            case 6:
                if (o.message_mode) {
                    const Bytes data = {0xd1, 0x5d};
                    tcp.add_option(
                        Tins::TCP::option(Tins::TCP::RFC_EXPERIMENT_1, data.size(), data.data()));
                }
                break;
            default: break;
        }
    }
    Tins::PDU::serialization_type bytes;
    if (s.payload.empty()) {
        bytes = (ip / tcp).serialize();
    } else {
        const Tins::RawPDU raw(reinterpret_cast<const std::uint8_t*>(s.payload.data()),
                               static_cast<std::uint32_t>(s.payload.size()));
        bytes = (ip / tcp / raw).serialize();
    }
    return bytes;
}

// Keep only options whose raw (unpadded) sizes, in the order libtins will write them, fit in 40
// bytes once libtins pads the list with NOPs: libtins itself does not check the limit.
void trim_for_tins(Segment& s, const std::vector<int>& order) {
    auto& o = s.options;
    std::size_t used = 0;
    auto fits = [&](std::size_t n) {
        if (round4(used + n) > 40)
            return false;
        used += n;
        return true;
    };
    for (int which : order) {
        switch (which) {
            case 0:
                if (o.mss && !fits(4))
                    o.mss.reset();
                break;
            case 1:
                if (o.window_scale && !fits(3))
                    o.window_scale.reset();
                break;
            case 2:
                if (o.sack_permitted && !fits(2))
                    o.sack_permitted = false;
                break;
            case 3:
                while (o.sack_count > 0 && !fits(2 + 8 * std::size_t{o.sack_count})) {
                    o.sack_count--;
                }
                for (std::size_t k = o.sack_count; k < kMaxSackBlocks; ++k) o.sack[k] = SackBlock{};
                break;
            case 4:
                if (o.timestamps && !fits(10))
                    o.timestamps.reset();
                break;
            case 5:
                if (o.disconnect && !fits(4 + std::size_t{o.disconnect->len})) {
                    o.disconnect.reset();
                }
                break;
            case 6:
                if (o.message_mode && !fits(4))
                    o.message_mode = false;
                break;
            default: break;
        }
    }
}

Segment syn_segment() {
    Segment s;
    s.src_addr = ipv4(10, 0, 1, 2);
    s.dst_addr = ipv4(10, 0, 2, 2);
    s.src_port = 49152;
    s.dst_port = 8080;
    s.seq = SeqNum(0x3c5d1e2f);
    s.flags = tcp_flag::syn;
    s.window = 64240;
    s.options.mss = 1460;
    s.options.window_scale = 7;
    s.options.sack_permitted = true;
    s.options.timestamps = Timestamps{123456, 0};
    s.options.disconnect = DisconnectData{};
    return s;
}

}  // namespace

TEST_SUITE("codec") {
    TEST_CASE("libtins oracle: our SYN parsed by libtins has every field and option") {
        Codec codec;
        const Segment s = syn_segment();
        std::vector<std::byte> wire;
        REQUIRE(codec.encode(s, wire));
        check_with_tins(wire, s, s.options);
    }

    TEST_CASE("libtins oracle: a SYN built by libtins (unaligned and NOP-padded) decodes") {
        Segment s = syn_segment();
        const Bytes payload = {1, 2, 3};
        s.payload = as_span(payload);
        // mss(4) sackok(2) ts(10) ws(3) disc(4): libtins packs them with no alignment at all.
        const Bytes b = build_with_tins(s, {0, 2, 4, 1, 5});
        INFO("libtins:\n", hex(b));
        CHECK(b.size() == 20 + 20 + 24 + 3);
        Codec codec;
        const auto back = codec.decode(as_span(b));
        REQUIRE(back.has_value());
        check_same(*back, s);
    }

    TEST_CASE("libtins oracle: 2000 random segments from ours parsed by libtins") {
        std::mt19937 rng(20240601);
        Codec codec;
        std::vector<std::byte> payload;
        std::vector<std::byte> wire;
        for (int i = 0; i < 2000; ++i) {
            const Segment s = random_segment(rng, payload);
            CAPTURE(to_string(s));
            REQUIRE(codec.encode(s, wire));
            check_with_tins(wire, s, expected_after_encode(s.options));
        }
        CHECK(codec.stats().encoded == 2000);
    }

    TEST_CASE(
        "libtins oracle: 2000 random segments built by libtins in random option order decode") {
        std::mt19937 rng(777);
        Codec codec;
        std::vector<std::byte> payload;
        std::vector<int> order = {0, 1, 2, 3, 4, 5, 6};
        for (int i = 0; i < 2000; ++i) {
            Segment s = random_segment(rng, payload);
            std::shuffle(order.begin(), order.end(), rng);
            Segment trimmed = s;
            trim_for_tins(trimmed, order);
            const Bytes b = build_with_tins(trimmed, order);
            CAPTURE(to_string(trimmed));
            INFO("libtins:\n", hex(b));
            const auto back = codec.decode(as_span(b));
            REQUIRE(back.has_value());
            check_same(*back, trimmed);
        }
        CHECK(codec.stats().decoded == 2000);
        CHECK(codec.stats().total_drops() == 0);
    }

    TEST_CASE("round trip: 5000 random segments through our encode and decode") {
        std::mt19937 rng(12345);
        Codec codec;
        std::vector<std::byte> payload;
        std::vector<std::byte> wire;
        for (int i = 0; i < 5000; ++i) {
            const Segment s = random_segment(rng, payload);
            CAPTURE(to_string(s));
            REQUIRE(codec.encode(s, wire));
            const auto back = codec.decode(std::span<const std::byte>(wire));
            REQUIRE(back.has_value());
            Segment want = s;
            want.options = expected_after_encode(s.options);
            check_same(*back, want);
        }
        CHECK(codec.stats().decoded == 5000);
        CHECK(codec.stats().encoded == 5000);
        CHECK(codec.stats().total_drops() == 0);
        CHECK(codec.stats().unknown_options == 0);
        CHECK(codec.stats().bad_known_option_length == 0);
    }

    TEST_CASE("libtins oracle: trim_for_tins keeps a packet libtins can express") {
        Segment s = syn_segment();
        s.options.sack_count = 4;
        s.options.disconnect = disc(seq_bytes(30));
        const std::vector<int> order = {0, 1, 2, 4, 5, 3};
        trim_for_tins(s, order);
        CHECK(s.options.mss == 1460);
        CHECK_FALSE(s.options.disconnect.has_value());  // 4+3+2+10 = 19, +34 > 40
        CHECK(s.options.sack_count == 2);               // 19 + 18 = 37 -> 40
        const Bytes b = build_with_tins(s, order);
        Codec codec;
        const auto back = codec.decode(as_span(b));
        REQUIRE(back.has_value());
        check_same(*back, s);
    }

    TEST_CASE(
        "libtins oracle DESIGN.md §3b: our SYN with the message-mode and disconnect options "
        "parsed by libtins on both backends") {
        Segment s = syn_segment();
        s.options.message_mode = true;
        for (const Codec::Backend backend : {Codec::Backend::native, Codec::Backend::libtins}) {
            Codec codec(Codec::Config{.backend = backend});
            std::vector<std::byte> wire;
            REQUIRE(codec.encode(s, wire));
            CHECK(wire.size() == 20 + 20 + 28);
            check_with_tins(wire, s, s.options);
        }
    }

    TEST_CASE(
        "libtins oracle DESIGN.md §3b: a SYN built by libtins with the message-mode option "
        "decodes on both backends in any place") {
        Segment s = syn_segment();
        s.options.message_mode = true;
        for (const std::vector<int>& order :
             {std::vector<int>{0, 2, 4, 1, 6, 5}, std::vector<int>{6, 0, 5, 2, 4, 1},
              std::vector<int>{0, 5, 2, 6, 4, 1}}) {
            const Bytes b = build_with_tins(s, order);
            INFO("libtins:\n", hex(b));
            for (const Codec::Backend backend : {Codec::Backend::native, Codec::Backend::libtins}) {
                Codec codec(Codec::Config{.backend = backend});
                const auto back = codec.decode(as_span(b));
                REQUIRE(back.has_value());
                check_same(*back, s);
                CHECK(codec.stats().unknown_exid == 0);
                CHECK(codec.stats().bad_message_option == 0);
            }
        }
    }
}
