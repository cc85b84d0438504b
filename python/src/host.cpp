// Host: one WSPStartup (a TUN device or an end of an in-memory link), cleaned up by close() or
// the context manager's exit; MemoryLinkEnd: an end of WSPCreateMemoryLink.
#include <pybind11/stl.h>

#include <charconv>
#include <map>
#include <string_view>
#include <variant>
#include <vector>

#include "ustack_py.hpp"

namespace ustack_py {
namespace {

// One end of an in-memory link, until a Host takes it (then `device` is null).
struct MemoryLinkEnd {
    void* device = nullptr;
    MemoryLinkEnd() = default;
    MemoryLinkEnd(const MemoryLinkEnd&) = delete;
    MemoryLinkEnd& operator=(const MemoryLinkEnd&) = delete;
    ~MemoryLinkEnd() { WSPFreeDevice(device); }
};

struct Host {
    std::shared_ptr<HostState> state = std::make_shared<HostState>();
};

// The host's handle for a call, or WSAError WSANOTINITIALISED once cleaned up. Lock held.
WSPHOST live(HostState& s) {
    if (s.handle == nullptr) {
        throw_wsa(WSANOTINITIALISED);
    }
    return s.handle;
}

std::unique_ptr<Host> make_host(
    const std::string& addr, const std::optional<std::string>& tun_name, MemoryLinkEnd* device,
    int prefix_len, const std::optional<std::string>& gateway, bool disconnect_data,
    std::uint32_t msl_ms, std::uint32_t cleanup_timeout_ms, const std::optional<py::object>& pcap,
    const std::optional<py::object>& state_log, const std::optional<std::string>& congestion,
    std::uint32_t recv_buffer, std::uint32_t send_buffer, std::uint64_t isn_seed, bool no_offload,
    std::uint32_t max_message_size, bool keepalive, std::uint32_t keepalive_time_ms,
    std::uint32_t keepalive_interval_ms, bool create_tun, bool reattach,
    std::uint32_t max_connections) {
    if (tun_name && device != nullptr) {
        throw py::value_error("give tun_name or device, not both");
    }
    if (device != nullptr && device->device == nullptr) {
        throw py::value_error("this memory link end was already given to a Host");
    }
    auto host = std::make_unique<Host>();
    HostState& st = *host->state;
    WSPHOSTCONFIG cfg{};
    cfg.addr = in_addr_from(addr);
    if (tun_name) {
        st.tun_name = *tun_name;
        cfg.tun_name = st.tun_name.c_str();
    }
    cfg.prefix_len = prefix_len;
    if (gateway) {
        cfg.gateway = in_addr_from(*gateway);
    }
    cfg.disconnect_data = disconnect_data ? 1 : 0;
    cfg.msl_ms = msl_ms;
    cfg.cleanup_timeout_ms = cleanup_timeout_ms;
    if (pcap && !pcap->is_none()) {
        st.pcap = py::str(py::module_::import("os").attr("fspath")(*pcap)).cast<std::string>();
        cfg.pcap_path = st.pcap.c_str();
    }
    if (state_log && !state_log->is_none()) {
        st.state_log =
            py::str(py::module_::import("os").attr("fspath")(*state_log)).cast<std::string>();
        cfg.state_log_path = st.state_log.c_str();
    }
    if (congestion) {
        st.congestion = *congestion;
        cfg.congestion = st.congestion.c_str();
    }
    cfg.recv_buffer = recv_buffer;
    cfg.send_buffer = send_buffer;
    cfg.isn_seed = isn_seed;
    cfg.no_offload = no_offload ? 1 : 0;
    cfg.max_message_size = max_message_size;
    cfg.keepalive = keepalive ? 1 : 0;
    cfg.keepalive_time_ms = keepalive_time_ms;
    cfg.keepalive_interval_ms = keepalive_interval_ms;
    cfg.create_tun = create_tun ? 1 : 0;
    cfg.reattach = reattach ? 1 : 0;
    cfg.max_connections = max_connections;
    if (device != nullptr) {
        cfg.device = std::exchange(device->device, nullptr);  // WSPStartup owns it, even on failure
    }
    int err = 0;
    WSPHOST h = nullptr;
    int rc = 0;
    {
        py::gil_scoped_release nogil;
        rc = WSPStartup(&cfg, &h, &err);
    }
    if (rc != 0) {
        throw_wsa(err);
    }
    st.handle = h;
    return host;
}

// WSPFormatHostStats' "name value" lines as a dict (integers where the value is one).
py::dict stats_of(HostState& s) {
    std::vector<char> buf(1 << 14);
    std::string text;
    {
        std::lock_guard lock(s.mutex);
        WSPHOST h = live(s);
        for (;;) {
            const int n = WSPFormatHostStats(h, buf.data(), buf.size());
            if (n < 0) {
                throw_wsa(WSANOTINITIALISED);
            }
            if (static_cast<std::size_t>(n) + 1 < buf.size()) {
                text.assign(buf.data(), static_cast<std::size_t>(n));
                break;
            }
            buf.resize(buf.size() * 4);
        }
    }
    py::dict out;
    std::string_view rest = text;
    while (!rest.empty()) {
        const std::size_t eol = rest.find('\n');
        std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
        const std::size_t sp = line.find(' ');
        if (line.empty() || sp == std::string_view::npos) {
            continue;
        }
        const std::string_view name = line.substr(0, sp);
        const std::string_view value = line.substr(sp + 1);
        long long v = 0;
        const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec == std::errc{} && p == value.data() + value.size()) {
            out[py::str(std::string(name))] = v;
        } else {
            out[py::str(std::string(name))] = std::string(value);
        }
    }
    return out;
}

}  // namespace

HostState::~HostState() {
    if (handle == nullptr) {
        return;
    }
    // The last owner went away without close(): clean up, without the GIL if we hold it.
    if (PyGILState_Check() != 0) {
        py::gil_scoped_release nogil;
        cleanup();
    } else {
        cleanup();
    }
}

int HostState::cleanup() {
    WSPHOST h = nullptr;
    {
        std::lock_guard lock(mutex);
        h = std::exchange(handle, nullptr);
        closed.store(true);
    }
    if (h == nullptr) {
        return 0;
    }
    int err = 0;
    return WSPCleanup(h, &err) == 0 ? 0 : err;
}

void bind_host(py::module_& m) {
    py::class_<MemoryLinkEnd>(m, "MemoryLinkEnd",
                              "One end of an in-memory link (WSPCreateMemoryLink), for "
                              "Host(device=...); freed (WSPFreeDevice) if never used.");

    m.def(
        "create_memory_link",
        [](double loss, std::uint64_t seed, std::uint32_t delay_us) {
            void* a = nullptr;
            void* b = nullptr;
            int err = 0;
            if (WSPCreateMemoryLink(loss, seed, delay_us, &a, &b, &err) != 0) {
                throw_wsa(err);
            }
            auto ea = std::make_unique<MemoryLinkEnd>();
            ea->device = a;
            auto eb = std::make_unique<MemoryLinkEnd>();
            eb->device = b;
            return py::make_tuple(py::cast(std::move(ea)), py::cast(std::move(eb)));
        },
        py::arg("loss") = 0.0, py::arg("seed") = 1, py::arg("delay_us") = 0,
        "WSPCreateMemoryLink: the two ends of an in-memory link losing `loss` of the packets "
        "each way (seeded), each delayed `delay_us` microseconds.");

    py::class_<Host>(m, "Host",
                     "A ustack host (WSPStartup): its own IPv4 address, device and engine "
                     "thread. close() or leaving the `with` block calls WSPCleanup.")
        .def(py::init(&make_host), py::kw_only(), py::arg("addr"), py::arg("tun_name") = py::none(),
             py::arg("device") = nullptr, py::arg("prefix_len") = 24,
             py::arg("gateway") = py::none(), py::arg("disconnect_data") = true,
             py::arg("msl_ms") = 0, py::arg("cleanup_timeout_ms") = 0, py::arg("pcap") = py::none(),
             py::arg("state_log") = py::none(), py::arg("congestion") = py::none(),
             py::arg("recv_buffer") = 0, py::arg("send_buffer") = 0, py::arg("isn_seed") = 0,
             py::arg("no_offload") = false, py::arg("max_message_size") = 0,
             py::arg("keepalive") = false, py::arg("keepalive_time_ms") = 0,
             py::arg("keepalive_interval_ms") = 0, py::arg("create_tun") = false,
             py::arg("reattach") = false, py::arg("max_connections") = 0)
        .def_property_readonly("closed", [](const Host& h) { return h.state->closed.load(); })
        .def_property_readonly("service_flags",
                               [](Host& h) {
                                   std::lock_guard lock(h.state->mutex);
                                   return WSPGetServiceFlags(live(*h.state));
                               })
        .def("stats", [](Host& h) { return stats_of(*h.state); })
        .def(
            "socket",
            [](Host& h, int type, int protocol) { return make_socket(h.state, type, protocol); },
            py::arg("type") = SOCK_STREAM, py::arg("protocol") = IPPROTO_TCP)
        .def("close",
             [](Host& h) {
                 int err = 0;
                 {
                     py::gil_scoped_release nogil;
                     err = h.state->cleanup();
                 }
                 if (err != 0) {
                     throw_wsa(err);
                 }
             })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](Host& h, const py::args&) {
            int err = 0;
            {
                py::gil_scoped_release nogil;
                err = h.state->cleanup();
            }
            if (err != 0) {
                throw_wsa(err);
            }
            return false;
        });
}

}  // namespace ustack_py
