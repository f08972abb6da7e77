/* Syscall stub patching, Detours-style: the stub's entry becomes a jump to the
   detour, and a verbatim copy of the stub is the trampoline to the original. */
#ifndef SVCDUP_PATCH_H
#define SVCDUP_PATCH_H
#include "nt.h"

/* Hook ntdll!name. On success *original is a callable copy of the untouched stub.
   Returns 0, or -1 when the export is missing, -2 when its bytes are not a
   syscall stub of a known layout (we never patch what we do not understand). */
int hook_syscall(const char *name, void *detour, void **original);

/* The ntdll export, or NULL. */
void *ntdll_proc(const char *name);
#endif
