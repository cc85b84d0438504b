// Device: IPv4 packet I/O as a host's engine thread sees it (DESIGN.md §1, §2; STYLE.md §3.5).
//
//   TunDevice   a Linux TUN interface (tun_device.hpp)
//   MemoryLink  two in-process ends joined in memory, with seeded loss (memory_link.hpp)
//
// Threading contract. A device belongs to one host. start() is called once, on that host's engine
// thread (the thread running `io`); after it, every received packet is delivered by calling
// `on_rx` on that thread, in batches: one call per wake-up with every packet ready at that
// moment (up to an implementation limit). The spans passed to `on_rx` are valid only during the
// call. `on_link` hears, on that thread too, when the device fails (false: nothing will be
// received or sent -- a TUN interface deleted under the host) and when it works again (true: a
// device that re-attaches, TunOptions::reattach); it is never called with the state it already
// reported, and a device starts up. send() is called on the engine thread too; it never blocks: a
// packet the device cannot take right now is dropped and counted (TCP recovers it). stop() is
// called once, either on the engine thread (also from inside on_rx) or after that thread has
// finished running `io`; after it no `on_rx` call starts. A started device must be stopped or
// destroyed before `io` is destroyed. stats() may be called from any thread.
//
// This header includes no Asio or socket header (io_context is only declared), so it can sit in
// one translation unit with ustack/wsp.h, whose Winsock constants clash with <sys/socket.h>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "ustack/codec.hpp"  // RxPacket, TxPacketInfo, LinkOffload

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ustack {

// The packets of one receive wake-up; each is one whole IPv4 packet (with offload, possibly a
// super-packet of up to 64 KB that the kernel coalesced) and what the link says about it.
using PacketBatch = std::span<const RxPacket>;
using RxHandler = std::function<void(PacketBatch)>;
// The device failed (false) or works again (true); see the contract above.
using LinkHandler = std::function<void(bool up)>;

// A snapshot of a device's counters.
struct DeviceStats {
    std::uint64_t rx_packets = 0;        // delivered to on_rx
    std::uint64_t rx_super_packets = 0;  // of which were coalesced by the kernel (GRO/GSO)
    std::uint64_t rx_bytes = 0;
    std::uint64_t rx_errors = 0;         // read errors other than "nothing to read"
    std::uint64_t tx_packets = 0;        // taken by send() (for a MemoryLink: including tx_lost)
    std::uint64_t tx_super_packets = 0;  // of which the link splits into segments (TSO)
    std::uint64_t tx_bytes = 0;
    std::uint64_t tx_dropped = 0;  // refused by send(): device full, down, stopped or failing
    std::uint64_t tx_lost = 0;     // taken, then dropped on purpose (MemoryLink loss)
};

class Device {
public:
    virtual ~Device() = default;
    Device() = default;
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    // Start delivering received packets to `on_rx` and link changes to `on_link` (may be empty)
    // on `io`'s thread (see the contract above). Called once, on the engine thread. May throw
    // std::system_error (nothing on the data path throws).
    virtual void start(boost::asio::io_context& io, RxHandler on_rx, LinkHandler on_link) = 0;

    // Transmit one IPv4 packet (copied or written before returning). Engine thread; never blocks,
    // never throws: a packet that cannot be taken is dropped and counted in tx_dropped. `info`
    // asks for offloads (a partial checksum, a super-packet); a device is only given what its
    // offload() allows.
    virtual void send(std::span<const std::byte> packet, const TxPacketInfo& info) = 0;
    void send(std::span<const std::byte> packet) { send(packet, TxPacketInfo{}); }

    // What the device does on transmit (default: nothing; whole packets, full checksums).
    [[nodiscard]] virtual LinkOffload offload() const { return {}; }

    // True if send() may also be called from other threads, concurrently with the engine
    // thread, between start() and stop() (the host then lets application threads transmit
    // directly). Default false: engine thread only.
    [[nodiscard]] virtual bool concurrent_send() const { return false; }

    // Stop receiving and release the device's resources (idempotent). Later send()s are dropped.
    virtual void stop() = 0;

    // A human-readable name, e.g. "tun0" or "memory-link:a".
    [[nodiscard]] virtual std::string name() const = 0;

    // The counters so far (any thread).
    [[nodiscard]] virtual DeviceStats stats() const = 0;
};

}  // namespace ustack
