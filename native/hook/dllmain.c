/* svcdup-hook.dll: loaded as the first import of every VM process (inject.c).
 * A process whose pid has a VM config section is in that VM: the hook pins
 * itself, keeps a private copy of the config and patches the syscall stubs.
 * Anywhere else (the launcher loads it to reuse the injection code) it does
 * nothing. Failing to hook a VM process fails its start rather than letting it
 * run un-virtualized, and names the part, the export and the reason (hook_failed). */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "policy.h"
#include "service.h"
#include "trace.h"
#include <stdio.h>
#include <wchar.h>

/* The ordinal-1 export the rewritten import table names. */
__declspec(dllexport) void svcdup_hook_anchor(void) {}

void hook_failed(const char *part)
{
    const patch_failure *f = patch_last_failure();
    trace_failure(part, f->code ? f->what : NULL, f->code ? f->why : "failed");
}

/* Install one part; 0 (and the failure recorded) when it cannot be. */
static int install(const char *part, int (*fn)(void))
{
    patch_clear_failure();
    if (fn() >= 0) return 1;
    hook_failed(part);
    return 0;
}

static int start_in_vm(void)
{
    vm_config *c;
    HMODULE pinned;
    int line, ok;
    G.pid = GetCurrentProcessId();
    if (!(c = config_load(G.pid))) {
        /* not in a VM: stay passive, unless this is a direct duplicate's image (direct.c) */
        int d = direct_start(&c);
        if (d == 0) return 1;
        if (d < 0) return 0;
    }
    G.cfg = c;
    G.prefix_chars = (USHORT)swprintf(G.prefix, sizeof G.prefix / sizeof(WCHAR), L"svcdup.%ls.", c->vm);
    trace_open(); /* first: a failure below is reported there */
    if ((line = policy_load(c->rules)) < 0) {
        char what[32];
        snprintf(what, sizeof what, "line %d", -line);
        patch_fail(what, -1, policy_error());
        hook_failed("policy");
        return 0;
    }
    if (!membership_start(c->vm)) { /* a process not in its VM's job does not run */
        hook_failed("membership");
        return 0;
    }
    /* never unloaded: FreeLibrary must not be a way out of the VM */
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_PIN | GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, (LPCWSTR)(void *)start_in_vm,
                            &pinned)) {
        patch_fail("GetModuleHandleExW", -1, "the hook cannot pin itself");
        hook_failed("pin");
        return 0;
    }
    /* one protection change per page for all the parts below (patch.c); service's, which may
       load sechost and advapi32 (their DllMains), after the pages are restored */
    patch_hold();
    ok = install("process", process_install) && install("objects", objects_install) && install("pipes", pipes_install) &&
         install("ports", ports_install) && install("query", query_install) && install("scmclient", scmclient_install) &&
         install("registry", registry_install) && install("net", net_install) && install("dirs", dirs_install) &&
         install("files", files_install) && install("modguard", modguard_install) && install("handles", handles_install) &&
         install("keyguard", keyguard_install) && install("sysguard", sysguard_install);
    patch_release();
    if (!ok || !install("service", service_install)) return 0;
    G.active = 1;
    return 1;
}

/* A direct image holds its VM's key open for its reads at start (direct.c): closed here,
   on every way out, before any code of the image runs. */
static int start(void)
{
    int r = start_in_vm();
    config_vm_release();
    return r;
}

/* For svcdup-host: svcdup_spawn with the child's primary token given (a restricted
   token; NULL: the caller's, as svcdup_spawn), rules NULL for the VM's own Policy
   value (config_vm_policy), and creation flags added to
   CREATE_SUSPENDED (DETACHED_PROCESS: no console, as the SCM starts a service). Same
   suspended create + injection. */
__declspec(dllexport) DWORD
    svcdup_spawn_as(const WCHAR *vm, const WCHAR *rules, WCHAR *cmdline, HANDLE token, DWORD flags, PROCESS_INFORMATION *pi)
{
    STARTUPINFOW si;
    WCHAR *own = NULL;
    vm_config *c;
    NTSTATUS st;
    BOOL ok;
    /* NULL rules: the VM's own Policy value (svcdup-host), read as a direct image reads it */
    if (!rules && !(rules = own = config_vm_policy(vm))) return ERROR_CANTREAD;
    c = config_make(vm, rules);
    hfree(own);
    if (!c) return ERROR_INVALID_PARAMETER;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    if (flags & DETACHED_PROCESS) {
        /* svcdup-host starting a duplicate's image (it names the service in the environment): stdout and stderr to its log */
        WCHAR service[257];
        DWORD n = GetEnvironmentVariableW(L"SVCDUP_SERVICE", service, ARRAYSIZE(service));
        if (n && n < ARRAYSIZE(service) && (si.hStdOutput = stdlog_open(vm, service))) {
            si.hStdError = si.hStdOutput;
            si.dwFlags |= STARTF_USESTDHANDLES;
        }
    }
    flags |= CREATE_SUSPENDED;
    /* ERROR_INTERNAL_ERROR: under Wine the new process died in its own start-up, before
       any of its code ran (NtCreateUserProcess's "no success, no exit code"); seen once in
       500 starts under load. Nothing was created, so it is created again. */
    for (int tries = 3; tries--;) {
        ok = token ? CreateProcessAsUserW(token, NULL, cmdline, NULL, NULL, TRUE, flags, NULL, NULL, &si, pi)
                   : CreateProcessW(NULL, cmdline, NULL, NULL, TRUE, flags, NULL, NULL, &si, pi);
        if (ok || GetLastError() != ERROR_INTERNAL_ERROR) break;
    }
    if (!ok) {
        DWORD e = GetLastError();
        if (si.hStdOutput) CloseHandle(si.hStdOutput);
        hfree(c);
        return e;
    }
    if (si.hStdOutput) CloseHandle(si.hStdOutput); /* the child has its own */
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

/* For the launcher: start cmdline suspended in VM vm with policy rules, hooked.
   Returns 0 or a Win32 error; on success *pi holds the handles. */
__declspec(dllexport) DWORD svcdup_spawn(const WCHAR *vm, const WCHAR *rules, WCHAR *cmdline, PROCESS_INFORMATION *pi)
{
    return svcdup_spawn_as(vm, rules, cmdline, NULL, 0, pi);
}

/* Is pid in a VM? Copies the VM name (VM_NAME_MAX + 1 chars) when it is. */
__declspec(dllexport) int svcdup_pid_vm(DWORD pid, WCHAR *vm)
{
    vm_config *c;
    if (!(c = config_load(pid))) return 0;
    /* the section only claims; the VM's job decides (membership.c) */
    if (!pid_in_vm_job(pid, c->vm)) {
        hfree(c);
        return 0;
    }
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
__declspec(dllexport) void *svcdup_trace_map(const WCHAR *vm) { return trace_map(vm, o_NtCreateSection); }
