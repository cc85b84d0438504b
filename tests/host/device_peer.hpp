// DevicePeer: runs one Device on its own io_context thread and records what it receives -- the
// "other side" of a link in tests. No Asio in this header (tests that include ustack/wsp.h use
// it too).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "ustack/device.hpp"

namespace ustack::test {

struct ReceivedPacket {
    std::vector<std::byte> bytes;
    std::chrono::steady_clock::time_point at;  // when on_rx delivered it
};

class DevicePeer {
public:
    // Starts the device on a new engine thread; returns once it has started.
    // `on_link` (may be empty) hears the device's link changes, on the engine thread.
    explicit DevicePeer(std::unique_ptr<Device> device, LinkHandler on_link = {});
    ~DevicePeer();  // stop()
    DevicePeer(const DevicePeer&) = delete;
    DevicePeer& operator=(const DevicePeer&) = delete;

    // Send a copy of `packet` from the engine thread (asynchronously; in call order).
    void send(std::span<const std::byte> packet);
    // Run `f` on the engine thread (asynchronously).
    void post(std::function<void()> f);
    // Wait until the engine thread has run everything posted so far.
    void sync();
    // Wait until at least `n` packets have been received; false on timeout.
    bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));

    [[nodiscard]] std::vector<ReceivedPacket> received() const;
    [[nodiscard]] std::size_t received_count() const;
    [[nodiscard]] std::size_t batches() const;
    [[nodiscard]] DeviceStats stats() const;

    // Stop the engine thread, then the device (idempotent).
    void stop();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace ustack::test
