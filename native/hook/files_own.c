/* svcdup's own state outside the drives' copy-on-write view: svcdup's home on Linux (its state
   database, every VM's rules, the Wine prefix outside drive_c: dosdevices, the registry files).
   The control plane names it in the rules text, one line per spelling of the folder:
       own files Z:\home\me\.svcdup
   (fileAliasRules in src/vm/files.ts). Only a folder the hook has no other way to know is named
   so; svcdup's folder inside C: is files_path.c's (FILES_HOME). The check is made on an opened
   file's canonical name (files.c, files_closed_handle), which Wine derives from the file's real
   unix path (symlinks, /proc/<pid>/root, /proc/<pid>/cwd and /proc/<pid>/fd resolved), so every
   spelling (Z:, \??\unix, /proc/self/root, a link) meets the same test; a rule of the VM's own
   cannot open it.
   Wine names a file by the deepest drive whose root holds it: with a drive H: whose root is the
   home's parent (a dosdevices link), the home's files are H:\<home>\... The closed folders'
   canonical names are therefore asked once, the first time a name on a drive other than C: or
   Z: is judged: each folder (and FILES_HOME) is opened and its own name read back, which is the
   spelling Wine gives everything under it, whatever drives the prefix has at that time. */
#include "files.h"
#include "hook.h"
#include <wchar.h>

NTSYSAPI NTSTATUS NTAPI NtYieldExecution(void);

#define NOWN 64
static struct {
    WCHAR *p; /* "X:\a\b", no trailing backslash ("X:" for a drive root) */
    USHORT n;
} own[NOWN];
static volatile LONG nown;
static volatile LONG canon_state; /* 0: not asked, 1: being asked, 2: done */

static int add(const WCHAR *s, USHORT len)
{
    WCHAR *f;
    LONG i;
    while (len && (s[len - 1] == L'\\' || s[len - 1] == L' ')) len--;
    if (len < 2 || s[1] != L':') return 0;
    for (i = 0; i < nown; i++)
        if (own[i].n == len && !files_wcsnicmp(own[i].p, s, len)) return 0;
    if (nown == NOWN) return -1; /* more spellings than room: fail closed (the caller refuses) */
    if (!(f = hmalloc((len + 1) * sizeof(WCHAR)))) return -1;
    memcpy(f, s, len * sizeof(WCHAR));
    f[len] = 0;
    if (f[0] >= L'a' && f[0] <= L'z') f[0] -= 32;
    own[nown].p = f;
    own[nown].n = len;
    InterlockedIncrement(&nown); /* published after it is written: readers take [0, nown) */
    return 0;
}

int files_own_init(void)
{
    const WCHAR *p = G.cfg->rules;
    if (add(FILES_HOME + 4, (USHORT)wcslen(FILES_HOME + 4))) return -1;
    while (p && *p) {
        const WCHAR *e = wcschr(p, L'\n');
        USHORT len = (USHORT)(e ? (size_t)(e - p) : wcslen(p));
        while (len && (p[len - 1] == L'\r' || p[len - 1] == L'\\' || p[len - 1] == L' ')) len--;
        /* "own files X:\\path", or "own files X:\\" (a drive whose root is inside a closed folder) */
        if (len >= 12 && !wcsncmp(p, L"own files ", 10) && p[11] == L':' && (len == 12 || p[12] == L'\\') && add(p + 10, len - 10))
            return -1; /* never leave a spelling open */
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Each closed folder's name as Wine gives it (the deepest drive holding it), added once. A folder
   that cannot be opened holds nothing to protect under that spelling; running out of room makes
   every later check refuse (canon_state stays short of done). */
static void ask_canonical(void)
{
    LONG i, n = nown, ok = 1;
    if (canon_state == 2) return;
    if (InterlockedCompareExchange(&canon_state, 1, 0) != 0) {
        while (canon_state == 1) NtYieldExecution();
        return;
    }
    for (i = 0; i < n; i++) {
        wpath w, name;
        OBJECT_ATTRIBUTES oa;
        UNICODE_STRING us;
        IO_STATUS_BLOCK io;
        HANDLE h;
        wp_init(&w);
        wp_init(&name);
        if (wp_set(&w, L"\\??\\", 4) && wp_add(&w, own[i].p, own[i].n)) {
            wp_us(&w, &us);
            InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
            if (o_NtCreateFile(&h, FILE_READ_ATTRIBUTES | SYNCHRONIZE, &oa, &io, NULL, 0,
                               FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT, NULL,
                               0) >= 0) {
                if (files_handle_name(h, &name) && name.n > 6 && !wcsncmp(name.p, L"\\??\\", 4) && add(name.p + 4, name.n - 4)) ok = 0;
                o_NtClose(h);
            }
        }
        wp_free(&w);
        wp_free(&name);
    }
    canon_state = ok ? 2 : 3;
}

/* Names on C: and Z: are judged on the rules' own spellings; another drive may be a spelling
   Wine chose for a closed folder: ask once. 0 when the canonical names could not all be had. */
static int ready(const wpath *c)
{
    if (c->n >= 5 && c->p[4] != L'C' && c->p[4] != L'Z') ask_canonical();
    return canon_state != 3;
}

/* Is the canonical VM path c ("\??\X:\...") one of the own folders or under one? Case does
   not matter: closing a little more is the safe side. */
int files_is_own(const wpath *c)
{
    LONG i, n;
    if (c->n < 6) return 0;
    if (!ready(c)) return 1;
    for (i = 0, n = nown; i < n; i++) {
        USHORT k = own[i].n;
        if (c->n - 4 >= k && !files_wcsnicmp(c->p + 4, own[i].p, k) && (c->n - 4 == k || c->p[4 + k] == L'\\' || c->p[4 + k] == L':'))
            return 1;
    }
    return 0;
}

/* Is folder dir ("\??\X:\..." canonical) the parent of a closed folder (its listing names it),
   or with tree, an ancestor of one (a watch of its tree reports names inside)? */
int files_own_above(const wpath *dir, int tree)
{
    LONG i, n;
    USHORT d;
    if (dir->n < 6) return 0;
    if (!ready(dir)) return 1;
    d = dir->n - 4;
    while (d && dir->p[4 + d - 1] == L'\\') d--;
    for (i = 0, n = nown; i < n; i++) {
        USHORT k = own[i].n, l = files_leaf(own[i].p, k);
        if (k <= d || files_wcsnicmp(own[i].p, dir->p + 4, d) || own[i].p[d] != L'\\') continue;
        if (tree || l == d + 1) return 1;
    }
    return 0;
}

/* In the listing of folder dir, is entry name one of the closed folders? */
int files_own_hides(const wpath *dir, const WCHAR *name, USHORT nn)
{
    LONG i, n;
    USHORT d;
    if (dir->n < 6) return 0;
    d = dir->n - 4;
    while (d && dir->p[4 + d - 1] == L'\\') d--;
    for (i = 0, n = nown; i < n; i++) {
        USHORT k = own[i].n;
        if (k == d + 1 + nn && !files_wcsnicmp(own[i].p, dir->p + 4, d) && own[i].p[d] == L'\\' &&
            !files_wcsnicmp(own[i].p + d + 1, name, nn))
            return 1;
    }
    return 0;
}
