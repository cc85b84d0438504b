// Per-connection buffer sizes (SO_SNDBUF / SO_RCVBUF): Connection::set_send_buffer and
// set_recv_buffer in any state -- the send bound, the window shift fixed on the SYN (RFC 7323
// §2.2), a grown window and one that never retracts its right edge (RFC 9293 §3.8.6, RFC 7323
// §2.4).
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

std::size_t read_n(Script& t, std::size_t n) {
    std::vector<std::byte> buf(n);
    const auto r = t.conn().recv(buf);
    REQUIRE(r.ok());
    return r.value;
}

}  // namespace

TEST_SUITE("connection") {
    // ---- the window shift follows the receive buffer until the SYN is sent
    // -------------------------

    TEST_CASE(
        "RFC 7323 §2.2: the window scale we offer follows the receive buffer set before the SYN "
        "and is fixed once the SYN is sent") {
        Script t;  // TcpConfig default receive buffer: 65535 (shift 0)
        t.conn().set_recv_buffer(1 << 20);
        t.conn().open_active(t.now());
        const OwnedSegment syn = t.expect_one();
        CHECK(syn->options.window_scale == std::optional<std::uint8_t>(5));  // 2^20 >> 5 = 32768
        CHECK(syn->window == 65535);  // §2.2: a SYN's window is never scaled
        // Sent: a larger buffer no longer changes the shift, not even on the SYN's retransmission.
        t.conn().set_recv_buffer(1 << 24);
        REQUIRE(t.fire_next_timer());
        CHECK(t.expect_one()->options.window_scale == std::optional<std::uint8_t>(5));
        t.set_peer_nxt(t.peer_iss());
        t.send(t.peer().syn().ack(kIss + 1).mss(1460).wscale(2));
        REQUIRE(t.conn().state() == TcpState::established);
        CHECK(t.conn().rcv_wscale() == 5);
        CHECK(t.expect_one()->window == 65535);  // 2^24 is beyond 65535 << 5: the largest field
        CHECK(t.conn().info(t.now()).rcv_wnd == 65535U << 5);
    }

    TEST_CASE(
        "RFC 7323 §2.2: a small receive buffer set before the SYN gives shift 0 and its size as "
        "the SYN's window") {
        Script t;
        t.conn().set_recv_buffer(4096);
        t.conn().open_active(t.now());
        const OwnedSegment syn = t.expect_one();
        CHECK(syn->options.window_scale == std::optional<std::uint8_t>(0));
        CHECK(syn->window == 4096);
    }

    TEST_CASE(
        "RFC 7323 §2.2: a passive connection's SYN-ACK takes the shift of the receive buffer set "
        "before it is sent") {
        Script t;
        t.conn().open_passive(t.peer().syn().no_ack().mss(1460).wscale(3).build(), t.now());
        t.conn().set_recv_buffer(1 << 22);
        const OwnedSegment sa = t.expect_one();
        CHECK(sa->options.window_scale == std::optional<std::uint8_t>(7));
        CHECK(t.conn().rcv_wscale() == 7);
        t.conn().set_recv_buffer(1 << 10);  // after the SYN-ACK: the shift stays
        CHECK(t.conn().rcv_wscale() == 7);
        CHECK(t.conn().recv_buffer() == 1 << 10);
    }

    // ---- growing and shrinking the receive buffer after establishment
    // ------------------------------

    TEST_CASE(
        "RFC 9293 §3.8.6.2.2: a receive buffer grown after establishment opens the window with "
        "an update at once") {
        TcpConfig cfg = Script::default_config();
        cfg.recv_buffer = 4096;
        Script t(cfg);
        t.establish_active();
        t.send(t.peer_ack().data(pattern_bytes(4096)));
        CHECK(t.expect_one()->window == 0);  // full
        t.conn().set_recv_buffer(16384);
        const OwnedSegment update = t.expect_one();
        CHECK(update->flags == tcp_flag::ack);
        CHECK(update->window == 16384 - 4096);
        CHECK(t.conn().info(t.now()).recv_buffer == 16384);
        // The peer may fill it all.
        t.send(t.peer_ack().data(pattern_bytes(12288)));
        CHECK(t.expect_one()->window == 0);
        CHECK(t.conn().recv_available() == 16384);
        CHECK(t.read_all().size() == 16384);
    }

    TEST_CASE("RFC 7323 §2.3: a grown receive buffer offers at most 65535 << Rcv.Wind.Shift") {
        SUBCASE("no window scaling: 65535") {
            Script t;
            t.establish_active();
            t.conn().set_recv_buffer(1 << 20);
            t.send(t.peer_ack().data(pattern_bytes(2000)));
            CHECK(t.expect_one()->window == 65535);  // with the 65535-byte buffer: 63535
            CHECK(t.conn().info(t.now()).rcv_wnd == 65535);
        }
        SUBCASE("shift 5: 65535 << 5") {
            TcpConfig cfg = Script::default_config();
            cfg.recv_buffer = 1 << 20;
            Script t(cfg);
            t.conn().open_active(t.now());
            (void)t.expect_one();
            t.set_peer_nxt(t.peer_iss());
            t.send(t.peer().syn().ack(kIss + 1).mss(1460).wscale(0));
            (void)t.expect_one();
            REQUIRE(t.conn().rcv_wscale() == 5);
            t.conn().set_recv_buffer(1 << 23);
            t.send(t.peer_ack().data(pattern_bytes(2000)));
            CHECK(t.expect_one()->window == 65535);
            CHECK(t.conn().info(t.now()).rcv_wnd == 65535U << 5);
        }
    }

    TEST_CASE(
        "RFC 9293 §3.8.6 and RFC 7323 §2.4: a shrunk receive buffer never moves the advertised "
        "right edge left -- the window stops opening until the unread data drains below it") {
        Script t;
        t.establish_active();  // our ACK of the SYN-ACK offered 65535 bytes from RCV.NXT
        const std::uint32_t rcv = t.peer_nxt();
        const SeqNum edge = SeqNum(rcv) + 65535U;
        t.conn().set_recv_buffer(8192);
        t.expect_nothing();
        t.send(t.peer_ack().data(pattern_bytes(1000)));
        OwnedSegment a = t.expect_one();
        CHECK(a->ack + a->window == edge);  // 64535: the edge stays where it was
        // The peer may fill everything it was promised, beyond the new size.
        t.send(t.peer_ack().data(pattern_bytes(64535)));
        a = t.expect_one();
        CHECK(a->window == 0);
        CHECK(a->ack == edge);
        CHECK(t.conn().recv_available() == 65535);
        // Reading reopens the window only as far as the new size allows.
        CHECK(read_n(t, 60000) == 60000);
        a = t.expect_one();
        CHECK(a->window == 8192 - 5535);
        CHECK(read_n(t, 5535) == 5535);
        a = t.expect_one();
        CHECK(a->window == 8192);
        CHECK(t.conn().info(t.now()).rcv_wnd == 8192);
    }

    TEST_CASE("SO_SNDBUF and SO_RCVBUF: both sizes may be set in TIME-WAIT and in CLOSED") {
        Script t;
        t.to_time_wait();
        t.conn().set_recv_buffer(1000);
        t.conn().set_send_buffer(2000);
        CHECK(t.conn().recv_buffer() == 1000);
        CHECK(t.conn().send_buffer() == 2000);
        t.expect_nothing();
        REQUIRE(t.fire_next_timer());
        REQUIRE(t.conn().state() == TcpState::closed);
        t.conn().set_recv_buffer(3000);
        t.conn().set_send_buffer(4000);
        const TcpInfo i = t.conn().info(t.now());
        CHECK(i.recv_buffer == 3000);
        CHECK(i.send_buffer == 4000);
        t.expect_nothing();
    }

    // ---- the send buffer
    // ---------------------------------------------------------------------------

    TEST_CASE(
        "SO_SNDBUF: the send buffer bounds queued bytes -- a larger size at once and a smaller one "
        "discards nothing and only stops new sends until the queue drains below it") {
        Script t;
        t.establish_active();
        t.conn().set_send_buffer(1000);
        CHECK(t.conn().send_space() == 1000);
        CHECK(t.conn().send(pattern_bytes(5000)).value == 1000);
        CHECK(t.conn().send(pattern_bytes(10)).error == Errc::would_block);
        t.conn().set_send_buffer(3000);
        CHECK(t.conn().send_space() == 2000);
        CHECK(t.conn().send(pattern_bytes(5000, 'k')).value == 2000);
        CHECK(t.expect_n(3).size() == 3);  // 1460 + 1460 + 80

        t.conn().set_send_buffer(500);  // below the 3000 bytes queued
        CHECK(t.conn().send_queued() == 3000);
        CHECK(t.conn().send_space() == 0);
        CHECK(t.conn().send(pattern_bytes(1)).error == Errc::would_block);
        // Queued data is still there to retransmit.
        REQUIRE(t.fire_next_timer());
        CHECK(t.expect_one().payload().size() == 1460);
        t.send(t.peer().ack(kIss + 1 + 2600));
        CHECK(t.conn().send_queued() == 400);
        CHECK(t.conn().send_space() == 100);
        CHECK(t.conn().send(pattern_bytes(300)).value == 100);
        CHECK(t.conn().info(t.now()).send_buffer == 500);
    }

}  // TEST_SUITE
