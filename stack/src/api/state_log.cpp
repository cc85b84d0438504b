// The state log's lines (state_log.hpp).
#include "state_log.hpp"

#include <cstdint>
#include <vector>

#include "host.hpp"
#include "socket.hpp"
#include "ustack/connection.hpp"
#include "wsa_errors.hpp"

namespace ustack {

namespace {

void append_endpoint(std::string& out, std::string_view name, Endpoint e) {
    out += ",\"";
    out += name;
    out += "\":\"";
    out += to_string(e);
    out += '"';
}

// "SYN,ACK": the flags set, from the header's lowest bit up (RFC 9293 §3.1), as Wireshark
// lists them.
std::string flag_names(std::uint8_t f) {
    static constexpr std::pair<std::uint8_t, const char*> kNames[] = {
        {tcp_flag::fin, "FIN"}, {tcp_flag::syn, "SYN"}, {tcp_flag::rst, "RST"},
        {tcp_flag::psh, "PSH"}, {tcp_flag::ack, "ACK"}, {tcp_flag::urg, "URG"},
        {tcp_flag::ece, "ECE"}, {tcp_flag::cwr, "CWR"}};
    std::string out;
    for (const auto& [bit, name] : kNames) {
        if ((f & bit) != 0) {
            if (!out.empty()) {
                out += ',';
            }
            out += name;
        }
    }
    return out;
}

std::string line_start(Instant now, std::string_view type) {
    std::string out = "{\"t_us\":";
    out += std::to_string(now.time_since_epoch().count());
    out += ",\"type\":\"";
    out += type;
    out += '"';
    return out;
}

}  // namespace

std::string hex_field(std::string_view name, const void* data, std::size_t len) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    out += name;
    out += "\":\"";
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < len; ++i) {
        out += kHex[p[i] >> 4];
        out += kHex[p[i] & 0xf];
    }
    out += '"';
    return out;
}

void log_state_changes(Host& h) {
    if (!h.state_log_on()) {
        return;
    }
    std::vector<StateChange> changes;
    h.stack().take_state_changes(changes);
    if (changes.empty()) {
        return;
    }
    const Instant now = h.now();
    for (const StateChange& c : changes) {
        std::string line = line_start(now, "state");
        append_endpoint(line, "local", c.local);
        append_endpoint(line, "remote", c.remote);
        line += ",\"from\":\"";
        line += to_string(c.from);
        line += "\",\"to\":\"";
        line += to_string(c.to);
        line += "\",\"cause\":\"";
        line += to_string(c.cause);
        line += '"';
        if (c.cause == TransitionCause::segment) {
            line += ",\"seg\":{\"flags\":\"" + flag_names(c.seg.flags) +
                    "\",\"seq\":" + std::to_string(c.seg.seq) +
                    ",\"ack\":" + std::to_string(c.seg.ack) +
                    ",\"len\":" + std::to_string(c.seg.len) + "}";
        }
        line += '}';
        h.add_state_line(std::move(line));
    }
}

void log_link(Host& h, Instant now, bool up) {
    if (!h.state_log_on()) {
        return;
    }
    h.add_state_line(line_start(now, "device") + ",\"state\":\"" + (up ? "up" : "down") + "\"}");
}

void log_call(Host& h, const Socket& s, std::string_view call, std::string_view fields) {
    if (!h.state_log_on()) {
        return;
    }
    // (No draining first: every pass and call leaves the Stack's record empty, so the changes
    // still there are this call's own, and follow its line -- after_call takes them.)
    std::string line = line_start(h.now(), "api");
    line += ",\"socket\":" + std::to_string(s.handle);
    if (const Connection* c = connection_of(h, s)) {
        append_endpoint(line, "local", c->local());
        append_endpoint(line, "remote", c->remote());
    }
    line += ",\"call\":\"";
    line += call;
    line += '"';
    if (!fields.empty()) {
        line += ',';
        line += fields;
    }
    line += '}';
    h.add_state_line(std::move(line));
}

void log_recv_outcome(Host& h, SocketId id, Errc e, std::size_t received,
                      std::span<const WSABUF> bufs) {
    if (!h.state_log_on()) {
        return;
    }
    const Socket* s = h.sockets().find(id);
    if (s == nullptr) {
        return;
    }
    if (e == Errc::ok) {
        std::size_t room = 0;
        for (const WSABUF& b : bufs) {
            room += b.len;
        }
        if (received == 0 && room > 0) {
            log_call(h, *s, "WSPRecv", "\"result\":\"0\"");
        }
        return;
    }
    const int code = wsa_error(e);
    switch (code) {
        case WSAEDISCON:
        case WSAECONNRESET:
        case WSAECONNABORTED:
        case WSAENETRESET:
        case WSAENETDOWN:
        case WSAETIMEDOUT:
        case WSAESHUTDOWN:
            log_call(h, *s, "WSPRecv", std::string("\"result\":\"") + WSPErrorName(code) + "\"");
            break;
        default: break;  // would block, interrupted, misuse: nothing ended
    }
}

void Host::add_state_line(std::string line) {
    if (state_lines_.size() >= kMaxPendingStateLines) {
        ++state_lines_dropped_;
        return;
    }
    state_lines_.push_back(std::move(line));
}

void Host::take_state_lines(std::vector<std::string>& out) {
    log_state_changes(*this);
    for (std::string& l : state_lines_) {
        out.push_back(std::move(l));
    }
    state_lines_.clear();
}

void HostCore::take_state_log(std::vector<std::string>& out) {
    std::lock_guard lock(api_mutex());
    host_->take_state_lines(out);
}

}  // namespace ustack
