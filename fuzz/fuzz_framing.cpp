// fuzz_framing: MessageReader (stack/src/api/message_framing.hpp, DESIGN.md §3b) against an
// independent reference parser of RFC 5531 §11 record marking.
//
// The input is a byte stream of fragments (header words from the input, so lengths are mostly
// small, sometimes over the bound, sometimes the last bit clear) that arrives in random chunks,
// read with random buffer sizes. Invariants: the reader delivers exactly the reference's
// messages, in order, each whole (a read never crosses a message's end, the last part ends it);
// a message is reported complete only once every byte of it has arrived; a message over the
// bound is reported too_long (and nothing of it is delivered); ends_cleanly() is true exactly
// when the stream stops at a message boundary; no read returns more than its buffer.
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "message_framing.hpp"

using namespace ustack::fuzz;
using ustack::MessageReader;

namespace {

constexpr std::uint64_t kBound = 300;

struct Stream {
    std::vector<std::byte> bytes;
    std::size_t front = 0;
    std::size_t arrived = 0;  // bytes[0, arrived) have arrived
    [[nodiscard]] std::size_t available() const { return arrived - front; }
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
};

// The reference: the stream's messages in order, each with the offset where its last byte is
// (so "complete" means arrived > end), or too_long at its first header over the bound, or cut
// (the stream ends inside it).
struct RefMessage {
    std::string body;
    std::size_t end = 0;    // offset just past the message's last byte (its last fragment)
    bool too_long = false;  // announced more than the bound (at the header ending at `end`)
};
std::vector<RefMessage> reference(const std::vector<std::byte>& s, bool* clean) {
    std::vector<RefMessage> out;
    std::size_t off = 0;
    RefMessage cur;
    std::uint64_t announced = 0;
    bool inside = false;
    *clean = true;
    while (off < s.size()) {
        if (s.size() - off < 4) {
            *clean = false;
            return out;
        }
        const std::uint32_t w = ustack::load_be32(s.data() + off);
        off += 4;
        const std::uint64_t len = w & 0x7fff'ffffU;
        announced += len;
        inside = true;
        if (announced > kBound) {
            cur.too_long = true;
            cur.end = off;
            out.push_back(cur);
            *clean = false;  // (the reader stops here: nothing after it is ever looked at)
            return out;
        }
        if (s.size() - off < len) {
            *clean = false;
            return out;
        }
        cur.body.append(reinterpret_cast<const char*>(s.data() + off), len);
        off += len;
        if ((w & 0x8000'0000U) != 0) {
            cur.end = off;
            out.push_back(cur);
            cur = {};
            announced = 0;
            inside = false;
        }
    }
    *clean = !inside;
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in(data, size);
    // Build the stream: fragments with small lengths mostly.
    Stream s;
    const std::size_t fragments = in.u8() % 24;
    for (std::size_t i = 0; i < fragments && !in.empty(); ++i) {
        const std::uint8_t k = in.u8();
        std::uint32_t len = in.u8() % 64;
        if ((k & 0x0f) == 0) {
            len = 200 + in.u8();  // near and over the bound
        }
        const bool last = (k & 0x30) != 0;
        std::byte h[4];
        ustack::store_be32(h, len | (last ? 0x8000'0000U : 0));
        s.bytes.insert(s.bytes.end(), h, h + 4);
        for (std::uint32_t j = 0; j < len; ++j) {
            s.bytes.push_back(std::byte{static_cast<std::uint8_t>(j * 7 + i)});
        }
    }
    if (in.bit() && !s.bytes.empty()) {
        s.bytes.resize(s.bytes.size() - 1 - in.u8() % s.bytes.size() % 8);  // cut it short
    }
    bool clean = false;
    const std::vector<RefMessage> ref = reference(s.bytes, &clean);

    MessageReader r(kBound);
    std::size_t next = 0;  // the reference message being read
    std::string got;       // what has been read of it
    for (int steps = 0; steps < 2000; ++steps) {
        // Arrive a chunk, or read with a buffer of random size; once the input ran out,
        // everything arrives.
        if (in.empty()) {
            s.arrived = s.bytes.size();
        } else if ((in.u8() & 1) == 0 && s.arrived < s.bytes.size()) {
            s.arrived = std::min(s.bytes.size(), s.arrived + 1 + in.u8() % 96);
        }
        const auto sc = r.scan(s);
        if (next < ref.size() && ref[next].too_long && s.arrived >= ref[next].end) {
            FUZZ_CHECK(sc.scan == MessageReader::Scan::too_long,
                       "message %zu announces more than %llu: scan %d", next,
                       static_cast<unsigned long long>(kBound), static_cast<int>(sc.scan));
            break;  // a framing error: the socket resets here
        }
        const bool whole = next < ref.size() && !ref[next].too_long && s.arrived >= ref[next].end;
        FUZZ_CHECK((sc.scan == MessageReader::Scan::complete) == whole,
                   "message %zu: scan %d but arrived %zu of %zu", next, static_cast<int>(sc.scan),
                   s.arrived, next < ref.size() ? ref[next].end : 0);
        if (whole) {
            FUZZ_CHECK(
                sc.left == ref[next].body.size() - got.size(), "message %zu: %llu left, not %zu",
                next, static_cast<unsigned long long>(sc.left), ref[next].body.size() - got.size());
            // Random buffer sizes while the input lasts, then large enough to finish.
            std::vector<std::byte> buf(in.empty() ? 64 : in.u8() % 40);
            const auto rr = r.read(s, buf);
            FUZZ_CHECK(rr.bytes <= buf.size(), "read %zu into %zu", rr.bytes, buf.size());
            got.append(reinterpret_cast<const char*>(buf.data()), rr.bytes);
            FUZZ_CHECK(got == ref[next].body.substr(0, got.size()), "message %zu: wrong bytes",
                       next);
            // A read stops at the message's end, and only the read that reaches it ends it
            // (a zero-length fragment after a full buffer may end it one read later).
            FUZZ_CHECK(!rr.message_ended || got.size() == ref[next].body.size(),
                       "message %zu ended after %zu of %zu bytes", next, got.size(),
                       ref[next].body.size());
            FUZZ_CHECK(buf.size() == 0 || rr.bytes > 0 || rr.message_ended ||
                           got.size() == ref[next].body.size() || sc.left > 0,
                       "message %zu: a read made no progress", next);
            if (rr.message_ended) {
                ++next;
                got.clear();
            }
        }
        if (s.arrived == s.bytes.size() && !whole && in.empty()) {
            break;
        }
    }
    // Once the input ran out everything arrived and was read (unless a framing error stopped
    // the run): every whole message was delivered, and the end is judged as the reference does.
    if (!ref.empty() && ref.back().too_long) {
        return 0;
    }
    FUZZ_CHECK(next == ref.size(), "%zu of %zu messages delivered", next, ref.size());
    FUZZ_CHECK(s.arrived == s.bytes.size(), "the stream did not finish arriving");
    FUZZ_CHECK(r.ends_cleanly(s) == clean, "ends_cleanly %d, reference %d", r.ends_cleanly(s),
               clean);
    return 0;
}
