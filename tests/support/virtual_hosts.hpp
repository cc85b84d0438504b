// VirtualHosts: N ustack hosts -- real HostCores with the WSP layer, made with
// ustack::create_host -- on one shared virtual clock, joined by a deterministic in-process link.
// No engine threads and no wall clock: packets move and time passes only inside the calls below,
// so a run is reproducible to the packet and minutes of protocol time (TIME-WAIT, linger,
// retransmission backoff) cost microseconds.
//
//   ustack::test::VirtualHosts net({.loss = 0.1, .seed = 7});
//   WSPHOST a = net.add_host(VirtualHosts::wsp_options(ipv4(10, 0, 0, 1)));
//   WSPHOST b = net.add_host(VirtualHosts::wsp_options(ipv4(10, 0, 0, 2)));
//   ...non-blocking WSP calls (FIONBIO or WSPEventSelect)...
//   net.run();                          // service every host and carry packets until nothing moves
//   net.advance(2s);                    // time to each next deadline up to now + 2 s, running the
//   link net.run_until([&] { return ...; }, 10s);  // advance until pred holds; fail once 10 s pass
//   net.destroy(a);                     // ustack::destroy_host: no waiting
//   net.cleanup(b);                     // WSPCleanup's semantics: on a helper thread, pumped from
//   here
//
// The driver (HostDriver) of each host: now() reads the shared clock, wake() only notes that the
// host has work (run() services every host anyway), no direct sink (application calls leave
// their packets for the next service pass), stop() detaches the host from the link.
//
// The link: every packet a host's service() pass produced goes, after the optional batch filter
// and the seeded loss / duplication draws, to the host that owns its IPv4 destination address.
// With exactly two hosts a packet for any other address goes to the other host (a point-to-point
// wire, as tun/'s MemoryLink: the receiver counts and drops it). Packets for a host that has been
// stopped are counted and dropped.
//
// Blocking WSP calls would wait forever here (nothing runs the engine while the calling thread
// waits): a test that needs one runs it with run_blocking(), which runs the call on a helper
// thread and pumps from the calling thread; cleanup() does so for WSPCleanup. Virtual time then
// moves only while the helper thread is asleep in its wait, so a call that has just been woken
// returns before the clock runs on (a clock that raced ahead would fire the other hosts' timers,
// e.g. an orphan's FIN-WAIT-2 timeout, before the call saw what woke it). Which pass wakes the
// call is not deterministic to the packet; everything single-threaded is.
//
// Failures (the link never goes quiet, run_until's bound passes, ...) go to the `fail` function
// given to the constructor: a doctest fixture passes one that fails the test; the default prints
// the message and aborts (the fuzzers' convention).
//
// This header includes ustack/wsp.h, so no socket header may be included next to it.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/wsp_address.hpp"
#include "ustack/host_core.hpp"
#include "ustack/wsp.h"

namespace ustack::test {

struct VirtualLinkParams {
    double loss = 0.0;       // probability that a packet is lost (each packet, each way)
    double duplicate = 0.0;  // probability that a delivered packet is delivered twice
    std::uint64_t seed = 1;  // the loss and duplication draws
    // run() fails when the link has not gone quiet after this many rounds (a livelock guard).
    std::size_t max_rounds = 100'000;
};

struct VirtualLinkStats {
    std::uint64_t delivered = 0;      // packets handed to a host (duplicates included)
    std::uint64_t lost = 0;           // dropped by the loss draw
    std::uint64_t duplicated = 0;     // delivered twice by the duplication draw
    std::uint64_t unrouted = 0;       // no host owns the destination (three hosts or more)
    std::uint64_t undeliverable = 0;  // the destination host has been stopped
};

namespace detail {

// One process-wide helper thread for run_blocking() / cleanup() (starting a thread per call
// costs more than a fuzzer's whole input). Never destroyed: it outlives every fixture.
class BlockingWorker {
public:
    static BlockingWorker& instance() {
        static BlockingWorker* w = new BlockingWorker();
        return *w;
    }
    // Runs `job` on the helper thread; one job at a time (the caller waits for it to finish).
    void post(std::function<void()> job) {
        std::lock_guard lock(m_);
        job_ = std::move(job);
        cv_.notify_all();
    }
    // Is the helper thread asleep -- blocked in a wait that nobody has woken it from yet
    // (state S in /proc)? A thread that has been woken (futex wake) is runnable at once, so
    // after the pump's service pass woke a waiting call this is false until the call has run
    // and either returned or gone back to sleep.
    [[nodiscard]] bool asleep() const {
        const long tid = tid_.load(std::memory_order_acquire);
        if (tid == 0)
            return false;
        std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
        std::string line;
        if (!std::getline(f, line))
            return false;
        const std::size_t close = line.rfind(')');
        return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'S';
    }

private:
    BlockingWorker() {
        std::thread([this] { loop(); }).detach();
    }
    void loop() {
        tid_.store(static_cast<long>(::syscall(SYS_gettid)), std::memory_order_release);
        std::unique_lock lock(m_);
        for (;;) {
            cv_.wait(lock, [this] { return job_ != nullptr; });
            std::function<void()> job = std::move(job_);
            job_ = nullptr;
            lock.unlock();
            job();
            lock.lock();
        }
    }
    std::mutex m_;
    std::condition_variable cv_;
    std::function<void()> job_;
    std::atomic<long> tid_{0};
};

// "Something happened" for a pump that waits on a helper thread: a wake() or a finished job.
class Signal {
public:
    void notify() {
        {
            std::lock_guard lock(m_);
            ++gen_;
        }
        cv_.notify_all();
    }
    [[nodiscard]] std::uint64_t generation() {
        std::lock_guard lock(m_);
        return gen_;
    }
    // Waits until the generation differs from `seen` or `until` passes; false on the latter.
    bool wait_changed(std::uint64_t seen, std::chrono::steady_clock::time_point until) {
        std::unique_lock lock(m_);
        return cv_.wait_until(lock, until, [&] { return gen_ != seen; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::uint64_t gen_ = 0;
};

struct VirtualNode {
    std::mutex m;              // held while the fixture uses `core`; the driver's stop() takes it
    HostCore* core = nullptr;  // nullptr once the host has stopped
    WSPHOST host = nullptr;
    HostOptions options;
    std::optional<Instant> timer;  // what the last service() returned (the driver's one timer)
    std::vector<std::vector<std::byte>> outbox;
    std::atomic<std::uint64_t> wakes{0};
    std::uint64_t wakes_at_service = 0;
    bool device_down = false;  // set_device: nothing leaves or reaches this host
};

class CollectSink final : public PacketSink {
public:
    explicit CollectSink(std::vector<std::vector<std::byte>>& out) : out_(out) {}
    void send_packet(std::span<const std::byte> p, const TxPacketInfo& /*info*/) override {
        out_.emplace_back(p.begin(), p.end());
    }

private:
    std::vector<std::vector<std::byte>>& out_;
};

class VirtualDriver final : public HostDriver {
public:
    VirtualDriver(std::shared_ptr<VirtualNode> node, const std::atomic<std::int64_t>& clock,
                  Signal& signal)
        : node_(std::move(node)), clock_(clock), signal_(signal) {}
    [[nodiscard]] Instant now() const override {
        return instant_from_us(clock_.load(std::memory_order_acquire));
    }
    void wake() override {
        node_->wakes.fetch_add(1, std::memory_order_acq_rel);
        signal_.notify();
    }
    void stop() override {
        std::lock_guard lock(node_->m);
        node_->core = nullptr;
    }

private:
    std::shared_ptr<VirtualNode> node_;
    const std::atomic<std::int64_t>& clock_;
    Signal& signal_;
};

}  // namespace detail

class VirtualHosts {
public:
    using Packet = std::vector<std::byte>;
    using FailFn = std::function<void(const std::string&)>;
    // Sees each batch a host (index `from`, in add_host order) transmitted in one service
    // pass, before the loss and duplication draws and the routing; may drop, change or add.
    using BatchFilter = std::function<void(std::size_t from, std::vector<Packet>& batch)>;

    // How long a helper-thread call may take in wall time before the process is ended: a hang
    // guard for a call that never returns, never a timing assertion.
    static constexpr std::chrono::seconds kHangGuard{60};
    // How long a helper-thread call still waiting when virtual time has reached its bound gets
    // to return (it may just have been woken) before the process is ended.
    static constexpr std::chrono::seconds kFrozenGuard{10};

    explicit VirtualHosts(const VirtualLinkParams& link = {}, FailFn fail = nullptr)
        : params_(link), rng_(link.seed), fail_(std::move(fail)) {
        if (!fail_) {
            fail_ = [](const std::string& m) {
                std::fprintf(stderr, "VirtualHosts: %s\n", m.c_str());
                std::abort();
            };
        }
    }
    // Stops every host still running with ustack::destroy_host (no waiting).
    ~VirtualHosts() {
        for (auto& n : nodes_) {
            if (alive(*n))
                (void)destroy_host(n->host);
        }
    }
    VirtualHosts(const VirtualHosts&) = delete;
    VirtualHosts& operator=(const VirtualHosts&) = delete;

    // What WSPStartup builds for a host at `addr` with an otherwise zeroed WSPHOSTCONFIG
    // (tun/src/wsp_startup.cpp): CUBIC, tail loss probes, 1 MiB buffers, MSL 30 s, cleanup
    // bound 10 s; the ISN secret is fixed (derived from the address), so runs repeat.
    static HostOptions wsp_options(Ipv4Addr addr, bool disconnect_data = true) {
        HostOptions o;
        o.stack.addr = addr;
        o.stack.tcp.congestion = CongestionAlgorithm::cubic;
        o.stack.tcp.disconnect_data = disconnect_data;
        o.stack.tcp.tail_loss_probe = true;
        o.stack.tcp.recv_buffer = std::size_t{1} << 20;
        o.stack.tcp.send_buffer = std::size_t{1} << 20;
        for (std::size_t i = 0; i < o.secret.size(); ++i)
            o.secret[i] = static_cast<std::uint8_t>((addr >> (8 * (i % 4))) + 31 * i);
        return o;
    }

    // Create a host on this link (ustack::create_host). Returns its handle, or nullptr after
    // reporting the failure.
    WSPHOST add_host(const HostOptions& options) {
        auto node = std::make_shared<detail::VirtualNode>();
        node->options = options;
        int err = 0;
        WSPHOST h = create_host(
            options,
            [&](HostCore& core) -> std::unique_ptr<HostDriver> {
                node->core = &core;
                return std::make_unique<detail::VirtualDriver>(node, clock_us_, signal_);
            },
            &err);
        if (h == nullptr) {
            fail_("create_host failed: " + std::string(WSPErrorName(err)));
            return nullptr;
        }
        node->host = h;
        nodes_.push_back(std::move(node));
        return h;
    }

    [[nodiscard]] Instant now() const {
        return instant_from_us(clock_us_.load(std::memory_order_acquire));
    }
    [[nodiscard]] std::size_t size() const { return nodes_.size(); }
    [[nodiscard]] const VirtualLinkStats& link_stats() const { return stats_; }
    void set_loss(double loss) { params_.loss = loss; }
    void set_duplicate(double p) { params_.duplicate = p; }
    void set_filter(BatchFilter f) { filter_ = std::move(f); }
    // Host `h`'s device fails (up false) or works again, as a TUN device deleted under it (and,
    // with re-attach, put back) reports through its LinkHandler: HostCore::link_changed, and
    // while down the link carries nothing from or to it (counted as lost). The next step()
    // runs the pass the driver would run.
    void set_device(WSPHOST h, bool up) {
        for (auto& n : nodes_) {
            std::lock_guard lock(n->m);
            if (n->host != h || n->core == nullptr)
                continue;
            n->device_down = !up;
            n->core->link_changed(up, now());
        }
    }

    // ---- the link and the clock -------------------------------------------------------------

    // One round: service every running host at now(), then carry what each sent. Returns
    // whether anything moved (a packet, or a wake() that came after a host's service pass).
    bool step() {
        const Instant t = now();
        for (auto& n : nodes_) {
            std::lock_guard lock(n->m);
            if (n->core == nullptr)
                continue;
            n->wakes_at_service = n->wakes.load(std::memory_order_acquire);
            detail::CollectSink sink(n->outbox);
            n->timer = n->core->service(t, sink);
        }
        bool moved = false;
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
            std::vector<Packet> batch;
            {
                std::lock_guard lock(nodes_[i]->m);
                batch.swap(nodes_[i]->outbox);
            }
            if (batch.empty())
                continue;
            moved = true;
            if (nodes_[i]->device_down) {
                stats_.lost += batch.size();
                continue;
            }
            if (filter_)
                filter_(i, batch);
            deliver(i, batch, t);
        }
        for (auto& n : nodes_) {
            std::lock_guard lock(n->m);
            if (n->core != nullptr &&
                n->wakes.load(std::memory_order_acquire) != n->wakes_at_service)
                moved = true;
        }
        return moved;
    }
    // step() until nothing moves, at most `max_rounds` rounds; returns whether it went quiet.
    bool run_rounds(std::size_t max_rounds) {
        for (std::size_t r = 0; r < max_rounds; ++r)
            if (!step())
                return true;
        return false;
    }
    // Service and deliver until nothing moves (fails after VirtualLinkParams::max_rounds).
    void run() {
        if (!run_rounds(params_.max_rounds))
            fail_("run(): the link did not go quiet after " + std::to_string(params_.max_rounds) +
                  " rounds");
    }
    // The earliest deadline any running host asked for (HostCore::service's answer).
    [[nodiscard]] std::optional<Instant> next_deadline() {
        std::optional<Instant> best;
        for (auto& n : nodes_) {
            std::lock_guard lock(n->m);
            if (n->core == nullptr || !n->timer)
                continue;
            if (!best || *n->timer < *best)
                best = n->timer;
        }
        return best;
    }
    // Move the clock forward by `d` without running anything: the hosts' timers then run late,
    // at the next step() -- what a stalled engine thread would see.
    void jump(Duration d) { set_now(now() + d); }
    // run(); then jump to each next deadline up to now + d and run() there; then to now + d.
    void advance(Duration d) {
        const Instant end = now() + d;
        if (walk(end, [] { return false; }) == Walk::idle) {
            set_now(end);
            run();
        }
    }
    void run_for(Duration d) { advance(d); }
    // advance() until no host has a deadline left, at most `bound`; returns whether it got
    // there (false: deadlines remain at the bound, e.g. a persist timer that probes forever).
    bool settle(Duration bound) {
        return walk(now() + bound, [] { return false; }) == Walk::idle;
    }
    // run(), then advance deadline by deadline until pred() holds; fail (and return false) if
    // it still does not once `bound` of virtual time has passed.
    template <class Pred>
    bool run_until(Pred&& pred, Duration bound, const std::string& what = "the condition") {
        const Instant end = now() + bound;
        const Walk w = walk(end, pred);
        if (w == Walk::done)
            return true;
        if (w == Walk::stuck)
            return false;
        if (w == Walk::idle) {
            set_now(end);
            run();
        }
        if (pred())
            return true;
        fail_("run_until: " + what + " did not hold within " + std::to_string(bound.count()) +
              " us of virtual time");
        return false;
    }

    // ---- calls that wait ----------------------------------------------------------------------

    // Run `call` (which may block in a WSP call) on a helper thread while this thread services
    // the hosts, carries packets and advances virtual time to each next deadline; returns when
    // the call has returned. Virtual time moves only while the helper thread is asleep, and
    // only once `gate` (a host of this link) has called wake() since the call began -- a call
    // that waits on a deadline of the host's clock wakes the engine to arm it -- so time does
    // not run ahead of a call that has not got that far. Time never passes now + `bound`: a
    // call still waiting then ends the process (after kFrozenGuard of wall time; its thread
    // cannot be abandoned), as does one that runs longer than kHangGuard.
    void run_blocking(WSPHOST gate, std::function<void()> call, Duration bound,
                      const std::string& what = "the call") {
        std::shared_ptr<detail::VirtualNode> g = node_of(gate);
        if (!g) {
            fail_("run_blocking: the gate is not a host of this link");
            return;
        }
        const std::uint64_t base = g->wakes.load(std::memory_order_acquire);
        pump_while(
            std::move(call), [&] { return g->wakes.load(std::memory_order_acquire) != base; },
            now() + bound, what);
    }

    struct CleanupResult {
        int rc = 0;   // WSPCleanup's return value
        int err = 0;  // its *lpErrno
    };
    // WSPCleanup the given hosts, one after the other (the others keep answering while one
    // waits), on a helper thread while this thread pumps the link; each handle is set to
    // nullptr first. `err_before` is what *lpErrno holds before each call. Bounded by the
    // hosts' cleanup_timeout in virtual time (and kHangGuard in wall time).
    std::vector<CleanupResult> cleanup(std::initializer_list<WSPHOST*> hosts, int err_before = 0) {
        std::vector<std::shared_ptr<detail::VirtualNode>> which;
        std::vector<WSPHOST> handles;
        Duration total{0};
        for (WSPHOST* h : hosts) {
            std::shared_ptr<detail::VirtualNode> n = node_of(*h);
            handles.push_back(*h);
            which.push_back(n);
            if (n)
                total += n->options.cleanup_timeout + Duration(1'000'000);
            *h = nullptr;
        }
        std::vector<CleanupResult> results(handles.size());
        // The host whose WSPCleanup is running (kBetween: none) and its wake count when it began.
        constexpr std::size_t kBetween = ~std::size_t{0};
        std::atomic<std::size_t> current{kBetween};
        std::vector<std::atomic<std::uint64_t>> base(handles.size());
        pump_while(
            [&] {
                for (std::size_t i = 0; i < handles.size(); ++i) {
                    if (which[i])
                        base[i].store(which[i]->wakes.load());
                    current.store(i);
                    results[i].err = err_before;
                    results[i].rc = WSPCleanup(handles[i], &results[i].err);
                    current.store(kBetween);
                }
            },
            [&] {
                const std::size_t i = current.load();
                if (i == kBetween)
                    return false;
                return !which[i] || which[i]->wakes.load() != base[i].load();
            },
            now() + total, "WSPCleanup");
        return results;
    }
    // WSPCleanup one host (see above); returns 0 or the WSAE* code. h becomes nullptr.
    int cleanup(WSPHOST& h) {
        const CleanupResult r = cleanup({&h})[0];
        return r.rc == 0 ? 0 : r.err;
    }
    // ustack::destroy_host: the host's sockets are closed, nothing more is sent, no waiting.
    // Returns its result (0, or WSANOTINITIALISED); h becomes nullptr.
    int destroy(WSPHOST& h) {
        const int r = destroy_host(h);
        h = nullptr;
        return r;
    }

private:
    static bool alive(detail::VirtualNode& n) {
        std::lock_guard lock(n.m);
        return n.core != nullptr;
    }
    // The running host behind a handle (a stopped host's handle may have been reused).
    std::shared_ptr<detail::VirtualNode> node_of(WSPHOST h) const {
        for (const auto& n : nodes_)
            if (h != nullptr && n->host == h && alive(*n))
                return n;
        return nullptr;
    }
    void set_now(Instant t) {
        if (t > now())
            clock_us_.store(to_us(t), std::memory_order_release);
    }
    // Move to `next` (a deadline); counts passes that find it not ahead of now (a host that
    // keeps asking for a time it does not clear) and fails after many.
    bool to_deadline(Instant next, int& stuck) {
        if (next > now()) {
            set_now(next);
            stuck = 0;
            return true;
        }
        if (++stuck <= 1000)
            return true;
        fail_("a host keeps asking for a deadline at or before now that service() does not clear");
        return false;
    }
    enum class Walk {
        done,   // done() holds
        idle,   // no host has a deadline left (the clock stays where the last one was)
        bound,  // the next deadline lies beyond `end`: the clock is at `end`, the link run
        stuck,  // a host keeps asking for a deadline that does not move (reported)
    };
    // run(); then, until done() holds, move to each next deadline up to `end` and run() there.
    template <class Done>
    Walk walk(Instant end, Done&& done) {
        run();
        int stuck = 0;
        for (;;) {
            if (done())
                return Walk::done;
            const std::optional<Instant> next = next_deadline();
            if (!next)
                return Walk::idle;
            if (*next > end) {
                set_now(end);
                run();
                return Walk::bound;
            }
            if (!to_deadline(*next, stuck))
                return Walk::stuck;
            run();
        }
    }
    double draw() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

    std::optional<std::size_t> route(std::size_t from, const Packet& p) const {
        if (p.size() >= 20) {
            const Ipv4Addr dst = (Ipv4Addr{std::to_integer<std::uint8_t>(p[16])} << 24) |
                                 (Ipv4Addr{std::to_integer<std::uint8_t>(p[17])} << 16) |
                                 (Ipv4Addr{std::to_integer<std::uint8_t>(p[18])} << 8) |
                                 Ipv4Addr{std::to_integer<std::uint8_t>(p[19])};
            for (std::size_t j = 0; j < nodes_.size(); ++j)
                if (nodes_[j]->options.stack.addr == dst)
                    return j;
        }
        if (nodes_.size() == 2)
            return 1 - from;
        return std::nullopt;
    }

    void deliver(std::size_t from, const std::vector<Packet>& batch, Instant t) {
        std::vector<std::vector<RxPacket>> to(nodes_.size());
        for (const Packet& p : batch) {
            if (params_.loss > 0 && draw() < params_.loss) {
                ++stats_.lost;
                continue;
            }
            int copies = 1;
            if (params_.duplicate > 0 && draw() < params_.duplicate) {
                copies = 2;
                ++stats_.duplicated;
            }
            const std::optional<std::size_t> j = route(from, p);
            if (!j) {
                ++stats_.unrouted;
                continue;
            }
            for (int c = 0; c < copies; ++c) to[*j].push_back(RxPacket{p, false});
        }
        for (std::size_t j = 0; j < nodes_.size(); ++j) {
            if (to[j].empty())
                continue;
            detail::VirtualNode& n = *nodes_[j];
            std::lock_guard lock(n.m);
            if (n.core == nullptr) {
                stats_.undeliverable += to[j].size();
                continue;
            }
            if (n.device_down) {
                stats_.lost += to[j].size();
                continue;
            }
            n.core->on_packets(to[j], t);
            stats_.delivered += to[j].size();
        }
    }

    // Run `job` on the helper thread; pump until it returns. Virtual time advances only while
    // may_advance() and never past `bound`: a job still waiting once the next deadline lies
    // beyond it gets kFrozenGuard of wall time to return (it may have just been woken), then the
    // process ends -- its thread cannot be abandoned.
    void pump_while(std::function<void()> job, const std::function<bool()>& may_advance,
                    Instant bound, const std::string& what) {
        auto done = std::make_shared<std::atomic<bool>>(false);
        detail::Signal& sig = signal_;
        detail::BlockingWorker::instance().post([job = std::move(job), done, &sig] {
            job();
            done->store(true, std::memory_order_release);
            sig.notify();
        });
        auto wall_end = std::chrono::steady_clock::now() + kHangGuard;
        bool frozen = false;
        int stuck = 0;
        detail::BlockingWorker& worker = detail::BlockingWorker::instance();
        for (;;) {
            const std::uint64_t gen = signal_.generation();
            if (done->load(std::memory_order_acquire))
                break;
            if (step())
                continue;
            if (std::chrono::steady_clock::now() > wall_end)
                hang(what, frozen);
            // The call is running (it was just woken, or has not got to its wait yet): let it
            // return or block again before time moves on.
            if (!worker.asleep()) {
                std::this_thread::yield();
                continue;
            }
            // A host woken since its last pass (the call did something just now) has a stale
            // timer: service it before time moves on or the call is judged frozen.
            if (woken_since_service()) {
                continue;
            }
            if (!frozen && may_advance()) {
                const std::optional<Instant> next = next_deadline();
                if (next && *next <= bound) {
                    if (*next > now()) {
                        set_now(*next);
                        stuck = 0;
                        continue;
                    }
                    if (++stuck <= 1000)
                        continue;
                }
                if (next && *next > bound) {
                    frozen = true;
                    wall_end = std::min(wall_end, std::chrono::steady_clock::now() + kFrozenGuard);
                }
            }
            if (!signal_.wait_changed(gen, wall_end))
                hang(what, frozen);
        }
        run();
    }

    bool woken_since_service() {
        for (auto& n : nodes_) {
            std::lock_guard lock(n->m);
            if (n->core != nullptr &&
                n->wakes.load(std::memory_order_acquire) != n->wakes_at_service)
                return true;
        }
        return false;
    }

    [[noreturn]] static void hang(const std::string& what, bool frozen) {
        std::fprintf(stderr, "VirtualHosts: %s %s\n", what.c_str(),
                     frozen ? "was still waiting when virtual time reached its bound"
                            : "still running after the wall-time hang guard");
        std::fflush(stderr);
        std::abort();  // (a fuzzer saves the input that hung)
    }

    VirtualLinkParams params_;
    std::mt19937_64 rng_;
    FailFn fail_;
    BatchFilter filter_;
    VirtualLinkStats stats_;
    std::atomic<std::int64_t> clock_us_{0};
    detail::Signal signal_;
    std::vector<std::shared_ptr<detail::VirtualNode>> nodes_;
};

}  // namespace ustack::test
