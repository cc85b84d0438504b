// Message-oriented sockets (SOCK_SEQPACKET, DESIGN.md §3b): what a message socket's calls do
// differently from a stream's, over the framing of message_framing.hpp.
//
//   WSPSend   the gathered buffers are one message: whole or not at all (over the bound:
//             msg_size, nothing sent; no room for all of it: would_block when non-blocking,
//             else wait for room)
//   WSPRecv   one message at most, and only once it arrived whole; a smaller buffer gets what
//             fits with MSG_PARTIAL, the rest on the next calls; the peer's graceful end reads
//             as WSAEDISCON, on every later call too ([S7]: "For message-oriented sockets ...
//             WSAEDISCON is used to indicate graceful closure")
//   framing   a message over the bound, or the peer's FIN inside a message: we reset the
//             connection (counted: Host::count_framing_error), the calls report aborted
//   FIONREAD  the size of the first whole message (Winsock: "the size of the first datagram
//             (message) queued on the socket"), 0 if none
//
// The socket room (socket.cpp) calls these for sockets with Socket::message set. Under the API
// lock.
#pragma once

#include <cstddef>
#include <span>

#include "socket.hpp"

namespace ustack {

Errc send_message(Host& h, ApiLock& lock, SocketId id, std::span<const WSABUF> bufs,
                  std::size_t* sent);
Errc recv_message(Host& h, ApiLock& lock, SocketId id, std::span<const WSABUF> bufs,
                  std::size_t* received, bool* partial);

// After new data or the peer's FIN: reset the connection if the peer broke the framing.
void check_framing(Host& h, Socket& s);
// Would WSPRecv return now (a whole message, a framing error or the end to report)?
[[nodiscard]] bool message_ready(const Host& h, const Socket& s);
// FIONREAD of a message socket.
[[nodiscard]] std::size_t first_message_size(const Host& h, const Socket& s);

}  // namespace ustack
