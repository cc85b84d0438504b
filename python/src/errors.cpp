// WSAError: the OSError every SOCKET_ERROR of the C API becomes (.code, .name, a message).
#include <pybind11/eval.h>
#include <pybind11/pybind11.h>

#include "ustack_py.hpp"

namespace ustack_py {
namespace {

// The class object; created at import, never released (the module lives until exit).
PyObject* g_wsa_error = nullptr;

// Defined in Python so it is an ordinary OSError subclass (pickling aside).
constexpr const char* kWsaErrorSource = R"(
class WSAError(OSError):
    """A WSAE* error of the ustack C API.

    ``code`` is the Winsock code (e.g. 10054), ``name`` its name (``"WSAECONNRESET"``, from
    WSPErrorName), ``errno`` the code too; ``str()`` reads ``"WSAECONNRESET (10054): connection
    reset"``.
    """

    def __init__(self, code, name, description):
        self.code = int(code)
        self.name = str(name)
        self.description = str(description)
        super().__init__(self.code, f"{self.name} ({self.code}): {self.description}")

    def __str__(self):
        return f"{self.name} ({self.code}): {self.description}"

    def __reduce__(self):
        return (type(self), (self.code, self.name, self.description))
)";

}  // namespace

const char* describe(int code) {
    switch (code) {
        case WSAEINTR: return "blocking call interrupted (the socket was closed)";
        case WSAEBADF: return "bad file handle";
        case WSAEACCES:
            return "permission denied (the connection request timed out or was withdrawn)";
        case WSAEFAULT: return "bad address or buffer too small";
        case WSAEINVAL: return "invalid argument";
        case WSAEMFILE: return "too many open sockets";
        case WSAEWOULDBLOCK: return "operation would block";
        case WSAEINPROGRESS: return "operation now in progress";
        case WSAEALREADY: return "operation already in progress";
        case WSAENOTSOCK: return "not a socket (closed, or of a host that was cleaned up)";
        case WSAEDESTADDRREQ: return "destination address required";
        case WSAEMSGSIZE: return "message too long";
        case WSAEPROTOTYPE: return "protocol wrong type for socket";
        case WSAENOPROTOOPT: return "bad protocol option";
        case WSAEPROTONOSUPPORT: return "protocol not supported";
        case WSAESOCKTNOSUPPORT: return "socket type not supported";
        case WSAEOPNOTSUPP: return "operation not supported";
        case WSAEAFNOSUPPORT: return "address family not supported";
        case WSAEADDRINUSE: return "address already in use";
        case WSAEADDRNOTAVAIL: return "cannot assign requested address";
        case WSAENETDOWN: return "network is down";
        case WSAENETUNREACH: return "network is unreachable";
        case WSAENETRESET: return "network dropped connection on reset";
        case WSAECONNABORTED: return "connection aborted";
        case WSAECONNRESET: return "connection reset";
        case WSAENOBUFS: return "no buffer space available";
        case WSAEISCONN: return "socket is already connected";
        case WSAENOTCONN: return "socket is not connected";
        case WSAESHUTDOWN: return "cannot send after socket shutdown";
        case WSAETIMEDOUT: return "connection timed out";
        case WSAECONNREFUSED: return "connection refused";
        case WSAEHOSTUNREACH: return "no route to host";
        case WSASYSNOTREADY: return "network subsystem unavailable (device could not be opened)";
        case WSAVERNOTSUPPORTED: return "version not supported";
        case WSANOTINITIALISED: return "host not started or already cleaned up";
        case WSAEDISCON: return "graceful shutdown in progress (the peer closed)";
        case WSATRY_AGAIN: return "try again (the condition function deferred)";
        default: return "unknown error";
    }
}

void throw_wsa(int code) {
    py::object cls = py::reinterpret_borrow<py::object>(g_wsa_error);
    py::object exc = cls(code, WSPErrorName(code), describe(code));
    PyErr_SetObject(g_wsa_error, exc.ptr());
    throw py::error_already_set();
}

void bind_errors(py::module_& m) {
    py::dict ns;
    ns["__builtins__"] = py::module_::import("builtins");
    ns["__name__"] = m.attr("__name__");
    py::exec(kWsaErrorSource, ns);
    py::object cls = ns["WSAError"];
    cls.attr("__module__") = "ustack";
    m.attr("WSAError") = cls;
    g_wsa_error = cls.release().ptr();
    m.def(
        "error_name", [](int code) { return std::string(WSPErrorName(code)); }, py::arg("code"),
        "The name of a WSAE* code (WSPErrorName): 'WSAECONNRESET', or 'WSA?' if unknown.");
}

}  // namespace ustack_py
