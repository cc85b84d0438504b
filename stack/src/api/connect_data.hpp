// Connect data and conditional accept (DESIGN.md §3c): what the WSP layer asks of the engine for
// them, in one place. Caller data rides on our SYN's disconnect-data offer and comes back to
// the listener as the SYN's; callee data rides on the SYN-ACK's echo. A listener with
// SO_CONDITIONAL_ACCEPT holds each SYN unanswered (a "held request") until WSPAccept's condition
// function decides on it: CF_ACCEPT sends the SYN-ACK with the callee data, CF_REJECT a RST.
//
// The calls' rules (which WSAE* code when) are the socket room's (socket.cpp) and the facade's
// (wsp.cpp); this room only reaches the Stack and the Connection.
//
// Under the API lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "ustack/connection.hpp"
#include "ustack/errc.hpp"
#include "ustack/stack.hpp"
#include "ustack/time.hpp"

namespace ustack {

class Host;

// The most caller data a SYN of a stream (message == false) or message-mode socket can carry,
// which is also the most callee data its SYN-ACK can carry: 16 bytes, 12 with the message-mode
// option (DESIGN.md §3c); 0 when the host does not offer the disconnect-data option.
[[nodiscard]] std::size_t connect_data_limit(const Host& h, bool message);
// Does the host carry connect data at all (XP1_CONNECT_DATA)?
[[nodiscard]] bool has_connect_data(const Host& h);

// Stack::connect with `caller` on the SYN (empty: the plain offer, or none without the
// extension). Errors: Stack::connect's, msg_size (longer than connect_data_limit),
// no_proto_opt (caller data on a host without the extension).
[[nodiscard]] Result<ConnId> open_connection(Host& h, Endpoint remote, std::uint16_t local_port,
                                             BufferSizes sizes, bool message,
                                             std::span<const std::byte> caller);
// Stack::listen, holding SYNs for WSPAccept's verdict when `conditional`.
[[nodiscard]] Result<ListenerId> open_listener(Host& h, std::uint16_t port, std::size_t backlog,
                                               BufferSizes sizes, bool message, bool conditional);

// The peer's connect data on a connection: a passive one's SYN's caller data, an active one's
// SYN-ACK's callee data (empty if none).
[[nodiscard]] std::span<const std::byte> peer_connect_data(const Connection& c);

// ---- a conditional listener's held requests ---------------------------------------------------

// The request at the head of a conditional listener's queue: a SYN nobody has decided on.
// `caller_data` stays valid until the next engine input or decision (copy it before the lock
// is released).
struct PendingRequest {
    Endpoint remote;
    std::span<const std::byte> caller_data;
    Instant since{};  // when its SYN arrived (with `remote`, which request this is)
    [[nodiscard]] bool same(const PendingRequest& o) const {
        return remote == o.remote && since == o.since;
    }
};
[[nodiscard]] std::optional<PendingRequest> front_request(const Host& h, ListenerId l);
// Requests waiting for a verdict (0 for a listener without SO_CONDITIONAL_ACCEPT).
[[nodiscard]] std::size_t held_requests(const Host& h, ListenerId l);
// The verdict on the head request: accept answers its SYN with a SYN-ACK carrying `callee`
// (the connection joins the accept queue once ESTABLISHED), reject with a RST.
// Errors (the request stays held): invalid_argument (stale listener), would_block (no request
// held), no_proto_opt (callee data, but the SYN made no offer to echo it on), msg_size (callee
// data longer than the SYN-ACK can carry), no_buffers (the host's connections are all used).
[[nodiscard]] Errc decide_front(Host& h, ListenerId l, bool accept,
                                std::span<const std::byte> callee);

}  // namespace ustack
