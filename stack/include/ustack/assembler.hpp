// Assembler: which out-of-order byte ranges have arrived beyond the contiguous receive point.
//
// Offsets are relative to the contiguous point (RCV.NXT): offset 0 is the next byte the receiver
// expects. The data itself lives in the receive RingBuffer (write_at); the Assembler only keeps the
// ranges, sorted and merged, at most max_ranges of them (a bound on per-connection bookkeeping
// under out-of-order flooding).
#pragma once

#include <cstddef>
#include <vector>

namespace ustack {

class Assembler {
public:
    struct Range {
        std::size_t offset;  // from the contiguous point
        std::size_t len;
        bool operator==(const Range&) const = default;
    };

    explicit Assembler(std::size_t max_ranges = 32) : max_ranges_(max_ranges) {}

    // Record [offset, offset+len) as received. Overlaps and adjacency merge (so ranges() never
    // holds two ranges that touch). Returns false, and changes nothing, if keeping it would need
    // more than max_ranges ranges; a range already covered, or one that merges with existing
    // ones, therefore always succeeds. len == 0 is a no-op that returns true.
    // Offset 0 is allowed and kept like any other range. For in-order data of length n, the
    // receiver may call advance(n) (result k: move by n + k) or add(0, n) then advance(0) (result
    // n + k): the same outcome, except that add(0, n) can be refused at the max_ranges bound when
    // it touches no range, so advance(n) is the form that cannot fail.
    // Precondition: offset + len does not overflow std::size_t (offsets are window-bounded).
    bool add(std::size_t offset, std::size_t len);

    // The contiguous point advanced by n bytes (in-order data arrived, n may cover ranges).
    // Exact semantics, in order:
    //   1. every range is shifted down by n: a range ending at or before n is dropped, a range
    //      straddling n is clipped to start at 0;
    //   2. if a range now starts at offset 0, it is removed, every remaining offset is shifted
    //      down by its length k, and k is returned; otherwise 0 is returned.
    // So after `k = advance(n)` the assembler's contiguous point has moved by n + k in total: the
    // caller moves RCV.NXT (and commits the receive ring) by n + k and must NOT call advance(k)
    // again. Because ranges are non-adjacent, one call is enough: the next range, if any, still
    // starts past the new point. advance(0) returns the length of a range at offset 0, else 0.
    std::size_t advance(std::size_t n);

    [[nodiscard]] bool empty() const { return ranges_.empty(); }
    [[nodiscard]] std::size_t range_count() const { return ranges_.size(); }
    [[nodiscard]] const std::vector<Range>& ranges() const { return ranges_; }  // sorted
    // Total bytes held out of order.
    [[nodiscard]] std::size_t bytes() const;
    void clear() { ranges_.clear(); }

private:
    // Sorted by offset, disjoint and non-adjacent (a.offset + a.len < b.offset for neighbours),
    // every len > 0, size() <= max_ranges_. offset 0 appears only if add() was given one.
    std::vector<Range> ranges_;
    std::size_t max_ranges_;  // bound on ranges_.size(), fixed at construction
};

}  // namespace ustack
