// ustack-crafter: a hostile TCP peer for the tests in tests/hostile/ (libtins).
//
// It sends hand-made IPv4/TCP packets with a raw socket (Tins::PacketSender) and watches the wire
// with a pcap sniffer (Tins::Sniffer) on the peer namespace's veth, so it can play a whole TCP
// peer (handshake, data, ACKs) or a blind third party. Crafted peers use a source address from a
// subnet the peer namespace routes into a blackhole (--src), so its kernel never sees (and never
// resets) the ustack host's answers -- the sniffer captures them on the veth before that.
//
// Every result is a "key value" line on stdout; "FAIL <why>" lines and exit status 1 report what
// the crafter itself could not do (the test scripts judge the outcomes).
//
//   synflood   --dst A --port P --count N --spoof-net A.B.C.0   spoofed SYNs; counts SYN-ACKs
//   inject     --dst A --port P --peer A [--rounds N]           blind RST/SYN/data injection
//                                                              into the connection peer<->dst:P
//   ooo        --dst A --port P --src A --bytes N               a peer that floods out-of-order
//                                                              segments while it sends a stream
//   ackunsent  --dst A --port P --src A                         ACKs of data never sent
//   zerowin    --dst A --port P --src A --seconds S             window 0 forever; counts probes
//   finhole    --dst A --port P --src A [--ack-fin]             never ACKs the FIN (or ACKs it and
//                                                              never sends its own)
//   malformed  --tun NAME --dst A --port P [--each N]           every malformed packet the codec
//                                                              counts, written into the TUN
//                                                              device (AF_PACKET), not routed
// Common: --iface NAME (the veth to sniff), --timeout S.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <tins/tins.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sha256.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

double now_s() {
    return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

void out(const std::string& k, const std::string& v) {
    std::printf("%s %s\n", k.c_str(), v.c_str());
    std::fflush(stdout);
}
void out(const std::string& k, std::uint64_t v) {
    out(k, std::to_string(v));
}
[[noreturn]] void fail(const std::string& why) {
    std::printf("FAIL %s\n", why.c_str());
    std::fflush(stdout);
    std::_Exit(1);
}

std::uint32_t ip_of(const std::string& s) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1)
        fail("bad address " + s);
    return ntohl(a.s_addr);
}
std::string ip_str(std::uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
           std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}
Tins::IPv4Address tins_ip(std::uint32_t a) {
    return Tins::IPv4Address(htonl(a));
}

// ---- the sniffer --------------------------------------------------------------------------------

struct Pkt {
    std::uint32_t src = 0, dst = 0;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t win = 0;
    std::size_t len = 0;  // payload length
    Bytes payload;        // kept only if Capture::keep_payload
    std::optional<std::pair<std::uint32_t, std::uint32_t>> ts;
    double at = 0;
    bool has(std::uint8_t f) const { return (flags & f) != 0; }
};

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

class Capture {
public:
    Capture(const std::string& iface, const std::string& filter, bool keep_payload)
        : keep_payload_(keep_payload) {
        Tins::SnifferConfiguration cfg;
        cfg.set_promisc_mode(false);
        cfg.set_immediate_mode(true);
        cfg.set_snap_len(262144);
        cfg.set_buffer_size(64 * 1024 * 1024);
        cfg.set_filter(filter);
        sniffer_ = std::make_unique<Tins::Sniffer>(iface, cfg);
        thread_ = std::thread([this] {
            sniffer_->sniff_loop([this](Tins::PDU& pdu) {
                const auto* ip = pdu.find_pdu<Tins::IP>();
                const auto* tcp = pdu.find_pdu<Tins::TCP>();
                if (ip == nullptr || tcp == nullptr)
                    return true;
                Pkt p;
                p.src = ntohl(ip->src_addr());
                p.dst = ntohl(ip->dst_addr());
                p.sport = tcp->sport();
                p.dport = tcp->dport();
                p.seq = tcp->seq();
                p.ack = tcp->ack_seq();
                p.flags = static_cast<std::uint8_t>(tcp->flags());
                p.win = tcp->window();
                if (const auto* raw = tcp->find_pdu<Tins::RawPDU>()) {
                    p.len = raw->payload().size();
                    if (keep_payload_)
                        p.payload = raw->payload();
                }
                if (const auto* o = tcp->search_option(Tins::TCP::TSOPT)) {
                    const auto v = o->to<std::pair<std::uint32_t, std::uint32_t>>();
                    p.ts = v;
                }
                p.at = now_s();
                {
                    std::lock_guard<std::mutex> l(m_);
                    pkts_.push_back(std::move(p));
                }
                cv_.notify_all();
                return true;
            });
        });
        thread_.detach();  // the process ends with _Exit; pcap_breakloop is not needed
    }

    // The next packet at or after *cursor that satisfies pred, waiting up to `secs`.
    std::optional<Pkt> next(std::size_t& cursor, const std::function<bool(const Pkt&)>& pred,
                            double secs) {
        const auto deadline = Clock::now() + std::chrono::duration<double>(secs);
        std::unique_lock<std::mutex> l(m_);
        for (;;) {
            while (cursor < pkts_.size()) {
                const Pkt& p = pkts_[cursor++];
                if (pred(p))
                    return p;
            }
            if (cv_.wait_until(l, deadline) == std::cv_status::timeout && cursor >= pkts_.size()) {
                return std::nullopt;
            }
        }
    }
    std::size_t count(const std::function<bool(const Pkt&)>& pred, std::size_t from = 0) {
        std::lock_guard<std::mutex> l(m_);
        std::size_t n = 0;
        for (std::size_t i = from; i < pkts_.size(); ++i) n += pred(pkts_[i]) ? 1U : 0U;
        return n;
    }
    std::size_t size() {
        std::lock_guard<std::mutex> l(m_);
        return pkts_.size();
    }

private:
    bool keep_payload_;
    std::unique_ptr<Tins::Sniffer> sniffer_;
    std::thread thread_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<Pkt> pkts_;
};

// ---- the sender ---------------------------------------------------------------------------------

struct TcpOut {
    std::uint32_t src = 0, dst = 0;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t win = 65535;
    const std::uint8_t* data = nullptr;
    std::size_t len = 0;
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> wscale;
    bool sack_ok = false;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> ts;
};

Tins::PacketSender& sender() {
    static Tins::PacketSender s;
    return s;
}

void send_tcp(const TcpOut& o) {
    Tins::TCP tcp(o.dport, o.sport);
    tcp.seq(o.seq);
    tcp.ack_seq(o.ack);
    tcp.flags(static_cast<Tins::small_uint<12>>(o.flags));
    tcp.window(o.win);
    if (o.mss)
        tcp.mss(*o.mss);
    if (o.sack_ok)
        tcp.sack_permitted();
    if (o.ts)
        tcp.timestamp(o.ts->first, o.ts->second);
    if (o.wscale)
        tcp.winscale(*o.wscale);
    Tins::IP ip(tins_ip(o.dst), tins_ip(o.src));
    ip.ttl(64);
    if (o.len > 0) {
        Tins::RawPDU raw(o.data, static_cast<std::uint32_t>(o.len));
        Tins::IP pkt = ip / tcp / raw;
        sender().send(pkt);
    } else {
        Tins::IP pkt = ip / tcp;
        sender().send(pkt);
    }
}

// ---- a crafted peer (one connection) -----------------------------------------------------------

struct Args {
    std::map<std::string, std::string> kv;
    std::vector<std::string> flags;
    std::string get(const std::string& k, const std::string& d = "") const {
        const auto it = kv.find(k);
        return it == kv.end() ? d : it->second;
    }
    bool has(const std::string& f) const {
        return std::find(flags.begin(), flags.end(), f) != flags.end();
    }
    std::uint64_t num(const std::string& k, std::uint64_t d) const {
        const auto v = get(k);
        if (v.empty())
            return d;
        char* end = nullptr;
        std::uint64_t n = std::strtoull(v.c_str(), &end, 10);
        if (end && (*end == 'K' || *end == 'k'))
            n <<= 10;
        if (end && (*end == 'M' || *end == 'm'))
            n <<= 20;
        return n;
    }
};

class Peer {
public:
    Peer(Capture& cap, std::uint32_t src, std::uint32_t dst, std::uint16_t dport)
        : cap_(cap), src_(src), dst_(dst), dport_(dport) {
        std::random_device rd;
        sport_ = static_cast<std::uint16_t>(20000 + rd() % 40000);
        iss_ = rd();
        snd_nxt_ = iss_;
    }
    std::uint16_t sport() const { return sport_; }
    std::uint32_t snd_nxt() const { return snd_nxt_; }
    std::uint32_t rcv_nxt() const { return rcv_nxt_; }
    std::uint32_t their_iss() const { return their_iss_; }
    std::size_t& cursor() { return cursor_; }

    bool from_them(const Pkt& p) const {
        return p.src == dst_ && p.sport == dport_ && p.dst == src_ && p.dport == sport_;
    }
    TcpOut seg(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) const {
        TcpOut o;
        o.src = src_;
        o.dst = dst_;
        o.sport = sport_;
        o.dport = dport_;
        o.seq = seq;
        o.ack = ack;
        o.flags = flags;
        o.win = win_;
        return o;
    }
    void set_window(std::uint16_t w) { win_ = w; }

    bool connect(double secs) {
        TcpOut syn = seg(kSyn, iss_, 0);
        syn.mss = 1460;
        for (int attempt = 0; attempt < 3; ++attempt) {
            send_tcp(syn);
            const auto sa = cap_.next(
                cursor_,
                [&](const Pkt& p) {
                    return from_them(p) && p.has(kSyn) && p.has(kAck) && p.ack == iss_ + 1;
                },
                secs / 3);
            if (sa) {
                their_iss_ = sa->seq;
                rcv_nxt_ = sa->seq + 1;
                snd_nxt_ = iss_ + 1;
                send_tcp(seg(kAck, snd_nxt_, rcv_nxt_));
                return true;
            }
        }
        return false;
    }
    void ack_now() { send_tcp(seg(kAck, snd_nxt_, rcv_nxt_)); }
    void send_data(std::uint32_t seq, const std::uint8_t* d, std::size_t n,
                   std::uint8_t extra = 0) {
        TcpOut o = seg(static_cast<std::uint8_t>(kAck | extra), seq, rcv_nxt_);
        o.data = d;
        o.len = n;
        send_tcp(o);
    }
    void advance_snd(std::uint32_t n) { snd_nxt_ += n; }
    void take(const Pkt& p) {  // in-order data / FIN from them
        if (p.seq == rcv_nxt_) {
            rcv_nxt_ += static_cast<std::uint32_t>(p.len);
            if (p.has(kFin))
                rcv_nxt_ += 1;
        }
    }

private:
    Capture& cap_;
    std::uint32_t src_, dst_;
    std::uint16_t dport_, sport_ = 0;
    std::uint32_t iss_ = 0, snd_nxt_ = 0, rcv_nxt_ = 0, their_iss_ = 0;
    std::uint16_t win_ = 65535;
    std::size_t cursor_ = 0;
};

bool seq_lt(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) < 0;
}
bool seq_le(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) <= 0;
}

std::string filter_for(std::uint32_t dst, std::uint16_t port) {
    return "tcp and host " + ip_str(dst) + " and port " + std::to_string(port);
}

// ---- scenarios ----------------------------------------------------------------------------------

int synflood(const Args& a) {
    const std::uint32_t dst = ip_of(a.get("--dst"));
    const auto port = static_cast<std::uint16_t>(a.num("--port", 9000));
    const std::uint64_t count = a.num("--count", 50000);
    const std::uint32_t net = ip_of(a.get("--spoof-net", "10.0.9.0"));
    Capture& cap = *new Capture(  // never destroyed: its sniffer thread runs until _Exit
        a.get("--iface"),
        "tcp and src host " + ip_str(dst) + " and src port " + std::to_string(port) +
            " and dst net " + ip_str(net) + "/24",
        false);
    std::mt19937 rng(12345);
    const double t0 = now_s();
    for (std::uint64_t i = 0; i < count; ++i) {
        TcpOut o;
        o.src = net | (1U + static_cast<std::uint32_t>(rng() % 254U));
        o.dst = dst;
        o.sport = static_cast<std::uint16_t>(1024 + rng() % 64000);
        o.dport = port;
        o.seq = static_cast<std::uint32_t>(rng());
        o.flags = kSyn;
        o.win = 64240;
        o.mss = 1460;
        o.sack_ok = true;
        o.ts = std::make_pair(static_cast<std::uint32_t>(rng()), 0U);
        o.wscale = 7;
        send_tcp(o);
        if (i == 999)
            out("flooding", "1000");
    }
    const double dt = now_s() - t0;
    out("syn_sent", count);
    char r[64];
    std::snprintf(r, sizeof r, "%.2f", dt);
    out("syn_seconds", r);
    std::snprintf(r, sizeof r, "%.0f", static_cast<double>(count) / std::max(dt, 1e-6));
    out("syn_rate_pps", r);
    // Let the answers drain, then count.
    std::size_t last = 0;
    for (int i = 0; i < 40; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const std::size_t n = cap.size();
        if (n == last && i > 5)
            break;
        last = n;
    }
    out("synack_seen", cap.count([](const Pkt& p) { return p.has(kSyn) && p.has(kAck); }));
    return 0;
}

int inject(const Args& a) {
    const std::uint32_t dst = ip_of(a.get("--dst"));
    const std::uint32_t peer = ip_of(a.get("--peer"));
    const auto port = static_cast<std::uint16_t>(a.num("--port", 9000));
    const auto rounds = a.num("--rounds", 5);
    Capture& cap = *new Capture(  // never destroyed: its sniffer thread runs until _Exit
        a.get("--iface"), filter_for(dst, port), false);
    std::size_t cur = 0;
    // The connection: the peer's ACKs (seq = its SND.NXT = our target's RCV.NXT, which is still
    // while the peer only receives) and the target's data (its SND.NXT).
    const auto first = cap.next(
        cur, [&](const Pkt& p) { return p.src == dst && p.len > 0; },
        static_cast<double>(a.num("--timeout", 20)));
    if (!first)
        fail("no data from the target on port " + std::to_string(port));
    const std::uint16_t pport = first->dport;
    std::map<std::string, std::uint64_t> sent;
    for (std::uint64_t r = 0; r < rounds; ++r) {
        // Fresh view: the latest ACK from the peer and the latest data from the target, taken
        // just before injecting (the peer's TSval must not be older than the target's TS.Recent).
        std::optional<Pkt> pa, td;
        std::size_t c2 = cur;
        const double fresh = now_s() + 0.15, give_up = now_s() + 2;
        while (now_s() < give_up && !(now_s() >= fresh && pa && td)) {
            auto p = cap.next(
                c2,
                [&](const Pkt& q) {
                    return (q.src == peer && q.sport == pport) || (q.src == dst && q.len > 0);
                },
                0.05);
            if (!p)
                continue;
            if (p->src == peer)
                pa = p;
            else
                td = p;
        }
        cur = c2;
        if (!pa || !td) {
            out("inject_rounds_done", r);
            break;
        }
        // 2 ms ahead of the peer's clock: newer than any ACK it sent meanwhile, and harmless
        // (its clock passes it at once).
        if (pa->ts)
            pa->ts->first += 2;
        const std::uint32_t rcv_nxt = pa->seq;  // target's RCV.NXT
        const std::uint32_t their_max =
            td->seq + static_cast<std::uint32_t>(td->len);  // target's SND.NXT (about)
        auto base = [&](std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) {
            TcpOut o;
            o.src = peer;
            o.dst = dst;
            o.sport = pport;
            o.dport = port;
            o.seq = seq;
            o.ack = ack;
            o.flags = flags;
            o.win = pa->win;
            if (pa->ts && !(flags & kRst))
                o.ts = pa->ts;  // passes PAWS (RFC 7323 §5): the peer's latest
            return o;
        };
        static const std::uint8_t junk[100] = {0xde, 0xad, 0xbe, 0xef};
        for (int k = 0; k < 20; ++k) {
            const auto ku = static_cast<std::uint32_t>(k);
            send_tcp(base(kRst, rcv_nxt + 0x40000000U + ku * 1000U, 0));  // RST out of window
            sent["rst_out_of_window"]++;
            send_tcp(base(kRst, rcv_nxt + 1U + ku * 97U, 0));  // RST in window, not exact
            sent["rst_in_window"]++;
            send_tcp(base(kRst | kAck, rcv_nxt + 2U + ku * 89U, their_max));
            sent["rst_ack_in_window"]++;
            send_tcp(base(kSyn, rcv_nxt + 10U + ku, 0));  // SYN in window
            sent["syn_in_window"]++;
            send_tcp(base(kSyn, rcv_nxt + 0x50000000U + ku, 0));  // SYN out of window
            sent["syn_out_of_window"]++;
            TcpOut d = base(kAck | kPsh, rcv_nxt + 0x40000000U + ku * 100U,
                            their_max);  // data out of window
            d.data = junk;
            d.len = sizeof junk;
            send_tcp(d);
            sent["data_out_of_window"]++;
            d = base(kAck | kPsh, rcv_nxt, their_max + 0x10000000U);  // in window, ACKs unsent data
            d.data = junk;
            d.len = sizeof junk;
            send_tcp(d);
            sent["data_in_window_ack_unsent"]++;
            d = base(kAck | kPsh, rcv_nxt, their_max - 0x40000000U);  // in window, ACK far too old
            d.data = junk;
            d.len = sizeof junk;
            send_tcp(d);
            sent["data_in_window_ack_too_old"]++;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    for (const auto& [k, v] : sent) out("sent_" + k, v);
    out("target_port", port);
    out("peer_port", pport);
    return 0;
}

int ooo(const Args& a) {
    const std::uint32_t dst = ip_of(a.get("--dst"));
    const std::uint32_t src = ip_of(a.get("--src"));
    const auto port = static_cast<std::uint16_t>(a.num("--port", 9000));
    const std::size_t total = a.num("--bytes", 4 << 20);
    const double limit = static_cast<double>(a.num("--timeout", 60));
    Capture& cap = *new Capture(  // never destroyed: its sniffer thread runs until _Exit
        a.get("--iface"), filter_for(dst, port), false);
    Peer p(cap, src, dst, port);
    if (!p.connect(5))
        fail("handshake");
    out("peer_port", p.sport());
    Bytes stream(total);
    std::mt19937 g(99);
    for (auto& b : stream) b = static_cast<std::uint8_t>(g());
    const std::uint32_t base = p.snd_nxt();  // sequence number of stream byte 0
    std::size_t una = 0;
    std::uint32_t wnd = 65535;
    std::uint64_t ooo_sent = 0, beyond_sent = 0, data_sent = 0, rounds = 0, retransmit_rounds = 0;
    std::mt19937 rng(7);
    const double t0 = now_s();
    constexpr std::size_t kMss = 1400;
    while (una < total) {
        if (now_s() - t0 > limit)
            fail("transfer did not finish in time (acked " + std::to_string(una) + ")");
        rounds++;
        // The flood: small segments at random offsets with gaps inside the window (the real bytes,
        // so a correct receiver keeps the stream intact), and some far beyond the window.
        if (wnd > 3 * kMss) {
            for (int k = 0; k < 64; ++k) {
                const std::size_t off = una + 2 * kMss + rng() % (wnd - 2 * kMss);
                if (off + 8 > total)
                    continue;
                p.send_data(base + static_cast<std::uint32_t>(off), stream.data() + off, 8);
                ooo_sent++;
            }
        }
        for (int k = 0; k < 8; ++k) {
            const auto far = static_cast<std::uint32_t>(una + (std::size_t{16} << 20) +
                                                        static_cast<std::size_t>(k) * 1000U);
            p.send_data(base + far, stream.data(), 8);
            beyond_sent++;
        }
        // The real stream, in order, as far as the window allows.
        const std::size_t end = std::min(total, una + wnd);
        for (std::size_t off = una; off < end; off += kMss) {
            const std::size_t n = std::min(kMss, end - off);
            p.send_data(base + static_cast<std::uint32_t>(off), stream.data() + off, n, kPsh);
            data_sent++;
        }
        // Wait for the ACK to move (go-back-N on a 300 ms timeout).
        const std::uint32_t want = base + static_cast<std::uint32_t>(end);
        bool moved = false;
        const double until = now_s() + 0.3;
        while (now_s() < until) {
            const auto r = cap.next(
                p.cursor(), [&](const Pkt& q) { return p.from_them(q) && q.has(kAck); },
                until - now_s());
            if (!r)
                break;
            if (r->has(kRst))
                fail("reset by the target");
            if (seq_lt(base + static_cast<std::uint32_t>(una), r->ack) &&
                seq_le(r->ack, base + static_cast<std::uint32_t>(total))) {
                una = r->ack - base;
                moved = true;
            }
            wnd = r->win;  // no window scaling offered
            if (r->ack == want)
                break;
        }
        if (!moved)
            retransmit_rounds++;
    }
    // FIN, then the target's FIN (it closes after reading to the end).
    p.advance_snd(static_cast<std::uint32_t>(total));
    TcpOut fin = p.seg(kFin | kAck, p.snd_nxt(), p.rcv_nxt());
    send_tcp(fin);
    const auto theirs = cap.next(
        p.cursor(), [&](const Pkt& q) { return p.from_them(q) && q.has(kFin); }, 10);
    if (theirs) {
        p.take(*theirs);
        send_tcp(p.seg(kAck, p.snd_nxt() + 1, p.rcv_nxt()));
    }
    apps::Sha256 h;
    h.update(stream.data(), stream.size());
    out("sha256 sent", h.hex_digest() + " " + std::to_string(total));
    out("ooo_segments_sent", ooo_sent);
    out("beyond_window_segments_sent", beyond_sent);
    out("in_order_segments_sent", data_sent);
    out("rounds", rounds);
    out("rounds_without_progress", retransmit_rounds);
    out("their_fin", theirs ? "yes" : "no");
    char r[32];
    std::snprintf(r, sizeof r, "%.2f", now_s() - t0);
    out("seconds", r);
    return 0;
}

// Receive the target's stream in order (ACKing it) until its FIN; returns the bytes.
Bytes receive_stream(Capture& cap, Peer& p, double secs, std::uint16_t win = 65535) {
    Bytes got;
    p.set_window(win);
    const double until = now_s() + secs;
    while (now_s() < until) {
        const auto r = cap.next(
            p.cursor(), [&](const Pkt& q) { return p.from_them(q); }, until - now_s());
        if (!r)
            break;
        if (r->has(kRst))
            fail("reset by the target");
        if (r->seq == p.rcv_nxt() && (r->len > 0 || r->has(kFin))) {
            got.insert(got.end(), r->payload.begin(), r->payload.end());
            p.take(*r);
            p.ack_now();
            if (r->has(kFin))
                return got;
        } else if (r->len > 0 || r->has(kFin)) {
            p.ack_now();  // out of order or old: say where we are
        }
    }
    fail("the target's stream did not end in time (" + std::to_string(got.size()) + " bytes)");
}

int ackunsent(const Args& a) {
    const std::uint32_t dst = ip_of(a.get("--dst"));
    const std::uint32_t src = ip_of(a.get("--src"));
    const auto port = static_cast<std::uint16_t>(a.num("--port", 9000));
    Capture& cap = *new Capture(  // never destroyed: its sniffer thread runs until _Exit
        a.get("--iface"), filter_for(dst, port), true);
    Peer p(cap, src, dst, port);
    if (!p.connect(5))
        fail("handshake");
    out("peer_port", p.sport());
    // Some data first, acknowledged.
    Bytes hello(1000);
    for (std::size_t i = 0; i < hello.size(); ++i)
        hello[i] = static_cast<std::uint8_t>('a' + i % 26);
    p.send_data(p.snd_nxt(), hello.data(), hello.size(), kPsh);
    p.advance_snd(static_cast<std::uint32_t>(hello.size()));
    const auto acked = cap.next(
        p.cursor(), [&](const Pkt& q) { return p.from_them(q) && q.ack == p.snd_nxt(); }, 5);
    if (!acked)
        fail("our data was not acknowledged");
    const std::uint32_t their_nxt = acked->seq;  // nothing sent by them yet (mode recv-then-send)
    // RFC 5961 §5.2 / RFC 9293 §3.10.7.4: ACKs of data never sent, and far too old.
    struct Kind {
        const char* name;
        std::uint32_t ack;
    };
    const Kind kinds[] = {{"ack_unsent", their_nxt + 100000U},
                          {"ack_unsent_far", their_nxt + 0x40000000U},
                          {"ack_too_old", their_nxt - 0x50000000U}};
    for (const Kind& k : kinds) {
        std::uint64_t answered = 0;
        for (int i = 0; i < 10; ++i) {
            const std::size_t mark = p.cursor();
            (void)mark;
            send_tcp(p.seg(kAck, p.snd_nxt(), k.ack));
            const auto r = cap.next(
                p.cursor(), [&](const Pkt& q) { return p.from_them(q); }, 0.6);
            if (r && r->has(kRst))
                fail("reset by the target after " + std::string(k.name));
            if (r && r->has(kAck) && r->len == 0 && r->seq == their_nxt && r->ack == p.snd_nxt())
                answered++;
        }
        out(std::string("sent_") + k.name, 10);
        out(std::string("answered_") + k.name, answered);
    }
    // The connection still works: our FIN, then the target's data and FIN, intact.
    apps::Sha256 hs;
    hs.update(hello.data(), hello.size());
    out("sha256 sent", hs.hex_digest() + " " + std::to_string(hello.size()));
    send_tcp(p.seg(kFin | kAck, p.snd_nxt(), p.rcv_nxt()));
    p.advance_snd(1);
    const Bytes got = receive_stream(cap, p, 20);
    apps::Sha256 hr;
    hr.update(got.data(), got.size());
    out("sha256 recv", hr.hex_digest() + " " + std::to_string(got.size()));
    return 0;
}

int zerowin(const Args& a) {
    const std::uint32_t dst = ip_of(a.get("--dst"));
    const std::uint32_t src = ip_of(a.get("--src"));
    const auto port = static_cast<std::uint16_t>(a.num("--port", 9000));
    const double secs = static_cast<double>(a.num("--seconds", 10));
    Capture& cap = *new Capture(  // never destroyed: its sniffer thread runs until _Exit
        a.get("--iface"), filter_for(dst, port), false);
    Peer p(cap, src, dst, port);
    p.set_window(0);
    if (!p.connect(5))
        fail("handshake");
    out("peer_port", p.sport());
    const double t0 = now_s();
    std::uint64_t probes = 0, data_bytes_refused = 0, segs = 0;
    std::vector<double> probe_times;
    std::string end = "none";
    double end_at = 0;
    while (now_s() - t0 < secs) {
        const auto r = cap.next(
            p.cursor(), [&](const Pkt& q) { return p.from_them(q); }, secs - (now_s() - t0));
        if (!r)
            break;
        segs++;
        if (r->has(kRst)) {
            end = "rst";
            end_at = r->at - t0;
            break;
        }
        if (r->has(kFin)) {
            end = "fin";
            end_at = r->at - t0;
            break;
        }
        // Anything else is a window probe (RFC 9293 §3.8.6.1): answer with window 0, forever.
        probes++;
        probe_times.push_back(r->at - t0);
        data_bytes_refused += r->len;
        p.ack_now();
    }
    out("segments_seen", segs);
    out("probes", probes);
    out("probe_bytes_refused", data_bytes_refused);
    std::string ts;
    for (std::size_t i = 0; i < probe_times.size() && i < 12; ++i) {
        char b[16];
        std::snprintf(b, sizeof b, "%s%.2f", i ? "," : "", probe_times[i]);
        ts += b;
    }
    out("probe_times", ts.empty() ? "-" : ts);
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", end_at);
    out("end", end);
    out("end_after_s", b);
    return 0;
}

int finhole(const Args& a) {
    const std::uint32_t dst = ip_of(a.get("--dst"));
    const std::uint32_t src = ip_of(a.get("--src"));
    const auto port = static_cast<std::uint16_t>(a.num("--port", 9000));
    const double secs = static_cast<double>(a.num("--seconds", 30));
    const bool ack_fin = a.has("--ack-fin");
    Capture& cap = *new Capture(  // never destroyed: its sniffer thread runs until _Exit
        a.get("--iface"), filter_for(dst, port), false);
    Peer p(cap, src, dst, port);
    if (!p.connect(5))
        fail("handshake");
    out("peer_port", p.sport());
    const double t0 = now_s();
    std::uint64_t fins = 0, bytes = 0;
    std::string end = "none";
    double end_at = 0;
    while (now_s() - t0 < secs) {
        const auto r = cap.next(
            p.cursor(), [&](const Pkt& q) { return p.from_them(q); }, secs - (now_s() - t0));
        if (!r)
            break;
        if (r->has(kRst)) {
            end = "rst";
            end_at = r->at - t0;
            break;
        }
        if (r->has(kFin))
            fins++;
        if (r->seq == p.rcv_nxt() && r->len > 0) {
            bytes += r->len;
            p.take(*r);  // data (and FIN, if on it) -- but see below for the FIN
            if (r->has(kFin)) {
                // take() counted the FIN; a peer that never ACKs it acknowledges only the data.
                if (!ack_fin) {
                    send_tcp(p.seg(kAck, p.snd_nxt(), p.rcv_nxt() - 1));
                    continue;
                }
            }
            p.ack_now();
        } else if (r->has(kFin) && r->seq == p.rcv_nxt()) {
            if (ack_fin) {
                p.take(*r);
                p.ack_now();  // ACK the FIN, and never send ours: FIN-WAIT-2 forever
            } else {
                p.ack_now();  // acknowledges everything but the FIN
            }
        } else if (r->has(kFin) && r->seq + r->len + 1 == p.rcv_nxt() && !ack_fin) {
            send_tcp(p.seg(kAck, p.snd_nxt(), p.rcv_nxt() - 1));  // a retransmitted FIN
        }
    }
    out("data_bytes", bytes);
    out("fins_seen", fins);
    out("end", end);
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", end_at);
    out("end_after_s", b);
    return 0;
}

// RFC 1337 (TIME-WAIT assassination): connect, take the target's data and FIN, send ours, and
// once the target has acknowledged it (it is in TIME-WAIT) send a RST exactly at its RCV.NXT --
// acceptable in every synchronized state but TIME-WAIT, where RFC 1337 says to ignore it. Then
// our FIN again: a TIME-WAIT that is still there acknowledges it (RFC 9293 §3.10.7.4).
int twrst(const Args& a) {
    const std::uint32_t dst = ip_of(a.get("--dst"));
    const std::uint32_t src = ip_of(a.get("--src"));
    const auto port = static_cast<std::uint16_t>(a.num("--port", 9000));
    const double secs = static_cast<double>(a.num("--seconds", 10));
    Capture& cap = *new Capture(  // never destroyed: its sniffer thread runs until _Exit
        a.get("--iface"), filter_for(dst, port), false);
    Peer p(cap, src, dst, port);
    if (!p.connect(5))
        fail("handshake");
    out("peer_port", p.sport());
    for (;;) {
        const auto r = cap.next(
            p.cursor(), [&](const Pkt& q) { return p.from_them(q); }, secs);
        if (!r)
            fail("no FIN from the target");
        if (r->has(kRst))
            fail("the target reset the connection");
        if (r->seq != p.rcv_nxt())
            continue;
        p.take(*r);
        p.ack_now();
        if (r->has(kFin))
            break;
    }
    const std::uint32_t fin_seq = p.snd_nxt();
    send_tcp(p.seg(kFin | kAck, fin_seq, p.rcv_nxt()));
    p.advance_snd(1);
    if (!cap.next(
            p.cursor(),
            [&](const Pkt& q) { return p.from_them(q) && q.has(kAck) && q.ack == p.snd_nxt(); },
            secs))
        fail("our FIN was not acknowledged");
    out("time_wait", "entered");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    send_tcp(p.seg(kRst, p.snd_nxt(), 0));
    out("rst_sent", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    send_tcp(p.seg(kFin | kAck, fin_seq, p.rcv_nxt()));
    const auto acked = cap.next(
        p.cursor(),
        [&](const Pkt& q) {
            return p.from_them(q) && !q.has(kRst) && q.has(kAck) && q.ack == p.snd_nxt();
        },
        2);
    const bool rst_back =
        cap.count([&](const Pkt& q) { return p.from_them(q) && q.has(kRst); }) > 0;
    out("fin_acked_after_rst", acked ? "yes" : "no");
    out("rst_from_target", rst_back ? "yes" : "no");
    return 0;
}

// ---- malformed packets, written into the TUN device ------------------------------------------

std::uint16_t csum(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<std::uint32_t>((p[i] << 8) | p[i + 1]);
    if (n & 1)
        sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}
void put16(Bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v & 0xff);
}
void fix_ip_csum(Bytes& b) {
    const std::size_t ihl = (b[0] & 0xfU) * 4U;
    put16(b, 10, 0);
    put16(b, 10, csum(b.data(), std::min(ihl, b.size())));
}
void fix_tcp_csum(Bytes& b) {
    const std::size_t ihl = (b[0] & 0xfU) * 4U;
    const std::size_t tlen = b.size() - ihl;
    put16(b, ihl + 16, 0);
    std::uint32_t sum = 0;
    for (int i = 12; i < 20; i += 2)
        sum += static_cast<std::uint32_t>((b[static_cast<std::size_t>(i)] << 8) |
                                          b[static_cast<std::size_t>(i) + 1]);
    sum += 6;
    sum += static_cast<std::uint32_t>(tlen);
    put16(b, ihl + 16, csum(b.data() + ihl, tlen, sum));
}

int malformed(const Args& a) {
    const std::string tun = a.get("--tun", "tun0");
    const std::uint32_t dst = ip_of(a.get("--dst"));
    const std::uint32_t src = ip_of(a.get("--src", "10.0.0.2"));
    const auto port = static_cast<std::uint16_t>(a.num("--port", 9000));
    const auto each = a.num("--each", 3);
    const int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
    if (fd < 0)
        fail("socket(AF_PACKET): " + std::string(std::strerror(errno)));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_IP);
    sll.sll_ifindex = static_cast<int>(if_nametoindex(tun.c_str()));
    if (sll.sll_ifindex == 0)
        fail("no interface " + tun);

    // A well-formed SYN with options, and a data segment, to start from.
    auto build = [&](std::uint8_t flags, std::size_t payload) {
        Tins::TCP tcp(port, 40000);
        tcp.seq(1000);
        tcp.flags(static_cast<Tins::small_uint<12>>(flags));
        tcp.window(65535);
        tcp.mss(1460);
        Tins::IP ip(tins_ip(dst), tins_ip(src));
        ip.ttl(64);
        Bytes body(payload, 0x55);
        Tins::IP pkt =
            payload ? ip / tcp / Tins::RawPDU(body.data(), static_cast<std::uint32_t>(body.size()))
                    : ip / tcp;
        return pkt.serialize();
    };
    const Bytes syn = build(kSyn, 0);
    const Bytes data = build(kAck, 40);
    const std::size_t ihl = 20;
    std::vector<std::pair<std::string, Bytes>> cases;
    {  // fewer than 20 bytes
        cases.emplace_back("truncated_ip", Bytes(syn.begin(), syn.begin() + 12));
    }
    {
        Bytes b = syn;
        b[0] = static_cast<std::uint8_t>(0x60 | (b[0] & 0x0f));
        cases.emplace_back("bad_ip_version", b);
    }
    {
        Bytes b = syn;
        b[0] = 0x44;  // IHL 4
        fix_ip_csum(b);
        cases.emplace_back("bad_ihl", b);
    }
    {
        Bytes b = syn;
        b[10] ^= 0x5a;
        cases.emplace_back("bad_ip_checksum", b);
    }
    {
        Bytes b = syn;
        put16(b, 2, static_cast<std::uint16_t>(b.size() + 100));
        fix_ip_csum(b);
        cases.emplace_back("bad_total_length", b);
    }
    {
        Bytes b = syn;
        b[6] = 0x20;  // MF
        fix_ip_csum(b);
        cases.emplace_back("ip_fragment", b);
    }
    {
        Tins::IP ip(tins_ip(dst), tins_ip(src));
        Tins::IP pkt = ip / Tins::UDP(port, 40000) / Tins::RawPDU("hello");
        cases.emplace_back("not_tcp", pkt.serialize());
    }
    {
        Bytes b(syn.begin(), syn.begin() + static_cast<std::ptrdiff_t>(ihl + 10));
        put16(b, 2, static_cast<std::uint16_t>(b.size()));
        fix_ip_csum(b);
        cases.emplace_back("truncated_tcp", b);
    }
    {
        Bytes b = data;
        b[ihl + 12] = static_cast<std::uint8_t>((4U << 4) | (b[ihl + 12] & 0x0fU));  // offset 4
        fix_tcp_csum(b);
        cases.emplace_back("bad_data_offset", b);
    }
    {
        Bytes b = data;
        b[ihl + 16] ^= 0x33;
        cases.emplace_back("bad_tcp_checksum", b);
    }
    {
        Bytes b = syn;  // MSS option at ihl+20: kind 2, length 4 -> length 1
        if (b[ihl + 20] != 2)
            fail("unexpected option layout");
        b[ihl + 21] = 1;
        fix_tcp_csum(b);
        cases.emplace_back("bad_option_length", b);
    }
    for (const auto& [name, bytes] : cases) {
        std::uint64_t ok = 0;
        for (std::uint64_t i = 0; i < each; ++i) {
            const ssize_t n = sendto(fd, bytes.data(), bytes.size(), 0,
                                     reinterpret_cast<const sockaddr*>(&sll), sizeof sll);
            if (n == static_cast<ssize_t>(bytes.size()))
                ok++;
            else
                out("send_error_" + name, std::strerror(errno));
        }
        out("sent_" + name, ok);
    }
    out("not_sendable_library_error", "0 (libtins only sees packets the codec validated first)");
    close(fd);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr
            << "usage: ustack-crafter "
               "synflood|inject|ooo|ackunsent|zerowin|finhole|malformed|twrst [--key value ...]\n";
        return 2;
    }
    Args a;
    for (int i = 2; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--ack-fin") {
            a.flags.push_back(k);
        } else if (i + 1 < argc) {
            a.kv[k] = argv[++i];
        } else {
            std::cerr << "missing value for " << k << "\n";
            return 2;
        }
    }
    const std::string cmd = argv[1];
    int rc = 2;
    try {
        if (cmd == "synflood")
            rc = synflood(a);
        else if (cmd == "inject")
            rc = inject(a);
        else if (cmd == "ooo")
            rc = ooo(a);
        else if (cmd == "ackunsent")
            rc = ackunsent(a);
        else if (cmd == "zerowin")
            rc = zerowin(a);
        else if (cmd == "finhole")
            rc = finhole(a);
        else if (cmd == "malformed")
            rc = malformed(a);
        else if (cmd == "twrst")
            rc = twrst(a);
        else
            std::cerr << "unknown command " << cmd << "\n";
    } catch (const std::exception& e) {
        fail(std::string("exception: ") + e.what());
    }
    std::fflush(stdout);
    std::_Exit(rc);
}
