"""Type stubs of the ustack package (python/ustack/__init__.py over the _ustack extension)."""

import os
from types import TracebackType
from typing import Callable, Iterable, Literal, Optional, Sequence, Tuple, TypedDict, Union

Address = Tuple[str, int]
Buffer = Union[bytes, bytearray, memoryview]
ConditionResult = Union[int, Tuple[int, Optional[Buffer]]]
Condition = Callable[[Optional[Address], Optional[bytes]], ConditionResult]

AF_INET: int
CF_ACCEPT: int
CF_DEFER: int
CF_REJECT: int
FD_ACCEPT: int
FD_ACCEPT_BIT: int
FD_ALL_EVENTS: int
FD_CLOSE: int
FD_CLOSE_BIT: int
FD_CONNECT: int
FD_CONNECT_BIT: int
FD_MAX_EVENTS: int
FD_OOB: int
FD_OOB_BIT: int
FD_READ: int
FD_READ_BIT: int
FD_WRITE: int
FD_WRITE_BIT: int
FIONBIO: int
FIONREAD: int
INADDR_ANY: int
IPPROTO_TCP: int
MSG_PARTIAL: int
SD_BOTH: int
SD_RECEIVE: int
SD_SEND: int
SIO_KEEPALIVE_VALS: int
SIO_TCP_INFO: int
SOCK_SEQPACKET: int
SOCK_STREAM: int
SOL_SOCKET: int
SO_CONDITIONAL_ACCEPT: int
SO_KEEPALIVE: int
SO_RCVTIMEO: int
SO_SNDTIMEO: int
SO_CONNDATA: int
SO_CONNDATALEN: int
SO_CONNOPT: int
SO_DISCDATA: int
SO_DISCDATALEN: int
SO_DONTLINGER: int
SO_ERROR: int
SO_LINGER: int
SO_MAX_MSG_SIZE: int
SO_PROTOCOL_INFO: int
SO_PROTOCOL_INFOA: int
SO_RCVBUF: int
SO_SNDBUF: int
SO_TYPE: int
TCPSTATE_CLOSED: int
TCPSTATE_CLOSE_WAIT: int
TCPSTATE_CLOSING: int
TCPSTATE_ESTABLISHED: int
TCPSTATE_FIN_WAIT_1: int
TCPSTATE_FIN_WAIT_2: int
TCPSTATE_LAST_ACK: int
TCPSTATE_LISTEN: int
TCPSTATE_SYN_RCVD: int
TCPSTATE_SYN_SENT: int
TCPSTATE_TIME_WAIT: int
TCP_NODELAY: int
USTACK_TCP_INFO_VERSION: int
WSABASEERR: int
WSAEACCES: int
WSAEADDRINUSE: int
WSAEADDRNOTAVAIL: int
WSAEAFNOSUPPORT: int
WSAEALREADY: int
WSAEBADF: int
WSAECONNABORTED: int
WSAECONNREFUSED: int
WSAECONNRESET: int
WSAEDESTADDRREQ: int
WSAEDISCON: int
WSAEFAULT: int
WSAEHOSTUNREACH: int
WSAEINPROGRESS: int
WSAEINTR: int
WSAEINVAL: int
WSAEISCONN: int
WSAEMFILE: int
WSAEMSGSIZE: int
WSAENETDOWN: int
WSAENETRESET: int
WSAENETUNREACH: int
WSAENOBUFS: int
WSAENOPROTOOPT: int
WSAENOTCONN: int
WSAENOTSOCK: int
WSAEOPNOTSUPP: int
WSAEPROTONOSUPPORT: int
WSAEPROTOTYPE: int
WSAESHUTDOWN: int
WSAESOCKTNOSUPPORT: int
WSAETIMEDOUT: int
WSAEWOULDBLOCK: int
WSANOTINITIALISED: int
WSASYSNOTREADY: int
WSATRY_AGAIN: int
WSAVERNOTSUPPORTED: int
WSA_INFINITE: int
WSA_MAXIMUM_WAIT_EVENTS: int
WSA_WAIT_EVENT_0: int
WSA_WAIT_FAILED: int
WSA_WAIT_TIMEOUT: int
WSP_FD_SETSIZE: int
XP1_CONNECT_DATA: int
XP1_DISCONNECT_DATA: int
XP1_GRACEFUL_CLOSE: int
XP1_MESSAGE_ORIENTED: int
XP1_PARTIAL_MESSAGE: int

class WSAError(OSError):
    code: int
    name: str
    description: str
    def __init__(self, code: int, name: str, description: str) -> None: ...

def error_name(code: int) -> str: ...

class MemoryLinkEnd: ...

def create_memory_link(loss: float = 0.0, seed: int = 1,
                       delay_us: int = 0) -> Tuple[MemoryLinkEnd, MemoryLinkEnd]: ...

class TcpInfo(TypedDict, total=False):
    state: int
    state_name: str
    mss: int
    connection_time_ms: int
    timestamps_enabled: bool
    rtt_us: int
    min_rtt_us: int
    bytes_in_flight: int
    cwnd: int
    snd_wnd: int
    rcv_wnd: int
    rcv_buf: int
    bytes_out: int
    bytes_in: int
    bytes_reordered: int
    bytes_retrans: int
    fast_retrans: int
    dup_acks_in: int
    timeout_episodes: int
    syn_retrans: int
    # USTACK_TCP_INFO_VERSION only:
    sack_enabled: bool
    window_scaling_enabled: bool
    snd_wind_shift: int
    rcv_wind_shift: int
    rttvar_us: int
    rto_us: int
    ssthresh: int
    snd_buf: int
    segs_out: int
    segs_in: int
    retransmits: int

class ProtocolInfo(TypedDict):
    service_flags: int
    address_family: int
    socket_type: int
    protocol: int
    message_size: int
    max_sockaddr: int
    min_sockaddr: int
    version: int
    protocol_name: str

OptionValue = Union[int, bool, Tuple[int, int], Buffer, None]

class Event:
    def __init__(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def set(self) -> bool: ...
    def reset(self) -> bool: ...
    def wait(self, timeout_ms: Optional[int] = None) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Event: ...
    def __exit__(self, t: Optional[type], v: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]: ...

def wait_for_multiple_events(events: Sequence[Event], wait_all: bool = False,
                             timeout_ms: Optional[int] = None) -> Optional[int]: ...

class Socket:
    @property
    def type(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def fileno(self) -> int: ...
    def bind(self, address: Address) -> None: ...
    def listen(self, backlog: int = 16) -> None: ...
    def accept(self, condition: Optional[Condition] = None,
               timeout: Optional[float] = None) -> Tuple[Socket, Address]: ...
    def connect(self, address: Address,
                caller_data: Optional[Buffer] = None) -> Optional[bytes]: ...
    def send(self, data: Buffer, flags: int = 0) -> int: ...
    def send_gather(self, buffers: Iterable[Buffer], flags: int = 0) -> int: ...
    def sendall(self, data: Buffer) -> None: ...
    def recv(self, bufsize: int, flags: int = 0) -> bytes: ...
    def recv_with_flags(self, bufsize: int, flags: int = 0) -> Tuple[bytes, int]: ...
    def shutdown(self, how: int) -> None: ...
    def send_disconnect(self, data: Optional[Buffer] = b"") -> None: ...
    def recv_disconnect(self, bufsize: int = 64) -> bytes: ...
    def close(self) -> None: ...
    def set_linger(self, onoff: bool, seconds: int = 0) -> None: ...
    def set_nonblocking(self, flag: bool) -> None: ...
    def fionread(self) -> int: ...
    def setsockopt(self, level: int, optname: int, value: OptionValue) -> None: ...
    def getsockopt(self, level: int, optname: int,
                   buflen: Optional[int] = None) -> Union[int, Tuple[int, int], bytes,
                                                          ProtocolInfo]: ...
    def getsockname(self) -> Address: ...
    def getpeername(self) -> Address: ...
    def event_select(self, event: Optional[Event], mask: int) -> None: ...
    def enum_network_events(self, event: Optional[Event] = None) -> Tuple[int, dict[int, int]]: ...
    def tcp_info(self, version: int = ...) -> TcpInfo: ...
    def set_keepalive_vals(self, onoff: bool, time_ms: int, interval_ms: int) -> None: ...
    def __enter__(self) -> Socket: ...
    def __exit__(self, t: Optional[type], v: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]: ...

def select(readable: Sequence[Socket], writable: Sequence[Socket] = ...,
           exceptional: Sequence[Socket] = ..., timeout: Optional[float] = None
           ) -> Tuple[list[Socket], list[Socket], list[Socket]]: ...

class Host:
    def __init__(self, *, addr: str, tun_name: Optional[str] = None,
                 device: Optional[MemoryLinkEnd] = None, prefix_len: int = 24,
                 gateway: Optional[str] = None, disconnect_data: bool = True, msl_ms: int = 0,
                 cleanup_timeout_ms: int = 0, pcap: Union[str, os.PathLike[str], None] = None,
                 state_log: Union[str, os.PathLike[str], None] = None,
                 congestion: Optional[str] = None, recv_buffer: int = 0, send_buffer: int = 0,
                 isn_seed: int = 0, no_offload: bool = False,
                 max_message_size: int = 0, keepalive: bool = False,
                 keepalive_time_ms: int = 0, keepalive_interval_ms: int = 0,
                 create_tun: bool = False, reattach: bool = False,
                 max_connections: int = 0) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def service_flags(self) -> int: ...
    def stats(self) -> dict[str, Union[int, str]]: ...
    def socket(self, type: int = ..., protocol: int = ...) -> Socket: ...
    def close(self) -> None: ...
    def __enter__(self) -> Host: ...
    def __exit__(self, t: Optional[type], v: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]: ...

def memory_pair(addr_a: str = "10.9.0.1", addr_b: str = "10.9.0.2", *, loss: float = 0.0,
                seed: int = 1, delay_us: int = 0, prefix_len: int = 24,
                gateway: Optional[str] = None, disconnect_data: bool = True, msl_ms: int = 0,
                cleanup_timeout_ms: int = 0, pcap: Union[str, os.PathLike[str], None] = None,
                state_log: Union[str, os.PathLike[str], None] = None,
                congestion: Optional[str] = None, recv_buffer: int = 0, send_buffer: int = 0,
                isn_seed: int = 0, no_offload: bool = False,
                max_message_size: int = 0, keepalive: bool = False,
                keepalive_time_ms: int = 0, keepalive_interval_ms: int = 0) -> Tuple[Host, Host]: ...
