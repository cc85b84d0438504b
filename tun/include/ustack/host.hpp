// AsioHost: the host runtime -- one engine thread running a Boost.Asio io_context, a Device, the
// clock, and one timer -- driving a HostCore (host_core.hpp). DESIGN.md §1 "One process is one
// host"; the pattern is Asio's cpp11/nonblocking/third_party_lib.cpp: the engine says what it
// wants (packets to send, a deadline), Asio waits and calls it back.
//
//   device rx batch ─▶ core.on_packets(batch, now) ─▶ core.service(now, sink) ─▶ re-arm timer
//   timer at what service() returned              ─▶ core.service(now, sink) ─▶ re-arm timer
//   wake() from any thread (coalesced post)         ─▶ core.service(now, sink) ─▶ re-arm timer
//
// service() runs under HostCore's lock; the sink only copies the packets into a reused buffer,
// and they are written to the device (and the pcap file) after the lock is released. So are the
// packets application threads send themselves (direct_sink: one buffer per thread). Whoever
// writes holds the host's transmit-order lock, taken before HostCore's lock is released, so the
// device sees every packet in the order the engine produced it.
//
// Time: Instant 0 is the moment the AsioHost was constructed; now() is std::chrono::steady_clock
// since then, in microseconds (monotonic, as the engine requires).
//
// This header includes no Asio or socket header (see device.hpp).
#pragma once

#include <cstdint>
#include <memory>

#include "ustack/device.hpp"
#include "ustack/host_core.hpp"
#include "ustack/pcap_writer.hpp"
#include "ustack/state_log_writer.hpp"

namespace ustack {

struct AsioHostStats {
    std::uint64_t wakeups = 0;      // wake() calls that posted a service (others coalesced)
    std::uint64_t services = 0;     // HostCore::service() calls
    std::uint64_t timer_fires = 0;  // services run by the deadline timer
    std::uint64_t rx_batches = 0;   // on_rx batches from the device
    std::uint64_t rx_packets = 0;
    std::uint64_t tx_packets = 0;  // packets handed to the device (engine and application threads)
    std::uint64_t direct_tx_packets = 0;  // of which application threads sent (direct_sink)
};

class AsioHost final : public HostDriver {
public:
    // `core` must outlive this object; `pcap` may be null (no capture), so may `state_log` (no
    // state log; else its header is written here, and after every pass the core's new lines).
    AsioHost(HostCore& core, std::unique_ptr<Device> device,
             std::unique_ptr<PcapWriter> pcap = nullptr,
             std::unique_ptr<StateLogWriter> state_log = nullptr);
    // Stops (see stop()).
    ~AsioHost() override;
    AsioHost(const AsioHost&) = delete;
    AsioHost& operator=(const AsioHost&) = delete;

    // Start the engine thread: it starts the device, runs a first service() and arms the timer.
    // Returns once that has happened; rethrows what Device::start threw (the host is then
    // stopped). Call once.
    void start();

    // ---- HostDriver ----
    [[nodiscard]] Instant now() const override;
    // Thread-safe, non-blocking; many wakes before the engine thread gets to them make one
    // service() call.
    void wake() override;
    // Application threads transmit directly (saving a hand-off to the engine thread) when the
    // device allows concurrent sends and no capture is written; see HostDriver::direct_sink.
    [[nodiscard]] PacketSink* direct_sink() override;
    [[nodiscard]] bool claim_order() override;
    void write_claimed() override;
    // Stop the io_context, join the engine thread, stop the device and close the pcap file.
    // Idempotent; call from any thread but the engine thread (there it stops without joining,
    // and the destructor joins).
    void stop() override;

    [[nodiscard]] const Device& device() const;
    [[nodiscard]] AsioHostStats stats() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace ustack
