// AsioHost: see host.hpp.
#include "ustack/host.hpp"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ustack {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Packets collected under HostCore's lock into one reused buffer, so the device writes (and pcap
// records) happen after the lock is released. The engine thread has one; every application
// thread that transmits has one of its own (thread_local, below).
class PacketBuffer final : public PacketSink {
public:
    void send_packet(std::span<const std::byte> ip_packet, const TxPacketInfo& info) override {
        if (ip_packet.data() != bytes_.data() + used_) {  // not built in packet_room(): copy
            reserve_room(ip_packet.size());
            std::memcpy(bytes_.data() + used_, ip_packet.data(), ip_packet.size());
        }
        used_ += ip_packet.size();
        packets_.push_back({used_, info});
    }
    [[nodiscard]] std::span<std::byte> packet_room() override {
        reserve_room(Codec::kMaxPacket);
        return {bytes_.data() + used_, Codec::kMaxPacket};
    }
    [[nodiscard]] LinkOffload offload() const override { return offload_; }
    void set_offload(LinkOffload o) { offload_ = o; }
    [[nodiscard]] bool empty() const { return packets_.empty(); }
    [[nodiscard]] std::size_t count() const { return packets_.size(); }

    // Call f(packet, info) for every packet collected, in order, then forget them (keeping
    // the storage).
    template <typename F>
    void drain(F&& f) {
        std::size_t begin = 0;
        for (const auto& [end, info] : packets_) {
            f(std::span<const std::byte>(bytes_.data() + begin, end - begin), info);
            begin = end;
        }
        clear();
    }
    void clear() {
        used_ = 0;
        packets_.clear();
    }

private:
    // Storage only grows (zero-filled once), so the room handed out is never reallocated
    // before the packet built in it arrives.
    void reserve_room(std::size_t n) {
        if (bytes_.size() < used_ + n)
            bytes_.resize(used_ + n);
    }
    struct Packet {
        std::size_t end;  // where the packet ends in bytes_
        TxPacketInfo info;
    };
    LinkOffload offload_;
    std::vector<std::byte> bytes_;  // the packets, back to back, in [0, used_)
    std::size_t used_ = 0;
    std::vector<Packet> packets_;
};

// The device's transmit queue: buffers of packets in the order the engine produced them, written
// by one thread at a time. A thread enqueues its buffer under api_mutex() (so queue order is
// engine order) and, after releasing it, writes the queue unless another thread is already
// writing -- that one writes ours too. Nobody waits for another thread's write() (one used to
// wait for its turn while still holding api_mutex(), stalling every other API call behind a
// system call that runs the kernel's whole forwarding path); with more application threads
// than cores the writer role is usually held, so most calls hand their packets over and go.
class TxQueue {
public:
    // Under api_mutex(): `b` joins the queue; returns an empty buffer to collect into next
    // (recycled: no allocation in the steady state).
    std::unique_ptr<PacketBuffer> push(std::unique_ptr<PacketBuffer> b) {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(b));
        if (spare_.empty())
            return std::make_unique<PacketBuffer>();
        std::unique_ptr<PacketBuffer> fresh = std::move(spare_.back());
        spare_.pop_back();
        return fresh;
    }
    // Without api_mutex(): write everything queued, unless a writer is active (it will).
    template <typename Send>
    void write(Send&& send) {
        std::unique_lock lock(mutex_);
        if (writing_)
            return;
        writing_ = true;
        while (!queue_.empty()) {
            std::unique_ptr<PacketBuffer> b = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            b->drain(send);
            lock.lock();
            if (spare_.size() < kMaxSpare)
                spare_.push_back(std::move(b));
        }
        writing_ = false;
        if (drain_waiters_ > 0)
            drained_.notify_all();
    }
    // Wait until everything queued has been written (stop(): no thread enqueues any more).
    void wait_drained() {
        std::unique_lock lock(mutex_);
        ++drain_waiters_;
        drained_.wait(lock, [&] { return !writing_ && queue_.empty(); });
        --drain_waiters_;
    }

private:
    static constexpr std::size_t kMaxSpare = 64;  // buffers kept for reuse (bounds memory)
    std::mutex mutex_;  // held for queue operations only, never across a system call
    std::deque<std::unique_ptr<PacketBuffer>> queue_;
    std::vector<std::unique_ptr<PacketBuffer>> spare_;
    bool writing_ = false;
    int drain_waiters_ = 0;
    std::condition_variable drained_;
};

// What one application thread transmits itself (AsioHost::direct_sink), for one host at a time.
struct DirectPackets {
    const void* host = nullptr;  // the AsioHost::Impl the packets are for (nullptr: none)
    std::unique_ptr<PacketBuffer> buffer = std::make_unique<PacketBuffer>();
};
thread_local DirectPackets tl_direct;

}  // namespace

struct AsioHost::Impl {
    Impl(HostCore& c, std::unique_ptr<Device> d, std::unique_ptr<PcapWriter> p,
         std::unique_ptr<StateLogWriter> l)
        : core(c), device(std::move(d)), pcap(std::move(p)), state_log(std::move(l)) {
        if (state_log) {
            state_log->write_header(ipv4_to_string(core.options().stack.addr), wall_epoch);
        }
    }

    // Declaration order is destruction order in reverse: the device and the timer go before the
    // io_context they use.
    HostCore& core;
    const SteadyClock::time_point epoch = SteadyClock::now();  // Instant 0
    // Instant 0 on the wall clock (the pcap's timestamps): the state log's header.
    const std::chrono::system_clock::time_point wall_epoch = std::chrono::system_clock::now();
    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
        boost::asio::make_work_guard(io);
    boost::asio::steady_timer timer{io};
    std::optional<Instant> armed;  // the deadline `timer` waits for (engine thread)
    std::unique_ptr<Device> device;
    std::unique_ptr<PcapWriter> pcap;
    std::unique_ptr<StateLogWriter> state_log;
    std::vector<std::string> state_lines;  // engine thread: taken from the core, then written
    std::unique_ptr<PacketBuffer> sink = std::make_unique<PacketBuffer>();  // engine thread
    // Every packet to the device goes through this queue, which a thread joins before it
    // releases api_mutex() (claim_order) -- so the device sees packets in the order the engine
    // produced them, although no thread writes under api_mutex().
    TxQueue txq;
    std::atomic<std::uint64_t> direct_packets{0};
    bool direct_enabled = false;  // guarded by api_mutex(): application threads may transmit
    std::thread thread;

    std::atomic<bool> wake_pending{false};
    std::mutex stop_mutex;
    bool stopped = false;  // under stop_mutex

    std::atomic<std::uint64_t> wakeups{0};
    std::atomic<std::uint64_t> services{0};
    std::atomic<std::uint64_t> timer_fires{0};
    std::atomic<std::uint64_t> rx_batches{0};
    std::atomic<std::uint64_t> rx_packets{0};
    std::atomic<std::uint64_t> tx_packets{0};

    [[nodiscard]] Instant now() const {
        return Instant(std::chrono::duration_cast<Duration>(SteadyClock::now() - epoch));
    }

    // ---- engine thread ----
    void on_rx(PacketBatch batch) {
        rx_batches.fetch_add(1, std::memory_order_relaxed);
        rx_packets.fetch_add(batch.size(), std::memory_order_relaxed);
        if (pcap) {
            for (const auto& p : batch) pcap->write(p.bytes);
        }
        service(batch);
    }

    // The received `batch` (if any) in, then timers, transmission and events: one lock hold.
    void service(PacketBatch batch = {}) {
        services.fetch_add(1, std::memory_order_relaxed);
        // Collects into `sink`; claim_order() queues it under the lock (when the core knows
        // this driver: create_host; a core driven without it has no direct senders, so queueing
        // it here keeps the order too).
        const std::optional<Instant> deadline = core.service(batch, now(), *sink);
        if (!sink->empty())
            enqueue_sink();
        write_queue();
        write_state_log();
        rearm(deadline);
    }

    // The core's state-log lines since the last pass, into the file (engine thread, or stop()
    // once the engine thread has ended).
    void write_state_log() {
        if (!state_log)
            return;
        core.take_state_log(state_lines);
        state_log->write(state_lines);
        state_lines.clear();
    }

    void enqueue_sink() {
        sink = txq.push(std::move(sink));
        sink->set_offload(device->offload());
    }
    // Any thread, without api_mutex().
    void write_queue() {
        txq.write([this](std::span<const std::byte> p, const TxPacketInfo& info) {
            tx_packets.fetch_add(1, std::memory_order_relaxed);
            if (pcap)
                pcap->write(p);  // only the engine thread queues packets when capturing
            device->send(p, info);
        });
    }

    bool on_engine_thread() const { return thread.get_id() == std::this_thread::get_id(); }

    // Point the timer at `deadline` (HostCore::service's answer: a no-op when it has not changed,
    // the common case -- a deadline that moved later keeps the timer).
    void rearm(std::optional<Instant> deadline) {
        if (deadline == armed)
            return;
        armed = deadline;
        if (!deadline) {
            timer.cancel();
            return;
        }
        timer.expires_at(epoch + deadline->time_since_epoch());
        timer.async_wait([this, at = *deadline](const boost::system::error_code& ec) {
            // Cancelled, or a completion that raced with a re-arm: the newer wait stands.
            if (ec || armed != at)
                return;
            armed.reset();
            timer_fires.fetch_add(1, std::memory_order_relaxed);
            service();
        });
    }

    void run() {
        // An exception escaping a handler would end the thread and the host; report it and go
        // on (io_context::run may be called again after a handler threw).
        for (;;) {
            try {
                io.run();
                return;
            } catch (const std::exception& e) {
                std::cerr << "ustack: engine thread: " << e.what() << "\n";
            }
        }
    }
};

AsioHost::AsioHost(HostCore& core, std::unique_ptr<Device> device, std::unique_ptr<PcapWriter> pcap,
                   std::unique_ptr<StateLogWriter> state_log)
    : impl_(
          std::make_unique<Impl>(core, std::move(device), std::move(pcap), std::move(state_log))) {
    if (!impl_->device)
        throw std::invalid_argument("AsioHost: no device");
}

AsioHost::~AsioHost() {
    stop();
    if (impl_->thread.joinable()) {
        // Only when stop() ran on the engine thread and this destructor runs there too.
        if (impl_->thread.get_id() == std::this_thread::get_id()) {
            impl_->thread.detach();
        } else {
            impl_->thread.join();
        }
    }
}

void AsioHost::start() {
    Impl& im = *impl_;
    im.sink->set_offload(im.device->offload());  // before the engine thread runs service()
    // Shared, so the promise outlives set_value() however the two threads interleave.
    auto started = std::make_shared<std::promise<void>>();
    std::future<void> result = started->get_future();
    boost::asio::post(im.io, [&im, started] {
        try {
            im.device->start(
                im.io, [&im](PacketBatch batch) { im.on_rx(batch); },
                [&im](bool up) {
                    im.core.link_changed(up, im.now());
                    im.service();  // the closes' events, the woken calls
                });
            im.service();
            started->set_value();
        } catch (...) {
            started->set_exception(std::current_exception());
        }
    });
    im.thread = std::thread([&im] { im.run(); });
    try {
        result.get();
    } catch (...) {
        stop();
        throw;
    }
    // A capture is written on the engine thread only, so a host that writes one does not
    // transmit from application threads.
    if (im.pcap == nullptr && im.device->concurrent_send()) {
        std::lock_guard lock(api_mutex());
        im.direct_enabled = true;
    }
}

PacketSink* AsioHost::direct_sink() {
    Impl& im = *impl_;
    // Under api_mutex(). The calling thread's buffer, unless it holds packets for another host
    // (one call touches one host; this keeps a stray case correct: the engine thread sends).
    if (!im.direct_enabled || (tl_direct.host != nullptr && tl_direct.host != &im))
        return nullptr;
    tl_direct.host = &im;
    tl_direct.buffer->set_offload(im.device->offload());
    return tl_direct.buffer.get();
}

bool AsioHost::claim_order() {
    Impl& im = *impl_;
    // Under api_mutex(), on the thread about to release it.
    if (im.on_engine_thread()) {
        if (!im.sink->empty())
            im.enqueue_sink();
        return false;  // the engine thread writes in service()
    }
    if (tl_direct.host != &im)
        return false;
    tl_direct.host = nullptr;
    if (!im.direct_enabled || tl_direct.buffer->empty()) {  // stopping: nothing leaves any more
        tl_direct.buffer->clear();
        return false;
    }
    im.direct_packets.fetch_add(tl_direct.buffer->count(), std::memory_order_relaxed);
    tl_direct.buffer = im.txq.push(std::move(tl_direct.buffer));
    return true;
}

void AsioHost::write_claimed() {
    Impl& im = *impl_;
    // Without api_mutex(), after claim_order() returned true: stop() waits for the queue.
    im.write_queue();
}

Instant AsioHost::now() const {
    return impl_->now();
}

void AsioHost::wake() {
    Impl& im = *impl_;
    if (im.wake_pending.exchange(true, std::memory_order_acq_rel))
        return;  // one is on its way
    im.wakeups.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(im.io, [&im] {
        // Clear first: a wake() during this service() posts another one, so none is lost.
        im.wake_pending.store(false, std::memory_order_release);
        im.service();
    });
}

void AsioHost::stop() {
    Impl& im = *impl_;
    {
        // No application thread claims a place in the transmit order from now on (they claim
        // under this lock) ...
        std::lock_guard api(api_mutex());
        im.direct_enabled = false;
    }
    if (!im.on_engine_thread()) {
        // ... and what they queued before has been written.
        im.txq.wait_drained();
    }
    std::lock_guard lock(im.stop_mutex);
    if (im.stopped)
        return;
    im.stopped = true;
    im.work.reset();
    im.io.stop();
    const bool on_engine_thread = im.on_engine_thread();
    if (im.thread.joinable() && !on_engine_thread)
        im.thread.join();
    // The engine thread has finished (or is us): the device, timer and pcap file are ours.
    im.device->stop();
    boost::system::error_code ignored;
    im.timer.cancel(ignored);
    if (!on_engine_thread) {
        im.pcap.reset();       // flush and close the capture
        im.write_state_log();  // what the last closes recorded
        im.state_log.reset();
    }
}

const Device& AsioHost::device() const {
    return *impl_->device;
}

AsioHostStats AsioHost::stats() const {
    const Impl& im = *impl_;
    AsioHostStats s;
    s.wakeups = im.wakeups.load(std::memory_order_relaxed);
    s.services = im.services.load(std::memory_order_relaxed);
    s.timer_fires = im.timer_fires.load(std::memory_order_relaxed);
    s.rx_batches = im.rx_batches.load(std::memory_order_relaxed);
    s.rx_packets = im.rx_packets.load(std::memory_order_relaxed);
    s.tx_packets = im.tx_packets.load(std::memory_order_relaxed);
    s.direct_tx_packets = im.direct_packets.load(std::memory_order_relaxed);
    return s;
}

}  // namespace ustack
