// Connection: RFC 7323 timestamps on input -- PAWS and TS.Recent.
//
// Heads up! Read RFC 7323 §3 (TSopt), §4.3 (which TSval to echo) and §5 (PAWS) first. Sending
// side (TSopt and SACK blocks on every segment) is in connection_output.cpp (add_options); RTT
// measurement from TSecr is in on_new_ack (connection_input.cpp).
#include "ustack/connection.hpp"

namespace ustack {

namespace {
// RFC 7323 §5.5: TS.Recent is invalid after 24 days of idleness (at 1 ms per tick the sign bit
// of the difference flips after 24.8 days).
constexpr Duration kPawsIdle = std::chrono::hours(24 * 24);
}  // namespace

bool Connection::paws_reject(const Segment& seg, Instant now) {
    if (!ts_ok_ || seg.has(tcp_flag::rst)) return false;
    if (!seg.options.timestamps) {
        // RFC 7323 §3.2: "If a non-RST segment is received without a TSopt, a TCP SHOULD silently
        // drop the segment."
        stats_.missing_ts_dropped++;
        return true;
    }
    const std::uint32_t v = seg.options.timestamps->tsval;
    if (static_cast<std::int32_t>(v - ts_recent_) >= 0) return false;
    if (now - ts_recent_at_ > kPawsIdle) {
        // §5.5: a TS.Recent this old says nothing; accept, R3 will take the new value.
        ts_recent_ = v;
        ts_recent_at_ = now;
        return false;
    }
    // §5.3 R1: "If ... SEG.TSval < TS.Recent ..., then treat the arriving segment as not
    // acceptable: Send an acknowledgment in reply as specified in RFC 793 page 69 and drop the
    // segment." (Rate-limited like other answers to unacceptable segments.)
    stats_.paws_dropped++;
    ack_pending_ = true;
    return true;
}

void Connection::update_ts_recent(const Segment& seg, Instant now) {
    // §4.3 (2) / §5.3 R3: "If SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent, then
    // SEG.TSval is copied to TS.Recent" -- the echo then dates the oldest unacknowledged data.
    if (!ts_ok_ || !seg.options.timestamps) return;
    const std::uint32_t v = seg.options.timestamps->tsval;
    if (static_cast<std::int32_t>(v - ts_recent_) >= 0 && seg.seq <= last_ack_sent_) {
        ts_recent_ = v;
        ts_recent_at_ = now;
    }
}

}  // namespace ustack
