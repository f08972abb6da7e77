/* See vmspawn.h. Loaded outside a VM, svcdup-hook.dll hooks nothing in this process. */
#include "vmspawn.h"

typedef DWORD (*spawn_fn)(const WCHAR *, const WCHAR *, WCHAR *, PROCESS_INFORMATION *);

DWORD vm_spawn(const WCHAR *vm, const WCHAR *rules, WCHAR *cmdline, PROCESS_INFORMATION *pi)
{
    static spawn_fn spawn;
    WCHAR path[MAX_PATH], *slash;
    DWORD n;

    if (!spawn) {
        HMODULE hook;
        n = GetModuleFileNameW(NULL, path, MAX_PATH);
        if (!n || n >= MAX_PATH - 20) return ERROR_BAD_PATHNAME;
        slash = wcsrchr(path, L'\\');
        wcscpy(slash ? slash + 1 : path, L"svcdup-hook.dll");
        if (!(hook = LoadLibraryW(path))) return GetLastError();
        if (!(spawn = (spawn_fn)(void *)GetProcAddress(hook, "svcdup_spawn"))) return ERROR_PROC_NOT_FOUND;
    }
    return spawn(vm, rules, cmdline, pi);
}
