/* Name spellings. A VM's names are the host's names with one path component
 * prefixed by "svcdup.<vm>.":
 *   objects  \BaseNamedObjects\X                 -> \BaseNamedObjects\svcdup.<vm>.X
 *            \Sessions\1\BaseNamedObjects\Global\X -> ...\Global\svcdup.<vm>.X
 *   ports    \RPC Control\X                      -> \RPC Control\svcdup.<vm>.X
 *   pipes    \??\pipe\X  (any spelling)          -> same root, svcdup.<vm>.X
 * The first component after the namespace root (and after a Global\, Local\ or
 * Session\N\ link) is the one renamed, so a VM's private directory renames its
 * whole subtree. VM names hold no dot, so prefixes cannot collide. Names outside
 * these roots (\KernelObjects, \Device\..., files) are never renamed. */
#include "names.h"
#include "hook.h"
#include <wchar.h>

NTSYSAPI void NTAPI RtlAcquireSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockExclusive(RTL_SRWLOCK *);

/* ---- root directory handle cache ---- */
enum { R_NONE = 0, R_PATH = 16 };
typedef struct { HANDLE h; int kind; WCHAR *path; USHORT chars; } root_ent;
#define NROOTS 64
static root_ent roots[NROOTS];
static volatile LONG nroots;
static RTL_SRWLOCK roots_lock;
static unsigned evict;

static void roots_put(HANDLE h, int kind, const WCHAR *path, USHORT chars)
{
    int i, slot = -1;
    RtlAcquireSRWLockExclusive(&roots_lock);
    for (i = 0; i < NROOTS; i++) {
        if (roots[i].h == h) { slot = i; break; }
        if (!roots[i].h && slot < 0) slot = i;
    }
    if (slot < 0) slot = evict++ % NROOTS;
    if (roots[slot].h != h || !roots[slot].h) {
        if (!roots[slot].h) nroots++;
    }
    hfree(roots[slot].path);
    roots[slot].h = h;
    roots[slot].kind = kind;
    roots[slot].path = NULL;
    roots[slot].chars = 0;
    if (path && (roots[slot].path = hmalloc((chars + 1) * sizeof(WCHAR)))) {
        memcpy(roots[slot].path, path, chars * sizeof(WCHAR));
        roots[slot].chars = chars;
    }
    RtlReleaseSRWLockExclusive(&roots_lock);
}

void roots_note(HANDLE h, int kind) { roots_put(h, kind, NULL, 0); }

void roots_forget(HANDLE h)
{
    int i;
    if (!nroots) return; /* the common case of every CloseHandle: no lock */
    RtlAcquireSRWLockExclusive(&roots_lock);
    for (i = 0; i < NROOTS; i++)
        if (roots[i].h == h) {
            hfree(roots[i].path);
            roots[i].h = NULL;
            roots[i].path = NULL;
            nroots--;
        }
    RtlReleaseSRWLockExclusive(&roots_lock);
}

int roots_kind(HANDLE h)
{
    int i, k = R_NONE;
    if (!nroots) return R_NONE;
    RtlAcquireSRWLockExclusive(&roots_lock);
    for (i = 0; i < NROOTS; i++)
        if (roots[i].h == h) { k = roots[i].kind; break; }
    RtlReleaseSRWLockExclusive(&roots_lock);
    return k;
}

/* Copy the root's path into buf (capacity cap chars); query and cache it if unknown. */
static int root_path(HANDLE h, WCHAR *buf, USHORT cap, USHORT *chars)
{
    int i, found = 0;
    union { OBJ_NAME_INFO i; WCHAR w[300]; } q;
    ULONG ret;
    if (nroots) {
        RtlAcquireSRWLockExclusive(&roots_lock);
        for (i = 0; i < NROOTS; i++)
            if (roots[i].h == h && roots[i].kind == R_PATH && roots[i].chars <= cap) {
                memcpy(buf, roots[i].path, roots[i].chars * sizeof(WCHAR));
                *chars = roots[i].chars;
                found = 1;
                break;
            }
        RtlReleaseSRWLockExclusive(&roots_lock);
        if (found) return 1;
    }
    if (real_NtQueryObject(h, ObjectNameInformation, &q, sizeof q, &ret) < 0) return 0;
    if (q.i.Name.Length / sizeof(WCHAR) > cap) return 0;
    *chars = q.i.Name.Length / sizeof(WCHAR);
    memcpy(buf, q.i.Name.Buffer, q.i.Name.Length);
    roots_put(h, R_PATH, buf, *chars);
    return 1;
}

/* ---- helpers ---- */
static int starts(const WCHAR *s, USHORT n, const WCHAR *lit)
{
    USHORT l = (USHORT)wcslen(lit);
    return n >= l && !_wcsnicmp(s, lit, l);
}

static int digits(const WCHAR *s, USHORT n)
{
    USHORT i = 0;
    while (i < n && s[i] >= L'0' && s[i] <= L'9') i++;
    return i;
}

static void init_out(renamed *r, int kind)
{
    r->verdict = V_PASS;
    r->kind = kind;
    r->heap = NULL;
    r->us.Length = 0;
}

void renamed_free(renamed *r) { hfree(r->heap); r->heap = NULL; }

/* Output = s[0..keep) + prefix + s[keep..n): the component at keep gets the prefix. */
static int emit(renamed *r, const WCHAR *s, USHORT n, USHORT keep)
{
    SIZE_T total = (SIZE_T)n + G.prefix_chars;
    WCHAR *o = r->stack;
    if (total * sizeof(WCHAR) > 0xfffc) return 0;
    if (total > sizeof r->stack / sizeof(WCHAR) && !(o = r->heap = hmalloc(total * sizeof(WCHAR)))) return 0;
    memcpy(o, s, keep * sizeof(WCHAR));
    memcpy(o + keep, G.prefix, G.prefix_chars * sizeof(WCHAR));
    memcpy(o + keep + G.prefix_chars, s + keep, (n - keep) * sizeof(WCHAR));
    r->us.Buffer = o;
    r->us.Length = (USHORT)(total * sizeof(WCHAR));
    r->us.MaximumLength = r->us.Length;
    return 1;
}

/* Decide for s[rest..n) and rename at rest. */
static int decide(int kind, renamed *r, const WCHAR *s, USHORT n, USHORT rest)
{
    int p;
    if (rest >= n) return r->verdict = V_PASS;              /* the root itself */
    if (starts(s + rest, n - rest, G.prefix)) return r->verdict = V_PASS; /* already inside this VM */
    p = policy_decide(kind, s + rest, n - rest);
    if (p == P_CLOSED) return r->verdict = V_DENIED;
    if (p == P_OPEN) return r->verdict = V_OPEN;
    if (!emit(r, s, n, rest)) return r->verdict = V_DENIED; /* never let a name through un-renamed */
    return r->verdict = V_RENAMED;
}

/* Length of the namespace root at the start of an absolute object path, with its
   trailing backslash and any Global\ Local\ Session\N\ link; 0 if not namespaced. */
static USHORT object_root(const WCHAR *s, USHORT n, int *is_bno)
{
    USHORT i = 0, d;
    *is_bno = 0;
    if (starts(s, n, L"\\BaseNamedObjects")) { i = 17; *is_bno = 1; }
    else if (starts(s, n, L"\\Sessions\\") && (d = digits(s + 10, n - 10)) && starts(s + 10 + d, n - 10 - d, L"\\BaseNamedObjects")) {
        i = 10 + d + 17;
        *is_bno = 1;
    } else if (starts(s, n, L"\\RPC Control")) i = 12;
    else return 0;
    if (i < n && s[i] != L'\\') return 0;   /* \BaseNamedObjectsX is something else */
    if (i < n) i++;
    if (*is_bno) {
        if (starts(s + i, n - i, L"Global\\")) i += 7;
        else if (starts(s + i, n - i, L"Local\\")) i += 6;
        else if (starts(s + i, n - i, L"Session\\") && (d = digits(s + i + 8, n - i - 8)) && i + 8 + d < n && s[i + 8 + d] == L'\\')
            i += 8 + d + 1;
    }
    return i;
}

int rename_object(int kind, const OBJECT_ATTRIBUTES *in, renamed *r)
{
    const UNICODE_STRING *nm;
    const WCHAR *s;
    USHORT n, keep;
    int bno;
    WCHAR buf[300];

    init_out(r, kind);
    if (!G.active || !in || !(nm = in->ObjectName) || !nm->Length) return V_PASS;
    s = nm->Buffer;
    n = nm->Length / sizeof(WCHAR);
    if (in->RootDirectory) {
        /* relative: spell it absolute from the root's own name */
        USHORT rc;
        WCHAR *full;
        if (!root_path(in->RootDirectory, buf, 256, &rc)) return V_PASS;
        if ((SIZE_T)rc + 1 + n > 0x7ff0) return V_PASS;
        full = hmalloc(((SIZE_T)rc + 1 + n) * sizeof(WCHAR));
        if (!full) return r->verdict = V_DENIED;
        memcpy(full, buf, rc * sizeof(WCHAR));
        full[rc] = L'\\';
        memcpy(full + rc + 1, s, n * sizeof(WCHAR));
        n = rc + 1 + n;
        keep = object_root(full, n, &bno);
        if (!keep) { hfree(full); return V_PASS; }
        decide(kind, r, full, n, keep);
        hfree(full);
    } else {
        keep = object_root(s, n, &bno);
        if (!keep) return V_PASS;
        decide(kind, r, s, n, keep);
    }
    if (r->verdict == V_RENAMED) {
        r->oa = *in;
        r->oa.RootDirectory = NULL;
        r->oa.ObjectName = &r->us;
    }
    return r->verdict;
}

static const struct { const WCHAR *root; int kind; } file_roots[] = {
    {L"\\??\\pipe\\", K_PIPE},
    {L"\\DosDevices\\pipe\\", K_PIPE},
    {L"\\GLOBAL??\\pipe\\", K_PIPE},
    {L"\\Device\\NamedPipe\\", K_PIPE},
    {L"\\??\\GLOBALROOT\\Device\\NamedPipe\\", K_PIPE},
    {L"\\??\\mailslot\\", K_MAILSLOT},
    {L"\\DosDevices\\mailslot\\", K_MAILSLOT},
    {L"\\Device\\Mailslot\\", K_MAILSLOT},
};

int rename_file(const OBJECT_ATTRIBUTES *in, renamed *r, int *root_kind)
{
    const UNICODE_STRING *nm;
    const WCHAR *s;
    USHORT n, i;

    init_out(r, 0);
    *root_kind = 0;
    if (!G.active || !in || !(nm = in->ObjectName)) return V_PASS;
    s = nm->Buffer;
    n = nm->Length / sizeof(WCHAR);
    if (in->RootDirectory) {
        int k = roots_kind(in->RootDirectory);
        if (k != K_PIPE && k != K_MAILSLOT) return V_PASS;
        r->kind = k;
        if (!n) { *root_kind = k; return V_PASS; }
        decide(k, r, s, n, 0);
    } else {
        /* fast exit for ordinary files: every root starts with \?? \Dos \GLO \Dev */
        if (n < 8 || s[0] != L'\\') return V_PASS;
        for (i = 0; i < sizeof file_roots / sizeof *file_roots; i++) {
            USHORT l = (USHORT)wcslen(file_roots[i].root);
            if (starts(s, n, file_roots[i].root) || (n == l - 1 && !_wcsnicmp(s, file_roots[i].root, n))) {
                r->kind = file_roots[i].kind;
                if (n <= l) { *root_kind = r->kind; return V_PASS; }
                decide(r->kind, r, s, n, l);
                break;
            }
        }
        if (!r->kind) return V_PASS;
    }
    if (r->verdict == V_RENAMED) {
        r->oa = *in;
        r->oa.ObjectName = &r->us;
    }
    return r->verdict;
}

int rename_pipe_name(const WCHAR *name, USHORT chars, renamed *r)
{
    init_out(r, K_PIPE);
    if (!G.active) return V_PASS;
    return decide(K_PIPE, r, name, chars, 0);
}

USHORT unrename(WCHAR *s, USHORT bytes)
{
    USHORT n = bytes / sizeof(WCHAR), i;
    for (i = 0; i + G.prefix_chars <= n; i++) {
        if ((i == 0 || s[i - 1] == L'\\') && !_wcsnicmp(s + i, G.prefix, G.prefix_chars)) {
            memmove(s + i, s + i + G.prefix_chars, (n - i - G.prefix_chars) * sizeof(WCHAR));
            n -= G.prefix_chars;
        }
    }
    if (n < bytes / sizeof(WCHAR)) s[n] = 0;
    return n * sizeof(WCHAR);
}
