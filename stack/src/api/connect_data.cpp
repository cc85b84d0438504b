// Connect data and conditional accept over the engine (see connect_data.hpp).
#include "connect_data.hpp"

#include "host.hpp"

namespace ustack {

std::size_t connect_data_limit(const Host& /*h*/, bool /*message*/) {
    return 0;  // the engine carries no connect data yet
}

bool has_connect_data(const Host& h) {
    return connect_data_limit(h, false) > 0;
}

Result<ConnId> open_connection(Host& h, Endpoint remote, std::uint16_t local_port,
                               BufferSizes sizes, bool message, std::span<const std::byte> caller) {
    if (!caller.empty()) {
        return caller.size() > connect_data_limit(h, message) && has_connect_data(h)
                   ? Errc::msg_size
                   : Errc::no_proto_opt;
    }
    return h.stack().connect(remote, h.now(), local_port, sizes, message);
}

Result<ListenerId> open_listener(Host& h, std::uint16_t port, std::size_t backlog,
                                 BufferSizes sizes, bool message, bool /*conditional*/) {
    return h.stack().listen(port, backlog, sizes, message);
}

std::span<const std::byte> peer_connect_data(const Connection& /*c*/) {
    return {};
}

bool connect_data_refused(const Connection& /*c*/) {
    return false;
}

std::optional<PendingRequest> front_request(const Host& /*h*/, ListenerId /*l*/) {
    return std::nullopt;
}

std::size_t held_requests(const Host& /*h*/, ListenerId /*l*/) {
    return 0;
}

Errc decide_front(Host& /*h*/, ListenerId /*l*/, bool /*accept*/,
                  std::span<const std::byte> /*callee*/) {
    return Errc::invalid_argument;
}

}  // namespace ustack
