/* Devices a VM process may open (docs/vm.md, "Threat model"): deny by default. A name that
   is not a path on a drive (files_resolve's F_PASS) is a device, a UNC path or a link to
   one; only the devices ordinary programs need are allowed. Everything else is refused:
   the mount manager (a new or redefined drive letter is every host process's), volumes and
   disks (raw sectors under every file's copy-on-write), UNC paths (\\localhost\C$ is the
   host's C: past the copy-on-write view), other drivers. Pipes and mailslots never get here
   (names.c decides them by policy). */
#include "files.h"
#include "hook.h"
#include <wchar.h>

/* whole names, or prefixes ending in "\" (a name under a device) */
static const WCHAR *const allowed[] = {
    L"\\Device\\Afd",       L"\\Device\\Afd\\", /* sockets (ws2_32; Wine 8 too) */
    L"\\Device\\Nsi",                           /* network store interface (iphlpapi: adapters, tables) */
    L"\\Device\\Http\\",                        /* http.sys request queues (httpapi; net.c decides the URLs) */
    L"\\Device\\Null",      L"\\??\\NUL",
    L"\\??\\CON",           L"\\??\\CONIN$",
    L"\\??\\CONOUT$",       L"\\Device\\ConDrv",
    L"\\Device\\ConDrv\\",                            /* the console */
    L"\\Device\\KsecDD",    L"\\Device\\CNG",         /* crypto */
    L"\\Device\\DeviceApi", L"\\Device\\DeviceApi\\", /* cfgmgr32 */
};

/* \??\GLOBALROOT, \DosDevices, \GLOBAL?? and \??\Global are spellings of the roots (names.c
   has refused what leads elsewhere): compare on one form, "\??\X" or "\Device\X" */
static const struct {
    const WCHAR *from;
    USHORT n, keep; /* chars matched; chars of "\??\" put back */
} spellings[] = {{L"\\??\\GLOBALROOT\\", 15, 1}, {L"\\DosDevices\\", 12, 4}, {L"\\GLOBAL??\\", 10, 4}, {L"\\??\\Global\\", 11, 4}};

int devices_allowed(const wpath *name)
{
    const WCHAR *s = name->p;
    USHORT n = name->n;
    WCHAR *buf = NULL;
    size_t i;
    int again = 1, ok = 0;
    if (!n) return 1; /* no name at all: nothing is opened by it */
    while (again) {
        again = 0;
        for (i = 0; i < sizeof spellings / sizeof *spellings; i++) {
            USHORT m = spellings[i].n, k = spellings[i].keep;
            if (n < m || _wcsnicmp(s, spellings[i].from, m)) continue;
            if (!buf && !(buf = hmalloc((n + 4) * sizeof(WCHAR)))) return 0;
            /* buf = "\??\" (or "\") + the rest */
            memmove(buf + k, s + m, (n - m) * sizeof(WCHAR));
            memcpy(buf, L"\\??\\", k * sizeof(WCHAR));
            n = (USHORT)(n - m + k);
            s = buf;
            again = 1;
        }
    }
    for (i = 0; i < sizeof allowed / sizeof *allowed && !ok; i++) {
        size_t l = wcslen(allowed[i]);
        ok = allowed[i][l - 1] == L'\\' ? n > l && !_wcsnicmp(s, allowed[i], l) : n == l && !_wcsnicmp(s, allowed[i], l);
    }
    hfree(buf);
    return ok;
}
