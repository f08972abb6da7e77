/* svcdup-host imports only kernel32 and ntdll when Wine loads it: advapi32 brings sechost,
   ucrtbase and msvcrt with it, and each DLL is a mapping, relocations and server requests
   before svcdup-host's first instruction, all on the way to the image's creation (a relayed
   start: SCM -> svcdup-host -> image; docs/dup.md, "Performance"). So advapi32 is loaded
   once the image is created, while the image boots.

   The code calls the advapi32 functions as usual: windows.h declares them dllimport, so
   the compiler calls each through a pointer named __imp_NAME, which an import library
   would have defined; this file defines those pointers and fills them. */
#include <windows.h>
#include "host.h"

#define ADVAPI_FUNCTIONS(X)          \
    X(RegGetValueW)                  \
    X(OpenSCManagerW)                \
    X(OpenServiceW)                  \
    X(SetServiceStatus)              \
    X(RegisterServiceCtrlHandlerExW) \
    X(StartServiceCtrlDispatcherW)   \
    X(LookupPrivilegeValueW)         \
    X(OpenProcessToken)              \
    X(GetTokenInformation)           \
    X(CreateRestrictedToken)

#define SLOT(name) void *__imp_##name;
ADVAPI_FUNCTIONS(SLOT)
#undef SLOT

static const struct {
    const char *name;
    void **slot;
} advapi[] = {
#define ENTRY(name) {#name, &__imp_##name},
    ADVAPI_FUNCTIONS(ENTRY)
#undef ENTRY
};

DWORD host_load_advapi(void)
{
    static DWORD done = ERROR_INVALID_FUNCTION;
    HMODULE dll;
    DWORD i;

    if (done != ERROR_INVALID_FUNCTION) return done;
    if (!(dll = LoadLibraryW(L"advapi32.dll"))) return done = GetLastError();
    for (i = 0; i < ARRAYSIZE(advapi); i++)
        if (!(*advapi[i].slot = (void *)GetProcAddress(dll, advapi[i].name))) return done = ERROR_PROC_NOT_FOUND;
    return done = NO_ERROR;
}

/* The one advapi32 function needed before the image exists (reading its ImagePath):
   kernel32 exports it under Wine (and on recent Windows); else advapi32 is loaded for it. */
DWORD host_load_registry(void)
{
    if (__imp_RegGetValueW) return NO_ERROR;
    if ((__imp_RegGetValueW = (void *)GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "RegGetValueW"))) return NO_ERROR;
    return host_load_advapi();
}
