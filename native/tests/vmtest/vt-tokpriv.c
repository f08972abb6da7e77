/* vt-tokpriv PID: the privileges in process PID's primary token, read from outside it
   (test/token.test.ts): one line per privilege, `NAME enabled|disabled`. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int wmain(int argc, WCHAR **argv)
{
    HANDLE proc, token;
    BYTE buf[8192];
    TOKEN_PRIVILEGES *tp = (TOKEN_PRIVILEGES *)buf;
    DWORD len, i;
    if (argc != 2) {
        fprintf(stderr, "usage: vt-tokpriv PID\n");
        return 2;
    }
    if (!(proc = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, wcstoul(argv[1], NULL, 10)))) {
        fprintf(stderr, "OpenProcess: %lu\n", GetLastError());
        return 1;
    }
    if (!OpenProcessToken(proc, TOKEN_QUERY, &token)) {
        fprintf(stderr, "OpenProcessToken: %lu\n", GetLastError());
        return 1;
    }
    if (!GetTokenInformation(token, TokenPrivileges, buf, sizeof buf, &len)) {
        fprintf(stderr, "GetTokenInformation: %lu\n", GetLastError());
        return 1;
    }
    for (i = 0; i < tp->PrivilegeCount; i++) {
        char name[128];
        DWORD n = sizeof name;
        if (!LookupPrivilegeNameA(NULL, &tp->Privileges[i].Luid, name, &n)) sprintf(name, "luid:%lu", tp->Privileges[i].Luid.LowPart);
        printf("%s %s\n", name, tp->Privileges[i].Attributes & SE_PRIVILEGE_ENABLED ? "enabled" : "disabled");
    }
    return 0;
}
