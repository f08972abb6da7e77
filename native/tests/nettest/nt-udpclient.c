/* nt-udpclient HOST PORT [MSG] [--rtt N]: client of nt-udpecho.
 * Sends MSG (default "ping") with sendto, waits up to 5 s for the answer, prints
 *   "local <getsockname after sending>", "reply <the answer>", "from <sender as recvfrom reports it>".
 * With --rtt N: N request/answer round trips, prints "rtt_us <mean microseconds>".
 * Exit 0 when answered, 1 on timeout or error. */
#include "nt.h"

int wmain(int argc, wchar_t **argv)
{
    struct sockaddr_storage dst, from;
    int dlen, flen, n, i, rtt = 0;
    DWORD tmo = 5000;
    SOCKET s;
    char msg[256] = "ping", buf[65536], a[80];
    nt_start();
    if (argc < 3 || !(dlen = nt_addr(argv[1], _wtoi(argv[2]), &dst))) {
        printf("usage: nt-udpclient HOST PORT [MSG] [--rtt N]\n");
        return 2;
    }
    for (i = 3; i < argc; i++) {
        if (!wcscmp(argv[i], L"--rtt") && i + 1 < argc)
            rtt = _wtoi(argv[++i]);
        else
            wcstombs(msg, argv[i], sizeof msg - 1);
    }
    s = socket(dst.ss_family, SOCK_DGRAM, IPPROTO_UDP);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char *)&tmo, sizeof tmo);
    if (rtt) {
        double t0 = nt_now();
        for (i = 0; i < rtt; i++) {
            if (sendto(s, msg, (int)strlen(msg), 0, (struct sockaddr *)&dst, dlen) < 0) {
                printf("send-failed %d\n", WSAGetLastError());
                return 1;
            }
            flen = sizeof from;
            if (recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen) < 0) {
                printf("timeout %d\n", WSAGetLastError());
                return 1;
            }
        }
        printf("rtt_us %.1f\n", (nt_now() - t0) * 1e6 / rtt);
        return 0;
    }
    if (sendto(s, msg, (int)strlen(msg), 0, (struct sockaddr *)&dst, dlen) < 0) {
        printf("send-failed %d\n", WSAGetLastError());
        return 1;
    }
    printf("local %s\n", nt_sockname(s, a, sizeof a));
    flen = sizeof from;
    n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &flen);
    if (n < 0) {
        printf("timeout %d\n", WSAGetLastError());
        return 1;
    }
    buf[n] = 0;
    printf("reply %s\n", buf);
    printf("from %s\n", nt_fmt((struct sockaddr *)&from, a, sizeof a));
    return 0;
}
