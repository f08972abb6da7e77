/* The SCM's endpoint, the pipe \Device\NamedPipe\svcctl, is reached from a VM process only
 * through the SCM client filter (scmclient.c and its parts), never by a hand-written client.
 *
 * The pipe is open by policy (the SCM must be reached), so names.c lets it through and marks
 * it (renamed.scm_pipe), whatever the spelling: \\.\pipe\svcctl, \??\pipe\, \Device\NamedPipe\,
 * GLOBALROOT forms, case, relative to a pipe-root or directory handle, links made in the VM;
 * the decision is taken on the resolved name. Then:
 *   - opening it as a client succeeds only when the calling thread is inside the hooked
 *     sechost: the return addresses of the call stack, from this hook up to the first frame
 *     in sechost, all lie in ntdll, kernelbase, kernel32, rpcrt4 or this DLL (so no code of
 *     the VM's own ran in between: not an exception or APC handler either, whose frames
 *     are the VM's); creating a server instance of it is never allowed;
 *   - the handles so opened are remembered; writing to them (NtWriteFile, NtWriteFileGather,
 *     NtFsControlFile, NtDeviceIoControlFile: FSCTL_PIPE_TRANSCEIVE and the rest) is held to
 *     the same rule, so a hand-written client cannot borrow sechost's connection;
 *   - such a handle is not duplicated to another process, nor made inheritable (its copy in
 *     this process is remembered too).
 * sechost's calls to the SCM go through the name filter of scmclient.c, so what reaches
 * the SCM from a VM is what that filter allowed. What this does not hold against: raw
 * syscalls and code that forges return addresses (docs/vm.md, "Threat model"). */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"

NTSYSAPI void NTAPI RtlAcquireSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI USHORT NTAPI RtlCaptureStackBackTrace(ULONG, ULONG, PVOID *, ULONG *);
PVOID scmclient_module(void); /* scmclient.c: the hooked sechost, or NULL */

/* ---- the handles of the SCM's pipe ---- */
#define NGUARD 256
static HANDLE guarded[NGUARD];
static volatile LONG nguarded;
static int top; /* slots in use are below it: a lookup scans a few entries, not NGUARD */
static RTL_SRWLOCK lock;

int svcctl_guarded(HANDLE h)
{
    int i, r = 0;
    if (!nguarded || !h) return 0; /* every write of a process without an SCM connection: no lock */
    RtlAcquireSRWLockExclusive(&lock);
    for (i = 0; i < top; i++)
        if (guarded[i] == h) {
            r = 1;
            break;
        }
    RtlReleaseSRWLockExclusive(&lock);
    return r;
}

/* 0, or -1 when the table is full (the caller then closes the handle: never unguarded) */
int svcctl_note(HANDLE h)
{
    int i, r = -1;
    RtlAcquireSRWLockExclusive(&lock);
    for (i = 0; i < NGUARD; i++)
        if (!guarded[i] || guarded[i] == h) {
            if (!guarded[i]) nguarded++;
            guarded[i] = h;
            if (i >= top) top = i + 1;
            r = 0;
            break;
        }
    RtlReleaseSRWLockExclusive(&lock);
    return r;
}

void svcctl_forget(HANDLE h)
{
    int i;
    if (!nguarded || !h) return;
    RtlAcquireSRWLockExclusive(&lock);
    for (i = 0; i < top; i++)
        if (guarded[i] == h) {
            guarded[i] = NULL;
            nguarded--;
        }
    while (top && !guarded[top - 1]) top--;
    RtlReleaseSRWLockExclusive(&lock);
}

/* ---- who is calling ---- */
typedef struct {
    ULONG_PTR lo, hi;
} range;
static range r_sechost, r_pass[5], r_disp[3];
static PVOID ranges_for;

static range image_range(PVOID base)
{
    range r = {0, 0};
    IMAGE_DOS_HEADER *d = base;
    IMAGE_NT_HEADERS *nt;
    if (!d || d->e_magic != IMAGE_DOS_SIGNATURE) return r;
    nt = (IMAGE_NT_HEADERS *)((char *)base + d->e_lfanew);
    if (nt->Signature != IMAGE_NT_SIGNATURE) return r;
    r.lo = (ULONG_PTR)base;
    r.hi = r.lo + nt->OptionalHeader.SizeOfImage;
    return r;
}

static range module_range(const WCHAR *name)
{
    UNICODE_STRING n;
    HMODULE m = NULL;
    range none = {0, 0};
    RtlInitUnicodeString(&n, name);
    if (LdrGetDllHandle(NULL, 0, &n, &m) < 0) return none;
    return image_range(m);
}

static void ranges_load(PVOID sechost)
{
    static const char *disp[] = {"KiUserExceptionDispatcher", "KiUserApcDispatcher", "KiUserCallbackDispatcher"};
    int i;
    r_sechost = image_range(sechost);
    r_pass[0] = image_range(G.self);
    r_pass[1] = module_range(L"ntdll.dll");
    r_pass[2] = module_range(L"kernelbase.dll");
    r_pass[3] = module_range(L"kernel32.dll");
    r_pass[4] = module_range(L"rpcrt4.dll");
    /* the entries through which ntdll runs a handler of the VM's own on this stack */
    for (i = 0; i < 3; i++) {
        ULONG_PTR a = (ULONG_PTR)ntdll_proc(disp[i]);
        r_disp[i].lo = a;
        r_disp[i].hi = a ? a + 0x100 : 0;
    }
    ranges_for = sechost;
}

static int in(const range *r, ULONG_PTR a) { return a >= r->lo && a < r->hi; }

/* Is this thread running sechost's SCM client code, with no code of the VM's between? */
static int from_scm_client(void)
{
    PVOID f[64], sech = scmclient_module();
    USHORT n, i;
    int k;
    if (!sech) return 0;
    if (ranges_for != sech) ranges_load(sech);
    n = RtlCaptureStackBackTrace(0, 64, f, NULL);
    for (i = 0; i < n; i++) {
        ULONG_PTR a = (ULONG_PTR)f[i];
        int ok = 0;
        if (in(&r_sechost, a)) return 1;
        for (k = 0; k < 3; k++)
            if (in(&r_disp[k], a)) return 0;
        for (k = 0; k < 5; k++)
            if (in(&r_pass[k], a)) ok = 1;
        if (!ok) return 0;
    }
    return 0;
}

static void trace_refused(const char *call)
{
    UNICODE_STRING used;
    RtlInitUnicodeString(&used, L"\\Device\\NamedPipe\\svcctl");
    trace_decision(call, &used, NULL, V_DENIED);
}

/* pipes.c, before an open of the SCM's pipe: may it go on? */
int svcctl_may_open(const char *call, int create_instance)
{
    if (!create_instance && from_scm_client()) return 1;
    trace_refused(call);
    return 0;
}

/* Before I/O on h: refused when h is the SCM's pipe and the caller is not sechost. */
int svcctl_refused(HANDLE h, const char *call)
{
    if (!svcctl_guarded(h) || from_scm_client()) return 0;
    trace_refused(call);
    return 1;
}

/* objects.c, NtDuplicateObject: a guarded handle stays in this process, uninheritable.
   -1: refuse; 1: the source is guarded (svcctl_dup_done guards the copy); 0: not ours. */
int svcctl_dup_refused(HANDLE sp, HANDLE sh, HANDLE tp, ULONG attr, int src_self, int dst_self)
{
    (void)sp;
    (void)tp;
    if (!src_self || !svcctl_guarded(sh)) return 0;
    if (tp && (!dst_self || (attr & OBJ_INHERIT))) { /* no target process: a close only */
        trace_refused("NtDuplicateObject");
        return -1;
    }
    return 1;
}

int svcctl_dup_done(HANDLE sh, HANDLE th, ULONG opt)
{
    if (opt & DUPLICATE_CLOSE_SOURCE) svcctl_forget(sh);
    if (!th || !svcctl_note(th)) return 0;
    o_NtClose(th); /* never an unguarded copy */
    return -1;
}

/* ---- the I/O calls ---- */
typedef NTSTATUS(NTAPI *write_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, const void *, ULONG, LARGE_INTEGER *, ULONG *);
typedef NTSTATUS(NTAPI *ioctl_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, ULONG, PVOID, ULONG, PVOID, ULONG);
typedef NTSTATUS(NTAPI *setobj_fn)(HANDLE, ULONG, PVOID, ULONG);
static write_fn o_NtWriteFile, o_NtWriteFileGather;
static ioctl_fn o_NtDeviceIoControlFile;
static setobj_fn o_NtSetInformationObject;

static NTSTATUS NTAPI d_NtWriteFile(HANDLE h, HANDLE ev, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, const void *buf, ULONG len,
                                    LARGE_INTEGER *off, ULONG *key)
{
    if (svcctl_refused(h, "NtWriteFile")) return ST_ACCESS_DENIED;
    return o_NtWriteFile(h, ev, apc, ctx, io, buf, len, off, key);
}

static NTSTATUS NTAPI d_NtWriteFileGather(HANDLE h, HANDLE ev, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, const void *segs, ULONG len,
                                          LARGE_INTEGER *off, ULONG *key)
{
    if (svcctl_refused(h, "NtWriteFileGather")) return ST_ACCESS_DENIED;
    return o_NtWriteFileGather(h, ev, apc, ctx, io, segs, len, off, key);
}

static NTSTATUS NTAPI d_NtDeviceIoControlFile(HANDLE h, HANDLE ev, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, ULONG code, PVOID in_,
                                              ULONG in_len, PVOID out, ULONG out_len)
{
    if (svcctl_refused(h, "NtDeviceIoControlFile")) return ST_ACCESS_DENIED;
    return o_NtDeviceIoControlFile(h, ev, apc, ctx, io, code, in_, in_len, out, out_len);
}

/* ObjectHandleFlagInformation (4): { BOOLEAN Inherit; BOOLEAN ProtectFromClose; } */
static NTSTATUS NTAPI d_NtSetInformationObject(HANDLE h, ULONG cls, PVOID info, ULONG len)
{
    if (cls == 4 && info && len >= 1 && *(BOOLEAN *)info && svcctl_guarded(h)) {
        trace_refused("NtSetInformationObject");
        return ST_ACCESS_DENIED;
    }
    return o_NtSetInformationObject(h, cls, info, len);
}

int svcctl_install(void)
{
    /* net.c hooks NtDeviceIoControlFile too, in front of this one (patch.c chains hooks of one stub) */
    static const hook_entry table[] = {
        HOOK(NtWriteFile),
        HOOK(NtWriteFileGather),
        HOOK(NtSetInformationObject),
        HOOK(NtDeviceIoControlFile),
    };
    return HOOK_TABLE(table);
}
