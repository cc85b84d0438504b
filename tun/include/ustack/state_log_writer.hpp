// StateLogWriter: the file of a host's state log (WSPHOSTCONFIG::state_log_path; the lines are
// the WSP layer's, stack/src/api/state_log.hpp). Its first line says whose log it is and how
// its clock relates to the pcap's wall clock:
//
//   {"type":"host","addr":"10.0.1.2","wall_us":1765094400123456,"version":1}
//
// and every later line's t_us is microseconds after wall_us (the host's Instant 0), so
// wall_us + t_us is on the clock of the host's pcap timestamps. Lines go through a stdio
// buffer: the file is complete once the writer is destroyed (WSPCleanup).
//
// Not thread-safe: one writer belongs to one host's engine thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ustack {

class StateLogWriter {
public:
    // Create (truncate) `path`. Throws std::runtime_error naming the path when it cannot.
    explicit StateLogWriter(const std::string& path);
    ~StateLogWriter();
    StateLogWriter(const StateLogWriter&) = delete;
    StateLogWriter& operator=(const StateLogWriter&) = delete;

    // The header line: the host's address and the wall-clock time of its Instant 0.
    void write_header(const std::string& addr, std::chrono::system_clock::time_point epoch);
    // Append the lines (each without its newline). Never throws; a failed write is counted.
    void write(const std::vector<std::string>& lines);

    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] std::uint64_t lines_written() const { return written_; }
    [[nodiscard]] std::uint64_t write_errors() const { return errors_; }

private:
    std::string path_;
    std::FILE* file_ = nullptr;
    std::uint64_t written_ = 0;
    std::uint64_t errors_ = 0;
};

}  // namespace ustack
