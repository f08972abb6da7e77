/* OpenProcess test: "vt-openproc PID" prints "opened" or "error N";
   "vt-openproc list" prints the pids the process list shows, one a line. */
#include <windows.h>
#include <tlhelp32.h>
#include <stdio.h>

int wmain(int argc, WCHAR **argv)
{
    if (argc < 2) return 2;
    if (!wcscmp(argv[1], L"list")) {
        HANDLE s = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
        PROCESSENTRY32W e;
        e.dwSize = sizeof e;
        if (s == INVALID_HANDLE_VALUE) return 1;
        for (BOOL ok = Process32FirstW(s, &e); ok; ok = Process32NextW(s, &e)) printf("%lu %ls\n", e.th32ProcessID, e.szExeFile);
        return 0;
    }
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)_wtoi(argv[1]));
    if (!h) {
        printf("error %lu\n", GetLastError());
        return 1;
    }
    printf("opened\n");
    return 0;
}
