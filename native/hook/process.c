/* Processes: children join the VM, and the VM's processes see only each other.
 *  - NtCreateUserProcess: every child (CreateProcess, ShellExecute, cmd start,
 *    a service's own launches all end here) is created suspended, gets this DLL
 *    as its first import and the VM config, then runs. If that fails the child
 *    is killed: a process started in a VM cannot leave it.
 *  - NtOpenProcess/NtOpenThread on a process of another VM or the host: denied.
 *  - NtQuerySystemInformation(process lists): other processes are filtered out. */
#include "hook.h"
#include "files.h"
#include "names.h"
#include "patch.h"
#include "trace.h"
#include <stdio.h>
#include <wchar.h>

typedef NTSTATUS(NTAPI *cup_fn)(HANDLE *, HANDLE *, ACCESS_MASK, ACCESS_MASK, OBJECT_ATTRIBUTES *, OBJECT_ATTRIBUTES *, ULONG, ULONG, PVOID,
                                PVOID, PVOID);
typedef NTSTATUS(NTAPI *open_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, CLIENT_ID *);
typedef NTSTATUS(NTAPI *qsi_fn)(ULONG, PVOID, ULONG, PULONG);
typedef NTSTATUS(NTAPI *close_fn)(HANDLE);
static cup_fn o_NtCreateUserProcess;
static open_fn o_NtOpenThread;
open_fn o_NtOpenProcess = NtOpenProcess; /* hook.h */
static qsi_fn o_NtQuerySystemInformation;
close_fn o_NtClose = NtClose; /* hook.h */

static void trace_pid(const char *call, DWORD pid, int verdict)
{
    WCHAR b[32];
    UNICODE_STRING us;
    us.Buffer = b;
    us.Length = us.MaximumLength = (USHORT)(swprintf(b, 32, L"pid:%lu", (unsigned long)pid) * sizeof(WCHAR));
    trace_decision(call, &us, NULL, verdict);
}

/* by the VM's job only (membership.c): the config sections are not proof of anything */
static int mine(DWORD pid) { return pid == G.pid || membership_has(pid); }

static NTSTATUS NTAPI d_NtCreateUserProcess(HANDLE *ph, HANDLE *th, ACCESS_MASK pa, ACCESS_MASK ta, OBJECT_ATTRIBUTES *poa,
                                            OBJECT_ATTRIBUTES *toa, ULONG pflags, ULONG tflags, PVOID params, PVOID info, PVOID attrs)
{
    PROCESS_BASIC_INFORMATION pbi;
    NTSTATUS st = o_NtCreateUserProcess(
        ph, th,
        pa | PROCESS_VM_OPERATION | PROCESS_VM_READ | PROCESS_VM_WRITE | PROCESS_QUERY_INFORMATION | PROCESS_DUP_HANDLE | PROCESS_TERMINATE,
        ta | THREAD_SUSPEND_RESUME, poa, toa, pflags, tflags | THREAD_FLAG_CREATE_SUSPENDED, params, info, attrs);
    if (st < 0) return st;
    st = NtQueryInformationProcess(*ph, ProcessBasicInformation, &pbi, sizeof pbi, NULL);
    if (st >= 0) st = inject_child(*ph, (DWORD)pbi.UniqueProcessId, G.cfg);
    if (st < 0) {
        NtTerminateProcess(*ph, st);
        o_NtClose(*th);
        o_NtClose(*ph);
        *ph = *th = NULL;
        trace_pid("NtCreateUserProcess", 0, V_DENIED);
        return st;
    }
    trace_pid("NtCreateUserProcess", (DWORD)pbi.UniqueProcessId, V_JOINED);
    if (!(tflags & THREAD_FLAG_CREATE_SUSPENDED)) NtResumeThread(*th, NULL);
    return st;
}

static NTSTATUS NTAPI d_NtOpenProcess(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, CLIENT_ID *cid)
{
    DWORD pid = cid ? (DWORD)(ULONG_PTR)cid->UniqueProcess : 0;
    if (pid && !mine(pid)) {
        trace_pid("NtOpenProcess", pid, V_DENIED);
        return ST_ACCESS_DENIED;
    }
    return o_NtOpenProcess(h, a, oa, cid);
}

static NTSTATUS NTAPI d_NtOpenThread(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, CLIENT_ID *cid)
{
    HANDLE q;
    THREAD_BASIC_INFO tbi;
    NTSTATUS st = o_NtOpenThread(&q, 0x0800 /* THREAD_QUERY_LIMITED_INFORMATION */, oa, cid);
    if (st < 0) return o_NtOpenThread(h, a, oa, cid);
    st = NtQueryInformationThread(q, ThreadBasicInformation, &tbi, sizeof tbi, NULL);
    o_NtClose(q);
    if (st >= 0 && !mine((DWORD)(ULONG_PTR)tbi.ClientId.UniqueProcess)) {
        trace_pid("NtOpenThread", (DWORD)(ULONG_PTR)tbi.ClientId.UniqueProcess, V_DENIED);
        return ST_ACCESS_DENIED;
    }
    return o_NtOpenThread(h, a, oa, cid);
}

/* Keep only this VM's entries of a process list, moving them to the buffer's start. */
static ULONG filter_procs(unsigned char *buf, ULONG len)
{
    unsigned char *tmp = hmalloc(len), *out = tmp, *prev = NULL;
    SYSTEM_PROCESS_INFORMATION *p = (void *)buf;
    ULONG total = 0;
    if (!tmp) return 0;
    for (;;) {
        ULONG size = p->NextEntryOffset ? p->NextEntryOffset : (ULONG)(buf + len - (unsigned char *)p);
        if (mine((DWORD)(ULONG_PTR)p->UniqueProcessId)) {
            SYSTEM_PROCESS_INFORMATION *q = (void *)out;
            memcpy(out, p, size);
            /* the image name lives inside the entry: move its pointer along */
            if ((unsigned char *)p->ImageName.Buffer >= (unsigned char *)p &&
                (unsigned char *)p->ImageName.Buffer < (unsigned char *)p + size)
                q->ImageName.Buffer = (WCHAR *)(buf + (out - tmp) + ((unsigned char *)p->ImageName.Buffer - (unsigned char *)p));
            q->NextEntryOffset = size;
            prev = out;
            out += size;
        }
        if (!p->NextEntryOffset) break;
        p = (void *)((unsigned char *)p + p->NextEntryOffset);
    }
    if (prev) ((SYSTEM_PROCESS_INFORMATION *)prev)->NextEntryOffset = 0;
    total = (ULONG)(out - tmp);
    memcpy(buf, tmp, total);
    hfree(tmp);
    return total;
}

/* Membership of the pids of one query, asked once each: handle lists repeat them thousands of times. */
typedef struct {
    DWORD pid;
    int in;
} pid_memo;
static int mine_memo(DWORD pid, pid_memo *m, int *n, int cap)
{
    int i;
    for (i = 0; i < *n; i++)
        if (m[i].pid == pid) return m[i].in;
    i = mine(pid);
    if (*n < cap) {
        m[*n].pid = pid;
        m[*n].in = i;
        (*n)++;
    }
    return i;
}

/* Handle lists (16: SystemHandleInformation, 64: SystemExtendedHandleInformation): keep
   this VM's processes' entries only, and clear what is left behind. */
static void filter_handles(ULONG cls, unsigned char *buf, ULONG len)
{
    ULONG_PTR count, i, kept = 0;
    ULONG hdr = cls == 16 ? 8 : 16, esz = cls == 16 ? 24 : 40;
    pid_memo memo[256];
    int nm = 0;
    if (len < hdr) return;
    count = cls == 16 ? *(ULONG *)buf : *(ULONG_PTR *)buf;
    if (count > (len - hdr) / esz) count = (len - hdr) / esz;
    for (i = 0; i < count; i++) {
        unsigned char *e = buf + hdr + i * esz;
        DWORD pid = cls == 16 ? *(USHORT *)e : (DWORD) * (ULONG_PTR *)(e + 8);
        if (!mine_memo(pid, memo, &nm, 256)) continue;
        if (kept != i) memcpy(buf + hdr + kept * esz, e, esz);
        kept++;
    }
    memset(buf + hdr + kept * esz, 0, (count - kept) * esz);
    if (cls == 16)
        *(ULONG *)buf = (ULONG)kept;
    else
        *(ULONG_PTR *)buf = kept;
}

static NTSTATUS NTAPI d_NtQuerySystemInformation(ULONG cls, PVOID buf, ULONG len, PULONG ret)
{
    NTSTATUS st;
    /* 88: SystemProcessIdInformation names the image of any pid */
    if (cls == 88 && buf && len >= sizeof(PVOID) && !mine((DWORD)(ULONG_PTR) * (PVOID *)buf)) {
        trace_pid("NtQuerySystemInformation(88)", (DWORD)(ULONG_PTR) * (PVOID *)buf, V_DENIED);
        return ST_ACCESS_DENIED;
    }
    st = o_NtQuerySystemInformation(cls, buf, len, ret);
    if (st >= 0 && buf && (cls == 16 || cls == 64)) filter_handles(cls, buf, ret && *ret && *ret <= len ? *ret : len);
    /* 5: SystemProcessInformation, 57: SystemExtendedProcessInformation, 148: SystemFullProcessInformation */
    if (st >= 0 && buf && (cls == 5 || cls == 57 || cls == 148)) {
        ULONG used = ret && *ret && *ret <= len ? *ret : len;
        ULONG n = filter_procs(buf, used);
        if (ret && n) *ret = n;
    }
    return st;
}

static NTSTATUS NTAPI d_NtClose(HANDLE h)
{
    roots_forget(h);
    registry_forget(h);
    files_forget(h);
    svcctl_forget(h);
    return o_NtClose(h);
}

int process_install(void)
{
    static const hook_entry table[] = {
        HOOK(NtClose), HOOK(NtCreateUserProcess), HOOK(NtOpenProcess), HOOK(NtOpenThread), HOOK(NtQuerySystemInformation),
    };
    return HOOK_TABLE(table);
}
