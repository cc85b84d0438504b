// Engine-level results for application calls. The WSP layer maps these to WSAE* codes in one
// table; nothing below it knows Winsock numbers.
#pragma once

#include <cstdint>
#include <string_view>

namespace ustack {

enum class Errc : std::uint8_t {
    ok = 0,
    would_block,        // nothing could be done now; try again after an event
    not_connected,      // no connection (never opened, or opening not finished where required)
    already_connected,  // open on a connection that is already open
    in_progress,        // an open is already under way
    shutdown,           // that direction was shut down by the application
    closing,            // RFC 9293 "error: connection closing"
    reset,              // the peer reset the connection
    aborted,            // we aborted it (local abort, unread data at close, ...)
    timed_out,          // retransmissions or the user timeout gave up
    net_reset,          // keep-alive found the peer gone (RFC 1122 §4.2.3.6)
    net_down,           // the host's device is gone (Stack::network_down)
    refused,            // the peer answered our SYN with RST
    msg_size,           // disconnect data longer than the connection's limit
    no_proto_opt,       // disconnect data on a connection that did not negotiate it
    invalid_argument,
    addr_in_use,
    addr_not_available,
    no_buffers,  // a bounded table is full
    not_listening,
    // WSP layer outcomes (stack/src/api; the engine never returns these).
    interrupted,       // the socket was closed while the call was blocked on it
    too_many_sockets,  // the host's socket table is full
    buffer_too_small,  // the caller's buffer cannot hold what is to be returned
    disconnected,      // a message-oriented socket's peer ended gracefully, every message read
    try_again,         // WSPAccept's condition function deferred its decision (CF_DEFER)
    callback_running,  // WSPAccept's condition function is running on this listener now
    withdrawn,         // the connection request WSPAccept offered timed out or was withdrawn
};

constexpr std::string_view to_string(Errc e) {
    switch (e) {
        case Errc::ok: return "ok";
        case Errc::would_block: return "would_block";
        case Errc::not_connected: return "not_connected";
        case Errc::already_connected: return "already_connected";
        case Errc::in_progress: return "in_progress";
        case Errc::shutdown: return "shutdown";
        case Errc::closing: return "closing";
        case Errc::reset: return "reset";
        case Errc::aborted: return "aborted";
        case Errc::timed_out: return "timed_out";
        case Errc::net_reset: return "net_reset";
        case Errc::net_down: return "net_down";
        case Errc::refused: return "refused";
        case Errc::msg_size: return "msg_size";
        case Errc::no_proto_opt: return "no_proto_opt";
        case Errc::invalid_argument: return "invalid_argument";
        case Errc::addr_in_use: return "addr_in_use";
        case Errc::addr_not_available: return "addr_not_available";
        case Errc::no_buffers: return "no_buffers";
        case Errc::not_listening: return "not_listening";
        case Errc::interrupted: return "interrupted";
        case Errc::too_many_sockets: return "too_many_sockets";
        case Errc::buffer_too_small: return "buffer_too_small";
        case Errc::disconnected: return "disconnected";
        case Errc::try_again: return "try_again";
        case Errc::callback_running: return "callback_running";
        case Errc::withdrawn: return "withdrawn";
    }
    return "?";
}

// A value or an error. Small on purpose (std::expected is C++23).
template <class T>
struct [[nodiscard]] Result {
    T value{};
    Errc error = Errc::ok;

    Result(T v) : value(v) {}     // NOLINT(google-explicit-constructor): implicit success
    Result(Errc e) : error(e) {}  // NOLINT(google-explicit-constructor): implicit failure
    [[nodiscard]] bool ok() const { return error == Errc::ok; }
    explicit operator bool() const { return ok(); }
};

}  // namespace ustack
