/* nt-tcpecho PORT [ADDR]: TCP echo service on ADDR (default 0.0.0.0) port PORT.
 * Prints "listening <getsockname> pid <pid>" once bound (or "bind-failed <wsaerror>",
 * exit 3). Each connection first receives the line
 *   "PID <pid> LOCAL <getsockname> PEER <getpeername>\n"
 * and then gets every byte it sends echoed back, until it closes. */
#include "nt.h"

static DWORD WINAPI serve(void *arg)
{
    SOCKET c = (SOCKET)arg;
    char buf[65536], a[80], b[80];
    int n = snprintf(buf, sizeof buf, "PID %lu LOCAL %s PEER %s\n", GetCurrentProcessId(), nt_sockname(c, a, sizeof a),
                     nt_peername(c, b, sizeof b));
    if (nt_writen(c, buf, n) == 0)
        while ((n = recv(c, buf, sizeof buf, 0)) > 0)
            if (nt_writen(c, buf, n)) break;
    closesocket(c);
    return 0;
}

int wmain(int argc, wchar_t **argv)
{
    struct sockaddr_storage ss;
    int len, one = 1;
    SOCKET s;
    char a[80];
    nt_start();
    if (argc < 2 || !(len = nt_addr(argc > 2 ? argv[2] : L"0.0.0.0", _wtoi(argv[1]), &ss))) {
        printf("usage: nt-tcpecho PORT [ADDR]\n");
        return 2;
    }
    s = socket(ss.ss_family, SOCK_STREAM, IPPROTO_TCP);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (char *)&one, sizeof one);
    if (bind(s, (struct sockaddr *)&ss, len) || listen(s, SOMAXCONN)) {
        printf("bind-failed %d\n", WSAGetLastError());
        return 3;
    }
    printf("listening %s pid %lu\n", nt_sockname(s, a, sizeof a), GetCurrentProcessId());
    for (;;) {
        SOCKET c = accept(s, NULL, NULL);
        HANDLE t;
        if (c == INVALID_SOCKET) {
            printf("accept-failed %d\n", WSAGetLastError());
            return 4;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, (char *)&one, sizeof one);
        if ((t = CreateThread(NULL, 0, serve, (void *)c, 0, NULL)))
            CloseHandle(t);
        else
            closesocket(c);
    }
}
