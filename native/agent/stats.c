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

static void out_vm(json_writer *w, const WCHAR *vm, const proc_info *all)
{
    query_job_fn q = (query_job_fn)ntdll_fn("NtQueryInformationJobObject");
    HANDLE job = open_job(vm);
    json_begin_object(w);
    out_key_wstr(w, "vm", vm);
    if (job) {
        JOBOBJECT_BASIC_AND_IO_ACCOUNTING_INFORMATION a;
        ULONG size = 4096;
        JOBOBJECT_BASIC_PROCESS_ID_LIST *l = NULL;
        ULONG i;
        if (q(job, JobBasicAndIoAccounting, &a, sizeof a, NULL) >= 0) {
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
        json_key(w, "processes");
        json_begin_array(w);
        for (i = 0; l && i < l->NumberOfProcessIdsInList; i++) {
            const proc_info *p = all ? find(all, l->ProcessIdList[i]) : NULL;
            if (p) out_process(w, p); /* one that ended between the two reads is left out */
        }
        json_end_array(w);
        free(l);
        CloseHandle(job);
    } else {
        /* no job: the VM has no process now */
        json_key(w, "processes");
        json_begin_array(w);
        json_end_array(w);
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
    json_begin_object(rq->out);
    json_key(rq->out, "vms");
    json_begin_array(rq->out);
    for (i = 0; i < n; i++)
        if (wcslen(vms[i]) <= 32) out_vm(rq->out, vms[i], all);
    json_end_array(rq->out);
    json_end_object(rq->out);
    free(all);
    return ERROR_SUCCESS;
}
