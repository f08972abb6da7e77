/* Calls that change the machine as a whole, past every name (docs/vm.md, "Threat model"):
   the system's settings, time, drivers, paging files, power, a volume's label, the default
   locale, and a permanent object made temporary (deleted with its last handle: a host's link
   in \\?? would go). A VM process gets access denied, each where ntdll exports the call. */
#include "hook.h"
#include "patch.h"
#include "trace.h"

REFUSE(NtSetSystemInformation)
REFUSE(NtSetSystemTime)
REFUSE(NtShutdownSystem)
REFUSE(NtLoadDriver)
REFUSE(NtUnloadDriver)
REFUSE(NtCreatePagingFile)
REFUSE(NtSetVolumeInformationFile)
REFUSE(NtSystemDebugControl)
REFUSE(NtSetDefaultLocale)
REFUSE(NtSetDefaultUILanguage)
REFUSE(NtInitiatePowerAction)
REFUSE(NtSetSystemPowerState)
REFUSE(NtSetSystemEnvironmentValue)
REFUSE(NtSetSystemEnvironmentValueEx)
REFUSE(NtMakeTemporaryObject)
REFUSE(NtMakePermanentObject)

static const hook_entry table[] = {
    HOOK_OPT(NtSetSystemInformation),
    HOOK_OPT(NtSetSystemTime),
    HOOK_OPT(NtShutdownSystem),
    HOOK_OPT(NtLoadDriver),
    HOOK_OPT(NtUnloadDriver),
    HOOK_OPT(NtCreatePagingFile),
    HOOK_OPT(NtSetVolumeInformationFile),
    HOOK_OPT(NtSystemDebugControl),
    HOOK_OPT(NtSetDefaultLocale),
    HOOK_OPT(NtSetDefaultUILanguage),
    HOOK_OPT(NtInitiatePowerAction),
    HOOK_OPT(NtSetSystemPowerState),
    HOOK_OPT(NtSetSystemEnvironmentValue),
    HOOK_OPT(NtSetSystemEnvironmentValueEx),
    HOOK_OPT(NtMakeTemporaryObject),
    HOOK_OPT(NtMakePermanentObject),
};
int sysguard_install(void) { return HOOK_TABLE(table); }
