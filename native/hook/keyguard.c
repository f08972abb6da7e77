/* Registry links made in a VM (issue 11, class 9): a key created with REG_OPTION_CREATE_LINK
   would let a VM reach, under a name of its own, any key the link names (svcdup's own
   HKLM\SOFTWARE\svcdup\VMs\<other VM>, a host service key), past every name decision.
   VM processes get none: registry.c asks here before NtCreateKey. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "trace.h"

#define REG_OPT_CREATE_LINK 0x2

/* Nonzero when a VM process must not create a key with these options. */
int keyguard_refuse_create(const OBJECT_ATTRIBUTES *oa, ULONG options)
{
    if (!G.active || !(options & REG_OPT_CREATE_LINK)) return 0;
    trace_decision("NtCreateKey(REG_OPTION_CREATE_LINK)", oa ? oa->ObjectName : NULL, NULL, V_DENIED);
    return 1;
}

/* The hive calls: loading, unloading, saving, restoring or replacing a hive acts on the
   registry as a whole, past every key decision (NtUnloadKey deletes a host key and another VM's
   copies; NtSaveKey of HKLM\SOFTWARE hands over every VM's registry; NtRestoreKey overwrites a
   host key). No VM process needs them: refused, each where ntdll exports it. */
REFUSE(NtLoadKey)
REFUSE(NtLoadKey2)
REFUSE(NtLoadKeyEx)
REFUSE(NtLoadKey3)
REFUSE(NtUnloadKey)
REFUSE(NtUnloadKey2)
REFUSE(NtUnloadKeyEx)
REFUSE(NtSaveKey)
REFUSE(NtSaveKeyEx)
REFUSE(NtSaveMergedKeys)
REFUSE(NtRestoreKey)
REFUSE(NtReplaceKey)
REFUSE(NtCompactKeys)
REFUSE(NtCompressKey)
REFUSE(NtLockRegistryKey)
REFUSE(NtFreezeRegistry)
REFUSE(NtThawRegistry)
REFUSE(NtInitializeRegistry)
/* a transaction's key opens take a name past registry.c's decisions (svcdup's area, another
   VM's copies): refused like the hives (no VM process needs registry transactions) */
REFUSE(NtCreateKeyTransacted)
REFUSE(NtOpenKeyTransacted)
REFUSE(NtOpenKeyTransactedEx)

static const hook_entry table[] = {
    HOOK_OPT(NtLoadKey),
    HOOK_OPT(NtLoadKey2),
    HOOK_OPT(NtLoadKeyEx),
    HOOK_OPT(NtLoadKey3),
    HOOK_OPT(NtUnloadKey),
    HOOK_OPT(NtUnloadKey2),
    HOOK_OPT(NtUnloadKeyEx),
    HOOK_OPT(NtSaveKey),
    HOOK_OPT(NtSaveKeyEx),
    HOOK_OPT(NtSaveMergedKeys),
    HOOK_OPT(NtRestoreKey),
    HOOK_OPT(NtReplaceKey),
    HOOK_OPT(NtCompactKeys),
    HOOK_OPT(NtCompressKey),
    HOOK_OPT(NtLockRegistryKey),
    HOOK_OPT(NtFreezeRegistry),
    HOOK_OPT(NtThawRegistry),
    HOOK_OPT(NtInitializeRegistry),
    HOOK_OPT(NtCreateKeyTransacted),
    HOOK_OPT(NtOpenKeyTransacted),
    HOOK_OPT(NtOpenKeyTransactedEx),
};
int keyguard_install(void) { return HOOK_TABLE(table); }
