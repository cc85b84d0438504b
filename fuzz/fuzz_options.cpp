// fuzz_options: the TCP option parser and the option encoder (stack/src/codec/tcp_options.cpp).
//
// The option code is internal to the codec (tcp_options.hpp is not a public header), so it is
// fuzzed through Codec: a valid IPv4/TCP packet is built around the fuzzed option bytes (data
// offset, lengths and both checksums right), so every input reaches the option list.
//
// Input byte 0 selects the mode:
//   even: PARSE  -- byte 1: TCP flags; byte 2: payload length (0..63); then up to 40 option bytes.
//         The decoded TcpOptions and the option counters must equal what an independent
//         reference parser (below, from RFC 9293 §3.2, RFC 7323, RFC 2018, RFC 6994 and the rules
//         codec.hpp documents) computes -- including "later wins", skipped wrong lengths, the
//         window-scale clamp, the two ExIDs of ours under kind 253 (DESIGN.md §3 disconnect
//         data, §3b message mode: length 4 only) and the structural drop (bad_option_length).
//         What parses is then encoded and decoded again (the options survive, but for what the
//         40-byte plan drops).
//   odd:  ENCODE -- the rest describes a TcpOptions value (any combination, sack_count up to 7,
//         disconnect data 0..36 bytes, message mode). Encoding must succeed with a header <= 60
//         bytes of the
//         length the documented layout predicts, dropping SACK blocks only while they do not fit
//         and the disconnect option only if it cannot fit at all; decoding gives the options back.
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

constexpr std::uint32_t kSrc = 0x0a000102;  // 10.0.1.2
constexpr std::uint32_t kDst = 0x0a000202;  // 10.0.2.2

struct Expected {
    bool malformed = false;  // bad_option_length: the packet is dropped
    TcpOptions opts;
    std::uint64_t unknown_options = 0;
    std::uint64_t unknown_exid = 0;
    std::uint64_t bad_disconnect_option = 0;
    std::uint64_t bad_message_option = 0;
    std::uint64_t bad_known_option_length = 0;
    std::uint64_t window_scale_clamped = 0;
};

// The reference parser over the option area of a header (zero padding included).
Expected reference_parse(std::span<const std::uint8_t> o) {
    Expected e;
    std::size_t i = 0;
    while (i < o.size()) {
        const std::uint8_t kind = o[i];
        if (kind == 0)
            break;        // EOL
        if (kind == 1) {  // NOP
            ++i;
            continue;
        }
        if (i + 1 >= o.size()) {
            e.malformed = true;
            return e;
        }
        const std::size_t len = o[i + 1];
        if (len < 2 || len > o.size() - i) {
            e.malformed = true;
            return e;
        }
        const auto d = o.subspan(i + 2, len - 2);
        switch (kind) {
            case 2:
                if (len == 4)
                    e.opts.mss = ustack::load_be16(d.data());
                else
                    e.bad_known_option_length++;
                break;
            case 3:
                if (len == 3) {
                    if (d[0] > 14)
                        e.window_scale_clamped++;
                    e.opts.window_scale = std::min<std::uint8_t>(d[0], 14);
                } else {
                    e.bad_known_option_length++;
                }
                break;
            case 4:
                if (len == 2)
                    e.opts.sack_permitted = true;
                else
                    e.bad_known_option_length++;
                break;
            case 5: {
                const std::size_t n = d.size() / 8;
                if (d.size() % 8 != 0 || n == 0 || n > 4) {
                    e.bad_known_option_length++;
                    break;
                }
                e.opts.sack_count = static_cast<std::uint8_t>(n);
                for (std::size_t b = 0; b < n; ++b)
                    e.opts.sack[b] = SackBlock{SeqNum(ustack::load_be32(&d[b * 8])),
                                               SeqNum(ustack::load_be32(&d[b * 8 + 4]))};
                break;
            }
            case 8:
                if (len == 10)
                    e.opts.timestamps =
                        Timestamps{ustack::load_be32(d.data()), ustack::load_be32(d.data() + 4)};
                else
                    e.bad_known_option_length++;
                break;
            case 253:
                // RFC 6994 §3: a 16-bit ExID first. 0xD15C: disconnect data, any N (DESIGN.md
                // §3); 0xD15D: message mode, exactly fd 04 d1 5d (§3b).
                if (d.size() < 2) {
                    e.bad_disconnect_option++;
                } else if (ustack::load_be16(d.data()) == 0xD15C) {
                    e.opts.disconnect = DisconnectData::from(std::as_bytes(d.subspan(2)));
                } else if (ustack::load_be16(d.data()) == 0xD15D) {
                    if (len == 4)
                        e.opts.message_mode = true;
                    else
                        e.bad_message_option++;
                } else {
                    e.unknown_exid++;
                }
                break;
            case 254:
                if (d.size() < 2)
                    e.unknown_options++;
                else
                    e.unknown_exid++;
                break;
            default: e.unknown_options++; break;
        }
        i += len;
    }
    return e;
}

std::vector<std::uint8_t> packet_around(std::span<const std::uint8_t> opts, std::uint8_t flags,
                                        std::size_t payload_len) {
    const std::size_t opt_space = (opts.size() + 3) & ~std::size_t{3};
    auto p = ipv4_tcp_skeleton(kSrc, kDst, 20 + opt_space, payload_len);
    std::uint8_t* tcp = &p[20];
    ustack::store_be16(tcp, 49152);
    ustack::store_be16(tcp + 2, 8080);
    ustack::store_be32(tcp + 4, 0x01020304);
    ustack::store_be32(tcp + 8, 0x0a0b0c0d);
    tcp[13] = flags;
    ustack::store_be16(tcp + 14, 65535);
    if (!opts.empty())
        std::memcpy(tcp + 20, opts.data(), opts.size());
    for (std::size_t i = 0; i < payload_len; ++i)
        tcp[20 + opt_space + i] = static_cast<std::uint8_t>(i * 7 + 1);
    fix_ip_checksum(p);
    fix_tcp_checksum(p);
    return p;
}

// Encode `seg`, check the layout the documentation predicts, decode, compare.
void round_trip(const Segment& seg) {
    const TcpOptions& o = seg.options;
    Codec codec;
    std::vector<std::byte> wire;
    FUZZ_CHECK(codec.encode(seg, wire), "encode failed");
    const CodecStats& st = codec.stats();

    // Predicted layout (codec.hpp, Codec::encode).
    const bool ts = o.timestamps.has_value();
    const std::size_t fixed = (o.mss ? 4 : 0) + (ts ? 12 : 0) + (o.sack_permitted && !ts ? 4 : 0) +
                              (o.window_scale ? 4 : 0) + (o.message_mode ? 4 : 0);
    std::size_t disc = 0;
    bool disc_dropped = false;
    if (o.disconnect) {
        disc = (4 + o.disconnect->len + 3) & ~std::size_t{3};
        if (fixed + disc > 40) {
            disc = 0;
            disc_dropped = true;
        }
    }
    std::size_t blocks = std::min<std::size_t>(o.sack_count, 4);
    while (blocks > 0 && fixed + disc + 4 + 8 * blocks > 40) --blocks;
    const std::size_t opt_len = fixed + disc + (blocks > 0 ? 4 + 8 * blocks : 0);
    const std::size_t header = wire.size() - 20 - seg.payload.size();
    FUZZ_CHECK(header == 20 + opt_len, "TCP header %zu bytes, layout predicts %zu", header,
               20 + opt_len);
    FUZZ_CHECK(st.sack_blocks_dropped_for_space == o.sack_count - blocks,
               "SACK blocks dropped: %llu counted, %zu expected",
               static_cast<unsigned long long>(st.sack_blocks_dropped_for_space),
               o.sack_count - blocks);
    FUZZ_CHECK((st.disconnect_dropped_for_space != 0) == disc_dropped,
               "disconnect option dropped: counted %llu, expected %d",
               static_cast<unsigned long long>(st.disconnect_dropped_for_space), disc_dropped);

    const auto back = codec.decode(wire);
    FUZZ_CHECK(back.has_value(), "our own encoding does not decode");
    check_options_round_trip(o, back->options, st.sack_blocks_dropped_for_space, disc_dropped);
}

void parse_mode(Reader& in) {
    const std::uint8_t flags = in.u8();
    const std::size_t payload_len = in.u8() & 63;
    const auto opts = in.bytes(40);
    const auto p = packet_around(opts, flags, payload_len);
    const std::size_t opt_space = (opts.size() + 3) & ~std::size_t{3};
    const Expected e = reference_parse(std::span(p).subspan(40, opt_space));

    Codec codec;
    const auto seg = codec.decode(std::as_bytes(std::span(p)));
    const CodecStats& st = codec.stats();
    if (e.malformed) {
        FUZZ_CHECK(!seg && st.drop_count(DropReason::bad_option_length) == 1,
                   "a malformed option list was not dropped as bad_option_length");
        return;
    }
    FUZZ_CHECK(seg.has_value(), "well-formed option list dropped (library_error %llu)",
               static_cast<unsigned long long>(st.drop_count(DropReason::library_error)));
    FUZZ_CHECK(seg->options == e.opts, "decoded options differ from the reference: %s",
               to_string(*seg).c_str());
    FUZZ_CHECK(st.unknown_options == e.unknown_options && st.unknown_exid == e.unknown_exid &&
                   st.bad_disconnect_option == e.bad_disconnect_option &&
                   st.bad_message_option == e.bad_message_option &&
                   st.bad_known_option_length == e.bad_known_option_length &&
                   st.window_scale_clamped == e.window_scale_clamped,
               "option counters differ: unknown %llu/%llu exid %llu/%llu baddisc %llu/%llu "
               "badmsg %llu/%llu badlen %llu/%llu clamp %llu/%llu",
               static_cast<unsigned long long>(st.unknown_options),
               static_cast<unsigned long long>(e.unknown_options),
               static_cast<unsigned long long>(st.unknown_exid),
               static_cast<unsigned long long>(e.unknown_exid),
               static_cast<unsigned long long>(st.bad_disconnect_option),
               static_cast<unsigned long long>(e.bad_disconnect_option),
               static_cast<unsigned long long>(st.bad_message_option),
               static_cast<unsigned long long>(e.bad_message_option),
               static_cast<unsigned long long>(st.bad_known_option_length),
               static_cast<unsigned long long>(e.bad_known_option_length),
               static_cast<unsigned long long>(st.window_scale_clamped),
               static_cast<unsigned long long>(e.window_scale_clamped));
    round_trip(*seg);
}

void encode_mode(Reader& in) {
    Segment seg;
    seg.src_addr = kSrc;
    seg.dst_addr = kDst;
    seg.src_port = 49152;
    seg.dst_port = 8080;
    seg.seq = SeqNum(in.u32());
    seg.ack = SeqNum(in.u32());
    const std::uint8_t present = in.u8();
    seg.flags = in.u8();
    TcpOptions& o = seg.options;
    if ((present & 0x01) != 0)
        o.mss = in.u16();
    if ((present & 0x02) != 0)
        o.window_scale = in.u8();
    o.sack_permitted = (present & 0x04) != 0;
    if ((present & 0x08) != 0)
        o.timestamps = Timestamps{in.u32(), in.u32()};
    if ((present & 0x10) != 0) {
        o.sack_count = static_cast<std::uint8_t>(in.u8() % 8);  // above 4: counted as dropped
        for (std::size_t b = 0; b < std::min<std::size_t>(o.sack_count, 4); ++b)
            o.sack[b] = SackBlock{SeqNum(in.u32()), SeqNum(in.u32())};
    }
    if ((present & 0x20) != 0) {
        const std::size_t n = in.u8() % (kMaxDisconnectData + 1);
        const auto d = in.bytes(n);
        o.disconnect = DisconnectData::from(std::as_bytes(d));
    }
    o.message_mode = (present & 0x40) != 0;
    std::vector<std::byte> payload(in.u8() & 15, std::byte{0x5a});
    seg.payload = payload;
    round_trip(seg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in(data, size);
    if ((in.u8() & 1) == 0) {
        parse_mode(in);
    } else {
        encode_mode(in);
    }
    return 0;
}
