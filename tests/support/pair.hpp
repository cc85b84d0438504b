// StackPair: two Stacks joined by a deterministic in-memory wire, under a virtual clock.
//
// The wire is lossless and in order, with a fixed one-way delay (0 by default: a segment sent at
// time t arrives at t). Time moves only inside the harness, straight to the next thing that can
// happen -- an arrival or a stack deadline -- as quinn's Pair::drive and smoltcp's tests do, so a
// 60 s TIME-WAIT costs nothing. For loss, reordering and bandwidth use SimLink (sim_link.hpp);
// this harness is for exact, readable exchanges.
//
//   StackPair p;                                    // a = 10.0.1.2, b = 10.0.2.2
//   auto l = p.b.listen(80, 0).value;
//   auto c = p.a.connect({kPairAddrB, 80}, p.now()).value;
//   p.pump();                                       // handshake done (no time needed)
//   auto s = p.b.accept(l).value;
//   p.write(p.a, c, "hi"); p.pump(); CHECK(p.read(p.b, s) == "hi");
//   p.filter = [](const Segment& s, bool from_a) { return !(from_a && s.has(tcp_flag::fin)); };
//   p.run_for(10s);                                 // timers fire, retransmissions drop, ...
//
// Every segment put on the wire is kept in `trace` (with `dropped` set if the filter ate it); the
// events of each side are collected in events_a / events_b. Lower-level steps: next_event() and
// step(limit) (jump to the next event and run it), run_until(pred, limit). pump() throws if the
// two stacks never fall quiet (they answer each other forever: a bug worth a loud failure).
// Header-only on purpose (no CMake).
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ustack/stack.hpp"

namespace ustack::test {

inline constexpr Ipv4Addr kPairAddrA = ipv4(10, 0, 1, 2);
inline constexpr Ipv4Addr kPairAddrB = ipv4(10, 0, 2, 2);

// A fixed, distinct secret per side (tests must be reproducible; hosts draw theirs at random).
inline SipKey pair_key(std::uint8_t seed) {
    SipKey k{};
    for (std::size_t i = 0; i < k.size(); ++i) {
        k[i] = static_cast<std::uint8_t>(std::size_t{seed} * 31 + i);
    }
    return k;
}

inline StackConfig pair_config(Ipv4Addr addr) {
    StackConfig c;
    c.addr = addr;
    return c;
}

struct WireRecord {
    Instant at;           // when it was sent
    bool from_a = false;  // direction
    bool dropped = false;  // eaten by the filter
    OwnedSegment seg;
};

class StackPair {
public:
    explicit StackPair(const StackConfig& a_cfg = pair_config(kPairAddrA),
                       const StackConfig& b_cfg = pair_config(kPairAddrB), Duration delay = {})
        : a(a_cfg, pair_key(1)), b(b_cfg, pair_key(2)), delay_(delay) {}

    Stack a;
    Stack b;
    // Return false to drop a segment on the wire. `from_a` gives the direction.
    std::function<bool(const Segment&, bool from_a)> filter;
    std::vector<WireRecord> trace;
    std::vector<StackEvent> events_a;
    std::vector<StackEvent> events_b;

    [[nodiscard]] Instant now() const { return now_; }

    // At the current time: both stacks transmit, and everything due arrives, until quiet.
    void pump() {
        for (int guard = 0; guard < 100000; ++guard) {
            transmit(a, true);
            transmit(b, false);
            const bool delivered = deliver_due();
            drain_events();
            if (!delivered) return;
        }
        fail_pump();
    }

    // The next instant at which something can happen (an arrival or a deadline), if any.
    [[nodiscard]] std::optional<Instant> next_event() const {
        std::optional<Instant> next;
        auto consider = [&](std::optional<Instant> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        if (!ab_.empty()) consider(ab_.front().arrive);
        if (!ba_.empty()) consider(ba_.front().arrive);
        consider(a.poll_timeout());
        consider(b.poll_timeout());
        return next;
    }

    // Jump to the next event if it is not after `limit`, run it and pump. False if there is none.
    bool step(Instant limit) {
        pump();
        const auto t = next_event();
        if (!t || *t > limit) return false;
        now_ = std::max(now_, *t);
        fire_timers();
        pump();
        return true;
    }

    // Run until pred() holds (true), or until `limit` of virtual time passes or nothing is left to
    // happen (false).
    bool run_until(const std::function<bool()>& pred, Duration limit) {
        const Instant end = now_ + limit;
        pump();
        while (!pred()) {
            if (!step(end)) return pred();
        }
        return true;
    }

    // Run everything that happens within `d`; the clock then reads now() + d.
    void run_for(Duration d) {
        const Instant end = now_ + d;
        while (step(end)) {
        }
        now_ = std::max(now_, end);
        fire_timers();
        pump();
    }

    // --- application helpers ----------------------------------------------------------------
    // Queue text on a connection (all of it must fit the send buffer).
    static std::size_t write(Stack& s, ConnId id, std::string_view text) {
        Connection* c = s.connection(id);
        if (c == nullptr) return 0;
        std::vector<std::byte> bytes(text.size());
        std::memcpy(bytes.data(), text.data(), text.size());
        const auto r = c->send(bytes);
        return r.ok() ? r.value : 0;
    }
    // Read everything available as text.
    static std::string read(Stack& s, ConnId id) {
        std::string out;
        Connection* c = s.connection(id);
        if (c == nullptr) return out;
        std::vector<std::byte> buf(4096);
        for (;;) {
            const auto r = c->recv(buf);
            if (!r.ok() || r.value == 0) break;
            out.append(reinterpret_cast<const char*>(buf.data()), r.value);
        }
        return out;
    }

    // Segments of the trace in one direction, optionally only those with all `flags` set.
    [[nodiscard]] std::vector<const WireRecord*> sent(bool from_a, std::uint8_t flags = 0) const {
        std::vector<const WireRecord*> v;
        for (const auto& r : trace) {
            if (r.from_a == from_a && (r.seg->flags & flags) == flags) v.push_back(&r);
        }
        return v;
    }

private:
    struct InFlight {
        Instant arrive;
        OwnedSegment seg;
    };

    // pump() looping forever means the stacks answer each other without end: a bug.
    static void fail_pump() { throw std::runtime_error("StackPair::pump: no quiescence"); }

    void transmit(Stack& s, bool from_a) {
        struct Sink final : SegmentSink {
            StackPair& p;
            bool from_a;
            Sink(StackPair& pair, bool dir) : p(pair), from_a(dir) {}
            void emit(const Segment& seg) override {
                const bool keep = !p.filter || p.filter(seg, from_a);
                p.trace.push_back(WireRecord{p.now_, from_a, !keep, OwnedSegment(seg)});
                if (keep) {
                    auto& pipe = from_a ? p.ab_ : p.ba_;
                    pipe.push_back(InFlight{p.now_ + p.delay_, OwnedSegment(seg)});
                }
            }
        };
        Sink sink(*this, from_a);
        s.poll_transmit(now_, sink);
    }

    bool deliver_due() {
        bool any = false;
        while (!ab_.empty() && ab_.front().arrive <= now_) {
            InFlight f = std::move(ab_.front());
            ab_.pop_front();
            b.on_segment(f.seg.get(), now_);
            any = true;
        }
        while (!ba_.empty() && ba_.front().arrive <= now_) {
            InFlight f = std::move(ba_.front());
            ba_.pop_front();
            a.on_segment(f.seg.get(), now_);
            any = true;
        }
        return any;
    }

    void fire_timers() {
        if (const auto t = a.poll_timeout(); t && *t <= now_) a.on_timeout(now_);
        if (const auto t = b.poll_timeout(); t && *t <= now_) b.on_timeout(now_);
    }

    void drain_events() {
        while (const auto e = a.poll_event()) events_a.push_back(*e);
        while (const auto e = b.poll_event()) events_b.push_back(*e);
    }

    Duration delay_;
    Instant now_{};
    std::deque<InFlight> ab_;  // a -> b, in arrival order (fixed delay keeps FIFO = arrival)
    std::deque<InFlight> ba_;
};

}  // namespace ustack::test
