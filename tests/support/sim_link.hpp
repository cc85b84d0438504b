// A deterministic simulated network between two sans-I/O nodes (Stacks or Connections).
//
// Each direction of the link has a propagation delay, a bandwidth (serialization), a queue limit
// (tail drop), and seeded loss, duplication and reordering. Time is virtual: the loop jumps
// straight to the next event -- a packet delivery or a node's deadline -- so a simulated minute
// of TCP takes milliseconds (quinn's Pair::drive, smoltcp's netsim).
//
//   SimLink<Stack, Stack> sim(a, b, LinkParams{.delay = 10ms, .loss = 0.05}, seed);
//   bool ok = sim.run_until([&] { return done(); }, 600s, [&](Instant now) { apps(now); });
//
// A node must offer: on_segment(const Segment&, Instant), poll_transmit(Instant, SegmentSink&),
// poll_timeout() -> std::optional<Instant>, on_timeout(Instant).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <vector>

#include "ustack/connection.hpp"
#include "ustack/segment.hpp"
#include "ustack/time.hpp"

namespace ustack::test {

struct LinkParams {
    Duration delay{5'000};           // one-way propagation delay
    double bandwidth_bps = 100e6;    // bits per second; 0 = infinite
    std::size_t queue_limit = 1000;  // packets waiting for the wire (tail drop beyond)
    double loss = 0.0;               // probability a packet is lost
    double duplicate = 0.0;          // probability a packet is delivered twice
    double reorder = 0.0;            // probability a packet is held back by reorder_extra
    Duration reorder_extra{3'000};   // (up to) how much later a reordered packet arrives
};

struct LinkStats {
    std::uint64_t sent = 0;
    std::uint64_t lost = 0;
    std::uint64_t queue_drops = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t reordered = 0;
    std::uint64_t delivered = 0;
};

// One direction of the link.
class SimPipe {
public:
    SimPipe(LinkParams p, std::uint64_t seed) : p_(p), rng_(seed) {}

    void enqueue(const Segment& seg, Instant now) {
        stats_.sent++;
        // Serialization: the wire is busy until wire_free_; 40 bytes of headers per segment.
        const double bytes = 40.0 + static_cast<double>(seg.payload.size());
        Instant depart = std::max(now, wire_free_);
        // Departures are non-decreasing in enqueue order (the wire is FIFO), so the packets
        // still waiting for the wire are a suffix of departs_: drop the front that has left.
        while (!departs_.empty() && departs_.front() <= now) departs_.pop_front();
        if (p_.bandwidth_bps > 0) {
            const std::size_t backlog = departs_.size();
            if (backlog >= p_.queue_limit) {
                stats_.queue_drops++;
                return;
            }
            const auto tx = Duration(static_cast<std::int64_t>(bytes * 8e6 / p_.bandwidth_bps));
            wire_free_ = depart + tx;
            depart = wire_free_;
        }
        if (chance(p_.loss)) {
            stats_.lost++;
            return;
        }
        Instant arrive = depart + p_.delay;
        if (chance(p_.reorder)) {
            stats_.reordered++;
            arrive += Duration(std::uniform_int_distribution<std::int64_t>(
                1, std::max<std::int64_t>(1, p_.reorder_extra.count()))(rng_));
        }
        push(seg, depart, arrive);
        if (chance(p_.duplicate)) {
            stats_.duplicated++;
            push(seg, depart, arrive + Duration(1));
        }
    }

    [[nodiscard]] std::optional<Instant> next_arrival() const {
        if (queue_.empty()) return std::nullopt;
        return queue_.top().arrive;
    }

    // Pop every packet due at or before `now`, in arrival order.
    template <class F>
    void deliver(Instant now, F&& f) {
        while (!queue_.empty() && queue_.top().arrive <= now) {
            Item it = queue_.top();
            queue_.pop();
            stats_.delivered++;
            f(it.seg.get());
        }
    }

    [[nodiscard]] const LinkStats& stats() const { return stats_; }
    LinkParams& params() { return p_; }

private:
    struct Item {
        Instant arrive;
        Instant depart;
        std::uint64_t id;
        OwnedSegment seg;
    };
    struct Later {
        bool operator()(const Item& a, const Item& b) const {
            return a.arrive != b.arrive ? a.arrive > b.arrive : a.id > b.id;
        }
    };

    bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
    void push(const Segment& seg, Instant depart, Instant arrive) {
        Item it{arrive, depart, next_id_++, OwnedSegment(seg)};
        departs_.push_back(depart);
        queue_.push(std::move(it));
    }

    LinkParams p_;
    std::mt19937_64 rng_;
    Instant wire_free_{};
    std::uint64_t next_id_ = 0;
    std::priority_queue<Item, std::vector<Item>, Later> queue_;
    std::deque<Instant> departs_;  // departure times of queued packets (queue-limit count)
    LinkStats stats_;
};

template <class A, class B>
class SimLink {
public:
    SimLink(A& a, B& b, LinkParams p, std::uint64_t seed)
        : a_(a), b_(b), ab_(p, seed * 2 + 1), ba_(p, seed * 2 + 2) {}

    Instant now() const { return now_; }
    SimPipe& a_to_b() { return ab_; }
    SimPipe& b_to_a() { return ba_; }

    // Drive both nodes and the link until `done()` holds (true) or `limit` of virtual time passes
    // or nothing is left to happen (false: a stall). `apps(now)` runs after every event so
    // applications can send and receive; it must not block.
    bool run_until(const std::function<bool()>& done, Duration limit,
                   const std::function<void(Instant)>& apps = {}) {
        const Instant end = now_ + limit;
        for (;;) {
            if (apps) apps(now_);
            flush();
            if (done()) return true;
            std::optional<Instant> next;
            auto consider = [&](std::optional<Instant> t) {
                if (t && (!next || *t < *next)) next = t;
            };
            consider(ab_.next_arrival());
            consider(ba_.next_arrival());
            consider(a_.poll_timeout());
            consider(b_.poll_timeout());
            if (!next) return false;  // nothing scheduled: stalled
            if (*next > end) return false;
            now_ = std::max(now_, *next);
            ab_.deliver(now_, [&](const Segment& s) { b_.on_segment(s, now_); });
            ba_.deliver(now_, [&](const Segment& s) { a_.on_segment(s, now_); });
            if (auto t = a_.poll_timeout(); t && *t <= now_) a_.on_timeout(now_);
            if (auto t = b_.poll_timeout(); t && *t <= now_) b_.on_timeout(now_);
        }
    }

    // Move everything the nodes want to send onto the link.
    void flush() {
        struct Sink final : SegmentSink {
            SimPipe& pipe;
            Instant now;
            Sink(SimPipe& p, Instant n) : pipe(p), now(n) {}
            void emit(const Segment& s) override { pipe.enqueue(s, now); }
        };
        Sink sa(ab_, now_);
        a_.poll_transmit(now_, sa);
        Sink sb(ba_, now_);
        b_.poll_transmit(now_, sb);
    }

private:
    A& a_;
    B& b_;
    SimPipe ab_;
    SimPipe ba_;
    Instant now_{};
};

// A SimLink node for engine-only simulations: one Connection that opens itself passively from the
// first SYN it sees (a one-connection listener, no Stack).
struct PassiveNode {
    Connection conn;
    bool opened = false;
    void on_segment(const Segment& s, Instant now) {
        if (!opened) {
            if (s.has(tcp_flag::syn) && !s.has(tcp_flag::ack) && !s.has(tcp_flag::rst)) {
                conn.open_passive(s, now);
                opened = true;
            }
            return;
        }
        conn.on_segment(s, now);
    }
    void poll_transmit(Instant now, SegmentSink& out) { conn.poll_transmit(now, out); }
    std::optional<Instant> poll_timeout() const { return conn.poll_timeout(); }
    void on_timeout(Instant now) { conn.on_timeout(now); }
};

}  // namespace ustack::test
