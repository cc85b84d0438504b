// A small SHA-256 (FIPS 180-4) for the apps' end-to-end checks: no library needed.
//
//   apps::Sha256 h; h.update(p, n); ...; std::string hex = h.hex_digest();
//   apps::sha256_self_test()  checks the FIPS 180-4 example vectors ("abc", the two-block one).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "ustack/byte_order.hpp"

namespace apps {

class Sha256 {
public:
    Sha256() { reset(); }

    void reset() {
        h_ = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
              0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
        len_ = 0;
        fill_ = 0;
    }

    void update(const void* data, std::size_t n) {
        const auto* p = static_cast<const unsigned char*>(data);
        len_ += n;
        if (fill_ != 0) {
            const std::size_t take = n < 64 - fill_ ? n : 64 - fill_;
            std::memcpy(buf_.data() + fill_, p, take);
            fill_ += take;
            p += take;
            n -= take;
            if (fill_ < 64)
                return;
            block(buf_.data());
            fill_ = 0;
        }
        while (n >= 64) {
            block(p);
            p += 64;
            n -= 64;
        }
        if (n != 0) {
            std::memcpy(buf_.data(), p, n);
            fill_ = n;
        }
    }

    std::array<unsigned char, 32> digest() {
        const std::uint64_t bits = len_ * 8;
        const unsigned char pad = 0x80;
        update(&pad, 1);
        const unsigned char zero[64] = {};
        update(zero, fill_ <= 56 ? 56 - fill_ : 120 - fill_);
        unsigned char l[8];
        ustack::store_be64(l, bits);
        update(l, 8);
        std::array<unsigned char, 32> out{};
        for (std::size_t i = 0; i < 8; ++i) ustack::store_be32(out.data() + 4 * i, h_[i]);
        reset();
        return out;
    }

    std::string hex_digest() {
        static const char* d = "0123456789abcdef";
        std::string r;
        for (unsigned char c : digest()) {
            r += d[c >> 4];
            r += d[c & 15];
        }
        return r;
    }

private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

    void block(const unsigned char* p) {
        static constexpr std::uint32_t k[64] = {
            0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u,
            0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
            0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u,
            0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
            0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
            0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
            0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
            0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
            0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au,
            0x5b9cca4fu, 0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
            0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i) w[i] = ustack::load_be32(p + 4 * i);
        for (int i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
                      h = h_[7];
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
            const std::uint32_t ch = (e & f) ^ (~e & g);
            const std::uint32_t t1 = h + S1 + ch + k[i] + w[i];
            const std::uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
            const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            const std::uint32_t t2 = S0 + maj;
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h_[0] += a;
        h_[1] += b;
        h_[2] += c;
        h_[3] += d;
        h_[4] += e;
        h_[5] += f;
        h_[6] += g;
        h_[7] += h;
    }

    std::array<std::uint32_t, 8> h_{};
    std::uint64_t len_ = 0;
    std::array<unsigned char, 64> buf_{};
    std::size_t fill_ = 0;
};

// FIPS 180-4 / NIST example vectors; true when this implementation reproduces them.
inline bool sha256_self_test() {
    Sha256 h;
    h.update("abc", 3);
    if (h.hex_digest() != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        return false;
    const char* two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    h.update(two, std::strlen(two));
    if (h.hex_digest() != "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        return false;
    h.update("", 0);
    return h.hex_digest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
}

}  // namespace apps
