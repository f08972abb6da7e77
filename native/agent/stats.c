/*
 * job.stats: what a VM's processes use, for `svcdup stats` (docs/operate.md, "Stats").
 * Per VM, from its job object \BaseNamedObjects\svcdup.job.<vm> (membership.c of the hook):
 * the member pids, and the job's own accounting where the system keeps it (Windows; Wine 8
 * fails the query: "accounting" is then absent). Per process, from one system process list:
 * CPU times, private bytes (the commit charge, PagefileUsage), working set, threads, handles,
 * I/O bytes. The agent is not in any VM, so the job's name is the real one.
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winternl.h>

#define JobBasicAndIoAccounting 8
#define JobBasicProcessIdList   3
#define JOB_QUERY               0x0004

/* SYSTEM_PROCESS_INFORMATION as the system writes it (winternl.h's hides the counters) */
typedef struct {
    ULONG NextEntryOffset, NumberOfThreads;
    LARGE_INTEGER WorkingSetPrivateSize;
    ULONG HardFaultCount, NumberOfThreadsHighWatermark;
    ULONGLONG CycleTime;
    LARGE_INTEGER CreateTime, UserTime, KernelTime;
    UNICODE_STRING ImageName;
    LONG BasePriority;
    HANDLE UniqueProcessId, InheritedFromUniqueProcessId;
    ULONG HandleCount, SessionId;
    ULONG_PTR UniqueProcessKey;
    SIZE_T PeakVirtualSize, VirtualSize;
    ULONG PageFaultCount;
    SIZE_T PeakWorkingSetSize, WorkingSetSize, QuotaPeakPagedPoolUsage, QuotaPagedPoolUsage, QuotaPeakNonPagedPoolUsage,
        QuotaNonPagedPoolUsage, PagefileUsage, PeakPagefileUsage, PrivatePageCount;
    LARGE_INTEGER ReadOperationCount, WriteOperationCount, OtherOperationCount, ReadTransferCount, WriteTransferCount, OtherTransferCount;
} proc_info;

typedef NTSTATUS(NTAPI *open_job_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *query_job_fn)(HANDLE, ULONG, PVOID, ULONG, PULONG);
typedef NTSTATUS(NTAPI *query_sys_fn)(ULONG, PVOID, ULONG, PULONG);

static void *ntdll_fn(const char *name) { return (void *)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), name); }

static HANDLE open_job(const WCHAR *vm)
{
    WCHAR name[96];
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    HANDLE h;
    int n = swprintf(name, 96, L"\\BaseNamedObjects\\svcdup.job.%ls", vm);
    if (n < 0 || n >= 96) return NULL;
    us.Buffer = name;
    us.Length = (USHORT)(n * sizeof(WCHAR));
    us.MaximumLength = us.Length + sizeof(WCHAR);
    InitializeObjectAttributes(&oa, &us, 0, NULL, NULL);
    return ((open_job_fn)ntdll_fn("NtOpenJobObject"))(&h, JOB_QUERY, &oa) >= 0 ? h : NULL;
}

/* 100 ns units -> ms */
static unsigned long long ms(LARGE_INTEGER t) { return (unsigned long long)t.QuadPart / 10000; }

static void out_process(json_writer *w, const proc_info *p)
{
    json_begin_object(w);
    out_key_uint(w, "pid", (ULONG_PTR)p->UniqueProcessId);
    out_key_uint(w, "ppid", (ULONG_PTR)p->InheritedFromUniqueProcessId);
    json_key(w, "image");
    out_wstr(w, p->ImageName.Buffer ? p->ImageName.Buffer : L"", p->ImageName.Buffer ? p->ImageName.Length / 2 : (size_t)-1);
    out_key_uint(w, "cpuMs", ms(p->UserTime) + ms(p->KernelTime));
    out_key_uint(w, "privateBytes", p->PagefileUsage);
    out_key_uint(w, "workingSetBytes", p->WorkingSetSize);
    out_key_uint(w, "threads", p->NumberOfThreads);
    out_key_uint(w, "handles", p->HandleCount);
    out_key_uint(w, "readBytes", (unsigned long long)p->ReadTransferCount.QuadPart);
    out_key_uint(w, "writeBytes", (unsigned long long)p->WriteTransferCount.QuadPart);
    json_end_object(w);
}

static const proc_info *find(const proc_info *all, ULONG_PTR pid)
{
    const proc_info *p = all;
    for (;;) {
        if ((ULONG_PTR)p->UniqueProcessId == pid) return p;
        if (!p->NextEntryOffset) return NULL;
        p = (const proc_info *)((const char *)p + p->NextEntryOffset);
    }
}

/*
 * Under Wine the job keeps no accounting, so all a sample wants from a VM's job is its member
 * pids, and opening each job by name, listing it and closing it is three wineserver requests a
 * VM (about a sixth of a 100-VM sample's CPU). A process only joins a job as it is created (a
 * child inherits its parent's job in the same server call) or, for a VM's first process and a
 * duplicate's image, while svcdup holds it suspended before its first instruction
 * (membership.c); and it never leaves one but by ending. So the members read at time T can
 * only have grown if the system process list holds a process created after T (less a margin
 * for the suspended assignment): while it holds none, the agent reuses the members it read
 * (dropping those that ended), and reads every job again at the first new process, and at
 * least once a minute. Where the job answers the accounting query (Windows) it is read each
 * time, as its figures are.
 */
#define JOIN_MARGIN_100NS (5LL * 10000000) /* a process created this long before a read may join after it */
#define REREAD_100NS      (60LL * 10000000)

typedef struct {
    WCHAR vm[33];
    ULONG n;
    ULONG_PTR *pids;
} members;

static SRWLOCK cache_lock = SRWLOCK_INIT;
static members *cache;
static size_t cache_n, cache_cap;
static LONGLONG cache_read_at; /* system time of the last reading of every asked job; 0: none */

static members *cached(const WCHAR *vm)
{
    size_t i;
    for (i = 0; i < cache_n; i++)
        if (!wcscmp(cache[i].vm, vm)) return &cache[i];
    return NULL;
}

/* Remembers vm's members (n of them, NULL: none); on no memory it is simply not remembered. */
static void remember(const WCHAR *vm, const ULONG_PTR *pids, ULONG n)
{
    members *m = cached(vm);
    ULONG_PTR *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (n && !copy) return;
    if (n) memcpy(copy, pids, n * sizeof *copy);
    if (!m) {
        if (cache_n == cache_cap) {
            size_t cap = cache_cap ? cache_cap * 2 : 64;
            members *c = realloc(cache, cap * sizeof *c);
            if (!c) {
                free(copy);
                return;
            }
            cache = c;
            cache_cap = cap;
        }
        m = &cache[cache_n++];
        wcscpy(m->vm, vm);
    } else
        free(m->pids);
    m->pids = copy;
    m->n = n;
}

/* May the remembered members be used? No while a process was created since the last reading. */
static int members_current(const proc_info *all, LONGLONG now)
{
    const proc_info *p = all;
    if (!cache_read_at || now - cache_read_at >= REREAD_100NS) return 0;
    for (; p; p = p->NextEntryOffset ? (const proc_info *)((const char *)p + p->NextEntryOffset) : NULL)
        if (p->CreateTime.QuadPart >= cache_read_at - JOIN_MARGIN_100NS) return 0;
    return 1;
}

static void out_members(json_writer *w, const ULONG_PTR *pids, ULONG n, const proc_info *all)
{
    ULONG i;
    json_key(w, "processes");
    json_begin_array(w);
    for (i = 0; i < n; i++) {
        const proc_info *p = all ? find(all, pids[i]) : NULL;
        if (p) out_process(w, p); /* one that ended between the two reads is left out */
    }
    json_end_array(w);
}

/* One VM, from its remembered members when use_cache; *uncached set when its reading could not be remembered. */
static void out_vm(json_writer *w, const WCHAR *vm, const proc_info *all, int use_cache, int *uncached)
{
    query_job_fn q = (query_job_fn)ntdll_fn("NtQueryInformationJobObject");
    members *m = use_cache ? cached(vm) : NULL;
    HANDLE job;
    json_begin_object(w);
    out_key_wstr(w, "vm", vm);
    if (m) {
        out_members(w, m->pids, m->n, all);
        json_end_object(w);
        return;
    }
    if ((job = open_job(vm))) {
        JOBOBJECT_BASIC_AND_IO_ACCOUNTING_INFORMATION a;
        ULONG size = 4096;
        JOBOBJECT_BASIC_PROCESS_ID_LIST *l = NULL;
        int accounting = q(job, JobBasicAndIoAccounting, &a, sizeof a, NULL) >= 0;
        if (accounting) {
            json_key(w, "accounting");
            json_begin_object(w);
            out_key_uint(w, "cpuMs", ms(a.BasicInfo.TotalUserTime) + ms(a.BasicInfo.TotalKernelTime));
            out_key_uint(w, "activeProcesses", a.BasicInfo.ActiveProcesses);
            out_key_uint(w, "readBytes", a.IoInfo.ReadTransferCount);
            out_key_uint(w, "writeBytes", a.IoInfo.WriteTransferCount);
            json_end_object(w);
        }
        for (;;) {
            free(l);
            if (!(l = malloc(size))) break;
            if (q(job, JobBasicProcessIdList, l, size, NULL) >= 0 && l->NumberOfProcessIdsInList >= l->NumberOfAssignedProcesses) break;
            if (size > (1u << 24)) {
                free(l);
                l = NULL;
                break;
            }
            size *= 4;
        }
        out_members(w, l ? l->ProcessIdList : NULL, l ? l->NumberOfProcessIdsInList : 0, all);
        if (l && !accounting)
            remember(vm, l->ProcessIdList, l->NumberOfProcessIdsInList);
        else
            *uncached = 1;
        free(l);
        CloseHandle(job);
    } else {
        /* no job: the VM has no process now (its next one is created after this reading) */
        out_members(w, NULL, 0, all);
        remember(vm, NULL, 0);
    }
    json_end_object(w);
}

DWORD op_job_stats(struct request *rq)
{
    query_sys_fn qs = (query_sys_fn)ntdll_fn("NtQuerySystemInformation");
    WCHAR **vms;
    size_t n, i;
    ULONG size = 1 << 18, ret;
    void *all = NULL;
    DWORD err;
    LARGE_INTEGER now;
    int use_cache, uncached = 0;

    if ((err = param_wstr_array(rq, "vms", &vms, &n))) return err;
    for (;;) {
        NTSTATUS st;
        if (!(all = malloc(size))) return ERROR_NOT_ENOUGH_MEMORY;
        if ((st = qs(5 /* SystemProcessInformation */, all, size, &ret)) >= 0) break;
        free(all);
        all = NULL;
        if (size > (1u << 26)) return ERROR_INSUFFICIENT_BUFFER;
        size *= 2;
    }
    GetSystemTimeAsFileTime((FILETIME *)&now);
    AcquireSRWLockExclusive(&cache_lock);
    use_cache = members_current(all, now.QuadPart);
    json_begin_object(rq->out);
    json_key(rq->out, "vms");
    json_begin_array(rq->out);
    for (i = 0; i < n; i++)
        if (wcslen(vms[i]) <= 32) out_vm(rq->out, vms[i], all, use_cache, &uncached);
    json_end_array(rq->out);
    json_end_object(rq->out);
    /* when every asked VM was read (one not remembered yet is read in any case) */
    if (!use_cache) cache_read_at = uncached ? 0 : now.QuadPart;
    ReleaseSRWLockExclusive(&cache_lock);
    free(all);
    return ERROR_SUCCESS;
}
