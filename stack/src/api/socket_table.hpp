// The socket table: every socket of one host, in generation-checked slots (as the engine's
// ConnId), and the look-ups the WSP layer needs -- by connection, by listener, ports bound but
// not yet used, connections released while they may still owe a FIN. Plus the process-wide
// table of hosts and the SOCKET handle that names a host and a slot.
//
// Handles (SOCKET, 64 bits): | host index 8 | host generation 16 | slot generation 20 |
// slot index 20 |. Generation 0 is never valid, so 0, small integers and INVALID_SOCKET never
// name a socket. A closed socket's slot is reused as late as possible (FIFO free list) and with
// the next generation, so a closed handle fails WSAENOTSOCK until its slot has been reused
// 2^20 - 1 times (DESIGN.md §4: "handles are not reused soon").
//
// Bounds (README "Limits"): kMaxSockets per host (WSPSocket / WSPAccept then fail WSAEMFILE),
// kMaxHosts hosts at once (WSPStartup fails WSAENOBUFS).
//
// Everything here is under the API lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "blocking.hpp"
#include "socket.hpp"
#include "ustack/stack.hpp"
#include "ustack/wsp.h"

namespace ustack {

class Host;

class SocketTable {
public:
    static constexpr std::uint32_t kMaxSockets = (1U << 20) - 1;  // slot indices 0 .. 2^20-2

    explicit SocketTable(const Host* host) : host_(host) {}
    SocketTable(const SocketTable&) = delete;
    SocketTable& operator=(const SocketTable&) = delete;

    // A new fresh socket; nullptr when the table is full (Errc::too_many_sockets).
    Socket* create(std::uint32_t host_key);
    // The socket in slot `id`, or nullptr if that slot was freed since (or never held it).
    [[nodiscard]] Socket* find(SocketId id);
    [[nodiscard]] const Socket* find(SocketId id) const;
    // Free the slot (the socket must have dropped its connection and listener first).
    void erase(SocketId id);
    // Where blocked callers of the socket in slot `id` sleep (valid for the table's life).
    [[nodiscard]] Waiter& waiter(SocketId id) { return slots_[id.index].waiter; }
    // Threads blocked on any socket of this host.
    [[nodiscard]] int blocked() const;
    [[nodiscard]] std::size_t size() const { return live_; }

    // Every live socket (f(Socket&)); f may not create or erase sockets.
    template <class F>
    void for_each(F&& f) {
        for (auto& slot : slots_) {
            if (slot.socket) {
                f(*slot.socket);
            }
        }
    }

    // ---- look-ups ------------------------------------------------------------------------
    void attach(ConnId c, SocketId s) { by_conn_[c.key()] = s; }
    void detach(ConnId c) { by_conn_.erase(c.key()); }
    [[nodiscard]] Socket* by_conn(ConnId c);
    void attach(ListenerId l, SocketId s) { by_listener_[l.key()] = s; }
    void detach(ListenerId l) { by_listener_.erase(l.key()); }
    [[nodiscard]] Socket* by_listener(ListenerId l);

    // Ports bound by WSPBind that no listener or connection holds yet (the Stack knows those).
    [[nodiscard]] bool port_reserved(std::uint16_t p) const { return bound_ports_.count(p) != 0; }
    void reserve_port(std::uint16_t p) {
        if (p != 0) {
            bound_ports_.insert(p);
        }
    }
    void unreserve_port(std::uint16_t p) { bound_ports_.erase(p); }

    // A connection the application released while it was not CLOSED (its graceful close may
    // still owe a FIN and disconnect data: WSPCleanup waits for those).
    void note_released(const Stack& stack, std::uint16_t local_port, Endpoint remote);
    [[nodiscard]] bool orphans_pending(const Stack& stack) const;

private:
    struct Slot {
        std::optional<Socket> socket;
        std::uint32_t generation = 1;  // of the socket in it, or of the next one
        Waiter waiter;
    };
    const Host* host_;
    std::deque<Slot> slots_;          // a deque: slots (and their waiters) never move
    std::deque<std::uint32_t> free_;  // FIFO: a freed slot is reused as late as possible
    std::size_t live_ = 0;
    std::unordered_map<std::uint64_t, SocketId> by_conn_;      // ConnId::key()
    std::unordered_map<std::uint64_t, SocketId> by_listener_;  // ListenerId::key()
    std::unordered_set<std::uint16_t> bound_ports_;
    // Released 4-tuples; pruned (amortized) when the list doubles, so a long-running host's
    // list stays bounded by the connections still closing.
    std::vector<std::pair<std::uint16_t, Endpoint>> released_;
    std::size_t released_prune_at_ = 1024;
};

// ---- hosts and handles (process-wide) ----------------------------------------------------------

inline constexpr std::uint32_t kMaxHosts = 255;

// Register a host; returns its key (index | generation << 8), or 0 when kMaxHosts are running.
std::uint32_t register_host(Host* host);
void unregister_host(std::uint32_t key);
// The running host with this key, or nullptr.
[[nodiscard]] Host* find_host(std::uint32_t key);
// The running host in slot `index` of the table, or nullptr.
[[nodiscard]] Host* host_at(std::uint32_t index);
// The running host behind a WSPHOST, or nullptr.
[[nodiscard]] Host* find_host(WSPHOST h);

// Every running host (f(Host&)).
template <class F>
void for_each_host(F&& f);

[[nodiscard]] SOCKET make_handle(std::uint32_t host_key, SocketId id);

// What a SOCKET names, if it names an open socket.
struct SocketRef {
    Host* host = nullptr;
    Socket* socket = nullptr;
    explicit operator bool() const { return socket != nullptr; }
};
[[nodiscard]] SocketRef find_socket(SOCKET s);

template <class F>
void for_each_host(F&& f) {
    for (std::uint32_t i = 0; i < kMaxHosts; ++i) {
        if (Host* h = host_at(i)) {
            f(*h);
        }
    }
}

}  // namespace ustack
