/*
 * svcdup-pipecall PIPE [MESSAGE]: one request/response on a message pipe.
 * svcdup-pipecall --server-pid PIPE: print the pid of the process serving PIPE
 * (any pipe, e.g. RpcSs's lrpc\epmapper), as a client in this namespace reaches it.
 *
 * Connects to PIPE (\\.\pipe\NAME, or just NAME), sends MESSAGE (UTF-8;
 * default "ping"), prints the reply message to stdout as is and exits 0.
 * On failure prints "error N: text" to stderr and exits 2. Tests use it to
 * talk to services from inside Wine (or a VM) the way a real client would.
 */
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 10000

static int fail(const char *what, DWORD err)
{
    WCHAR text[512] = L"";
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err,
                             MAKELANGID(LANG_ENGLISH, SUBLANG_ENGLISH_US), text, 512, NULL);
    while (n && (text[n - 1] == L'\r' || text[n - 1] == L'\n' || text[n - 1] == L' ')) text[--n] = 0;
    fprintf(stderr, "error %lu: %s: %ls\n", err, what, text);
    return 2;
}

/* Completes an overlapped operation within the timeout. */
static BOOL finish(HANDLE h, OVERLAPPED *ov, BOOL started, DWORD *done)
{
    /* the count of a partial message read is only in the OVERLAPPED */
    if (started || GetLastError() == ERROR_MORE_DATA) return GetOverlappedResult(h, ov, done, FALSE);
    if (GetLastError() != ERROR_IO_PENDING) return FALSE;
    if (WaitForSingleObject(ov->hEvent, TIMEOUT_MS) != WAIT_OBJECT_0) {
        CancelIo(h);
        GetOverlappedResult(h, ov, done, TRUE);
        SetLastError(ERROR_TIMEOUT);
        return FALSE;
    }
    return GetOverlappedResult(h, ov, done, FALSE);
}

int wmain(int argc, WCHAR **argv)
{
    WCHAR path[512];
    const WCHAR *msg = argc > 2 ? argv[2] : L"ping";
    char *utf8, buf[4096];
    DWORD mode = PIPE_READMODE_MESSAGE, done, start = GetTickCount();
    OVERLAPPED ov;
    HANDLE pipe;
    BOOL ok;
    int len;

    BOOL server_pid = argc > 2 && !wcscmp(argv[1], L"--server-pid");

    if (argc < 2) {
        fprintf(stderr, "usage: svcdup-pipecall PIPE [MESSAGE] | --server-pid PIPE\n");
        return 2;
    }
    if (server_pid) {
        argv++;
        argc--;
    }
    if (!wcsncmp(argv[1], L"\\\\", 2))
        swprintf(path, 512, L"%ls", argv[1]);
    else
        swprintf(path, 512, L"\\\\.\\pipe\\%ls", argv[1]);

    /* all instances busy: wait for one, within the overall timeout */
    for (;;) {
        pipe = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
        if (pipe != INVALID_HANDLE_VALUE) break;
        if (GetLastError() != ERROR_PIPE_BUSY || GetTickCount() - start > TIMEOUT_MS) return fail("open", GetLastError());
        WaitNamedPipeW(path, 1000);
    }
    if (server_pid) {
        ULONG pid;
        if (!GetNamedPipeServerProcessId(pipe, &pid)) return fail("server pid", GetLastError());
        printf("%lu\n", pid);
        return 0;
    }
    if (!SetNamedPipeHandleState(pipe, &mode, NULL, NULL)) return fail("set message mode", GetLastError());

    len = WideCharToMultiByte(CP_UTF8, 0, msg, -1, NULL, 0, NULL, NULL);
    if (!(utf8 = malloc(len))) return fail("alloc", ERROR_NOT_ENOUGH_MEMORY);
    WideCharToMultiByte(CP_UTF8, 0, msg, -1, utf8, len, NULL, NULL);

    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ok = WriteFile(pipe, utf8, (DWORD)(len - 1), &done, &ov);
    if (!finish(pipe, &ov, ok, &done)) return fail("write", GetLastError());

    /* one reply message, possibly longer than buf */
    _setmode(_fileno(stdout), _O_BINARY);
    for (;;) {
        DWORD err;
        ok = ReadFile(pipe, buf, sizeof(buf), &done, &ov);
        ok = finish(pipe, &ov, ok, &done);
        err = ok ? 0 : GetLastError();
        if (!ok && err != ERROR_MORE_DATA) return fail("read", err);
        fwrite(buf, 1, done, stdout);
        if (ok) break;
    }
    fflush(stdout);
    CloseHandle(pipe);
    return 0;
}
