/* The SCM client's queries inside a VM (scmclient.h): OpenService, GetServiceDisplayName,
   GetServiceKeyName, EnumServicesStatusEx and QueryServiceConfig, in the VM's names. */
#include "scmclient.h"
#include <wchar.h>

/* ---- OpenService ---- */
SC_HANDLE WINAPI d_OpenServiceW(SC_HANDLE scm, const WCHAR *name, DWORD access)
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

SC_HANDLE WINAPI d_OpenServiceA(SC_HANDLE scm, const char *name, DWORD access)
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
BOOL WINAPI d_GetServiceDisplayNameW(SC_HANDLE scm, const WCHAR *name, WCHAR *buf, DWORD *size)
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

BOOL WINAPI d_GetServiceKeyNameW(SC_HANDLE scm, const WCHAR *display, WCHAR *buf, DWORD *size)
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

BOOL WINAPI d_EnumServicesStatusExW(SC_HANDLE scm, SC_ENUM_TYPE level, DWORD type, DWORD state, BYTE *buf, DWORD size, DWORD *needed,
                                    DWORD *returned, DWORD *resume, const WCHAR *group)
{
    BYTE *all = NULL;
    DWORD cap = 32768, n = 0, i, j, need, r0, count = 0, start, more = 0;
    ESSP *e;
    struct item {
        const ESSP *e;
        size_t name, disp;
    } *items = NULL;
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
        if (wcschr(e[i].lpServiceName, L'@')) continue; /* another VM's */
        if (policy_decide(K_SERVICE, e[i].lpServiceName, (USHORT)len) == P_CLOSED) continue;
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
BOOL WINAPI d_QueryServiceConfigW(SC_HANDLE h, QUERY_SERVICE_CONFIGW *cfg, DWORD size, DWORD *needed)
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
