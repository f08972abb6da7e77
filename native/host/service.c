/* The SCM side of svcdup-host: ServiceMain, the control handler, and the relay loop
   that turns the service's status reports into SetServiceStatus calls, on the threads
   of StartServiceCtrlDispatcher (Windows). Under Wine scmpipe.c does the same on one
   thread; the decisions both make are the host_* functions here. */
#include <windows.h>
#include "host.h"
#include "relay.h"

void host_report(DWORD state, DWORD win32_exit, DWORD service_exit, DWORD wait_hint)
{
    EnterCriticalSection(&H.lock);
    H.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    H.status.dwCurrentState = state;
    H.status.dwWin32ExitCode = win32_exit;
    H.status.dwServiceSpecificExitCode = service_exit;
    H.status.dwWaitHint = wait_hint;
    H.status.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : H.status.dwCheckPoint + 1;
    if (state == SERVICE_STOPPED || state == SERVICE_START_PENDING) H.status.dwControlsAccepted = 0;
    SetServiceStatus(H.status_handle, &H.status);
    LeaveCriticalSection(&H.lock);
}

/* A control from the SCM, up to the point where it goes to the image: TRUE when it was
   answered here (*result), FALSE when the caller must relay it (the pipe is up). */
BOOL host_control_local(DWORD control, DWORD *result)
{
    /* A duplicate can always be stopped, so that it can always be removed: an image
       that does not accept STOP (Wine's Schedule accepts no control at all) is ended. */
    if ((control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) && H.child &&
        !(H.image_accepts & (control == SERVICE_CONTROL_STOP ? SERVICE_ACCEPT_STOP : SERVICE_ACCEPT_SHUTDOWN))) {
        InterlockedExchange(&H.forced_stop, 1);
        host_report(SERVICE_STOP_PENDING, NO_ERROR, 0, 5000);
        TerminateProcess(H.child, 0);
        *result = NO_ERROR;
        return TRUE;
    }
    if (H.pipe) return FALSE;
    /* Still starting (or ending): a stop ends the start; nothing else can be handled. */
    if (control == SERVICE_CONTROL_STOP && H.child) TerminateProcess(H.child, ERROR_SERVICE_REQUEST_TIMEOUT);
    *result = control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_SERVICE_CANNOT_ACCEPT_CTRL;
    return TRUE;
}

/* Controls from the SCM go to the service's own handler; its answer comes back. */
static DWORD WINAPI handler(DWORD control, DWORD event_type, void *event_data, void *ctx)
{
    relay_control c = {control, event_type};
    DWORD result;

    EnterCriticalSection(&H.lock);
    if (host_control_local(control, &result)) {
        LeaveCriticalSection(&H.lock);
        return result;
    }
    ResetEvent(H.reply_event);
    if (!relay_write(H.pipe, RELAY_CONTROL, &c, sizeof c)) {
        LeaveCriticalSection(&H.lock);
        return ERROR_SERVICE_NOT_ACTIVE;
    }
    LeaveCriticalSection(&H.lock);
    if (WaitForSingleObject(H.reply_event, HOST_CONTROL_TIMEOUT_MS) != WAIT_OBJECT_0) return ERROR_SERVICE_REQUEST_TIMEOUT;
    result = H.reply;
    return result;
}

/* One connection to the relay pipe within `ms`, unless the image dies first. */
static DWORD connect_once(HANDLE pipe, DWORD ms)
{
    OVERLAPPED ov = {0};
    HANDLE waits[2];
    DWORD r, err = NO_ERROR;

    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (ConnectNamedPipe(pipe, &ov) || GetLastError() == ERROR_PIPE_CONNECTED) goto done;
    if (GetLastError() != ERROR_IO_PENDING) {
        err = GetLastError();
        goto done;
    }
    waits[0] = ov.hEvent;
    waits[1] = H.child;
    r = WaitForMultipleObjects(2, waits, FALSE, ms);
    if (r == WAIT_OBJECT_0) {
        DWORD n;
        if (!GetOverlappedResult(pipe, &ov, &n, FALSE)) err = GetLastError();
    } else {
        CancelIo(pipe);
        err = r == WAIT_OBJECT_0 + 1 ? ERROR_PROCESS_ABORTED : ERROR_SERVICE_REQUEST_TIMEOUT;
    }
done:
    CloseHandle(ov.hEvent);
    return err;
}

/* Wait for the image to open the relay pipe. The pipe's name is open to every VM (it must
   reach this host process), so a client other than the image we started is turned away. */
static DWORD await_connect(HANDLE pipe)
{
    DWORD start = GetTickCount(), err, client;

    for (;;) {
        DWORD spent = GetTickCount() - start;
        if (spent >= HOST_CONNECT_TIMEOUT_MS) return ERROR_SERVICE_REQUEST_TIMEOUT;
        if ((err = connect_once(pipe, HOST_CONNECT_TIMEOUT_MS - spent))) return err;
        if (GetNamedPipeClientProcessId(pipe, &client) && client == H.child_pid) return NO_ERROR;
        DisconnectNamedPipe(pipe);
    }
}

/* START carries ServiceMain's arguments; argv[0] is the service's own name in the VM. */
BOOL host_send_start(DWORD argc, WCHAR **argv)
{
    BYTE *body, *p;
    DWORD size = sizeof(DWORD), i, n;
    BOOL ok;

    size += (lstrlenW(H.service) + 1) * sizeof(WCHAR);
    for (i = 1; i < argc; i++) size += (lstrlenW(argv[i]) + 1) * sizeof(WCHAR);
    if (size > RELAY_MAX_MESSAGE || !(body = HeapAlloc(GetProcessHeap(), 0, size))) return FALSE;
    *(DWORD *)body = argc ? argc : 1;
    p = body + sizeof(DWORD);
    n = (lstrlenW(H.service) + 1) * sizeof(WCHAR);
    memcpy(p, H.service, n);
    p += n;
    for (i = 1; i < argc; i++) {
        n = (lstrlenW(argv[i]) + 1) * sizeof(WCHAR);
        memcpy(p, argv[i], n);
        p += n;
    }
    ok = relay_write(H.pipe, RELAY_START, body, size);
    HeapFree(GetProcessHeap(), 0, body);
    return ok;
}

/* One status report of the image, passed on; TRUE (and *final) when it says STOPPED,
   which is not passed on yet: the SCM may end this process as soon as it hears it. */
BOOL host_relay_status(const SERVICE_STATUS *s, SERVICE_STATUS *final)
{
    if (s->dwCurrentState == SERVICE_STOPPED) {
        *final = *s;
        return TRUE;
    }
    EnterCriticalSection(&H.lock);
    H.status = *s;
    /* To the SCM this is an own-process service, whatever the image's type;
       and one that can always be stopped (see host_control_local). */
    H.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    H.image_accepts = s->dwControlsAccepted;
    if (s->dwCurrentState != SERVICE_START_PENDING && s->dwCurrentState != SERVICE_STOP_PENDING)
        H.status.dwControlsAccepted |= SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN;
    SetServiceStatus(H.status_handle, &H.status);
    LeaveCriticalSection(&H.lock);
    return FALSE;
}

/* Relay status reports until the service says STOPPED (kept in *final, not yet
   reported: the SCM may end this process as soon as it hears it) or the pipe breaks. */
static BOOL relay_loop(SERVICE_STATUS *final)
{
    static BYTE buf[RELAY_BUF_SIZE];
    DWORD type, size;
    BYTE *body;

    while (relay_read(H.pipe, buf, &type, &body, &size)) {
        if (type == RELAY_STATUS && size == sizeof(SERVICE_STATUS)) {
            if (host_relay_status((SERVICE_STATUS *)body, final)) return TRUE;
        } else if (type == RELAY_CONTROL_REPLY && size == sizeof(DWORD)) {
            H.reply = *(DWORD *)body;
            SetEvent(H.reply_event);
        }
    }
    return FALSE;
}

/* Called before the dispatcher connects to the SCM: the image boots in the VM while
   this process does its own handshake with the SCM, instead of after it. */
void host_prepare(void)
{
    WCHAR pipe_name[128], pid[11];

    str_join(pipe_name, ARRAYSIZE(pipe_name), L"\\\\.\\pipe\\svcdup.relay.", str_dec(pid, GetCurrentProcessId()), NULL);
    H.relay_pipe = CreateNamedPipeW(pipe_name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                    PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, 1, RELAY_BUF_SIZE, RELAY_BUF_SIZE, 0, NULL);
    if (H.relay_pipe == INVALID_HANDLE_VALUE)
        H.launch_error = GetLastError();
    else
        H.launch_error = host_launch(pipe_name);
}

void WINAPI host_service_main(DWORD argc, WCHAR **argv)
{
    HANDLE pipe = H.relay_pipe;
    DWORD err;
    SERVICE_STATUS final = {0};
    BOOL said_stopped;

    H.status_handle = RegisterServiceCtrlHandlerExW(H.scm_name, handler, NULL);
    if (!H.status_handle) return;
    host_report(SERVICE_START_PENDING, NO_ERROR, 0, HOST_CONNECT_TIMEOUT_MS);

    if (pipe == INVALID_HANDLE_VALUE) {
        host_report(SERVICE_STOPPED, H.launch_error, 0, 0);
        return;
    }
    if ((err = H.launch_error) || (err = await_connect(pipe))) {
        if (H.child) {
            TerminateProcess(H.child, err);
            CloseHandle(H.child);
        }
        CloseHandle(pipe);
        host_report(SERVICE_STOPPED, err, 0, 0);
        return;
    }
    EnterCriticalSection(&H.lock);
    H.pipe = pipe;
    LeaveCriticalSection(&H.lock);
    if (!host_send_start(argc, argv)) {
        TerminateProcess(H.child, ERROR_BROKEN_PIPE);
        host_report(SERVICE_STOPPED, ERROR_BROKEN_PIPE, 0, 0);
        return;
    }
    said_stopped = relay_loop(&final);
    /* A STOP's reply can lose the race with the STOPPED it caused: answer for it. */
    H.reply = NO_ERROR;
    SetEvent(H.reply_event);

    /* Closing the pipe ends the image's dispatcher, so it exits like a stopped service;
       give it a moment, then end it: stopping the duplicate stops the real one. */
    EnterCriticalSection(&H.lock);
    H.pipe = NULL;
    LeaveCriticalSection(&H.lock);
    CloseHandle(pipe);
    if (WaitForSingleObject(H.child, HOST_EXIT_GRACE_MS) != WAIT_OBJECT_0) TerminateProcess(H.child, ERROR_SERVICE_REQUEST_TIMEOUT);
    host_report_end(said_stopped ? &final : NULL);
}

/* The last report, once the image is gone: what it said, or how it ended. */
void host_report_end(const SERVICE_STATUS *final)
{
    DWORD code = 0;

    GetExitCodeProcess(H.child, &code);
    if (final)
        host_report(SERVICE_STOPPED, final->dwWin32ExitCode, final->dwServiceSpecificExitCode, 0);
    else if (H.forced_stop)
        host_report(SERVICE_STOPPED, NO_ERROR, 0, 0);
    else /* it died without saying STOPPED: the SCM learns its exit code */
        host_report(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, code, 0);
}
