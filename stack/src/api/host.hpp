// Host: what one ustack host is to the WSP layer -- its Stack and codec, its socket table, the
// deadlines of calls blocked on it, and the engine pass its driver runs (HostCore::service).
//
//   application threads --WSP calls--> facade (wsp.cpp) --> socket ops (socket.cpp) --+
//                                                                                     v
//   engine thread --HostCore::service(packets, now)--> Host::service --> Stack, SocketTable
//
// Time is the driver's (HostDriver::now, host_core.hpp): engine timers, linger and every other
// call time-out are Instants on it (blocking.hpp), and the pass at a deadline expires them all.
// Under the API lock, except where a member says otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "blocking.hpp"
#include "socket_table.hpp"
#include "ustack/codec.hpp"
#include "ustack/host_core.hpp"
#include "ustack/segment_encoder.hpp"
#include "ustack/stack.hpp"

// WSPHOST (wsp.h).
struct ustack_host {
    std::unique_ptr<ustack::HostCore> core;
    std::unique_ptr<ustack::HostDriver> driver;
};

namespace ustack {

class Host final : public WaitHost {
public:
    // `handle`: the WSPHOST this host is (nullptr for a core driven without the registry).
    Host(ustack_host* handle, const HostOptions& opts);
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    // ---- what the calls use ----------------------------------------------------------------
    [[nodiscard]] Stack& stack() { return stack_; }
    [[nodiscard]] const Stack& stack() const { return stack_; }
    [[nodiscard]] SocketTable& sockets() { return sockets_; }
    [[nodiscard]] const SocketTable& sockets() const { return sockets_; }
    [[nodiscard]] const HostOptions& options() const { return opts_; }
    [[nodiscard]] ustack_host* handle() const { return handle_; }
    [[nodiscard]] std::uint32_t key() const { return key_; }
    void set_key(std::uint32_t k) { key_ = k; }
    [[nodiscard]] Instant now() const override {
        return driver_ != nullptr ? driver_->now() : Instant{};
    }
    void attach(HostDriver* d) { driver_ = d; }

    // After a call changed engine state: transmit what is ready from the calling thread when
    // the driver allows it (saves the hand-off to the engine thread on the latency path), then
    // have the engine thread run a pass only if it has work the call left for it: stack events
    // to deliver, or a deadline earlier than the driver's timer. A send or receive on an
    // established connection usually leaves neither, so the common call costs no wake-up of
    // the engine thread (a cross-thread post and an epoll interruption).
    void after_call();
    // Have the engine thread run a pass soon, whatever the call changed.
    void wake_engine() {
        if (driver_ != nullptr) {
            driver_->wake();
        }
    }
    // A blocked call's deadline was added: the engine runs a pass, which sets the driver's
    // timer to it if it is the earliest. (Always a pass, not only when the timer is late: a
    // blocking call costs a wake-up anyway, and a driver on virtual time learns from it that a
    // call now waits on its clock.)
    void arm_deadlines() override { wake_engine(); }
    // Waiters woken by every engine pass (a lingering close waits for "everything acked",
    // which no engine event announces). Under the lock.
    void watch(Waiter* w) { watched_.push_back(w); }
    void unwatch(Waiter* w);

    // Counters of the calls (WSPFormatHostStats).
    // A peer broke a message socket's framing (DESIGN.md §3b): a message over the bound, or its
    // FIN inside a message; we reset the connection.
    enum class FramingError : std::uint8_t { too_long, fin_inside_message };
    void count_framing_error(FramingError e) {
        ++(e == FramingError::too_long ? framing_too_long_ : framing_fin_inside_);
    }
    [[nodiscard]] std::uint64_t framing_too_long() const { return framing_too_long_; }
    [[nodiscard]] std::uint64_t framing_fin_inside() const { return framing_fin_inside_; }
    void count_disconnect_sent() { ++disc_sent_; }
    void count_disconnect_received() { ++disc_received_; }
    [[nodiscard]] std::uint64_t disconnect_sent() const { return disc_sent_; }
    [[nodiscard]] std::uint64_t disconnect_received() const { return disc_received_; }
    // WSPAccept's condition function answered CF_REJECT / CF_DEFER (DESIGN.md §3c).
    void count_accept_rejected() { ++accept_rejected_; }
    void count_accept_deferred() { ++accept_deferred_; }
    [[nodiscard]] std::uint64_t accept_rejected() const { return accept_rejected_; }
    [[nodiscard]] std::uint64_t accept_deferred() const { return accept_deferred_; }
    [[nodiscard]] const Codec& codec() const { return codec_; }
    [[nodiscard]] const EncoderStats& encoder_stats() const { return encoder_; }
    // Engine passes run so far (WSPCleanup waits for one after its closes).
    [[nodiscard]] std::uint64_t passes() const { return passes_; }

    // ---- the state log (state_log.hpp) ------------------------------------------------------
    [[nodiscard]] bool state_log_on() const { return opts_.stack.record_state_changes; }
    // Queue one line (kMaxPendingStateLines at most: beyond, it is dropped and counted).
    void add_state_line(std::string line);
    // The queued lines, moved to the end of `out` (the Stack's latest changes first turned
    // into lines).
    void take_state_lines(std::vector<std::string>& out);
    [[nodiscard]] std::uint64_t state_lines_dropped() const { return state_lines_dropped_; }

    // ---- the device (HostCore::link_changed) ------------------------------------------------
    // Can a new connection be opened (the device works)?
    [[nodiscard]] bool link_up() const { return link_up_; }
    // Is the network down for good (the device failed, and may not return)?
    [[nodiscard]] bool network_failed() const { return network_failed_; }
    [[nodiscard]] std::uint64_t link_losses() const { return link_losses_; }
    [[nodiscard]] std::uint64_t link_returns() const { return link_returns_; }

    // ---- the engine thread (HostCore, without the lock: these take it) ---------------------
    void link_changed(bool up, Instant now);
    [[nodiscard]] std::optional<Instant> service(std::span<const RxPacket> packets, Instant now,
                                                 PacketSink& out);
    void decode(std::span<const RxPacket> packets, Instant now);

private:
    // poll_transmit into `out` through a SegmentEncoder. Returns the packets handed to `out`.
    std::uint64_t transmit(PacketSink& out, Instant now);
    // The earliest deadline a pass must run at: engine timers and blocked calls' time-outs.
    [[nodiscard]] std::optional<Instant> deadline() const;
    // Would the driver's timer fire after deadline()?
    [[nodiscard]] bool timer_late() const;
    // What the driver's timer should be set to now (service's result).
    std::optional<Instant> arm_timer(Instant now);

    ustack_host* handle_;
    HostOptions opts_;
    Stack stack_;
    Codec codec_;
    HostDriver* driver_ = nullptr;
    SocketTable sockets_;
    std::vector<Waiter*> watched_;
    std::uint32_t key_ = 0;  // in the process's host table (socket_table.hpp)
    // What the driver's timer is set to (under the lock, so an application call that moves a
    // deadline earlier sees the engine thread's latest choice).
    std::optional<Instant> timer_at_;
    std::vector<std::byte> packet_;  // encode buffer, reused
    EncoderStats encoder_;           // summed over every pass
    std::uint64_t passes_ = 0;
    std::uint64_t disc_sent_ = 0;        // WSPSendDisconnect calls that queued data on a FIN
    std::uint64_t disc_received_ = 0;    // WSPRecvDisconnect calls that returned data
    std::uint64_t accept_rejected_ = 0;  // CF_REJECT
    std::uint64_t accept_deferred_ = 0;  // CF_DEFER
    std::uint64_t framing_too_long_ = 0;
    std::uint64_t framing_fin_inside_ = 0;
    bool link_up_ = true;
    bool network_failed_ = false;
    std::uint64_t link_losses_ = 0;         // the device failed
    std::uint64_t link_returns_ = 0;        // it worked again (re-attached)
    std::vector<std::string> state_lines_;  // the state log's lines not yet taken
    std::uint64_t state_lines_dropped_ = 0;
};

// WSPCleanup's work (host.cpp): close every socket, wait (bounded) for orphaned graceful closes
// and blocked calls, stop the driver, free the host. Takes and releases the lock itself.
int cleanup_host(ustack_host* host, bool wait_for_orphans);

}  // namespace ustack
