/* Starting a process inside a VM, through the hook DLL's own spawner (the code a VM
   process uses for its children), loaded from svcdup-host's directory. */
#ifndef SVCDUP_VMSPAWN_H
#define SVCDUP_VMSPAWN_H
#include <windows.h>
/* Returns 0 or a Win32 error; on success pi holds the running child's handles.
   The child runs under the VM's Policy value, as the hook reads it (ERROR_CANTREAD when
   it is there but cannot be read). token: the child's primary token, NULL for ours. */
DWORD vm_spawn(const WCHAR *vm, WCHAR *cmdline, HANDLE token, PROCESS_INFORMATION *pi);
#endif
