/* svcdup-watch: notices a direct duplicate's image that ends without reporting STOPPED (a
 * crash, a kill), and reports STOPPED for it (docs/dup.md, "A dead direct image").
 * Wine 8's SCM does not wait on service processes and no svcdup process lives beside a
 * direct image, so this one process, outside every VM, watches them all. Each direct image's
 * hook tells it "PID NAME@VM" over the mailslot below as it starts (and starts this program
 * when the mailslot is not there: at start it also takes every running NAME@VM service, so
 * that one, and those an earlier watcher had, are not missed). It holds a handle to each
 * process: when one ends while the SCM still has it as that service's process and the
 * service is not STOPPED, it reports STOPPED with ERROR_SERVICE_SPECIFIC_ERROR and the
 * process's exit code, as svcdup-host does for a relayed image, through SetServiceStatus on
 * a SERVICE_SET_STATUS handle (what Wine's own dispatcher uses). TerminateProcess leaves no
 * code running in the process: only a holder of its handle learns of it.
 * A message is only a hint: what is reported comes from the SCM and the process handle, so a
 * forged one can do no more than point at a real service's real process. The mailslot name
 * is reserved (svcdup.*): a VM process naming it reaches its VM's own name. With nothing to
 * watch for a minute it exits. */
#include <windows.h>
#include <stdlib.h>
#include <wchar.h>

#ifndef SERVICE_SET_STATUS
#define SERVICE_SET_STATUS 0x8000 /* the right sechost opens a service with to report its status */
#endif
#define MAILSLOT     L"\\\\.\\mailslot\\svcdup.watch"
#define IDLE_EXIT_MS 60000
#define NAME_MAX_CH  300

typedef struct watch {
    struct watch *next;
    HANDLE process, wait;
    DWORD pid;
    int done;
    WCHAR name[NAME_MAX_CH];
} watch;

static SC_HANDLE scm;
static CRITICAL_SECTION lock;
static watch *list;

/* The SCM's process id of a service and its state, or 0. */
static DWORD service_pid(SC_HANDLE svc, SERVICE_STATUS_PROCESS *st)
{
    DWORD need;
    if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)st, sizeof *st, &need)) return 0;
    return st->dwProcessId;
}

static void CALLBACK ended(void *ctx, BOOLEAN timed_out)
{
    watch *w = ctx;
    DWORD code = 0;
    SERVICE_STATUS_PROCESS st;
    SC_HANDLE svc;
    GetExitCodeProcess(w->process, &code);
    EnterCriticalSection(&lock);
    if ((svc = OpenServiceW(scm, w->name, SERVICE_QUERY_STATUS | SERVICE_SET_STATUS))) {
        if (service_pid(svc, &st) == w->pid && st.dwCurrentState != SERVICE_STOPPED) {
            SERVICE_STATUS s = {0};
            s.dwServiceType = st.dwServiceType;
            s.dwCurrentState = SERVICE_STOPPED;
            s.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
            s.dwServiceSpecificExitCode = code;
            SetServiceStatus((SERVICE_STATUS_HANDLE)svc, &s);
        }
        CloseServiceHandle(svc);
    }
    w->done = 1;
    LeaveCriticalSection(&lock);
}

/* Forget the watches whose process ended (on the main thread: a wait is not unregistered from its own callback). */
static void sweep(void)
{
    watch **p = &list;
    EnterCriticalSection(&lock);
    while (*p) {
        watch *w = *p;
        if (!w->done) {
            p = &w->next;
            continue;
        }
        *p = w->next;
        UnregisterWait(w->wait);
        CloseHandle(w->process);
        free(w);
    }
    LeaveCriticalSection(&lock);
}

static void watch_add(DWORD pid, const WCHAR *name)
{
    SERVICE_STATUS_PROCESS st;
    SC_HANDLE svc;
    HANDLE h;
    watch *w;
    int tries;
    if (!pid || !name[0] || wcslen(name) >= NAME_MAX_CH || !wcschr(name, L'@')) return;
    EnterCriticalSection(&lock);
    for (w = list; w; w = w->next)
        if (w->pid == pid && !w->done) break;
    LeaveCriticalSection(&lock);
    if (w) return;
    /* the SCM records the pid as CreateProcess returns, about when the image's hook runs. The
       service is not held open between tries: a handle open on it keeps an undup's DeleteService
       from completing, and a dup of the same name right after it fails (marked for delete). */
    for (tries = 0;; tries++) {
        if (!(svc = OpenServiceW(scm, name, SERVICE_QUERY_STATUS))) return;
        st.dwProcessId = service_pid(svc, &st);
        CloseServiceHandle(svc);
        if (st.dwProcessId == pid || tries == 19) break;
        Sleep(50);
    }
    if (st.dwProcessId != pid) return;
    if (!(h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid))) return;
    if (!(w = calloc(1, sizeof *w))) {
        CloseHandle(h);
        return;
    }
    w->process = h;
    w->pid = pid;
    wcscpy(w->name, name);
    EnterCriticalSection(&lock);
    if (RegisterWaitForSingleObject(&w->wait, h, ended, w, INFINITE, WT_EXECUTEONLYONCE)) {
        w->next = list;
        list = w;
        w = NULL;
    }
    LeaveCriticalSection(&lock);
    if (w) {
        CloseHandle(h);
        free(w);
    }
}

/* Every running NAME@VM service: what started before this watcher did. */
static void scan(void)
{
    DWORD need = 0, n = 0, resume = 0;
    BYTE *buf;
    EnumServicesStatusExW(scm, SC_ENUM_PROCESS_INFO, SERVICE_WIN32, SERVICE_ACTIVE, NULL, 0, &need, &n, &resume, NULL);
    if (!need || !(buf = malloc(need))) return;
    resume = 0;
    if (EnumServicesStatusExW(scm, SC_ENUM_PROCESS_INFO, SERVICE_WIN32, SERVICE_ACTIVE, buf, need, &need, &n, &resume, NULL)) {
        ENUM_SERVICE_STATUS_PROCESSW *e = (ENUM_SERVICE_STATUS_PROCESSW *)buf;
        for (DWORD i = 0; i < n; i++)
            if (e[i].ServiceStatusProcess.dwProcessId && wcschr(e[i].lpServiceName, L'@'))
                watch_add(e[i].ServiceStatusProcess.dwProcessId, e[i].lpServiceName);
    }
    free(buf);
}

int wmain(void)
{
    HANDLE slot = CreateMailslotW(MAILSLOT, 0, 1000, NULL);
    DWORD idle_since = GetTickCount();
    if (slot == INVALID_HANDLE_VALUE) return 0; /* another watcher has it */
    if (!(scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE))) return 1;
    InitializeCriticalSection(&lock);
    scan();
    for (;;) {
        WCHAR msg[NAME_MAX_CH + 16];
        DWORD got;
        if (ReadFile(slot, msg, sizeof msg - sizeof(WCHAR), &got, NULL) && got >= sizeof(WCHAR)) {
            WCHAR *end;
            DWORD pid;
            msg[got / sizeof(WCHAR)] = 0;
            pid = wcstoul(msg, &end, 10);
            if (*end == L' ') watch_add(pid, end + 1);
        }
        sweep();
        if (list)
            idle_since = GetTickCount();
        else if (GetTickCount() - idle_since > IDLE_EXIT_MS)
            break;
    }
    CloseHandle(slot);
    return 0;
}
