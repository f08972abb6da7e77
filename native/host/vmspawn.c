/* See vmspawn.h. Loaded outside a VM, svcdup-hook.dll hooks nothing in this process;
   it is unloaded again once the image is started, so that it costs a long-running
   svcdup-host no memory (msvcrt, which it imports, stays: advapi32 imports it too). */
#include "vmspawn.h"
#include "host.h"

typedef DWORD (*spawn_fn)(const WCHAR *, const WCHAR *, WCHAR *, HANDLE, DWORD, PROCESS_INFORMATION *);

DWORD vm_spawn(const WCHAR *vm, WCHAR *cmdline, HANDLE token, PROCESS_INFORMATION *pi)
{
    WCHAR path[MAX_PATH], *name = path;
    HMODULE hook;
    spawn_fn spawn;
    DWORD n, i, err;

    n = GetModuleFileNameW(NULL, path, MAX_PATH);
    if (!n || n >= MAX_PATH - 20) return ERROR_BAD_PATHNAME;
    for (i = 0; i < n; i++)
        if (path[i] == L'\\') name = path + i + 1;
    lstrcpyW(name, L"svcdup-hook.dll");
    if (!(hook = LoadLibraryW(path))) return GetLastError();
    if ((spawn = (spawn_fn)(void *)GetProcAddress(hook, "svcdup_spawn_as")))
        /* No console, as the SCM starts a service: a console program's child of this
           detached process would otherwise get a new console, i.e. a conhost.exe
           (and under Wine a desktop explorer.exe) per duplicate, started before the
           image's own main. */
        err = spawn(vm, NULL, cmdline, token, DETACHED_PROCESS, pi);
    else
        err = ERROR_PROC_NOT_FOUND;
    /* advapi32 now (imports.c), while the hook still holds msvcrt, which advapi32 imports
       too: unloading the hook first would unmap msvcrt and map it again */
    host_load_advapi();
    FreeLibrary(hook);
    return err;
}
