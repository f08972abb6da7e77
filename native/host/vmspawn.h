/* Starting a process inside a VM, through the hook DLL's own spawner (the code a VM
   process uses for its children), loaded from svcdup-host's directory. */
#ifndef SVCDUP_VMSPAWN_H
#define SVCDUP_VMSPAWN_H
#include <windows.h>
/* Returns 0 or a Win32 error; on success pi holds the running child's handles.
   token: the child's primary token, NULL for ours. */
DWORD vm_spawn(const WCHAR *vm, const WCHAR *rules, WCHAR *cmdline, HANDLE token, PROCESS_INFORMATION *pi);
#endif
