// MemoryLink: two Device ends joined in memory, so two hosts can talk inside one process (each on
// its own engine thread) without TUN -- what the WSP tests use (DESIGN.md §2).
//
//   auto [a, b, link] = ustack::MemoryLink::make_pair({.loss = 0.01, .seed = 7});
//   // hand `a` to one host (WSPHOSTCONFIG::device = a.release()) and `b` to the other
//   link.set_loss(1.0);  // later, from any thread: cut the link
//   link.fail(1);        // or fail end b's device for good (its host sees WSAENETDOWN)
//
// send() on one end copies the packet into the other end's inbox and posts one drain to that
// end's io_context (coalesced: a burst of sends makes one wake-up and one on_rx batch). Each
// direction drops packets with probability `loss`, drawn from its own std::mt19937_64 seeded from
// `seed`, so a run with a fixed seed loses the same packets of a given send sequence. An optional
// one-way `delay` holds packets back (FIFO) before delivery.
//
// Either end may stop (or be destroyed) first: the other end's sends are then dropped and counted
// (tx_dropped), as are sends to an end that has not started yet, and sends beyond `queue_limit`
// packets waiting at the receiver (tail drop).
//
// A started end must be stopped or destroyed before its io_context is destroyed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "ustack/device.hpp"

namespace ustack {

struct MemoryLinkParams {
    double loss = 0.0;                  // probability in [0, 1] that a packet is lost, each way
    std::uint64_t seed = 1;             // seeds both directions' loss generators (differently)
    std::chrono::microseconds delay{};  // one-way delay (0: deliver as soon as the peer wakes)
    std::size_t queue_limit = 4096;     // packets waiting at a receiving end; beyond: dropped
    std::string name = "memory-link";   // the ends are called name + ":a" and name + ":b"
};

namespace detail {
struct MemoryLinkState;
}  // namespace detail

// A handle on a link's shared settings (copyable; keeps the link's state alive, not its ends).
class MemoryLink {
public:
    struct Ends;

    // Make a link and its two ends. Throws std::invalid_argument if loss is outside [0, 1] or
    // queue_limit is 0.
    [[nodiscard]] static Ends make_pair(const MemoryLinkParams& params = {});

    // Change the loss probability of both directions from the next packet on (any thread).
    // Throws std::invalid_argument outside [0, 1].
    void set_loss(double loss);
    [[nodiscard]] double loss() const;
    // End `side` (0: a, 1: b) fails for good, as a TUN device deleted under its host: the host
    // hears it once (Device's on_link(false), on its engine thread), and from now on that end
    // sends and receives nothing (its sends and those to it are dropped, counted tx_dropped).
    // Any thread; a second call does nothing. Throws std::invalid_argument for another side.
    void fail(int side);

private:
    explicit MemoryLink(std::shared_ptr<detail::MemoryLinkState> state);
    std::shared_ptr<detail::MemoryLinkState> state_;
};

struct MemoryLink::Ends {
    std::unique_ptr<Device> a;
    std::unique_ptr<Device> b;
    MemoryLink link;
};

}  // namespace ustack
