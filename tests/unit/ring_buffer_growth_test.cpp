// RingBuffer storage growth: the ring starts with kInitialStorage bytes (or the capacity, if
// smaller) and doubles with use up to the capacity, keeping every meaningful byte -- readable
// bytes that wrap around the end of the old storage, and out-of-order bytes parked with write_at
// past the readable end (RFC 9293 §3.3.2 receive sequence space: RCV.NXT + offset) -- across each
// re-allocation.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "ustack/ring_buffer.hpp"

using ustack::RingBuffer;

namespace {

constexpr std::size_t kInit = RingBuffer::kInitialStorage;

// A recognisable pattern: byte i of the stream is (i * 7 + salt) mod 251 (a prime, so the
// pattern does not line up with any power-of-two storage size).
std::vector<std::byte> pattern(std::size_t from, std::size_t n, unsigned salt = 0) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<std::byte>(((from + i) * 7 + salt) % 251);
    }
    return v;
}

std::vector<std::byte> peek_all(const RingBuffer& rb) {
    std::vector<std::byte> out(rb.size());
    const std::size_t n = rb.peek(0, out);
    out.resize(n);
    return out;
}

std::vector<std::byte> spans_all(const RingBuffer& rb, std::size_t offset, std::size_t len) {
    const auto spans = rb.peek_spans(offset, len);
    std::vector<std::byte> out(spans[0].begin(), spans[0].end());
    out.insert(out.end(), spans[1].begin(), spans[1].end());
    return out;
}

std::vector<std::byte> read_n(RingBuffer& rb, std::size_t n) {
    std::vector<std::byte> out(n);
    const std::size_t got = rb.read(out);
    out.resize(got);
    return out;
}

// What the storage size must be after the ring has needed `need` bytes from its head: the
// documented rule (kInitialStorage, or the capacity if smaller, doubled up to the capacity).
std::size_t expected_growth(std::size_t alloc, std::size_t need, std::size_t capacity) {
    need = std::min(need, capacity);
    if (alloc >= need && alloc != 0) {
        return alloc;
    }
    std::size_t grown = alloc == 0 ? std::min(capacity, kInit) : alloc;
    while (grown < need) grown = std::min(capacity, grown * 2);
    return grown;
}

// The storage size is 0, the capacity, or kInitialStorage times a power of two below it.
bool plausible_storage(std::size_t alloc, std::size_t capacity) {
    if (alloc == 0 || alloc == capacity) {
        return true;
    }
    if (alloc > capacity || alloc < kInit) {
        return false;
    }
    std::size_t s = kInit;
    while (s < alloc) s *= 2;
    return s == alloc;
}

}  // namespace

TEST_SUITE("ring_buffer") {
    TEST_CASE(
        "RingBuffer growth: storage starts at kInitialStorage and doubles up to the capacity") {
        RingBuffer rb(1 << 20);
        CHECK(rb.allocated_bytes() == 0);
        CHECK_FALSE(rb.allocated());

        REQUIRE(rb.write(pattern(0, 1)) == 1);
        CHECK(rb.allocated());
        CHECK(rb.allocated_bytes() == kInit);

        // Filling the initial storage exactly does not grow it.
        REQUIRE(rb.write(pattern(1, kInit - 1)) == kInit - 1);
        CHECK(rb.allocated_bytes() == kInit);
        // One byte more doubles it; then each doubling only when needed.
        REQUIRE(rb.write(pattern(kInit, 1)) == 1);
        CHECK(rb.allocated_bytes() == 2 * kInit);
        REQUIRE(rb.write(pattern(kInit + 1, kInit - 1)) == kInit - 1);
        CHECK(rb.allocated_bytes() == 2 * kInit);
        REQUIRE(rb.write(pattern(2 * kInit, 1)) == 1);
        CHECK(rb.allocated_bytes() == 4 * kInit);

        // A big write jumps several doublings at once.
        const std::size_t have = rb.size();
        REQUIRE(rb.write(pattern(have, 100'000)) == 100'000);
        CHECK(rb.allocated_bytes() == 32 * kInit);  // 131072 >= 2*4096+1+100000
        // Filling the ring ends at the capacity, never past it.
        const std::size_t rest = rb.free();
        REQUIRE(rb.write(pattern(rb.size(), rest + 10)) == rest);
        CHECK(rb.allocated_bytes() == rb.capacity());
        CHECK(rb.size() == rb.capacity());
        CHECK(peek_all(rb) == pattern(0, 1 << 20));
    }

    TEST_CASE(
        "RingBuffer growth: a capacity below kInitialStorage is allocated whole and never grows") {
        for (const std::size_t cap :
             {std::size_t{1}, std::size_t{7}, std::size_t{100}, kInit - 1, kInit}) {
            CAPTURE(cap);
            RingBuffer rb(cap);
            REQUIRE(rb.write(pattern(0, 1)) == 1);
            CHECK(rb.allocated_bytes() == cap);
            REQUIRE(rb.write(pattern(1, cap)) == cap - 1);
            CHECK(rb.allocated_bytes() == cap);
            CHECK(peek_all(rb) == pattern(0, cap));
        }
    }

    TEST_CASE(
        "RingBuffer growth: a capacity not a power-of-two multiple of 4 KiB ends at it exactly") {
        RingBuffer rb(5000);
        REQUIRE(rb.write(pattern(0, 4000)) == 4000);
        CHECK(rb.allocated_bytes() == kInit);
        REQUIRE(rb.write(pattern(4000, 200)) == 200);
        CHECK(rb.allocated_bytes() == 5000);  // min(capacity, 8192)
        REQUIRE(rb.write(pattern(4200, 900)) == 800);
        CHECK(rb.allocated_bytes() == 5000);
        CHECK(rb.free() == 0);
        CHECK(peek_all(rb) == pattern(0, 5000));
    }

    TEST_CASE(
        "RingBuffer growth: readable bytes wrapping around the end of the storage survive growth") {
        RingBuffer rb(64 * 1024);
        // Move the head near the end of the 4 KiB storage, then wrap the readable bytes.
        REQUIRE(rb.write(pattern(0, 4000)) == 4000);
        CHECK(read_n(rb, 3900) == pattern(0, 3900));
        REQUIRE(rb.write(pattern(4000, 3000)) == 3000);  // 3100 readable, wrapping at 4096
        REQUIRE(rb.allocated_bytes() == kInit);
        {
            const auto spans = rb.peek_spans(0, rb.size());
            REQUIRE_FALSE(spans[1].empty());  // really wrapped
        }
        // This write needs 3100 + 2000 > 4096: the ring is unrolled into 8 KiB.
        REQUIRE(rb.write(pattern(7000, 2000)) == 2000);
        CHECK(rb.allocated_bytes() == 2 * kInit);
        CHECK(rb.size() == 5100);
        CHECK(peek_all(rb) == pattern(3900, 5100));
        CHECK(spans_all(rb, 0, 5100) == pattern(3900, 5100));
        CHECK(spans_all(rb, 1234, 100) == pattern(3900 + 1234, 100));

        std::vector<std::byte> mid(50);
        CHECK(rb.peek(4000, mid) == 50);
        CHECK(mid == pattern(3900 + 4000, 50));

        // Keep cycling through the grown ring: wrap again and grow again.
        CHECK(read_n(rb, 5000) == pattern(3900, 5000));
        REQUIRE(rb.write(pattern(9000, 8000)) == 8000);  // 8100 readable: fits 8192, wraps
        CHECK(rb.allocated_bytes() == 2 * kInit);
        REQUIRE(rb.write(pattern(17000, 200)) == 200);  // 8300: grows to 16 KiB
        CHECK(rb.allocated_bytes() == 4 * kInit);
        CHECK(peek_all(rb) == pattern(8900, 8300));
        CHECK(read_n(rb, 8300) == pattern(8900, 8300));
        CHECK(rb.empty());
    }

    TEST_CASE(
        "RingBuffer growth: bytes parked with write_at before growth are committed after it") {
        RingBuffer rb(64 * 1024);
        // Head near the end of the initial storage, some readable bytes wrapping.
        REQUIRE(rb.write(pattern(0, 4090)) == 4090);
        CHECK(read_n(rb, 4080) == pattern(0, 4080));
        REQUIRE(rb.write(pattern(4090, 100)) == 100);  // 110 readable, from index 4080, wrapping
        REQUIRE(rb.allocated_bytes() == kInit);
        const std::size_t end = 4080 + 110;  // stream offset of the readable end

        // Park two out-of-order runs within the current storage (one wraps), leaving a gap.
        REQUIRE(rb.write_at(1000, pattern(end + 1000, 2000)) == 2000);
        REQUIRE(rb.write_at(3100, pattern(end + 3100, 800)) == 800);
        CHECK(rb.allocated_bytes() == kInit);  // 110 + 3900 <= 4096
        CHECK(rb.size() == 110);

        // Now the in-order bytes arrive and grow the storage (110 + 6000 > 4096)... but they
        // must not cover the parked ones: write only the gap [0, 1000), then a far run.
        REQUIRE(rb.write_at(6000, pattern(end + 6000, 500)) == 500);  // forces growth to 8 KiB
        CHECK(rb.allocated_bytes() == 2 * kInit);
        REQUIRE(rb.write(pattern(end, 1000)) == 1000);         // fills the first gap
        rb.commit(2000);                                       // the parked [1000, 3000)
        REQUIRE(rb.write(pattern(end + 3000, 100)) == 100);    // the gap [3000, 3100)
        rb.commit(800);                                        // parked [3100, 3900)
        REQUIRE(rb.write(pattern(end + 3900, 2100)) == 2100);  // [3900, 6000)
        rb.commit(500);                                        // parked [6000, 6500)
        CHECK(rb.size() == 110 + 6500);
        CHECK(rb.allocated_bytes() == 2 * kInit);
        CHECK(peek_all(rb) == pattern(4080, 6610));
        CHECK(spans_all(rb, 100, 6500) == pattern(4180, 6500));
        CHECK(read_n(rb, 6610) == pattern(4080, 6610));
    }

    TEST_CASE("RingBuffer growth: write_at far past the readable end grows the storage directly") {
        RingBuffer rb(1 << 20);
        REQUIRE(rb.write(pattern(0, 10)) == 10);
        REQUIRE(rb.allocated_bytes() == kInit);
        // Offset 200000 from the readable end: storage must cover 10 + 200000 + 100 bytes.
        REQUIRE(rb.write_at(200'000, pattern(10 + 200'000, 100)) == 100);
        CHECK(rb.allocated_bytes() == 64 * kInit);  // 262144 >= 200110
        CHECK(rb.size() == 10);
        CHECK(peek_all(rb) == pattern(0, 10));
        // Fill the gap in order, then commit the parked run.
        REQUIRE(rb.write(pattern(10, 200'000)) == 200'000);
        CHECK(rb.allocated_bytes() == 64 * kInit);
        rb.commit(100);
        CHECK(rb.size() == 200'110);
        CHECK(spans_all(rb, 199'990, 120) == pattern(199'990, 120));
        CHECK(peek_all(rb) == pattern(0, 200'110));

        // On a fresh ring, write_at before any write allocates just enough, straight away.
        RingBuffer fresh(1 << 20);
        REQUIRE(fresh.write_at(50'000, pattern(50'000, 10)) == 10);
        CHECK(fresh.allocated_bytes() == 16 * kInit);  // 65536 >= 50010
        CHECK(fresh.empty());
        REQUIRE(fresh.write(pattern(0, 50'000)) == 50'000);
        fresh.commit(10);
        CHECK(peek_all(fresh) == pattern(0, 50'010));
        // write_at clipped at the capacity grows to the capacity at most.
        RingBuffer clip(5000);
        CHECK(clip.write_at(4990, pattern(0, 100)) == 10);
        CHECK(clip.allocated_bytes() == 5000);
    }

    TEST_CASE("RingBuffer growth: bytes parked past a wrapped readable region keep their offsets") {
        // The parked bytes sit before the head in storage order (they wrapped around); growing
        // must unroll from the head, so the parked run lands after the readable bytes again.
        RingBuffer rb(32 * 1024);
        REQUIRE(rb.write(pattern(0, 3000)) == 3000);
        CHECK(read_n(rb, 3000) == pattern(0, 3000));   // head at 3000, empty
        REQUIRE(rb.write(pattern(3000, 500)) == 500);  // readable [3000, 3500) at index 3000
        // Park at offsets [1000, 1500): indices 4500.. wrap to 404..904.
        REQUIRE(rb.write_at(1000, pattern(4500, 500)) == 500);
        REQUIRE(rb.allocated_bytes() == kInit);
        // A far write_at grows the storage.
        REQUIRE(rb.write_at(9000, pattern(12'500, 7)) == 7);
        CHECK(rb.allocated_bytes() == 4 * kInit);
        REQUIRE(rb.write(pattern(3500, 1000)) == 1000);
        rb.commit(500);
        CHECK(peek_all(rb) == pattern(3000, 2000));
        REQUIRE(rb.write(pattern(5000, 7500)) == 7500);
        rb.commit(7);
        CHECK(read_n(rb, 100'000) == pattern(3000, 9507));
    }

    TEST_CASE(
        "RingBuffer growth: commit without write_at on an unallocated ring allocates storage") {
        RingBuffer rb(1 << 16);
        rb.commit(10'000);  // undefined contents, but backed by storage
        CHECK(rb.size() == 10'000);
        CHECK(rb.allocated_bytes() == 4 * kInit);
        std::vector<std::byte> out(10'000);
        CHECK(rb.peek(0, out) == 10'000);
        const auto spans = rb.peek_spans(0, 10'000);
        CHECK(spans[0].size() + spans[1].size() == 10'000);
    }

    TEST_CASE("RingBuffer growth: release frees the storage and the next use starts small again") {
        RingBuffer rb(1 << 20);
        REQUIRE(rb.write(pattern(0, 300'000)) == 300'000);
        CHECK(rb.allocated_bytes() == 128 * kInit);
        rb.release();
        CHECK_FALSE(rb.allocated());
        CHECK(rb.allocated_bytes() == 0);
        CHECK(rb.empty());
        CHECK(rb.capacity() == std::size_t{1} << 20);
        CHECK(rb.free() == rb.capacity());
        REQUIRE(rb.write(pattern(5, 10)) == 10);
        CHECK(rb.allocated_bytes() == kInit);
        CHECK(peek_all(rb) == pattern(5, 10));

        // clear() keeps the (grown) storage; the contents start over.
        REQUIRE(rb.write(pattern(15, 20'000)) == 20'000);
        CHECK(rb.allocated_bytes() == 8 * kInit);
        rb.clear();
        CHECK(rb.allocated_bytes() == 8 * kInit);
        CHECK(rb.empty());
        REQUIRE(rb.write(pattern(1, 30'000)) == 30'000);
        CHECK(rb.allocated_bytes() == 8 * kInit);
        CHECK(peek_all(rb) == pattern(1, 30'000));
    }

    TEST_CASE(
        "RingBuffer growth: set_capacity frees the storage and growth follows the new capacity") {
        RingBuffer rb(1 << 20);
        REQUIRE(rb.write(pattern(0, 100'000)) == 100'000);
        CHECK(read_n(rb, 100'000) == pattern(0, 100'000));
        REQUIRE(rb.allocated_bytes() == 32 * kInit);
        rb.set_capacity(6000);
        CHECK(rb.capacity() == 6000);
        CHECK(rb.allocated_bytes() == 0);
        CHECK_FALSE(rb.allocated());
        REQUIRE(rb.write(pattern(0, 100)) == 100);
        CHECK(rb.allocated_bytes() == kInit);
        REQUIRE(rb.write(pattern(100, 10'000)) == 5900);
        CHECK(rb.allocated_bytes() == 6000);
        CHECK(read_n(rb, 6000) == pattern(0, 6000));

        // Same capacity: storage kept. Smaller than kInitialStorage: allocated whole.
        rb.set_capacity(6000);
        CHECK(rb.allocated_bytes() == 6000);
        rb.set_capacity(10);
        CHECK(rb.allocated_bytes() == 0);
        REQUIRE(rb.write(pattern(0, 3)) == 3);
        CHECK(rb.allocated_bytes() == 10);
    }

    TEST_CASE("RingBuffer growth: randomized operations match a model (capacities 1 to 1 MiB)") {
        // The model: a circular array of capacity slots indexed by stream position mod capacity
        // (every live position lies in [read position, read position + capacity)), each slot a
        // byte or -1 (unknown: never written, or consumed). Readable = [rd, wr); parked bytes are
        // the known slots at positions >= wr. Seeded, so a failure reproduces.
        struct Run {
            std::size_t cap;
            int ops;
            std::size_t max_op;
        };
        const std::array<Run, 6> runs{{{1, 3000, 3},
                                       {7, 4000, 10},
                                       {4096, 4000, 3000},
                                       {5000, 4000, 3000},
                                       {70'000, 3000, 20'000},
                                       {1 << 20, 1500, 200'000}}};
        for (const Run& run : runs) {
            for (const std::uint32_t seed : {7U, 1234U}) {
                const std::size_t cap = run.cap;
                CAPTURE(cap);
                CAPTURE(seed);
                std::mt19937 rng(seed);
                auto rnd = [&](std::size_t lo, std::size_t hi) {
                    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
                };
                // Mostly small operations, sometimes big ones, so growth happens at every stage.
                auto op_size = [&] {
                    return rnd(0, 3) == 0 ? rnd(0, run.max_op)
                                          : rnd(0, std::max<std::size_t>(1, run.max_op / 16));
                };
                RingBuffer rb(cap);
                std::vector<std::int16_t> slot(cap, -1);
                std::uint64_t rd = 0;
                std::uint64_t wr = 0;
                std::size_t want_alloc = 0;
                std::uint32_t lcg = seed;
                auto random_bytes = [&](std::size_t n) {
                    std::vector<std::byte> v(n);
                    for (auto& b : v) {
                        lcg = lcg * 1664525U + 1013904223U;
                        b = static_cast<std::byte>(lcg >> 24);
                    }
                    return v;
                };
                auto at = [&](std::uint64_t pos) -> std::int16_t& { return slot[pos % cap]; };
                auto check_readable = [&](std::size_t offset, std::span<const std::byte> got) {
                    for (std::size_t i = 0; i < got.size(); ++i) {
                        const std::int16_t want = at(rd + offset + i);
                        if (want < 0 || std::to_integer<std::int16_t>(got[i]) != want) {
                            FAIL("byte " << offset + i << " past the front differs (model " << want
                                         << ")");
                        }
                    }
                };

                for (int op = 0; op < run.ops; ++op) {
                    const std::size_t size = wr - rd;
                    const std::size_t free = cap - size;
                    REQUIRE(rb.size() == size);
                    REQUIRE(rb.free() == free);
                    switch (rnd(0, 9)) {
                        case 0:
                        case 1: {  // write
                            const auto data = random_bytes(op_size());
                            const std::size_t n = rb.write(data);
                            REQUIRE(n == std::min(data.size(), free));
                            if (n > 0)
                                want_alloc = expected_growth(want_alloc, size + n, cap);
                            for (std::size_t i = 0; i < n; ++i) {
                                at(wr + i) = std::to_integer<std::int16_t>(data[i]);
                            }
                            wr += n;
                            break;
                        }
                        case 2:
                        case 3: {  // write_at: out-of-order bytes past the readable end
                            const std::size_t off =
                                rnd(0, 3) == 0 ? rnd(0, cap) : rnd(0, std::min(cap, run.max_op));
                            const auto data = random_bytes(op_size());
                            const std::size_t n = rb.write_at(off, data);
                            const std::size_t want = (off >= free || data.empty())
                                                         ? 0
                                                         : std::min(data.size(), free - off);
                            REQUIRE(n == want);
                            if (n > 0)
                                want_alloc = expected_growth(want_alloc, size + off + n, cap);
                            for (std::size_t i = 0; i < n; ++i) {
                                at(wr + off + i) = std::to_integer<std::int16_t>(data[i]);
                            }
                            break;
                        }
                        case 4: {  // commit (part of) the parked run that starts at the readable
                                   // end
                            std::size_t run_len = 0;
                            while (run_len < free && at(wr + run_len) >= 0) ++run_len;
                            const std::size_t n = rnd(0, 2) == 0 ? run_len : rnd(0, run_len);
                            rb.commit(n);
                            if (n > 0)
                                want_alloc = expected_growth(want_alloc, size + n, cap);
                            wr += n;
                            break;
                        }
                        case 5:
                        case 6: {  // read
                            std::vector<std::byte> out(op_size());
                            const std::size_t n = rb.read(out);
                            REQUIRE(n == std::min(out.size(), size));
                            check_readable(0, std::span(out).first(n));
                            for (std::size_t i = 0; i < n; ++i) at(rd + i) = -1;
                            rd += n;
                            break;
                        }
                        case 7: {  // consume
                            const std::size_t n = rnd(0, size);
                            rb.consume(n);
                            for (std::size_t i = 0; i < n; ++i) at(rd + i) = -1;
                            rd += n;
                            break;
                        }
                        case 8: {  // peek and peek_spans at an offset
                            const std::size_t off = rnd(0, size);
                            std::vector<std::byte> out(op_size());
                            const std::size_t n = rb.peek(off, out);
                            REQUIRE(n == (off >= size ? 0 : std::min(out.size(), size - off)));
                            check_readable(off, std::span(out).first(n));
                            const std::size_t len = rnd(0, size - off + 2);
                            const auto spans = rb.peek_spans(off, len);
                            const std::size_t want_len =
                                off >= size ? 0 : std::min(len, size - off);
                            REQUIRE(spans[0].size() + spans[1].size() == want_len);
                            check_readable(off, spans[0]);
                            check_readable(off + spans[0].size(), spans[1]);
                            break;
                        }
                        case 9: {  // rarely: clear or release (everything, parked bytes too, is
                                   // gone)
                            const std::size_t r = rnd(0, 40);
                            if (r == 0) {
                                rb.release();
                                want_alloc = 0;
                            } else if (r == 1) {
                                rb.clear();
                            } else {
                                break;
                            }
                            std::fill(slot.begin(), slot.end(), std::int16_t{-1});
                            rd = wr = 0;
                            break;
                        }
                        default:
                            break;
                    }
                    REQUIRE(rb.allocated_bytes() == want_alloc);
                    REQUIRE(plausible_storage(rb.allocated_bytes(), cap));
                    REQUIRE(rb.allocated() == (want_alloc != 0));
                }
                // Drain what is left and check it all.
                std::vector<std::byte> rest(wr - rd);
                REQUIRE(rb.read(rest) == rest.size());
                check_readable(0, rest);
            }
        }
    }
}  // TEST_SUITE
