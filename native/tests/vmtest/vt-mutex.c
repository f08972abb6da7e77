/* Singleton test: exits 3 if the Global\ mutex NAME already exists, else holds it
   for SECONDS and prints the name the system reports for it. With "open" for SECONDS it
   only opens the mutex (3 if it exists, 5 if not): a probe that cannot take the name. */
#include <windows.h>
#include <winternl.h>
#include <stdio.h>

int wmain(int argc, WCHAR **argv)
{
    WCHAR name[300];
    union {
        UNICODE_STRING us;
        WCHAR w[600];
    } q;
    ULONG ret;
    HANDLE h;
    if (argc < 3) return 2;
    swprintf(name, 300, L"Global\\%ls", argv[1]);
    if (!wcscmp(argv[2], L"open")) {
        h = OpenMutexW(SYNCHRONIZE, FALSE, name);
        printf(h ? "exists pid=%lu\n" : "absent pid=%lu\n", GetCurrentProcessId());
        return h ? 3 : 5;
    }
    h = CreateMutexW(NULL, FALSE, name);
    if (!h) {
        printf("error %lu\n", GetLastError());
        return 4;
    }
    if (GetLastError() == ERROR_ALREADY_EXISTS) {
        printf("exists pid=%lu\n", GetCurrentProcessId());
        return 3;
    }
    if (NtQueryObject(h, ObjectNameInformation, &q, sizeof q, &ret) >= 0) {
        WCHAR n[300];
        int len = q.us.Length / 2 < 299 ? q.us.Length / 2 : 299;
        memcpy(n, q.us.Buffer, len * 2);
        n[len] = 0;
        printf("owner pid=%lu name=%ls\n", GetCurrentProcessId(), n);
    }
    fflush(stdout);
    Sleep(_wtoi(argv[2]) * 1000);
    return 0;
}
