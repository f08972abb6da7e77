/* Named-pipe test: "server NAME SECONDS" answers every client with its pid;
   "client NAME" (WaitNamedPipe + CreateFile) and "call NAME" (CallNamedPipe)
   print "server pid=N"; on failure they print the Win32 error and exit 1. */
#include <windows.h>
#include <stdio.h>

static void path(WCHAR *out, const WCHAR *name) { swprintf(out, 300, L"\\\\.\\pipe\\%ls", name); }

static DWORD WINAPI watchdog(void *ms)
{
    Sleep((DWORD)(ULONG_PTR)ms);
    ExitProcess(0);
}

static int server(const WCHAR *name, int seconds)
{
    /* ConnectNamedPipe blocks: a watchdog ends the server on time */
    CloseHandle(CreateThread(NULL, 0, watchdog, (void *)(ULONG_PTR)(seconds * 1000), 0, NULL));
    WCHAR p[300];
    DWORD end = GetTickCount() + seconds * 1000;
    path(p, name);
    printf("listening pid=%lu\n", GetCurrentProcessId());
    fflush(stdout);
    while (GetTickCount() < end) {
        HANDLE h = CreateNamedPipeW(p, PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, PIPE_UNLIMITED_INSTANCES,
                                    512, 512, 0, NULL);
        char buf[64];
        DWORD n;
        if (h == INVALID_HANDLE_VALUE) {
            printf("create error %lu\n", GetLastError());
            return 1;
        }
        if (ConnectNamedPipe(h, NULL) || GetLastError() == ERROR_PIPE_CONNECTED) {
            ReadFile(h, buf, sizeof buf, &n, NULL);
            n = sprintf(buf, "%lu", GetCurrentProcessId());
            WriteFile(h, buf, n, &n, NULL);
            FlushFileBuffers(h);
        }
        DisconnectNamedPipe(h);
        CloseHandle(h);
    }
    return 0;
}

static int client(const WCHAR *name, int call)
{
    WCHAR p[300];
    char buf[64];
    DWORD n = 0;
    path(p, name);
    if (call) {
        if (!CallNamedPipeW(p, "pid?", 4, buf, sizeof buf - 1, &n, 5000)) {
            printf("error %lu\n", GetLastError());
            return 1;
        }
    } else {
        HANDLE h;
        DWORD mode = PIPE_READMODE_MESSAGE;
        if (!WaitNamedPipeW(p, 5000)) {
            printf("error %lu\n", GetLastError());
            return 1;
        }
        h = CreateFileW(p, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE) {
            printf("error %lu\n", GetLastError());
            return 1;
        }
        SetNamedPipeHandleState(h, &mode, NULL, NULL);
        WriteFile(h, "pid?", 4, &n, NULL);
        if (!ReadFile(h, buf, sizeof buf - 1, &n, NULL)) {
            printf("error %lu\n", GetLastError());
            return 1;
        }
        CloseHandle(h);
    }
    buf[n] = 0;
    printf("server pid=%s\n", buf);
    return 0;
}

int wmain(int argc, WCHAR **argv)
{
    if (argc >= 4 && !wcscmp(argv[1], L"server")) return server(argv[2], _wtoi(argv[3]));
    if (argc >= 3 && !wcscmp(argv[1], L"client")) return client(argv[2], 0);
    if (argc >= 3 && !wcscmp(argv[1], L"call")) return client(argv[2], 1);
    return 2;
}
