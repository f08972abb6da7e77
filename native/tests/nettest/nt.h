/* Shared helpers of the network test programs (test/net*.test.ts, bench/network.ts).
 * Every program prints one result line per event on stdout, flushed, so a test
 * can wait for "listening ..." before starting clients. */
#ifndef SVCDUP_NT_H
#define SVCDUP_NT_H
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include "../timing.h"

static __attribute__((unused)) void nt_start(void)
{
    WSADATA w;
    if (WSAStartup(MAKEWORD(2, 2), &w)) {
        printf("error WSAStartup\n");
        exit(2);
    }
    setvbuf(stdout, NULL, _IONBF, 0);
}

/* "a.b.c.d" or "[v6]" / "v6" and a port into a sockaddr; returns its length or 0. */
static __attribute__((unused)) int nt_addr(const wchar_t *host, int port, struct sockaddr_storage *ss)
{
    char h[128];
    size_t n;
    memset(ss, 0, sizeof *ss);
    wcstombs(h, host, sizeof h - 1);
    h[sizeof h - 1] = 0;
    n = strlen(h);
    if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
        memmove(h, h + 1, n - 2);
        h[n - 2] = 0;
    }
    if (strchr(h, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((u_short)port);
        if (inet_pton(AF_INET6, h, &a->sin6_addr) != 1) return 0;
        return sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((u_short)port);
        if (inet_pton(AF_INET, h, &a->sin_addr) != 1) return 0;
        return sizeof *a;
    }
}

/* "a.b.c.d:port" or "[v6]:port" */
static __attribute__((unused)) const char *nt_fmt(const struct sockaddr *sa, char *buf, size_t cap)
{
    char h[64] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)sa;
        inet_ntop(AF_INET, (void *)&a->sin_addr, h, sizeof h);
        snprintf(buf, cap, "%s:%u", h, ntohs(a->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)sa;
        inet_ntop(AF_INET6, (void *)&a->sin6_addr, h, sizeof h);
        snprintf(buf, cap, "[%s]:%u", h, ntohs(a->sin6_port));
    } else
        snprintf(buf, cap, "family%d", sa->sa_family);
    return buf;
}

/* a socket's own or peer address (get: getsockname or getpeername), formatted */
static const char *nt_address(SOCKET s, int(WSAAPI *get)(SOCKET, struct sockaddr *, int *), char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (get(s, (struct sockaddr *)&ss, &len)) {
        snprintf(buf, cap, "error%d", WSAGetLastError());
        return buf;
    }
    return nt_fmt((struct sockaddr *)&ss, buf, cap);
}

static __attribute__((unused)) const char *nt_sockname(SOCKET s, char *buf, size_t cap) { return nt_address(s, getsockname, buf, cap); }
static __attribute__((unused)) const char *nt_peername(SOCKET s, char *buf, size_t cap) { return nt_address(s, getpeername, buf, cap); }

/* seconds */
static __attribute__((unused)) double nt_now(void) { return now_us() / 1e6; }

/* receive or send exactly n bytes; returns 0 or -1 */
static int nt_alln(SOCKET s, char *b, int n, int sending)
{
    while (n > 0) {
        int r = sending ? send(s, b, n, 0) : recv(s, b, n, 0);
        if (r <= 0) return -1;
        b += r;
        n -= r;
    }
    return 0;
}

static __attribute__((unused)) int nt_readn(SOCKET s, char *b, int n) { return nt_alln(s, b, n, 0); }
static __attribute__((unused)) int nt_writen(SOCKET s, const char *b, int n) { return nt_alln(s, (char *)b, n, 1); }

/* read one line (without the newline) */
static __attribute__((unused)) int nt_readline(SOCKET s, char *b, int cap)
{
    int n = 0;
    while (n < cap - 1) {
        char c;
        if (recv(s, &c, 1, 0) != 1) return -1;
        if (c == '\n') break;
        if (c != '\r') b[n++] = c;
    }
    b[n] = 0;
    return n;
}
#endif
