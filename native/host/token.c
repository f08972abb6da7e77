/* --restricted-token: the primary token the real image runs with. Our own token less
   every privilege but SeChangeNotify (docs/vm.md, threat model). DISABLE_MAX_PRIVILEGE
   alone says that on Windows; Wine 8's NtFilterToken ignores the flag, so the same
   privileges are also named for deletion (Windows ignores the list when the flag is set). */
#include <windows.h>
#include "host.h"

DWORD host_restricted_token(HANDLE *out)
{
    HANDLE own;
    LUID notify;
    union {
        TOKEN_PRIVILEGES tp;
        BYTE raw[8192];
    } buf;
    DWORD len, i, n = 0, err = NO_ERROR;

    if (!LookupPrivilegeValueW(NULL, SE_CHANGE_NOTIFY_NAME, &notify)) return GetLastError();
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_DUPLICATE | TOKEN_QUERY | TOKEN_ASSIGN_PRIMARY, &own)) return GetLastError();
    if (!GetTokenInformation(own, TokenPrivileges, &buf, sizeof buf, &len)) {
        err = GetLastError();
    } else {
        for (i = 0; i < buf.tp.PrivilegeCount; i++) {
            LUID l = buf.tp.Privileges[i].Luid;
            if (l.LowPart != notify.LowPart || l.HighPart != notify.HighPart) buf.tp.Privileges[n++] = buf.tp.Privileges[i];
        }
        if (!CreateRestrictedToken(own, DISABLE_MAX_PRIVILEGE, 0, NULL, n, buf.tp.Privileges, 0, NULL, out)) err = GetLastError();
    }
    CloseHandle(own);
    return err;
}
