/* What test/ops.test.ts runs in a VM (one concern: resource use it can report itself):
 *   op-probe alloc MB SECONDS   commit and touch MB megabytes, print the process's own counters, sleep
 *   op-probe spawn N SECONDS    start N copies of "op-probe sleep SECONDS"; print how many started and the error
 *   op-probe sleep SECONDS      sleep
 *   op-probe print TEXT         write TEXT to stdout and stderr, then exit
 *   op-probe busy THREADS SECONDS  spin THREADS threads for SECONDS, print the process's own CPU and wall ms
 * Output is one JSON line, flushed at once (the tests read it while the program sleeps). */
#include <windows.h>
#include <psapi.h>
#include <stdio.h>
#include <stdlib.h>

static int alloc(int mb, int seconds)
{
    SIZE_T size = (SIZE_T)mb << 20, i;
    char *p = VirtualAlloc(NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    PROCESS_MEMORY_COUNTERS_EX c;
    if (!p) {
        printf("{\"error\":%lu}\n", GetLastError());
        return 2;
    }
    /* touch every page, so it is resident and counted as the process's own */
    for (i = 0; i < size; i += 4096) p[i] = (char)i;
    memset(&c, 0, sizeof c);
    c.cb = sizeof c;
    GetProcessMemoryInfo(GetCurrentProcess(), (PROCESS_MEMORY_COUNTERS *)&c, sizeof c);
    printf("{\"pid\":%lu,\"private\":%llu,\"workingSet\":%llu}\n", GetCurrentProcessId(), (unsigned long long)c.PrivateUsage,
           (unsigned long long)c.WorkingSetSize);
    fflush(stdout);
    Sleep((DWORD)seconds * 1000);
    return 0;
}

static int spawn(int n, int seconds)
{
    WCHAR self[MAX_PATH], cmd[MAX_PATH + 64];
    int started = 0, i;
    DWORD err = 0;
    GetModuleFileNameW(NULL, self, MAX_PATH);
    swprintf(cmd, MAX_PATH + 64, L"\"%ls\" sleep %d", self, seconds);
    for (i = 0; i < n; i++) {
        STARTUPINFOW si = {sizeof si};
        PROCESS_INFORMATION pi;
        WCHAR line[MAX_PATH + 64];
        wcscpy(line, cmd);
        if (!CreateProcessW(NULL, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
            err = GetLastError();
            break;
        }
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
        started++;
    }
    printf("{\"started\":%d,\"error\":%lu}\n", started, err);
    fflush(stdout);
    Sleep((DWORD)seconds * 1000);
    return 0;
}

static volatile LONG spinning = 1;

static DWORD WINAPI spin(void *arg)
{
    volatile unsigned long long n = 0;
    (void)arg;
    while (spinning) n++;
    return 0;
}

/* the process's CPU so far, ms: Wine reads the calling process's own times from Linux (times()) */
static unsigned long long cpu_ms(void)
{
    FILETIME created, ended, kernel, user;
    GetProcessTimes(GetCurrentProcess(), &created, &ended, &kernel, &user);
    return ((((unsigned long long)kernel.dwHighDateTime << 32) | kernel.dwLowDateTime) +
            (((unsigned long long)user.dwHighDateTime << 32) | user.dwLowDateTime)) /
           10000;
}

/* CPU the process got while THREADS threads wanted all they could (from the first spin on, not
   its start-up's): what a --cpus cap holds down */
static int busy(int threads, int seconds)
{
    HANDLE h[64];
    int i, n = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    unsigned long long cpu0 = cpu_ms(), t0 = GetTickCount64(), wall;
    for (i = 0; i < n; i++) h[i] = CreateThread(NULL, 0, spin, NULL, 0, NULL);
    Sleep((DWORD)seconds * 1000);
    spinning = 0;
    WaitForMultipleObjects(n, h, TRUE, INFINITE);
    wall = GetTickCount64() - t0;
    printf("{\"pid\":%lu,\"cpuMs\":%llu,\"wallMs\":%llu}\n", GetCurrentProcessId(), cpu_ms() - cpu0, wall);
    fflush(stdout);
    return 0;
}

int wmain(int argc, WCHAR **argv)
{
    if (argc >= 4 && !wcscmp(argv[1], L"busy")) return busy(_wtoi(argv[2]), _wtoi(argv[3]));
    if (argc >= 4 && !wcscmp(argv[1], L"alloc")) return alloc(_wtoi(argv[2]), _wtoi(argv[3]));
    if (argc >= 4 && !wcscmp(argv[1], L"spawn")) return spawn(_wtoi(argv[2]), _wtoi(argv[3]));
    if (argc >= 3 && !wcscmp(argv[1], L"sleep")) {
        Sleep((DWORD)_wtoi(argv[2]) * 1000);
        return 0;
    }
    if (argc >= 3 && !wcscmp(argv[1], L"print")) {
        printf("%ls\n", argv[2]);
        fprintf(stderr, "%ls (stderr)\n", argv[2]);
        return 0;
    }
    fprintf(stderr, "usage: op-probe alloc MB SECONDS | spawn N SECONDS | sleep SECONDS | print TEXT | busy THREADS SECONDS\n");
    return 1;
}
