// Connect data and conditional accept over the engine (see connect_data.hpp): Stack::connect's
// caller data, Stack::listen's conditional listeners and their held requests, and
// Connection::peer_connect_data.
#include "connect_data.hpp"

#include "host.hpp"

namespace ustack {

std::size_t connect_data_limit(const Host& h, bool message) {
    return h.stack().connect_data_limit(message);
}

bool has_connect_data(const Host& h) {
    return connect_data_limit(h, false) > 0;
}

Result<ConnId> open_connection(Host& h, Endpoint remote, std::uint16_t local_port,
                               BufferSizes sizes, bool message, std::span<const std::byte> caller) {
    return h.stack().connect(remote, h.now(), local_port, sizes, message, caller);
}

Result<ListenerId> open_listener(Host& h, std::uint16_t port, std::size_t backlog,
                                 BufferSizes sizes, bool message, bool conditional) {
    return h.stack().listen(port, backlog, sizes, message, conditional);
}

std::span<const std::byte> peer_connect_data(const Connection& c) {
    return c.peer_connect_data();
}

std::optional<PendingRequest> front_request(const Host& h, ListenerId l) {
    const std::optional<HeldRequest> r = h.stack().front_request(l);
    if (!r) {
        return std::nullopt;
    }
    return PendingRequest{r->remote, r->caller_data, r->since};
}

std::size_t held_requests(const Host& h, ListenerId l) {
    return h.stack().held_requests(l);
}

Errc decide_front(Host& h, ListenerId l, bool accept, std::span<const std::byte> callee) {
    return h.stack().decide_front(l, accept ? Verdict::accept : Verdict::reject, callee, h.now());
}

}  // namespace ustack
