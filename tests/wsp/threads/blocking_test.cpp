// The calls that block, on real engine threads: blocking WSPRecv / WSPConnect, lingering
// WSPCloseSocket, WSPCloseSocket cancelling calls blocked in other threads, WSPSelect and
// WSAWaitForMultipleEvents waits. (SEMANTICS.md checklist 26-28, 32, 33, 38, 55, 56.) Every
// other WSP semantics test runs on virtual time (../*_test.cpp).
#include <string>
#include <thread>

#include "wsp_fixture.hpp"

using namespace wsptest;

TEST_SUITE("wsp") {
    TEST_CASE("SEMANTICS 26 28 - blocking recv returns on one byte and 0 after FIN once data is read - never WSAEDISCON") {
        Hosts h;
        Pair p = connect_pair(h);
        REQUIRE(send_str(p.client, "a") == 0);
        char buf[100];
        DWORD n = 0;
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);  // blocking, 100-byte buffer
        CHECK(n == 1);
        REQUIRE(send_str(p.client, "bcd") == 0);
        REQUIRE(shutdown_socket(p.client, SD_SEND) == 0);
        REQUIRE(recv_bytes(p.server, buf, 2, &n) == 0);
        CHECK(std::string(buf, n) == "bc");
        REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
        CHECK(std::string(buf, n) == "d");
        for (int i = 0; i < 3; ++i) {  // end of stream is sticky
            REQUIRE(recv_bytes(p.server, buf, sizeof buf, &n) == 0);
            CHECK(n == 0);
        }
    }

    TEST_CASE("SEMANTICS 27 - peer RST fails a blocked WSPRecv and later ones with WSAECONNRESET") {
        Hosts h;
        Pair p = connect_pair(h);
        int blocked_err = -1;
        std::thread t([&] {
            char buf[8];
            DWORD n = 0;
            blocked_err = recv_bytes(p.server, buf, sizeof buf, &n);
        });
        // The reset may come before or after the thread blocks: both must fail WSAECONNRESET.
        REQUIRE(set_linger(p.client, 1, 0) == 0);
        REQUIRE(close_socket(p.client) == 0);
        t.join();
        CHECK(blocked_err == WSAECONNRESET);
        char buf[8];
        DWORD n = 0;
        CHECK(recv_bytes(p.server, buf, sizeof buf, &n) == WSAECONNRESET);
    }

}
