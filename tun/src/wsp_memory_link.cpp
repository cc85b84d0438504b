// WSPCreateMemoryLink / WSPFreeDevice: MemoryLink (memory_link.hpp) behind the C API, so a C
// program or the Python module can join two hosts in memory.
#include <memory>
#include <new>

#include "ustack/memory_link.hpp"
#include "ustack/wsp.h"

namespace {
constexpr uint32_t kMaxDelayUs = 10'000'000;  // wsp.h: at most 10 s
}  // namespace

extern "C" int WSPCreateMemoryLink(double loss, uint64_t seed, uint32_t delay_us, void** device_a,
                                   void** device_b, LPINT lpErrno) {
    const auto fail = [&](int error) {
        if (lpErrno != nullptr)
            *lpErrno = error;
        return SOCKET_ERROR;
    };
    if (device_a == nullptr || device_b == nullptr)
        return fail(WSAEFAULT);
    *device_a = nullptr;
    *device_b = nullptr;
    if (!(loss >= 0.0 && loss <= 1.0) || delay_us > kMaxDelayUs)  // (the first rejects NaN)
        return fail(WSAEINVAL);
    try {
        auto ends = ustack::MemoryLink::make_pair(
            {.loss = loss, .seed = seed, .delay = std::chrono::microseconds(delay_us)});
        *device_a = ends.a.release();
        *device_b = ends.b.release();
        return 0;
    } catch (const std::bad_alloc&) {
        return fail(WSAENOBUFS);
    }
}

extern "C" void WSPFreeDevice(void* device) {
    std::unique_ptr<ustack::Device>(static_cast<ustack::Device*>(device)).reset();
}
