// Socket: the WSP socket calls under Pythonic names, and select (WSPSelect).
#include <pybind11/stl.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "ustack_py.hpp"

namespace ustack_py {
namespace {

// The largest buffer one recv allocates: more than any message (16 MiB) or a useful read; a
// stream recv may return fewer bytes than asked anyway.
constexpr std::size_t kMaxRecvBuffer = std::size_t{64} << 20;
// The most one send takes (its count comes back in a DWORD; Python's int would not overflow,
// the C API's would).
constexpr std::size_t kMaxSend = INT_MAX;

// `err` by reference: read after the call that fills it (argument order is unspecified).
void check(int rc, const int& err) {
    if (rc != 0) {
        throw_wsa(err);
    }
}

// A contiguous read-only view of a bytes-like object (TypeError otherwise).
py::buffer_info view_of(const py::handle& data) {
    if (!PyObject_CheckBuffer(data.ptr())) {
        throw py::type_error("a bytes-like object is required, not '" +
                             std::string(py::str(data.get_type().attr("__name__"))) + "'");
    }
    return py::reinterpret_borrow<py::buffer>(data).request();
}

std::size_t byte_len(const py::buffer_info& b) {
    return static_cast<std::size_t>(b.size) * static_cast<std::size_t>(b.itemsize);
}

WSABUF wsabuf_of(const py::buffer_info& b) {
    return WSABUF{static_cast<u_long>(byte_len(b)), static_cast<CHAR*>(b.ptr)};
}

const char* state_name(int s) {
    static constexpr std::array<const char*, 11> kNames{
        "CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
        "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",  "LAST_ACK", "TIME_WAIT"};
    return s >= 0 && s < static_cast<int>(kNames.size()) ? kNames[static_cast<std::size_t>(s)]
                                                         : "UNKNOWN";
}

// ---- the condition function -----------------------------------------------------------------
// What WSPAccept's dwCallbackData points to: the Python callable, and the Python exception it
// raised (re-raised once WSPAccept has returned). Destroyed with the GIL held.
struct AcceptContext {
    py::handle fn;
    std::optional<py::error_already_set> error;
};

// LPCONDITIONPROC calling the Python callable with the GIL re-acquired. It gets (caller_addr,
// caller_data) -- caller_data None if the SYN carried none -- and returns CF_* or
// (CF_*, callee_data). A Python exception (or a bad return value) makes the verdict CF_REJECT;
// accept() re-raises it.
int CALLBACK condition_trampoline(LPWSABUF caller_id, LPWSABUF caller_data, LPQOS, LPQOS, LPWSABUF,
                                  LPWSABUF callee_data, GROUP*, DWORD_PTR cb) {
    auto* ctx = reinterpret_cast<AcceptContext*>(cb);
    py::gil_scoped_acquire gil;
    try {
        py::object addr = py::none();
        if (caller_id != nullptr && caller_id->buf != nullptr &&
            caller_id->len >= sizeof(SOCKADDR_IN)) {
            SOCKADDR_IN sin{};
            std::memcpy(&sin, caller_id->buf, sizeof sin);
            addr = tuple_from(sin);
        }
        py::object data = py::none();
        if (caller_data != nullptr && caller_data->buf != nullptr) {
            data = py::bytes(caller_data->buf, caller_data->len);
        }
        py::object r = ctx->fn(addr, data);
        py::object verdict = r;
        py::object callee = py::none();
        if (py::isinstance<py::tuple>(r)) {
            auto t = py::reinterpret_borrow<py::tuple>(r);
            if (t.size() != 2) {
                throw py::type_error(
                    "the condition returns CF_ACCEPT, CF_REJECT, CF_DEFER or (verdict, "
                    "callee_data)");
            }
            verdict = t[0];
            callee = t[1];
        }
        if (!py::isinstance<py::int_>(verdict)) {
            throw py::type_error(
                "the condition returns CF_ACCEPT, CF_REJECT, CF_DEFER or (verdict, callee_data)");
        }
        const int v = verdict.cast<int>();
        if (!callee.is_none()) {
            const py::buffer_info b = view_of(callee);
            const std::size_t n = byte_len(b);
            const std::size_t room = callee_data != nullptr ? callee_data->len : 0;
            if (room == 0) {
                // No SO_CONDITIONAL_ACCEPT: the SYN-ACK has gone; the C API ignores callee
                // data (README "Connect data and conditional accept").
            } else if (n > room) {
                throw py::value_error("callee data of " + std::to_string(n) +
                                      " bytes: the SYN-ACK has room for " + std::to_string(room));
            } else {
                std::memcpy(callee_data->buf, b.ptr, n);
                callee_data->len = static_cast<u_long>(n);
            }
        } else if (callee_data != nullptr) {
            callee_data->len = 0;
        }
        return v;
    } catch (py::error_already_set& e) {
        ctx->error = std::move(e);
    } catch (const py::builtin_exception& e) {
        e.set_error();
        ctx->error.emplace();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        ctx->error.emplace();
    }
    return CF_REJECT;
}

// ---- the calls --------------------------------------------------------------------------------
// WSPSelect for readability of `s` (a listener: a connection or held request to accept);
// WSAETIMEDOUT if none within `seconds`.
void wait_readable(SOCKET s, double seconds) {
    if (!(seconds >= 0.0) || seconds > 1e9) {
        throw py::value_error("timeout outside 0 .. 1e9 seconds");
    }
    WSP_FD_SET set{};
    set.fd_count = 1;
    set.fd_array[0] = s;
    TIMEVAL tv{};
    tv.tv_sec = static_cast<long>(seconds);
    tv.tv_usec = static_cast<long>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
    int err = 0;
    int rc = 0;
    {
        py::gil_scoped_release nogil;
        rc = WSPSelect(0, &set, nullptr, nullptr, &tv, &err);
    }
    if (rc == SOCKET_ERROR) {
        throw_wsa(err);
    }
    if (rc == 0) {
        throw_wsa(WSAETIMEDOUT);
    }
}

py::tuple accept(const std::shared_ptr<Socket>& self, const py::object& condition,
                 std::optional<double> timeout) {
    if (!condition.is_none() && !PyCallable_Check(condition.ptr())) {
        throw py::type_error("condition must be callable or None");
    }
    const SOCKET s = self->h();
    if (timeout) {
        wait_readable(s, *timeout);
    }
    SOCKADDR_IN sin{};
    int len = sizeof sin;
    int err = 0;
    AcceptContext ctx{condition, std::nullopt};
    SOCKET n = INVALID_SOCKET;
    {
        py::gil_scoped_release nogil;
        n = WSPAccept(s, reinterpret_cast<SOCKADDR*>(&sin), &len,
                      condition.is_none() ? nullptr : condition_trampoline,
                      reinterpret_cast<DWORD_PTR>(&ctx), &err);
    }
    if (ctx.error) {
        if (n != INVALID_SOCKET) {
            int e2 = 0;
            py::gil_scoped_release nogil;
            WSPCloseSocket(n, &e2);
        }
        throw std::move(*ctx.error);
    }
    if (n == INVALID_SOCKET) {
        throw_wsa(err);
    }
    auto sock = std::make_shared<Socket>(self->host, n, self->type);
    sock->event = self->event;  // accepted sockets inherit the listener's event_select
    return py::make_tuple(sock, tuple_from(sin));
}

py::object connect(Socket& self, const py::handle& addr, const py::object& caller_data) {
    const SOCKADDR_IN sin = sockaddr_from(addr);
    std::optional<py::buffer_info> cd;
    WSABUF caller{};
    if (!caller_data.is_none()) {
        cd = view_of(caller_data);
        caller = wsabuf_of(*cd);
    }
    auto room = std::make_unique<Socket::CalleeRoom>();
    room->wsabuf = WSABUF{static_cast<u_long>(room->data.size()), room->data.data()};
    WSABUF* callee = &room->wsabuf;
    const SOCKET s = self.h();
    int err = 0;
    int rc = 0;
    {
        py::gil_scoped_release nogil;
        rc = WSPConnect(s, reinterpret_cast<const SOCKADDR*>(&sin), sizeof sin,
                        cd ? &caller : nullptr, callee, nullptr, nullptr, &err);
    }
    if (rc != 0 && err == WSAEWOULDBLOCK) {
        self.callee_rooms.push_back(std::move(room));  // written when the connect completes
    }
    check(rc, err);
    // A blocking connect has returned: the C API is done with the room.
    if (room->wsabuf.len == 0) {
        return py::none();
    }
    return py::bytes(room->data.data(), std::min<std::size_t>(room->wsabuf.len, room->data.size()));
}

std::size_t send_buffers(Socket& self, const std::vector<py::buffer_info>& views, DWORD flags) {
    std::vector<WSABUF> bufs;
    std::size_t total = 0;
    for (const auto& v : views) {
        bufs.push_back(wsabuf_of(v));
        total += byte_len(v);
    }
    if (total > kMaxSend) {
        throw py::value_error("send: more than 2**31 - 1 bytes in one call");
    }
    const SOCKET s = self.h();
    DWORD sent = 0;
    int err = 0;
    int rc = 0;
    {
        py::gil_scoped_release nogil;
        rc = WSPSend(s, bufs.data(), static_cast<DWORD>(bufs.size()), &sent, flags, &err);
    }
    check(rc, err);
    return sent;
}

std::pair<py::bytes, DWORD> recv_flags(Socket& self, Py_ssize_t n, DWORD flags) {
    if (n < 0) {
        throw py::value_error("negative buffer size in recv");
    }
    std::vector<char> buf(std::min(static_cast<std::size_t>(n), kMaxRecvBuffer));
    WSABUF b{static_cast<u_long>(buf.size()), buf.data()};
    const SOCKET s = self.h();
    DWORD got = 0;
    int err = 0;
    int rc = 0;
    {
        py::gil_scoped_release nogil;
        rc = WSPRecv(s, &b, 1, &got, &flags, &err);
    }
    check(rc, err);
    return {py::bytes(buf.data(), std::min<std::size_t>(got, buf.size())), flags};
}

void close(Socket& self) {
    if (self.handle == INVALID_SOCKET) {
        return;
    }
    if (self.host->closed.load()) {
        // WSPCleanup closed it already.
        self.handle = INVALID_SOCKET;
        self.event.reset();
        return;
    }
    const SOCKET s = self.handle;
    int err = 0;
    int rc = 0;
    {
        py::gil_scoped_release nogil;
        rc = WSPCloseSocket(s, &err);
    }
    if (rc != 0 && err == WSAEWOULDBLOCK) {
        throw_wsa(err);  // non-blocking linger that cannot complete at once: still open
    }
    self.handle = INVALID_SOCKET;
    self.event.reset();
    if (rc != 0 && err != WSAENOTSOCK) {
        throw_wsa(err);
    }
}

int int_option(const py::handle& value) {
    if (py::isinstance<py::bool_>(value)) {
        return value.cast<bool>() ? 1 : 0;
    }
    const auto v = py::reinterpret_borrow<py::int_>(value);
    if (v < py::int_(INT_MIN) || v > py::int_(UINT_MAX)) {
        throw py::value_error("option value outside 32 bits");
    }
    // DWORD-sized values above INT_MAX keep their bits.
    return static_cast<int>(static_cast<unsigned>(v.cast<long long>()));
}

void setsockopt(Socket& self, int level, int opt, const py::object& value) {
    std::vector<char> raw;
    if (value.is_none()) {
        // nothing: optval NULL, optlen 0
    } else if (py::isinstance<py::tuple>(value)) {
        auto t = py::reinterpret_borrow<py::tuple>(value);
        if (t.size() != 2 || !py::isinstance<py::int_>(t[0]) || !py::isinstance<py::int_>(t[1])) {
            throw py::type_error("a LINGER value is a tuple (onoff: int, seconds: int)");
        }
        const long on = t[0].cast<long>();
        const long sec = t[1].cast<long>();
        if (on < 0 || on > 65535 || sec < 0 || sec > 65535) {
            throw py::value_error("LINGER fields are u_short: 0..65535");
        }
        LINGER l{static_cast<u_short>(on), static_cast<u_short>(sec)};
        raw.resize(sizeof l);
        std::memcpy(raw.data(), &l, sizeof l);
    } else if (py::isinstance<py::int_>(value)) {
        const int v = int_option(value);
        raw.resize(sizeof v);
        std::memcpy(raw.data(), &v, sizeof v);
    } else {
        const py::buffer_info b = view_of(value);
        const auto* p = static_cast<const char*>(b.ptr);
        raw.assign(p, p + byte_len(b));
    }
    if (raw.size() > INT_MAX) {
        throw py::value_error("option value too long");
    }
    const SOCKET s = self.h();
    int err = 0;
    check(WSPSetSockOpt(s, level, opt, raw.empty() ? nullptr : raw.data(),
                        static_cast<int>(raw.size()), &err),
          err);
}

py::dict protocol_info_dict(const WSAPROTOCOL_INFOA& p) {
    py::dict d;
    d["service_flags"] = p.dwServiceFlags1;
    d["address_family"] = p.iAddressFamily;
    d["socket_type"] = p.iSocketType;
    d["protocol"] = p.iProtocol;
    d["message_size"] = p.dwMessageSize;
    d["max_sockaddr"] = p.iMaxSockAddr;
    d["min_sockaddr"] = p.iMinSockAddr;
    d["version"] = p.iVersion;
    d["protocol_name"] = std::string(p.szProtocol, strnlen(p.szProtocol, sizeof p.szProtocol));
    return d;
}

py::object getsockopt(Socket& self, int level, int opt, std::optional<int> buflen) {
    const SOCKET s = self.h();
    int err = 0;
    if (buflen) {
        if (*buflen < 0 || *buflen > 65536) {
            throw py::value_error("getsockopt buflen outside 0..65536");
        }
        std::vector<char> buf(static_cast<std::size_t>(*buflen) + 1);
        int len = *buflen;
        check(WSPGetSockOpt(s, level, opt, buf.data(), &len, &err), err);
        return py::bytes(buf.data(), static_cast<std::size_t>(std::clamp(len, 0, *buflen)));
    }
    if (level == SOL_SOCKET && opt == SO_LINGER) {
        LINGER l{};
        int len = sizeof l;
        check(WSPGetSockOpt(s, level, opt, reinterpret_cast<char*>(&l), &len, &err), err);
        return py::make_tuple(l.l_onoff, l.l_linger);
    }
    if (level == SOL_SOCKET && opt == SO_CONNDATA) {
        std::array<char, 256> buf{};
        int len = static_cast<int>(buf.size());
        check(WSPGetSockOpt(s, level, opt, buf.data(), &len, &err), err);
        return py::bytes(buf.data(), static_cast<std::size_t>(std::clamp(len, 0, 256)));
    }
    if (level == SOL_SOCKET && opt == SO_PROTOCOL_INFO) {
        WSAPROTOCOL_INFOA p{};
        int len = sizeof p;
        check(WSPGetSockOpt(s, level, opt, reinterpret_cast<char*>(&p), &len, &err), err);
        return protocol_info_dict(p);
    }
    int v = 0;
    int len = sizeof v;
    check(WSPGetSockOpt(s, level, opt, reinterpret_cast<char*>(&v), &len, &err), err);
    if (len == 1) {
        v &= 0xff;
    }
    return py::int_(v);
}

py::dict tcp_info(Socket& self, DWORD version) {
    USTACK_TCP_INFO info{};
    DWORD n = 0;
    int err = 0;
    const SOCKET s = self.h();
    check(WSPIoctl(s, SIO_TCP_INFO, &version, sizeof version, &info, sizeof info, &n, &err), err);
    const TCP_INFO_v0& v = info.v0;
    py::dict d;
    d["state"] = static_cast<int>(v.State);
    d["state_name"] = state_name(static_cast<int>(v.State));
    d["mss"] = v.Mss;
    d["connection_time_ms"] = v.ConnectionTimeMs;
    d["timestamps_enabled"] = v.TimestampsEnabled != 0;
    d["rtt_us"] = v.RttUs;
    d["min_rtt_us"] = v.MinRttUs;
    d["bytes_in_flight"] = v.BytesInFlight;
    d["cwnd"] = v.Cwnd;
    d["snd_wnd"] = v.SndWnd;
    d["rcv_wnd"] = v.RcvWnd;
    d["rcv_buf"] = v.RcvBuf;
    d["bytes_out"] = v.BytesOut;
    d["bytes_in"] = v.BytesIn;
    d["bytes_reordered"] = v.BytesReordered;
    d["bytes_retrans"] = v.BytesRetrans;
    d["fast_retrans"] = v.FastRetrans;
    d["dup_acks_in"] = v.DupAcksIn;
    d["timeout_episodes"] = v.TimeoutEpisodes;
    d["syn_retrans"] = v.SynRetrans;
    if (version == USTACK_TCP_INFO_VERSION) {
        d["sack_enabled"] = info.SackEnabled != 0;
        d["window_scaling_enabled"] = info.WindowScalingEnabled != 0;
        d["snd_wind_shift"] = info.SndWindShift;
        d["rcv_wind_shift"] = info.RcvWindShift;
        d["rttvar_us"] = info.RttVarUs;
        d["rto_us"] = info.RtoUs;
        d["ssthresh"] = info.SsThresh;
        d["snd_buf"] = info.SndBuf;
        d["segs_out"] = info.SegsOut;
        d["segs_in"] = info.SegsIn;
        d["retransmits"] = info.Retransmits;
    }
    return d;
}

py::tuple name_of(Socket& self, bool peer) {
    SOCKADDR_IN sin{};
    int len = sizeof sin;
    int err = 0;
    const SOCKET s = self.h();
    auto* p = reinterpret_cast<SOCKADDR*>(&sin);
    check(peer ? WSPGetPeerName(s, p, &len, &err) : WSPGetSockName(s, p, &len, &err), err);
    return tuple_from(sin);
}

void event_select(Socket& self, const Event* event, long mask) {
    std::shared_ptr<EventCore> core;
    if (event != nullptr) {
        event->get();  // ValueError if closed
        core = event->core;
    }
    const SOCKET s = self.h();
    int err = 0;
    check(WSPEventSelect(s, core ? core->handle : WSA_INVALID_EVENT, mask, &err), err);
    self.event = std::move(core);  // the previous registration is gone
}

py::tuple enum_network_events(Socket& self, const Event* event) {
    WSAEVENT h = WSA_INVALID_EVENT;
    if (event != nullptr) {
        h = event->get();
    }
    WSANETWORKEVENTS ne{};
    const SOCKET s = self.h();
    int err = 0;
    check(WSPEnumNetworkEvents(s, h, &ne, &err), err);
    py::dict errors;
    for (int bit = 0; bit < FD_MAX_EVENTS; ++bit) {
        if ((ne.lNetworkEvents & (1L << bit)) != 0) {
            errors[py::int_(1 << bit)] = ne.iErrorCode[bit];
        }
    }
    return py::make_tuple(ne.lNetworkEvents, errors);
}

// WSPSelect over lists of Sockets: the ready ones of each list.
py::tuple select(const std::vector<std::shared_ptr<Socket>>& r,
                 const std::vector<std::shared_ptr<Socket>>& w,
                 const std::vector<std::shared_ptr<Socket>>& x, std::optional<double> timeout) {
    auto fill = [](const std::vector<std::shared_ptr<Socket>>& in, WSP_FD_SET& set) {
        if (in.size() > WSP_FD_SETSIZE) {
            throw py::value_error("select takes at most 64 sockets per list");
        }
        set.fd_count = 0;
        for (const auto& s : in) {
            if (!s) {
                throw py::type_error("select takes lists of Socket");
            }
            set.fd_array[set.fd_count++] = s->h();
        }
    };
    WSP_FD_SET rs{}, ws{}, xs{};
    fill(r, rs);
    fill(w, ws);
    fill(x, xs);
    TIMEVAL tv{};
    if (timeout) {
        if (!(*timeout >= 0.0) || *timeout > 1e9) {
            throw py::value_error("select timeout outside 0 .. 1e9 seconds");
        }
        tv.tv_sec = static_cast<long>(*timeout);
        tv.tv_usec = static_cast<long>((*timeout - static_cast<double>(tv.tv_sec)) * 1e6);
    }
    int err = 0;
    int rc = 0;
    {
        py::gil_scoped_release nogil;
        rc = WSPSelect(0, r.empty() ? nullptr : &rs, w.empty() ? nullptr : &ws,
                       x.empty() ? nullptr : &xs, timeout ? &tv : nullptr, &err);
    }
    if (rc == SOCKET_ERROR) {
        throw_wsa(err);
    }
    auto ready = [](const std::vector<std::shared_ptr<Socket>>& in, const WSP_FD_SET& set) {
        py::list out;
        for (const auto& s : in) {
            const SOCKET h = s->h();
            for (unsigned i = 0; i < set.fd_count; ++i) {
                if (set.fd_array[i] == h) {
                    out.append(s);
                    break;
                }
            }
        }
        return out;
    };
    return py::make_tuple(ready(r, rs), ready(w, ws), ready(x, xs));
}

}  // namespace

Socket::~Socket() {
    if (handle == INVALID_SOCKET || host->closed.load()) {
        return;
    }
    int err = 0;
    if (PyGILState_Check() != 0) {
        py::gil_scoped_release nogil;
        WSPCloseSocket(handle, &err);
    } else {
        WSPCloseSocket(handle, &err);
    }
}

std::shared_ptr<Socket> make_socket(const std::shared_ptr<HostState>& host, int type,
                                    int protocol) {
    SOCKET s = INVALID_SOCKET;
    int err = 0;
    {
        std::lock_guard lock(host->mutex);
        if (host->handle == nullptr) {
            throw_wsa(WSANOTINITIALISED);
        }
        s = WSPSocket(host->handle, AF_INET, type, protocol, &err);
    }
    if (s == INVALID_SOCKET) {
        throw_wsa(err);
    }
    return std::make_shared<Socket>(host, s, type);
}

void bind_socket(py::module_& m) {
    py::class_<Socket, std::shared_ptr<Socket>>(
        m, "Socket", "A ustack socket (Host.socket or Socket.accept); close() or `with` closes it.")
        .def_property_readonly("type", [](const Socket& s) { return s.type; })
        .def_property_readonly("closed", [](const Socket& s) { return s.h() == INVALID_SOCKET; })
        .def(
            "fileno",
            [](const Socket& s) -> long long {
                const SOCKET h = s.h();
                return h == INVALID_SOCKET ? -1 : static_cast<long long>(h);
            },
            "The SOCKET handle as an int (-1 once closed); it is no file descriptor.")
        .def(
            "bind",
            [](Socket& s, const py::handle& addr) {
                const SOCKADDR_IN sin = sockaddr_from(addr);
                int err = 0;
                check(WSPBind(s.h(), reinterpret_cast<const SOCKADDR*>(&sin), sizeof sin, &err),
                      err);
            },
            py::arg("address"))
        .def(
            "listen",
            [](Socket& s, int backlog) {
                int err = 0;
                check(WSPListen(s.h(), backlog, &err), err);
            },
            py::arg("backlog") = 16)
        .def("accept", &accept, py::arg("condition") = py::none(), py::arg("timeout") = py::none(),
             "WSPAccept: (Socket, (ip, port)). condition(caller_addr, caller_data) returns "
             "CF_ACCEPT, CF_REJECT, CF_DEFER or (CF_ACCEPT, callee_data); it runs with the GIL. "
             "If it raises, the verdict is CF_REJECT and accept() re-raises the exception. "
             "timeout: seconds to wait for a request first (WSPSelect), else WSAETIMEDOUT.")
        .def("connect", &connect, py::arg("address"), py::arg("caller_data") = py::none(),
             "WSPConnect, offering caller_data on the SYN: the callee data (bytes) or None. A "
             "non-blocking connect raises WSAEWOULDBLOCK; its callee data is SO_CONNDATA after "
             "FD_CONNECT.")
        .def(
            "send",
            [](Socket& s, const py::handle& data, DWORD flags) {
                std::vector<py::buffer_info> v;
                v.push_back(view_of(data));
                return send_buffers(s, v, flags);
            },
            py::arg("data"), py::arg("flags") = 0)
        .def(
            "send_gather",
            [](Socket& s, const py::iterable& buffers, DWORD flags) {
                std::vector<py::buffer_info> v;
                for (const auto& b : buffers) {
                    v.push_back(view_of(b));
                }
                return send_buffers(s, v, flags);
            },
            py::arg("buffers"), py::arg("flags") = 0)
        .def(
            "sendall",
            [](Socket& s, const py::handle& data) {
                const py::buffer_info b = view_of(data);
                const std::size_t n = byte_len(b);
                std::size_t off = 0;
                const SOCKET h = s.h();
                while (off < n) {
                    const std::size_t chunk = std::min(n - off, kMaxSend);
                    WSABUF w{static_cast<u_long>(chunk), static_cast<CHAR*>(b.ptr) + off};
                    DWORD sent = 0;
                    int err = 0;
                    int rc = 0;
                    {
                        py::gil_scoped_release nogil;
                        rc = WSPSend(h, &w, 1, &sent, 0, &err);
                    }
                    check(rc, err);
                    off += sent;
                }
            },
            py::arg("data"))
        .def(
            "recv",
            [](Socket& s, Py_ssize_t n, DWORD flags) { return recv_flags(s, n, flags).first; },
            py::arg("bufsize"), py::arg("flags") = 0)
        .def(
            "recv_with_flags",
            [](Socket& s, Py_ssize_t n, DWORD flags) {
                auto [data, out] = recv_flags(s, n, flags);
                return py::make_tuple(data, out);
            },
            py::arg("bufsize"), py::arg("flags") = 0)
        .def(
            "shutdown",
            [](Socket& s, int how) {
                const SOCKET h = s.h();
                int err = 0;
                int rc = 0;
                {
                    py::gil_scoped_release nogil;
                    rc = WSPShutdown(h, how, &err);
                }
                check(rc, err);
            },
            py::arg("how"))
        .def(
            "send_disconnect",
            [](Socket& s, const py::object& data) {
                std::optional<py::buffer_info> b;
                WSABUF w{};
                if (!data.is_none()) {
                    b = view_of(data);
                    w = wsabuf_of(*b);
                }
                const SOCKET h = s.h();
                int err = 0;
                int rc = 0;
                {
                    py::gil_scoped_release nogil;
                    rc = WSPSendDisconnect(h, w.len > 0 ? &w : nullptr, &err);
                }
                check(rc, err);
            },
            py::arg("data") = py::bytes())
        .def(
            "recv_disconnect",
            [](Socket& s, Py_ssize_t bufsize) {
                if (bufsize < 0 || bufsize > 65536) {
                    throw py::value_error("recv_disconnect bufsize outside 0..65536");
                }
                std::vector<char> buf(static_cast<std::size_t>(bufsize) + 1);
                WSABUF w{static_cast<u_long>(bufsize), buf.data()};
                const SOCKET h = s.h();
                int err = 0;
                int rc = 0;
                {
                    py::gil_scoped_release nogil;
                    rc = WSPRecvDisconnect(h, &w, &err);
                }
                check(rc, err);
                return py::bytes(buf.data(),
                                 std::min<std::size_t>(w.len, static_cast<std::size_t>(bufsize)));
            },
            py::arg("bufsize") = 64)
        .def("close", &close,
             "WSPCloseSocket as SO_LINGER / SO_DONTLINGER say; idempotent. A non-blocking "
             "lingering close that cannot complete at once raises WSAEWOULDBLOCK and leaves the "
             "socket open.")
        .def(
            "set_linger",
            [](Socket& s, bool onoff, int seconds) {
                if (seconds < 0 || seconds > 65535) {
                    throw py::value_error("linger seconds outside 0..65535");
                }
                LINGER l{static_cast<u_short>(onoff ? 1 : 0), static_cast<u_short>(seconds)};
                int err = 0;
                check(WSPSetSockOpt(s.h(), SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l),
                                    sizeof l, &err),
                      err);
            },
            py::arg("onoff"), py::arg("seconds") = 0)
        .def(
            "set_nonblocking",
            [](Socket& s, bool flag) {
                u_long v = flag ? 1 : 0;
                DWORD n = 0;
                int err = 0;
                check(WSPIoctl(s.h(), FIONBIO, &v, sizeof v, nullptr, 0, &n, &err), err);
            },
            py::arg("flag"))
        .def("fionread",
             [](Socket& s) {
                 u_long v = 0;
                 DWORD n = 0;
                 int err = 0;
                 check(WSPIoctl(s.h(), FIONREAD, nullptr, 0, &v, sizeof v, &n, &err), err);
                 return v;
             })
        .def("setsockopt", &setsockopt, py::arg("level"), py::arg("optname"), py::arg("value"),
             "WSPSetSockOpt: value an int or bool (4 bytes), (onoff, seconds) for SO_LINGER, or "
             "bytes.")
        .def("getsockopt", &getsockopt, py::arg("level"), py::arg("optname"),
             py::arg("buflen") = py::none(),
             "WSPGetSockOpt: an int; (onoff, seconds) for SO_LINGER; bytes for SO_CONNDATA; a "
             "dict for SO_PROTOCOL_INFO; with buflen, the raw bytes.")
        .def("getsockname", [](Socket& s) { return name_of(s, false); })
        .def("getpeername", [](Socket& s) { return name_of(s, true); })
        .def("event_select", &event_select, py::arg("event"), py::arg("mask"),
             "WSPEventSelect (the socket becomes non-blocking); event None and mask 0 cancel.")
        .def("enum_network_events", &enum_network_events, py::arg("event") = py::none(),
             "WSPEnumNetworkEvents (resets event if given): (mask, {FD_x: error code}).")
        .def(
            "set_keepalive_vals",
            [](Socket& self, bool onoff, ULONG time_ms, ULONG interval_ms) {
                tcp_keepalive v{onoff ? 1U : 0U, time_ms, interval_ms};
                DWORD n = 0;
                int err = 0;
                check(WSPIoctl(self.h(), SIO_KEEPALIVE_VALS, &v, sizeof v, nullptr, 0, &n, &err),
                      err);
            },
            py::arg("onoff"), py::arg("time_ms"), py::arg("interval_ms"),
            "WSPIoctl SIO_KEEPALIVE_VALS: keep-alive on or off, the idle time before the first "
            "probe and the interval between probes, in ms.")
        .def("tcp_info", &tcp_info, py::arg("version") = USTACK_TCP_INFO_VERSION,
             "WSPIoctl SIO_TCP_INFO: a dict of the fields (state, state_name, mss, rtt_us, ...); "
             "version 0: TCP_INFO_v0's fields only.")
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__",
             [](Socket& s, const py::args&) {
                 close(s);
                 return false;
             })
        .def("__repr__", [](const Socket& s) {
            return std::string("<ustack.Socket ") +
                   (s.type == SOCK_SEQPACKET ? "SOCK_SEQPACKET" : "SOCK_STREAM") +
                   (s.h() == INVALID_SOCKET ? " closed>" : ">");
        });

    m.def("select", &select, py::arg("readable"), py::arg("writable") = py::list(),
          py::arg("exceptional") = py::list(), py::arg("timeout") = py::none(),
          "WSPSelect: (readable, writable, exceptional) lists of the sockets that are ready; "
          "timeout in seconds (None: block).");
}

}  // namespace ustack_py
