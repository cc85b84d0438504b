// The disconnect-data option in the engine (DESIGN.md §3): negotiation on the SYNs, the option on
// every transmission of our FIN, limits and errors, and taking the peer's data from its FIN.
#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

TEST_SUITE("connection") {

TEST_CASE("DESIGN.md §3 negotiation: both SYNs carry the option (active open)") {
    Script t(Script::disc_config());
    t.conn().open_active(t.now());
    auto syn = t.expect_one();
    REQUIRE(syn->options.disconnect.has_value());
    CHECK(syn->options.disconnect->len == 0);  // N = 0 on the SYN
    t.send(t.peer().syn().ack(kIss + 1).mss(1460).disc_offer());
    (void)t.expect_one();
    CHECK(t.conn().disconnect_negotiated());
    CHECK(t.conn().disconnect_data_limit() == 36);  // 40 - 4, no timestamps (DESIGN.md §3)
}

TEST_CASE("DESIGN.md §3 negotiation: SYN-ACK carries the option only if the SYN did") {
    SUBCASE("peer offers, we are enabled") {
        Script t(Script::disc_config());
        t.conn().open_passive(t.peer().syn().mss(1460).disc_offer().build(), t.now());
        auto sa = t.expect_one();
        REQUIRE(sa->options.disconnect.has_value());
        CHECK(sa->options.disconnect->len == 0);
        CHECK(t.conn().disconnect_negotiated());
    }
    SUBCASE("peer does not offer") {
        Script t(Script::disc_config());
        t.conn().open_passive(t.peer().syn().mss(1460).build(), t.now());
        auto sa = t.expect_one();
        CHECK_FALSE(sa->options.disconnect.has_value());
        CHECK_FALSE(t.conn().disconnect_negotiated());
    }
    SUBCASE("peer offers, we are not enabled (the default)") {
        Script t;
        t.conn().open_passive(t.peer().syn().mss(1460).disc_offer().build(), t.now());
        auto sa = t.expect_one();
        CHECK_FALSE(sa->options.disconnect.has_value());
        CHECK_FALSE(t.conn().disconnect_negotiated());
        CHECK(t.conn().disconnect_data_limit() == 0);
    }
}

TEST_CASE("DESIGN.md §3 not negotiated: shutdown_send(&disc) -> no_proto_opt - nothing queued") {
    Script t(Script::disc_config());
    t.conn().open_active(t.now());
    (void)t.expect_one();
    t.send(t.peer().syn().ack(kIss + 1).mss(1460));  // e.g. Linux: no option on the SYN-ACK
    (void)t.expect_one();
    CHECK_FALSE(t.conn().disconnect_negotiated());
    CHECK(t.conn().disconnect_data_limit() == 0);
    const auto d = disc_of("total=42");
    CHECK(t.conn().shutdown_send(&d) == Errc::no_proto_opt);
    CHECK(t.conn().state() == TcpState::established);
    CHECK_FALSE(t.conn().send_shut());
    t.expect_nothing();  // no FIN
    // The application may fall back to a plain shutdown (WSPShutdown).
    CHECK(t.conn().shutdown_send() == Errc::ok);
    auto fin = t.expect_one();
    CHECK(fin->has(tcp_flag::fin));
    CHECK_FALSE(fin->options.disconnect.has_value());
}

TEST_CASE("DESIGN.md §3 our FIN carries the option with the data") {
    Script t(Script::disc_config());
    const auto d = disc_of("total=1234");
    auto fin = t.to_fin_wait_1(&d);
    CHECK(fin->flags == (tcp_flag::fin | tcp_flag::ack));
    REQUIRE(fin->options.disconnect.has_value());
    CHECK(*fin->options.disconnect == d);
    CHECK(string_of(fin->options.disconnect->data()) == "total=1234");
}

TEST_CASE("DESIGN.md §3 a FIN riding on data carries the option - data segments do not") {
    Script t(Script::disc_config());
    t.establish_active(/*peer_window=*/1000);
    REQUIRE(t.conn().send(pattern_bytes(1500)).value == 1500);
    const auto d = disc_of("bye");
    REQUIRE(t.conn().shutdown_send(&d) == Errc::ok);
    auto s1 = t.expect_one();
    CHECK_FALSE(s1->has(tcp_flag::fin));
    CHECK_FALSE(s1->options.disconnect.has_value());
    t.send(t.peer().ack(kIss + 1001).win(1000));
    auto s2 = t.expect_one();
    CHECK(s2.payload().size() == 500);
    REQUIRE(s2->has(tcp_flag::fin));
    REQUIRE(s2->options.disconnect.has_value());
    CHECK(*s2->options.disconnect == d);
}

TEST_CASE("DESIGN.md §3 every retransmission of the FIN carries the same option bytes") {
    Script t(Script::disc_config());
    const auto d = disc_of("0123456789abcdefghijklmnopqrstuvwxyz");  // 36 bytes: the limit
    REQUIRE(d.len == 36);
    t.establish_active();
    REQUIRE(t.conn().send(bytes_of("tail")).value == 4);
    REQUIRE(t.conn().shutdown_send(&d) == Errc::ok);
    auto first = t.expect_one();
    REQUIRE(first->has(tcp_flag::fin));
    CHECK(first->options.disconnect == std::optional<DisconnectData>(d));
    SUBCASE("timeout: data and FIN again") {
        for (int i = 0; i < 3; ++i) {
            REQUIRE(t.fire_next_timer());
            auto r = t.expect_one();
            CHECK(r->has(tcp_flag::fin));
            CHECK(string_of(r.payload()) == "tail");
            CHECK(r->options.disconnect == std::optional<DisconnectData>(d));
        }
    }
    SUBCASE("timeout after the data was ACKed: FIN alone") {
        t.send(t.peer().ack(kIss + 5));
        REQUIRE(t.fire_next_timer());
        auto r = t.expect_one();
        CHECK(r->flags == (tcp_flag::fin | tcp_flag::ack));
        CHECK(r.payload().empty());
        CHECK(r->options.disconnect == std::optional<DisconnectData>(d));
    }
}

TEST_CASE("DESIGN.md §3 a fast-retransmitted FIN carries the option") {
    Script t(Script::disc_config());
    t.establish_active();
    REQUIRE(t.conn().send(pattern_bytes(4 * 1460 + 10)).value == 4 * 1460 + 10);
    const auto d = disc_of("fast");
    REQUIRE(t.conn().shutdown_send(&d) == Errc::ok);
    auto v = t.expect_n(5);
    REQUIRE(v[4]->has(tcp_flag::fin));
    // Everything but the last segment arrived.
    t.send(t.peer().ack(kIss + 1 + 4 * 1460));
    for (int i = 0; i < 3; ++i) t.send(t.peer().ack(kIss + 1 + 4 * 1460));
    auto r = t.expect_one();
    CHECK(r->seq == SeqNum(kIss + 1 + 4 * 1460));
    CHECK(r.payload().size() == 10);
    CHECK(r->has(tcp_flag::fin));
    CHECK(r->options.disconnect == std::optional<DisconnectData>(d));
}

TEST_CASE("DESIGN.md §3 LAST-ACK: the FIN and its retransmissions carry the option") {
    Script t(Script::disc_config());
    const auto d = disc_of("grand total");
    auto fin = t.to_last_ack(&d);
    CHECK(fin->options.disconnect == std::optional<DisconnectData>(d));
    REQUIRE(t.fire_next_timer());
    auto r = t.expect_one();
    CHECK(r->has(tcp_flag::fin));
    CHECK(r->options.disconnect == std::optional<DisconnectData>(d));
}

TEST_CASE("DESIGN.md §3 disconnect data longer than the limit -> msg_size - nothing queued") {
    Script t(Script::disc_config());
    t.establish_active();
    DisconnectData too_long;
    too_long.len = 37;  // one more than the 36-byte limit without timestamps
    CHECK(t.conn().shutdown_send(&too_long) == Errc::msg_size);
    CHECK_FALSE(t.conn().send_shut());
    CHECK(t.conn().state() == TcpState::established);
    t.expect_nothing();
    const auto ok = disc_of("fits");
    CHECK(t.conn().shutdown_send(&ok) == Errc::ok);
    auto fin = t.expect_one();
    CHECK(fin->options.disconnect == std::optional<DisconnectData>(ok));
}

TEST_CASE("DESIGN.md §3 disconnect data after the send side is shut -> shutdown - no second FIN") {
    Script t(Script::disc_config());
    (void)t.to_fin_wait_1();
    const auto d = disc_of("late");
    CHECK(t.conn().shutdown_send(&d) == Errc::shutdown);
    t.expect_nothing();
}

TEST_CASE("DESIGN.md §3 the peer's data is taken from its FIN accepted in sequence") {
    Script t(Script::disc_config());
    t.establish_active();
    CHECK_FALSE(t.conn().peer_disconnect_data().has_value());
    t.send(t.peer().ack(kIss + 1).data("last").fin().disc("total=99"));
    CHECK(t.conn().state() == TcpState::close_wait);
    REQUIRE(t.conn().peer_disconnect_data().has_value());
    CHECK(string_of(t.conn().peer_disconnect_data()->data()) == "total=99");
    // Still there after the connection is gone (WSPRecvDisconnect after the close).
    t.conn().close();
    (void)t.transmit();
    CHECK(t.read_all().empty());  // (closing discarded the unread "last" with a RST)
    REQUIRE(t.conn().peer_disconnect_data().has_value());
    CHECK(string_of(t.conn().peer_disconnect_data()->data()) == "total=99");
}

TEST_CASE("DESIGN.md §3 the peer's data survives a graceful close to CLOSED") {
    Script t(Script::disc_config());
    const auto mine = disc_of("mine");
    (void)t.to_fin_wait_1(&mine);
    t.send(t.peer().ack(kIss + 2).fin().disc("theirs"));
    REQUIRE(t.conn().state() == TcpState::time_wait);
    (void)t.expect_one();
    REQUIRE(t.fire_next_timer());
    REQUIRE(t.conn().state() == TcpState::closed);
    REQUIRE(t.conn().peer_disconnect_data().has_value());
    CHECK(string_of(t.conn().peer_disconnect_data()->data()) == "theirs");
}

TEST_CASE("DESIGN.md §3 an out-of-order FIN keeps its option until the gap fills") {
    Script t(Script::disc_config());
    t.establish_passive();
    const std::uint32_t base = kPeerIss + 1;
    t.send(t.peer().seq(base + 3).ack(kIss + 1).data("def").fin().disc("held"));
    (void)t.expect_one();
    CHECK_FALSE(t.conn().peer_disconnect_data().has_value());
    CHECK(t.conn().stats().disc_option_ignored == 0);
    t.send(t.peer().seq(base).ack(kIss + 1).data("abc"));  // fills the gap, no FIN, no option
    CHECK(t.conn().state() == TcpState::close_wait);
    REQUIRE(t.conn().peer_disconnect_data().has_value());
    CHECK(string_of(t.conn().peer_disconnect_data()->data()) == "held");
}

TEST_CASE("DESIGN.md §3 the option on a segment without SYN or FIN is ignored and counted") {
    Script t(Script::disc_config());
    t.establish_active();
    t.send(t.peer().ack(kIss + 1).data("x").disc("bogus"));
    (void)t.expect_one();
    CHECK(t.conn().stats().disc_option_ignored == 1);
    CHECK_FALSE(t.conn().peer_disconnect_data().has_value());
    CHECK(t.read_all() == "x");  // the segment itself is fine
    t.send(t.peer().ack(kIss + 1).fin());  // a FIN without the option: no data
    CHECK(t.conn().state() == TcpState::close_wait);
    CHECK_FALSE(t.conn().peer_disconnect_data().has_value());
}

TEST_CASE("DESIGN.md §3 the option on a FIN of a connection that did not negotiate is ignored") {
    Script t;  // extension off
    t.establish_active();
    t.send(t.peer().ack(kIss + 1).fin().disc("unasked"));
    CHECK(t.conn().state() == TcpState::close_wait);
    CHECK_FALSE(t.conn().peer_disconnect_data().has_value());
    CHECK(t.conn().stats().disc_option_ignored == 1);
}

TEST_CASE("DESIGN.md §3 the first accepted copy wins") {
    Script t(Script::disc_config());
    const auto mine = disc_of("mine");
    (void)t.to_fin_wait_1(&mine);
    t.send(t.peer().ack(kIss + 1).fin().disc("first"));  // crosses our FIN: CLOSING
    REQUIRE(t.conn().state() == TcpState::closing);
    (void)t.expect_one();
    // The peer retransmits its FIN with different bytes (a misbehaving peer): it is old (before
    // RCV.NXT), so it is only re-ACKed; its option is not taken.
    t.send(t.peer().seq(kPeerIss + 1).ack(kIss + 1).fin().disc("second"));
    auto a = t.expect_one();
    CHECK(a->ack == SeqNum(kPeerIss + 2));
    t.send(t.peer().ack(kIss + 2));
    CHECK(t.conn().state() == TcpState::time_wait);
    t.send(t.peer().seq(kPeerIss + 1).ack(kIss + 2).fin().disc("third"));  // in TIME-WAIT
    (void)t.expect_one();
    REQUIRE(t.conn().peer_disconnect_data().has_value());
    CHECK(string_of(t.conn().peer_disconnect_data()->data()) == "first");
}

TEST_CASE("DESIGN.md §3 an out-of-order FIN copy and the in-order copy: the held one is used") {
    Script t(Script::disc_config());
    t.establish_passive();
    const std::uint32_t base = kPeerIss + 1;
    t.send(t.peer().seq(base + 3).ack(kIss + 1).data("def").fin().disc("A"));
    (void)t.expect_one();
    // The peer retransmits everything in one segment with (wrongly) different option bytes.
    t.send(t.peer().seq(base).ack(kIss + 1).data("abcdef").fin().disc("B"));
    REQUIRE(t.conn().peer_disconnect_data().has_value());
    CHECK(string_of(t.conn().peer_disconnect_data()->data()) == "A");
}

}  // TEST_SUITE
