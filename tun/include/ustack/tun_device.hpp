// TunDevice: a Linux TUN interface (IFF_TUN | IFF_NO_PI: each read or write is one bare IPv4
// packet, with IFF_VNET_HDR preceded by a virtio-net header) driven by Boost.Asio on the host's
// engine thread.
//
// open() attaches to the named interface, a persistent one made with `ip tuntap add dev NAME mode
// tun` (scripts/netns-up.sh makes them); only with TunOptions::create does it create one that
// does not exist (it then disappears when the device is closed), so a mistyped name is an error,
// not a new unconfigured interface. Bringing the interface up and addressing it is the scripts'
// job.
//
// Failure: when the interface is deleted under the host (read() fails: EBADFD), the device says
// so once on stderr and through on_link(false), and receives nothing more; writes are dropped
// and counted. With TunOptions::reattach it then looks for an interface of the same name every
// kReattachPollMs and, once one exists, attaches to it again (same descriptor number, so
// concurrent senders never see a closed or reused one) and reports on_link(true). A device that
// is only set down (`ip link set down`) has not failed: writes fail with EIO and are dropped,
// and TCP retransmits once it is up.
//
// Receive: on readiness, read() until EAGAIN, up to `batch` packets per wake-up into reused
// buffers, and hand them to on_rx as one batch (a full batch continues after other handlers have
// had a turn). Send: one non-blocking write() per packet; when the kernel queue is full (EAGAIN)
// or the interface is down (EIO), the packet is dropped and counted.
//
// Offload (TunOptions::offload, on by default): the device is opened with IFF_VNET_HDR and
// TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4), as a virtio-net NIC, so one read or write moves up to
// 64 KB (Documentation/networking/tuntap.rst; include/uapi/linux/virtio_net.h):
//   receive  the kernel may hand over TCP super-packets (GRO or a local sender's GSO) with the
//            checksum verified (DATA_VALID) or partial (NEEDS_CSUM): RxPacket::checksum_checked;
//   send     offload() offers partial checksums and super-packets of up to 64 KB
//            (TxPacketInfo::gso_size) that the kernel cuts into wire segments (TSO).
// If the kernel refuses TUNSETOFFLOAD the device still works, without offloads.
//
// This header includes no Asio or socket header (see device.hpp).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "ustack/device.hpp"

namespace ustack {

struct TunOptions {
    std::size_t batch = 64;          // most packets handed to on_rx per wake-up
    std::size_t max_packet = 65535;  // receive buffer per packet (an IPv4 packet's maximum)
    bool offload = true;             // virtio-net header + checksum and segmentation offload
    bool create = false;             // create the interface if it does not exist (else: ENODEV)
    bool reattach = false;  // after a failure, attach again to an interface of the same name
};

class TunDevice final : public Device {
public:
    // Open /dev/net/tun and attach to interface `name` (at most 15 characters; empty: the kernel
    // picks "tunN"). Throws std::system_error whose what() says what went wrong and what to do:
    //   ENOENT  /dev/net/tun is missing (modprobe tun; in a container, pass the device in)
    //   EPERM   no privilege (run as root or with CAP_NET_ADMIN)
    //   EBUSY   another process has the interface open
    //   EINVAL  the name is invalid, or names an interface that is not a TUN device
    //   ENODEV  no interface of that name, and options.create is off (also for an empty name)
    [[nodiscard]] static std::unique_ptr<TunDevice> open(const std::string& name,
                                                         const TunOptions& options = {});

    struct Impl;
    struct Key {  // only open() can make one
    private:
        friend class TunDevice;
        Key() = default;
    };
    TunDevice(Key, std::shared_ptr<Impl> impl);
    ~TunDevice() override;

    // How often a failed device with TunOptions::reattach looks for its interface again.
    static constexpr int kReattachPollMs = 200;

    void start(boost::asio::io_context& io, RxHandler on_rx, LinkHandler on_link) override;
    using Device::send;
    void send(std::span<const std::byte> packet, const TxPacketInfo& info) override;
    [[nodiscard]] LinkOffload offload() const override;
    // One writev() per packet on a descriptor that stays open until stop(): any thread.
    [[nodiscard]] bool concurrent_send() const override { return true; }
    void stop() override;
    // The interface's name as the kernel knows it (e.g. "tun3" when open("") was asked).
    [[nodiscard]] std::string name() const override;
    [[nodiscard]] DeviceStats stats() const override;

private:
    // Shared with the pending Asio handlers, so a handler that runs late finds it alive.
    std::shared_ptr<Impl> impl_;
};

}  // namespace ustack
