// Watchdog: ends the process if a test outlives its budget -- a hang guard for a call that never
// returns (which would otherwise hang CI until ctest's own timeout, without saying where), never
// a timing assertion.
//
//   ustack::test::Watchdog w(std::chrono::seconds(60), "blocking close");
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace ustack::test {

class Watchdog {
public:
    explicit Watchdog(std::chrono::seconds budget, std::string what = "test")
        : what_(std::move(what)), thread_([this, budget] {
              std::unique_lock lock(m_);
              if (!cv_.wait_for(lock, budget, [this] { return done_; })) {
                  std::fprintf(stderr, "watchdog: %s still running after %llds\n", what_.c_str(),
                               static_cast<long long>(budget.count()));
                  std::fflush(stderr);
                  std::_Exit(124);
              }
          }) {}
    ~Watchdog() {
        {
            std::lock_guard lock(m_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

private:
    std::string what_;
    std::mutex m_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace ustack::test
