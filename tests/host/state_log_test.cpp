// The state log (WSPHOSTCONFIG::state_log_path, stack/src/api/state_log.hpp) of two real hosts
// on their engine threads, checked against each host's own pcap: every state change a received
// segment caused names a segment that is in the capture, received by that host.
//
// This file includes ustack/wsp.h, so no socket header.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"
#include "support/wsp_address.hpp"
#include "ustack/memory_link.hpp"
#include "ustack/wsp.h"

using ustack::MemoryLink;
using ustack::test::in_addr_of;
using ustack::test::sockaddr_of;

namespace {

// ---- reading the files -----------------------------------------------------------------------

// The value of "name" in a JSON line (a string without its quotes, a number, or an object), or
// "" when absent. Enough for the state log's flat lines and its one nested "seg".
std::string field(const std::string& line, const std::string& name) {
    const std::string key = "\"" + name + "\":";
    const std::size_t at = line.find(key);
    if (at == std::string::npos)
        return {};
    std::size_t i = at + key.size();
    if (line[i] == '"') {
        const std::size_t end = line.find('"', i + 1);
        return line.substr(i + 1, end - i - 1);
    }
    if (line[i] == '{') {
        return line.substr(i, line.find('}', i) - i + 1);
    }
    std::size_t end = i;
    while (end < line.size() && line[end] != ',' && line[end] != '}') ++end;
    return line.substr(i, end - i);
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// One TCP segment of a raw-IP pcap: what a state-log "seg" names.
struct Captured {
    std::uint32_t src = 0;
    std::uint32_t dst = 0;
    std::string flags;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint32_t len = 0;
};

std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

// The same names, in the same order, as the state log writes them.
std::string flag_names(unsigned f) {
    static const std::pair<unsigned, const char*> kNames[] = {
        {0x01, "FIN"}, {0x02, "SYN"}, {0x04, "RST"}, {0x08, "PSH"},
        {0x10, "ACK"}, {0x20, "URG"}, {0x40, "ECE"}, {0x80, "CWR"}};
    std::string out;
    for (const auto& [bit, name] : kNames) {
        if ((f & bit) != 0) {
            out += out.empty() ? "" : ",";
            out += name;
        }
    }
    return out;
}

std::vector<Captured> read_pcap(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> b((std::istreambuf_iterator<char>(in)), {});
    std::vector<Captured> out;
    REQUIRE(b.size() >= 24);
    for (std::size_t at = 24; at + 16 <= b.size();) {
        std::uint32_t incl = 0;
        std::memcpy(&incl, &b[at + 8], 4);  // the writer's (this machine's) byte order
        const unsigned char* ip = &b[at + 16];
        at += 16 + incl;
        if (at > b.size() || incl < 40 || ip[9] != 6)
            continue;
        const std::size_t ihl = (ip[0] & 0xf) * 4u;
        const std::uint32_t total = (std::uint32_t{ip[2]} << 8) | ip[3];
        const unsigned char* tcp = ip + ihl;
        const std::size_t doff = (tcp[12] >> 4) * 4u;
        out.push_back({be32(ip + 12), be32(ip + 16), flag_names(tcp[13]), be32(tcp + 4),
                       be32(tcp + 8), static_cast<std::uint32_t>(total - ihl - doff)});
    }
    return out;
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : " ") + x;
    return out;
}

// ---- the exchange ----------------------------------------------------------------------------

struct Files {
    std::string dir;
    std::string pcap_a, log_a, pcap_b, log_b;
    Files() {
        char tmpl[] = "/tmp/ustack-state-log.XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        pcap_a = dir + "/a.pcap";
        log_a = dir + "/a.jsonl";
        pcap_b = dir + "/b.pcap";
        log_b = dir + "/b.jsonl";
    }
    ~Files() {
        if (std::getenv("USTACK_KEEP_STATE_LOG") != nullptr)
            return;
        for (const auto* p : {&pcap_a, &log_a, &pcap_b, &log_b}) std::remove(p->c_str());
        std::remove(dir.c_str());
    }
};

int recv_some(SOCKET s, char* buf, u_long len, DWORD* n) {
    WSABUF b{len, buf};
    DWORD flags = 0;
    int e = 0;
    return WSPRecv(s, &b, 1, n, &flags, &e) == 0 ? 0 : e;
}

// The transaction-total exchange (Winsock's "Connection Shutdown", steps 1-8) between client
// host a and server host b, both logging, over a link that loses `loss` of the packets.
void run_exchange(const Files& f, double loss) {
    auto ends = MemoryLink::make_pair({.loss = loss, .seed = 11});
    const IN_ADDR a_addr = in_addr_of(10, 8, 0, 1);
    const IN_ADDR b_addr = in_addr_of(10, 8, 0, 2);
    WSPHOSTCONFIG ca{};
    ca.device = ends.a.release();
    ca.addr = a_addr;
    ca.prefix_len = 24;
    ca.disconnect_data = 1;
    ca.msl_ms = 5000;  // TIME-WAIT 10 s: still running at WSPCleanup
    ca.isn_seed = 1;
    ca.pcap_path = f.pcap_a.c_str();
    ca.state_log_path = f.log_a.c_str();
    WSPHOSTCONFIG cb = ca;
    cb.device = ends.b.release();
    cb.addr = b_addr;
    cb.isn_seed = 2;
    cb.pcap_path = f.pcap_b.c_str();
    cb.state_log_path = f.log_b.c_str();
    int err = 0;
    WSPHOST a = nullptr;
    WSPHOST b = nullptr;
    REQUIRE(WSPStartup(&ca, &a, &err) == 0);
    REQUIRE(WSPStartup(&cb, &b, &err) == 0);

    const SOCKET ls = WSPSocket(b, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
    const SOCKADDR_IN at = sockaddr_of(b_addr, 7000);
    REQUIRE(WSPBind(ls, reinterpret_cast<const SOCKADDR*>(&at), sizeof at, &err) == 0);
    REQUIRE(WSPListen(ls, 4, &err) == 0);
    std::thread server([&] {
        int e = 0;
        const SOCKET s = WSPAccept(ls, nullptr, nullptr, nullptr, 0, &e);
        REQUIRE(s != INVALID_SOCKET);
        char buf[64];
        DWORD n = 1;
        while (n > 0) REQUIRE(recv_some(s, buf, sizeof buf, &n) == 0);  // step 2: 0
        char total[8];
        WSABUF in{sizeof total, total};
        REQUIRE(WSPRecvDisconnect(s, &in, &e) == 0);  // step 3
        WSABUF out{sizeof total, total};
        REQUIRE(WSPSendDisconnect(s, &out, &e) == 0);  // step 5
        REQUIRE(WSPCloseSocket(s, &e) == 0);
    });
    const SOCKET c = WSPSocket(a, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
    REQUIRE(WSPConnect(c, reinterpret_cast<const SOCKADDR*>(&at), sizeof at, nullptr, nullptr,
                       nullptr, nullptr, &err) == 0);
    char data[] = "transactions";
    WSABUF db{sizeof data - 1, data};
    DWORD sent = 0;
    REQUIRE(WSPSend(c, &db, 1, &sent, 0, &err) == 0);
    char total[8] = {0, 0, 0, 0, 0, 0, 0x2b, 0x19};
    WSABUF tb{sizeof total, total};
    REQUIRE(WSPSendDisconnect(c, &tb, &err) == 0);  // step 1
    char buf[64];
    DWORD n = 1;
    while (n > 0) REQUIRE(recv_some(c, buf, sizeof buf, &n) == 0);  // step 6
    char grand[8];
    WSABUF gb{sizeof grand, grand};
    REQUIRE(WSPRecvDisconnect(c, &gb, &err) == 0);  // step 7
    REQUIRE(WSPCloseSocket(c, &err) == 0);          // step 8
    server.join();
    REQUIRE(WSPCloseSocket(ls, &err) == 0);
    // The server first: its cleanup waits until the client (in TIME-WAIT, still running) has
    // acknowledged its FIN, also when the link lost that FIN or the ACK.
    CHECK(WSPCleanup(b, &err) == 0);
    CHECK(WSPCleanup(a, &err) == 0);
}

// The `to` states of host `addr`'s connection lines, in order.
std::vector<std::string> states_of(const std::vector<std::string>& log) {
    std::vector<std::string> out;
    for (const auto& l : log) {
        if (field(l, "type") == "state")
            out.push_back(field(l, "to"));
    }
    return out;
}

// Every state line a segment caused names a segment received by the host (addr) in its pcap.
void check_against_pcap(const std::vector<std::string>& log, const std::vector<Captured>& pcap,
                        std::uint32_t addr) {
    int checked = 0;
    for (const auto& l : log) {
        if (field(l, "type") != "state" || field(l, "cause") != "segment")
            continue;
        const std::string seg = field(l, "seg");
        const std::string flags = field(seg, "flags");
        const auto seq = static_cast<std::uint32_t>(std::stoul(field(seg, "seq")));
        const auto ack = static_cast<std::uint32_t>(std::stoul(field(seg, "ack")));
        const auto len = static_cast<std::uint32_t>(std::stoul(field(seg, "len")));
        bool found = false;
        for (const Captured& p : pcap) {
            found =
                found || (p.dst == addr && p.flags == flags && p.seq == seq &&
                          (p.ack == ack || flags.find("ACK") == std::string::npos) && p.len == len);
        }
        CHECK_MESSAGE(found, "no received segment in the pcap for: " << l);
        ++checked;
    }
    CHECK(checked >= 3);
}

}  // namespace

TEST_SUITE("host") {
    TEST_CASE(
        "state log: the eight steps of the Connection Shutdown exchange - each side's states in "
        "RFC 9293 order - every segment-caused change is in the host's own pcap - the API calls "
        "with their disconnect data") {
        ustack::test::Watchdog dog(std::chrono::seconds(60), "state log test");
        for (const double loss : {0.0, 0.05}) {
            CAPTURE(loss);
            Files f;
            run_exchange(f, loss);
            const auto log_a = read_lines(f.log_a);
            const auto log_b = read_lines(f.log_b);
            REQUIRE(!log_a.empty());
            REQUIRE(!log_b.empty());
            CHECK(field(log_a[0], "type") == "host");
            CHECK(field(log_a[0], "addr") == "10.8.0.1");
            CHECK(!field(log_a[0], "wall_us").empty());

            // The client: the active close (FIN-WAIT-2 when the ACK of our FIN came alone),
            // still in TIME-WAIT when its host stops.
            std::vector<std::string> client = states_of(log_a);
            std::erase(client, "FIN-WAIT-2");
            const std::vector<std::string> active{"SYN-SENT", "ESTABLISHED", "FIN-WAIT-1",
                                                  "TIME-WAIT"};
            CHECK_MESSAGE(client == active, joined(states_of(log_a)));
            // The server: the passive close.
            const std::vector<std::string> passive{"SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT",
                                                   "LAST-ACK", "CLOSED"};
            CHECK_MESSAGE(states_of(log_b) == passive, joined(states_of(log_b)));
            check_against_pcap(log_a, read_pcap(f.pcap_a), 0x0a080001);
            check_against_pcap(log_b, read_pcap(f.pcap_b), 0x0a080002);

            // The calls an observer wants on the picture, with their data.
            auto has = [](const std::vector<std::string>& log, const std::string& call,
                          const std::string& name, const std::string& value) {
                for (const auto& l : log) {
                    if (field(l, "call") == call && field(l, name) == value)
                        return true;
                }
                return false;
            };
            CHECK(has(log_a, "WSPSendDisconnect", "data", "0000000000002b19"));
            CHECK(has(log_b, "WSPRecv", "result", "0"));
            CHECK(has(log_b, "WSPRecvDisconnect", "data", "0000000000002b19"));
            CHECK(has(log_b, "WSPSendDisconnect", "data", "0000000000002b19"));
            CHECK(has(log_a, "WSPRecvDisconnect", "data", "0000000000002b19"));
            CHECK(has(log_a, "WSPCloseSocket", "linger", "off"));
            // Times never go back.
            long long last = -1;
            for (std::size_t i = 1; i < log_a.size(); ++i) {
                const long long t = std::stoll(field(log_a[i], "t_us"));
                CHECK(t >= last);
                last = t;
            }
        }
    }
}
