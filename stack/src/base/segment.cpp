#include "ustack/segment.hpp"

#include <algorithm>
#include <cstring>

namespace ustack {

std::string ipv4_to_string(Ipv4Addr a) {
    return std::to_string((a >> 24) & 0xff) + "." + std::to_string((a >> 16) & 0xff) + "." +
           std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

std::string to_string(const Endpoint& e) {
    return ipv4_to_string(e.addr) + ":" + std::to_string(e.port);
}

std::string flags_to_string(std::uint8_t flags) {
    std::string s;
    if (flags & tcp_flag::syn)
        s += 'S';
    if (flags & tcp_flag::fin)
        s += 'F';
    if (flags & tcp_flag::rst)
        s += 'R';
    if (flags & tcp_flag::psh)
        s += 'P';
    if (flags & tcp_flag::urg)
        s += 'U';
    if (flags & tcp_flag::ece)
        s += 'E';
    if (flags & tcp_flag::cwr)
        s += 'W';
    if (flags & tcp_flag::ack)
        s += '.';
    return s.empty() ? "none" : s;
}

bool DisconnectData::operator==(const DisconnectData& o) const {
    return len == o.len && std::equal(bytes.begin(), bytes.begin() + len, o.bytes.begin());
}

DisconnectData DisconnectData::from(std::span<const std::byte> d) {
    DisconnectData out;
    out.len = static_cast<std::uint8_t>(std::min(d.size(), kMaxDisconnectData));
    std::copy_n(d.begin(), out.len, out.bytes.begin());
    return out;
}

std::string to_string(const Segment& s) {
    std::string r = to_string(s.src()) + " > " + to_string(s.dst()) + " [" +
                    flags_to_string(s.flags) + "] seq " + std::to_string(s.seq.raw());
    if (s.has(tcp_flag::ack))
        r += " ack " + std::to_string(s.ack.raw());
    r += " win " + std::to_string(s.window) + " len " + std::to_string(s.payload.size());
    const auto& o = s.options;
    if (o.mss)
        r += " mss " + std::to_string(*o.mss);
    if (o.window_scale)
        r += " wscale " + std::to_string(*o.window_scale);
    if (o.sack_permitted)
        r += " sackOK";
    for (std::size_t i = 0; i < o.sack_count; ++i)
        r += " sack " + std::to_string(o.sack[i].left.raw()) + ":" +
             std::to_string(o.sack[i].right.raw());
    if (o.timestamps)
        r += " TS " + std::to_string(o.timestamps->tsval) + ":" +
             std::to_string(o.timestamps->tsecr);
    if (o.message_mode)
        r += " msg";
    if (o.disconnect)
        r += " disc[" + std::to_string(o.disconnect->len) + "]";
    return r;
}

OwnedSegment::OwnedSegment(const Segment& s) : seg_(s), data_(s.payload.begin(), s.payload.end()) {
    seg_.payload = data_;
}
OwnedSegment::OwnedSegment(const OwnedSegment& o) : seg_(o.seg_), data_(o.data_) {
    seg_.payload = data_;
}
OwnedSegment& OwnedSegment::operator=(const OwnedSegment& o) {
    if (this != &o) {
        seg_ = o.seg_;
        data_ = o.data_;
        seg_.payload = data_;
    }
    return *this;
}
OwnedSegment::OwnedSegment(OwnedSegment&& o) noexcept : seg_(o.seg_), data_(std::move(o.data_)) {
    seg_.payload = data_;
    o.seg_.payload = {};
}
OwnedSegment& OwnedSegment::operator=(OwnedSegment&& o) noexcept {
    if (this != &o) {
        seg_ = o.seg_;
        data_ = std::move(o.data_);
        seg_.payload = data_;
        o.seg_.payload = {};
    }
    return *this;
}

}  // namespace ustack
