/* See netsvc.h. Each listener has one thread and serves one request at a time: enough
   for tests, and nothing here is meant to be fast. */
#include <winsock2.h>
#include <http.h>
#include <stdio.h>
#include <stdlib.h>
#include "netsvc.h"

static char reply_prefix[400]; /* "PID <pid> SERVICE <name>" */
static SOCKET tcp_sock = INVALID_SOCKET, udp_sock = INVALID_SOCKET;
static HANDLE http_queue;

static DWORD WINAPI tcp_thread(void *arg)
{
    char line[440], buf[4096];
    int n = snprintf(line, sizeof(line), "%s\n", reply_prefix), got;
    for (;;) {
        DWORD timeout = 10000; /* a silent client must not hold the listener for ever */
        SOCKET c = accept(tcp_sock, NULL, NULL);
        if (c == INVALID_SOCKET) break; /* closed at stop */
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, (char *)&timeout, sizeof(timeout));
        send(c, line, n, 0);
        while ((got = recv(c, buf, sizeof(buf), 0)) > 0) send(c, buf, got, 0);
        closesocket(c);
    }
    return 0;
}

/* Each datagram is answered "PID <pid> SERVICE <name> DATA <what it said>". */
static DWORD WINAPI udp_thread(void *arg)
{
    char in[1024], out[1500];
    struct sockaddr_storage from;
    for (;;) {
        int len = sizeof(from), got = recvfrom(udp_sock, in, sizeof(in) - 1, 0, (struct sockaddr *)&from, &len), n;
        if (got < 0) {
            if (WSAGetLastError() == WSAECONNRESET) continue; /* an earlier reply bounced */
            break;                                            /* closed at stop */
        }
        in[got] = 0;
        n = snprintf(out, sizeof(out), "%s DATA %s", reply_prefix, in);
        sendto(udp_sock, out, n, 0, (struct sockaddr *)&from, len);
    }
    return 0;
}

/* Every request is answered "PID <pid> SERVICE <name> URL <the full URL http.sys saw>". */
static DWORD WINAPI http_thread(void *arg)
{
    static char reqbuf[16384];
    for (;;) {
        HTTP_REQUEST *req = (HTTP_REQUEST *)reqbuf;
        HTTP_RESPONSE resp = {0};
        HTTP_DATA_CHUNK chunk;
        char body[1024], full[512] = "";
        ULONG got = 0, sent;
        if (HttpReceiveHttpRequest(http_queue, HTTP_NULL_ID, 0, req, sizeof(reqbuf), &got, NULL)) break;
        if (req->CookedUrl.pFullUrl) WideCharToMultiByte(CP_UTF8, 0, req->CookedUrl.pFullUrl, -1, full, sizeof(full) - 1, NULL, NULL);
        resp.StatusCode = 200;
        resp.pReason = "OK";
        resp.ReasonLength = 2;
        chunk.DataChunkType = HttpDataChunkFromMemory;
        chunk.FromMemory.pBuffer = body;
        chunk.FromMemory.BufferLength = (ULONG)snprintf(body, sizeof(body), "%s URL %s\n", reply_prefix, full);
        resp.EntityChunkCount = 1;
        resp.pEntityChunks = &chunk;
        HttpSendHttpResponse(http_queue, req->RequestId, 0, &resp, NULL, &sent, NULL, 0, NULL, NULL);
    }
    return 0;
}

static DWORD bound_socket(int type, const WCHAR *port, const WCHAR *addr_w, SOCKET *out)
{
    struct sockaddr_in sa = {0};
    char addr[64] = "0.0.0.0";
    SOCKET s;
    if (addr_w) WideCharToMultiByte(CP_ACP, 0, addr_w, -1, addr, sizeof(addr), NULL, NULL);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((u_short)wcstoul(port, NULL, 10));
    sa.sin_addr.s_addr = inet_addr(addr);
    if ((s = socket(AF_INET, type, 0)) == INVALID_SOCKET) return WSAGetLastError();
    if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || (type == SOCK_STREAM && listen(s, 16))) {
        DWORD err = WSAGetLastError();
        closesocket(s);
        return err;
    }
    *out = s;
    return 0;
}

static void spawn(LPTHREAD_START_ROUTINE fn)
{
    HANDLE t = CreateThread(NULL, 0, fn, NULL, 0, NULL);
    if (t) CloseHandle(t);
}

DWORD netsvc_start(const WCHAR *service, const WCHAR *tcp_port, const WCHAR *bind_addr, const WCHAR *udp_port, const WCHAR *http_url)
{
    WSADATA wsa;
    DWORD err;
    snprintf(reply_prefix, sizeof(reply_prefix), "PID %lu SERVICE %ls", GetCurrentProcessId(), service);
    if ((tcp_port || udp_port) && (err = WSAStartup(MAKEWORD(2, 2), &wsa))) return err;
    if (tcp_port) {
        if ((err = bound_socket(SOCK_STREAM, tcp_port, bind_addr, &tcp_sock))) return err;
        spawn(tcp_thread);
    }
    if (udp_port) {
        if ((err = bound_socket(SOCK_DGRAM, udp_port, bind_addr, &udp_sock))) return err;
        spawn(udp_thread);
    }
    if (http_url) {
        HTTPAPI_VERSION v1 = HTTPAPI_VERSION_1;
        if ((err = HttpInitialize(v1, HTTP_INITIALIZE_SERVER, NULL)) || (err = HttpCreateHttpHandle(&http_queue, 0)) ||
            (err = HttpAddUrl(http_queue, http_url, NULL)))
            return err;
        spawn(http_thread);
    }
    return 0;
}

void netsvc_stop(void)
{
    /* once: control 200 stops the listeners before the stop does */
    SOCKET tcp = tcp_sock, udp = udp_sock;
    HANDLE queue = http_queue;
    tcp_sock = udp_sock = INVALID_SOCKET;
    http_queue = NULL;
    if (tcp != INVALID_SOCKET) closesocket(tcp);
    if (udp != INVALID_SOCKET) closesocket(udp);
    if (queue) CloseHandle(queue);
}
