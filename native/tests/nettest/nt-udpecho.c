/* nt-udpecho PORT [ADDR]: UDP echo service on ADDR (default 0.0.0.0) port PORT.
 * Prints "listening <getsockname> pid <pid>" once bound (or "bind-failed <wsaerror>",
 * exit 3). Each datagram is answered, to its sender, with
 *   "PID <pid> LOCAL <getsockname> FROM <sender> DATA <datagram>". */
#include "nt.h"

int wmain(int argc, wchar_t **argv)
{
    struct sockaddr_storage ss, from;
    int len, flen, n, h;
    SOCKET s;
    static char in[65536], out[65536 + 256];
    char a[80], b[80];
    nt_start();
    if (argc < 2 || !(len = nt_addr(argc > 2 ? argv[2] : L"0.0.0.0", _wtoi(argv[1]), &ss))) {
        printf("usage: nt-udpecho PORT [ADDR]\n");
        return 2;
    }
    s = socket(ss.ss_family, SOCK_DGRAM, IPPROTO_UDP);
    if (bind(s, (struct sockaddr *)&ss, len)) {
        printf("bind-failed %d\n", WSAGetLastError());
        return 3;
    }
    printf("listening %s pid %lu\n", nt_sockname(s, a, sizeof a), GetCurrentProcessId());
    for (;;) {
        flen = sizeof from;
        n = recvfrom(s, in, sizeof in - 1, 0, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            /* a previous reply's ICMP port unreachable surfaces here on some stacks */
            if (WSAGetLastError() == WSAECONNRESET) continue;
            printf("recv-failed %d\n", WSAGetLastError());
            return 4;
        }
        h = snprintf(out, 256, "PID %lu LOCAL %s FROM %s DATA ", GetCurrentProcessId(), nt_sockname(s, a, sizeof a),
                     nt_fmt((struct sockaddr *)&from, b, sizeof b));
        memcpy(out + h, in, n);
        sendto(s, out, h + n, 0, (struct sockaddr *)&from, flen);
    }
}
