// TCP options: decode semantics and encode layout (see tcp_options.hpp).
//
// Option wire formats (each box one octet):
//
//   EOL    (RFC 9293 §3.2)  +-----+
//                           |  0  |
//   NOP    (RFC 9293 §3.2)  +-----+
//                           |  1  |
//   MSS    (RFC 9293 §3.2)  +-----+-----+-----+-----+
//                           |  2  |  4  |  MSS (16) |
//   WS     (RFC 7323 §2.2)  +-----+-----+-----+
//                           |  3  |  3  |shift|
//   SACKOK (RFC 2018 §2)    +-----+-----+
//                           |  4  |  2  |
//   SACK   (RFC 2018 §3)    +-----+-----+--------------+---------------+-- n = 1..4 blocks
//                           |  5  |2+8n | left edge 32 | right edge 32 | ...
//   TS     (RFC 7323 §3.2)  +-----+-----+--------------+---------------+
//                           |  8  | 10  |  TSval (32)  |  TSecr (32)   |
//   DISC   (RFC 6994 §3,    +-----+-----+-----+-----+----------------
//           DESIGN.md §3)   | 253 | 4+N |0xD1 |0x5C | N bytes, N <= 36
//   MSG    (RFC 6994 §3,    +-----+-----+-----+-----+
//           DESIGN.md §3b)  | 253 |  4  |0xD1 |0x5D |
#include "tcp_options.hpp"

#include <algorithm>

#include "ustack/byte_order.hpp"

namespace ustack::tcp_options {

namespace {}  // namespace

std::string_view kind_name(std::uint8_t k) {
    switch (k) {
#define USTACK_X(name, kv, len) \
    case kv: return #name;
        USTACK_TCP_OPTION_KINDS(USTACK_X)
#undef USTACK_X
        default: return "unknown";
    }
}

void apply_option(std::uint8_t k, std::span<const std::uint8_t> data, TcpOptions& out,
                  CodecStats& stats) {
    const std::size_t len = data.size() + 2;  // wire length, as in the length octet
    switch (k) {
        case kind::mss:  // RFC 9293 §3.2: length 4
            if (len != length::mss) {
                stats.bad_known_option_length++;
                return;
            }
            out.mss = load_be16(data, 0);
            return;
        case kind::window_scale:  // RFC 7323 §2.2: length 3
            if (len != length::window_scale) {
                stats.bad_known_option_length++;
                return;
            }
            // RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt value
            // larger than 14, the TCP SHOULD log the error but MUST use 14 instead".
            if (data[0] > kMaxWindowShift)
                stats.window_scale_clamped++;
            out.window_scale = std::min(data[0], kMaxWindowShift);
            return;
        case kind::sack_permitted:  // RFC 2018 §2: length 2
            if (len != length::sack_permitted) {
                stats.bad_known_option_length++;
                return;
            }
            out.sack_permitted = true;
            return;
        case kind::sack: {  // RFC 2018 §3: length 2 + 8n, 1 <= n <= 4
            const std::size_t n = data.size() / kSackBlockLen;
            if (data.size() % kSackBlockLen != 0 || n == 0 || n > kMaxSackBlocks) {
                stats.bad_known_option_length++;
                return;
            }
            out.sack_count = static_cast<std::uint8_t>(n);
            for (std::size_t b = 0; b < n; ++b) {
                out.sack[b] = SackBlock{SeqNum(load_be32(data, b * kSackBlockLen)),
                                        SeqNum(load_be32(data, b * kSackBlockLen + 4))};
            }
            return;
        }
        case kind::timestamps:  // RFC 7323 §3.2: length 10
            if (len != length::timestamps) {
                stats.bad_known_option_length++;
                return;
            }
            out.timestamps = Timestamps{load_be32(data, 0), load_be32(data, 4)};
            return;
        case kind::experiment_1:
            // RFC 6994 §3: the first two data octets are the ExID. Ours are 0xD15C (DESIGN.md §3)
            // and 0xD15D (§3b). The option is ignored, never fatal, when it is malformed or not
            // ours.
            if (data.size() < 2) {
                stats.bad_disconnect_option++;
                return;
            }
            switch (load_be16(data, 0)) {
                case exid::disconnect:
                    // len <= 40 because the header is at most 60 bytes, so N <= 36; from()
                    // clamps anyway.
                    out.disconnect = DisconnectData::from(std::as_bytes(data.subspan(2)));
                    return;
                case exid::message_mode:
                    // DESIGN.md §3b: length 4, no data.
                    if (len != exid_length::message_mode) {
                        stats.bad_message_option++;
                        return;
                    }
                    out.message_mode = true;
                    return;
                default: stats.unknown_exid++; return;
            }
        case kind::experiment_2:
            // Our ExID lives only under 253; anything under 254 (e.g. TFO's 0xF989) is not ours.
            if (data.size() < 2) {
                stats.unknown_options++;
            } else {
                stats.unknown_exid++;
            }
            return;
        default:
            // RFC 9293 §3.2 MUST-5: ignore an option we do not implement (it has a length).
            stats.unknown_options++;
            return;
    }
}

namespace {

class PlanBuilder {
public:
    explicit PlanBuilder(OptionPlan& p) : p_(p) {}
    void nop() { next().kind = kind::nop; }
    // Adds kind with data_len bytes of data; returns the data to fill in.
    std::uint8_t* add(std::uint8_t k, std::size_t data_len) {
        OptionItem& it = next();
        it.kind = k;
        it.data_len = static_cast<std::uint8_t>(data_len);
        return it.data.data();
    }

private:
    OptionItem& next() {
        // The groups in plan_options() never exceed kMaxItems (see its comment).
        OptionItem& it = p_.items[p_.count++];
        it = OptionItem{};
        return it;
    }
    OptionPlan& p_;
};

std::size_t wire_len(const OptionItem& it) {
    return it.kind == kind::nop || it.kind == kind::eol ? 1 : std::size_t{2} + it.data_len;
}

}  // namespace

OptionPlan plan_options(const TcpOptions& o) {
    OptionPlan plan;
    const bool ts = o.timestamps.has_value();

    // What must always be carried; at most 4 + 12 + 4 + 4 = 24 bytes, so it always fits.
    CarriedOptions carried{.mss = o.mss.has_value(),
                           .window_scale = o.window_scale.has_value(),
                           .sack_permitted = o.sack_permitted,
                           .timestamps = ts,
                           .message_mode = o.message_mode};

    // The disconnect option (DESIGN.md §3) comes before SACK blocks; it is left out only when
    // it cannot fit even with no SACK blocks at all (an engine bug: the engine enforces the
    // per-connection limit, 24 bytes with timestamps, 36 without; on a SYN what the other SYN
    // options leave, DESIGN.md §3c).
    std::size_t disc = 0;
    if (o.disconnect) {
        if (o.disconnect->len > kMaxDisconnectData ||
            disconnect_option_space(o.disconnect->len) > option_space_left(carried)) {
            plan.disconnect_dropped = true;
        } else {
            disc = disconnect_option_space(o.disconnect->len);
            carried.disconnect_data = o.disconnect->len;
        }
    }

    // SACK blocks yield: drop from the end (the first block reports the most recent data,
    // RFC 2018 §4) until everything fits.
    const std::size_t blocks =
        std::min<std::size_t>({o.sack_count, kMaxSackBlocks, sack_blocks_room(carried)});
    plan.sack_blocks_dropped = o.sack_count - blocks;

    // Emit, in the order Linux uses (tcp_options_write), so captures look familiar.
    PlanBuilder b(plan);
    if (o.mss)
        store_be16(b.add(kind::mss, 2), *o.mss);
    if (ts) {
        if (o.sack_permitted) {
            b.add(kind::sack_permitted, 0);
        } else {
            b.nop();
            b.nop();
        }
        std::uint8_t* d = b.add(kind::timestamps, 8);
        store_be32(d, o.timestamps->tsval);
        store_be32(d + 4, o.timestamps->tsecr);
    } else if (o.sack_permitted) {
        b.nop();
        b.nop();
        b.add(kind::sack_permitted, 0);
    }
    if (o.window_scale) {
        b.nop();
        *b.add(kind::window_scale, 1) = *o.window_scale;
    }
    if (o.message_mode) {
        // DESIGN.md §3b: fd 04 d1 5d, a whole word.
        store_be16(b.add(kind::experiment_1, 2), exid::message_mode);
    }
    if (blocks > 0) {
        b.nop();
        b.nop();
        std::uint8_t* d = b.add(kind::sack, kSackBlockLen * blocks);
        for (std::size_t i = 0; i < blocks; ++i) {
            store_be32(d + i * kSackBlockLen, o.sack[i].left.raw());
            store_be32(d + i * kSackBlockLen + 4, o.sack[i].right.raw());
        }
    }
    if (disc > 0) {
        // Leading NOPs so the option ends on a 32-bit boundary and nothing follows it.
        const std::size_t raw = kDisconnectOptionOverhead + o.disconnect->len;
        for (std::size_t i = raw; i < disc; ++i) b.nop();
        std::uint8_t* d = b.add(kind::experiment_1, 2 + o.disconnect->len);
        store_be16(d, exid::disconnect);
        const auto bytes = o.disconnect->data();
        std::transform(bytes.begin(), bytes.end(), d + 2,
                       [](std::byte x) { return std::to_integer<std::uint8_t>(x); });
    }

    for (const OptionItem& it : plan.view()) plan.wire_len += wire_len(it);
    return plan;
}

}  // namespace ustack::tcp_options
