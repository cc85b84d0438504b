// Stack: the demultiplexer above Connection -- one host's TCP, sans I/O.
//
// Heads up! Read these before changing this file:
//   RFC 9293 §3.10.7.1 (CLOSED: RST for segments that match nothing), §3.10.7.2 (LISTEN),
//            §3.5.2 (reset generation), §3.6.1 MAY-2 (new SYN in TIME-WAIT), §3.9.1.3 (LISTEN)
//   RFC 6056 §3.3.3  ephemeral port selection (algorithm 3, keyed hash + counter)
//   RFC 6528         ISNs (IsnGenerator, isn.hpp)
//   RFC 4987 §3.6    SYN cookies (a listener whose SYN queue is full answers statelessly)
//   RFC 1122 §4.2.3.10 (no connections to or from broadcast / multicast addresses)
//   DESIGN.md §1 (sans I/O), §3b (message-mode listeners refuse SYNs without the option),
//            §3c (connect data, conditional listeners), §4 (orphaned graceful close,
//            generation-checked handles)
//
// What it owns: a slot table of Connections with generation-checked handles (ConnId), the
// 4-tuple -> connection map, listeners with bounded SYN and accept queues (ListenerId), the local
// port table, RSTs for segments that match nothing, and the set of deadlines of all connections.
//
// Contract (the quinn-proto Endpoint / smoltcp Interface shape):
//   inputs   on_segment(seg, now)        an already-decoded segment from the wire; dropped and
//                                        counted unless seg.dst_addr is our address
//            on_timeout(now)             call when now >= poll_timeout()
//            app calls                   connect, listen, accept, decide_front, release,
//                                        close_listener, and anything done through
//                                        connection(id)
//   outputs  poll_transmit(now, sink)    every segment that is ready (stack RSTs first, then each
//                                        connection touched since the last call)
//            poll_timeout()              the earliest deadline over all connections and held
//                                        requests, or nullopt
//            poll_event()                StackEvents: per-connection Events of handles the
//                                        application owns, and accept_ready for listeners
// Call order: after any input (including app calls and use of a Connection* from
// connection()), call poll_transmit, then poll_timeout to re-arm the host's timer, then drain
// poll_event (events queue up until drained; an event may name a handle released since -- ignore
// it). `now` must never go backwards. The Stack never reads a clock, never blocks, never
// throws on bad input; a segment that should not be accepted is dropped, answered with a RST or
// handed to the connection that owns its 4-tuple, and counted in stats().
//
// Cost: a segment costs one hash lookup; poll_transmit visits only connections touched since the
// last call (a dirty list); deadlines live in a min-heap with lazy invalidation, so poll_timeout
// is O(1) and on_timeout O(expired · log n). Nothing scans all connections per packet.
//
// Ownership of a connection (one of):
//   listener   passively opened, in its listener's SYN queue (SYN-RECEIVED) or accept queue
//              (synchronized, waiting for accept). Its Events are not forwarded; accept()
//              restates pending data (readable) and a received FIN (peer_fin) for the new handle.
//   app        returned by connect() or accept(); the handle is valid until release().
//   orphan     released by the application, or dropped by its listener: the Stack keeps it until
//              it reaches CLOSED (graceful close finishing in the background, DESIGN.md §4), then
//              frees the slot. Orphans in FIN-WAIT-2 are bounded by orphan_fin_wait_2_timeout.
//
// Bounds (README "Limits"): max_connections slots; per listener `backlog` SYN-RECEIVED
// connections (beyond: SYN cookies) and `backlog` waiting for accept(); per conditional listener
// `backlog` held requests (beyond: dropped), each for at most held_request_timeout; max_orphans
// orphans not in TIME-WAIT (beyond: release() aborts); max_time_wait TIME-WAIT connections
// (beyond: the oldest is recycled); rst_queue_limit stateless replies between two polls. Each is
// counted when hit.
//
// SYN cookies (RFC 4987 §3.6, as Linux): when a listener's SYN queue is full, a SYN is answered
// with a SYN-ACK whose ISS is a cookie and nothing is kept (SynCookies, syn_cookie.hpp: the
// cookie's layout and the options it can carry). An ACK to that listener within
// SynCookies::kLifetime of the last cookie it sent is checked for a cookie; a valid one creates
// the connection, which reaches ESTABLISHED on that ACK and joins the accept queue. One that
// fails is answered with a RST if it is a bare ACK, and dropped if it carries data or FIN: only
// the segment at the peer's ISS+1 can be checked, so that may be a later segment of a real peer
// whose first ones were lost, and its retransmission from ISS+1 opens the connection.
// DESIGN.md §3c: a cookie keeps no state, so it never answers a SYN that carries caller data
// (beyond the SYN queue such a SYN is dropped, StackStats::syn_dropped_connect_data, and the
// client's retransmission tries again); a conditional listener never uses cookies.
//
// Connect data and conditional listeners (DESIGN.md §3c). Caller data rides on the SYN's
// disconnect-data offer (connect's caller_data, at most connect_data_limit bytes), callee data
// on the SYN-ACK's echo; both ends read the peer's with Connection::peer_connect_data. An
// ordinary listener answers at once (its SYN-ACK echoes with no callee data) and keeps the
// caller data on the connection. A conditional listener (listen's `conditional`) answers
// nothing: each new SYN becomes a *held request*, in arrival order, at most `backlog` of them
// (beyond: dropped, StackStats::held_backlog_drops -- no cookies); a retransmitted SYN of a held
// request is absorbed (held_syns_absorbed). The application looks at the oldest one
// (front_request) and decides: decide_front(accept) creates the SYN-RECEIVED connection and its
// SYN-ACK (with callee data) goes out on the next poll_transmit -- from there it is an ordinary
// passive connection, in the accept queue once ESTABLISHED; decide_front(reject) answers the
// SYN with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, as a closed port would (RFC 9293
// §3.10.7.1). Not deciding is deferring; a request held longer than
// TcpConfig::held_request_timeout is dropped (held_requests_expired), and poll_timeout includes
// that deadline. A new held request raises accept_ready for its listener (the same event as a
// connection entering the accept queue; accept_queue_size does not count held requests --
// held_requests does).
// A connection holds its 4-tuple and its local port until it reaches CLOSED; TIME-WAIT counts as
// holding them. A CLOSED connection still owned by the app keeps only its slot (and its close
// reason) until release().
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ustack/config.hpp"
#include "ustack/connection.hpp"
#include "ustack/errc.hpp"
#include "ustack/isn.hpp"
#include "ustack/segment.hpp"
#include "ustack/syn_cookie.hpp"
#include "ustack/time.hpp"

namespace ustack {

struct StackConfig {
    // Per-connection TCP knobs (config.hpp).
    TcpConfig tcp;

    // Our IPv4 address (host byte order). Segments addressed elsewhere are dropped and counted.
    Ipv4Addr addr = 0;

    // Ephemeral port range for connect() without a local port: the IANA dynamic range 49152-65535
    // (RFC 6335 §6), which RFC 6056 §3.2 recommends (Linux uses 32768-60999).
    std::uint16_t ephemeral_first = 49152;
    std::uint16_t ephemeral_last = 65535;

    // At most this many connections (every state, TIME-WAIT included) exist at once; a SYN beyond
    // it is dropped and connect() fails with no_buffers. 65536 is the size of the port space and
    // bounds the slot table's worst case (~65536 x sizeof(Connection), about 60 MB).
    std::size_t max_connections = 65536;

    // listen(port, 0) uses this backlog. 128 is Linux's SOMAXCONN before 5.4 and the floor of its
    // tcp_max_syn_backlog; Winsock's listen() also lets the provider pick a "reasonable" value.
    std::size_t default_syn_backlog = 128;
    // A larger listen() backlog is clamped to this (Linux net.core.somaxconn, 4096 since 5.4;
    // Winsock SOMAXCONN means "the provider's maximum").
    std::size_t max_accept_backlog = 4096;

    // Stack-generated RSTs (for segments that match nothing), and SYN-ACKs carrying SYN cookies,
    // wait for the next poll_transmit in a queue this long; beyond it they are dropped and counted.
    // This bounds the work a flood of stray segments can cause between two polls (RFC 9293 §3.5.2
    // does not require a RST for every stray segment; a RST that is not sent is just a later
    // retransmission's business).
    std::size_t rst_queue_limit = 256;

    // An orphaned connection (released by the app) in FIN-WAIT-2 waits at most this long for the
    // peer's FIN, then is aborted: without a limit a peer that never closes would pin it forever.
    // Linux net.ipv4.tcp_fin_timeout = 60 s.
    Duration orphan_fin_wait_2_timeout = 60'000'000us;

    // RFC 4987 §3.6: answer SYNs with SYN cookies when a listener's SYN queue is full, instead of
    // dropping them (Linux net.ipv4.tcp_syncookies = 1, its default). A full accept queue still
    // drops SYNs (as Linux): cookies cannot make the application accept faster.
    bool syn_cookies = true;

    // At most this many orphans (released by the app, not yet CLOSED) outside TIME-WAIT; a
    // release() beyond it aborts the connection (RST) instead of closing it gracefully in the
    // background (Linux net.ipv4.tcp_max_orphans, "too many orphaned sockets").
    std::size_t max_orphans = 16384;

    // At most this many connections in TIME-WAIT; one more recycles the oldest (it ends at once,
    // as its 2 MSL would have: no RST). Enforced at each poll_transmit, once the newcomers have
    // sent their last ACK (between two polls the table may exceed it by what one batch brings).
    // Linux net.ipv4.tcp_max_tw_buckets bounds the same table (Linux skips TIME-WAIT for the
    // newcomer instead). Half the slot table by default, so TIME-WAIT can never crowd out live
    // connections. 0: no TIME-WAIT is kept.
    std::size_t max_time_wait = 32768;

    // Record every connection's state changes with their causes (take_state_changes): the
    // host's state log (WSPHOSTCONFIG::state_log_path). Off: nothing is recorded.
    bool record_state_changes = false;
};

// Per-socket buffer sizes (SO_SNDBUF / SO_RCVBUF) set before connect() or listen(), in bytes;
// 0 takes TcpConfig's send_buffer / recv_buffer. They apply from the SYN on: the receive size
// decides the window and the window shift our SYN (SYN-ACK) offers (RFC 7323 §2.2).
struct BufferSizes {
    std::uint32_t send = 0;
    std::uint32_t recv = 0;
    constexpr bool operator==(const BufferSizes&) const = default;
};

// A generation-checked handle. The default value is never valid. A handle whose slot was freed
// (and perhaps reused) is "stale": every call taking it fails with invalid_argument.
struct ConnId {
    static constexpr std::uint32_t kNoIndex = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t index = kNoIndex;
    std::uint32_t generation = 0;
    constexpr bool operator==(const ConnId&) const = default;
    // One 64-bit value, e.g. as a map key in the WSP layer.
    [[nodiscard]] constexpr std::uint64_t key() const {
        return (std::uint64_t{generation} << 32) | index;
    }
};

struct ListenerId {
    static constexpr std::uint32_t kNoIndex = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t index = kNoIndex;
    std::uint32_t generation = 0;
    constexpr bool operator==(const ListenerId&) const = default;
    [[nodiscard]] constexpr std::uint64_t key() const {
        return (std::uint64_t{generation} << 32) | index;
    }
};

enum class StackEventKind : std::uint8_t {
    connection,        // `conn` had `event` (connected, readable, writable, peer_fin, closed)
    accept_ready,      // a connection entered `listener`'s accept queue, or (a conditional
                       // listener, DESIGN.md §3c) a SYN became a held request of it
    handshake_failed,  // a connection `listener` opened closed in SYN-RECEIVED (reset, or its
                       // SYN-ACK retransmissions gave up): RFC 9293 §3.10.7.4, "return to LISTEN"
};
std::string_view to_string(StackEventKind k);

struct StackEvent {
    StackEventKind kind = StackEventKind::connection;
    ConnId conn{};          // kind == connection
    ListenerId listener{};  // kind == accept_ready or handshake_failed
    Event event{};          // kind == connection
    bool operator==(const StackEvent&) const = default;
};

// Counters (drops are outcomes, not errors). "Current" values are gauges.
struct StackStats {
    std::uint64_t segs_in = 0;                 // every segment given to on_segment
    std::uint64_t segs_out = 0;                // every segment emitted by poll_transmit
    std::uint64_t dropped_not_for_us = 0;      // dst_addr is not our address
    std::uint64_t dropped_invalid = 0;         // port 0, or a broadcast/multicast/zero source
    std::uint64_t rst_sent_unknown = 0;        // RSTs for segments matching no connection (CLOSED,
                                               // or an ACK to a listener)
    std::uint64_t rst_ignored_unknown = 0;     // a RST that matched nothing: never answered
    std::uint64_t rst_queue_drops = 0;         // stack RSTs not sent because the queue was full
    std::uint64_t dropped_listener_other = 0;  // neither SYN, ACK nor RST, at a listener
    std::uint64_t syn_backlog_drops = 0;       // SYN dropped: SYN or accept queue full
    std::uint64_t syn_limit_drops = 0;         // SYN dropped: max_connections reached
    std::uint64_t accept_overflows = 0;        // established with the accept queue full: reset
    std::uint64_t removed_before_accept = 0;   // passive connections that closed before accept
    std::uint64_t time_wait_reopened = 0;      // TIME-WAIT ended by a new SYN (RFC 9293 MAY-2)
    std::uint64_t orphan_timeouts = 0;         // orphans aborted in FIN-WAIT-2
    std::uint64_t connections_opened = 0;      // active + passive, ever
    std::uint64_t connections_current = 0;     // slots in use (every state, unreleased CLOSED too)
    std::uint64_t connections_peak = 0;
    std::uint64_t time_wait = 0;  // connections now in TIME-WAIT
    std::uint64_t orphans = 0;    // connections now owned by nobody but the Stack
    // SYN cookies (RFC 4987 §3.6).
    std::uint64_t syn_cookies_sent = 0;            // SYN-ACKs carrying a cookie (SYN queue full)
    std::uint64_t syn_cookies_validated = 0;       // ACKs whose cookie verified: connection created
    std::uint64_t syn_cookies_failed = 0;          // ACKs to a listener in cookie mode that did not
                                                   // verify (forged, stale, bad TSecr bits)
    std::uint64_t syn_cookies_failed_dropped = 0;  // of those, with data or FIN: dropped, no RST
                                                   // (the others get one)
    std::uint64_t syn_cookies_queue_drops = 0;     // cookie SYN-ACKs not sent: reply queue full
    // DESIGN.md §3b.
    std::uint64_t message_mode_refused = 0;  // SYNs without the message-mode option at a
                                             // message-mode listener: RST as a closed port
    // DESIGN.md §3c: connect data and conditional listeners.
    std::uint64_t connect_data_syns = 0;         // SYNs carrying caller data (N > 0) that
                                                 // reached a listener, retransmissions included
    std::uint64_t syn_dropped_connect_data = 0;  // ... dropped: the SYN queue was full and a
                                                 // cookie cannot hold caller data
    std::uint64_t requests_held = 0;             // SYNs that became held requests
    std::uint64_t held_syns_absorbed = 0;        // retransmitted SYNs of a held request
    std::uint64_t held_backlog_drops = 0;        // SYNs dropped: the held queue was full
    std::uint64_t held_requests_accepted = 0;    // decide_front(accept): SYN-ACK sent
    std::uint64_t held_requests_rejected = 0;    // decide_front(reject): RST sent
    std::uint64_t held_requests_expired = 0;     // dropped after TcpConfig::held_request_timeout
    // Bounds hit (README "Limits").
    std::uint64_t connect_limit_failures = 0;  // connect() refused: max_connections reached
    std::uint64_t orphan_limit_aborts = 0;     // release() aborted: max_orphans reached
    std::uint64_t time_wait_recycled = 0;      // TIME-WAIT ended early: max_time_wait reached
    std::uint64_t network_down_closes = 0;     // connections network_down() ended
};

// DESIGN.md §3c: a conditional listener's oldest held request (Stack::front_request).
struct HeldRequest {
    Endpoint remote;                         // the client
    std::span<const std::byte> caller_data;  // its SYN's caller data (empty: none, or the host
                                             // has disconnect_data off and will not echo)
    Instant since;                           // when its first SYN arrived
    std::size_t callee_data_limit = 0;       // the most callee data decide_front(accept) takes:
                                             // the SYN-ACK's room (0: no echo to carry any)
};

// DESIGN.md §3c: what the application decided on a held request (Stack::decide_front).
enum class Verdict : std::uint8_t { accept, reject };

class Stack {
public:
    // `secret` keys the RFC 6528 ISN function, and (through keys derived from it) the 4-tuple hash
    // and RFC 6056 port selection. The host draws it at random at startup; tests fix it.
    Stack(const StackConfig& cfg, const SipKey& secret);
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    // ---- inputs ---------------------------------------------------------------------------
    void on_segment(const Segment& seg, Instant now);
    void on_timeout(Instant now);
    // The host's device is gone for good (its owner decided: the WSP layer, unless it waits for
    // the device to come back): every connection, whoever owns it and in whatever state, ends
    // now with CloseReason::network_down (Connection::network_down: nothing is sent -- there is
    // no link), held requests and queued RSTs are dropped. Listeners stay open (they answer
    // what arrives if a device ever delivers again). App-owned connections raise their closed
    // events; the others are freed.
    void network_down(Instant now);

    // ---- outputs --------------------------------------------------------------------------
    void poll_transmit(Instant now, SegmentSink& out);
    [[nodiscard]] std::optional<Instant> poll_timeout() const;
    std::optional<StackEvent> poll_event();
    // Are events waiting for poll_event()?
    [[nodiscard]] bool has_events() const { return !events_.empty(); }

    // ---- application calls ----------------------------------------------------------------
    // Active open to `remote` from `local_port` (0: an ephemeral port, RFC 6056), with the
    // socket's buffer sizes. The SYN goes out on the next poll_transmit.
    // `message_mode` (DESIGN.md §3b, a SOCK_SEQPACKET socket): the SYN -- and every
    // retransmission of it -- carries the message-mode option; a SYN-ACK without it resets the
    // half-open connection, which ends with CloseReason::refused (ConnStats::
    // message_mode_refused). Connection::message_mode() then tells whether it was agreed.
    // `caller_data` (DESIGN.md §3c): rides on the SYN's disconnect-data offer, the same bytes on
    // every retransmission; a SYN-ACK that does not echo the offer resets the half-open
    // connection (<SEQ=SEG.ACK><CTL=RST>), which ends with CloseReason::connect_data_refused
    // (ConnStats::connect_data_refused); one that does may bring callee data
    // (Connection::peer_connect_data). Empty: the plain offer (when the host has
    // disconnect_data on), whose SYN-ACK without echo is plain TCP.
    // Errors (nothing is created or sent on any): invalid_argument (remote address 0, broadcast
    // or multicast, or port 0), no_proto_opt (caller_data given but the host has
    // TcpConfig::disconnect_data off), msg_size (caller_data longer than
    // connect_data_limit(message_mode)), addr_in_use (local_port is used by a listener or a
    // connection), addr_not_available (no free ephemeral port), no_buffers (max_connections
    // reached).
    [[nodiscard]] Result<ConnId> connect(Endpoint remote, Instant now, std::uint16_t local_port = 0,
                                         BufferSizes sizes = {}, bool message_mode = false,
                                         std::span<const std::byte> caller_data = {});
    // DESIGN.md §3c: the most caller data a SYN of this stack (with or without the message-mode
    // option) has room for -- 16 bytes (12 with message mode) with MSS, SACK-permitted,
    // timestamps and window scale all on, more when some are off; 0 if the host has
    // TcpConfig::disconnect_data off.
    [[nodiscard]] std::size_t connect_data_limit(bool message_mode) const;

    // Listen on `port` (0: an ephemeral port; see listener_port). `backlog` bounds both the
    // SYN-RECEIVED connections and the accept queue of this listener; 0 means
    // default_syn_backlog, larger values are clamped to max_accept_backlog. `sizes` are the
    // buffer sizes of every connection the listener opens (SYN-cookie ones included: the
    // cookie SYN-ACK's window and shift follow the receive size).
    // `message_mode` (DESIGN.md §3b): the listener takes only SYNs that carry the message-mode
    // option and echoes it on its SYN-ACK (a cookie SYN-ACK too), so every connection it opens
    // is message-mode; a SYN without it is answered with a RST as a closed port would (RFC 9293
    // §3.10.7.1; StackStats::message_mode_refused). A stream listener ignores the option.
    // `conditional` (DESIGN.md §3c, SO_CONDITIONAL_ACCEPT): the listener answers no SYN by
    // itself; each new one is a held request (at most `backlog`, never SYN cookies) until
    // decide_front or held_request_timeout (see the top of this file).
    // Errors: addr_in_use (a listener or a connection uses the port), addr_not_available (port 0
    // and no free ephemeral port).
    [[nodiscard]] Result<ListenerId> listen(std::uint16_t port, std::size_t backlog,
                                            BufferSizes sizes = {}, bool message_mode = false,
                                            bool conditional = false);
    // Change a listener's buffer sizes (SO_SNDBUF / SO_RCVBUF on a listening socket): for the
    // connections it opens from now on. Errors: invalid_argument (stale listener).
    Errc set_listener_buffers(ListenerId l, BufferSizes sizes);

    // Take the oldest connection from the accept queue; the handle now belongs to the app.
    // Errors: invalid_argument (stale listener), would_block (the queue is empty).
    [[nodiscard]] Result<ConnId> accept(ListenerId l);
    // Take the connection from `remote` out of the accept queue, wherever it stands (e.g. the
    // one a decide_front(accept) opened, once it is ESTABLISHED: handshakes of requests accepted
    // one after the other may complete in another order). Errors: invalid_argument (stale
    // listener), would_block (no connection from `remote` in the accept queue -- still in the
    // handshake, or gone).
    [[nodiscard]] Result<ConnId> accept_from(ListenerId l, Endpoint remote);
    // Where the passive connection from `remote` on listener `l` stands: none (no such
    // connection, or the listener is stale), handshake (SYN-RECEIVED), queued (in the accept
    // queue: accept_from takes it).
    enum class PassiveStage : std::uint8_t { none, handshake, queued };
    [[nodiscard]] PassiveStage passive_stage(ListenerId l, Endpoint remote) const;
    // The remote end of the oldest connection in the accept queue of `l` whose remote is not in
    // `skip` (nullopt: none).
    [[nodiscard]] std::optional<Endpoint> oldest_queued_except(
        ListenerId l, std::span<const Endpoint> skip) const;

    // DESIGN.md §3c, conditional listeners. The oldest held request (nullopt: none, or the
    // listener is stale or not conditional). Its caller_data span stays valid until the request
    // leaves the queue (decide_front, expiry, close_listener) or a SYN of the same client
    // replaces it (on_segment: a retransmission with a new SEG.SEQ, i.e. the client started
    // over, replaces the held SYN in place).
    [[nodiscard]] std::optional<HeldRequest> front_request(ListenerId l) const;
    // Held requests waiting for a verdict (0 if stale or not conditional).
    [[nodiscard]] std::size_t held_requests(ListenerId l) const;
    // Decide on the oldest held request. accept: a SYN-RECEIVED connection is created (owned by
    // the listener, like any passive one) and its SYN-ACK -- echoing the offer with
    // `callee_data`, if the SYN offered it -- goes out on the next poll_transmit; it enters the
    // accept queue when ESTABLISHED. reject: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> answers
    // the SYN (RFC 9293 §3.10.7.1) and the request is dropped (`callee_data` unused). Not
    // calling it defers the decision (until held_request_timeout).
    // Errors (the request stays held on each): invalid_argument (stale listener, or not
    // conditional), would_block (no held request), no_proto_opt (accept with callee_data but the
    // SYN did not offer the option or the host has disconnect_data off: there is no echo to
    // carry it), msg_size (callee_data longer than the SYN-ACK's room: Connection::
    // connect_data_limit, 16 bytes with every option), no_buffers (max_connections reached).
    Errc decide_front(ListenerId l, Verdict v, std::span<const std::byte> callee_data, Instant now);

    // The connection behind an app-owned handle, for send/recv/shutdown/close/abort and state
    // queries; nullptr if the handle is stale (or released). Getting it marks the connection as
    // touched: call poll_transmit afterwards. The pointer stays valid until release(id).
    Connection* connection(ConnId id);
    // Read-only look-up with no side effect.
    [[nodiscard]] const Connection* find(ConnId id) const;

    // The application dropped its handle. If the connection is not CLOSED yet, it is closed
    // (Connection::close: graceful, or RST with unread data -- call abort() first for SO_LINGER
    // {1,0}) and finishes in the background ("orphaned"); its slot is freed at CLOSED. The handle
    // is invalid from now on. Errors: invalid_argument (stale handle).
    Errc release(ConnId id);

    // Stop listening: connections still in the SYN or accept queue are reset (RFC 9293 §3.10.5
    // ABORT) and freed; the port is free once no connection uses it.
    // Errors: invalid_argument (stale listener).
    Errc close_listener(ListenerId l);

    // ---- queries --------------------------------------------------------------------------
    [[nodiscard]] const StackConfig& config() const { return cfg_; }
    [[nodiscard]] const StackStats& stats() const { return stats_; }
    // The state changes recorded since the last call (StackConfig::record_state_changes), in
    // the order they happened; appended to `out`.
    void take_state_changes(std::vector<StateChange>& out);
    // Every connection's counters summed, those already freed included (O(connections)).
    [[nodiscard]] ConnStats connection_totals() const;
    // The port a listener listens on (0 if stale).
    [[nodiscard]] std::uint16_t listener_port(ListenerId l) const;
    // Connections waiting in a listener's accept queue / SYN queue (0 if stale).
    [[nodiscard]] std::size_t accept_queue_size(ListenerId l) const;
    [[nodiscard]] std::size_t syn_queue_size(ListenerId l) const;
    // A listener's buffer sizes as given to listen / set_listener_buffers ({} if stale).
    [[nodiscard]] BufferSizes listener_buffers(ListenerId l) const;
    // Was the listener opened with message_mode (false if stale)?
    [[nodiscard]] bool listener_message_mode(ListenerId l) const;
    // Was the listener opened conditional (DESIGN.md §3c; false if stale)?
    [[nodiscard]] bool listener_conditional(ListenerId l) const;
    // The connection (any owner, any state but CLOSED) that owns a 4-tuple, e.g. for diagnostics
    // and tests; nullptr if none.
    [[nodiscard]] const Connection* lookup(std::uint16_t local_port, Endpoint remote) const;
    // Is a local port held by a listener or a connection?
    [[nodiscard]] bool port_in_use(std::uint16_t port) const { return port_use_[port] != 0; }
    // Connections touched since the last poll_transmit (for tests of the dirty list).
    [[nodiscard]] std::size_t dirty_count() const { return dirty_.size(); }

private:
    enum class Owner : std::uint8_t { free, listener, app, orphan };

    struct Slot {
        std::optional<Connection> conn;  // engaged unless owner == free
        std::uint32_t generation = 1;    // bumped on free; ConnId{} (generation 0) never matches
        Owner owner = Owner::free;
        bool dirty = false;          // in dirty_ (touched since the last poll_transmit)
        bool registered = false;     // holds its 4-tuple in tuples_ and its port in port_use_
        bool queued = false;         // owner == listener: in the accept queue (else the SYN queue)
        bool time_wait = false;      // counted in stats_.time_wait
        std::uint32_t listener = 0;  // owner == listener: the listener's index
        std::uint32_t syn_pos = 0;   // owner == listener && !queued: index in Listener::syn
        std::optional<Instant> deadline;         // what the heap knows (see update_deadline)
        std::optional<Instant> orphan_deadline;  // orphan in FIN-WAIT-2: abort at this time
    };

    // DESIGN.md §3c: a SYN a conditional listener holds unanswered. All of a listener's held
    // requests share one timeout and are queued in arrival order, so they only ever leave from
    // the front (decided or expired) -- or all at once (close_listener).
    struct Held {
        Segment syn;                // the SYN, payload dropped (its caller data is in options)
        std::uint32_t syn_len = 0;  // its SEG.LEN (a RST to it acknowledges SEG.SEQ+SEG.LEN)
        Instant since{};            // when the first SYN arrived
        std::uint64_t serial = 0;   // increasing over the Stack's life (held_fifo_ entries)
    };

    struct Listener {
        std::uint32_t generation = 1;
        bool active = false;
        std::uint16_t port = 0;
        std::size_t backlog = 0;           // bound of `syn` and of `accept`
        BufferSizes sizes;                 // of the connections it opens (0: TcpConfig's)
        bool message_mode = false;         // DESIGN.md §3b: takes only SYNs with the option
        bool conditional = false;          // DESIGN.md §3c: holds SYNs for a verdict
        std::deque<Held> held;             // conditional: held requests, oldest first (<= backlog)
        std::vector<std::uint32_t> syn;    // SYN-RECEIVED connections (slot indices)
        std::deque<std::uint32_t> accept;  // synchronized, waiting for accept() (oldest first)
        // The last cookie this listener sent is still valid until then: ACKs are checked for
        // cookies only until this time (as Linux's tcp_synq_no_recent_overflow).
        std::optional<Instant> cookies_until;
    };

    // A heap entry: slot `index` (of `generation`) has a deadline at `at`. Valid only while the
    // slot still has that generation and Slot::deadline == at (lazy invalidation).
    struct Deadline {
        Instant at{};
        std::uint32_t index = 0;
        std::uint32_t generation = 0;
        bool operator>(const Deadline& o) const { return at > o.at; }
    };

    // Keyed hash of the packed 4-tuple (the remote end chooses two of its fields, so the key
    // stops it from aiming collisions at one bucket).
    struct TupleHash {
        SipKey key;
        std::size_t operator()(std::uint64_t k) const;
    };
    // Our address is fixed, so remote addr, remote port and local port identify a connection.
    static std::uint64_t tuple_key(std::uint16_t local_port, Endpoint remote) {
        return (std::uint64_t{remote.addr} << 32) | (std::uint64_t{remote.port} << 16) | local_port;
    }

    // The TCP knobs of a connection with these buffer sizes (0: cfg_.tcp's) and message mode.
    [[nodiscard]] TcpConfig tcp_config(BufferSizes sizes, bool message_mode) const;
    [[nodiscard]] TcpConfig tcp_config(const Listener& l) const {
        return tcp_config(l.sizes, l.message_mode);
    }
    // Ingress paths (RFC 9293 §3.10.7.1 and §3.10.7.2).
    void input_listen(std::uint32_t li, const Segment& seg, Instant now);
    void input_closed(const Segment& seg);
    bool try_reopen_time_wait(std::uint32_t idx, const Segment& seg, Instant now);
    bool listener_admits(const Listener& l) const;
    void open_passive(std::uint32_t li, const Segment& syn, SeqNum iss, Instant now,
                      std::span<const std::byte> callee_data = {});
    // DESIGN.md §3c: conditional listeners' held requests.
    void input_conditional(std::uint32_t li, const Segment& syn, Instant now);
    void hold_request(std::uint32_t li, const Segment& syn, Instant now);
    void pop_held_front(std::uint32_t li);
    void expire_held(Instant now);
    void prune_held();
    [[nodiscard]] bool held_entry_valid(std::uint32_t li, std::uint32_t generation,
                                        std::uint64_t serial) const;
    void queue_rst(const Segment& seg, SeqNum seq, bool with_ack, SeqNum ack);
    // SYN cookies (RFC 4987 §3.6; the cookie itself is SynCookies').
    void send_syn_cookie(std::uint32_t li, const Segment& syn, Instant now);
    bool accept_syn_cookie(std::uint32_t li, const Segment& ack, Instant now);
    // Bounds.
    bool recycle_oldest_time_wait(Instant now);

    // Slot life.
    std::optional<std::uint32_t> alloc_slot();
    void free_slot(std::uint32_t idx);
    void register_tuple(std::uint32_t idx);
    void unregister_tuple(std::uint32_t idx);
    void detach_from_listener(std::uint32_t idx);
    ConnId hand_to_app(std::uint32_t idx);
    void make_orphan(std::uint32_t idx);
    void mark_dirty(std::uint32_t idx);
    // After any input to a connection: forward its events, move it between queues, drop its
    // tuple at CLOSED, and tell the heap about its next deadline.
    void settle(std::uint32_t idx, Instant now);
    void see(Instant now) { last_now_ = std::max(last_now_, now); }
    void update_deadline(std::uint32_t idx);
    void prune_heap();
    [[nodiscard]] bool entry_valid(const Deadline& d) const;

    [[nodiscard]] Slot* slot_of(ConnId id);
    [[nodiscard]] const Slot* slot_of(ConnId id) const;
    [[nodiscard]] Listener* listener_of(ListenerId id);
    [[nodiscard]] const Listener* listener_of(ListenerId id) const;
    [[nodiscard]] ConnId id_of(std::uint32_t idx) const { return {idx, slots_[idx].generation}; }
    [[nodiscard]] std::optional<std::uint16_t> pick_ephemeral(Endpoint remote);

    StackConfig cfg_;
    IsnGenerator isn_;
    SipKey port_key_;     // RFC 6056 algorithm 3's F() key, derived from the secret
    SynCookies cookies_;  // RFC 4987 §3.6, keyed from the secret

    // Connections. A deque keeps Connection addresses stable while the table grows.
    std::deque<Slot> slots_;
    std::deque<std::uint32_t> free_slots_;  // FIFO: a freed index is reused as late as possible
    std::unordered_map<std::uint64_t, std::uint32_t, TupleHash> tuples_;  // 4-tuple -> slot

    // Listeners (few): a vector with a free list; listener_by_port_ maps port -> index.
    std::vector<Listener> listeners_;
    std::vector<std::uint32_t> free_listeners_;
    std::unordered_map<std::uint16_t, std::uint32_t> listener_by_port_;

    // port_use_[p]: listeners + registered connections using local port p (0: free).
    std::vector<std::uint32_t> port_use_;
    std::uint32_t ephemeral_counter_ = 0;  // RFC 6056 algorithm 3 "next_ephemeral"

    // Work lists.
    std::vector<std::uint32_t> dirty_;    // slots touched since the last poll_transmit
    std::vector<std::uint32_t> scratch_;  // reused by poll_transmit / on_timeout
    std::vector<Deadline> heap_;          // min-heap (std::push_heap with greater<>)
    std::size_t armed_ = 0;               // slots with a deadline (bounds the heap's garbage)
    std::vector<Segment> rst_queue_;      // stack RSTs and cookie SYN-ACKs (no payload) for the
                                          // next poll_transmit
    // Slots that entered TIME-WAIT, oldest first (entries go stale when the slot leaves
    // TIME-WAIT or is freed: checked by generation and Slot::time_wait).
    struct TimeWaitEntry {
        std::uint32_t index = 0;
        std::uint32_t generation = 0;
    };
    std::deque<TimeWaitEntry> time_wait_fifo_;
    std::uint64_t time_wait_orphans_ = 0;  // orphans in TIME-WAIT (not counted by max_orphans)
    // DESIGN.md §3c: every held request's 4-tuple -> its serial (a retransmitted SYN finds its
    // request by it: Held::serial is increasing along a listener's queue), and the expiry of
    // each, in arrival order over all listeners (= deadline order: one timeout for all).
    // Entries go stale when their request leaves early (checked by held_entry_valid, pruned
    // from the front so poll_timeout can read it, compacted when garbage outweighs them).
    std::unordered_map<std::uint64_t, std::uint64_t, TupleHash> held_tuples_;
    struct HeldDeadline {
        Instant at{};
        std::uint32_t listener = 0;
        std::uint32_t generation = 0;
        std::uint64_t serial = 0;
    };
    std::deque<HeldDeadline> held_fifo_;
    std::uint64_t held_serial_ = 0;  // the last serial given
    std::size_t held_total_ = 0;     // held requests over all listeners
    std::deque<StackEvent> events_;
    // The latest `now` any input brought (release and close_listener take none).
    Instant last_now_{};

    StackStats stats_;
    // record_state_changes: every connection appends here (a stable address: connections hold
    // it); take_state_changes empties it.
    std::unique_ptr<std::vector<StateChange>> state_log_ =
        std::make_unique<std::vector<StateChange>>();
    ConnStats retired_conn_stats_;  // counters of connections whose slots were freed
};

}  // namespace ustack
