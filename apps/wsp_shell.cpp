// wsp-shell: drive the WSP API one line at a time, for people exploring teardown by hand and
// for scripts. Each command prints one result line: "OK ..." or "ERR <WSAE name> ...".
// Sockets are named by the number `socket`/`accept` printed (1, 2, ...). `socket message` makes
// a message-oriented socket (SOCK_SEQPACKET, DESIGN.md §3b): `send` sends one message, `recv`
// reads at most one (MSG_PARTIAL when it continues), and the end is ERR WSAEDISCON.
//
// The shell never trusts its input: a line it cannot use (unknown command; a missing, malformed,
// out-of-range or extra argument; an unknown socket number; a line over kMaxLine bytes) answers
// "ERR WSAEINVAL <reason>; usage: ..." before any API call. Every allocation an argument asks
// for is bounded (kMaxBuffer, kMaxFill).
//
// Time-outs ([timeout_ms] on the blocking commands) use the API only: the call is made with the
// socket in non-blocking mode (a blocking socket is switched for the call and back), and
// WSPSelect with a TIMEVAL on that one socket waits between tries.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "host_options.hpp"
#include "ustack/byte_order.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxLine = 64 * 1024;           // bytes per input line, newline excluded
constexpr std::uint64_t kMaxBuffer = 1024 * 1024;     // recv max, recvdisconnect bufsize
constexpr std::uint64_t kMaxFill = 16 * 1024 * 1024;  // fill:<n> data
constexpr std::uint64_t kMaxMs = 86'400'000;          // timeout_ms, wait and sleep: one day

const char* kNotes =
    "<s>: a socket number. <data>: one word: text (no blanks), hex:<hex>, int:<n> (8 bytes,\n"
    "big-endian) or fill:<n> (n bytes 00 01 .. ff 00 ..., n <= 16777216). Numbers are decimal,\n"
    "unsigned; max and bufsize 0..1048576; ms and timeout_ms 0..86400000.\n"
    "\n"
    "Message sockets (socket message: SOCK_SEQPACKET): send sends <data> as one message, whole\n"
    "or not at all (over SO_MAX_MSG_SIZE: ERR WSAEMSGSIZE; non-blocking without room:\n"
    "ERR WSAEWOULDBLOCK); hex: alone is a zero-length message. recv returns one message at\n"
    "most, once it has arrived whole: a longer one comes in parts of at most max bytes, each\n"
    "but the last with MSG_PARTIAL; OK 0 is a zero-length message; the end of the peer's data\n"
    "is ERR WSAEDISCON, on every later recv too.\n"
    "\n"
    "timeout_ms: wait at most that long (WSPSelect on the socket; in either blocking mode), then\n"
    "answer ERR WSAETIMEDOUT and leave the socket as it was. Without it a call waits as the\n"
    "socket's mode says (blocking: until done; non-blocking: ERR WSAEWOULDBLOCK).\n"
    "  connect: a Winsock connect cannot be taken back, so on time-out the attempt is closed\n"
    "    (SO_LINGER {1,0} + WSPCloseSocket) and a fresh socket with the same settings\n"
    "    (non-blocking mode, event selection, linger, nodelay, buffer sizes, bound port) takes\n"
    "    its number: the socket is unconnected, as before the connect.\n"
    "  send: ERR WSAETIMEDOUT <bytes queued>; what was queued stays queued (an error after a\n"
    "    partial send also carries the count).\n"
    "  recvdisconnect: WSPRecvDisconnect never waits; with timeout_ms the shell first waits\n"
    "    until the peer's FIN has arrived and every byte before it has been read (what makes\n"
    "    FD_CLOSE), then calls it. Unread data: ERR WSAEWOULDBLOCK at once and no call (recv\n"
    "    first: WSPRecvDisconnect with data unread resets the connection).\n"
    "\n"
    "Input the shell cannot use (unknown command; missing, malformed, out-of-range or extra\n"
    "argument; unknown socket number; a line over 65536 bytes) answers\n"
    "ERR WSAEINVAL <reason>; usage: ..., and makes no API call. Blank lines and lines starting\n"
    "with # are ignored.\n";

// ---- input -------------------------------------------------------------------------------

// An argument the shell cannot use; the command loop answers ERR WSAEINVAL <why>; usage: ...
struct BadInput {
    std::string why;
};

// A word of input, safe to echo: printable ASCII only, at most 40 characters.
std::string quote(std::string_view w) {
    return apps::quote_arg(w);
}

// The words of one command after its name, consumed left to right.
class Args {
public:
    explicit Args(std::vector<std::string_view> words) : words_(std::move(words)) {}

    bool more() const { return next_ < words_.size(); }
    std::string_view peek() const { return more() ? words_[next_] : std::string_view{}; }
    std::string_view word(std::string_view what) {
        if (!more())
            throw BadInput{"missing " + std::string(what)};
        return words_[next_++];
    }
    // A decimal number 0..hi (no sign, nothing after it).
    std::uint64_t number(std::string_view what, std::uint64_t hi) {
        const std::string_view w = word(what);
        const auto v = apps::parse_number(w, 0, hi);
        if (!v)
            throw BadInput{"bad " + std::string(what) + " " + quote(w) + " (0.." +
                           std::to_string(hi) + ")"};
        return *v;
    }
    std::optional<std::uint64_t> optional_number(std::string_view what, std::uint64_t hi) {
        if (!more())
            return std::nullopt;
        return number(what, hi);
    }
    std::optional<Clock::time_point> deadline() {
        const auto ms = optional_number("timeout_ms", kMaxMs);
        if (!ms)
            return std::nullopt;
        return Clock::now() + std::chrono::milliseconds(*ms);
    }
    void done() const {
        if (more())
            throw BadInput{"extra argument " + quote(words_[next_])};
    }

private:
    std::vector<std::string_view> words_;
    std::size_t next_ = 0;
};

std::vector<std::string_view> split(std::string_view line) {
    std::vector<std::string_view> words;
    constexpr std::string_view blanks = " \t\r\v\f";
    std::size_t i = 0;
    while ((i = line.find_first_not_of(blanks, i)) != std::string_view::npos) {
        const std::size_t end = std::min(line.find_first_of(blanks, i), line.size());
        words.push_back(line.substr(i, end - i));
        i = end;
    }
    return words;
}

enum class LineRead { line, too_long, end };

// One line of at most kMaxLine bytes; the rest of a longer line is read and dropped.
LineRead read_line(std::FILE* in, std::string& line) {
    line.clear();
    bool over = false;
    int c = 0;
    while ((c = std::getc(in)) != EOF && c != '\n') {
        if (line.size() < kMaxLine) {
            line.push_back(static_cast<char>(c));
        } else {
            over = true;
        }
    }
    if (over)
        return LineRead::too_long;
    return c == EOF && line.empty() ? LineRead::end : LineRead::line;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// <data>: text, hex:<hex>, int:<n> (8 bytes, big-endian), fill:<n>.
std::vector<unsigned char> parse_data(std::string_view arg) {
    std::vector<unsigned char> out;
    if (arg.starts_with("hex:")) {
        const std::string_view h = arg.substr(4);
        if (h.size() % 2 != 0)
            throw BadInput{"hex: needs an even number of digits"};
        for (std::size_t i = 0; i < h.size(); i += 2) {
            const int hi = hex_digit(h[i]), lo = hex_digit(h[i + 1]);
            if (hi < 0 || lo < 0)
                throw BadInput{"bad hex digits " + quote(h.substr(i, 2))};
            out.push_back(static_cast<unsigned char>(hi * 16 + lo));
        }
    } else if (arg.starts_with("int:")) {
        const auto v = apps::parse_signed(arg.substr(4), INT64_MIN, INT64_MAX);
        if (!v)
            throw BadInput{"bad int: " + quote(arg.substr(4)) + " (a 64-bit signed number)"};
        const auto u = static_cast<unsigned long long>(*v);
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(u >> (56 - 8 * i)));
    } else if (arg.starts_with("fill:")) {
        const auto n = apps::parse_number(arg.substr(5), 0, kMaxFill);
        if (!n)
            throw BadInput{"bad fill: " + quote(arg.substr(5)) + " (0.." +
                           std::to_string(kMaxFill) + ")"};
        out.resize(static_cast<std::size_t>(*n));
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(i);
    } else {
        out.assign(arg.begin(), arg.end());
    }
    return out;
}

// ---- output ------------------------------------------------------------------------------

std::string hex(const unsigned char* p, std::size_t n) {
    static const char* d = "0123456789abcdef";
    std::string r;
    r.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        r += d[p[i] >> 4];
        r += d[p[i] & 15];
    }
    return r;
}

std::string addr_str(const SOCKADDR_IN& sin) {
    const auto* a = reinterpret_cast<const unsigned char*>(&sin.sin_addr.s_addr);
    const auto* p = reinterpret_cast<const unsigned char*>(&sin.sin_port);
    return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
           std::to_string(a[3]) + ":" + std::to_string(ustack::load_be16(p));
}

// RFC 9293 §3.3.2 names, indexed by TCPSTATE.
std::string state_name(TCPSTATE st) {
    static const char* names[] = {"CLOSED",      "LISTEN",     "SYN-SENT",   "SYN-RECEIVED",
                                  "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
                                  "CLOSING",     "LAST-ACK",   "TIME-WAIT"};
    const auto i = static_cast<unsigned>(st);
    return i < std::size(names) ? names[i] : "TCPSTATE(" + std::to_string(i) + ")";
}

// name=value for every field of USTACK_TCP_INFO, TCP_INFO_v0's first.
std::string info_line(const USTACK_TCP_INFO& t) {
    std::string r;
    auto f = [&r](const char* name, auto v) {
        if (!r.empty())
            r += ' ';
        r += name;
        r += '=';
        if constexpr (std::is_same_v<decltype(v), std::string>) {
            r += v;
        } else {
            r += std::to_string(static_cast<std::uint64_t>(v));
        }
    };
    const TCP_INFO_v0& v = t.v0;
    f("state", state_name(v.State));
    f("mss", v.Mss);
    f("connection_time_ms", v.ConnectionTimeMs);
    f("timestamps_enabled", v.TimestampsEnabled);
    f("rtt_us", v.RttUs);
    f("min_rtt_us", v.MinRttUs);
    f("bytes_in_flight", v.BytesInFlight);
    f("cwnd", v.Cwnd);
    f("snd_wnd", v.SndWnd);
    f("rcv_wnd", v.RcvWnd);
    f("rcv_buf", v.RcvBuf);
    f("bytes_out", v.BytesOut);
    f("bytes_in", v.BytesIn);
    f("bytes_reordered", v.BytesReordered);
    f("bytes_retrans", v.BytesRetrans);
    f("fast_retrans", v.FastRetrans);
    f("dup_acks_in", v.DupAcksIn);
    f("timeout_episodes", v.TimeoutEpisodes);
    f("syn_retrans", v.SynRetrans);
    f("sack_enabled", t.SackEnabled);
    f("window_scaling_enabled", t.WindowScalingEnabled);
    f("snd_wind_shift", t.SndWindShift);
    f("rcv_wind_shift", t.RcvWindShift);
    f("rtt_var_us", t.RttVarUs);
    f("rto_us", t.RtoUs);
    f("ss_thresh", t.SsThresh);
    f("snd_buf", t.SndBuf);
    f("segs_out", t.SegsOut);
    f("segs_in", t.SegsIn);
    f("retransmits", t.Retransmits);
    return r;
}

// XP1_* service flags by name (winsock2.h's values), in bit order, joined by `sep`; bits
// without a name as one hex number at the end.
std::string xp1_names(DWORD flags, char sep) {
    static const std::pair<DWORD, const char*> names[] = {
        {0x00000001, "XP1_CONNECTIONLESS"},
        {0x00000002, "XP1_GUARANTEED_DELIVERY"},
        {0x00000004, "XP1_GUARANTEED_ORDER"},
        {XP1_MESSAGE_ORIENTED, "XP1_MESSAGE_ORIENTED"},
        {0x00000010, "XP1_PSEUDO_STREAM"},
        {XP1_GRACEFUL_CLOSE, "XP1_GRACEFUL_CLOSE"},
        {0x00000040, "XP1_EXPEDITED_DATA"},
        {0x00000080, "XP1_CONNECT_DATA"},
        {XP1_DISCONNECT_DATA, "XP1_DISCONNECT_DATA"},
        {0x00000200, "XP1_SUPPORT_BROADCAST"},
        {0x00000400, "XP1_SUPPORT_MULTIPOINT"},
        {0x00000800, "XP1_MULTIPOINT_CONTROL_PLANE"},
        {0x00001000, "XP1_MULTIPOINT_DATA_PLANE"},
        {0x00002000, "XP1_QOS_SUPPORTED"},
        {0x00004000, "XP1_INTERRUPT"},
        {0x00008000, "XP1_UNI_SEND"},
        {0x00010000, "XP1_UNI_RECV"},
        {0x00020000, "XP1_IFS_HANDLES"},
        {XP1_PARTIAL_MESSAGE, "XP1_PARTIAL_MESSAGE"},
        {0x00080000, "XP1_SAN_SUPPORT_SDP"},
    };
    std::string r;
    for (const auto& [bit, name] : names) {
        if ((flags & bit) == 0)
            continue;
        if (!r.empty())
            r += sep;
        r += name;
        flags &= ~bit;
    }
    if (flags != 0) {
        char h[16];
        std::snprintf(h, sizeof h, "0x%x", static_cast<unsigned>(flags));
        r += (r.empty() ? "" : std::string(1, sep)) + h;
    }
    return r.empty() ? "0" : r;
}

std::string socket_type_name(int type) {
    if (type == SOCK_STREAM)
        return "SOCK_STREAM";
    if (type == SOCK_SEQPACKET)
        return "SOCK_SEQPACKET";
    return std::to_string(type);
}

// One result line: "<head> <rest>", or "<head>" when rest is empty.
void answer(std::string line, std::string_view rest) {
    if (!rest.empty())
        line.append(" ").append(rest);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}
void ok(std::string_view rest = {}) {
    answer("OK", rest);
}
void fail(int e, std::string_view rest = {}) {
    answer(std::string("ERR ") + WSPErrorName(e), rest);
}

// ---- sockets and waits -------------------------------------------------------------------

struct Sock {
    SOCKET s = INVALID_SOCKET;
    WSAEVENT ev = WSA_INVALID_EVENT;           // shared with the sockets accepted from this one
    long mask = 0;                             // WSPEventSelect's lNetworkEvents
    bool nonblocking = false;                  // FIONBIO, or forced by WSPEventSelect
    std::optional<unsigned short> bound_port;  // what `bind` asked for
    int type = SOCK_STREAM;                    // or SOCK_SEQPACKET (`socket message`)
};

int set_nonblocking(SOCKET s, bool on) {
    u_long v = on ? 1 : 0;
    DWORD ret = 0;
    int e = 0;
    return WSPIoctl(s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, &e) == 0 ? 0 : e;
}

// For a call with a time-out: a blocking socket is non-blocking while the call runs, so the
// call answers WSAEWOULDBLOCK instead of waiting and WSPSelect does the waiting.
class NonBlockingScope {
public:
    explicit NonBlockingScope(const Sock& k) : s_(k.s), changed_(!k.nonblocking) {
        if (changed_)
            error_ = set_nonblocking(s_, true);
        if (error_ != 0)
            changed_ = false;
    }
    ~NonBlockingScope() {
        if (changed_)
            (void)set_nonblocking(s_, false);
    }
    NonBlockingScope(const NonBlockingScope&) = delete;
    NonBlockingScope& operator=(const NonBlockingScope&) = delete;

    int error() const { return error_; }
    bool changed() const { return changed_; }
    void dismiss() { changed_ = false; }  // the socket is gone

private:
    SOCKET s_;
    bool changed_;
    int error_ = 0;
};

enum Ready : unsigned { kRead = 1, kWrite = 2, kExcept = 4 };

// WSPSelect on `s` in the sets `want` until one holds or `deadline` passes. Returns the sets
// that hold, 0 on time-out, or -1 with `e` set.
int select_one(SOCKET s, unsigned want, Clock::time_point deadline, int& e) {
    for (;;) {
        WSP_FD_SET sets[3]{};
        WSP_FD_SET* ptr[3]{};
        for (unsigned i = 0; i < 3; ++i) {
            if ((want & (1u << i)) == 0)
                continue;
            sets[i].fd_count = 1;
            sets[i].fd_array[0] = s;
            ptr[i] = &sets[i];
        }
        const auto left = std::chrono::ceil<std::chrono::microseconds>(
            std::max(deadline - Clock::now(), Clock::duration::zero()));
        const TIMEVAL tv{static_cast<long>(left.count() / 1'000'000),
                         static_cast<long>(left.count() % 1'000'000)};
        const int n = WSPSelect(0, ptr[0], ptr[1], ptr[2], &tv, &e);
        if (n == SOCKET_ERROR)
            return -1;
        if (n > 0) {
            unsigned got = 0;
            for (unsigned i = 0; i < 3; ++i)
                if (ptr[i] != nullptr && sets[i].fd_count > 0)
                    got |= 1u << i;
            return static_cast<int>(got);
        }
        if (Clock::now() >= deadline)
            return 0;
    }
}

// Call `attempt` (0 or a WSAE code) until it answers other than WSAEWOULDBLOCK, waiting in
// WSPSelect for `want` between tries; WSAETIMEDOUT once `deadline` has passed.
template <class F>
int retry_until(SOCKET s, unsigned want, Clock::time_point deadline, F attempt) {
    for (;;) {
        int e = attempt();
        if (e != WSAEWOULDBLOCK)
            return e;
        const int r = select_one(s, want, deadline, e);
        if (r == 0)
            return WSAETIMEDOUT;
        if (r < 0)
            return e;
    }
}

long event_bit(std::string_view n) {
    if (n == "FD_READ")
        return FD_READ;
    if (n == "FD_WRITE")
        return FD_WRITE;
    if (n == "FD_OOB")
        return FD_OOB;
    if (n == "FD_ACCEPT")
        return FD_ACCEPT;
    if (n == "FD_CONNECT")
        return FD_CONNECT;
    if (n == "FD_CLOSE")
        return FD_CLOSE;
    return 0;
}

// ---- the shell ---------------------------------------------------------------------------

class Shell;

struct Command {
    std::string_view name;
    std::string_view args;  // as the help and usage hints show them
    std::string_view what;
    void (Shell::*run)(Args&);
};

class Shell {
public:
    explicit Shell(WSPHOST host) : host_(host) {}

    // Returns false on quit.
    bool execute(std::string_view line);
    static std::string help();

private:
    int number(Args& a) {
        const std::string_view w = a.word("<s>");
        const auto n = apps::parse_number(w, 0, INT_MAX);
        if (!n || socks_.count(static_cast<int>(*n)) == 0)
            throw BadInput{"no socket " + quote(w)};
        return static_cast<int>(*n);
    }
    Sock& sock(Args& a) { return socks_.at(number(a)); }
    int add(Sock k) {
        socks_[next_] = k;
        return next_++;
    }
    std::string replace(Sock& k);

    void cmd_socket(Args& a);
    void cmd_bind(Args& a);
    void cmd_listen(Args& a);
    void cmd_accept(Args& a);
    void cmd_connect(Args& a);
    void cmd_connectdata(Args& a);
    void cmd_condaccept(Args& a) { bool_option(a, SOL_SOCKET, SO_CONDITIONAL_ACCEPT); }
    // WSPConnect (with `caller` data, `callee` buffer) as `connect` does it; 0 or the WSAE code,
    // `note` what a time-out's fresh socket could not restore.
    int connect_with(Sock& k, const SOCKADDR_IN& sin, LPWSABUF caller, LPWSABUF callee,
                     std::optional<Clock::time_point> deadline, std::string& note);
    void cmd_send(Args& a);
    void cmd_recv(Args& a);
    void cmd_shutdown(Args& a);
    void cmd_senddisconnect(Args& a);
    void cmd_recvdisconnect(Args& a);
    void cmd_linger(Args& a);
    void cmd_dontlinger(Args& a) { bool_option(a, SOL_SOCKET, SO_DONTLINGER); }
    void cmd_nodelay(Args& a) { bool_option(a, IPPROTO_TCP, TCP_NODELAY); }
    void cmd_nonblocking(Args& a);
    void cmd_sndbuf(Args& a) { buffer_option(a, SO_SNDBUF); }
    void cmd_rcvbuf(Args& a) { buffer_option(a, SO_RCVBUF); }
    void cmd_select(Args& a);
    void cmd_events(Args& a);
    void cmd_wait(Args& a);
    void cmd_getopt(Args& a);
    void cmd_state(Args& a);
    void cmd_info(Args& a);
    void cmd_peer(Args& a) { address(a, WSPGetPeerName); }
    void cmd_name(Args& a) { address(a, WSPGetSockName); }
    void cmd_close(Args& a);
    void cmd_sleep(Args& a);
    void cmd_stats(Args& a);
    void cmd_flags(Args& a);
    void cmd_help(Args& a);

    void bool_option(Args& a, int level, int opt);
    void buffer_option(Args& a, int opt);
    void address(Args& a, int (*get)(SOCKET, SOCKADDR*, LPINT, LPINT));
    bool tcp_info(SOCKET s, DWORD version, void* out, DWORD len);

    static const Command kCommands[];

    WSPHOST host_;
    std::map<int, Sock> socks_;
    int next_ = 1;
};

const Command Shell::kCommands[] = {
    {"socket", "[stream|message]", "-> OK <s>; message: SOCK_SEQPACKET", &Shell::cmd_socket},
    {"bind", "<s> <port>", "bind to this host's address", &Shell::cmd_bind},
    {"listen", "<s> [backlog]", "backlog 0..65535, 16 if not given", &Shell::cmd_listen},
    {"condaccept", "<s> 0|1", "SO_CONDITIONAL_ACCEPT (before listen)", &Shell::cmd_condaccept},
    {"accept", "<s> [timeout_ms] [accept|reject|defer [<callee data>]]",
     "-> OK <new s> <peer addr:port> <caller-len> [<caller-hex>]\n"
     "                                      a verdict: with a condition function answering it\n"
     "                                      (reject: ERR WSAECONNREFUSED, defer: ERR WSATRY_AGAIN)",
     &Shell::cmd_accept},
    {"connect", "<s> <A.B.C.D> <port> [timeout_ms]", "on time-out: a fresh socket (below)",
     &Shell::cmd_connect},
    {"connectdata", "<s> <A.B.C.D> <port> <data> [timeout_ms]",
     "<data> as caller data -> OK <callee-len> [<callee-hex>]", &Shell::cmd_connectdata},
    {"send", "<s> <data> [timeout_ms]", "-> OK <bytes sent> (message socket: one message)",
     &Shell::cmd_send},
    {"recv", "<s> [max] [timeout_ms]",
     "-> OK <n> <hex> [MSG_PARTIAL]; max 4096 if not given\n"
     "                                      the end: OK 0 (stream), ERR WSAEDISCON (message)",
     &Shell::cmd_recv},
    {"shutdown", "<s> send|receive|both|<how>", "WSPShutdown", &Shell::cmd_shutdown},
    {"senddisconnect", "<s> [<data>]", "no data: plain FIN", &Shell::cmd_senddisconnect},
    {"recvdisconnect", "<s> [bufsize] [timeout_ms]", "-> OK <len> <hex>; bufsize 64 if not given",
     &Shell::cmd_recvdisconnect},
    {"linger", "<s> <onoff> <seconds>", "SO_LINGER, each 0..65535", &Shell::cmd_linger},
    {"dontlinger", "<s> 0|1", "SO_DONTLINGER", &Shell::cmd_dontlinger},
    {"nonblocking", "<s> 0|1", "FIONBIO", &Shell::cmd_nonblocking},
    {"nodelay", "<s> 0|1", "TCP_NODELAY", &Shell::cmd_nodelay},
    {"sndbuf", "<s> [bytes]", "SO_SNDBUF (set 0..2147483647; no bytes: -> OK <bytes>)",
     &Shell::cmd_sndbuf},
    {"rcvbuf", "<s> [bytes]", "SO_RCVBUF, likewise", &Shell::cmd_rcvbuf},
    {"select", "<s> [FD_READ|FD_WRITE|FD_OOB|FD_ACCEPT|FD_CONNECT|FD_CLOSE ...]",
     "WSPEventSelect (no events: cancel)", &Shell::cmd_select},
    {"events", "<s>", "WSPEnumNetworkEvents -> OK FD_X(err) ... | OK none", &Shell::cmd_events},
    {"wait", "<s> <ms>", "the socket's event object (after select) -> OK | ERR WSAETIMEDOUT",
     &Shell::cmd_wait},
    {"getopt",
     "<s> discdatalen|conndatalen|conndata|condaccept|linger|dontlinger|error|nread|maxmsgsize|"
     "type|protocolinfo",
     "conndata -> OK <len> [<hex>] (SO_CONNDATA)\n"
     "                                      type -> OK SOCK_STREAM | OK SOCK_SEQPACKET\n"
     "                                      protocolinfo -> OK dwServiceFlags1=<XP1_..|..>\n"
     "                                        iSocketType=<type> iProtocol=<p> dwMessageSize=<n>",
     &Shell::cmd_getopt},
    {"state", "<s>", "SIO_TCP_INFO -> OK ESTABLISHED | OK TIME-WAIT | ... (RFC 9293)",
     &Shell::cmd_state},
    {"info", "<s>", "SIO_TCP_INFO, USTACK_TCP_INFO -> OK state=<name> mss=<n> ...",
     &Shell::cmd_info},
    {"peer", "<s>", "WSPGetPeerName -> OK <addr:port>", &Shell::cmd_peer},
    {"name", "<s>", "WSPGetSockName -> OK <addr:port>", &Shell::cmd_name},
    {"close", "<s>", "WSPCloseSocket", &Shell::cmd_close},
    {"sleep", "<ms>", "", &Shell::cmd_sleep},
    {"stats", "", "the host's counters", &Shell::cmd_stats},
    {"flags", "", "XP1_* service flags", &Shell::cmd_flags},
    {"help", "", "", &Shell::cmd_help},
    {"quit", "", "or exit, or end of input", nullptr},
    {"exit", "", "", nullptr},
};

std::string Shell::help() {
    std::string r = "commands (one per line):\n";
    for (const Command& c : kCommands) {
        if (c.name == "exit")
            continue;
        std::string left =
            "  " + std::string(c.name) + (c.args.empty() ? "" : " ") + std::string(c.args);
        if (!c.what.empty()) {
            constexpr std::size_t column = 38;
            if (left.size() >= column)
                left += "\n";
            left.resize(left.size() < column ? column : left.size() + column, ' ');
            left += c.what;
        }
        r += left + "\n";
    }
    return r + "\n" + kNotes;
}

bool Shell::execute(std::string_view line) {
    std::vector<std::string_view> words = split(line);
    if (words.empty() || words[0].starts_with("#"))
        return true;
    const Command* c = nullptr;
    for (const Command& k : kCommands)
        if (k.name == words[0])
            c = &k;
    if (c == nullptr) {
        fail(WSAEINVAL, "unknown command " + quote(words[0]) + " (help)");
        return true;
    }
    Args a({words.begin() + 1, words.end()});
    try {
        if (c->run == nullptr) {
            a.done();
            return false;  // quit
        }
        (this->*c->run)(a);
    } catch (const BadInput& b) {
        fail(WSAEINVAL, b.why + "; usage: " + std::string(c->name) + (c->args.empty() ? "" : " ") +
                            std::string(c->args));
    } catch (const std::bad_alloc&) {
        fail(WSAENOBUFS, "out of memory");
    }
    return true;
}

void Shell::cmd_socket(Args& a) {
    int type = SOCK_STREAM;
    if (a.more()) {
        const std::string_view t = a.word("stream|message");
        if (t == "message") {
            type = SOCK_SEQPACKET;
        } else if (t != "stream") {
            throw BadInput{"bad type " + quote(t) + " (stream or message)"};
        }
    }
    a.done();
    int e = 0;
    SOCKET h = WSPSocket(host_, AF_INET, type, IPPROTO_TCP, &e);
    if (h == INVALID_SOCKET)
        return fail(e);
    ok(std::to_string(add(Sock{.s = h, .type = type})));
}

void Shell::cmd_bind(Args& a) {
    Sock& k = sock(a);
    const auto port = static_cast<unsigned short>(a.number("port", 65535));
    a.done();
    SOCKADDR_IN sin = apps::make_sockaddr(IN_ADDR{INADDR_ANY}, port);
    int e = 0;
    if (WSPBind(k.s, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin, &e) != 0)
        return fail(e);
    k.bound_port = port;
    ok();
}

void Shell::cmd_listen(Args& a) {
    Sock& k = sock(a);
    const auto backlog = static_cast<int>(a.optional_number("backlog", 65535).value_or(16));
    a.done();
    int e = 0;
    if (WSPListen(k.s, backlog, &e) != 0)
        return fail(e);
    ok();
}

// What `accept <s> ... <verdict> [<callee data>]` tells its condition function to answer.
struct Verdict {
    int answer = CF_ACCEPT;
    std::vector<unsigned char> callee;  // CF_ACCEPT: the callee data to give
    bool too_long = false;              // it did not fit lpCalleeData: deferred instead
    u_long room = 0;                    // lpCalleeData->len as offered
};

int CALLBACK condition(LPWSABUF /*caller_id*/, LPWSABUF /*caller_data*/, LPQOS /*sqos*/,
                       LPQOS /*gqos*/, LPWSABUF /*callee_id*/, LPWSABUF callee_data, GROUP* /*g*/,
                       DWORD_PTR data) {
    auto* v = reinterpret_cast<Verdict*>(data);
    const u_long room = callee_data != nullptr ? callee_data->len : 0;
    v->room = room;
    if (v->answer != CF_ACCEPT || callee_data == nullptr) {
        return v->answer;
    }
    if (v->callee.size() > room) {
        v->too_long = true;  // nothing is decided: the request stays at the head
        return CF_DEFER;
    }
    std::copy(v->callee.begin(), v->callee.end(), callee_data->buf);
    callee_data->len = static_cast<u_long>(v->callee.size());
    return CF_ACCEPT;
}

// "<len>" or "<len> <hex>" of a socket's SO_CONNDATA; empty (and `e` set) on failure.
std::optional<std::string> conndata(SOCKET s, int& e) {
    std::vector<unsigned char> buf(256);
    int len = static_cast<int>(buf.size());
    if (WSPGetSockOpt(s, SOL_SOCKET, SO_CONNDATA, reinterpret_cast<char*>(buf.data()), &len, &e) !=
        0)
        return std::nullopt;
    const auto n = static_cast<std::size_t>(len);
    return std::to_string(n) + (n > 0 ? " " + hex(buf.data(), n) : "");
}

void Shell::cmd_accept(Args& a) {
    Sock& k = sock(a);
    // [timeout_ms] [accept|reject|defer [<callee data>]]: a word that does not start with a
    // letter is the time-out (and must be a good one).
    std::optional<Clock::time_point> deadline;
    if (a.more() && !(a.peek()[0] >= 'a' && a.peek()[0] <= 'z'))
        deadline = a.deadline();
    std::optional<Verdict> verdict;
    if (a.more()) {
        const std::string_view w = a.word("accept|reject|defer");
        verdict.emplace();
        if (w == "accept") {
            verdict->answer = CF_ACCEPT;
            if (a.more())
                verdict->callee = parse_data(a.word("<callee data>"));
        } else if (w == "reject") {
            verdict->answer = CF_REJECT;
        } else if (w == "defer") {
            verdict->answer = CF_DEFER;
        } else {
            throw BadInput{"bad verdict " + quote(w) + " (accept, reject or defer)"};
        }
    }
    a.done();
    SOCKADDR_IN peer{};
    int len = sizeof peer;
    SOCKET h = INVALID_SOCKET;
    auto attempt = [&] {
        int e = 0;
        h = WSPAccept(k.s, reinterpret_cast<SOCKADDR*>(&peer), &len, verdict ? &condition : nullptr,
                      verdict ? reinterpret_cast<DWORD_PTR>(&*verdict) : 0, &e);
        return h == INVALID_SOCKET ? e : 0;
    };
    int e = 0;
    if (!deadline) {
        e = attempt();
    } else {
        NonBlockingScope nb(k);
        e = nb.error() != 0 ? nb.error() : retry_until(k.s, kRead, *deadline, attempt);
        // The accepted socket inherited the temporary non-blocking mode: give it the listener's.
        if (e == 0 && nb.changed())
            (void)set_nonblocking(h, false);
    }
    if (verdict && verdict->too_long)
        return fail(WSAEMSGSIZE, "callee data " + std::to_string(verdict->callee.size()) +
                                     " bytes, lpCalleeData has room for " +
                                     std::to_string(verdict->room) + " (deferred)");
    if (e != 0)
        return fail(e);
    Sock n{h, k.ev, k.mask, k.nonblocking, std::nullopt, k.type};
    const std::string peer_s = addr_str(peer);
    const std::string number = std::to_string(add(n));
    const std::optional<std::string> data = conndata(h, e);
    if (!data)
        return fail(e, number + " " + peer_s + " (SO_CONNDATA)");
    ok(number + " " + peer_s + " " + *data);
}

int Shell::connect_with(Sock& k, const SOCKADDR_IN& sin, LPWSABUF caller, LPWSABUF callee,
                        std::optional<Clock::time_point> deadline, std::string& note) {
    const auto* name = reinterpret_cast<const SOCKADDR*>(&sin);
    int e = 0;
    if (!deadline)
        return WSPConnect(k.s, name, sizeof sin, caller, callee, nullptr, nullptr, &e) == 0 ? 0 : e;
    NonBlockingScope nb(k);
    if (nb.error() != 0)
        return nb.error();
    // Non-blocking: no lpCalleeData (it would be written after this call); SO_CONNDATA has it.
    if (WSPConnect(k.s, name, sizeof sin, caller, nullptr, nullptr, nullptr, &e) == 0)
        return 0;
    if (e != WSAEWOULDBLOCK)
        return e;
    // Readable also counts: connected and already reset, or data already there.
    const int r = select_one(k.s, kRead | kWrite | kExcept, *deadline, e);
    if (r < 0)
        return e;
    if (r == 0) {
        nb.dismiss();
        note = replace(k);
        return WSAETIMEDOUT;
    }
    if ((r & kExcept) != 0) {
        int v = 0;
        int len = sizeof v;
        if (WSPGetSockOpt(k.s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&v), &len, &e) != 0)
            return e;
        return v != 0 ? v : WSAECONNREFUSED;
    }
    return 0;
}

void Shell::cmd_connect(Args& a) {
    Sock& k = sock(a);
    const std::string_view ip = a.word("<A.B.C.D>");
    IN_ADDR ia{};
    if (!apps::parse_ipv4(std::string(ip), ia))
        throw BadInput{"bad address " + quote(ip)};
    const auto port = static_cast<unsigned short>(a.number("port", 65535));
    const auto deadline = a.deadline();
    a.done();
    std::string note;
    if (const int e =
            connect_with(k, apps::make_sockaddr(ia, port), nullptr, nullptr, deadline, note);
        e != 0)
        return fail(e, note);
    ok();
}

void Shell::cmd_connectdata(Args& a) {
    Sock& k = sock(a);
    const std::string_view ip = a.word("<A.B.C.D>");
    IN_ADDR ia{};
    if (!apps::parse_ipv4(std::string(ip), ia))
        throw BadInput{"bad address " + quote(ip)};
    const auto port = static_cast<unsigned short>(a.number("port", 65535));
    std::vector<unsigned char> data = parse_data(a.word("<data>"));
    const auto deadline = a.deadline();
    a.done();
    WSABUF caller{static_cast<u_long>(data.size()), reinterpret_cast<char*>(data.data())};
    // A blocking connect fills lpCalleeData as it returns; otherwise SO_CONNDATA tells.
    std::vector<unsigned char> room(256);
    WSABUF callee{static_cast<u_long>(room.size()), reinterpret_cast<char*>(room.data())};
    const bool direct = !deadline && !k.nonblocking;
    std::string note;
    if (const int e = connect_with(k, apps::make_sockaddr(ia, port), &caller,
                                   direct ? &callee : nullptr, deadline, note);
        e != 0)
        return fail(e, note);
    if (direct)
        return ok(std::to_string(callee.len) +
                  (callee.len > 0 ? " " + hex(room.data(), callee.len) : ""));
    int e = 0;
    const std::optional<std::string> got = conndata(k.s, e);
    if (!got)
        return fail(e);
    ok(*got);
}

// A connect that timed out: close the attempt abortively and put a fresh socket with the same
// settings under the same number. Returns "" or what could not be restored.
std::string Shell::replace(Sock& k) {
    auto get = [&](int level, int opt, auto& v) {
        int len = sizeof v;
        int e = 0;
        return WSPGetSockOpt(k.s, level, opt, reinterpret_cast<char*>(&v), &len, &e) == 0;
    };
    LINGER linger{};
    BOOL nodelay = 0;
    int sndbuf = 0, rcvbuf = 0;
    const bool have_linger = get(SOL_SOCKET, SO_LINGER, linger);
    const bool have_nodelay = get(IPPROTO_TCP, TCP_NODELAY, nodelay);
    const bool have_sndbuf = get(SOL_SOCKET, SO_SNDBUF, sndbuf);
    const bool have_rcvbuf = get(SOL_SOCKET, SO_RCVBUF, rcvbuf);
    int e = 0;
    const LINGER hard{1, 0};
    (void)WSPSetSockOpt(k.s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&hard),
                        sizeof hard, &e);
    (void)WSPCloseSocket(k.s, &e);
    k.s = WSPSocket(host_, AF_INET, k.type, IPPROTO_TCP, &e);
    if (k.s == INVALID_SOCKET) {
        const std::string why = WSPErrorName(e);
        std::erase_if(socks_, [](const auto& p) { return p.second.s == INVALID_SOCKET; });
        return "(socket gone: WSPSocket " + why + ")";
    }
    std::string lost;
    auto note = [&](const char* what, bool done) {
        if (!done)
            lost += std::string(lost.empty() ? "(not restored:" : "") + " " + what + " " +
                    WSPErrorName(e);
    };
    auto set = [&](int level, int opt, const auto& v) {
        return WSPSetSockOpt(k.s, level, opt, reinterpret_cast<const char*>(&v), sizeof v, &e) == 0;
    };
    auto differs = [&](int opt, int want) {
        int now = 0;
        return get(SOL_SOCKET, opt, now) && now != want;
    };
    if (k.bound_port) {
        SOCKADDR_IN sin = apps::make_sockaddr(IN_ADDR{INADDR_ANY}, *k.bound_port);
        note("bind", WSPBind(k.s, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin, &e) == 0);
    }
    if (have_linger)
        note("SO_LINGER", set(SOL_SOCKET, SO_LINGER, linger));
    if (have_nodelay && nodelay != 0)
        note("TCP_NODELAY", set(IPPROTO_TCP, TCP_NODELAY, nodelay));
    if (have_sndbuf && differs(SO_SNDBUF, sndbuf))
        note("SO_SNDBUF", set(SOL_SOCKET, SO_SNDBUF, sndbuf));
    if (have_rcvbuf && differs(SO_RCVBUF, rcvbuf))
        note("SO_RCVBUF", set(SOL_SOCKET, SO_RCVBUF, rcvbuf));
    if (k.mask != 0) {
        note("WSPEventSelect", WSPEventSelect(k.s, k.ev, k.mask, &e) == 0);
    } else if (k.nonblocking) {
        e = set_nonblocking(k.s, true);
        note("FIONBIO", e == 0);
    }
    return lost.empty() ? lost : lost + ")";
}

void Shell::cmd_send(Args& a) {
    Sock& k = sock(a);
    std::vector<unsigned char> data = parse_data(a.word("<data>"));
    const auto deadline = a.deadline();
    a.done();
    std::size_t done = 0;
    auto attempt = [&] {
        WSABUF b{static_cast<u_long>(data.size() - done),
                 reinterpret_cast<char*>(data.data() + done)};
        DWORD n = 0;
        int e = 0;
        if (WSPSend(k.s, &b, 1, &n, 0, &e) != 0)
            return e;
        done += n;
        // A stream's partial send: wait for space, then send the rest. A message went whole.
        return done < data.size() && k.type == SOCK_STREAM ? WSAEWOULDBLOCK : 0;
    };
    int e = 0;
    if (!deadline) {
        WSABUF b{static_cast<u_long>(data.size()), reinterpret_cast<char*>(data.data())};
        DWORD n = 0;
        if (WSPSend(k.s, &b, 1, &n, 0, &e) != 0)
            return fail(e);
        return ok(std::to_string(n));
    }
    NonBlockingScope nb(k);
    e = nb.error() != 0 ? nb.error() : retry_until(k.s, kWrite, *deadline, attempt);
    if (e == WSAETIMEDOUT || (e != 0 && done > 0))
        return fail(e, std::to_string(done));
    if (e != 0)
        return fail(e);
    ok(std::to_string(done));
}

void Shell::cmd_recv(Args& a) {
    Sock& k = sock(a);
    const auto max = a.optional_number("max", kMaxBuffer).value_or(4096);
    const auto deadline = a.deadline();
    a.done();
    std::vector<unsigned char> buf(static_cast<std::size_t>(max));
    DWORD n = 0;
    DWORD flags = 0;
    auto attempt = [&] {
        WSABUF b{static_cast<u_long>(buf.size()), reinterpret_cast<char*>(buf.data())};
        flags = 0;
        int e = 0;
        return WSPRecv(k.s, &b, 1, &n, &flags, &e) == 0 ? 0 : e;
    };
    int e = 0;
    if (!deadline) {
        e = attempt();
    } else {
        NonBlockingScope nb(k);
        e = nb.error() != 0 ? nb.error() : retry_until(k.s, kRead | kExcept, *deadline, attempt);
    }
    if (e != 0)
        return fail(e);
    ok(std::to_string(n) + " " + hex(buf.data(), n) +
       ((flags & MSG_PARTIAL) != 0 ? " MSG_PARTIAL" : ""));
}

void Shell::cmd_shutdown(Args& a) {
    Sock& k = sock(a);
    const std::string_view how = a.word("how");
    a.done();
    int h = 0;
    if (how == "send") {
        h = SD_SEND;
    } else if (how == "receive") {
        h = SD_RECEIVE;
    } else if (how == "both") {
        h = SD_BOTH;
    } else if (const auto v = apps::parse_number(how, 0, INT_MAX)) {
        h = static_cast<int>(*v);  // the API judges other values (WSAEINVAL)
    } else {
        throw BadInput{"bad how " + quote(how) + " (send, receive, both or 0.." +
                       std::to_string(INT_MAX) + ")"};
    }
    int e = 0;
    if (WSPShutdown(k.s, h, &e) != 0)
        return fail(e);
    ok();
}

void Shell::cmd_senddisconnect(Args& a) {
    Sock& k = sock(a);
    std::optional<std::vector<unsigned char>> data;
    if (a.more())
        data = parse_data(a.word("<data>"));
    a.done();
    int e = 0;
    int r = 0;
    if (!data) {
        r = WSPSendDisconnect(k.s, nullptr, &e);
    } else {
        WSABUF b{static_cast<u_long>(data->size()), reinterpret_cast<char*>(data->data())};
        r = WSPSendDisconnect(k.s, &b, &e);
    }
    if (r != 0)
        return fail(e);
    ok();
}

void Shell::cmd_recvdisconnect(Args& a) {
    Sock& k = sock(a);
    const auto size = a.optional_number("bufsize", kMaxBuffer).value_or(64);
    const auto deadline = a.deadline();
    a.done();
    int e = 0;
    SOCKADDR_IN sin{};
    int len = sizeof sin;
    // Wait only on a connected socket (else WSPRecvDisconnect answers at once, WSAENOTCONN):
    // until a receive would find the end of the stream -- readable, nothing unread.
    if (deadline && WSPGetPeerName(k.s, reinterpret_cast<SOCKADDR*>(&sin), &len, &e) == 0) {
        const int r = select_one(k.s, kRead, *deadline, e);
        if (r < 0)
            return fail(e);
        if (r == 0)
            return fail(WSAETIMEDOUT);
        u_long unread = 0;
        DWORD ret = 0;
        if (WSPIoctl(k.s, FIONREAD, nullptr, 0, &unread, sizeof unread, &ret, &e) != 0)
            return fail(e);
        if (unread > 0)
            return fail(WSAEWOULDBLOCK, std::to_string(unread) + " bytes unread: recv first");
    }
    std::vector<unsigned char> buf(static_cast<std::size_t>(size));
    WSABUF b{static_cast<u_long>(buf.size()), reinterpret_cast<char*>(buf.data())};
    if (WSPRecvDisconnect(k.s, &b, &e) != 0)
        return fail(e);
    ok(std::to_string(b.len) + " " + hex(buf.data(), b.len));
}

void Shell::cmd_linger(Args& a) {
    Sock& k = sock(a);
    const auto on = static_cast<u_short>(a.number("onoff", 65535));
    const auto secs = static_cast<u_short>(a.number("seconds", 65535));
    a.done();
    const LINGER l{on, secs};
    int e = 0;
    if (WSPSetSockOpt(k.s, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&l), sizeof l,
                      &e) != 0)
        return fail(e);
    ok();
}

void Shell::bool_option(Args& a, int level, int opt) {
    Sock& k = sock(a);
    const BOOL v = static_cast<BOOL>(a.number("0|1", 1));
    a.done();
    int e = 0;
    if (WSPSetSockOpt(k.s, level, opt, reinterpret_cast<const char*>(&v), sizeof v, &e) != 0)
        return fail(e);
    ok();
}

void Shell::buffer_option(Args& a, int opt) {
    Sock& k = sock(a);
    const auto bytes = a.optional_number("bytes", INT_MAX);
    a.done();
    int v = static_cast<int>(bytes.value_or(0));
    int e = 0;
    if (bytes) {
        if (WSPSetSockOpt(k.s, SOL_SOCKET, opt, reinterpret_cast<const char*>(&v), sizeof v, &e) !=
            0)
            return fail(e);
        return ok();
    }
    int len = sizeof v;
    if (WSPGetSockOpt(k.s, SOL_SOCKET, opt, reinterpret_cast<char*>(&v), &len, &e) != 0)
        return fail(e);
    ok(std::to_string(v));
}

void Shell::cmd_nonblocking(Args& a) {
    Sock& k = sock(a);
    const bool on = a.number("0|1", 1) != 0;
    a.done();
    if (const int e = set_nonblocking(k.s, on); e != 0)
        return fail(e);
    k.nonblocking = on;
    ok();
}

void Shell::cmd_select(Args& a) {
    Sock& k = sock(a);
    long mask = 0;
    while (a.more()) {
        const std::string_view n = a.word("event");
        const long bit = event_bit(n);
        if (bit == 0)
            throw BadInput{"unknown event " + quote(n)};
        mask |= bit;
    }
    if (k.ev == WSA_INVALID_EVENT)
        k.ev = WSACreateEvent();
    int e = 0;
    if (WSPEventSelect(k.s, k.ev, mask, &e) != 0)
        return fail(e);
    k.mask = mask;
    k.nonblocking = true;  // WSPEventSelect sets it, whatever the mask
    ok();
}

void Shell::cmd_events(Args& a) {
    Sock& k = sock(a);
    a.done();
    WSANETWORKEVENTS ne{};
    int e = 0;
    if (WSPEnumNetworkEvents(k.s, k.ev, &ne, &e) != 0)
        return fail(e);
    std::string r;
    const char* names[] = {"FD_READ", "FD_WRITE", "FD_OOB", "FD_ACCEPT", "FD_CONNECT", "FD_CLOSE"};
    for (int b = 0; b < 6; ++b)
        if (ne.lNetworkEvents & (1L << b))
            r += std::string(r.empty() ? "" : " ") + names[b] + "(" +
                 (ne.iErrorCode[b] ? WSPErrorName(ne.iErrorCode[b]) : "0") + ")";
    ok(r.empty() ? "none" : r);
}

void Shell::cmd_wait(Args& a) {
    Sock& k = sock(a);
    const auto ms = static_cast<DWORD>(a.number("ms", kMaxMs));
    a.done();
    if (k.ev == WSA_INVALID_EVENT)
        throw BadInput{"no event object (select first)"};
    const DWORD r = WSAWaitForMultipleEvents(1, &k.ev, 0, ms, 0);
    if (r == WSA_WAIT_EVENT_0)
        return ok();
    fail(r == WSA_WAIT_TIMEOUT ? WSAETIMEDOUT : WSAEINVAL);
}

void Shell::cmd_getopt(Args& a) {
    Sock& k = sock(a);
    const std::string_view name = a.word("option");
    a.done();
    int e = 0;
    if (name == "linger") {
        LINGER l{};
        int len = sizeof l;
        if (WSPGetSockOpt(k.s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), &len, &e) != 0)
            return fail(e);
        return ok(std::to_string(l.l_onoff) + " " + std::to_string(l.l_linger));
    }
    if (name == "nread") {
        u_long n = 0;
        DWORD ret = 0;
        if (WSPIoctl(k.s, FIONREAD, nullptr, 0, &n, sizeof n, &ret, &e) != 0)
            return fail(e);
        return ok(std::to_string(n));
    }
    if (name == "maxmsgsize") {
        DWORD v = 0;
        int len = sizeof v;
        if (WSPGetSockOpt(k.s, SOL_SOCKET, SO_MAX_MSG_SIZE, reinterpret_cast<char*>(&v), &len,
                          &e) != 0)
            return fail(e);
        return ok(std::to_string(v));
    }
    if (name == "conndata") {
        const std::optional<std::string> got = conndata(k.s, e);
        if (!got)
            return fail(e);
        return ok(*got);
    }
    if (name == "protocolinfo") {
        WSAPROTOCOL_INFOA pi{};
        int len = sizeof pi;
        if (WSPGetSockOpt(k.s, SOL_SOCKET, SO_PROTOCOL_INFO, reinterpret_cast<char*>(&pi), &len,
                          &e) != 0)
            return fail(e);
        return ok("dwServiceFlags1=" + xp1_names(pi.dwServiceFlags1, '|') +
                  " iSocketType=" + socket_type_name(pi.iSocketType) + " iProtocol=" +
                  (pi.iProtocol == IPPROTO_TCP ? std::string("IPPROTO_TCP")
                                               : std::to_string(pi.iProtocol)) +
                  " dwMessageSize=" + std::to_string(pi.dwMessageSize));
    }
    const int opt = name == "discdatalen"   ? SO_DISCDATALEN
                    : name == "conndatalen" ? SO_CONNDATALEN
                    : name == "condaccept"  ? SO_CONDITIONAL_ACCEPT
                    : name == "dontlinger"  ? SO_DONTLINGER
                    : name == "error"       ? SO_ERROR
                    : name == "type"        ? SO_TYPE
                                            : 0;
    if (opt == 0)
        throw BadInput{"unknown option " + quote(name)};
    int v = 0;
    int len = sizeof v;
    if (WSPGetSockOpt(k.s, SOL_SOCKET, opt, reinterpret_cast<char*>(&v), &len, &e) != 0)
        return fail(e);
    if (opt == SO_TYPE)
        return ok(socket_type_name(v));
    ok(opt == SO_ERROR && v != 0 ? WSPErrorName(v) : std::to_string(v));
}

bool Shell::tcp_info(SOCKET s, DWORD version, void* out, DWORD len) {
    DWORD ret = 0;
    int e = 0;
    if (WSPIoctl(s, SIO_TCP_INFO, &version, sizeof version, out, len, &ret, &e) == 0)
        return true;
    fail(e);
    return false;
}

void Shell::cmd_state(Args& a) {
    Sock& k = sock(a);
    a.done();
    TCP_INFO_v0 t{};
    if (tcp_info(k.s, 0, &t, sizeof t))
        ok(state_name(t.State));
}

void Shell::cmd_info(Args& a) {
    Sock& k = sock(a);
    a.done();
    USTACK_TCP_INFO t{};
    if (tcp_info(k.s, USTACK_TCP_INFO_VERSION, &t, sizeof t))
        ok(info_line(t));
}

void Shell::address(Args& a, int (*get)(SOCKET, SOCKADDR*, LPINT, LPINT)) {
    Sock& k = sock(a);
    a.done();
    SOCKADDR_IN sin{};
    int len = sizeof sin;
    int e = 0;
    if (get(k.s, reinterpret_cast<SOCKADDR*>(&sin), &len, &e) != 0)
        return fail(e);
    ok(addr_str(sin));
}

void Shell::cmd_close(Args& a) {
    const int n = number(a);
    a.done();
    int e = 0;
    if (WSPCloseSocket(socks_.at(n).s, &e) != 0)
        return fail(e);
    socks_.erase(n);  // the event object may be shared with accepted sockets: keep it
    ok();
}

void Shell::cmd_sleep(Args& a) {
    const auto ms = a.number("ms", kMaxMs);
    a.done();
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    ok();
}

void Shell::cmd_stats(Args& a) {
    a.done();
    std::vector<char> buf(16384);
    if (WSPFormatHostStats(host_, buf.data(), buf.size()) < 0)
        return fail(WSANOTINITIALISED);
    std::fputs(buf.data(), stdout);
    ok();
}

void Shell::cmd_flags(Args& a) {
    a.done();
    ok(xp1_names(WSPGetServiceFlags(host_), ' '));
}

void Shell::cmd_help(Args& a) {
    a.done();
    std::fputs(help().c_str(), stdout);
    ok();
}

}  // namespace

int main(int argc, char** argv) {
    apps::HostOptions ho;
    apps::CommandLine cl(argc, argv);
    while (cl.next()) {
        if (cl.is("--help") || cl.is("-h")) {
            std::printf("usage: wsp-shell --addr A.B.C.D/N [host options] < commands\n\n%s\n%s",
                        Shell::help().c_str(), apps::host_options_help());
            return 0;
        }
        if (!apps::parse_host_option(cl, ho))
            cl.unknown();
    }
    apps::check_host_options(cl, ho);
    WSPHOST host = apps::start_host(ho);
    Shell shell(host);
    std::string line;
    for (;;) {
        const LineRead r = read_line(stdin, line);
        if (r == LineRead::end)
            break;
        if (r == LineRead::too_long) {
            fail(WSAEINVAL, "line longer than " + std::to_string(kMaxLine) + " bytes, ignored");
            continue;
        }
        if (!shell.execute(line))
            break;
    }
    apps::stop_host(host, ho);
    return 0;
}
