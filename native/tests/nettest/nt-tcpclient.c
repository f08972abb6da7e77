/* nt-tcpclient HOST PORT [MODE ARGS]: client of nt-tcpecho and of nt-httpsrv.
 *   (no mode)              connect, print "connected local <sockname> peer <peername>",
 *                          "greeting <the server's first line>", then check one echo: "echo ok"
 *   --throughput MB        after the greeting, send MB MiB and read them back: "throughput <MiB/s>"
 *   --connect N            N times connect + greeting + close: "connect_us <mean microseconds>"
 *   --get PATH             one HTTP/1.1 GET (Host: HOST:PORT): "status <code>", "body <first line>"
 *   --http-throughput N PATH   N keep-alive GETs on one connection: "http_mibps <MiB/s> rps <req/s>"
 *   --http-connect N PATH  N GETs, each on a new connection: "http_connect_us <mean microseconds>"
 * Exit 0 on success, 1 on a failed check, 3 on a failed connect ("connect-failed <wsaerror>"). */
#include "nt.h"

static struct sockaddr_storage dst;
static int dlen;
static const wchar_t *host_w;
static int port;

static SOCKET dial(void)
{
    int one = 1;
    DWORD tmo = 20000; /* a stuck server fails the run instead of hanging it */
    SOCKET s = socket(dst.ss_family, SOCK_STREAM, IPPROTO_TCP);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (char *)&one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char *)&tmo, sizeof tmo);
    if (connect(s, (struct sockaddr *)&dst, dlen)) {
        printf("connect-failed %d\n", WSAGetLastError());
        exit(3);
    }
    return s;
}

typedef struct {
    SOCKET s;
    long long n;
    int ok;
} drain_arg;
static DWORD WINAPI drain(void *p)
{
    drain_arg *d = p;
    static char buf[65536];
    while (d->n > 0) {
        int r = recv(d->s, buf, d->n < (long long)sizeof buf ? (int)d->n : (int)sizeof buf, 0);
        if (r <= 0) return 0;
        d->n -= r;
    }
    d->ok = 1;
    return 0;
}

/* One GET on s; returns the status and the body length, body copied (truncated) to out. */
static int http_get(SOCKET s, const char *path, char *out, int cap, int *body_len, int keep)
{
    char req[512], line[1024], h[128];
    int status = -1, clen = -1, n;
    static char body[1 << 20];
    wcstombs(h, host_w, sizeof h);
    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: %s\r\n\r\n", path, h, port, keep ? "keep-alive" : "close");
    if (nt_writen(s, req, n)) return -1;
    if (nt_readline(s, line, sizeof line) < 0) return -1;
    sscanf(line, "HTTP/%*s %d", &status);
    while ((n = nt_readline(s, line, sizeof line)) > 0)
        if (!_strnicmp(line, "Content-Length:", 15)) clen = atoi(line + 15);
    if (n < 0 || clen < 0 || clen > (int)sizeof body) return -1;
    if (nt_readn(s, body, clen)) return -1;
    if (out) {
        int k = clen < cap - 1 ? clen : cap - 1;
        memcpy(out, body, k);
        out[k] = 0;
    }
    *body_len = clen;
    return status;
}

int wmain(int argc, wchar_t **argv)
{
    char a[80], b[80], line[1024];
    SOCKET s;
    int i;
    nt_start();
    if (argc < 3 || !(dlen = nt_addr(argv[1], _wtoi(argv[2]), &dst))) {
        printf("usage: nt-tcpclient HOST PORT [--throughput MB|--connect N|--get PATH|--http-throughput N PATH|--http-connect N PATH]\n");
        return 2;
    }
    host_w = argv[1];
    port = _wtoi(argv[2]);
    if (argc == 3) {
        s = dial();
        printf("connected local %s peer %s\n", nt_sockname(s, a, sizeof a), nt_peername(s, b, sizeof b));
        if (nt_readline(s, line, sizeof line) < 0) {
            printf("no-greeting\n");
            return 1;
        }
        printf("greeting %s\n", line);
        if (nt_writen(s, "ping\n", 5) || nt_readline(s, line, sizeof line) < 0 || strcmp(line, "ping")) {
            printf("echo bad\n");
            return 1;
        }
        printf("echo ok\n");
        closesocket(s);
        return 0;
    }
    if (!wcscmp(argv[3], L"--throughput") && argc > 4) {
        static char buf[65536];
        long long total = (long long)_wtoi(argv[4]) << 20, left = total;
        drain_arg d;
        HANDLE t;
        double t0;
        s = dial();
        if (nt_readline(s, line, sizeof line) < 0) return 1;
        memset(buf, 'x', sizeof buf);
        d.s = s;
        d.n = total;
        d.ok = 0;
        t0 = nt_now();
        t = CreateThread(NULL, 0, drain, &d, 0, NULL);
        while (left > 0) {
            int k = left < (long long)sizeof buf ? (int)left : (int)sizeof buf;
            if (nt_writen(s, buf, k)) break;
            left -= k;
        }
        WaitForSingleObject(t, INFINITE);
        if (!d.ok) {
            printf("throughput failed\n");
            return 1;
        }
        printf("throughput %.1f\n", (double)total / (1 << 20) / (nt_now() - t0));
        return 0;
    }
    if (!wcscmp(argv[3], L"--connect") && argc > 4) {
        int n = _wtoi(argv[4]);
        double t0 = nt_now();
        for (i = 0; i < n; i++) {
            s = dial();
            if (nt_readline(s, line, sizeof line) < 0) {
                printf("no-greeting\n");
                return 1;
            }
            closesocket(s);
        }
        printf("connect_us %.1f\n", (nt_now() - t0) * 1e6 / n);
        return 0;
    }
    if (!wcscmp(argv[3], L"--get") && argc > 4) {
        char path[512];
        int blen, st;
        wcstombs(path, argv[4], sizeof path);
        s = dial();
        st = http_get(s, path, line, sizeof line, &blen, 0);
        if (st < 0) {
            printf("http-failed\n");
            return 1;
        }
        {
            char *nl = strchr(line, '\n');
            if (nl) *nl = 0;
        }
        printf("status %d\nbody %s\n", st, line);
        return st == 200 ? 0 : 1;
    }
    if ((!wcscmp(argv[3], L"--http-throughput") || !wcscmp(argv[3], L"--http-connect")) && argc > 5) {
        int n = _wtoi(argv[4]), keep = !wcscmp(argv[3], L"--http-throughput"), blen = 0;
        long long bytes = 0;
        char path[512];
        double t0, dt;
        wcstombs(path, argv[5], sizeof path);
        s = keep ? dial() : INVALID_SOCKET;
        t0 = nt_now();
        for (i = 0; i < n; i++) {
            if (!keep) s = dial();
            if (http_get(s, path, NULL, 0, &blen, keep) != 200) {
                printf("http-failed at %d\n", i);
                return 1;
            }
            bytes += blen;
            if (!keep) closesocket(s);
        }
        dt = nt_now() - t0;
        if (keep)
            printf("http_mibps %.1f rps %.0f\n", bytes / (double)(1 << 20) / dt, n / dt);
        else
            printf("http_connect_us %.1f\n", dt * 1e6 / n);
        return 0;
    }
    printf("bad mode\n");
    return 2;
}
