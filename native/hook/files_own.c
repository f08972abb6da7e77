/* svcdup's own state outside the drives' copy-on-write view: svcdup's home on Linux (its state
   database, every VM's rules, the Wine prefix outside drive_c: dosdevices, the registry files).
   The control plane names it in the rules text, one line per spelling of the folder:
       own files Z:\home\me\.svcdup
   (fileAliasRules in src/vm/files.ts). Only a folder the hook has no other way to know is named
   so; svcdup's folder inside C: is files_path.c's (FILES_HOME). The check is made on an opened
   file's canonical name (files.c, files_closed_handle), which Wine derives from the file's real
   unix path (symlinks, /proc/<pid>/root, /proc/<pid>/cwd and /proc/<pid>/fd resolved), so every
   spelling (Z:, \??\unix, /proc/self/root, a link) meets the same test; a rule of the VM's own
   cannot open it. */
#include "files.h"
#include "hook.h"
#include <wchar.h>

#define NOWN 8
static struct {
    WCHAR *p; /* "X:\a\b", no trailing backslash */
    USHORT n;
} own[NOWN];
static int nown;

int files_own_init(void)
{
    const WCHAR *p = G.cfg->rules;
    while (p && *p) {
        const WCHAR *e = wcschr(p, L'\n');
        USHORT len = (USHORT)(e ? (size_t)(e - p) : wcslen(p));
        while (len && (p[len - 1] == L'\r' || p[len - 1] == L'\\' || p[len - 1] == L' ')) len--;
        if (len > 13 && !wcsncmp(p, L"own files ", 10) && p[11] == L':' && p[12] == L'\\') {
            WCHAR *f;
            if (nown == NOWN) return -1; /* more spellings than room: fail the process, never leave one open */
            if (!(f = hmalloc((len - 10 + 1) * sizeof(WCHAR)))) return -1;
            memcpy(f, p + 10, (len - 10) * sizeof(WCHAR));
            f[len - 10] = 0;
            if (f[0] >= L'a' && f[0] <= L'z') f[0] -= 32;
            own[nown].p = f;
            own[nown].n = len - 10;
            nown++;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Is the canonical VM path c ("\??\X:\...") one of the own folders or under one? Case does
   not matter: closing a little more is the safe side. */
int files_is_own(const wpath *c)
{
    int i;
    if (c->n < 6) return 0;
    for (i = 0; i < nown; i++) {
        USHORT n = own[i].n;
        if (c->n - 4 >= n && !_wcsnicmp(c->p + 4, own[i].p, n) && (c->n - 4 == n || c->p[4 + n] == L'\\')) return 1;
    }
    return 0;
}
