// SegmentEncoder: the engine's output (Segments) to a link's input (IPv4 packets), with TCP
// segmentation offload when the link has it.
//
//   Stack::poll_transmit ─emit(seg)▶ SegmentEncoder ─send_packet(bytes, info)▶ PacketSink (device)
//
// Without offload every Segment becomes one packet with full checksums. With a link that splits
// super-packets (LinkOffload::max_super_packet, a TUN device with IFF_VNET_HDR + TUN_F_TSO4),
// runs of consecutive segments of one connection that differ only in sequence number are merged
// into one IPv4 packet of up to 64 KB, which the kernel cuts back into exactly those segments
// (virtio-net GSO, as Linux's own TCP hands its NIC). A segment joins the packet being built when
//   - it has the same addresses, ports, ACK number, window and options (the kernel copies the
//     header, options included, to every segment it cuts),
//   - it starts where the packet's data ends, and every segment already in it is full-sized
//     (gso_size = the first segment's payload; only the last may be shorter),
//   - its flags are ACK, possibly with PSH or FIN, and the packet so far has ACK only (the
//     kernel puts PSH and FIN on the last segment only; SYN, RST, URG, ECE, CWR never merge),
//   - the packet stays within max_super_packet bytes.
// Anything else first sends the packet being built, so packets leave in the engine's order.
// Payload bytes are copied once, from the send buffer into the packet -- built in the sink's own
// storage when it offers room (PacketSink::packet_room), so a sink that keeps packets copies
// nothing more; nothing is allocated per segment (the buffers are reused).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ustack/codec.hpp"
#include "ustack/segment.hpp"

namespace ustack {

struct EncoderStats {
    std::uint64_t packets = 0;        // handed to the PacketSink
    std::uint64_t super_packets = 0;  // of which carried more than one segment
    std::uint64_t segments = 0;       // segments encoded
};

class SegmentEncoder final : public SegmentSink {
public:
    // `buffer` is scratch space kept by the caller between uses (its capacity is reused).
    SegmentEncoder(Codec& codec, PacketSink& out, std::vector<std::byte>& buffer);
    ~SegmentEncoder() override;  // flushes
    SegmentEncoder(const SegmentEncoder&) = delete;
    SegmentEncoder& operator=(const SegmentEncoder&) = delete;

    void emit(const Segment& seg) override;
    // Send the packet being built, if any.
    void flush();

    [[nodiscard]] const EncoderStats& stats() const { return stats_; }

private:
    [[nodiscard]] bool joins(const Segment& seg) const;

    Codec& codec_;
    PacketSink& out_;
    std::vector<std::byte>& buf_;
    LinkOffload offload_;
    EncoderStats stats_;

    // The packet being built (len_ == 0: none), at pkt_: the sink's packet_room() or buf_.
    std::byte* pkt_ = nullptr;
    std::size_t len_ = 0;
    std::size_t header_len_ = 0;
    std::size_t segments_ = 0;
    std::size_t gso_size_ = 0;   // payload of the first segment
    std::size_t last_len_ = 0;   // payload of the last segment
    std::uint8_t flags_ = 0;     // union of the segments' flags
    Segment first_;              // header fields of the first segment (payload not used)
    SeqNum next_seq_;            // where the packet's data ends
};

}  // namespace ustack
