/* Starting the real image inside the VM: its command line comes from the VM's copy of
   the service's key (made by dup), the VM's policy from the VM's key; the process is
   created suspended, given the hook and its VM config, then resumed. */
#include <windows.h>
#include "host.h"
#include "relay.h"
#include "vmspawn.h"

static DWORD spawn(WCHAR *cmdline, const WCHAR *pipe_name, WCHAR *cwd);

static DWORD read_sz(HKEY root, const WCHAR *sub, const WCHAR *name, WCHAR *out, DWORD chars, BOOL expand)
{
    WCHAR raw[4096];
    DWORD size = sizeof raw - sizeof(WCHAR), type;
    LSTATUS st = RegGetValueW(root, sub, name, RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, &type, raw, &size);
    if (st) return st;
    raw[size / sizeof(WCHAR)] = 0;
    if (expand && type == REG_EXPAND_SZ) {
        if (!ExpandEnvironmentStringsW(raw, out, chars)) return GetLastError();
    } else {
        lstrcpynW(out, raw, chars);
    }
    return NO_ERROR;
}

DWORD host_launch(const WCHAR *pipe_name)
{
    WCHAR svckey[512], cmdline[4096], cwd[MAX_PATH];
    DWORD err;

    str_join(svckey, ARRAYSIZE(svckey), VM_KEY_PREFIX, H.vm, L"\\Services\\", H.service, NULL);
    if ((err = host_load_registry())) return err;
    if ((err = read_sz(HKEY_LOCAL_MACHINE, svckey, L"ImagePath", cmdline, ARRAYSIZE(cmdline), TRUE))) return err;
    return spawn(cmdline, pipe_name, cwd);
}

/* The image runs under the VM's Policy value, which the hook reads (vm_spawn). */
static DWORD spawn(WCHAR *cmdline, const WCHAR *pipe_name, WCHAR *cwd)
{
    PROCESS_INFORMATION pi;
    DWORD err;

    /* The emulated SCM in the image finds us through these; it removes them again so
       that the service's own children do not inherit them. */
    SetEnvironmentVariableW(RELAY_PIPE_ENV, pipe_name);
    SetEnvironmentVariableW(RELAY_SERVICE_ENV, H.service);
    /* services start in the system directory; the child inherits ours */
    GetSystemDirectoryW(cwd, MAX_PATH);
    SetCurrentDirectoryW(cwd);

    if (H.restricted_token) {
        /* the kernel's privilege checks then refuse the image what the hook cannot */
        HANDLE token;
        if ((err = host_load_advapi()) || (err = host_restricted_token(&token))) return err;
        err = vm_spawn(H.vm, cmdline, token, &pi);
        CloseHandle(token);
        if (err) return err;
    } else if ((err = vm_spawn(H.vm, cmdline, NULL, &pi)))
        return err;
    H.child = pi.hProcess;
    H.child_pid = pi.dwProcessId;
    CloseHandle(pi.hThread);
    return NO_ERROR;
}
