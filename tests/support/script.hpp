// Scripted single-connection tests: a Connection under a virtual clock, a segment builder, and
// send / expect / expect_nothing helpers (the smoltcp and gVisor packet-script style).
//
//   Script t;                               // an idle connection, local ISS 1000
//   t.establish_active();                   // SYN, SYN-ACK, ACK: ESTABLISHED; peer ISS 5000
//   t.send(t.peer().ack(1001).data("hi"));  // a peer segment arrives at t.now
//   auto s = t.expect_one();                // exactly one segment goes out
//   CHECK(s->ack == SeqNum(5003));
//   t.expect_nothing();
//
// Peer-side sequence numbers start at kPeerIss; ours at kIss (unless the Script is built with
// others). Time only moves when told to (advance, fire_next_timer). The to_*() helpers drive a
// fresh Script into a given state through the ordinary exchange, checking every step, so a test
// can start from there.
#pragma once

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ustack/connection.hpp"

namespace ustack::test {

inline constexpr Endpoint kLocal{ipv4(10, 0, 1, 2), 40000};
inline constexpr Endpoint kRemote{ipv4(10, 0, 2, 2), 7000};
inline constexpr std::uint32_t kIss = 1000;
inline constexpr std::uint32_t kPeerIss = 5000;

inline std::vector<std::byte> bytes_of(std::string_view s) {
    std::vector<std::byte> v(s.size());
    if (!s.empty())
        std::memcpy(v.data(), s.data(), s.size());
    return v;
}
inline std::string string_of(std::span<const std::byte> b) {
    std::string s(b.size(), '\0');
    if (!b.empty())
        std::memcpy(s.data(), b.data(), b.size());
    return s;
}
// n bytes of a recognisable pattern ('a'..'z' repeating, starting at `first`).
inline std::vector<std::byte> pattern_bytes(std::size_t n, char first = 'a') {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<std::byte>('a' + (static_cast<std::size_t>(first - 'a') + i) % 26);
    }
    return v;
}
inline DisconnectData disc_of(std::string_view s) {
    return DisconnectData::from(bytes_of(s));
}

// Builds a segment from the peer (kRemote -> kLocal) with designated-style chaining.
class SegBuilder {
public:
    SegBuilder() {
        s_.src_addr = kRemote.addr;
        s_.dst_addr = kLocal.addr;
        s_.src_port = kRemote.port;
        s_.dst_port = kLocal.port;
        s_.window = 65535;
    }
    SegBuilder& seq(std::uint32_t v) {
        s_.seq = SeqNum(v);
        return *this;
    }
    SegBuilder& ack(std::uint32_t v) {
        s_.ack = SeqNum(v);
        s_.flags |= tcp_flag::ack;
        return *this;
    }
    SegBuilder& no_ack() {
        s_.flags &= static_cast<std::uint8_t>(~tcp_flag::ack);
        return *this;
    }
    SegBuilder& flags(std::uint8_t f) {
        s_.flags = f;
        return *this;
    }
    SegBuilder& syn() {
        s_.flags |= tcp_flag::syn;
        return *this;
    }
    SegBuilder& fin() {
        s_.flags |= tcp_flag::fin;
        return *this;
    }
    SegBuilder& rst() {
        s_.flags |= tcp_flag::rst;
        return *this;
    }
    SegBuilder& psh() {
        s_.flags |= tcp_flag::psh;
        return *this;
    }
    SegBuilder& win(std::uint16_t w) {
        s_.window = w;
        return *this;
    }
    SegBuilder& mss(std::uint16_t m) {
        s_.options.mss = m;
        return *this;
    }
    SegBuilder& data(std::string_view d) {
        data_ = bytes_of(d);
        return *this;
    }
    SegBuilder& data(std::vector<std::byte> d) {
        data_ = std::move(d);
        return *this;
    }
    SegBuilder& disc(std::string_view d) {
        s_.options.disconnect = DisconnectData::from(bytes_of(d));
        return *this;
    }
    SegBuilder& disc_offer() {
        s_.options.disconnect = DisconnectData{};
        return *this;
    }
    // DESIGN.md §3b: the message-mode option (fd 04 d1 5d).
    SegBuilder& message() {
        s_.options.message_mode = true;
        return *this;
    }
    // RFC 7323 / RFC 2018 options.
    SegBuilder& wscale(std::uint8_t shift) {
        s_.options.window_scale = shift;
        return *this;
    }
    SegBuilder& ts(std::uint32_t val, std::uint32_t ecr = 0) {
        s_.options.timestamps = Timestamps{val, ecr};
        return *this;
    }
    SegBuilder& sack_perm() {
        s_.options.sack_permitted = true;
        return *this;
    }
    SegBuilder& sack(std::uint32_t left, std::uint32_t right) {
        s_.options.sack[s_.options.sack_count++] = SackBlock{SeqNum(left), SeqNum(right)};
        return *this;
    }
    // The segment, valid while this builder lives.
    Segment build() const {
        Segment out = s_;
        out.payload = data_;
        return out;
    }

private:
    friend class Script;
    Segment s_;
    std::vector<std::byte> data_;
};

class Script {
public:
    explicit Script(TcpConfig cfg = default_config()) : Script(cfg, kIss, kPeerIss) {}
    // Other initial sequence numbers (e.g. next to the 2^32 wrap); the helpers below use them.
    Script(TcpConfig cfg, std::uint32_t iss, std::uint32_t peer_iss)
        : cfg_(cfg),
          conn_(cfg, kLocal, kRemote, SeqNum(iss)),
          iss_(iss),
          peer_iss_(peer_iss),
          peer_nxt_(peer_iss) {}

    static TcpConfig default_config() {
        TcpConfig c;
        c.delayed_ack = false;  // scripts see every ACK unless a test turns this on
        c.nodelay = true;       // ... and every segment the windows allow (no Nagle hold-back)
        return c;
    }
    // The default config with the disconnect-data option enabled (DESIGN.md §3).
    static TcpConfig disc_config() {
        TcpConfig c = default_config();
        c.disconnect_data = true;
        return c;
    }
    // The default config of a message-mode connection (DESIGN.md §3b).
    static TcpConfig message_config() {
        TcpConfig c = default_config();
        c.message_mode = true;
        return c;
    }

    Connection& conn() { return conn_; }
    const TcpConfig& config() const { return cfg_; }
    Instant now() const { return now_; }
    std::uint32_t iss() const { return iss_; }
    std::uint32_t peer_iss() const { return peer_iss_; }

    // A peer segment template with seq = the peer's next sequence number and ack = ours.
    SegBuilder peer() const {
        SegBuilder b;
        b.seq(peer_nxt_);
        return b;
    }
    // A peer ACK of everything we have sent (SND.NXT before any pull-back).
    SegBuilder peer_ack() const {
        SegBuilder b = peer();
        b.ack(conn_.snd_max().raw());
        return b;
    }
    std::uint32_t peer_nxt() const { return peer_nxt_; }
    void set_peer_nxt(std::uint32_t v) { peer_nxt_ = v; }

    void send(const SegBuilder& b) {
        const Segment s = b.build();
        conn_.on_segment(s, now_);
        // Keep the peer's running sequence number for in-order scripts.
        const SeqNum end = s.seq + s.seg_len();
        if (end > SeqNum(peer_nxt_))
            peer_nxt_ = end.raw();
    }

    std::vector<OwnedSegment> transmit() {
        VectorSink sink;
        conn_.poll_transmit(now_, sink);
        return std::move(sink.out);
    }
    OwnedSegment expect_one() {
        auto v = transmit();
        REQUIRE_MESSAGE(v.size() == 1,
                        "expected exactly one segment, got " << v.size() << describe(v));
        return v.front();
    }
    std::vector<OwnedSegment> expect_n(std::size_t n) {
        auto v = transmit();
        REQUIRE_MESSAGE(v.size() == n,
                        "expected " << n << " segments, got " << v.size() << describe(v));
        return v;
    }
    void expect_nothing() {
        auto v = transmit();
        CHECK_MESSAGE(v.empty(), "expected no segment, got" << describe(v));
    }
    static std::string describe(const std::vector<OwnedSegment>& v) {
        std::string r;
        for (const auto& s : v) r += "\n  " + to_string(s.get());
        return r;
    }

    void advance(Duration d) {
        now_ += d;
        if (auto t = conn_.poll_timeout(); t && *t <= now_)
            conn_.on_timeout(now_);
    }
    // Jump to the next deadline and run it. Returns false if there is none.
    bool fire_next_timer() {
        auto t = conn_.poll_timeout();
        if (!t)
            return false;
        if (*t > now_)
            now_ = *t;
        conn_.on_timeout(now_);
        return true;
    }
    // How far away the next deadline is (REQUIREs one).
    Duration next_timer_in() const {
        auto t = conn_.poll_timeout();
        REQUIRE(t.has_value());
        return *t - now_;
    }

    std::vector<Event> events() {
        std::vector<Event> v;
        while (auto e = conn_.poll_event()) v.push_back(*e);
        return v;
    }
    bool saw_event(EventKind k) {
        for (const auto& e : events())
            if (e.kind == k)
                return true;
        return false;
    }
    // Drains the events; the reason of the `closed` event among them (none if there was none).
    // REQUIREs that at most one `closed` event was queued.
    CloseReason closed_event() {
        CloseReason r = CloseReason::none;
        int n = 0;
        for (const auto& e : events()) {
            if (e.kind == EventKind::closed) {
                r = e.reason;
                ++n;
            }
        }
        REQUIRE(n <= 1);
        return r;
    }
    // Reads everything readable now.
    std::string read_all() {
        std::string out;
        std::vector<std::byte> buf(4096);
        for (;;) {
            auto r = conn_.recv(buf);
            if (!r.ok() || r.value == 0)
                break;
            out += string_of(std::span(buf).first(r.value));
        }
        return out;
    }

    // --- reaching states ---------------------------------------------------------------------
    // Active open: SYN out, `rtt` passes, SYN-ACK in (peer ISS peer_iss(), MSS 1460), ACK out.
    void establish_active(std::uint16_t peer_window = 65535, Duration rtt = Duration{0}) {
        conn_.open_active(now_);
        auto syn = expect_one();
        REQUIRE(syn->flags == tcp_flag::syn);
        advance(rtt);
        peer_nxt_ = peer_iss_;
        SegBuilder sa = peer();
        sa.syn().ack(iss_ + 1).mss(1460).win(peer_window);
        if (cfg_.disconnect_data)
            sa.disc_offer();
        if (cfg_.message_mode)
            sa.message();
        send(sa);
        auto ack = expect_one();
        REQUIRE(ack->flags == tcp_flag::ack);
        REQUIRE(conn_.state() == TcpState::established);
        (void)events();
    }
    // Passive open: SYN in, SYN-ACK out, `rtt` passes, ACK in.
    void establish_passive(std::uint16_t peer_window = 65535, Duration rtt = Duration{0}) {
        peer_nxt_ = peer_iss_;
        SegBuilder s = peer();
        s.syn().no_ack().mss(1460).win(peer_window);
        if (cfg_.disconnect_data)
            s.disc_offer();
        if (cfg_.message_mode)
            s.message();
        const Segment syn = s.build();
        conn_.open_passive(syn, now_);
        peer_nxt_ = peer_iss_ + 1;
        auto sa = expect_one();
        REQUIRE(sa->flags == (tcp_flag::syn | tcp_flag::ack));
        advance(rtt);
        send(peer().ack(iss_ + 1).win(peer_window));
        REQUIRE(conn_.state() == TcpState::established);
        expect_nothing();
        (void)events();
    }
    // ESTABLISHED, then our FIN (with `disc` if given) is sent: FIN-WAIT-1. Returns the FIN.
    OwnedSegment to_fin_wait_1(const DisconnectData* disc = nullptr) {
        establish_active();
        REQUIRE(conn_.shutdown_send(disc) == Errc::ok);
        REQUIRE(conn_.state() == TcpState::fin_wait_1);
        auto fin = expect_one();
        REQUIRE(fin->has(tcp_flag::fin));
        return fin;
    }
    // FIN-WAIT-1, then the peer ACKs our FIN: FIN-WAIT-2.
    void to_fin_wait_2() {
        (void)to_fin_wait_1();
        send(peer_ack());
        REQUIRE(conn_.state() == TcpState::fin_wait_2);
        expect_nothing();
    }
    // FIN-WAIT-2, then the peer's FIN: TIME-WAIT (our ACK of it is consumed).
    void to_time_wait() {
        to_fin_wait_2();
        send(peer_ack().fin());
        REQUIRE(conn_.state() == TcpState::time_wait);
        auto a = expect_one();
        REQUIRE(a->ack == SeqNum(peer_nxt_));
        (void)events();
    }
    // FIN-WAIT-1, then the peer's FIN crosses ours (it has not seen our FIN): CLOSING.
    void to_closing() {
        auto fin = to_fin_wait_1();
        send(peer().ack(fin->seq.raw()).fin());
        REQUIRE(conn_.state() == TcpState::closing);
        auto a = expect_one();
        REQUIRE(a->ack == SeqNum(peer_nxt_));
        (void)events();
    }
    // ESTABLISHED, then the peer's FIN: CLOSE-WAIT (our ACK of it is consumed).
    void to_close_wait() {
        establish_active();
        send(peer_ack().fin());
        REQUIRE(conn_.state() == TcpState::close_wait);
        auto a = expect_one();
        REQUIRE(a->ack == SeqNum(peer_nxt_));
        (void)events();
    }
    // CLOSE-WAIT, then our FIN: LAST-ACK. Returns the FIN.
    OwnedSegment to_last_ack(const DisconnectData* disc = nullptr) {
        to_close_wait();
        REQUIRE(conn_.shutdown_send(disc) == Errc::ok);
        REQUIRE(conn_.state() == TcpState::last_ack);
        auto fin = expect_one();
        REQUIRE(fin->has(tcp_flag::fin));
        return fin;
    }

private:
    TcpConfig cfg_;
    Connection conn_;
    Instant now_{};
    std::uint32_t iss_;       // our ISS
    std::uint32_t peer_iss_;  // the peer's ISS
    std::uint32_t peer_nxt_;  // the peer's next sequence number (advanced by send())
};

}  // namespace ustack::test
