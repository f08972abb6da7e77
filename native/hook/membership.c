/* VM membership, held by the kernel rather than by anything a VM process can write.
 * Every VM process is in the job object \BaseNamedObjects\svcdup.job.<vm>:
 *  - svcdup's own processes (svcdup-run, svcdup-host: the hook is passive there) create
 *    it and assign each first process of the VM before it runs;
 *  - a VM process's children inherit the job from the kernel, and cannot break away
 *    (the job has no JOB_OBJECT_LIMIT_BREAKAWAY_OK); the hook refuses a child that is not
 *    in the job, and refuses to start in a process that is not in its VM's job;
 *  - VM processes hold the job with JOB_OBJECT_QUERY only (so its name lives as long as
 *    they do): they can read who is a member, not add anyone;
 *  - ps, vm rm (svcdup-run) and the hook's own "is this pid in my VM" read the job's
 *    process list, never the per-process config section, which only carries the policy.
 * The name svcdup.job.* is reserved like every svcdup.* name: a VM process asking for it
 * gets its own prefix (policy.c), whatever the route (names.c resolves them all). */
#include "hook.h"
#include "patch.h"
#include <stdio.h>
#include <wchar.h>

#define JOB_QUERY             0x0004
#define JOB_ASSIGN            0x0001
#define JOB_TERMINATE         0x0008
#define JOB_ALL               0x1f003f
#define JobBasicProcessIdList 3

typedef NTSTATUS(NTAPI *job_assign_fn)(HANDLE, HANDLE);
typedef NTSTATUS(NTAPI *job_query_fn)(HANDLE, ULONG, PVOID, ULONG, PULONG);
typedef NTSTATUS(NTAPI *job_term_fn)(HANDLE, NTSTATUS);

static HANDLE vm_job; /* this VM process's own job, query access */
static int joined;    /* a direct image put itself in vm_job (membership_join) */

static void job_name(const WCHAR *vm, WCHAR *buf, UNICODE_STRING *us)
{
    int n = swprintf(buf, 80, L"\\BaseNamedObjects\\svcdup.job.%ls", vm);
    us->Buffer = buf;
    us->Length = (USHORT)(n * sizeof(WCHAR));
    us->MaximumLength = us->Length + sizeof(WCHAR);
}

static HANDLE job_open(const WCHAR *vm, ACCESS_MASK a, int create)
{
    WCHAR buf[80];
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    HANDLE h;
    fn_open f;
    if (wcslen(vm) > VM_NAME_MAX) return NULL;
    f = create ? o_NtCreateJobObject : o_NtOpenJobObject;
    job_name(vm, buf, &us);
    /* OBJ_OPENIF: the VM's next process joins the job its first one made */
    InitializeObjectAttributes(&oa, &us, create ? OBJ_OPENIF : 0, NULL, NULL);
    return f && f(&h, a, &oa) >= 0 ? h : NULL;
}

/* The pids in job (heap array, *n of them), or NULL. */
static ULONG_PTR *job_pids(HANDLE job, ULONG *n)
{
    job_query_fn q = ntdll_proc("NtQueryInformationJobObject");
    ULONG size = 4096;
    for (;;) {
        JOBOBJECT_BASIC_PROCESS_ID_LIST *l = hmalloc(size);
        NTSTATUS st;
        if (!l) return NULL;
        st = q(job, JobBasicProcessIdList, l, size, NULL);
        if (st >= 0 && l->NumberOfProcessIdsInList >= l->NumberOfAssignedProcesses) {
            ULONG_PTR *out = hmalloc((l->NumberOfProcessIdsInList + 1) * sizeof(ULONG_PTR));
            if (out) memcpy(out, l->ProcessIdList, l->NumberOfProcessIdsInList * sizeof(ULONG_PTR));
            *n = l->NumberOfProcessIdsInList;
            hfree(l);
            return out;
        }
        hfree(l);
        if (size > (1u << 24)) return NULL;
        size *= 4;
    }
}

static ULONG job_count(HANDLE job)
{
    ULONG n = 0;
    ULONG_PTR *p = job_pids(job, &n);
    if (!p) return 0xffffffff; /* unknown: over any limit */
    hfree(p);
    return n;
}

static int job_has(HANDLE job, DWORD pid)
{
    ULONG n = 0, i;
    ULONG_PTR *p = job_pids(job, &n);
    int r = 0;
    if (!p) return 0;
    for (i = 0; i < n; i++)
        if (p[i] == pid) r = 1;
    hfree(p);
    return r;
}

/* At the start of a VM process: find its VM's job and check that it is in it. */
int membership_start(const WCHAR *vm)
{
    /* a direct image that assigned itself to the job holds it already: the kernel said yes */
    if (joined) return limits_start(vm);
    /* by the job's process list: Wine 8's NtIsProcessInJob answers "not in job" here */
    if (!(vm_job = job_open(vm, JOB_QUERY, 0))) return 0;
    return job_has(vm_job, G.pid) && limits_start(vm);
}

/* Is pid in this process's VM? (the hook's OpenProcess and listing filters) */
int membership_has(DWORD pid) { return vm_job && job_has(vm_job, pid); }

/* A suspended child about to run in VM vm: in the job, and holding it. */
NTSTATUS membership_join(HANDLE process, DWORD pid, const WCHAR *vm)
{
    HANDLE job, remote;
    NTSTATUS st;
    if (G.active) {
        /* a VM process's child: the kernel put it in the job already */
        if (!vm_job || !job_has(vm_job, pid)) return ST_ACCESS_DENIED;
        if ((st = limits_check(job_count(vm_job))) < 0) return st;
        return NtDuplicateObject(GetCurrentProcess(), vm_job, process, &remote, JOB_QUERY, 0, 0);
    }
    /* svcdup's own process starting the VM's first process (or a duplicate's image) */
    if (!(job = job_open(vm, JOB_ALL, 1))) return ST_ACCESS_DENIED;
    st = limits_apply(job, vm);
    if (st >= 0) st = ((job_assign_fn)ntdll_proc("NtAssignProcessToJobObject"))(job, process);
    if (st >= 0) st = limits_check(job_count(job));
    if (st >= 0) st = NtDuplicateObject(GetCurrentProcess(), job, process, &remote, JOB_QUERY, 0, 0);
    o_NtClose(job);
    /* a direct image joining itself: the query handle it now holds is its vm_job (membership_start) */
    if (st >= 0 && process == GetCurrentProcess()) {
        vm_job = remote;
        joined = 1;
    }
    return st;
}

/* ---- for svcdup-run (ps, vm rm): the job is the only authority ---- */

/* The pids of VM vm into pids[cap]; returns how many there are (may exceed cap), -1: no such VM running. */
__declspec(dllexport) int svcdup_vm_pids(const WCHAR *vm, DWORD *pids, int cap)
{
    HANDLE job = job_open(vm, JOB_QUERY, 0);
    ULONG n = 0, i;
    ULONG_PTR *p;
    if (!job) return -1;
    p = job_pids(job, &n);
    o_NtClose(job);
    if (!p) return -1;
    for (i = 0; i < n && (int)i < cap; i++) pids[i] = (DWORD)p[i];
    hfree(p);
    return (int)n;
}

/* End every process of VM vm (the job's); returns how many there were, -1: no such VM running. */
__declspec(dllexport) int svcdup_vm_kill(const WCHAR *vm)
{
    HANDLE job = job_open(vm, JOB_QUERY | JOB_TERMINATE, 0);
    ULONG n = 0;
    ULONG_PTR *p;
    if (!job) return -1;
    if ((p = job_pids(job, &n))) hfree(p);
    ((job_term_fn)ntdll_proc("NtTerminateJobObject"))(job, 1);
    o_NtClose(job);
    return (int)n;
}

/* Is pid in VM vm, by the job? */
int pid_in_vm_job(DWORD pid, const WCHAR *vm)
{
    HANDLE job = job_open(vm, JOB_QUERY, 0);
    int r;
    if (!job) return 0;
    r = job_has(job, pid);
    o_NtClose(job);
    return r;
}
