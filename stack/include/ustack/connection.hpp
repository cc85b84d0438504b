// Connection: one TCP connection's state machine (RFC 9293), sans I/O.
//
// Heads up! Read these before changing this file:
//   RFC 9293  TCP (§3.3.2 state diagram, §3.10 event processing, §3.8 timers and windows)
//   RFC 6298  retransmission timer          RFC 5961  blind-attack hardening (challenge ACKs)
//   RFC 1337  TIME-WAIT assassination       RFC 2525 §2.17  RST on close with unread data
//   RFC 5681  congestion control, RFC 6582 NewReno, RFC 9438 CUBIC (congestion.hpp), RFC 3042
//             limited transmit, RFC 6928 initial window
//   RFC 7323  window scaling, timestamps, RTTM, PAWS   RFC 2018 / RFC 6675  SACK and its recovery
//   RFC 1122  §4.2.3.2 delayed ACK, §4.2.3.3/4 SWS avoidance and Nagle, §4.2.3.6 keep-alive
//   DESIGN.md §3 (disconnect-data option), §3b (message-mode negotiation), §3c (connect data on
//             the SYN and SYN-ACK) and §4 (teardown)
//
// Contract (the quinn-proto / ngtcp2 shape):
//   inputs   on_segment(seg, now)        a segment addressed to this connection's 4-tuple
//            on_timeout(now)             call when now >= poll_timeout()
//            open_active / open_passive, send, recv, shutdown_send, shutdown_receive, close, abort
//   outputs  poll_transmit(now, sink)    segments to send (zero or more)
//            poll_timeout()              the next deadline, or nullopt
//            poll_event()                what the application should learn (connected, readable,
//                                        writable, peer FIN, closed + reason)
// Call order: after any input, call poll_transmit until it emits nothing more (one call emits
// everything currently allowed), then poll_timeout to re-arm the host's timer. `now` must never go
// backwards. The connection never reads a clock, allocates only its buffers (lazily), never
// throws on bad input: a segment that should not be accepted is dropped, answered with a RST or
// a (challenge) ACK, and counted in stats().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "ustack/assembler.hpp"
#include "ustack/config.hpp"
#include "ustack/congestion.hpp"
#include "ustack/errc.hpp"
#include "ustack/rate_sampler.hpp"
#include "ustack/ring_buffer.hpp"
#include "ustack/rtt.hpp"
#include "ustack/segment.hpp"
#include "ustack/seq.hpp"
#include "ustack/time.hpp"

namespace ustack {

// RFC 9293 §3.3.2. `listen` is never the state of a Connection object (listeners live in Stack);
// it is here so the whole diagram has names.
enum class TcpState : std::uint8_t {
    closed,
    listen,
    syn_sent,
    syn_received,
    established,
    fin_wait_1,
    fin_wait_2,
    close_wait,
    closing,
    last_ack,
    time_wait,
};
std::string_view to_string(TcpState s);

// Why a connection reached CLOSED (RFC 9293 MUST-12: the application learns whether it closed
// normally or was aborted).
enum class CloseReason : std::uint8_t {
    none,       // not closed yet
    graceful,   // both FINs exchanged and acknowledged (after TIME-WAIT, or LAST-ACK acked)
    reset,      // the peer sent an acceptable RST
    refused,    // RST in answer to our SYN (SYN-SENT), or to our SYN-ACK of a simultaneous open;
                // or we refused the peer: a message-mode connect whose peer's SYN-ACK (or SYN)
                // lacked the message-mode option (DESIGN.md §3b; we sent a RST)
    timed_out,  // retransmissions exhausted (SYN, data or FIN)
    aborted,    // we reset it: abort(), close or receive shutdown with unread data, data after
                // receive shutdown
    keepalive_failed,  // RFC 1122 §4.2.3.6: keep-alive probes went unanswered (the peer is gone)
    network_down,      // the host's device is gone (Stack::network_down): ended where it stood,
                       // nothing sent
    connect_data_refused,  // DESIGN.md §3c: our SYN carried caller data and the peer's SYN-ACK
                           // (or SYN) did not echo the option -- the data was not delivered; we
                           // sent a RST (the WSP layer reports WSAENOPROTOOPT)
};
std::string_view to_string(CloseReason r);

// What made a connection change state: the state log (StackConfig::record_state_changes).
enum class TransitionCause : std::uint8_t {
    segment,             // a segment arrived (StateChange::seg says which)
    connect,             // open_active: the application's connect
    shutdown,            // shutdown_send: our FIN queued (WSPShutdown SD_SEND, WSPSendDisconnect)
    shutdown_receive,    // shutdown_receive with unread data: RST (RFC 2525 §2.17)
    close,               // close(): the application's graceful close
    abort,               // abort(): the application's abortive close (SO_LINGER {1,0}, linger
                         // expiry), or the Stack's (a limit, a new SYN taking a TIME-WAIT 4-tuple)
    retransmit_timeout,  // RFC 9293 §3.8.3 R2: retransmissions exhausted
    time_wait_timeout,   // RFC 9293 §3.10.8: 2 MSL in TIME-WAIT passed
    keepalive_timeout,   // RFC 1122 §4.2.3.6: keep-alive probes unanswered
    user_timeout,        // RFC 9293 §3.8.3 / RFC 5482 USER TIMEOUT
    orphan_timeout,      // the Stack: an orphan waited orphan_fin_wait_2_timeout in FIN-WAIT-2
    network_down,        // the Stack: the host's device is gone (Stack::network_down)
};
std::string_view to_string(TransitionCause c);

// One state change of a connection, as the state log records it. `seg` is the segment that
// caused it (cause == segment): flags, absolute SEQ and ACK, payload length.
struct StateChange {
    Endpoint local;
    Endpoint remote;
    TcpState from = TcpState::closed;
    TcpState to = TcpState::closed;
    TransitionCause cause = TransitionCause::segment;
    struct Seg {
        std::uint8_t flags = 0;
        std::uint32_t seq = 0;
        std::uint32_t ack = 0;
        std::uint32_t len = 0;
        bool operator==(const Seg&) const = default;
    } seg;
    bool operator==(const StateChange&) const = default;
};

enum class EventKind : std::uint8_t {
    connected,  // reached ESTABLISHED
    readable,   // new in-order data can be read
    writable,   // send buffer space was freed
    peer_fin,   // the peer's FIN was accepted in sequence (recv returns 0 once drained)
    closed,     // reached CLOSED; `reason` says why
};
std::string_view to_string(EventKind k);

struct Event {
    EventKind kind;
    CloseReason reason = CloseReason::none;
    bool operator==(const Event&) const = default;
};

// The timers, stored as data (deadlines), not callbacks.
enum class Timer : std::uint8_t {
    retransmit,       // SYN, SYN-ACK, data and FIN retransmission (RFC 6298)
    delayed_ack,      // RFC 1122 §4.2.3.2
    persist,          // zero-window probes (RFC 9293 §3.8.6.1)
    time_wait,        // 2*MSL (RFC 9293 §3.4.2)
    keepalive,        // idle probe / next probe (RFC 1122 §4.2.3.6)
    user_timeout,     // data unacknowledged (or held by a zero window) too long (RFC 9293 §3.8.3,
                      // RFC 5482)
    tail_loss_probe,  // RFC 8985 §7 probe timeout (PTO), when TcpConfig::tail_loss_probe
    count_,
};
std::string_view to_string(Timer t);

// Counters of what happened on this connection (drops are outcomes, not errors).
struct ConnStats {
    std::uint64_t segs_in = 0;
    std::uint64_t segs_out = 0;
    std::uint64_t bytes_in = 0;             // payload bytes accepted in order
    std::uint64_t bytes_out = 0;            // payload bytes sent, including retransmissions
    std::uint64_t retransmits = 0;          // segments re-sent (timeout, fast retransmit, TLP,
                                            // SYN / SYN-ACK)
    std::uint64_t bytes_retransmitted = 0;  // payload bytes of those segments
    std::uint64_t syn_retransmits = 0;      // SYN or SYN-ACK sent again (included in retransmits)
    std::uint64_t timeouts = 0;             // retransmission timer expiries
    std::uint64_t timeout_episodes = 0;     // runs of consecutive expiries with no ACK of new
                                            // data between them (Windows' TimeoutEpisodes)
    std::uint64_t fast_retransmits = 0;
    std::uint64_t dup_acks_in = 0;       // duplicate ACKs received, RFC 5681 §2 (a)-(e)
    std::uint64_t tail_loss_probes = 0;  // RFC 8985 §7 probes sent
    std::uint64_t rst_sent = 0;
    std::uint64_t rst_received = 0;    // acceptable RSTs that reset us
    std::uint64_t rst_ignored = 0;     // out of window, or in TIME-WAIT (RFC 1337)
    std::uint64_t challenge_acks = 0;  // RFC 5961 challenge ACKs sent (incl. answers to
                                       // unacceptable ACKs, §5, under the same §7 limit)
    std::uint64_t challenge_acks_suppressed = 0;  // over the rate limit
    std::uint64_t dropped_unacceptable = 0;       // failed the §3.10.7.4 sequence test
    std::uint64_t dropped_bad_ack = 0;            // RFC 5961 §5 ACK test, or ACK of unsent data
    std::uint64_t dropped_ooo_limit = 0;          // reassembly range bound hit
    std::uint64_t ooo_segments = 0;               // held out of order
    std::uint64_t bytes_reordered = 0;            // payload bytes of those segments
    std::uint64_t disc_option_ignored = 0;        // option on a segment without SYN/FIN, or not
                                                  // negotiated
    std::uint64_t message_option_ignored = 0;     // DESIGN.md §3b: the message-mode option on a
                                                  // segment without SYN, or on the SYN (SYN-ACK)
                                                  // of a stream connection
    std::uint64_t message_mode_refused = 0;       // DESIGN.md §3b: a message-mode connect's peer
                                                  // answered without the option: RST, refused
    // DESIGN.md §3c: connect data on the SYNs (each 0 or 1 per connection).
    std::uint64_t connect_data_sent = 0;      // our SYN / SYN-ACK carried caller / callee data
    std::uint64_t connect_data_received = 0;  // the peer's SYN / SYN-ACK did, and it was taken
    std::uint64_t connect_data_refused = 0;   // our caller data was not echoed: RST,
                                              // CloseReason::connect_data_refused
    std::uint64_t zero_window_probes = 0;
    std::uint64_t keepalive_probes = 0;
    std::uint64_t paws_dropped = 0;        // RFC 7323 §5.3 R1: old timestamp
    std::uint64_t missing_ts_dropped = 0;  // RFC 7323 §3.2: no TSopt after negotiating it
    std::uint64_t sack_recoveries = 0;     // RFC 6675 recovery episodes
    std::uint64_t sack_retransmits = 0;    // segments re-sent by the RFC 6675 NextSeg rule 1
    std::uint64_t limited_transmits = 0;   // RFC 3042 segments
    std::uint64_t sack_blocks_sent = 0;    // blocks reported to the peer (RFC 2018)
    std::uint64_t batch_acks = 0;          // ACKs owed to earlier segments of a batch, sent on
                                           // their own before its later ones (RFC 5681 §4.2)
    std::uint64_t batch_acks_merged = 0;   // ... merged into a later ACK: the queue was full

    // Fold another connection's counters in (host-wide totals). Keep in step with the fields.
    ConnStats& operator+=(const ConnStats& o) {
        segs_in += o.segs_in;
        segs_out += o.segs_out;
        bytes_in += o.bytes_in;
        bytes_out += o.bytes_out;
        retransmits += o.retransmits;
        bytes_retransmitted += o.bytes_retransmitted;
        syn_retransmits += o.syn_retransmits;
        timeouts += o.timeouts;
        timeout_episodes += o.timeout_episodes;
        fast_retransmits += o.fast_retransmits;
        dup_acks_in += o.dup_acks_in;
        tail_loss_probes += o.tail_loss_probes;
        rst_sent += o.rst_sent;
        rst_received += o.rst_received;
        rst_ignored += o.rst_ignored;
        challenge_acks += o.challenge_acks;
        challenge_acks_suppressed += o.challenge_acks_suppressed;
        dropped_unacceptable += o.dropped_unacceptable;
        dropped_bad_ack += o.dropped_bad_ack;
        dropped_ooo_limit += o.dropped_ooo_limit;
        ooo_segments += o.ooo_segments;
        bytes_reordered += o.bytes_reordered;
        disc_option_ignored += o.disc_option_ignored;
        message_option_ignored += o.message_option_ignored;
        message_mode_refused += o.message_mode_refused;
        connect_data_sent += o.connect_data_sent;
        connect_data_received += o.connect_data_received;
        connect_data_refused += o.connect_data_refused;
        zero_window_probes += o.zero_window_probes;
        keepalive_probes += o.keepalive_probes;
        paws_dropped += o.paws_dropped;
        missing_ts_dropped += o.missing_ts_dropped;
        sack_recoveries += o.sack_recoveries;
        sack_retransmits += o.sack_retransmits;
        limited_transmits += o.limited_transmits;
        sack_blocks_sent += o.sack_blocks_sent;
        batch_acks += o.batch_acks;
        batch_acks_merged += o.batch_acks_merged;
        return *this;
    }
};

// A snapshot of one connection for TCP_INFO-style queries (Winsock SIO_TCP_INFO, Linux
// TCP_INFO): Connection::info(now). Valid in every state; once the connection has ended
// (CLOSED) the counters keep their final values and the rest describes the connection as it was
// when it ended.
struct TcpInfo {
    TcpState state = TcpState::closed;
    std::uint32_t mss = 0;        // send MSS: payload bytes per segment (options deducted)
    Duration connection_time{0};  // since the connection was opened: our SYN queued
                                  // (active), the peer's SYN taken (passive), or the ACK
                                  // that returned a SYN cookie; 0 if never opened
    // Negotiated on the SYNs (RFC 7323 §2-3, RFC 2018 §2).
    bool timestamps = false;
    bool sack = false;
    bool window_scaling = false;
    std::uint8_t snd_wscale = 0;  // Snd.Wind.Shift: the peer's shift, applied to SEG.WND
    std::uint8_t rcv_wscale = 0;  // Rcv.Wind.Shift: ours
    bool message_mode = false;    // DESIGN.md §3b: both SYNs carried the message-mode option
    // RFC 6298: 0 (srtt, min_rtt) before the first RTT sample.
    Duration srtt{0};
    Duration rttvar{0};
    Duration rto{0};      // the current RTO, backoff included (§5.5)
    Duration min_rtt{0};  // smallest RTT sample taken
    // Windows and buffers, in bytes.
    std::uint32_t bytes_in_flight = 0;     // SND.MAX - SND.UNA (SYN and FIN count one each)
    std::uint32_t cwnd = 0;                // 0 until the SYN exchange fixed the MSS
    std::uint32_t ssthresh = 0xffffffffU;  // 0xffffffff: no congestion event yet
    std::uint32_t snd_wnd = 0;             // SND.WND: the peer's window, scaled
    std::uint32_t rcv_wnd = 0;             // RCV.WND: what we advertised beyond RCV.NXT
    std::size_t recv_buffer = 0;           // the receive buffer's size (SO_RCVBUF)
    std::size_t send_buffer = 0;           // the send buffer's size (SO_SNDBUF)
    // Counters (ConnStats).
    std::uint64_t bytes_out = 0;            // payload bytes sent, retransmissions included
    std::uint64_t bytes_in = 0;             // payload bytes accepted in order
    std::uint64_t bytes_reordered = 0;      // payload bytes that arrived out of order
    std::uint64_t bytes_retransmitted = 0;  // payload bytes sent again
    std::uint64_t fast_retransmits = 0;     // RFC 5681 §3.2 / RFC 6675 recoveries entered
    std::uint64_t dup_acks_in = 0;          // duplicate ACKs received (RFC 5681 §2)
    std::uint64_t timeout_episodes = 0;     // runs of consecutive retransmission timeouts
    std::uint64_t syn_retransmits = 0;      // SYN or SYN-ACK retransmissions
    std::uint64_t segs_in = 0;
    std::uint64_t segs_out = 0;
    std::uint64_t retransmits = 0;  // segments sent again (any cause)
};

class Connection {
public:
    // `iss` comes from the Stack's IsnGenerator (RFC 6528).
    Connection(const TcpConfig& cfg, Endpoint local, Endpoint remote, SeqNum iss);

    // ---- opening --------------------------------------------------------------------------
    // CLOSED -> SYN-SENT: queue our SYN. `caller_data` (DESIGN.md §3c) rides on the SYN's
    // disconnect-data offer -- on every transmission of it -- when TcpConfig::disconnect_data is
    // on (else it is not sent); the Stack checks its length against connect_data_limit() (longer
    // data is cut to it). A SYN-ACK that does not echo the offer then ends the connection with
    // CloseReason::connect_data_refused (after <SEQ=SEG.ACK><CTL=RST>); one that does may carry
    // the peer's callee data (peer_connect_data).
    void open_active(Instant now, std::span<const std::byte> caller_data = {});
    // LISTEN -> SYN-RECEIVED for a SYN that reached a listener (the Stack checked it has SYN, no
    // ACK, no RST, and -- for a message-mode listener -- the message-mode option: syn_refused).
    // Queues our SYN-ACK. The SYN's caller data (DESIGN.md §3c) is kept (peer_connect_data).
    // `callee_data` rides on the SYN-ACK's echo, on every transmission of it; it is sent only
    // if the SYN offered the option (and TcpConfig::disconnect_data is on), and is cut to
    // connect_data_limit() (the Stack checks both first).
    void open_passive(const Segment& syn, Instant now, std::span<const std::byte> callee_data = {});
    // SYN cookies (RFC 4987 §3.6; the Stack, stack.cpp): the Stack answered `syn` -- rebuilt from
    // a valid cookie -- statelessly with a SYN-ACK <SEQ=ISS> advertising `syn_ack_window`. This
    // puts the connection exactly where open_passive plus sending that SYN-ACK would have
    // (SYN-RECEIVED, SYN-ACK sent once, no timer); the Stack then hands it the ACK that carried
    // the cookie, which takes it to ESTABLISHED the ordinary way. (connection_cookie.cpp)
    void open_from_cookie(const Segment& syn, std::uint16_t syn_ack_window, Instant now);

    // ---- inputs ---------------------------------------------------------------------------
    void on_segment(const Segment& seg, Instant now);
    void on_timeout(Instant now);

    // ---- outputs --------------------------------------------------------------------------
    void poll_transmit(Instant now, SegmentSink& out);
    [[nodiscard]] std::optional<Instant> poll_timeout() const;
    std::optional<Event> poll_event();
    [[nodiscard]] bool has_events() const { return !events_.empty(); }

    // ---- application calls ----------------------------------------------------------------
    // Queue bytes for sending. Returns how many were taken (may be fewer than offered).
    // Errors: would_block (buffer full), shutdown (send side shut), closing (state after our
    // FIN), not_connected (CLOSED or listening), reset / aborted / timed_out / refused (the
    // connection ended that way). Data may be queued in SYN-SENT / SYN-RECEIVED.
    Result<std::size_t> send(std::span<const std::byte> data);
    // Read in-order bytes. Returns 0 at end of stream (the peer's FIN, all data read).
    // Errors: would_block (nothing yet), shutdown (receive side shut), not_connected,
    // reset / aborted / timed_out / refused (the connection ended that way -- also after the
    // peer's FIN: RFC 9293 §3.10.7.4, a RST in CLOSE-WAIT resets outstanding RECEIVEs).
    Result<std::size_t> recv(std::span<std::byte> out);
    // No more sends: queue a FIN after the queued data, carrying `disc` (DESIGN.md §3) if given.
    // Idempotent (a second call emits no second FIN, RFC 9293 §3.10.4).
    // Errors: not_connected (never synchronized / closed), no_proto_opt (disc given but the
    // option was not negotiated), msg_size (disc longer than disconnect_data_limit()); on any
    // error nothing is queued.
    Errc shutdown_send(const DisconnectData* disc = nullptr);
    // No more receives: unread data now, or data arriving later, resets the connection
    // (RFC 9293 SHLD-3, RFC 2525 §2.17).
    Errc shutdown_receive();
    // The application is done (Winsock graceful close): shutdown_receive + shutdown_send. With
    // unread data this resets instead (RFC 2525 §2.17). In SYN-SENT the connection just closes.
    void close();
    // RFC 9293 §3.10.5 ABORT: RST in SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT; plain
    // deletion in CLOSING, LAST-ACK, TIME-WAIT and SYN-SENT. `why`: the state log's cause (the
    // Stack gives its own for an orphan's time-out).
    void abort(TransitionCause why = TransitionCause::abort);
    // The host's device is gone: CLOSED at once with CloseReason::network_down, from any state,
    // sending nothing (there is no link to send a RST on) and flushing both buffers, as an abort
    // does. A no-op on a closed connection.
    void network_down();

    // ---- state ----------------------------------------------------------------------------
    // Append every state change from now on to `log` (nullptr: stop), with its cause. The Stack
    // does this for all its connections when StackConfig::record_state_changes is on.
    void set_state_log(std::vector<StateChange>* log) { state_log_ = log; }
    // Keep-alive (RFC 1122 §4.2.3.6) on or off for this connection, probing after `idle`
    // without receiving anything, then every `interval`, TcpConfig::keepalive_count times
    // (SO_KEEPALIVE, SIO_KEEPALIVE_VALS). Takes effect at once: the idle period starts now.
    void set_keepalive(bool on, Duration idle, Duration interval, Instant now);
    [[nodiscard]] TcpState state() const { return state_; }
    [[nodiscard]] CloseReason close_reason() const { return reason_; }
    [[nodiscard]] bool is_closed() const { return state_ == TcpState::closed; }
    [[nodiscard]] bool is_synchronized() const;
    [[nodiscard]] bool was_passive() const { return passive_; }
    [[nodiscard]] Endpoint local() const { return local_; }
    [[nodiscard]] Endpoint remote() const { return remote_; }

    [[nodiscard]] std::size_t recv_available() const { return recv_buf_.size(); }
    // Copy unread in-order bytes from `offset` bytes in, without reading them (a message
    // socket looks at its framing headers this way). Returns how many were copied.
    std::size_t peek(std::size_t offset, std::span<std::byte> out) const {
        return recv_buf_.peek(offset, out);
    }
    [[nodiscard]] std::size_t send_space() const;
    // Bytes queued but not yet acknowledged (unsent + in flight), not counting SYN/FIN.
    [[nodiscard]] std::size_t send_queued() const { return send_buf_.size(); }
    // Everything we sent, FIN included if sent, is acknowledged (the linger condition).
    [[nodiscard]] bool all_acked() const;
    [[nodiscard]] bool peer_fin_received() const { return fin_received_; }
    // The peer's FIN was received and every byte before it has been read.
    [[nodiscard]] bool at_eof() const { return fin_received_ && recv_buf_.empty(); }
    [[nodiscard]] bool send_shut() const { return snd_shut_; }
    [[nodiscard]] bool recv_shut() const { return rcv_shut_; }

    // ---- buffer sizes (SO_SNDBUF / SO_RCVBUF) ---------------------------------------------
    // Both may be set in any state; TcpConfig::send_buffer / recv_buffer are the defaults.
    // The send buffer bounds the bytes queued (unsent and unacknowledged). A larger size takes
    // effect at once; a smaller one never discards queued data, it only refuses new sends until
    // the queue has drained below it.
    void set_send_buffer(std::size_t bytes);
    [[nodiscard]] std::size_t send_buffer() const { return snd_buf_size_; }
    // The receive buffer bounds the unread bytes plus the window we offer. Until our SYN (or
    // SYN-ACK) has been sent it also decides the window shift we offer (RFC 7323 §2.2: the shift
    // is fixed on the SYN); after that it only changes how much we offer, at most
    // 65535 << Rcv.Wind.Shift. A smaller size never moves the right edge already advertised
    // left (RFC 9293 §3.8.6, RFC 7323 §2.4): the window stops opening until the unread data has
    // drained below the new size. A larger one reopens the window, with a window update at once
    // when it opens by a useful amount (the rule recv() follows).
    void set_recv_buffer(std::size_t bytes);
    [[nodiscard]] std::size_t recv_buffer() const { return rcv_buf_size_; }

    // ---- options (TCP_NODELAY etc.) -------------------------------------------------------
    // Disable (true) or re-enable (false) Nagle's algorithm (RFC 1122 §4.2.3.4: the application
    // MUST be able to; TCP_NODELAY). Default from TcpConfig::nodelay.
    void set_nodelay(bool on) { nodelay_ = on; }
    [[nodiscard]] bool nodelay() const { return nodelay_; }
    // Negotiated on the SYNs (RFC 7323, RFC 2018).
    [[nodiscard]] bool window_scaling_enabled() const { return wscale_ok_; }
    [[nodiscard]] std::uint8_t snd_wscale() const {
        return snd_wscale_;
    }  // applied to peer windows
    [[nodiscard]] std::uint8_t rcv_wscale() const { return rcv_wscale_; }  // applied to ours
    [[nodiscard]] bool timestamps_enabled() const { return ts_ok_; }
    [[nodiscard]] bool sack_enabled() const { return sack_ok_; }
    [[nodiscard]] bool in_recovery() const { return in_fast_recovery_; }
    [[nodiscard]] std::uint32_t ssthresh() const { return cc_ ? cc_->ssthresh() : 0xffffffffU; }
    [[nodiscard]] const CongestionControl* congestion() const { return cc_.get(); }
    // The sender's SACK scoreboard: SACKed ranges above SND.UNA, sorted, disjoint.
    [[nodiscard]] const std::vector<SackBlock>& scoreboard() const { return scoreboard_; }

    // Message mode (DESIGN.md §3b): true only when both SYNs carried the message-mode option
    // (TcpConfig::message_mode asked for it and the peer agreed). A message-mode connection
    // whose peer does not agree never reaches ESTABLISHED: it ends refused in the handshake.
    [[nodiscard]] bool message_mode() const { return msg_ok_; }

    // Disconnect data (DESIGN.md §3).
    [[nodiscard]] bool disconnect_negotiated() const { return disc_ok_; }
    // Largest disconnect data this connection can carry on its FIN (0 when not negotiated).
    [[nodiscard]] std::size_t disconnect_data_limit() const;
    // The peer's disconnect data, from its FIN accepted in sequence (first accepted copy wins).
    [[nodiscard]] const std::optional<DisconnectData>& peer_disconnect_data() const {
        return peer_disc_;
    }

    // Connect data (DESIGN.md §3c). The peer's: on a passive connection the caller data its SYN
    // carried, on an active one the callee data of the SYN-ACK's echo; empty otherwise (none
    // sent, or the option not negotiated). Valid from the SYN (SYN-ACK) on, in every state.
    [[nodiscard]] std::span<const std::byte> peer_connect_data() const {
        return peer_conn_data_.data();
    }
    // Ours: the caller (callee) data our SYN (SYN-ACK) carries.
    [[nodiscard]] std::span<const std::byte> connect_data() const { return conn_data_out_.data(); }
    // The most connect data our SYN (active: before or after open_active) or SYN-ACK (passive:
    // after open_passive) has room for (connect_data_room, syn_options.hpp); 0 when it carries
    // no disconnect-data option.
    [[nodiscard]] std::size_t connect_data_limit() const;

    // Introspection for tests, traces and stats.
    [[nodiscard]] const ConnStats& stats() const { return stats_; }
    // The TCP_INFO snapshot at `now` (see TcpInfo). Any state, also CLOSED.
    [[nodiscard]] TcpInfo info(Instant now) const;
    [[nodiscard]] std::optional<Instant> timer(Timer t) const {
        return timers_[static_cast<std::size_t>(t)];
    }
    [[nodiscard]] SeqNum iss() const { return iss_; }
    [[nodiscard]] SeqNum irs() const { return irs_; }
    [[nodiscard]] SeqNum snd_una() const { return snd_una_; }
    [[nodiscard]] SeqNum snd_nxt() const { return snd_nxt_; }
    // The highest sequence number sent + 1 (SND.NXT before any pull-back for retransmission):
    // what a peer that received everything would acknowledge.
    [[nodiscard]] SeqNum snd_max() const { return snd_max_; }
    [[nodiscard]] SeqNum rcv_nxt() const { return rcv_nxt_; }
    [[nodiscard]] std::uint32_t snd_wnd() const { return snd_wnd_; }
    [[nodiscard]] std::uint32_t rcv_wnd() const;
    [[nodiscard]] std::uint32_t cwnd() const { return cc_ ? cc_->cwnd() : 0; }
    [[nodiscard]] std::uint16_t snd_mss() const { return snd_mss_; }
    [[nodiscard]] const RttEstimator& rtt() const { return rtt_; }
    // Buffers hold memory (TIME-WAIT and closed connections release theirs).
    [[nodiscard]] bool holds_buffers() const {
        return send_buf_.allocated() || recv_buf_.allocated();
    }

private:
    // §3.10.7 handlers, one per group of states.
    void on_segment_syn_sent(const Segment& seg, Instant now);
    void on_segment_synchronized(const Segment& seg, Instant now);
    bool check_sequence(const Segment& seg, Instant now);  // "first"
    bool check_rst(const Segment& seg, Instant now);       // "second"
    bool check_syn(const Segment& seg, Instant now);       // "fourth"
    bool check_ack(const Segment& seg, Instant now);       // "fifth"
    void process_text(const Segment& seg, Instant now);    // "seventh"
    void process_fin(SeqNum fin_seq, const std::optional<DisconnectData>& disc, Instant now);
    void accept_options_on_syn(const Segment& seg, Instant now);
    void on_handshake_acked();
    void on_new_ack(SeqNum ack, Instant now);
    bool paws_reject(const Segment& seg, Instant now);       // RFC 7323 §5.3 R1
    void update_ts_recent(const Segment& seg, Instant now);  // RFC 7323 §4.3 / §5.3 R3
    void on_ack_congestion(std::uint32_t acked, std::uint32_t flight_before, Instant now);
    void on_duplicate_ack(const Segment& seg, bool sack_news, Instant now);
    // After an ACK: what it delivered (cumulative advance plus SACK growth since `una_before`
    // / `sacked_before`) as a rate sample for a model-based controller (rate_ set).
    void on_delivery(SeqNum una_before, std::uint32_t sacked_before, Instant now);
    bool update_scoreboard(const Segment& seg);  // true if the SACKed set grew
    void on_sack_recovery_ack(Instant now);
    // Lost-retransmission detection during RFC 6675 recovery (see connection_recovery.cpp).
    void note_recovery_retransmission(SeqNum seq, std::uint32_t len);
    void detect_lost_retransmissions();
    void end_recovery_bookkeeping();
    [[nodiscard]] std::uint32_t sacked_above(SeqNum s) const;
    [[nodiscard]] std::uint32_t sacked_bytes() const;
    [[nodiscard]] bool is_lost(SeqNum s) const;  // RFC 6675 IsLost
    [[nodiscard]] std::uint32_t pipe() const;    // RFC 6675 SetPipe
    [[nodiscard]] std::uint32_t tsval(Instant now) const;
    // The TSval to put on a segment sent now: tsval(now), never below one sent before.
    std::uint32_t next_tsval(Instant now);
    void add_options(Segment& seg, Instant now);  // TS and SACK on non-SYN segments
    // The SACK block (an out-of-order range, in sequence numbers) holding `s`, if any.
    [[nodiscard]] std::optional<SackBlock> sack_block_at(SeqNum s) const;
    // RFC 2018 §4: out-of-order data at `seq` was just kept; its block becomes the first.
    void note_sack_arrival(SeqNum seq);
    void maybe_accept_pending_fin(Instant now);

    // Output helpers.
    Segment make_segment(SeqNum seq, std::uint8_t flags) const;
    // Fill in what every segment but a RST gets as it goes out -- the window field, timestamps,
    // SACK blocks -- and, when it carries an ACK, note that an ACK went (pending ACK, delayed-ACK
    // count and timer, Last.ACK.sent).
    void stamp(Segment& seg, Instant now);
    void emit(SegmentSink& out, Segment& seg, Instant now);  // stamp, count, hand to `out`
    // RFC 5681 §4.2 inside a batch (see queued_acks_): the ACK owed now goes into the queue as
    // it stands. False if none is owed or the queue is full (it then merges into a later one).
    bool seal_pending_ack(Instant now);
    // The queued ACKs, in order, as pure ACKs (poll_transmit, before anything else it sends).
    void send_queued_acks(SegmentSink& out, Instant now);
    // The states that take segment text (RFC 9293 §3.10.7.4 seventh): ESTABLISHED, FIN-WAIT-1
    // and FIN-WAIT-2.
    [[nodiscard]] bool takes_text() const {
        return state_ == TcpState::established || state_ == TcpState::fin_wait_1 ||
               state_ == TcpState::fin_wait_2;
    }
    void send_syn(SegmentSink& out, Instant now);
    // Sends what the windows allow, at most `max_segments` segments.
    bool send_data(SegmentSink& out, Instant now, unsigned max_segments = ~0U);
    // Emit one segment starting at `seq` with at most `room` bytes of sequence space (data, and
    // our FIN if it fits) and never past the peer's window (window_room): every data or FIN
    // segment -- new data, RTO, fast and RFC 6675 retransmissions, the TLP -- is sized here.
    // Returns the sequence space used (0: nothing could be sent).
    std::uint32_t send_one(SegmentSink& out, SeqNum seq, std::uint32_t room, Instant now);
    // RFC 9293 §3.8.6: the sequence space the peer's window leaves from `seq`, for data octets
    // and our FIN alike -- SND.UNA + SND.WND - seq, 0 at or past the right edge. (The one
    // exception the RFC allows, the zero-window probe of §3.8.6.1, is built apart and carries
    // no data.)
    [[nodiscard]] std::uint32_t window_room(SeqNum seq) const;
    void send_sack_recovery(SegmentSink& out, Instant now);  // RFC 6675 §5 steps (C)
    // RFC 896 / RFC 1122 §4.2.3.4 (Nagle and sender SWS): may a segment of `len` bytes (of
    // `avail` unsent) go now?
    [[nodiscard]] bool sender_may_send(std::uint32_t len, std::uint32_t avail) const;
    void send_rst(SegmentSink& out, SeqNum seq, bool with_ack, SeqNum ack, Instant now);

    // Lifecycle helpers.
    // Every state change goes through set_state (the state log); enter() adds what entering
    // ESTABLISHED does.
    void set_state(TcpState s);
    void note_cause(const Segment& seg);  // cause_ = segment, with its summary
    // shutdown_send / shutdown_receive without setting the cause (close() uses them).
    Errc queue_fin(const DisconnectData* disc);
    Errc shut_receive();
    void enter(TcpState s, Instant now);
    void enter_closed(CloseReason reason);
    void enter_time_wait(Instant now);
    void reset_connection(CloseReason reason);  // queue RST <SEQ=SND.NXT>, enter CLOSED
    void queue_challenge_ack(Instant now);
    // `bytes`: the in-order payload just received (a link-coalesced segment counts as several).
    void schedule_ack(bool immediate, Instant now, std::size_t bytes);
    void arm(Timer t, Instant at) { timers_[static_cast<std::size_t>(t)] = at; }
    void disarm(Timer t) { timers_[static_cast<std::size_t>(t)].reset(); }
    [[nodiscard]] bool armed(Timer t) const {
        return timers_[static_cast<std::size_t>(t)].has_value();
    }
    void restart_retransmit_timer(Instant now);
    // RFC 8985 §7.2: (re)arm the probe timeout after new data went out or new data was ACKed.
    void arm_tail_loss_probe(Instant now);
    void on_retransmit_timeout(Instant now);
    void on_persist_timeout(Instant now);
    void on_keepalive_timeout(Instant now);
    void restart_keepalive(Instant now);
    void release_buffers_if_done();
    void discard_unread_after_close();  // abort / close of a CLOSED connection with unread data
    void push_event(EventKind k, CloseReason r = CloseReason::none);
    [[nodiscard]] std::uint32_t advertised_window() const;  // bytes to offer (before scaling)
    // What the receive buffer lets us offer past RCV.NXT: its size minus the unread bytes.
    [[nodiscard]] std::size_t rcv_space() const;
    // Buffer bytes past the unread data the peer may already fill: the window it was told.
    [[nodiscard]] std::size_t rcv_promised() const;
    // A receive ring larger than rcv_buf_size_ (the size was lowered) shrinks to it once the
    // unread bytes and the window promised fit.
    void fit_recv_buffer();
    // RFC 9293 §3.8.6.2.2: ACK at once when the window we can offer grew by a useful amount.
    void announce_window_if_opened(std::uint32_t old_wnd);
    // The largest window we could offer (65535 << RCV.WIND.SHIFT, RFC 7323 §2.3).
    [[nodiscard]] std::uint32_t max_offer() const { return 65535U << rcv_wscale_; }
    [[nodiscard]] SeqNum data_end() const;  // sequence number just past the queued data
    // The peer's window is zero and data (or our FIN) waits behind it: the persist state.
    [[nodiscard]] bool persisting_with_data() const;
    [[nodiscard]] std::uint32_t flight_size() const {
        return static_cast<std::uint32_t>(snd_max_ - snd_una_);
    }

    TcpConfig cfg_;
    Endpoint local_;
    Endpoint remote_;
    TcpState state_ = TcpState::closed;
    CloseReason reason_ = CloseReason::none;
    std::vector<StateChange>* state_log_ = nullptr;  // set_state_log
    TransitionCause cause_ = TransitionCause::connect;
    StateChange::Seg cause_seg_;  // the segment being processed (cause_ == segment)
    bool passive_ = false;        // opened by a listener (SYN-RECEIVED "returns to LISTEN" on RST)
    std::optional<Instant> opened_at_;  // open_active / open_passive (TcpInfo::connection_time)

    // ---- send sequence space (RFC 9293 §3.3.1) ----
    SeqNum iss_;      // ISS
    SeqNum snd_una_;  // SND.UNA: oldest unacknowledged sequence number
    SeqNum snd_nxt_;  // SND.NXT: next sequence number to send (pulled back on timeout)
    SeqNum snd_max_;  // highest sequence number sent + 1 (SND.NXT before any pull-back)
    SeqNum snd_wl1_;  // SND.WL1: segment sequence number used for the last window update
    SeqNum snd_wl2_;  // SND.WL2: segment acknowledgment number used for the last window update
    std::uint32_t snd_wnd_ = 0;      // SND.WND: the peer's advertised window
    std::uint32_t max_snd_wnd_ = 0;  // MAX.SND.WND (RFC 5961 §5)
    std::uint16_t snd_mss_ = 536;    // effective send MSS: min(peer MSS option, our mss)
    RingBuffer send_buf_;            // bytes not yet acknowledged: in flight, then unsent
    std::size_t snd_buf_size_;       // SO_SNDBUF: new sends only while send_buf_.size() is
                                     // below it (send_buf_'s capacity is at least this)
    SeqNum send_front_;              // sequence number of send_buf_'s first byte (ISS+1 at first)
    bool snd_shut_ = false;          // the application will send no more: a FIN is owed
    bool fin_sent_ = false;          // our FIN has been sent at least once (fin_seq_ valid)
    SeqNum fin_seq_;                 // the sequence number our FIN occupies
    std::optional<DisconnectData> disc_out_;  // carried on every transmission of our FIN

    // ---- receive sequence space ----
    SeqNum irs_;                 // IRS
    SeqNum rcv_nxt_;             // RCV.NXT
    SeqNum rcv_adv_;             // right edge RCV.NXT + RCV.WND last advertised (never moved left)
    RingBuffer recv_buf_;        // in-order unread bytes, then room for out-of-order data
    std::size_t rcv_buf_size_;   // SO_RCVBUF: unread bytes + the window we offer stay within
                                 // it; recv_buf_'s capacity is at least this, more only while a
                                 // window promised before the size was lowered is outstanding
    Assembler reassembly_;       // out-of-order ranges beyond RCV.NXT
    bool rcv_shut_ = false;      // the application reads no more
    bool fin_received_ = false;  // the peer's FIN was accepted in sequence
    std::optional<SeqNum> ooo_fin_;               // a FIN seen beyond a gap: its sequence number
    std::optional<DisconnectData> ooo_fin_disc_;  // ... and its option, kept until the gap fills
    std::optional<DisconnectData> peer_disc_;     // the accepted FIN's disconnect data

    // ---- options ----
    bool disc_ok_ = false;  // disconnect-data option negotiated (both SYNs carried it)
    bool peer_offered_disc_ = false;
    // DESIGN.md §3c: the connect data our SYN (caller data) or SYN-ACK (callee data) carries in
    // its disconnect-data option, the same bytes on every transmission (len 0: the plain
    // offer); and the peer's, from its SYN or SYN-ACK, taken only when disc_ok_.
    DisconnectData conn_data_out_;
    DisconnectData peer_conn_data_;
    bool msg_ok_ = false;            // DESIGN.md §3b: message mode (both SYNs carried the option)
    bool nodelay_ = false;           // Nagle off (TCP_NODELAY)
    bool wscale_ok_ = false;         // RFC 7323 §2: both SYNs carried window scale
    std::uint8_t snd_wscale_ = 0;    // Snd.Wind.Shift: the peer's shift, applied to SEG.WND
    std::uint8_t rcv_wscale_ = 0;    // Rcv.Wind.Shift: our shift (0 unless wscale_ok_)
    std::uint8_t wscale_offer_ = 0;  // the shift our SYN / SYN-ACK carries: from the receive
                                     // buffer, fixed once syn_options_sent_
    bool syn_options_sent_ = false;  // our SYN or SYN-ACK has been sent (or stood in for)
    bool ts_ok_ = false;             // RFC 7323 §3: both SYNs carried timestamps
    bool sack_ok_ = false;           // RFC 2018: both SYNs carried SACK-permitted
    std::uint32_t ts_recent_ = 0;    // TS.Recent (RFC 7323 §4.3): the peer's TSval to echo
    std::uint32_t ts_sent_max_ = 0;  // the largest TSval sent (next_tsval)
    bool ts_sent_any_ = false;
    Instant ts_recent_at_{};  // when TS.Recent was last set (§5.5 24-day validity)
    SeqNum last_ack_sent_;    // Last.ACK.sent (§4.3)
    SeqNum ts_sample_seq_;    // take the next TS RTT sample once SND.UNA passes this
    std::optional<std::uint32_t> seg_tsecr_;  // TSecr of the segment being processed
    // RFC 2018 §4: the SACK blocks in the order they were last reported first -- a sequence
    // number inside each, newest first, sack_recent_[0] the latest out-of-order arrival. Each
    // named a different block when recorded (blocks merged since are reported once); at most
    // kMaxSackBlocks, the most an option can carry.
    std::array<SeqNum, kMaxSackBlocks> sack_recent_{};
    std::uint8_t sack_recent_count_ = 0;

    // ---- timers and RTT ----
    std::array<std::optional<Instant>, static_cast<std::size_t>(Timer::count_)> timers_{};
    RttEstimator rtt_;
    unsigned retries_ = 0;           // consecutive retransmission timeouts
    std::optional<SeqNum> rtt_seq_;  // timing the segment that ends at this seq (Karn)
    Instant rtt_start_{};
    Duration persist_backoff_{0};

    // ---- congestion control and loss recovery ----
    std::unique_ptr<CongestionControl> cc_;  // created when the MSS is known (SYN exchange)
    // Send records for delivery-rate samples, only for a controller that wants them (BBR).
    std::unique_ptr<DeliveryRateSampler> rate_;
    bool rto_recovery_ = false;      // a retransmission timeout's data is not all acknowledged yet
    unsigned dup_acks_ = 0;          // consecutive duplicate ACKs (RFC 5681 §2)
    bool in_fast_recovery_ = false;  // RFC 6582 / RFC 6675 recovery in progress
    bool tlp_pending_ = false;       // the PTO fired: send the probe on the next poll
    bool tlp_outstanding_ = false;   // a probe is out, no new data ACKed since
    SeqNum recover_;                 // RFC 6582 "recover" = RFC 6675 RecoveryPoint
    // RFC 6675 scoreboard: SACKed ranges above SND.UNA, sorted, disjoint, at most
    // cfg_.max_sack_ranges (empty vector = no heap; cleared on RTO per RFC 6675 §5.1).
    std::vector<SackBlock> scoreboard_;
    SeqNum high_rxt_;  // RFC 6675 HighRxt: highest sequence number retransmitted in recovery
    // Retransmissions sent in the current SACK recovery, oldest first, for lost-retransmission
    // detection: [left, right) went again when SND.MAX was `mark`; once more than
    // (DupThresh - 1) * SMSS octets above `mark` -- all sent after it -- are SACKed while it is
    // not, it is lost too (`lost`: send it again). Bounded by kMaxRecoveryRetransmits (an
    // unrecorded retransmission falls back to the RTO); emptied when recovery ends.
    struct RecoveryRetransmit {
        SeqNum left;
        SeqNum right;
        SeqNum mark;
        bool lost = false;
    };
    static constexpr std::size_t kMaxRecoveryRetransmits = 256;
    std::vector<RecoveryRetransmit> rxt_log_;
    unsigned keepalive_sent_ = 0;  // unanswered keep-alive probes

    // ---- pending output ----
    bool ack_pending_ = false;   // an ACK must go out on the next poll_transmit
    bool dup_ack_owed_ = false;  // ... and it answers out-of-order data: a duplicate ACK,
                                 // which must go as a pure ACK, not on data (RFC 5681 §2)
    // ACKs owed to earlier segments of a batch (the segments one on_segment after another
    // delivers before the next poll_transmit), oldest first. RFC 5681 §4.2 wants an ACK for at
    // least every second full-sized segment and an immediate duplicate ACK for each
    // out-of-order one; the host hands over a batch of segments at once, and a single ACK for
    // the batch starves the sender's ACK clock (a sender grows cwnd by at most SMSS per ACK in
    // slow start, RFC 5681 §3.1). So when a segment that brings new sequence space arrives while
    // an ACK is owed, that ACK is kept as it stands (seal_pending_ack) and the segment then
    // decides on its own ACK. One exception, with SACK only: above a hole (the segment is out
    // of order, or fills a gap while others remain) a segment that continues the previous one
    // of the batch (run_end_) merges into the ACK owed -- the device would have handed the run
    // over as one GRO packet, which Linux answers with one ACK -- and the sender, in recovery,
    // counts the segments SACKed (RFC 6675 §4 IsLost), not the ACKs. Over TUN every ACK is a
    // device write carrying the kernel's forwarding and the peer's ACK processing: a duplicate
    // ACK per segment under 1 % loss cut Linux -> ustack bulk from 486 to 87 MiB/s
    // (scripts/bench.sh --measure loss, 2026-12-07). Without SACK every out-of-order segment
    // keeps its own duplicate ACK: that sender counts them (RFC 5681 §3.2). poll_transmit
    // sends the queue first, in order, then the ACK owed last as ever (it may ride on data). A
    // segment that changes nothing keeps merging into the owed ACK, so no ACK is sent twice.
    // Bounded: kMaxQueuedAcks -- one per packet of the TUN host's batch (TunOptions::batch, 64
    // packets per wake-up); beyond it the owed ACK merges into the next (counted). Allocated by
    // the first batch that needs it (48 bytes an entry, 3 KB at most), released when the
    // connection stops receiving.
    struct QueuedAck {
        SeqNum ack;
        std::uint32_t tsval = 0;  // the timestamps option, when ts_ok_
        std::uint32_t tsecr = 0;
        std::uint16_t window = 0;  // the window field (scaled) as it was computed then
        std::uint8_t sack_count = 0;
        std::array<SackBlock, kMaxSackBlocks> sack{};
    };
    static constexpr std::size_t kMaxQueuedAcks = 64;
    std::vector<QueuedAck> queued_acks_;
    // The end of the text the last segment since our last ACK brought (run_open_): above a hole
    // a segment starting there continues the batch's run (see queued_acks_).
    SeqNum run_end_{};
    bool run_open_ = false;
    bool syn_pending_ = false;        // (re)send SYN or SYN-ACK
    std::size_t segs_since_ack_ = 0;  // full-sized segments received since our last ACK
    std::uint32_t rcv_mss_ = 0;       // largest segment received, at most cfg_.mss; 0: none yet
    bool rst_pending_ = false;        // a RST must be sent, then nothing more
    SeqNum rst_seq_;
    bool rst_has_ack_ = false;
    SeqNum rst_ack_;
    bool fast_retransmit_pending_ = false;
    bool probe_pending_ = false;  // send a zero-window probe
    Instant challenge_window_start_{};
    unsigned challenge_count_ = 0;
    std::uint16_t last_adv_window_ = 0;
    std::optional<Instant> oow_ack_at_;  // when we last answered an unacceptable pure ACK

    std::deque<Event> events_;
    ConnStats stats_;
};

}  // namespace ustack
