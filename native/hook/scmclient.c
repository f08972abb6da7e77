/* The client side of the SCM API inside a VM (docs/design.md issues 10 and 12; docs/scmclient.md).
 *
 * Names, as a VM process sees them:
 *   X           X@<vm> when X is duplicated into this VM (its copy key
 *               HKLM\SOFTWARE\svcdup\VMs\<vm>\Services\X exists, the test registry.c makes);
 *               else the host's X: shared (policy line "open services X") with full rights,
 *               closed ("closed services X") not at all, otherwise query rights only
 *   X@<vm>      the same duplicate (its host spelling)
 *   X@<other>   denied: another VM's duplicate
 * OpenService, GetServiceDisplayName/KeyName, EnumServicesStatusEx and QueryServiceConfig
 * map names both ways; CreateService makes a service of this VM (X@<vm> in the host SCM,
 * run by svcdup-host from the VM copy key that holds the caller's ImagePath), DeleteService
 * removes both again. Everything else (Start/Control/QueryServiceStatus...) works on the
 * handle and needs nothing: the handle already addresses the right service.
 *
 * The functions are sechost's exports (advapi32 imports or forwards them on Wine and on
 * Windows); they are hooked inline (patch.c) when sechost is loaded, or from a DLL load
 * notification when it is loaded later. The W functions are the funnel on Wine: its
 * advapi32 A and non-Ex functions (EnumServicesStatusA/W, EnumServicesStatusExA,
 * GetServiceKeyNameA, GetServiceDisplayNameA) and sechost's QueryServiceConfigA call them.
 * OpenServiceA and CreateServiceA, which Windows implements with their own RPCs, are
 * hooked too and converted to our W path; the original A functions are never called.
 *
 * Code that speaks MS-SCMR over the svcctl pipe itself is refused by svcctl.c: the pipe is
 * opened and written only from this sechost. The parts: scmclient.h. This file installs. */
#include "scmclient.h"
#include <wchar.h>

/* ---- originals ---- */
open_w_fn o_OpenServiceW;
create_w_fn o_CreateServiceW;
enum_ex_w_fn o_EnumServicesStatusExW;
name_w_fn o_GetServiceKeyNameW, o_GetServiceDisplayNameW;
qconfig_w_fn o_QueryServiceConfigW;
handle_fn o_DeleteService, o_CloseServiceHandle;
change_w_fn o_ChangeServiceConfigW;
change2_fn o_ChangeServiceConfig2W, o_ChangeServiceConfig2A;

NTSYSAPI NTSTATUS NTAPI LdrRegisterDllNotification(ULONG, void *, void *, void **);

/* ---- installing ---- */
static PVOID hooked_base;
PVOID scmclient_module(void) { return hooked_base; } /* svcctl.c: whose calls may reach the SCM's pipe */

static int hook_sechost(HMODULE m)
{
    static const struct {
        const char *name;
        void *detour;
        void **orig;
    } list[] = {
        {"OpenServiceW", d_OpenServiceW, (void **)&o_OpenServiceW},
        {"CreateServiceW", d_CreateServiceW, (void **)&o_CreateServiceW},
        {"EnumServicesStatusExW", d_EnumServicesStatusExW, (void **)&o_EnumServicesStatusExW},
        {"GetServiceKeyNameW", d_GetServiceKeyNameW, (void **)&o_GetServiceKeyNameW},
        {"GetServiceDisplayNameW", d_GetServiceDisplayNameW, (void **)&o_GetServiceDisplayNameW},
        {"QueryServiceConfigW", d_QueryServiceConfigW, (void **)&o_QueryServiceConfigW},
        {"DeleteService", d_DeleteService, (void **)&o_DeleteService},
        {"CloseServiceHandle", d_CloseServiceHandle, (void **)&o_CloseServiceHandle},
        {"ChangeServiceConfigW", d_ChangeServiceConfigW, (void **)&o_ChangeServiceConfigW},
        {"ChangeServiceConfig2W", d_ChangeServiceConfig2W, (void **)&o_ChangeServiceConfig2W},
        /* checked, then the original: on Wine it calls ChangeServiceConfig2W, on Windows its own RPC */
        {"ChangeServiceConfig2A", d_ChangeServiceConfig2A, (void **)&o_ChangeServiceConfig2A},
    };
    static const struct {
        const char *name;
        void *detour;
    } a_list[] = {
        {"OpenServiceA", d_OpenServiceA},
        {"CreateServiceA", d_CreateServiceA},
        {"ChangeServiceConfigA", d_ChangeServiceConfigA},
    };
    static void *unused[ARRAYSIZE(a_list)];
    size_t i;
    ANSI_STRING as;
    void *p;
    if (hooked_base == m) return 0;
    /* one transaction: all or none */
    patch_begin();
    for (i = 0; i < ARRAYSIZE(list); i++) {
        RtlInitAnsiString(&as, list[i].name);
        if (LdrGetProcedureAddress(m, &as, 0, &p) < 0) {
            patch_abort();
            return patch_fail(list[i].name, PATCH_NO_EXPORT, "sechost lacks this export");
        }
        patch_attach(p, list[i].detour, list[i].orig, list[i].name);
    }
    /* The A entries never reach their originals: the W detours do the work. */
    for (i = 0; i < ARRAYSIZE(a_list); i++) {
        RtlInitAnsiString(&as, a_list[i].name);
        if (LdrGetProcedureAddress(m, &as, 0, &p) >= 0) patch_attach(p, a_list[i].detour, &unused[i], a_list[i].name);
    }
    if (patch_commit()) return -2;
    hooked_base = m;
    return 0;
}

typedef struct {
    ULONG flags;
    const UNICODE_STRING *full, *base;
    PVOID dll_base;
    ULONG size;
} dll_notification;

static void CALLBACK on_dll(ULONG reason, const dll_notification *d, void *ctx)
{
    static const WCHAR sechost[] = L"sechost.dll";
    if (reason == 2 /* unloaded */ && d->dll_base == hooked_base) hooked_base = NULL;
    if (reason != 1 /* loaded */ || !d->base || d->base->Length != sizeof sechost - sizeof(WCHAR) ||
        _wcsnicmp(d->base->Buffer, sechost, ARRAYSIZE(sechost) - 1))
        return;
    /* Before sechost's own DllMain; no code of it has run. A VM process whose SCM
       calls cannot be mapped must not run un-virtualized. */
    patch_clear_failure();
    if (hook_sechost((HMODULE)d->dll_base)) {
        hook_failed("scmclient");
        NtTerminateProcess(GetCurrentProcess(), ST_ACCESS_DENIED);
    }
}

int scmclient_install(void)
{
    UNICODE_STRING n;
    HMODULE m;
    void *cookie;

    if (LdrRegisterDllNotification(0, (void *)on_dll, NULL, &cookie) < 0)
        return patch_fail("LdrRegisterDllNotification", PATCH_NO_EXPORT, "no DLL load notifications"), -1;
    RtlInitUnicodeString(&n, L"sechost.dll");
    if (LdrGetDllHandle(NULL, 0, &n, &m) >= 0 && hook_sechost(m)) return -1;
    return 0;
}
