// A replacement operator new / delete that keeps a few freed blocks of one size resident, for
// fuzz targets that construct a Stack per input (fuzz_engine, fuzz_wsp). Include in exactly one
// translation unit of the target.
//
// Why: Stack's constructor allocates its port table (65536 x uint32_t = 256 KiB). ASan serves
// blocks that large with a fresh mmap and unmaps them on free, so every input paid 64 page
// faults to zero it -- over half of each input's time. A cached block stays mapped.
//
// What is not lost: a cached block is ASan-poisoned while it waits, so a use after free of it
// is still reported (as use-after-poison). Only blocks of exactly kBlockSize are cached.
#pragma once

#include <sanitizer/asan_interface.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>

namespace ustack::fuzz::block_cache {

inline constexpr std::size_t kBlockSize = 65536 * sizeof(std::uint32_t);
inline constexpr std::size_t kKeep = 4;

struct Cache {
    std::mutex m;
    std::array<void*, kKeep> free{};  // poisoned, ready for reuse
    std::size_t nfree = 0;
    std::array<void*, 16> live{};  // handed out (at most 16 tracked; others are freed)
};
inline Cache& cache() {
    static Cache* c = new (std::malloc(sizeof(Cache))) Cache();  // never destroyed
    return *c;
}

}  // namespace ustack::fuzz::block_cache

void* operator new(std::size_t n) {
    namespace bc = ustack::fuzz::block_cache;
    if (n != bc::kBlockSize) {
        if (void* p = std::malloc(n == 0 ? 1 : n))
            return p;
        throw std::bad_alloc();
    }
    bc::Cache& c = bc::cache();
    std::lock_guard lock(c.m);
    void* p = nullptr;
    if (c.nfree > 0) {
        p = c.free[--c.nfree];
        ASAN_UNPOISON_MEMORY_REGION(p, bc::kBlockSize);
    } else {
        p = std::malloc(n);
        if (p == nullptr)
            throw std::bad_alloc();
    }
    for (void*& slot : c.live) {
        if (slot == nullptr) {
            slot = p;
            break;
        }
    }
    return p;
}

void operator delete(void* p) noexcept {
    namespace bc = ustack::fuzz::block_cache;
    if (p == nullptr)
        return;
    bc::Cache& c = bc::cache();
    {
        std::lock_guard lock(c.m);
        for (void*& slot : c.live) {
            if (slot != p)
                continue;
            slot = nullptr;
            if (c.nfree < bc::kKeep) {
                ASAN_POISON_MEMORY_REGION(p, bc::kBlockSize);
                c.free[c.nfree++] = p;
                return;
            }
            break;
        }
    }
    std::free(p);
}

void operator delete(void* p, std::size_t) noexcept {
    operator delete(p);
}

// The nothrow forms must match the replaced ones (ASan checks new/free pairing).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return operator new(n);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    operator delete(p);
}

// Arrays too: a connection's default 256 KiB send buffer (RingBuffer, new[]) is the same size
// and was the next-largest page-fault cost of fuzz_wsp. (Array and scalar forms share the cache;
// both end in malloc/free, so ASan's new-vs-delete[] mismatch check is off for these targets.)
void* operator new[](std::size_t n) {
    return operator new(n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
    return operator new(n, t);
}
void operator delete[](void* p) noexcept {
    operator delete(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    operator delete(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    operator delete(p);
}
