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
#include "patch.h"
#include <wchar.h>

NTSYSAPI void NTAPI RtlAcquireSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockExclusive(RTL_SRWLOCK *);

/* ---- root directory handle cache ---- */
enum { R_NONE = 0, R_PATH = 16 };
typedef struct {
    HANDLE h;
    int kind;
    WCHAR *path;
    USHORT chars;
} root_ent;
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
        if (roots[i].h == h) {
            slot = i;
            break;
        }
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
        if (roots[i].h == h) {
            k = roots[i].kind;
            break;
        }
    RtlReleaseSRWLockExclusive(&roots_lock);
    return k;
}

/* Copy the root's path into buf (capacity cap chars); query and cache it if unknown. */
static int root_path(HANDLE h, WCHAR *buf, USHORT cap, USHORT *chars)
{
    int i, found = 0;
    union {
        OBJ_NAME_INFO i;
        WCHAR w[1100];
    } q;
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
    if (o_NtQueryObject(h, ObjectNameInformation, &q, sizeof q, &ret) < 0) return 0;
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
    r->scm_pipe = 0;
}

void renamed_free(renamed *r)
{
    hfree(r->heap);
    r->heap = NULL;
}

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
    if (rest >= n) return r->verdict = V_PASS;                            /* the root itself */
    if (starts(s + rest, n - rest, G.prefix)) return r->verdict = V_PASS; /* already inside this VM */
    p = policy_decide(kind, s + rest, n - rest);
    if (p == P_CLOSED) return r->verdict = V_DENIED;
    if (p == P_OPEN) {
        /* "svcctl" and anything spelled from it (svcctl\x...): the SCM's endpoint */
        r->scm_pipe = kind == K_PIPE && starts(s + rest, n - rest, L"svcctl");
        return r->verdict = V_OPEN;
    }
    if (!emit(r, s, n, rest)) return r->verdict = V_DENIED; /* never let a name through un-renamed */
    return r->verdict = V_RENAMED;
}

/* Length of the namespace root at the start of an absolute object path, with its
   trailing backslash and any Global\ Local\ Session\N\ link; 0 if not namespaced. */
static USHORT object_root(const WCHAR *s, USHORT n, int *is_bno)
{
    USHORT i = 0, d;
    *is_bno = 0;
    if (starts(s, n, L"\\BaseNamedObjects")) {
        i = 17;
        *is_bno = 1;
    } else if (starts(s, n, L"\\Sessions\\") && (d = digits(s + 10, n - 10)) && starts(s + 10 + d, n - 10 - d, L"\\BaseNamedObjects")) {
        i = 10 + d + 17;
        *is_bno = 1;
    } else if (starts(s, n, L"\\RPC Control"))
        i = 12;
    else
        return 0;
    if (i < n && s[i] != L'\\') return 0; /* \BaseNamedObjectsX is something else */
    if (i < n) i++;
    if (*is_bno) {
        if (starts(s + i, n - i, L"Global\\"))
            i += 7;
        else if (starts(s + i, n - i, L"Local\\"))
            i += 6;
        else if (starts(s + i, n - i, L"Session\\") && (d = digits(s + i + 8, n - i - 8)) && i + 8 + d < n && s[i + 8 + d] == L'\\')
            i += 8 + d + 1;
    }
    return i;
}

/* ---- resolution: the name the object manager will reach, links followed ----
 * Every decision is taken on this canonical name, and the canonical (renamed) name is what
 * is passed on, so the kernel has no link left to follow before the renamed component.
 * System links are spelled out (\DosDevices, \GLOBAL??, \??\GLOBALROOT, \??\Global,
 * \??\pipe, \??\mailslot); any other component that is not a known directory is asked
 * whether it is a symbolic link (links made in a VM, \Sessions\BNOLINKS\N, ...). */
typedef NTSTATUS(NTAPI *qlink_fn)(HANDLE, UNICODE_STRING *, ULONG *);
static fn_open link_open, dir_open;
static qlink_fn link_query;

void names_init_links(void *open_link, void *open_dir)
{
    link_open = open_link;
    dir_open = open_dir;
    if (!link_query) link_query = ntdll_proc("NtQuerySymbolicLinkObject");
}

#define CANON_MAX 2048
typedef struct {
    WCHAR s[CANON_MAX];
    USHORT n;
} canon_t;

static int comp_is(const WCHAR *s, USHORT n, USHORT at, const WCHAR *lit)
{
    USHORT l = (USHORT)wcslen(lit);
    return at + l <= n && !_wcsnicmp(s + at, lit, l) && (at + l == n || s[at + l] == L'\\');
}

/* Replace c->s[0..cut) by rep. */
static int splice(canon_t *c, USHORT cut, const WCHAR *rep, USHORT rl)
{
    if ((SIZE_T)c->n - cut + rl >= CANON_MAX) return 0;
    memmove(c->s + rl, c->s + cut, (c->n - cut) * sizeof(WCHAR));
    memcpy(c->s, rep, rl * sizeof(WCHAR));
    c->n = (USHORT)(c->n - cut + rl);
    if (!c->n) {
        c->s[0] = L'\\';
        c->n = 1;
    }
    return 1;
}

/* What c->s[0..end) is: 1 a symbolic link (its target in tgt), 2 a directory, 0 anything else/nothing. */
static int probe_prefix(canon_t *c, USHORT end, WCHAR *tgt, USHORT *tl)
{
    UNICODE_STRING us, t;
    OBJECT_ATTRIBUTES oa;
    HANDLE h;
    ULONG ret;
    NTSTATUS st;
    if (!link_open || !link_query) return 0;
    us.Buffer = c->s;
    us.Length = us.MaximumLength = (USHORT)(end * sizeof(WCHAR));
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    st = link_open(&h, 1 /* SYMBOLIC_LINK_QUERY */, &oa);
    if (st >= 0) {
        t.Buffer = tgt;
        t.Length = 0;
        t.MaximumLength = (USHORT)((CANON_MAX - 1) * sizeof(WCHAR));
        st = link_query(h, &t, &ret);
        o_NtClose(h);
        if (st < 0) return -1;
        *tl = t.Length / sizeof(WCHAR);
        return 1;
    }
    if (st == (NTSTATUS)0xC0000024 /* OBJECT_TYPE_MISMATCH */ && dir_open) {
        if (dir_open(&h, 1 /* DIRECTORY_QUERY */, &oa) >= 0) {
            o_NtClose(h);
            return 2;
        }
    }
    return 0;
}

static int isdrive(const WCHAR *s, USHORT at, USHORT n) { return at + 2 <= n && s[at + 1] == L':' && (at + 2 == n || s[at + 2] == L'\\'); }

/* The system's fixed links, by their spelling: \DosDevices, \GLOBAL?? and, under \??, the
   names that lead out of it. Resolved without asking the object manager. */
static const struct {
    BOOL under_qq; /* a component of \?? rather than of the root */
    const WCHAR *name, *target;
} fixed_links[] = {
    {FALSE, L"DosDevices", L"\\??"}, {FALSE, L"GLOBAL??", L"\\??"},           {TRUE, L"GLOBALROOT", L""},
    {TRUE, L"Global", L"\\??"},      {TRUE, L"pipe", L"\\Device\\NamedPipe"}, {TRUE, L"mailslot", L"\\Device\\Mailslot"},
};

/* Splices the fixed link c starts with: 1 done, 0 too long, -1 none. */
static int fixed_link(canon_t *c)
{
    size_t k;
    for (k = 0; k < sizeof(fixed_links) / sizeof(fixed_links[0]); k++) {
        USHORT at = fixed_links[k].under_qq ? 4 : 1;
        if (fixed_links[k].under_qq && !comp_is(c->s, c->n, 1, L"??")) continue;
        if (!comp_is(c->s, c->n, at, fixed_links[k].name)) continue;
        return splice(c, (USHORT)(at + wcslen(fixed_links[k].name)), fixed_links[k].target, (USHORT)wcslen(fixed_links[k].target));
    }
    return -1;
}

/* Resolve c in place. Returns 0 when it cannot be resolved (too long, a link loop). */
static int canonicalise(canon_t *c)
{
    int rounds;
    for (rounds = 0; rounds < 32; rounds++) {
        WCHAR *s = c->s;
        USHORT n = c->n, i, at;
        int again = 0, linked;
        if (!n || s[0] != L'\\') return 1;
        /* fixed system links, by their spelling */
        if ((linked = fixed_link(c)) >= 0) {
            if (!linked) return 0;
            continue;
        }
        if (comp_is(s, n, 1, L"??") && (n <= 4 || isdrive(s, 4, n))) return 1; /* \?? itself, or a drive: files */
        /* namespace roots and devices whose remainder is theirs to parse: stop */
        if (comp_is(s, n, 1, L"Device") && (comp_is(s, n, 8, L"NamedPipe") || comp_is(s, n, 8, L"Mailslot"))) return 1;
        if (comp_is(s, n, 1, L"BaseNamedObjects") || comp_is(s, n, 1, L"RPC Control")) return 1;
        if (comp_is(s, n, 1, L"Sessions") && n > 10 && (i = (USHORT)digits(s + 10, n - 10)) &&
            comp_is(s, n, 10 + i + 1, L"BaseNamedObjects") && s[10 + i] == L'\\')
            return 1;
        /* walk the other components: known directories pass, links are followed, the
           first object that is neither ends the walk (a device parses the rest) */
        for (at = 1; at < n;) {
            USHORT e = at, tl = 0;
            int k;
            WCHAR *tgt;
            while (e < n && s[e] != L'\\') e++;
            if (e == at) return 1; /* "\\" in a path: nothing resolves it */
            if ((at == 1 && (comp_is(s, n, 1, L"Sessions") || comp_is(s, n, 1, L"Device") || comp_is(s, n, 1, L"??") ||
                             comp_is(s, n, 1, L"KernelObjects"))) ||
                (at == 10 && comp_is(s, n, 1, L"Sessions") && digits(s + 10, e - 10) == e - 10)) {
                at = e + 1;
                continue;
            }
            if (!(tgt = hmalloc(CANON_MAX * sizeof(WCHAR)))) return 0;
            k = probe_prefix(c, e, tgt, &tl);
            if (k == 1) {
                int ok = splice(c, e, tgt, tl);
                hfree(tgt);
                if (!ok) return 0;
                again = 1;
                break;
            }
            hfree(tgt);
            if (k < 0) return 0;
            if (k != 2) return 1;
            at = e + 1;
        }
        if (!again) return 1;
    }
    return 0;
}

/* c := root's name + "\" + name, or name; 0 if the root cannot be named. */
static int absolute(const OBJECT_ATTRIBUTES *in, canon_t *c)
{
    const UNICODE_STRING *nm = in->ObjectName;
    USHORT n = nm->Length / sizeof(WCHAR), rc = 0;
    if (in->RootDirectory) {
        if (!root_path(in->RootDirectory, c->s, CANON_MAX - 2, &rc)) return 0;
        if (!rc) c->s[rc++] = L'\\'; /* the root directory reports an empty name on Wine */
        if (rc && c->s[rc - 1] != L'\\' && n) c->s[rc++] = L'\\';
    }
    if ((SIZE_T)rc + n >= CANON_MAX) return 0;
    memcpy(c->s + rc, nm->Buffer, n * sizeof(WCHAR));
    c->n = rc + n;
    return 1;
}

/* Decide on the canonical c and, when renamed, emit with the root reset. */
static int finish(renamed *r, const OBJECT_ATTRIBUTES *in, int kind, canon_t *c, USHORT keep)
{
    decide(kind, r, c->s, c->n, keep);
    if (r->verdict == V_RENAMED) {
        r->oa = *in;
        r->oa.RootDirectory = NULL;
        r->oa.ObjectName = &r->us;
    }
    return r->verdict;
}

/* Pass the canonical spelling itself (no rename, but no link to follow either). */
static int pass_canon(renamed *r, const OBJECT_ATTRIBUTES *in, canon_t *c)
{
    WCHAR *o = c->n > sizeof r->stack / sizeof(WCHAR) ? (r->heap = hmalloc(c->n * sizeof(WCHAR))) : r->stack;
    if (!o) return r->verdict = V_DENIED;
    memcpy(o, c->s, c->n * sizeof(WCHAR));
    r->us.Buffer = o;
    r->us.Length = r->us.MaximumLength = (USHORT)(c->n * sizeof(WCHAR));
    r->oa = *in;
    r->oa.RootDirectory = NULL;
    r->oa.ObjectName = &r->us;
    return r->verdict = V_RENAMED;
}

/* The verdict once c is freed: a rename that still points into c is copied out first. */
static int release_canon(renamed *r, const OBJECT_ATTRIBUTES *in, canon_t *c, int v)
{
    if (v == V_RENAMED && r->us.Buffer == c->s) v = pass_canon(r, in, c);
    hfree(c);
    return v;
}

static const struct {
    const WCHAR *root;
    int kind;
} file_roots[] = {
    {L"\\Device\\NamedPipe", K_PIPE},
    {L"\\Device\\Mailslot", K_MAILSLOT},
};

/* The pipe/mailslot namespace c is in (0: none); *rest: where the name in it starts. */
static int file_kind(const canon_t *c, USHORT *rest)
{
    USHORT i;
    for (i = 0; i < sizeof file_roots / sizeof *file_roots; i++)
        if (comp_is(c->s, c->n, 0, file_roots[i].root)) {
            USHORT l = (USHORT)wcslen(file_roots[i].root);
            *rest = l < c->n ? l + 1 : l;
            return file_roots[i].kind;
        }
    return 0;
}

int rename_object(int kind, const OBJECT_ATTRIBUTES *in, renamed *r)
{
    const UNICODE_STRING *nm;
    canon_t *c;
    USHORT keep;
    int bno, fk, v;
    USHORT rest;

    init_out(r, kind);
    if (!G.active || !in || !(nm = in->ObjectName) || !nm->Length) return V_PASS;
    /* the common case needs no copy: an absolute name straight in a namespace */
    if (!in->RootDirectory && (keep = object_root(nm->Buffer, nm->Length / sizeof(WCHAR), &bno))) {
        decide(kind, r, nm->Buffer, nm->Length / sizeof(WCHAR), keep);
        if (r->verdict == V_RENAMED) {
            r->oa = *in;
            r->oa.ObjectName = &r->us;
        }
        return r->verdict;
    }
    if (!(c = hmalloc(sizeof *c))) return r->verdict = V_DENIED;
    if (!absolute(in, c)) {
        hfree(c);
        return r->verdict = V_DENIED;
    } /* a root we cannot name */
    if (!canonicalise(c)) {
        hfree(c);
        return r->verdict = V_DENIED;
    }
    if ((keep = object_root(c->s, c->n, &bno)))
        v = finish(r, in, kind, c, keep);
    else if ((fk = file_kind(c, &rest)) && rest < c->n)
        v = finish(r, in, fk, c, rest); /* a pipe reached as an object */
    else if (in->RootDirectory || c->n != nm->Length / sizeof(WCHAR) || wcsncmp(c->s, nm->Buffer, c->n))
        v = pass_canon(r, in, c);
    else
        v = V_PASS;
    return release_canon(r, in, c, v);
}

int rename_file(const OBJECT_ATTRIBUTES *in, renamed *r, int *root_kind)
{
    const UNICODE_STRING *nm;
    const WCHAR *s;
    canon_t *c;
    USHORT n, rest;
    int k, v;

    init_out(r, 0);
    *root_kind = 0;
    if (!G.active || !in || !(nm = in->ObjectName)) return V_PASS;
    s = nm->Buffer;
    n = nm->Length / sizeof(WCHAR);
    if (in->RootDirectory) {
        k = roots_kind(in->RootDirectory);
        if (k == K_PIPE || k == K_MAILSLOT) {
            r->kind = k;
            if (!n) {
                *root_kind = k;
                return V_PASS;
            }
            decide(k, r, s, n, 0);
            if (r->verdict == V_RENAMED) {
                r->oa = *in;
                r->oa.ObjectName = &r->us;
            }
            return r->verdict;
        }
    } else {
        /* fast exit for ordinary files: \??\X:\... (and anything not starting with \) */
        if (n < 2 || s[0] != L'\\') return V_PASS;
        if (n >= 6 && s[1] == L'?' && s[2] == L'?' && s[3] == L'\\' && s[5] == L':' && (n == 6 || s[6] == L'\\')) return V_PASS;
    }
    if (!(c = hmalloc(sizeof *c))) return r->verdict = V_DENIED;
    if (!absolute(in, c)) {
        hfree(c);
        return V_PASS;
    } /* an unnamed root: no namespace */
    if (!canonicalise(c)) {
        hfree(c);
        return r->verdict = V_DENIED;
    }
    if ((k = file_kind(c, &rest))) {
        r->kind = k;
        if (rest >= c->n) {
            /* the pipe/mailslot root itself: remember the handle, open it by its canonical name */
            *root_kind = k;
            v = pass_canon(r, in, c);
        } else
            v = finish(r, in, k, c, rest);
    } else {
        int bno;
        USHORT keep = object_root(c->s, c->n, &bno);
        if (keep && keep < c->n)
            v = finish(r, in, K_OBJECT, c, keep); /* an object namespace reached as a file */
        else if (in->RootDirectory && c->n >= 6 && comp_is(c->s, c->n, 1, L"??") && isdrive(c->s, 4, c->n))
            v = V_PASS; /* a file relative to a file directory */
        else if (c->n != n || wcsncmp(c->s, s, n))
            v = pass_canon(r, in, c);
        else
            v = V_PASS;
    }
    return release_canon(r, in, c, v);
}

/* A link's target, for NtCreateSymbolicLinkObject in a VM: renamed like any name when it
   points into a namespace; refused when it points at a namespace's root or above it, or
   anywhere else that is not a drive or a device (docs/vm.md, "Links"). */
int rename_link_target(const UNICODE_STRING *t, renamed *r)
{
    OBJECT_ATTRIBUTES oa;
    canon_t *c;
    USHORT keep, rest;
    int bno, k, v;
    init_out(r, K_OBJECT);
    if (!G.active || !t) return V_PASS;
    InitializeObjectAttributes(&oa, (UNICODE_STRING *)t, 0, NULL, NULL);
    if (!(c = hmalloc(sizeof *c))) return r->verdict = V_DENIED;
    if (!absolute(&oa, c) || !canonicalise(c)) {
        hfree(c);
        return r->verdict = V_DENIED;
    }
    if ((keep = object_root(c->s, c->n, &bno)) && keep < c->n)
        v = finish(r, &oa, K_OBJECT, c, keep);
    else if ((k = file_kind(c, &rest)) && rest < c->n)
        v = finish(r, &oa, k, c, rest);
    else if (keep || k)
        v = r->verdict = V_DENIED; /* a namespace root */
    else if (c->n >= 6 && comp_is(c->s, c->n, 1, L"??") && isdrive(c->s, 4, c->n))
        v = V_PASS; /* a drive */
    else if (c->n > 8 && comp_is(c->s, c->n, 1, L"Device"))
        v = V_PASS; /* a device */
    else
        v = r->verdict = V_DENIED;
    if (v == V_OPEN) v = V_PASS;
    return release_canon(r, &oa, c, v);
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

/* Is h a handle on a namespace root (\BaseNamedObjects, \Sessions\N\BaseNamedObjects,
   \RPC Control)? Then its listing is the VM's business (dirs.c). *kind: K_OBJECT or K_PORT. */
int root_is_namespace(HANDLE h, int *kind)
{
    canon_t *c = hmalloc(sizeof *c);
    USHORT n;
    int bno, r = 0;
    if (!c) return 0;
    if (root_path(h, c->s, CANON_MAX - 2, &n)) {
        c->s[n] = L'\\';
        c->s[n + 1] = L'x';
        r = object_root(c->s, n + 2, &bno) == n + 1;
        *kind = bno ? K_OBJECT : K_PORT;
    }
    hfree(c);
    return r;
}
