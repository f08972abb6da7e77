/* The VM's view of the registry (DESIGN.md issue 2): inside a VM,
 *   \Registry\Machine\SYSTEM\{CurrentControlSet,ControlSetNNN}\Services\NAME[\...]
 * of a service duplicated into the VM, and
 *   \Registry\Machine\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost[\...]
 * once the VM has its own svchost groups, resolve to the VM's copies under
 *   \Registry\Machine\SOFTWARE\svcdup\VMs\<vm>\{Services\NAME,Svchost}
 * which dup made. Everything else passes; svcdup's own area is closed to VM processes,
 * so that one VM cannot read or change another's copies. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"
#include <wchar.h>

#define KeyNameInformation 3
NTSYSAPI NTSTATUS NTAPI NtQueryKey(HANDLE, int, void *, ULONG, ULONG *);

typedef NTSTATUS(NTAPI *open_key_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *open_key_ex_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG);
typedef NTSTATUS(NTAPI *create_key_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG, UNICODE_STRING *, ULONG, ULONG *);
static open_key_fn o_NtOpenKey;
static open_key_ex_fn o_NtOpenKeyEx;
static create_key_fn o_NtCreateKey;

#define NAME_MAX_CHARS 1024
static const WCHAR svcdup_area[] = L"\\REGISTRY\\MACHINE\\SOFTWARE\\svcdup";
static const WCHAR svchost[] = L"\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost";

typedef struct {
    WCHAR full[NAME_MAX_CHARS];     /* the absolute name the caller means */
    USHORT full_len;
    WCHAR target[NAME_MAX_CHARS];   /* where it resolves in this VM */
    UNICODE_STRING target_us;
    OBJECT_ATTRIBUTES oa;
} key_name;

static int starts_with(const WCHAR *s, USHORT n, const WCHAR *prefix)
{
    size_t p = wcslen(prefix);
    return n >= p && !_wcsnicmp(s, prefix, p) && (n == p || s[p] == L'\\');
}

/* The absolute name: RootDirectory's name (asked of the system) + "\" + ObjectName. */
static int absolute_name(const OBJECT_ATTRIBUTES *in, key_name *k)
{
    USHORT n = in->ObjectName ? in->ObjectName->Length / sizeof(WCHAR) : 0;
    k->full_len = 0;
    if (in->RootDirectory) {
        struct { ULONG len; WCHAR name[NAME_MAX_CHARS]; } info;
        ULONG ret;
        if (NtQueryKey(in->RootDirectory, KeyNameInformation, &info, sizeof info, &ret) < 0) return 0;
        if (info.len / sizeof(WCHAR) + 1 + n >= NAME_MAX_CHARS) return 0;
        memcpy(k->full, info.name, info.len);
        k->full_len = (USHORT)(info.len / sizeof(WCHAR));
        if (n) k->full[k->full_len++] = L'\\';
    } else if (n >= NAME_MAX_CHARS) {
        return 0;
    }
    if (n) memcpy(k->full + k->full_len, in->ObjectName->Buffer, n * sizeof(WCHAR));
    k->full_len += n;
    k->full[k->full_len] = 0;
    return starts_with(k->full, k->full_len, L"\\REGISTRY");
}

static int key_exists(const WCHAR *name)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    HANDLE h;
    RtlInitUnicodeString(&us, name);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    if (o_NtOpenKey(&h, KEY_QUERY_VALUE, &oa) < 0) return 0;
    real_NtClose(h);
    return 1;
}

/* Where "\REGISTRY\MACHINE\SYSTEM\<controlset>\Services\" ends in s, or 0. */
static size_t services_prefix(const WCHAR *s, USHORT n)
{
    static const WCHAR sys[] = L"\\REGISTRY\\MACHINE\\SYSTEM\\";
    size_t i = wcslen(sys), cs;
    if (n <= i || _wcsnicmp(s, sys, i)) return 0;
    if (!_wcsnicmp(s + i, L"CurrentControlSet\\", 18)) cs = 18;
    else if (!_wcsnicmp(s + i, L"ControlSet", 10) && n > i + 14 && iswdigit(s[i + 10]) && iswdigit(s[i + 11]) &&
             iswdigit(s[i + 12]) && s[i + 13] == L'\\')
        cs = 14;
    else
        return 0;
    i += cs;
    if (n <= i + 9 || _wcsnicmp(s + i, L"Services\\", 9)) return 0;
    return i + 9;
}

/* 1: k->oa names the VM's copy; 0: pass; -1: deny. */
static int resolve(const OBJECT_ATTRIBUTES *in, key_name *k)
{
    size_t svc, end, base;
    int n;
    if (!in || !in->ObjectName || !absolute_name(in, k)) return 0;
    if (starts_with(k->full, k->full_len, svcdup_area)) return -1;
    if ((svc = services_prefix(k->full, k->full_len))) {
        for (end = svc; end < k->full_len && k->full[end] != L'\\'; end++);
        n = _snwprintf(k->target, NAME_MAX_CHARS, L"%ls\\VMs\\%ls\\Services\\%.*ls", svcdup_area, G.cfg->vm,
                       (int)(end - svc), k->full + svc);
        if (n < 0) return 0;
        base = (size_t)n;
        if (!key_exists(k->target)) return 0; /* not duplicated here: the host's key */
    } else if (starts_with(k->full, k->full_len, svchost)) {
        end = wcslen(svchost);
        n = _snwprintf(k->target, NAME_MAX_CHARS, L"%ls\\VMs\\%ls\\Svchost", svcdup_area, G.cfg->vm);
        if (n < 0) return 0;
        base = (size_t)n;
        if (!key_exists(k->target)) return 0;
    } else {
        return 0;
    }
    if (base + (k->full_len - end) >= NAME_MAX_CHARS) return 0;
    memcpy(k->target + base, k->full + end, (k->full_len - end) * sizeof(WCHAR));
    k->target[base + k->full_len - end] = 0;
    RtlInitUnicodeString(&k->target_us, k->target);
    InitializeObjectAttributes(&k->oa, &k->target_us, in->Attributes, NULL, in->SecurityDescriptor);
    k->oa.SecurityQualityOfService = in->SecurityQualityOfService;
    return 1;
}

static void trace(const char *call, const key_name *k, int r)
{
    UNICODE_STRING used;
    RtlInitUnicodeString(&used, k->full);
    trace_decision(call, &used, r > 0 ? &k->target_us : NULL, r > 0 ? V_RENAMED : V_DENIED);
}

static NTSTATUS NTAPI d_NtOpenKey(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa)
{
    key_name kn, *k = &kn; /* about 4 KB: fine on any thread's stack */
    int r = resolve(oa, k);
    if (r) trace("NtOpenKey", k, r);
    if (r < 0) return ST_ACCESS_DENIED;
    return o_NtOpenKey(h, a, r ? &k->oa : oa);
}

static NTSTATUS NTAPI d_NtOpenKeyEx(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG options)
{
    key_name kn, *k = &kn; /* about 4 KB: fine on any thread's stack */
    int r = resolve(oa, k);
    if (r) trace("NtOpenKeyEx", k, r);
    if (r < 0) return ST_ACCESS_DENIED;
    return o_NtOpenKeyEx(h, a, r ? &k->oa : oa, options);
}

static NTSTATUS NTAPI d_NtCreateKey(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG index, UNICODE_STRING *cls,
                                    ULONG options, ULONG *disposition)
{
    key_name kn, *k = &kn; /* about 4 KB: fine on any thread's stack */
    int r;
    if (keyguard_refuse_create(oa, options)) return ST_ACCESS_DENIED; /* keyguard.c: no registry links from a VM */
    r = resolve(oa, k);
    if (r) trace("NtCreateKey", k, r);
    if (r < 0) return ST_ACCESS_DENIED;
    return o_NtCreateKey(h, a, r ? &k->oa : oa, index, cls, options, disposition);
}

int registry_install(void)
{
    if (hook_syscall("NtOpenKey", d_NtOpenKey, (void **)&o_NtOpenKey)) return -1;
    if (hook_syscall("NtOpenKeyEx", d_NtOpenKeyEx, (void **)&o_NtOpenKeyEx)) return -1;
    if (hook_syscall("NtCreateKey", d_NtCreateKey, (void **)&o_NtCreateKey)) return -1;
    return 0;
}
