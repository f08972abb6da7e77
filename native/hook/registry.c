/* The VM's view of the registry (docs/state.md, "Registry"). Inside a VM:
 *  - Services\NAME of a service duplicated into the VM, and the Svchost key once the VM
 *    has its own svchost groups, resolve to the copies dup made under
 *    \Registry\Machine\SOFTWARE\svcdup\VMs\<vm>\{Services\NAME,Svchost};
 *  - every other key under \Registry\Machine and \Registry\User is copy-on-write: the
 *    VM's copies live under ...\VMs\<vm>\Cow\{MACHINE,USER}\..., a write-access open
 *    copies the key (its values) up, reads fall through to the host until then, a
 *    deletion leaves a tombstone, subkey enumeration and counts merge both sides;
 *  - policy `keys` rules make a key open (host), closed (denied) or private (empty);
 *  - svcdup's own area is closed, and registry links cannot be made nor followed into it.
 * Markers live in a copy's class string, so no value of the VM's is ever hidden:
 *   "svcdup.deleted" a tombstone, "svcdup.opaque" a copy whose host key is hidden. */
#include "hook.h"
#include "names.h"
#include "patch.h"
#include "policy.h"
#include "trace.h"
#include "reg_cache.h"
#include "ntkey.h"
#include <stdlib.h>
#include <wchar.h>

#define ST_OBJECT_NAME_NOT_FOUND  ((NTSTATUS)0xC0000034)
#define ST_NO_MORE_ENTRIES        ((NTSTATUS)0x8000001A)
#define ST_BUFFER_TOO_SMALL       ((NTSTATUS)0xC0000023)
#define ST_CANNOT_DELETE          ((NTSTATUS)0xC0000121)
#define ST_INVALID_PARAMETER      ((NTSTATUS)0xC000000D)
#define ST_CHILD_MUST_BE_VOLATILE ((NTSTATUS)0xC0000181)
#define REG_CREATED               1
#define REG_OPENED                2
#define OPT_VOLATILE              1
#define OPT_CREATE_LINK           2
#define OPT_OPEN_LINK             8
#define ATTR_OPENLINK             0x100

NTSYSAPI NTSTATUS NTAPI NtQueryKey(HANDLE, int, void *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtEnumerateKey(HANDLE, ULONG, int, void *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtEnumerateValueKey(HANDLE, ULONG, int, void *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtQueryValueKey(HANDLE, UNICODE_STRING *, int, void *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtDeleteKey(HANDLE);
NTSYSAPI LONG NTAPI RtlCompareUnicodeString(const UNICODE_STRING *, const UNICODE_STRING *, BOOLEAN);
NTSYSAPI void NTAPI RtlInitializeCriticalSection(RTL_CRITICAL_SECTION *);
NTSYSAPI void NTAPI RtlEnterCriticalSection(RTL_CRITICAL_SECTION *);
NTSYSAPI void NTAPI RtlLeaveCriticalSection(RTL_CRITICAL_SECTION *);

typedef NTSTATUS(NTAPI *open_key_ex_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG);
typedef NTSTATUS(NTAPI *query_key_fn)(HANDLE, int, void *, ULONG, ULONG *);
typedef NTSTATUS(NTAPI *enum_key_fn)(HANDLE, ULONG, int, void *, ULONG, ULONG *);
typedef NTSTATUS(NTAPI *delete_key_fn)(HANDLE);
typedef NTSTATUS(NTAPI *rename_key_fn)(HANDLE, UNICODE_STRING *);
typedef NTSTATUS(NTAPI *notify_key_fn)(HANDLE, HANDLE, PIO_APC_ROUTINE, void *, IO_STATUS_BLOCK *, ULONG, BOOLEAN, void *, ULONG, BOOLEAN);
fn_open o_NtOpenKey = NtOpenKey; /* hook.h: scmnames.c reaches svcdup's area with it */
static open_key_ex_fn o_NtOpenKeyEx;
key_create_fn o_NtCreateKey = NtCreateKey; /* hook.h */
static query_key_fn o_NtQueryKey = NtQueryKey;
static enum_key_fn o_NtEnumerateKey = NtEnumerateKey;
static delete_key_fn o_NtDeleteKey = NtDeleteKey;
static rename_key_fn o_NtRenameKey;
static notify_key_fn o_NtNotifyChangeKey;
setvalue_fn o_NtSetValueKey = NtSetValueKey; /* hook.h: the hook's own writes (copies, scmcreate.c) */

#define NAME_MAX_CHARS 1024
#define COMPONENT_MAX  255
#define RD             (KEY_QUERY_VALUE | KEY_ENUMERATE_SUB_KEYS)
#define WRITE_BITS                                                                                                           \
    (KEY_SET_VALUE | KEY_CREATE_SUB_KEY | KEY_CREATE_LINK | DELETE | WRITE_DAC | WRITE_OWNER | GENERIC_WRITE | GENERIC_ALL | \
     MAXIMUM_ALLOWED | ACCESS_SYSTEM_SECURITY)
static const WCHAR svcdup_area[] = L"\\REGISTRY\\MACHINE\\SOFTWARE\\svcdup";
static const WCHAR svchost[] = L"\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Svchost";
static const WCHAR ccs_name[] = L"\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet";
static const WCHAR M_DELETED[] = L"svcdup.deleted", M_OPAQUE[] = L"svcdup.opaque";
enum { M_NONE = 0, M_IS_OPAQUE = 1, M_IS_DELETED = 2 };

static WCHAR vm_area[128]; /* ...\svcdup\VMs\<vm> */
static USHORT vm_area_len;
static WCHAR cow_root[160]; /* ...\svcdup\VMs\<vm>\Cow */
static USHORT cow_root_len;
static WCHAR ccs[128] = L"\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet"; /* what CurrentControlSet links to (Wine 8: a plain key) */
static int has_private; /* any "private keys" rule: enumerations hide those keys of the host */
static RTL_CRITICAL_SECTION lock;

typedef struct {
    WCHAR full[NAME_MAX_CHARS]; /* the absolute name the caller means */
    USHORT full_len;
    WCHAR target[NAME_MAX_CHARS]; /* where it resolves in this VM */
    UNICODE_STRING target_us;
    OBJECT_ATTRIBUTES oa;
} key_name;

static int starts_with(const WCHAR *s, USHORT n, const WCHAR *prefix)
{
    size_t p = wcslen(prefix);
    return n >= p && !_wcsnicmp(s, prefix, p) && (n == p || s[p] == L'\\');
}

static void init_oa(OBJECT_ATTRIBUTES *oa, UNICODE_STRING *us, const WCHAR *name, USHORT chars, HANDLE root)
{
    us->Buffer = (WCHAR *)name;
    us->Length = us->MaximumLength = (USHORT)(chars * sizeof(WCHAR));
    InitializeObjectAttributes(oa, us, OBJ_CASE_INSENSITIVE, root, NULL);
}

static NTSTATUS raw_open(HANDLE *h, const WCHAR *name, USHORT chars, ACCESS_MASK a)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    init_oa(&oa, &us, name, chars, NULL);
    return o_NtOpenKey(h, a, &oa);
}

static int key_exists(const WCHAR *name)
{
    HANDLE h;
    if (raw_open(&h, name, (USHORT)wcslen(name), KEY_QUERY_VALUE) < 0) return 0;
    o_NtClose(h);
    return 1;
}

/* A key's marker (class string), M_NONE for a plain copy or a host key. */
static int marker_of(HANDLE h)
{
    union {
        KFULL f;
        BYTE b[128];
    } u;
    ULONG ret;
    WCHAR *c;
    NTSTATUS st = o_NtQueryKey(h, KeyFullInformation, &u, sizeof u, &ret);
    if (st < 0 && st != ST_BUFFER_OVERFLOW) return M_NONE;
    if (u.f.class_off + u.f.class_len > sizeof u || u.f.class_len != sizeof M_OPAQUE - sizeof(WCHAR)) {
        if (u.f.class_len != sizeof M_DELETED - sizeof(WCHAR) || u.f.class_off + u.f.class_len > sizeof u) return M_NONE;
    }
    c = (WCHAR *)(u.b + u.f.class_off);
    if (u.f.class_len == sizeof M_OPAQUE - sizeof(WCHAR) && !memcmp(c, M_OPAQUE, u.f.class_len)) return M_IS_OPAQUE;
    if (u.f.class_len == sizeof M_DELETED - sizeof(WCHAR) && !memcmp(c, M_DELETED, u.f.class_len)) return M_IS_DELETED;
    return M_NONE;
}

/* A name the system reports, made the name the VM process knows: a copy's name is the
   host name it stands for. In place (the result is never longer). Returns chars. */
static USHORT to_logical(WCHAR *s, USHORT n)
{
    static const WCHAR reg[] = L"\\REGISTRY\\";
    if (cow_root_len && n > cow_root_len && starts_with(s, n, cow_root)) {
        USHORT rest = n - cow_root_len - 1;
        memmove(s + 10, s + cow_root_len + 1, rest * sizeof(WCHAR));
        memcpy(s, reg, 10 * sizeof(WCHAR));
        return 10 + rest;
    }
    /* dup's copies: VMs\<vm>\Services\NAME and VMs\<vm>\Svchost */
    if (vm_area_len && n > vm_area_len + 9 && starts_with(s, n, vm_area) && !_wcsnicmp(s + vm_area_len, L"\\Services\\", 10)) {
        size_t cl = wcslen(ccs), rest = n - vm_area_len;
        if (cl + rest <= n) {
            memmove(s + cl, s + vm_area_len, rest * sizeof(WCHAR));
            memcpy(s, ccs, cl * sizeof(WCHAR));
            return (USHORT)(cl + rest);
        }
    }
    return n;
}

/* The real name of an open key into out (NAME_MAX_CHARS chars, NUL-terminated), or 0. */
static USHORT real_name(HANDLE h, WCHAR *out)
{
    struct {
        ULONG len;
        WCHAR name[NAME_MAX_CHARS];
    } info;
    ULONG ret;
    USHORT n;
    if (o_NtQueryKey(h, KeyNameInformation, &info, sizeof info - sizeof(WCHAR), &ret) < 0) return 0;
    n = (USHORT)(info.len / sizeof(WCHAR));
    memcpy(out, info.name, n * sizeof(WCHAR));
    out[n] = 0;
    return n;
}

/* The logical name of an open key, or 0. */
static USHORT handle_name(HANDLE h, WCHAR *out)
{
    USHORT n = real_name(h, out);
    if (n) out[n = to_logical(out, n)] = 0;
    return n;
}

/* The names of the last keys used as RootDirectory (advapi32's predefined HKLM/HKCU
   handles above all): asked once, forgotten when the handle is closed. */
#define ROOTS_CACHED 8
static struct {
    HANDLE h;
    USHORT n;
    WCHAR *name;
} roots_cache[ROOTS_CACHED];
static int roots_next;

static USHORT root_name(HANDLE h, WCHAR *out)
{
    USHORT n = 0;
    int i;
    RtlEnterCriticalSection(&lock);
    for (i = 0; i < ROOTS_CACHED; i++)
        if (roots_cache[i].h == h && roots_cache[i].name) {
            n = roots_cache[i].n;
            memcpy(out, roots_cache[i].name, (n + 1) * sizeof(WCHAR));
            break;
        }
    RtlLeaveCriticalSection(&lock);
    if (n || !(n = handle_name(h, out))) return n;
    RtlEnterCriticalSection(&lock);
    i = roots_next++ % ROOTS_CACHED;
    hfree(roots_cache[i].name);
    if ((roots_cache[i].name = hmalloc((n + 1) * sizeof(WCHAR)))) {
        memcpy(roots_cache[i].name, out, (n + 1) * sizeof(WCHAR));
        roots_cache[i].h = h;
        roots_cache[i].n = n;
    }
    RtlLeaveCriticalSection(&lock);
    return n;
}

/* CurrentControlSet is a registry link: one name for a key, resolved here so that a VM
   has one copy of it whatever the spelling. */
static void resolve_ccs(key_name *k)
{
    size_t p = wcslen(ccs_name), c = wcslen(ccs);
    if (!_wcsicmp(ccs, ccs_name) || !starts_with(k->full, k->full_len, ccs_name)) return;
    if (k->full_len - p + c >= NAME_MAX_CHARS) return;
    memmove(k->full + c, k->full + p, (k->full_len - p) * sizeof(WCHAR));
    memcpy(k->full, ccs, c * sizeof(WCHAR));
    k->full_len = (USHORT)(k->full_len - p + c);
    k->full[k->full_len] = 0;
}

/* The absolute name: RootDirectory's name (asked of the system) + "\" + ObjectName.
   0 on success, else the status the caller gets. */
static NTSTATUS absolute_name(const OBJECT_ATTRIBUTES *in, key_name *k)
{
    USHORT n = in->ObjectName ? in->ObjectName->Length / sizeof(WCHAR) : 0, i, comp = 0;
    const WCHAR *s = in->ObjectName ? in->ObjectName->Buffer : NULL;
    k->full_len = 0;
    if (in->RootDirectory) {
        if (!(k->full_len = root_name(in->RootDirectory, k->full))) return 1; /* not a key: the system decides */
        if (n) k->full[k->full_len++] = L'\\';
    }
    if (k->full_len + n >= NAME_MAX_CHARS) return ST_INVALID_PARAMETER;
    if (n) memcpy(k->full + k->full_len, s, n * sizeof(WCHAR));
    k->full_len += n;
    /* a trailing backslash names the same key */
    while (k->full_len > 1 && k->full[k->full_len - 1] == L'\\') k->full_len--;
    k->full[k->full_len] = 0;
    if (!starts_with(k->full, k->full_len, L"\\REGISTRY")) return 1;
    for (i = 1; i <= k->full_len; i++) {
        if (i == k->full_len || k->full[i] == L'\\') {
            if (comp == 0) return ST_OBJECT_NAME_INVALID; /* "a\\b" */
            if (comp > COMPONENT_MAX) return ST_INVALID_PARAMETER;
            comp = 0;
        } else {
            comp++;
        }
    }
    resolve_ccs(k);
    return 0;
}

/* Where "\REGISTRY\MACHINE\SYSTEM\<controlset>\Services\" ends in s, or 0. */
static size_t services_prefix(const WCHAR *s, USHORT n)
{
    static const WCHAR sys[] = L"\\REGISTRY\\MACHINE\\SYSTEM\\";
    size_t i = wcslen(sys), cs;
    if (n <= i || _wcsnicmp(s, sys, i)) return 0;
    if (!_wcsnicmp(s + i, L"CurrentControlSet\\", 18))
        cs = 18;
    else if (!_wcsnicmp(s + i, L"ControlSet", 10) && n > i + 14 && iswdigit(s[i + 10]) && iswdigit(s[i + 11]) && iswdigit(s[i + 12]) &&
             s[i + 13] == L'\\')
        cs = 14;
    else
        return 0;
    i += cs;
    if (n <= i + 9 || _wcsnicmp(s + i, L"Services\\", 9)) return 0;
    return i + 9;
}

/* dup's copies of Services\NAME and Svchost: 1 and k->target set, or 0. */
static int dup_copy(key_name *k)
{
    size_t svc, end, base;
    int n;
    if ((svc = services_prefix(k->full, k->full_len))) {
        for (end = svc; end < k->full_len && k->full[end] != L'\\'; end++)
            ;
        n = _snwprintf(k->target, NAME_MAX_CHARS, L"%ls\\Services\\%.*ls", vm_area, (int)(end - svc), k->full + svc);
        if (n < 0) return 0;
        base = (size_t)n;
        if (!key_exists(k->target)) return 0; /* not duplicated here */
    } else if (starts_with(k->full, k->full_len, svchost)) {
        end = wcslen(svchost);
        n = _snwprintf(k->target, NAME_MAX_CHARS, L"%ls\\Svchost", vm_area);
        if (n < 0) return 0;
        base = (size_t)n;
        if (!key_exists(k->target)) return 0;
    } else {
        return 0;
    }
    if (base + (k->full_len - end) >= NAME_MAX_CHARS) return 0;
    memcpy(k->target + base, k->full + end, (k->full_len - end) * sizeof(WCHAR));
    k->target[base + k->full_len - end] = 0;
    return 1;
}

/* The policy for a logical key name: P_COW (default), P_OPEN, P_CLOSED or P_PRIVATE.
   Rules name keys HKLM\..., HKU\<sid>\... or HKCU\... (any user's hive). */
static int key_policy(const WCHAR *full, USHORT n)
{
    WCHAR buf[NAME_MAX_CHARS + 8];
    int p, q;
    USHORT m;
    if (starts_with(full, n, L"\\REGISTRY\\MACHINE")) {
        m = (USHORT)swprintf(buf, NAME_MAX_CHARS + 8, L"HKLM%.*ls", n - 17, full + 17);
        p = policy_decide(K_KEY, buf, m);
    } else if (starts_with(full, n, L"\\REGISTRY\\USER")) {
        const WCHAR *rest;
        m = (USHORT)swprintf(buf, NAME_MAX_CHARS + 8, L"HKU%.*ls", n - 14, full + 14);
        p = policy_decide(K_KEY, buf, m);
        if (p == P_CLOSED) return P_CLOSED;
        rest = n > 15 ? wcschr(full + 15, L'\\') : NULL; /* after the SID */
        m = rest ? (USHORT)swprintf(buf, NAME_MAX_CHARS + 8, L"HKCU%.*ls", (int)(n - (rest - full)), rest)
                 : (USHORT)swprintf(buf, 8, L"HKCU");
        q = policy_decide(K_KEY, buf, m);
        if (q == P_CLOSED || q == P_PRIVATE || p == P_RENAME || p == P_COW) p = q;
    } else {
        return P_OPEN; /* \REGISTRY itself, or a root a VM cannot change anyway */
    }
    return p == P_RENAME ? P_COW : p;
}

/* The copy's name of a logical name: cow_root + "\" + what follows "\REGISTRY\". */
static USHORT copy_name(const WCHAR *full, USHORT n, WCHAR *out)
{
    if (n <= 10 || cow_root_len + n - 9 >= NAME_MAX_CHARS) return 0;
    memcpy(out, cow_root, cow_root_len * sizeof(WCHAR));
    out[cow_root_len] = L'\\';
    memcpy(out + cow_root_len + 1, full + 10, (n - 10) * sizeof(WCHAR));
    out[cow_root_len + n - 9] = 0;
    return cow_root_len + n - 9;
}

static int is_copy_name(const WCHAR *s, USHORT n) { return cow_root_len && starts_with(s, n, cow_root); }

static USHORT parent_len(const WCHAR *s, USHORT n)
{
    while (n && s[n - 1] != L'\\') n--;
    return n ? n - 1 : 0;
}

/* Number of components of "\REGISTRY\MACHINE\X": the hives are level 2. */
static int level(const WCHAR *s, USHORT n)
{
    int l = 0;
    USHORT i;
    for (i = 0; i < n; i++) l += s[i] == L'\\';
    return l;
}

/* State of a logical key in this VM. */
typedef struct {
    int copy;        /* 1: a live copy exists, -1: a tombstone, 0: none */
    int host_hidden; /* the host's key is not part of the VM's view */
} key_state;

static void lookup(const WCHAR *full, USHORT n, int policy, key_state *s)
{
    WCHAR c[NAME_MAX_CHARS];
    USHORT cn = copy_name(full, n, c), top = cow_root_len + 1;
    int m;
    LONG gen;
    s->copy = 0;
    s->host_hidden = policy == P_PRIVATE;
    if (!cn) return;
    /* a missing key remembered above it (reg_cache.c): the walk would end there, at a copy
       with no marker, so its answer is the one already set */
    if (reg_cache_absent(c, cn, top, gen = reg_cache_gen())) return;
    /* Every ancestor of a copy exists: walking down from the hive's copy, each step
       relative to the last, stops at the first missing one. The deepest copy found is the
       key's own (its state) or an ancestor's (whether the host shows through here). */
    {
        HANDLE last = NULL, next;
        USHORT i, start;
        NTSTATUS st;
        int whole = 1;
        for (i = top; i < cn && c[i] != L'\\'; i++)
            ;                                                    /* the hive: MACHINE or USER */
        if ((st = raw_open(&last, c, i, KEY_QUERY_VALUE)) < 0) { /* nothing copied in this hive */
            if (st == ST_OBJECT_NAME_NOT_FOUND) reg_cache_put(c, i, gen);
            return;
        }
        for (start = i + 1, i = start; start < cn && i <= cn; i++) {
            UNICODE_STRING us;
            OBJECT_ATTRIBUTES oa;
            if (i < cn && c[i] != L'\\') continue;
            init_oa(&oa, &us, c + start, i - start, last);
            if ((st = o_NtOpenKey(&next, KEY_QUERY_VALUE, &oa)) < 0) {
                whole = 0;
                break;
            }
            o_NtClose(last);
            last = next;
            start = i + 1;
        }
        m = marker_of(last);
        o_NtClose(last);
        if (whole) s->copy = m == M_IS_DELETED ? -1 : 1;
        if (m) s->host_hidden = 1;
        /* remembered only below a plain copy: a tombstone or an opaque copy above decides
           host_hidden, and a missing key has no key (no marker) below it */
        else if (!whole && st == ST_OBJECT_NAME_NOT_FOUND)
            reg_cache_put(c, i, gen);
    }
}

/* Create the chain of keys of an absolute name, each from its parent; h open on the last. */
static NTSTATUS create_chain(HANDLE *h, const WCHAR *name, USHORT n)
{
    USHORT i, start = 0;
    HANDLE parent = NULL, k;
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    NTSTATUS st;
    /* "\REGISTRY\MACHINE" can be opened, not created: start below it */
    for (i = 1; i < n && level(name, i + 1) <= 2; i++)
        ;
    if ((st = raw_open(&parent, name, i, KEY_CREATE_SUB_KEY)) < 0) return st;
    start = i + 1;
    for (i = start; i <= n; i++) {
        if (i < n && name[i] != L'\\') continue;
        init_oa(&oa, &us, name + start, i - start, parent);
        st = o_NtCreateKey(&k, KEY_ALL_ACCESS, &oa, 0, NULL, 0, NULL);
        reg_cache_changed(); /* after each: a key made, though a later one fail */
        o_NtClose(parent);
        if (st < 0) return st;
        parent = k;
        start = i + 1;
    }
    *h = parent;
    return 0;
}

static NTSTATUS create_under(HANDLE *h, HANDLE parent, const WCHAR *name, USHORT n, const WCHAR *cls, USHORT cls_chars, ULONG options,
                             ULONG *disp)
{
    UNICODE_STRING us, cu;
    OBJECT_ATTRIBUTES oa;
    NTSTATUS st;
    init_oa(&oa, &us, name, n, parent);
    cu.Buffer = (WCHAR *)cls;
    cu.Length = cu.MaximumLength = (USHORT)(cls_chars * sizeof(WCHAR));
    st = o_NtCreateKey(h, KEY_ALL_ACCESS, &oa, 0, cls_chars ? &cu : NULL, options & OPT_VOLATILE, disp);
    if (st == ST_CHILD_MUST_BE_VOLATILE) st = o_NtCreateKey(h, KEY_ALL_ACCESS, &oa, 0, cls_chars ? &cu : NULL, OPT_VOLATILE, disp);
    reg_cache_changed(); /* a copy, a new key or a tombstone made */
    return st;
}

/* Copy every value of key from to key to. */
static NTSTATUS copy_values(HANDLE from, HANDLE to)
{
    ULONG i, size = 4096, ret;
    KVFULL *v = hmalloc(size);
    NTSTATUS st = 0;
    if (!v) return ST_NO_MEMORY;
    for (i = 0;;) {
        UNICODE_STRING name;
        st = NtEnumerateValueKey(from, i, KeyValueFullInformation, v, size, &ret);
        if (st == ST_BUFFER_OVERFLOW || st == ST_BUFFER_TOO_SMALL) {
            hfree(v);
            if (!(v = hmalloc(size = ret + 64))) return ST_NO_MEMORY;
            continue;
        }
        if (st == ST_NO_MORE_ENTRIES) {
            st = 0;
            break;
        }
        if (st < 0) break;
        name.Buffer = v->name;
        name.Length = name.MaximumLength = (USHORT)v->name_len;
        if ((st = o_NtSetValueKey(to, &name, v->title, v->type, (BYTE *)v + v->data_off, v->data_len)) < 0) break;
        i++;
    }
    hfree(v);
    return st;
}

/* The VM's copy of a logical key, made (with its ancestors) if need be: *h open with
   KEY_ALL_ACCESS. Fails with OBJECT_NAME_NOT_FOUND when the key is not in the VM's view. */
static NTSTATUS ensure_copy(HANDLE *h, const WCHAR *full, USHORT n)
{
    WCHAR c[NAME_MAX_CHARS], host[NAME_MAX_CHARS];
    USHORT cn = copy_name(full, n, c), hn = n, i;
    HANDLE parent = NULL, hk;
    NTSTATUS st;
    int m = M_NONE;
    if (!cn) return ST_INVALID_PARAMETER;
    memcpy(host, full, n * sizeof(WCHAR));
    host[n] = 0;
    /* the deepest copy that exists */
    for (;;) {
        if (raw_open(&parent, c, cn, KEY_ALL_ACCESS) >= 0) {
            m = marker_of(parent);
            break;
        }
        if (level(host, hn) <= 2) { /* the hive's copy: nothing to copy from \REGISTRY\MACHINE or \REGISTRY\USER */
            if ((st = create_chain(&parent, c, cn)) < 0) return st;
            break;
        }
        cn = parent_len(c, cn);
        hn = parent_len(host, hn);
    }
    if (m == M_IS_DELETED) {
        o_NtClose(parent);
        return ST_OBJECT_NAME_NOT_FOUND;
    }
    /* down to the key: each one copied from the host's, which must show through */
    while (hn < n) {
        USHORT start = hn + 1, cls_chars = 0;
        union {
            KFULL f;
            BYTE b[512];
        } fi;
        WCHAR last[COMPONENT_MAX + 1];
        struct {
            ULONG len;
            WCHAR name[NAME_MAX_CHARS];
        } ni;
        ULONG ret, disp = 0;
        const WCHAR *cls = NULL;
        int hidden = m != M_NONE;
        for (i = start; i < n && full[i] != L'\\'; i++)
            ;
        hn = i;
        if (hidden || key_policy(full, hn) == P_PRIVATE || raw_open(&hk, full, hn, RD) < 0) {
            o_NtClose(parent);
            return ST_OBJECT_NAME_NOT_FOUND;
        }
        /* the copy takes the host's spelling of the name and its class */
        memcpy(last, full + start, (hn - start) * sizeof(WCHAR));
        last[hn - start] = 0;
        if (o_NtQueryKey(hk, KeyNameInformation, &ni, sizeof ni - sizeof(WCHAR), &ret) >= 0) {
            USHORT nl = (USHORT)(ni.len / sizeof(WCHAR)), p = parent_len(ni.name, nl);
            if (nl - p - 1 == hn - start) memcpy(last, ni.name + p + 1, (hn - start) * sizeof(WCHAR));
        }
        if (o_NtQueryKey(hk, KeyFullInformation, &fi, sizeof fi, &ret) >= 0 && fi.f.class_len &&
            fi.f.class_off + fi.f.class_len <= sizeof fi) {
            cls = (WCHAR *)(fi.b + fi.f.class_off);
            cls_chars = (USHORT)(fi.f.class_len / sizeof(WCHAR));
        }
        st = create_under(h, parent, last, hn - start, cls, cls_chars, 0, &disp);
        o_NtClose(parent);
        if (st < 0) {
            o_NtClose(hk);
            return st;
        }
        if (disp == REG_CREATED) st = copy_values(hk, *h);
        o_NtClose(hk);
        if (st < 0) {
            if (disp == REG_CREATED) {
                o_NtDeleteKey(*h);
                o_NtClose(*h);
                reg_cache_changed();
            } /* nothing half-copied */
            return st;
        }
        parent = *h;
    }
    *h = parent;
    return 0;
}

/* Delete every key below an open copy (only tombstones are left there when the VM deletes a key). */
static void delete_children(HANDLE h)
{
    union {
        KBASIC b;
        BYTE buf[600];
    } u;
    ULONG ret;
    while (o_NtEnumerateKey(h, 0, KeyBasicInformation, &u, sizeof u, &ret) >= 0) {
        HANDLE c;
        UNICODE_STRING us;
        OBJECT_ATTRIBUTES oa;
        init_oa(&oa, &us, u.b.name, (USHORT)(u.b.name_len / sizeof(WCHAR)), h);
        if (o_NtOpenKey(&c, KEY_ALL_ACCESS, &oa) < 0) return;
        delete_children(c);
        if (o_NtDeleteKey(c) < 0) {
            o_NtClose(c);
            return;
        }
        reg_cache_changed();
        o_NtClose(c);
    }
}

/* Open (create = 0) or create a logical key in the copy-on-write view. */
static NTSTATUS cow_open(HANDLE *h, ACCESS_MASK a, key_name *k, int policy, int create, UNICODE_STRING *cls, ULONG options, ULONG *disp)
{
    key_state s;
    WCHAR c[NAME_MAX_CHARS];
    USHORT cn = copy_name(k->full, k->full_len, c), pl;
    HANDLE parent, hk;
    NTSTATUS st;
    ULONG d;
    int links = 0;
    if (!cn) return ST_INVALID_PARAMETER;
again:
    lookup(k->full, k->full_len, policy, &s);
    if (s.copy > 0) {
        if (disp) *disp = REG_OPENED;
        return raw_open(h, c, cn, a);
    }
    if (!s.host_hidden && s.copy == 0) {
        int reading = !(a & WRITE_BITS);
        if ((st = raw_open(&hk, k->full, k->full_len, reading ? a : RD)) >= 0) {
            /* a host key: reads go to it, the first write access copies it up */
            HANDLE copy;
            WCHAR real[NAME_MAX_CHARS];
            USHORT rn = handle_name(hk, real);
            if (!rn && reading) { /* the caller's access may not allow asking the name: ours does */
                o_NtClose(hk);
                if ((st = raw_open(&hk, k->full, k->full_len, RD)) < 0) return st;
                rn = handle_name(hk, real);
                reading = 0; /* checked below, then opened again with the caller's access */
            }
            if (rn && starts_with(real, rn, svcdup_area)) {
                o_NtClose(hk);
                return ST_ACCESS_DENIED;
            } /* a link into svcdup's area */
            if (reading && !(rn && (rn != k->full_len || _wcsnicmp(real, k->full, rn)))) {
                if (disp) *disp = REG_OPENED;
                *h = hk;
                return 0;
            }
            o_NtClose(hk);
            if (rn && (rn != k->full_len || _wcsnicmp(real, k->full, rn)) && !links++ && level(real, rn) >= 2) {
                /* a registry link on the way: the VM's copy is the target's, whatever name reached it */
                memcpy(k->full, real, (rn + 1) * sizeof(WCHAR));
                k->full_len = rn;
                if ((policy = key_policy(k->full, rn)) == P_CLOSED) return ST_ACCESS_DENIED;
                if (policy == P_OPEN) return raw_open(h, k->full, k->full_len, a);
                if (!(cn = copy_name(k->full, k->full_len, c))) return ST_INVALID_PARAMETER;
                goto again;
            }
            if (disp) *disp = REG_OPENED;
            if (!(a & WRITE_BITS)) return raw_open(h, k->full, k->full_len, a);
            if ((st = ensure_copy(&copy, k->full, k->full_len)) < 0) return st;
            o_NtClose(copy);
            return raw_open(h, c, cn, a);
        }
        if (st != ST_OBJECT_NAME_NOT_FOUND) return st;
    }
    if (!create) return ST_OBJECT_NAME_NOT_FOUND;
    /* a new key: its parent must be in the VM's view; it is made in the copy, opaque
       where the host's key is hidden (re-created after a deletion, or private) */
    pl = parent_len(k->full, k->full_len);
    if (level(k->full, pl) < 2) return ST_ACCESS_DENIED;
    if ((st = ensure_copy(&parent, k->full, pl)) < 0) return st;
    if (s.copy < 0) { /* the tombstone goes: the new key takes its place */
        if (raw_open(&hk, c, cn, KEY_ALL_ACCESS) >= 0) {
            delete_children(hk);
            o_NtDeleteKey(hk);
            o_NtClose(hk);
            reg_cache_changed();
        }
    }
    if (s.host_hidden || s.copy < 0 || marker_of(parent) == M_IS_OPAQUE)
        st = create_under(&hk, parent, k->full + pl + 1, k->full_len - pl - 1, M_OPAQUE, (USHORT)wcslen(M_OPAQUE), options, &d);
    else
        st = create_under(&hk, parent, k->full + pl + 1, k->full_len - pl - 1, cls ? cls->Buffer : NULL,
                          cls ? cls->Length / sizeof(WCHAR) : 0, options, &d);
    o_NtClose(parent);
    if (st < 0) return st;
    o_NtClose(hk);
    if (disp) *disp = REG_CREATED;
    return raw_open(h, c, cn, a);
}

/* 1: k->oa names what to open instead (dup's copy); 0: pass; -1: deny; 2: copy-on-write;
   anything else: that status. */
static NTSTATUS resolve(const OBJECT_ATTRIBUTES *in, key_name *k, int *policy)
{
    NTSTATUS st;
    if (!in || !in->ObjectName) return 0;
    if ((st = absolute_name(in, k)) == 1) return 0;
    if (st) return st;
    if (starts_with(k->full, k->full_len, svcdup_area)) return -1;
    if (dup_copy(k)) {
        RtlInitUnicodeString(&k->target_us, k->target);
        InitializeObjectAttributes(&k->oa, &k->target_us, in->Attributes & ~ATTR_OPENLINK, NULL, in->SecurityDescriptor);
        return 1;
    }
    *policy = key_policy(k->full, k->full_len);
    if (*policy == P_CLOSED) return -1;
    /* the resolved name, for opens that go to the host as they are */
    memcpy(k->target, k->full, (k->full_len + 1) * sizeof(WCHAR));
    RtlInitUnicodeString(&k->target_us, k->target);
    InitializeObjectAttributes(&k->oa, &k->target_us, in->Attributes, NULL, in->SecurityDescriptor);
    if (*policy == P_OPEN) return 1;
    return 2;
}

static void trace(const char *call, const key_name *k, int r)
{
    UNICODE_STRING used;
    RtlInitUnicodeString(&used, k->full);
    trace_decision(call, &used, r > 0 ? &k->target_us : NULL, r > 0 ? V_RENAMED : V_DENIED);
}

/* Open or create, whichever call the caller made. */
static NTSTATUS open_any(const char *call, HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG options, int create, int ex,
                         UNICODE_STRING *cls, ULONG index, ULONG *disp)
{
    key_name *k = hmalloc(sizeof *k);
    int policy = P_COW;
    NTSTATUS st, r;
    if (!k) return ST_NO_MEMORY;
    r = resolve(oa, k, &policy);
    if (r == 1 || r == -1) trace(call, k, r);
    if (r == -1)
        st = ST_ACCESS_DENIED;
    else if (r < 0)
        st = r; /* a bad name: its status, nothing made */
    else if (create && (options & OPT_CREATE_LINK))
        st = ST_ACCESS_DENIED; /* no registry links from a VM */
    else if (r == 2 && ((options & OPT_OPEN_LINK) || (oa->Attributes & ATTR_OPENLINK)) && (a & WRITE_BITS))
        st = ST_ACCESS_DENIED; /* a host link is not the VM's to change */
    else if (r == 2)
        st = cow_open(h, a, k, policy, create, cls, options, disp);
    else {
        OBJECT_ATTRIBUTES *use = r == 1 ? &k->oa : oa;
        st = create ? o_NtCreateKey(h, a, use, index, cls, options, disp) : ex ? o_NtOpenKeyEx(h, a, use, options) : o_NtOpenKey(h, a, use);
        if (st >= 0 && r == 1) {
            WCHAR real[NAME_MAX_CHARS];
            USHORT rn = handle_name(*h, real);
            /* an open key must not be a link into svcdup's area (another VM's copies) */
            if (rn && starts_with(real, rn, svcdup_area) && !starts_with(real, rn, vm_area)) {
                o_NtClose(*h);
                *h = NULL;
                st = ST_ACCESS_DENIED;
            }
        }
    }
    hfree(k);
    return st;
}

static NTSTATUS NTAPI d_NtOpenKey(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa)
{
    return open_any("NtOpenKey", h, a, oa, 0, 0, 0, NULL, 0, NULL);
}

static NTSTATUS NTAPI d_NtOpenKeyEx(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG options)
{
    return open_any("NtOpenKeyEx", h, a, oa, options, 0, 1, NULL, 0, NULL);
}

static NTSTATUS NTAPI d_NtCreateKey(HANDLE *h, ACCESS_MASK a, OBJECT_ATTRIBUTES *oa, ULONG index, UNICODE_STRING *cls, ULONG options,
                                    ULONG *disposition)
{
    if (keyguard_refuse_create(oa, options)) return ST_ACCESS_DENIED; /* keyguard.c: no registry links from a VM */
    return open_any("NtCreateKey", h, a, oa, options, 1, 0, cls, index, disposition);
}

/* ---- the merged view of subkeys ---- */

typedef struct {
    UNICODE_STRING name; /* points into node */
    int from_copy, marker;
    KNODE *node;
    ULONG size;
} entry;

typedef struct {
    HANDLE h;
    ULONG n;
    entry *e;
    ULONG max_name;
} merged;

static merged cache; /* the last list built, for enumeration by index */

static void free_list(merged *m)
{
    ULONG i;
    for (i = 0; i < m->n; i++) hfree(m->e[i].node);
    hfree(m->e);
    m->e = NULL;
    m->n = 0;
    m->h = NULL;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    LONG c = RtlCompareUnicodeString(&x->name, &y->name, TRUE);
    return c ? (int)c : y->from_copy - x->from_copy; /* the copy's entry first */
}

static NTSTATUS add_side(merged *m, ULONG *cap, HANDLE h, int from_copy, const WCHAR *logical, USHORT ln)
{
    ULONG i, ret, size;
    NTSTATUS st;
    for (i = 0;; i++) {
        KNODE *node;
        size = 512;
        for (;;) {
            if (!(node = hmalloc(size))) return ST_NO_MEMORY;
            st = o_NtEnumerateKey(h, i, KeyNodeInformation, node, size, &ret);
            if (st != ST_BUFFER_OVERFLOW && st != ST_BUFFER_TOO_SMALL) break;
            hfree(node);
            size = ret + 16;
        }
        if (st == ST_NO_MORE_ENTRIES) {
            hfree(node);
            return 0;
        }
        if (st < 0) {
            hfree(node);
            return st;
        }
        if (!from_copy && has_private && ln + 1 + node->name_len / sizeof(WCHAR) < NAME_MAX_CHARS) {
            /* a private key of the host's is not in the VM's view */
            WCHAR full[NAME_MAX_CHARS];
            USHORT fl = ln;
            memcpy(full, logical, ln * sizeof(WCHAR));
            full[fl++] = L'\\';
            memcpy(full + fl, node->name, node->name_len);
            fl += (USHORT)(node->name_len / sizeof(WCHAR));
            if (key_policy(full, fl) == P_PRIVATE) {
                hfree(node);
                continue;
            }
        }
        if (m->n == *cap) {
            entry *ne = hmalloc(sizeof(entry) * (*cap = *cap ? *cap * 2 : 64));
            if (!ne) {
                hfree(node);
                return ST_NO_MEMORY;
            }
            if (m->e) {
                memcpy(ne, m->e, sizeof(entry) * m->n);
                hfree(m->e);
            }
            m->e = ne;
        }
        m->e[m->n].node = node;
        m->e[m->n].size = size;
        m->e[m->n].name.Buffer = node->name;
        m->e[m->n].name.Length = m->e[m->n].name.MaximumLength = (USHORT)node->name_len;
        m->e[m->n].from_copy = from_copy;
        m->e[m->n].marker = M_NONE;
        if (from_copy && node->class_len && node->class_off + node->class_len <= size) {
            WCHAR *c = (WCHAR *)((BYTE *)node + node->class_off);
            if (node->class_len == wcslen(M_DELETED) * sizeof(WCHAR) && !memcmp(c, M_DELETED, node->class_len))
                m->e[m->n].marker = M_IS_DELETED;
            if (node->class_len == wcslen(M_OPAQUE) * sizeof(WCHAR) && !memcmp(c, M_OPAQUE, node->class_len))
                m->e[m->n].marker = M_IS_OPAQUE;
        }
        m->n++;
    }
}

/* Is h a key whose subkeys the VM sees merged? Then *copy and *host are its two sides
   (either may be NULL; the caller closes what is not h) and 1 is returned. */
static int sides(HANDLE h, WCHAR *logical, USHORT *ln, HANDLE *copy, HANDLE *host)
{
    USHORT n;
    int policy;
    WCHAR c[NAME_MAX_CHARS];
    USHORT cn;
    *copy = *host = NULL;
    /* the real name first, turned into the logical one in place when h is a copy */
    if (!cow_root_len || !(n = real_name(h, logical))) return 0;
    if (is_copy_name(logical, n)) {
        if (marker_of(h)) return 0; /* opaque: the copy is the whole truth */
        n = to_logical(logical, n);
        logical[n] = 0;
        *ln = n;
        if (key_policy(logical, n) == P_PRIVATE) return 0;
        *copy = h;
        if (raw_open(host, logical, n, RD) < 0) *host = NULL;
        return 1;
    }
    if (starts_with(logical, n, svcdup_area)) return 0;
    *ln = n;
    policy = key_policy(logical, n);
    if (policy == P_OPEN || policy == P_CLOSED) return 0;
    if (!(cn = copy_name(logical, n, c)) || reg_cache_absent(c, cn, cow_root_len + 1, reg_cache_gen()) || raw_open(copy, c, cn, RD) < 0) {
        *copy = NULL;
        if (!has_private) return 0; /* never copied: the host's view */
    }
    *host = h;
    return 1;
}

/* Build the merged list of h's subkeys into m; 0: h is not merged (native answers). */
static int build(HANDLE h, merged *m, NTSTATUS *st)
{
    WCHAR logical[NAME_MAX_CHARS];
    USHORT ln;
    HANDLE copy, host;
    ULONG cap = 0, i, j;
    if (!sides(h, logical, &ln, &copy, &host)) return 0;
    memset(m, 0, sizeof *m);
    *st = 0;
    if (copy) *st = add_side(m, &cap, copy, 1, logical, ln);
    if (*st >= 0 && host) *st = add_side(m, &cap, host, 0, logical, ln);
    if (copy && copy != h) o_NtClose(copy);
    if (host && host != h) o_NtClose(host);
    if (*st < 0) {
        free_list(m);
        return 1;
    }
    qsort(m->e, m->n, sizeof(entry), cmp_entry);
    /* one entry a name: the copy's wins; a tombstone hides it */
    for (i = j = 0; i < m->n; i++) {
        if (j && !RtlCompareUnicodeString(&m->e[i].name, &m->e[j - 1].name, TRUE)) {
            hfree(m->e[i].node);
            continue;
        }
        m->e[j++] = m->e[i];
    }
    m->n = j;
    for (i = j = 0; i < m->n; i++) {
        if (m->e[i].marker == M_IS_DELETED) {
            hfree(m->e[i].node);
            continue;
        }
        if (m->e[i].name.Length > m->max_name) m->max_name = m->e[i].name.Length;
        m->e[j++] = m->e[i];
    }
    m->n = j;
    m->h = h;
    return 1;
}

static NTSTATUS NTAPI d_NtQueryKey(HANDLE h, int cls, void *buf, ULONG len, ULONG *ret)
{
    NTSTATUS st = o_NtQueryKey(h, cls, buf, len, ret), bst;
    if (st < 0 && st != ST_BUFFER_OVERFLOW) return st;
    if (cls == KeyNameInformation && len >= 4) {
        ULONG *n = buf;
        if (*n <= len - 4) {
            USHORT nn = to_logical((WCHAR *)(n + 1), (USHORT)(*n / sizeof(WCHAR)));
            if (ret && st >= 0) *ret -= *n - nn * sizeof(WCHAR);
            *n = nn * sizeof(WCHAR);
        }
    } else if ((cls == KeyFullInformation && len >= sizeof(KFULL) - sizeof(WCHAR)) ||
               (cls == KeyCachedInformation && len >= sizeof(KCACHED))) {
        merged m;
        if (cls == KeyFullInformation) {
            KFULL *f = buf;
            if (marker_of(h)) f->class_len = 0;
        }
        if (build(h, &m, &bst) && bst >= 0) {
            if (cls == KeyFullInformation) {
                ((KFULL *)buf)->subkeys = m.n;
                ((KFULL *)buf)->max_name = m.max_name;
            } else {
                ((KCACHED *)buf)->subkeys = m.n;
                ((KCACHED *)buf)->max_name = m.max_name;
            }
            free_list(&m);
        }
    }
    return st;
}

/* Fill a Basic or Node answer from an entry. */
static NTSTATUS answer(const entry *e, int cls, void *buf, ULONG len, ULONG *ret)
{
    BYTE *tmp;
    ULONG need, fixed;
    KNODE *n = e->node;
    ULONG class_len = e->marker ? 0 : n->class_len;
    NTSTATUS st;
    if (!(tmp = hmalloc(sizeof(KNODE) + n->name_len + class_len))) return ST_NO_MEMORY;
    if (cls == KeyBasicInformation) {
        KBASIC *b = (KBASIC *)tmp;
        fixed = offsetof(KBASIC, name);
        need = fixed + n->name_len;
        b->t = n->t;
        b->title = n->title;
        b->name_len = n->name_len;
        memcpy(b->name, n->name, n->name_len);
    } else {
        KNODE *o = (KNODE *)tmp;
        fixed = offsetof(KNODE, name);
        need = fixed + n->name_len + class_len;
        o->t = n->t;
        o->title = n->title;
        o->name_len = n->name_len;
        o->class_off = class_len ? fixed + n->name_len : 0xffffffff;
        o->class_len = class_len;
        memcpy(o->name, n->name, n->name_len);
        if (class_len) memcpy(tmp + fixed + n->name_len, (BYTE *)n + n->class_off, class_len);
    }
    if (ret) *ret = need;
    if (len < fixed)
        st = ST_BUFFER_TOO_SMALL;
    else {
        memcpy(buf, tmp, len < need ? len : need);
        st = len < need ? ST_BUFFER_OVERFLOW : 0;
    }
    hfree(tmp);
    return st;
}

static NTSTATUS NTAPI d_NtEnumerateKey(HANDLE h, ULONG index, int cls, void *buf, ULONG len, ULONG *ret)
{
    NTSTATUS st = 0;
    merged fresh;
    entry e;
    KNODE *node = NULL;
    RtlEnterCriticalSection(&lock);
    if (index == 0 || cache.h != h) {
        free_list(&cache);
        if (!build(h, &fresh, &st)) {
            RtlLeaveCriticalSection(&lock);
            return o_NtEnumerateKey(h, index, cls, buf, len, ret);
        }
        if (st < 0) {
            RtlLeaveCriticalSection(&lock);
            return st;
        }
        cache = fresh;
    }
    if (index >= cache.n) {
        RtlLeaveCriticalSection(&lock);
        return ST_NO_MORE_ENTRIES;
    }
    e = cache.e[index];
    if ((node = hmalloc(e.size))) memcpy(node, e.node, e.size);
    RtlLeaveCriticalSection(&lock);
    if (!node) return ST_NO_MEMORY;
    e.node = node;
    if (cls == KeyBasicInformation || cls == KeyNodeInformation) {
        st = answer(&e, cls, buf, len, ret);
    } else {
        /* other classes: ask the subkey itself, through the VM's view */
        UNICODE_STRING us;
        OBJECT_ATTRIBUTES oa;
        HANDLE sub;
        init_oa(&oa, &us, node->name, (USHORT)(node->name_len / sizeof(WCHAR)), h);
        if ((st = d_NtOpenKey(&sub, KEY_QUERY_VALUE | KEY_ENUMERATE_SUB_KEYS, &oa)) >= 0) {
            st = d_NtQueryKey(sub, cls, buf, len, ret);
            o_NtClose(sub);
        }
    }
    hfree(node);
    return st;
}

/* Deleting a key of the VM's view: its copy goes; a tombstone stays where the host has the key.
   The caller's handle may hold DELETE only: the work is done on a handle of our own. */
static NTSTATUS NTAPI d_NtDeleteKey(HANDLE h)
{
    struct {
        ULONG len;
        WCHAR name[NAME_MAX_CHARS];
    } info;
    WCHAR logical[NAME_MAX_CHARS], c[NAME_MAX_CHARS];
    USHORT ln, cn, pl;
    HANDLE work, host = NULL, parent, tomb;
    merged m;
    NTSTATUS st = 0;
    int tombstone, marker;
    ULONG d, ret;
    if (!cow_root_len || o_NtQueryKey(h, KeyNameInformation, &info, sizeof info - sizeof(WCHAR), &ret) < 0 ||
        !is_copy_name(info.name, (USHORT)(info.len / sizeof(WCHAR))))
        /* not a copy: a host key goes only where a rule opens it (a read-only handle's rights
           may have been widened some other way), dup's own copies under VMs\<vm> as they are */
        return registry_may_change(h) ? o_NtDeleteKey(h) : ST_ACCESS_DENIED;
    cn = (USHORT)(info.len / sizeof(WCHAR));
    memcpy(c, info.name, cn * sizeof(WCHAR));
    c[cn] = 0;
    ln = to_logical(info.name, cn);
    memcpy(logical, info.name, ln * sizeof(WCHAR));
    logical[ln] = 0;
    if (raw_open(&work, c, cn, KEY_ALL_ACCESS) < 0) {
        st = o_NtDeleteKey(h);
        reg_cache_changed();
        return st;
    }
    marker = marker_of(work);
    if (build(work, &m, &st)) {
        ULONG n = m.n;
        free_list(&m);
        if (st >= 0 && n) st = ST_ACCESS_DENIED; /* what Windows says of a key with subkeys */
    } else if (marker) {
        union {
            KBASIC b;
            BYTE buf[600];
        } u;
        ULONG i;
        /* opaque: only tombstones below may remain */
        for (i = 0; o_NtEnumerateKey(work, i, KeyBasicInformation, &u, sizeof u, &ret) >= 0; i++) {
            HANDLE sub;
            UNICODE_STRING us;
            OBJECT_ATTRIBUTES oa;
            init_oa(&oa, &us, u.b.name, (USHORT)(u.b.name_len / sizeof(WCHAR)), work);
            if (o_NtOpenKey(&sub, KEY_QUERY_VALUE, &oa) < 0) continue;
            if (marker_of(sub) != M_IS_DELETED) st = ST_ACCESS_DENIED;
            o_NtClose(sub);
        }
    }
    if (st < 0) {
        o_NtClose(work);
        return st;
    }
    /* a tombstone where the host's key would show through */
    tombstone = key_policy(logical, ln) != P_PRIVATE && raw_open(&host, logical, ln, RD) >= 0;
    if (host) o_NtClose(host);
    pl = parent_len(c, cn);
    if (tombstone && raw_open(&parent, c, pl, RD) >= 0) {
        if (marker_of(parent) == M_IS_OPAQUE) tombstone = 0;
        o_NtClose(parent);
    }
    delete_children(work);
    o_NtClose(work);
    st = o_NtDeleteKey(h);
    reg_cache_changed();
    if (st < 0 || !tombstone) return st;
    if (raw_open(&parent, c, pl, KEY_CREATE_SUB_KEY) >= 0) {
        if (create_under(&tomb, parent, c + pl + 1, cn - pl - 1, M_DELETED, (USHORT)wcslen(M_DELETED), 0, &d) >= 0) o_NtClose(tomb);
        o_NtClose(parent);
    }
    return 0;
}

/* Renaming a copy would let the host's key show through again: not in a VM. */
static NTSTATUS NTAPI d_NtRenameKey(HANDLE h, UNICODE_STRING *name)
{
    WCHAR logical[NAME_MAX_CHARS];
    USHORT n = handle_name(h, logical);
    /* only a host key a rule opens (a copy cannot move without its host key); unnamed: no */
    NTSTATUS st;
    if (!n || key_policy(logical, n) != P_OPEN || !registry_may_change(h)) return ST_ACCESS_DENIED;
    st = o_NtRenameKey(h, name);
    reg_cache_changed(); /* a host key, but whatever the rule names: never a stale memory */
    return st;
}

/* Rights follow the verdict (handles.c): a change through a key handle acts only on the VM's
   own keys (its copies; dup's Services and Svchost copies: all under VMs\<vm>) or a host key a
   rule opens; a name that cannot be learnt is refused. */
int registry_may_change(HANDLE h)
{
    WCHAR name[NAME_MAX_CHARS];
    USHORT n = real_name(h, name);
    if (!n) return 0;
    if (vm_area_len && starts_with(name, n, vm_area)) return 1;
    if (starts_with(name, n, svcdup_area)) return 0;
    return key_policy(name, n) == P_OPEN;
}

typedef NTSTATUS(NTAPI *delvalue_fn)(HANDLE, UNICODE_STRING *);
typedef NTSTATUS(NTAPI *setinfo_key_fn)(HANDLE, int, void *, ULONG);
typedef NTSTATUS(NTAPI *flush_fn)(HANDLE);
static delvalue_fn o_NtDeleteValueKey;
static setinfo_key_fn o_NtSetInformationKey;
static flush_fn o_NtFlushKey;

static NTSTATUS refused(const char *call)
{
    trace_decision(call, NULL, NULL, V_DENIED);
    return ST_ACCESS_DENIED;
}
static NTSTATUS NTAPI d_NtSetValueKey(HANDLE h, UNICODE_STRING *n, ULONG ti, ULONG type, void *data, ULONG len)
{
    return registry_may_change(h) ? o_NtSetValueKey(h, n, ti, type, data, len) : refused("NtSetValueKey");
}
static NTSTATUS NTAPI d_NtDeleteValueKey(HANDLE h, UNICODE_STRING *n)
{
    return registry_may_change(h) ? o_NtDeleteValueKey(h, n) : refused("NtDeleteValueKey");
}
static NTSTATUS NTAPI d_NtSetInformationKey(HANDLE h, int cls, void *buf, ULONG len)
{
    return registry_may_change(h) ? o_NtSetInformationKey(h, cls, buf, len) : refused("NtSetInformationKey");
}
static NTSTATUS NTAPI d_NtFlushKey(HANDLE h) { return registry_may_change(h) ? o_NtFlushKey(h) : refused("NtFlushKey"); }

/* A watch on a key the VM reads from the host moves to the VM's copy, where its writes land:
   the copy stays open as long as the watched handle (one per handle). */
#define WATCH_MAX 64
static struct {
    HANDLE caller, copy;
} watches[WATCH_MAX];

void registry_forget(HANDLE h)
{
    int i;
    if (!cow_root_len) return;
    RtlEnterCriticalSection(&lock);
    for (i = 0; i < WATCH_MAX; i++)
        if (watches[i].caller == h) {
            o_NtClose(watches[i].copy);
            watches[i].caller = watches[i].copy = NULL;
        }
    if (cache.h == h) free_list(&cache);
    for (i = 0; i < ROOTS_CACHED; i++)
        if (roots_cache[i].h == h) {
            hfree(roots_cache[i].name);
            roots_cache[i].name = NULL;
            roots_cache[i].h = NULL;
        }
    RtlLeaveCriticalSection(&lock);
}

static NTSTATUS NTAPI d_NtNotifyChangeKey(HANDLE h, HANDLE ev, PIO_APC_ROUTINE apc, void *ctx, IO_STATUS_BLOCK *io, ULONG filter,
                                          BOOLEAN subtree, void *buf, ULONG len, BOOLEAN async)
{
    WCHAR logical[NAME_MAX_CHARS];
    USHORT n = handle_name(h, logical);
    HANDLE copy = NULL;
    struct {
        ULONG len;
        WCHAR name[NAME_MAX_CHARS];
    } info;
    ULONG ret;
    int i, free_slot = -1, p;
    if (!n || (p = key_policy(logical, n)) == P_OPEN || p == P_CLOSED || starts_with(logical, n, svcdup_area) ||
        o_NtQueryKey(h, KeyNameInformation, &info, sizeof info - sizeof(WCHAR), &ret) < 0 ||
        is_copy_name(info.name, (USHORT)(info.len / sizeof(WCHAR))))
        return o_NtNotifyChangeKey(h, ev, apc, ctx, io, filter, subtree, buf, len, async);
    RtlEnterCriticalSection(&lock);
    for (i = 0; i < WATCH_MAX; i++) {
        if (watches[i].caller == h) {
            copy = watches[i].copy;
            break;
        }
        if (!watches[i].caller && free_slot < 0) free_slot = i;
    }
    if (!copy && free_slot >= 0 && ensure_copy(&copy, logical, n) >= 0) {
        watches[free_slot].caller = h;
        watches[free_slot].copy = copy;
    }
    RtlLeaveCriticalSection(&lock);
    return o_NtNotifyChangeKey(copy ? copy : h, ev, apc, ctx, io, filter, subtree, buf, len, async);
}

/* For NtQueryObject: a copy's name as the VM knows it. Returns the new length in bytes. */
USHORT registry_unname(WCHAR *s, USHORT bytes) { return (USHORT)(to_logical(s, bytes / sizeof(WCHAR)) * sizeof(WCHAR)); }

static void init_names(void)
{
    HANDLE h;
    UNICODE_STRING us, vn;
    OBJECT_ATTRIBUTES oa;
    union {
        KVFULL v;
        BYTE b[600];
    } u;
    ULONG ret;
    vm_area_len = (USHORT)_snwprintf(vm_area, 127, L"%ls\\VMs\\%ls", svcdup_area, G.cfg->vm);
    cow_root_len = (USHORT)_snwprintf(cow_root, 159, L"%ls\\Cow", vm_area);
    /* CurrentControlSet's target, from its link value */
    RtlInitUnicodeString(&us, ccs_name);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE | ATTR_OPENLINK, NULL, NULL);
    RtlInitUnicodeString(&vn, L"SymbolicLinkValue");
    if (o_NtOpenKey(&h, KEY_QUERY_VALUE, &oa) >= 0) {
        if (NtQueryValueKey(h, &vn, KeyValueFullInformation, &u, sizeof u - 2, &ret) >= 0 && u.v.data_len < 254 && u.v.data_len > 20) {
            memcpy(ccs, u.b + u.v.data_off, u.v.data_len);
            ccs[u.v.data_len / sizeof(WCHAR)] = 0;
            if (!_wcsnicmp(ccs, L"\\Registry\\", 10)) memcpy(ccs, L"\\REGISTRY\\", 10 * sizeof(WCHAR));
        }
        o_NtClose(h);
    }
}

int registry_install(void)
{
    RtlInitializeCriticalSection(&lock);
    has_private = policy_has(K_KEY, P_PRIVATE);
    /* NtRenameKey is newer than some ntdlls: hooked where it exists */
    static const hook_entry table[] = {
        HOOK(NtOpenKey),      HOOK(NtOpenKeyEx),      HOOK(NtCreateKey),         HOOK(NtQueryKey),
        HOOK(NtEnumerateKey), HOOK(NtDeleteKey),      HOOK(NtNotifyChangeKey),   HOOK_OPT(NtRenameKey),
        HOOK(NtSetValueKey),  HOOK(NtDeleteValueKey), HOOK(NtSetInformationKey), HOOK(NtFlushKey),
    };
    init_names(); /* through ntdll's NtOpenKey: nothing is hooked yet */
    return HOOK_TABLE(table);
}
