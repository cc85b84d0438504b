// The state log (StackConfig::record_state_changes, Connection::set_state_log): every state
// change of RFC 9293 §3.3.2 with what caused it -- the segment (flags, SEQ, ACK, length), the
// application call, or the timer -- in the order it happened.
#include <vector>

#include "support/script.hpp"

using namespace ustack;
using namespace ustack::test;

namespace {

using Cause = TransitionCause;

// A change without the endpoints (the Script's are always kLocal -> kRemote).
struct Step {
    TcpState from;
    TcpState to;
    Cause cause;
    std::uint8_t flags = 0;  // cause == segment: the segment's flags
};

void check_steps(const std::vector<StateChange>& log, const std::vector<Step>& want) {
    REQUIRE(log.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        CHECK(log[i].local == kLocal);
        CHECK(log[i].remote == kRemote);
        CHECK(to_string(log[i].from) == to_string(want[i].from));
        CHECK(to_string(log[i].to) == to_string(want[i].to));
        CHECK(to_string(log[i].cause) == to_string(want[i].cause));
        CHECK(log[i].seg.flags == want[i].flags);
    }
}

constexpr std::uint8_t kA = tcp_flag::ack;
constexpr std::uint8_t kSA = tcp_flag::syn | tcp_flag::ack;
constexpr std::uint8_t kFA = tcp_flag::fin | tcp_flag::ack;

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE(
        "state log: an active open and graceful close record RFC 9293 §3.3.2's path with each "
        "cause - connect - the SYN-ACK - close - the ACK - the FIN - the TIME-WAIT timer") {
        Script t;
        std::vector<StateChange> log;
        t.conn().set_state_log(&log);
        t.establish_active();
        // The SYN-ACK that established it: its SEQ and ACK as on the wire.
        REQUIRE(log.size() == 2);
        CHECK(log[1].seg.seq == kPeerIss);
        CHECK(log[1].seg.ack == kIss + 1);
        CHECK(log[1].seg.len == 0);
        t.conn().close();
        (void)t.expect_one();  // our FIN
        t.send(t.peer_ack());
        t.send(t.peer_ack().fin());
        (void)t.transmit();
        REQUIRE(t.fire_next_timer());  // 2 MSL
        check_steps(log, {{TcpState::closed, TcpState::syn_sent, Cause::connect},
                          {TcpState::syn_sent, TcpState::established, Cause::segment, kSA},
                          {TcpState::established, TcpState::fin_wait_1, Cause::close},
                          {TcpState::fin_wait_1, TcpState::fin_wait_2, Cause::segment, kA},
                          {TcpState::fin_wait_2, TcpState::time_wait, Cause::segment, kFA},
                          {TcpState::time_wait, TcpState::closed, Cause::time_wait_timeout}});
    }

    TEST_CASE(
        "state log: a passive open starts in LISTEN - the peer's FIN and our shutdown take it "
        "through CLOSE-WAIT and LAST-ACK to CLOSED") {
        Script t;
        std::vector<StateChange> log;
        t.conn().set_state_log(&log);
        t.establish_passive();
        t.send(t.peer_ack().data("hello").fin());
        (void)t.transmit();
        REQUIRE(log.size() == 3);
        CHECK(log[2].seg.len == 5);  // the FIN carried 5 bytes
        REQUIRE(t.conn().shutdown_send() == Errc::ok);
        (void)t.expect_one();
        t.send(t.peer_ack());
        check_steps(log, {{TcpState::listen, TcpState::syn_received, Cause::segment, tcp_flag::syn},
                          {TcpState::syn_received, TcpState::established, Cause::segment, kA},
                          {TcpState::established, TcpState::close_wait, Cause::segment, kFA},
                          {TcpState::close_wait, TcpState::last_ack, Cause::shutdown},
                          {TcpState::last_ack, TcpState::closed, Cause::segment, kA}});
    }

    TEST_CASE(
        "state log: abort - a peer's RST - and the retransmission give-up are recorded as "
        "their causes") {
        {
            Script t;
            std::vector<StateChange> log;
            t.establish_active();
            t.conn().set_state_log(&log);
            t.conn().abort();
            check_steps(log, {{TcpState::established, TcpState::closed, Cause::abort}});
        }
        {
            Script t;
            std::vector<StateChange> log;
            t.establish_active();
            t.conn().set_state_log(&log);
            t.send(t.peer_ack().rst());
            check_steps(log, {{TcpState::established, TcpState::closed, Cause::segment,
                               static_cast<std::uint8_t>(tcp_flag::rst | tcp_flag::ack)}});
        }
        {
            Script t;
            std::vector<StateChange> log;
            t.conn().set_state_log(&log);
            t.conn().open_active(t.now());
            (void)t.transmit();  // the SYN (which arms the timer)
            for (int i = 0; i < 100 && !t.conn().is_closed() && t.fire_next_timer(); ++i)
                (void)t.transmit();
            check_steps(log, {{TcpState::closed, TcpState::syn_sent, Cause::connect},
                              {TcpState::syn_sent, TcpState::closed, Cause::retransmit_timeout}});
        }
    }

    TEST_CASE("state log: nothing is recorded without a log, and a state kept is no change") {
        Script t;
        std::vector<StateChange> log;
        t.establish_active();
        t.conn().set_state_log(&log);
        t.send(t.peer_ack().data("x"));  // ESTABLISHED stays ESTABLISHED
        CHECK(log.empty());
        t.conn().set_state_log(nullptr);
        t.conn().abort();
        CHECK(log.empty());
    }
}
