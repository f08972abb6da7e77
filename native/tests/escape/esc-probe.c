/* The escape suite's program (test/escape.test.ts, docs/vm.md "Threat model").
 *   esc-probe hold NAME PORT SECONDS     hold NAME everywhere a probe aims: mutex \BaseNamedObjects\NAME,
 *                                        directory \BaseNamedObjects\NAME-dir with mutex "inner", pipe
 *                                        \\.\pipe\NAME, TCP listeners on 127.0.0.1:PORT and [::1]:PORT
 *                                        (PORT 0: none; "any" as 4th arg: 0.0.0.0:PORT instead)
 *   esc-probe probe FILE                 run the attempts of FILE, one a line, fields split by tabs:
 *                                        CLASS OP ARGS...; print one JSON line per attempt:
 *                                        {"class","op","args","status","escaped"}
 *   esc-probe forge PID SECONDS          forge VM membership of PID by every route, then hold
 * An attempt "escaped" when it reached something held outside the probe's VM: an open that
 * succeeded, a create that met an existing object (exists, type mismatch, collision), a bind
 * that found the address in use, a connect that was accepted. The probe's own VM holds none
 * of the names aimed at, so none of these can happen inside it. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <winternl.h>
#include <rpc.h>
#include <rpcndr.h>
#include <stdio.h>
#include <wchar.h>
#include "esc-json.h"

typedef NTSTATUS(NTAPI *open3)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *file_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, IO_STATUS_BLOCK *, LARGE_INTEGER *, ULONG, ULONG, ULONG, ULONG,
                                 PVOID, ULONG);
typedef NTSTATUS(NTAPI *mklink_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, UNICODE_STRING *);
typedef NTSTATUS(NTAPI *dup_fn)(HANDLE, HANDLE, HANDLE, HANDLE *, ACCESS_MASK, ULONG, ULONG);
typedef NTSTATUS(NTAPI *qdir_fn)(HANDLE, PVOID, ULONG, BOOLEAN, BOOLEAN, ULONG *, ULONG *);
typedef NTSTATUS(NTAPI *qsi_fn)(ULONG, PVOID, ULONG, ULONG *);
typedef NTSTATUS(NTAPI *npipe_fn)(HANDLE *, ULONG, OBJECT_ATTRIBUTES *, IO_STATUS_BLOCK *, ULONG, ULONG, ULONG, ULONG, ULONG, ULONG, ULONG,
                                  ULONG, ULONG, LARGE_INTEGER *);
typedef NTSTATUS(NTAPI *sec_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, LARGE_INTEGER *, ULONG, ULONG, HANDLE);
typedef NTSTATUS(NTAPI *mut_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, BOOLEAN);
typedef NTSTATUS(NTAPI *ev_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG, BOOLEAN);
typedef NTSTATUS(NTAPI *sem_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, LONG, LONG);
typedef NTSTATUS(NTAPI *timer_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG);
typedef NTSTATUS(NTAPI *flags_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG);
typedef NTSTATUS(NTAPI *dir_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *close_fn)(HANDLE);

static HMODULE nt;
#define DIRECTORY_QUERY          1
#define DIRECTORY_TRAVERSE       2
#define DIRECTORY_ALL_ACCESS     0xf000f
#define SYMBOLIC_LINK_ALL_ACCESS 0xf0001
typedef struct {
    UNICODE_STRING Name, TypeName;
} dir_entry;
#define NTF(type, name) ((type)(void *)GetProcAddress(nt, name))

#define ST_NAME_EXISTS            ((NTSTATUS)0x40000000)
#define ST_TYPE_MISMATCH          ((NTSTATUS)0xC0000024)
#define ST_NAME_COLLISION         ((NTSTATUS)0xC0000035)
#define ST_PIPE_NOT_AVAILABLE     ((NTSTATUS)0xC00000AC)
#define ST_PIPE_BUSY              ((NTSTATUS)0xC00000AE)
#define ST_INSTANCE_NOT_AVAILABLE ((NTSTATUS)0xC00000AB)
#define ST_NOT_IMPLEMENTED        ((NTSTATUS)0xC0000002)

static void us_set(UNICODE_STRING *us, const WCHAR *s)
{
    us->Buffer = (WCHAR *)s;
    us->Length = (USHORT)(wcslen(s) * sizeof(WCHAR));
    us->MaximumLength = us->Length + sizeof(WCHAR);
}

static void oa_set(OBJECT_ATTRIBUTES *oa, UNICODE_STRING *us, const WCHAR *s, HANDLE root)
{
    us_set(us, s);
    InitializeObjectAttributes(oa, us, OBJ_CASE_INSENSITIVE, root, NULL);
}

/* ---- opening things ---- */
static NTSTATUS open_dir(const WCHAR *path, HANDLE root, HANDLE *h)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    oa_set(&oa, &us, path, root);
    return NTF(open3, "NtOpenDirectoryObject")(h, DIRECTORY_QUERY | DIRECTORY_TRAVERSE, &oa);
}

static NTSTATUS open_object(const WCHAR *type, const WCHAR *path, HANDLE root, HANDLE *h)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    const char *fn = !wcscmp(type, L"mutant")         ? "NtOpenMutant"
                     : !wcscmp(type, L"event")        ? "NtOpenEvent"
                     : !wcscmp(type, L"section")      ? "NtOpenSection"
                     : !wcscmp(type, L"semaphore")    ? "NtOpenSemaphore"
                     : !wcscmp(type, L"dir")          ? "NtOpenDirectoryObject"
                     : !wcscmp(type, L"symlink")      ? "NtOpenSymbolicLinkObject"
                     : !wcscmp(type, L"job")          ? "NtOpenJobObject"
                     : !wcscmp(type, L"timer")        ? "NtOpenTimer"
                     : !wcscmp(type, L"keyedevent")   ? "NtOpenKeyedEvent"
                     : !wcscmp(type, L"iocompletion") ? "NtOpenIoCompletion"
                                                      : NULL;
    open3 f;
    if (!fn || !(f = NTF(open3, fn))) return ST_NOT_IMPLEMENTED;
    oa_set(&oa, &us, path, root);
    return f(h,
             !wcscmp(type, L"dir")       ? DIRECTORY_QUERY | DIRECTORY_TRAVERSE
             : !wcscmp(type, L"section") ? SECTION_MAP_READ
                                         : SYNCHRONIZE | 1,
             &oa);
}

static NTSTATUS open_file(const WCHAR *path, HANDLE root, HANDLE *h)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK io;
    oa_set(&oa, &us, path, root);
    return NTF(file_fn, "NtCreateFile")(h, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &oa, &io, NULL, 0,
                                        FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
}

static NTSTATUS open_pipe_root(const WCHAR *path, HANDLE *h)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK io;
    oa_set(&oa, &us, path, NULL);
    return NTF(file_fn, "NtOpenFile")(h, SYNCHRONIZE | FILE_READ_ATTRIBUTES, &oa, &io,
                                      (LARGE_INTEGER *)(ULONG_PTR)(FILE_SHARE_READ | FILE_SHARE_WRITE), FILE_SYNCHRONOUS_IO_NONALERT, 0, 0,
                                      0, NULL, 0);
}

/* the status a Win32 failure came from, approximately */
static NTSTATUS win32_status(BOOL ok)
{
    DWORD e = GetLastError();
    if (ok) return 0;
    if (e == ERROR_PIPE_BUSY) return ST_PIPE_BUSY;
    return (NTSTATUS)(0xC0070000 | (e & 0xffff));
}

static NTSTATUS create_object(const WCHAR *type, const WCHAR *path, HANDLE root, HANDLE *h)
{
    UNICODE_STRING us, tgt;
    OBJECT_ATTRIBUTES oa;
    oa_set(&oa, &us, path, root);
    if (!wcscmp(type, L"mutant")) return NTF(mut_fn, "NtCreateMutant")(h, MUTANT_ALL_ACCESS, &oa, FALSE);
    if (!wcscmp(type, L"event")) return NTF(ev_fn, "NtCreateEvent")(h, EVENT_ALL_ACCESS, &oa, 0, FALSE);
    if (!wcscmp(type, L"semaphore")) return NTF(sem_fn, "NtCreateSemaphore")(h, SEMAPHORE_ALL_ACCESS, &oa, 0, 1);
    if (!wcscmp(type, L"timer")) return NTF(timer_fn, "NtCreateTimer")(h, TIMER_ALL_ACCESS, &oa, 0);
    if (!wcscmp(type, L"section")) {
        LARGE_INTEGER sz;
        sz.QuadPart = 4096;
        return NTF(sec_fn, "NtCreateSection")(h, SECTION_ALL_ACCESS, &oa, &sz, PAGE_READWRITE, SEC_COMMIT, NULL);
    }
    if (!wcscmp(type, L"dir")) return NTF(dir_fn, "NtCreateDirectoryObject")(h, DIRECTORY_ALL_ACCESS, &oa);
    if (!wcscmp(type, L"symlink")) {
        us_set(&tgt, L"\\Nowhere");
        return NTF(mklink_fn, "NtCreateSymbolicLinkObject")(h, SYMBOLIC_LINK_ALL_ACCESS, &oa, &tgt);
    }
    if (!wcscmp(type, L"job")) return NTF(dir_fn, "NtCreateJobObject")(h, JOB_OBJECT_ALL_ACCESS, &oa);
    if (!wcscmp(type, L"keyedevent")) return NTF(flags_fn, "NtCreateKeyedEvent")(h, 0xf0003, &oa, 0);
    if (!wcscmp(type, L"iocompletion")) return NTF(flags_fn, "NtCreateIoCompletion")(h, 0x1f0003, &oa, 0);
    if (!wcscmp(type, L"debug")) {
        flags_fn f = NTF(flags_fn, "NtCreateDebugObject");
        return f ? f(h, 0x1f000f, &oa, 0) : ST_NOT_IMPLEMENTED;
    }
    return ST_NOT_IMPLEMENTED;
}

static int reached(NTSTATUS st) { return st >= 0 || st == ST_PIPE_BUSY || st == ST_PIPE_NOT_AVAILABLE || st == ST_INSTANCE_NOT_AVAILABLE; }
static int met(NTSTATUS st) { return st == ST_NAME_EXISTS || st == ST_TYPE_MISMATCH || st == ST_NAME_COLLISION; }

/* ---- JSON output ---- */

static void report(WCHAR **f, int n, NTSTATUS st, int escaped, const char *note)
{
    report_head(f, n);
    printf(",\"status\":\"0x%08lx\",\"escaped\":%s", (unsigned long)st, escaped ? "true" : "false");
    if (note) printf(",\"note\":\"%s\"", note);
    printf("}\n");
    fflush(stdout);
}

/* ---- sockets ---- */
static int sa_of(const WCHAR *addr, int port, struct sockaddr_storage *ss)
{
    char a[64];
    memset(ss, 0, sizeof *ss);
    WideCharToMultiByte(CP_ACP, 0, addr, -1, a, sizeof a, NULL, NULL);
    if (strchr(a, ':')) {
        struct sockaddr_in6 *s6 = (void *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((u_short)port);
        return inet_pton(AF_INET6, a, &s6->sin6_addr) == 1 ? AF_INET6 : 0;
    } else {
        struct sockaddr_in *s4 = (void *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((u_short)port);
        return inet_pton(AF_INET, a, &s4->sin_addr) == 1 ? AF_INET : 0;
    }
}

/* ---- a hand-written SCM client (MS-SCMR over the svcctl pipe, DCE/RPC by hand) ---- */
static const GUID svcctl_uuid = {0x367abb81, 0x9844, 0x35f1, {0xad, 0x32, 0x98, 0xf0, 0x38, 0x00, 0x10, 0x03}};
static const GUID ndr_uuid = {0x8a885d04, 0x1ceb, 0x11c9, {0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60}};
static ULONG call_id = 0x5c00;
static int wrote; /* a PDU reached the pipe */

static void pdu_header(BYTE *b, BYTE type, USHORT frag)
{
    memset(b, 0, 16);
    b[0] = 5;
    b[2] = type;
    b[3] = 3;    /* first and last fragment */
    b[4] = 0x10; /* little-endian, ASCII, IEEE */
    *(USHORT *)(b + 8) = frag;
    *(ULONG *)(b + 12) = call_id++;
}

/* write one PDU, read one back; the status of the first failing step */
static NTSTATUS xact(HANDLE p, const BYTE *req, DWORD n, BYTE *resp, DWORD cap, DWORD *got)
{
    DWORD w = 0, r, want = 16;
    if (!WriteFile(p, req, n, &w, NULL) || w != n) return win32_status(FALSE);
    wrote = 1;
    *got = 0;
    while (*got < want) {
        if (!ReadFile(p, resp + *got, cap - *got, &r, NULL) && GetLastError() != ERROR_MORE_DATA) return win32_status(FALSE);
        if (!r) return (NTSTATUS)0xC0000120;
        *got += r;
        if (*got >= 10) want = *(USHORT *)(resp + 8);
        if (want > cap) return (NTSTATUS)0xC0000023;
    }
    return 0;
}

static NTSTATUS rpc_bind(HANDLE p)
{
    BYTE b[72], r[512];
    DWORD got;
    NTSTATUS st;
    pdu_header(b, 11, sizeof b);
    *(USHORT *)(b + 16) = 4280;
    *(USHORT *)(b + 18) = 4280;
    *(ULONG *)(b + 20) = 0;
    b[24] = 1; /* one context */
    b[25] = b[26] = b[27] = 0;
    *(USHORT *)(b + 28) = 0; /* context id */
    b[30] = 1;               /* one transfer syntax */
    b[31] = 0;
    memcpy(b + 32, &svcctl_uuid, 16);
    *(ULONG *)(b + 48) = 2; /* version 2.0 */
    memcpy(b + 52, &ndr_uuid, 16);
    *(ULONG *)(b + 68) = 2;
    if ((st = xact(p, b, sizeof b, r, sizeof r, &got)) < 0) return st;
    return r[2] == 12 ? 0 : (NTSTATUS)0xC0020001; /* bind_ack, else RPC_NT_INVALID_STRING_BINDING-ish */
}

/* one request on context 0; *ret_ = the call's DWORD result, out = the stub data */
static NTSTATUS rpc_call(HANDLE p, USHORT opnum, const BYTE *stub, DWORD n, BYTE *out, DWORD *out_n)
{
    BYTE b[600], r[600];
    DWORD got;
    NTSTATUS st;
    if (n > sizeof b - 24) return (NTSTATUS)0xC000000D;
    pdu_header(b, 0, (USHORT)(24 + n));
    *(ULONG *)(b + 16) = n;
    *(USHORT *)(b + 20) = 0;
    *(USHORT *)(b + 22) = opnum;
    memcpy(b + 24, stub, n);
    if ((st = xact(p, b, 24 + n, r, sizeof r, &got)) < 0) return st;
    if (r[2] != 2 || got < 24) return (NTSTATUS)0xC002001B; /* a fault: RPC_NT_CALL_FAILED */
    *out_n = got - 24;
    memcpy(out, r + 24, *out_n);
    return 0;
}

/* ROpenSCManagerW (15) then ROpenServiceW (16) for SERVICE_STOP: 1 when the SCM gave a service handle */
static int scm_open_service(HANDLE p, int bind, const WCHAR *svc, NTSTATUS *st)
{
    BYTE stub[600], out[600];
    DWORD n, on, chars = (DWORD)wcslen(svc) + 1;
    if (bind && (*st = rpc_bind(p)) < 0) return 0;
    memset(stub, 0, 12);
    *(ULONG *)(stub + 8) = SC_MANAGER_CONNECT;
    if ((*st = rpc_call(p, 15, stub, 12, out, &on)) < 0) return 0;
    if (on < 24 || *(ULONG *)(out + 20)) {
        *st = (NTSTATUS)(0xC0070000 | (on >= 24 ? *(ULONG *)(out + 20) : 0xffff));
        return 0;
    }
    memcpy(stub, out, 20); /* the SCM's context handle */
    *(ULONG *)(stub + 20) = chars;
    *(ULONG *)(stub + 24) = 0;
    *(ULONG *)(stub + 28) = chars;
    memcpy(stub + 32, svc, chars * 2);
    n = (32 + chars * 2 + 3) & ~3u;
    *(ULONG *)(stub + n) = SERVICE_STOP;
    n += 4;
    if ((*st = rpc_call(p, 16, stub, n, out, &on)) < 0) return 0;
    if (on < 24) return *st = (NTSTATUS)0xC002001B, 0;
    *st = *(ULONG *)(out + 20) ? (NTSTATUS)(0xC0070000 | *(ULONG *)(out + 20)) : 0;
    return *(ULONG *)(out + 20) == 0;
}

/* the same over rpcrt4, without MIDL: I_RpcGetBuffer / I_RpcSendReceive on a ncacn_np binding */
static int rpcrt4_open_scm(NTSTATUS *st)
{
    static RPC_CLIENT_INTERFACE iface;
    RPC_WSTR sb = NULL;
    RPC_BINDING_HANDLE bh = NULL;
    RPC_MESSAGE m;
    RPC_STATUS rs;
    int ok = 0;
    iface.Length = sizeof iface;
    iface.InterfaceId.SyntaxGUID = svcctl_uuid;
    iface.InterfaceId.SyntaxVersion.MajorVersion = 2;
    iface.TransferSyntax.SyntaxGUID = ndr_uuid;
    iface.TransferSyntax.SyntaxVersion.MajorVersion = 2;
    if ((rs = RpcStringBindingComposeW(NULL, (RPC_WSTR)L"ncacn_np", NULL, (RPC_WSTR)L"\\pipe\\svcctl", NULL, &sb)) ||
        (rs = RpcBindingFromStringBindingW(sb, &bh))) {
        *st = (NTSTATUS)(0xC0070000 | rs);
        if (sb) RpcStringFreeW(&sb);
        return 0;
    }
    memset(&m, 0, sizeof m);
    m.Handle = bh;
    m.RpcInterfaceInformation = &iface;
    m.ProcNum = 15;
    m.BufferLength = 12;
    if (!(rs = I_RpcGetBuffer(&m))) {
        memset(m.Buffer, 0, 12);
        *(ULONG *)((BYTE *)m.Buffer + 8) = SC_MANAGER_CONNECT;
        m.BufferLength = 12;
        if (!(rs = I_RpcSendReceive(&m))) {
            ok = m.BufferLength >= 24 && *(ULONG *)((BYTE *)m.Buffer + 20) == 0;
            rs = m.BufferLength >= 24 ? *(ULONG *)((BYTE *)m.Buffer + 20) : RPC_S_CALL_FAILED;
        }
        I_RpcFreeBuffer(&m);
    }
    *st = rs ? (NTSTATUS)(0xC0070000 | rs) : 0;
    RpcBindingFree(&bh);
    RpcStringFreeW(&sb);
    return ok;
}

/* a handle of this process on a named pipe, from index *at on (sechost's svcctl connection) */
static HANDLE next_pipe_handle(ULONG_PTR *at)
{
    typedef NTSTATUS(NTAPI * qvol_fn)(HANDLE, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG);
    for (; *at < 0x10000; *at += 4) {
        struct {
            ULONG type, chars;
        } dev;
        IO_STATUS_BLOCK io;
        if (NTF(qvol_fn, "NtQueryVolumeInformationFile")((HANDLE)*at, &io, &dev, sizeof dev, 4 /* FileFsDeviceInformation */) >= 0 &&
            dev.type == 0x11 /* FILE_DEVICE_NAMED_PIPE */) {
            HANDLE h = (HANDLE)*at;
            union {
                UNICODE_STRING us;
                WCHAR w[300];
            } nm;
            ULONG ret;
            *at += 4;
            /* not stdio (pipes too, under the test); the SCM's pipe by its name */
            if (h == GetStdHandle(STD_INPUT_HANDLE) || h == GetStdHandle(STD_OUTPUT_HANDLE) || h == GetStdHandle(STD_ERROR_HANDLE))
                continue;
            memset(&nm, 0, sizeof nm);
            if (NtQueryObject(h, ObjectNameInformation, &nm, sizeof nm - 2, &ret) >= 0 && nm.us.Buffer && nm.us.Length) {
                nm.us.Buffer[nm.us.Length / 2] = 0;
                if (getenv("ESC_DEBUG")) fprintf(stderr, "pipe handle %p: %ls\n", h, nm.us.Buffer);
                if (!wcsstr(_wcslwr(nm.us.Buffer), L"svcctl")) continue;
            }
            return h;
        }
    }
    return NULL;
}

/* ---- the attempts ---- */
static HANDLE keep[256];
static int nkeep;
static void hold(HANDLE h)
{
    if (nkeep < 256) keep[nkeep++] = h;
}

static void attempt(WCHAR **f, int n)
{
    const WCHAR *op = f[1];
    HANDLE h = NULL, d = NULL;
    NTSTATUS st = ST_NOT_IMPLEMENTED;
    int esc = 0;
    const char *note = NULL;
    close_fn cl = NTF(close_fn, "NtClose");

    if (!wcscmp(op, L"open") && n >= 4) { /* open TYPE PATH */
        st = !wcscmp(f[2], L"file") ? open_file(f[3], NULL, &h) : open_object(f[2], f[3], NULL, &h);
        esc = reached(st);
    } else if (!wcscmp(op, L"create") && n >= 4) { /* create TYPE PATH */
        st = create_object(f[2], f[3], NULL, &h);
        esc = met(st);
    } else if (!wcscmp(op, L"win32") && n >= 4) { /* win32 file|mutex|event|section PATH */
        if (!wcscmp(f[2], L"file")) {
            h = CreateFileW(f[3], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
            st = win32_status(h != INVALID_HANDLE_VALUE);
            if (h == INVALID_HANDLE_VALUE) h = NULL;
        } else if (!wcscmp(f[2], L"mutex")) {
            h = OpenMutexW(SYNCHRONIZE, FALSE, f[3]);
            st = win32_status(h != NULL);
        } else if (!wcscmp(f[2], L"event")) {
            h = OpenEventW(SYNCHRONIZE, FALSE, f[3]);
            st = win32_status(h != NULL);
        } else if (!wcscmp(f[2], L"waitpipe")) {
            st = win32_status(WaitNamedPipeW(f[3], 1));
        }
        esc = reached(st) || st == (NTSTATUS)(0xC0070000 | ERROR_SEM_TIMEOUT);
    } else if (!wcscmp(op, L"rel") && n >= 5) { /* rel DIR TYPE NAME: NAME relative to a handle on directory DIR */
        if ((st = open_dir(f[2], NULL, &d)) >= 0) {
            st = !wcscmp(f[3], L"file") ? open_file(f[4], d, &h) : open_object(f[3], f[4], d, &h);
            esc = reached(st);
        } else
            note = "no root";
    } else if (!wcscmp(op, L"relpipe") && n >= 4) { /* relpipe ROOTPATH NAME: relative to a pipe-root file handle */
        if ((st = open_pipe_root(f[2], &d)) >= 0) {
            st = open_file(f[3], d, &h);
            esc = reached(st);
        } else
            note = "no root";
    } else if (!wcscmp(op, L"link") && n >= 6) { /* link LINK TARGET TYPE PATH: make LINK -> TARGET, then open PATH */
        UNICODE_STRING us, tgt;
        OBJECT_ATTRIBUTES oa;
        oa_set(&oa, &us, f[2], NULL);
        us_set(&tgt, f[3]);
        st = NTF(mklink_fn, "NtCreateSymbolicLinkObject")(&d, SYMBOLIC_LINK_ALL_ACCESS, &oa, &tgt);
        if (st >= 0) {
            st = !wcscmp(f[4], L"file") ? open_file(f[5], NULL, &h) : open_object(f[4], f[5], NULL, &h);
            esc = reached(st);
        } else
            note = "link refused";
    } else if (!wcscmp(op, L"stale") && n >= 6) { /* stale DIR1 DIR2 TYPE NAME: root handle reused for another directory */
        HANDLE h1, h2, tmp;
        if ((st = open_dir(f[2], NULL, &h1)) >= 0) {
            /* use it once so that its meaning is cached */
            if (!wcscmp(f[4], L"file")) {
                if (open_file(f[5], h1, &tmp) >= 0) cl(tmp);
            } else if (open_object(f[4], f[5], h1, &tmp) >= 0)
                cl(tmp);
            NTF(dup_fn, "NtDuplicateObject")(GetCurrentProcess(), h1, NULL, NULL, 0, 0, DUPLICATE_CLOSE_SOURCE);
            if ((st = open_dir(f[3], NULL, &h2)) >= 0) {
                d = h2;
                note = h1 == h2 ? "handle reused" : "handle not reused";
                st = !wcscmp(f[4], L"file") ? open_file(f[5], h2, &h) : open_object(f[4], f[5], h2, &h);
                esc = reached(st);
            }
        }
    } else if (!wcscmp(op, L"dirlist") && n >= 4) { /* dirlist DIR WORD...: does the listing show any WORD? */
        if ((st = open_dir(f[2], NULL, &d)) >= 0) {
            static unsigned char buf[1 << 16];
            ULONG ctx = 0, ret;
            qdir_fn q = NTF(qdir_fn, "NtQueryDirectoryObject");
            NTSTATUS qs;
            int rounds = 0, i;
            /* one entry at a time: Wine 8 implements no other mode */
            while (rounds++ < 100000 && (qs = q(d, buf, sizeof buf, TRUE, rounds == 1, &ctx, &ret)) >= 0 && qs != 0x8000001A) {
                dir_entry *e = (void *)buf;
                WCHAR nm[512];
                int k = e->Name.Length / 2 < 511 ? e->Name.Length / 2 : 511;
                memcpy(nm, e->Name.Buffer, k * 2);
                nm[k] = 0;
                _wcslwr(nm);
                for (i = 3; i < n; i++)
                    if (wcsstr(nm, f[i])) esc = 1;
            }
            if (rounds == 1) st = qs;
        }
    } else if (!wcscmp(op, L"sysinfo") && n >= 4) { /* sysinfo CLASS PID...: does the list name any PID? */
        ULONG cls = (ULONG)_wtoi(f[2]), size = 1 << 20, ret = 0, i, k;
        unsigned char *b = NULL;
        for (;;) {
            b = realloc(b, size);
            st = NTF(qsi_fn, "NtQuerySystemInformation")(cls, b, size, &ret);
            if (st != (NTSTATUS)0xC0000004 || size > (1u << 27)) break;
            size *= 4;
        }
        if (st >= 0 && (cls == 16 || cls == 64)) {
            ULONG_PTR count = cls == 16 ? *(ULONG *)b : *(ULONG_PTR *)b;
            for (i = 0; i < count; i++) {
                ULONG_PTR pid = cls == 16 ? *(USHORT *)(b + 8 + i * 24) : *(ULONG_PTR *)(b + 16 + i * 40 + 8);
                for (k = 3; k < (ULONG)n; k++)
                    if (pid == (ULONG_PTR)_wtoi(f[k])) esc = 1;
            }
        } else if (st >= 0 && (cls == 5 || cls == 57)) {
            SYSTEM_PROCESS_INFORMATION *p = (void *)b;
            for (;;) {
                for (k = 3; k < (ULONG)n; k++)
                    if ((ULONG_PTR)p->UniqueProcessId == (ULONG_PTR)_wtoi(f[k])) esc = 1;
                if (!p->NextEntryOffset) break;
                p = (void *)((char *)p + p->NextEntryOffset);
            }
        } else if (cls == 88 && n >= 4) {
            /* SystemProcessIdInformation: the image name of any pid */
            struct {
                PVOID pid;
                UNICODE_STRING name;
            } q;
            static WCHAR nb[512];
            q.pid = (PVOID)(ULONG_PTR)_wtoi(f[3]);
            q.name.Buffer = nb;
            q.name.Length = 0;
            q.name.MaximumLength = sizeof nb;
            st = NTF(qsi_fn, "NtQuerySystemInformation")(88, &q, sizeof q, &ret);
            esc = st >= 0 && q.name.Length > 0;
        }
        free(b);
    } else if (!wcscmp(op, L"openproc") && n >= 3) { /* openproc PID */
        h = OpenProcess(PROCESS_ALL_ACCESS, FALSE, (DWORD)_wtoi(f[2]));
        st = win32_status(h != NULL);
        if (!h) {
            h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)_wtoi(f[2]));
            if (h) st = 0;
        }
        esc = h != NULL;
    } else if ((!wcscmp(op, L"bind") || !wcscmp(op, L"connect")) && n >= 5) { /* bind|connect ADDR PORT LEN */
        struct sockaddr_storage ss;
        static char big[512];
        int fam = sa_of(f[2], _wtoi(f[3]), &ss), len = _wtoi(f[4]), r;
        SOCKET s;
        memset(big, 0, sizeof big);
        memcpy(big, &ss, sizeof ss);
        s = fam ? socket(fam, SOCK_STREAM, IPPROTO_TCP) : INVALID_SOCKET;
        if (s == INVALID_SOCKET) {
            st = ST_NOT_IMPLEMENTED;
            note = "no socket";
        } else {
            if (!wcscmp(op, L"bind")) {
                r = bind(s, (struct sockaddr *)big, len);
                st = r ? (NTSTATUS)(0xC0070000 | WSAGetLastError()) : 0;
                esc = r && WSAGetLastError() == WSAEADDRINUSE;
                if (!r) {
                    /* where did it land? a listener on the host's address shows up there too */
                    struct sockaddr_storage got;
                    int gl = sizeof got;
                    listen(s, 1);
                    getsockname(s, (struct sockaddr *)&got, &gl);
                }
            } else {
                r = connect(s, (struct sockaddr *)big, len);
                st = r ? (NTSTATUS)(0xC0070000 | WSAGetLastError()) : 0;
                esc = !r;
            }
            closesocket(s);
        }
    } else if (!wcscmp(op, L"scmcopy") && n >= 4) { /* scmcopy DLLCOPY SERVICE: a second sechost, asking to stop SERVICE */
        typedef SC_HANDLE(WINAPI * oscm_fn)(LPCWSTR, LPCWSTR, DWORD);
        typedef SC_HANDLE(WINAPI * osvc_fn)(SC_HANDLE, LPCWSTR, DWORD);
        WCHAR sys[MAX_PATH];
        HMODULE m;
        GetSystemDirectoryW(sys, MAX_PATH);
        wcscat(sys, L"\\sechost.dll");
        CopyFileW(sys, f[2], FALSE);
        if ((m = LoadLibraryW(f[2]))) {
            oscm_fn oscm = (oscm_fn)(void *)GetProcAddress(m, "OpenSCManagerW");
            osvc_fn osvc = (osvc_fn)(void *)GetProcAddress(m, "OpenServiceW");
            SC_HANDLE scm = oscm ? oscm(NULL, NULL, SC_MANAGER_CONNECT) : NULL, svc = NULL;
            if (scm) svc = osvc(scm, f[3], SERVICE_STOP);
            st = win32_status(svc != NULL);
            esc = svc != NULL;
            note = m == GetModuleHandleW(L"sechost.dll") ? "same module" : "second module";
        } else
            st = win32_status(FALSE), note = "no second copy";
    } else if (!wcscmp(op, L"rawscm") && n >= 5) { /* rawscm nt|win32|rel|relpipe PATH [ROOT] SERVICE: a hand-written SCM client */
        const WCHAR *how = f[2], *svc = f[n - 1];
        if (!wcscmp(how, L"win32")) {
            h = CreateFileW(f[3], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
            st = win32_status(h != INVALID_HANDLE_VALUE);
            if (h == INVALID_HANDLE_VALUE) h = NULL;
        } else if (!wcscmp(how, L"rel") && n >= 6) {
            if ((st = open_dir(f[4], NULL, &d)) >= 0) st = open_file(f[3], d, &h);
        } else if (!wcscmp(how, L"relpipe") && n >= 6) {
            if ((st = open_pipe_root(f[4], &d)) >= 0) st = open_file(f[3], d, &h);
        } else if (!wcscmp(how, L"link") && n >= 6) { /* link PATH LINK-AND-TARGET: LINK=TARGET made first */
            UNICODE_STRING us, tgt;
            OBJECT_ATTRIBUTES oa;
            WCHAR ln[260], *eq;
            wcsncpy(ln, f[4], 259);
            ln[259] = 0;
            if ((eq = wcschr(ln, L'='))) *eq++ = 0;
            oa_set(&oa, &us, ln, NULL);
            us_set(&tgt, eq ? eq : L"");
            st = NTF(mklink_fn, "NtCreateSymbolicLinkObject")(&d, SYMBOLIC_LINK_ALL_ACCESS, &oa, &tgt);
            if (st >= 0)
                st = open_file(f[3], NULL, &h);
            else
                note = "link refused";
        } else {
            int tries = 0;
            /* a real client waits for a free instance */
            while ((st = open_file(f[3], NULL, &h)) == ST_PIPE_BUSY || st == ST_PIPE_NOT_AVAILABLE) {
                if (++tries > 10) break;
                WaitNamedPipeW(L"\\\\.\\pipe\\svcctl", 1000);
            }
        }
        esc = reached(st);
        if (st >= 0 && h) {
            NTSTATUS s2;
            if (scm_open_service(h, 1, svc, &s2))
                note = "the SCM opened the service";
            else if (s2 < 0)
                note = "opened, no SCM answer";
        }
    } else if (!wcscmp(op, L"rawscmvia") && n >= 4) { /* rawscmvia WIN32PIPE SERVICE: the SCM's interface through another open pipe */
        int tries = 0;
        while (!(h = CreateFileW(f[2], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL), h != INVALID_HANDLE_VALUE) &&
               GetLastError() == ERROR_PIPE_BUSY && ++tries < 10)
            WaitNamedPipeW(f[2], 1000);
        st = win32_status(h != INVALID_HANDLE_VALUE);
        if (h == INVALID_HANDLE_VALUE) h = NULL;
        if (h) {
            esc = scm_open_service(h, 1, f[3], &st);
            note = esc ? "the SCM opened the service" : "pipe opened, no SCM there";
        }
    } else if (!wcscmp(op, L"rpcscm") && n >= 3) { /* rpcscm SERVICE: rpcrt4 ncacn_np \pipe\svcctl, no MIDL stubs */
        esc = rpcrt4_open_scm(&st);
    } else if (!wcscmp(op, L"scmborrow") && n >= 4) { /* scmborrow MODE SERVICE: use sechost's own svcctl connection */
        typedef NTSTATUS(NTAPI * ioc_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, ULONG, PVOID, ULONG, PVOID, ULONG);
        SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
        ULONG_PTR at = 4;
        HANDLE p;
        int found = 0;
        st = (NTSTATUS)0xC0000225; /* STATUS_NOT_FOUND */
        while (scm && !esc && (p = next_pipe_handle(&at))) {
            const WCHAR *mode = f[2];
            found = 1;
            if (!wcscmp(mode, L"write")) {
                wrote = 0;
                esc = scm_open_service(p, 0, f[3], &st) || wrote;
            } else if (!wcscmp(mode, L"dup")) {
                HANDLE c;
                if ((st = NTF(dup_fn, "NtDuplicateObject")(GetCurrentProcess(), p, GetCurrentProcess(), &c, 0, 0, DUPLICATE_SAME_ACCESS)) >=
                    0) {
                    wrote = 0;
                    esc = scm_open_service(c, 0, f[3], &st) || wrote;
                    cl(c);
                }
            } else if (!wcscmp(mode, L"inherit")) {
                st = win32_status(SetHandleInformation(p, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT));
                esc = st >= 0;
                if (esc) SetHandleInformation(p, HANDLE_FLAG_INHERIT, 0);
            } else if (!wcscmp(mode, L"transact") || !wcscmp(mode, L"ioctl")) {
                BYTE req[36], resp[512];
                IO_STATUS_BLOCK io;
                pdu_header(req, 0, sizeof req);
                *(ULONG *)(req + 16) = 12;
                *(USHORT *)(req + 20) = 0;
                *(USHORT *)(req + 22) = 15;
                memset(req + 24, 0, 12);
                *(ULONG *)(req + 32) = SC_MANAGER_CONNECT;
                st = NTF(ioc_fn, !wcscmp(mode, L"ioctl") ? "NtDeviceIoControlFile" : "NtFsControlFile")(
                    p, NULL, NULL, NULL, &io, 0x0011C017 /* FSCTL_PIPE_TRANSCEIVE */, req, sizeof req, resp, sizeof resp);
                esc = st >= 0 || st == (NTSTATUS)0x103;
            }
        }
        note = found ? "sechost's pipe handle tried" : "no pipe handle";
        if (scm) CloseServiceHandle(scm);
    } else if (!wcscmp(op, L"pipelist") && n >= 4) { /* pipelist ROOT WORD...: does a pipe listing show any WORD? */
        WIN32_FIND_DATAW fd;
        HANDLE fh = FindFirstFileW(f[2], &fd);
        int i;
        st = win32_status(fh != INVALID_HANDLE_VALUE);
        if (fh != INVALID_HANDLE_VALUE) {
            int count = 0;
            do {
                _wcslwr(fd.cFileName);
                count++;
                for (i = 3; i < n; i++)
                    if (wcsstr(fd.cFileName, f[i])) esc = 1;
            } while (count < 100000 && FindNextFileW(fh, &fd));
            FindClose(fh);
        }
    } else if (!wcscmp(op, L"regset") && n >= 5) { /* regset HKLM-SUBKEY VALUE DATA: the test reads the host key back */
        HKEY k;
        LONG e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, f[2], 0, KEY_SET_VALUE, &k);
        if (!e) {
            e = RegSetValueExW(k, f[3], 0, REG_EXPAND_SZ, (const BYTE *)f[4], (DWORD)(wcslen(f[4]) + 1) * 2);
            RegCloseKey(k);
        }
        st = e ? (NTSTATUS)(0xC0070000 | e) : 0;
        note = "judged by the test";
    } else if (!wcscmp(op, L"reglink") && n >= 6) { /* reglink HKCU-SUBKEY TARGET VALUE DATA: link, then write through it */
        HKEY k;
        LONG e = RegCreateKeyExW(HKEY_CURRENT_USER, f[2], 0, NULL, REG_OPTION_VOLATILE | REG_OPTION_CREATE_LINK,
                                 KEY_ALL_ACCESS | KEY_CREATE_LINK, NULL, &k, NULL);
        if (!e) {
            e = RegSetValueExW(k, L"SymbolicLinkValue", 0, REG_LINK, (const BYTE *)f[3], (DWORD)wcslen(f[3]) * 2);
            RegCloseKey(k);
            if (!e) {
                e = RegOpenKeyExW(HKEY_CURRENT_USER, f[2], 0, KEY_SET_VALUE, &k);
                if (!e) {
                    e = RegSetValueExW(k, f[4], 0, REG_SZ, (const BYTE *)f[5], (DWORD)(wcslen(f[5]) + 1) * 2);
                    RegCloseKey(k);
                }
            }
        }
        st = e ? (NTSTATUS)(0xC0070000 | e) : 0;
        note = "judged by the test";
    } else
        note = "bad attempt";
    report(f, n, st, esc, note);
    if (h && h != INVALID_HANDLE_VALUE) cl(h);
    if (d) cl(d);
}

/* ---- forging membership ---- */
static int forge(DWORD pid, int seconds)
{
    static const WCHAR *routes[] = {L"\\BaseNamedObjects\\svcdup.pid.%lu", L"\\??\\GLOBALROOT\\BaseNamedObjects\\svcdup.pid.%lu",
                                    L"\\GLOBAL??\\GLOBALROOT\\BaseNamedObjects\\svcdup.pid.%lu",
                                    L"\\BaseNamedObjects\\Global\\svcdup.pid.%lu"};
    int i, made = 0;
    for (i = 0; i < 4; i++) {
        WCHAR name[128];
        HANDLE h;
        PVOID view = NULL;
        SIZE_T vs = 0;
        swprintf(name, 128, routes[i], (unsigned long)pid);
        if (create_object(L"section", name, NULL, &h) >= 0) {
            typedef NTSTATUS(NTAPI * map_fn)(HANDLE, HANDLE, PVOID *, ULONG_PTR, SIZE_T, LARGE_INTEGER *, SIZE_T *, DWORD, ULONG, ULONG);
            if (NTF(map_fn, "NtMapViewOfSection")(h, GetCurrentProcess(), &view, 0, 0, NULL, &vs, 2, 0, PAGE_READWRITE) >= 0 && vs >= 80) {
                DWORD *c = view;
                c[0] = 0x31504456u; /* the config magic */
                c[1] = 0;
                wcscpy((WCHAR *)(c + 2), L"esca");
            }
            made++;
            hold(h);
        }
    }
    {
        HANDLE p = OpenProcess(PROCESS_ALL_ACCESS, FALSE, pid);
        printf("{\"forged\":%d,\"opened\":%s}\n", made, p ? "true" : "false");
        fflush(stdout);
    }
    Sleep((DWORD)seconds * 1000);
    return 0;
}

/* ---- the holder ---- */
static DWORD WINAPI pipe_server(void *arg)
{
    const WCHAR *name = arg;
    for (;;) {
        HANDLE p = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, 512, 512, 0, NULL);
        if (p == INVALID_HANDLE_VALUE) return 1;
        if (ConnectNamedPipe(p, NULL) || GetLastError() == ERROR_PIPE_CONNECTED) {
            char msg[64];
            DWORD w;
            int k = sprintf(msg, "holder %lu\n", GetCurrentProcessId());
            WriteFile(p, msg, k, &w, NULL);
            FlushFileBuffers(p);
        }
        DisconnectNamedPipe(p);
        CloseHandle(p);
    }
}

static DWORD WINAPI tcp_server(void *arg)
{
    SOCKET l = (SOCKET)(ULONG_PTR)arg, c;
    while ((c = accept(l, NULL, NULL)) != INVALID_SOCKET) closesocket(c);
    return 0;
}

static int listen_on(const WCHAR *addr, int port)
{
    struct sockaddr_storage ss;
    int fam = sa_of(addr, port, &ss);
    SOCKET s = socket(fam, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return 0;
    if (bind(s, (struct sockaddr *)&ss, fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) || listen(s, 8)) {
        closesocket(s);
        return 0;
    }
    CreateThread(NULL, 0, tcp_server, (void *)(ULONG_PTR)s, 0, NULL);
    return 1;
}

static int holder(const WCHAR *name, int port, int seconds, int any)
{
    static WCHAR buf[300], pipe[300];
    HANDLE dir;
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    int v4 = 0, v6 = 0;
    swprintf(buf, 300, L"Global\\%ls", name);
    if (!CreateMutexW(NULL, FALSE, buf)) return 2;
    swprintf(buf, 300, L"\\BaseNamedObjects\\%ls-dir", name);
    oa_set(&oa, &us, buf, NULL);
    if (NTF(dir_fn, "NtCreateDirectoryObject")(&dir, DIRECTORY_ALL_ACCESS, &oa) >= 0) {
        HANDLE m;
        oa_set(&oa, &us, L"inner", dir);
        NTF(mut_fn, "NtCreateMutant")(&m, MUTANT_ALL_ACCESS, &oa, FALSE);
    }
    swprintf(pipe, 300, L"\\\\.\\pipe\\%ls", name);
    CreateThread(NULL, 0, pipe_server, pipe, 0, NULL);
    if (port) {
        v4 = listen_on(any ? L"0.0.0.0" : L"127.0.0.1", port);
        if (!any) v6 = listen_on(L"::1", port);
    }
    Sleep(300);
    printf("ready pid %lu v4 %d v6 %d\n", GetCurrentProcessId(), v4, v6);
    fflush(stdout);
    Sleep((DWORD)seconds * 1000);
    return 0;
}

int wmain(int argc, WCHAR **argv)
{
    WSADATA wd;
    nt = GetModuleHandleW(L"ntdll.dll");
    WSAStartup(MAKEWORD(2, 2), &wd);
    if (argc >= 5 && !wcscmp(argv[1], L"hold"))
        return holder(argv[2], _wtoi(argv[3]), _wtoi(argv[4]), argc >= 6 && !wcscmp(argv[5], L"any"));
    if (argc >= 3 && !wcscmp(argv[1], L"probe")) return run_attempts(argv[2], attempt);
    if (argc >= 4 && !wcscmp(argv[1], L"forge")) return forge((DWORD)_wtoi(argv[2]), _wtoi(argv[3]));
    fprintf(stderr, "usage: esc-probe hold NAME PORT SECONDS [any] | probe FILE | forge PID SECONDS\n");
    return 2;
}
