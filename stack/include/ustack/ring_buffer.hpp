// RingBuffer: a fixed-capacity byte ring, allocated on first use, grown with use (doubling, up
// to the capacity) and releasable.
//
// Used as the send buffer (unacknowledged + unsent bytes from SND.UNA on) and the receive buffer
// (in-order unread bytes, followed by room where out-of-order bytes are written at their offset
// before they become contiguous; see Assembler).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>

namespace ustack {

class RingBuffer {
public:
    explicit RingBuffer(std::size_t capacity = 0) : capacity_(capacity) {}

    [[nodiscard]] std::size_t capacity() const { return capacity_; }
    [[nodiscard]] std::size_t size() const { return size_; }  // readable bytes
    [[nodiscard]] std::size_t free() const { return capacity_ - size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }
    [[nodiscard]] bool allocated() const { return storage_ != nullptr; }
    // Bytes of storage held now (0..capacity()).
    [[nodiscard]] std::size_t allocated_bytes() const { return alloc_; }

    // The first allocation (or the capacity, if smaller); it doubles as needed.
    static constexpr std::size_t kInitialStorage = 4096;

    // Append up to free() bytes; returns how many were taken. Allocates the storage on the first
    // non-empty write. Overwrites anything parked there with write_at.
    std::size_t write(std::span<const std::byte> data);
    // Write into the free space at `offset` bytes past the readable end, without making it
    // readable (out-of-order data). Bytes beyond free() are cut off; returns how many were written.
    std::size_t write_at(std::size_t offset, std::span<const std::byte> data);
    // Make n more bytes (previously placed with write_at at offset 0..n) readable. n <= free()
    // (asserted; clipped to free() in release builds).
    void commit(std::size_t n);

    // Pop up to out.size() bytes from the front; returns how many.
    std::size_t read(std::span<std::byte> out);
    // Copy up to out.size() bytes starting `offset` bytes after the front, without consuming.
    std::size_t peek(std::size_t offset, std::span<std::byte> out) const;
    // Zero-copy view of up to len readable bytes starting at offset: one or two spans (the second
    // is empty unless the range wraps).
    [[nodiscard]] std::array<std::span<const std::byte>, 2> peek_spans(std::size_t offset,
                                                                       std::size_t len) const;
    // Drop n bytes from the front (n <= size(); asserted, clipped in release builds). The ring is
    // not re-centred when it becomes empty, so bytes parked with write_at stay where they are.
    void consume(std::size_t n);

    // Drop the readable contents (and, in effect, anything parked with write_at); keeps storage.
    void clear() { head_ = size_ = 0; }
    // Drop the contents and free the storage (it is re-allocated on next write).
    void release();
    // Change the capacity; only allowed while empty (contents would not fit a smaller ring):
    // asserted, and ignored in release builds if violated. Frees the storage if it changes.
    void set_capacity(std::size_t capacity);
    // Change the capacity keeping the contents: the readable bytes and the bytes parked with
    // write_at within the new free space (parked bytes beyond it are dropped). A capacity below
    // size() is raised to size(). Growing never touches the storage; shrinking below the storage
    // held moves the kept bytes into storage of the new capacity (one copy).
    void resize(std::size_t capacity);

private:
    // Make sure `need` bytes from head_ (at most capacity_) are backed by storage.
    void ensure_storage(std::size_t need);

    std::unique_ptr<std::byte[]> storage_;  // alloc_ bytes once allocated
    std::size_t capacity_ = 0;
    std::size_t alloc_ = 0;  // storage held: 0, or kInitialStorage doubled up to capacity_
    std::size_t head_ = 0;   // index of the first readable byte, < alloc_ (0 if alloc_ == 0)
    std::size_t size_ = 0;   // readable bytes, 0..capacity_; size_ > 0 implies allocated()
};

}  // namespace ustack
