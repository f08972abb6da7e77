/* nt-bindprobe tcp|udp ADDR PORT [--listen]: bind one socket and report.
 * Prints "bound <getsockname>" and exits 0, or "bind-failed <wsaerror>" and exits 1.
 * With --listen (tcp) it also listens, prints "listening", and stays up until stdin closes. */
#include "nt.h"

int wmain(int argc, wchar_t **argv)
{
    struct sockaddr_storage ss;
    int len, tcp;
    SOCKET s;
    char a[80];
    nt_start();
    if (argc < 4 || !(len = nt_addr(argv[2], _wtoi(argv[3]), &ss))) {
        printf("usage: nt-bindprobe tcp|udp ADDR PORT [--listen]\n");
        return 2;
    }
    tcp = !wcscmp(argv[1], L"tcp");
    s = socket(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, tcp ? IPPROTO_TCP : IPPROTO_UDP);
    if (s == INVALID_SOCKET) {
        printf("socket-failed %d\n", WSAGetLastError());
        return 2;
    }
    if (bind(s, (struct sockaddr *)&ss, len)) {
        printf("bind-failed %d\n", WSAGetLastError());
        return 1;
    }
    printf("bound %s\n", nt_sockname(s, a, sizeof a));
    if (argc > 4 && !wcscmp(argv[4], L"--listen")) {
        char c;
        if (listen(s, 16)) {
            printf("listen-failed %d\n", WSAGetLastError());
            return 1;
        }
        printf("listening\n");
        while (fread(&c, 1, 1, stdin) == 1)
            ;
    }
    closesocket(s);
    return 0;
}
