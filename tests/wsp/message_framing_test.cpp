// Message framing (DESIGN.md §3b, RFC 5531 §11 record marking): MessageReader over a plain
// byte buffer that grows as "segments" arrive.
#include "message_framing.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

using ustack::kLastFragment;
using ustack::message_header;
using ustack::MessageReader;

namespace {

// The receive buffer as the reader sees it: bytes arrive at the back, are taken at the front.
struct Stream {
    std::vector<std::byte> bytes;
    std::size_t front = 0;

    [[nodiscard]] std::size_t available() const { return bytes.size() - front; }
    std::size_t peek(std::size_t offset, std::span<std::byte> out) const {
        if (offset >= available()) {
            return 0;
        }
        const std::size_t n = std::min(out.size(), available() - offset);
        std::memcpy(out.data(), bytes.data() + front + offset, n);
        return n;
    }
    std::size_t take(std::span<std::byte> out) {
        const std::size_t n = peek(0, out);
        front += n;
        return n;
    }
    void arrive(std::span<const std::byte> b) { bytes.insert(bytes.end(), b.begin(), b.end()); }
    void arrive(const std::string& s) {
        arrive(std::span(reinterpret_cast<const std::byte*>(s.data()), s.size()));
    }
    // A fragment: header (length, last bit) and body.
    void fragment(const std::string& body, bool last) {
        std::byte h[4];
        ustack::store_be32(h, static_cast<std::uint32_t>(body.size()) | (last ? kLastFragment : 0));
        arrive(h);
        arrive(body);
    }
    void message(const std::string& body) { fragment(body, true); }
};

std::string read_all(MessageReader& r, Stream& s, std::size_t chunk, bool* ended,
                     int* calls = nullptr) {
    std::string out;
    *ended = false;
    int n = 0;
    while (!*ended) {
        std::vector<std::byte> buf(chunk);
        const auto res = r.read(s, buf);
        out.append(reinterpret_cast<const char*>(buf.data()), res.bytes);
        *ended = res.message_ended;
        ++n;
        if (res.bytes == 0 && !res.message_ended) {
            break;
        }
    }
    if (calls != nullptr) {
        *calls = n;
    }
    return out;
}

}  // namespace

TEST_SUITE("framing") {
    TEST_CASE(
        "RFC 5531 §11: ustack's header is one last fragment - 80 00 00 00 for a zero-length "
        "message") {
        const auto h0 = message_header(0);
        CHECK(std::to_integer<int>(h0[0]) == 0x80);
        CHECK(std::to_integer<int>(h0[3]) == 0x00);
        const auto h = message_header(0x010203);
        CHECK(std::to_integer<int>(h[0]) == 0x80);
        CHECK(std::to_integer<int>(h[1]) == 0x01);
        CHECK(std::to_integer<int>(h[2]) == 0x02);
        CHECK(std::to_integer<int>(h[3]) == 0x03);
    }

    TEST_CASE(
        "DESIGN.md §3b: a message is readable only once it arrived whole - header split across "
        "segments") {
        Stream s;
        MessageReader r(1 << 16);
        const auto h = message_header(5);
        for (std::size_t i = 0; i < 4; ++i) {
            CHECK(r.scan(s).scan == MessageReader::Scan::incomplete);
            s.arrive(std::span(&h[i], 1));
        }
        CHECK(r.scan(s).scan == MessageReader::Scan::incomplete);
        s.arrive("hel");
        CHECK(r.scan(s).scan == MessageReader::Scan::incomplete);
        s.arrive("lo");
        const auto sc = r.scan(s);
        CHECK(sc.scan == MessageReader::Scan::complete);
        CHECK(sc.left == 5);
        bool ended = false;
        CHECK(read_all(r, s, 64, &ended) == "hello");
        CHECK(ended);
        CHECK(s.available() == 0);
        CHECK(!r.mid_message());
    }

    TEST_CASE("RFC 5531 §11: a message of several fragments reads as one") {
        Stream s;
        MessageReader r(1 << 16);
        s.fragment("abc", false);
        CHECK(r.scan(s).scan == MessageReader::Scan::incomplete);
        s.fragment("", false);
        s.fragment("defg", false);
        CHECK(r.scan(s).scan == MessageReader::Scan::incomplete);
        s.fragment("h", true);
        s.message("next");
        const auto sc = r.scan(s);
        CHECK(sc.scan == MessageReader::Scan::complete);
        CHECK(sc.left == 8);
        bool ended = false;
        CHECK(read_all(r, s, 64, &ended) == "abcdefgh");
        CHECK(ended);
        CHECK(r.scan(s).left == 4);  // the next message stays for the next read
        CHECK(read_all(r, s, 64, &ended) == "next");
    }

    TEST_CASE("DESIGN.md §3b: zero-length messages are legal - each reads as 0 bytes and ends") {
        Stream s;
        MessageReader r(1 << 16);
        s.message("");
        s.message("");
        s.message("x");
        for (int i = 0; i < 2; ++i) {
            CHECK(r.scan(s).scan == MessageReader::Scan::complete);
            std::byte buf[8];
            const auto res = r.read(s, buf);
            CHECK(res.bytes == 0);
            CHECK(res.message_ended);
        }
        bool ended = false;
        CHECK(read_all(r, s, 8, &ended) == "x");
        CHECK(r.scan(s).scan == MessageReader::Scan::incomplete);  // nothing left
    }

    TEST_CASE(
        "DESIGN.md §3b: a smaller buffer reads the message in parts (MSG_PARTIAL) and the last "
        "part ends it") {
        Stream s;
        MessageReader r(1 << 16);
        s.fragment("0123", false);
        s.fragment("456789", true);
        bool ended = false;
        int calls = 0;
        CHECK(read_all(r, s, 3, &ended, &calls) == "0123456789");
        CHECK(ended);
        CHECK(calls == 4);  // 3 + 3 + 3 + 1 bytes: only the last read ends the message
        CHECK(!r.mid_message());
    }

    TEST_CASE(
        "DESIGN.md §3b: the bound - a message of exactly SO_MAX_MSG_SIZE is fine and one byte more "
        "is a framing error") {
        const std::uint64_t bound = 1000;
        Stream s;
        MessageReader r(bound);
        s.message(std::string(bound, 'a'));
        CHECK(r.scan(s).scan == MessageReader::Scan::complete);
        bool ended = false;
        CHECK(read_all(r, s, 4096, &ended).size() == bound);

        Stream t;
        MessageReader q(bound);
        // The header alone already tells: no need to wait for the body.
        std::byte h[4];
        ustack::store_be32(h, kLastFragment | static_cast<std::uint32_t>(bound + 1));
        t.arrive(h);
        CHECK(q.scan(t).scan == MessageReader::Scan::too_long);

        // Over the bound counted over all fragments.
        Stream u;
        MessageReader p(bound);
        u.fragment(std::string(600, 'b'), false);
        u.fragment(std::string(401, 'c'), true);
        CHECK(p.scan(u).scan == MessageReader::Scan::too_long);
    }

    TEST_CASE(
        "DESIGN.md §3b: a FIN inside a message is a framing error - after whole messages it is "
        "not") {
        Stream s;
        MessageReader r(1 << 16);
        CHECK(r.ends_cleanly(s));  // nothing at all
        s.message("one");
        s.message("");
        CHECK(r.ends_cleanly(s));
        s.fragment("two", false);  // a message whose last fragment never comes
        CHECK(!r.ends_cleanly(s));

        Stream t;
        MessageReader q(1 << 16);
        t.message("abc");
        t.arrive("\x80");  // a partial header
        CHECK(!q.ends_cleanly(t));

        Stream u;
        MessageReader p(1 << 16);
        u.message("abcdef");
        std::byte buf[2];
        (void)p.read(u, buf);  // inside the message now
        CHECK(p.mid_message());
        CHECK(p.ends_cleanly(u));      // the rest of it is there
        u.front = u.bytes.size() - 1;  // (as if the stream ended one byte short)
        CHECK(!p.ends_cleanly(u));
    }
}
