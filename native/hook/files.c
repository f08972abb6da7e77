/* Copy-on-write files (docs/state.md): the opens, attribute queries, deletes,
   renames and links of a VM process, decided on the canonical VM path
   (files_path.c). Reads fall through to the host until the VM changes a path; the
   first open for writing, deleting, renaming or changing attributes copies it up
   into the VM's private area (atomically: a temp name, then a rename); new files
   are made there; a deleted host entry leaves a whiteout. The handle a VM process
   gets for a changed file is the private copy's, so mapped writes and byte-range
   locks act on it with no further work. The one memory kept: paths the area does not hold
   (files_cache.c, fixed size), told of every change made here, and which copies opened by
   their unix path (a hint). */
#include "files.h"
#include "hook.h"
#include "policy.h"
#include "patch.h"
#include "trace.h"
#include <wchar.h>

NTSYSAPI NTSTATUS NTAPI NtReadFile(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, PVOID, ULONG, LARGE_INTEGER *, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtWriteFile(HANDLE, HANDLE, PVOID, PVOID, IO_STATUS_BLOCK *, const void *, ULONG, LARGE_INTEGER *, ULONG *);

#define ST_NAME_NOT_FOUND  ((NTSTATUS)0xC0000034)
#define ST_PATH_NOT_FOUND  ((NTSTATUS)0xC000003A)
#define ST_NAME_COLLISION  ((NTSTATUS)0xC0000035)
#define ST_NOT_EMPTY       ((NTSTATUS)0xC0000101)
#define ST_NOT_SAME_DEVICE ((NTSTATUS)0xC00000D4)
#define ST_END_OF_FILE     ((NTSTATUS)0xC0000011)

#define WRITE_BITS                                                                                                                   \
    (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | DELETE | WRITE_DAC | WRITE_OWNER | GENERIC_WRITE | \
     GENERIC_ALL | MAXIMUM_ALLOWED)
#define CLS_BASIC          4
#define CLS_ALLOCATION     19
#define CLS_EOF            20
#define CLS_VALID_DATA     39
#define CLS_RENAME         10
#define CLS_LINK           11
#define CLS_DISPOSITION    13
#define CLS_DISPOSITION_EX 64
#define CLS_RENAME_EX      65
#define CLS_LINK_EX        72

typedef NTSTATUS(NTAPI *qattr_fn)(const OBJECT_ATTRIBUTES *, PVOID);
typedef NTSTATUS(NTAPI *del_fn)(const OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *setinfo_fn)(HANDLE, IO_STATUS_BLOCK *, PVOID, ULONG, ULONG);
static qattr_fn o_NtQueryAttributesFile, o_NtQueryFullAttributesFile;
static del_fn o_NtDeleteFile;
static setinfo_fn o_NtSetInformationFile;

static void oa_for(OBJECT_ATTRIBUTES *oa, UNICODE_STRING *us, wpath *p)
{
    wp_us(p, us);
    InitializeObjectAttributes(oa, us, OBJ_CASE_INSENSITIVE, NULL, NULL);
}

static NTSTATUS qattr(wpath *p, ULONG *attrs)
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    FILE_BASIC_INFORMATION bi;
    NTSTATUS st;
    oa_for(&oa, &us, p);
    st = o_NtQueryAttributesFile(&oa, &bi);
    if (st >= 0 && attrs) *attrs = bi.FileAttributes;
    return st;
}

static NTSTATUS create(HANDLE *h, ACCESS_MASK a, wpath *p, ULONG attrs, ULONG disp, ULONG opts)
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    IO_STATUS_BLOCK io;
    oa_for(&oa, &us, p);
    return o_NtCreateFile(h, a | SYNCHRONIZE, &oa, &io, NULL, attrs, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, disp,
                          opts | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
}

static void close_h(HANDLE h) { o_NtClose(h); }

/* Has the VM deleted this path (a whiteout in the area)? */
static int whiteout_at(const wpath *vp)
{
    wpath w;
    int r;
    wp_init(&w);
    r = files_whiteout(vp, &w) && qattr(&w, NULL) >= 0;
    wp_free(&w);
    return r;
}

/* Where a VM path lives now. need_host: also ask whether the host has it. */
int files_state(const wpath *vp, int verdict, ULONG *attrs)
{
    wpath t;
    NTSTATUS st;
    int r = S_NONE;
    wp_init(&t);
    if (!files_private(vp, &t)) goto out;
    st = qattr(&t, attrs);
    if (st >= 0) {
        r = S_PRIVATE;
        goto out;
    }
    if (st != ST_PATH_NOT_FOUND && whiteout_at(vp)) {
        r = S_WHITEOUT;
        goto out;
    }
    if (verdict == P_PRIVATE) goto out;
    if (qattr((wpath *)vp, attrs) >= 0) r = S_HOST;
out:
    wp_free(&t);
    return r;
}

/* Does the host have this path (ignoring the VM's changes)? */
static int host_has(const wpath *vp, int verdict, ULONG *attrs) { return verdict != P_PRIVATE && qattr((wpath *)vp, attrs) >= 0; }

/* Make the private area's folders down to vp's parent; each one below the drive
   must be a folder in the VM's view (host or private). */
int files_mkparents(const wpath *vp, int verdict)
{
    wpath pp, hp;
    USHORT i, base, leaf, full;
    NTSTATUS st = 0;
    HANDLE h;
    ULONG a;
    int made = 0;
    wp_init(&pp);
    wp_init(&hp);
    if (!files_private(vp, &pp)) {
        st = ST_NO_MEMORY;
        goto out;
    }
    base = pp.n - (vp->n - 6); /* index of the "\" after <area>\X, or end */
    leaf = files_leaf(pp.p, pp.n);
    full = pp.n;
    for (i = 7; i < leaf; i++) {
        if (pp.p[i] != L'\\') continue;
        pp.n = i; /* the ancestor pp[0..i) */
        if (qattr(&pp, &a) >= 0) {
            pp.n = full;
            continue;
        }
        if (i > base) {
            /* a folder below the drive: the host must have it */
            if (!wp_set(&hp, vp->p, (USHORT)(6 + (i - base)))) {
                st = ST_NO_MEMORY;
                break;
            }
            if (!host_has(&hp, verdict, &a) || !(a & FILE_ATTRIBUTE_DIRECTORY)) {
                st = ST_PATH_NOT_FOUND;
                break;
            }
        }
        st = create(&h, FILE_LIST_DIRECTORY, &pp, 0, FILE_OPEN_IF, FILE_DIRECTORY_FILE);
        pp.n = full;
        if (st < 0) break;
        close_h(h);
        made = 1;
    }
out:
    if (made) files_cache_changed();
    wp_free(&pp);
    wp_free(&hp);
    return st < 0 ? st : 0;
}

/* Copy a host file (or make a host folder) into the private area, atomically. */
NTSTATUS files_copy_up(const wpath *vp, ULONG host_attrs)
{
    wpath pp, tp;
    HANDLE src = NULL, dst = NULL, d;
    NTSTATUS st;
    IO_STATUS_BLOCK io;
    FILE_BASIC_INFORMATION bi;
    char *buf = NULL;
    const ULONG chunk = 1 << 20;
    wp_init(&pp);
    wp_init(&tp);
    if ((st = files_mkparents(vp, P_COW)) < 0) goto out;
    if (!files_private(vp, &pp) || !files_temp(vp, &tp)) {
        st = ST_NO_MEMORY;
        goto out;
    }
    if (host_attrs & FILE_ATTRIBUTE_DIRECTORY) {
        st = create(&d, FILE_LIST_DIRECTORY, &pp, 0, FILE_OPEN_IF, FILE_DIRECTORY_FILE);
        if (st >= 0) close_h(d);
        goto out;
    }
    if ((st = create(&src, GENERIC_READ, (wpath *)vp, 0, FILE_OPEN, FILE_NON_DIRECTORY_FILE)) < 0) goto out;
    if ((st = create(&dst, GENERIC_WRITE | DELETE, &tp, host_attrs & ~FILE_ATTRIBUTE_READONLY, FILE_CREATE, FILE_NON_DIRECTORY_FILE)) < 0)
        goto out;
    if (!(buf = hmalloc(chunk))) {
        st = ST_NO_MEMORY;
        goto fail;
    }
    for (;;) {
        ULONG got;
        st = NtReadFile(src, NULL, NULL, NULL, &io, buf, chunk, NULL, NULL);
        if (st == ST_END_OF_FILE) break;
        if (st < 0) goto fail;
        if (!(got = (ULONG)io.Information)) break;
        /* disk full lands here: the temp copy goes, the caller gets the error */
        if ((st = NtWriteFile(dst, NULL, NULL, NULL, &io, buf, got, NULL, NULL)) < 0) goto fail;
    }
    if (NtQueryInformationFile(src, &io, &bi, sizeof bi, FileBasicInformation) >= 0) {
        bi.FileAttributes = host_attrs ? host_attrs : FILE_ATTRIBUTE_NORMAL;
        o_NtSetInformationFile(dst, &io, &bi, sizeof bi, FileBasicInformation);
    }
    {
        /* publish: rename the complete copy to its name; a racing copier may have won */
        union {
            FILE_RENAME_INFORMATION ri;
            char b[sizeof(FILE_RENAME_INFORMATION) + 65536];
        } *r = NULL;
        ULONG len = (ULONG)(offsetof(FILE_RENAME_INFORMATION, FileName) + pp.n * sizeof(WCHAR));
        if (!(r = hmalloc(len))) {
            st = ST_NO_MEMORY;
            goto fail;
        }
        memset(r, 0, offsetof(FILE_RENAME_INFORMATION, FileName));
        r->ri.FileNameLength = pp.n * sizeof(WCHAR);
        memcpy(r->ri.FileName, pp.p, pp.n * sizeof(WCHAR));
        st = o_NtSetInformationFile(dst, &io, r, len, CLS_RENAME);
        hfree(r);
        if (st == ST_NAME_COLLISION)
            st = 0;
        else if (st < 0)
            goto fail;
        if (st >= 0 && qattr(&tp, NULL) < 0) goto out; /* renamed away */
    }
fail : {
    /* remove the temp copy: nothing partial stays visible */
    FILE_DISPOSITION_INFORMATION di = {TRUE};
    o_NtSetInformationFile(dst, &io, &di, sizeof di, CLS_DISPOSITION);
}
out:
    files_cache_changed(); /* the copy, or a racing copier's */
    if (src) close_h(src);
    if (dst) close_h(dst);
    hfree(buf);
    wp_free(&pp);
    wp_free(&tp);
    return st;
}

NTSTATUS files_set_whiteout(const wpath *vp)
{
    wpath w;
    HANDLE h;
    NTSTATUS st;
    wp_init(&w);
    if ((st = files_mkparents(vp, P_COW)) >= 0) {
        if (!files_whiteout(vp, &w))
            st = ST_NO_MEMORY;
        else if ((st = create(&h, GENERIC_WRITE, &w, FILE_ATTRIBUTE_HIDDEN, FILE_OPEN_IF, FILE_NON_DIRECTORY_FILE)) >= 0)
            close_h(h);
    }
    files_cache_changed();
    wp_free(&w);
    return st;
}

void files_clear_whiteout(const wpath *vp)
{
    wpath w;
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    wp_init(&w);
    if (files_whiteout(vp, &w)) {
        oa_for(&oa, &us, &w);
        o_NtDeleteFile(&oa);
    }
    wp_free(&w);
}

static int own_leaf(const wpath *vp)
{
    USHORT l = files_leaf(vp->p, vp->n);
    return files_is_own_name(vp->p + l, vp->n - l);
}

/* The one decision every named file call starts with, from files_resolve's answer r:
   C_PASS: an allowed device (devices.c), or open by policy (the call goes on as asked);
   C_DONE: refused, *st says why; C_VM: *vp is the VM path and *v its verdict (P_COW or
   P_PRIVATE). A name that cannot be established is refused (files_path.c: F_DENY, F_BAD). */
enum { C_PASS, C_DONE, C_VM };
static int classify(int r, const wpath *vp, int *v, NTSTATUS *st)
{
    if (r == F_PASS && devices_allowed(vp)) return C_PASS;
    if (r != F_VM) {
        *st = r == F_BAD ? ST_OBJECT_NAME_INVALID : ST_ACCESS_DENIED;
        return C_DONE;
    }
    /* svcdup's home under one of its own names is refused whether the name is there or not (a VM
       learns nothing of what is inside); C: names it by FILES_HOME (files_path.c) */
    if (vp->p[4] != L'C' && files_is_own(vp)) {
        *st = ST_ACCESS_DENIED;
        return C_DONE;
    }
    *v = files_verdict(vp);
    if (*v == P_CLOSED) {
        *st = ST_ACCESS_DENIED;
        return C_DONE;
    }
    return *v == P_OPEN ? C_PASS : C_VM;
}

/* A path that may be another spelling of a closed one: through Z: or \??\unix (the unix root:
   /proc/self/root, /proc/<pid>/cwd, symlinks), any drive but C:, and Wine's shell folders under
   C:\users (symlinks to the user's home). Opens through them are checked on the opened file's
   canonical name: Wine names a file handle by its real unix path mapped to the best drive. */
static int may_alias(const wpath *vp) { return vp->p[4] != L'C' || (vp->n > 13 && !files_wcsnicmp(vp->p + 6, L"\\users\\", 7)); }

/* Is the file h names closed to a VM? svcdup's own folder and other VMs' areas (files_path.c's
   F_DENY), a name that cannot be had, svcdup's home on Linux with the prefix outside drive_c
   (files_own.c), and Wine's registry files (system.reg, user.reg, userdef.reg in the prefix,
   outside every drive's C:). */
int files_closed_handle(HANDLE h)
{
    wpath c;
    int r, closed;
    wp_init(&c);
    r = files_handle_resolve(h, &c);
    closed = r != F_VM && r != F_PASS;
    if (r == F_VM && files_is_own(&c))
        closed = 1; /* files_own.c: svcdup's home, the prefix */
    else if (r == F_VM && c.p[4] != L'C') {
        USHORT l = files_leaf(c.p, c.n), k = c.n - l;
        const WCHAR *leaf = c.p + l;
        closed = (k == 10 && !files_wcsnicmp(leaf, L"system.reg", 10)) || (k == 8 && !files_wcsnicmp(leaf, L"user.reg", 8)) ||
                 (k == 11 && !files_wcsnicmp(leaf, L"userdef.reg", 11));
    }
    wp_free(&c);
    return closed;
}

/* A name that cannot be opened may still be inside a closed folder reached by another spelling
   (Z:\proc\self\root\<home>\vms\<vm>): its nearest ancestor that opens is judged, so that inside
   a closed folder "absent" and "present" answer alike. Only off C: (C: names are decided by name). */
static int absent_closed(const wpath *vp)
{
    wpath a;
    USHORT l = vp->n;
    int closed = 0, depth = 0;
    if (vp->n < 8 || vp->p[4] == L'C') return 0;
    wp_init(&a);
    while (depth++ < 256) {
        OBJECT_ATTRIBUTES oa;
        UNICODE_STRING us;
        IO_STATUS_BLOCK io;
        HANDLE t;
        NTSTATUS st;
        if ((l = files_leaf(vp->p, l)) < 7) break;
        if (!wp_set(&a, vp->p, l == 7 ? 7 : l - 1)) { /* the parent; "\??\X:\" for the root */
            closed = 1;
            break;
        }
        oa_for(&oa, &us, &a);
        st = o_NtCreateFile(&t, FILE_READ_ATTRIBUTES | SYNCHRONIZE, &oa, &io, NULL, 0,
                            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, FILE_OPEN, 0, NULL, 0);
        if (st >= 0) {
            closed = files_closed_handle(t);
            o_NtClose(t);
            break;
        }
        if (l == 7) break;
        l--;
    }
    wp_free(&a);
    return closed;
}

/* A read open through a path that may be a spelling (may_alias): opened, then judged on what
   was opened (or, when it does not open, on its nearest ancestor that does). */
static int open_checked(HANDLE *h, ACCESS_MASK access, OBJECT_ATTRIBUTES *oa, IO_STATUS_BLOCK *io, ULONG share, ULONG options, NTSTATUS *st,
                        const wpath *vp)
{
    if ((*st = o_NtCreateFile(h, access, oa, io, NULL, 0, share, FILE_OPEN, options, NULL, 0)) >= 0 && files_closed_handle(*h)) {
        o_NtClose(*h);
        *h = NULL;
        *st = ST_ACCESS_DENIED;
    } else if (*st < 0 && absent_closed(vp))
        *st = ST_ACCESS_DENIED;
    return 1;
}

/* Does a may_alias name lead to a closed file? For the calls that answer without a handle
   (attributes): opened to see, as open_checked does. */
static int spelling_closed(const OBJECT_ATTRIBUTES *oa, const wpath *vp)
{
    HANDLE t;
    IO_STATUS_BLOCK io;
    NTSTATUS st;
    int closed = open_checked(&t, FILE_READ_ATTRIBUTES | SYNCHRONIZE, (OBJECT_ATTRIBUTES *)oa, &io,
                              FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, 0, &st, vp) &&
                 st == ST_ACCESS_DENIED;
    if (st >= 0) o_NtClose(t);
    return closed;
}

int files_open(int is_create, HANDLE *h, ACCESS_MASK access, OBJECT_ATTRIBUTES *oa, IO_STATUS_BLOCK *io, LARGE_INTEGER *alloc, ULONG attrs,
               ULONG share, ULONG disp, ULONG options, PVOID ea, ULONG ealen, NTSTATUS *st)
{
    wpath vp, pp, up;
    int c, v, s, writes, creates, handled = 1;
    ULONG a = 0;
    OBJECT_ATTRIBUTES noa;
    UNICODE_STRING us;

    if (!G.active) return 0;
    if (!is_create) {
        disp = FILE_OPEN;
        alloc = NULL;
        attrs = 0;
        ea = NULL;
        ealen = 0;
    }
    writes = (access & WRITE_BITS) || (options & FILE_DELETE_ON_CLOSE) || disp == FILE_SUPERSEDE || disp == FILE_OVERWRITE ||
             disp == FILE_OVERWRITE_IF;
    wp_init(&vp);
    wp_init(&pp);
    wp_init(&up);
    if (options & FILE_OPEN_BY_FILE_ID) {
        /* a file id names a file by its inode, past every name rule: read-only for a VM, and
           only a file whose own name (asked once open) the VM may read */
        if (writes || (*st = o_NtCreateFile(h, access, oa, io, alloc, attrs, share, disp, options, ea, ealen)) < 0) {
            if (writes) *st = ST_ACCESS_DENIED;
            goto out;
        }
        if (files_handle_resolve(*h, &vp) != F_VM || files_verdict(&vp) == P_CLOSED || files_closed_handle(*h)) {
            o_NtClose(*h);
            *h = NULL;
            *st = ST_ACCESS_DENIED;
        }
        goto out;
    }
    if ((c = classify(files_resolve(oa, &vp), &vp, &v, st)) != C_VM) {
        handled = c == C_DONE;
        goto out;
    }
    if (own_leaf(&vp)) {
        *st = ST_OBJECT_NAME_INVALID;
        goto out;
    }
    creates = disp != FILE_OPEN && disp != FILE_OVERWRITE;
    if (!creates && !(options & FILE_DELETE_ON_CLOSE)) {
        /* The common opens in fewer lookups, same outcome as files_state's: one that creates
           nothing goes straight to the private copy when there is one (the call S_PRIVATE
           makes below); a read of a path the area does not hold goes to the host (S_HOST's and
           S_NONE's read), remembered (files_cache.c). Anything else: the general path. */
        LONG gen = files_cache_gen();
        int known = files_cache_get(&vp, gen), absent = !writes && known == FC_ABSENT;
        if (!absent) {
            noa = *oa;
            noa.RootDirectory = NULL;
            noa.ObjectName = &us;
            /* a copy this process opened before: by its unix path (Wine: two fewer components for
               the server's realpath). That namespace is case-sensitive, so a miss there proves
               nothing and the \??\C: spelling decides; a path never opened so is not tried (the
               first open of each host file would pay the failed try) */
            if (known == FC_UNIX && files_private_unix(&vp, &up)) {
                wp_us(&up, &us);
                if ((*st = o_NtCreateFile(h, access, &noa, io, alloc, attrs, share, disp, options, ea, ealen)) >= 0) goto out;
                files_cache_put_unix(&vp, 0);
                known = FC_NOUNIX;
            }
            if (!files_private(&vp, &pp)) {
                *st = ST_NO_MEMORY;
                goto out;
            }
            wp_us(&pp, &us);
            if ((*st = o_NtCreateFile(h, access, &noa, io, alloc, attrs, share, disp, options, ea, ealen)) >= 0) {
                if (known != FC_UNIX && known != FC_NOUNIX && files_private_unix(&vp, &up)) files_cache_put_unix(&vp, 1);
                goto out;
            }
            if (!writes && (*st == ST_PATH_NOT_FOUND || (*st == ST_NAME_NOT_FOUND && !whiteout_at(&vp)))) {
                files_cache_put(&vp, gen, *st == ST_PATH_NOT_FOUND);
                absent = 1;
            }
        }
        if (absent) {
            if (v == P_PRIVATE) {
                *st = ST_NAME_NOT_FOUND;
                goto out;
            }
            handled = may_alias(&vp) ? open_checked(h, access, oa, io, share, options, st, &vp) : 0;
            goto out;
        }
    }
    /* (the path the fast opens above build only when they get to it) */
    if (!pp.n && !files_private(&vp, &pp)) {
        *st = ST_NO_MEMORY;
        goto out;
    }
    s = files_state(&vp, v, &a);
    switch (s) {
    case S_PRIVATE: break;
    case S_WHITEOUT:
        if (!creates) {
            *st = ST_NAME_NOT_FOUND;
            goto out;
        }
        if ((*st = files_mkparents(&vp, v)) < 0) goto out;
        break;
    case S_HOST:
        if (disp == FILE_CREATE) {
            *st = ST_NAME_COLLISION;
            goto out;
        }
        if (!writes) { /* reads fall through to the host, where the name may be a spelling */
            handled = may_alias(&vp) ? open_checked(h, access, oa, io, share, options, st, &vp) : 0;
            goto out;
        }
        if (may_alias(&vp)) { /* a copy-up would read what the spelling leads to */
            HANDLE t;
            IO_STATUS_BLOCK tio;
            int closed = 1;
            if (open_checked(&t, FILE_READ_ATTRIBUTES, oa, &tio, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, 0, st, &vp) &&
                *st >= 0) {
                o_NtClose(t);
                closed = 0;
            }
            if (closed) {
                *st = ST_ACCESS_DENIED;
                goto out;
            }
        }
        if ((a & FILE_ATTRIBUTE_DIRECTORY) || !(disp == FILE_SUPERSEDE || disp == FILE_OVERWRITE || disp == FILE_OVERWRITE_IF)) {
            if ((*st = files_copy_up(&vp, a)) < 0) goto out;
        } else {
            /* the content is replaced anyway: no copy, just the folders */
            if ((*st = files_mkparents(&vp, v)) < 0) goto out;
            if (disp == FILE_OVERWRITE) disp = FILE_OVERWRITE_IF;
        }
        break;
    default: /* nowhere yet */
        if (!creates) {
            if (v == P_PRIVATE) {
                *st = ST_NAME_NOT_FOUND;
                goto out;
            }
            handled = 0; /* the host answers "not found" in its own words */
            goto out;
        }
        if ((*st = files_mkparents(&vp, v)) < 0) goto out;
        break;
    }
    if ((options & FILE_DELETE_ON_CLOSE) && (a & FILE_ATTRIBUTE_DIRECTORY) && files_dir_nonempty(&vp, v)) {
        *st = ST_NOT_EMPTY;
        goto out;
    }
    wp_us(&pp, &us);
    noa = *oa;
    noa.RootDirectory = NULL;
    noa.ObjectName = &us;
    *st = o_NtCreateFile(h, access, &noa, io, alloc, attrs, share, disp, options, ea, ealen);
    if (*st >= 0) {
        if (creates) files_cache_changed();
        if (s == S_WHITEOUT) files_clear_whiteout(&vp);
        /* DeleteFile opens with FILE_DELETE_ON_CLOSE: the host's entry needs its whiteout now */
        if ((options & FILE_DELETE_ON_CLOSE) && host_has(&vp, v, NULL)) files_set_whiteout(&vp);
    }
out:
    wp_free(&vp);
    wp_free(&pp);
    wp_free(&up);
    return handled;
}

/* NtQueryAttributesFile / NtQueryFullAttributesFile: the VM's view. */
static NTSTATUS attr_call(qattr_fn orig, const OBJECT_ATTRIBUTES *oa, PVOID info)
{
    wpath vp, pp;
    int c, v;
    LONG gen;
    NTSTATUS st;
    OBJECT_ATTRIBUTES noa;
    UNICODE_STRING us;
    if (!G.active) return orig(oa, info);
    wp_init(&vp);
    wp_init(&pp);
    if ((c = classify(files_resolve(oa, &vp), &vp, &v, &st)) != C_VM) {
        if (c == C_PASS) st = orig(oa, info);
        goto out;
    }
    gen = files_cache_gen();
    if (!files_cache_absent(&vp, gen)) {
        if (!files_private(&vp, &pp)) {
            st = ST_NO_MEMORY;
            goto out;
        }
        wp_us(&pp, &us);
        InitializeObjectAttributes(&noa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
        st = orig(&noa, info);
        if (st >= 0) goto out;
        if (st != ST_PATH_NOT_FOUND && whiteout_at(&vp)) {
            st = ST_NAME_NOT_FOUND;
            goto out;
        }
        if (st == ST_PATH_NOT_FOUND || st == ST_NAME_NOT_FOUND) files_cache_put(&vp, gen, st == ST_PATH_NOT_FOUND);
    }
    /* through a spelling (Z:, another drive, C:\users' links) the host's answer may be about a closed
       file: judged on what the name leads to, as a read open is */
    st = v == P_PRIVATE ? ST_NAME_NOT_FOUND : may_alias(&vp) && spelling_closed(oa, &vp) ? ST_ACCESS_DENIED : orig(oa, info);
out:
    wp_free(&vp);
    wp_free(&pp);
    return st;
}

static NTSTATUS NTAPI d_NtQueryAttributesFile(const OBJECT_ATTRIBUTES *oa, PVOID info)
{
    return attr_call(o_NtQueryAttributesFile, oa, info);
}
static NTSTATUS NTAPI d_NtQueryFullAttributesFile(const OBJECT_ATTRIBUTES *oa, PVOID info)
{
    return attr_call(o_NtQueryFullAttributesFile, oa, info);
}

static NTSTATUS NTAPI d_NtDeleteFile(const OBJECT_ATTRIBUTES *oa)
{
    wpath vp, pp;
    int c, v, s;
    ULONG a = 0;
    NTSTATUS st;
    OBJECT_ATTRIBUTES noa;
    UNICODE_STRING us;
    if (!G.active) return o_NtDeleteFile(oa);
    wp_init(&vp);
    wp_init(&pp);
    if ((c = classify(files_resolve(oa, &vp), &vp, &v, &st)) != C_VM) {
        if (c == C_PASS) st = o_NtDeleteFile(oa);
        goto out;
    }
    if (own_leaf(&vp)) {
        st = ST_OBJECT_NAME_INVALID;
        goto out;
    }
    s = files_state(&vp, v, &a);
    if (s == S_NONE || s == S_WHITEOUT) {
        st = ST_NAME_NOT_FOUND;
        goto out;
    }
    if ((a & FILE_ATTRIBUTE_DIRECTORY) && files_dir_nonempty(&vp, v)) {
        st = ST_NOT_EMPTY;
        goto out;
    }
    if (s == S_PRIVATE) {
        if (!files_private(&vp, &pp)) {
            st = ST_NO_MEMORY;
            goto out;
        }
        wp_us(&pp, &us);
        InitializeObjectAttributes(&noa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
        if ((st = o_NtDeleteFile(&noa)) < 0) goto out;
    }
    st = host_has(&vp, v, NULL) ? files_set_whiteout(&vp) : 0;
out:
    wp_free(&vp);
    wp_free(&pp);
    return st;
}

/* Is this handle a private copy? Its raw name says so. */
int files_handle_private(HANDLE h)
{
    wpath q;
    int r;
    wp_init(&q);
    r = files_handle_name(h, &q) && files_is_area_name(&q);
    wp_free(&q);
    return r;
}

/* Rights follow the verdict: a change made in place through a handle (delete, rename, security,
   EAs, reparse points) acts only on a private copy or a file open by policy; on a host file it
   is refused (the VM's open would have copied it up had it asked for the right: so this handle
   got it some other way), and so is a handle whose name cannot be established. */
int files_may_change(HANDLE h)
{
    wpath sv;
    int r, ok;
    wp_init(&sv);
    r = files_handle_resolve(h, &sv);
    ok = r == F_PASS || (r == F_VM && (files_verdict(&sv) == P_OPEN || files_handle_private(h)));
    wp_free(&sv);
    return ok;
}

typedef struct {
    ULONG Flags; /* ReplaceIfExists in the low byte */
    HANDLE RootDirectory;
    ULONG FileNameLength;
    WCHAR FileName[1];
} link_info;

static NTSTATUS rename_call(HANDLE h, IO_STATUS_BLOCK *io, link_info *in, ULONG len, ULONG cls)
{
    wpath tv, sv, tp;
    int c, v, sv_ok, is_link = cls == CLS_LINK || cls == CLS_LINK_EX, ts;
    ULONG a = 0, sa = 0, nlen;
    NTSTATUS st;
    HANDLE src = h, copy = NULL;
    link_info *ni = NULL;
    BOOL replace = cls == CLS_RENAME || cls == CLS_LINK ? (in->Flags & 0xff) != 0 : (in->Flags & 1) != 0;

    if (len < offsetof(link_info, FileName) || in->FileNameLength > len - offsetof(link_info, FileName))
        return o_NtSetInformationFile(h, io, in, len, cls);
    wp_init(&tv);
    wp_init(&sv);
    wp_init(&tp);
    if ((c = classify(files_resolve_name(in->RootDirectory, in->FileName, (USHORT)(in->FileNameLength / 2), &tv), &tv, &v, &st)) != C_VM) {
        if (c == C_PASS) st = o_NtSetInformationFile(h, io, in, len, cls);
        goto out;
    }
    if ((sv_ok = files_handle_resolve(h, &sv)) != F_VM && sv_ok != F_PASS) {
        st = ST_ACCESS_DENIED; /* the handle's own name cannot be established */
        goto out;
    }
    sv_ok = sv_ok == F_VM;
    if (own_leaf(&tv)) {
        st = ST_OBJECT_NAME_INVALID;
        goto out;
    }
    if (sv_ok && !files_handle_private(h) && files_verdict(&sv) != P_OPEN) {
        /* a host handle: a link must not make the host file writable through the VM's name */
        if (!is_link) {
            st = ST_ACCESS_DENIED;
            goto out;
        }
        if (!host_has(&sv, P_COW, &sa)) {
            st = ST_NAME_NOT_FOUND;
            goto out;
        }
        if (files_state(&sv, P_COW, &sa) == S_HOST && (st = files_copy_up(&sv, sa)) < 0) goto out;
        if (!files_private(&sv, &tp)) {
            st = ST_NO_MEMORY;
            goto out;
        }
        if ((st = create(&copy, FILE_READ_ATTRIBUTES, &tp, 0, FILE_OPEN, 0)) < 0) goto out;
        src = copy;
    }
    if (sv_ok && !is_link && host_has(&sv, P_COW, &sa) && (sa & FILE_ATTRIBUTE_DIRECTORY)) {
        /* the host's children cannot move with it: callers fall back to copy + delete */
        st = ST_NOT_SAME_DEVICE;
        goto out;
    }
    ts = files_state(&tv, v, &a);
    if ((ts == S_HOST || ts == S_PRIVATE) && !replace) {
        st = ST_NAME_COLLISION;
        goto out;
    }
    if ((st = files_mkparents(&tv, v)) < 0) goto out;
    if (!files_private(&tv, &tp)) {
        st = ST_NO_MEMORY;
        goto out;
    }
    nlen = (ULONG)(offsetof(link_info, FileName) + tp.n * sizeof(WCHAR));
    if (!(ni = hmalloc(nlen))) {
        st = ST_NO_MEMORY;
        goto out;
    }
    ni->Flags = in->Flags;
    ni->RootDirectory = NULL;
    ni->FileNameLength = tp.n * sizeof(WCHAR);
    memcpy(ni->FileName, tp.p, tp.n * sizeof(WCHAR));
    st = o_NtSetInformationFile(src, io, ni, nlen, cls);
    if (st >= 0) {
        files_cache_changed();
        files_clear_whiteout(&tv);
        if (!is_link && sv_ok && files_verdict(&sv) != P_OPEN && host_has(&sv, files_verdict(&sv), NULL)) files_set_whiteout(&sv);
    }
out:
    if (copy) close_h(copy);
    hfree(ni);
    wp_free(&tv);
    wp_free(&sv);
    wp_free(&tp);
    return st;
}

static NTSTATUS dispose_call(HANDLE h, IO_STATUS_BLOCK *io, PVOID buf, ULONG len, ULONG cls)
{
    wpath sv;
    int v, del;
    ULONG a = 0;
    NTSTATUS st;
    if (!buf || len < 1) return o_NtSetInformationFile(h, io, buf, len, cls);
    del = cls == CLS_DISPOSITION ? *(BOOLEAN *)buf != 0 : len >= 4 && (*(ULONG *)buf & 1);
    if (!del) return o_NtSetInformationFile(h, io, buf, len, cls);
    if (!files_may_change(h)) return ST_ACCESS_DENIED; /* a host file: never deleted from a VM */
    wp_init(&sv);
    if (!files_handle_path(h, &sv) || (v = files_verdict(&sv)) == P_OPEN) {
        wp_free(&sv);
        return o_NtSetInformationFile(h, io, buf, len, cls);
    }
    if (host_has(&sv, v, &a) && (a & FILE_ATTRIBUTE_DIRECTORY) && files_dir_nonempty(&sv, v))
        st = ST_NOT_EMPTY;
    else if ((st = o_NtSetInformationFile(h, io, buf, len, cls)) >= 0 && host_has(&sv, v, NULL))
        files_set_whiteout(&sv);
    wp_free(&sv);
    return st;
}

/* Attributes, times and size set through a handle the VM opened for reading (Wine's
   SetFileAttributes opens with SYNCHRONIZE only): the change goes to the VM's copy. */
static NTSTATUS change_call(HANDLE h, IO_STATUS_BLOCK *io, PVOID buf, ULONG len, ULONG cls)
{
    wpath sv, pp;
    ULONG a = 0;
    NTSTATUS st;
    HANDLE copy;
    int r;
    wp_init(&sv);
    wp_init(&pp);
    if ((r = files_handle_resolve(h, &sv)) != F_VM && r != F_PASS) {
        st = ST_ACCESS_DENIED;
        goto out;
    }
    if (r == F_PASS || files_verdict(&sv) != P_COW || files_handle_private(h)) {
        st = o_NtSetInformationFile(h, io, buf, len, cls);
        goto out;
    }
    if (files_state(&sv, P_COW, &a) == S_HOST && (st = files_copy_up(&sv, a)) < 0) goto out;
    if (!files_private(&sv, &pp)) {
        st = ST_NO_MEMORY;
        goto out;
    }
    if ((st = create(&copy, FILE_WRITE_ATTRIBUTES | FILE_WRITE_DATA, &pp, 0, FILE_OPEN, 0)) < 0) goto out;
    st = o_NtSetInformationFile(copy, io, buf, len, cls);
    close_h(copy);
out:
    wp_free(&sv);
    wp_free(&pp);
    return st;
}

static NTSTATUS NTAPI d_NtSetInformationFile(HANDLE h, IO_STATUS_BLOCK *io, PVOID buf, ULONG len, ULONG cls)
{
    if (!G.active || !buf) return o_NtSetInformationFile(h, io, buf, len, cls);
    if (cls == CLS_RENAME || cls == CLS_RENAME_EX || cls == CLS_LINK || cls == CLS_LINK_EX) return rename_call(h, io, buf, len, cls);
    if (cls == CLS_DISPOSITION || cls == CLS_DISPOSITION_EX) return dispose_call(h, io, buf, len, cls);
    if (cls == CLS_BASIC || cls == CLS_ALLOCATION || cls == CLS_EOF || cls == CLS_VALID_DATA) return change_call(h, io, buf, len, cls);
    /* the handle's own state or a pipe's (position, mode, pipe, remote pipe, mailslot, completion
       port, completion notification, priority, replace completion): nothing of the file */
    if (cls == 14 || cls == 16 || cls == 23 || cls == 25 || cls == 27 || cls == 30 || cls == 41 || cls == 43 || cls == 61)
        return o_NtSetInformationFile(h, io, buf, len, cls);
    /* any other class (short name, case sensitivity, object id, quota, the bypass-access links and
       renames, classes not yet known) changes the file: only where the handle's verdict allows */
    return files_may_change(h) ? o_NtSetInformationFile(h, io, buf, len, cls) : ST_ACCESS_DENIED;
}

NTSTATUS files_attr(const OBJECT_ATTRIBUTES *oa, ULONG *attrs)
{
    FILE_BASIC_INFORMATION bi;
    NTSTATUS st = o_NtQueryAttributesFile(oa, &bi);
    if (st >= 0) *attrs = bi.FileAttributes;
    return st;
}

void files_forget(HANDLE h) { files_dir_forget(h); }

int files_install(void)
{
    if (files_path_init() || files_own_init()) return -1;
    static const hook_entry table[] = {
        HOOK(NtQueryAttributesFile),
        HOOK(NtQueryFullAttributesFile),
        HOOK(NtDeleteFile),
        HOOK(NtSetInformationFile),
    };
    if (HOOK_TABLE(table)) return -1;
    return files_dir_install();
}
