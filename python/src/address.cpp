// IPv4 addresses between Python's (ip, port) tuples and SOCKADDR_IN (network byte order).
// No <arpa/inet.h>: its <netinet/in.h> clashes with wsp.h's Winsock constants.
#include <cstring>

#include "ustack_py.hpp"

namespace ustack_py {

IN_ADDR in_addr_from(const std::string& ip) {
    if (ip.empty()) {
        return IN_ADDR{INADDR_ANY};
    }
    std::array<unsigned char, 4> b{};
    std::size_t part = 0;
    std::size_t i = 0;
    while (part < 4) {
        unsigned v = 0;
        std::size_t digits = 0;
        while (i < ip.size() && ip[i] >= '0' && ip[i] <= '9' && digits < 4) {
            v = v * 10 + static_cast<unsigned>(ip[i] - '0');
            ++i;
            ++digits;
        }
        if (digits == 0 || digits > 3 || v > 255) {
            throw py::value_error("not an IPv4 address in dotted-quad form: '" + ip + "'");
        }
        b[part++] = static_cast<unsigned char>(v);
        if (part < 4) {
            if (i >= ip.size() || ip[i] != '.') {
                throw py::value_error("not an IPv4 address in dotted-quad form: '" + ip + "'");
            }
            ++i;
        }
    }
    if (i != ip.size()) {
        throw py::value_error("not an IPv4 address in dotted-quad form: '" + ip + "'");
    }
    IN_ADDR a{};
    std::memcpy(&a.s_addr, b.data(), 4);  // network byte order: the bytes as written
    return a;
}

std::string ip_string(IN_ADDR a) {
    std::array<unsigned char, 4> b{};
    std::memcpy(b.data(), &a.s_addr, 4);
    return std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) + "." +
           std::to_string(b[3]);
}

SOCKADDR_IN sockaddr_from(const py::handle& addr) {
    if (!py::isinstance<py::tuple>(addr) || py::len(addr) != 2) {
        throw py::type_error("an address is a tuple (ip: str, port: int)");
    }
    auto t = py::reinterpret_borrow<py::tuple>(addr);
    if (!py::isinstance<py::str>(t[0]) || !py::isinstance<py::int_>(t[1]) ||
        py::isinstance<py::bool_>(t[1])) {
        throw py::type_error("an address is a tuple (ip: str, port: int)");
    }
    const auto port_obj = t[1].cast<py::int_>();
    // Out-of-range Python ints (even beyond 64 bits) are a ValueError, not an OverflowError.
    if (port_obj < py::int_(0) || port_obj > py::int_(65535)) {
        throw py::value_error("port outside 0..65535");
    }
    const auto port = static_cast<unsigned>(port_obj.cast<long>());
    SOCKADDR_IN sin{};
    sin.sin_family = AF_INET;
    const std::array<unsigned char, 2> p{static_cast<unsigned char>(port >> 8),
                                         static_cast<unsigned char>(port & 0xff)};
    std::memcpy(&sin.sin_port, p.data(), 2);
    sin.sin_addr = in_addr_from(t[0].cast<std::string>());
    return sin;
}

py::tuple tuple_from(const SOCKADDR_IN& sin) {
    std::array<unsigned char, 2> p{};
    std::memcpy(p.data(), &sin.sin_port, 2);
    const int port = (p[0] << 8) | p[1];
    return py::make_tuple(ip_string(sin.sin_addr), port);
}

}  // namespace ustack_py
