/* The client side of the SCM API inside a VM (DESIGN.md issues 10 and 12; docs/scmclient.md).
 *
 * Names, as a VM process sees them:
 *   X           X@<vm> when X is duplicated into this VM (its copy key
 *               HKLM\SOFTWARE\svcdup\VMs\<vm>\Services\X exists, the test registry.c makes);
 *               else the host's X: shared (policy line "open services X") with full rights,
 *               closed ("closed services X") not at all, otherwise query rights only
 *   X@<vm>      the same duplicate (its host spelling)
 *   X@<other>   denied: another VM's duplicate
 * OpenService, GetServiceDisplayName/KeyName, EnumServicesStatusEx and QueryServiceConfig
 * map names both ways; CreateService makes a service of this VM (X@<vm> in the host SCM,
 * run by svcdup-host from the VM copy key that holds the caller's ImagePath), DeleteService
 * removes both again. Everything else (Start/Control/QueryServiceStatus...) works on the
 * handle and needs nothing: the handle already addresses the right service.
 *
 * The functions are sechost's exports (advapi32 imports or forwards them on Wine and on
 * Windows); they are hooked inline (hotpatch.c) when sechost is loaded, or from a DLL load
 * notification when it is loaded later. The W functions are the funnel on Wine: its
 * advapi32 A and non-Ex functions (EnumServicesStatusA/W, EnumServicesStatusExA,
 * GetServiceKeyNameA, GetServiceDisplayNameA) and sechost's QueryServiceConfigA call them.
 * OpenServiceA and CreateServiceA, which Windows implements with their own RPCs, are
 * hooked too and converted to our W path; the original A functions are never called.
 *
 * This is the API's view, not a security boundary: code that speaks MS-SCMR over the
 * svcctl pipe itself is not filtered here. */
#include "hook.h"
#include "hotpatch.h"
#include "patch.h"
#include "policy.h"
#include "trace.h"
#include "names.h"
#include <wchar.h>

NTSYSAPI NTSTATUS NTAPI LdrRegisterDllNotification(ULONG, void *, void *, void **);
NTSYSAPI NTSTATUS NTAPI NtSetValueKey(HANDLE, UNICODE_STRING *, ULONG, ULONG, const void *, ULONG);
NTSYSAPI NTSTATUS NTAPI NtDeleteKey(HANDLE);
NTSYSAPI NTSTATUS NTAPI NtEnumerateKey(HANDLE, ULONG, int, void *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtQueryValueKey(HANDLE, UNICODE_STRING *, int, void *, ULONG, ULONG *);

#define NAME_CHARS 257 /* service name limit 256 + NUL */
#define CREATED_MARK L"svcdup.CreatedInVm"

/* ---- originals ---- */
typedef SC_HANDLE(WINAPI *open_w_fn)(SC_HANDLE, const WCHAR *, DWORD);
typedef SC_HANDLE(WINAPI *create_w_fn)(SC_HANDLE, const WCHAR *, const WCHAR *, DWORD, DWORD, DWORD, DWORD, const WCHAR *,
                                       const WCHAR *, DWORD *, const WCHAR *, const WCHAR *, const WCHAR *);
typedef BOOL(WINAPI *enum_ex_w_fn)(SC_HANDLE, SC_ENUM_TYPE, DWORD, DWORD, BYTE *, DWORD, DWORD *, DWORD *, DWORD *, const WCHAR *);
typedef BOOL(WINAPI *name_w_fn)(SC_HANDLE, const WCHAR *, WCHAR *, DWORD *);
typedef BOOL(WINAPI *qconfig_w_fn)(SC_HANDLE, QUERY_SERVICE_CONFIGW *, DWORD, DWORD *);
typedef BOOL(WINAPI *handle_fn)(SC_HANDLE);
static open_w_fn o_OpenServiceW;
static create_w_fn o_CreateServiceW;
static enum_ex_w_fn o_EnumServicesStatusExW;
static name_w_fn o_GetServiceKeyNameW, o_GetServiceDisplayNameW;
static qconfig_w_fn o_QueryServiceConfigW;
static handle_fn o_DeleteService, o_CloseServiceHandle;

/* ---- the VM's own rules: "open|closed services PATTERN" ---- */
static struct { int open; WCHAR *pat; } *svc_rules;
static int n_svc_rules;

static void rules_load(const WCHAR *p)
{
    int cap = 0;
    while (p && *p) {
        const WCHAR *e = wcschr(p, L'\n');
        int len = e ? (int)(e - p) : (int)wcslen(p), verdict = -1;
        while (len && (p[len - 1] == L'\r' || p[len - 1] == L' ')) len--;
        if (len > 14 && !_wcsnicmp(p, L"open services ", 14)) verdict = 1;
        else if (len > 16 && !_wcsnicmp(p, L"closed services ", 16)) verdict = 0;
        if (verdict >= 0) {
            int skip = verdict ? 14 : 16;
            WCHAR *pat = hmalloc((len - skip + 1) * sizeof(WCHAR));
            if (n_svc_rules == cap) {
                void *n = hmalloc(sizeof *svc_rules * (cap = cap ? cap * 2 : 8));
                if (!n) return;
                if (svc_rules) { memcpy(n, svc_rules, sizeof *svc_rules * n_svc_rules); hfree(svc_rules); }
                svc_rules = n;
            }
            if (!pat) return;
            memcpy(pat, p + skip, (len - skip) * sizeof(WCHAR));
            pat[len - skip] = 0;
            svc_rules[n_svc_rules].open = verdict;
            svc_rules[n_svc_rules].pat = pat;
            n_svc_rules++;
        }
        p = e ? e + 1 : NULL;
    }
}

/* Host services every VM may start: drivers that user-mode APIs start on demand and that
   cannot be duplicated (HttpInitialize starts the HTTP driver, http.sys). */
static const WCHAR *const default_open[] = {L"HTTP"};

/* 1 open, 0 closed, -1 no rule; closed wins, then the VM's rules, then the defaults. */
static int rule_for(const WCHAR *name, size_t n)
{
    int i, r = -1;
    for (i = 0; i < n_svc_rules; i++) {
        if (!glob_match(svc_rules[i].pat, name, (USHORT)n)) continue;
        if (!svc_rules[i].open) return 0;
        r = 1;
    }
    for (i = 0; r < 0 && i < (int)(sizeof default_open / sizeof *default_open); i++)
        if (glob_match(default_open[i], name, (USHORT)n)) r = 1;
    return r;
}

/* ---- svcdup's registry area, through un-hooked syscall stubs ---- */
typedef NTSTATUS(NTAPI *open_key_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
typedef NTSTATUS(NTAPI *create_key_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG, UNICODE_STRING *, ULONG, ULONG *);
static open_key_fn raw_NtOpenKey;
static create_key_fn raw_NtCreateKey;

/* A verbatim copy of an ntdll syscall stub (the layouts patch.c documents), taken before
   registry.c hooks it; NULL when it is already hooked or unknown. */
static void *copy_stub(const char *name, unsigned char *to)
{
    static const unsigned char head[] = {0x4c, 0x8b, 0xd1, 0xb8};
    static const unsigned char mid[] = {0xf6, 0x04, 0x25, 0x08, 0x03, 0xfe, 0x7f, 0x01, 0x75, 0x03, 0x0f, 0x05, 0xc3};
    const unsigned char *p = ntdll_proc(name);
    if (!p || memcmp(p, head, 4) || memcmp(p + 8, mid, sizeof mid)) return NULL;
    memcpy(to, p, 32); /* 24 (Windows) or 32 (Wine) bytes; the rest is never reached */
    return to;
}

static int svc_key_name(const WCHAR *service, WCHAR *out, size_t chars)
{
    int n;
    if (wcschr(service, L'\\') || wcschr(service, L'/')) return 0;
    n = _snwprintf(out, chars, L"\\REGISTRY\\MACHINE\\SOFTWARE\\svcdup\\VMs\\%ls\\Services\\%ls", G.cfg->vm, service);
    return n > 0 && (size_t)n < chars;
}

static NTSTATUS open_raw(const WCHAR *name, ACCESS_MASK access, HANDLE *h)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    RtlInitUnicodeString(&us, name);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    return raw_NtOpenKey(h, access, &oa);
}

/* Is service duplicated into (or created in) this VM? 1 yes, 0 no. Without the raw stub
   (registry.c hooked NtOpenKey first), the SCM is asked whether X@<vm> exists instead. */
static int vm_has(SC_HANDLE scm, const WCHAR *service)
{
    WCHAR key[512];
    HANDLE h;
    if (!svc_key_name(service, key, ARRAYSIZE(key))) return 0;
    if (raw_NtOpenKey) {
        if (open_raw(key, KEY_QUERY_VALUE, &h) < 0) return 0;
        real_NtClose(h);
        return 1;
    }
    if (scm) {
        WCHAR dup[NAME_CHARS + VM_NAME_MAX + 1];
        SC_HANDLE s;
        if (_snwprintf(dup, ARRAYSIZE(dup), L"%ls@%ls", service, G.cfg->vm) < 0) return 0;
        if ((s = o_OpenServiceW(scm, dup, SERVICE_QUERY_STATUS))) {
            o_CloseServiceHandle(s);
            return 1;
        }
    }
    return 0;
}

/* Was it created from inside the VM (CreateService below), rather than by svcdup dup? */
static int vm_created(const WCHAR *service)
{
    WCHAR key[512];
    HANDLE h;
    UNICODE_STRING v;
    BYTE info[64];
    ULONG ret;
    NTSTATUS st;
    if (!raw_NtOpenKey || !svc_key_name(service, key, ARRAYSIZE(key)) || open_raw(key, KEY_QUERY_VALUE, &h) < 0) return 0;
    RtlInitUnicodeString(&v, CREATED_MARK);
    st = NtQueryValueKey(h, &v, 2 /* KeyValuePartialInformation */, info, sizeof info, &ret);
    real_NtClose(h);
    return st >= 0;
}

/* ---- names ---- */
enum { N_DUP, N_HOST, N_SHARED, N_DENIED };

static size_t vm_len(void) { return wcslen(G.cfg->vm); }

/* Length of the plain name when s is "X@<this vm>", else 0. */
static size_t own_dup(const WCHAR *s, size_t n)
{
    size_t v = vm_len();
    if (n > v + 1 && s[n - v - 1] == L'@' && !_wcsnicmp(s + n - v, G.cfg->vm, v)) return n - v - 1;
    return 0;
}

/* Display name without this VM's " (<vm>)" suffix (duplicateDisplayName in src/plan/names.ts). */
static size_t strip_display(const WCHAR *s, size_t n)
{
    size_t v = vm_len();
    if (n > v + 3 && s[n - 1] == L')' && s[n - v - 2] == L'(' && s[n - v - 3] == L' ' &&
        !_wcsnicmp(s + n - v - 1, G.cfg->vm, v))
        return n - v - 3;
    return n;
}

/* What name means in this VM; out receives the host SCM's name. */
static int classify(SC_HANDLE scm, const WCHAR *name, WCHAR *out)
{
    size_t n = wcslen(name);
    const WCHAR *at = wcsrchr(name, L'@');
    if (n >= NAME_CHARS) return N_DENIED; /* callers report ERROR_INVALID_NAME first */
    if (at) {
        if (!own_dup(name, n)) return N_DENIED;
        wcscpy(out, name);
        return N_DUP;
    }
    if (n + 1 + vm_len() < NAME_CHARS && vm_has(scm, name)) { /* the VM's own: rules are about the host's */
        swprintf(out, NAME_CHARS, L"%ls@%ls", name, G.cfg->vm);
        return N_DUP;
    }
    wcscpy(out, name);
    switch (rule_for(name, n)) {
    case 0: return N_DENIED;
    case 1: return N_SHARED;
    default: return N_HOST;
    }
}

static void trace_svc(const char *call, const WCHAR *used, const WCHAR *eff, int verdict)
{
    UNICODE_STRING u, e;
    RtlInitUnicodeString(&u, used);
    if (eff) RtlInitUnicodeString(&e, eff);
    trace_decision(call, &u, eff ? &e : NULL, verdict);
}

/* Rights a host service that is neither duplicated nor shared may not be opened with. */
#define WRITE_RIGHTS (SERVICE_START | SERVICE_STOP | SERVICE_PAUSE_CONTINUE | SERVICE_USER_DEFINED_CONTROL | \
                      SERVICE_CHANGE_CONFIG | DELETE | WRITE_DAC | WRITE_OWNER | GENERIC_WRITE | GENERIC_EXECUTE | \
                      GENERIC_ALL | ACCESS_SYSTEM_SECURITY)
#define READ_RIGHTS (SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS | SERVICE_ENUMERATE_DEPENDENTS | SERVICE_INTERROGATE | \
                     READ_CONTROL)

/* ---- handles with write rights to this VM's services: ChangeServiceConfig and DeleteService
   must know which service a handle is (the SCM API cannot say) ---- */
#define TRACKED_RIGHTS (SERVICE_CHANGE_CONFIG | DELETE | GENERIC_WRITE | GENERIC_ALL | MAXIMUM_ALLOWED)
static SRWLOCK handles_lock = SRWLOCK_INIT;
typedef struct { SC_HANDLE h; WCHAR name[NAME_CHARS]; } tracked;
static tracked *handles;
static int n_handles, cap_handles;

static int handle_note(SC_HANDLE h, const WCHAR *name)
{
    int i, ok = 0;
    AcquireSRWLockExclusive(&handles_lock);
    for (i = 0; i < n_handles && handles[i].h; i++);
    if (i == n_handles && n_handles == cap_handles) {
        tracked *n = hmalloc(sizeof *n * (cap_handles ? cap_handles * 2 : 16));
        if (n) {
            if (handles) { memcpy(n, handles, sizeof *n * n_handles); hfree(handles); }
            handles = n;
            cap_handles = cap_handles ? cap_handles * 2 : 16;
        }
    }
    if (i < cap_handles) {
        if (i == n_handles) n_handles++;
        handles[i].h = h;
        lstrcpynW(handles[i].name, name, NAME_CHARS);
        ok = 1;
    }
    ReleaseSRWLockExclusive(&handles_lock);
    return ok;
}

/* Copies the service name of h; take also forgets h. */
static int handle_find(SC_HANDLE h, WCHAR *name, int take)
{
    int i, found = 0;
    if (!h) return 0;
    AcquireSRWLockExclusive(&handles_lock);
    for (i = 0; i < n_handles; i++)
        if (handles[i].h == h) {
            if (name) wcscpy(name, handles[i].name);
            if (take) handles[i].h = NULL;
            found = 1;
            break;
        }
    ReleaseSRWLockExclusive(&handles_lock);
    return found;
}

/* A handle to this VM's service that may change it is tracked, or not handed out. */
static SC_HANDLE tracked_handle(SC_HANDLE h, DWORD access, const WCHAR *name)
{
    if (h && (access & TRACKED_RIGHTS) && !handle_note(h, name)) {
        o_CloseServiceHandle(h);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    return h;
}

/* ---- OpenService ---- */
static SC_HANDLE WINAPI d_OpenServiceW(SC_HANDLE scm, const WCHAR *name, DWORD access)
{
    WCHAR mapped[NAME_CHARS];
    SC_HANDLE h;
    size_t plain;
    int c;
    if (!scm || !name) return o_OpenServiceW(scm, name, access);
    if (wcslen(name) >= NAME_CHARS) {
        SetLastError(ERROR_INVALID_NAME);
        return NULL;
    }
    c = classify(scm, name, mapped);
    if (c == N_DENIED) {
        trace_svc("OpenService", name, NULL, V_DENIED);
        SetLastError(ERROR_ACCESS_DENIED);
        return NULL;
    }
    if (c == N_HOST) {
        if (access & MAXIMUM_ALLOWED) access = (access & ~MAXIMUM_ALLOWED) | READ_RIGHTS;
        if (access & WRITE_RIGHTS) {
            trace_svc("OpenService", name, NULL, V_DENIED);
            SetLastError(ERROR_ACCESS_DENIED);
            return NULL;
        }
        return o_OpenServiceW(scm, mapped, access);
    }
    if (c == N_SHARED) {
        trace_svc("OpenService", name, mapped, V_OPEN);
        return o_OpenServiceW(scm, mapped, access);
    }
    /* this VM's service: all rights, except deleting what svcdup dup made (svcdup undup does that) */
    plain = own_dup(mapped, wcslen(mapped));
    {
        WCHAR base[NAME_CHARS];
        memcpy(base, mapped, plain * sizeof(WCHAR));
        base[plain] = 0;
        if ((access & (DELETE | GENERIC_ALL | MAXIMUM_ALLOWED)) && !vm_created(base)) {
            if (access & DELETE) {
                trace_svc("OpenService", name, mapped, V_DENIED);
                SetLastError(ERROR_ACCESS_DENIED);
                return NULL;
            }
            access = (access & ~(GENERIC_ALL | MAXIMUM_ALLOWED)) | (SERVICE_ALL_ACCESS & ~DELETE);
        }
        trace_svc("OpenService", name, mapped, V_RENAMED);
        h = tracked_handle(o_OpenServiceW(scm, mapped, access), access, base);
    }
    return h;
}

static WCHAR *to_wide(const char *s)
{
    int n;
    WCHAR *w;
    if (!s) return NULL;
    n = MultiByteToWideChar(CP_ACP, 0, s, -1, NULL, 0);
    if (!(w = hmalloc(n * sizeof(WCHAR)))) return NULL;
    MultiByteToWideChar(CP_ACP, 0, s, -1, w, n);
    return w;
}

static WCHAR *to_wide_multi(const char *s)
{
    const char *p = s;
    int n;
    WCHAR *w;
    if (!s) return NULL;
    while (*p) p += strlen(p) + 1;
    n = MultiByteToWideChar(CP_ACP, 0, s, (int)(p - s + 1), NULL, 0);
    if (!(w = hmalloc(n * sizeof(WCHAR)))) return NULL;
    MultiByteToWideChar(CP_ACP, 0, s, (int)(p - s + 1), w, n);
    return w;
}

static SC_HANDLE WINAPI d_OpenServiceA(SC_HANDLE scm, const char *name, DWORD access)
{
    WCHAR *w = to_wide(name);
    SC_HANDLE h;
    if (name && !w) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    h = d_OpenServiceW(scm, w, access);
    hfree(w);
    return h;
}

/* ---- GetServiceDisplayName / GetServiceKeyName ---- */
static BOOL WINAPI d_GetServiceDisplayNameW(SC_HANDLE scm, const WCHAR *name, WCHAR *buf, DWORD *size)
{
    WCHAR mapped[NAME_CHARS];
    int c;
    if (!scm || !name || !size) return o_GetServiceDisplayNameW(scm, name, buf, size);
    if (wcslen(name) >= NAME_CHARS) {
        SetLastError(ERROR_INVALID_NAME);
        return FALSE;
    }
    c = classify(scm, name, mapped);
    if (c == N_DENIED) {
        SetLastError(ERROR_SERVICE_DOES_NOT_EXIST);
        return FALSE;
    }
    if (!o_GetServiceDisplayNameW(scm, mapped, buf, size)) return FALSE;
    if (c == N_DUP && buf) {
        size_t n = strip_display(buf, *size);
        buf[n] = 0;
        *size = (DWORD)n;
    }
    return TRUE;
}

static BOOL WINAPI d_GetServiceKeyNameW(SC_HANDLE scm, const WCHAR *display, WCHAR *buf, DWORD *size)
{
    DWORD in, err;
    if (!scm || !display || !size || !buf) return o_GetServiceKeyNameW(scm, display, buf, size);
    in = *size;
    if (o_GetServiceKeyNameW(scm, display, buf, size)) {
        size_t n = *size, plain = own_dup(buf, n);
        if (plain) {
            buf[plain] = 0;
            *size = (DWORD)plain;
            return TRUE;
        }
        if (!wcschr(buf, L'@')) {
            WCHAR m[NAME_CHARS];
            if (classify(scm, buf, m) != N_DENIED) return TRUE;
        }
        *size = in;
        SetLastError(ERROR_SERVICE_DOES_NOT_EXIST);
        return FALSE;
    }
    err = GetLastError();
    if (err == ERROR_SERVICE_DOES_NOT_EXIST) {
        /* the VM's display name of a duplicate: the host spells it "<display> (<vm>)" */
        size_t d = wcslen(display);
        WCHAR *full = hmalloc((d + vm_len() + 4) * sizeof(WCHAR));
        BOOL ok;
        if (!full) return FALSE;
        swprintf(full, d + vm_len() + 4, L"%ls (%ls)", display, G.cfg->vm);
        *size = in;
        ok = o_GetServiceKeyNameW(scm, full, buf, size);
        hfree(full);
        if (ok) {
            size_t plain = own_dup(buf, *size);
            if (plain) {
                buf[plain] = 0;
                *size = (DWORD)plain;
                return TRUE;
            }
            *size = in;
        } else if (GetLastError() == ERROR_INSUFFICIENT_BUFFER) {
            return FALSE;
        }
        SetLastError(ERROR_SERVICE_DOES_NOT_EXIST);
        return FALSE;
    }
    return FALSE;
}

/* ---- EnumServicesStatusEx ---- */
typedef ENUM_SERVICE_STATUS_PROCESSW ESSP;

static BOOL WINAPI d_EnumServicesStatusExW(SC_HANDLE scm, SC_ENUM_TYPE level, DWORD type, DWORD state, BYTE *buf,
                                           DWORD size, DWORD *needed, DWORD *returned, DWORD *resume, const WCHAR *group)
{
    BYTE *all = NULL;
    DWORD cap = 32768, n = 0, i, j, need, r0, count = 0, start, more = 0;
    ESSP *e;
    struct item { const ESSP *e; size_t name, disp; } *items = NULL;
    BYTE *lo, *hi;
    BOOL ok = FALSE;

    if (level != SC_ENUM_PROCESS_INFO || !scm || !needed || !returned)
        return o_EnumServicesStatusExW(scm, level, type, state, buf, size, needed, returned, resume, group);
    for (i = 0; i < 8; i++) { /* everything the SCM has, in one buffer */
        DWORD res = 0;
        if (!(all = hmalloc(cap))) {
            SetLastError(ERROR_NOT_ENOUGH_MEMORY);
            return FALSE;
        }
        if (o_EnumServicesStatusExW(scm, level, type, state, all, cap, &need, &n, &res, group)) break;
        hfree(all);
        all = NULL;
        if (GetLastError() != ERROR_MORE_DATA) return FALSE;
        cap = cap * 2 + need;
    }
    if (!all) return FALSE;
    e = (ESSP *)all;
    if (!(items = hmalloc(sizeof *items * (n + 1)))) goto out;
    for (i = 0; i < n; i++) {
        size_t len = wcslen(e[i].lpServiceName), plain = own_dup(e[i].lpServiceName, len);
        size_t dlen = e[i].lpDisplayName ? wcslen(e[i].lpDisplayName) : 0;
        if (plain) {
            items[count].e = &e[i];
            items[count].name = plain;
            items[count].disp = e[i].lpDisplayName ? strip_display(e[i].lpDisplayName, dlen) : 0;
            count++;
            continue;
        }
        if (wcschr(e[i].lpServiceName, L'@')) continue;     /* another VM's */
        if (rule_for(e[i].lpServiceName, len) == 0) continue; /* closed */
        /* a host service this VM has its own copy of: the copy stands for it */
        for (j = 0; j < n; j++) {
            size_t l2 = wcslen(e[j].lpServiceName), p2 = own_dup(e[j].lpServiceName, l2);
            if (p2 == len && !_wcsnicmp(e[j].lpServiceName, e[i].lpServiceName, len)) break;
        }
        if (j < n) continue;
        items[count].e = &e[i];
        items[count].name = len;
        items[count].disp = dlen;
        count++;
    }
    /* Pack from *resume on: entries up front, strings from the end, as the SCM does. */
    start = resume ? *resume : 0;
    if (!buf) size = 0;
    lo = buf;
    hi = buf + (size & ~(DWORD)1);
    r0 = 0;
    for (i = start; i < count; i++) {
        DWORD sz = sizeof(ESSP) + (DWORD)((items[i].name + 1 + items[i].disp + 1) * sizeof(WCHAR));
        if (!more && (SIZE_T)(hi - lo) >= sz) {
            ESSP *o = (ESSP *)lo;
            lo += sizeof(ESSP);
            hi -= (items[i].disp + 1) * sizeof(WCHAR);
            memcpy(hi, items[i].e->lpDisplayName ? items[i].e->lpDisplayName : L"", items[i].disp * sizeof(WCHAR));
            ((WCHAR *)hi)[items[i].disp] = 0;
            o->lpDisplayName = (WCHAR *)hi;
            hi -= (items[i].name + 1) * sizeof(WCHAR);
            memcpy(hi, items[i].e->lpServiceName, items[i].name * sizeof(WCHAR));
            ((WCHAR *)hi)[items[i].name] = 0;
            o->lpServiceName = (WCHAR *)hi;
            o->ServiceStatusProcess = items[i].e->ServiceStatusProcess;
            r0++;
        } else {
            if (!more && resume) *resume = i;
            more += sz;
        }
    }
    *returned = r0;
    *needed = more;
    if (more) {
        SetLastError(ERROR_MORE_DATA);
    } else {
        if (resume) *resume = 0;
        ok = TRUE;
    }
out:
    hfree(items);
    hfree(all);
    return ok;
}

/* ---- QueryServiceConfig: the VM's names in the answer ---- */
static BOOL WINAPI d_QueryServiceConfigW(SC_HANDLE h, QUERY_SERVICE_CONFIGW *cfg, DWORD size, DWORD *needed)
{
    if (!o_QueryServiceConfigW(h, cfg, size, needed)) return FALSE;
    if (!cfg) return TRUE;
    if (cfg->lpDisplayName) cfg->lpDisplayName[strip_display(cfg->lpDisplayName, wcslen(cfg->lpDisplayName))] = 0;
    if (cfg->lpDependencies) { /* multi-sz, compacted in place: names only get shorter */
        WCHAR *r = cfg->lpDependencies, *w = r;
        while (*r) {
            size_t n = wcslen(r), keep = own_dup(r, n);
            if (!keep) keep = n;
            memmove(w, r, keep * sizeof(WCHAR));
            w[keep] = 0;
            w += keep + 1;
            r += n + 1;
        }
        *w = 0;
    }
    return TRUE;
}

/* ---- CreateService: a service of this VM ---- */
static NTSTATUS set_value(HANDLE key, const WCHAR *name, ULONG type, const void *data, ULONG bytes)
{
    UNICODE_STRING us;
    RtlInitUnicodeString(&us, name);
    return NtSetValueKey(key, &us, 0, type, data, bytes);
}

static NTSTATUS create_raw(const WCHAR *name, HANDLE *h, ULONG *disp)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    RtlInitUnicodeString(&us, name);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    return raw_NtCreateKey(h, KEY_ALL_ACCESS, &oa, 0, NULL, 0, disp);
}

/* Delete a key with its subkeys, through the raw stubs. */
static void delete_tree(const WCHAR *name)
{
    HANDLE h;
    struct { ULONG a, b, c, len; WCHAR name[260]; } info; /* KEY_BASIC_INFORMATION */
    ULONG ret;
    WCHAR sub[1024];
    if (open_raw(name, KEY_ALL_ACCESS, &h) < 0) return;
    while (NtEnumerateKey(h, 0, 0 /* KeyBasicInformation */, &info, sizeof info - sizeof(WCHAR), &ret) >= 0) {
        info.name[info.len / sizeof(WCHAR)] = 0;
        if (_snwprintf(sub, ARRAYSIZE(sub), L"%ls\\%ls", name, info.name) < 0) break;
        delete_tree(sub);
        {
            HANDLE s;
            if (open_raw(sub, KEY_ALL_ACCESS, &s) >= 0) { NtDeleteKey(s); real_NtClose(s); }
            else break;
        }
    }
    NtDeleteKey(h);
    real_NtClose(h);
}

static size_t multisz_chars(const WCHAR *m)
{
    const WCHAR *p = m;
    if (!m) return 0;
    while (*p) p += wcslen(p) + 1;
    return (size_t)(p - m) + 1;
}

/* Dependencies as the host SCM names them (out: multisz_chars(deps) * (VM_NAME_MAX + 2) chars);
   0 when one of them is denied to this VM. */
static int map_deps(SC_HANDLE scm, const WCHAR *deps, WCHAR *out)
{
    const WCHAR *r = deps;
    WCHAR *w = out, m[NAME_CHARS];
    while (r && *r) {
        if (*r != SC_GROUP_IDENTIFIERW) {
            if (classify(scm, r, m) == N_DENIED) return 0;
            wcscpy(w, m);
        } else {
            wcscpy(w, r);
        }
        w += wcslen(w) + 1;
        r += wcslen(r) + 1;
    }
    *w = 0;
    return 1;
}

static SC_HANDLE WINAPI d_CreateServiceW(SC_HANDLE scm, const WCHAR *name, const WCHAR *display, DWORD access,
                                         DWORD type, DWORD start, DWORD errctl, const WCHAR *path, const WCHAR *group,
                                         DWORD *tag, const WCHAR *deps, const WCHAR *user, const WCHAR *password)
{
    WCHAR key[512], dup[NAME_CHARS], host_exe[MAX_PATH], *image = NULL, *disp = NULL, *mdeps = NULL, *slash;
    HANDLE h = NULL;
    ULONG created;
    DWORD v, err = 0;
    SC_HANDLE sh = NULL;
    size_t n, dn;

    if (!scm || !name || !path) return o_CreateServiceW(scm, name, display, access, type, start, errctl, path, group, tag, deps, user, password);
    n = wcslen(name);
    if (!n || wcschr(name, L'@') || wcschr(name, L'\\') || wcschr(name, L'/') || n + 1 + vm_len() >= NAME_CHARS) {
        SetLastError(ERROR_INVALID_NAME);
        return NULL;
    }
    if (!(type & SERVICE_WIN32) || !raw_NtCreateKey) { /* drivers cannot run in a VM */
        trace_svc("CreateService", name, NULL, V_DENIED);
        SetLastError(ERROR_ACCESS_DENIED);
        return NULL;
    }
    if (!svc_key_name(name, key, ARRAYSIZE(key))) {
        SetLastError(ERROR_INVALID_NAME);
        return NULL;
    }
    swprintf(dup, NAME_CHARS, L"%ls@%ls", name, G.cfg->vm);
    if (vm_has(scm, name)) {
        SetLastError(ERROR_SERVICE_EXISTS);
        return NULL;
    }
    /* svcdup-host.exe sits beside this DLL (native/build, SVCDUP_NATIVE_DIR) */
    if (!GetModuleFileNameW(G.self, host_exe, MAX_PATH) || !(slash = wcsrchr(host_exe, L'\\')) ||
        (slash - host_exe) + 20 >= MAX_PATH) {
        SetLastError(ERROR_FILE_NOT_FOUND);
        return NULL;
    }
    wcscpy(slash + 1, L"svcdup-host.exe");
    dn = display ? wcslen(display) : n;
    image = hmalloc((wcslen(host_exe) + 2 * NAME_CHARS + VM_NAME_MAX + 40) * sizeof(WCHAR));
    disp = hmalloc((dn + vm_len() + 4) * sizeof(WCHAR));
    mdeps = hmalloc((multisz_chars(deps) * (VM_NAME_MAX + 2) + 2) * sizeof(WCHAR));
    if (!image || !disp || !mdeps) { err = ERROR_NOT_ENOUGH_MEMORY; goto fail; }
    swprintf(image, wcslen(host_exe) + 2 * NAME_CHARS + VM_NAME_MAX + 40, L"\"%ls\" --vm %ls --service \"%ls\"", host_exe,
             G.cfg->vm, name);
    swprintf(disp, dn + vm_len() + 4, L"%.*ls (%ls)", (int)dn, display ? display : name, G.cfg->vm);
    if (!map_deps(scm, deps, mdeps)) { err = ERROR_ACCESS_DENIED; goto fail; }

    /* 1. the VM copy key: what svcdup-host reads (ImagePath) and the service's own config */
    if (create_raw(key, &h, &created) < 0) {
        /* VMs\<vm>\Services may not exist yet */
        WCHAR parent[512];
        HANDLE p;
        swprintf(parent, ARRAYSIZE(parent), L"\\REGISTRY\\MACHINE\\SOFTWARE\\svcdup\\VMs\\%ls\\Services", G.cfg->vm);
        if (open_raw(L"\\REGISTRY\\MACHINE\\SOFTWARE\\svcdup\\VMs", KEY_QUERY_VALUE, &p) < 0) { err = ERROR_ACCESS_DENIED; goto fail; }
        real_NtClose(p);
        if (create_raw(parent, &p, &created) < 0) { err = ERROR_ACCESS_DENIED; goto fail; }
        real_NtClose(p);
        if (create_raw(key, &h, &created) < 0) { err = ERROR_ACCESS_DENIED; goto fail; }
    }
    if (created != REG_CREATED_NEW_KEY) { real_NtClose(h); h = NULL; err = ERROR_SERVICE_EXISTS; goto fail; }
    v = 1;
    set_value(h, L"ImagePath", REG_EXPAND_SZ, path, (ULONG)(wcslen(path) + 1) * sizeof(WCHAR));
    set_value(h, L"DisplayName", REG_SZ, display ? display : name, (ULONG)(dn + 1) * sizeof(WCHAR));
    set_value(h, L"Type", REG_DWORD, &type, sizeof type);
    set_value(h, L"Start", REG_DWORD, &start, sizeof start);
    set_value(h, L"ErrorControl", REG_DWORD, &errctl, sizeof errctl);
    if (group && *group) set_value(h, L"Group", REG_SZ, group, (ULONG)(wcslen(group) + 1) * sizeof(WCHAR));
    if (deps && *deps) set_value(h, L"DependOnService", REG_MULTI_SZ, deps, (ULONG)multisz_chars(deps) * sizeof(WCHAR));
    set_value(h, L"ObjectName", REG_SZ, user ? user : L"LocalSystem", (ULONG)(wcslen(user ? user : L"LocalSystem") + 1) * sizeof(WCHAR));
    if (set_value(h, CREATED_MARK, REG_DWORD, &v, sizeof v) < 0) { err = ERROR_ACCESS_DENIED; goto fail; }
    real_NtClose(h);
    h = NULL;

    /* 2. the host SCM's X@<vm>, run by svcdup-host (own process, whatever the image's type) */
    sh = o_CreateServiceW(scm, dup, disp, access, SERVICE_WIN32_OWN_PROCESS | (type & SERVICE_INTERACTIVE_PROCESS), start,
                          errctl, image, NULL, NULL, mdeps, user, password);
    if (!sh) { err = GetLastError(); delete_tree(key); goto fail; }
    if (tag) *tag = 0;
    trace_svc("CreateService", name, dup, V_RENAMED);
    sh = tracked_handle(sh, access, name);
    hfree(image);
    hfree(disp);
    hfree(mdeps);
    return sh;
fail:
    if (h) real_NtClose(h);
    hfree(image);
    hfree(disp);
    hfree(mdeps);
    SetLastError(err);
    return NULL;
}

static SC_HANDLE WINAPI d_CreateServiceA(SC_HANDLE scm, const char *name, const char *display, DWORD access, DWORD type,
                                         DWORD start, DWORD errctl, const char *path, const char *group, DWORD *tag,
                                         const char *deps, const char *user, const char *password)
{
    WCHAR *w[7] = {to_wide(name), to_wide(display), to_wide(path), to_wide(group), to_wide_multi(deps), to_wide(user), to_wide(password)};
    SC_HANDLE h = d_CreateServiceW(scm, w[0], w[1], access, type, start, errctl, w[2], w[3], tag, w[4], w[5], w[6]);
    DWORD err = GetLastError();
    int i;
    for (i = 0; i < 7; i++) hfree(w[i]);
    SetLastError(err);
    return h;
}

/* ---- ChangeServiceConfig: a VM's service keeps svcdup-host as the host SCM's image ----
   Letting a VM set the ImagePath of X@<vm> would have the host SCM run any command on the
   host, outside the VM. So for this VM's services the image path, type, group, display
   name and dependencies go to the VM copy key (the ImagePath svcdup-host launches in the
   VM), and the host SCM gets only what is safe: start type, error control, account,
   dependencies and display name in its spelling. */
typedef BOOL(WINAPI *change_w_fn)(SC_HANDLE, DWORD, DWORD, DWORD, const WCHAR *, const WCHAR *, DWORD *, const WCHAR *,
                                  const WCHAR *, const WCHAR *, const WCHAR *);
typedef BOOL(WINAPI *change2_fn)(SC_HANDLE, DWORD, void *);
static change_w_fn o_ChangeServiceConfigW;
static change2_fn o_ChangeServiceConfig2W, o_ChangeServiceConfig2A;

static BOOL WINAPI d_ChangeServiceConfigW(SC_HANDLE h, DWORD type, DWORD start, DWORD errctl, const WCHAR *path,
                                          const WCHAR *group, DWORD *tag, const WCHAR *deps, const WCHAR *user,
                                          const WCHAR *password, const WCHAR *display)
{
    WCHAR name[NAME_CHARS], key[512], *disp = NULL, *mdeps = NULL;
    HANDLE k = NULL;
    DWORD err = 0;
    BOOL ok = FALSE;
    if (!handle_find(h, name, 0)) /* a host service: the SCM checks the handle's rights */
        return o_ChangeServiceConfigW(h, type, start, errctl, path, group, tag, deps, user, password, display);
    if (type != SERVICE_NO_CHANGE && !(type & SERVICE_WIN32)) { err = ERROR_ACCESS_DENIED; goto out; }
    if ((path || type != SERVICE_NO_CHANGE || group || display || deps) &&
        (!raw_NtOpenKey || !svc_key_name(name, key, ARRAYSIZE(key)) || open_raw(key, KEY_SET_VALUE, &k) < 0)) {
        err = ERROR_ACCESS_DENIED;
        goto out;
    }
    if (display) {
        size_t n = wcslen(display) + vm_len() + 4;
        if (!(disp = hmalloc(n * sizeof(WCHAR)))) { err = ERROR_NOT_ENOUGH_MEMORY; goto out; }
        swprintf(disp, n, L"%ls (%ls)", display, G.cfg->vm);
    }
    if (deps) {
        if (!(mdeps = hmalloc((multisz_chars(deps) * (VM_NAME_MAX + 2) + 2) * sizeof(WCHAR)))) { err = ERROR_NOT_ENOUGH_MEMORY; goto out; }
        if (!map_deps(NULL, deps, mdeps)) { err = ERROR_ACCESS_DENIED; goto out; }
    }
    if (!o_ChangeServiceConfigW(h, SERVICE_NO_CHANGE, start, errctl, NULL, NULL, NULL, mdeps, user, password, disp)) {
        err = GetLastError();
        goto out;
    }
    if (tag) *tag = 0;
    if (path) set_value(k, L"ImagePath", REG_EXPAND_SZ, path, (ULONG)(wcslen(path) + 1) * sizeof(WCHAR));
    if (type != SERVICE_NO_CHANGE) set_value(k, L"Type", REG_DWORD, &type, sizeof type);
    if (start != SERVICE_NO_CHANGE) set_value(k, L"Start", REG_DWORD, &start, sizeof start);
    if (group) set_value(k, L"Group", REG_SZ, group, (ULONG)(wcslen(group) + 1) * sizeof(WCHAR));
    if (display) set_value(k, L"DisplayName", REG_SZ, display, (ULONG)(wcslen(display) + 1) * sizeof(WCHAR));
    if (deps) set_value(k, L"DependOnService", REG_MULTI_SZ, deps, (ULONG)multisz_chars(deps) * sizeof(WCHAR));
    trace_svc("ChangeServiceConfig", name, path, V_RENAMED);
    ok = TRUE;
out:
    if (k) real_NtClose(k);
    hfree(disp);
    hfree(mdeps);
    if (!ok) SetLastError(err);
    return ok;
}

static BOOL WINAPI d_ChangeServiceConfigA(SC_HANDLE h, DWORD type, DWORD start, DWORD errctl, const char *path,
                                          const char *group, DWORD *tag, const char *deps, const char *user,
                                          const char *password, const char *display)
{
    WCHAR *w[6] = {to_wide(path), to_wide(group), to_wide_multi(deps), to_wide(user), to_wide(password), to_wide(display)};
    BOOL ok = d_ChangeServiceConfigW(h, type, start, errctl, w[0], w[1], tag, w[2], w[3], w[4], w[5]);
    DWORD err = GetLastError();
    int i;
    for (i = 0; i < 6; i++) hfree(w[i]);
    SetLastError(err);
    return ok;
}

/* Failure actions the host SCM would carry out on the host: a command, a reboot. */
static int host_actions(DWORD n, const SC_ACTION *a, int has_command)
{
    DWORD i;
    if (has_command) return 1;
    for (i = 0; a && i < n; i++)
        if (a[i].Type == SC_ACTION_RUN_COMMAND || a[i].Type == SC_ACTION_REBOOT) return 1;
    return 0;
}

static BOOL WINAPI d_ChangeServiceConfig2W(SC_HANDLE h, DWORD level, void *info)
{
    const SERVICE_FAILURE_ACTIONSW *fa = info;
    if (level == SERVICE_CONFIG_FAILURE_ACTIONS && fa && handle_find(h, NULL, 0) &&
        host_actions(fa->cActions, fa->lpsaActions, fa->lpCommand && *fa->lpCommand)) {
        SetLastError(ERROR_ACCESS_DENIED);
        return FALSE;
    }
    return o_ChangeServiceConfig2W(h, level, info);
}

static BOOL WINAPI d_ChangeServiceConfig2A(SC_HANDLE h, DWORD level, void *info)
{
    const SERVICE_FAILURE_ACTIONSA *fa = info;
    if (level == SERVICE_CONFIG_FAILURE_ACTIONS && fa && handle_find(h, NULL, 0) &&
        host_actions(fa->cActions, fa->lpsaActions, fa->lpCommand && *fa->lpCommand)) {
        SetLastError(ERROR_ACCESS_DENIED);
        return FALSE;
    }
    return o_ChangeServiceConfig2A(h, level, info);
}

static BOOL WINAPI d_DeleteService(SC_HANDLE h)
{
    WCHAR name[NAME_CHARS], key[512];
    if (!o_DeleteService(h)) return FALSE;
    /* the copy key goes with a service created in this VM (dup's copies are svcdup's to remove) */
    if (handle_find(h, name, 0) && vm_created(name) && svc_key_name(name, key, ARRAYSIZE(key))) delete_tree(key);
    return TRUE;
}

static BOOL WINAPI d_CloseServiceHandle(SC_HANDLE h)
{
    handle_find(h, NULL, 1);
    return o_CloseServiceHandle(h);
}

/* ---- installing ---- */
static PVOID hooked_base;

static int hook_sechost(HMODULE m)
{
    static const struct { const char *name; void *detour; void **orig; } list[] = {
        {"OpenServiceW", d_OpenServiceW, (void **)&o_OpenServiceW},
        {"CreateServiceW", d_CreateServiceW, (void **)&o_CreateServiceW},
        {"EnumServicesStatusExW", d_EnumServicesStatusExW, (void **)&o_EnumServicesStatusExW},
        {"GetServiceKeyNameW", d_GetServiceKeyNameW, (void **)&o_GetServiceKeyNameW},
        {"GetServiceDisplayNameW", d_GetServiceDisplayNameW, (void **)&o_GetServiceDisplayNameW},
        {"QueryServiceConfigW", d_QueryServiceConfigW, (void **)&o_QueryServiceConfigW},
        {"DeleteService", d_DeleteService, (void **)&o_DeleteService},
        {"CloseServiceHandle", d_CloseServiceHandle, (void **)&o_CloseServiceHandle},
        {"ChangeServiceConfigW", d_ChangeServiceConfigW, (void **)&o_ChangeServiceConfigW},
        {"ChangeServiceConfig2W", d_ChangeServiceConfig2W, (void **)&o_ChangeServiceConfig2W},
        /* checked, then the original: on Wine it calls ChangeServiceConfig2W, on Windows its own RPC */
        {"ChangeServiceConfig2A", d_ChangeServiceConfig2A, (void **)&o_ChangeServiceConfig2A},
    };
    static const struct { const char *name; void *detour; } a_list[] = {
        {"OpenServiceA", d_OpenServiceA},
        {"CreateServiceA", d_CreateServiceA},
        {"ChangeServiceConfigA", d_ChangeServiceConfigA},
    };
    void *procs[ARRAYSIZE(list)], *a_procs[ARRAYSIZE(a_list)], *unused;
    size_t i;
    ANSI_STRING as;
    if (hooked_base == m) return 0;
    /* resolve every one before patching any: all or none */
    for (i = 0; i < ARRAYSIZE(list); i++) {
        RtlInitAnsiString(&as, list[i].name);
        if (LdrGetProcedureAddress(m, &as, 0, &procs[i]) < 0) return -1;
    }
    for (i = 0; i < ARRAYSIZE(a_list); i++) {
        RtlInitAnsiString(&as, a_list[i].name);
        if (LdrGetProcedureAddress(m, &as, 0, &a_procs[i]) < 0) a_procs[i] = NULL;
    }
    for (i = 0; i < ARRAYSIZE(list); i++)
        if (hook_function(procs[i], list[i].detour, list[i].orig)) return -2;
    /* The A entries never reach their originals: the W detours do the work. */
    for (i = 0; i < ARRAYSIZE(a_list); i++)
        if (a_procs[i] && hook_function(a_procs[i], a_list[i].detour, &unused)) return -2;
    hooked_base = m;
    return 0;
}

typedef struct { ULONG flags; const UNICODE_STRING *full, *base; PVOID dll_base; ULONG size; } dll_notification;

static void CALLBACK on_dll(ULONG reason, const dll_notification *d, void *ctx)
{
    static const WCHAR sechost[] = L"sechost.dll";
    if (reason == 2 /* unloaded */ && d->dll_base == hooked_base) hooked_base = NULL;
    if (reason != 1 /* loaded */ || !d->base || d->base->Length != sizeof sechost - sizeof(WCHAR) ||
        _wcsnicmp(d->base->Buffer, sechost, ARRAYSIZE(sechost) - 1))
        return;
    /* Before sechost's own DllMain; no code of it has run. A VM process whose SCM
       calls cannot be mapped must not run un-virtualized. */
    if (hook_sechost((HMODULE)d->dll_base)) NtTerminateProcess(GetCurrentProcess(), ST_ACCESS_DENIED);
}

int scmclient_install(void)
{
    static unsigned char *stubs;
    UNICODE_STRING n;
    HMODULE m;
    void *cookie;
    SIZE_T size = 4096;
    PVOID base = NULL;

    rules_load(G.cfg->rules);
    /* raw registry access to svcdup's area: copies of the stubs before registry.c hooks them */
    if (!stubs && NtAllocateVirtualMemory(GetCurrentProcess(), &base, 0, &size, MEM_COMMIT | MEM_RESERVE,
                                          PAGE_EXECUTE_READWRITE) >= 0)
        stubs = base;
    if (stubs) {
        raw_NtOpenKey = copy_stub("NtOpenKey", stubs);
        raw_NtCreateKey = copy_stub("NtCreateKey", stubs + 64);
    }
    if (LdrRegisterDllNotification(0, (void *)on_dll, NULL, &cookie) < 0) return -1;
    RtlInitUnicodeString(&n, L"sechost.dll");
    if (LdrGetDllHandle(NULL, 0, &n, &m) >= 0 && hook_sechost(m)) return -1;
    return 0;
}
