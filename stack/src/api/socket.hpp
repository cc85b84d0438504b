// A WSP socket and its lifecycle: binding, listening, accepting, connecting, sending and
// receiving, shutdown, disconnect data and close with SO_LINGER -- Winsock's connection model
// (SEMANTICS.md §1.1-§1.7, §1.10; DESIGN.md §4) over the engine's Stack and Connection.
//
// The operations below are what the WSP calls (wsp.cpp, the facade) do once they have checked
// the handle and their arguments. Each returns an engine-style Errc (mapped to WSAE* once, in
// wsa_errors.cpp) and checks only what the engine cannot know (the socket's own state); rules
// of TCP itself are the Connection's. Blocking operations take the socket's SocketId, not a
// reference: the socket may be closed (and its slot freed) while they sleep -- they then fail
// Errc::interrupted and touch nothing of it.
//
// Under the API lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "blocking.hpp"
#include "message_framing.hpp"
#include "network_events.hpp"
#include "ustack/errc.hpp"
#include "ustack/stack.hpp"
#include "ustack/wsp.h"

namespace ustack {

class Host;

// A slot of a host's socket table (socket_table.hpp).
struct SocketId {
    std::uint32_t index = 0;
    std::uint32_t generation = 0;  // 0: never a valid socket
    bool operator==(const SocketId&) const = default;
};

struct Socket {
    enum class Kind : std::uint8_t { fresh, listening, connection };

    SocketId id;
    SOCKET handle = INVALID_SOCKET;
    Kind kind = Kind::fresh;
    // SOCK_SEQPACKET (DESIGN.md §3b): messages framed on the stream, read by `reader`; the
    // peer's graceful end reads as WSAEDISCON once every message is read (`ended`), for good.
    bool message = false;
    std::optional<MessageReader> reader;
    bool ended = false;

    // Addressing.
    bool bound = false;
    std::uint16_t bound_port = 0;        // WSPBind's port (0: ephemeral)
    std::optional<ConnId> conn;          // kind == connection
    std::optional<ListenerId> listener;  // kind == listening

    // Connection progress: `connecting` from WSPConnect until the outcome is known; then
    // `connect_error` holds ok or why the attempt failed.
    bool connecting = false;
    bool connected = false;  // reached ESTABLISHED at least once (connect or accept)
    Errc connect_error = Errc::ok;
    Errc last_error = Errc::ok;  // SO_ERROR

    // Connect data and conditional accept (DESIGN.md §3c).
    bool conditional_accept = false;  // SO_CONDITIONAL_ACCEPT (settable until WSPListen)
    // A listener: the connection WSPAccept took from the stack's accept queue to put before
    // the condition function, while it has no verdict (CF_DEFER): the head of the queue.
    std::optional<ConnId> deferred;
    bool deciding = false;  // a listener: a WSPAccept is running the condition function now
    // A listener with SO_CONDITIONAL_ACCEPT: the callers of connections that blocking
    // WSPAccepts admitted and now wait for: each such connection is for the call whose
    // condition function accepted it, and for no other.
    std::vector<Endpoint> claimed;
    // A connecting socket: WSPConnect's lpCalleeData, written when the connection completes;
    // `callee_too_small` if the callee data did not fit (nothing written).
    WSABUF* callee_out = nullptr;
    bool callee_too_small = false;

    // Options.
    bool nonblocking = false;
    LINGER linger{0, 0};
    bool nodelay = false;
    // SO_KEEPALIVE / SIO_KEEPALIVE_VALS: the connection probes an idle peer (RFC 1122
    // §4.2.3.6). A new socket starts with the host's (TcpConfig's keep-alive fields); an
    // accepted one with its listener's.
    struct KeepAlive {
        bool on = false;
        Duration idle{};
        Duration interval{};
    } keepalive;
    // SO_RCVTIMEO / SO_SNDTIMEO in ms (0: none): a blocking receive (send) that waits longer
    // fails timed_out (WSAETIMEDOUT); the socket stays usable.
    std::uint32_t recv_timeout_ms = 0;
    std::uint32_t send_timeout_ms = 0;
    BufferSizes buffers;  // SO_SNDBUF / SO_RCVBUF (0: the host's default)

    NetworkEvents events;
};

// ---- operations (socket.cpp) ------------------------------------------------------------------

// A new socket's options from the host's defaults (WSPSocket).
void init_socket(const Host& h, Socket& s);
// SO_KEEPALIVE / SIO_KEEPALIVE_VALS: store `k` and apply it to the socket's connection now.
void set_keepalive(Host& h, Socket& s, const Socket::KeepAlive& k);
// Where a blocking call with a `ms` time-out (SO_RCVTIMEO / SO_SNDTIMEO) gives up: none for 0.
[[nodiscard]] std::optional<Instant> call_deadline(const Host& h, std::uint32_t ms);

// WSPBind to `port` of the host's address (0: an ephemeral port chosen at listen / connect).
Errc bind_socket(Host& h, Socket& s, std::uint16_t port);
Errc listen_socket(Host& h, Socket& s, int backlog);
// ---- accepting (accept.cpp) -------------------------------------------------------------------

// WSPAccept's condition function and its dwCallbackData (fn nullptr: none).
struct AcceptCondition {
    LPCONDITIONPROC fn = nullptr;
    DWORD_PTR data = 0;
};
// Take the connection at the head of the listener's queue (blocking unless non-blocking) if
// `cond` accepts it; the new socket's handle in *out. *peer gets the caller of the request
// that was decided on, whatever the verdict (the SPI fills addr "regardless of whether the
// condition function is specified or what it returns"). Errors besides the queue's:
// refused (CF_REJECT), try_again (CF_DEFER), invalid_argument (another answer, or *g set),
// callback_running (a condition function runs on this listener now, and this call cannot wait
// for it: non-blocking, or its own), reset (the connection
// ended before it was accepted), withdrawn (a held request expired while it was decided on).
Errc accept_socket(Host& h, ApiLock& lock, SocketId listener, const AcceptCondition& cond,
                   SOCKET* out, std::optional<Endpoint>* peer);

// ---- operations (socket.cpp) ------------------------------------------------------------------

// Connect to `remote` with `caller` on the SYN (DESIGN.md §3c, Stack::connect); `callee` (nullptr:
// not wanted) gets the peer's callee data when the connection completes (buffer_too_small if it
// does not fit: the connection stands, SO_CONNDATA has the data).
Errc connect_socket(Host& h, ApiLock& lock, SocketId id, Endpoint remote,
                    std::span<const std::byte> caller, WSABUF* callee);
// Queue the bytes of `bufs` in order (blocking sockets wait for room until all are queued);
// *sent gets the count. A message socket sends them as one message, whole or not at all:
// msg_size over the bound, would_block (non-blocking) without room for all of it.
Errc send_socket(Host& h, ApiLock& lock, SocketId id, std::span<const WSABUF> bufs,
                 std::size_t* sent);
// Read into `bufs` in order (blocking sockets wait for one byte or the end); *received gets the
// count (0 at end of stream). A message socket reads one whole message at most, *partial set
// when it continues in the next call; the peer's graceful end is `disconnected`, and a peer
// that breaks the framing is reset (aborted).
Errc recv_socket(Host& h, ApiLock& lock, SocketId id, std::span<const WSABUF> bufs,
                 std::size_t* received, bool* partial);
Errc shutdown_socket(Host& h, Socket& s, int how);
// WSPSendDisconnect: SD_SEND with the FIN carrying `disc` (nullptr: none).
Errc send_disconnect(Host& h, Socket& s, const DisconnectData* disc);
// WSPRecvDisconnect: the peer's disconnect data into `buf` (its length set to the count), then
// receives are disabled.
Errc recv_disconnect(Host& h, Socket& s, WSABUF* buf);
// WSPCloseSocket, with SO_LINGER's three behaviours.
Errc close_socket(Host& h, ApiLock& lock, SocketId id);
// The socket leaves at once (WSPCleanup, destroy_host): graceful in the background, or a RST
// when `abortive`.
void close_now(Host& h, Socket& s, bool abortive);

// Bring the socket's connection progress up to date and record its network events (after an
// engine event or a call that changed it).
void settle(Host& h, Socket& s);
// What the socket's state offers network events and WSPSelect now.
[[nodiscard]] SocketConditions conditions(const Host& h, const Socket& s);
// A listener: what WSPAccept can decide on or take now -- the deferred head, the accept queue
// and (SO_CONDITIONAL_ACCEPT) the held requests (0 for other sockets).
[[nodiscard]] std::size_t accept_waiting(const Host& h, const Socket& s);
// A listener: how many blocked WSPAccepts can make progress now -- one per queued connection,
// and one more for a verdict (deferred head or held request) if no condition function runs;
// every one (SIZE_MAX) while some wait for the handshake of a connection they admitted.
[[nodiscard]] std::size_t accept_wakeups(const Host& h, const Socket& s);

// A message socket of host `h` (WSPSocket with SOCK_SEQPACKET): its buffers hold at least one
// whole message each (a message is sent whole or not at all, and read only once whole).
void make_message_socket(Host& h, Socket& s);

// SO_SNDBUF / SO_RCVBUF: the sizes as given are clamped to [kMinSocketBuffer, kMaxSocketBuffer]
// and applied to the socket's connection (Connection::set_send_buffer / set_recv_buffer: at once
// for the send side; a receive size set before the SYN also fixes the window scale), to the
// connections its listener opens from now on, or to the connection it will open.
inline constexpr std::uint32_t kMinSocketBuffer = 4096;      // two full segments and some
inline constexpr std::uint32_t kMaxSocketBuffer = 1U << 30;  // the largest window, RFC 7323 §2.3
void set_buffers(Host& h, Socket& s, BufferSizes sizes);
// The sizes in effect (the connection's, else the socket's, else the host's default).
[[nodiscard]] BufferSizes buffers_of(const Host& h, const Socket& s);

// Wait (a blocking call on socket `id`) until `ready` holds: ok; the socket was closed:
// interrupted; the host's clock passed `deadline`: timed_out (blocking.hpp).
Errc wait_on_socket(Host& h, ApiLock& lock, SocketId id, Condition ready,
                    std::optional<Instant> deadline = std::nullopt);

// XP1_* flags of the host's provider of stream (message == false) or message sockets.
[[nodiscard]] DWORD provider_flags(const Host& h, bool message);

// The connection behind the socket to act on (marks it touched: call Host::after_call), or
// nullptr.
[[nodiscard]] Connection* use_connection(Host& h, const Socket& s);
// The connection behind the socket, or nullptr.
[[nodiscard]] const Connection* connection_of(const Host& h, const Socket& s);

}  // namespace ustack
