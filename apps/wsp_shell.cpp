// wsp-shell: drive the WSP API one line at a time, for people exploring teardown by hand and
// for scripts. Each command prints one result line starting "OK" or "ERR <WSAE name>".
// Sockets are named by the number `socket`/`accept` printed (1, 2, ...).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host_options.hpp"

namespace {

const char* kCommands =
    "commands (one per line; <s> is a socket number):\n"
    "  socket                        -> OK <s>\n"
    "  bind <s> <port>               bind to this host's address\n"
    "  listen <s> [backlog]\n"
    "  accept <s>                    -> OK <new s> <peer addr:port>\n"
    "  connect <s> <A.B.C.D> <port>\n"
    "  send <s> <text>|hex:<hex>     -> OK <bytes sent>\n"
    "  recv <s> [max]                -> OK <n> <hex>   (n = 0: end of stream)\n"
    "  shutdown <s> send|receive|both\n"
    "  senddisconnect <s> [<text>|hex:<hex>|int:<n>]   (no data: plain FIN)\n"
    "  recvdisconnect <s> [bufsize]  -> OK <len> <hex>\n"
    "  linger <s> <onoff> <seconds>  SO_LINGER\n"
    "  dontlinger <s> 0|1            SO_DONTLINGER\n"
    "  nonblocking <s> 0|1           FIONBIO\n"
    "  nodelay <s> 0|1               TCP_NODELAY\n"
    "  select <s> <FD_READ|FD_WRITE|FD_ACCEPT|FD_CONNECT|FD_CLOSE ...>   WSPEventSelect\n"
    "  events <s>                    WSPEnumNetworkEvents -> OK FD_X(err) ...\n"
    "  wait <s> <ms>                 wait for the socket's event object -> OK | ERR TIMEOUT\n"
    "  getopt <s> discdatalen|linger|dontlinger|error|nread\n"
    "  peer <s> | name <s>           WSPGetPeerName / WSPGetSockName\n"
    "  close <s>                     WSPCloseSocket\n"
    "  sleep <ms> | stats | flags | help | quit\n";

struct Sock {
    SOCKET s = INVALID_SOCKET;
    WSAEVENT ev = WSA_INVALID_EVENT;
};

std::string hex(const unsigned char* p, std::size_t n) {
    static const char* d = "0123456789abcdef";
    std::string r;
    for (std::size_t i = 0; i < n; ++i) {
        r += d[p[i] >> 4];
        r += d[p[i] & 15];
    }
    return r;
}

bool parse_data(const std::string& arg, std::vector<unsigned char>& out) {
    out.clear();
    if (arg.rfind("hex:", 0) == 0) {
        const std::string h = arg.substr(4);
        if (h.size() % 2 != 0) return false;
        for (std::size_t i = 0; i < h.size(); i += 2)
            out.push_back(static_cast<unsigned char>(std::strtoul(h.substr(i, 2).c_str(), nullptr, 16)));
        return true;
    }
    if (arg.rfind("int:", 0) == 0) {
        const long long v = std::strtoll(arg.c_str() + 4, nullptr, 10);
        const auto u = static_cast<unsigned long long>(v);
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(u >> (56 - 8 * i)));
        return true;
    }
    out.assign(arg.begin(), arg.end());
    return true;
}

std::string addr_str(const SOCKADDR_IN& sin) {
    const auto* a = reinterpret_cast<const unsigned char*>(&sin.sin_addr.s_addr);
    const auto* p = reinterpret_cast<const unsigned char*>(&sin.sin_port);
    return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
           std::to_string(a[3]) + ":" + std::to_string((p[0] << 8) | p[1]);
}

long event_bit(const std::string& n) {
    if (n == "FD_READ") return FD_READ;
    if (n == "FD_WRITE") return FD_WRITE;
    if (n == "FD_ACCEPT") return FD_ACCEPT;
    if (n == "FD_CONNECT") return FD_CONNECT;
    if (n == "FD_CLOSE") return FD_CLOSE;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    apps::HostOptions ho;
    auto args = apps::parse_host_options(argc, argv, ho);
    for (const auto& a : args) {
        if (a == "--help" || a == "-h") {
            std::printf("usage: wsp-shell --addr A.B.C.D/N [host options] < commands\n%s\n%s",
                        kCommands, apps::host_options_help());
            return 0;
        }
        std::cerr << "wsp-shell: unknown argument " << a << " (see --help)\n";
        return 2;
    }
    WSPHOST host = apps::start_host(ho);
    std::map<int, Sock> socks;
    int next = 1;
    std::string line;
    auto get = [&](std::istringstream& in, Sock*& out) {
        int n = 0;
        if (!(in >> n) || socks.count(n) == 0) return false;
        out = &socks[n];
        return true;
    };
    auto ok = [](const std::string& rest = "") {
        std::printf("OK%s%s\n", rest.empty() ? "" : " ", rest.c_str());
        std::fflush(stdout);
    };
    auto err = [](int e) {
        std::printf("ERR %s\n", WSPErrorName(e));
        std::fflush(stdout);
    };
    auto bad = [](const char* why) {
        std::printf("ERR USAGE %s\n", why);
        std::fflush(stdout);
    };
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string cmd;
        if (!(in >> cmd) || cmd[0] == '#') continue;
        int e = 0;
        Sock* s = nullptr;
        if (cmd == "quit" || cmd == "exit") break;
        if (cmd == "help") {
            std::fputs(kCommands, stdout);
            ok();
        } else if (cmd == "socket") {
            SOCKET h = WSPSocket(host, AF_INET, SOCK_STREAM, IPPROTO_TCP, &e);
            if (h == INVALID_SOCKET) {
                err(e);
            } else {
                socks[next] = Sock{h, WSA_INVALID_EVENT};
                ok(std::to_string(next++));
            }
        } else if (cmd == "bind") {
            int port = 0;
            if (!get(in, s) || !(in >> port)) {
                bad("bind <s> <port>");
                continue;
            }
            SOCKADDR_IN sin = apps::make_sockaddr(IN_ADDR{INADDR_ANY}, static_cast<unsigned short>(port));
            if (WSPBind(s->s, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin, &e) != 0) err(e); else ok();
        } else if (cmd == "listen") {
            int backlog = 16;
            if (!get(in, s)) {
                bad("listen <s> [backlog]");
                continue;
            }
            in >> backlog;
            if (WSPListen(s->s, backlog, &e) != 0) err(e); else ok();
        } else if (cmd == "accept") {
            if (!get(in, s)) {
                bad("accept <s>");
                continue;
            }
            SOCKADDR_IN peer{};
            int len = sizeof peer;
            SOCKET h = WSPAccept(s->s, reinterpret_cast<SOCKADDR*>(&peer), &len, &e);
            if (h == INVALID_SOCKET) {
                err(e);
            } else {
                socks[next] = Sock{h, s->ev};
                ok(std::to_string(next++) + " " + addr_str(peer));
            }
        } else if (cmd == "connect") {
            std::string a;
            int port = 0;
            IN_ADDR ia{};
            if (!get(in, s) || !(in >> a >> port) || !apps::parse_ipv4(a, ia)) {
                bad("connect <s> <A.B.C.D> <port>");
                continue;
            }
            SOCKADDR_IN sin = apps::make_sockaddr(ia, static_cast<unsigned short>(port));
            if (WSPConnect(s->s, reinterpret_cast<SOCKADDR*>(&sin), sizeof sin, &e) != 0) err(e); else ok();
        } else if (cmd == "send") {
            std::string rest;
            std::vector<unsigned char> data;
            if (!get(in, s)) {
                bad("send <s> <data>");
                continue;
            }
            std::getline(in >> std::ws, rest);
            parse_data(rest, data);
            WSABUF b{static_cast<u_long>(data.size()), reinterpret_cast<char*>(data.data())};
            DWORD n = 0;
            if (WSPSend(s->s, &b, 1, &n, 0, &e) != 0) err(e); else ok(std::to_string(n));
        } else if (cmd == "recv") {
            int max = 4096;
            if (!get(in, s)) {
                bad("recv <s> [max]");
                continue;
            }
            in >> max;
            std::vector<unsigned char> buf(static_cast<std::size_t>(std::max(max, 0)));
            WSABUF b{static_cast<u_long>(buf.size()), reinterpret_cast<char*>(buf.data())};
            DWORD n = 0, flags = 0;
            if (WSPRecv(s->s, &b, 1, &n, &flags, &e) != 0) err(e); else ok(std::to_string(n) + " " + hex(buf.data(), n));
        } else if (cmd == "shutdown") {
            std::string how;
            if (!get(in, s) || !(in >> how)) {
                bad("shutdown <s> send|receive|both");
                continue;
            }
            const int h = how == "send" ? SD_SEND : how == "receive" ? SD_RECEIVE : how == "both" ? SD_BOTH : std::atoi(how.c_str());
            if (WSPShutdown(s->s, h, &e) != 0) err(e); else ok();
        } else if (cmd == "senddisconnect") {
            std::string rest;
            if (!get(in, s)) {
                bad("senddisconnect <s> [data]");
                continue;
            }
            std::getline(in >> std::ws, rest);
            std::vector<unsigned char> data;
            int r = 0;
            if (rest.empty()) {
                r = WSPSendDisconnect(s->s, nullptr, &e);
            } else {
                parse_data(rest, data);
                WSABUF b{static_cast<u_long>(data.size()), reinterpret_cast<char*>(data.data())};
                r = WSPSendDisconnect(s->s, &b, &e);
            }
            if (r != 0) err(e); else ok();
        } else if (cmd == "recvdisconnect") {
            int size = 64;
            if (!get(in, s)) {
                bad("recvdisconnect <s> [bufsize]");
                continue;
            }
            in >> size;
            std::vector<unsigned char> buf(static_cast<std::size_t>(std::max(size, 0)));
            WSABUF b{static_cast<u_long>(buf.size()), reinterpret_cast<char*>(buf.data())};
            if (WSPRecvDisconnect(s->s, &b, &e) != 0) err(e); else ok(std::to_string(b.len) + " " + hex(buf.data(), b.len));
        } else if (cmd == "linger") {
            int on = 0, secs = 0;
            if (!get(in, s) || !(in >> on >> secs)) {
                bad("linger <s> <onoff> <seconds>");
                continue;
            }
            LINGER l{static_cast<u_short>(on), static_cast<u_short>(secs)};
            if (WSPSetSockOpt(s->s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), sizeof l, &e) != 0) err(e); else ok();
        } else if (cmd == "dontlinger" || cmd == "nodelay") {
            BOOL v = 0;
            if (!get(in, s) || !(in >> v)) {
                bad("dontlinger|nodelay <s> 0|1");
                continue;
            }
            const int level = cmd == "nodelay" ? IPPROTO_TCP : SOL_SOCKET;
            const int opt = cmd == "nodelay" ? TCP_NODELAY : SO_DONTLINGER;
            if (WSPSetSockOpt(s->s, level, opt, reinterpret_cast<char*>(&v), sizeof v, &e) != 0) err(e); else ok();
        } else if (cmd == "nonblocking") {
            u_long v = 0;
            if (!get(in, s) || !(in >> v)) {
                bad("nonblocking <s> 0|1");
                continue;
            }
            DWORD ret = 0;
            if (WSPIoctl(s->s, FIONBIO, &v, sizeof v, nullptr, 0, &ret, &e) != 0) err(e); else ok();
        } else if (cmd == "select") {
            if (!get(in, s)) {
                bad("select <s> <events...>");
                continue;
            }
            long mask = 0;
            std::string n;
            while (in >> n) mask |= event_bit(n);
            if (s->ev == WSA_INVALID_EVENT) s->ev = WSACreateEvent();
            if (WSPEventSelect(s->s, s->ev, mask, &e) != 0) err(e); else ok();
        } else if (cmd == "events") {
            if (!get(in, s)) {
                bad("events <s>");
                continue;
            }
            WSANETWORKEVENTS ne{};
            if (WSPEnumNetworkEvents(s->s, s->ev, &ne, &e) != 0) {
                err(e);
                continue;
            }
            std::string r;
            const char* names[] = {"FD_READ", "FD_WRITE", "FD_OOB", "FD_ACCEPT", "FD_CONNECT", "FD_CLOSE"};
            for (int b = 0; b < 6; ++b)
                if (ne.lNetworkEvents & (1L << b))
                    r += std::string(r.empty() ? "" : " ") + names[b] + "(" + (ne.iErrorCode[b] ? WSPErrorName(ne.iErrorCode[b]) : "0") + ")";
            ok(r.empty() ? "none" : r);
        } else if (cmd == "wait") {
            unsigned ms = 0;
            if (!get(in, s) || !(in >> ms) || s->ev == WSA_INVALID_EVENT) {
                bad("wait <s> <ms> (after select)");
                continue;
            }
            if (WSAWaitForMultipleEvents(1, &s->ev, 0, ms, 0) == WSA_WAIT_EVENT_0) {
                ok();
            } else {
                std::printf("ERR TIMEOUT\n");
                std::fflush(stdout);
            }
        } else if (cmd == "getopt") {
            std::string name;
            if (!get(in, s) || !(in >> name)) {
                bad("getopt <s> <name>");
                continue;
            }
            if (name == "linger") {
                LINGER l{};
                int len = sizeof l;
                if (WSPGetSockOpt(s->s, SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&l), &len, &e) != 0) err(e);
                else ok(std::to_string(l.l_onoff) + " " + std::to_string(l.l_linger));
            } else if (name == "nread") {
                u_long n = 0;
                DWORD ret = 0;
                if (WSPIoctl(s->s, FIONREAD, nullptr, 0, &n, sizeof n, &ret, &e) != 0) err(e); else ok(std::to_string(n));
            } else {
                const int opt = name == "discdatalen" ? SO_DISCDATALEN : name == "dontlinger" ? SO_DONTLINGER : name == "error" ? SO_ERROR : 0;
                int v = 0;
                int len = sizeof v;
                if (opt == 0) {
                    bad("getopt: discdatalen|linger|dontlinger|error|nread");
                } else if (WSPGetSockOpt(s->s, SOL_SOCKET, opt, reinterpret_cast<char*>(&v), &len, &e) != 0) {
                    err(e);
                } else {
                    ok(opt == SO_ERROR && v != 0 ? WSPErrorName(v) : std::to_string(v));
                }
            }
        } else if (cmd == "peer" || cmd == "name") {
            if (!get(in, s)) {
                bad("peer|name <s>");
                continue;
            }
            SOCKADDR_IN sin{};
            int len = sizeof sin;
            const int r = cmd == "peer" ? WSPGetPeerName(s->s, reinterpret_cast<SOCKADDR*>(&sin), &len, &e)
                                        : WSPGetSockName(s->s, reinterpret_cast<SOCKADDR*>(&sin), &len, &e);
            if (r != 0) err(e); else ok(addr_str(sin));
        } else if (cmd == "close") {
            int n = 0;
            if (!(in >> n) || socks.count(n) == 0) {
                bad("close <s>");
                continue;
            }
            if (WSPCloseSocket(socks[n].s, &e) != 0) {
                err(e);
            } else {
                socks.erase(n);  // the event object may be shared with accepted sockets: keep it
                ok();
            }
        } else if (cmd == "sleep") {
            int ms = 0;
            in >> ms;
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            ok();
        } else if (cmd == "stats") {
            char buf[4096];
            if (WSPFormatHostStats(host, buf, sizeof buf) < 0) {
                bad("stats");
                continue;
            }
            std::fputs(buf, stdout);
            ok();
        } else if (cmd == "flags") {
            const DWORD f = WSPGetServiceFlags(host);
            ok(std::string((f & XP1_GRACEFUL_CLOSE) ? "XP1_GRACEFUL_CLOSE" : "") +
               ((f & XP1_DISCONNECT_DATA) ? " XP1_DISCONNECT_DATA" : ""));
        } else {
            bad("unknown command (help)");
        }
    }
    apps::stop_host(host, ho);
    return 0;
}
