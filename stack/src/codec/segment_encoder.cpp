// SegmentEncoder: see segment_encoder.hpp.
#include "ustack/segment_encoder.hpp"

#include <algorithm>
#include <cstring>

#include "wire.hpp"

namespace ustack {

namespace {

constexpr std::uint8_t kMergeable = tcp_flag::ack | tcp_flag::psh | tcp_flag::fin;
constexpr std::size_t kTcpChecksumOffset = 16;

}  // namespace

SegmentEncoder::SegmentEncoder(Codec& codec, PacketSink& out, std::vector<std::byte>& buffer)
    : codec_(codec), out_(out), buf_(buffer), offload_(out.offload()) {
    if (!offload_.tcp_checksum)
        offload_.max_super_packet = 0;  // GSO needs the link to finish the checksums
    offload_.max_super_packet = std::min(offload_.max_super_packet, Codec::kMaxPacket);
    if (buf_.size() < Codec::kMaxPacket)
        buf_.resize(Codec::kMaxPacket);
}

SegmentEncoder::~SegmentEncoder() {
    flush();
}

bool SegmentEncoder::joins(const Segment& seg) const {
    if (len_ == 0 || offload_.max_super_packet == 0)
        return false;
    const std::size_t n = seg.payload.size();
    return n > 0 && n <= gso_size_ && last_len_ == gso_size_ && flags_ == tcp_flag::ack &&
           (seg.flags & tcp_flag::ack) != 0 && (seg.flags & ~kMergeable) == 0 &&
           seg.seq == next_seq_ && len_ + n <= offload_.max_super_packet &&
           seg.src_addr == first_.src_addr && seg.dst_addr == first_.dst_addr &&
           seg.src_port == first_.src_port && seg.dst_port == first_.dst_port &&
           seg.ack == first_.ack && seg.window == first_.window && seg.urgent == 0 &&
           first_.urgent == 0 && seg.options == first_.options;
}

void SegmentEncoder::emit(const Segment& seg) {
    stats_.segments++;
    if (joins(seg)) {
        std::memcpy(pkt_ + len_, seg.payload.data(), seg.payload.size());
        len_ += seg.payload.size();
        last_len_ = seg.payload.size();
        next_seq_ = next_seq_ + static_cast<std::uint32_t>(seg.payload.size());
        flags_ |= seg.flags;
        segments_++;
        return;
    }
    flush();
    const TcpChecksum csum = offload_.tcp_checksum ? TcpChecksum::partial : TcpChecksum::full;
    std::span<std::byte> room = out_.packet_room();
    if (room.size() < Codec::kMaxPacket)
        room = buf_;
    pkt_ = room.data();
    const std::size_t n = codec_.encode_into(seg, room, csum);
    if (n == 0)
        return;  // counted by the codec
    len_ = n;
    header_len_ = n - seg.payload.size();
    segments_ = 1;
    gso_size_ = seg.payload.size();
    last_len_ = gso_size_;
    flags_ = seg.flags;
    first_ = seg;
    first_.payload = {};
    next_seq_ = seg.seq + static_cast<std::uint32_t>(seg.payload.size());
    if (offload_.max_super_packet == 0 || gso_size_ == 0)
        flush();  // nothing can join it
}

void SegmentEncoder::flush() {
    if (len_ == 0)
        return;
    TxPacketInfo info;
    info.header_len = static_cast<std::uint16_t>(header_len_);
    info.checksum_partial = offload_.tcp_checksum;
    info.csum_start = static_cast<std::uint16_t>(wire::kIpv4MinHeader);
    info.csum_offset = static_cast<std::uint16_t>(kTcpChecksumOffset);
    if (segments_ > 1) {
        // One header for the whole run: total length, IPv4 checksum, the flags of the run (PSH
        // and FIN of the last segment; the kernel clears them on the others) and the partial
        // TCP checksum over the new length.
        std::byte* p = pkt_;
        const auto packet = std::span<const std::byte>(p, len_);
        store_be16(p + 2, static_cast<std::uint16_t>(len_));
        store_be16(p + 10, 0);
        store_be16(p + 10, static_cast<std::uint16_t>(
                               ~wire::fold(wire::ones_sum(packet.first(wire::kIpv4MinHeader)))));
        std::byte* tcp = p + wire::kIpv4MinHeader;
        tcp[13] = static_cast<std::byte>(flags_);
        store_be16(tcp + kTcpChecksumOffset,
                   wire::fold(wire::pseudo_header_sum(packet.first(wire::kIpv4MinHeader),
                                                      len_ - wire::kIpv4MinHeader)));
        info.gso_size = static_cast<std::uint16_t>(gso_size_);
        stats_.super_packets++;
    }
    stats_.packets++;
    out_.send_packet(std::span<const std::byte>(pkt_, len_), info);
    len_ = 0;
    segments_ = 0;
}

}  // namespace ustack
