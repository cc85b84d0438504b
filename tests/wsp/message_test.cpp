// Message-oriented sockets (SOCK_SEQPACKET, DESIGN.md §3b; SEMANTICS.md §1.7: "For
// message-oriented sockets ... WSAEDISCON is used to indicate graceful closure"): one test per
// rule, on virtual time.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ustack/byte_order.hpp"
#include "virtual_fixture.hpp"

using namespace wsptest;

namespace {

SOCKET message_socket(WSPHOST h) {
    int err = 0;
    const SOCKET s = WSPSocket(h, AF_INET, SOCK_SEQPACKET, 0, &err);
    REQUIRE_MESSAGE(s != INVALID_SOCKET, WSPErrorName(err));
    REQUIRE(set_nonblocking(s, true) == 0);
    return s;
}

SOCKET message_listener(WSPHOST h, IN_ADDR addr, std::uint16_t port) {
    const SOCKET l = message_socket(h);
    int err = 0;
    const SOCKADDR_IN at = sockaddr_of(addr, port);
    REQUIRE(WSPBind(l, sa(at), kSaLen, &err) == 0);
    REQUIRE(WSPListen(l, 16, &err) == 0);
    return l;
}

// A connected pair of message sockets: client on a, server accepted on b.
Pair message_pair(Net& net, std::uint16_t port = 6000) {
    Pair p;
    p.listener = message_listener(net.b, kAddrB, port);
    p.client = message_socket(net.a);
    REQUIRE(connect_to(p.client, kAddrB, port) == WSAEWOULDBLOCK);
    REQUIRE(net.until_writable(p.client));
    REQUIRE(net.until_readable(p.listener));
    p.server = accept_now(p.listener);
    return p;
}

// One WSPRecv into a buffer of `cap` bytes: the error, the bytes, the flags.
struct Got {
    int err = 0;
    std::string data;
    DWORD flags = 0;
};
Got recv_msg(SOCKET s, std::size_t cap) {
    Got g;
    std::vector<char> buf(cap == 0 ? 1 : cap);
    WSABUF b{static_cast<u_long>(cap), buf.data()};
    DWORD n = 0;
    if (WSPRecv(s, &b, 1, &n, &g.flags, &g.err) != 0) {
        return g;
    }
    g.err = 0;
    g.data.assign(buf.data(), n);
    return g;
}

// The IPv4 packet's TCP payload (empty if none).
std::span<std::byte> tcp_payload(std::vector<std::byte>& p) {
    if (p.size() < 40) {
        return {};
    }
    const std::size_t ihl = (std::to_integer<std::size_t>(p[0]) & 15) * 4;
    const std::size_t off = (std::to_integer<std::size_t>(p[ihl + 12]) >> 4) * 4;
    const std::size_t total = ustack::load_be16(p.data() + 2);
    if (total <= ihl + off) {
        return {};
    }
    return std::span(p).subspan(ihl + off, total - ihl - off);
}

// RFC 9293 §3.1 / RFC 1071: recompute the TCP checksum after a test changed the payload.
void fix_tcp_checksum(std::vector<std::byte>& p) {
    const std::size_t ihl = (std::to_integer<std::size_t>(p[0]) & 15) * 4;
    const std::size_t total = ustack::load_be16(p.data() + 2);
    const std::size_t tcp_len = total - ihl;
    ustack::store_be16(p.data() + ihl + 16, 0);
    std::uint32_t sum = 0;
    for (std::size_t i = 12; i < 20; i += 2) {
        sum += ustack::load_be16(p.data() + i);  // source and destination addresses
    }
    sum += 6 + static_cast<std::uint32_t>(tcp_len);
    for (std::size_t i = 0; i + 1 < tcp_len; i += 2) {
        sum += ustack::load_be16(p.data() + ihl + i);
    }
    if (tcp_len % 2 != 0) {
        sum += std::to_integer<std::uint32_t>(p[ihl + tcp_len - 1]) << 8;
    }
    while ((sum >> 16) != 0) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ustack::store_be16(p.data() + ihl + 16, static_cast<std::uint16_t>(~sum));
}

// Rewrite the first 4 payload bytes (a record header) of the first data segment host `from`
// sends from now on.
void rewrite_first_header(Net& net, std::size_t from, std::uint32_t header) {
    auto done = std::make_shared<bool>(false);
    net.set_filter([=](std::size_t who, std::vector<std::vector<std::byte>>& batch) {
        if (who != from || *done) {
            return;
        }
        for (auto& p : batch) {
            std::span<std::byte> pl = tcp_payload(p);
            if (pl.size() >= 4) {
                ustack::store_be32(pl.data(), header);
                fix_tcp_checksum(p);
                *done = true;
                return;
            }
        }
    });
}

// ---- the 10,000-message simulation ------------------------------------------------------------

// Byte j of message i of the direction `dir`: every message differs from its neighbours at every
// offset, so a lost, repeated, reordered, joined or split message is caught, not just a short one.
char message_byte(int dir, std::uint32_t i, std::size_t j) {
    return static_cast<char>((i * 131U) ^ (static_cast<std::uint32_t>(j) * 7U) ^
                             (static_cast<std::uint32_t>(j) >> 8) ^ (dir == 0 ? 0x5aU : 0xa5U));
}

// Message sizes from 0 to the bound (65536): log-uniform, so small messages (headers split
// across segments, several messages per segment) and large ones (a message over many
// segments) are both common; every 97th message is exactly the bound and every 89th is empty.
std::size_t message_size(std::mt19937_64& rng, std::uint32_t i) {
    if (i % 97 == 96) {
        return 65536;
    }
    if (i % 89 == 88) {
        return 0;
    }
    const double u = std::uniform_real_distribution<double>(0.0, 16.0)(rng);
    return std::min<std::size_t>(65536, static_cast<std::size_t>(std::exp2(u)) - 1);
}

// One direction of the simulation: the sender's next message, the receiver's next expected one
// and the part of it read so far (MSG_PARTIAL reads).
struct Flow {
    int dir = 0;
    SOCKET from = INVALID_SOCKET;
    SOCKET to = INVALID_SOCKET;
    std::vector<std::size_t> sizes;
    std::uint32_t sent = 0;
    bool shut = false;
    std::uint32_t received = 0;
    std::string part;  // the bytes of message `received` read so far
    std::uint64_t partial_reads = 0;
    bool ended = false;  // WSPRecv failed WSAEDISCON
    int discon_again = 0;
    std::string error;  // the first thing wrong

    std::string expected(std::uint32_t i) const {
        std::string m(sizes[i], '\0');
        for (std::size_t j = 0; j < m.size(); ++j) {
            m[j] = message_byte(dir, i, j);
        }
        return m;
    }
    // Send what the socket takes; shut down once all is sent. True if anything happened.
    bool pump_send() {
        bool moved = false;
        while (sent < sizes.size()) {
            const std::string m = expected(sent);
            DWORD n = 0;
            const int e = send_str(from, m, &n);
            if (e == WSAEWOULDBLOCK) {
                return moved;
            }
            if (e != 0 || n != m.size()) {
                error = "send of message " + std::to_string(sent) + ": " + WSPErrorName(e);
                return false;
            }
            ++sent;
            moved = true;
        }
        if (!shut) {
            shut = true;
            if (shutdown_socket(from, SD_SEND) != 0) {
                error = "WSPShutdown(SD_SEND) failed";
            }
            return true;
        }
        return moved;
    }
    // Read what has arrived, checking every message whole; a buffer of a random size, so that
    // one read in about eight gets a part (MSG_PARTIAL).
    bool pump_recv(std::mt19937_64& rng) {
        bool moved = false;
        while (!ended && error.empty()) {
            const bool small = rng() % 8 == 0;
            const std::size_t cap =
                small ? 1 + static_cast<std::size_t>(rng() % 4096) : std::size_t{65536};
            const Got g = recv_msg(to, cap);
            if (g.err == WSAEWOULDBLOCK) {
                return moved;
            }
            moved = true;
            if (g.err == WSAEDISCON) {
                ended = true;
                if (received != sizes.size() || !part.empty()) {
                    error = "WSAEDISCON after " + std::to_string(received) + " messages";
                }
                // Every later call fails the same way.
                discon_again += recv_msg(to, 100).err == WSAEDISCON ? 1 : 0;
                discon_again += recv_msg(to, 0).err == WSAEDISCON ? 1 : 0;
                return true;
            }
            if (g.err != 0) {
                error = std::string("WSPRecv: ") + WSPErrorName(g.err);
                return false;
            }
            if (received >= sizes.size()) {
                error = "a message after the last one";
                return false;
            }
            part += g.data;
            if ((g.flags & MSG_PARTIAL) != 0) {
                ++partial_reads;
                if (g.data.size() != cap || part.size() >= sizes[received]) {
                    error = "MSG_PARTIAL on a read that ended message " + std::to_string(received);
                    return false;
                }
                continue;
            }
            if (part != expected(received)) {
                error = "message " + std::to_string(received) + ": " + std::to_string(part.size()) +
                        " bytes, expected " + std::to_string(sizes[received]) +
                        (part.size() == sizes[received] ? " (the bytes differ)" : "");
                return false;
            }
            part.clear();
            ++received;
        }
        return moved;
    }
};

// Reordering on the virtual link: each packet is held back with probability 1/20 and carried,
// after the packets of that host's next batch, in that batch; a held packet of a host that
// sends nothing more stays held (a loss: the sender retransmits it).
struct Reorder {
    std::mt19937_64 rng{11};
    std::vector<std::vector<std::byte>> held[2];
    std::uint64_t count = 0;
    void operator()(std::size_t who, std::vector<std::vector<std::byte>>& batch) {
        std::vector<std::vector<std::byte>> keep;
        std::vector<std::vector<std::byte>> hold;
        for (auto& p : batch) {
            (rng() % 20 == 0 ? hold : keep).push_back(std::move(p));
        }
        for (auto& p : held[who]) {
            keep.push_back(std::move(p));
        }
        count += hold.size();
        held[who] = std::move(hold);
        batch = std::move(keep);
    }
};
}  // namespace

TEST_SUITE("wsp") {
    TEST_CASE(
        "DESIGN.md §3b: SOCK_SEQPACKET socket - SO_TYPE SO_MAX_MSG_SIZE and SO_PROTOCOL_INFO of a "
        "message provider") {
        Net net;
        const SOCKET m = message_socket(net.a);
        const SOCKET s = nb_socket(net.a);
        int v = 0;
        REQUIRE(get_int_opt(m, SOL_SOCKET, SO_TYPE, &v) == 0);
        CHECK(v == SOCK_SEQPACKET);
        REQUIRE(get_int_opt(s, SOL_SOCKET, SO_TYPE, &v) == 0);
        CHECK(v == SOCK_STREAM);
        REQUIRE(get_int_opt(m, SOL_SOCKET, SO_MAX_MSG_SIZE, &v) == 0);
        CHECK(v == 65536);  // the host's bound (WSPHOSTCONFIG::max_message_size 0)
        CHECK(get_int_opt(s, SOL_SOCKET, SO_MAX_MSG_SIZE, &v) == WSAENOPROTOOPT);
        WSAPROTOCOL_INFO info{};
        int len = sizeof info;
        int err = 0;
        REQUIRE(WSPGetSockOpt(m, SOL_SOCKET, SO_PROTOCOL_INFO, reinterpret_cast<char*>(&info), &len,
                              &err) == 0);
        CHECK(info.dwServiceFlags1 ==
              (XP1_MESSAGE_ORIENTED | XP1_PARTIAL_MESSAGE | XP1_GRACEFUL_CLOSE | XP1_CONNECT_DATA |
               XP1_DISCONNECT_DATA));
        CHECK(info.iSocketType == SOCK_SEQPACKET);
        CHECK(info.iProtocol == IPPROTO_TCP);
        CHECK(info.iAddressFamily == AF_INET);
        CHECK(info.dwMessageSize == 65536);
        REQUIRE(WSPGetSockOpt(s, SOL_SOCKET, SO_PROTOCOL_INFO, reinterpret_cast<char*>(&info), &len,
                              &err) == 0);
        CHECK(info.dwServiceFlags1 ==
              (XP1_GRACEFUL_CLOSE | XP1_CONNECT_DATA | XP1_DISCONNECT_DATA));
        CHECK(info.iSocketType == SOCK_STREAM);
        CHECK(info.dwMessageSize == 0);
        // The buffers hold a whole message each way.
        REQUIRE(get_int_opt(m, SOL_SOCKET, SO_SNDBUF, &v) == 0);
        CHECK(v >= 65536 + 4);
        int small = 4096;
        REQUIRE(WSPSetSockOpt(m, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&small),
                              sizeof small, &err) == 0);
        REQUIRE(get_int_opt(m, SOL_SOCKET, SO_RCVBUF, &v) == 0);
        CHECK(v == 65536 + 4);
    }

    TEST_CASE(
        "DESIGN.md §3b: each WSPSend is one message and each WSPRecv returns one message at most") {
        Net net;
        Pair p = message_pair(net);
        REQUIRE(send_str(p.client, "first") == 0);
        REQUIRE(send_str(p.client, "second message") == 0);
        WSABUF two[2] = {{3, const_cast<CHAR*>("abc")}, {4, const_cast<CHAR*>("defg")}};
        DWORD sent = 0;
        int err = 0;
        REQUIRE(WSPSend(p.client, two, 2, &sent, 0, &err) == 0);  // gathered: one message
        CHECK(sent == 7);
        net.run();
        CHECK(fionread(p.server) == 5);  // FIONREAD: the first message's size
        Got g = recv_msg(p.server, 100);
        CHECK(g.err == 0);
        CHECK(g.data == "first");
        CHECK(g.flags == 0);
        g = recv_msg(p.server, 100);
        CHECK(g.data == "second message");
        g = recv_msg(p.server, 100);
        CHECK(g.data == "abcdefg");
        CHECK(recv_msg(p.server, 100).err == WSAEWOULDBLOCK);
    }

    TEST_CASE("DESIGN.md §3b: zero-length messages are legal") {
        Net net;
        Pair p = message_pair(net);
        DWORD sent = 7;
        int err = 0;
        REQUIRE(WSPSend(p.client, nullptr, 0, &sent, 0, &err) == 0);
        CHECK(sent == 0);
        REQUIRE(send_str(p.client, "") == 0);
        REQUIRE(send_str(p.client, "x") == 0);
        net.run();
        CHECK(readable(p.server));
        Got g = recv_msg(p.server, 10);
        CHECK(g.err == 0);
        CHECK(g.data.empty());
        CHECK(g.flags == 0);
        g = recv_msg(p.server, 10);
        CHECK(g.err == 0);
        CHECK(g.data.empty());
        CHECK(recv_msg(p.server, 10).data == "x");
    }

    TEST_CASE(
        "DESIGN.md §3b: a buffer too small gets what fits with MSG_PARTIAL and the rest on the "
        "next calls") {
        Net net;
        Pair p = message_pair(net);
        REQUIRE(send_str(p.client, "0123456789") == 0);
        REQUIRE(send_str(p.client, "next") == 0);
        net.run();
        Got g = recv_msg(p.server, 4);
        CHECK(g.data == "0123");
        CHECK(g.flags == MSG_PARTIAL);
        CHECK(fionread(p.server) == 6);  // what is left of the first message
        g = recv_msg(p.server, 4);
        CHECK(g.data == "4567");
        CHECK(g.flags == MSG_PARTIAL);
        g = recv_msg(p.server, 4);
        CHECK(g.data == "89");
        CHECK(g.flags == 0);  // the last part ends the message
        g = recv_msg(p.server, 100);
        CHECK(g.data == "next");  // never joined to the previous message
    }

    TEST_CASE(
        "DESIGN.md §3b: a message over SO_MAX_MSG_SIZE fails WSAEMSGSIZE and nothing is sent") {
        Net net;
        Pair p = message_pair(net);
        const std::string big = pattern(65537);
        DWORD sent = 0;
        CHECK(send_str(p.client, big, &sent) == WSAEMSGSIZE);
        CHECK(sent == 0);
        const std::string max = pattern(65536, 2);
        REQUIRE(send_str(p.client, max, &sent) == 0);  // the bound itself is fine
        CHECK(sent == 65536);
        REQUIRE(net.run_until([&] { return fionread(p.server) == 65536; }, kBound));
        Got g = recv_msg(p.server, 70000);
        CHECK(g.data == max);
        CHECK(recv_msg(p.server, 10).err == WSAEWOULDBLOCK);  // nothing of the refused one
    }

    TEST_CASE(
        "DESIGN.md §3b: a non-blocking send without room for the whole message fails "
        "WSAEWOULDBLOCK and queues nothing") {
        Net net;
        Pair p = message_pair(net);
        // The server does not read: messages pile up until the client's send buffer cannot take
        // another whole one.
        const std::string m = pattern(60000);
        int e = 0;
        int sent_messages = 0;
        for (int i = 0; i < 200 && e == 0; ++i) {
            e = send_str(p.client, m);
            sent_messages += e == 0 ? 1 : 0;
            net.run();
        }
        CHECK(e == WSAEWOULDBLOCK);
        // Everything that arrives is whole messages, and only those the sends took.
        int got = 0;
        while (got < sent_messages) {
            const Got g = recv_msg(p.server, 70000);
            if (g.err == WSAEWOULDBLOCK) {
                REQUIRE(net.until_readable(p.server));
                continue;
            }
            REQUIRE(g.err == 0);
            CHECK(g.data == m);
            CHECK(g.flags == 0);
            ++got;
        }
        net.advance(kPastEveryDeadline);
        CHECK(recv_msg(p.server, 70000).err == WSAEWOULDBLOCK);  // the refused one left nothing
    }

    TEST_CASE(
        "DESIGN.md §3b: a message is readable only once it arrived whole - FD_READ and select wait "
        "for its last segment") {
        Net net;
        Pair p = message_pair(net);
        Events ev(p.server, FD_READ);
        // Lose the last of the message's segments once: the rest arrives, the message does not.
        auto dropped = std::make_shared<int>(0);
        net.set_filter([=](std::size_t who, std::vector<std::vector<std::byte>>& batch) {
            if (who != 0 || *dropped > 0) {
                return;
            }
            for (std::size_t i = batch.size(); i-- > 0;) {
                if (tcp_payload(batch[i]).size() > 0 && i > 0) {
                    batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(i));
                    *dropped = 1;
                    return;
                }
            }
        });
        const std::string m = pattern(5000);
        REQUIRE(send_str(p.client, m) == 0);
        net.run();
        REQUIRE(*dropped == 1);
        CHECK(!readable(p.server));
        CHECK(!ev.has(FD_READ));
        CHECK(fionread(p.server) == 0);
        CHECK(recv_msg(p.server, 10000).err == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(ev, FD_READ));  // the retransmission completes it
        CHECK(recv_msg(p.server, 10000).data == m);
    }

    TEST_CASE(
        "DESIGN.md §3b and SEMANTICS 1.7: after the peer's FIN and every message read WSPRecv "
        "fails WSAEDISCON on every call - FD_CLOSE 0") {
        Net net;
        Pair p = message_pair(net);
        Events ev(p.server, FD_READ | FD_CLOSE);
        REQUIRE(send_str(p.client, "last words") == 0);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        net.run();
        CHECK(!ev.has(FD_CLOSE));  // a message is still unread
        CHECK(recv_msg(p.server, 100).data == "last words");
        CHECK(recv_msg(p.server, 100).err == WSAEDISCON);
        CHECK(recv_msg(p.server, 100).err == WSAEDISCON);
        REQUIRE(net.until_event(ev, FD_CLOSE));
        CHECK(ev.error(FD_CLOSE_BIT) == 0);
        // The other direction still works (half-close), then ends the same way.
        REQUIRE(send_str(p.server, "reply") == 0);
        REQUIRE(shutdown_socket(p.server, SD_SEND) == 0);
        net.run();
        CHECK(recv_msg(p.client, 100).data == "reply");
        CHECK(recv_msg(p.client, 100).err == WSAEDISCON);
    }

    TEST_CASE(
        "DESIGN.md §3b: teardown is the stream's - disconnect data rides on the FIN of a message "
        "socket") {
        Net net;
        Pair p = message_pair(net);
        REQUIRE(send_str(p.client, "transaction") == 0);
        const std::string total("\x00\x00\x00\x00\x00\x00\x30\x39", 8);
        REQUIRE(send_disconnect(p.client, total.data(), 8) == 0);
        net.run();
        CHECK(recv_msg(p.server, 100).data == "transaction");
        CHECK(recv_msg(p.server, 100).err == WSAEDISCON);
        std::string got;
        REQUIRE(recv_disconnect(p.server, &got) == 0);
        CHECK(got == total);
    }

    TEST_CASE("DESIGN.md §3b: a peer RST gives WSAECONNRESET as for a stream") {
        Net net;
        Pair p = message_pair(net);
        REQUIRE(set_linger(p.client, 1, 0) == 0);
        REQUIRE(close_socket(p.client) == 0);
        net.run();
        CHECK(recv_msg(p.server, 100).err == WSAECONNRESET);
    }

    TEST_CASE(
        "DESIGN.md §3b: negotiation - a message connect to a stream listener fails "
        "WSAECONNREFUSED") {
        Net net;
        const SOCKET l = listen_on(net.b, kAddrB, 5000);
        REQUIRE(set_nonblocking(l, true) == 0);
        const SOCKET c = message_socket(net.a);
        Events ev(c, FD_CONNECT);
        REQUIRE(connect_to(c, kAddrB, 5000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(ev, FD_CONNECT));
        CHECK(ev.error(FD_CONNECT_BIT) == WSAECONNREFUSED);
        net.advance(kPastEveryDeadline);
        CHECK(!readable(l));  // the half-open connection was reset: nothing to accept
    }

    TEST_CASE(
        "DESIGN.md §3b: negotiation - a message listener refuses a stream connect with a RST") {
        Net net;
        const SOCKET l = message_listener(net.b, kAddrB, 6000);
        const SOCKET c = nb_socket(net.a);
        Events ev(c, FD_CONNECT);
        REQUIRE(connect_to(c, kAddrB, 6000) == WSAEWOULDBLOCK);
        REQUIRE(net.until_event(ev, FD_CONNECT));
        CHECK(ev.error(FD_CONNECT_BIT) == WSAECONNREFUSED);
        CHECK(!readable(l));
    }

    TEST_CASE(
        "DESIGN.md §3b: a framing error - a header over the bound - resets the connection and "
        "WSPRecv fails WSAECONNABORTED") {
        Net net;
        Pair p = message_pair(net);
        rewrite_first_header(net, 0, 0x8000'0000U | 0x20000U);  // 128 KiB announced
        REQUIRE(send_str(p.client, "hello") == 0);
        net.run();
        CHECK(recv_msg(p.server, 100).err == WSAECONNABORTED);
        CHECK(host_stat(net.b, "message_framing_too_long") == 1);
        net.run();
        CHECK(recv_msg(p.client, 100).err == WSAECONNRESET);  // the peer learned by our RST
    }

    TEST_CASE(
        "DESIGN.md §3b: a framing error - a FIN inside a message - resets the connection and the "
        "part is never delivered") {
        Net net;
        Pair p = message_pair(net);
        Events ev(p.server, FD_CLOSE);
        rewrite_first_header(net, 0, 0x8000'0000U | 100U);  // 100 announced, 5 sent
        REQUIRE(send_str(p.client, "hello") == 0);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        net.run();
        REQUIRE(net.until_event(ev, FD_CLOSE));
        CHECK(ev.error(FD_CLOSE_BIT) == WSAECONNABORTED);
        CHECK(recv_msg(p.server, 100).err == WSAECONNABORTED);
        CHECK(host_stat(net.b, "message_framing_fin_inside") == 1);
    }

    TEST_CASE(
        "DESIGN.md §3b: 10000 messages of 0 to 65536 bytes each way under loss - reordering and "
        "duplication keep every boundary and byte - then WSAEDISCON at both ends") {
        constexpr std::uint32_t kMessages = 10'000;
        Net net;
        Pair p = message_pair(net);
        std::mt19937_64 rng(2026);
        Flow flows[2];
        flows[0].dir = 0;
        flows[0].from = p.client;
        flows[0].to = p.server;
        flows[1].dir = 1;
        flows[1].from = p.server;
        flows[1].to = p.client;
        std::uint64_t bytes = 0;
        for (Flow& f : flows) {
            for (std::uint32_t i = 0; i < kMessages; ++i) {
                f.sizes.push_back(message_size(rng, i));
                bytes += f.sizes.back();
            }
        }
        net.set_loss(0.01);
        net.set_duplicate(0.01);
        auto reorder = std::make_shared<Reorder>();
        net.set_filter([reorder](std::size_t who, std::vector<std::vector<std::byte>>& batch) {
            (*reorder)(who, batch);
        });
        const Instant start = net.now();
        auto done = [&] { return flows[0].ended && flows[1].ended; };
        auto failed = [&] { return !flows[0].error.empty() || !flows[1].error.empty(); };
        while (!done() && !failed()) {
            bool moved = false;
            for (Flow& f : flows) {
                moved = f.pump_send() || moved;
                moved = f.pump_recv(rng) || moved;
            }
            if (!moved) {
                // Nothing to do until packets move or a timer (a retransmission) fires.
                net.advance(10ms);
            }
            if (net.now() - start > 1h) {
                FAIL("the exchange did not end within an hour of virtual time");
                break;
            }
        }
        INFO("client to server: " << flows[0].error);
        INFO("server to client: " << flows[1].error);
        REQUIRE(!failed());
        for (const Flow& f : flows) {
            CHECK(f.received == kMessages);
            CHECK(f.discon_again == 2);
            CHECK(f.partial_reads > 0);
        }
        MESSAGE("bytes " << bytes << ", lost " << net.link_stats().lost << ", duplicated "
                         << net.link_stats().duplicated << ", held back " << reorder->count);
        // The link really lost, duplicated and reordered, and the framing never failed.
        CHECK(net.link_stats().lost > 0);
        CHECK(net.link_stats().duplicated > 0);
        CHECK(reorder->count > 0);
        CHECK(host_stat(net.a, "message_framing_too_long") == 0);
        CHECK(host_stat(net.b, "message_framing_too_long") == 0);
        CHECK(host_stat(net.a, "message_framing_fin_inside") == 0);
        CHECK(host_stat(net.b, "message_framing_fin_inside") == 0);
    }
}
