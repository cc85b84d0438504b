// StateLogWriter: see state_log_writer.hpp.
#include "ustack/state_log_writer.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ustack {

StateLogWriter::StateLogWriter(const std::string& path)
    : path_(path), file_(std::fopen(path.c_str(), "w")) {
    if (file_ == nullptr) {
        throw std::runtime_error("cannot create state log \"" + path +
                                 "\": " + std::strerror(errno));
    }
}

StateLogWriter::~StateLogWriter() {
    std::fclose(file_);
}

void StateLogWriter::write_header(const std::string& addr,
                                  std::chrono::system_clock::time_point epoch) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(epoch.time_since_epoch()).count();
    write({"{\"type\":\"host\",\"addr\":\"" + addr + "\",\"wall_us\":" + std::to_string(us) +
           ",\"version\":1}"});
}

void StateLogWriter::write(const std::vector<std::string>& lines) {
    for (const std::string& l : lines) {
        if (std::fwrite(l.data(), 1, l.size(), file_) != l.size() ||
            std::fputc('\n', file_) == EOF) {
            ++errors_;
        } else {
            ++written_;
        }
    }
}

}  // namespace ustack
