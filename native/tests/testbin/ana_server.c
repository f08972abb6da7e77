/* ana-server.exe: the server program ana-launch.exe starts. "-D DATA": reads DATA\ana-server.conf
 * (PostgreSQL's format: "key = value", # comments, quoted values), listens on TCP "port" at
 * "listen_addresses" ('*' or empty: every address), and answers each connection with one line
 * "ana-server PID <pid> PORT <port>". Exit code 2: no configuration; 3: the port is taken. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_NAME "ana-server.conf"

static void setting(char *line, int *port, char *addr, size_t addrlen)
{
    char *p = line, *key, *val, *end;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '#' || !*p) return;
    key = p;
    while (*p && *p != '=' && *p != ' ' && *p != '\t') p++;
    end = p;
    while (*p == ' ' || *p == '\t' || *p == '=') p++;
    *end = 0;
    val = p;
    if (*val == '\'') {
        val++;
        if ((end = strchr(val, '\''))) *end = 0;
    } else if ((end = strpbrk(val, " \t#\r\n")))
        *end = 0;
    if (!strcmp(key, "port"))
        *port = atoi(val);
    else if (!strcmp(key, "listen_addresses")) {
        _snprintf(addr, addrlen - 1, "%s", val);
        addr[addrlen - 1] = 0;
    }
}

int wmain(int argc, WCHAR **argv)
{
    WCHAR conf[MAX_PATH] = L"";
    char line[512], addr[64] = "*", reply[96];
    int port = 0;
    FILE *f;
    WSADATA wsa;
    SOCKET s, c;
    struct sockaddr_in sin = {0};

    for (int i = 1; i + 1 < argc; i++)
        if (!wcscmp(argv[i], L"-D")) _snwprintf(conf, MAX_PATH - 1, L"%ls\\%hs", argv[i + 1], CONF_NAME);
    if (!conf[0] || !(f = _wfopen(conf, L"r"))) return 2;
    while (fgets(line, sizeof line, f)) setting(line, &port, addr, sizeof addr);
    fclose(f);
    if (port <= 0 || port > 65535) return 2;
    WSAStartup(MAKEWORD(2, 2), &wsa);
    s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((u_short)port);
    sin.sin_addr.s_addr = (!addr[0] || !strcmp(addr, "*")) ? htonl(INADDR_ANY) : inet_addr(addr);
    if (bind(s, (struct sockaddr *)&sin, sizeof sin) || listen(s, 16)) return 3;
    _snprintf(reply, sizeof reply, "ana-server PID %lu PORT %d\n", GetCurrentProcessId(), port);
    while ((c = accept(s, NULL, NULL)) != INVALID_SOCKET) {
        send(c, reply, (int)strlen(reply), 0);
        closesocket(c);
    }
    return 0;
}
