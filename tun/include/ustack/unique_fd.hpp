// UniqueFd: the sole owner of a POSIX file descriptor (move-only; closes in its destructor).
//
// Hand the descriptor on with release() -- e.g. to boost::asio::posix::stream_descriptor, which
// then becomes its single owner (STYLE.md §5 "RAII and ownership").
#pragma once

#include <unistd.h>

#include <utility>

namespace ustack {

class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    ~UniqueFd() { reset(); }

    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other)
            reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }

    // Give up ownership without closing; the caller now owns the returned descriptor.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

    // Close the current descriptor (if any) and own `fd` instead.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0)
            ::close(fd_);  // close() errors are not actionable for a TUN fd
        fd_ = fd;
    }

private:
    int fd_ = -1;  // -1: owns nothing
};

}  // namespace ustack
