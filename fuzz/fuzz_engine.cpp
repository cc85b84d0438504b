// fuzz_engine: structure-aware fuzzing of one Stack + Connection under a virtual clock.
//
// The fuzzer plays the peer and the application. The input is a small program:
//
//   header   config byte A (options offered, delayed ACK, Nagle, congestion control, keep-alive,
//            disconnect data), config byte B (buffer sizes, MSS -- slot 3 also selects BBR --,
//            reassembly/scoreboard bounds),
//            start mode (0: established actively, 1: established passively, 2: SYN-SENT,
//            3: LISTEN), the peer's ISS (32 bits), the peer's SYN options byte, its MSS.
//   ops      one byte each (op % kOps) plus its operands: a peer segment, a timer advance, or an
//            application call (send, recv, shutdown_send with or without disconnect data,
//            shutdown_receive, close, abort, release, accept, nodelay, close_listener).
//
// Peer segments are crafted near the connection's windows: seq is RCV.NXT (or the peer's
// ISS+1 before synchronization) plus a small signed offset (sometimes scaled, sometimes the
// window edge, rarely arbitrary), ack is SND.UNA / SND.NXT / SND.MAX / ISS plus a small signed
// offset; flags, window, payload length and options (timestamps around the peer's clock, SACK
// blocks around SND.UNA, disconnect data, MSS / window scale / SACK-permitted) come from the
// input. Payload bytes are a deterministic function of their offset in the peer's stream
// (peer_byte), and the application's bytes a different one (our_byte), so any misplaced, lost
// or duplicated byte is detected. The peer's FIN is kept consistent (one position, no data
// beyond it) so "end of stream" can be checked too.
//
// Invariants after every step (FUZZ_CHECK aborts with a message):
//   - SND.UNA <= SND.NXT <= SND.MAX; in flight <= send buffer + SYN + FIN;
//   - recv buffer <= recv_buffer; send queue <= send_buffer; scoreboard <= max_sack_ranges,
//     sorted, disjoint, inside [SND.UNA, SND.MAX]; window + unread <= recv_buffer (+ rounding);
//   - bytes accepted in order (RCV.NXT - IRS - 1 - FIN) == bytes read + bytes unread, never more
//     than the peer sent; a received FIN sits where the peer put it;
//   - bytes read by the application are exactly the peer's stream, in order;
//   - send queue == bytes the app queued - bytes acknowledged;
//   - every emitted segment: from our address to the peer; SYN at ISS; data at its place in
//     our stream with our bytes; FIN right after all queued data; ACK == RCV.NXT; payload
//     <= MSS; window <= buffer (+ scale rounding) and its right edge never moves left; SACK
//     blocks above RCV.NXT and inside the buffer; timestamps on every non-RST segment iff
//     negotiated; disconnect data only on a FIN (or the offer on a SYN) and it is the app's;
//     the peer's connect data (DESIGN.md §3c) only when the option was negotiated;
//   - timers: after on_timeout(now), the next deadline is in the future (no spinning host);
//     poll_transmit falls quiet; at most one `closed` event per connection.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "block_cache.hpp"
#include "fuzz_common.hpp"
#include "ustack/stack.hpp"

using namespace ustack;
using namespace ustack::fuzz;

namespace {

constexpr Ipv4Addr kLocalAddr = ipv4(10, 0, 1, 2);
constexpr Ipv4Addr kPeerAddr = ipv4(10, 0, 2, 2);
constexpr std::uint16_t kLocalPort = 40000;
constexpr std::uint16_t kListenPort = 80;
constexpr std::uint16_t kPeerPort = 7000;
constexpr std::size_t kMaxOps = 400;
constexpr std::size_t kMaxPayload = 4096;

std::uint8_t peer_byte(std::uint32_t off) {
    return static_cast<std::uint8_t>(((off * 0x9E3779B1u) >> 24) ^ (off >> 8));
}
std::uint8_t our_byte(std::uint32_t off) {
    return static_cast<std::uint8_t>(((off * 0x85EBCA6Bu + 0x27d4eb2fu) >> 24) ^ off);
}

const char* state_name(TcpState s) {
    return to_string(s).data();
}

// USTACK_FUZZ_TRACE=1 ./fuzz_engine crash-file: print what the harness does (triage).
const bool kTrace = std::getenv("USTACK_FUZZ_TRACE") != nullptr;
#define TRACE(...)                             \
    do {                                       \
        if (kTrace)                            \
            std::fprintf(stderr, __VA_ARGS__); \
    } while (0)

class CollectSink final : public SegmentSink {
public:
    void emit(const Segment& seg) override { out.emplace_back(seg); }
    std::vector<OwnedSegment> out;
};

class Harness {
public:
    Harness(Reader& in) : in_(in), stack_(make_config(in), SipKey{1, 2, 3, 4}) {
        cfg_ = stack_.config();
        mode_ = in_.u8() % 4;
        peer_iss_ = SeqNum(in_.u32());
        peer_syn_opts_ = in_.u8();
        peer_mss_ = static_cast<std::uint16_t>(in_.u16() % 2000);
        peer_ts_ = in_.u32();
        passive_ = mode_ == 1 || mode_ == 3;
        local_ = Endpoint{kLocalAddr, passive_ ? kListenPort : kLocalPort};
        remote_ = Endpoint{kPeerAddr, kPeerPort};
    }

    void run() {
        setup();
        for (std::size_t n = 0; n < kMaxOps && !in_.empty(); ++n) {
            step();
            flush();
            check_state();
        }
    }

private:
    static StackConfig make_config(Reader& in) {
        StackConfig c;
        c.addr = kLocalAddr;
        const std::uint8_t a = in.u8();
        const std::uint8_t b = in.u8();
        TcpConfig& t = c.tcp;
        t.timestamps = (a & 0x01) != 0;
        t.sack = (a & 0x02) != 0;
        t.window_scaling = (a & 0x04) != 0;
        t.disconnect_data = (a & 0x08) != 0;
        t.delayed_ack = (a & 0x10) != 0;
        t.nodelay = (a & 0x20) != 0;
        // Congestion control: bit 6 NewReno; else MSS slot 3 of byte B (1460, as slot 0) BBR.
        t.congestion = (a & 0x40) != 0       ? CongestionAlgorithm::newreno
                       : ((b >> 4) & 3) == 3 ? CongestionAlgorithm::bbr
                                             : CongestionAlgorithm::cubic;
        if ((a & 0x80) != 0) {
            t.keepalive = true;
            t.keepalive_idle = Duration(10'000'000);
            t.keepalive_interval = Duration(1'000'000);
            t.keepalive_count = 3;
            t.user_timeout = Duration(30'000'000);
        }
        static constexpr std::size_t kRecv[] = {1024, 4096, 65535, 300'000};
        static constexpr std::size_t kSend[] = {1000, 8192, 65536, 256 * 1024};
        static constexpr std::uint16_t kMss[] = {1460, 536, 100, 1460};
        t.recv_buffer = kRecv[b & 3];
        t.send_buffer = kSend[(b >> 2) & 3];
        t.mss = kMss[(b >> 4) & 3];
        t.max_ooo_ranges = (b & 0x40) != 0 ? 2 : 32;
        t.max_sack_ranges = (b & 0x80) != 0 ? 2 : 32;
        t.msl = Duration(2'000'000);
        t.max_retransmits = 5;
        t.max_syn_retransmits = 3;
        t.max_synack_retransmits = 3;
        c.orphan_fin_wait_2_timeout = Duration(5'000'000);
        return c;
    }

    // ---- the connection under test ----------------------------------------------------------

    // The live connection on the 4-tuple (any owner), else the app's CLOSED one.
    const Connection* conn() const {
        if (const Connection* c = stack_.lookup(local_.port, remote_))
            return c;
        return id_ && !released_ && !app_model_lost_ ? stack_.find(*id_) : nullptr;
    }
    // The app's connection, if it is the one under test (not an old incarnation the app still
    // holds while a new one lives on the same 4-tuple).
    Connection* app_conn() {
        if (!id_ || released_ || app_model_lost_)
            return nullptr;
        const Connection* live = conn();
        if (live == nullptr || live != stack_.find(*id_))
            return nullptr;
        return stack_.connection(*id_);
    }

    // A new incarnation on the 4-tuple (or none): start the per-connection model afresh.
    void sync_model() {
        const Connection* c = conn();
        if (c == nullptr) {
            if (tracked_)
                reset_model();
            return;
        }
        if (!tracked_ || c->iss() != our_iss_ || c != tracked_conn_) {
            // Leaving the app's (CLOSED) connection for a new incarnation on the 4-tuple drops
            // its stream model: the app's connection is not operated on, or checked, again
            // (its unread bytes are at offsets the fresh model no longer knows).
            if (tracked_ && id_ && !released_ && tracked_conn_ == stack_.find(*id_))
                app_model_lost_ = true;
            if (tracked_)
                reset_model();
            tracked_ = true;
            tracked_conn_ = c;
            our_iss_ = c->iss();
        }
    }
    void reset_model() {
        tracked_ = false;
        tracked_conn_ = nullptr;
        app_sent_ = 0;
        app_read_ = 0;
        discarded_unread_ = false;
        peer_fin_off_.reset();
        peer_max_end_ = 0;
        our_disc_.reset();
        have_edge_ = false;
        closed_events_ = 0;
    }

    // ---- setup ----------------------------------------------------------------------------

    void setup() {
        if (passive_) {
            auto l = stack_.listen(kListenPort, 4);
            FUZZ_CHECK(l.ok(), "listen failed");
            listener_ = l.value;
            if (mode_ == 1) {
                peer_segment(tcp_flag::syn, peer_iss_, SeqNum(0), 65535, 0, syn_options());
                flush();
                peer_segment(tcp_flag::ack, peer_iss_ + 1, conn() ? conn()->iss() + 1 : SeqNum(0),
                             65535, 0, data_options());
                flush();
                accept();
            }
        } else {
            auto r = stack_.connect(remote_, now_, kLocalPort);
            FUZZ_CHECK(r.ok(), "connect failed");
            id_ = r.value;
            flush();
            if (mode_ == 0 && conn() != nullptr) {
                peer_segment(tcp_flag::syn | tcp_flag::ack, peer_iss_, conn()->iss() + 1, 65535, 0,
                             syn_options());
                flush();
            }
        }
        check_state();
    }

    TcpOptions syn_options() {
        TcpOptions o;
        const std::uint8_t f = peer_syn_opts_;
        if ((f & 0x01) != 0)
            o.mss = peer_mss_;
        if ((f & 0x02) != 0)
            o.window_scale = static_cast<std::uint8_t>((f >> 5) * 2 + 1);
        o.sack_permitted = (f & 0x04) != 0;
        if ((f & 0x08) != 0)
            o.timestamps = Timestamps{peer_ts_, 0};
        if ((f & 0x10) != 0)
            o.disconnect = DisconnectData{};
        return o;
    }
    // What a well-behaved peer puts on a non-SYN segment.
    TcpOptions data_options() {
        TcpOptions o;
        if (const Connection* c = conn(); c != nullptr && c->timestamps_enabled())
            o.timestamps = Timestamps{peer_ts_, last_tsval_};
        else if ((peer_syn_opts_ & 0x08) != 0)
            o.timestamps = Timestamps{peer_ts_, last_tsval_};
        return o;
    }

    // ---- one step -------------------------------------------------------------------------

    void step() {
        const std::uint8_t op = in_.u8();
        if (kTrace) {
            const Connection* c = conn();
            TRACE("-- op %u, state %s, SND.UNA %u NXT %u MAX %u RCV.NXT %u, sent %llu read %llu\n",
                  op % 20, c != nullptr ? state_name(c->state()) : "none",
                  c != nullptr ? c->snd_una().raw() : 0U, c != nullptr ? c->snd_nxt().raw() : 0U,
                  c != nullptr ? c->snd_max().raw() : 0U, c != nullptr ? c->rcv_nxt().raw() : 0U,
                  static_cast<unsigned long long>(app_sent_),
                  static_cast<unsigned long long>(app_read_));
        }
        switch (op % 20) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4:
            case 5:
            case 6:
            case 7: fuzz_segment(); break;
            case 8:
            case 9: advance(); break;
            case 10:
            case 11: app_send(); break;
            case 12:
            case 13: app_recv(); break;
            case 14: app_shutdown_send(); break;
            case 15: {
                if (Connection* c = app_conn()) {
                    // Unread data is discarded (with a RST where a peer can still hear it).
                    const std::size_t unread = c->recv_available();
                    if (c->shutdown_receive() == Errc::ok)
                        app_read_ += unread;
                }
                break;
            }
            case 16: {
                const std::uint8_t k = in_.u8() % 4;
                TRACE("   app: %s\n", k == 0   ? "close"
                                      : k == 1 ? "abort"
                                      : k == 2 ? "release"
                                               : "nodelay");
                // close / abort / release discard unread data (RST where a peer can still hear
                // it). recv() must then never report end of stream (fuzz/regressions/fuzz_engine/
                // README.md, abort-after-graceful-close-reports-eof).
                if (Connection* c = app_conn(); c != nullptr && k != 3) {
                    if (c->recv_available() > 0 && k != 2)
                        discarded_unread_ = true;
                    app_read_ += c->recv_available();
                }
                if (k == 0) {
                    if (Connection* c = app_conn())
                        c->close();
                } else if (k == 1) {
                    if (Connection* c = app_conn())
                        c->abort();
                } else if (k == 2) {
                    if (id_ && !released_) {
                        (void)stack_.release(*id_);
                        released_ = true;
                    }
                } else if (Connection* c = app_conn()) {
                    c->set_nodelay(!c->nodelay());
                }
                break;
            }
            case 17: {
                if (listener_ && (!id_ || released_)) {
                    accept();
                } else if (listener_ && in_.u8() % 8 == 0) {
                    (void)stack_.close_listener(*listener_);
                    listener_.reset();
                }
                break;
            }
            case 18: stray_segment(); break;
            default: well_behaved_ack(); break;
        }
    }

    // Take a connection from the listener; one for another 4-tuple (a stray SYN) is released.
    void accept() {
        auto a = stack_.accept(*listener_);
        if (!a.ok())
            return;
        const Connection* c = stack_.find(a.value);
        FUZZ_CHECK(c != nullptr, "accept returned a stale handle");
        if (c->remote() != remote_) {
            (void)stack_.release(a.value);
            return;
        }
        id_ = a.value;
        released_ = false;
        app_model_lost_ = false;
    }

    void advance() {
        static constexpr std::int64_t kSteps[] = {0,          1'000,      10'000,      40'000,
                                                  200'000,    1'000'000,  3'000'000,   10'000'000,
                                                  30'000'000, 61'000'000, 130'000'000, -1};
        const std::uint8_t k = in_.u8();
        std::int64_t d = kSteps[k % std::size(kSteps)];
        if (d < 0) {
            // Jump to the next deadline.
            if (auto t = stack_.poll_timeout(); t && *t > now_)
                d = to_us(*t) - to_us(now_);
            else
                d = 0;
        }
        now_ += Duration(d);
        peer_ts_ += static_cast<std::uint32_t>(d / 1000);
        for (int i = 0; i < 64; ++i) {
            auto t = stack_.poll_timeout();
            if (!t || *t > now_)
                return;
            stack_.on_timeout(now_);
            flush();
        }
        const auto t = stack_.poll_timeout();
        FUZZ_CHECK(!t || *t > now_,
                   "a deadline stays at or before now after 64 on_timeout calls "
                   "(the host would spin)");
    }

    // ---- application ------------------------------------------------------------------------

    void app_send() {
        Connection* c = app_conn();
        const std::size_t n = static_cast<std::size_t>(in_.u8()) * 37 + in_.u8() % 37;
        if (c == nullptr)
            return;
        std::vector<std::byte> buf(n);
        for (std::size_t i = 0; i < n; ++i)
            buf[i] = std::byte{our_byte(static_cast<std::uint32_t>(app_sent_ + i))};
        const std::size_t space = c->send_space();
        auto r = c->send(buf);
        if (r.ok()) {
            FUZZ_CHECK(r.value <= n && r.value <= space, "send took %zu of %zu (space %zu)",
                       r.value, n, space);
            app_sent_ += r.value;
        }
    }

    void app_recv() {
        Connection* c = app_conn();
        const std::size_t n = static_cast<std::size_t>(in_.u8()) * 16 + 1;
        if (c == nullptr)
            return;
        std::vector<std::byte> buf(n);
        const std::size_t avail = c->recv_available();
        auto r = c->recv(buf);
        if (!r.ok())
            return;
        FUZZ_CHECK(r.value <= n && r.value <= avail, "recv returned %zu (asked %zu, had %zu)",
                   r.value, n, avail);
        for (std::size_t i = 0; i < r.value; ++i) {
            const auto off = static_cast<std::uint32_t>(app_read_ + i);
            FUZZ_CHECK(std::to_integer<std::uint8_t>(buf[i]) == peer_byte(off),
                       "byte %u of the peer's stream delivered as %02x, sent as %02x", off,
                       std::to_integer<unsigned>(buf[i]), peer_byte(off));
        }
        app_read_ += r.value;
        if (r.value == 0) {
            FUZZ_CHECK(!discarded_unread_,
                       "recv returned end of stream after unread data was "
                       "discarded (close / abort)");
            // The engine's own record: the FIN is in and every byte before it was read (each
            // read byte was checked against the peer's stream above). The model's FIN offset is
            // not used here: raw fuzzed segments (fuzz_segment) can carry a FIN, and data before
            // it, that the model did not place.
            FUZZ_CHECK(c->peer_fin_received() && c->recv_available() == 0,
                       "recv returned end of stream at %llu without the peer's FIN there "
                       "(FIN received: %d, unread %zu, the peer's FIN at %lld)",
                       static_cast<unsigned long long>(app_read_), c->peer_fin_received() ? 1 : 0,
                       c->recv_available(),
                       peer_fin_off_ ? static_cast<long long>(*peer_fin_off_) : -1LL);
        }
    }

    void app_shutdown_send() {
        Connection* c = app_conn();
        const std::uint8_t k = in_.u8();
        std::optional<DisconnectData> d;
        if ((k & 1) != 0) {
            const auto bytes = in_.bytes(k % (kMaxDisconnectData + 1));
            d = DisconnectData::from(std::as_bytes(bytes));
        }
        if (c == nullptr)
            return;
        const bool already = c->send_shut();
        const Errc e = c->shutdown_send(d ? &*d : nullptr);
        if (e == Errc::ok && d && !already && !our_disc_)
            our_disc_ = d;
        if (d && e == Errc::ok && !already) {
            FUZZ_CHECK(c->disconnect_negotiated() && d->len <= c->disconnect_data_limit(),
                       "disconnect data of %u bytes accepted (negotiated %d, limit %zu)", d->len,
                       c->disconnect_negotiated(), c->disconnect_data_limit());
        }
    }

    // ---- the peer -------------------------------------------------------------------------

    // Send a peer segment whose payload is the peer's stream at `seq`'s offset; the FIN is kept
    // consistent with any FIN sent before.
    void peer_segment(std::uint8_t flags, SeqNum seq, SeqNum ack, std::uint16_t window,
                      std::size_t len, TcpOptions opts) {
        const bool syn = (flags & tcp_flag::syn) != 0;
        if (syn)
            seq = peer_iss_;
        // Offset of the first payload byte in the peer's stream (byte 0 follows the SYN).
        const std::int64_t start =
            static_cast<std::int32_t>((seq + (syn ? 1U : 0U)) - (peer_iss_ + 1));
        std::int64_t end = start + static_cast<std::int64_t>(len);
        if (peer_fin_off_) {
            const auto fin = static_cast<std::int64_t>(*peer_fin_off_);
            if ((flags & tcp_flag::fin) != 0) {
                if (start <= fin && fin - start <= static_cast<std::int64_t>(kMaxPayload))
                    end = fin;
                else
                    flags &= static_cast<std::uint8_t>(~tcp_flag::fin);
            }
            if ((flags & tcp_flag::fin) == 0 && end > fin)
                end = std::max(start, fin);
        } else if ((flags & tcp_flag::fin) != 0) {
            const std::int64_t fin =
                std::max<std::int64_t>(end, static_cast<std::int64_t>(peer_max_end_));
            if (start >= 0 && fin - start <= static_cast<std::int64_t>(kMaxPayload)) {
                end = fin;
                peer_fin_off_ = static_cast<std::uint64_t>(fin);
            } else {
                flags &= static_cast<std::uint8_t>(~tcp_flag::fin);
            }
        }
        len = static_cast<std::size_t>(std::max<std::int64_t>(0, end - start));
        std::vector<std::byte> payload(len);
        for (std::size_t i = 0; i < len; ++i)
            payload[i] = std::byte{
                peer_byte(static_cast<std::uint32_t>(start + static_cast<std::int64_t>(i)))};
        if (end > 0 && static_cast<std::uint64_t>(end) > peer_max_end_ &&
            start >= -static_cast<std::int64_t>(kMaxPayload))
            peer_max_end_ = static_cast<std::uint64_t>(end);
        if ((flags & tcp_flag::fin) == 0 && (flags & tcp_flag::syn) == 0)
            opts.disconnect.reset();

        Segment s;
        s.src_addr = remote_.addr;
        s.src_port = remote_.port;
        s.dst_addr = local_.addr;
        s.dst_port = local_.port;
        s.seq = seq;
        s.ack = ack;
        s.flags = flags;
        s.window = window;
        s.options = opts;
        s.payload = payload;
        TRACE("t=%lld peer: %s\n", static_cast<long long>(to_us(now_)), to_string(s).c_str());
        stack_.on_segment(s, now_);
    }

    void fuzz_segment() {
        static constexpr std::uint8_t kFlags[] = {
            tcp_flag::ack,
            tcp_flag::ack | tcp_flag::psh,
            tcp_flag::ack,
            tcp_flag::ack | tcp_flag::fin,
            tcp_flag::ack | tcp_flag::fin | tcp_flag::psh,
            tcp_flag::rst,
            tcp_flag::rst | tcp_flag::ack,
            tcp_flag::syn,
            tcp_flag::syn | tcp_flag::ack,
            tcp_flag::fin,
            0,
            tcp_flag::ack | tcp_flag::urg,
            tcp_flag::ack | tcp_flag::ece | tcp_flag::cwr,
            tcp_flag::ack | tcp_flag::psh,
        };
        const std::uint8_t fsel = in_.u8();
        const std::uint8_t flags = fsel % 16 < std::size(kFlags) ? kFlags[fsel % 16] : in_.u8();
        const Connection* c = conn();
        const bool have_rcv =
            c != nullptr && c->state() != TcpState::syn_sent && c->state() != TcpState::closed;

        // seq: near RCV.NXT.
        const std::uint8_t sm = in_.u8();
        SeqNum seq = have_rcv ? c->rcv_nxt() : peer_iss_ + 1;
        switch (sm % 8) {
            case 0:
            case 1:
            case 2: break;
            case 3:
            case 4:
                seq = seq + static_cast<std::uint32_t>(static_cast<std::int32_t>(in_.s8()));
                break;
            case 5:
                seq = seq + static_cast<std::uint32_t>(static_cast<std::int32_t>(in_.s8()) * 97);
                break;
            case 6:
                seq = seq + (have_rcv ? c->rcv_wnd() : 0U) +
                      static_cast<std::uint32_t>(static_cast<std::int32_t>(in_.s8()));
                break;
            default:
                seq = (sm & 0x80) != 0
                          ? SeqNum(in_.u32())
                          : seq + static_cast<std::uint32_t>(static_cast<std::int16_t>(in_.u16()));
                break;
        }
        // ack: near SND.UNA / SND.NXT / SND.MAX / ISS.
        const std::uint8_t am = in_.u8();
        SeqNum ack = SeqNum(0);
        if (c != nullptr) {
            static_assert(sizeof(SeqNum) == 4);
            const SeqNum bases[] = {c->snd_max(), c->snd_una(), c->snd_nxt(), c->iss()};
            ack = bases[am & 3];
            if ((am & 0x04) != 0)
                ack = ack + static_cast<std::uint32_t>(static_cast<std::int32_t>(in_.s8()) *
                                                       ((am & 0x08) != 0 ? 257 : 1));
        }
        // window
        const std::uint8_t wm = in_.u8();
        static constexpr std::uint16_t kWin[] = {65535, 0, 1, 512, 4096, 65535, 100, 65535};
        std::uint16_t window = kWin[wm & 7];
        if ((wm & 0x08) != 0)
            window = in_.u16();
        // payload length
        const std::uint8_t lm = in_.u8();
        std::size_t len = 0;
        switch (lm % 8) {
            case 0:
            case 1: break;
            case 2:
            case 3: len = in_.u8(); break;
            case 4: len = static_cast<std::size_t>(in_.u8()) * 8; break;
            case 5: len = c != nullptr ? c->snd_mss() : 536; break;
            case 6: len = 1 + (lm >> 3); break;
            default: len = static_cast<std::size_t>(in_.u16()) % (kMaxPayload + 1); break;
        }
        // options
        const std::uint8_t om = in_.u8();
        TcpOptions opts;
        if ((om & 0x01) != 0) {
            std::uint32_t val = peer_ts_;
            if ((om & 0x40) != 0)
                val += static_cast<std::uint32_t>(static_cast<std::int32_t>(in_.s8()) * 1000);
            opts.timestamps = Timestamps{val, (om & 0x80) != 0 ? in_.u32() : last_tsval_};
        }
        if ((om & 0x02) != 0 && c != nullptr) {
            const std::uint8_t n = static_cast<std::uint8_t>(1 + in_.u8() % 4);
            opts.sack_count = n;
            for (std::uint8_t i = 0; i < n; ++i) {
                const SeqNum left = c->snd_una() + static_cast<std::uint32_t>(
                                                       static_cast<std::int32_t>(in_.s8()) * 64);
                const SeqNum right = left + static_cast<std::uint32_t>(in_.u8()) * 32;
                opts.sack[i] = SackBlock{left, right};
            }
        }
        if ((om & 0x04) != 0) {
            const auto d = in_.bytes(in_.u8() % (kMaxDisconnectData + 1));
            opts.disconnect = DisconnectData::from(std::as_bytes(d));
        }
        if ((om & 0x08) != 0)
            opts.mss = peer_mss_;
        if ((om & 0x10) != 0)
            opts.window_scale = static_cast<std::uint8_t>(in_.u8() % 16);
        if ((om & 0x20) != 0)
            opts.sack_permitted = true;
        peer_segment(flags, seq, ack, window, len, opts);
    }

    // The peer acknowledges everything and offers a big window (moves connections along).
    void well_behaved_ack() {
        const Connection* c = conn();
        if (c == nullptr)
            return;
        const std::uint8_t k = in_.u8();
        const bool with_data = (k & 1) != 0;
        const bool with_fin = (k & 2) != 0;
        const SeqNum seq = c->state() == TcpState::syn_sent ? peer_iss_ + 1 : c->rcv_nxt();
        peer_segment(static_cast<std::uint8_t>(tcp_flag::ack | (with_fin ? tcp_flag::fin : 0)), seq,
                     c->snd_max(), 65535, with_data ? (k >> 2) * 16U : 0, data_options());
    }

    // A segment for another 4-tuple (RSTs from the Stack, listener paths).
    void stray_segment() {
        Segment s;
        s.src_addr = (in_.u8() & 1) != 0 ? kPeerAddr : in_.u32();
        s.src_port = in_.u16();
        s.dst_addr = (in_.u8() & 7) != 0 ? kLocalAddr : in_.u32();
        s.dst_port = (in_.u8() & 1) != 0 ? local_.port : in_.u16();
        if (s.src_addr == remote_.addr && s.src_port == remote_.port)
            s.src_port ^= 0x8000;
        s.seq = SeqNum(in_.u32());
        s.ack = SeqNum(in_.u32());
        s.flags = in_.u8();
        s.window = in_.u16();
        stack_.on_segment(s, now_);
    }

    // ---- output and checks ------------------------------------------------------------------

    void flush() {
        std::size_t rounds = 0;
        for (;;) {
            CollectSink sink;
            stack_.poll_transmit(now_, sink);
            sync_model();
            for (const auto& s : sink.out) check_emitted(s.get());
            if (sink.out.empty())
                break;
            FUZZ_CHECK(++rounds < 8, "poll_transmit keeps emitting (%zu segments in round %zu)",
                       sink.out.size(), rounds);
        }
        while (auto ev = stack_.poll_event()) {
            if (ev->kind == StackEventKind::connection && id_ && ev->conn == *id_ &&
                ev->event.kind == EventKind::closed) {
                ++closed_events_;
                FUZZ_CHECK(closed_events_ <= 1, "two `closed` events for one connection");
            }
        }
    }

    void check_emitted(const Segment& s) {
        TRACE("t=%lld  out: %s\n", static_cast<long long>(to_us(now_)), to_string(s).c_str());
        FUZZ_CHECK(s.src_addr == kLocalAddr, "segment from %s", ipv4_to_string(s.src_addr).c_str());
        if (s.dst() != remote_ || s.src_port != local_.port)
            return;  // answers to stray segments
        const Connection* c = conn();
        if (s.has(tcp_flag::rst)) {
            FUZZ_CHECK(s.payload.empty(), "RST with %zu payload bytes", s.payload.size());
            return;
        }
        // A listener with a full SYN queue answers with a stateless SYN cookie (RFC 4987 §3.6):
        // no connection holds the 4-tuple (the app may still hold a CLOSED one, which no longer
        // owns it), so the SYN-ACK's sequence number is the cookie, not a tracked ISS.
        if (stack_.lookup(local_.port, remote_) == nullptr && s.has(tcp_flag::syn) &&
            s.has(tcp_flag::ack) && s.payload.empty())
            return;
        FUZZ_CHECK(c != nullptr, "non-RST segment %s for a 4-tuple without a connection",
                   to_string(s).c_str());
        const TcpConfig& t = cfg_.tcp;
        FUZZ_CHECK(s.payload.size() <= t.mss, "payload %zu > MSS %u", s.payload.size(), t.mss);
        FUZZ_CHECK(s.payload.size() <= c->snd_mss() || s.has(tcp_flag::syn),
                   "payload %zu > effective MSS %u", s.payload.size(), c->snd_mss());
        const SeqNum iss = c->iss();
        if (s.has(tcp_flag::syn)) {
            FUZZ_CHECK(s.seq == iss, "SYN at %u, ISS %u", s.seq.raw(), iss.raw());
            FUZZ_CHECK(s.payload.empty(), "SYN with data");
            FUZZ_CHECK(!s.options.disconnect || s.options.disconnect->len == 0,
                       "disconnect data on a SYN");
            FUZZ_CHECK(!s.has(tcp_flag::ack) || s.ack == c->rcv_nxt(),
                       "SYN-ACK acks %u, RCV.NXT %u", s.ack.raw(), c->rcv_nxt().raw());
            return;
        }
        // Data and FIN: at their place in our stream, with our bytes.
        const std::int64_t off = static_cast<std::int32_t>(s.seq - (iss + 1));
        if (off == -1 && s.payload.empty() && !s.has(tcp_flag::fin)) {
            // A keep-alive probe (RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1, no data), or a
            // zero-window probe with nothing that fits (Linux's tcp_xmit_probe_skb shape).
            FUZZ_CHECK(s.seq + 1 == c->snd_una() && (cfg_.tcp.keepalive || c->snd_wnd() == 0),
                       "probe %s with SND.UNA %u, SND.WND %u", to_string(s).c_str(),
                       c->snd_una().raw(), c->snd_wnd());
            return;
        }
        const std::uint64_t seq_limit = app_sent_ + (c->send_shut() ? 1U : 0U);  // FIN
        FUZZ_CHECK(off >= 0 && static_cast<std::uint64_t>(off) <= seq_limit &&
                       (s.payload.empty() ||
                        static_cast<std::uint64_t>(off) + s.payload.size() <= app_sent_),
                   "segment %s outside our stream (offset %lld, %llu bytes queued)",
                   to_string(s).c_str(), static_cast<long long>(off),
                   static_cast<unsigned long long>(app_sent_));
        for (std::size_t i = 0; i < s.payload.size(); ++i) {
            const auto o = static_cast<std::uint32_t>(off + static_cast<std::int64_t>(i));
            FUZZ_CHECK(std::to_integer<std::uint8_t>(s.payload[i]) == our_byte(o),
                       "we sent byte %u of our stream as %02x, the app gave %02x", o,
                       std::to_integer<unsigned>(s.payload[i]), our_byte(o));
        }
        FUZZ_CHECK(s.seq + static_cast<std::uint32_t>(s.payload.size()) +
                           (s.has(tcp_flag::fin) ? 1U : 0U) <=
                       c->snd_max(),
                   "segment %s beyond SND.MAX %u", to_string(s).c_str(), c->snd_max().raw());
        if (s.has(tcp_flag::fin)) {
            FUZZ_CHECK(
                static_cast<std::uint64_t>(off) + s.payload.size() == app_sent_,
                "FIN at offset %llu, but %llu bytes were queued",
                static_cast<unsigned long long>(off + static_cast<std::int64_t>(s.payload.size())),
                static_cast<unsigned long long>(app_sent_));
            FUZZ_CHECK(c->send_shut(), "FIN without a send shutdown");
            if (s.options.disconnect) {
                FUZZ_CHECK(our_disc_ && *s.options.disconnect == *our_disc_,
                           "FIN carries disconnect data the app did not give");
            } else {
                FUZZ_CHECK(!our_disc_, "FIN without the app's disconnect data");
            }
        } else {
            FUZZ_CHECK(!s.options.disconnect, "disconnect option on a segment without SYN or FIN");
        }
        if (s.has(tcp_flag::ack)) {
            FUZZ_CHECK(s.ack == c->rcv_nxt(), "segment %s acks %u, RCV.NXT %u",
                       to_string(s).c_str(), s.ack.raw(), c->rcv_nxt().raw());
            // The window: within the buffer (scale rounding aside), right edge not retracted.
            const std::uint8_t shift = c->rcv_wscale();
            const std::uint64_t wnd = std::uint64_t{s.window} << shift;
            // RFC 7323 §2.4: with a scale, either the edge goes past the buffer or the window
            // shrinks; the engine allows each by less than one scaling unit.
            FUZZ_CHECK(wnd < t.recv_buffer + (std::uint64_t{1} << shift),
                       "window %llu > buffer %zu", static_cast<unsigned long long>(wnd),
                       t.recv_buffer);
            const SeqNum edge = s.ack + static_cast<std::uint32_t>(wnd);
            if (have_edge_) {
                FUZZ_CHECK(edge + ((1U << shift) - 1U) >= last_edge_,
                           "window right edge moved left by a scaling unit or more: %u -> %u (%s)",
                           last_edge_.raw(), edge.raw(), to_string(s).c_str());
            }
            if (!have_edge_ || edge > last_edge_)
                last_edge_ = edge;
            have_edge_ = true;
            for (std::size_t i = 0; i < s.options.sack_count; ++i) {
                const SackBlock& b = s.options.sack[i];
                FUZZ_CHECK(b.left < b.right && b.left > c->rcv_nxt() &&
                               static_cast<std::uint32_t>(b.right - c->rcv_nxt()) <= t.recv_buffer,
                           "SACK block %u-%u with RCV.NXT %u", b.left.raw(), b.right.raw(),
                           c->rcv_nxt().raw());
            }
        }
        FUZZ_CHECK(s.options.timestamps.has_value() == c->timestamps_enabled(),
                   "timestamps %d on %s, negotiated %d", s.options.timestamps.has_value(),
                   to_string(s).c_str(), c->timestamps_enabled());
        FUZZ_CHECK(s.options.sack_count == 0 || c->sack_enabled(), "SACK blocks without SACK");
        FUZZ_CHECK(!s.options.mss && !s.options.window_scale && !s.options.sack_permitted,
                   "SYN-only option on %s", to_string(s).c_str());
        if (s.options.timestamps)
            last_tsval_ = s.options.timestamps->tsval;
    }

    void check_state() {
        sync_model();
        const Connection* c = conn();
        if (c == nullptr)
            return;
        const TcpConfig& t = cfg_.tcp;
        const TcpState st = c->state();
        FUZZ_CHECK(c->snd_una() <= c->snd_nxt() && c->snd_nxt() <= c->snd_max(),
                   "SND.UNA %u SND.NXT %u SND.MAX %u in %s", c->snd_una().raw(), c->snd_nxt().raw(),
                   c->snd_max().raw(), state_name(st));
        FUZZ_CHECK(static_cast<std::uint32_t>(c->snd_max() - c->snd_una()) <= t.send_buffer + 2,
                   "%u bytes in flight, send buffer %zu",
                   static_cast<std::uint32_t>(c->snd_max() - c->snd_una()), t.send_buffer);
        FUZZ_CHECK(c->snd_una() >= c->iss(), "SND.UNA below ISS");
        FUZZ_CHECK(c->send_queued() <= t.send_buffer, "send queue %zu > %zu", c->send_queued(),
                   t.send_buffer);
        FUZZ_CHECK(c->recv_available() <= t.recv_buffer, "receive buffer %zu > %zu",
                   c->recv_available(), t.recv_buffer);
        const auto& sb = c->scoreboard();
        FUZZ_CHECK(sb.size() <= t.max_sack_ranges, "scoreboard %zu > %zu ranges", sb.size(),
                   t.max_sack_ranges);
        for (std::size_t i = 0; i < sb.size(); ++i) {
            FUZZ_CHECK(sb[i].left < sb[i].right && sb[i].left >= c->snd_una() &&
                           sb[i].right <= c->snd_max(),
                       "scoreboard range %u-%u outside [SND.UNA %u, SND.MAX %u]", sb[i].left.raw(),
                       sb[i].right.raw(), c->snd_una().raw(), c->snd_max().raw());
            if (i > 0)
                FUZZ_CHECK(sb[i - 1].right < sb[i].left, "scoreboard not sorted/disjoint");
        }
        if (!c->is_synchronized())
            return;

        FUZZ_CHECK(c->irs() == peer_iss_, "IRS %u, the peer's ISS %u", c->irs().raw(),
                   peer_iss_.raw());
        const std::uint32_t fin = c->peer_fin_received() ? 1U : 0U;
        const auto accepted = static_cast<std::uint32_t>(c->rcv_nxt() - (c->irs() + 1)) - fin;
        FUZZ_CHECK(accepted <= peer_max_end_, "accepted %u bytes, the peer sent %llu", accepted,
                   static_cast<unsigned long long>(peer_max_end_));
        FUZZ_CHECK(accepted == app_read_ + c->recv_available(),
                   "accepted %u bytes in order, but read %llu + unread %zu (%s)", accepted,
                   static_cast<unsigned long long>(app_read_), c->recv_available(), state_name(st));
        if (c->peer_fin_received()) {
            FUZZ_CHECK(peer_fin_off_ && accepted == *peer_fin_off_,
                       "FIN accepted at offset %u, the peer's FIN is at %lld", accepted,
                       peer_fin_off_ ? static_cast<long long>(*peer_fin_off_) : -1LL);
        }
        // The window offered beyond the free buffer: RFC 7323 §2.4 round-up lets it exceed the
        // free space by less than one scaling unit, and no more (it used to accumulate per ACK,
        // fuzz/regressions/fuzz_engine/README.md, window-edge-drift-past-buffer).
        const std::uint64_t unit = 1U << c->rcv_wscale();
        FUZZ_CHECK(std::uint64_t{c->rcv_wnd()} + c->recv_available() < t.recv_buffer + unit,
                   "window %u + unread %zu > buffer %zu + less than one scaling unit", c->rcv_wnd(),
                   c->recv_available(), t.recv_buffer);
        if (c->peer_disconnect_data())
            FUZZ_CHECK(c->peer_fin_received() && c->disconnect_negotiated(),
                       "peer disconnect data without an accepted FIN / negotiation");
        // DESIGN.md §3c: the peer's connect data comes only with the option in use.
        if (!c->peer_connect_data().empty())
            FUZZ_CHECK(
                c->disconnect_negotiated() && c->peer_connect_data().size() <= kMaxDisconnectData,
                "peer connect data of %zu bytes without negotiation (%d)",
                c->peer_connect_data().size(), c->disconnect_negotiated());
        if (st != TcpState::time_wait) {
            const std::int64_t acked = static_cast<std::int32_t>(c->snd_una() - (c->iss() + 1));
            const std::uint64_t data_acked = std::min<std::uint64_t>(
                static_cast<std::uint64_t>(std::max<std::int64_t>(acked, 0)), app_sent_);
            FUZZ_CHECK(c->send_queued() == app_sent_ - data_acked,
                       "send queue %zu, but %llu queued - %llu acked (%s)", c->send_queued(),
                       static_cast<unsigned long long>(app_sent_),
                       static_cast<unsigned long long>(data_acked), state_name(st));
        }
    }

    Reader& in_;
    Stack stack_;
    StackConfig cfg_;
    Instant now_{};
    unsigned mode_ = 0;
    bool passive_ = false;
    Endpoint local_;
    Endpoint remote_;
    std::optional<ConnId> id_;
    bool released_ = false;
    std::optional<ListenerId> listener_;

    // The peer.
    SeqNum peer_iss_;
    std::uint8_t peer_syn_opts_ = 0;
    std::uint16_t peer_mss_ = 0;
    std::uint32_t peer_ts_ = 0;
    std::uint32_t last_tsval_ = 0;  // the last TSval we sent (the peer's TSecr)

    // The per-connection model.
    bool tracked_ = false;
    const Connection* tracked_conn_ = nullptr;
    bool app_model_lost_ = false;  // the app's connection was left for a newer incarnation
    SeqNum our_iss_;
    std::uint64_t app_sent_ = 0;                 // bytes the app queued
    std::uint64_t app_read_ = 0;                 // bytes the app read
    bool discarded_unread_ = false;              // close / abort dropped unread bytes
    std::optional<std::uint64_t> peer_fin_off_;  // where the peer's FIN sits in its stream
    std::uint64_t peer_max_end_ = 0;             // highest stream offset the peer sent + 1
    std::optional<DisconnectData> our_disc_;
    bool have_edge_ = false;
    SeqNum last_edge_;
    unsigned closed_events_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in(data, size);
    Harness h(in);
    h.run();
    return 0;
}
