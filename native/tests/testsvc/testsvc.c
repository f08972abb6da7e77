/*
 * svcdup-testsvc: a small but real Win32 service, for tests.
 *
 * It is written to collide with a second copy of itself, the way real
 * services do, so that tests can tell whether a duplicate is isolated:
 *  - a fixed singleton mutex, Global\svcdup-testsvc-singleton (-DMULTI:
 *    suffixed "-<service>"); when it already exists the service stops with
 *    ERROR_SERVICE_SPECIFIC_ERROR and service exit code 183
 *    (ERROR_ALREADY_EXISTS);
 *  - a fixed pipe, \\.\pipe\svcdup-testsvc, answering each request message
 *    with one JSON line {pid, service, greeting, lastControl, args}, where
 *    greeting is Services\<name>\Parameters\Greeting read on every request.
 *
 * Built three times: svcdup-testsvc.exe (own process, one dispatch entry named by
 * "--name NAME" on the command line, default svcdup-testsvc); with -DMULTI,
 * svcdup-testsvc-multi.exe (share process, entries svcdup-testsvc-a and
 * svcdup-testsvc-b); with -DSERVICEDLL, svcdup-testsvc.dll, a ServiceDll for
 * svchost (export ServiceMain; its own pipe \\.\pipe\svcdup-testsvcdll and
 * singleton Global\svcdup-testsvcdll-singleton).
 * Every reply also carries startedAt: when ServiceMain began, in ms since 1970.
 *
 * Start arguments (StartService args, or the ImagePath command line):
 *   --exit-code N  report RUNNING, then stop at once with 1066 / N
 *   --crash        report RUNNING, then ExitProcess(3) half a second later
 *   --fault        report RUNNING, then write through a null pointer half a second later
 *                  (an unhandled access violation: the process ends with 0xC0000005)
 *   --say TEXT     print TEXT on stdout and on stderr when starting
 *   --chatter MS   print a numbered line on stdout every MS ms while running
 *   --dispatch-delay MS   (command line) wait before connecting to the dispatcher
 *   --tcp PORT [--bind ADDR], --udp PORT, --http URL
 *                  also serve on the network (netsvc.c): every reply names pid and service
 * Control 200 closes the network listeners and leaves the service RUNNING (a service whose
 * port stops answering, for health checks).
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "netsvc.h"

#define CONTROL_NET_STOP 200

#ifdef SERVICEDLL
#define PIPE_NAME      L"\\\\.\\pipe\\svcdup-testsvcdll"
#define SINGLETON_NAME L"Global\\svcdup-testsvcdll-singleton"
#else
#define PIPE_NAME      L"\\\\.\\pipe\\svcdup-testsvc"
#define SINGLETON_NAME L"Global\\svcdup-testsvc-singleton"
#endif
#define CRASH_DELAY_MS 500

#if defined(MULTI) || defined(SERVICEDLL)
#define SERVICE_TYPE SERVICE_WIN32_SHARE_PROCESS
#else
#define SERVICE_TYPE SERVICE_WIN32_OWN_PROCESS
#endif

#define ACCEPTED (SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PAUSE_CONTINUE | SERVICE_ACCEPT_PARAMCHANGE)

/* One running service. Never freed: pipe client threads may outlive the
 * service in a shared process, and a few hundred bytes per start is fine. */
struct service {
    WCHAR name[257];
    SERVICE_STATUS_HANDLE handle;
    SERVICE_STATUS status;
    CRITICAL_SECTION lock;      /* status updates come from two threads */
    HANDLE stop_event;          /* set by STOP/SHUTDOWN */
    volatile LONG last_control; /* last control handled, INTERROGATE aside */
    WCHAR **args;               /* start arguments, service name excluded */
    DWORD nargs;
    ULONGLONG started_ms; /* when ServiceMain began, ms since 1970 */
    DWORD chatter_ms;     /* --chatter */
};

/* The process command line, for --name and start flags given in ImagePath. */
static int cmd_argc;
static WCHAR **cmd_argv;

/* ------------------------------------------------------------ status */

static void report(struct service *s, DWORD state, DWORD win32_exit, DWORD service_exit, DWORD wait_hint)
{
    BOOL pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING || state == SERVICE_PAUSE_PENDING ||
                   state == SERVICE_CONTINUE_PENDING;
    EnterCriticalSection(&s->lock);
    s->status.dwServiceType = SERVICE_TYPE;
    s->status.dwCurrentState = state;
    /* no controls while starting or stopping: the SCM would queue them */
    s->status.dwControlsAccepted = state == SERVICE_RUNNING || state == SERVICE_PAUSED ? ACCEPTED : 0;
    s->status.dwWin32ExitCode = win32_exit;
    s->status.dwServiceSpecificExitCode = service_exit;
    s->status.dwCheckPoint = pending ? s->status.dwCheckPoint + 1 : 0;
    s->status.dwWaitHint = pending ? wait_hint : 0;
    SetServiceStatus(s->handle, &s->status);
    LeaveCriticalSection(&s->lock);
}

static DWORD WINAPI control_handler(DWORD control, DWORD event_type, void *event_data, void *context)
{
    struct service *s = context;

    if (control == SERVICE_CONTROL_INTERROGATE) {
        /* not remembered: the SCM may interrogate on its own */
        EnterCriticalSection(&s->lock);
        SetServiceStatus(s->handle, &s->status);
        LeaveCriticalSection(&s->lock);
        return NO_ERROR;
    }
    if (control != SERVICE_CONTROL_STOP && control != SERVICE_CONTROL_SHUTDOWN && control != SERVICE_CONTROL_PAUSE &&
        control != SERVICE_CONTROL_CONTINUE && control != SERVICE_CONTROL_PARAMCHANGE && (control < 128 || control > 255))
        return ERROR_CALL_NOT_IMPLEMENTED;

    InterlockedExchange(&s->last_control, (LONG)control);
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        report(s, SERVICE_STOP_PENDING, NO_ERROR, 0, 5000);
        SetEvent(s->stop_event);
        break;
    case SERVICE_CONTROL_PAUSE:
        report(s, SERVICE_PAUSED, NO_ERROR, 0, 0); /* the pipe keeps answering */
        break;
    case SERVICE_CONTROL_CONTINUE: report(s, SERVICE_RUNNING, NO_ERROR, 0, 0); break;
    case CONTROL_NET_STOP: netsvc_stop(); break;
    }
    /* PARAMCHANGE needs nothing (the greeting is read per request); custom
     * codes 128-255 are only remembered, for lastControl */
    return NO_ERROR;
}

/* ------------------------------------------------------------ singleton */

/* The own-process build has one fixed name: any second copy collides,
 * whatever its service name. In the -DMULTI build each entry has its own
 * (the name suffixed with "-<service>"), so that a and b can run side by
 * side, in one process as on Windows or in two as on Wine, while a second
 * copy of a still collides with a. */
static HANDLE acquire_singleton(const WCHAR *service)
{
    WCHAR name[400];
    HANDLE mutex;
#ifdef MULTI
    swprintf(name, 400, L"%ls-%ls", SINGLETON_NAME, service);
#else
    swprintf(name, 400, L"%ls", SINGLETON_NAME);
#endif
    mutex = CreateMutexW(NULL, FALSE, name);
    if (mutex && GetLastError() == ERROR_ALREADY_EXISTS) {
        CloseHandle(mutex);
        return NULL;
    }
    return mutex;
}

/* ------------------------------------------------------------ pipe server */

/* Services\<name>\Parameters\Greeting, read fresh (tests change it). */
static void write_greeting(json_writer *w, const WCHAR *name)
{
    WCHAR path[400], value[1024];
    DWORD type, size = sizeof(value) - sizeof(WCHAR);
    HKEY key;

    value[0] = 0;
    swprintf(path, 400, L"SYSTEM\\CurrentControlSet\\Services\\%ls\\Parameters", name);
    if (!RegOpenKeyExW(HKEY_LOCAL_MACHINE, path, 0, KEY_QUERY_VALUE | KEY_WOW64_64KEY, &key)) {
        if (RegQueryValueExW(key, L"Greeting", NULL, &type, (BYTE *)value, &size) || (type != REG_SZ && type != REG_EXPAND_SZ)) size = 0;
        value[size / sizeof(WCHAR)] = 0;
        RegCloseKey(key);
    }
    json_string16(w, (const uint16_t *)value, wcslen(value));
}

static void build_reply(struct service *s, json_writer *w)
{
    DWORD i;
    json_writer_reset(w);
    json_begin_object(w);
    json_key(w, "pid");
    json_uint(w, GetCurrentProcessId());
    json_key(w, "service");
    json_string16(w, (const uint16_t *)s->name, wcslen(s->name));
    json_key(w, "greeting");
    write_greeting(w, s->name);
    json_key(w, "startedAt");
    json_uint(w, s->started_ms);
    json_key(w, "lastControl");
    json_uint(w, (DWORD)s->last_control);
    json_key(w, "args");
    json_begin_array(w);
    for (i = 0; i < s->nargs; i++) json_string16(w, (const uint16_t *)s->args[i], wcslen(s->args[i]));
    json_end_array(w);
    json_end_object(w);
    json_append(w, "\n", 1);
}

/* Waits for an overlapped operation, or for the service to stop. */
static BOOL wait_io(struct service *s, HANDLE pipe, OVERLAPPED *ov, DWORD *done)
{
    HANDLE waits[2] = {ov->hEvent, s->stop_event};
    if (GetLastError() != ERROR_IO_PENDING) return FALSE;
    if (WaitForMultipleObjects(2, waits, FALSE, INFINITE) != WAIT_OBJECT_0) {
        CancelIo(pipe);
        GetOverlappedResult(pipe, ov, done, TRUE);
        return FALSE;
    }
    return GetOverlappedResult(pipe, ov, done, FALSE);
}

struct client {
    struct service *s;
    HANDLE pipe;
};

/* One connected client: every request message gets one reply message. */
static DWORD WINAPI client_thread(void *arg)
{
    struct client *c = arg;
    OVERLAPPED ov;
    json_writer reply;
    char buf[4096];
    DWORD got, put;

    json_writer_init(&reply);
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    for (;;) {
        BOOL ok = ReadFile(c->pipe, buf, sizeof(buf), &got, &ov);
        if (!ok) ok = wait_io(c->s, c->pipe, &ov, &got);
        /* a longer message is drained: its content does not matter */
        while (!ok && GetLastError() == ERROR_MORE_DATA) {
            ok = ReadFile(c->pipe, buf, sizeof(buf), &got, &ov);
            if (!ok) ok = wait_io(c->s, c->pipe, &ov, &got);
        }
        if (!ok) break; /* client gone, or service stopping */
        build_reply(c->s, &reply);
        if (reply.failed) break;
        ok = WriteFile(c->pipe, reply.data, (DWORD)reply.len, &put, &ov);
        if (!ok && !wait_io(c->s, c->pipe, &ov, &put)) break;
    }
    FlushFileBuffers(c->pipe);
    DisconnectNamedPipe(c->pipe);
    CloseHandle(c->pipe);
    CloseHandle(ov.hEvent);
    json_writer_free(&reply);
    free(c);
    return 0;
}

static HANDLE create_instance(void)
{
    /* a NULL DACL: test clients of any account may connect */
    static SECURITY_DESCRIPTOR sd;
    SECURITY_ATTRIBUTES sa = {sizeof(sa), &sd, FALSE};
    InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
    SetSecurityDescriptorDacl(&sd, TRUE, NULL, FALSE);
    return CreateNamedPipeW(PIPE_NAME, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                            PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, &sa);
}

struct listener {
    struct service *s;
    HANDLE first; /* created before RUNNING, so clients can connect at once */
};

static DWORD WINAPI listen_thread(void *arg)
{
    struct listener *l = arg;
    struct service *s = l->s;
    HANDLE pipe = l->first;
    OVERLAPPED ov;

    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    while (WaitForSingleObject(s->stop_event, 0) != WAIT_OBJECT_0) {
        struct client *c;
        DWORD unused;
        BOOL connected;

        if (pipe == INVALID_HANDLE_VALUE && (pipe = create_instance()) == INVALID_HANDLE_VALUE) {
            Sleep(200); /* out of instances or resources: try again */
            continue;
        }
        ResetEvent(ov.hEvent);
        connected = ConnectNamedPipe(pipe, &ov) || GetLastError() == ERROR_PIPE_CONNECTED;
        if (!connected && !(connected = wait_io(s, pipe, &ov, &unused))) {
            if (WaitForSingleObject(s->stop_event, 0) != WAIT_OBJECT_0) Sleep(50);
            CloseHandle(pipe);
            pipe = INVALID_HANDLE_VALUE;
            continue;
        }
        if ((c = malloc(sizeof(*c)))) {
            HANDLE t;
            c->s = s;
            c->pipe = pipe;
            if ((t = CreateThread(NULL, 0, client_thread, c, 0, NULL)))
                CloseHandle(t);
            else {
                CloseHandle(pipe);
                free(c);
            }
        } else
            CloseHandle(pipe);
        pipe = INVALID_HANDLE_VALUE;
    }
    if (pipe != INVALID_HANDLE_VALUE) CloseHandle(pipe);
    CloseHandle(ov.hEvent);
    free(l);
    return 0;
}

/* ------------------------------------------------------------ service main */

/* Looks for a flag in the start arguments, then on the command line. */
static const WCHAR *find_flag(struct service *s, const WCHAR *flag, BOOL has_value, BOOL *present)
{
    DWORD i;
    int j;
    *present = FALSE;
    for (i = 0; i < s->nargs; i++)
        if (!wcscmp(s->args[i], flag)) {
            *present = TRUE;
            return has_value && i + 1 < s->nargs ? s->args[i + 1] : NULL;
        }
    for (j = 1; j < cmd_argc; j++)
        if (!wcscmp(cmd_argv[j], flag)) {
            *present = TRUE;
            return has_value && j + 1 < cmd_argc ? cmd_argv[j + 1] : NULL;
        }
    return NULL;
}

/* --chatter MS: "chatter N" and padding on stdout every MS ms, for svcdup logs' rotation (test/ops.test.ts) */
static DWORD WINAPI chatter_thread(void *param)
{
    struct service *s = param;
    DWORD ms = s->chatter_ms;
    for (unsigned n = 1; WaitForSingleObject(s->stop_event, ms) == WAIT_TIMEOUT; n++) {
        printf("chatter %u ................................................................\n", n);
        fflush(stdout);
    }
    return 0;
}

static void run_service(const WCHAR *name, DWORD argc, WCHAR **argv)
{
    struct service *s = calloc(1, sizeof(*s));
    struct listener *l;
    const WCHAR *exit_code;
    BOOL want_exit, want_crash, want_fault;
    HANDLE thread, singleton;

    FILETIME now;

    if (!s) return;
    GetSystemTimeAsFileTime(&now);
    s->started_ms = ((((ULONGLONG)now.dwHighDateTime) << 32) | now.dwLowDateTime) / 10000 - 11644473600000ULL;
    wcsncpy(s->name, name, 256);
    InitializeCriticalSection(&s->lock);
    /* argv[0] is the service name (Windows and Wine alike); keep the rest */
    s->args = argc > 1 ? argv + 1 : NULL;
    s->nargs = argc > 1 ? argc - 1 : 0;
    s->stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!(s->handle = RegisterServiceCtrlHandlerExW(name, control_handler, s))) return;

    report(s, SERVICE_START_PENDING, NO_ERROR, 0, 5000);
    {
        /* --say TEXT: a line on stdout and on stderr, for svcdup logs (test/ops.test.ts) */
        BOOL say;
        const WCHAR *text = find_flag(s, L"--say", TRUE, &say);
        if (text) {
            printf("%ls\n", text);
            fprintf(stderr, "%ls (stderr)\n", text);
            fflush(stdout);
            fflush(stderr);
        }
    }
    if (!(singleton = acquire_singleton(name))) {
        /* another copy runs on this machine (or in this VM) */
        report(s, SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, ERROR_ALREADY_EXISTS, 0);
        return;
    }
    report(s, SERVICE_START_PENDING, NO_ERROR, 0, 5000);

    l = malloc(sizeof(*l));
    if (!l || !s->stop_event || (l->first = create_instance()) == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        free(l);
        CloseHandle(singleton);
        report(s, SERVICE_STOPPED, err ? err : ERROR_NOT_ENOUGH_MEMORY, 0, 0);
        return;
    }
    l->s = s;
    {
        /* network listeners, before RUNNING: a duplicate that cannot bind says so at start */
        BOOL has_tcp, has_bind, has_udp, has_http;
        const WCHAR *tcp = find_flag(s, L"--tcp", TRUE, &has_tcp), *bind_addr = find_flag(s, L"--bind", TRUE, &has_bind);
        const WCHAR *udp = find_flag(s, L"--udp", TRUE, &has_udp), *http = find_flag(s, L"--http", TRUE, &has_http);
        DWORD err = netsvc_start(s->name, tcp, bind_addr, udp, http);
        if (err) {
            /* e.g. WSAEADDRINUSE: the service-specific exit code says which */
            CloseHandle(l->first);
            free(l);
            CloseHandle(singleton);
            report(s, SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, err, 0);
            return;
        }
    }
    thread = CreateThread(NULL, 0, listen_thread, l, 0, NULL);
    report(s, SERVICE_RUNNING, NO_ERROR, 0, 0);
    {
        BOOL chatter;
        const WCHAR *ms = find_flag(s, L"--chatter", TRUE, &chatter);
        HANDLE t;
        if (ms && (s->chatter_ms = wcstoul(ms, NULL, 10)) && (t = CreateThread(NULL, 0, chatter_thread, s, 0, NULL))) CloseHandle(t);
    }

    exit_code = find_flag(s, L"--exit-code", TRUE, &want_exit);
    find_flag(s, L"--crash", FALSE, &want_crash);
    if (want_crash) {
        Sleep(CRASH_DELAY_MS);
        ExitProcess(3);
    }
    find_flag(s, L"--fault", FALSE, &want_fault);
    if (want_fault) {
        int *volatile nowhere = NULL; /* volatile: the compiler cannot see it is NULL and trap instead */
        Sleep(CRASH_DELAY_MS);
        *nowhere = 1;
    }
    if (!want_exit) WaitForSingleObject(s->stop_event, INFINITE);

    /* stopping: close the pipe server and the TCP listener, give up the singleton, report */
    SetEvent(s->stop_event);
    netsvc_stop();
    if (thread) {
        WaitForSingleObject(thread, 5000);
        CloseHandle(thread);
    }
    CloseHandle(singleton);
    if (want_exit)
        report(s, SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, exit_code ? wcstoul(exit_code, NULL, 0) : 0, 0);
    else
        report(s, SERVICE_STOPPED, NO_ERROR, 0, 0);
}

#ifdef SERVICEDLL
/* svchost calls this with argv[0] = the service name */
__declspec(dllexport) void WINAPI ServiceMain(DWORD argc, WCHAR **argv) { run_service(argc ? argv[0] : L"svcdup-testsvcdll", argc, argv); }
#else
#ifdef MULTI
static void WINAPI main_a(DWORD argc, WCHAR **argv) { run_service(L"svcdup-testsvc-a", argc, argv); }
static void WINAPI main_b(DWORD argc, WCHAR **argv) { run_service(L"svcdup-testsvc-b", argc, argv); }
#else
static const WCHAR *own_name = L"svcdup-testsvc";
static void WINAPI main_own(DWORD argc, WCHAR **argv) { run_service(own_name, argc, argv); }
#endif

int wmain(int argc, WCHAR **argv)
{
    int i;
#ifdef MULTI
    SERVICE_TABLE_ENTRYW table[] = {{L"svcdup-testsvc-a", main_a}, {L"svcdup-testsvc-b", main_b}, {NULL, NULL}};
#else
    SERVICE_TABLE_ENTRYW table[] = {{NULL, main_own}, {NULL, NULL}};
    for (i = 1; i + 1 < argc; i++)
        if (!wcscmp(argv[i], L"--name")) own_name = argv[i + 1];
    table[0].lpServiceName = (WCHAR *)own_name;
#endif
    cmd_argc = argc;
    cmd_argv = argv;
    /* --dispatch-delay MS (ImagePath only): a slow starter, for tests of what may happen meanwhile */
    for (i = 1; i + 1 < argc; i++)
        if (!wcscmp(argv[i], L"--dispatch-delay")) Sleep(wcstoul(argv[i + 1], NULL, 10));
    if (!StartServiceCtrlDispatcherW(table)) {
        DWORD err = GetLastError();
        fwprintf(stderr, L"svcdup-testsvc: StartServiceCtrlDispatcher failed, error %lu%ls\n", err,
                 err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT ? L" (run it as a service)" : L"");
        return 1;
    }
    return 0;
}
#endif /* SERVICEDLL */
