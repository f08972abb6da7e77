/* The service side of the SCM API, emulated for images that svcdup-host started.
 *
 * Only the process the SCM started may run a dispatcher, and that process is
 * svcdup-host. So in the real image, StartServiceCtrlDispatcher, RegisterServiceCtrlHandler(Ex)
 * and SetServiceStatus talk to svcdup-host over the relay pipe (relay.h) instead of to the
 * SCM. Installed only when the process was started with SVCDUP_RELAY_PIPE in its
 * environment; these functions are replaced outright (the originals are never called),
 * all of them or none (a transaction of patch.c). */
#include <windows.h>
#include "relay.h"
#include "service.h"
#include "patch.h"

static struct {
    CRITICAL_SECTION lock; /* writes to the pipe */
    HANDLE pipe;
    HANDLE stopped; /* set when the service reports STOPPED */
    WCHAR pipe_name[128];
    WCHAR service[257];
    LPHANDLER_FUNCTION_EX handler_ex;
    LPHANDLER_FUNCTION handler;
    void *context;
    DWORD argc;
    void **argv; /* WCHAR** or char** for the A entry points */
    void *main;  /* the entry's ServiceMain */
} S;

#define STATUS_HANDLE ((SERVICE_STATUS_HANDLE)(ULONG_PTR)0x5d5d0001)

static DWORD WINAPI service_thread(void *arg)
{
    ((LPSERVICE_MAIN_FUNCTIONW)S.main)(S.argc, (WCHAR **)S.argv);
    return 0;
}

static DWORD call_handler(DWORD control, DWORD event_type)
{
    if (S.handler_ex) return S.handler_ex(control, event_type, NULL, S.context);
    if (S.handler) {
        S.handler(control);
        return NO_ERROR;
    }
    return ERROR_CALL_NOT_IMPLEMENTED;
}

/* START's strings become ServiceMain's argv, in the width the image asked for. */
static BOOL build_argv(const BYTE *body, DWORD size, BOOL ansi)
{
    const WCHAR *p = (const WCHAR *)(body + sizeof(DWORD)), *end = (const WCHAR *)(body + size);
    DWORD i, argc;

    if (size < sizeof(DWORD)) return FALSE;
    argc = *(const DWORD *)body;
    if (argc == 0 || argc > 4096) return FALSE;
    S.argv = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, (argc + 1) * sizeof(void *));
    if (!S.argv) return FALSE;
    for (i = 0; i < argc; i++) {
        const WCHAR *s = p;
        while (p < end && *p) p++;
        if (p >= end) return FALSE;
        p++;
        if (ansi) {
            int n = WideCharToMultiByte(CP_ACP, 0, s, -1, NULL, 0, NULL, NULL);
            char *a = HeapAlloc(GetProcessHeap(), 0, n);
            if (!a) return FALSE;
            WideCharToMultiByte(CP_ACP, 0, s, -1, a, n, NULL, NULL);
            S.argv[i] = a;
        } else {
            S.argv[i] = (void *)s;
        }
    }
    S.argc = argc;
    return TRUE;
}

static HANDLE open_relay(void)
{
    /* The pipe is svcdup-host's, in the host namespace: the policy lists svcdup.relay.* as open. */
    return CreateFileW(S.pipe_name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
}

/* The dispatcher: start the one entry svcdup-host asked for, then run controls through
   its handler until it reports STOPPED. */
static BOOL dispatch(const void *table, BOOL ansi)
{
    static BYTE buf[RELAY_BUF_SIZE];
    DWORD type, size, i;
    BYTE *body;
    HANDLE thread;

    S.pipe = open_relay();
    if (S.pipe == INVALID_HANDLE_VALUE) {
        SetLastError(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT);
        return FALSE;
    }
    if (!relay_read(S.pipe, buf, &type, &body, &size) || type != RELAY_START || !build_argv(body, size, ansi)) {
        SetLastError(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT);
        return FALSE;
    }
    /* One entry: an own-process image ignores the name. Several: the one named. */
    {
        const SERVICE_TABLE_ENTRYA *ta = table;
        const SERVICE_TABLE_ENTRYW *tw = table;
        DWORD count = 0;
        while (ansi ? ta[count].lpServiceProc != NULL : tw[count].lpServiceProc != NULL) count++;
        for (i = 0; i < count && !S.main; i++) {
            if (count == 1 ||
                (ansi ? !lstrcmpiA(ta[i].lpServiceName, (const char *)S.argv[0]) : !lstrcmpiW(tw[i].lpServiceName, S.service)))
                S.main = ansi ? (void *)ta[i].lpServiceProc : (void *)tw[i].lpServiceProc;
        }
        if (!S.main) {
            SetLastError(ERROR_SERVICE_NOT_IN_EXE);
            return FALSE;
        }
    }
    thread = CreateThread(NULL, 0, service_thread, NULL, 0, NULL);
    if (!thread) return FALSE;
    CloseHandle(thread);

    for (;;) {
        if (!relay_read(S.pipe, buf, &type, &body, &size)) break; /* svcdup-host is gone */
        if (type == RELAY_CONTROL && size == sizeof(relay_control)) {
            relay_control *c = (relay_control *)body;
            DWORD result = call_handler(c->control, c->event_type);
            EnterCriticalSection(&S.lock);
            relay_write(S.pipe, RELAY_CONTROL_REPLY, &result, sizeof result);
            LeaveCriticalSection(&S.lock);
        }
        if (WaitForSingleObject(S.stopped, 0) == WAIT_OBJECT_0) break;
    }
    /* Like the real dispatcher: return once the service has stopped. */
    WaitForSingleObject(S.stopped, 5000);
    return TRUE;
}

static BOOL WINAPI emu_StartServiceCtrlDispatcherW(const SERVICE_TABLE_ENTRYW *table) { return dispatch(table, FALSE); }
static BOOL WINAPI emu_StartServiceCtrlDispatcherA(const SERVICE_TABLE_ENTRYA *table) { return dispatch(table, TRUE); }

static SERVICE_STATUS_HANDLE WINAPI emu_RegisterServiceCtrlHandlerExW(const WCHAR *name, LPHANDLER_FUNCTION_EX h, void *ctx)
{
    S.handler_ex = h;
    S.context = ctx;
    return STATUS_HANDLE;
}
static SERVICE_STATUS_HANDLE WINAPI emu_RegisterServiceCtrlHandlerExA(const char *name, LPHANDLER_FUNCTION_EX h, void *ctx)
{
    return emu_RegisterServiceCtrlHandlerExW(NULL, h, ctx);
}
static SERVICE_STATUS_HANDLE WINAPI emu_RegisterServiceCtrlHandlerW(const WCHAR *name, LPHANDLER_FUNCTION h)
{
    S.handler = h;
    return STATUS_HANDLE;
}
static SERVICE_STATUS_HANDLE WINAPI emu_RegisterServiceCtrlHandlerA(const char *name, LPHANDLER_FUNCTION h)
{
    return emu_RegisterServiceCtrlHandlerW(NULL, h);
}

static BOOL WINAPI emu_SetServiceStatus(SERVICE_STATUS_HANDLE h, SERVICE_STATUS *status)
{
    BOOL ok;
    if (h != STATUS_HANDLE || !status) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    EnterCriticalSection(&S.lock);
    ok = S.pipe && S.pipe != INVALID_HANDLE_VALUE && relay_write(S.pipe, RELAY_STATUS, status, sizeof *status);
    LeaveCriticalSection(&S.lock);
    if (status->dwCurrentState == SERVICE_STOPPED) SetEvent(S.stopped);
    return ok;
}

/* Each export of sechost and advapi32 by that name, replaced (patch.c); 0, or a PATCH_* code. */
static int redirect_export(const char *name, void *detour)
{
    static const WCHAR *const dlls[] = {L"sechost.dll", L"advapi32.dll"};
    void *done[2] = {0};
    int i, found = 0;
    for (i = 0; i < 2; i++) {
        HMODULE m = LoadLibraryW(dlls[i]);
        void *p = m ? (void *)GetProcAddress(m, name) : NULL;
        /* advapi32 forwards to sechost on current Windows and on Wine: patch each address once */
        if (p && p != done[0] && patch_attach_replace(p, detour, name)) return -1;
        if (p) found = 1;
        done[i] = p;
    }
    return found ? 0 : patch_fail(name, PATCH_NO_EXPORT, NULL);
}

int service_install(void)
{
    DWORD n = GetEnvironmentVariableW(RELAY_PIPE_ENV, S.pipe_name, ARRAYSIZE(S.pipe_name));
    if (!n || n >= ARRAYSIZE(S.pipe_name)) return 0; /* not started by svcdup-host */
    GetEnvironmentVariableW(RELAY_SERVICE_ENV, S.service, ARRAYSIZE(S.service));
    SetEnvironmentVariableW(RELAY_PIPE_ENV, NULL);
    SetEnvironmentVariableW(RELAY_SERVICE_ENV, NULL);
    InitializeCriticalSection(&S.lock);
    S.stopped = CreateEventW(NULL, TRUE, FALSE, NULL);
    patch_begin();
    if (redirect_export("StartServiceCtrlDispatcherW", (void *)emu_StartServiceCtrlDispatcherW) ||
        redirect_export("StartServiceCtrlDispatcherA", (void *)emu_StartServiceCtrlDispatcherA) ||
        redirect_export("RegisterServiceCtrlHandlerExW", (void *)emu_RegisterServiceCtrlHandlerExW) ||
        redirect_export("RegisterServiceCtrlHandlerExA", (void *)emu_RegisterServiceCtrlHandlerExA) ||
        redirect_export("RegisterServiceCtrlHandlerW", (void *)emu_RegisterServiceCtrlHandlerW) ||
        redirect_export("RegisterServiceCtrlHandlerA", (void *)emu_RegisterServiceCtrlHandlerA) ||
        redirect_export("SetServiceStatus", (void *)emu_SetServiceStatus)) {
        patch_abort();
        return -1;
    }
    /* all or none: a service half on the relay and half on the real SCM would hang */
    return patch_commit() ? -1 : 1;
}
