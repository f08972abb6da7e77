/* Service names inside a VM (scmclient.h): what a name means in this VM (the VM's own
   duplicate, a host service shared, query-only or closed by the policy), svcdup's registry
   area through un-hooked stubs, and the handles that may change a VM's service. */
#include "scmclient.h"
#include <wchar.h>

NTSYSAPI NTSTATUS NTAPI NtQueryValueKey(HANDLE, UNICODE_STRING *, int, void *, ULONG, ULONG *);

/* ---- svcdup's registry area, through un-hooked syscall stubs ---- */

/* The one check of a service name of this VM that reaches syntax: a registry path under
   svcdup's area, the host SCM's SERVICE@VM, svcdup-host's command line (scmcreate.c). 1 to 256
   characters, none of '"' '\\' '/' '@' or a control character (svcdup-host refuses the same). */
int svc_name_ok(const WCHAR *s)
{
    size_t n = s ? wcslen(s) : 0, i;
    if (!n || n > 256) return 0;
    for (i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == L'"' || s[i] == L'\\' || s[i] == L'/' || s[i] == L'@') return 0;
    return 1;
}

int svc_key_name(const WCHAR *service, WCHAR *out, size_t chars)
{
    int n;
    if (!svc_name_ok(service)) return 0;
    n = _snwprintf(out, chars, L"\\REGISTRY\\MACHINE\\SOFTWARE\\svcdup\\VMs\\%ls\\Services\\%ls", G.cfg->vm, service);
    return n > 0 && (size_t)n < chars;
}

NTSTATUS open_raw(const WCHAR *name, ACCESS_MASK access, HANDLE *h)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    RtlInitUnicodeString(&us, name);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    return o_NtOpenKey(h, access, &oa);
}

/* Is service duplicated into (or created in) this VM? 1 yes, 0 no. Without the raw stub
   (registry.c hooked NtOpenKey first), the SCM is asked whether X@<vm> exists instead. */
int vm_has(SC_HANDLE scm, const WCHAR *service)
{
    WCHAR key[512];
    HANDLE h;
    if (!svc_key_name(service, key, ARRAYSIZE(key))) return 0;
    if (o_NtOpenKey) {
        if (open_raw(key, KEY_QUERY_VALUE, &h) < 0) return 0;
        o_NtClose(h);
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
int vm_created(const WCHAR *service)
{
    WCHAR key[512];
    HANDLE h;
    UNICODE_STRING v;
    BYTE info[64];
    ULONG ret;
    NTSTATUS st;
    if (!o_NtOpenKey || !svc_key_name(service, key, ARRAYSIZE(key)) || open_raw(key, KEY_QUERY_VALUE, &h) < 0) return 0;
    RtlInitUnicodeString(&v, CREATED_MARK);
    st = NtQueryValueKey(h, &v, 2 /* KeyValuePartialInformation */, info, sizeof info, &ret);
    o_NtClose(h);
    return st >= 0;
}

/* ---- names ---- */
size_t vm_len(void) { return wcslen(G.cfg->vm); }

/* Length of the plain name when s is "X@<this vm>", else 0. */
size_t own_dup(const WCHAR *s, size_t n)
{
    size_t v = vm_len();
    if (n > v + 1 && s[n - v - 1] == L'@' && !_wcsnicmp(s + n - v, G.cfg->vm, v)) return n - v - 1;
    return 0;
}

/* Display name without this VM's " (<vm>)" suffix (duplicateDisplayName in src/plan/names.ts). */
size_t strip_display(const WCHAR *s, size_t n)
{
    size_t v = vm_len();
    if (n > v + 3 && s[n - 1] == L')' && s[n - v - 2] == L'(' && s[n - v - 3] == L' ' && !_wcsnicmp(s + n - v - 1, G.cfg->vm, v))
        return n - v - 3;
    return n;
}

/* What name means in this VM; out receives the host SCM's name. */
int classify(SC_HANDLE scm, const WCHAR *name, WCHAR *out)
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
    switch (policy_decide(K_SERVICE, name, (USHORT)n)) { /* the VM's policy (policy.c) */
    case P_CLOSED: return N_DENIED;
    case P_OPEN: return N_SHARED;
    default: return N_HOST;
    }
}

void trace_svc(const char *call, const WCHAR *used, const WCHAR *eff, int verdict)
{
    UNICODE_STRING u, e;
    RtlInitUnicodeString(&u, used);
    if (eff) RtlInitUnicodeString(&e, eff);
    trace_decision(call, &u, eff ? &e : NULL, verdict);
}

/* ---- handles with write rights to this VM's services: ChangeServiceConfig and DeleteService
   must know which service a handle is (the SCM API cannot say) ---- */
static SRWLOCK handles_lock = SRWLOCK_INIT;
typedef struct {
    SC_HANDLE h;
    WCHAR name[NAME_CHARS];
} tracked;
static tracked *handles;
static int n_handles, cap_handles;

static int handle_note(SC_HANDLE h, const WCHAR *name)
{
    int i, ok = 0;
    AcquireSRWLockExclusive(&handles_lock);
    for (i = 0; i < n_handles && handles[i].h; i++)
        ;
    if (i == n_handles && n_handles == cap_handles) {
        tracked *n = hmalloc(sizeof *n * (cap_handles ? cap_handles * 2 : 16));
        if (n) {
            if (handles) {
                memcpy(n, handles, sizeof *n * n_handles);
                hfree(handles);
            }
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
int handle_find(SC_HANDLE h, WCHAR *name, int take)
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
SC_HANDLE tracked_handle(SC_HANDLE h, DWORD access, const WCHAR *name)
{
    if (h && (access & TRACKED_RIGHTS) && !handle_note(h, name)) {
        o_CloseServiceHandle(h);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    return h;
}
WCHAR *to_wide(const char *s)
{
    int n;
    WCHAR *w;
    if (!s) return NULL;
    n = MultiByteToWideChar(CP_ACP, 0, s, -1, NULL, 0);
    if (!(w = hmalloc(n * sizeof(WCHAR)))) return NULL;
    MultiByteToWideChar(CP_ACP, 0, s, -1, w, n);
    return w;
}

WCHAR *to_wide_multi(const char *s)
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

BOOL WINAPI d_CloseServiceHandle(SC_HANDLE h)
{
    handle_find(h, NULL, 1);
    return o_CloseServiceHandle(h);
}
