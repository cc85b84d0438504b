// HostCore: one host's Stack behind the WSP API -- the seam between application threads, the
// engine thread, and the host runtime (tun/).
//
//   application threads ──WSP calls──▶ HostCore (sockets, events, blocking waits)
//                                         │  one process-wide mutex guards every HostCore
//   engine thread (tun/ HostDriver) ──on_packets / service──▶ Stack ─▶ codec ─▶ PacketSink
//
// HostCore has no clock and no I/O of its own: the driver (tun/host.hpp: Asio io_context + a
// Device) gives it packets and the time, sends what it produces, and arms one timer at the
// deadline service() returns. Application calls change engine state under the lock, transmit
// from their own thread when the driver allows it, and ask the driver to wake() and run
// service() only when something is left for it (events, an earlier deadline). Blocking calls
// sleep until service() (or a close) wakes them -- no polling -- and every time-out of a call
// (linger, select, event waits, cleanup) is a deadline on the driver's clock that service()
// expires like an engine timer (stack/src/api/blocking.hpp).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

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
    // Called by application threads under api_mutex(): a sink that collects packets the calling
    // thread will send itself, or nullptr when packets must wait for the engine thread (the
    // default). Nothing is written under the lock: see claim_order().
    [[nodiscard]] virtual PacketSink* direct_sink() { return nullptr; }
    // Under api_mutex(), by the thread about to release it (an application thread at the end
    // of its call or before it blocks; the engine thread at the end of service()): the packets
    // it collected take their place in the device's transmit order -- the order of these calls,
    // which is the order the engine produced the packets in. Returns true if an application
    // thread must now call write_claimed() (after releasing the lock; it must, before it takes
    // the lock again).
    [[nodiscard]] virtual bool claim_order() { return false; }
    virtual void write_claimed() {}
    // Stop the engine thread and release the device; called once, by WSPCleanup, without the lock.
    virtual void stop() = 0;
};

struct HostOptions {
    StackConfig stack;
    SipKey secret{};  // ISN / port-selection key; WSPStartup draws it at random
    // How long WSPCleanup waits for orphaned graceful closes (FINs and disconnect data still
    // owed) before it stops the host anyway.
    Duration cleanup_timeout{10'000'000};
    // The largest message of a message-oriented socket (SO_MAX_MSG_SIZE, DESIGN.md §3b: at
    // least 64 KiB).
    std::uint32_t max_message = 65536;
    // When the device fails (HostCore::link_changed): false -- the network is down for good,
    // every connection ends with WSAENETDOWN; true (WSPHOSTCONFIG::reattach) -- the device may
    // come back, connections keep their state and timers meanwhile.
    bool device_may_return = false;
};

class HostCore;
using DriverFactory = std::function<std::unique_ptr<HostDriver>(HostCore&)>;

// The process-wide lock and wake-up shared by every host, socket and event object. One lock
// keeps WSPSelect / WSAWaitForMultipleEvents across hosts simple; every critical section is
// short. (Defined in stack/src/api/blocking.cpp.)
std::mutex& api_mutex();
std::condition_variable& api_cv();

class Host;  // stack/src/api/host.hpp

class HostCore {
public:
    // `handle`: the WSPHOST this core belongs to (create_host), or nullptr for a core driven
    // without the WSP registry (tests of the host runtime).
    explicit HostCore(const HostOptions& opts, ustack_host* handle = nullptr);
    ~HostCore();
    HostCore(const HostCore&) = delete;
    HostCore& operator=(const HostCore&) = delete;

    // ---- engine thread (the driver calls these; they take the lock themselves) -------------
    // Decode and process received IPv4 packets (malformed ones are counted and dropped).
    void on_packets(std::span<const RxPacket> packets, Instant now);
    // Run expired timers, transmit everything ready into `out` (PacketSink: codec.hpp; runs of
    // segments merged into super-packets when out.offload() allows, see segment_encoder.hpp),
    // deliver events to sockets and wake blocked callers (after releasing the lock). Returns
    // what the driver's one timer should be set to: the next deadline, or the time the timer
    // is already set to if that is still ahead and not later -- deadlines that only move later
    // (the retransmission timer on every ACK) then cost no re-arming; the timer fires early,
    // service() finds nothing due and moves it. Application calls wake the engine thread only
    // when they make a deadline earlier than this (or leave events for it).
    [[nodiscard]] std::optional<Instant> service(Instant now, PacketSink& out);
    // on_packets(packets) and then service(), under one hold of the lock: the engine thread's
    // pass after a read from the device (one lock round trip instead of two -- with many
    // application threads the lock is contended, and each contended round costs futex calls).
    [[nodiscard]] std::optional<Instant> service(std::span<const RxPacket> packets, Instant now,
                                                 PacketSink& out);

    // The device failed (up false) or works again (up true; Device's LinkHandler). Down: new
    // connects fail with WSAENETDOWN until it is back; without HostOptions::device_may_return
    // the network is down for good: every connection ends now (FD_CLOSE, blocked and later calls:
    // WSAENETDOWN; Stack::network_down), and so do blocked and later WSPAccept and WSPListen
    // calls. Run service() after it (events to deliver). Takes the lock.
    void link_changed(bool up, Instant now);

    // The state log's lines written since the last call (HostOptions::stack's
    // record_state_changes; stack/src/api/state_log.hpp), appended to `out`. Takes the lock.
    // The driver calls it after each pass and when it stops, and writes the lines.
    void take_state_log(std::vector<std::string>& out);

    // ---- read-only views (take the lock) ---------------------------------------------------
    [[nodiscard]] StackStats stack_stats() const;
    [[nodiscard]] CodecStats codec_stats() const;
    [[nodiscard]] EncoderStats encoder_stats() const;
    [[nodiscard]] const HostOptions& options() const { return opts_; }

    // ---- used by the WSP implementation (stack/src/api), under api_mutex() -----------------
    Host& host() { return *host_; }

private:
    HostOptions opts_;
    std::unique_ptr<Host> host_;
};

// Create a host: HostCore plus the driver `factory` makes for it. Returns nullptr and sets
// *error (a WSAE* code) on failure. This is WSPStartup's implementation; tun/ supplies drivers.
ustack_host* create_host(const HostOptions& opts, const DriverFactory& factory, int* error);

// Stop a host at once, without WSPCleanup's wait for orphaned graceful closes: its sockets are
// closed as by WSPCloseSocket, nothing more is transmitted, the driver is stopped and the host
// freed. For harnesses that drive a host on virtual time from the calling thread and so cannot
// run the engine while a call waits (tests, fuzzing). Returns 0, or WSANOTINITIALISED for a
// host that is not running.
int destroy_host(ustack_host* host);

}  // namespace ustack
