// The Python module `ustack._ustack`: pybind11 bindings over the C API of ustack/wsp.h only
// (libustack.so), never the engine's internals.
//
// Rules every binding follows (python/README.md):
//   - A WSP call that can block runs with the GIL released (py::gil_scoped_release) and touches
//     no Python object meanwhile: arguments are converted to C values first, results to Python
//     objects after the GIL is back.
//   - Every SOCKET_ERROR becomes WSAError (an OSError) carrying the WSAE* code and its name.
//   - Bad Python input raises TypeError (pybind11's conversions) or ValueError (addresses, sizes)
//     before the C API sees it; everything else is the C API's verdict.
//   - A Socket keeps its host's state alive (std::shared_ptr<HostState>); once the host is
//     cleaned up the socket's calls pass INVALID_SOCKET, so the C API answers WSAENOTSOCK.
#ifndef USTACK_PY_USTACK_PY_HPP
#define USTACK_PY_USTACK_PY_HPP

#include <pybind11/pybind11.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ustack/wsp.h"

namespace ustack_py {

namespace py = pybind11;

// ---- errors (errors.cpp) ------------------------------------------------------------------
// Creates the WSAError class in module `m` (once, at import).
void bind_errors(py::module_& m);
// Raises WSAError(code): sets the Python error and throws py::error_already_set. GIL held.
[[noreturn]] void throw_wsa(int code);
// A short English description of a WSAE* code ("connection reset").
const char* describe(int code);

// ---- addresses (address.cpp) ----------------------------------------------------------------
// (ip, port) -> SOCKADDR_IN; "" and "0.0.0.0" are INADDR_ANY. TypeError for a non-tuple,
// ValueError for a malformed address or a port outside 0..65535.
SOCKADDR_IN sockaddr_from(const py::handle& addr);
// Dotted quad -> IN_ADDR (network byte order); ValueError if malformed.
IN_ADDR in_addr_from(const std::string& ip);
// SOCKADDR_IN -> (ip, port).
py::tuple tuple_from(const SOCKADDR_IN& sin);
std::string ip_string(IN_ADDR a);

// ---- hosts (host.cpp) -----------------------------------------------------------------------
// One WSPStartup, shared by the Host object and every Socket of it. `handle` is null once
// cleaned up; `mutex` orders WSPSocket & co. against WSPCleanup, so no call ever passes a freed
// WSPHOST.
struct HostState {
    std::mutex mutex;
    WSPHOST handle = nullptr;
    std::atomic<bool> closed{false};
    // The config strings, alive as long as the host.
    std::string tun_name, pcap, state_log, congestion;
    HostState() = default;
    HostState(const HostState&) = delete;
    HostState& operator=(const HostState&) = delete;
    ~HostState();
    // WSPCleanup once (later calls: no-op). Call with the GIL released.
    int cleanup();
};
void bind_host(py::module_& m);

// ---- events (events.cpp) --------------------------------------------------------------------
// A WSAEVENT, closed (WSACloseEvent) when the last owner lets go: the Event object, and every
// socket it is registered with by event_select (so the engine never signals a freed event).
struct EventCore {
    WSAEVENT handle = WSA_INVALID_EVENT;
    EventCore();
    EventCore(const EventCore&) = delete;
    EventCore& operator=(const EventCore&) = delete;
    ~EventCore();
};
struct Event {
    std::shared_ptr<EventCore> core;
    // The handle, or ValueError if close() was called.
    WSAEVENT get() const;
};
void bind_events(py::module_& m);

// ---- sockets (socket.cpp) -------------------------------------------------------------------
struct Socket {
    std::shared_ptr<HostState> host;
    SOCKET handle = INVALID_SOCKET;  // INVALID_SOCKET once closed
    int type = SOCK_STREAM;
    // The event registered by event_select (kept alive while registered).
    std::shared_ptr<EventCore> event;
    // WSPConnect's lpCalleeData: the C API keeps the WSABUF pointer (not only its buffer) and a
    // non-blocking connect writes through it when the connection completes (wsp.h). So each
    // connect that is left pending keeps its room here until the socket is destroyed.
    struct CalleeRoom {
        WSABUF wsabuf{};
        std::array<char, 64> data{};
    };
    std::vector<std::unique_ptr<CalleeRoom>> callee_rooms;
    Socket(std::shared_ptr<HostState> h, SOCKET s, int t)
        : host(std::move(h)), handle(s), type(t) {}
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket();
    // The handle to pass: INVALID_SOCKET if closed or the host is gone (the C API then says
    // WSAENOTSOCK).
    SOCKET h() const { return host->closed.load() ? INVALID_SOCKET : handle; }
};
void bind_socket(py::module_& m);
// WSPSocket on `host` (Host.socket).
std::shared_ptr<Socket> make_socket(const std::shared_ptr<HostState>& host, int type, int protocol);

}  // namespace ustack_py

#endif
