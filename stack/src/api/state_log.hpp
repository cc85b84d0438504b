// The host's state log (WSPHOSTCONFIG::state_log_path): one JSON object per line, for the
// ladder diagram of a teardown and anyone else who wants the truth only the engine has --
//
//   every state change of every connection, with what caused it (the Stack's record,
//   StackConfig::record_state_changes: a segment with its flags, SEQ, ACK and length; an
//   application call; a timer):
//     {"t_us":52311,"type":"state","local":"10.0.1.2:40000","remote":"10.0.2.2:7000",
//      "from":"FIN-WAIT-2","to":"TIME-WAIT","cause":"segment",
//      "seg":{"flags":"FIN,ACK","seq":5012,"ack":1043,"len":0}}
//   and the API calls and events an observer wants on the picture:
//     {"t_us":51007,"type":"api","local":...,"remote":...,"call":"WSPSendDisconnect",
//      "data":"0000000000002b19"}
//     calls: WSPShutdown (how), WSPSendDisconnect / WSPRecvDisconnect (data, hex),
//     WSPCloseSocket (linger: "off", "abortive" or seconds), linger-expired, FD_CLOSE (error),
//     WSPRecv returning 0 ("result":"0") or failing WSAEDISCON / WSAECONNRESET / ...
//   and the device failing or working again (HostCore::link_changed):
//     {"t_us":90210,"type":"device","state":"down"}
//
// t_us is the host's clock (HostDriver::now, microseconds). Lines are built here, under the
// API lock, and taken by the driver (HostCore::take_state_log), which writes them: the WSP
// layer touches no file. At most kMaxPendingLines wait between two takes; beyond, lines are
// dropped and counted (state_log_dropped in WSPFormatHostStats).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "ustack/errc.hpp"
#include "ustack/time.hpp"
#include "ustack/wsp.h"

namespace ustack {

inline constexpr std::size_t kMaxPendingStateLines = std::size_t{1} << 16;

class Host;
struct Socket;
struct SocketId;

// Turn the Stack's state changes since the last call into lines stamped with the host's now.
void log_state_changes(Host& h);
// One "api" line for socket `s` (its connection's endpoints, if it has one); `fields` is
// what follows "call" -- comma-separated "name":value pairs, or empty. The state changes the
// call made come after it (the next log_state_changes).
void log_call(Host& h, const Socket& s, std::string_view call, std::string_view fields = {});
// WSPRecv's outcome, when it ends the stream: 0 bytes into a non-empty buffer (the peer's
// FIN), or an error that ends the connection (WSAEDISCON, WSAECONNRESET, ...).
void log_recv_outcome(Host& h, SocketId id, Errc e, std::size_t received,
                      std::span<const WSABUF> bufs);
// The host's device failed (up false) or works again: {"type":"device","state":"down"|"up"}.
void log_link(Host& h, Instant now, bool up);
// A JSON string of bytes as hex ("0a1b").
std::string hex_field(std::string_view name, const void* data, std::size_t len);

}  // namespace ustack
