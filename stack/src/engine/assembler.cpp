// Assembler: out-of-order byte ranges beyond RCV.NXT (see assembler.hpp for the contract).
//
// Heads up for the next implementer:
//   - RFC 9293 §3.10.7.4 ("seventh, process the segment text") lets a receiver keep segments that
//     arrive out of order inside the window and deliver them once the gap fills; §3.8.6.2 is
//     about how much of the window to offer meanwhile. RFC 2018 (SACK) reports exactly these
//     ranges back to the sender, so ranges() is what a SACK option would be built from.
//   - The byte data lives in the receive RingBuffer (written with write_at at the same offsets);
//     this class only keeps the bookkeeping, a sorted vector of disjoint, non-adjacent ranges.
//   - The vector is bounded by max_ranges_ (32 by default), so linear scans and vector inserts
//     are cheaper than any tree; add() is O(max_ranges) and never allocates past that bound once
//     the vector has grown.
#include "ustack/assembler.hpp"

#include <algorithm>
#include <iterator>

namespace ustack {

bool Assembler::add(std::size_t offset, std::size_t len) {
    if (len == 0) {
        return true;  // nothing received: trivially recorded
    }
    const std::size_t end = offset + len;

    // Existing ranges that touch [offset, end) -- overlapping or adjacent -- are [first, last).
    // first: the first range whose end reaches offset; last: the first range starting past end.
    auto first = std::find_if(ranges_.begin(), ranges_.end(),
                              [&](const Range& r) { return r.offset + r.len >= offset; });
    auto last = std::find_if(first, ranges_.end(), [&](const Range& r) { return r.offset > end; });

    const auto touched = static_cast<std::size_t>(std::distance(first, last));
    // Merging `touched` ranges with the new one leaves size - touched + 1 ranges.
    if (ranges_.size() - touched + 1 > max_ranges_) {
        return false;  // keeping it would exceed the bound: change nothing
    }

    if (first == last) {
        ranges_.insert(first, Range{offset, len});
        return true;
    }
    const std::size_t lo = std::min(offset, first->offset);
    const std::size_t hi = std::max(end, std::prev(last)->offset + std::prev(last)->len);
    *first = Range{lo, hi - lo};
    ranges_.erase(std::next(first), last);
    return true;
}

std::size_t Assembler::advance(std::size_t n) {
    // Shift every range down by n; a range that falls entirely below the new contiguous point is
    // dropped (it was duplicated by the in-order data), one that straddles it is clipped.
    auto out = ranges_.begin();
    for (const Range& r : ranges_) {
        const std::size_t end = r.offset + r.len;
        if (end <= n) {
            continue;
        }
        const std::size_t start = r.offset > n ? r.offset - n : 0;
        *out++ = Range{start, end - n - start};
    }
    ranges_.erase(out, ranges_.end());

    // A range starting exactly at the new contiguous point is now in order: hand it back. Ranges
    // are non-adjacent, so the next one (if any) still starts past the point after this.
    if (ranges_.empty() || ranges_.front().offset != 0) {
        return 0;
    }
    const std::size_t now_contiguous = ranges_.front().len;
    ranges_.erase(ranges_.begin());
    for (Range& r : ranges_) {
        r.offset -= now_contiguous;
    }
    return now_contiguous;
}

std::size_t Assembler::bytes() const {
    std::size_t total = 0;
    for (const Range& r : ranges_) {
        total += r.len;
    }
    return total;
}

}  // namespace ustack
