// RFC 9293 connection lifecycle: opening, data, closing. One test per arrow of the §3.3.2
// diagram plus the teardown behaviours DESIGN.md §4 fixes.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

TEST_SUITE("connection") {

TEST_CASE("RFC 9293 §3.5 three-way handshake - active open: CLOSED -> SYN-SENT -> ESTABLISHED") {
    Script t;
    t.conn().open_active(t.now());
    CHECK(t.conn().state() == TcpState::syn_sent);
    auto syn = t.expect_one();
    CHECK(syn->flags == tcp_flag::syn);
    CHECK(syn->seq == SeqNum(kIss));
    CHECK(syn->options.mss == std::optional<std::uint16_t>(1460));
    CHECK_FALSE(syn->options.disconnect.has_value());  // off by default (DESIGN.md §3)
    t.send(t.peer().syn().ack(kIss + 1).mss(1400));
    CHECK(t.conn().state() == TcpState::established);
    auto ack = t.expect_one();
    CHECK(ack->flags == tcp_flag::ack);
    CHECK(ack->seq == SeqNum(kIss + 1));
    CHECK(ack->ack == SeqNum(kPeerIss + 1));
    CHECK(t.conn().snd_mss() == 1400);
    CHECK(t.saw_event(EventKind::connected));
}

TEST_CASE("RFC 9293 §3.5 three-way handshake - passive: LISTEN -> SYN-RECEIVED -> ESTABLISHED") {
    Script t;
    const auto syn = t.peer().syn().mss(1460).build();
    t.conn().open_passive(syn, t.now());
    CHECK(t.conn().state() == TcpState::syn_received);
    t.set_peer_nxt(kPeerIss + 1);
    auto sa = t.expect_one();
    CHECK(sa->flags == (tcp_flag::syn | tcp_flag::ack));
    CHECK(sa->seq == SeqNum(kIss));
    CHECK(sa->ack == SeqNum(kPeerIss + 1));
    t.send(t.peer().ack(kIss + 1));
    CHECK(t.conn().state() == TcpState::established);
    t.expect_nothing();
}

TEST_CASE("RFC 9293 §3.5 data both ways - in order - with ACKs") {
    Script t;
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("hello")).value == 5);
    auto d = t.expect_one();
    CHECK(d->seq == SeqNum(kIss + 1));
    CHECK(string_of(d.payload()) == "hello");
    CHECK((d->flags & tcp_flag::psh) != 0);
    t.send(t.peer().ack(kIss + 6).data("world!"));
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 1 + 6));
    std::vector<std::byte> buf(64);
    auto r = t.conn().recv(buf);
    REQUIRE(r.ok());
    CHECK(string_of(std::span(buf).first(r.value)) == "world!");
    CHECK(t.conn().all_acked());
}

TEST_CASE("RFC 9293 §3.6 active close: ESTAB -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED") {
    Script t;
    t.establish_active();
    CHECK(t.conn().shutdown_send() == Errc::ok);
    CHECK(t.conn().state() == TcpState::fin_wait_1);
    auto fin = t.expect_one();
    CHECK(fin->flags == (tcp_flag::fin | tcp_flag::ack));
    CHECK(fin->seq == SeqNum(kIss + 1));
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::fin_wait_2);
    t.expect_nothing();
    t.send(t.peer().ack(kIss + 2).fin());
    CHECK(t.conn().state() == TcpState::time_wait);
    auto ack = t.expect_one();
    CHECK(ack->ack == SeqNum(kPeerIss + 2));
    CHECK_FALSE(t.conn().holds_buffers());
    REQUIRE(t.conn().poll_timeout().has_value());
    CHECK(*t.conn().poll_timeout() == t.now() + 2 * t.config().msl);
    t.advance(2 * t.config().msl - Duration{1});
    CHECK(t.conn().state() == TcpState::time_wait);
    t.advance(Duration{1});
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::graceful);
}

TEST_CASE("RFC 9293 §3.6 passive close: ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED") {
    Script t;
    t.establish_passive();
    t.send(t.peer().ack(kIss + 1).fin());
    CHECK(t.conn().state() == TcpState::close_wait);
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    std::vector<std::byte> buf(8);
    auto r = t.conn().recv(buf);
    CHECK(r.ok());
    CHECK(r.value == 0);  // end of stream
    t.conn().close();
    CHECK(t.conn().state() == TcpState::last_ack);
    auto fin = t.expect_one();
    CHECK((fin->flags & tcp_flag::fin) != 0);
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::closed);
    CHECK(t.conn().close_reason() == CloseReason::graceful);
}

TEST_CASE("RFC 9293 §3.6 simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT") {
    Script t;
    t.establish_active();
    (void)t.conn().shutdown_send();
    auto fin = t.expect_one();
    t.send(t.peer().ack(kIss + 1).fin());  // their FIN crosses ours
    CHECK(t.conn().state() == TcpState::closing);
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::time_wait);
}

}  // TEST_SUITE
