/* The per-process VM config section: how a VM process knows its VM, and how
   anyone (ps, OpenProcess checks) tells which VM a pid belongs to. */
#include "hook.h"
#include <stdio.h>
#include <wchar.h>

NTSYSAPI NTSTATUS NTAPI NtQueryValueKey(HANDLE, UNICODE_STRING *, int, void *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtOpenKey(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);

#define KeyValuePartialInformation 2

typedef struct { /* winternl.h of mingw lacks it */
    ULONG TitleIndex, Type, DataLength;
    BYTE Data[1];
} KEY_VALUE_PARTIAL_INFORMATION;

hook_state G;

#include "patch.h"

void *hmalloc(SIZE_T n) { return RtlAllocateHeap(GetProcessHeap(), 0, n); }
void hfree(void *p)
{
    if (p) RtlFreeHeap(GetProcessHeap(), 0, p);
}

static void section_name(DWORD pid, WCHAR *buf, UNICODE_STRING *us)
{
    int n = swprintf(buf, 64, L"\\BaseNamedObjects\\svcdup.pid.%lu", (unsigned long)pid);
    us->Buffer = buf;
    us->Length = (USHORT)(n * sizeof(WCHAR));
    us->MaximumLength = us->Length + sizeof(WCHAR);
}

SIZE_T config_size(const vm_config *cfg) { return sizeof(vm_config) + cfg->rules_chars * sizeof(WCHAR); }

vm_config *config_make(const WCHAR *vm, const WCHAR *rules)
{
    SIZE_T n = rules ? wcslen(rules) : 0;
    vm_config *c;
    if (wcslen(vm) > VM_NAME_MAX) return NULL;
    c = hmalloc(sizeof(vm_config) + n * sizeof(WCHAR));
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    c->magic = CFG_MAGIC;
    c->rules_chars = (DWORD)n;
    wcscpy(c->vm, vm);
    if (n) memcpy(c->rules, rules, n * sizeof(WCHAR));
    c->rules[n] = 0;
    return c;
}

/* The VM's Policy value (heap, "" when the VM has none: the defaults), or NULL when it is
   there but cannot be read: a process must not run under the defaults instead of its VM's
   policy. Read the same way for svcdup-host's images (svcdup_spawn_as) and direct ones. */
WCHAR *config_vm_policy(const WCHAR *vm) { return config_vm_value(vm, L"Policy"); }

/* A direct image reads four values of its VM's key at start (Policy, Logs, Limits twice):
   between config_vm_hold and config_vm_release the key is opened once for all of them. */
static struct {
    WCHAR vm[VM_NAME_MAX + 1];
    HANDLE h;
    NTSTATUS st; /* of the open */
    int held;
} vk;

static NTSTATUS vm_key_open(const WCHAR *vm, HANDLE *h)
{
    WCHAR key[128];
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    swprintf(key, ARRAYSIZE(key), L"\\Registry\\Machine\\SOFTWARE\\svcdup\\VMs\\%ls", vm);
    RtlInitUnicodeString(&us, key);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    *h = NULL;
    return NtOpenKey(h, KEY_QUERY_VALUE, &oa);
}

void config_vm_hold(const WCHAR *vm)
{
    config_vm_release();
    if (wcslen(vm) > VM_NAME_MAX) return;
    wcscpy(vk.vm, vm);
    vk.st = vm_key_open(vm, &vk.h);
    vk.held = 1;
}

void config_vm_release(void)
{
    if (vk.held && vk.h) o_NtClose(vk.h);
    memset(&vk, 0, sizeof vk);
}

/* A REG_SZ value of the VM's key (heap, "" when absent, NULL when unreadable). */
WCHAR *config_vm_value(const WCHAR *vm, const WCHAR *value)
{
    UNICODE_STRING name;
    HANDLE h = NULL;
    ULONG len = 0;
    KEY_VALUE_PARTIAL_INFORMATION *info;
    WCHAR *rules = NULL;
    NTSTATUS st;
    int held = vk.held && !wcscmp(vk.vm, vm);
    union { /* the values are short: one query for most */
        KEY_VALUE_PARTIAL_INFORMATION i;
        BYTE b[512];
    } small;

    RtlInitUnicodeString(&name, value);
    /* no key or no value: the defaults */
    if (held) {
        st = vk.st;
        h = vk.h;
    } else
        st = vm_key_open(vm, &h);
    if (st >= 0) st = NtQueryValueKey(h, &name, KeyValuePartialInformation, &small, sizeof small, &len);
    if (st == (NTSTATUS)0xC0000034 /* OBJECT_NAME_NOT_FOUND */) {
        if (h && !held) o_NtClose(h);
        if ((rules = hmalloc(sizeof(WCHAR)))) rules[0] = 0;
        return rules;
    }
    if (!h) return NULL;
    info = st >= 0 ? &small.i : NULL;
    if (!info && (st == (NTSTATUS)0x80000005 /* BUFFER_OVERFLOW */ || st == (NTSTATUS)0xC0000023 /* BUFFER_TOO_SMALL */) &&
        (info = hmalloc(len + sizeof(WCHAR))) && NtQueryValueKey(h, &name, KeyValuePartialInformation, info, len, &len) < 0) {
        hfree(info);
        info = NULL;
    }
    if (info) {
        if (info->Type == REG_SZ && (rules = hmalloc(info->DataLength + sizeof(WCHAR)))) {
            memcpy(rules, info->Data, info->DataLength);
            rules[info->DataLength / sizeof(WCHAR)] = 0;
        }
        if (info != &small.i) hfree(info);
    }
    if (!held) o_NtClose(h);
    return rules;
}

int config_publish(HANDLE process, DWORD pid, const vm_config *cfg)
{
    WCHAR buf[64];
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    LARGE_INTEGER size;
    HANDLE h, remote;
    PVOID view = NULL;
    SIZE_T vsize = 0;
    NTSTATUS st;

    if (config_size(cfg) > CFG_SECTION_SIZE) return -1;
    section_name(pid, buf, &us);
    InitializeObjectAttributes(&oa, &us, 0, NULL, NULL);
    size.QuadPart = CFG_SECTION_SIZE;
    st = o_NtCreateSection(&h, SECTION_ALL_ACCESS, &oa, &size, PAGE_READWRITE, SEC_COMMIT, NULL);
    if (st < 0) return -2;
    /* someone made it first: a config planted for this pid is not ours to fill */
    if (st == (NTSTATUS)0x40000000 /* STATUS_OBJECT_NAME_EXISTS */) {
        o_NtClose(h);
        return -2;
    }
    if (NtMapViewOfSection(h, GetCurrentProcess(), &view, 0, 0, NULL, &vsize, 2 /* ViewUnmap */, 0, PAGE_READWRITE) < 0) {
        o_NtClose(h);
        return -3;
    }
    memcpy(view, cfg, config_size(cfg));
    NtUnmapViewOfSection(GetCurrentProcess(), view);
    /* a direct image publishing its own: the handle stays where it is */
    if (process == GetCurrentProcess()) return 0;
    /* Hand the only lasting reference to the child: the name then dies with it,
       and a parent that exits right after CreateProcess (cmd /c start) is fine. */
    st = NtDuplicateObject(GetCurrentProcess(), h, process, &remote, 0, 0, DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE);
    return st < 0 ? -4 : 0;
}

static const vm_config *map_config(DWORD pid, HANDLE *h, PVOID *view)
{
    WCHAR buf[64];
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    SIZE_T vsize = 0;
    const vm_config *c;

    section_name(pid, buf, &us);
    InitializeObjectAttributes(&oa, &us, 0, NULL, NULL);
    *view = NULL;
    if (o_NtOpenSection(h, SECTION_MAP_READ, &oa) < 0) return NULL;
    if (NtMapViewOfSection(*h, GetCurrentProcess(), view, 0, 0, NULL, &vsize, 2, 0, PAGE_READONLY) < 0) {
        o_NtClose(*h);
        return NULL;
    }
    c = *view;
    if (c->magic != CFG_MAGIC || config_size(c) > vsize) {
        NtUnmapViewOfSection(GetCurrentProcess(), *view);
        o_NtClose(*h);
        return NULL;
    }
    return c;
}

vm_config *config_load(DWORD pid)
{
    HANDLE h;
    PVOID view;
    const vm_config *c = map_config(pid, &h, &view);
    vm_config *copy;
    if (!c) return NULL;
    copy = hmalloc(config_size(c));
    if (copy) memcpy(copy, c, config_size(c));
    NtUnmapViewOfSection(GetCurrentProcess(), view);
    o_NtClose(h);
    return copy;
}

int pid_in_vm(DWORD pid, const WCHAR *vm)
{
    HANDLE h;
    PVOID view;
    const vm_config *c = map_config(pid, &h, &view);
    int r;
    if (!c) return 0;
    r = !_wcsicmp(c->vm, vm);
    NtUnmapViewOfSection(GetCurrentProcess(), view);
    o_NtClose(h);
    return r;
}
