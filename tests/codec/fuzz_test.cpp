// decode() against ~100k random and mutated byte strings (seeded, so reproducible): it never
// throws or crashes, every input is either decoded or dropped with a reason, and libtins never
// gets to throw (validation catches everything first: library_error stays 0).
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "codec_test_util.hpp"
#include "ustack/codec.hpp"

using namespace ustack;
using namespace ustack::codec_test;

namespace {

// Valid packets to mutate: our encoder's output, plus hand-built ones with IP options.
std::vector<Bytes> seed_corpus(std::mt19937& rng) {
    std::vector<Bytes> corpus;
    Codec codec;
    std::vector<std::byte> payload;
    std::vector<std::byte> wire;
    for (int i = 0; i < 64; ++i) {
        const Segment s = random_segment(rng, payload, 64);
        REQUIRE(codec.encode(s, wire));
        corpus.push_back(to_bytes(wire));
    }
    PacketSpec spec;
    spec.ip_options = {0x01, 0x01, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00};
    spec.tcp_options = {0x02, 0x04, 0x05, 0xb4, 0x00, 0x00};
    spec.payload = {1, 2, 3};
    corpus.push_back(make_packet(spec));
    return corpus;
}

// Random option bytes biased towards the interesting kinds and lengths.
Bytes random_options(std::mt19937& rng) {
    static const std::uint8_t kinds[] = {0, 1, 2, 3, 4, 5, 8, 30, 253, 254};
    Bytes o;
    const std::size_t target = rng() % 41;
    while (o.size() < target) {
        const std::uint8_t k = kinds[rng() % std::size(kinds)];
        o.push_back(k);
        if (k <= 1)
            continue;
        const auto len = static_cast<std::uint8_t>((rng() % 4 == 0) ? rng() % 256 : rng() % 14);
        o.push_back(len);
        if (k >= 253 && rng() % 2 == 0) {
            o.push_back(0xd1);
            o.push_back(0x5c);
        }
        for (std::size_t i = 2; i < len && o.size() < 40; ++i) {
            o.push_back(static_cast<std::uint8_t>(rng()));
        }
    }
    if (o.size() > 40)
        o.resize(40);
    return o;
}

}  // namespace

TEST_SUITE("codec") {
    TEST_CASE("fuzz: 100k random and mutated inputs never throw and decoded + drops == inputs") {
        std::mt19937 rng(0xC0DEC);
        const std::vector<Bytes> corpus = seed_corpus(rng);
        Codec codec;
        std::uint64_t inputs = 0;
        std::uint64_t bad_results = 0;
        std::array<std::uint64_t, 5> per_strategy{};

        for (int i = 0; i < 100000; ++i) {
            const int strategy = static_cast<int>(rng() % 5);
            Bytes p;
            switch (strategy) {
                case 0: {  // pure noise, half of it with a plausible first byte
                    p.resize(rng() % 120);
                    for (auto& x : p) x = static_cast<std::uint8_t>(rng());
                    if (!p.empty() && rng() % 2 == 0)
                        p[0] = 0x45;
                    break;
                }
                case 1: {  // a valid packet with a few bit flips, checksums left as they are
                    p = corpus[rng() % corpus.size()];
                    const std::size_t flips = 1 + rng() % 4;
                    for (std::size_t f = 0; f < flips; ++f) {
                        p[rng() % p.size()] ^= static_cast<std::uint8_t>(1U << (rng() % 8));
                    }
                    break;
                }
                case 2: {  // TCP header bytes randomized, checksums fixed: reaches the options
                    p = corpus[rng() % corpus.size()];
                    const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
                    const std::size_t n = 1 + rng() % 8;
                    for (std::size_t f = 0; f < n; ++f) {
                        const std::size_t at = ihl + 12 + rng() % (p.size() - ihl - 12);
                        p[at] = static_cast<std::uint8_t>(rng());
                    }
                    fix_checksums(p);
                    break;
                }
                case 3: {  // truncated or padded at the end
                    p = corpus[rng() % corpus.size()];
                    if (rng() % 2 == 0) {
                        p.resize(rng() % (p.size() + 1));
                    } else {
                        p.resize(p.size() + 1 + rng() % 16, static_cast<std::uint8_t>(rng()));
                    }
                    break;
                }
                default: {  // a fresh packet with a random option list and a random data offset
                    PacketSpec spec;
                    spec.tcp_options = random_options(rng);
                    spec.payload.resize(rng() % 8);
                    p = make_packet(spec);
                    if (rng() % 4 == 0) {
                        p[20 + 12] = static_cast<std::uint8_t>((rng() % 16) << 4);
                        fix_checksums(p);
                    }
                    break;
                }
            }

            ++inputs;
            per_strategy[static_cast<std::size_t>(strategy)]++;
            const auto seg = codec.decode(as_span(p));
            if (seg) {
                // The payload lies inside the input, the options inside their ranges.
                const auto* lo = reinterpret_cast<const std::byte*>(p.data());
                const bool inside = seg->payload.empty() ||
                                    (seg->payload.data() >= lo &&
                                     seg->payload.data() + seg->payload.size() <= lo + p.size());
                const auto& o = seg->options;
                const bool sane = o.sack_count <= kMaxSackBlocks &&
                                  (!o.window_scale || *o.window_scale <= 14) &&
                                  (!o.disconnect || o.disconnect->len <= kMaxDisconnectData);
                if (!inside || !sane)
                    ++bad_results;
            }
        }

        const CodecStats& st = codec.stats();
        std::string summary = "decoded " + std::to_string(st.decoded);
        for (std::size_t r = 0; r < kDropReasonCount; ++r) {
            summary += ", " + std::string(to_string(static_cast<DropReason>(r))) + " " +
                       std::to_string(st.drops[r]);
        }
        INFO(summary);
        CHECK(inputs == 100000);
        CHECK(bad_results == 0);
        CHECK(st.decoded + st.total_drops() == inputs);
        CHECK(st.drop_count(DropReason::library_error) == 0);
        // The generators reach every part of the checker, and plenty gets through.
        CHECK(st.decoded > 10000);
        for (DropReason r : {DropReason::truncated_ip, DropReason::bad_ip_version,
                             DropReason::bad_ihl, DropReason::bad_ip_checksum,
                             DropReason::bad_total_length, DropReason::bad_data_offset,
                             DropReason::bad_tcp_checksum, DropReason::bad_option_length}) {
            CAPTURE(to_string(r));
            CHECK(st.drop_count(r) > 0);
        }
        CHECK(st.unknown_options > 0);
        CHECK(st.unknown_exid > 0);
        CHECK(st.bad_known_option_length > 0);
        for (auto n : per_strategy) CHECK(n > 15000);
    }
}
