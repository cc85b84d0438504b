/* ustack WSP-style socket API: the Winsock service-provider interface (SPI) shapes, over ustack.
 *
 * Every function returns 0 (or a SOCKET) on success and SOCKET_ERROR (or INVALID_SOCKET) on
 * failure, with the WSAE* code in *lpErrno -- the SPI convention. Values of constants and error
 * codes are Winsock's (winsock2.h / mswsock.h). Semantics: ../shared/DESIGN.md §4 and the
 * README's "Socket API" section.
 *
 * Do not include <sys/socket.h> or <netinet/in.h> in the same translation unit: this header
 * defines SOL_SOCKET, SO_LINGER, AF_INET, ... with Winsock's values.
 *
 * Thread safety: any function may be called from any thread. Blocking calls sleep until their
 * condition holds; closing a socket wakes calls blocked on it (they fail with WSAEINTR).
 */
#ifndef USTACK_WSP_H
#define USTACK_WSP_H

#include <stddef.h>
#include <stdint.h>

/* The socket-option and address-family names below carry Winsock's values, which differ from
 * <sys/socket.h>'s: never include both in one translation unit. */
#if defined(SOL_SOCKET) && SOL_SOCKET != 0xffff
#error "ustack/wsp.h: <sys/socket.h> was included first; keep them in separate files"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- basic types ------------------------------------------------------------------------- */
typedef uintptr_t SOCKET;
typedef int INT;
typedef int* LPINT;
typedef uint32_t DWORD;
typedef uint32_t* LPDWORD;
typedef int BOOL;
typedef unsigned short u_short;
typedef unsigned long u_long;
typedef char CHAR;
typedef uint32_t ULONG; /* 32 bits, as on Windows (unlike u_long below) */
typedef uintptr_t DWORD_PTR;
typedef unsigned int GROUP; /* socket groups (winsock2.h); ustack has none: always 0 */

/* Winsock's calling convention for callbacks (__stdcall on 32-bit Windows); nothing here. */
#ifndef CALLBACK
#define CALLBACK
#endif

#ifdef __cplusplus
#define INVALID_SOCKET (~static_cast<SOCKET>(0))
#else
#define INVALID_SOCKET (~(SOCKET)0)
#endif
#define SOCKET_ERROR (-1)

typedef struct _WSABUF {
    u_long len; /* the length of the buffer */
    CHAR* buf;  /* the pointer to the buffer */
} WSABUF, *LPWSABUF;

/* Quality of service (winsock2.h / qos.h), only so the SPI shapes are Winsock's: ustack
 * negotiates no QOS, and every call that takes one wants NULL (WSAEOPNOTSUPP otherwise). */
typedef ULONG SERVICETYPE;
typedef struct _flowspec {
    ULONG TokenRate;
    ULONG TokenBucketSize;
    ULONG PeakBandwidth;
    ULONG Latency;
    ULONG DelayVariation;
    SERVICETYPE ServiceType;
    ULONG MaxSduSize;
    ULONG MinimumPolicedSize;
} FLOWSPEC, *LPFLOWSPEC;
typedef struct _QualityOfService {
    FLOWSPEC SendingFlowspec;
    FLOWSPEC ReceivingFlowspec;
    WSABUF ProviderSpecific;
} QOS, *LPQOS;

typedef struct linger {
    u_short l_onoff;  /* option on/off */
    u_short l_linger; /* linger time, seconds */
} LINGER, *LPLINGER;

/* IPv4 addresses, laid out as Winsock's (and BSD's) sockaddr_in; port and address in network
 * byte order. The struct tags are ustack_* so this header can coexist with system headers that
 * define struct sockaddr; the typedef names are Winsock's. */
#define AF_INET 2
#define SOCK_STREAM 1
#define SOCK_SEQPACKET 5 /* message-oriented TCP (DESIGN.md §3b) */
#define IPPROTO_TCP 6
#define INADDR_ANY 0x00000000u

typedef struct ustack_sockaddr {
    u_short sa_family;
    CHAR sa_data[14];
} SOCKADDR, *LPSOCKADDR;

typedef struct ustack_in_addr {
    uint32_t s_addr;
} IN_ADDR;

typedef struct ustack_sockaddr_in {
    short sin_family;
    u_short sin_port;
    IN_ADDR sin_addr;
    CHAR sin_zero[8];
} SOCKADDR_IN;

/* ---- shutdown, options, ioctls ----------------------------------------------------------- */
#define SD_RECEIVE 0x00
#define SD_SEND 0x01
#define SD_BOTH 0x02

#define SOL_SOCKET 0xffff
#define SO_KEEPALIVE \
    0x0008 /* BOOL: probe an idle peer (RFC 1122 §4.2.3.6; see SIO_KEEPALIVE_VALS) */
#define SO_LINGER 0x0080
#define SO_DONTLINGER (~SO_LINGER)
#define SO_SNDBUF 0x1001
#define SO_RCVBUF 0x1002
/* DWORD ms (0: never): a blocking send / receive fails WSAETIMEDOUT after this long. */
#define SO_SNDTIMEO 0x1005
#define SO_RCVTIMEO 0x1006
#define SO_ERROR 0x1007
#define SO_TYPE 0x1008
/* mswsock.h's connect- and disconnect-data options (DESIGN.md §3, §3c): */
#define SO_CONNDATA                                                                     \
    0x7000                 /* read: the peer's connect data (caller data on an accepted \
                              socket, callee data on a connected one); *optlen its length */
#define SO_CONNOPT 0x7001  /* not supported (WSAENOPROTOOPT) */
#define SO_DISCDATA 0x7002 /* not supported (WSAENOPROTOOPT): use WSPRecvDisconnect */
#define SO_CONNDATALEN                                                                        \
    0x7004                    /* read: the most connect data a SYN (SYN-ACK) of this socket's \
                                 type can carry (0: the host has no connect data) */
#define SO_DISCDATALEN 0x7006 /* read: the most disconnect data a FIN can carry (0: none) */
/* BOOL, on a socket before WSPListen (WSAEINVAL after): hold each SYN unanswered until
 * WSPAccept's condition function decides on it (DESIGN.md §3c). Default FALSE. */
#define SO_CONDITIONAL_ACCEPT 0x3002
#define SO_MAX_MSG_SIZE 0x2003   /* SOCK_SEQPACKET: the largest message (read only) */
#define SO_PROTOCOL_INFOA 0x2004 /* the socket's WSAPROTOCOL_INFOA (read only) */
#define SO_PROTOCOL_INFO SO_PROTOCOL_INFOA

/* WSPRecv *lpFlags on return: the message continues in the next call (SOCK_SEQPACKET). */
#define MSG_PARTIAL 0x8000
#define TCP_NODELAY 0x0001

#define FIONREAD 0x4004667F
#define FIONBIO 0x8004667E
/* _WSAIOW(IOC_VENDOR, 4) (mstcpip.h): keep-alive on or off, with its idle time and probe
 * interval, in a struct tcp_keepalive. After 10 unanswered probes (Windows' count) the
 * connection ends: FD_CLOSE and blocked or later calls fail WSAENETRESET. */
#define SIO_KEEPALIVE_VALS 0x98000004u
struct tcp_keepalive {
    ULONG onoff;             /* nonzero: on */
    ULONG keepalivetime;     /* ms without receiving anything before the first probe (> 0) */
    ULONG keepaliveinterval; /* ms between unanswered probes (> 0) */
};
/* _WSAIORW(IOC_VENDOR, 39) (mstcpip.h): TCP statistics of a socket, see TCP_INFO_v0 below. */
#define SIO_TCP_INFO 0xD8000027u

/* XP1_* service flags (WSAPROTOCOL_INFO.dwServiceFlags1), see WSPGetServiceFlags and
 * SO_PROTOCOL_INFO. */
#define XP1_MESSAGE_ORIENTED 0x00000008
#define XP1_GRACEFUL_CLOSE 0x00000020
#define XP1_CONNECT_DATA 0x00000080
#define XP1_DISCONNECT_DATA 0x00000100
#define XP1_PARTIAL_MESSAGE 0x00040000

/* WSAPROTOCOL_INFOA (winsock2.h), as WSPGetSockOpt(SOL_SOCKET, SO_PROTOCOL_INFO) fills it. */
typedef struct ustack_guid {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    unsigned char Data4[8];
} GUID;
#define MAX_PROTOCOL_CHAIN 7
typedef struct _WSAPROTOCOLCHAIN {
    int ChainLen; /* 1: a base protocol */
    DWORD ChainEntries[MAX_PROTOCOL_CHAIN];
} WSAPROTOCOLCHAIN;
#define WSAPROTOCOL_LEN 255
typedef struct _WSAPROTOCOL_INFOA {
    DWORD dwServiceFlags1; /* XP1_* */
    DWORD dwServiceFlags2;
    DWORD dwServiceFlags3;
    DWORD dwServiceFlags4;
    DWORD dwProviderFlags;
    GUID ProviderId;
    DWORD dwCatalogEntryId;
    WSAPROTOCOLCHAIN ProtocolChain;
    int iVersion;
    int iAddressFamily; /* AF_INET */
    int iMaxSockAddr;
    int iMinSockAddr;
    int iSocketType; /* SOCK_STREAM or SOCK_SEQPACKET */
    int iProtocol;   /* IPPROTO_TCP */
    int iProtocolMaxOffset;
    int iNetworkByteOrder; /* 0: big-endian */
    int iSecurityScheme;
    DWORD dwMessageSize; /* SOCK_SEQPACKET: SO_MAX_MSG_SIZE; 0 for a stream */
    DWORD dwProviderReserved;
    CHAR szProtocol[WSAPROTOCOL_LEN + 1];
} WSAPROTOCOL_INFOA, WSAPROTOCOL_INFO;

/* ---- TCP state and statistics (WSPIoctl SIO_TCP_INFO) ------------------------------------ */
/* Fixed-width Windows types of mstcpip.h (ULONG, above, is 32 bits there too). */
typedef unsigned char UCHAR;
typedef unsigned char BOOLEAN;
typedef uint64_t ULONG64;

/* TCPSTATE (mstcpip.h): the RFC 9293 §3.3.2 states, in Winsock's numbering. */
typedef enum {
    TCPSTATE_CLOSED = 0,
    TCPSTATE_LISTEN = 1,
    TCPSTATE_SYN_SENT = 2,
    TCPSTATE_SYN_RCVD = 3,
    TCPSTATE_ESTABLISHED = 4,
    TCPSTATE_FIN_WAIT_1 = 5,
    TCPSTATE_FIN_WAIT_2 = 6,
    TCPSTATE_CLOSE_WAIT = 7,
    TCPSTATE_CLOSING = 8,
    TCPSTATE_LAST_ACK = 9,
    TCPSTATE_TIME_WAIT = 10,
    TCPSTATE_MAX = 11
} TCPSTATE;

/* SIO_TCP_INFO with input version 0 (a DWORD): Winsock's TCP_INFO_v0, field for field. */
typedef struct _TCP_INFO_v0 {
    TCPSTATE State;            /* RFC 9293 state of the socket's connection (CLOSED if none) */
    ULONG Mss;                 /* current send MSS, bytes */
    ULONG64 ConnectionTimeMs;  /* since the connection was opened (SYN sent or received), ms */
    BOOLEAN TimestampsEnabled; /* RFC 7323 timestamps negotiated */
    ULONG RttUs;               /* smoothed RTT (RFC 6298 SRTT), us; 0 before the first sample */
    ULONG MinRttUs;            /* smallest RTT sample, us */
    ULONG BytesInFlight;       /* sent, not yet acknowledged (SND.MAX - SND.UNA) */
    ULONG Cwnd;                /* congestion window, bytes */
    ULONG SndWnd;              /* SND.WND: the peer's window, bytes */
    ULONG RcvWnd;              /* RCV.WND: the window we offer, bytes */
    ULONG RcvBuf;              /* receive buffer (SO_RCVBUF), bytes */
    ULONG64 BytesOut;          /* payload bytes sent, retransmissions included */
    ULONG64 BytesIn;           /* payload bytes received in order */
    ULONG BytesReordered;      /* payload bytes that arrived out of order */
    ULONG BytesRetrans;        /* payload bytes retransmitted */
    ULONG FastRetrans;         /* fast retransmissions (RFC 5681 §3.2, RFC 6675) */
    ULONG DupAcksIn;           /* duplicate ACKs received (RFC 5681 §2) */
    ULONG TimeoutEpisodes;     /* retransmission timeout episodes (RFC 6298 §5) */
    UCHAR SynRetrans;          /* SYN (or SYN-ACK) retransmissions */
} TCP_INFO_v0, *PTCP_INFO_v0;

/* SIO_TCP_INFO with input version USTACK_TCP_INFO_VERSION: TCP_INFO_v0 followed by what it
 * lacks and a student of RFC 9293 / 6298 / 5681 wants to see. (Version 1 is Winsock's
 * TCP_INFO_v1, whose send-limit counters ustack does not keep: WSAEINVAL.) */
#define USTACK_TCP_INFO_VERSION 0x75730001u
typedef struct USTACK_TCP_INFO {
    TCP_INFO_v0 v0;
    BOOLEAN SackEnabled;          /* RFC 2018 SACK negotiated */
    BOOLEAN WindowScalingEnabled; /* RFC 7323 window scaling negotiated */
    UCHAR SndWindShift;           /* the peer's window shift (Snd.Wind.Shift) */
    UCHAR RcvWindShift;           /* ours (Rcv.Wind.Shift) */
    ULONG RttVarUs;               /* RFC 6298 RTTVAR, us */
    ULONG RtoUs;                  /* current retransmission timeout, us */
    ULONG SsThresh;               /* slow-start threshold, bytes (0xFFFFFFFF: none yet) */
    ULONG SndBuf;                 /* send buffer (SO_SNDBUF), bytes */
    ULONG64 SegsOut;              /* segments sent */
    ULONG64 SegsIn;               /* segments received */
    ULONG64 Retransmits;          /* segments retransmitted (timeouts, fast and TLP) */
} USTACK_TCP_INFO;

/* ---- network events ---------------------------------------------------------------------- */
#define FD_READ_BIT 0
#define FD_WRITE_BIT 1
#define FD_OOB_BIT 2
#define FD_ACCEPT_BIT 3
#define FD_CONNECT_BIT 4
#define FD_CLOSE_BIT 5
#define FD_MAX_EVENTS 10
#define FD_READ (1 << FD_READ_BIT)
#define FD_WRITE (1 << FD_WRITE_BIT)
#define FD_OOB (1 << FD_OOB_BIT)
#define FD_ACCEPT (1 << FD_ACCEPT_BIT)
#define FD_CONNECT (1 << FD_CONNECT_BIT)
#define FD_CLOSE (1 << FD_CLOSE_BIT)
#define FD_ALL_EVENTS ((1 << FD_MAX_EVENTS) - 1)

typedef struct _WSANETWORKEVENTS {
    long lNetworkEvents;
    int iErrorCode[FD_MAX_EVENTS];
} WSANETWORKEVENTS, *LPWSANETWORKEVENTS;

/* Event objects (WSACreateEvent & co.): manual-reset events. */
typedef struct ustack_event* WSAEVENT;
#ifdef __cplusplus
#define WSA_INVALID_EVENT (static_cast<WSAEVENT>(nullptr))
#else
#define WSA_INVALID_EVENT ((WSAEVENT)0)
#endif
#define WSA_MAXIMUM_WAIT_EVENTS 64
#define WSA_INFINITE 0xFFFFFFFFu
#define WSA_WAIT_EVENT_0 0u
#define WSA_WAIT_TIMEOUT 258u
#define WSA_WAIT_FAILED 0xFFFFFFFFu

/* WSPSelect sets (Winsock's fd_set layout: a count and an array of handles). */
#define WSP_FD_SETSIZE 64
typedef struct ustack_fd_set {
    unsigned int fd_count;
    SOCKET fd_array[WSP_FD_SETSIZE];
} WSP_FD_SET;
typedef struct ustack_timeval {
    long tv_sec;
    long tv_usec;
} TIMEVAL;

/* ---- error codes (winsock2.h, WSABASEERR + n) -------------------------------------------- */
#define WSABASEERR 10000
#define WSAEINTR 10004
#define WSAEBADF 10009
#define WSAEACCES 10013
#define WSAEFAULT 10014
#define WSAEINVAL 10022
#define WSAEMFILE 10024
#define WSAEWOULDBLOCK 10035
#define WSAEINPROGRESS 10036
#define WSAEALREADY 10037
#define WSAENOTSOCK 10038
#define WSAEDESTADDRREQ 10039
#define WSAEMSGSIZE 10040
#define WSAEPROTOTYPE 10041
#define WSAENOPROTOOPT 10042
#define WSAEPROTONOSUPPORT 10043
#define WSAESOCKTNOSUPPORT 10044
#define WSAEOPNOTSUPP 10045
#define WSAEAFNOSUPPORT 10047
#define WSAEADDRINUSE 10048
#define WSAEADDRNOTAVAIL 10049
#define WSAENETDOWN 10050
#define WSAENETUNREACH 10051
#define WSAENETRESET 10052
#define WSAECONNABORTED 10053
#define WSAECONNRESET 10054
#define WSAENOBUFS 10055
#define WSAEISCONN 10056
#define WSAENOTCONN 10057
#define WSAESHUTDOWN 10058
#define WSAETIMEDOUT 10060
#define WSAECONNREFUSED 10061
#define WSAEHOSTUNREACH 10065
#define WSASYSNOTREADY 10091
#define WSAVERNOTSUPPORTED 10092
#define WSANOTINITIALISED 10093
#define WSAEDISCON 10101
#define WSATRY_AGAIN 11002 /* WSPAccept: the condition function answered CF_DEFER */

/* ---- hosts ------------------------------------------------------------------------------- */
/* A host is one ustack instance: its own IPv4 address, TUN device (or in-memory link end) and
 * engine thread. Sockets belong to the host they were created on. */
typedef struct ustack_host* WSPHOST;

typedef struct WSPHOSTCONFIG {
    const char* tun_name;        /* TUN device to attach to, e.g. "tun0": it must exist (ip tuntap
                                    add; scripts/netns-up.sh) unless create_tun is set */
    void* device;                /* instead of tun_name: a ustack::Device* (tun/device.hpp), e.g.
                                    one end of an in-memory link; the host takes ownership */
    IN_ADDR addr;                /* this host's address (network byte order) */
    int prefix_len;              /* e.g. 24 */
    IN_ADDR gateway;             /* informational for TUN hosts (the kernel routes) */
    int disconnect_data;         /* nonzero: offer the disconnect-data option (DESIGN.md §3) */
    uint32_t msl_ms;             /* maximum segment lifetime; 0: 30000 (TIME-WAIT = 2 MSL) */
    uint32_t cleanup_timeout_ms; /* WSPCleanup's wait for orphaned graceful closes; 0: 10000 */
    const char* pcap_path;       /* non-NULL: write the host's own traffic to this pcap file */
    uint32_t recv_buffer;   /* per-connection receive buffer; 0: 1 MiB (storage grows with use) */
    uint32_t send_buffer;   /* per-connection send buffer; 0: 1 MiB (storage grows with use) */
    uint64_t isn_seed;      /* 0: random ISN secret; else a fixed one (tests) */
    int no_offload;         /* nonzero: TUN without virtio-net offloads (checksums and
                               64 KB super-packets); also off when pcap_path is set */
    const char* congestion; /* congestion control: "cubic" (NULL: the default), "newreno",
                               "bbr" */
    uint32_t max_message_size;      /* SOCK_SEQPACKET: the largest message (SO_MAX_MSG_SIZE);
                                       0: 65536; 65536 .. 16 MiB */
    const char* state_log_path;     /* non-NULL: write the state log to this file -- one JSON line
                                       per state change of each connection, with its cause, and
                                       per API call and event of note (README "The state log") */
    int keepalive;                  /* nonzero: new sockets start with SO_KEEPALIVE on */
    uint32_t keepalive_time_ms;     /* their idle time before the first probe; 0: 2 hours */
    uint32_t keepalive_interval_ms; /* between probes; 0: 1000 (Windows' defaults) */
    int create_tun;                 /* nonzero: create tun_name if it does not exist (it goes away
                                       with the host); 0: a missing device is WSASYSNOTREADY */
    int reattach;                   /* what a failed device (tun_name deleted under the host) does
                                       to the host: 0 -- the network is down for good: every
                                       connection ends, FD_CLOSE(WSAENETDOWN), and blocked and
                                       later calls that need the network fail WSAENETDOWN;
                                       nonzero -- it waits for a TUN device of that name to exist
                                       again and attaches to it; meanwhile connects fail
                                       WSAENETDOWN and connections keep their state and timers, so
                                       those that have not timed out carry on */
    uint32_t max_connections;       /* connections the host holds at once, in any state
                                       (README "Limits"); 0: 65536; at most 1048575 */
} WSPHOSTCONFIG;

/* An in-memory link joining two hosts of one process: no TUN device, no privilege (for tests,
 * scripts and examples). Fills *device_a and *device_b with its two ends, one for the
 * WSPHOSTCONFIG::device of each of two WSPStartup calls (each takes ownership of its end, also
 * when it fails). loss: the probability in [0, 1] that a packet is lost, each way, drawn from a
 * generator seeded with seed (the same seed loses the same packets of the same traffic);
 * delay_us: each packet's one-way delay in microseconds (0: none; at most 10 s). An end never
 * given to WSPStartup is released with WSPFreeDevice. Errors: WSAEFAULT (NULL out-pointer),
 * WSAEINVAL (loss outside [0, 1], delay over 10 s), WSAENOBUFS. */
int WSPCreateMemoryLink(double loss, uint64_t seed, uint32_t delay_us, void** device_a,
                        void** device_b, LPINT lpErrno);
/* Release a device end (of WSPCreateMemoryLink) that was never given to WSPStartup; NULL: no-op. */
void WSPFreeDevice(void* device);

/* Start a host. Errors: WSAEINVAL (bad config), WSASYSNOTREADY (device could not be opened:
 * missing, busy, or no privilege -- details on stderr), WSAEFAULT (NULL config or host),
 * WSAENOBUFS. */
int WSPStartup(const WSPHOSTCONFIG* config, WSPHOST* host, LPINT lpErrno);
/* Stop a host: sockets still open are closed as by WSPCloseSocket (default: graceful); then waits
 * (bounded by cleanup_timeout_ms) until orphaned graceful closes have delivered their FINs and
 * disconnect data; then stops the engine thread. Handles of the host become invalid. */
int WSPCleanup(WSPHOST host, LPINT lpErrno);
/* XP1_* flags of the host's TCP provider: XP1_GRACEFUL_CLOSE, plus XP1_DISCONNECT_DATA and
 * XP1_CONNECT_DATA when the host offers the disconnect-data option. */
DWORD WSPGetServiceFlags(WSPHOST host);

/* The host's counters as "name value" lines (segments, retransmissions, RSTs, challenge ACKs,
 * drops by reason, disconnect data sent/received). Returns the length written (truncated to
 * len-1, always NUL-terminated), or -1 for an unknown host. */
int WSPFormatHostStats(WSPHOST host, char* buf, size_t len);

/* ---- sockets ----------------------------------------------------------------------------- */
SOCKET WSPSocket(WSPHOST host, int af, int type, int protocol, LPINT lpErrno);
int WSPBind(SOCKET s, const SOCKADDR* name, int namelen, LPINT lpErrno);
int WSPListen(SOCKET s, int backlog, LPINT lpErrno);

/* WSPAccept's condition function (winsock2.h's LPCONDITIONPROC): the caller's address and
 * connect data, the QOS (always NULL here), our address, room for callee data, the socket group
 * (leave *g 0: ustack has no groups) and WSPAccept's dwCallbackData. Returns CF_ACCEPT,
 * CF_REJECT or CF_DEFER. It runs on WSPAccept's thread without the host's lock held: it may
 * call other WSP functions. Meanwhile other WSPAccepts on the listener wait for its verdict
 * (blocking) or fail WSAEINPROGRESS (non-blocking, or called from the function itself).
 * The README's "Connect data and conditional accept" says what each parameter holds. */
typedef int(CALLBACK* LPCONDITIONPROC)(LPWSABUF lpCallerId, LPWSABUF lpCallerData, LPQOS lpSQOS,
                                       LPQOS lpGQOS, LPWSABUF lpCalleeId, LPWSABUF lpCalleeData,
                                       GROUP* g, DWORD_PTR dwCallbackData);
#define CF_ACCEPT 0x0000
#define CF_REJECT 0x0001
#define CF_DEFER 0x0002

/* Take the connection at the head of the listener's queue; with a condition function, only if
 * it answers CF_ACCEPT (CF_REJECT: WSAECONNREFUSED; CF_DEFER: WSATRY_AGAIN, the connection
 * stays at the head; any other answer, or *g set: WSAEINVAL, likewise). */
SOCKET WSPAccept(SOCKET s, SOCKADDR* addr, LPINT addrlen, LPCONDITIONPROC lpfnCondition,
                 DWORD_PTR dwCallbackData, LPINT lpErrno);
/* Connect, offering lpCallerData (NULL: none) on the SYN and receiving the peer's callee data
 * into lpCalleeData (NULL: not wanted; len set to the count, 0 if none; a non-blocking connect
 * writes it when the connection completes, before FD_CONNECT, through the WSABUF pointer
 * given -- keep that WSABUF and its buffer valid until then).
 * lpSQOS and lpGQOS must be NULL (WSAEOPNOTSUPP). Caller data: longer than SO_CONNDATALEN:
 * WSAEMSGSIZE; on a host without connect data, or a peer whose SYN-ACK does not echo the
 * offer (the connection is reset): WSAENOPROTOOPT. */
int WSPConnect(SOCKET s, const SOCKADDR* name, int namelen, LPWSABUF lpCallerData,
               LPWSABUF lpCalleeData, LPQOS lpSQOS, LPQOS lpGQOS, LPINT lpErrno);
int WSPSend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent,
            DWORD dwFlags, LPINT lpErrno);
int WSPRecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
            LPDWORD lpFlags, LPINT lpErrno);
int WSPShutdown(SOCKET s, int how, LPINT lpErrno);
int WSPSendDisconnect(SOCKET s, LPWSABUF lpOutboundDisconnectData, LPINT lpErrno);
int WSPRecvDisconnect(SOCKET s, LPWSABUF lpInboundDisconnectData, LPINT lpErrno);
int WSPCloseSocket(SOCKET s, LPINT lpErrno);
int WSPSetSockOpt(SOCKET s, int level, int optname, const char* optval, int optlen, LPINT lpErrno);
int WSPGetSockOpt(SOCKET s, int level, int optname, char* optval, LPINT optlen, LPINT lpErrno);
int WSPIoctl(SOCKET s, DWORD dwIoControlCode, void* lpvInBuffer, DWORD cbInBuffer,
             void* lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned, LPINT lpErrno);
int WSPEventSelect(SOCKET s, WSAEVENT hEventObject, long lNetworkEvents, LPINT lpErrno);
int WSPEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject, LPWSANETWORKEVENTS lpNetworkEvents,
                         LPINT lpErrno);
/* Returns the number of ready sockets (0 on timeout), or SOCKET_ERROR. nfds is ignored. */
int WSPSelect(int nfds, WSP_FD_SET* readfds, WSP_FD_SET* writefds, WSP_FD_SET* exceptfds,
              const TIMEVAL* timeout, LPINT lpErrno);
int WSPGetPeerName(SOCKET s, SOCKADDR* name, LPINT namelen, LPINT lpErrno);
int WSPGetSockName(SOCKET s, SOCKADDR* name, LPINT namelen, LPINT lpErrno);

/* ---- event objects ----------------------------------------------------------------------- */
WSAEVENT WSACreateEvent(void);
BOOL WSACloseEvent(WSAEVENT hEvent);
BOOL WSASetEvent(WSAEVENT hEvent);
BOOL WSAResetEvent(WSAEVENT hEvent);
/* Returns WSA_WAIT_EVENT_0 + i, WSA_WAIT_TIMEOUT or WSA_WAIT_FAILED. fAlertable is ignored. */
DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT* lphEvents, BOOL fWaitAll,
                               DWORD dwTimeout, BOOL fAlertable);

/* The name of a WSAE* code ("WSAECONNRESET"), or "WSA?" for an unknown value. */
const char* WSPErrorName(int error);

#ifdef __cplusplus
}
#endif
#endif /* USTACK_WSP_H */
