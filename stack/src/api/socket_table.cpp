// The socket table and the process's host table: see socket_table.hpp.
#include "socket_table.hpp"

#include <algorithm>
#include <array>

#include "host.hpp"

namespace ustack {

// ---- handles ----------------------------------------------------------------------------------

namespace {

constexpr unsigned kSlotBits = 20;
constexpr unsigned kSlotGenBits = 20;
constexpr unsigned kHostGenBits = 16;
constexpr std::uint64_t kSlotMask = (1ULL << kSlotBits) - 1;
constexpr std::uint64_t kSlotGenMask = (1ULL << kSlotGenBits) - 1;
constexpr std::uint32_t kHostGenMask = (1U << kHostGenBits) - 1;
static_assert(sizeof(SOCKET) == 8, "handles pack a host and a slot into 64 bits");
static_assert(SocketTable::kMaxSockets <= kSlotMask);

// The next generation after `g` within `mask` bits, skipping 0 (never valid).
std::uint32_t next_generation(std::uint32_t g, std::uint32_t mask) {
    g = (g + 1) & mask;
    return g == 0 ? 1 : g;
}

struct HostSlot {
    Host* host = nullptr;
    std::uint32_t generation = 1;
};
std::array<HostSlot, kMaxHosts>& host_slots() {
    static std::array<HostSlot, kMaxHosts> slots;
    return slots;
}

}  // namespace

std::uint32_t register_host(Host* host) {
    auto& slots = host_slots();
    for (std::uint32_t i = 0; i < slots.size(); ++i) {
        if (slots[i].host == nullptr) {
            slots[i].host = host;
            return (slots[i].generation << 8) | i;
        }
    }
    return 0;
}

void unregister_host(std::uint32_t key) {
    auto& slots = host_slots();
    const std::uint32_t i = key & 0xff;
    if (i < slots.size() && slots[i].generation == (key >> 8)) {
        slots[i].host = nullptr;
        slots[i].generation = next_generation(slots[i].generation, kHostGenMask);
    }
}

Host* find_host(std::uint32_t key) {
    auto& slots = host_slots();
    const std::uint32_t i = key & 0xff;
    if (i >= slots.size() || slots[i].host == nullptr || slots[i].generation != (key >> 8)) {
        return nullptr;
    }
    return slots[i].host;
}

Host* host_at(std::uint32_t index) {
    return index < host_slots().size() ? host_slots()[index].host : nullptr;
}

Host* find_host(WSPHOST h) {
    if (h == nullptr) {
        return nullptr;
    }
    for (auto& slot : host_slots()) {
        if (slot.host != nullptr && slot.host->handle() == h) {
            return slot.host;
        }
    }
    return nullptr;
}

SOCKET make_handle(std::uint32_t host_key, SocketId id) {
    return (static_cast<SOCKET>(host_key) << (kSlotBits + kSlotGenBits)) |
           (static_cast<SOCKET>(id.generation & kSlotGenMask) << kSlotBits) | id.index;
}

SocketRef find_socket(SOCKET s) {
    const auto host_key = static_cast<std::uint32_t>(s >> (kSlotBits + kSlotGenBits));
    Host* h = find_host(host_key);
    if (h == nullptr) {
        return {};
    }
    const SocketId id{static_cast<std::uint32_t>(s & kSlotMask),
                      static_cast<std::uint32_t>((s >> kSlotBits) & kSlotGenMask)};
    Socket* sock = h->sockets().find(id);
    return sock != nullptr ? SocketRef{h, sock} : SocketRef{};
}

// ---- the socket table -------------------------------------------------------------------------

Socket* SocketTable::create(std::uint32_t host_key) {
    std::uint32_t index = 0;
    if (!free_.empty()) {
        index = free_.front();
        free_.pop_front();
    } else if (slots_.size() < kMaxSockets) {
        index = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
        slots_.back().waiter.host = host_;
    } else {
        return nullptr;
    }
    Slot& slot = slots_[index];
    slot.socket.emplace();
    slot.socket->id = {index, slot.generation};
    slot.socket->handle = make_handle(host_key, slot.socket->id);
    ++live_;
    return &*slot.socket;
}

Socket* SocketTable::find(SocketId id) {
    if (id.index >= slots_.size()) {
        return nullptr;
    }
    Slot& slot = slots_[id.index];
    return slot.socket && slot.generation == id.generation ? &*slot.socket : nullptr;
}

const Socket* SocketTable::find(SocketId id) const {
    return const_cast<SocketTable*>(this)->find(id);
}

void SocketTable::erase(SocketId id) {
    Slot& slot = slots_[id.index];
    if (!slot.socket || slot.generation != id.generation) {
        return;
    }
    slot.socket.reset();
    slot.generation = next_generation(slot.generation, static_cast<std::uint32_t>(kSlotGenMask));
    free_.push_back(id.index);
    --live_;
}

int SocketTable::blocked() const {
    int n = 0;
    for (const auto& slot : slots_) {
        n += slot.waiter.waiters;
    }
    return n;
}

Socket* SocketTable::by_conn(ConnId c) {
    auto it = by_conn_.find(c.key());
    return it == by_conn_.end() ? nullptr : find(it->second);
}

Socket* SocketTable::by_listener(ListenerId l) {
    auto it = by_listener_.find(l.key());
    return it == by_listener_.end() ? nullptr : find(it->second);
}

namespace {
// Does this released connection still owe its FIN (or the disconnect data on it)?
bool owes_fin(const Connection* c) {
    if (c == nullptr) {
        return false;
    }
    switch (c->state()) {
        case TcpState::closed:
        case TcpState::fin_wait_2:  // our FIN (and its disconnect data) was acknowledged
        case TcpState::time_wait: return false;
        default: return true;
    }
}
}  // namespace

void SocketTable::note_released(const Stack& stack, std::uint16_t local_port, Endpoint remote) {
    released_.emplace_back(local_port, remote);
    if (released_.size() < released_prune_at_) {
        return;
    }
    std::erase_if(released_,
                  [&](const auto& r) { return !owes_fin(stack.lookup(r.first, r.second)); });
    released_prune_at_ = std::max<std::size_t>(1024, 2 * released_.size());
}

bool SocketTable::orphans_pending(const Stack& stack) const {
    return std::any_of(released_.begin(), released_.end(),
                       [&](const auto& r) { return owes_fin(stack.lookup(r.first, r.second)); });
}

}  // namespace ustack
