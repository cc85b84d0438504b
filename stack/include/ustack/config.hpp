// Every engine knob in one place, with the source of its default.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ustack/time.hpp"

namespace ustack {

struct TcpConfig {
    // Largest segment payload we send and the MSS we announce on SYN. 1460 = 1500-byte IPv4 MTU
    // minus 20 (IP) minus 20 (TCP) (RFC 9293 §3.7.1). Without a peer MSS option we send at most
    // 536 (RFC 9293 §3.7.1, MUST-15).
    std::uint16_t mss = 1460;

    // Send and receive buffer sizes in bytes. The receive buffer bounds the advertised window and
    // the out-of-order data we hold (RFC 9293 §3.8.6.2). Buffers are allocated lazily.
    std::size_t send_buffer = 256 * 1024;
    std::size_t recv_buffer = 65535;

    // At most this many disjoint out-of-order ranges are held in reassembly; a segment that would
    // need more is dropped (and re-sent by the peer). Bounds per-connection bookkeeping.
    std::size_t max_ooo_ranges = 32;

    // RFC 6298 §2.1: initial RTO 1 s. §2.4 says the minimum SHOULD be 1 s; like Linux we use
    // 200 ms, which the RFC permits (SHOULD) and which matters on fast paths. §2.5: max >= 60 s.
    Duration rto_initial = 1'000'000us;
    Duration rto_min = 200'000us;
    Duration rto_max = 60'000'000us;
    // Clock granularity G of RFC 6298 §2.
    Duration clock_granularity = 1'000us;

    // Retransmissions of a data segment or FIN before the connection is aborted with
    // timed_out (RFC 9293 §3.8.3 R2: at least 100 s; with backoff 200ms·2^k capped at 60 s,
    // 12 tries cover well over that). Linux tcp_retries2 = 15.
    unsigned max_retransmits = 12;
    // SYN and SYN-ACK retransmissions (Linux tcp_syn_retries = 6, tcp_synack_retries = 5;
    // RFC 9293 §3.8.3 R2 for SYN: at least 3 minutes -- with the 1 s initial RTO, 6 tries give
    // 1+2+4+8+16+32+64 = 127 s; we follow Linux).
    unsigned max_syn_retransmits = 6;
    unsigned max_synack_retransmits = 5;

    // Maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2, MUST-13). RFC 9293 takes
    // MSL = 2 min; DESIGN.md §4 sets our default to 30 s (TIME-WAIT 60 s, as Linux).
    Duration msl = 30'000'000us;

    // Delayed ACK (RFC 1122 §4.2.3.2, RFC 9293 §3.8.6.3): ACK at least every second full-sized
    // segment and within this delay (MUST be < 0.5 s; Linux's minimum is 40 ms).
    bool delayed_ack = true;
    Duration delayed_ack_timeout = 40'000us;

    // Persist timer for zero-window probing (RFC 9293 §3.8.6.1): starts at the RTO, backs off
    // exponentially to this cap.
    Duration persist_max = 60'000'000us;

    // RFC 5961 §7: challenge ACKs are rate-limited; at most this many per second per connection.
    unsigned challenge_ack_limit = 10;

    // Offer and accept the disconnect-data option (DESIGN.md §3). Off by default: kinds 253/254
    // must not be shipped on by default (RFC 3692, RFC 4727).
    bool disconnect_data = false;
};

}  // namespace ustack
