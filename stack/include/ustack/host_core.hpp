// HostCore: one host's Stack behind the WSP API -- the seam between application threads, the
// engine thread, and the host runtime (tun/).
//
//   application threads ──WSP calls──▶ HostCore (sockets, events, blocking waits)
//                                         │  one process-wide mutex guards every HostCore
//   engine thread (tun/ HostDriver) ──on_packets / service──▶ Stack ─▶ codec ─▶ PacketSink
//
// HostCore has no clock and no I/O of its own: the driver (tun/host.hpp: Asio io_context + a
// Device) gives it packets and the time, sends what it produces, and arms one timer at
// next_deadline(). Application calls change engine state under the lock, then ask the driver to
// wake() and run service() soon, which transmits and re-arms. Blocking calls wait on a
// condition variable that service() notifies -- no polling. Timeouts of blocking calls (linger)
// are deadlines in host time, handled by service() like engine timers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "ustack/codec.hpp"
#include "ustack/segment_encoder.hpp"
#include "ustack/stack.hpp"
#include "ustack/time.hpp"

struct ustack_host;  // WSPHOST (wsp.h)

namespace ustack {

// The host runtime as HostCore sees it (implemented in tun/).
class HostDriver {
public:
    virtual ~HostDriver() = default;
    // The current time (monotonic).
    [[nodiscard]] virtual Instant now() const = 0;
    // Thread-safe, non-blocking: run HostCore::service() on the engine thread soon.
    virtual void wake() = 0;
    // Called by application threads under api_mutex(): a sink that sends to the device right
    // now from the calling thread, or nullptr when packets must wait for the engine thread (the
    // default; also while the engine thread still holds packets it has not written, so packets
    // never leave out of order).
    [[nodiscard]] virtual PacketSink* direct_sink() { return nullptr; }
    // Stop the engine thread and release the device; called once, by WSPCleanup, without the lock.
    virtual void stop() = 0;
};

struct HostOptions {
    StackConfig stack;
    SipKey secret{};  // ISN / port-selection key; WSPStartup draws it at random
    // How long WSPCleanup waits for orphaned graceful closes (FINs and disconnect data still
    // owed) before it stops the host anyway.
    Duration cleanup_timeout{10'000'000};
};

class HostCore;
using DriverFactory = std::function<std::unique_ptr<HostDriver>(HostCore&)>;

// The process-wide lock and wake-up shared by every host, socket and event object. One lock
// keeps WSPSelect / WSAWaitForMultipleEvents across hosts simple; every critical section is short.
std::mutex& api_mutex();
std::condition_variable& api_cv();

class HostCore {
public:
    explicit HostCore(const HostOptions& opts);
    ~HostCore();
    HostCore(const HostCore&) = delete;
    HostCore& operator=(const HostCore&) = delete;

    // ---- engine thread (the driver calls these; they take the lock themselves) -------------
    // Decode and process received IPv4 packets (malformed ones are counted and dropped).
    void on_packets(std::span<const RxPacket> packets, Instant now);
    // Run expired timers, transmit everything ready into `out` (PacketSink: codec.hpp; runs of
    // segments merged into super-packets when out.offload() allows, see segment_encoder.hpp),
    // deliver events to sockets and wake blocked callers.
    void service(Instant now, PacketSink& out);
    // The next time service() must run (engine timers and linger deadlines), or nullopt.
    [[nodiscard]] std::optional<Instant> next_deadline() const;

    // ---- read-only views (take the lock) ---------------------------------------------------
    [[nodiscard]] StackStats stack_stats() const;
    [[nodiscard]] CodecStats codec_stats() const;
    [[nodiscard]] EncoderStats encoder_stats() const;
    [[nodiscard]] const HostOptions& options() const { return opts_; }

    // ---- used by the WSP implementation (stack/src/api), under api_mutex() -----------------
    struct Impl;
    Impl& impl() { return *impl_; }

private:
    HostOptions opts_;
    std::unique_ptr<Impl> impl_;
};

// Create a host: HostCore plus the driver `factory` makes for it. Returns nullptr and sets
// *error (a WSAE* code) on failure. This is WSPStartup's implementation; tun/ supplies drivers.
ustack_host* create_host(const HostOptions& opts, const DriverFactory& factory, int* error);

}  // namespace ustack
