// Network events: the FD_* record of one socket and Winsock's rules for it (SEMANTICS.md §1.8,
// §1.9; [S8] LPWSPASYNCSELECT, [S9] LPWSPEVENTSELECT, [S10] WSAEventSelect, [S11]
// WSAEnumNetworkEvents), the event objects (WSA*Event), and what WSPSelect reports. The calls
// themselves (WSPEventSelect, WSPEnumNetworkEvents, WSPSelect, WSACreateEvent & co.,
// WSAWaitForMultipleEvents) are in network_events.cpp.
//
// The rules, once:
//   FD_READ    data to read (receive not shut); re-enabled by any WSPRecv, even a failing one;
//              level-triggered: recorded again at re-enabling if data is still there.
//   FD_WRITE   at connect / accept completion, then only after a send failed WSAEWOULDBLOCK
//              and space freed (re-enabled by that send).
//   FD_ACCEPT  a connection (or, with SO_CONDITIONAL_ACCEPT, a held request) waits for
//              WSPAccept; re-enabled by any WSPAccept but one that fails WSATRY_AGAIN (CF_DEFER),
//              level-triggered.
//   FD_CONNECT once per connect attempt, when its outcome is known, with its error.
//   FD_CLOSE   once per selection: on the peer's FIN after every received byte was read (error
//              0; no FD_READ for the FIN itself), or with the error of a reset / local abort;
//              a new WSPEventSelect on a connection that has closed records it again at once.
//   A new WSPEventSelect replaces the registration and clears the record, forces non-blocking
//   mode, and records at once what already holds. Accepted sockets inherit the listener's
//   registration. WSPEnumNetworkEvents copies and clears the record and resets the event
//   object, all or nothing; iErrorCode is written only at reported bits.
// Under the API lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "ustack/connection.hpp"
#include "ustack/wsp.h"

// An event object (WSAEVENT): manual reset.
struct ustack_event {
    bool signaled = false;
    // The host of the socket that selected it last (0: none): its clock times out a
    // WSAWaitForMultipleEvents on this event (blocking.hpp).
    std::uint32_t host_key = 0;
};

namespace ustack {

// What a socket's state offers the rules, gathered by the socket room (socket.cpp).
struct SocketConditions {
    bool listening = false;
    std::size_t accept_queue = 0;  // listening: connections waiting for WSPAccept
    bool connecting = false;       // a connect attempt whose outcome is not known yet
    bool connected = false;        // reached ESTABLISHED at least once (connect or accept)
    int connect_error = 0;         // WSAE* code of the last attempt's failure, 0 if none
    bool has_conn = false;         // the fields below describe a connection
    bool data_ready = false;       // WSPRecv would return data (a message socket: a whole
                                   // message, or a framing error to report)
    std::size_t recv_available = 0;
    bool recv_shut = false;
    bool at_eof = false;       // the peer's FIN arrived and every byte before it was read
    bool closed = false;       // the connection reached CLOSED
    int hard_close_error = 0;  // CLOSED by a reset or abort: the WSAE* code FD_CLOSE reports
    std::size_t send_space = 0;
};

class NetworkEvents {
public:
    // WSPEventSelect(e, mask). `c` is the socket's state now (what already holds is recorded).
    void select(WSAEVENT e, long mask, const SocketConditions& c);
    // A socket accepted on a listener with this registration (SEMANTICS checklist 54).
    void inherit(const NetworkEvents& listener);
    // Re-enabling functions and the transitions that arm events.
    void on_recv_call() { read_enabled_ = true; }
    void on_accept_call() { accept_enabled_ = true; }
    void on_send_call() { write_enabled_ = false; }
    void on_send_would_block() { write_enabled_ = true; }
    void on_connect_started() { connect_reported_ = false; }
    void on_connected() { write_enabled_ = true; }
    // Record what `c` satisfies now under the rules above; signals the event object if anything
    // new was recorded.
    void update(const SocketConditions& c);
    // WSPEnumNetworkEvents: copy the record into `out` and clear it.
    void take(WSANETWORKEVENTS& out);

    [[nodiscard]] long mask() const { return mask_; }
    // FD_CLOSE has been recorded under this selection (it is, once).
    [[nodiscard]] bool close_reported() const { return close_reported_; }
    [[nodiscard]] WSAEVENT event() const { return event_; }
    // The event object was closed (WSACloseEvent).
    void forget(WSAEVENT e) {
        if (event_ == e) {
            event_ = nullptr;
        }
    }

private:
    WSAEVENT event_ = nullptr;
    long mask_ = 0;
    long record_ = 0;
    std::array<int, FD_MAX_EVENTS> errors_{};
    bool read_enabled_ = true;
    bool accept_enabled_ = true;
    bool write_enabled_ = false;
    bool connect_reported_ = true;  // no attempt yet
    bool close_reported_ = false;
};

// WSPSelect's three conditions.
[[nodiscard]] bool select_readable(const SocketConditions& c);
[[nodiscard]] bool select_writable(const SocketConditions& c);
[[nodiscard]] bool select_excepted(const SocketConditions& c);

// Signal an event object if it is still open (under the lock).
void signal_event(WSAEVENT e);
// Is `e` an open event object?
[[nodiscard]] bool event_open(WSAEVENT e);

}  // namespace ustack
