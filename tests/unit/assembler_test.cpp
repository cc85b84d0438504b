// Assembler: out-of-order ranges beyond RCV.NXT (RFC 9293 §3.10.7.4 "process the segment text").
#include "ustack/assembler.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

using ustack::Assembler;
using Range = ustack::Assembler::Range;
using Ranges = std::vector<Range>;

TEST_SUITE("assembler") {
    TEST_CASE("a new assembler is empty and len 0 adds nothing") {
        Assembler a;
        CHECK(a.empty());
        CHECK(a.range_count() == 0);
        CHECK(a.bytes() == 0);
        CHECK(a.add(5, 0));
        CHECK(a.empty());
        CHECK(a.advance(0) == 0);
        CHECK(a.advance(10) == 0);
    }

    TEST_CASE("out-of-order ranges are kept sorted") {
        Assembler a;
        CHECK(a.add(30, 5));
        CHECK(a.add(10, 5));
        CHECK(a.add(20, 5));
        CHECK(a.ranges() == Ranges{{10, 5}, {20, 5}, {30, 5}});
        CHECK(a.bytes() == 15);
    }

    TEST_CASE("overlapping ranges merge") {
        Assembler a;
        CHECK(a.add(10, 10));  // [10, 20)
        CHECK(a.add(15, 10));  // [15, 25) overlaps the tail
        CHECK(a.ranges() == Ranges{{10, 15}});
        CHECK(a.add(5, 7));  // [5, 12) overlaps the head
        CHECK(a.ranges() == Ranges{{5, 20}});
        CHECK(a.add(8, 3));  // inside: no change
        CHECK(a.ranges() == Ranges{{5, 20}});
        CHECK(a.add(1, 40));  // covers everything
        CHECK(a.ranges() == Ranges{{1, 40}});
    }

    TEST_CASE("adjacent ranges merge") {
        Assembler a;
        CHECK(a.add(10, 5));  // [10, 15)
        CHECK(a.add(15, 5));  // [15, 20) touches the end
        CHECK(a.add(5, 5));   // [5, 10) touches the start
        CHECK(a.ranges() == Ranges{{5, 15}});
        CHECK(a.add(30, 5));   // [30, 35)
        CHECK(a.add(20, 10));  // [20, 30) bridges both
        CHECK(a.ranges() == Ranges{{5, 30}});
    }

    TEST_CASE("one add can swallow several ranges") {
        Assembler a;
        CHECK(a.add(10, 2));
        CHECK(a.add(20, 2));
        CHECK(a.add(30, 2));
        CHECK(a.add(40, 2));
        CHECK(a.add(11, 20));  // [11, 31) joins [10,12), [20,22), [30,32)
        CHECK(a.ranges() == Ranges{{10, 22}, {40, 2}});
    }

    TEST_CASE("the max_ranges bound refuses an add and leaves the state unchanged") {
        Assembler a(3);
        CHECK(a.add(10, 2));
        CHECK(a.add(20, 2));
        CHECK(a.add(30, 2));
        const Ranges before = a.ranges();

        CHECK_FALSE(a.add(40, 2));  // a fourth disjoint range
        CHECK_FALSE(a.add(1, 2));
        CHECK_FALSE(a.add(25, 1));
        CHECK(a.ranges() == before);

        // Anything that merges, or is already covered, still fits.
        CHECK(a.add(20, 3));  // extends [20, 22)
        CHECK(a.add(32, 4));  // adjacent to [30, 32)
        CHECK(a.add(10, 1));  // already present
        CHECK(a.ranges() == Ranges{{10, 2}, {20, 3}, {30, 6}});
        CHECK(a.add(12, 8));  // bridges two: the count drops, making room
        CHECK(a.ranges() == Ranges{{10, 13}, {30, 6}});
        CHECK(a.add(50, 1));
        CHECK(a.range_count() == 3);
    }

    TEST_CASE("max_ranges 0 accepts nothing") {
        Assembler a(0);
        CHECK_FALSE(a.add(1, 1));
        CHECK(a.empty());
        CHECK(a.add(1, 0));  // empty adds are still no-ops
    }

    TEST_CASE("advance shifts offsets and reports nothing while a gap remains") {
        Assembler a;
        CHECK(a.add(10, 5));
        CHECK(a.add(20, 5));
        CHECK(a.advance(4) == 0);  // in-order bytes 0..3 arrived; gap [4, 10) remains
        CHECK(a.ranges() == Ranges{{6, 5}, {16, 5}});
    }

    TEST_CASE("advance that reaches a range returns its length and removes it") {
        Assembler a;
        CHECK(a.add(10, 5));  // [10, 15)
        CHECK(a.add(20, 5));  // [20, 25)
        // In-order data [0, 10) fills the gap: [10, 15) becomes contiguous too.
        CHECK(a.advance(10) == 5);
        // The contiguous point has moved by 10 + 5: the next range is at 20 - 15 = 5.
        CHECK(a.ranges() == Ranges{{5, 5}});
        CHECK(a.advance(5) == 5);
        CHECK(a.empty());
    }

    TEST_CASE("advance over part of a range clips it and returns the rest") {
        Assembler a;
        CHECK(a.add(10, 10));       // [10, 20)
        CHECK(a.add(30, 5));        // [30, 35)
        CHECK(a.advance(14) == 6);  // segment [0, 14) overlaps the range's start: 14..19 left
        CHECK(a.ranges() == Ranges{{10, 5}});  // 30 - 20
    }

    TEST_CASE("advance past whole ranges drops them") {
        Assembler a;
        CHECK(a.add(2, 3));         // [2, 5)
        CHECK(a.add(8, 2));         // [8, 10)
        CHECK(a.add(20, 2));        // [20, 22)
        CHECK(a.advance(10) == 0);  // a large in-order segment covered the first two
        CHECK(a.ranges() == Ranges{{10, 2}});
        CHECK(a.advance(12) == 0);  // and then everything
        CHECK(a.empty());
    }

    TEST_CASE("offset 0 ranges are kept and advance(0) returns them") {
        Assembler a;
        CHECK(a.add(0, 4));
        CHECK(a.ranges() == Ranges{{0, 4}});
        CHECK(a.advance(0) == 4);
        CHECK(a.empty());

        // add(0, n) then advance(0) equals advance(n) (documented equivalence).
        Assembler b;
        Assembler c;
        for (Assembler* x : {&b, &c}) {
            CHECK(x->add(6, 4));
            CHECK(x->add(15, 1));
        }
        CHECK(b.add(0, 6));         // merges with the adjacent [6, 10)
        CHECK(b.advance(0) == 10);  // 6 + 4
        CHECK(c.advance(6) == 4);   // moved 6 + 4
        CHECK(b.ranges() == c.ranges());
        CHECK(b.ranges() == Ranges{{5, 1}});
    }

    TEST_CASE("clear forgets all ranges") {
        Assembler a;
        CHECK(a.add(3, 3));
        a.clear();
        CHECK(a.empty());
        CHECK(a.advance(3) == 0);
    }

    TEST_CASE("randomized adds and advances match a std::vector<bool> model") {
        // model[i]: byte i past the contiguous point is held. Offsets stay below kSpan.
        constexpr std::size_t kSpan = 200;
        for (const std::uint32_t seed : {7U, 8U, 9U, 1234U, 99991U}) {
            CAPTURE(seed);
            std::mt19937 rng(seed);
            auto rnd = [&](std::size_t lo, std::size_t hi) {
                return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
            };
            const std::size_t max_ranges = rnd(1, 8);
            Assembler a(max_ranges);
            std::vector<bool> model(kSpan, false);

            // The ranges implied by the model: maximal runs of true.
            auto model_ranges = [&] {
                Ranges out;
                for (std::size_t i = 0; i < kSpan;) {
                    if (!model[i]) {
                        ++i;
                        continue;
                    }
                    std::size_t j = i;
                    while (j < kSpan && model[j]) {
                        ++j;
                    }
                    out.push_back(Range{i, j - i});
                    i = j;
                }
                return out;
            };

            for (int op = 0; op < 4000; ++op) {
                if (rnd(0, 3) != 0) {
                    // add: offset >= 1 mostly, sometimes 0
                    const std::size_t off = rnd(0, 20) == 0 ? 0 : rnd(1, kSpan / 2);
                    const std::size_t len = rnd(0, 12);
                    std::vector<bool> next = model;
                    for (std::size_t i = off; i < off + len; ++i) {
                        next[i] = true;
                    }
                    std::vector<bool> saved = model;
                    model = next;
                    const bool fits = model_ranges().size() <= max_ranges;
                    if (!fits) {
                        model = saved;
                    }
                    const Ranges before = a.ranges();
                    REQUIRE(a.add(off, len) == fits);
                    if (!fits) {
                        REQUIRE(a.ranges() == before);
                    }
                } else {
                    // advance by n: drop the first n, then the now-contiguous run
                    const std::size_t n = rnd(0, 15);
                    model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
                    model.resize(kSpan, false);
                    std::size_t k = 0;
                    while (k < kSpan && model[k]) {
                        ++k;
                    }
                    model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(k));
                    model.resize(kSpan, false);
                    REQUIRE(a.advance(n) == k);
                }
                const Ranges want = model_ranges();
                REQUIRE(a.ranges() == want);
                REQUIRE(a.range_count() <= max_ranges);
                std::size_t total = 0;
                for (const Range& r : want) {
                    total += r.len;
                }
                REQUIRE(a.bytes() == total);
            }
        }
    }
}
