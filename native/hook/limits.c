/* A VM's resource limits (docs/operate.md, "Limits"): the Limits value of its key
 * HKLM\SOFTWARE\svcdup\VMs\<vm> (written by vm create, closed to VM processes), lines of
 *   processes=N | memory=BYTES | cpus=MILLI (thousandths of a CPU) | cgroup=LINUX-DIRECTORY
 * - svcdup's own process that makes or joins the VM's job sets them on it (the Windows
 *   mechanism: active process limit, job memory limit, CPU rate hard cap);
 * - Wine 8 accepts job limits and enforces none, so the active process limit is also
 *   checked here whenever a process joins the job: one over it is refused;
 * - under Wine each VM process puts itself into the VM's Linux cgroups (memory, cpu) before
 *   any code of its image runs, and the kernel enforces those; children inherit them. */
#include "hook.h"
#include "patch.h"
#include <stdio.h>
#include <wchar.h>

NTSYSAPI NTSTATUS NTAPI NtWriteFile(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, const void *, ULONG, LARGE_INTEGER *, ULONG *);

#define ST_QUOTA_EXCEEDED ((NTSTATUS)0xC0000044)
#define MAX_CGROUPS       4

typedef struct {
    ULONG processes;
    ULONGLONG memory;
    ULONG cpus_milli;
    int ncgroups;
    WCHAR cgroup[MAX_CGROUPS][200];
} vm_limits;

static vm_limits L; /* this process's VM's (or, in svcdup's own processes, the last VM's) */

typedef NTSTATUS(NTAPI *job_set_fn)(HANDLE, ULONG, PVOID, ULONG);

/* Read and parse the VM's Limits value into L; 0 when it cannot be read or parsed. */
static int load(const WCHAR *vm)
{
    WCHAR *text = config_vm_value(vm, L"Limits"), *line, *next;
    memset(&L, 0, sizeof L);
    if (!text) return 0;
    for (line = text; *line; line = next) {
        WCHAR *eq;
        if ((next = wcschr(line, L'\n')))
            *next++ = 0;
        else
            next = line + wcslen(line);
        if (!*line) continue;
        if (!(eq = wcschr(line, L'='))) goto bad;
        *eq++ = 0;
        if (!wcscmp(line, L"processes"))
            L.processes = (ULONG)wcstoul(eq, NULL, 10);
        else if (!wcscmp(line, L"memory"))
            L.memory = _wcstoui64(eq, NULL, 10);
        else if (!wcscmp(line, L"cpus"))
            L.cpus_milli = (ULONG)wcstoul(eq, NULL, 10);
        else if (!wcscmp(line, L"cgroup") && L.ncgroups < MAX_CGROUPS && wcslen(eq) < 160 && eq[0] == L'/') {
            WCHAR *c = L.cgroup[L.ncgroups++];
            swprintf(c, 200, L"\\??\\unix%ls\\cgroup.procs", eq);
            for (; *c; c++)
                if (*c == L'/') *c = L'\\';
        } else
            goto bad; /* a limit this hook does not know is not silently dropped */
    }
    hfree(text);
    return 1;
bad:
    hfree(text);
    return 0;
}

/* Move this process into a cgroup: "0" written to cgroup.procs means the writer's own thread group. */
static int join_cgroup(const WCHAR *procs)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK io;
    HANDLE h;
    NTSTATUS st;
    RtlInitUnicodeString(&us, procs);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    st = NtCreateFile(&h, FILE_WRITE_DATA | SYNCHRONIZE, &oa, &io, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                      FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE, NULL, 0);
    if (st < 0) return 0;
    st = NtWriteFile(h, NULL, NULL, NULL, &io, "0\n", 2, NULL, NULL);
    o_NtClose(h);
    return st >= 0;
}

int limits_start(const WCHAR *vm)
{
    int i;
    if (!load(vm)) {
        patch_fail("limits", -1, "the VM's Limits value cannot be read");
        return 0;
    }
    for (i = 0; i < L.ncgroups; i++)
        if (!join_cgroup(L.cgroup[i])) {
            /* an unlimited process of a limited VM must not run: the cgroup went (a reboot) and svcdup has not made it again */
            patch_fail("limits", -1, "cannot join the VM's cgroup (run svcdup start or svcdup up to make it again)");
            return 0;
        }
    return 1;
}

NTSTATUS limits_apply(HANDLE job, const WCHAR *vm)
{
    job_set_fn set = ntdll_proc("NtSetInformationJobObject");
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    NTSTATUS st = ST_SUCCESS;
    if (!load(vm)) return ST_ACCESS_DENIED;
    if (!L.processes && !L.memory && !L.cpus_milli) return ST_SUCCESS;
    memset(&li, 0, sizeof li);
    if (L.processes) {
        li.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
        li.BasicLimitInformation.ActiveProcessLimit = L.processes;
    }
    if (L.memory) {
        li.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
        li.JobMemoryLimit = (SIZE_T)L.memory;
    }
    if (li.BasicLimitInformation.LimitFlags) st = set(job, JobObjectExtendedLimitInformation, &li, sizeof li);
    if (st >= 0 && L.cpus_milli) {
        JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cr;
        SYSTEM_INFO si;
        NTSTATUS cst;
        GetSystemInfo(&si);
        memset(&cr, 0, sizeof cr);
        cr.ControlFlags = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP;
        /* in 1/10000 of the whole machine */
        cr.CpuRate = (DWORD)((ULONGLONG)L.cpus_milli * 10 / (si.dwNumberOfProcessors ? si.dwNumberOfProcessors : 1));
        if (cr.CpuRate > 10000) cr.CpuRate = 10000;
        cst = set(job, JobObjectCpuRateControlInformation, &cr, sizeof cr);
        /* Wine 8 refuses CPU rates; there the cgroup holds the limit */
        if (cst < 0 && !L.ncgroups) st = cst;
    }
    /* Wine 8 accepts the limits and enforces none: the cgroups do; elsewhere a refused limit is a refused start */
    return st < 0 && L.ncgroups ? ST_SUCCESS : st;
}

NTSTATUS limits_check(ULONG processes) { return L.processes && processes > L.processes ? ST_QUOTA_EXCEEDED : ST_SUCCESS; }
