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

/* The VM name in this process's image's marker, or NULL (not a direct copy); *scm_name: the
 * duplicate's SCM name after it ("" when the marker has none). */
static const WCHAR *marker_vm(const WCHAR **scm_name)
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
                if (!n || n > VM_NAME_MAX || vm + n >= end) return NULL;
                *scm_name =
                    vm + n + 1 < end && wcsnlen(vm + n + 1, (size_t)(end - (vm + n + 1))) < (size_t)(end - (vm + n + 1)) ? vm + n + 1 : L"";
                return vm;
            }
    }
    return NULL;
}

/* Tell svcdup-watch (native/watch) this image's pid and SCM name, starting it when it is not
 * there: under Wine 8 nothing else notices a direct image that ends without reporting STOPPED
 * (docs/dup.md, "A dead direct image"). Before the process joins its VM's job, so that a
 * watcher started here is outside every VM. Best effort: a failure here leaves the duplicate
 * as it was before the watcher existed, never fails its start. */
static void watch_notify(const WCHAR *scm_name)
{
    WCHAR msg[320], exe[MAX_PATH];
    STARTUPINFOW si = {0};
    PROCESS_INFORMATION pi;
    WCHAR *slash;
    DWORD n;
    HANDLE h;
    int len;
    si.cb = sizeof si;
    if (!scm_name[0] || (len = swprintf(msg, ARRAYSIZE(msg), L"%lu %ls", G.pid, scm_name)) <= 0) return;
    h = CreateFileW(L"\\\\.\\mailslot\\svcdup.watch", GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
    if (h != INVALID_HANDLE_VALUE) {
        WriteFile(h, msg, (DWORD)len * sizeof(WCHAR), &n, NULL);
        CloseHandle(h);
        return;
    }
    /* none yet: start one beside this DLL; it takes the running NAME@VM services, this one among them */
    n = GetModuleFileNameW(G.self, exe, MAX_PATH);
    if (!n || n >= MAX_PATH - 20 || !(slash = wcsrchr(exe, L'\\'))) return;
    wcscpy(slash + 1, L"svcdup-watch.exe");
    if (CreateProcessW(exe, NULL, NULL, NULL, FALSE, DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP, NULL, NULL, &si, &pi)) {
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
    }
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
    const WCHAR *scm_name = L"";
    const WCHAR *vm = marker_vm(&scm_name);
    WCHAR *rules;
    vm_config *c;
    if (!vm) return 0;
    config_vm_hold(vm); /* Policy, Logs and Limits below: one open of the VM's key (released in dllmain.c) */
    if (!(rules = config_vm_policy(vm))) return -1;
    c = config_make(vm, rules);
    hfree(rules);
    if (!c) return -1;
    watch_notify(scm_name);
    /* into the VM's job (membership.c), then the config every VM process has, found by pid */
    if (membership_join(GetCurrentProcess(), G.pid, vm) < 0 || config_publish(GetCurrentProcess(), G.pid, c)) {
        hfree(c);
        return -1;
    }
    own_control_pipe();
    {
        /* stdout and stderr into the duplicate's log where it has none (the SCM gives a service
         * none): a copy started by hand, or by a VM process, keeps the console or pipe it was given */
        HANDLE o = GetStdHandle(STD_OUTPUT_HANDLE), e = GetStdHandle(STD_ERROR_HANDLE);
        int no_out = !o || o == INVALID_HANDLE_VALUE, no_err = !e || e == INVALID_HANDLE_VALUE;
        HANDLE log = no_out || no_err ? stdlog_open(vm, scm_name) : NULL;
        if (log) stdlog_crt(log, no_out, no_err);
    }
    *out = c;
    return 1;
}
