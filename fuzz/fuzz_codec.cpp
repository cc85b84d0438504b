// fuzz_codec: arbitrary bytes as an IPv4 packet into Codec::decode.
//
// Input: one control byte, then the packet.
//   control bit 0: fill in the IPv4 header checksum before decoding
//   control bit 1: fill in the TCP checksum before decoding
// (without them nearly every mutation dies at a checksum and the fuzzer never gets deeper).
//
// Invariants checked on every input:
//   - decode never throws or crashes; exactly one of decoded / drops[reason] moves by one;
//   - the drop reason is the one an independent reference check (below, written from RFC 791
//     §3.1 and RFC 9293 §3.1-3.2 and the order codec.hpp documents) gives; libtins is never the
//     one to reject a packet (library_error stays 0);
//   - a decoded Segment agrees with the raw bytes (addresses, ports, seq, ack, flags, window,
//     urgent pointer, payload position and length);
//   - the round trip: encode(decoded) succeeds (unless the canonical header would push the
//     packet over 65535 bytes), decodes again to the same Segment (options as far as the
//     40-byte plan keeps them, counted in the stats), and re-encodes to the same bytes.
#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "fuzz_common.hpp"
#include "options_check.hpp"
#include "ustack/codec.hpp"

using namespace ustack;
using namespace ustack::fuzz;

namespace {

// The reference validity check: the drop reason, or nullopt for a packet that must decode.
std::optional<DropReason> reference_check(const std::vector<std::uint8_t>& p) {
    if (p.size() < 20)
        return DropReason::truncated_ip;
    if ((p[0] >> 4) != 4)
        return DropReason::bad_ip_version;
    const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > p.size())
        return DropReason::bad_ihl;
    if (fold(ones_sum(p.data(), ihl)) != 0xffff)
        return DropReason::bad_ip_checksum;
    const std::size_t total = ustack::load_be16(&p[2]);
    if (total > p.size() || total < ihl)
        return DropReason::bad_total_length;
    const std::uint16_t frag = ustack::load_be16(&p[6]);
    if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0)
        return DropReason::ip_fragment;
    if (p[9] != 6)
        return DropReason::not_tcp;
    const std::size_t tcp_len = total - ihl;
    if (tcp_len < 20)
        return DropReason::truncated_tcp;
    const std::uint8_t* tcp = &p[ihl];
    const std::size_t doff = static_cast<std::size_t>(tcp[12] >> 4) * 4;
    if (doff < 20 || doff > tcp_len)
        return DropReason::bad_data_offset;
    std::uint32_t acc = ones_sum(&p[12], 8) + 6 + static_cast<std::uint32_t>(tcp_len);
    if (fold(ones_sum(tcp, tcp_len, acc)) != 0xffff)
        return DropReason::bad_tcp_checksum;
    for (std::size_t i = 20; i < doff;) {
        const std::uint8_t kind = tcp[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            ++i;
            continue;
        }
        if (i + 1 >= doff)
            return DropReason::bad_option_length;
        const std::size_t len = tcp[i + 1];
        if (len < 2 || len > doff - i)
            return DropReason::bad_option_length;
        i += len;
    }
    return std::nullopt;
}

bool same_payload(std::span<const std::byte> a, std::span<const std::byte> b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const std::uint8_t control = data[0];
    std::vector<std::uint8_t> pkt(data + 1, data + size);
    if (pkt.size() > 65535 + 64)
        return 0;  // a TUN read is at most one IPv4 packet
    if ((control & 1) != 0)
        fix_ip_checksum(pkt);
    if ((control & 2) != 0)
        fix_tcp_checksum(pkt);

    const auto expected_drop = reference_check(pkt);
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(pkt.data()),
                                           pkt.size());
    Codec codec;
    const auto seg = codec.decode(bytes);
    const CodecStats& st = codec.stats();
    FUZZ_CHECK(st.decoded + st.total_drops() == 1, "decoded %llu + dropped %llu != 1 input",
               static_cast<unsigned long long>(st.decoded),
               static_cast<unsigned long long>(st.total_drops()));
    FUZZ_CHECK(seg.has_value() == (st.decoded == 1), "result and stats disagree");
    FUZZ_CHECK(st.drop_count(DropReason::library_error) == 0, "libtins rejected a packet");
    if (expected_drop) {
        FUZZ_CHECK(!seg, "decoded a packet the reference drops as %s",
                   std::string(to_string(*expected_drop)).c_str());
        FUZZ_CHECK(st.drop_count(*expected_drop) == 1, "dropped, but not as %s",
                   std::string(to_string(*expected_drop)).c_str());
        return 0;
    }
    FUZZ_CHECK(seg.has_value(), "dropped a packet the reference accepts");

    // The Segment agrees with the raw bytes.
    const std::size_t ihl = static_cast<std::size_t>(pkt[0] & 0x0f) * 4;
    const std::size_t total = ustack::load_be16(&pkt[2]);
    const std::uint8_t* tcp = &pkt[ihl];
    const std::size_t doff = static_cast<std::size_t>(tcp[12] >> 4) * 4;
    FUZZ_CHECK(seg->src_addr == ustack::load_be32(&pkt[12]) &&
                   seg->dst_addr == ustack::load_be32(&pkt[16]),
               "addresses");
    FUZZ_CHECK(
        seg->src_port == ustack::load_be16(tcp) && seg->dst_port == ustack::load_be16(tcp + 2),
        "ports");
    FUZZ_CHECK(seg->seq.raw() == ustack::load_be32(tcp + 4) &&
                   seg->ack.raw() == ustack::load_be32(tcp + 8),
               "seq/ack");
    FUZZ_CHECK(seg->flags == tcp[13], "flags %02x, wire %02x", seg->flags, tcp[13]);
    FUZZ_CHECK(
        seg->window == ustack::load_be16(tcp + 14) && seg->urgent == ustack::load_be16(tcp + 18),
        "window/urgent");
    FUZZ_CHECK(seg->payload.data() == bytes.data() + ihl + doff &&
                   seg->payload.size() == total - ihl - doff,
               "payload at %td len %zu, expected at %zu len %zu",
               seg->payload.data() - bytes.data(), seg->payload.size(), ihl + doff,
               total - ihl - doff);
    FUZZ_CHECK(seg->options.sack_count <= kMaxSackBlocks, "sack_count %u", seg->options.sack_count);
    FUZZ_CHECK(!seg->options.window_scale || *seg->options.window_scale <= 14, "wscale > 14");
    FUZZ_CHECK(!seg->options.disconnect || seg->options.disconnect->len <= kMaxDisconnectData,
               "disconnect data longer than 36");
    (void)to_string(*seg);

    // Round trip.
    std::vector<std::byte> wire1;
    const bool ok1 = codec.encode(*seg, wire1);
    if (!ok1) {
        // Only legitimate failure: the canonical header is longer than the original one and the
        // packet no longer fits in 65535 bytes.
        FUZZ_CHECK(20 + 60 + seg->payload.size() > 65535,
                   "encode failed for a decoded segment (payload %zu)", seg->payload.size());
        return 0;
    }
    const std::uint64_t sack_dropped = st.sack_blocks_dropped_for_space;
    const bool disc_dropped = st.disconnect_dropped_for_space != 0;
    FUZZ_CHECK(wire1.size() <= 65535 && (wire1.size() - 20 - seg->payload.size()) % 4 == 0 &&
                   wire1.size() - 20 - seg->payload.size() <= 60,
               "encoded header length %zu", wire1.size() - 20 - seg->payload.size());

    Codec codec2;
    const auto seg2 = codec2.decode(wire1);
    FUZZ_CHECK(seg2.has_value(), "our own encoding does not decode (drops %llu)",
               static_cast<unsigned long long>(codec2.stats().total_drops()));
    FUZZ_CHECK(codec2.stats().unknown_options == 0 && codec2.stats().bad_known_option_length == 0 &&
                   codec2.stats().unknown_exid == 0 && codec2.stats().window_scale_clamped == 0,
               "our own encoding has options the decoder skips");
    FUZZ_CHECK(seg2->src_addr == seg->src_addr && seg2->dst_addr == seg->dst_addr &&
                   seg2->src_port == seg->src_port && seg2->dst_port == seg->dst_port,
               "addresses or ports changed in the round trip");
    FUZZ_CHECK(seg2->seq == seg->seq && seg2->ack == seg->ack, "seq/ack changed");
    FUZZ_CHECK(
        seg2->flags == seg->flags && seg2->window == seg->window && seg2->urgent == seg->urgent,
        "flags/window/urgent changed in the round trip");
    FUZZ_CHECK(same_payload(seg2->payload, seg->payload), "payload changed in the round trip");
    check_options_round_trip(seg->options, seg2->options, sack_dropped, disc_dropped);

    // The encoding is canonical: encoding the round-tripped segment gives the same bytes.
    std::vector<std::byte> wire2;
    FUZZ_CHECK(codec2.encode(*seg2, wire2), "re-encode failed");
    FUZZ_CHECK(wire1 == wire2, "encode(decode(encode(s))) != encode(s) (%zu vs %zu bytes)",
               wire1.size(), wire2.size());
    return 0;
}
