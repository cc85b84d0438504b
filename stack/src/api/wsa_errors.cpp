// The one mapping from engine results to Winsock error codes (STYLE.md §3 item 11).
#include "wsa_errors.hpp"

namespace ustack {

int wsa_error(Errc e) {
    switch (e) {
        case Errc::ok: return 0;
        case Errc::would_block: return WSAEWOULDBLOCK;
        case Errc::not_connected: return WSAENOTCONN;
        case Errc::already_connected: return WSAEISCONN;
        case Errc::in_progress: return WSAEALREADY;
        case Errc::shutdown:
        case Errc::closing: return WSAESHUTDOWN;
        case Errc::reset: return WSAECONNRESET;
        case Errc::aborted: return WSAECONNABORTED;
        case Errc::timed_out: return WSAETIMEDOUT;
        // "the connection has been broken due to keep-alive activity" (WSAENETRESET).
        case Errc::net_reset: return WSAENETRESET;
        // "the network subsystem has failed": the host's device is gone.
        case Errc::net_down: return WSAENETDOWN;
        case Errc::refused: return WSAECONNREFUSED;
        case Errc::msg_size: return WSAEMSGSIZE;
        case Errc::no_proto_opt: return WSAENOPROTOOPT;
        case Errc::invalid_argument: return WSAEINVAL;
        case Errc::addr_in_use: return WSAEADDRINUSE;
        case Errc::addr_not_available: return WSAEADDRNOTAVAIL;
        case Errc::no_buffers: return WSAENOBUFS;
        case Errc::not_listening: return WSAEINVAL;
        case Errc::interrupted: return WSAEINTR;
        case Errc::too_many_sockets: return WSAEMFILE;
        case Errc::buffer_too_small: return WSAEFAULT;
        case Errc::disconnected:
            return WSAEDISCON;  // SEMANTICS §1.7: message-oriented end
        // LPWSPACCEPT's table: CF_DEFER; "the service provider is still processing a callback
        // function"; "the connection request that was offered has timed out or been withdrawn".
        case Errc::try_again: return WSATRY_AGAIN;
        case Errc::callback_running: return WSAEINPROGRESS;
        case Errc::withdrawn: return WSAEACCES;
    }
    return WSAEINVAL;
}

int close_event_error(CloseReason r) {
    switch (r) {
        case CloseReason::none:
        case CloseReason::graceful: return 0;
        case CloseReason::reset:
            return WSAECONNRESET;  // SEMANTICS.md §1.8
        // "terminated due to a time-out or other failure" (SEMANTICS.md checklist 42).
        case CloseReason::keepalive_failed: return WSAENETRESET;
        case CloseReason::network_down: return WSAENETDOWN;
        case CloseReason::timed_out:
        case CloseReason::aborted:
        case CloseReason::refused:
        case CloseReason::connect_data_refused: return WSAECONNABORTED;
    }
    return WSAECONNABORTED;
}

Errc connect_errc(CloseReason r) {
    switch (r) {
        case CloseReason::refused: return Errc::refused;
        // DESIGN.md §3c: the SYN-ACK did not echo our caller data; we reset (not delivered).
        case CloseReason::connect_data_refused: return Errc::no_proto_opt;
        case CloseReason::timed_out: return Errc::timed_out;
        case CloseReason::keepalive_failed: return Errc::net_reset;
        case CloseReason::network_down: return Errc::net_down;
        case CloseReason::reset: return Errc::reset;
        case CloseReason::aborted: return Errc::aborted;
        case CloseReason::none:
        case CloseReason::graceful: break;
    }
    return Errc::aborted;
}

}  // namespace ustack

extern "C" const char* WSPErrorName(int error) {
    switch (error) {
        case 0: return "OK";
        case WSAEINTR: return "WSAEINTR";
        case WSAEBADF: return "WSAEBADF";
        case WSAEACCES: return "WSAEACCES";
        case WSAEFAULT: return "WSAEFAULT";
        case WSAEINVAL: return "WSAEINVAL";
        case WSAEMFILE: return "WSAEMFILE";
        case WSAEWOULDBLOCK: return "WSAEWOULDBLOCK";
        case WSAEINPROGRESS: return "WSAEINPROGRESS";
        case WSAEALREADY: return "WSAEALREADY";
        case WSAENOTSOCK: return "WSAENOTSOCK";
        case WSAEDESTADDRREQ: return "WSAEDESTADDRREQ";
        case WSAEMSGSIZE: return "WSAEMSGSIZE";
        case WSAEPROTOTYPE: return "WSAEPROTOTYPE";
        case WSAENOPROTOOPT: return "WSAENOPROTOOPT";
        case WSAEPROTONOSUPPORT: return "WSAEPROTONOSUPPORT";
        case WSAESOCKTNOSUPPORT: return "WSAESOCKTNOSUPPORT";
        case WSAEOPNOTSUPP: return "WSAEOPNOTSUPP";
        case WSAEAFNOSUPPORT: return "WSAEAFNOSUPPORT";
        case WSAEADDRINUSE: return "WSAEADDRINUSE";
        case WSAEADDRNOTAVAIL: return "WSAEADDRNOTAVAIL";
        case WSAENETDOWN: return "WSAENETDOWN";
        case WSAENETUNREACH: return "WSAENETUNREACH";
        case WSAENETRESET: return "WSAENETRESET";
        case WSAECONNABORTED: return "WSAECONNABORTED";
        case WSAECONNRESET: return "WSAECONNRESET";
        case WSAENOBUFS: return "WSAENOBUFS";
        case WSAEISCONN: return "WSAEISCONN";
        case WSAENOTCONN: return "WSAENOTCONN";
        case WSAESHUTDOWN: return "WSAESHUTDOWN";
        case WSAETIMEDOUT: return "WSAETIMEDOUT";
        case WSAECONNREFUSED: return "WSAECONNREFUSED";
        case WSAEHOSTUNREACH: return "WSAEHOSTUNREACH";
        case WSASYSNOTREADY: return "WSASYSNOTREADY";
        case WSAVERNOTSUPPORTED: return "WSAVERNOTSUPPORTED";
        case WSANOTINITIALISED: return "WSANOTINITIALISED";
        case WSAEDISCON: return "WSAEDISCON";
        case WSATRY_AGAIN: return "WSATRY_AGAIN";
        default: return "WSA?";
    }
}
