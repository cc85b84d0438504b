// IsnGenerator and SipHash-2-4: RFC 6528 initial sequence numbers (see isn.hpp).
//
// Heads up for the next implementer:
//   - RFC 9293 §3.4.1 requires ISNs generated per RFC 6528 (MUST-8/MUST-9): ISN = M + F(...),
//     where M is a 4-microsecond timer (RFC 6528 §3) and F a pseudorandom function of the
//     connection-id and a secret key that an attacker cannot compute.
//   - F is SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012), written
//     here from the paper's description: four 64-bit state words initialised from the key and
//     the ASCII constant "somepseudorandomlygeneratedbytes", c = 2 SipRounds per 8-byte
//     little-endian message word, a final word carrying the length in its top byte, then 0xff
//     into v2 and d = 4 finalisation SipRounds. It is checked against the paper's test vectors.
//   - The engine reads no clock: M comes from the Instant the caller passes in.
#include "ustack/isn.hpp"

#include <array>
#include <bit>

#include "ustack/byte_order.hpp"

namespace ustack {

namespace {

struct SipState {
    std::uint64_t v0, v1, v2, v3;

    // One SipRound (paper §2, "SipRound"): an ARX network over the four words.
    void round() {
        v0 += v1;
        v1 = std::rotl(v1, 13);
        v1 ^= v0;
        v0 = std::rotl(v0, 32);
        v2 += v3;
        v3 = std::rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = std::rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = std::rotl(v1, 17);
        v1 ^= v2;
        v2 = std::rotl(v2, 32);
    }

    // Compression of one message word with c = 2 rounds.
    void absorb(std::uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

}  // namespace

std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> data) {
    // Key: k0 = bytes 0..7, k1 = bytes 8..15, each little-endian (the SipHash paper's byte order
    // for key and message words).
    const auto kb = std::as_bytes(std::span(key));
    const std::uint64_t k0 = load_le64(kb.data());
    const std::uint64_t k1 = load_le64(kb.data() + 8);
    // Initialisation: "somepseudorandomlygeneratedbytes" as four big-endian ASCII words.
    SipState s{k0 ^ 0x736f6d6570736575ULL,   // "somepseu"
               k1 ^ 0x646f72616e646f6dULL,   // "dorandom"
               k0 ^ 0x6c7967656e657261ULL,   // "lygenera"
               k1 ^ 0x7465646279746573ULL};  // "tedbytes"

    const std::size_t full = data.size() / 8 * 8;
    for (std::size_t i = 0; i < full; i += 8) {
        s.absorb(load_le64(data.data() + i));
    }
    // Final word: the remaining 0..7 bytes, little-endian, with (length mod 256) in the top byte.
    const std::uint64_t last =
        load_le64(data.data() + full, data.size() - full) | (std::uint64_t{data.size()} << 56);
    s.absorb(last);

    // Finalisation: d = 4 rounds after 0xff is XORed into v2.
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) {
        s.round();
    }
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SeqNum IsnGenerator::generate(Endpoint local, Endpoint remote, Instant now) const {
    // RFC 6528 §3: "M is the 4 microsecond timer". Floor division by 4 (also for instants
    // before the epoch), truncated modulo 2^32 -- it wraps every ~4.77 hours, as intended.
    const auto ticks = static_cast<std::uint64_t>(to_us(now)) >> 2;
    const auto m = static_cast<std::uint32_t>(ticks);

    // RFC 6528 §3: F(localip, localport, remoteip, remoteport, secretkey). The connection-id is
    // serialized in network byte order: local addr (4), local port (2), remote addr (4), remote
    // port (2) -- a fixed layout, so the same 4-tuple always hashes the same on any host.
    std::array<std::byte, 12> id{};
    store_be32(id.data(), local.addr);
    store_be16(id.data() + 4, local.port);
    store_be32(id.data() + 6, remote.addr);
    store_be16(id.data() + 10, remote.port);
    const auto f = static_cast<std::uint32_t>(siphash24(secret_, id));

    return SeqNum(m + f);  // modulo 2^32
}

}  // namespace ustack
