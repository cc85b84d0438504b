// RingBuffer: the send/receive byte ring (RFC 9293 §3.3.2 send and receive sequence space).
#include "ustack/ring_buffer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

using ustack::RingBuffer;

namespace {

// Bytes start, start+1, ... (mod 256).
std::vector<std::byte> seq_bytes(std::size_t n, unsigned start = 0) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<std::byte>((start + i) & 0xffU);
    }
    return v;
}

std::vector<std::byte> read_all(RingBuffer& rb) {
    std::vector<std::byte> out(rb.size());
    const std::size_t n = rb.read(out);
    out.resize(n);
    return out;
}

std::vector<std::byte> concat(const std::array<std::span<const std::byte>, 2>& spans) {
    std::vector<std::byte> out(spans[0].begin(), spans[0].end());
    out.insert(out.end(), spans[1].begin(), spans[1].end());
    return out;
}

}  // namespace

TEST_SUITE("ring_buffer") {
    TEST_CASE("storage is allocated lazily and freed by release()") {
        RingBuffer rb(16);
        CHECK(rb.capacity() == 16);
        CHECK_FALSE(rb.allocated());
        CHECK(rb.empty());
        CHECK(rb.free() == 16);

        // Reads, peeks and empty writes do not allocate.
        std::array<std::byte, 4> out{};
        CHECK(rb.read(out) == 0);
        CHECK(rb.peek(0, out) == 0);
        CHECK(rb.write({}) == 0);
        CHECK(rb.write_at(3, {}) == 0);
        CHECK(rb.write_at(16, seq_bytes(4)) == 0);  // entirely outside the free space
        CHECK_FALSE(rb.allocated());

        CHECK(rb.write(seq_bytes(5)) == 5);
        CHECK(rb.allocated());
        CHECK(rb.size() == 5);

        rb.release();
        CHECK_FALSE(rb.allocated());
        CHECK(rb.empty());
        CHECK(rb.capacity() == 16);

        // Usable again after release; write_at allocates too.
        CHECK(rb.write_at(2, seq_bytes(3)) == 3);
        CHECK(rb.allocated());
        CHECK(rb.empty());
    }

    TEST_CASE("a zero-capacity ring takes nothing and never allocates") {
        RingBuffer rb;
        CHECK(rb.capacity() == 0);
        CHECK(rb.write(seq_bytes(3)) == 0);
        CHECK(rb.write_at(0, seq_bytes(3)) == 0);
        CHECK_FALSE(rb.allocated());
        CHECK(rb.peek_spans(0, 10)[0].empty());
    }

    TEST_CASE("write is clipped to the free space") {
        RingBuffer rb(8);
        CHECK(rb.write(seq_bytes(5)) == 5);
        CHECK(rb.write(seq_bytes(5, 5)) == 3);
        CHECK(rb.size() == 8);
        CHECK(rb.free() == 0);
        CHECK(rb.write(seq_bytes(1)) == 0);
        CHECK(read_all(rb) == seq_bytes(8));
    }

    TEST_CASE("writes and reads wrap around the end of the storage") {
        RingBuffer rb(8);
        REQUIRE(rb.write(seq_bytes(6)) == 6);
        std::array<std::byte, 5> out{};
        REQUIRE(rb.read(out) == 5);  // head is now at index 5
        CHECK(std::equal(out.begin(), out.end(), seq_bytes(5).begin()));

        // 1 byte left (index 5); 7 more bytes fill 6, 7, then wrap to 0..4.
        CHECK(rb.write(seq_bytes(7, 6)) == 7);
        CHECK(rb.size() == 8);
        CHECK(read_all(rb) == seq_bytes(8, 5));
        CHECK(rb.empty());

        // Many laps: the byte stream stays intact.
        unsigned next_write = 0;
        unsigned next_read = 0;
        for (int lap = 0; lap < 50; ++lap) {
            const std::size_t n = rb.write(seq_bytes(5, next_write));
            next_write += static_cast<unsigned>(n);
            std::array<std::byte, 3> chunk{};
            const std::size_t got = rb.read(chunk);
            CHECK(std::equal(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got),
                             seq_bytes(got, next_read).begin()));
            next_read += static_cast<unsigned>(got);
        }
        CHECK(rb.size() == next_write - next_read);
    }

    TEST_CASE("peek copies from an offset without consuming across the wrap") {
        RingBuffer rb(8);
        REQUIRE(rb.write(seq_bytes(6)) == 6);
        rb.consume(4);                            // head at 4
        REQUIRE(rb.write(seq_bytes(6, 6)) == 6);  // bytes 4..11 at indices 4..7, 0..3
        std::array<std::byte, 5> out{};
        CHECK(rb.peek(2, out) == 5);  // bytes 6..10: straddles the wrap
        CHECK(std::equal(out.begin(), out.end(), seq_bytes(5, 6).begin()));
        CHECK(rb.size() == 8);        // nothing consumed
        CHECK(rb.peek(6, out) == 2);  // clipped at the readable end
        CHECK(rb.peek(8, out) == 0);
        CHECK(rb.peek(100, out) == 0);
    }

    TEST_CASE("peek_spans returns one span or two when the range wraps") {
        RingBuffer rb(8);
        REQUIRE(rb.write(seq_bytes(7)) == 7);
        rb.consume(5);                            // head at 5, bytes 5, 6 readable
        REQUIRE(rb.write(seq_bytes(6, 7)) == 6);  // bytes 5..12: indices 5, 6, 7, 0..4

        // Contiguous: [5, 8) lies before the wrap.
        auto s = rb.peek_spans(0, 3);
        CHECK(s[0].size() == 3);
        CHECK(s[1].empty());
        CHECK(concat(s) == seq_bytes(3, 5));

        // Wraps: all 8 bytes come as 3 + 5.
        s = rb.peek_spans(0, 8);
        CHECK(s[0].size() == 3);
        CHECK(s[1].size() == 5);
        CHECK(concat(s) == seq_bytes(8, 5));

        // Starting after the wrap: one span.
        s = rb.peek_spans(4, 3);
        CHECK(s[0].size() == 3);
        CHECK(s[1].empty());
        CHECK(concat(s) == seq_bytes(3, 9));

        // Clipped to the readable bytes; empty past the end or for len 0.
        CHECK(concat(rb.peek_spans(6, 100)) == seq_bytes(2, 11));
        CHECK(rb.peek_spans(8, 1)[0].empty());
        CHECK(rb.peek_spans(0, 0)[0].empty());
        CHECK(rb.peek_spans(0, 0)[1].empty());
    }

    TEST_CASE("write_at places out-of-order bytes that commit makes readable") {
        // The receive path (RFC 9293 §3.10.7.4): a segment beyond RCV.NXT is stored at its offset,
        // then the gap is filled, then both become readable.
        RingBuffer rb(16);
        REQUIRE(rb.write(seq_bytes(2)) == 2);  // in-order bytes 0, 1

        CHECK(rb.write_at(3, seq_bytes(4, 5)) == 4);  // bytes 5..8 arrive early
        CHECK(rb.size() == 2);                        // not readable yet
        CHECK(rb.write_at(0, seq_bytes(3, 2)) == 3);  // bytes 2..4 fill the gap
        rb.commit(7);
        CHECK(rb.size() == 9);
        CHECK(read_all(rb) == seq_bytes(9));
    }

    TEST_CASE("write_at is clipped to the free space and wraps") {
        RingBuffer rb(8);
        REQUIRE(rb.write(seq_bytes(6)) == 6);
        rb.consume(6);  // empty, head at 6: free space is indices 6, 7, 0..5
        REQUIRE(rb.write(seq_bytes(1, 6)) == 1);       // byte 6 readable at index 6; 7 bytes free
        CHECK(rb.write_at(5, seq_bytes(4, 12)) == 2);  // only offsets 5, 6 fit
        CHECK(rb.write_at(7, seq_bytes(1)) == 0);
        CHECK(rb.write_at(0, seq_bytes(5, 7)) == 5);  // offsets 0..4 (wraps at index 8)
        rb.commit(7);
        CHECK(rb.free() == 0);
        CHECK(read_all(rb) == seq_bytes(8, 6));
    }

    TEST_CASE("bytes parked with write_at survive the ring becoming empty") {
        RingBuffer rb(8);
        REQUIRE(rb.write(seq_bytes(3)) == 3);
        CHECK(rb.write_at(1, seq_bytes(2, 4)) == 2);  // bytes 4, 5 at offsets 1, 2
        std::array<std::byte, 3> out{};
        REQUIRE(rb.read(out) == 3);  // the application drains the ring
        CHECK(rb.empty());
        CHECK(rb.write(seq_bytes(1, 3)) == 1);  // byte 3 fills the gap
        rb.commit(2);
        CHECK(read_all(rb) == seq_bytes(3, 3));
    }

    TEST_CASE("consume and clear and set_capacity") {
        RingBuffer rb(8);
        REQUIRE(rb.write(seq_bytes(5)) == 5);
        rb.consume(2);
        CHECK(rb.size() == 3);
        CHECK(concat(rb.peek_spans(0, 3)) == seq_bytes(3, 2));
        rb.consume(0);
        CHECK(rb.size() == 3);

        rb.clear();
        CHECK(rb.empty());
        CHECK(rb.allocated());  // clear keeps the storage
        CHECK(rb.free() == 8);

        rb.set_capacity(32);
        CHECK(rb.capacity() == 32);
        CHECK_FALSE(rb.allocated());  // re-allocated lazily at the new size
        CHECK(rb.write(seq_bytes(32)) == 32);
        CHECK(read_all(rb) == seq_bytes(32));
    }

    TEST_CASE("randomized operations match a std::deque model") {
        // Seeded, so a failure reproduces. The model keeps the readable bytes in a deque and the
        // parked (write_at) bytes in a side array indexed by offset past the readable end.
        for (const std::uint32_t seed : {1U, 2U, 3U, 42U, 20240601U}) {
            CAPTURE(seed);
            std::mt19937 rng(seed);
            const std::size_t cap = std::uniform_int_distribution<std::size_t>(1, 97)(rng);
            RingBuffer rb(cap);
            std::deque<std::byte> model;
            std::vector<std::byte> parked(cap);  // parked[k]: byte at offset k past the end
            std::vector<bool> parked_valid(cap, false);
            auto rnd = [&](std::size_t lo, std::size_t hi) {
                return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
            };
            auto random_bytes = [&](std::size_t n) {
                std::vector<std::byte> v(n);
                for (auto& b : v) {
                    b = static_cast<std::byte>(rnd(0, 255));
                }
                return v;
            };
            // Shift the parked window after k bytes left the free space's front (appended).
            auto shift_parked = [&](std::size_t k) {
                std::rotate(parked.begin(), parked.begin() + static_cast<std::ptrdiff_t>(k),
                            parked.end());
                std::vector<bool> valid(cap, false);
                for (std::size_t i = k; i < cap; ++i) {
                    valid[i - k] = parked_valid[i];
                }
                parked_valid = valid;
            };

            for (int op = 0; op < 5000; ++op) {
                const std::size_t free_before = cap - model.size();
                switch (rnd(0, 7)) {
                    case 0: {  // write
                        const auto data = random_bytes(rnd(0, cap + 3));
                        const std::size_t n = rb.write(data);
                        REQUIRE(n == std::min(data.size(), free_before));
                        model.insert(model.end(), data.begin(),
                                     data.begin() + static_cast<std::ptrdiff_t>(n));
                        shift_parked(n);
                        break;
                    }
                    case 1: {  // write_at, then sometimes commit a valid prefix
                        const std::size_t off = rnd(0, cap);
                        const auto data = random_bytes(rnd(0, cap));
                        const std::size_t n = rb.write_at(off, data);
                        const std::size_t want =
                            off >= free_before ? 0 : std::min(data.size(), free_before - off);
                        REQUIRE(n == want);
                        for (std::size_t i = 0; i < n; ++i) {
                            parked[off + i] = data[i];
                            parked_valid[off + i] = true;
                        }
                        break;
                    }
                    case 2: {  // commit the contiguous parked prefix (maybe part of it)
                        std::size_t prefix = 0;
                        while (prefix < free_before && parked_valid[prefix]) {
                            ++prefix;
                        }
                        const std::size_t n = rnd(0, prefix);
                        rb.commit(n);
                        model.insert(model.end(), parked.begin(),
                                     parked.begin() + static_cast<std::ptrdiff_t>(n));
                        shift_parked(n);
                        break;
                    }
                    case 3: {  // read
                        std::vector<std::byte> out(rnd(0, cap + 3));
                        const std::size_t n = rb.read(out);
                        REQUIRE(n == std::min(out.size(), model.size()));
                        REQUIRE(std::equal(out.begin(),
                                           out.begin() + static_cast<std::ptrdiff_t>(n),
                                           model.begin()));
                        model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
                        break;
                    }
                    case 4: {  // peek at an offset
                        const std::size_t off = rnd(0, cap);
                        std::vector<std::byte> out(rnd(0, cap));
                        const std::size_t n = rb.peek(off, out);
                        const std::size_t want =
                            off >= model.size() ? 0 : std::min(out.size(), model.size() - off);
                        REQUIRE(n == want);
                        if (n > 0) {  // (off may be past the model's end otherwise)
                            REQUIRE(std::equal(out.begin(),
                                               out.begin() + static_cast<std::ptrdiff_t>(n),
                                               model.begin() + static_cast<std::ptrdiff_t>(off)));
                        }
                        break;
                    }
                    case 5: {  // peek_spans
                        const std::size_t off = rnd(0, cap);
                        const std::size_t len = rnd(0, cap);
                        const auto got = concat(rb.peek_spans(off, len));
                        const std::size_t want =
                            off >= model.size() ? 0 : std::min(len, model.size() - off);
                        REQUIRE(got.size() == want);
                        if (want > 0) {
                            REQUIRE(std::equal(got.begin(), got.end(),
                                               model.begin() + static_cast<std::ptrdiff_t>(off)));
                        }
                        break;
                    }
                    case 6: {  // consume
                        const std::size_t n = rnd(0, model.size());
                        rb.consume(n);
                        model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
                        break;
                    }
                    default: {  // rarely: release or clear
                        if (rnd(0, 50) == 0) {
                            if (rnd(0, 1) == 0) {
                                rb.release();
                                REQUIRE_FALSE(rb.allocated());
                            } else {
                                rb.clear();
                            }
                            model.clear();
                            std::fill(parked_valid.begin(), parked_valid.end(), false);
                        }
                        break;
                    }
                }
                REQUIRE(rb.size() == model.size());
                REQUIRE(rb.free() == cap - model.size());
                REQUIRE(rb.empty() == model.empty());
                if (!model.empty()) {
                    REQUIRE(rb.allocated());
                }
            }
        }
    }

    TEST_CASE("resize grows keeping readable and parked bytes (also when they wrap)") {
        RingBuffer rb(8);
        REQUIRE(rb.write(seq_bytes(6)) == 6);
        rb.consume(4);                                   // head at 4: the next writes wrap
        REQUIRE(rb.write(seq_bytes(4, 6)) == 4);         // readable 4..9, wrapping
        REQUIRE(rb.write_at(1, seq_bytes(1, 11)) == 1);  // parked 11 after a gap
        rb.resize(64);
        CHECK(rb.capacity() == 64);
        CHECK(rb.free() == 58);
        CHECK(rb.write(seq_bytes(1, 10)) == 1);
        rb.commit(1);
        CHECK(read_all(rb) == seq_bytes(8, 4));
        CHECK(rb.write(seq_bytes(50)) == 50);  // the new capacity is usable
    }

    TEST_CASE("resize shrinks keeping readable bytes and the parked bytes that still fit") {
        RingBuffer rb(4096);
        REQUIRE(rb.write(seq_bytes(3000)) == 3000);
        rb.consume(2990);
        REQUIRE(rb.write(seq_bytes(1000, 3000)) == 1000);  // wraps: 10 + 1000 readable
        REQUIRE(rb.write_at(2, seq_bytes(3, 100)) == 3);   // parked at offsets 2..4
        REQUIRE(rb.write_at(40, seq_bytes(3, 200)) == 3);  // parked at offsets 40..42
        rb.resize(1020);
        CHECK(rb.capacity() == 1020);
        CHECK(rb.allocated_bytes() <= 1020);
        CHECK(rb.free() == 10);
        std::array<std::byte, 5> parked{};
        REQUIRE(rb.write(seq_bytes(2, 50)) == 2);
        rb.commit(3);  // the bytes parked at 2..4 survived; those at 40.. are beyond the capacity
        REQUIRE(rb.size() == 1015);
        CHECK(rb.peek(1010, parked) == 5);
        CHECK(std::vector<std::byte>(parked.begin(), parked.end()) ==
              std::vector<std::byte>{std::byte{50}, std::byte{51}, std::byte{100}, std::byte{101},
                                     std::byte{102}});
        std::vector<std::byte> head(10);
        REQUIRE(rb.read(head) == 10);
        CHECK(head == seq_bytes(10, 2990));
        std::vector<std::byte> rest(1000);
        REQUIRE(rb.read(rest) == 1000);
        CHECK(rest == seq_bytes(1000, 3000));
    }

    TEST_CASE("resize never drops readable bytes: a capacity below size() becomes size()") {
        RingBuffer rb(100);
        REQUIRE(rb.write(seq_bytes(60)) == 60);
        rb.resize(10);
        CHECK(rb.capacity() == 60);
        CHECK(rb.free() == 0);
        CHECK(read_all(rb) == seq_bytes(60));
        rb.resize(0);
        CHECK(rb.capacity() == 0);
        CHECK_FALSE(rb.allocated());
        CHECK(rb.write(seq_bytes(1)) == 0);
    }
}
