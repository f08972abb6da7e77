/* Directory listings of the VM's view: the host folder's entries and the private
   folder's, minus whiteouts (and svcdup's own temp names), sorted as NTFS sorts
   (upcase ordinal, "." and ".." first). A merged listing is built on the first
   NtQueryDirectoryFile(Ex) call of a handle (or a restart) and served from memory;
   a folder the VM never changed is listed by the host as is. At most NENUM
   listings are held at once (the oldest is dropped), each freed at NtClose. */
#include "files.h"
#include "hook.h"
#include "patch.h"
#include "policy.h"
#include <wchar.h>

NTSYSAPI void NTAPI RtlAcquireSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI void NTAPI RtlReleaseSRWLockExclusive(RTL_SRWLOCK *);
NTSYSAPI WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR);
NTSYSAPI NTSTATUS NTAPI NtSetEvent(HANDLE, LONG *);

#define ST_NO_MORE_FILES ((NTSTATUS)0x80000006)
#define ST_NO_SUCH_FILE  ((NTSTATUS)0xC000000F)

typedef NTSTATUS(NTAPI *qdir_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG, BOOLEAN, UNICODE_STRING *, BOOLEAN);
typedef NTSTATUS(NTAPI *qdirex_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG, ULONG, UNICODE_STRING *);
static qdir_fn o_NtQueryDirectoryFile;
static qdirex_fn o_NtQueryDirectoryFileEx;
typedef NTSTATUS(NTAPI *notify_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG, BOOLEAN);
typedef NTSTATUS(NTAPI *notifyex_fn)(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG, BOOLEAN, ULONG);
static notify_fn o_NtNotifyChangeDirectoryFile;
static notifyex_fn o_NtNotifyChangeDirectoryFileEx;

/* where each listing class keeps FileNameLength and FileName */
static int layout(ULONG cls, ULONG *nl, ULONG *name)
{
    switch (cls) {
    case 1:
        *nl = 60;
        *name = 64;
        return 1; /* FileDirectoryInformation */
    case 2:
        *nl = 60;
        *name = 68;
        return 1; /* FileFullDirectoryInformation */
    case 3:
        *nl = 60;
        *name = 94;
        return 1; /* FileBothDirectoryInformation */
    case 12:
        *nl = 8;
        *name = 12;
        return 1; /* FileNamesInformation */
    case 37:
        *nl = 60;
        *name = 104;
        return 1; /* FileIdBothDirectoryInformation */
    case 38:
        *nl = 60;
        *name = 80;
        return 1; /* FileIdFullDirectoryInformation */
    case 63:
        *nl = 60;
        *name = 88;
        return 1; /* FileIdExtdDirectoryInformation */
    }
    return 0;
}

typedef struct {
    ULONG count, cap;
    char **rec; /* each a copy of one entry, NextEntryOffset 0 */
} list;

static void list_free(list *l)
{
    ULONG i;
    for (i = 0; i < l->count; i++) hfree(l->rec[i]);
    hfree(l->rec);
    l->rec = NULL;
    l->count = l->cap = 0;
}

static int list_grow(list *l)
{
    ULONG cap;
    char **n;
    if (l->count < l->cap) return 1;
    cap = l->cap ? l->cap * 2 : 64;
    if (!(n = hmalloc(cap * sizeof(char *)))) return 0;
    if (l->rec) {
        memcpy(n, l->rec, l->count * sizeof(char *));
        hfree(l->rec);
    }
    l->rec = n;
    l->cap = cap;
    return 1;
}

static int list_add(list *l, const char *e, ULONG size)
{
    char *c;
    if (!list_grow(l) || !(c = hmalloc(size))) return 0;
    memcpy(c, e, size);
    *(ULONG *)c = 0;
    l->rec[l->count++] = c;
    return 1;
}

/* Move entry i of from to the end of to (no copy): 0 when out of memory. */
static int list_move(list *to, list *from, ULONG i)
{
    if (!list_grow(to)) return 0;
    to->rec[to->count++] = from->rec[i];
    from->rec[i] = NULL;
    return 1;
}

static const WCHAR *rname(const char *r, ULONG cls, USHORT *n)
{
    ULONG nl = 0, no = 0;
    layout(cls, &nl, &no);
    *n = (USHORT)(*(const ULONG *)(r + nl) / 2);
    return (const WCHAR *)(r + no);
}

static ULONG rsize(const char *r, ULONG cls)
{
    ULONG nl = 0, no = 0;
    layout(cls, &nl, &no);
    return no + *(const ULONG *)(r + nl);
}

/* upcase ordinal, as NTFS sorts; ASCII upcased inline (a listing compares names thousands of times) */
static WCHAR up1(WCHAR c) { return c < 0x80 ? (c >= L'a' && c <= L'z' ? c - 32 : c) : RtlUpcaseUnicodeChar(c); }

static int cmp_names(const WCHAR *a, USHORT an, const WCHAR *b, USHORT bn)
{
    USHORT i;
    for (i = 0; i < an && i < bn; i++) {
        WCHAR x, y;
        if (a[i] == b[i]) continue;
        x = up1(a[i]);
        y = up1(b[i]);
        if (x != y) return x < y ? -1 : 1;
    }
    return an == bn ? 0 : an < bn ? -1 : 1;
}

static int is_dot(const WCHAR *s, USHORT n) { return (n == 1 && s[0] == L'.') || (n == 2 && s[0] == L'.' && s[1] == L'.'); }

/* Every entry of folder p matching mask (NULL: all). 0 if the folder cannot be opened.
   own: the caller's handle when it is that very folder (a second open of it can meet a
   sharing violation); its scan is restarted, harmless since we serve the listing. */
static NTSTATUS collect(wpath *p, ULONG cls, UNICODE_STRING *mask, list *out, HANDLE own)
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    IO_STATUS_BLOCK io;
    HANDLE h;
    NTSTATUS st;
    BOOLEAN first = TRUE;
    const ULONG bufsize = 64 * 1024;
    char *buf;
    wp_us(p, &us);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    if (own)
        h = own;
    else if ((st = o_NtCreateFile(&h, FILE_LIST_DIRECTORY | SYNCHRONIZE, &oa, &io, NULL, 0,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, FILE_OPEN,
                                  FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0)) < 0)
        return st;
    if (!(buf = hmalloc(bufsize))) {
        if (!own) o_NtClose(h);
        return ST_NO_MEMORY;
    }
    for (;;) {
        ULONG off = 0;
        st = o_NtQueryDirectoryFile(h, NULL, NULL, NULL, &io, buf, bufsize, cls, FALSE, first ? mask : NULL, first);
        first = FALSE;
        if (st < 0 || st == ST_NO_MORE_FILES) break;
        for (;;) {
            char *e = buf + off;
            if (!list_add(out, e, rsize(e, cls))) {
                st = ST_NO_MEMORY;
                goto done;
            }
            if (!*(ULONG *)e) break;
            off += *(ULONG *)e;
        }
    }
    st = 0;
done:
    hfree(buf);
    if (!own) o_NtClose(h);
    return st;
}

typedef int (*cmp_fn)(const void *, const void *, ULONG);

/* A merge sort over pointers: n log n comparisons (a shell sort's halving gaps made a 1,000-entry
   listing cost tens of thousands); tmp holds n pointers. */
static void msort(void **r, void **tmp, ULONG n, cmp_fn cmp, ULONG arg)
{
    ULONG w, i;
    for (w = 1; w < n; w *= 2) {
        for (i = 0; i < n; i += 2 * w) {
            ULONG a = i, m = i + w < n ? i + w : n, e = i + 2 * w < n ? i + 2 * w : n, b = m, k = i;
            while (a < m && b < e) tmp[k++] = cmp(r[b], r[a], arg) < 0 ? r[b++] : r[a++];
            while (a < m) tmp[k++] = r[a++];
            while (b < e) tmp[k++] = r[b++];
        }
        memcpy(r, tmp, n * sizeof(void *));
    }
}

/* entries: "." and ".." first, then upcase ordinal */
static int cmp_recs(const void *a, const void *b, ULONG cls)
{
    USHORT an, bn;
    const WCHAR *as = rname(a, cls, &an), *bs = rname(b, cls, &bn);
    int ad = is_dot(as, an), bd = is_dot(bs, bn);
    if (ad != bd) return ad ? -1 : 1;
    return cmp_names(as, an, bs, bn);
}

static int sort(list *l, ULONG cls)
{
    void **tmp;
    if (l->count < 2) return 1;
    if (!(tmp = hmalloc(l->count * sizeof(void *)))) return 0;
    msort((void **)l->rec, tmp, l->count, cmp_recs, cls);
    hfree(tmp);
    return 1;
}

/* a name that hides the host's entry of that name: the VM's own entry, or a whiteout's target */
typedef struct {
    const WCHAR *s;
    USHORT n;
} wname;

static int cmp_wnames(const void *a, const void *b, ULONG unused)
{
    const wname *x = a, *y = b;
    return cmp_names(x->s, x->n, y->s, y->n);
}

/* Is s among the sorted names hide[0..n)? */
static int hidden(wname *const *hide, ULONG n, const WCHAR *s, USHORT sn)
{
    ULONG lo = 0, hi = n;
    while (lo < hi) {
        ULONG mid = (lo + hi) / 2;
        int c = cmp_names(hide[mid]->s, hide[mid]->n, s, sn);
        if (!c) return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The merged listing of VM folder vp: the private folder's entries (whiteouts hiding the host's
   of their name, own names never shown), then the host's not hidden by one of them, sorted. The
   names that hide a host entry are sorted once and each host entry looked up in them, so a
   folder of n host entries and m changes costs (n + m) log m comparisons, not n * m. */
static NTSTATUS merge(const wpath *vp, int verdict, ULONG cls, UNICODE_STRING *mask, list *out, HANDLE own, int own_private)
{
    wpath pp;
    list host = {0}, priv = {0};
    UNICODE_STRING up = {0};
    WCHAR upbuf[260];
    NTSTATUS st = 0;
    ULONG i, j, nh = 0;
    wname *names = NULL, **hide = NULL;
    int have_host = 0, closed_below;
    wp_init(&pp);
    if (!files_private(vp, &pp)) return ST_NO_MEMORY;
    if (mask && mask->Length) {
        /* the DOS wildcards (< > ") as plain ones: close enough for a mask (Wine has no RtlIsNameInExpression) */
        USHORT k, n = mask->Length / 2 > 259 ? 259 : mask->Length / 2;
        for (k = 0; k < n; k++) {
            WCHAR c = mask->Buffer[k];
            upbuf[k] = c == L'<' ? L'*' : c == L'>' ? L'?' : c == L'"' ? L'.' : c;
        }
        upbuf[n] = 0;
        up.Buffer = upbuf;
        up.Length = up.MaximumLength = n * 2;
    }
    if (verdict != P_PRIVATE && collect((wpath *)vp, cls, mask, &host, own_private ? NULL : own) >= 0) have_host = 1;
    collect(&pp, cls, NULL, &priv, own_private ? own : NULL);
    if (priv.count && !(names = hmalloc(priv.count * (sizeof(wname) + 2 * sizeof(wname *))))) {
        st = ST_NO_MEMORY;
        goto done;
    }
    hide = (wname **)(names + priv.count);
    for (i = 0; i < priv.count; i++) {
        USHORT n;
        const WCHAR *s = rname(priv.rec[i], cls, &n);
        int drop = 0;
        if (files_is_own_name(s, n)) {
            /* a whiteout hides the host's entry of that name */
            if (n > 11 && !files_wcsnicmp(s, WH_PREFIX, 11)) {
                names[nh].s = s + 11;
                names[nh].n = n - 11;
                hide[nh] = &names[nh];
                nh++;
            }
            drop = 1;
        } else if (is_dot(s, n))
            drop = have_host;
        else if (up.Length && !glob_match(upbuf, s, n))
            drop = 1;
        else {
            names[nh].s = s; /* the VM's own entry stands for the host's of that name */
            names[nh].n = n;
            hide[nh] = &names[nh];
            nh++;
        }
        if (!drop && !list_move(out, &priv, i)) {
            st = ST_NO_MEMORY;
            goto done;
        }
    }
    msort((void **)hide, (void **)hide + priv.count, nh, cmp_wnames, 0);
    closed_below = files_own_above(vp, 0); /* svcdup's closed folders are not there for a VM */
    for (j = 0; j < host.count; j++) {
        USHORT hn;
        const WCHAR *hs = rname(host.rec[j], cls, &hn);
        if (hidden(hide, nh, hs, hn) || (closed_below && files_own_hides(vp, hs, hn))) continue;
        if (!list_move(out, &host, j)) {
            st = ST_NO_MEMORY;
            goto done;
        }
    }
    if (!sort(out, cls)) st = ST_NO_MEMORY;
done:
    hfree(names);
    list_free(&host);
    list_free(&priv);
    wp_free(&pp);
    return st;
}

int files_dir_nonempty(const wpath *vp, int verdict)
{
    list l = {0};
    ULONG i;
    int r = 0;
    if (merge(vp, verdict, 12, NULL, &l, NULL, 0) < 0) return 0;
    for (i = 0; i < l.count; i++) {
        USHORT n;
        const WCHAR *s = rname(l.rec[i], 12, &n);
        if (!is_dot(s, n)) {
            r = 1;
            break;
        }
    }
    list_free(&l);
    return r;
}

/* ---- per-handle listings ---- */
#define NENUM 32
typedef struct {
    HANDLE h;
    ULONG cls, pos;
    int started;
    list l;
} listing;
static listing enums[NENUM];
static volatile LONG nenums;
static unsigned evict;
static RTL_SRWLOCK lock;

void files_dir_forget(HANDLE h)
{
    int i;
    if (!nenums) return; /* every CloseHandle: no lock in the common case */
    RtlAcquireSRWLockExclusive(&lock);
    for (i = 0; i < NENUM; i++)
        if (enums[i].h == h) {
            list_free(&enums[i].l);
            enums[i].h = NULL;
            nenums--;
        }
    RtlReleaseSRWLockExclusive(&lock);
}

/* The folder a handle lists: its VM path, its verdict, and whether the handle is the private copy
   itself; from one question of its name. 0: not a VM folder (listed as it is). */
static int dir_of(HANDLE h, wpath *vp, int *verdict, int *priv)
{
    if (!files_handle_path_ex(h, vp, priv)) return 0;
    *verdict = files_verdict(vp);
    return 1;
}

/* Needs merging? Only when the VM has changed something in this folder: the handle is its
   private copy (an open goes there first when there is one), or one exists. */
static int needs_merge(const wpath *vp, int verdict, int priv)
{
    wpath pp;
    FILE_BASIC_INFORMATION bi;
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    int r;
    if (files_own_above(vp, 0)) return 1; /* the parent of a closed folder: listed without it (merge) */
    if (verdict == P_OPEN || verdict == P_CLOSED) return 0;
    if (verdict == P_PRIVATE || priv) return 1;
    wp_init(&pp);
    if (!files_private(vp, &pp)) return 0;
    wp_us(&pp, &us);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    r = files_attr(&oa, &bi.FileAttributes) >= 0; /* the unhooked call: area paths are denied to the VM */
    wp_free(&pp);
    return r;
}

static NTSTATUS serve(HANDLE h, HANDLE event, IO_STATUS_BLOCK *io, PVOID buf, ULONG len, ULONG cls, BOOLEAN single, UNICODE_STRING *mask,
                      BOOLEAN restart, int *handled)
{
    wpath vp;
    int verdict, priv, i, slot = -1;
    ULONG nl, no, off = 0, prev = 0, used = 0;
    NTSTATUS st;
    listing *e;
    *handled = 0;
    if (!G.active || !layout(cls, &nl, &no)) return 0;
    wp_init(&vp);
    RtlAcquireSRWLockExclusive(&lock);
    for (i = 0; i < NENUM; i++)
        if (enums[i].h == h) {
            slot = i;
            break;
        }
    if (slot < 0 || restart || enums[slot].cls != cls) {
        list l = {0};
        if (slot < 0) {
            /* not (yet) a merged listing: is it one? */
            RtlReleaseSRWLockExclusive(&lock);
            if (!dir_of(h, &vp, &verdict, &priv) || !needs_merge(&vp, verdict, priv)) {
                wp_free(&vp);
                return 0;
            }
            RtlAcquireSRWLockExclusive(&lock);
        } else if (!dir_of(h, &vp, &verdict, &priv)) {
            RtlReleaseSRWLockExclusive(&lock);
            wp_free(&vp);
            return 0;
        }
        if ((st = merge(&vp, verdict, cls, mask, &l, h, priv)) < 0) {
            RtlReleaseSRWLockExclusive(&lock);
            list_free(&l);
            wp_free(&vp);
            *handled = 1;
            return st;
        }
        if (slot < 0) {
            for (i = 0; i < NENUM; i++)
                if (!enums[i].h) {
                    slot = i;
                    break;
                }
            if (slot < 0) {
                slot = evict++ % NENUM;
                list_free(&enums[slot].l);
                nenums--;
            }
            nenums++;
        } else
            list_free(&enums[slot].l);
        enums[slot].h = h;
        enums[slot].cls = cls;
        enums[slot].pos = 0;
        enums[slot].started = 0;
        enums[slot].l = l;
    }
    e = &enums[slot];
    *handled = 1;
    if (e->pos >= e->l.count)
        st = e->started ? ST_NO_MORE_FILES : ST_NO_SUCH_FILE;
    else {
        st = 0;
        while (e->pos < e->l.count) {
            char *r = e->l.rec[e->pos];
            ULONG sz = rsize(r, cls), at = (off + 7) & ~7u;
            if (at + sz > len) {
                if (!used) st = ST_BUFFER_OVERFLOW;
                break;
            }
            memcpy((char *)buf + at, r, sz);
            if (used) *(ULONG *)((char *)buf + prev) = at - prev;
            *(ULONG *)((char *)buf + at) = 0;
            prev = at;
            off = at + sz;
            used = off;
            e->pos++;
            if (single) break;
        }
    }
    e->started = 1;
    RtlReleaseSRWLockExclusive(&lock);
    wp_free(&vp);
    if (io) {
        io->Status = st;
        io->Information = used;
    }
    if (event) NtSetEvent(event, NULL);
    return st;
}

static NTSTATUS NTAPI d_NtQueryDirectoryFile(HANDLE h, HANDLE event, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, PVOID buf, ULONG len,
                                             ULONG cls, BOOLEAN single, UNICODE_STRING *mask, BOOLEAN restart)
{
    int handled;
    NTSTATUS st = serve(h, event, io, buf, len, cls, single, mask, restart, &handled);
    return handled ? st : o_NtQueryDirectoryFile(h, event, apc, ctx, io, buf, len, cls, single, mask, restart);
}

static NTSTATUS NTAPI d_NtQueryDirectoryFileEx(HANDLE h, HANDLE event, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, PVOID buf, ULONG len,
                                               ULONG cls, ULONG flags, UNICODE_STRING *mask)
{
    int handled;
    NTSTATUS st = serve(h, event, io, buf, len, cls, (flags & 2) != 0, mask, (flags & 1) != 0, &handled);
    return handled ? st : o_NtQueryDirectoryFileEx(h, event, apc, ctx, io, buf, len, cls, flags, mask);
}

/* A change notification names what changed below the watched folder: a watch of the parent of
   svcdup's closed folders (or of its tree, for any ancestor: C:\ holds C:\ProgramData\svcdup) would
   report their names, other VMs' files included, as they are written. Refused; the handle's name
   is judged as the listing's is (a name that cannot be had is refused too). */
static int watch_refused(HANDLE h, BOOLEAN tree)
{
    wpath vp;
    int r, refused;
    if (!G.active) return 0;
    wp_init(&vp);
    r = files_handle_resolve(h, &vp);
    refused = r == F_DENY || r == F_BAD || (r == F_VM && files_own_above(&vp, tree));
    wp_free(&vp);
    return refused;
}

static NTSTATUS NTAPI d_NtNotifyChangeDirectoryFile(HANDLE h, HANDLE event, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, PVOID buf, ULONG len,
                                                    ULONG filter, BOOLEAN tree)
{
    if (watch_refused(h, tree)) return ST_ACCESS_DENIED;
    return o_NtNotifyChangeDirectoryFile(h, event, apc, ctx, io, buf, len, filter, tree);
}

static NTSTATUS NTAPI d_NtNotifyChangeDirectoryFileEx(HANDLE h, HANDLE event, PVOID apc, PVOID ctx, IO_STATUS_BLOCK *io, PVOID buf,
                                                      ULONG len, ULONG filter, BOOLEAN tree, ULONG cls)
{
    if (watch_refused(h, tree)) return ST_ACCESS_DENIED;
    return o_NtNotifyChangeDirectoryFileEx(h, event, apc, ctx, io, buf, len, filter, tree, cls);
}

int files_dir_install(void)
{
    /* older systems (and Wine 8) lack the Ex calls */
    static const hook_entry table[] = {HOOK(NtQueryDirectoryFile), HOOK_OPT(NtQueryDirectoryFileEx), HOOK(NtNotifyChangeDirectoryFile),
                                       HOOK_OPT(NtNotifyChangeDirectoryFileEx)};
    return HOOK_TABLE(table);
}

/* One folder's entry for an 8.3 short name: its long name, or 0. */
static int long_in(wpath *dir, const WCHAR *comp, USHORT n, wpath *out)
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us, mask;
    IO_STATUS_BLOCK io;
    HANDLE h;
    union {
        char b[1024];
        ULONG align;
    } q;
    int found = 0;
    if (!o_NtQueryDirectoryFile) return 0;
    /* "\??\C:" is the volume; its root folder is "\??\C:\" */
    if (dir->n && dir->p[dir->n - 1] == L':' && !wp_add(dir, L"\\", 1)) return 0;
    wp_us(dir, &us);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    if (o_NtCreateFile(&h, FILE_LIST_DIRECTORY | SYNCHRONIZE, &oa, &io, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                       FILE_OPEN, FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT | FILE_OPEN_FOR_BACKUP_INTENT, NULL, 0) < 0)
        return 0;
    mask.Buffer = (WCHAR *)comp;
    mask.Length = mask.MaximumLength = (USHORT)(n * sizeof(WCHAR));
    /* FileBothDirectoryInformation: the filesystem matches the mask against short names too */
    if (o_NtQueryDirectoryFile(h, NULL, NULL, NULL, &io, q.b, sizeof q.b, 3, TRUE, &mask, TRUE) >= 0) {
        ULONG ln = *(ULONG *)(q.b + 60) / 2;
        CCHAR sn = *(CCHAR *)(q.b + 68);
        const WCHAR *ls = (const WCHAR *)(q.b + 94), *ss = (const WCHAR *)(q.b + 70);
        if (sn / 2 == n && !files_wcsnicmp(ss, comp, n) && ln && 94 + ln * 2 <= sizeof q.b) found = wp_set(out, ls, (USHORT)ln);
    }
    o_NtClose(h);
    return found;
}

int files_long_name(wpath *dirvp, const WCHAR *comp, USHORT n, wpath *out)
{
    wpath pp;
    int r = 0;
    wp_init(&pp);
    /* the VM's copy of the folder first (its own files), then the host's */
    if (files_private(dirvp, &pp)) r = long_in(&pp, comp, n, out);
    if (!r && files_verdict(dirvp) != P_PRIVATE) r = long_in(dirvp, comp, n, out); /* may add the root's "\\" */
    wp_free(&pp);
    return r;
}
