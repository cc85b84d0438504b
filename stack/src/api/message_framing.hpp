// Message framing of message-oriented sockets (SOCK_SEQPACKET, DESIGN.md §3b): record marking
// as in RFC 5531 §11 over the connection's byte stream.
//
//   | 1 bit: last fragment | 31 bits: fragment length | that many bytes | ... next fragment
//
// A message is one or more fragments, the last with bit 31 set. ustack sends every message as
// exactly one fragment (message_header); it accepts any fragmentation. Zero-length messages are
// legal (80 00 00 00). A message longer than the socket's bound (SO_MAX_MSG_SIZE), counted over
// all its fragments, is a framing error, and so is a stream that ends (the peer's FIN) inside a
// message: the socket room resets the connection then (socket.cpp).
//
// MessageReader keeps where the receiver is in the stream between calls (inside which fragment,
// how much of it is left); the bytes stay in the connection's receive buffer until read. It works
// on any `Source` with
//   std::size_t available() const                        bytes readable now
//   std::size_t peek(std::size_t offset, std::span<std::byte> out) const   copy, no consume
//   std::size_t take(std::span<std::byte> out)            copy and consume
// (the socket room adapts a Connection; the unit tests use a plain buffer).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ustack/byte_order.hpp"

namespace ustack {

inline constexpr std::size_t kRecordHeader = 4;
inline constexpr std::uint32_t kLastFragment = 0x8000'0000U;
inline constexpr std::uint32_t kMaxFragment = 0x7fff'ffffU;

// The header of a one-fragment message of `len` bytes (len <= kMaxFragment).
inline std::array<std::byte, kRecordHeader> message_header(std::uint32_t len) {
    std::array<std::byte, kRecordHeader> h{};
    store_be32(h.data(), kLastFragment | len);
    return h;
}

class MessageReader {
public:
    // What the stream holds at the reader's position.
    enum class Scan : std::uint8_t {
        incomplete,  // the current message has not arrived whole yet
        complete,    // it has: `left` bytes of it are still to be read
        too_long,    // its fragments announce more than the bound: a framing error
    };
    struct ScanResult {
        Scan scan = Scan::incomplete;
        std::uint64_t left = 0;
    };
    struct ReadResult {
        std::size_t bytes = 0;
        bool message_ended = false;  // the message's last byte was read
    };

    explicit MessageReader(std::uint64_t max_message) : max_(max_message) {}

    // Has the message at the reader's position arrived whole (headers only are looked at)?
    template <class Source>
    [[nodiscard]] ScanResult scan(const Source& src) const {
        const std::size_t avail = src.available();
        std::size_t offset = 0;
        std::uint64_t left = 0;
        std::uint64_t announced = announced_;
        if (in_fragment_) {
            if (avail < fragment_left_) {
                return {Scan::incomplete, 0};
            }
            left = fragment_left_;
            if (last_) {
                return {Scan::complete, left};
            }
            offset = static_cast<std::size_t>(fragment_left_);
        }
        for (;;) {
            std::uint32_t word = 0;
            if (!header_at(src, offset, &word)) {
                return {Scan::incomplete, 0};
            }
            const std::uint64_t len = word & kMaxFragment;
            announced += len;
            if (announced > max_) {
                return {Scan::too_long, 0};
            }
            offset += kRecordHeader;
            if (avail - offset < len) {
                return {Scan::incomplete, 0};
            }
            offset += static_cast<std::size_t>(len);
            left += len;
            if ((word & kLastFragment) != 0) {
                return {Scan::complete, left};
            }
        }
    }

    // Read up to out.size() bytes of the current message, which scan() found complete. A read
    // stops at the message's end; a zero-length message reads as 0 bytes with message_ended.
    template <class Source>
    ReadResult read(Source& src, std::span<std::byte> out) {
        ReadResult r;
        for (;;) {
            if (!in_fragment_) {
                std::array<std::byte, kRecordHeader> h{};
                if (src.available() < kRecordHeader || src.take(h) != kRecordHeader) {
                    return r;  // (not after a complete scan())
                }
                const std::uint32_t word = load_be32(h.data());
                fragment_left_ = word & kMaxFragment;
                last_ = (word & kLastFragment) != 0;
                announced_ += fragment_left_;
                in_fragment_ = true;
            }
            const auto k = static_cast<std::size_t>(
                std::min<std::uint64_t>(fragment_left_, out.size() - r.bytes));
            if (k > 0) {
                const std::size_t got = src.take(out.subspan(r.bytes, k));
                r.bytes += got;
                fragment_left_ -= got;
                if (got < k) {
                    return r;  // (not after a complete scan())
                }
            }
            if (fragment_left_ == 0) {
                in_fragment_ = false;
                if (last_) {
                    announced_ = 0;
                    r.message_ended = true;
                    return r;
                }
            }
            if (r.bytes == out.size()) {
                return r;
            }
        }
    }

    // Read to its end (the peer's FIN has arrived: nothing more will), does the stream hold only
    // whole messages? False: it ends inside one (a framing error).
    template <class Source>
    [[nodiscard]] bool ends_cleanly(const Source& src) const {
        const std::size_t avail = src.available();
        std::size_t offset = 0;
        bool inside = mid_message();
        if (in_fragment_) {
            if (avail < fragment_left_) {
                return false;
            }
            offset = static_cast<std::size_t>(fragment_left_);
            inside = !last_;
        }
        while (offset < avail) {
            std::uint32_t word = 0;
            if (!header_at(src, offset, &word)) {
                return false;
            }
            const std::uint64_t len = word & kMaxFragment;
            offset += kRecordHeader;
            if (avail - offset < len) {
                return false;
            }
            offset += static_cast<std::size_t>(len);
            inside = (word & kLastFragment) == 0;
        }
        return !inside;
    }

    // Part of a message has been read (its first header taken) and the rest has not.
    [[nodiscard]] bool mid_message() const { return in_fragment_ || announced_ > 0; }

private:
    template <class Source>
    static bool header_at(const Source& src, std::size_t offset, std::uint32_t* word) {
        std::array<std::byte, kRecordHeader> h{};
        if (src.available() - offset < kRecordHeader || src.peek(offset, h) != kRecordHeader) {
            return false;
        }
        *word = load_be32(h.data());
        return true;
    }

    std::uint64_t max_;
    bool in_fragment_ = false;         // a fragment's header was taken; its bytes follow
    bool last_ = false;                // ... and it is its message's last
    std::uint64_t fragment_left_ = 0;  // bytes of that fragment not read yet
    std::uint64_t announced_ = 0;      // lengths of the current message's fragments taken so far
};

}  // namespace ustack
