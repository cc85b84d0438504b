// The tools' command lines, read strictly: one home for what a number, a size, an address and
// an option's value may be, and for how a bad one is reported. Header only, standard library
// only (linux-bench cannot see ustack/wsp.h).
//
//   number     decimal digits only (no sign, blank, 0x or anything after them), within the
//              range the option states; never a default, a wrap or a truncation
//   size       a number with an optional suffix K, M or G (KiB, MiB, GiB; either case), within
//              its range once the suffix is applied
//   seconds    digits with at most one '.', e.g. 10 or 0.5
//   address    A.B.C.D: four decimal numbers 0..255, one to three digits each
//
// Bad input -- an unknown option, a missing or bad value, a positional argument (no tool takes
// one) -- prints "<tool>: <reason> (see --help)" on stderr and exits with status 2 before the
// tool opens anything.
//
//   apps::CommandLine cl(argc, argv);
//   while (cl.next()) {
//       if (cl.is("--port")) {
//           port = static_cast<unsigned short>(cl.number(1, 65535));
//       } else {
//           cl.unknown();
//       }
//   }
#pragma once

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace apps {

// A decimal number lo..hi with no sign and nothing after it.
[[nodiscard]] inline std::optional<std::uint64_t> parse_number(std::string_view w, std::uint64_t lo,
                                                               std::uint64_t hi) {
    if (w.empty() || w[0] < '0' || w[0] > '9')
        return std::nullopt;  // from_chars would take a '-'
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc{} || end != w.data() + w.size() || v < lo || v > hi)
        return std::nullopt;
    return v;
}

// A number with an optional K, M or G suffix (binary), lo..hi after the suffix.
[[nodiscard]] inline std::optional<std::uint64_t> parse_size(std::string_view w, std::uint64_t lo,
                                                             std::uint64_t hi) {
    unsigned shift = 0;
    if (!w.empty()) {
        switch (w.back()) {
            case 'K':
            case 'k': shift = 10; break;
            case 'M':
            case 'm': shift = 20; break;
            case 'G':
            case 'g': shift = 30; break;
            default: break;
        }
    }
    if (shift != 0)
        w.remove_suffix(1);
    const auto v = parse_number(w, 0, UINT64_MAX >> shift);
    if (!v || (*v << shift) < lo || (*v << shift) > hi)
        return std::nullopt;
    return *v << shift;
}

// A decimal number lo..hi, with a '-' for a negative one.
[[nodiscard]] inline std::optional<std::int64_t> parse_signed(std::string_view w, std::int64_t lo,
                                                              std::int64_t hi) {
    const std::string_view digits = w.starts_with('-') ? w.substr(1) : w;
    if (digits.empty() || digits[0] < '0' || digits[0] > '9')
        return std::nullopt;
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc{} || end != w.data() + w.size() || v < lo || v > hi)
        return std::nullopt;
    return v;
}

// Seconds: digits with at most one '.', lo..hi.
[[nodiscard]] inline std::optional<double> parse_seconds(std::string_view w, double lo, double hi) {
    const std::size_t dot = w.find('.');
    const std::string_view whole = w.substr(0, dot);
    const std::string_view frac = dot == std::string_view::npos ? "" : w.substr(dot + 1);
    auto digits = [](std::string_view d) {
        return d.find_first_not_of("0123456789") == std::string_view::npos;
    };
    if (whole.empty() || !digits(whole) || !digits(frac) ||
        (dot != std::string_view::npos && frac.empty()))
        return std::nullopt;
    double v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc{} || end != w.data() + w.size() || !(v >= lo && v <= hi))
        return std::nullopt;
    return v;
}

// "A.B.C.D" -> its four bytes, first to last.
[[nodiscard]] inline std::optional<std::array<std::uint8_t, 4>> parse_ipv4_bytes(
    std::string_view w) {
    std::array<std::uint8_t, 4> out{};
    for (std::size_t i = 0; i < 4; ++i) {
        const std::size_t dot = i < 3 ? w.find('.') : w.size();
        if (dot == std::string_view::npos || dot == 0 || dot > 3)
            return std::nullopt;
        const auto v = parse_number(w.substr(0, dot), 0, 255);
        if (!v)
            return std::nullopt;
        out[i] = static_cast<std::uint8_t>(*v);
        w.remove_prefix(i < 3 ? dot + 1 : dot);
    }
    return out;
}

// A word of the command line, safe to echo: printable ASCII, at most 40 characters, quoted.
[[nodiscard]] inline std::string quote_arg(std::string_view w) {
    std::string r = "'";
    for (std::size_t i = 0; i < w.size() && i < 40; ++i)
        r += (w[i] >= 0x20 && w[i] < 0x7f) ? w[i] : '?';
    if (w.size() > 40)
        r += "...";
    return r + "'";
}

// argv, read left to right: the current argument is an option, its value (if it takes one) is
// the next argument, whatever it looks like.
class CommandLine {
public:
    CommandLine(int argc, char** argv) {
        const std::string_view prog = argc > 0 && argv[0] != nullptr ? argv[0] : "ustack";
        const std::size_t slash = prog.rfind('/');
        tool_ = std::string(slash == std::string_view::npos ? prog : prog.substr(slash + 1));
        for (int i = 1; i < argc; ++i) args_.emplace_back(argv[i]);
    }

    // The program's name (argv[0] without its directory), for messages.
    const std::string& tool() const { return tool_; }

    // Move to the next argument; false when none is left.
    bool next() {
        if (next_ >= args_.size())
            return false;
        arg_ = args_[next_++];
        return true;
    }
    const std::string& arg() const { return arg_; }
    bool is(std::string_view option) const { return arg_ == option; }

    // The current option's value: the next argument (fails if there is none).
    std::string value() {
        if (next_ >= args_.size())
            fail(arg_ + " needs a value");
        return args_[next_++];
    }
    std::uint64_t number(std::uint64_t lo, std::uint64_t hi) {
        const std::string v = value();
        const auto n = parse_number(v, lo, hi);
        if (!n)
            bad(v, std::to_string(lo) + ".." + std::to_string(hi));
        return *n;
    }
    std::int64_t signed_number(std::int64_t lo, std::int64_t hi) {
        const std::string v = value();
        const auto n = parse_signed(v, lo, hi);
        if (!n)
            bad(v, std::to_string(lo) + ".." + std::to_string(hi));
        return *n;
    }
    // `range` says the bounds as the help does (e.g. "0..1G").
    std::uint64_t size(std::uint64_t lo, std::uint64_t hi, std::string_view range) {
        const std::string v = value();
        const auto n = parse_size(v, lo, hi);
        if (!n)
            bad(v, std::string(range) + ", suffix K, M or G");
        return *n;
    }
    double seconds(double lo, double hi, std::string_view range) {
        const std::string v = value();
        const auto n = parse_seconds(v, lo, hi);
        if (!n)
            bad(v, std::string(range) + " seconds");
        return *n;
    }
    std::array<std::uint8_t, 4> ipv4() {
        const std::string v = value();
        const auto a = parse_ipv4_bytes(v);
        if (!a)
            bad(v, "A.B.C.D");
        return *a;
    }
    // One of `names` (e.g. {"error", "info", "debug"}).
    std::string choice(std::initializer_list<std::string_view> names) {
        const std::string v = value();
        std::string all;
        for (const std::string_view n : names) {
            if (v == n)
                return v;
            if (!all.empty())
                all += '|';
            all.append(n);
        }
        bad(v, all);
    }

    // "<tool>: <why> (see --help)" on stderr, exit status 2.
    [[noreturn]] void fail(const std::string& why) const {
        std::fprintf(stderr, "%s: %s (see --help)\n", tool_.c_str(), why.c_str());
        std::exit(2);
    }
    // The current argument is no option of this tool.
    [[noreturn]] void unknown() const {
        fail(std::string(arg_.starts_with('-') ? "unknown option " : "unexpected argument ") +
             quote_arg(arg_));
    }

private:
    [[noreturn]] void bad(const std::string& v, const std::string& want) const {
        fail("bad " + arg_ + " " + quote_arg(v) + " (" + want + ")");
    }

    std::string tool_;
    std::vector<std::string> args_;
    std::size_t next_ = 0;
    std::string arg_;
};

}  // namespace apps
