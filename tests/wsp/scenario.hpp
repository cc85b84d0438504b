// The transaction-total scenario's values (SEMANTICS.md §1.1): 8-byte amounts and totals, and
// the server's "grand total" (step 4: anything the client can check).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace wsptest {

inline std::string bytes64(std::uint64_t v) {
    std::string s(8, '\0');
    std::memcpy(s.data(), &v, 8);
    return s;
}
inline std::uint64_t load64(const std::string& s, std::size_t at = 0) {
    std::uint64_t v = 0;
    std::memcpy(&v, s.data() + at, 8);
    return v;
}
inline std::uint64_t grand_of(std::uint64_t total) {
    return total * 3 + 0x1234;
}

}  // namespace wsptest
