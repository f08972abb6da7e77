/* Registry links made in a VM (issue 11, class 9): a key created with REG_OPTION_CREATE_LINK
   would let a VM reach, under a name of its own, any key the link names (svcdup's own
   HKLM\SOFTWARE\svcdup\VMs\<other VM>, a host service key), past every name decision.
   VM processes get none: registry.c asks here before NtCreateKey. */
#include "hook.h"
#include "names.h"
#include "trace.h"

#define REG_OPT_CREATE_LINK 0x2

/* Nonzero when a VM process must not create a key with these options. */
int keyguard_refuse_create(const OBJECT_ATTRIBUTES *oa, ULONG options)
{
    if (!G.active || !(options & REG_OPT_CREATE_LINK)) return 0;
    trace_decision("NtCreateKey(REG_OPTION_CREATE_LINK)", oa ? oa->ObjectName : NULL, NULL, V_DENIED);
    return 1;
}
