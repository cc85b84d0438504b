// TunDevice: see tun_device.hpp. Linux TUN API: Documentation/networking/tuntap.rst.
#include "ustack/tun_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "ustack/unique_fd.hpp"

namespace ustack {

namespace {

constexpr const char* kTunPath = "/dev/net/tun";

[[noreturn]] void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), what);
}

// The kernel's dev_valid_name(): 1..15 characters, not "." or "..", no '/', ':' or whitespace.
// Empty is allowed here: the kernel then picks "tunN".
void check_name(const std::string& name) {
    const std::string quoted = "TUN device name \"" + name + "\"";
    if (name.size() >= IFNAMSIZ) {
        throw_errno(EINVAL, quoted + " is too long: an interface name has at most " +
                                std::to_string(IFNAMSIZ - 1) + " characters");
    }
    if (name == "." || name == "..")
        throw_errno(EINVAL, quoted + " is not a valid interface name");
    for (char c : name) {
        if (c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r')) {
            throw_errno(EINVAL, quoted + ": an interface name may not contain '/', ':' or spaces");
        }
    }
}

UniqueFd open_clone_device() {
    UniqueFd fd(::open(kTunPath, O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (fd)
        return fd;
    const int err = errno;
    switch (err) {
        case ENOENT:
        case ENODEV:
        case ENXIO:
            throw_errno(err, std::string("cannot open ") + kTunPath +
                                 ": the TUN driver is not available -- load it (modprobe tun) "
                                 "or, in a container, pass the device in (--device " +
                                 kTunPath + " --cap-add NET_ADMIN)");
        case EACCES:
        case EPERM:
            throw_errno(err, std::string("cannot open ") + kTunPath +
                                 ": permission denied -- run as root or with CAP_NET_ADMIN");
        default: throw_errno(err, std::string("cannot open ") + kTunPath);
    }
}

// Attach a new descriptor to interface `name` (TUNSETIFF) with these flags, and ask for
// `features` (TUNSETOFFLOAD, 0: none). `actual` receives the interface's name, `offloaded`
// whether the offloads were taken. Throws std::system_error with a message saying what to do.
UniqueFd attach(const std::string& name, short flags, unsigned long features, std::string& actual,
                bool& offloaded) {
    UniqueFd fd = open_clone_device();
    ifreq ifr{};
    ifr.ifr_flags = flags;
    std::memcpy(ifr.ifr_name, name.data(), name.size());  // NUL-padded by ifr{}
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
        const int err = errno;
        const std::string dev = "TUN device \"" + name + "\"";
        switch (err) {
            case EPERM:
            case EACCES:
                throw_errno(err, dev +
                                     ": no privilege to create or attach to it -- run as root "
                                     "or with CAP_NET_ADMIN (or make it persistent for your "
                                     "user: ip tuntap add dev " +
                                     name + " mode tun user $USER)");
            case EBUSY:
                throw_errno(err, dev +
                                     " is busy: another process has it open -- stop that "
                                     "process or pick another name");
            case EINVAL:
                throw_errno(err, dev +
                                     ": an interface of that name exists and is not a TUN "
                                     "device (e.g. a TAP or veth), or the name is invalid");
            default: throw_errno(err, dev + ": TUNSETIFF failed");
        }
    }
    actual.assign(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
    offloaded = features != 0 && ::ioctl(fd.get(), TUNSETOFFLOAD, features) == 0;
    return fd;
}

}  // namespace

// The virtio-net header in front of every packet with IFF_VNET_HDR: struct virtio_net_hdr of
// include/uapi/linux/virtio_net.h, whose C++-hostile header (a member named `class`) we cannot
// include. The kernel's default size, 10 bytes, in native byte order (little-endian here).
struct virtio_net_hdr {
    std::uint8_t flags;
    std::uint8_t gso_type;
    std::uint16_t hdr_len;      // IP + TCP headers
    std::uint16_t gso_size;     // payload bytes per segment
    std::uint16_t csum_start;   // where checksumming starts
    std::uint16_t csum_offset;  // where the checksum goes, from csum_start
};
static_assert(sizeof(virtio_net_hdr) == 10);
constexpr std::uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr std::uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr std::size_t kVnetHdrLen = sizeof(virtio_net_hdr);

struct TunDevice::Impl : std::enable_shared_from_this<TunDevice::Impl> {
    Impl(UniqueFd f, std::string n, const TunOptions& o, bool vnet_hdr, LinkOffload lo)
        : name(std::move(n)),
          opts(o),
          vnet(vnet_hdr),
          offload(lo),
          slot(o.max_packet + (vnet_hdr ? kVnetHdrLen : 0)),
          fd(std::move(f)),
          storage(std::make_unique_for_overwrite<std::byte[]>(o.batch * slot)),
          spans(o.batch) {
        tx_fd.store(fd.get());
    }

    const std::string name;
    const TunOptions opts;
    const bool vnet;            // every read and write starts with a virtio_net_hdr
    const LinkOffload offload;  // what TUNSETOFFLOAD enabled
    const std::size_t slot;     // receive buffer per packet
    UniqueFd fd;                // owns the descriptor until start() hands it to `sd`
    std::optional<boost::asio::posix::stream_descriptor> sd;  // sole owner once started
    // The descriptor number send() writes to (any thread): the same from open() to stop(), also
    // across a re-attach, which puts the new interface behind this number (dup2); -1 once
    // stopped.
    std::atomic<int> tx_fd{-1};
    boost::asio::io_context* io = nullptr;
    RxHandler on_rx;
    LinkHandler on_link;
    std::optional<boost::asio::steady_timer> reattach_timer;  // engine thread
    bool stopped = false;
    bool reported_read_error = false;

    // opts.batch receive buffers of opts.max_packet bytes each, reused on every wake-up.
    std::unique_ptr<std::byte[]> storage;
    std::vector<RxPacket> spans;

    std::atomic<std::uint64_t> rx_packets{0};
    std::atomic<std::uint64_t> rx_super_packets{0};
    std::atomic<std::uint64_t> tx_super_packets{0};
    std::atomic<std::uint64_t> rx_bytes{0};
    std::atomic<std::uint64_t> rx_errors{0};
    std::atomic<std::uint64_t> tx_packets{0};
    std::atomic<std::uint64_t> tx_bytes{0};
    std::atomic<std::uint64_t> tx_dropped{0};

    // The descriptor, whoever owns it (fd before start(), sd after); -1 once stopped.
    [[nodiscard]] int native() { return sd ? sd->native_handle() : fd.get(); }

    void wait_readable() {
        sd->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                           if (ec || self->stopped)
                               return;  // operation_aborted: stopped
                           self->read_ready();
                       });
    }

    // Read until the kernel queue is empty or the batch is full; deliver; wait or continue.
    void read_ready() {
        const int f = native();
        std::size_t n = 0;
        bool drained = false;
        bool failed = false;
        std::uint64_t supers = 0;
        while (n < opts.batch) {
            std::byte* buf = storage.get() + n * slot;
            const ssize_t r = ::read(f, buf, slot);
            if (r > 0 && !vnet) {
                spans[n++] =
                    RxPacket{std::span<const std::byte>(buf, static_cast<std::size_t>(r)), false};
                continue;
            }
            if (r > 0) {
                const auto got = static_cast<std::size_t>(r);
                if (got < kVnetHdrLen) {
                    rx_errors.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                virtio_net_hdr h;
                std::memcpy(&h, buf, sizeof h);
                // NEEDS_CSUM: the packet never crossed a wire and its checksum is partial;
                // DATA_VALID: the kernel verified it. Either way it is not to be recomputed.
                const bool checked =
                    (h.flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) != 0;
                if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
                    ++supers;
                spans[n++] = RxPacket{
                    std::span<const std::byte>(buf + kVnetHdrLen, got - kVnetHdrLen), checked};
                continue;
            }
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
                drained = true;
                break;
            }
            // EBADFD: the interface was deleted under us; anything else is as final.
            const int err = errno;
            rx_errors.fetch_add(1, std::memory_order_relaxed);
            if (!reported_read_error) {
                reported_read_error = true;
                std::cerr << "ustack: " << name << ": read failed: " << std::strerror(err)
                          << (opts.reattach ? "; waiting for an interface of that name to attach to"
                                            : "; no further packets will be received")
                          << "\n";
            }
            failed = true;
            break;
        }
        if (n > 0) {
            std::uint64_t bytes = 0;
            for (std::size_t i = 0; i < n; ++i) bytes += spans[i].bytes.size();
            rx_packets.fetch_add(n, std::memory_order_relaxed);
            rx_super_packets.fetch_add(supers, std::memory_order_relaxed);
            rx_bytes.fetch_add(bytes, std::memory_order_relaxed);
            if (on_rx)
                on_rx(PacketBatch(spans.data(), n));
        }
        if (stopped)
            return;
        if (failed) {
            if (on_link)
                on_link(false);
            if (opts.reattach)
                poll_for_interface();
            return;
        }
        if (drained) {
            wait_readable();
        } else {
            // A full batch: more may be queued, and an edge-triggered reactor would not report
            // them again. Continue after the handlers already queued (timers, wake-ups) have run.
            boost::asio::post(*io, [self = shared_from_this()] {
                if (!self->stopped)
                    self->read_ready();
            });
        }
    }

    // TunOptions::reattach, after a failure: every kReattachPollMs, attach again once an
    // interface of our name exists (engine thread).
    void poll_for_interface() {
        if (!reattach_timer)
            reattach_timer.emplace(*io);
        reattach_timer->expires_after(std::chrono::milliseconds(TunDevice::kReattachPollMs));
        reattach_timer->async_wait(
            [self = shared_from_this()](const boost::system::error_code& ec) {
                if (ec || self->stopped)
                    return;
                if (!self->try_reattach())
                    self->poll_for_interface();
            });
    }

    bool try_reattach() {
        if (::if_nametoindex(name.c_str()) == 0)
            return false;  // not there (yet)
        std::string actual;
        bool offloaded = false;
        UniqueFd fresh;
        try {
            const unsigned long features = offload.tcp_checksum ? (TUN_F_CSUM | TUN_F_TSO4) : 0;
            fresh =
                attach(name, static_cast<short>(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0)),
                       features, actual, offloaded);
            if (offload.tcp_checksum && !offloaded) {
                throw std::runtime_error(
                    "TUNSETOFFLOAD failed; the host was started with offloads");
            }
        } catch (const std::exception& e) {
            if (!reported_reattach_error) {
                reported_reattach_error = true;
                std::cerr << "ustack: " << name << ": cannot re-attach yet: " << e.what() << "\n";
            }
            return false;
        }
        // The new interface behind our descriptor number (concurrent send() calls write to
        // either the old one, failing, or the new one), then the reactor watches the new file.
        // dup3 keeps the number close-on-exec, as open() made it.
        const int number = sd->native_handle();
        if (::dup3(fresh.get(), number, O_CLOEXEC) < 0) {
            std::cerr << "ustack: " << name << ": re-attach failed: dup3: " << std::strerror(errno)
                      << "\n";
            return false;
        }
        fresh.reset();
        boost::system::error_code ignored;
        (void)sd->release();
        sd->assign(number, ignored);
        reported_read_error = false;
        reported_reattach_error = false;
        std::cerr << "ustack: " << name << ": re-attached\n";
        if (on_link)
            on_link(true);
        wait_readable();
        return true;
    }
    bool reported_reattach_error = false;
};

std::unique_ptr<TunDevice> TunDevice::open(const std::string& name, const TunOptions& options) {
    if (options.batch == 0 || options.max_packet < 576) {
        throw std::invalid_argument("TunOptions: batch must be > 0 and max_packet >= 576");
    }
    check_name(name);
    if (!options.create && (name.empty() || ::if_nametoindex(name.c_str()) == 0)) {
        throw_errno(ENODEV, "TUN device \"" + name +
                                "\" does not exist -- create it first (ip tuntap add dev " +
                                (name.empty() ? std::string("NAME") : name) +
                                " mode tun; scripts/netns-up.sh does), or ask for it to be "
                                "created (--create-tun, WSPHOSTCONFIG::create_tun)");
    }
    // Offload: checksums and TCPv4 segmentation both ways. A kernel without it leaves a working
    // device that moves one wire segment per system call.
    std::string actual;
    bool offloaded = false;
    UniqueFd fd =
        attach(name, static_cast<short>(IFF_TUN | IFF_NO_PI | (options.offload ? IFF_VNET_HDR : 0)),
               options.offload ? (TUN_F_CSUM | TUN_F_TSO4) : 0, actual, offloaded);
    LinkOffload lo;
    if (offloaded) {
        lo.tcp_checksum = true;
        lo.max_super_packet = 65535;
    } else if (options.offload) {
        std::cerr << "ustack: " << actual << ": TUNSETOFFLOAD failed (" << std::strerror(errno)
                  << "); running without offloads\n";
    }
    return std::make_unique<TunDevice>(
        Key{},
        std::make_shared<Impl>(std::move(fd), std::move(actual), options, options.offload, lo));
}

TunDevice::TunDevice(Key /*only open()*/, std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TunDevice::~TunDevice() {
    stop();
}

void TunDevice::start(boost::asio::io_context& io, RxHandler on_rx, LinkHandler on_link) {
    Impl& im = *impl_;
    if (im.stopped || im.sd)
        throw std::logic_error("TunDevice::start: already started or stopped");
    im.io = &io;
    im.on_rx = std::move(on_rx);
    im.on_link = std::move(on_link);
    im.sd.emplace(io, im.fd.release());  // the stream_descriptor is now the sole owner
    im.wait_readable();
}

void TunDevice::send(std::span<const std::byte> packet, const TxPacketInfo& info) {
    Impl& im = *impl_;
    const int f = im.tx_fd.load(std::memory_order_acquire);
    if (f < 0 || ((info.gso_size != 0 || info.checksum_partial) && !im.offload.tcp_checksum)) {
        im.tx_dropped.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    virtio_net_hdr h{};
    if (info.checksum_partial) {
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = info.csum_start;
        h.csum_offset = info.csum_offset;
    }
    if (info.gso_size != 0) {
        h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        h.gso_size = info.gso_size;
        h.hdr_len = info.header_len;
    }
    iovec iov[2] = {{&h, kVnetHdrLen}, {const_cast<std::byte*>(packet.data()), packet.size()}};
    const int iovcnt = im.vnet ? 2 : 1;
    iovec* first = im.vnet ? iov : iov + 1;
    for (;;) {
        const ssize_t r = ::writev(f, first, iovcnt);
        if (r >= 0) {
            im.tx_packets.fetch_add(1, std::memory_order_relaxed);
            im.tx_bytes.fetch_add(packet.size(), std::memory_order_relaxed);
            if (info.gso_size != 0)
                im.tx_super_packets.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        if (errno == EINTR)
            continue;
        // EAGAIN: the kernel's queue is full; EIO: the interface is down; EINVAL: not a
        // packet the kernel accepts. TCP recovers a dropped packet.
        im.tx_dropped.fetch_add(1, std::memory_order_relaxed);
        return;
    }
}

void TunDevice::stop() {
    Impl& im = *impl_;
    if (im.stopped)
        return;
    im.stopped = true;
    im.tx_fd.store(-1, std::memory_order_release);
    im.reattach_timer.reset();  // cancels a pending poll; its handler sees `stopped`
    if (im.sd) {
        boost::system::error_code ignored;
        im.sd->close(ignored);  // cancels the pending wait; its handler sees `stopped`
        im.sd.reset();
    }
    im.fd.reset();
}

LinkOffload TunDevice::offload() const {
    return impl_->offload;
}

std::string TunDevice::name() const {
    return impl_->name;
}

DeviceStats TunDevice::stats() const {
    const Impl& im = *impl_;
    DeviceStats s;
    s.rx_packets = im.rx_packets.load(std::memory_order_relaxed);
    s.rx_super_packets = im.rx_super_packets.load(std::memory_order_relaxed);
    s.tx_super_packets = im.tx_super_packets.load(std::memory_order_relaxed);
    s.rx_bytes = im.rx_bytes.load(std::memory_order_relaxed);
    s.rx_errors = im.rx_errors.load(std::memory_order_relaxed);
    s.tx_packets = im.tx_packets.load(std::memory_order_relaxed);
    s.tx_bytes = im.tx_bytes.load(std::memory_order_relaxed);
    s.tx_dropped = im.tx_dropped.load(std::memory_order_relaxed);
    return s;
}

}  // namespace ustack
