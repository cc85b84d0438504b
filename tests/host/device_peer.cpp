#include "device_peer.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace ustack::test {

struct DevicePeer::Impl {
    explicit Impl(std::unique_ptr<Device> d) : device(std::move(d)) {}
    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
        boost::asio::make_work_guard(io);
    std::unique_ptr<Device> device;
    std::thread thread;
    bool stopped = false;

    mutable std::mutex m;
    std::condition_variable cv;
    std::vector<ReceivedPacket> packets;  // under m
    std::size_t batches = 0;              // under m
};

DevicePeer::DevicePeer(std::unique_ptr<Device> device, LinkHandler on_link)
    : impl_(std::make_unique<Impl>(std::move(device))) {
    Impl& im = *impl_;
    im.thread = std::thread([&im] { im.io.run(); });
    auto started = std::make_shared<std::promise<void>>();
    boost::asio::post(im.io, [&im, started, on_link = std::move(on_link)]() mutable {
        im.device->start(
            im.io,
            [&im](PacketBatch batch) {
                const auto now = std::chrono::steady_clock::now();
                std::lock_guard lock(im.m);
                for (const auto& p : batch)
                    im.packets.push_back({{p.bytes.begin(), p.bytes.end()}, now});
                ++im.batches;
                im.cv.notify_all();
            },
            std::move(on_link));
        started->set_value();
    });
    started->get_future().wait();
}

DevicePeer::~DevicePeer() {
    stop();
}

void DevicePeer::send(std::span<const std::byte> packet) {
    Impl& im = *impl_;
    boost::asio::post(im.io, [&im, copy = std::vector<std::byte>(packet.begin(), packet.end())] {
        im.device->send(copy);
    });
}

void DevicePeer::post(std::function<void()> f) {
    boost::asio::post(impl_->io, std::move(f));
}

void DevicePeer::sync() {
    Impl& im = *impl_;
    if (im.stopped)
        return;
    auto done = std::make_shared<std::promise<void>>();
    boost::asio::post(im.io, [done] { done->set_value(); });
    done->get_future().wait();
}

bool DevicePeer::wait_for(std::size_t n, std::chrono::milliseconds timeout) {
    Impl& im = *impl_;
    std::unique_lock lock(im.m);
    return im.cv.wait_for(lock, timeout, [&] { return im.packets.size() >= n; });
}

std::vector<ReceivedPacket> DevicePeer::received() const {
    std::lock_guard lock(impl_->m);
    return impl_->packets;
}

std::size_t DevicePeer::received_count() const {
    std::lock_guard lock(impl_->m);
    return impl_->packets.size();
}

std::size_t DevicePeer::batches() const {
    std::lock_guard lock(impl_->m);
    return impl_->batches;
}

DeviceStats DevicePeer::stats() const {
    return impl_->device->stats();
}

void DevicePeer::stop() {
    Impl& im = *impl_;
    if (im.stopped)
        return;
    im.stopped = true;
    im.work.reset();
    im.io.stop();
    im.thread.join();
    im.device->stop();
}

}  // namespace ustack::test
