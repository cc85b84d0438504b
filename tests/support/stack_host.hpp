// StackHost: one Stack driven by hand in a test -- segments in, segments and events out, time
// moved explicitly (stack, bounds and SYN-cookie tests).
#pragma once

#include <utility>
#include <vector>

#include "ustack/stack.hpp"

namespace ustack::test {

struct StackHost {
    StackHost(const StackConfig& cfg, const SipKey& key, Instant start = {})
        : stack(cfg, key), now(start) {}

    Stack stack;
    Instant now;

    void in(const Segment& s) { stack.on_segment(s, now); }
    std::vector<OwnedSegment> out() {
        VectorSink sink;
        stack.poll_transmit(now, sink);
        return std::move(sink.out);
    }
    std::vector<StackEvent> events() {
        std::vector<StackEvent> v;
        while (const auto e = stack.poll_event()) v.push_back(*e);
        return v;
    }
    void advance_to(Instant t) {
        now = t;
        if (const auto d = stack.poll_timeout(); d && *d <= now)
            stack.on_timeout(now);
    }
};

// Is there a connection event of kind `k` for `id` among `v` (for `closed`: with reason `r`)?
inline bool has_conn_event(const std::vector<StackEvent>& v, ConnId id, EventKind k,
                           CloseReason r = CloseReason::none) {
    for (const auto& e : v) {
        if (e.kind == StackEventKind::connection && e.conn == id && e.event.kind == k &&
            (k != EventKind::closed || e.event.reason == r)) {
            return true;
        }
    }
    return false;
}

}  // namespace ustack::test
