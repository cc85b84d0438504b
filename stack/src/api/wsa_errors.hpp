// The one mapping from engine results to Winsock error codes (STYLE.md §3 item 11), and the
// SPI's return convention.
#pragma once

#include "ustack/connection.hpp"
#include "ustack/errc.hpp"
#include "ustack/wsp.h"

namespace ustack {

// Errc -> WSAE* (wsa_errors.cpp).
[[nodiscard]] int wsa_error(Errc e);
// The WSAE* code a CloseReason reports on FD_CLOSE (0 for graceful).
[[nodiscard]] int close_event_error(CloseReason r);
// Why a connect attempt failed, as the engine's Errc.
[[nodiscard]] Errc connect_errc(CloseReason r);

// The SPI convention: SOCKET_ERROR with *lpErrno, or 0 with *lpErrno cleared.
inline int fail(LPINT err, int code) {
    if (err != nullptr) {
        *err = code;
    }
    return SOCKET_ERROR;
}
inline int fail(LPINT err, Errc e) {
    return fail(err, wsa_error(e));
}
inline int succeed(LPINT err) {
    if (err != nullptr) {
        *err = 0;
    }
    return 0;
}
// Errc::ok -> 0, anything else -> SOCKET_ERROR with its code.
inline int result(LPINT err, Errc e) {
    return e == Errc::ok ? succeed(err) : fail(err, e);
}

}  // namespace ustack
