// Every engine knob in one place, with the source of its default.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ustack/time.hpp"

namespace ustack {

// The congestion controller a connection uses (congestion.hpp). CUBIC is the default, as in
// Linux, macOS and Windows; NewReno is the RFC 5681 / RFC 6582 baseline.
enum class CongestionAlgorithm : std::uint8_t {
    cubic,    // RFC 9438
    newreno,  // RFC 5681 + RFC 6582
    bbr,      // draft-cardwell-iccrg-bbr-congestion-control (model-based; see bbr.cpp)
};

struct TcpConfig {
    // Largest segment payload we send and the MSS we announce on SYN. 1460 = 1500-byte IPv4 MTU
    // minus 20 (IP) minus 20 (TCP) (RFC 9293 §3.7.1). Without a peer MSS option we send at most
    // 536 (RFC 9293 §3.7.1, MUST-15).
    std::uint16_t mss = 1460;

    // Send and receive buffer sizes in bytes. The receive buffer bounds the advertised window and
    // the out-of-order data we hold (RFC 9293 §3.8.6.2). Buffers are allocated lazily, so a large
    // value costs nothing on an idle connection. Windows above 65535 bytes need window scaling
    // (RFC 7323 §2): the shift we announce is the smallest that covers recv_buffer (at most 14,
    // i.e. 1 GiB). 4 MiB (shift 7) lets one connection fill a 1 Gbit/s path with a 30 ms RTT.
    std::size_t send_buffer = std::size_t{256} * 1024;
    std::size_t recv_buffer = 65535;

    // RFC 7323 §2: offer the window-scale option on SYN (used only if both SYNs carry it).
    bool window_scaling = true;
    // RFC 7323 §3: offer timestamps on SYN; when both SYNs carry them every segment does, RTT is
    // measured from TSecr (§4) and PAWS (§5) protects against old duplicates. Costs 12 bytes of
    // option space per segment (the payload per segment shrinks by 12, as in Linux).
    bool timestamps = true;
    // RFC 2018: offer SACK-permitted on SYN; when negotiated we report out-of-order blocks and
    // recover with the RFC 6675 scoreboard.
    bool sack = true;
    // At most this many SACKed ranges are kept in the sender's scoreboard (a bound on
    // per-connection bookkeeping; a range that would exceed it is not recorded and simply
    // retransmitted later).
    std::size_t max_sack_ranges = 32;

    // Congestion control (RFC 5681 §3, RFC 9438). The initial window follows RFC 6928:
    // min(10*MSS, max(2*MSS, 14600)).
    CongestionAlgorithm congestion = CongestionAlgorithm::cubic;
    // RFC 3042: send a new segment on each of the first two duplicate ACKs.
    bool limited_transmit = true;
    // RFC 5681 §3.2 / RFC 6675 §2 DupThresh: duplicate ACKs (or SACKed segments above a hole)
    // that signal a loss.
    unsigned dupthresh = 3;
    // Lost-retransmission detection in SACK recovery (RFC 6675 retransmits each hole once and
    // leaves a lost retransmission to the RTO, §5.1): a retransmission is deemed lost when more
    // than (dupthresh - 1) * SMSS octets sent after it are SACKed while it is not -- RFC 8985's
    // RACK rule (§6.2: a segment is lost if one sent after it was delivered) on sequence numbers
    // instead of per-segment timestamps, as Linux's tcp_mark_lost_retrans did before RACK and
    // draft-scheffenegger-tcpm-lrd specifies. It is then sent again within the same recovery
    // (no further cwnd reduction, as Linux). Off: such holes wait for the RTO.
    bool lost_retransmission_detection = true;

    // Nagle's algorithm (RFC 896, RFC 1122 §4.2.3.4: SHOULD be on; an application MUST be able to
    // turn it off -- Connection::set_nodelay, TCP_NODELAY). true disables it.
    bool nodelay = false;

    // Keep-alive (RFC 1122 §4.2.3.6): off by default (MUST default to off); idle interval MUST be
    // configurable and default to no less than two hours. The interval follows Linux
    // (tcp_keepalive_intvl = 75 s; a host started by WSPStartup uses Windows' 1 s), the count
    // Windows (10 probes, fixed there; Linux tcp_keepalive_probes = 9). After `keepalive_count`
    // unanswered probes the connection closes with keepalive_failed.
    bool keepalive = false;
    Duration keepalive_idle = 7'200'000'000us;
    Duration keepalive_interval = 75'000'000us;
    unsigned keepalive_count = 10;

    // User timeout (RFC 9293 §3.8.3 "USER TIMEOUT", RFC 5482): if sent data stays unacknowledged
    // this long, the connection is aborted with timed_out. 0 = off (the retransmission limit
    // below then decides, as R2 of §3.8.3).
    Duration user_timeout = 0us;

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
    // RFC 8985 §7 Tail Loss Probe: when data is in flight outside recovery and nothing is
    // SACKed, a probe timeout of 2*SRTT (plus 200 ms for a single segment in flight, the
    // worst-case delayed ACK; else 2 ms, as Linux) that ends before the RTO retransmits the last
    // segment once, without touching cwnd, so a lost tail (or lost ACKs of the tail) costs about
    // two round trips instead of an RTO (>= 200 ms). Off in the engine's defaults, so the
    // scripted RFC 6298 tests see the bare RTO; WSP hosts turn it on (tun/src/wsp_startup.cpp).
    bool tail_loss_probe = false;

    bool delayed_ack = true;
    Duration delayed_ack_timeout = 40'000us;

    // Persist timer for zero-window probing (RFC 9293 §3.8.6.1): starts at the RTO, backs off
    // exponentially to this cap (Linux: TCP_RTO_MAX, 120 s; we use the RTO cap).
    Duration persist_max = 60'000'000us;

    // RFC 5961 §7: challenge ACKs are rate-limited; at most this many per second per connection.
    unsigned challenge_ack_limit = 10;

    // Offer and accept the disconnect-data option (DESIGN.md §3). Off by default: kinds 253/254
    // must not be shipped on by default (RFC 3692, RFC 4727).
    bool disconnect_data = false;

    // DESIGN.md §3c: a conditional listener (Stack::listen, `conditional`) holds each new SYN
    // unanswered until the application decides on it (Stack::decide_front); a held request
    // nobody decides on is dropped after this long (StackStats::held_requests_expired), and the
    // client's next retransmitted SYN, if any, becomes a new request at the back of the queue.
    // 30 s: longer than a Windows client waits for a SYN-ACK before its connect fails (21 s:
    // 3 s initial RTO, two retries), and about as long as Linux's first five SYN retransmissions
    // (1+2+4+8+16 = 31 s of its 127 s); a request older than that answers a client that has
    // likely given up, and an application that stopped deciding frees the backlog within it.
    Duration held_request_timeout = 30'000'000us;

    // A message-oriented connection (DESIGN.md §3b): its SYN carries the message-mode option
    // (kind 253, ExID 0xD15D), its SYN-ACK echoes it, and it goes on only if the peer's SYN-ACK
    // (SYN) carries it too -- else it is refused (syn_options.hpp, syn_refused). Not a host
    // setting but a socket's: the Stack sets it for each connection from the message_mode
    // argument of connect() or listen(), whatever StackConfig::tcp says. Connection takes it
    // from here like the buffer sizes.
    bool message_mode = false;
};

}  // namespace ustack
