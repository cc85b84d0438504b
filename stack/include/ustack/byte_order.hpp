// Byte order: fixed-width unsigned integers loaded from and stored to bytes, big-endian (network
// byte order: RFC 791 Appendix B, RFC 9293 §3.1 "in network byte order") or little-endian
// (SipHash's words, isn.cpp), whatever the host's own order and at any alignment.
//
// One home for every such helper in the tree (base, codec, engine, apps); standard library only
// and constexpr, so it serves in constant expressions and tests as well as on the data path.
//
//   load_be16(p) / load_be32(p) / load_be64(p)         the integer whose bytes start at p
//   store_be16(p, v) / store_be32(p, v) / store_be64(p, v)
//   load_le64(p, n = 8)                                 n <= 8 bytes, the first the lowest
//   store_le64(p, v)
//   byteswap16(v)                                       the two bytes of v exchanged
//
// p points at std::byte, unsigned char (std::uint8_t) or char. Each function has a span form,
// e.g. load_be32(span, at) / store_be32(span, at, v), which asserts that the bytes it touches lie
// inside the span.
#pragma once

#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace ustack {

template <class B>
concept ByteLike =
    std::same_as<std::remove_const_t<B>, std::byte> || std::same_as < std::remove_const_t<B>,
unsigned char > || std::same_as<std::remove_const_t<B>, char>;

namespace byte_order_detail {

template <ByteLike B>
constexpr std::uint8_t octet(B b) noexcept {
    return static_cast<std::uint8_t>(b);
}

template <std::unsigned_integral T, ByteLike B>
constexpr T load_be(const B* p) noexcept {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | octet(p[i]));
    return v;
}

template <std::unsigned_integral T, ByteLike B>
constexpr void store_be(B* p, T v) noexcept {
    for (std::size_t i = sizeof(T); i-- > 0;) {
        p[i] = static_cast<B>(static_cast<std::uint8_t>(v & 0xffU));
        v = static_cast<T>(v >> 8);
    }
}

template <class B, std::size_t E>
constexpr void check_room(std::span<B, E> b, std::size_t at, std::size_t n) noexcept {
    assert(at <= b.size() && n <= b.size() - at && "byte_order: access outside the span");
    (void)b;
    (void)at;
    (void)n;
}

}  // namespace byte_order_detail

// ---- big-endian (network byte order) --------------------------------------------------------

template <ByteLike B>
constexpr std::uint16_t load_be16(const B* p) noexcept {
    return byte_order_detail::load_be<std::uint16_t>(p);
}
template <ByteLike B>
constexpr std::uint32_t load_be32(const B* p) noexcept {
    return byte_order_detail::load_be<std::uint32_t>(p);
}
template <ByteLike B>
constexpr std::uint64_t load_be64(const B* p) noexcept {
    return byte_order_detail::load_be<std::uint64_t>(p);
}
template <ByteLike B>
constexpr void store_be16(B* p, std::uint16_t v) noexcept {
    byte_order_detail::store_be(p, v);
}
template <ByteLike B>
constexpr void store_be32(B* p, std::uint32_t v) noexcept {
    byte_order_detail::store_be(p, v);
}
template <ByteLike B>
constexpr void store_be64(B* p, std::uint64_t v) noexcept {
    byte_order_detail::store_be(p, v);
}

// ---- little-endian --------------------------------------------------------------------------

// The first n (<= 8) bytes at p as a little-endian integer: byte i is bits 8i..8i+7.
template <ByteLike B>
constexpr std::uint64_t load_le64(const B* p, std::size_t n = 8) noexcept {
    assert(n <= 8 && "load_le64: at most 8 bytes");
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v |= std::uint64_t{byte_order_detail::octet(p[i])} << (8 * i);
    }
    return v;
}
template <ByteLike B>
constexpr void store_le64(B* p, std::uint64_t v) noexcept {
    for (std::size_t i = 0; i < 8; ++i) {
        p[i] = static_cast<B>(static_cast<std::uint8_t>((v >> (8 * i)) & 0xffU));
    }
}

// std::byteswap (C++23) for 16 bits.
constexpr std::uint16_t byteswap16(std::uint16_t v) noexcept {
    return static_cast<std::uint16_t>((v >> 8) | (v << 8));
}

// ---- span forms: `at` is the offset of the first byte ---------------------------------------

template <ByteLike B, std::size_t E>
constexpr std::uint16_t load_be16(std::span<B, E> b, std::size_t at) noexcept {
    byte_order_detail::check_room(b, at, 2);
    return load_be16(b.data() + at);
}
template <ByteLike B, std::size_t E>
constexpr std::uint32_t load_be32(std::span<B, E> b, std::size_t at) noexcept {
    byte_order_detail::check_room(b, at, 4);
    return load_be32(b.data() + at);
}
template <ByteLike B, std::size_t E>
constexpr std::uint64_t load_be64(std::span<B, E> b, std::size_t at) noexcept {
    byte_order_detail::check_room(b, at, 8);
    return load_be64(b.data() + at);
}
template <ByteLike B, std::size_t E>
constexpr void store_be16(std::span<B, E> b, std::size_t at, std::uint16_t v) noexcept {
    byte_order_detail::check_room(b, at, 2);
    store_be16(b.data() + at, v);
}
template <ByteLike B, std::size_t E>
constexpr void store_be32(std::span<B, E> b, std::size_t at, std::uint32_t v) noexcept {
    byte_order_detail::check_room(b, at, 4);
    store_be32(b.data() + at, v);
}
template <ByteLike B, std::size_t E>
constexpr void store_be64(std::span<B, E> b, std::size_t at, std::uint64_t v) noexcept {
    byte_order_detail::check_room(b, at, 8);
    store_be64(b.data() + at, v);
}
template <ByteLike B, std::size_t E>
constexpr std::uint64_t load_le64(std::span<B, E> b, std::size_t at, std::size_t n = 8) noexcept {
    byte_order_detail::check_room(b, at, n);
    return load_le64(b.data() + at, n);
}
template <ByteLike B, std::size_t E>
constexpr void store_le64(std::span<B, E> b, std::size_t at, std::uint64_t v) noexcept {
    byte_order_detail::check_room(b, at, 8);
    store_le64(b.data() + at, v);
}

}  // namespace ustack
