// The module `ustack._ustack`: the constants of wsp.h with its values, and the bindings of
// errors.cpp, host.cpp, events.cpp and socket.cpp. The package `ustack` (__init__.py) re-exports
// them and adds memory_pair.
#include <pybind11/pybind11.h>

#include "ustack_py.hpp"

namespace ustack_py {
namespace {

// Every constant of wsp.h a Python caller may pass or get back, under its C name.
#define USTACK_PY_CONSTANTS(X) \
    X(AF_INET)                 \
    X(SOCK_STREAM)             \
    X(SOCK_SEQPACKET)          \
    X(IPPROTO_TCP)             \
    X(INADDR_ANY)              \
    X(SD_RECEIVE)              \
    X(SD_SEND)                 \
    X(SD_BOTH)                 \
    X(SOL_SOCKET)              \
    X(SO_LINGER)               \
    X(SO_KEEPALIVE)            \
    X(SO_RCVTIMEO)             \
    X(SO_SNDTIMEO)             \
    X(SO_DONTLINGER)           \
    X(SO_SNDBUF)               \
    X(SO_RCVBUF)               \
    X(SO_ERROR)                \
    X(SO_TYPE)                 \
    X(SO_CONNDATA)             \
    X(SO_CONNOPT)              \
    X(SO_DISCDATA)             \
    X(SO_CONNDATALEN)          \
    X(SO_DISCDATALEN)          \
    X(SO_CONDITIONAL_ACCEPT)   \
    X(SO_MAX_MSG_SIZE)         \
    X(SO_PROTOCOL_INFOA)       \
    X(SO_PROTOCOL_INFO)        \
    X(MSG_PARTIAL)             \
    X(TCP_NODELAY)             \
    X(FIONREAD)                \
    X(FIONBIO)                 \
    X(SIO_TCP_INFO)            \
    X(SIO_KEEPALIVE_VALS)      \
    X(XP1_MESSAGE_ORIENTED)    \
    X(XP1_GRACEFUL_CLOSE)      \
    X(XP1_CONNECT_DATA)        \
    X(XP1_DISCONNECT_DATA)     \
    X(XP1_PARTIAL_MESSAGE)     \
    X(USTACK_TCP_INFO_VERSION) \
    X(FD_READ_BIT)             \
    X(FD_WRITE_BIT)            \
    X(FD_OOB_BIT)              \
    X(FD_ACCEPT_BIT)           \
    X(FD_CONNECT_BIT)          \
    X(FD_CLOSE_BIT)            \
    X(FD_MAX_EVENTS)           \
    X(FD_READ)                 \
    X(FD_WRITE)                \
    X(FD_OOB)                  \
    X(FD_ACCEPT)               \
    X(FD_CONNECT)              \
    X(FD_CLOSE)                \
    X(FD_ALL_EVENTS)           \
    X(WSA_MAXIMUM_WAIT_EVENTS) \
    X(WSA_INFINITE)            \
    X(WSA_WAIT_EVENT_0)        \
    X(WSA_WAIT_TIMEOUT)        \
    X(WSA_WAIT_FAILED)         \
    X(WSP_FD_SETSIZE)          \
    X(CF_ACCEPT)               \
    X(CF_REJECT)               \
    X(CF_DEFER)                \
    X(WSABASEERR)              \
    X(WSAEINTR)                \
    X(WSAEBADF)                \
    X(WSAEACCES)               \
    X(WSAEFAULT)               \
    X(WSAEINVAL)               \
    X(WSAEMFILE)               \
    X(WSAEWOULDBLOCK)          \
    X(WSAEINPROGRESS)          \
    X(WSAEALREADY)             \
    X(WSAENOTSOCK)             \
    X(WSAEDESTADDRREQ)         \
    X(WSAEMSGSIZE)             \
    X(WSAEPROTOTYPE)           \
    X(WSAENOPROTOOPT)          \
    X(WSAEPROTONOSUPPORT)      \
    X(WSAESOCKTNOSUPPORT)      \
    X(WSAEOPNOTSUPP)           \
    X(WSAEAFNOSUPPORT)         \
    X(WSAEADDRINUSE)           \
    X(WSAEADDRNOTAVAIL)        \
    X(WSAENETDOWN)             \
    X(WSAENETUNREACH)          \
    X(WSAENETRESET)            \
    X(WSAECONNABORTED)         \
    X(WSAECONNRESET)           \
    X(WSAENOBUFS)              \
    X(WSAEISCONN)              \
    X(WSAENOTCONN)             \
    X(WSAESHUTDOWN)            \
    X(WSAETIMEDOUT)            \
    X(WSAECONNREFUSED)         \
    X(WSAEHOSTUNREACH)         \
    X(WSASYSNOTREADY)          \
    X(WSAVERNOTSUPPORTED)      \
    X(WSANOTINITIALISED)       \
    X(WSAEDISCON)              \
    X(WSATRY_AGAIN)

void add_constants(py::module_& m) {
#define USTACK_PY_ADD(name) m.attr(#name) = py::int_(static_cast<long long>(name));
    USTACK_PY_CONSTANTS(USTACK_PY_ADD)
#undef USTACK_PY_ADD
    // TCPSTATE names, as tcp_info()["state"] numbers them.
#define USTACK_PY_STATE(name) m.attr("TCPSTATE_" #name) = static_cast<int>(TCPSTATE_##name);
    USTACK_PY_STATE(CLOSED)
    USTACK_PY_STATE(LISTEN)
    USTACK_PY_STATE(SYN_SENT)
    USTACK_PY_STATE(SYN_RCVD)
    USTACK_PY_STATE(ESTABLISHED)
    USTACK_PY_STATE(FIN_WAIT_1)
    USTACK_PY_STATE(FIN_WAIT_2)
    USTACK_PY_STATE(CLOSE_WAIT)
    USTACK_PY_STATE(CLOSING)
    USTACK_PY_STATE(LAST_ACK)
    USTACK_PY_STATE(TIME_WAIT)
#undef USTACK_PY_STATE
}

}  // namespace
}  // namespace ustack_py

PYBIND11_MODULE(_ustack, m) {
    m.doc() = "ustack's WSP socket API (ustack/wsp.h) for Python; import the package `ustack`.";
    ustack_py::bind_errors(m);
    ustack_py::add_constants(m);
    ustack_py::bind_events(m);
    ustack_py::bind_host(m);
    ustack_py::bind_socket(m);
}
