/* File paths: every spelling a VM process can use, resolved once to one canonical
   VM path "\??\X:\rest", then mapped to the VM's private area. Spellings:
   \??\ \DosDevices\ \GLOBAL??\ (\\?\ and drive-relative paths arrive here already
   made absolute by ntdll), \??\GLOBALROOT\..., a RootDirectory handle (its name
   asked with NtQueryObject), case, doubled backslashes, and under Wine the Z: and
   \??\unix\ spellings of the prefix's own drive_c (the "alias files" rules). */
#include "files.h"
#include "hook.h"
#include "policy.h"
#include <wchar.h>

#define ST_NAME_NOT_FOUND ((NTSTATUS)0xC0000034)
#define ST_PATH_NOT_FOUND ((NTSTATUS)0xC000003A)

/* ---- wpath ---- */
void wp_init(wpath *w)
{
    w->p = w->stack;
    w->n = 0;
    w->cap = sizeof w->stack / sizeof(WCHAR);
}
void wp_free(wpath *w)
{
    if (w->p != w->stack) hfree(w->p);
    wp_init(w);
}
int wp_add(wpath *w, const WCHAR *s, USHORT n)
{
    if ((SIZE_T)w->n + n + 1 > 0x7ffe) return 0;
    if (w->n + n + 1 > w->cap) {
        SIZE_T want = ((SIZE_T)w->n + n + 1) * 2, lim = 0x7fff;
        USHORT cap = (USHORT)(want > lim ? lim : want);
        WCHAR *np = hmalloc(cap * sizeof(WCHAR));
        if (!np) return 0;
        memcpy(np, w->p, w->n * sizeof(WCHAR));
        if (w->p != w->stack) hfree(w->p);
        w->p = np;
        w->cap = cap;
    }
    memmove(w->p + w->n, s, n * sizeof(WCHAR));
    w->n += n;
    w->p[w->n] = 0;
    return 1;
}
int wp_set(wpath *w, const WCHAR *s, USHORT n)
{
    w->n = 0;
    return wp_add(w, s, n);
}
void wp_us(wpath *w, UNICODE_STRING *us)
{
    us->Buffer = w->p;
    us->Length = (USHORT)(w->n * sizeof(WCHAR));
    us->MaximumLength = us->Length;
}

static int starts_n(const WCHAR *s, USHORT n, const WCHAR *lit, USHORT l) { return n >= l && !files_wcsnicmp(s, lit, l); }
/* lit: a string literal, its length known when compiled */
#define starts(s, n, lit) starts_n(s, n, lit, (USHORT)(sizeof(lit) / sizeof(WCHAR) - 1))

/* ---- configuration: the area, the aliases ---- */
static WCHAR area[96];
static USHORT area_n;
#define NALIAS 8
static struct {
    WCHAR *from;
    USHORT n;
    WCHAR to;
} alias[NALIAS];
static int nalias;

/* "alias files X: PATH": PATH (a Win32 path) is another spelling of drive X:'s root. */
int files_path_init(void)
{
    const WCHAR *p = G.cfg->rules;
    area_n = (USHORT)swprintf(area, sizeof area / sizeof(WCHAR), FILES_AREA_FMT, G.cfg->vm);
    while (p && *p) {
        const WCHAR *e = wcschr(p, L'\n');
        USHORT len = (USHORT)(e ? e - p : wcslen(p));
        while (len && (p[len - 1] == L'\r' || p[len - 1] == L'\\')) len--;
        if (len > 16 && nalias < NALIAS && !wcsncmp(p, L"alias files ", 12) && p[13] == L':' && p[14] == L' ') {
            USHORT fl = len - 15;
            WCHAR *f = hmalloc((fl + 5) * sizeof(WCHAR));
            if (!f) return -1;
            memcpy(f, L"\\??\\", 4 * sizeof(WCHAR));
            memcpy(f + 4, p + 15, fl * sizeof(WCHAR));
            f[fl + 4] = 0;
            if (f[4] >= L'a' && f[4] <= L'z') f[4] -= 32;
            alias[nalias].from = f;
            alias[nalias].n = fl + 4;
            alias[nalias].to = p[12] & ~0x20;
            nalias++;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* ---- canonical form ---- */
static USHORT skip_root1(const WCHAR *s, USHORT n);
/* The length of the drive-namespace prefix; \??\Global\ (any number of them) is \??\ again:
   the calls that reach here without the isolation layer (attributes, NtDeleteFile, renames)
   must not take it for a non-drive path */
static USHORT skip_root(const WCHAR *s, USHORT n)
{
    USHORT i = skip_root1(s, n);
    while (i && starts(s + i, n - i, L"Global\\")) i += 7;
    return i;
}
static USHORT skip_root1(const WCHAR *s, USHORT n)
{
    if (starts(s, n, L"\\??\\GLOBALROOT\\??\\")) return 18;
    if (starts(s, n, L"\\??\\GLOBALROOT\\DosDevices\\")) return 26;
    if (starts(s, n, L"\\??\\GLOBALROOT\\GLOBAL??\\")) return 24;
    if (starts(s, n, L"\\??\\")) return 4;
    if (starts(s, n, L"\\DosDevices\\")) return 12;
    if (starts(s, n, L"\\GLOBAL??\\")) return 10;
    return 0;
}

/* Replace each component with a "~" by its long name, folder by folder (a component
   that names nothing stays as it is: it may be created). 0 when out of memory. */
static int expand_short(wpath *out)
{
    USHORT i = 7, s, e;
    wpath dir, ln;
    int ok = 1;
    if (!wmemchr(out->p, L'~', out->n)) return 1;
    wp_init(&dir);
    wp_init(&ln);
    while (i < out->n && ok) {
        s = i;
        while (i < out->n && out->p[i] != L'\\') i++;
        e = i++;
        if (e - s > 12 || !wmemchr(out->p + s, L'~', e - s)) continue;
        if (!wp_set(&dir, out->p, s - 1)) {
            ok = 0;
            break;
        }
        if (files_long_name(&dir, out->p + s, e - s, &ln) && (ln.n != e - s || files_wcsnicmp(ln.p, out->p + s, ln.n))) {
            /* out = out[0..s) + long + out[e..n) */
            wpath t;
            wp_init(&t);
            ok = wp_set(&t, out->p, s) && wp_add(&t, ln.p, ln.n) && wp_add(&t, out->p + e, out->n - e) && wp_set(out, t.p, t.n);
            wp_free(&t);
            i = s + ln.n + 1;
        }
    }
    wp_free(&dir);
    wp_free(&ln);
    return ok;
}

/* s[0..n) absolute NT name -> canonical; returns F_* */
/* F_PASS with *out the absolute name as given: the device list (devices.c) decides on it */
static int pass(const WCHAR *s, USHORT n, wpath *out) { return wp_set(out, s, n) ? F_PASS : F_BAD; }

static int canon(const WCHAR *s, USHORT n, wpath *out, int allow_area)
{
    USHORT i = skip_root(s, n), start, home_n = (USHORT)(sizeof FILES_HOME / sizeof(WCHAR) - 1);
    const WCHAR *s0 = s;
    USHORT n0 = n;
    WCHAR drive;
    int a;
    if (!i) return pass(s0, n0, out); /* \Device\..., object names: not a drive path */
    s += i;
    n -= i;
    if (starts(s, n, L"unix\\")) {
        /* Wine: \??\unix\<unix path> is Z:\<unix path> */
        if (!wp_set(out, L"\\??\\Z:", 6)) return F_BAD;
        s += 4;
        n -= 4;
    } else {
        /* UNC, pipe, CONIN$, a device, and a bare "X:" (the volume itself, not its root folder) */
        if (n <= 2 || s[1] != L':' || !((s[0] | 0x20) >= L'a' && (s[0] | 0x20) <= L'z') || s[2] != L'\\') return pass(s0, n0, out);
        drive = s[0] & ~0x20;
        if (!wp_set(out, L"\\??\\", 4) || !wp_add(out, &drive, 1) || !wp_add(out, L":", 1)) return F_BAD;
        s += 2;
        n -= 2;
    }
    /* components: collapse doubled backslashes, refuse . and .. */
    for (i = 0; i < n;) {
        while (i < n && s[i] == L'\\') i++;
        if (i >= n) break;
        start = i;
        while (i < n && s[i] != L'\\') i++;
        if ((i - start == 1 && s[start] == L'.') || (i - start == 2 && s[start] == L'.' && s[start + 1] == L'.')) return F_BAD;
        if (!wp_add(out, s + start - 1, i - start + 1)) return F_BAD; /* with the one '\\' before it: s starts with one */
    }
    /* another spelling of a drive's root (Wine's Z:\...\drive_c) */
    for (a = 0; a < nalias; a++) {
        if (out->n >= alias[a].n && !files_wcsnicmp(out->p, alias[a].from, alias[a].n) &&
            (out->n == alias[a].n || out->p[alias[a].n] == L'\\')) {
            USHORT rest = out->n - alias[a].n;
            memmove(out->p + 6, out->p + alias[a].n, rest * sizeof(WCHAR));
            out->p[4] = alias[a].to;
            out->n = 6 + rest;
            out->p[out->n] = 0;
            break;
        }
    }
    /* a stream suffix names its folder on NTFS ("svcdup::$INDEX_ALLOCATION\VMs" is svcdup\VMs): a ':'
       is allowed only in the last component, and a name is judged up to it (below, and files_own.c) */
    {
        const WCHAR *colon = out->n > 6 ? wmemchr(out->p + 6, L':', out->n - 6) : NULL;
        if (colon && wmemchr(colon, L'\\', out->n - (colon - out->p))) return F_BAD;
    }
    /* 8.3 short names (C:\PROGRA~1): decided on the long name, so a short spelling reaches
       the same copy, and svcdup's own folder is closed under its short name too */
    if (!expand_short(out)) return F_BAD;
    /* svcdup's own folder (and each VM's private area in it) is never a VM's to open */
    if (starts(out->p, out->n, FILES_HOME) && (out->n == home_n || out->p[home_n] == L'\\' || out->p[home_n] == L':')) {
        USHORT m;
        if (!allow_area) return F_DENY;
        m = files_unmap(out->p, out->n, 1);
        if (m == out->n) return F_DENY; /* another VM's area, or svcdup's own files */
        out->n = m;
        out->p[m] = 0;
    }
    return F_VM;
}

int files_resolve_name(HANDLE root, const WCHAR *s, USHORT n, wpath *out)
{
    if (root) {
        wpath full;
        int r;
        wp_init(&full);
        /* a root whose name cannot be learnt is refused, never passed on (fail closed) */
        if (!files_handle_name(root, &full)) return F_DENY;
        if (!full.n) {
            /* an unnamed root: Wine's console objects (kernelbase opens "Reference" and the like
               relative to them) are the console device; any other is refused */
            IO_STATUS_BLOCK io;
            struct {
                ULONG type, chars;
            } di;
            wp_free(&full);
            if (NtQueryVolumeInformationFile(root, &io, &di, sizeof di, FileFsDeviceInformation) < 0 ||
                di.type != 0x50 /* FILE_DEVICE_CONSOLE */)
                return F_DENY;
            if (!wp_set(out, L"\\Device\\ConDrv\\", n ? 15 : 14) || !wp_add(out, s, n)) return F_BAD;
            return F_PASS;
        }
        if (n && (!wp_add(&full, L"\\", 1) || !wp_add(&full, s, n))) {
            wp_free(&full);
            return F_BAD;
        }
        /* the root may be a private copy: its name maps back to the VM's path */
        r = canon(full.p, full.n, out, 1);
        wp_free(&full);
        return r;
    }
    return canon(s, n, out, 0);
}

int files_resolve(const OBJECT_ATTRIBUTES *oa, wpath *out)
{
    if (!oa || !oa->ObjectName || !oa->ObjectName->Buffer) return F_PASS;
    return files_resolve_name(oa->RootDirectory, oa->ObjectName->Buffer, oa->ObjectName->Length / sizeof(WCHAR), out);
}

int files_handle_path(HANDLE h, wpath *out) { return files_resolve_name(h, NULL, 0, out) == F_VM; }

/* Is a raw name one of this VM's private copies (in its area)? */
int files_is_area_name(const wpath *raw) { return raw->n > area_n && !files_wcsnicmp(raw->p, area, area_n); }

/* files_handle_path, and whether the handle is a private copy, from one question of its name */
int files_handle_path_ex(HANDLE h, wpath *out, int *priv)
{
    wpath raw;
    int r = 0;
    wp_init(&raw);
    /* an unnamed handle is never a VM path (files_resolve_name: the console, or refused) */
    if (files_handle_name(h, &raw) && raw.n) {
        *priv = files_is_area_name(&raw);
        r = canon(raw.p, raw.n, out, 1) == F_VM;
    }
    wp_free(&raw);
    return r;
}
int files_handle_resolve(HANDLE h, wpath *out) { return files_resolve_name(h, NULL, 0, out); }

/* A handle's raw name (NtQueryObject), whatever its length: 0 when it cannot be had. */
int files_handle_name(HANDLE h, wpath *out)
{
    union {
        OBJ_NAME_INFO i;
        WCHAR w[300];
    } q;
    OBJ_NAME_INFO *p = &q.i;
    ULONG ret = 0, size = sizeof q;
    NTSTATUS st;
    int ok;
    for (;;) {
        st = o_NtQueryObject(h, ObjectNameInformation, p, size, &ret);
        if (st >= 0) break;
        if (p != &q.i) hfree(p);
        if ((st != ST_INFO_LENGTH_MISMATCH && st != ST_BUFFER_OVERFLOW && st != (NTSTATUS)0xC0000023) || ret <= size || ret > 0x20000)
            return 0;
        size = ret;
        if (!(p = hmalloc(size))) return 0;
    }
    ok = wp_set(out, p->Name.Buffer ? p->Name.Buffer : L"", p->Name.Length / sizeof(WCHAR));
    if (p != &q.i) hfree(p);
    return ok;
}

int files_verdict(const wpath *vp)
{
    int p = policy_decide(K_FILE, vp->p + 4, vp->n - 4);
    return p == P_RENAME ? P_COW : p; /* files are never renamed: no rule means copy-on-write */
}

USHORT files_leaf(const WCHAR *p, USHORT n)
{
    USHORT i = n;
    while (i && p[i - 1] != L'\\') i--;
    return i;
}

int files_private(const wpath *vp, wpath *out)
{
    WCHAR d[2] = {L'\\', vp->p[4]};
    return wp_set(out, area, area_n) && wp_add(out, d, 2) && wp_add(out, vp->p + 6, vp->n - 6);
}

/* ---- the area by its unix path (Wine) ----
   wineserver names every opened file by realpath() of its unix path, one readlink per
   component: \??\C:\ costs two more (dosdevices and its c: link) than the unix path of
   drive_c, about 5% of a private copy's open (docs/state.md, "What an open costs"). The unix
   spelling is drive_c's "alias files C: Z:\..." line (the control plane's), believed only when
   Wine names that folder \??\C:\ (its name for a handle comes from the real unix path, so a
   copy opened this way is still named <area>\... to every check). */
typedef struct {
    USHORT n;
    WCHAR p[1];
} ustr;
static ustr *volatile uarea; /* NULL: not looked for yet */
#define UAREA_NONE ((ustr *)1)

/* Does the unix spelling s[0..n) open, and does Wine name it want[0..wn) exactly (the same folder,
   the same case on disk)? 1 yes, 0 it does not exist, -1 anything else. */
static int unix_names(const WCHAR *s, USHORT n, const WCHAR *want, USHORT wn)
{
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING us;
    IO_STATUS_BLOCK io;
    HANDLE h;
    NTSTATUS st;
    wpath q;
    int ok;
    us.Buffer = (WCHAR *)s;
    us.Length = us.MaximumLength = (USHORT)(n * sizeof(WCHAR));
    InitializeObjectAttributes(&oa, &us, 0, NULL, NULL);
    st = o_NtCreateFile(&h, FILE_READ_ATTRIBUTES | SYNCHRONIZE, &oa, &io, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                        FILE_OPEN, FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
    if (st < 0) return st == ST_NAME_NOT_FOUND || st == ST_PATH_NOT_FOUND ? 0 : -1;
    wp_init(&q);
    ok = files_handle_name(h, &q) && q.n == wn && !wcsncmp(q.p, want, wn) ? 1 : -1;
    wp_free(&q);
    o_NtClose(h);
    return ok;
}

/* The area's unix spelling from an "alias files C: Z:\<drive_c>" line, checked against Wine's
   own name for the area's nearest existing folder (the area itself once the VM has files): a
   folder of another case on disk, or a Z: that is not the unix root, and none is used. */
static ustr *unix_area_find(void)
{
    int a;
    for (a = 0; a < nalias; a++) {
        const WCHAR *f = alias[a].from;
        USHORT fn = alias[a].n, i, un, k;
        ustr *u;
        int dosdev = 0, r = 0;
        if (alias[a].to != L'C' || fn < 8 || (f[4] & ~0x20) != L'Z' || f[6] != L'\\') continue;
        for (i = 6; i + 12 <= fn && !dosdev; i++) dosdev = !files_wcsnicmp(f + i, L"\\dosdevices\\", 12);
        if (dosdev) continue; /* the same walk as \??\C:'s */
        if (!(u = hmalloc(sizeof(ustr) + (8 + fn + area_n) * sizeof(WCHAR)))) return UAREA_NONE;
        memcpy(u->p, L"\\??\\unix", 8 * sizeof(WCHAR));
        memcpy(u->p + 8, f + 6, (fn - 6) * sizeof(WCHAR));
        un = (USHORT)(8 + fn - 6);
        memcpy(u->p + un, area + 6, (area_n - 6) * sizeof(WCHAR)); /* <area> past its \??\C: */
        u->n = un + area_n - 6;
        /* from the area up to drive_c: the first folder that exists decides */
        for (k = area_n; k > 6 && !r; k = files_leaf(area, k) - 1) r = unix_names(u->p, un + k - 6, area, k);
        if (!r) r = unix_names(u->p, un, L"\\??\\C:\\", 7);
        if (r == 1) return u;
        hfree(u);
    }
    return UAREA_NONE;
}

/* A name Wine reads the same in the unix namespace as under \??\C: (no '/', which would be a
   separator there, no character a DOS name refuses, no component ending in '.' or ' '). */
static int unix_safe(const WCHAR *s, USHORT n)
{
    USHORT i;
    for (i = 0; i < n; i++) {
        WCHAR c = s[i];
        if (c < 0x20 || c == L'/' || c == L':' || c == L'*' || c == L'?' || c == L'"' || c == L'<' || c == L'>' || c == L'|') return 0;
        if ((c == L'\\' || i + 1 == n) && i && (s[i - (c == L'\\')] == L'.' || s[i - (c == L'\\')] == L' ')) return 0;
    }
    return 1;
}

int files_private_unix(const wpath *vp, wpath *out)
{
    ustr *u = uarea;
    WCHAR d[2] = {L'\\', vp->p[4]};
    if (!u) {
        ustr *found = unix_area_find();
        u = InterlockedCompareExchangePointer((PVOID volatile *)&uarea, found, NULL);
        if (u) { /* another thread was first */
            if (found != UAREA_NONE) hfree(found);
        } else
            u = found;
    }
    if (u == UAREA_NONE || !unix_safe(vp->p + 6, vp->n - 6)) return 0;
    return wp_set(out, u->p, u->n) && wp_add(out, d, 2) && wp_add(out, vp->p + 6, vp->n - 6);
}

static int leaf_prefixed(const wpath *vp, wpath *out, const WCHAR *pre, USHORT pn)
{
    USHORT l = files_leaf(vp->p, vp->n);
    WCHAR d[2] = {L'\\', vp->p[4]};
    if (l <= 7) return 0; /* a drive root has no whiteout */
    return wp_set(out, area, area_n) && wp_add(out, d, 2) && wp_add(out, vp->p + 6, l - 6) && wp_add(out, pre, pn) &&
           wp_add(out, vp->p + l, vp->n - l);
}

int files_whiteout(const wpath *vp, wpath *out) { return leaf_prefixed(vp, out, WH_PREFIX, 11); }

int files_temp(const wpath *vp, wpath *out)
{
    WCHAR t[48];
    USHORT n = (USHORT)swprintf(t, 48, L"%ls%lu.%lu.", TMP_PREFIX, (unsigned long)G.pid,
                                (unsigned long)*(ULONG_PTR *)((char *)NtCurrentTeb() + 0x48) /* ClientId.UniqueThread */);
    return leaf_prefixed(vp, out, t, n);
}

/* "<...>\ProgramData\svcdup\VMs\<this vm>\files\X[\rest]" -> "<root>X:[\rest]".
   nt_form: s starts with \??\C: (else with \ProgramData, as FileNameInformation reports). */
USHORT files_unmap(WCHAR *s, USHORT n, int nt_form)
{
    USHORT skip = nt_form ? 0 : 6, an = area_n - skip, rest;
    const WCHAR *a = area + skip;
    if (n < an + 2 || files_wcsnicmp(s, a, an) || s[an] != L'\\' || (n > an + 2 && s[an + 2] != L'\\')) return n;
    rest = n - an - 2;
    if (nt_form) {
        s[4] = s[an + 1] & ~0x20;
        s[5] = L':';
        memmove(s + 6, s + an + 2, rest * sizeof(WCHAR));
        return 6 + rest;
    }
    /* FileNameInformation has no drive: \rest (the drive root is "\") */
    memmove(s, s + an + 2, rest * sizeof(WCHAR));
    if (!rest) {
        s[0] = L'\\';
        return 1;
    }
    return rest;
}

int files_is_own_name(const WCHAR *leaf, USHORT n) { return n >= 8 && !files_wcsnicmp(leaf, OWN_PREFIX, 8); }
