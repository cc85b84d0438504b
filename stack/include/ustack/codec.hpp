// Codec: IPv4/TCP wire bytes <-> ustack::Segment, with libtins (DESIGN.md §1).
//
// Heads up, read first: RFC 791 §3.1 (IPv4 header), RFC 9293 §3.1 (TCP header) and §3.2 (options,
// MUST-4..7, MUST-64), RFC 7323 §2-3 (window scale, timestamps), RFC 2018 §2-3 (SACK), RFC 6994
// §3 (experimental option ExIDs) and DESIGN.md §3 (the disconnect-data option) and §3b (the
// message-mode option).
//
// The codec sits at the boundary: the engine only sees `Segment` values, never libtins types or
// wire bytes. libtins parses and serializes the headers, but it neither checks checksums, nor the
// 40-byte option limit, and it throws on malformed options. So the codec
//   - validates the raw bytes first and drops what is malformed, counting why (DropReason);
//   - hands libtins only what it has validated, and catches anything libtins throws;
//   - never throws and never lets a malformed header reach the engine.
// A bad packet is never an error (STYLE.md §3.11a): it is dropped and counted.
//
// Two backends parse and build the same bytes (Config::backend). `native` (the default, used on
// the data path) reads and writes the validated headers directly and never allocates; `libtins`
// goes through Tins::IP / Tins::TCP PDUs (a few heap allocations and copies per packet) and is
// the reference the tests check the native backend against, field by field and byte by byte.
// Profiles of the TUN fast path showed libtins' per-packet allocation, copying and checksum
// among the top costs once offload removed the per-packet system calls (README "Performance").
//
// Threading: a Codec is not thread-safe; use one per engine thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ustack/segment.hpp"

namespace ustack {

// Why decode() dropped a packet. One list (X-macro) gives the enumerators and to_string().
#define USTACK_CODEC_DROP_REASONS(X)                                                            \
    X(truncated_ip)      /* fewer than 20 bytes: no room for the IPv4 header (RFC 791 §3.1) */ \
    X(bad_ip_version)    /* version field is not 4 */                                           \
    X(bad_ihl)           /* IHL < 5, or the header runs past the buffer */                      \
    X(bad_ip_checksum)   /* header checksum does not verify (RFC 791 §3.1, RFC 1071) */        \
    X(bad_total_length)  /* total length > buffer, or < IHL*4 */                                \
    X(ip_fragment)       /* MF set or fragment offset != 0: we do not reassemble */             \
    X(not_tcp)           /* protocol is not 6 */                                                \
    X(truncated_tcp)     /* IP payload shorter than the 20-byte TCP header (RFC 9293 §3.1) */  \
    X(bad_data_offset)   /* data offset < 5, or the TCP header runs past the IP payload */      \
    X(bad_tcp_checksum)  /* checksum over pseudo-header + segment does not verify */            \
    X(bad_option_length) /* an option's length is < 2 or runs past the header (MUST-7) */       \
    X(library_error)     /* libtins threw (or disagreed with our validation) */

// clang-format off
enum class DropReason : std::uint8_t {
#define USTACK_X(name) name,
    USTACK_CODEC_DROP_REASONS(USTACK_X)
#undef USTACK_X
    count_
};
// clang-format on
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);

std::string_view to_string(DropReason r);

// Counters. Drops are outcomes, not errors. The option counters count options that were
// skipped while their packet was still accepted (RFC 9293 §3.2 MUST-5: ignore what we do not
// implement; DESIGN.md §3: a malformed disconnect option is ignored, never fatal).
struct CodecStats {
    std::array<std::uint64_t, kDropReasonCount> drops{};  // indexed by DropReason
    std::uint64_t decoded = 0;                            // packets turned into a Segment
    std::uint64_t encoded = 0;                            // segments turned into a packet

    // decode: options skipped or adjusted (the packet is kept)
    std::uint64_t unknown_options = 0;          // a kind outside our closed set, skipped by length
    std::uint64_t unknown_exid = 0;             // kind 253/254 with an ExID other than ours
    std::uint64_t bad_disconnect_option = 0;    // kind 253 with length < 4 (no room for an ExID)
    std::uint64_t bad_message_option = 0;       // kind 253 / ExID 0xD15D with length != 4
    std::uint64_t bad_known_option_length = 0;  // e.g. MSS with length 3: that option skipped
    std::uint64_t window_scale_clamped = 0;     // shift > 14 received, 14 used (RFC 7323 §2.3)

    // encode: what did not fit in the 40-byte option space, or could not be encoded at all
    std::uint64_t sack_blocks_dropped_for_space = 0;
    std::uint64_t disconnect_dropped_for_space = 0;  // the whole disconnect option left out
    std::uint64_t encode_failures = 0;  // nothing produced (oversized payload, libtins failure)

    [[nodiscard]] std::uint64_t drop_count(DropReason r) const {
        return drops[static_cast<std::size_t>(r)];
    }
    [[nodiscard]] std::uint64_t total_drops() const;
};

// One received IPv4 packet and what the link says about it.
struct RxPacket {
    std::span<const std::byte> bytes;
    // The link has verified the TCP checksum, or the packet never crossed a wire and carries a
    // partial one (virtio-net DATA_VALID / NEEDS_CSUM from a TUN device with offload): decode()
    // does not recompute it. The IPv4 header checksum is always checked.
    bool checksum_checked = false;
};

// How encode_into() leaves the TCP checksum field.
enum class TcpChecksum : std::uint8_t {
    full,     // computed over the pseudo-header, header and data (RFC 9293 §3.1)
    partial,  // the folded pseudo-header sum only; the link completes it (virtio-net NEEDS_CSUM)
};

// What the link does for us on transmit (a TUN device with IFF_VNET_HDR and TUNSETOFFLOAD).
struct LinkOffload {
    bool tcp_checksum = false;         // completes partial TCP checksums
    std::size_t max_super_packet = 0;  // > 0: splits a TCP super-packet of up to this many bytes
                                       // into gso_size segments (TSO); needs tcp_checksum
};

// What the link must do with one transmitted packet.
struct TxPacketInfo {
    std::uint16_t gso_size = 0;     // > 0: a super-packet; payload bytes per wire segment
    bool checksum_partial = false;  // the TCP checksum field holds the pseudo-header sum only
    std::uint16_t csum_start = 0;   // where the checksummed part starts (the TCP header)
    std::uint16_t csum_offset = 0;  // where the checksum field is, from csum_start
    std::uint16_t header_len = 0;   // IPv4 + TCP header bytes
};

// Where encoded IPv4 packets go (a host's device, a capture, a test).
class PacketSink {
public:
    virtual ~PacketSink() = default;
    virtual void send_packet(std::span<const std::byte> ip_packet, const TxPacketInfo& info) = 0;
    // What the link can do; the default is nothing (whole packets with full checksums).
    [[nodiscard]] virtual LinkOffload offload() const { return {}; }
    // Where SegmentEncoder builds its next packet: empty (the default) for the encoder's own
    // scratch buffer, which send_packet must then copy from if it keeps the packet. A sink that
    // keeps packets for later (a host writing them after releasing its lock) hands out room of
    // at least Codec::kMaxPacket bytes in its own storage instead; a packet built there reaches
    // send_packet in place and is kept without a copy. The room stays valid until the next call.
    [[nodiscard]] virtual std::span<std::byte> packet_room() { return {}; }
};

class Codec {
public:
    enum class Backend : std::uint8_t { native, libtins };
    struct Config {
        std::uint8_t ttl = 64;      // RFC 1700 / Linux default; IPv4 TTL of encoded packets
        bool dont_fragment = true;  // DF on encoded packets (we never fragment; RFC 1191 PMTUD)
        Backend backend = Backend::native;
    };

    // The largest IPv4 packet and the largest IPv4 (no options) + TCP header we encode.
    static constexpr std::size_t kMaxPacket = 65535;
    static constexpr std::size_t kMaxHeaders = 20 + 60;

    Codec() = default;
    explicit Codec(const Config& config) : config_(config) {}

    // Decode one IPv4 packet as read from a TUN device opened with IFF_NO_PI.
    //
    // On success the Segment's payload borrows from `packet` (valid while `packet` is). Bytes
    // past the IPv4 total length are ignored (link padding). IPv4 options are skipped.
    // On failure: nullopt, the reason counted in stats().drops. Never throws.
    //
    // Options (RFC 9293 §3.2): EOL ends the list, NOP is skipped, any other kind needs a length
    // >= 2 that stays inside the header, else the packet is dropped (bad_option_length). A
    // known kind with the wrong length (e.g. MSS with length 3) is skipped and counted, the rest
    // of the packet is kept. Window scale > 14 is clamped to 14 (RFC 7323 §2.3). Kind 253 with
    // ExID 0xD15C is the disconnect option (DESIGN.md §3), with ExID 0xD15D and length 4 the
    // message-mode option (§3b; any other length is skipped and counted, bad_message_option);
    // other ExIDs under 253/254 are skipped. Options need not be aligned (MUST-64). If an
    // option appears twice, the later wins. Options are reported whatever the flags: which
    // segments may carry which option (MSS and message mode on SYN only, disconnect data on SYN
    // or FIN only) is the engine's rule, not the codec's.
    // With `checksum_checked` the TCP checksum is taken as verified by the link (RxPacket).
    [[nodiscard]] std::optional<Segment> decode(std::span<const std::byte> packet,
                                                bool checksum_checked = false) noexcept;
    [[nodiscard]] std::optional<Segment> decode(const RxPacket& p) noexcept {
        return decode(p.bytes, p.checksum_checked);
    }

    // Encode `seg` as one IPv4 packet (IHL 5, id 0, TTL and DF from Config) carrying one TCP
    // segment, both checksums computed, into `out` (resized to the packet). Never throws.
    //
    // Option layout, Linux's order (each group a multiple of 4 bytes, so nothing trails):
    //   MSS(4) | SACKOK(2) TS(10), or NOP NOP TS(10), or NOP NOP SACKOK(2) when there is no TS |
    //   NOP WS(3) | message mode(4) | NOP NOP SACK(2+8n) | NOP.. disconnect(4+N), NOPs first
    // so it ends on a word. The total never exceeds 40 bytes. MSS, SACKOK, TS, WS and message
    // mode always fit (24 bytes at most).
    // SACK blocks yield to the disconnect option (DESIGN.md §3): they are dropped from the end
    // until everything fits (counted in sack_blocks_dropped_for_space, as is a sack_count above
    // 4). The disconnect option is left out whole (counted) only if it cannot fit even with no
    // SACK blocks -- an engine bug, since the engine enforces the per-connection limit.
    //
    // Returns false, with `out` empty and encode_failures counted, only if the packet cannot be
    // built: the IPv4 total length would exceed 65535, or libtins failed (e.g. out of memory).
    bool encode(const Segment& seg, std::vector<std::byte>& out) noexcept;

    // The same packet, written into `out` without allocating (native backend whatever
    // Config::backend says). Returns the packet's size, or 0 (encode_failures counted) when it
    // exceeds 65535 bytes or `out` is too small. With TcpChecksum::partial the checksum field
    // holds the folded pseudo-header sum, for a link that completes it.
    std::size_t encode_into(const Segment& seg, std::span<std::byte> out,
                            TcpChecksum checksum = TcpChecksum::full) noexcept;

    [[nodiscard]] const CodecStats& stats() const { return stats_; }
    [[nodiscard]] const Config& config() const { return config_; }

private:
    bool encode_libtins(const Segment& seg, std::vector<std::byte>& out) noexcept;
    std::optional<Segment> drop(DropReason r) {
        stats_.drops[static_cast<std::size_t>(r)]++;
        return std::nullopt;
    }

    Config config_;
    CodecStats stats_;
};

}  // namespace ustack
