// RingBuffer: fixed-capacity byte ring (see ring_buffer.hpp for the contract).
//
// Heads up for the next implementer:
//   - RFC 9293 §3.3.2 / §3.8.6 describe the send and receive windows this buffer backs: the send
//     side holds bytes from SND.UNA on (unacknowledged, then unsent), the receive side holds the
//     in-order bytes the application has not read yet, followed by free space into which
//     out-of-order segments are written (write_at) until the Assembler says they are contiguous
//     and the connection commit()s them.
//   - Layout: `size_` readable bytes start at `head_` and may wrap past the end of `storage_`.
//     The free space starts at (head_ + size_) mod alloc_ and is also circular, so every copy
//     is at most two memcpy calls.
//   - consume() never re-centres head_ when the ring becomes empty: out-of-order bytes written
//     with write_at() live at fixed positions past the readable end and must stay where they are.
//   - Storage is allocated on the first write (a connection that never sends never pays for a
//     send buffer) and can be given back with release() (e.g. in TIME-WAIT).
//   - Storage grows with use: it starts at kInitialStorage (or the capacity, if smaller) and
//     doubles whenever a write needs room past it, up to the capacity -- so a 4 MB window costs
//     4 MB only on a connection that fills it, and an idle or request/response connection keeps
//     a few KB. Indices are modulo the allocated size `alloc_`; every meaningful byte (readable,
//     or parked by write_at) lies within alloc_ bytes of head_, so growing copies the old ring
//     unrolled from head_ to the start of the new one, and head_ becomes 0.
#include "ustack/ring_buffer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace ustack {

namespace {

// Copy `src` into the circular buffer `ring` starting at index `pos` (< ring.size()), wrapping at
// the end. src.size() <= ring.size().
void copy_into_ring(std::span<std::byte> ring, std::size_t pos, std::span<const std::byte> src) {
    if (src.empty()) {
        return;  // memcpy with a null pointer is undefined even for 0 bytes
    }
    const std::size_t first = std::min(src.size(), ring.size() - pos);
    std::memcpy(ring.data() + pos, src.data(), first);
    if (first < src.size()) {
        std::memcpy(ring.data(), src.data() + first, src.size() - first);
    }
}

// Copy dst.size() bytes out of the circular buffer `ring` starting at index `pos`.
void copy_from_ring(std::span<const std::byte> ring, std::size_t pos, std::span<std::byte> dst) {
    if (dst.empty()) {
        return;  // dst.data() may be null
    }
    const std::size_t first = std::min(dst.size(), ring.size() - pos);
    std::memcpy(dst.data(), ring.data() + pos, first);
    if (first < dst.size()) {
        std::memcpy(dst.data() + first, ring.data(), dst.size() - first);
    }
}

}  // namespace

void RingBuffer::ensure_storage(std::size_t need) {
    need = std::min(need, capacity_);
    if (alloc_ >= need && storage_) {
        return;
    }
    std::size_t grown = alloc_ == 0 ? std::min(capacity_, kInitialStorage) : alloc_;
    while (grown < need) grown = std::min(capacity_, grown * 2);
    // No zero-fill: every byte is written before it can become readable.
    auto fresh = std::make_unique_for_overwrite<std::byte[]>(grown);  // NOLINT(*-avoid-c-arrays)
    if (storage_) {
        copy_from_ring({storage_.get(), alloc_}, head_, {fresh.get(), alloc_});
    }
    storage_ = std::move(fresh);
    alloc_ = grown;
    head_ = 0;
}

std::size_t RingBuffer::write(std::span<const std::byte> data) {
    const std::size_t n = std::min(data.size(), free());
    if (n == 0) {
        return 0;  // nothing to store: do not allocate
    }
    ensure_storage(size_ + n);
    const std::size_t tail = (head_ + size_) % alloc_;
    copy_into_ring({storage_.get(), alloc_}, tail, data.first(n));
    size_ += n;
    return n;
}

std::size_t RingBuffer::write_at(std::size_t offset, std::span<const std::byte> data) {
    const std::size_t room = free();
    if (offset >= room || data.empty()) {
        return 0;  // entirely beyond the buffer (outside the receive window)
    }
    const std::size_t n = std::min(data.size(), room - offset);
    ensure_storage(size_ + offset + n);
    const std::size_t pos = (head_ + size_ + offset) % alloc_;
    copy_into_ring({storage_.get(), alloc_}, pos, data.first(n));
    return n;
}

void RingBuffer::commit(std::size_t n) {
    assert(n <= free() && "RingBuffer::commit past the free space");
    n = std::min(n, free());
    if (n == 0) {
        return;
    }
    // Readable bytes imply storage exists, even if the caller commits without a write_at.
    ensure_storage(size_ + n);
    size_ += n;
}

std::size_t RingBuffer::read(std::span<std::byte> out) {
    const std::size_t n = peek(0, out);
    consume(n);
    return n;
}

std::size_t RingBuffer::peek(std::size_t offset, std::span<std::byte> out) const {
    if (offset >= size_) {
        return 0;
    }
    const std::size_t n = std::min(out.size(), size_ - offset);
    copy_from_ring({storage_.get(), alloc_}, (head_ + offset) % alloc_, out.first(n));
    return n;
}

std::array<std::span<const std::byte>, 2> RingBuffer::peek_spans(std::size_t offset,
                                                                 std::size_t len) const {
    if (offset >= size_ || len == 0) {
        return {};
    }
    len = std::min(len, size_ - offset);
    const std::size_t pos = (head_ + offset) % alloc_;
    const std::size_t first = std::min(len, alloc_ - pos);
    const std::byte* base = storage_.get();
    return {std::span<const std::byte>(base + pos, first),
            std::span<const std::byte>(base, len - first)};
}

void RingBuffer::consume(std::size_t n) {
    assert(n <= size_ && "RingBuffer::consume past the readable end");
    n = std::min(n, size_);
    if (n == 0) {
        return;
    }
    head_ = (head_ + n) % alloc_;
    size_ -= n;
}

void RingBuffer::release() {
    storage_.reset();
    alloc_ = 0;
    head_ = 0;
    size_ = 0;
}

void RingBuffer::set_capacity(std::size_t capacity) {
    assert(size_ == 0 && "RingBuffer::set_capacity on a non-empty ring");
    if (size_ != 0 || capacity == capacity_) {
        return;
    }
    // Any out-of-order bytes parked past the (empty) readable end are dropped with the storage.
    release();
    capacity_ = capacity;
}

void RingBuffer::resize(std::size_t capacity) {
    capacity = std::max(capacity, size_);
    if (capacity == 0) {
        release();
    } else if (capacity < alloc_) {
        // Keep the first `capacity` bytes from head_ (readable, then parked), unrolled.
        auto fresh =
            std::make_unique_for_overwrite<std::byte[]>(capacity);  // NOLINT(*-avoid-c-arrays)
        copy_from_ring({storage_.get(), alloc_}, head_, {fresh.get(), capacity});
        storage_ = std::move(fresh);
        alloc_ = capacity;
        head_ = 0;
    }
    capacity_ = capacity;
}

}  // namespace ustack
