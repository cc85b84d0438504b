// Stack: demultiplexing, listeners, ports, stack RSTs and the deadline heap (see stack.hpp).
//
// Heads up! RFC 9293 §3.10.7.1 (CLOSED) and §3.10.7.2 (LISTEN) are implemented here, not in
// Connection: a segment that matches no connection never reaches one. Everything after the 4-tuple
// look-up is Connection's business. When to use SYN cookies (RFC 4987 §3.6) is decided here too --
// a cookie is a LISTEN-state reply, and its ACK arrives at the listener -- while the cookie itself
// is SynCookies' (syn_cookie.hpp). So are a conditional listener's held requests (DESIGN.md §3c):
// a held SYN is a LISTEN-state matter until the application's verdict makes it a connection.
#include "ustack/stack.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <vector>

#include "ustack/byte_order.hpp"
#include "ustack/syn_options.hpp"

namespace ustack {

std::string_view to_string(StackEventKind k) {
    switch (k) {
        case StackEventKind::connection: return "connection";
        case StackEventKind::accept_ready: return "accept_ready";
        case StackEventKind::handshake_failed: return "handshake_failed";
    }
    return "?";
}

namespace {

// A 128-bit key for one purpose, derived from the host secret with SipHash as a PRF, so that the
// tuple hash, the port choice and the ISNs never share a key.
SipKey derive_key(const SipKey& secret, std::uint8_t label) {
    SipKey out{};
    for (std::uint8_t half = 0; half < 2; ++half) {
        const std::array<std::byte, 2> msg{std::byte{label}, std::byte{half}};
        store_le64(out.data() + std::size_t{half} * 8, siphash24(secret, msg));
    }
    return out;
}

// RFC 1122 §4.2.3.10 (and RFC 9293 §3.9.2.1): a SYN from a broadcast or multicast address is
// discarded, and we never answer such a source (nor 0.0.0.0) with a RST. 224/4 is multicast;
// 240/4 is reserved and holds the limited broadcast 255.255.255.255.
bool bad_address(Ipv4Addr a) {
    return a == 0 || (a >> 28) >= 0xe;
}

bool is_pure_syn(const Segment& s) {
    return s.has(tcp_flag::syn) && !s.has(tcp_flag::ack) && !s.has(tcp_flag::rst);
}

// DESIGN.md §3c: does a SYN carry caller data (a disconnect-data offer with N > 0)?
bool carries_connect_data(const Segment& s) {
    return s.options.disconnect && s.options.disconnect->len > 0;
}

// Wraps the caller's sink to count what goes out.
class CountingSink final : public SegmentSink {
public:
    CountingSink(SegmentSink& inner, std::uint64_t& count) : inner_(inner), count_(count) {}
    void emit(const Segment& seg) override {
        ++count_;
        inner_.emit(seg);
    }

private:
    SegmentSink& inner_;
    std::uint64_t& count_;
};

}  // namespace

std::size_t Stack::TupleHash::operator()(std::uint64_t k) const {
    std::array<std::byte, 8> b{};
    store_le64(b.data(), k);
    return static_cast<std::size_t>(siphash24(key, b));
}

Stack::Stack(const StackConfig& cfg, const SipKey& secret)
    : cfg_(cfg),
      isn_(secret),
      port_key_(derive_key(secret, 1)),
      cookies_(derive_key(secret, 4), derive_key(secret, 5), cfg.addr),
      tuples_(0, TupleHash{derive_key(secret, 2)}),
      port_use_(std::size_t{65536}, 0U),
      held_tuples_(0, TupleHash{derive_key(secret, 6)}) {
    // RFC 6056 §3.3.3: "next_ephemeral ... Could be random" -- from the secret.
    ephemeral_counter_ = static_cast<std::uint32_t>(siphash24(derive_key(secret, 3), {}));
}

TcpConfig Stack::tcp_config(BufferSizes sizes, bool message_mode) const {
    TcpConfig t = cfg_.tcp;
    if (sizes.send != 0)
        t.send_buffer = sizes.send;
    if (sizes.recv != 0)
        t.recv_buffer = sizes.recv;
    t.message_mode = message_mode;  // DESIGN.md §3b: the socket's, never the host's
    return t;
}

// ---- ingress ---------------------------------------------------------------------------------

void Stack::on_segment(const Segment& seg, Instant now) {
    see(now);
    stats_.segs_in++;
    if (seg.dst_addr != cfg_.addr) {
        stats_.dropped_not_for_us++;
        return;
    }
    if (seg.src_port == 0 || seg.dst_port == 0 || bad_address(seg.src_addr)) {
        stats_.dropped_invalid++;
        return;
    }
    // Level one: the exact 4-tuple (our address is implied).
    if (const auto it = tuples_.find(tuple_key(seg.dst_port, seg.src())); it != tuples_.end()) {
        const std::uint32_t idx = it->second;
        if (try_reopen_time_wait(idx, seg, now))
            return;
        slots_[idx].conn->on_segment(seg, now);
        settle(idx, now);
        mark_dirty(idx);
        return;
    }
    // Level two: a listener on the destination port.
    if (const auto it = listener_by_port_.find(seg.dst_port); it != listener_by_port_.end()) {
        input_listen(it->second, seg, now);
        return;
    }
    input_closed(seg);
}

// RFC 9293 §3.10.7.1, "If the state is CLOSED (i.e., TCB does not exist)": all data is discarded;
// an incoming RST is discarded; anything else is answered with a RST (§3.5.2 case 1).
void Stack::input_closed(const Segment& seg) {
    if (seg.has(tcp_flag::rst)) {
        stats_.rst_ignored_unknown++;
        return;
    }
    if (seg.has(tcp_flag::ack)) {
        // <SEQ=SEG.ACK><CTL=RST>
        queue_rst(seg, seg.ack, false, SeqNum{});
    } else {
        // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        queue_rst(seg, SeqNum(0), true, seg.seq + seg.seg_len());
    }
}

// RFC 9293 §3.10.7.2, "If the state is LISTEN".
void Stack::input_listen(std::uint32_t li, const Segment& seg, Instant now) {
    const Listener& l = listeners_[li];
    // First, check for a RST: "An incoming RST segment could not be valid since it could not have
    // been sent in response to anything sent by this incarnation of the connection" -- ignore.
    if (seg.has(tcp_flag::rst)) {
        stats_.rst_ignored_unknown++;
        return;
    }
    // Second, check for an ACK: "Any acknowledgment is bad if it arrives on a connection still in
    // the LISTEN state": <SEQ=SEG.ACK><CTL=RST>. Unless it answers a SYN cookie (RFC 4987 §3.6):
    // while this listener's cookies may be out there, an ACK without SYN is checked for one. A
    // cookie can be checked only on the segment at the peer's ISS+1, so a segment with data or
    // FIN that fails the check may be a later one from a peer whose first segments were lost (a
    // flood fills the queues on the way): it is dropped without a RST, and the peer's
    // retransmission from ISS+1 still opens the connection. A bare ACK that fails gets the RST.
    if (seg.has(tcp_flag::ack)) {
        if (cfg_.syn_cookies && !seg.has(tcp_flag::syn) && l.cookies_until &&
            now <= *l.cookies_until) {
            if (accept_syn_cookie(li, seg, now))
                return;
            if (seg.seg_len() != 0) {
                stats_.syn_cookies_failed_dropped++;
                return;
            }
        }
        queue_rst(seg, seg.ack, false, SeqNum{});
        return;
    }
    // Third, check for a SYN. (The security/compartment check does not apply.) DESIGN.md §3b: a
    // message-mode listener is a closed port to a SYN without the message-mode option --
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (§3.10.7.1), before any queue is looked at. Early
    // drop when the listener's accept queue is full or the connection table is: the peer
    // retransmits its SYN and may find room then. No RST: the port is open, just busy. A full
    // SYN queue is answered with a SYN cookie (RFC 4987 §3.6), or, with cookies off, the SYN is
    // dropped likewise.
    if (seg.has(tcp_flag::syn)) {
        if (syn_refused(tcp_config(l), seg.options)) {
            stats_.message_mode_refused++;
            input_closed(seg);
            return;
        }
        if (carries_connect_data(seg))
            stats_.connect_data_syns++;
        // DESIGN.md §3c: a conditional listener holds the SYN for the application's verdict.
        if (l.conditional) {
            input_conditional(li, seg, now);
            return;
        }
        if (l.accept.size() >= l.backlog) {
            stats_.syn_backlog_drops++;
            return;
        }
        if (stats_.connections_current >= cfg_.max_connections) {
            stats_.syn_limit_drops++;
            return;
        }
        if (l.syn.size() >= l.backlog) {
            if (carries_connect_data(seg)) {
                // DESIGN.md §3c: a cookie keeps no state to hold caller data (and could not
                // deliver it to the connection it makes): drop, the client retransmits.
                stats_.syn_dropped_connect_data++;
            } else if (cfg_.syn_cookies) {
                send_syn_cookie(li, seg, now);
            } else {
                stats_.syn_backlog_drops++;
            }
            return;
        }
        const SeqNum iss = isn_.generate(Endpoint{cfg_.addr, l.port}, seg.src(), now);
        open_passive(li, seg, iss, now);
        return;
    }
    // Fourth, other data or control: "drop the segment and return".
    stats_.dropped_listener_other++;
}

bool Stack::listener_admits(const Listener& l) const {
    if (l.conditional)
        return l.held.size() < l.backlog && l.accept.size() < l.backlog;
    return l.syn.size() < l.backlog && l.accept.size() < l.backlog;
}

// RFC 9293 §3.6.1 MAY-2: a new SYN may reopen a connection in TIME-WAIT if the new ISS is larger
// than any sequence number the old incarnation used and the SYN is new (SEG.SEQ beyond what the
// old incarnation received; RFC 6191 §2 without timestamps). Only for orphans -- a TIME-WAIT
// connection whose handle the app still holds keeps its graceful ending -- and only if a listener
// would take the SYN. (We do not "return to TIME-WAIT if the SYN turns out to be an old
// duplicate": the old incarnation is gone once the new one starts.)
bool Stack::try_reopen_time_wait(std::uint32_t idx, const Segment& seg, Instant now) {
    Slot& s = slots_[idx];
    Connection& c = *s.conn;
    if (s.owner != Owner::orphan || c.state() != TcpState::time_wait || !is_pure_syn(seg)) {
        return false;
    }
    if (!(seg.seq > c.rcv_nxt()))
        return false;
    const auto it = listener_by_port_.find(seg.dst_port);
    if (it == listener_by_port_.end() || !listener_admits(listeners_[it->second]))
        return false;
    // DESIGN.md §3b: a SYN a message-mode listener would refuse reopens nothing (the TIME-WAIT
    // connection answers it as any SYN).
    if (syn_refused(tcp_config(listeners_[it->second]), seg.options))
        return false;
    const SeqNum iss = isn_.generate(c.local(), c.remote(), now);
    if (!(iss > c.snd_nxt()))
        return false;
    c.abort();  // TIME-WAIT: "delete the TCB", no RST (RFC 9293 §3.10.5)
    while (c.poll_event()) {
    }
    stats_.time_wait_reopened++;
    free_slot(idx);
    if (listeners_[it->second].conditional) {
        hold_request(it->second, seg, now);  // DESIGN.md §3c: the verdict comes first
    } else {
        open_passive(it->second, seg, iss, now);
    }
    return true;
}

void Stack::open_passive(std::uint32_t li, const Segment& syn, SeqNum iss, Instant now,
                         std::span<const std::byte> callee_data) {
    const auto idx = alloc_slot();
    if (!idx) {
        stats_.syn_limit_drops++;
        return;
    }
    Slot& s = slots_[*idx];
    Listener& l = listeners_[li];
    s.conn.emplace(tcp_config(l), Endpoint{cfg_.addr, l.port}, syn.src(), iss);
    if (cfg_.record_state_changes)
        s.conn->set_state_log(state_log_.get());
    s.owner = Owner::listener;
    s.listener = li;
    s.queued = false;
    s.syn_pos = static_cast<std::uint32_t>(l.syn.size());
    l.syn.push_back(*idx);
    register_tuple(*idx);
    stats_.connections_opened++;
    s.conn->open_passive(syn, now, callee_data);  // LISTEN -> SYN-RECEIVED, SYN-ACK queued
    settle(*idx, now);
    mark_dirty(*idx);
}

// ---- conditional listeners (DESIGN.md §3c) ----------------------------------------------------

// A SYN (already checked by input_listen: no RST, no ACK, not refused for message mode) at a
// conditional listener: absorbed if it repeats a held request's, else held if there is room.
// Never a cookie: a cookie cannot wait for a verdict.
void Stack::input_conditional(std::uint32_t li, const Segment& syn, Instant now) {
    Listener& l = listeners_[li];
    const auto it = held_tuples_.find(tuple_key(l.port, syn.src()));
    if (it != held_tuples_.end()) {
        // The client retransmitted its SYN while the request waits: nothing to answer yet. If
        // its SEG.SEQ changed the client started over (a new connect from the same port): the
        // new SYN -- its ISN and caller data -- replaces the held one in place (an accept would
        // otherwise acknowledge an ISN the client forgot, and draw its RST).
        stats_.held_syns_absorbed++;
        const auto pos =
            std::lower_bound(l.held.begin(), l.held.end(), it->second,
                             [](const Held& h, std::uint64_t serial) { return h.serial < serial; });
        if (pos != l.held.end() && pos->serial == it->second && pos->syn.seq != syn.seq) {
            pos->syn = syn;
            pos->syn.payload = {};
            pos->syn_len = syn.seg_len();
        }
        return;
    }
    if (l.accept.size() >= l.backlog) {
        stats_.syn_backlog_drops++;  // as for any listener: accepting faster is the app's part
        return;
    }
    if (l.held.size() >= l.backlog) {
        stats_.held_backlog_drops++;
        return;
    }
    hold_request(li, syn, now);
}

void Stack::hold_request(std::uint32_t li, const Segment& syn, Instant now) {
    Listener& l = listeners_[li];
    Held h{.syn = syn, .syn_len = syn.seg_len(), .since = now, .serial = ++held_serial_};
    h.syn.payload = {};  // borrowed from the packet; data on a SYN is never taken anyway
    l.held.push_back(h);
    held_tuples_[tuple_key(l.port, syn.src())] = h.serial;
    held_fifo_.push_back(
        HeldDeadline{now + cfg_.tcp.held_request_timeout, li, l.generation, h.serial});
    held_total_++;
    stats_.requests_held++;
    // The listener has something for the application to decide on (FD_ACCEPT in the WSP layer).
    events_.push_back({StackEventKind::accept_ready, {}, ListenerId{li, l.generation}, {}});
}

void Stack::pop_held_front(std::uint32_t li) {
    Listener& l = listeners_[li];
    const Held& h = l.held.front();
    held_tuples_.erase(tuple_key(l.port, h.syn.src()));
    l.held.pop_front();
    held_total_--;
    prune_held();
}

// A held_fifo_ entry is live while its request is still queued: its listener has the same
// generation and the request is not older than the listener's front (requests leave only from
// the front, so everything from the front on is still there).
bool Stack::held_entry_valid(std::uint32_t li, std::uint32_t generation,
                             std::uint64_t serial) const {
    if (li >= listeners_.size())
        return false;
    const Listener& l = listeners_[li];
    return l.active && l.generation == generation && !l.held.empty() &&
           l.held.front().serial <= serial;
}

// Held requests whose time is up are dropped: nobody decided (DESIGN.md §3c). Nothing is sent;
// the client's next retransmitted SYN, if any, is a new request.
void Stack::expire_held(Instant now) {
    while (!held_fifo_.empty() && held_fifo_.front().at <= now) {
        const HeldDeadline d = held_fifo_.front();
        held_fifo_.pop_front();
        if (!held_entry_valid(d.listener, d.generation, d.serial))
            continue;
        // A live entry due first is its listener's front (one timeout, arrival order).
        stats_.held_requests_expired++;
        pop_held_front(d.listener);
    }
    prune_held();
}

// Keep held_fifo_'s front live (poll_timeout reads it) and its garbage bounded: a filter costs
// O(entries) and is paid for by the >= held_total_ + 64 requests that left early before it.
void Stack::prune_held() {
    while (!held_fifo_.empty() &&
           !held_entry_valid(held_fifo_.front().listener, held_fifo_.front().generation,
                             held_fifo_.front().serial)) {
        held_fifo_.pop_front();
    }
    if (held_fifo_.size() > 2 * held_total_ + 64) {
        std::erase_if(held_fifo_, [this](const HeldDeadline& d) {
            return !held_entry_valid(d.listener, d.generation, d.serial);
        });
    }
}

// ---- SYN cookies (RFC 4987 §3.6; the cookie is in syn_cookie.hpp) ------------------------------

// The SYN queue is full: answer with a cookie SYN-ACK (syn_cookie.hpp) and keep nothing.
void Stack::send_syn_cookie(std::uint32_t li, const Segment& syn, Instant now) {
    Listener& l = listeners_[li];
    if (rst_queue_.size() >= cfg_.rst_queue_limit) {
        stats_.syn_cookies_queue_drops++;
        return;
    }
    rst_queue_.push_back(cookies_.make_syn_ack(l.port, syn, tcp_config(l), now));
    stats_.syn_cookies_sent++;
    l.cookies_until = now + SynCookies::kLifetime;
}

// An ACK reached listener `li` while its cookies may be out: if it returns a valid cookie, open
// the connection of the SYN the cookie stands for. Returns false (after counting the failure) if
// it is not a valid cookie; the caller then answers as input_listen says.
bool Stack::accept_syn_cookie(std::uint32_t li, const Segment& ack, Instant now) {
    Listener& l = listeners_[li];
    const TcpConfig tc = tcp_config(l);
    const std::optional<Segment> syn = cookies_.check_ack(l.port, ack, tc, now);
    if (!syn) {
        stats_.syn_cookies_failed++;
        return false;
    }
    // A valid cookie. The queues and the table are bounded as for a completing handshake.
    if (l.accept.size() >= l.backlog) {
        stats_.accept_overflows++;
        queue_rst(ack, ack.ack, false, SeqNum{});
        return true;
    }
    const auto idx = alloc_slot();
    if (!idx) {
        stats_.syn_limit_drops++;
        return true;
    }
    stats_.syn_cookies_validated++;
    Slot& s = slots_[*idx];
    s.conn.emplace(tc, Endpoint{cfg_.addr, l.port}, ack.src(), ack.ack - 1);
    if (cfg_.record_state_changes)
        s.conn->set_state_log(state_log_.get());
    s.owner = Owner::listener;
    s.listener = li;
    s.queued = false;
    s.syn_pos = static_cast<std::uint32_t>(l.syn.size());
    l.syn.push_back(*idx);  // for an instant (settle moves it to the accept queue)
    register_tuple(*idx);
    stats_.connections_opened++;
    Connection& c = *s.conn;
    c.open_from_cookie(*syn, syn_window(tc.recv_buffer), now);
    c.on_segment(ack, now);  // SYN-RECEIVED -> ESTABLISHED, and any data or FIN on the ACK
    if (!c.is_synchronized() && !c.is_closed())
        c.abort();  // cannot happen: the ACK is ISS+1
    settle(*idx, now);
    mark_dirty(*idx);
    return true;
}

void Stack::queue_rst(const Segment& seg, SeqNum seq, bool with_ack, SeqNum ack) {
    if (rst_queue_.size() >= cfg_.rst_queue_limit) {
        stats_.rst_queue_drops++;
        return;
    }
    Segment r;
    r.set_endpoints({cfg_.addr, seg.dst_port}, seg.src());
    r.seq = seq;
    r.flags = tcp_flag::rst;
    if (with_ack) {
        r.flags |= tcp_flag::ack;
        r.ack = ack;
    }
    r.window = 0;
    rst_queue_.push_back(r);
    stats_.rst_sent_unknown++;
}

// ---- timers ----------------------------------------------------------------------------------

void Stack::on_timeout(Instant now) {
    see(now);
    expire_held(now);
    // Collect first: handling a deadline pushes new heap entries.
    scratch_.clear();
    while (!heap_.empty() && heap_.front().at <= now) {
        const Deadline d = heap_.front();
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
        heap_.pop_back();
        if (!entry_valid(d))
            continue;
        Slot& s = slots_[d.index];
        s.deadline.reset();  // also invalidates duplicates of this entry
        armed_--;
        scratch_.push_back(d.index);
    }
    for (const std::uint32_t idx : scratch_) {
        Slot& s = slots_[idx];
        Connection& c = *s.conn;
        if (s.orphan_deadline && *s.orphan_deadline <= now) {
            s.orphan_deadline.reset();
            if (s.owner == Owner::orphan && c.state() == TcpState::fin_wait_2) {
                // The peer never sent its FIN. ABORT in FIN-WAIT-2 sends a RST (RFC 9293 §3.10.5)
                // so the peer learns its half of the connection is gone.
                stats_.orphan_timeouts++;
                c.abort(TransitionCause::orphan_timeout);
            }
        }
        if (const auto t = c.poll_timeout(); t && *t <= now)
            c.on_timeout(now);
        settle(idx, now);
        mark_dirty(idx);
    }
    scratch_.clear();
    prune_heap();
}

void Stack::network_down(Instant now) {
    see(now);
    for (std::uint32_t idx = 0; idx < slots_.size(); ++idx) {
        Slot& s = slots_[idx];
        if (s.owner == Owner::free || s.conn->is_closed())
            continue;
        s.conn->network_down();
        stats_.network_down_closes++;
        settle(idx, now);
        mark_dirty(idx);
    }
    for (Listener& l : listeners_) {
        for (const Held& h : l.held) held_tuples_.erase(tuple_key(l.port, h.syn.src()));
        held_total_ -= l.held.size();
        l.held.clear();
    }
    prune_held();
    rst_queue_.clear();
    prune_heap();
}

std::optional<Instant> Stack::poll_timeout() const {
    // prune_heap keeps the top valid after every change, prune_held the held requests' front.
    std::optional<Instant> t;
    if (!heap_.empty())
        t = heap_.front().at;
    if (!held_fifo_.empty() && (!t || held_fifo_.front().at < *t))
        t = held_fifo_.front().at;
    return t;
}

// ---- egress ----------------------------------------------------------------------------------

void Stack::poll_transmit(Instant now, SegmentSink& out) {
    see(now);
    CountingSink sink(out, stats_.segs_out);
    for (const Segment& r : rst_queue_) sink.emit(r);
    rst_queue_.clear();
    // Only connections touched since the last call can have something to send. settle() may touch
    // a connection again (an accept-queue overflow resets it): a few passes drain that.
    for (int pass = 0; pass < 4 && !dirty_.empty(); ++pass) {
        scratch_.swap(dirty_);
        dirty_.clear();
        for (const std::uint32_t idx : scratch_) {
            Slot& s = slots_[idx];
            s.dirty = false;
            if (s.owner == Owner::free)
                continue;
            s.conn->poll_transmit(now, sink);
            settle(idx, now);
            // An orphan that reached CLOSED has sent its last segment (a RST, if any): free it.
            if (s.owner == Owner::orphan && s.conn->is_closed() && !s.dirty)
                free_slot(idx);
        }
        scratch_.clear();
    }
    // The TIME-WAIT bound (README "Limits"): enforced here, after every connection that entered
    // TIME-WAIT since the last call has sent its ACK of the peer's FIN.
    while (stats_.time_wait > cfg_.max_time_wait && recycle_oldest_time_wait(now)) {
    }
}

std::optional<StackEvent> Stack::poll_event() {
    if (events_.empty())
        return std::nullopt;
    const StackEvent e = events_.front();
    events_.pop_front();
    return e;
}

// ---- application calls -----------------------------------------------------------------------

Result<ConnId> Stack::connect(Endpoint remote, Instant now, std::uint16_t local_port,
                              BufferSizes sizes, bool message_mode,
                              std::span<const std::byte> caller_data) {
    see(now);
    // RFC 1122 §4.2.3.10: an OPEN to a broadcast or multicast address must be rejected.
    if (remote.port == 0 || bad_address(remote.addr))
        return Errc::invalid_argument;
    // DESIGN.md §3c: caller data needs the extension, and must fit the SYN's option space.
    if (!caller_data.empty()) {
        if (!cfg_.tcp.disconnect_data)
            return Errc::no_proto_opt;
        if (caller_data.size() > connect_data_limit(message_mode))
            return Errc::msg_size;
    }
    if (stats_.connections_current >= cfg_.max_connections) {
        stats_.connect_limit_failures++;
        return Errc::no_buffers;
    }
    std::uint16_t port = local_port;
    if (port == 0) {
        const auto p = pick_ephemeral(remote);
        if (!p)
            return Errc::addr_not_available;
        port = *p;
    } else if (port_use_[port] != 0) {
        return Errc::addr_in_use;
    }
    const auto idx = alloc_slot();
    if (!idx)
        return Errc::no_buffers;
    Slot& s = slots_[*idx];
    const Endpoint local{cfg_.addr, port};
    s.conn.emplace(tcp_config(sizes, message_mode), local, remote,
                   isn_.generate(local, remote, now));
    if (cfg_.record_state_changes)
        s.conn->set_state_log(state_log_.get());
    s.owner = Owner::app;
    register_tuple(*idx);
    stats_.connections_opened++;
    s.conn->open_active(now, caller_data);  // CLOSED -> SYN-SENT, SYN queued
    settle(*idx, now);
    mark_dirty(*idx);
    return id_of(*idx);
}

std::size_t Stack::connect_data_limit(bool message_mode) const {
    return connect_data_room(syn_offer(tcp_config(BufferSizes{}, message_mode)));
}

Result<ListenerId> Stack::listen(std::uint16_t port, std::size_t backlog, BufferSizes sizes,
                                 bool message_mode, bool conditional) {
    if (port == 0) {
        const auto p = pick_ephemeral(Endpoint{});
        if (!p)
            return Errc::addr_not_available;
        port = *p;
    } else if (port_use_[port] != 0) {
        return Errc::addr_in_use;
    }
    std::uint32_t li = 0;
    if (!free_listeners_.empty()) {
        li = free_listeners_.back();
        free_listeners_.pop_back();
    } else {
        li = static_cast<std::uint32_t>(listeners_.size());
        listeners_.emplace_back();
    }
    Listener& l = listeners_[li];
    l.active = true;
    l.port = port;
    const std::size_t b = backlog == 0 ? cfg_.default_syn_backlog : backlog;
    l.backlog = std::max<std::size_t>(std::min(b, cfg_.max_accept_backlog), 1);
    l.sizes = sizes;
    l.message_mode = message_mode;
    l.conditional = conditional;
    l.held.clear();
    listener_by_port_[port] = li;
    port_use_[port]++;
    return ListenerId{li, l.generation};
}

Result<ConnId> Stack::accept(ListenerId lid) {
    Listener* l = listener_of(lid);
    if (l == nullptr)
        return Errc::invalid_argument;
    if (l->accept.empty())
        return Errc::would_block;
    const std::uint32_t idx = l->accept.front();
    l->accept.pop_front();
    return hand_to_app(idx);
}

Result<ConnId> Stack::accept_from(ListenerId lid, Endpoint remote) {
    Listener* l = listener_of(lid);
    if (l == nullptr)
        return Errc::invalid_argument;
    const auto it = tuples_.find(tuple_key(l->port, remote));
    if (it == tuples_.end())
        return Errc::would_block;
    const Slot& s = slots_[it->second];
    if (s.owner != Owner::listener || s.listener != lid.index || !s.queued)
        return Errc::would_block;  // not this listener's, or not established yet
    const auto pos = std::find(l->accept.begin(), l->accept.end(), it->second);
    if (pos == l->accept.end())
        return Errc::would_block;
    l->accept.erase(pos);
    return hand_to_app(it->second);
}

Stack::PassiveStage Stack::passive_stage(ListenerId lid, Endpoint remote) const {
    const Listener* l = listener_of(lid);
    if (l == nullptr)
        return PassiveStage::none;
    const auto it = tuples_.find(tuple_key(l->port, remote));
    if (it == tuples_.end())
        return PassiveStage::none;
    const Slot& s = slots_[it->second];
    if (s.owner != Owner::listener || s.listener != lid.index)
        return PassiveStage::none;
    return s.queued ? PassiveStage::queued : PassiveStage::handshake;
}

std::optional<Endpoint> Stack::oldest_queued_except(ListenerId lid,
                                                    std::span<const Endpoint> skip) const {
    const Listener* l = listener_of(lid);
    if (l == nullptr)
        return std::nullopt;
    for (const std::uint32_t idx : l->accept) {
        const Endpoint r = slots_[idx].conn->remote();
        if (std::find(skip.begin(), skip.end(), r) == skip.end())
            return r;
    }
    return std::nullopt;
}

// A connection just left its listener's accept queue: the handle is the app's from now on.
ConnId Stack::hand_to_app(std::uint32_t idx) {
    Slot& s = slots_[idx];
    s.queued = false;
    s.owner = Owner::app;
    const ConnId id = id_of(idx);
    // Events before accept were not forwarded (nobody held the handle). Restate what is pending
    // so a waiter on the new handle does not miss data or a FIN that arrived early.
    const Connection& c = *s.conn;
    if (c.recv_available() > 0) {
        events_.push_back({StackEventKind::connection, id, {}, Event{EventKind::readable}});
    }
    if (c.peer_fin_received()) {
        events_.push_back({StackEventKind::connection, id, {}, Event{EventKind::peer_fin}});
    }
    return id;
}

std::optional<HeldRequest> Stack::front_request(ListenerId lid) const {
    const Listener* l = listener_of(lid);
    if (l == nullptr || l->held.empty())
        return std::nullopt;
    const Held& h = l->held.front();
    HeldRequest r{.remote = h.syn.src(), .caller_data = {}, .since = h.since};
    // Caller data counts only if we would echo the offer (DESIGN.md §3c: else the client
    // learns it was not delivered and resets).
    if (cfg_.tcp.disconnect_data && h.syn.options.disconnect)
        r.caller_data = h.syn.options.disconnect->data();
    r.callee_data_limit = connect_data_room(syn_agreement(tcp_config(*l), h.syn.options));
    return r;
}

std::size_t Stack::held_requests(ListenerId lid) const {
    const Listener* l = listener_of(lid);
    return l == nullptr ? 0 : l->held.size();
}

Errc Stack::decide_front(ListenerId lid, Verdict v, std::span<const std::byte> callee_data,
                         Instant now) {
    Listener* l = listener_of(lid);
    if (l == nullptr || !l->conditional)
        return Errc::invalid_argument;
    if (l->held.empty())
        return Errc::would_block;
    see(now);
    const std::uint32_t li = lid.index;
    const Held& h = l->held.front();
    if (v == Verdict::reject) {
        // RFC 9293 §3.10.7.1 (as a closed port): <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        queue_rst(h.syn, SeqNum(0), true, h.syn.seq + h.syn_len);
        stats_.held_requests_rejected++;
        pop_held_front(li);
        return Errc::ok;
    }
    // The SYN-ACK answers with what the SYN offered (syn_agreement); callee data needs the echo
    // and must fit what the SYN-ACK's other options leave.
    const SynOptionSet agreed = syn_agreement(tcp_config(*l), h.syn.options);
    if (!callee_data.empty()) {
        if (!agreed.disconnect)
            return Errc::no_proto_opt;
        if (callee_data.size() > connect_data_room(agreed))
            return Errc::msg_size;
    }
    if (stats_.connections_current >= cfg_.max_connections)
        return Errc::no_buffers;
    const Segment syn = h.syn;
    pop_held_front(li);
    stats_.held_requests_accepted++;
    const SeqNum iss = isn_.generate(Endpoint{cfg_.addr, listeners_[li].port}, syn.src(), now);
    open_passive(li, syn, iss, now, callee_data);
    return Errc::ok;
}

Connection* Stack::connection(ConnId id) {
    Slot* s = slot_of(id);
    if (s == nullptr)
        return nullptr;
    mark_dirty(id.index);
    return &*s->conn;
}

const Connection* Stack::find(ConnId id) const {
    const Slot* s = slot_of(id);
    return s == nullptr ? nullptr : &*s->conn;
}

Errc Stack::release(ConnId id) {
    Slot* s = slot_of(id);
    if (s == nullptr)
        return Errc::invalid_argument;
    // Closing is what the app would have done; an already closed connection just goes.
    if (!s->conn->is_closed())
        s->conn->close();
    // Bound the orphans (README "Limits"): past max_orphans the background close becomes an
    // abort (RST where RFC 9293 §3.10.5 sends one), as Linux does with too many orphans.
    Connection& c = *s->conn;
    if (!c.is_closed() && c.state() != TcpState::time_wait &&
        stats_.orphans - time_wait_orphans_ >= cfg_.max_orphans) {
        stats_.orphan_limit_aborts++;
        c.abort();
    }
    make_orphan(id.index);
    settle(id.index, last_now_);
    mark_dirty(id.index);
    return Errc::ok;
}

Errc Stack::close_listener(ListenerId lid) {
    Listener* l = listener_of(lid);
    if (l == nullptr)
        return Errc::invalid_argument;
    const std::uint32_t li = lid.index;
    // Every connection the app never saw is reset (RFC 9293 §3.10.5 ABORT: RST in SYN-RECEIVED
    // and the synchronized states) and freed after its RST went out.
    std::vector<std::uint32_t> doomed(l->syn.begin(), l->syn.end());
    doomed.insert(doomed.end(), l->accept.begin(), l->accept.end());
    for (const std::uint32_t idx : doomed) {
        make_orphan(idx);
        slots_[idx].conn->abort();
        settle(idx, last_now_);
        mark_dirty(idx);
    }
    Listener& lr = listeners_[li];
    // DESIGN.md §3c: held requests are forgotten unanswered (the clients' retransmissions meet
    // a closed port, or the next listener).
    for (const Held& h : lr.held) held_tuples_.erase(tuple_key(lr.port, h.syn.src()));
    held_total_ -= lr.held.size();
    lr.held.clear();
    listener_by_port_.erase(lr.port);
    port_use_[lr.port]--;
    lr.active = false;
    lr.port = 0;
    lr.syn.clear();
    lr.accept.clear();
    if (++lr.generation == 0)
        lr.generation = 1;
    free_listeners_.push_back(li);
    prune_held();
    return Errc::ok;
}

Errc Stack::set_listener_buffers(ListenerId lid, BufferSizes sizes) {
    Listener* l = listener_of(lid);
    if (l == nullptr)
        return Errc::invalid_argument;
    l->sizes = sizes;
    return Errc::ok;
}

// ---- queries ---------------------------------------------------------------------------------

std::uint16_t Stack::listener_port(ListenerId l) const {
    const Listener* p = listener_of(l);
    return p == nullptr ? std::uint16_t{0} : p->port;
}

std::size_t Stack::accept_queue_size(ListenerId l) const {
    const Listener* p = listener_of(l);
    return p == nullptr ? 0 : p->accept.size();
}

std::size_t Stack::syn_queue_size(ListenerId l) const {
    const Listener* p = listener_of(l);
    return p == nullptr ? 0 : p->syn.size();
}

BufferSizes Stack::listener_buffers(ListenerId l) const {
    const Listener* p = listener_of(l);
    return p == nullptr ? BufferSizes{} : p->sizes;
}

bool Stack::listener_message_mode(ListenerId l) const {
    const Listener* p = listener_of(l);
    return p != nullptr && p->message_mode;
}

bool Stack::listener_conditional(ListenerId l) const {
    const Listener* p = listener_of(l);
    return p != nullptr && p->conditional;
}

const Connection* Stack::lookup(std::uint16_t local_port, Endpoint remote) const {
    const auto it = tuples_.find(tuple_key(local_port, remote));
    return it == tuples_.end() ? nullptr : &*slots_[it->second].conn;
}

Stack::Slot* Stack::slot_of(ConnId id) {
    if (id.index >= slots_.size())
        return nullptr;
    Slot& s = slots_[id.index];
    if (s.generation != id.generation || s.owner != Owner::app)
        return nullptr;
    return &s;
}

const Stack::Slot* Stack::slot_of(ConnId id) const {
    if (id.index >= slots_.size())
        return nullptr;
    const Slot& s = slots_[id.index];
    if (s.generation != id.generation || s.owner != Owner::app)
        return nullptr;
    return &s;
}

Stack::Listener* Stack::listener_of(ListenerId id) {
    if (id.index >= listeners_.size())
        return nullptr;
    Listener& l = listeners_[id.index];
    return l.active && l.generation == id.generation ? &l : nullptr;
}

const Stack::Listener* Stack::listener_of(ListenerId id) const {
    if (id.index >= listeners_.size())
        return nullptr;
    const Listener& l = listeners_[id.index];
    return l.active && l.generation == id.generation ? &l : nullptr;
}

// RFC 6056 §3.3.3, Algorithm 3 ("Simple Hash-Based Port Selection"):
//   offset = F(local_IP, remote_IP, remote_port, secret_key)
//   port = min_ephemeral + (offset + next_ephemeral) % num_ephemeral; next_ephemeral++
// trying each port of the range at most once. For a connection (a remote given) a port is
// suitable when no listener holds it and no connection has its 4-tuple -- connections to
// different remotes share local ports, as RFC 6056 §2.1 allows and Linux does, so one address
// holds more than the range's 16,384 connections (only the 4-tuple must be unique, RFC 9293
// §3.4). For a listener (port 0, no remote) only a port nothing uses is suitable.
std::optional<std::uint16_t> Stack::pick_ephemeral(Endpoint remote) {
    const std::uint32_t first = cfg_.ephemeral_first;
    const std::uint32_t last = cfg_.ephemeral_last;
    if (first == 0 || first > last)
        return std::nullopt;
    const std::uint32_t num = last - first + 1;
    std::array<std::byte, 10> id{};
    store_be32(id.data(), cfg_.addr);
    store_be32(id.data() + 4, remote.addr);
    store_be16(id.data() + 8, remote.port);
    const std::uint64_t offset = siphash24(port_key_, id);
    for (std::uint32_t tried = 0; tried < num; ++tried) {
        const auto port = static_cast<std::uint16_t>(first + (offset + ephemeral_counter_) % num);
        ephemeral_counter_++;
        if (port_use_[port] == 0)
            return port;
        if (remote.port != 0 && !listener_by_port_.contains(port) &&
            !tuples_.contains(tuple_key(port, remote)))
            return port;
    }
    return std::nullopt;
}

// ---- slot life -------------------------------------------------------------------------------

std::optional<std::uint32_t> Stack::alloc_slot() {
    if (stats_.connections_current >= cfg_.max_connections)
        return std::nullopt;
    std::uint32_t idx = 0;
    if (!free_slots_.empty()) {
        idx = free_slots_.front();
        free_slots_.pop_front();
    } else {
        idx = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    stats_.connections_current++;
    stats_.connections_peak = std::max(stats_.connections_peak, stats_.connections_current);
    return idx;
}

ConnStats Stack::connection_totals() const {
    ConnStats t = retired_conn_stats_;
    for (const Slot& s : slots_)
        if (s.conn)
            t += s.conn->stats();
    return t;
}

void Stack::free_slot(std::uint32_t idx) {
    Slot& s = slots_[idx];
    if (s.conn)
        retired_conn_stats_ += s.conn->stats();
    unregister_tuple(idx);
    if (s.owner == Owner::listener)
        detach_from_listener(idx);
    if (s.owner == Owner::orphan)
        stats_.orphans--;
    if (s.time_wait)
        stats_.time_wait--;
    if (s.owner == Owner::orphan && s.time_wait)
        time_wait_orphans_--;
    if (s.deadline)
        armed_--;
    s.conn.reset();
    s.owner = Owner::free;
    s.queued = false;
    s.time_wait = false;
    s.deadline.reset();
    s.orphan_deadline.reset();
    if (++s.generation == 0)
        s.generation = 1;  // never 0: ConnId{} stays invalid
    // s.dirty is left as is: the index may still sit in dirty_, and a reused slot then is
    // already marked.
    free_slots_.push_back(idx);
    stats_.connections_current--;
    prune_heap();
}

void Stack::register_tuple(std::uint32_t idx) {
    Slot& s = slots_[idx];
    const Connection& c = *s.conn;
    tuples_.emplace(tuple_key(c.local().port, c.remote()), idx);
    port_use_[c.local().port]++;
    s.registered = true;
}

void Stack::unregister_tuple(std::uint32_t idx) {
    Slot& s = slots_[idx];
    if (!s.registered)
        return;
    const Connection& c = *s.conn;
    const auto it = tuples_.find(tuple_key(c.local().port, c.remote()));
    if (it != tuples_.end() && it->second == idx)
        tuples_.erase(it);
    port_use_[c.local().port]--;
    s.registered = false;
}

void Stack::detach_from_listener(std::uint32_t idx) {
    Slot& s = slots_[idx];
    Listener& l = listeners_[s.listener];
    if (s.queued) {
        const auto it = std::find(l.accept.begin(), l.accept.end(), idx);
        if (it != l.accept.end())
            l.accept.erase(it);
    } else {
        // Swap-remove from the SYN queue, keeping the moved member's position right.
        const std::uint32_t pos = s.syn_pos;
        const std::uint32_t moved = l.syn.back();
        l.syn[pos] = moved;
        slots_[moved].syn_pos = pos;
        l.syn.pop_back();
    }
    s.queued = false;
}

void Stack::make_orphan(std::uint32_t idx) {
    Slot& s = slots_[idx];
    if (s.owner == Owner::listener)
        detach_from_listener(idx);
    if (s.owner != Owner::orphan) {
        stats_.orphans++;
        if (s.time_wait)
            time_wait_orphans_++;
    }
    s.owner = Owner::orphan;
}

void Stack::mark_dirty(std::uint32_t idx) {
    Slot& s = slots_[idx];
    if (s.dirty)
        return;
    s.dirty = true;
    dirty_.push_back(idx);
}

void Stack::settle(std::uint32_t idx, Instant now) {
    Slot& s = slots_[idx];
    Connection& c = *s.conn;
    while (const auto e = c.poll_event()) {
        if (s.owner == Owner::app) {
            events_.push_back({StackEventKind::connection, id_of(idx), {}, *e});
        }
    }
    const bool tw = c.state() == TcpState::time_wait;
    if (tw != s.time_wait) {
        s.time_wait = tw;
        if (tw) {
            stats_.time_wait++;
            time_wait_fifo_.push_back({idx, s.generation});
            if (time_wait_fifo_.size() > 2 * stats_.time_wait + 64) {
                // Stale entries outweigh live ones: drop them (amortised O(1) per entry).
                std::erase_if(time_wait_fifo_, [this](const TimeWaitEntry& e) {
                    const Slot& v = slots_[e.index];
                    return v.generation != e.generation || !v.time_wait;
                });
            }
        } else {
            stats_.time_wait--;
        }
        if (s.owner == Owner::orphan) {
            if (tw) {
                time_wait_orphans_++;
            } else {
                time_wait_orphans_--;
            }
        }
    }
    switch (s.owner) {
        case Owner::listener:
            if (c.is_closed()) {
                // RFC 9293 §3.10.7.4: a passive connection reset in SYN-RECEIVED "returns to
                // LISTEN" -- the listener just forgets it; likewise one that was reset or timed
                // out while waiting in the accept queue.
                stats_.removed_before_accept++;
                if (!s.queued) {
                    const std::uint32_t li = s.listener;
                    events_.push_back({StackEventKind::handshake_failed,
                                       {},
                                       ListenerId{li, listeners_[li].generation},
                                       {}});
                }
                make_orphan(idx);
            } else if (!s.queued && c.is_synchronized()) {
                Listener& l = listeners_[s.listener];
                if (l.accept.size() >= l.backlog) {
                    // Admitted while the accept queue had room, completed after it filled: reset
                    // it (Linux tcp_abort_on_overflow=1) rather than exceed the bound.
                    stats_.accept_overflows++;
                    make_orphan(idx);
                    c.abort();
                    while (c.poll_event()) {
                    }
                    mark_dirty(idx);
                } else {
                    detach_from_listener(idx);
                    s.queued = true;
                    l.accept.push_back(idx);
                    events_.push_back({StackEventKind::accept_ready,
                                       {},
                                       ListenerId{s.listener, l.generation},
                                       {}});
                }
            }
            break;
        case Owner::orphan:
            if (c.state() == TcpState::fin_wait_2) {
                if (!s.orphan_deadline)
                    s.orphan_deadline = now + cfg_.orphan_fin_wait_2_timeout;
            } else {
                s.orphan_deadline.reset();
            }
            break;
        case Owner::app:
        case Owner::free: break;
    }
    if (c.is_closed())
        unregister_tuple(idx);
    update_deadline(idx);
}

// The TIME-WAIT table is over its bound: end the oldest TIME-WAIT (whoever owns it) as its timer
// would have, minus the wait: deleted without a RST (RFC 9293 §3.10.5). Called at the end of
// poll_transmit, so even a connection that has just entered TIME-WAIT has sent its last ACK.
// Stale FIFO entries (slots that left TIME-WAIT some other way) are skipped. Returns false if
// there was nothing to recycle.
bool Stack::recycle_oldest_time_wait(Instant now) {
    while (!time_wait_fifo_.empty()) {
        const TimeWaitEntry e = time_wait_fifo_.front();
        time_wait_fifo_.pop_front();
        Slot& v = slots_[e.index];
        if (v.generation != e.generation || !v.time_wait || !v.conn)
            continue;
        stats_.time_wait_recycled++;
        v.conn->abort();
        settle(e.index, now);
        if (v.owner == Owner::orphan)
            free_slot(e.index);
        return true;
    }
    return false;
}

// ---- the deadline heap -------------------------------------------------------------------------

void Stack::update_deadline(std::uint32_t idx) {
    Slot& s = slots_[idx];
    std::optional<Instant> d;
    if (s.conn && !s.conn->is_closed()) {
        d = s.conn->poll_timeout();
        if (s.orphan_deadline && (!d || *s.orphan_deadline < *d))
            d = s.orphan_deadline;
    }
    if (d == s.deadline)
        return;
    if (s.deadline && !d)
        armed_--;
    if (!s.deadline && d)
        armed_++;
    s.deadline = d;
    if (d) {
        heap_.push_back(Deadline{*d, idx, s.generation});
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
    }
    prune_heap();
}

bool Stack::entry_valid(const Deadline& d) const {
    if (d.index >= slots_.size())
        return false;
    const Slot& s = slots_[d.index];
    return s.generation == d.generation && s.deadline && *s.deadline == d.at;
}

// Drop stale entries from the top so poll_timeout can read it. When garbage outweighs live
// entries, filter the heap (every slot with a deadline has a valid entry in it, so this loses
// nothing); each filter costs O(heap) and is paid for by the >= armed_ + 64 pushes before it, and
// it never visits idle connections.
void Stack::prune_heap() {
    while (!heap_.empty() && !entry_valid(heap_.front())) {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
        heap_.pop_back();
    }
    if (heap_.size() > 2 * armed_ + 64) {
        std::erase_if(heap_, [this](const Deadline& d) { return !entry_valid(d); });
        std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
    }
}

void Stack::take_state_changes(std::vector<StateChange>& out) {
    out.insert(out.end(), state_log_->begin(), state_log_->end());
    state_log_->clear();
}

}  // namespace ustack
