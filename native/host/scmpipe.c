/* Under Wine, svcdup-host speaks the SCM's control pipe itself, on its one thread.
 *
 * Why: StartServiceCtrlDispatcher runs a service on three threads (the caller, the
 * control dispatcher, ServiceMain), and under Wine 8 a thread costs about 980 kB of
 * private memory, whatever its stack: two thirds of what svcdup-host cost
 * (docs/dup.md, "Performance").
 *
 * This is the other end of Wine's own dispatcher protocol (dlls/sechost/service.c and
 * programs/services): before it starts the process, the SCM creates the byte-mode pipe
 * \\.\pipe\net\NtControlPipeN, N being the default value of
 * HKLM\SYSTEM\CurrentControlSet\Control\ServiceCurrent. Each request on it is a
 * scm_request header, the service name (name_size characters with the NUL) and the
 * control's data (for START: the arguments, a double-NUL list); each is answered with
 * a DWORD result. Status goes to the SCM by SetServiceStatus on a handle opened as
 * sechost opens it. Windows speaks another protocol: there main.c calls
 * StartServiceCtrlDispatcher and service.c runs on its threads. */
#include <windows.h>
#include "host.h"
#include "relay.h"

#define SCM_MAGIC 0x57494e45 /* SERVICE_PROTOCOL_MAGIC, "WINE" */
#define SCM_MAX   (RELAY_MAX_MESSAGE + 1024)
#ifndef SERVICE_SET_STATUS
#define SERVICE_SET_STATUS 0x8000 /* the right sechost opens the service with */
#endif

typedef struct {
    DWORD magic;
    DWORD total_size; /* header included */
    DWORD name_size;  /* characters, the NUL included */
    DWORD control;    /* 0: START */
} scm_request;

enum phase { WAIT_START, STARTING, CONNECTING, RUNNING, ENDING, DONE };

/* Buffers are small and grow only for a large START: each page written is private
   memory, and svcdup-host is paid for once per duplicate. */
static struct {
    HANDLE pipe; /* to the SCM */
    SC_HANDLE manager;
    OVERLAPPED ov;
    BYTE *buf;
    DWORD cap, have;
} scm;

static struct {
    OVERLAPPED ov; /* the connect, then each read */
    BYTE buf[256]; /* the image sends only RELAY_STATUS and RELAY_CONTROL_REPLY */
    enum phase phase;
    DWORD deadline;       /* of CONNECTING and ENDING */
    BOOL control_pending; /* the SCM waits for the image's answer to a control */
    DWORD control_deadline;
    BOOL said_stopped;
    SERVICE_STATUS final;
    WCHAR *args; /* START's arguments until the image is connected */
} rl;

static BOOL is_wine(void) { return GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != NULL; }

static HANDLE open_control_pipe(void)
{
    WCHAR name[64], num[11];
    DWORD current, size = sizeof current;

    if (RegGetValueW(HKEY_LOCAL_MACHINE, L"SYSTEM\\CurrentControlSet\\Control\\ServiceCurrent", NULL, RRF_RT_REG_DWORD, NULL, &current,
                     &size))
        return INVALID_HANDLE_VALUE;
    str_join(name, ARRAYSIZE(name), L"\\\\.\\pipe\\net\\NtControlPipe", str_dec(num, current), NULL);
    /* One instance, waiting for the process the SCM started: busy means that is not us. */
    return CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
}

static void answer_scm(DWORD result)
{
    DWORD n;
    relay_io(scm.pipe, TRUE, &result, sizeof result, &n);
}

/* The next overlapped read: of the SCM's requests after those already in the buffer,
   or of the image's next message. FALSE when the pipe is gone. */
static BOOL read_scm(void)
{
    DWORD want = scm.have >= sizeof(scm_request) ? ((scm_request *)scm.buf)->total_size : 0;

    if (want > scm.cap || scm.have == scm.cap) { /* a request larger than the buffer */
        BYTE *grown;
        if (want <= scm.cap) want = scm.cap * 2;
        if (want > SCM_MAX || !(grown = HeapReAlloc(GetProcessHeap(), 0, scm.buf, want))) return FALSE;
        scm.buf = grown;
        scm.cap = want;
    }
    ResetEvent(scm.ov.hEvent);
    return ReadFile(scm.pipe, scm.buf + scm.have, scm.cap - scm.have, NULL, &scm.ov) || GetLastError() == ERROR_IO_PENDING;
}

static BOOL read_relay(void)
{
    ResetEvent(rl.ov.hEvent);
    return ReadFile(H.pipe, rl.buf, sizeof rl.buf, NULL, &rl.ov) || GetLastError() == ERROR_IO_PENDING;
}

/* The image is gone or going: no more relay; wait for it to exit (HOST_EXIT_GRACE_MS). */
static void end_relay(void)
{
    if (rl.control_pending) { /* a STOP's reply can lose the race with the STOPPED it caused */
        rl.control_pending = FALSE;
        answer_scm(NO_ERROR);
    }
    if (H.pipe) {
        CancelIo(H.pipe);
        CloseHandle(H.pipe); /* ends the image's dispatcher, so it exits like a stopped service */
        H.pipe = NULL;
    }
    rl.phase = ENDING;
    rl.deadline = GetTickCount() + HOST_EXIT_GRACE_MS;
}

static void fail_start(DWORD err)
{
    if (H.child) TerminateProcess(H.child, err);
    if (H.relay_pipe != INVALID_HANDLE_VALUE) CloseHandle(H.relay_pipe);
    H.relay_pipe = INVALID_HANDLE_VALUE;
    host_report(SERVICE_STOPPED, err, 0, 0);
    rl.phase = DONE;
}

static void relay_connected(void);

/* An overlapped connect completes through rl.ov; a client that came before it (the
   image booted faster than our SCM handshake: seen under load) is no I/O at all. */
static void connect_relay(void)
{
    ResetEvent(rl.ov.hEvent);
    if (ConnectNamedPipe(H.relay_pipe, &rl.ov) || GetLastError() == ERROR_IO_PENDING) return;
    if (GetLastError() == ERROR_PIPE_CONNECTED)
        relay_connected();
    else
        fail_start(GetLastError());
}

/* START, answered at once as sechost answers it (before ServiceMain runs): the
   arguments are kept, and begin_start does the rest once the answer is out. */
static DWORD accept_start(const WCHAR *data, DWORD chars)
{
    if (rl.phase != WAIT_START) return ERROR_SERVICE_ALREADY_RUNNING;
    if (!(rl.args = HeapAlloc(GetProcessHeap(), 0, (chars + 2) * sizeof(WCHAR)))) return ERROR_NOT_ENOUGH_MEMORY;
    if (chars) memcpy(rl.args, data, chars * sizeof(WCHAR));
    rl.args[chars] = rl.args[chars + 1] = 0;
    rl.phase = STARTING;
    return NO_ERROR;
}

/* What ServiceMain does in service.c, without blocking this thread. */
static void begin_start(void)
{
    host_report(SERVICE_START_PENDING, NO_ERROR, 0, HOST_CONNECT_TIMEOUT_MS);
    if (H.relay_pipe == INVALID_HANDLE_VALUE || H.launch_error) {
        fail_start(H.launch_error);
        return;
    }
    rl.phase = CONNECTING;
    rl.deadline = GetTickCount() + HOST_CONNECT_TIMEOUT_MS;
    connect_relay();
}

/* The image opened the relay pipe: if it is the image we started, send START. */
static void relay_connected(void)
{
    DWORD client = 0, n = 0;
    WCHAR *argv[256], *p;

    if (!GetNamedPipeClientProcessId(H.relay_pipe, &client) || client != H.child_pid) {
        /* the pipe's name is open to every VM: someone else is turned away */
        DisconnectNamedPipe(H.relay_pipe);
        connect_relay();
        return;
    }
    H.pipe = H.relay_pipe;
    H.relay_pipe = INVALID_HANDLE_VALUE;
    /* ServiceMain's argv, as sechost makes it from START's data */
    for (p = rl.args; *p && n < ARRAYSIZE(argv); p += lstrlenW(p) + 1) argv[n++] = p;
    if (!host_send_start(n, argv)) {
        fail_start(ERROR_BROKEN_PIPE);
        return;
    }
    HeapFree(GetProcessHeap(), 0, rl.args);
    rl.args = NULL;
    rl.phase = RUNNING;
    if (!read_relay()) end_relay();
}

/* A message from the image. */
static void relay_message(DWORD got)
{
    DWORD type, size;
    BYTE *body;

    if (!relay_parse(rl.buf, got, &type, &body, &size)) {
        end_relay();
        return;
    }
    if (type == RELAY_STATUS && size == sizeof(SERVICE_STATUS)) {
        if (host_relay_status((SERVICE_STATUS *)body, &rl.final)) {
            rl.said_stopped = TRUE;
            end_relay();
            return;
        }
    } else if (type == RELAY_CONTROL_REPLY && size == sizeof(DWORD) && rl.control_pending) {
        rl.control_pending = FALSE;
        answer_scm(*(DWORD *)body);
    }
    if (!read_relay()) end_relay();
}

/* One request of the SCM; FALSE when its answer is deferred to the image's reply. */
static BOOL scm_request_one(const scm_request *rq, DWORD *result)
{
    const WCHAR *name = (const WCHAR *)(rq + 1);
    DWORD data_chars = (rq->total_size - sizeof *rq) / sizeof(WCHAR);
    relay_control c;

    if (rq->magic != SCM_MAGIC || !rq->name_size || rq->name_size > data_chars || name[rq->name_size - 1]) {
        *result = ERROR_INVALID_PARAMETER;
        return TRUE;
    }
    if (!H.status_handle && !(H.status_handle = (SERVICE_STATUS_HANDLE)OpenServiceW(scm.manager, name, SERVICE_SET_STATUS))) {
        *result = GetLastError();
        return TRUE;
    }
    if (rq->control == 0) {
        *result = accept_start(name + rq->name_size, data_chars - rq->name_size);
        return TRUE;
    }
    if (host_control_local(rq->control, result)) return TRUE;
    if (rl.control_pending) { /* the SCM sends one control at a time */
        *result = ERROR_SERVICE_CANNOT_ACCEPT_CTRL;
        return TRUE;
    }
    c.control = rq->control;
    c.event_type = 0;
    if (!relay_write(H.pipe, RELAY_CONTROL, &c, sizeof c)) {
        *result = ERROR_SERVICE_NOT_ACTIVE;
        return TRUE;
    }
    rl.control_pending = TRUE;
    rl.control_deadline = GetTickCount() + HOST_CONTROL_TIMEOUT_MS;
    return FALSE;
}

/* Every whole request in the buffer, answered in order. */
static void scm_requests(void)
{
    for (;;) {
        scm_request *rq = (scm_request *)scm.buf;
        DWORD result, total;

        if (scm.have < sizeof *rq) return;
        total = rq->total_size;
        if (total < sizeof *rq || total > SCM_MAX) { /* not the protocol we know: stop listening */
            rl.phase = rl.phase == WAIT_START ? DONE : rl.phase;
            scm.have = 0;
            return;
        }
        if (scm.have < total) return;
        if (scm_request_one(rq, &result)) answer_scm(result);
        if (rl.phase == STARTING) begin_start();
        scm.have -= total;
        for (DWORD i = 0; i < scm.have; i++) scm.buf[i] = scm.buf[total + i]; /* no memmove here (crt.c) */
    }
}

static DWORD until(DWORD deadline)
{
    LONG left = (LONG)(deadline - GetTickCount());
    return left > 0 ? (DWORD)left : 0;
}

DWORD host_scmpipe_run(void)
{
    if (!is_wine()) return ERROR_CALL_NOT_IMPLEMENTED;
    /* no pipe, or another process's: the SCM did not start us (sechost would wait 10 s to say so) */
    if ((scm.pipe = open_control_pipe()) == INVALID_HANDLE_VALUE) return ERROR_FAILED_SERVICE_CONTROLLER_CONNECT;
    if (!(scm.manager = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT))) {
        DWORD err = GetLastError();
        CloseHandle(scm.pipe);
        return err;
    }
    scm.cap = 1024;
    scm.buf = HeapAlloc(GetProcessHeap(), 0, scm.cap);
    scm.ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    rl.ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    rl.phase = WAIT_START;
    if (!scm.buf || !read_scm()) rl.phase = DONE;

    while (rl.phase != DONE) {
        HANDLE waits[3];
        DWORD n = 0, timeout = INFINITE, r, got;

        waits[n++] = scm.ov.hEvent;
        if (rl.phase == CONNECTING || rl.phase == RUNNING) waits[n++] = rl.ov.hEvent;
        if ((rl.phase == CONNECTING || rl.phase == ENDING) && H.child) waits[n++] = H.child;
        if (rl.phase == CONNECTING || rl.phase == ENDING) timeout = until(rl.deadline);
        if (rl.control_pending && until(rl.control_deadline) < timeout) timeout = until(rl.control_deadline);

        r = WaitForMultipleObjects(n, waits, FALSE, timeout);
        if (r == WAIT_TIMEOUT) {
            if (rl.control_pending && !until(rl.control_deadline)) {
                rl.control_pending = FALSE;
                answer_scm(ERROR_SERVICE_REQUEST_TIMEOUT);
            }
            if (rl.phase == CONNECTING && !until(rl.deadline)) fail_start(ERROR_SERVICE_REQUEST_TIMEOUT);
            if (rl.phase == ENDING && !until(rl.deadline)) TerminateProcess(H.child, ERROR_SERVICE_REQUEST_TIMEOUT);
            continue;
        }
        if (r >= WAIT_OBJECT_0 + n) break;
        if (waits[r - WAIT_OBJECT_0] == scm.ov.hEvent) {
            if (!GetOverlappedResult(scm.pipe, &scm.ov, &got, FALSE)) break; /* the SCM let go of us */
            scm.have += got;
            scm_requests();
            if (rl.phase != DONE && !read_scm()) break;
        } else if (waits[r - WAIT_OBJECT_0] == rl.ov.hEvent) {
            BOOL ok = GetOverlappedResult(rl.phase == CONNECTING ? H.relay_pipe : H.pipe, &rl.ov, &got, FALSE);
            if (rl.phase == CONNECTING)
                ok ? relay_connected() : fail_start(GetLastError());
            else if (ok)
                relay_message(got);
            else
                end_relay();
        } else if (rl.phase == CONNECTING) { /* the image died before it connected */
            fail_start(ERROR_PROCESS_ABORTED);
        } else { /* ENDING: the image has exited */
            host_report_end(rl.said_stopped ? &rl.final : NULL);
            rl.phase = DONE;
        }
    }
    if (H.child && rl.phase != DONE) TerminateProcess(H.child, ERROR_SERVICE_REQUEST_TIMEOUT);
    return NO_ERROR;
}
