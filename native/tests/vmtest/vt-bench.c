/* Namespace micro-benchmark (bench/namespace.ts runs it on the host and in a VM).
   "vt-bench N" prints one JSON object: the median microseconds of each operation
   over N iterations (process creation: N/25 + 1); medians shrug off the noise of a
   shared machine. "vt-bench noop" just exits (the child of the process test). */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include "../timing.h"

int wmain(int argc, WCHAR **argv)
{
    int n, i, np;
    double *v, create, open, pipe, proc, t;
    WCHAR name[64], self[MAX_PATH], cmd[MAX_PATH + 16];
    HANDLE keep;
    if (argc < 2) return 2;
    if (!wcscmp(argv[1], L"noop")) return 0;
    n = _wtoi(argv[1]);
    v = malloc(sizeof(double) * n);
    swprintf(name, 64, L"Global\\vtbench-%lu", GetCurrentProcessId());

    for (i = 0; i < n; i++) {
        t = now_us();
        CloseHandle(CreateMutexW(NULL, FALSE, name));
        v[i] = now_us() - t;
    }
    create = median(v, n);

    keep = CreateMutexW(NULL, FALSE, name);
    for (i = 0; i < n; i++) {
        t = now_us();
        CloseHandle(OpenMutexW(SYNCHRONIZE, FALSE, name));
        v[i] = now_us() - t;
    }
    open = median(v, n);
    CloseHandle(keep);

    /* a server instance per iteration (untimed), then the client's open (timed) */
    swprintf(name, 64, L"\\\\.\\pipe\\vtbench-%lu", GetCurrentProcessId());
    for (i = 0; i < n; i++) {
        HANDLE s = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, 0, PIPE_UNLIMITED_INSTANCES, 64, 64, 0, NULL), c;
        t = now_us();
        c = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        v[i] = now_us() - t;
        if (c == INVALID_HANDLE_VALUE) {
            printf("{\"error\":%lu}\n", GetLastError());
            return 1;
        }
        CloseHandle(c);
        CloseHandle(s);
    }
    pipe = median(v, n);

    GetModuleFileNameW(NULL, self, MAX_PATH);
    swprintf(cmd, MAX_PATH + 16, L"\"%ls\" noop", self);
    np = n / 25 + 1;
    for (i = 0; i < np; i++) {
        STARTUPINFOW si;
        PROCESS_INFORMATION pi;
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        t = now_us();
        if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return 1;
        WaitForSingleObject(pi.hProcess, INFINITE);
        v[i] = now_us() - t;
        CloseHandle(pi.hProcess);
        CloseHandle(pi.hThread);
    }
    proc = median(v, np);
    printf("{\"createMutex\":%.2f,\"openMutex\":%.2f,\"openPipe\":%.2f,\"createProcess\":%.1f}\n", create, open, pipe, proc);
    return 0;
}
