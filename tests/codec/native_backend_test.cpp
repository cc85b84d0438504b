// The native Codec backend (the default, on the data path) against the libtins backend (the
// reference, Codec::Config::backend = libtins): byte-identical packets out of encode() and
// encode_into(), identical Segments / DropReasons / counters out of decode() over valid and
// mutated packets; the partial TCP checksum for a link that completes it (virtio-net
// NEEDS_CSUM); and the 8-bytes-per-step checksum routine against the textbook RFC 1071 sum in
// codec_test_util.hpp, at every length and alignment.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>

#include "codec_test_util.hpp"
#include "ustack/codec.hpp"

using namespace ustack;
using namespace ustack::codec_test;

namespace {

Codec::Config tins_config(Codec::Config c = {}) {
    c.backend = Codec::Backend::libtins;
    return c;
}

// Every counter of CodecStats, by name, for readable failures.
std::string stats_diff(const CodecStats& a, const CodecStats& b) {
    std::string d;
    auto cmp = [&](const char* name, std::uint64_t x, std::uint64_t y) {
        if (x != y)
            d += std::string(name) + ": " + std::to_string(x) + " vs " + std::to_string(y) + "\n";
    };
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        cmp(std::string(to_string(static_cast<DropReason>(i))).c_str(), a.drops[i], b.drops[i]);
    }
    cmp("decoded", a.decoded, b.decoded);
    cmp("encoded", a.encoded, b.encoded);
    cmp("unknown_options", a.unknown_options, b.unknown_options);
    cmp("unknown_exid", a.unknown_exid, b.unknown_exid);
    cmp("bad_disconnect_option", a.bad_disconnect_option, b.bad_disconnect_option);
    cmp("bad_message_option", a.bad_message_option, b.bad_message_option);
    cmp("bad_known_option_length", a.bad_known_option_length, b.bad_known_option_length);
    cmp("window_scale_clamped", a.window_scale_clamped, b.window_scale_clamped);
    cmp("sack_blocks_dropped_for_space", a.sack_blocks_dropped_for_space,
        b.sack_blocks_dropped_for_space);
    cmp("disconnect_dropped_for_space", a.disconnect_dropped_for_space,
        b.disconnect_dropped_for_space);
    cmp("encode_failures", a.encode_failures, b.encode_failures);
    return d;
}

bool same_segment(const Segment& a, const Segment& b) {
    return a.src_addr == b.src_addr && a.dst_addr == b.dst_addr && a.src_port == b.src_port &&
           a.dst_port == b.dst_port && a.seq == b.seq && a.ack == b.ack && a.flags == b.flags &&
           a.window == b.window && a.urgent == b.urgent && a.options == b.options &&
           a.payload.size() == b.payload.size() &&
           std::equal(a.payload.begin(), a.payload.end(), b.payload.begin());
}

// Decode `pkt` with both backends (codecs kept across calls, so the counters accumulate) and
// require the same outcome: the same Segment (both borrowing the same payload bytes), or the
// same drop; and the same counters.
void decode_both(Codec& native, Codec& tins, std::span<const std::byte> pkt, bool checked) {
    const auto a = native.decode(pkt, checked);
    const auto b = tins.decode(pkt, checked);
    const Bytes shown(
        reinterpret_cast<const std::uint8_t*>(pkt.data()),
        reinterpret_cast<const std::uint8_t*>(pkt.data()) + std::min<std::size_t>(pkt.size(), 80));
    INFO("packet (", pkt.size(), " bytes, checksum_checked ", checked, "), first bytes:\n",
         hex(shown));
    REQUIRE(a.has_value() == b.has_value());
    if (a) {
        if (!same_segment(*a, *b)) {
            check_same(*a, *b);
            REQUIRE(false);
        }
        REQUIRE(a->payload.data() == b->payload.data());  // borrowed from the packet, not copied
    }
    const std::string d = stats_diff(native.stats(), tins.stats());
    INFO("native vs libtins counters:\n", d);
    REQUIRE(d.empty());
}

// Encode with both backends and with encode_into (exact buffer, bigger buffer with a canary,
// and an unaligned start); everything must be byte-identical.
void encode_both(Codec& native, Codec& tins, const Segment& s) {
    INFO(to_string(s), " payload ", s.payload.size());
    std::vector<std::byte> a;
    std::vector<std::byte> b;
    const bool ok_a = native.encode(s, a);
    const bool ok_b = tins.encode(s, b);
    REQUIRE(ok_a == ok_b);
    if (!ok_a) {
        CHECK(a.empty());
        return;
    }
    if (a != b) {
        INFO("native:\n", hex(to_bytes(a)));
        INFO("libtins:\n", hex(to_bytes(b)));
        REQUIRE(a == b);
    }
    // encode_into an exact-size buffer.
    std::vector<std::byte> c(a.size());
    REQUIRE(native.encode_into(s, c) == a.size());
    REQUIRE(c == a);
    // A bigger buffer at an odd address: writes exactly the packet, nothing past it.
    std::vector<std::byte> d(a.size() + 64, std::byte{0xA5});
    const std::size_t skew = 1 + (a.size() % 7);
    const std::span<std::byte> into = std::span(d).subspan(skew, a.size() + 16);
    REQUIRE(native.encode_into(s, into) == a.size());
    REQUIRE(std::equal(a.begin(), a.end(), d.begin() + static_cast<std::ptrdiff_t>(skew)));
    for (std::size_t i = 0; i < skew; ++i) REQUIRE(d[i] == std::byte{0xA5});
    for (std::size_t i = skew + a.size(); i < d.size(); ++i) REQUIRE(d[i] == std::byte{0xA5});
}

// The codecs' counters after encode_both: native did encode + 2 x encode_into.
void check_encode_stats(const Codec& native, const Codec& tins) {
    const CodecStats& n = native.stats();
    const CodecStats& t = tins.stats();
    CHECK(n.encoded == 3 * t.encoded);
    CHECK(n.sack_blocks_dropped_for_space == 3 * t.sack_blocks_dropped_for_space);
    CHECK(n.disconnect_dropped_for_space == 3 * t.disconnect_dropped_for_space);
    CHECK(n.encode_failures == t.encode_failures);
}

std::uint32_t pseudo_sum(const Bytes& p, std::size_t tcp_len) {
    return std::uint32_t{get16(p, 12)} + get16(p, 14) + get16(p, 16) + get16(p, 18) + 6 +
           static_cast<std::uint32_t>(tcp_len);
}
std::uint16_t fold(std::uint32_t s) {
    while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(s);
}
// RFC 9293 §3.1: the packet's TCP checksum verifies (the reference sum over pseudo-header and
// segment, field included, is all ones).
bool tcp_checksum_verifies(const Bytes& p) {
    const std::size_t tcp_len = get16(p, 2) - 20U;
    return inet_checksum(p, 20, tcp_len, pseudo_sum(p, tcp_len)) == 0;
}
// The TCP checksum the reference computes for `p` (field taken as zero).
std::uint16_t reference_tcp_checksum(Bytes p) {
    const std::size_t tcp_len = get16(p, 2) - 20U;
    put16(p, 36, 0);
    return inet_checksum(p, 20, tcp_len, pseudo_sum(p, tcp_len));
}

// A segment with a payload of `n` bytes from `bytes`, every other field random.
Segment random_header(std::mt19937& rng) {
    std::vector<std::byte> none;
    Segment s = random_segment(rng, none, 0);
    s.payload = {};
    return s;
}

// Flips `bits` random bits of `p`.
void flip_bits(Bytes& p, std::mt19937& rng, std::size_t bits) {
    for (std::size_t i = 0; i < bits && !p.empty(); ++i) {
        p[rng() % p.size()] ^= static_cast<std::uint8_t>(1U << (rng() % 8));
    }
}

// Recompute both checksums if the headers are sane enough for fix_checksums() to stay inside
// the buffer (it trusts IHL and the total length).
void try_fix_checksums(Bytes& p) {
    if (p.size() < 20)
        return;
    const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > p.size())
        return;
    const std::size_t total = get16(p, 2);
    if (total > p.size() || total < ihl + 18) {
        fix_ip_checksum(p);
        return;
    }
    fix_checksums(p);
}

// Random option bytes biased towards the interesting kinds and lengths (as fuzz_test.cpp).
Bytes garbage_options(std::mt19937& rng, std::size_t max_len) {
    static const std::uint8_t kinds[] = {0, 1, 2, 3, 4, 5, 8, 30, 253, 254, 255};
    Bytes o;
    const std::size_t target = rng() % (max_len + 1);
    while (o.size() < target) {
        const std::uint8_t k = kinds[rng() % std::size(kinds)];
        o.push_back(k);
        if (k <= 1)
            continue;
        const auto len = static_cast<std::uint8_t>((rng() % 5 == 0) ? rng() % 256 : rng() % 14);
        o.push_back(len);
        if (k >= 253 && rng() % 2 == 0) {
            o.push_back(0xd1);
            o.push_back(0x5c);
        }
        for (std::size_t i = 2; i < len && o.size() < max_len; ++i) {
            o.push_back(static_cast<std::uint8_t>(rng()));
        }
    }
    if (o.size() > max_len)
        o.resize(max_len);
    return o;
}

}  // namespace

TEST_SUITE("codec") {
    TEST_CASE("native codec RFC 9293 §3.1: random segments encode to the libtins backend's bytes") {
        std::mt19937 rng(0x5eed1);
        for (const Codec::Config cfg :
             {Codec::Config{}, Codec::Config{.ttl = 1, .dont_fragment = false},
              Codec::Config{.ttl = 255, .dont_fragment = true}}) {
            CAPTURE(int{cfg.ttl});
            Codec native(cfg);
            Codec tins(tins_config(cfg));
            REQUIRE(native.config().backend == Codec::Backend::native);
            std::vector<std::byte> bytes;
            for (int i = 0; i < 2500; ++i) {
                CAPTURE(i);
                // Mostly up to 1500 bytes of payload, sometimes up to 64000.
                const std::size_t max_payload = (i % 25 == 0) ? 64000 : 1500;
                Segment s = random_segment(rng, bytes, max_payload);
                switch (i % 50) {  // corner addresses (libtins serializes 0.0.0.0 specially)
                    case 1: s.src_addr = 0; break;
                    case 2: s.dst_addr = 0; break;
                    case 3: s.src_addr = s.dst_addr = 0xffffffff; break;
                    case 4:
                        s.flags = 0xff;
                        s.urgent = 0xffff;
                        s.window = 0xffff;
                        break;
                    default: break;
                }
                encode_both(native, tins, s);
            }
            check_encode_stats(native, tins);
            CHECK(native.stats().encode_failures == 0);
        }
    }

    TEST_CASE("native codec RFC 9293 §3.2: every option combination encodes as libtins does") {
        // MSS x WS x SACK-permitted x timestamps x 0..4 SACK blocks x no disconnect / 0..36 bytes.
        std::mt19937 rng(77);
        Codec native;
        Codec tins(tins_config());
        const Bytes payload = seq_bytes(33);
        const auto payload_bytes = to_std_bytes(payload);
        int combos = 0;
        for (int mask = 0; mask < 16; ++mask) {
            for (std::uint8_t sacks = 0; sacks <= kMaxSackBlocks; ++sacks) {
                for (int d = -1; d <= static_cast<int>(kMaxDisconnectData); ++d) {
                    Segment s = random_header(rng);
                    TcpOptions& o = s.options;
                    o = TcpOptions{};
                    if ((mask & 1) != 0)
                        o.mss = static_cast<std::uint16_t>(rng());
                    if ((mask & 2) != 0)
                        o.window_scale = static_cast<std::uint8_t>(rng() % 15);
                    o.sack_permitted = (mask & 4) != 0;
                    if ((mask & 8) != 0)
                        o.timestamps = Timestamps{static_cast<std::uint32_t>(rng()),
                                                  static_cast<std::uint32_t>(rng())};
                    o.sack_count = sacks;
                    for (std::size_t k = 0; k < sacks; ++k) {
                        o.sack[k] = SackBlock{SeqNum(static_cast<std::uint32_t>(rng())),
                                              SeqNum(static_cast<std::uint32_t>(rng()))};
                    }
                    if (d >= 0) {
                        Bytes data(static_cast<std::size_t>(d));
                        for (auto& x : data) x = static_cast<std::uint8_t>(rng());
                        o.disconnect = disc(data);
                    }
                    s.payload = std::span(payload_bytes).first(rng() % 34);
                    encode_both(native, tins, s);
                    ++combos;
                }
            }
        }
        CHECK(combos == 16 * 5 * 38);
        check_encode_stats(native, tins);
        // The 40-byte rule bit (counted the same by both): some combinations did not fit.
        CHECK(tins.stats().sack_blocks_dropped_for_space > 0);
        CHECK(tins.stats().disconnect_dropped_for_space > 0);
    }

    TEST_CASE("native codec: encode_into into a too-small buffer returns 0 and counts a failure") {
        std::mt19937 rng(3);
        Codec native;
        Codec tins(tins_config());
        std::vector<std::byte> bytes;
        for (int i = 0; i < 300; ++i) {
            const Segment s = random_segment(rng, bytes, 200);
            std::vector<std::byte> want;
            REQUIRE(tins.encode(s, want));
            const std::uint64_t failures = native.stats().encode_failures;
            const std::uint64_t encoded = native.stats().encoded;
            // One byte short, header-only, empty: nothing written, 0 returned, one failure each.
            for (const std::size_t size : {want.size() - 1, want.size() - s.payload.size() - 1,
                                           std::size_t{20}, std::size_t{0}}) {
                CAPTURE(size);
                std::vector<std::byte> buf(want.size() + 8, std::byte{0x5A});
                CHECK(native.encode_into(s, std::span(buf).first(size)) == 0);
                // Nothing past the span is touched.
                for (std::size_t k = size; k < buf.size(); ++k) REQUIRE(buf[k] == std::byte{0x5A});
            }
            CHECK(native.stats().encode_failures == failures + 4);
            CHECK(native.stats().encoded == encoded);
            std::vector<std::byte> exact(want.size());
            CHECK(native.encode_into(s, exact) == want.size());
            CHECK(exact == want);
        }
    }

    TEST_CASE("native codec RFC 791 §3.1: a packet that would exceed 65535 bytes is not encoded") {
        Codec native;
        Codec tins(tins_config());
        std::vector<std::byte> big(70000, std::byte{0x42});
        std::vector<std::byte> out;
        std::vector<std::byte> buf(70000);
        for (const bool with_options : {false, true}) {
            CAPTURE(with_options);
            Segment s;
            s.src_addr = ipv4(10, 0, 0, 1);
            s.dst_addr = ipv4(10, 0, 0, 2);
            s.flags = tcp_flag::ack;
            std::size_t header = 40;
            if (with_options) {
                s.options.timestamps = Timestamps{1, 2};
                header += 12;
            }
            // Exactly 65535: fine.
            s.payload = std::span(big).first(65535 - header);
            REQUIRE(native.encode(s, out));
            CHECK(out.size() == 65535);
            CHECK(get16(to_bytes(out), 2) == 65535);
            CHECK(tcp_checksum_verifies(to_bytes(out)));
            std::vector<std::byte> ref;
            REQUIRE(tins.encode(s, ref));
            CHECK(ref == out);
            CHECK(native.encode_into(s, buf) == 65535);
            // One byte more: nothing, with either function and either backend.
            s.payload = std::span(big).first(65536 - header);
            const std::uint64_t failures = native.stats().encode_failures;
            CHECK_FALSE(native.encode(s, out));
            CHECK(out.empty());
            CHECK(native.encode_into(s, buf) == 0);
            CHECK(native.encode_into(s, buf, TcpChecksum::partial) == 0);
            CHECK(native.stats().encode_failures == failures + 3);
            CHECK_FALSE(tins.encode(s, ref));
            // Far more: the 16-bit length must not wrap around.
            s.payload = std::span(big).first(65536 + 100);
            CHECK(native.encode_into(s, buf) == 0);
            CHECK_FALSE(native.encode(s, out));
        }
    }

    TEST_CASE(
        "native codec: valid packets built by libtins decode to one Segment on both backends") {
        std::mt19937 rng(0xdec0de);
        Codec builder(tins_config());
        Codec native;
        Codec tins(tins_config());
        std::vector<std::byte> bytes;
        std::vector<std::byte> pkt;
        for (int i = 0; i < 3000; ++i) {
            CAPTURE(i);
            const Segment s = random_segment(rng, bytes, (i % 40 == 0) ? 64000 : 1500);
            REQUIRE(builder.encode(s, pkt));
            decode_both(native, tins, pkt, false);
            decode_both(native, tins, pkt, true);
            // And at an odd address, with link padding after the packet.
            std::vector<std::byte> skewed(pkt.size() + 5, std::byte{0});
            std::copy(pkt.begin(), pkt.end(), skewed.begin() + 1);
            decode_both(native, tins, std::span(skewed).subspan(1), false);
        }
        CHECK(native.stats().decoded == 9000);
        CHECK(native.stats().total_drops() == 0);
    }

    TEST_CASE(
        "native codec: mutated packets decode to one Segment or DropReason on both backends") {
        std::mt19937 rng(0xbadc0de);
        Codec builder(tins_config());
        Codec native;
        Codec tins(tins_config());
        std::vector<std::byte> bytes;
        std::vector<std::byte> wire;
        for (int i = 0; i < 20000; ++i) {
            CAPTURE(i);
            Bytes p;
            if (i % 3 == 0) {
                // Hand-built: IP options, garbage TCP options (not necessarily well-formed).
                PacketSpec spec;
                spec.src = static_cast<std::uint32_t>(rng());
                spec.dst = static_cast<std::uint32_t>(rng());
                spec.seq = static_cast<std::uint32_t>(rng());
                spec.ack = static_cast<std::uint32_t>(rng());
                spec.flags = static_cast<std::uint8_t>(rng());
                spec.window = static_cast<std::uint16_t>(rng());
                spec.urgent = static_cast<std::uint16_t>(rng());
                spec.tcp_options = garbage_options(rng, 40);
                if (rng() % 4 == 0)
                    spec.ip_options = {0x01, 0x01, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00};
                spec.payload = seq_bytes(rng() % 64, static_cast<std::uint8_t>(rng()));
                p = make_packet(spec);
            } else {
                const Segment s = random_segment(rng, bytes, 300);
                REQUIRE(builder.encode(s, wire));
                p = to_bytes(wire);
            }
            const std::size_t tcp = static_cast<std::size_t>(p[0] & 0x0f) * 4;
            const std::size_t doff = static_cast<std::size_t>(p[tcp + 12] >> 4) * 4;
            switch (rng() % 8) {
                case 0:  // bit flips, checksums left stale
                    flip_bits(p, rng, 1 + rng() % 3);
                    break;
                case 1:  // bit flips, checksums fixed so the damage reaches the deeper checks
                    flip_bits(p, rng, 1 + rng() % 3);
                    try_fix_checksums(p);
                    break;
                case 2:  // truncated, maybe with the total length (and checksums) following
                    p.resize(rng() % (p.size() + 1));
                    if (p.size() >= 20 && rng() % 2 == 0) {
                        put16(p, 2, static_cast<std::uint16_t>(p.size()));
                        try_fix_checksums(p);
                    }
                    break;
                case 3:  // garbage over the TCP option bytes
                    if (doff > 20) {
                        for (std::size_t k = tcp + 20; k < tcp + doff; ++k) {
                            if (rng() % 3 == 0)
                                p[k] = static_cast<std::uint8_t>(rng());
                        }
                    }
                    try_fix_checksums(p);
                    break;
                case 4: {  // garbage options written over the header, data offset adjusted
                    const Bytes o = padded(garbage_options(rng, 40));
                    Bytes q(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(tcp + 20));
                    q.insert(q.end(), o.begin(), o.end());
                    q.insert(q.end(), p.begin() + static_cast<std::ptrdiff_t>(tcp + doff), p.end());
                    q[tcp + 12] = static_cast<std::uint8_t>(((20 + o.size()) / 4) << 4);
                    put16(q, 2, static_cast<std::uint16_t>(q.size()));
                    fix_checksums(q);
                    p = std::move(q);
                    break;
                }
                case 5:  // the reserved bits (byte 12 low nibble) and/or the data offset
                    p[tcp + 12] = static_cast<std::uint8_t>((p[tcp + 12] & 0xf0) | (rng() & 0x0f));
                    if (rng() % 3 == 0)
                        p[tcp + 12] =
                            static_cast<std::uint8_t>((rng() & 0xf0) | (p[tcp + 12] & 0x0f));
                    fix_checksums(p);
                    break;
                case 6:  // IP header fields: TOS, ID, flags/fragment, TTL, protocol, version, IHL
                    p[1 + rng() % 9] = static_cast<std::uint8_t>(rng());
                    if (rng() % 4 == 0)
                        p[0] = static_cast<std::uint8_t>(rng());
                    try_fix_checksums(p);
                    break;
                default:  // unchanged
                    break;
            }
            const bool checked = rng() % 4 == 0;
            decode_both(native, tins, as_span(p), checked);
        }
        // The mutations reached both outcomes and several drop reasons.
        const CodecStats& st = native.stats();
        CHECK(st.decoded > 5000);
        CHECK(st.total_drops() > 5000);
        CHECK(st.drop_count(DropReason::bad_tcp_checksum) > 0);
        CHECK(st.drop_count(DropReason::bad_option_length) > 0);
        CHECK(st.drop_count(DropReason::bad_data_offset) > 0);
        CHECK(st.drop_count(DropReason::bad_ip_checksum) > 0);
        CHECK(st.drop_count(DropReason::library_error) == 0);
        CHECK(st.unknown_options > 0);
        CHECK(st.bad_known_option_length > 0);
    }

    TEST_CASE("native codec RFC 9293 §3.1: a partial checksum completes to exactly the full one") {
        std::mt19937 rng(0xc5);
        Codec codec;
        std::vector<std::byte> bytes;
        std::vector<std::byte> full(Codec::kMaxPacket);
        std::vector<std::byte> partial(Codec::kMaxPacket);
        int verified_anyway = 0;
        for (int i = 0; i < 3000; ++i) {
            CAPTURE(i);
            const Segment s = random_segment(rng, bytes, (i % 30 == 0) ? 64000 : 1500);
            const std::size_t n = codec.encode_into(s, full, TcpChecksum::full);
            REQUIRE(n != 0);
            REQUIRE(codec.encode_into(s, partial, TcpChecksum::partial) == n);
            const Bytes f = to_bytes(std::vector<std::byte>(
                full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
            Bytes p = to_bytes(std::vector<std::byte>(
                partial.begin(), partial.begin() + static_cast<std::ptrdiff_t>(n)));
            // Only the TCP checksum field differs.
            for (std::size_t k = 0; k < n; ++k) {
                if (k != 36 && k != 37 && f[k] != p[k])
                    FAIL("byte " << k << " differs");
            }
            const std::size_t tcp_len = n - 20;
            // The field: the folded (not complemented) pseudo-header sum over the TCP length.
            CHECK(get16(p, 36) == fold(pseudo_sum(p, tcp_len)));
            // Completing it as the link does (sum from the field's value over header + data,
            // then complement) gives exactly the full checksum.
            CHECK(inet_checksum(p, 20, tcp_len) == get16(f, 36));
            CHECK(get16(f, 36) == reference_tcp_checksum(f));
            CHECK(tcp_checksum_verifies(f));

            // The link vouches for it: decoded, and the same as the full-checksum packet.
            const auto with_link = codec.decode(as_span(p), /*checksum_checked=*/true);
            REQUIRE(with_link.has_value());
            const auto from_full = codec.decode(as_span(f), false);
            REQUIRE(from_full.has_value());
            CHECK(same_segment(*with_link, *from_full));
            // Without it: dropped as bad_tcp_checksum, unless the partial value happens to be
            // the right checksum.
            const std::uint64_t bad = codec.stats().drop_count(DropReason::bad_tcp_checksum);
            const auto without = codec.decode(as_span(p), /*checksum_checked=*/false);
            if (tcp_checksum_verifies(p)) {
                ++verified_anyway;
                CHECK(without.has_value());
            } else {
                CHECK_FALSE(without.has_value());
                CHECK(codec.stats().drop_count(DropReason::bad_tcp_checksum) == bad + 1);
            }
            // The RxPacket overload says the same.
            CHECK(codec.decode(RxPacket{as_span(p), true}).has_value());
        }
        CHECK(verified_anyway < 10);
    }

    TEST_CASE(
        "native codec RFC 1071 §4.1: lengths 0..100 at every alignment sum as the reference") {
        std::mt19937 rng(0x1071);
        Codec native;
        Codec tins(tins_config());
        std::vector<std::byte> buf(Codec::kMaxHeaders + 100 + 16);
        std::vector<std::byte> ref;
        // Payload contents that stress the carries: random, all ones, all zeros, alternating.
        for (int fill = 0; fill < 4; ++fill) {
            for (std::size_t len = 0; len <= 100; ++len) {
                Bytes data(len);
                for (std::size_t k = 0; k < len; ++k) {
                    data[k] = fill == 0   ? static_cast<std::uint8_t>(rng())
                              : fill == 1 ? 0xff
                              : fill == 2 ? 0x00
                                          : static_cast<std::uint8_t>((k % 2) != 0 ? 0xff : 0x01);
                }
                const auto payload = to_std_bytes(data);
                for (std::size_t start = 0; start < 8; ++start) {
                    CAPTURE(fill);
                    CAPTURE(len);
                    CAPTURE(start);
                    Segment s = random_header(rng);
                    if (fill != 0) {
                        // Headers of all ones / zeros as well (the sum folds in both directions).
                        s.src_addr = s.dst_addr = fill == 1 ? 0xffffffff : 0;
                        s.seq = s.ack = SeqNum(fill == 1 ? 0xffffffff : 0);
                        s.window = s.urgent = fill == 1 ? 0xffff : 0;
                        s.src_port = s.dst_port = fill == 1 ? 0xffff : 0;
                    }
                    s.payload = payload;
                    const auto out = std::span(buf).subspan(start, buf.size() - 8);
                    const std::size_t n = native.encode_into(s, out);
                    REQUIRE(n != 0);
                    const Bytes p = to_bytes(std::vector<std::byte>(
                        out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)));
                    CHECK(inet_checksum(p, 0, 20) == 0);               // IPv4 header verifies
                    CHECK(tcp_checksum_verifies(p));                   // TCP verifies
                    CHECK(get16(p, 36) == reference_tcp_checksum(p));  // and is the same value
                    REQUIRE(tins.encode(s, ref));
                    CHECK(to_bytes(ref) == p);
                    // decode's check, at the same odd address, agrees.
                    CHECK(
                        native.decode(std::span<const std::byte>(out.first(n)), false).has_value());
                }
            }
        }
    }

    TEST_CASE(
        "native codec RFC 1071 §2: the checksum of a 64 KB packet of all ones does not overflow") {
        Codec native;
        Codec tins(tins_config());
        std::vector<std::byte> ones(65535 - 40, std::byte{0xff});
        std::vector<std::byte> out;
        std::vector<std::byte> ref;
        for (const std::size_t len :
             {ones.size(), ones.size() - 1, std::size_t{65000}, std::size_t{32769}}) {
            CAPTURE(len);
            Segment s;
            s.src_addr = s.dst_addr = 0xffffffff;
            s.src_port = s.dst_port = 0xffff;
            s.seq = s.ack = SeqNum(0xffffffff);
            s.flags = 0xff;
            s.window = s.urgent = 0xffff;
            s.payload = std::span(ones).first(len);
            REQUIRE(native.encode(s, out));
            const Bytes p = to_bytes(out);
            CHECK(tcp_checksum_verifies(p));
            CHECK(get16(p, 36) == reference_tcp_checksum(p));
            REQUIRE(tins.encode(s, ref));
            CHECK(ref == out);
            CHECK(native.decode(out).has_value());
        }
    }
}  // TEST_SUITE
