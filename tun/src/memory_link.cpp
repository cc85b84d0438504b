// MemoryLink: see memory_link.hpp.
//
// Each end has a MemoryPort: its receive side, shared (shared_ptr) between the end itself and the
// peer end that sends into it. A port's inbox, running flag and io_context pointer are guarded by
// its mutex; its handler, timer and batch buffers are touched only on the owning end's engine
// thread (or by stop(), when that thread no longer runs the io_context).
#include "ustack/memory_link.hpp"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ustack {
namespace detail {

using Clock = std::chrono::steady_clock;

// Reuse at most this many packet buffers per port (the rest are freed).
constexpr std::size_t kMaxSpareBuffers = 256;

struct MemoryPending {
    Clock::time_point due;
    std::vector<std::byte> bytes;
};

struct MemoryPort : std::enable_shared_from_this<MemoryPort> {
    // ---- guarded by m ----
    std::mutex m;
    boost::asio::io_context* io = nullptr;  // set by start(), cleared by stop()
    bool running = false;
    bool drain_posted = false;  // a drain is queued on io: further sends need not post another
    std::deque<MemoryPending> inbox;            // FIFO; `due` is non-decreasing (constant delay)
    std::vector<std::vector<std::byte>> spare;  // recycled buffers for the sender's copies

    // ---- owning end's engine thread only ----
    RxHandler on_rx;
    LinkHandler on_link;
    std::unique_ptr<boost::asio::steady_timer> timer;  // for delayed packets
    std::optional<Clock::time_point> timer_at;         // when `timer` is armed to fire
    std::vector<std::vector<std::byte>> batch;         // the packets of the current on_rx
    std::vector<RxPacket> spans;

    // ---- any thread ----
    std::atomic<bool> failed{false};  // MemoryLink::fail: this end neither sends nor receives
    std::atomic<std::uint64_t> rx_packets{0};
    std::atomic<std::uint64_t> rx_bytes{0};

    void post_drain_locked();
    void drain();
    void arm_timer(Clock::time_point at);
};

void MemoryPort::post_drain_locked() {
    if (drain_posted || io == nullptr)
        return;
    drain_posted = true;
    boost::asio::post(*io, [self = shared_from_this()] { self->drain(); });
}

// Deliver every packet that is due as one batch, then wait for the next one's due time.
void MemoryPort::drain() {
    std::optional<Clock::time_point> next_due;
    {
        std::lock_guard lock(m);
        drain_posted = false;
        if (!running)
            return;
        if (failed.load(std::memory_order_relaxed)) {
            inbox.clear();
            return;
        }
        const auto now = Clock::now();
        while (!inbox.empty() && inbox.front().due <= now) {
            batch.push_back(std::move(inbox.front().bytes));
            inbox.pop_front();
        }
        if (!inbox.empty())
            next_due = inbox.front().due;
    }
    if (!batch.empty()) {
        spans.clear();
        std::uint64_t bytes = 0;
        for (const auto& b : batch) {
            spans.push_back(RxPacket{b, false});
            bytes += b.size();
        }
        rx_packets.fetch_add(batch.size(), std::memory_order_relaxed);
        rx_bytes.fetch_add(bytes, std::memory_order_relaxed);
        if (on_rx)
            on_rx(PacketBatch(spans));
        spans.clear();
        std::lock_guard lock(m);
        for (auto& b : batch) {
            if (spare.size() >= kMaxSpareBuffers)
                break;
            b.clear();
            spare.push_back(std::move(b));
        }
        batch.clear();
    }
    if (next_due && timer && timer_at != next_due)
        arm_timer(*next_due);
}

void MemoryPort::arm_timer(Clock::time_point at) {
    timer_at = at;
    timer->expires_at(at);
    timer->async_wait([self = shared_from_this(), at](const boost::system::error_code& ec) {
        if (ec || self->timer_at != at)
            return;  // cancelled or superseded
        self->timer_at.reset();
        self->drain();
    });
}

struct MemoryLinkState {
    explicit MemoryLinkState(const MemoryLinkParams& p) : params(p), loss(p.loss) {}
    MemoryLinkParams params;  // loss: see `loss`
    std::atomic<double> loss;
    std::shared_ptr<MemoryPort> ports[2] = {std::make_shared<MemoryPort>(),
                                            std::make_shared<MemoryPort>()};
};

namespace {

// A splitmix64 step: spreads one seed into well-mixed, distinct per-direction seeds.
std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

class MemoryLinkEnd final : public Device {
public:
    MemoryLinkEnd(std::shared_ptr<MemoryLinkState> link, int side)
        : link_(std::move(link)),
          self_(link_->ports[side]),
          peer_(link_->ports[1 - side]),
          rng_(splitmix64(link_->params.seed + static_cast<std::uint64_t>(side))),
          name_(link_->params.name + (side == 0 ? ":a" : ":b")) {}

    ~MemoryLinkEnd() override { stop(); }

    // `on_link` hears of MemoryLink::fail (on the engine thread).
    void start(boost::asio::io_context& io, RxHandler on_rx, LinkHandler on_link) override {
        self_->on_rx = std::move(on_rx);
        self_->on_link = std::move(on_link);
        self_->timer = std::make_unique<boost::asio::steady_timer>(io);
        std::lock_guard lock(self_->m);
        self_->io = &io;
        self_->running = true;
        self_->inbox.clear();  // anything sent before start() counts as lost in transit
    }

    using Device::send;
    // No offload is offered (offload() is the default), so `info` asks for nothing.
    void send(std::span<const std::byte> packet, const TxPacketInfo& /*info*/) override {
        const auto& p = link_->params;
        std::unique_lock lock(peer_->m);
        if (!peer_->running || peer_->inbox.size() >= p.queue_limit ||
            self_->failed.load(std::memory_order_relaxed) ||
            peer_->failed.load(std::memory_order_relaxed)) {
            lock.unlock();
            tx_dropped_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        tx_packets_.fetch_add(1, std::memory_order_relaxed);
        tx_bytes_.fetch_add(packet.size(), std::memory_order_relaxed);
        // A uniform double in [0, 1) from the top 53 bits: the same sequence on every platform.
        const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
        if (u < link_->loss.load(std::memory_order_relaxed)) {
            lock.unlock();
            tx_lost_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        std::vector<std::byte> bytes;
        if (!peer_->spare.empty()) {
            bytes = std::move(peer_->spare.back());
            peer_->spare.pop_back();
        }
        bytes.assign(packet.begin(), packet.end());
        peer_->inbox.push_back(MemoryPending{Clock::now() + p.delay, std::move(bytes)});
        peer_->post_drain_locked();
    }

    void stop() override {
        {
            std::lock_guard lock(self_->m);
            self_->running = false;
            self_->io = nullptr;
            self_->inbox.clear();
        }
        // The engine thread no longer runs (or is us): the timer is ours to release. on_rx stays
        // (it may be running us); it is never called again, and goes with the port.
        self_->timer.reset();
        self_->timer_at.reset();
    }

    [[nodiscard]] std::string name() const override { return name_; }

    [[nodiscard]] DeviceStats stats() const override {
        DeviceStats s;
        s.rx_packets = self_->rx_packets.load(std::memory_order_relaxed);
        s.rx_bytes = self_->rx_bytes.load(std::memory_order_relaxed);
        s.tx_packets = tx_packets_.load(std::memory_order_relaxed);
        s.tx_bytes = tx_bytes_.load(std::memory_order_relaxed);
        s.tx_dropped = tx_dropped_.load(std::memory_order_relaxed);
        s.tx_lost = tx_lost_.load(std::memory_order_relaxed);
        return s;
    }

private:
    std::shared_ptr<MemoryLinkState> link_;
    std::shared_ptr<MemoryPort> self_;  // our receive side
    std::shared_ptr<MemoryPort> peer_;  // the other end's receive side, where send() puts packets
    std::mt19937_64 rng_;               // this direction's loss draws (engine thread only)
    std::string name_;
    std::atomic<std::uint64_t> tx_packets_{0};
    std::atomic<std::uint64_t> tx_bytes_{0};
    std::atomic<std::uint64_t> tx_dropped_{0};
    std::atomic<std::uint64_t> tx_lost_{0};
};

void check_loss(double loss) {
    if (!(loss >= 0.0 && loss <= 1.0))
        throw std::invalid_argument("MemoryLink: loss must be a probability in [0, 1]");
}

}  // namespace
}  // namespace detail

MemoryLink::MemoryLink(std::shared_ptr<detail::MemoryLinkState> state) : state_(std::move(state)) {}

MemoryLink::Ends MemoryLink::make_pair(const MemoryLinkParams& params) {
    detail::check_loss(params.loss);
    if (params.queue_limit == 0)
        throw std::invalid_argument("MemoryLink: queue_limit must be > 0");
    auto state = std::make_shared<detail::MemoryLinkState>(params);
    Ends ends{std::make_unique<detail::MemoryLinkEnd>(state, 0),
              std::make_unique<detail::MemoryLinkEnd>(state, 1), MemoryLink(state)};
    return ends;
}

void MemoryLink::set_loss(double loss) {
    detail::check_loss(loss);
    state_->loss.store(loss, std::memory_order_relaxed);
}

double MemoryLink::loss() const {
    return state_->loss.load(std::memory_order_relaxed);
}

void MemoryLink::fail(int side) {
    if (side != 0 && side != 1)
        throw std::invalid_argument("MemoryLink::fail: side must be 0 (a) or 1 (b)");
    const std::shared_ptr<detail::MemoryPort>& port = state_->ports[side];
    if (port->failed.exchange(true))
        return;  // once
    std::lock_guard lock(port->m);
    port->inbox.clear();
    if (port->io == nullptr)
        return;  // not started, or stopped: nobody to tell
    boost::asio::post(*port->io, [port] {
        if (port->on_link)
            port->on_link(false);
    });
}

}  // namespace ustack
