/* A direct duplicate (docs/dup.md, "Direct duplicates"): the SCM starts a copy of the
 * service's image whose import table names this DLL first (src/plan/direct.ts). No svcdup
 * process came before it to publish a config or put it in its VM's job, so it does both for
 * itself, from the marker in the image's .svcdup section and the VM's Policy value, before
 * any code of the image runs. The copy runs in its VM or not at all: a marker that cannot
 * be honoured fails the process's start. */
#include "hook.h"
#include "policy.h"
#include <string.h>
#include <wchar.h>

#define DIRECT_MAGIC L"svcdup-direct-1"

/* The VM name in this process's image's marker, or NULL (not a direct copy). */
static const WCHAR *marker_vm(void)
{
    BYTE *base = (BYTE *)GetModuleHandleW(NULL);
    IMAGE_NT_HEADERS64 *nt = (IMAGE_NT_HEADERS64 *)(base + ((IMAGE_DOS_HEADER *)base)->e_lfanew);
    IMAGE_SECTION_HEADER *s = IMAGE_FIRST_SECTION(nt);
    const size_t magic = ARRAYSIZE(DIRECT_MAGIC);
    for (WORD i = 0; i < nt->FileHeader.NumberOfSections; i++, s++) {
        const WCHAR *p, *end;
        if (memcmp(s->Name, ".svcdup", 8)) continue;
        p = (const WCHAR *)(base + s->VirtualAddress);
        end = (const WCHAR *)(base + s->VirtualAddress + s->Misc.VirtualSize);
        /* the marker is WCHAR-aligned after the import data: find the magic, NUL included */
        for (; p + magic + 1 < end; p++)
            if (!memcmp(p, DIRECT_MAGIC, magic * sizeof(WCHAR))) {
                const WCHAR *vm = p + magic;
                size_t n = wcsnlen(vm, (size_t)(end - vm));
                return n && n <= VM_NAME_MAX && vm + n < end ? vm : NULL;
            }
    }
    return NULL;
}

NTSYSAPI NTSTATUS NTAPI NtQueryValueKey(HANDLE, UNICODE_STRING *, int, void *, ULONG, ULONG *);

/* The SCM's control pipe for this start: \\.\pipe\net\NtControlPipe<N>, N the default value of
   ServiceCurrent (what sechost's StartServiceCtrlDispatcher reads too, Windows and Wine). The one
   control pipe this process may reach; the others stay the host's (docs/vm.md). */
static void own_control_pipe(void)
{
    UNICODE_STRING us, none = {0, 0, NULL};
    OBJECT_ATTRIBUTES oa;
    HANDLE k;
    struct {
        ULONG title, type, len;
        DWORD n;
    } v;
    ULONG ret;
    WCHAR name[40];
    RtlInitUnicodeString(&us, L"\\Registry\\Machine\\System\\CurrentControlSet\\Control\\ServiceCurrent");
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    if (o_NtOpenKey(&k, KEY_QUERY_VALUE, &oa) < 0) return;
    if (NtQueryValueKey(k, &none, 2 /* KeyValuePartialInformation */, &v, sizeof v, &ret) >= 0 && v.type == REG_DWORD) {
        _snwprintf(name, ARRAYSIZE(name), L"net\\NtControlPipe%lu", (unsigned long)v.n);
        name[ARRAYSIZE(name) - 1] = 0;
        policy_open_own_pipe(name);
    }
    o_NtClose(k);
}

int direct_start(vm_config **out)
{
    const WCHAR *vm = marker_vm();
    WCHAR *rules;
    vm_config *c;
    if (!vm) return 0;
    if (!(rules = config_vm_policy(vm))) return -1;
    c = config_make(vm, rules);
    hfree(rules);
    if (!c) return -1;
    /* into the VM's job (membership.c), then the config every VM process has, found by pid */
    if (membership_join(GetCurrentProcess(), G.pid, vm) < 0 || config_publish(GetCurrentProcess(), G.pid, c)) {
        hfree(c);
        return -1;
    }
    own_control_pipe();
    *out = c;
    return 1;
}
