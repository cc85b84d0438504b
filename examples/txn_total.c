/* txn_total: the transaction-total exchange of Winsock's "Connection Shutdown" page, in C over
 * the installed libustack (see README.md here): two ustack hosts joined by an in-memory link,
 * a server thread and the client on the main thread.
 *
 *   client 1  send the transactions, then WSPSendDisconnect with their total as disconnect data
 *   server 2  WSPRecv returns 0: the client's FIN
 *   server 3  WSPRecvDisconnect: the client's total, checked against the sum received
 *   server 4  (nothing more to send)
 *   server 5  WSPSendDisconnect with the grand total; WSPCloseSocket
 *   client 6  WSPRecv returns 0: the server's FIN
 *   client 7  WSPRecvDisconnect: the grand total
 *   client 8  WSPCloseSocket
 *
 * Usage: txn_total [CAPTURE.pcap]   (the client host's traffic, e.g. for tshark and the dissector)
 * Exit status 0 when both sides saw the right totals. No root, no TUN device. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ustack/wsp.h>

enum { kPort = 7000, kCount = 5 };
static const int64_t kTransactions[kCount] = {1200, -350, 8000, 2183, 0};

static IN_ADDR ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IN_ADDR in;
    uint8_t bytes[4] = {a, b, c, d};
    memcpy(&in.s_addr, bytes, 4); /* network byte order: the first byte is the most significant */
    return in;
}

static SOCKADDR_IN endpoint(IN_ADDR addr, uint16_t port) {
    SOCKADDR_IN sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr = addr;
    uint8_t p[2] = {(uint8_t)(port >> 8), (uint8_t)port};
    memcpy(&sin.sin_port, p, 2);
    return sin;
}

static void put_be64(char out[8], int64_t v) {
    for (int i = 0; i < 8; ++i)
        out[i] = (char)(uint8_t)((uint64_t)v >> (56 - 8 * i));
}

static int64_t get_be64(const char in[8]) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | (uint8_t)in[i];
    return (int64_t)v;
}

/* Print the call that failed and exit 1. */
static void check(int ok, const char* what, int error) {
    if (!ok) {
        fprintf(stderr, "txn_total: %s failed: %s\n", what, WSPErrorName(error));
        exit(1);
    }
}

/* Receive exactly len bytes; 0 when the peer's FIN came first (at a record boundary). */
static int recv_all(SOCKET s, char* buf, u_long len, int* err) {
    u_long got = 0;
    while (got < len) {
        WSABUF b = {len - got, buf + got};
        DWORD n = 0, flags = 0;
        check(WSPRecv(s, &b, 1, &n, &flags, err) == 0, "WSPRecv", *err);
        if (n == 0)
            return 0;
        got += n;
    }
    return 1;
}

struct server {
    WSPHOST host;
    SOCKET listener;
    int64_t grand_total;
};

static void* serve(void* arg) {
    struct server* sv = arg;
    int err = 0;
    SOCKET s = WSPAccept(sv->listener, NULL, NULL, NULL, 0, &err);
    check(s != INVALID_SOCKET, "WSPAccept", err);
    int64_t sum = 0;
    char rec[8];
    while (recv_all(s, rec, sizeof rec, &err))
        sum += get_be64(rec);
    printf("server 2: WSPRecv returned 0 (the client's FIN) after a sum of %lld\n", (long long)sum);

    char total[8];
    WSABUF in = {sizeof total, total};
    check(WSPRecvDisconnect(s, &in, &err) == 0, "WSPRecvDisconnect", err);
    check(in.len == sizeof total, "the client's disconnect data (8 bytes)", WSAEINVAL);
    const int64_t client_total = get_be64(total);
    printf("server 3: WSPRecvDisconnect: the client's total %lld (%s)\n", (long long)client_total,
           client_total == sum ? "OK" : "MISMATCH");
    check(client_total == sum, "the client's total", WSAEINVAL);

    sv->grand_total += client_total;
    put_be64(total, sv->grand_total);
    WSABUF out = {sizeof total, total};
    check(WSPSendDisconnect(s, &out, &err) == 0, "WSPSendDisconnect", err);
    printf("server 5: WSPSendDisconnect with the grand total %lld\n", (long long)sv->grand_total);
    check(WSPCloseSocket(s, &err) == 0, "WSPCloseSocket", err);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc > 2) {
        fprintf(stderr, "usage: %s [CAPTURE.pcap]\n", argv[0]);
        return 2;
    }
    int err = 0;
    void* end_a = NULL;
    void* end_b = NULL;
    check(WSPCreateMemoryLink(0.0, 1, 0, &end_a, &end_b, &err) == 0, "WSPCreateMemoryLink", err);

    WSPHOSTCONFIG cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.prefix_len = 24;
    cfg.disconnect_data = 1;
    cfg.msl_ms = 100; /* short TIME-WAIT: this program exits right after the exchange */
    WSPHOST client_host = NULL, server_host = NULL;
    cfg.device = end_a;
    cfg.addr = ipv4(10, 9, 0, 1);
    cfg.pcap_path = argc == 2 ? argv[1] : NULL;
    if (WSPStartup(&cfg, &client_host, &err) != 0) {
        WSPFreeDevice(end_b); /* WSPStartup owns end_a, also when it fails */
        check(0, "WSPStartup", err);
    }
    cfg.device = end_b;
    cfg.addr = ipv4(10, 9, 0, 2);
    cfg.pcap_path = NULL;
    check(WSPStartup(&cfg, &server_host, &err) == 0, "WSPStartup", err);
    check((WSPGetServiceFlags(client_host) & XP1_DISCONNECT_DATA) != 0, "XP1_DISCONNECT_DATA",
          WSAEOPNOTSUPP);

    struct server sv = {server_host, INVALID_SOCKET, 0};
    sv.listener = WSPSocket(server_host, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
    check(sv.listener != INVALID_SOCKET, "WSPSocket", err);
    SOCKADDR_IN here = endpoint(ipv4(10, 9, 0, 2), kPort);
    check(WSPBind(sv.listener, (const SOCKADDR*)&here, sizeof here, &err) == 0, "WSPBind", err);
    check(WSPListen(sv.listener, 4, &err) == 0, "WSPListen", err);
    pthread_t server_thread;
    check(pthread_create(&server_thread, NULL, serve, &sv) == 0, "pthread_create", WSAENOBUFS);

    SOCKET s = WSPSocket(client_host, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err);
    check(s != INVALID_SOCKET, "WSPSocket", err);
    check(WSPConnect(s, (const SOCKADDR*)&here, sizeof here, NULL, NULL, NULL, NULL, &err) == 0,
          "WSPConnect", err);
    int64_t total = 0;
    for (int i = 0; i < kCount; ++i) {
        char rec[8];
        put_be64(rec, kTransactions[i]);
        WSABUF b = {sizeof rec, rec};
        DWORD sent = 0;
        check(WSPSend(s, &b, 1, &sent, 0, &err) == 0 && sent == sizeof rec,
              "WSPSend", err);
        total += kTransactions[i];
    }
    char data[8];
    put_be64(data, total);
    WSABUF out = {sizeof data, data};
    check(WSPSendDisconnect(s, &out, &err) == 0, "WSPSendDisconnect", err);
    printf("client 1: sent %d transactions, then WSPSendDisconnect with their total %lld\n",
           kCount, (long long)total);

    char rest[8];
    check(recv_all(s, rest, sizeof rest, &err) == 0, "the server's FIN", WSAEINVAL);
    printf("client 6: WSPRecv returned 0 (the server's FIN)\n");
    WSABUF in = {sizeof data, data};
    check(WSPRecvDisconnect(s, &in, &err) == 0, "WSPRecvDisconnect", err);
    check(in.len == sizeof data, "the server's disconnect data (8 bytes)", WSAEINVAL);
    const int64_t grand_total = get_be64(data);
    printf("client 7: WSPRecvDisconnect: the grand total %lld\n", (long long)grand_total);
    check(WSPCloseSocket(s, &err) == 0, "WSPCloseSocket", err);
    printf("client 8: WSPCloseSocket\n");

    pthread_join(server_thread, NULL);
    check(WSPCloseSocket(sv.listener, &err) == 0, "WSPCloseSocket", err);
    check(WSPCleanup(client_host, &err) == 0, "WSPCleanup", err);
    check(WSPCleanup(server_host, &err) == 0, "WSPCleanup", err);
    const int ok = grand_total == total && sv.grand_total == total;
    printf("%s\n", ok ? "OK" : "FAILED: the totals differ");
    return ok ? 0 : 1;
}
