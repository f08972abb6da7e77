/* svcdup-hook.dll: loaded as the first import of every VM process (inject.c).
 * A process whose pid has a VM config section is in that VM: the hook pins
 * itself, keeps a private copy of the config and patches the syscall stubs.
 * Anywhere else (the launcher loads it to reuse the injection code) it does
 * nothing. Failing to hook a VM process fails its start rather than letting it
 * run un-virtualized. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "policy.h"
#include "trace.h"
#include <wchar.h>

/* The ordinal-1 export the rewritten import table names. */
__declspec(dllexport) void svcdup_hook_anchor(void) {}

static int start(void)
{
    vm_config *c;
    HMODULE pinned;
    real_init();
    G.pid = GetCurrentProcessId();
    if (!(c = config_load(G.pid))) return 1; /* not in a VM: stay passive */
    G.cfg = c;
    G.prefix_chars = (USHORT)swprintf(G.prefix, sizeof G.prefix / sizeof(WCHAR), L"svcdup.%ls.", c->vm);
    if (policy_load(c->rules) < 0) return 0;
    if (!membership_start(c->vm)) return 0; /* a process not in its VM's job does not run */
    /* never unloaded: FreeLibrary must not be a way out of the VM */
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_PIN | GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
                            (LPCWSTR)(void *)start, &pinned))
        return 0;
    trace_open();
    if (process_install() || objects_install() || pipes_install() || ports_install() || query_install() ||
        scmclient_install() || registry_install() || net_install() || dirs_install() || modguard_install())
        return 0;
    service_install();
    G.active = 1;
    return 1;
}

/* For the launcher: start cmdline suspended in VM vm with policy rules, hooked.
   Returns 0 or a Win32 error; on success *pi holds the handles. */
__declspec(dllexport) DWORD svcdup_spawn(const WCHAR *vm, const WCHAR *rules, WCHAR *cmdline, PROCESS_INFORMATION *pi)
{
    STARTUPINFOW si;
    vm_config *c = config_make(vm, rules);
    NTSTATUS st;
    if (!c) return ERROR_INVALID_PARAMETER;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    if (!CreateProcessW(NULL, cmdline, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, pi)) {
        DWORD e = GetLastError();
        hfree(c);
        return e;
    }
    st = inject_child(pi->hProcess, pi->dwProcessId, c);
    hfree(c);
    if (st < 0) {
        TerminateProcess(pi->hProcess, 1);
        CloseHandle(pi->hThread);
        CloseHandle(pi->hProcess);
        return RtlNtStatusToDosError(st);
    }
    ResumeThread(pi->hThread);
    return 0;
}

/* Is pid in a VM? Copies the VM name (VM_NAME_MAX + 1 chars) when it is. */
__declspec(dllexport) int svcdup_pid_vm(DWORD pid, WCHAR *vm)
{
    vm_config *c;
    if (!real_NtOpenSection) real_init();
    if (!(c = config_load(pid))) return 0;
    /* the section only claims; the VM's job decides (membership.c) */
    if (!pid_in_vm_job(pid, c->vm)) { hfree(c); return 0; }
    wcscpy(vm, c->vm);
    hfree(c);
    return 1;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, void *reserved)
{
    if (reason != DLL_PROCESS_ATTACH) return TRUE;
    G.self = inst;
    DisableThreadLibraryCalls(inst);
    return start() ? TRUE : FALSE;
}

/* For the trace listener: the VM's trace section, created if need be. */
__declspec(dllexport) void *svcdup_trace_map(const WCHAR *vm)
{
    if (!real_NtCreateSection) real_init();
    return trace_map(vm, real_NtCreateSection);
}
