/*
 * scm.* ops: the Service Control Manager, through the documented API only.
 *
 * Services are always created and changed through the SCM (never by
 * writing the Services key): Wine's SCM reads that key only when it
 * starts, and Windows' SCM owns it.
 */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

#define SERVICES_KEY L"SYSTEM\\CurrentControlSet\\Services\\"

static const char *const start_names[] = {"BOOT", "SYSTEM", "AUTO", "DEMAND", "DISABLED"};

static const char *state_name(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED: return "STOPPED";
    case SERVICE_START_PENDING: return "START_PENDING";
    case SERVICE_STOP_PENDING: return "STOP_PENDING";
    case SERVICE_RUNNING: return "RUNNING";
    case SERVICE_CONTINUE_PENDING: return "CONTINUE_PENDING";
    case SERVICE_PAUSE_PENDING: return "PAUSE_PENDING";
    case SERVICE_PAUSED: return "PAUSED";
    }
    return "STOPPED"; /* not a documented state; the type allows no other */
}

static void write_status(json_writer *w, const WCHAR *name, const WCHAR *display, const SERVICE_STATUS_PROCESS *st)
{
    json_begin_object(w);
    out_key_wstr(w, "name", name);
    if (display && *display) out_key_wstr(w, "displayName", display);
    out_key_uint(w, "type", st->dwServiceType);
    json_key(w, "state");
    json_cstring(w, state_name(st->dwCurrentState));
    out_key_uint(w, "pid", st->dwProcessId);
    out_key_uint(w, "controlsAccepted", st->dwControlsAccepted);
    out_key_uint(w, "win32ExitCode", st->dwWin32ExitCode);
    out_key_uint(w, "serviceExitCode", st->dwServiceSpecificExitCode);
    out_key_uint(w, "checkpoint", st->dwCheckPoint);
    out_key_uint(w, "waitHint", st->dwWaitHint);
    json_end_object(w);
}

/* One SCM handle for the agent's life, shared by every request thread: each
   OpenSCManager costs a new RPC binding (under Wine a pipe connection and a bind),
   about as much as the query it is for; calls on one handle may run at once. */
static SC_HANDLE open_scm(void)
{
    static SC_HANDLE shared;
    static SRWLOCK lock = SRWLOCK_INIT;
    SC_HANDLE h;
    AcquireSRWLockExclusive(&lock);
    if (!shared) shared = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE | SC_MANAGER_CREATE_SERVICE);
    h = shared;
    ReleaseSRWLockExclusive(&lock);
    return h;
}

/* Opens the SCM and the service named by params.name. */
static DWORD open_service(struct request *rq, DWORD access, SC_HANDLE *scm, SC_HANDLE *svc, WCHAR **name)
{
    DWORD err = param_wstr(rq, "name", TRUE, FALSE, name, NULL);
    if (err) return err;
    if (!**name) return invalid_param(rq, "name");
    if (!(*scm = open_scm())) return GetLastError();
    if (!(*svc = OpenServiceW(*scm, *name, access))) return GetLastError();
    return ERROR_SUCCESS;
}

/* The SCM handle stays open (open_scm). */
static void close_service(SC_HANDLE scm, SC_HANDLE svc) { CloseServiceHandle(svc); }

/* For a query or a creation: the service handle closed after the reply is written, one call
   into the SCM (about as long as the query) off the path of `dup`. Not for calls that may come
   right before a delete: a handle still open keeps the deleted service (marked for delete). */
static void close_after_reply(struct request *rq, SC_HANDLE svc) { rq->close_after = svc; }

/* The display name, or NULL; best effort (only decorates a status). One call for the
   names the SCM allows (at most 256 characters), a second only for a longer one. */
static WCHAR *display_name(struct request *rq, SC_HANDLE scm, const WCHAR *name)
{
    DWORD len = 258;
    WCHAR *buf = rq_alloc(rq, len * sizeof(WCHAR));
    if (!buf) return NULL;
    if (GetServiceDisplayNameW(scm, name, buf, &len)) return buf;
    if (GetLastError() != ERROR_INSUFFICIENT_BUFFER || !(buf = rq_alloc(rq, (len + 2) * sizeof(WCHAR)))) return NULL;
    len += 2;
    return GetServiceDisplayNameW(scm, name, buf, &len) ? buf : NULL;
}

static DWORD write_current_status(struct request *rq, SC_HANDLE scm, SC_HANDLE svc, const WCHAR *name)
{
    SERVICE_STATUS_PROCESS st;
    DWORD needed;
    if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)&st, sizeof(st), &needed)) return GetLastError();
    write_status(rq->out, name, display_name(rq, scm, name), &st);
    return ERROR_SUCCESS;
}

DWORD op_scm_list(struct request *rq)
{
    DWORD cap = 64 * 1024, needed = 0, count = 0, resume = 0, i, err = ERROR_SUCCESS;
    BYTE *buf = malloc(cap);
    SC_HANDLE scm;

    if (!buf) return ERROR_NOT_ENOUGH_MEMORY;
    if (!(scm = open_scm())) {
        free(buf);
        return GetLastError();
    }
    json_begin_array(rq->out);
    for (;;) {
        BOOL done = EnumServicesStatusExW(scm, SC_ENUM_PROCESS_INFO, SERVICE_WIN32 | SERVICE_DRIVER, SERVICE_STATE_ALL, buf, cap, &needed,
                                          &count, &resume, NULL);
        ENUM_SERVICE_STATUS_PROCESSW *e = (ENUM_SERVICE_STATUS_PROCESSW *)buf;
        if (!done && (err = GetLastError()) != ERROR_MORE_DATA) break;
        for (i = 0; i < count; i++) write_status(rq->out, e[i].lpServiceName, e[i].lpDisplayName, &e[i].ServiceStatusProcess);
        err = ERROR_SUCCESS;
        if (done) break;
        /* more to come from `resume`; grow if not even one entry fitted */
        if (!count) {
            BYTE *bigger;
            cap = needed > cap ? needed : cap * 2;
            if (!(bigger = realloc(buf, cap))) {
                err = ERROR_NOT_ENOUGH_MEMORY;
                break;
            }
            buf = bigger;
        }
    }
    json_end_array(rq->out);
    free(buf);
    return err;
}

DWORD op_scm_status(struct request *rq)
{
    SC_HANDLE scm, svc;
    WCHAR *name;
    DWORD err = open_service(rq, SERVICE_QUERY_STATUS, &scm, &svc, &name);
    if (err) return err;
    err = write_current_status(rq, scm, svc, name);
    close_service(scm, svc);
    return err;
}

/* The status once the service has left START_PENDING, waited for here (at most params.ms):
   one request instead of a status query every few ms from the client, each a round trip
   through the agent's pipe (a relayed start took 4 to 7 of them). Still START_PENDING when
   the time ran out. */
DWORD op_scm_wait(struct request *rq)
{
    SERVICE_STATUS_PROCESS st;
    SC_HANDLE scm, svc;
    WCHAR *name;
    double ms;
    DWORD err, needed, begun = GetTickCount();

    if ((err = param_int(rq, "ms", TRUE, 0, 10000, 0, &ms))) return err;
    if ((err = open_service(rq, SERVICE_QUERY_STATUS, &scm, &svc, &name))) return err;
    for (;;) {
        if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)&st, sizeof(st), &needed)) {
            err = GetLastError();
            break;
        }
        if (st.dwCurrentState != SERVICE_START_PENDING || GetTickCount() - begun >= (DWORD)ms) {
            write_status(rq->out, name, display_name(rq, scm, name), &st);
            break;
        }
        Sleep(2);
    }
    close_service(scm, svc);
    return err;
}

/* A string (REG_SZ/REG_EXPAND_SZ, unexpanded) or, with multi, a REG_MULTI_SZ
 * value under the Services key, always NUL-terminated twice; or NULL. */
/* Open HKLM\\...\\Services\\NAME (or its subkey) to query values; FALSE when it cannot be. */
static BOOL open_service_key(struct request *rq, const WCHAR *name, const WCHAR *subkey, HKEY *key)
{
    size_t len = wcslen(SERVICES_KEY) + wcslen(name) + (subkey ? wcslen(subkey) + 1 : 0) + 1;
    WCHAR *path = rq_alloc(rq, len * sizeof(WCHAR));

    if (!path) return FALSE;
    wcscpy(path, SERVICES_KEY);
    wcscat(path, name);
    if (subkey) {
        wcscat(path, L"\\");
        wcscat(path, subkey);
    }
    return !RegOpenKeyExW(HKEY_LOCAL_MACHINE, path, 0, KEY_QUERY_VALUE | KEY_WOW64_64KEY, key);
}

static WCHAR *service_reg_value(struct request *rq, const WCHAR *name, const WCHAR *subkey, const WCHAR *value, BOOL multi)
{
    WCHAR *data;
    DWORD type, size = 0;
    BOOL type_ok;
    HKEY key;

    if (!open_service_key(rq, name, subkey, &key)) return NULL;
    data = NULL;
    if (!RegQueryValueExW(key, value, NULL, &type, NULL, &size)) {
        type_ok = multi ? type == REG_MULTI_SZ : type == REG_SZ || type == REG_EXPAND_SZ;
        if (type_ok && (data = rq_alloc(rq, size + 3 * sizeof(WCHAR)))) {
            /* stored strings need not be terminated: add two NULs after the data */
            if (RegQueryValueExW(key, value, NULL, &type, (BYTE *)data, &size))
                data = NULL;
            else
                data[size / sizeof(WCHAR)] = data[size / sizeof(WCHAR) + 1] = 0;
        }
    }
    RegCloseKey(key);
    return data;
}

/* The GROUP of "...svchost.exe ... -k GROUP ..." (quotes allowed), or NULL. */
static WCHAR *svchost_group(struct request *rq, const WCHAR *image)
{
    WCHAR *copy, *p, *tok, *group = NULL, *lower;
    BOOL want_group = FALSE, first = TRUE;
    size_t len = wcslen(image);

    if (!(copy = rq_alloc(rq, (len + 1) * sizeof(WCHAR))) || !(lower = rq_alloc(rq, (len + 1) * sizeof(WCHAR)))) return NULL;
    wcscpy(copy, image);
    wcscpy(lower, image);
    _wcslwr(lower);
    if (!wcsstr(lower, L"svchost")) return NULL;

    /* split on blanks, honouring double quotes */
    for (p = copy; *p;) {
        while (*p == L' ' || *p == L'\t') p++;
        if (!*p) break;
        if (*p == L'"') {
            tok = ++p;
            while (*p && *p != L'"') p++;
        } else {
            tok = p;
            while (*p && *p != L' ' && *p != L'\t') p++;
        }
        if (*p) *p++ = 0;
        if (want_group) {
            group = tok;
            break;
        }
        if (!first && (!_wcsicmp(tok, L"-k") || !_wcsicmp(tok, L"/k"))) want_group = TRUE;
        first = FALSE;
    }
    return group && *group ? group : NULL;
}

/* Splits a dependency list into services and groups, each a list of
 * NUL-terminated strings ending with an empty one. */
static DWORD split_dependencies(struct request *rq, const WCHAR *deps, WCHAR **svcs, WCHAR **groups)
{
    size_t total = 2;
    const WCHAR *d;
    WCHAR *ps, *pg;

    for (d = deps; d && *d; d += wcslen(d) + 1) total += wcslen(d) + 1;
    if (!(ps = *svcs = rq_alloc(rq, total * sizeof(WCHAR))) || !(pg = *groups = rq_alloc(rq, total * sizeof(WCHAR))))
        return ERROR_NOT_ENOUGH_MEMORY;
    /* "+name" entries are load order groups */
    for (d = deps; d && *d; d += wcslen(d) + 1) {
        if (*d == SC_GROUP_IDENTIFIERW) {
            wcscpy(pg, d + 1);
            pg += wcslen(pg) + 1;
        } else {
            wcscpy(ps, d);
            ps += wcslen(ps) + 1;
        }
    }
    *ps = *pg = 0;
    return ERROR_SUCCESS;
}

typedef LONG(NTAPI *query_key_fn)(HANDLE, int, void *, ULONG, ULONG *);

/* The service's name as its key under Services spells it (the name the SCM has: both come
 * from that key), or NULL. The key's own name (NtQueryKey KeyNameInformation, one wineserver
 * request) instead of GetServiceKeyNameW, one more call into the SCM on the path of every
 * `dup`'s reads (about a millisecond under Wine). */
static WCHAR *service_key_case(struct request *rq, const WCHAR *name)
{
    static query_key_fn query_key;
    struct {
        ULONG len;
        WCHAR name[512];
    } info;
    WCHAR *last, *canon = NULL;
    ULONG ret = 0;
    HKEY key;
    if (!query_key) query_key = (query_key_fn)(void *)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQueryKey");
    if (!query_key || !open_service_key(rq, name, NULL, &key)) return NULL;
    if (query_key(key, 3 /* KeyNameInformation */, &info, sizeof info - sizeof(WCHAR), &ret) >= 0) {
        size_t n = info.len / sizeof(WCHAR);
        info.name[n] = 0;
        last = wcsrchr(info.name, L'\\');
        last = last ? last + 1 : info.name;
        if (!_wcsicmp(last, name) && (canon = rq_alloc(rq, (wcslen(last) + 1) * sizeof(WCHAR)))) wcscpy(canon, last);
    }
    RegCloseKey(key);
    return canon;
}

/* The service's configuration; *key_name gets the name as the SCM spells
 * it, whatever case was asked. */
static DWORD query_config(struct request *rq, SC_HANDLE svc, const WCHAR *name, QUERY_SERVICE_CONFIGW **out, WCHAR **key_name)
{
    QUERY_SERVICE_CONFIGW *cfg;
    DWORD needed = 8192, err;
    WCHAR *canon;

    /* a buffer most configurations fit: one SCM round trip instead of a size probe and a fetch */
    if (!(cfg = rq_alloc(rq, needed))) return ERROR_NOT_ENOUGH_MEMORY;
    if (!QueryServiceConfigW(svc, cfg, needed, &needed)) {
        if ((err = GetLastError()) != ERROR_INSUFFICIENT_BUFFER) return err;
        if (!(cfg = rq_alloc(rq, needed))) return ERROR_NOT_ENOUGH_MEMORY;
        if (!QueryServiceConfigW(svc, cfg, needed, &needed)) return GetLastError();
    }
    *out = cfg;
    *key_name = (canon = service_key_case(rq, name)) ? canon : (WCHAR *)name;
    return ERROR_SUCCESS;
}

/* Dependencies as two lists (see split_dependencies). Wine 8's
 * QueryServiceConfigW returns none at all, so an empty answer is checked
 * against the DependOnService/DependOnGroup values the SCM writes. */
static DWORD query_dependencies(struct request *rq, const QUERY_SERVICE_CONFIGW *cfg, const WCHAR *key_name, WCHAR **svcs, WCHAR **groups)
{
    DWORD err = split_dependencies(rq, cfg->lpDependencies, svcs, groups);
    WCHAR *v;
    if (err || (cfg->lpDependencies && *cfg->lpDependencies)) return err;
    if ((v = service_reg_value(rq, key_name, NULL, L"DependOnService", TRUE))) *svcs = v;
    if ((v = service_reg_value(rq, key_name, NULL, L"DependOnGroup", TRUE))) *groups = v;
    return ERROR_SUCCESS;
}

static void write_list(json_writer *w, const char *key, const WCHAR *list)
{
    json_key(w, key);
    json_begin_array(w);
    for (; *list; list += wcslen(list) + 1) out_wstr(w, list, (size_t)-1);
    json_end_array(w);
}

/* QueryServiceConfig2W(SERVICE_CONFIG_DESCRIPTION) into a buffer of the request's (not
   allocating: the request's allocator is its own thread's) */
struct description_query {
    SC_HANDLE svc;
    BYTE *buf;
    DWORD size, error;
    BOOL ok;
};

static void CALLBACK description_work(PTP_CALLBACK_INSTANCE inst, void *ctx, PTP_WORK work)
{
    struct description_query *d = ctx;
    d->ok = QueryServiceConfig2W(d->svc, SERVICE_CONFIG_DESCRIPTION, d->buf, d->size, &d->size);
    d->error = d->ok ? ERROR_SUCCESS : GetLastError();
}

DWORD op_scm_config(struct request *rq)
{
    SC_HANDLE scm, svc;
    QUERY_SERVICE_CONFIGW *cfg;
    SERVICE_DESCRIPTIONW *desc = NULL;
    WCHAR *name, *key_name, *dll, *group, *dep_svcs, *dep_groups;
    struct description_query d = {0};
    PTP_WORK work = NULL;
    DWORD err;
    json_writer *w = rq->out;

    if ((err = open_service(rq, SERVICE_QUERY_CONFIG, &scm, &svc, &name))) return err;
    /* the description asked on a pool thread while this one asks the configuration: two
       calls into the SCM at once (calls on one handle may run at once) */
    d.svc = svc;
    d.size = 2048;
    d.buf = rq_alloc(rq, d.size);
    if (d.buf && !(work = CreateThreadpoolWork(description_work, &d, NULL))) description_work(NULL, &d, NULL);
    if (work) SubmitThreadpoolWork(work);
    err = query_config(rq, svc, name, &cfg, &key_name);
    if (!err) err = query_dependencies(rq, cfg, key_name, &dep_svcs, &dep_groups);
    if (work) {
        WaitForThreadpoolWorkCallbacks(work, FALSE);
        CloseThreadpoolWork(work);
    }
    if (err) goto done;
    /* the description is optional: an SCM without it still has a config; a longer one than
       the first buffer is asked again with the size the SCM said */
    desc = d.ok ? (SERVICE_DESCRIPTIONW *)d.buf : NULL;
    if (!d.ok && d.error == ERROR_INSUFFICIENT_BUFFER && d.size && (desc = rq_alloc(rq, d.size)) &&
        !QueryServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, (BYTE *)desc, d.size, &d.size))
        desc = NULL;
    dll = service_reg_value(rq, key_name, L"Parameters", L"ServiceDll", FALSE);
    if (!dll) dll = service_reg_value(rq, key_name, NULL, L"ServiceDll", FALSE);
    group = cfg->lpBinaryPathName ? svchost_group(rq, cfg->lpBinaryPathName) : NULL;

    json_begin_object(w);
    out_key_wstr(w, "name", key_name);
    out_key_wstr(w, "displayName", cfg->lpDisplayName);
    out_key_uint(w, "type", cfg->dwServiceType);
    json_key(w, "start");
    json_cstring(w, cfg->dwStartType <= 4 ? start_names[cfg->dwStartType] : "DISABLED");
    out_key_uint(w, "errorControl", cfg->dwErrorControl);
    out_key_wstr(w, "imagePath", cfg->lpBinaryPathName);
    out_key_wstr(w, "loadOrderGroup", cfg->lpLoadOrderGroup);
    out_key_wstr(w, "account", cfg->lpServiceStartName);
    write_list(w, "dependOnService", dep_svcs);
    write_list(w, "dependOnGroup", dep_groups);
    out_key_wstr(w, "description", desc ? desc->lpDescription : NULL);
    if (dll) out_key_wstr(w, "serviceDll", dll);
    if (group) out_key_wstr(w, "svchostGroup", group);
    json_end_object(w);
done:
    close_after_reply(rq, svc);
    return err;
}

/* params.start as a start type: a name, or the number itself. */
static DWORD param_start(struct request *rq, DWORD dflt, DWORD *out)
{
    const json_value *v = json_get(rq->params, "start");
    DWORD i;
    *out = dflt;
    if (!v || v->type == JSON_NULL) return ERROR_SUCCESS;
    if (v->type == JSON_NUMBER && v->number >= 0 && v->number <= 4 && v->number == (DWORD)v->number) {
        *out = (DWORD)v->number;
        return ERROR_SUCCESS;
    }
    if (v->type == JSON_STRING)
        for (i = 0; i < 5; i++)
            if (!strcmp(v->str, start_names[i])) {
                *out = i;
                return ERROR_SUCCESS;
            }
    return invalid_param(rq, "start");
}

/* Builds lpDependencies from service and group lists (groups get "+"). */
static WCHAR *build_dependencies(struct request *rq, WCHAR **svcs, size_t nsvc, WCHAR **groups, size_t ngroup)
{
    size_t total = 1, i, pos = 0;
    WCHAR *list;
    for (i = 0; i < nsvc; i++) total += wcslen(svcs[i]) + 1;
    for (i = 0; i < ngroup; i++) total += wcslen(groups[i]) + 2;
    if (!(list = rq_alloc(rq, total * sizeof(WCHAR)))) return NULL;
    for (i = 0; i < nsvc; i++, pos += wcslen(list + pos) + 1) wcscpy(list + pos, svcs[i]);
    for (i = 0; i < ngroup; i++, pos += wcslen(list + pos) + 1) {
        list[pos] = SC_GROUP_IDENTIFIERW;
        wcscpy(list + pos + 1, groups[i]);
    }
    list[pos] = 0;
    return list;
}

/* The service fields shared by create and change. */
struct service_fields {
    WCHAR *display, *image, *group, *account, *password, *description, *deps;
    WCHAR **dep_svcs, **dep_groups;
    size_t n_dep_svcs, n_dep_groups;
    BOOL have_deps;
    double type, error_control;
    DWORD start;
};

static DWORD read_fields(struct request *rq, BOOL create, struct service_fields *f)
{
    const DWORD keep = SERVICE_NO_CHANGE;
    DWORD err;
    if ((err = param_wstr(rq, "displayName", FALSE, FALSE, &f->display, NULL)) ||
        (err = param_wstr(rq, "imagePath", create, FALSE, &f->image, NULL)) ||
        (err = param_wstr(rq, "loadOrderGroup", FALSE, FALSE, &f->group, NULL)) ||
        (err = param_wstr(rq, "account", FALSE, FALSE, &f->account, NULL)) ||
        (err = param_wstr(rq, "password", FALSE, FALSE, &f->password, NULL)) ||
        (err = param_wstr(rq, "description", FALSE, FALSE, &f->description, NULL)) ||
        (err = param_int(rq, "type", FALSE, 0, 0xfffffffe, create ? SERVICE_WIN32_OWN_PROCESS : keep, &f->type)) ||
        (err = param_int(rq, "errorControl", FALSE, 0, 0xfffffffe, create ? SERVICE_ERROR_NORMAL : keep, &f->error_control)) ||
        (err = param_start(rq, create ? SERVICE_DEMAND_START : keep, &f->start)) ||
        (err = param_wstr_array(rq, "dependOnService", &f->dep_svcs, &f->n_dep_svcs)) ||
        (err = param_wstr_array(rq, "dependOnGroup", &f->dep_groups, &f->n_dep_groups)))
        return err;
    if (create && f->image && !*f->image) return invalid_param(rq, "imagePath");
    f->have_deps = param_present(rq, "dependOnService") || param_present(rq, "dependOnGroup");
    return ERROR_SUCCESS;
}

static DWORD set_description(SC_HANDLE svc, WCHAR *description)
{
    SERVICE_DESCRIPTIONW sd;
    sd.lpDescription = description;
    return ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &sd) ? ERROR_SUCCESS : GetLastError();
}

DWORD op_scm_create(struct request *rq)
{
    struct service_fields f = {0};
    SC_HANDLE scm, svc;
    WCHAR *name;
    DWORD err;

    if ((err = param_wstr(rq, "name", TRUE, FALSE, &name, NULL))) return err;
    if (!*name) return invalid_param(rq, "name");
    if ((err = read_fields(rq, TRUE, &f))) return err;
    if (f.have_deps && !(f.deps = build_dependencies(rq, f.dep_svcs, f.n_dep_svcs, f.dep_groups, f.n_dep_groups)))
        return ERROR_NOT_ENOUGH_MEMORY;

    if (!(scm = open_scm())) return GetLastError();
    svc = CreateServiceW(scm, name, f.display ? f.display : name, SERVICE_ALL_ACCESS, (DWORD)f.type, f.start, (DWORD)f.error_control,
                         f.image, f.group, NULL, f.deps, f.account, f.password);
    if (!svc) return GetLastError();
    /* all or nothing: a service without its description is not what was asked */
    if (f.description && (err = set_description(svc, f.description))) {
        DeleteService(svc);
        close_service(scm, svc); /* before the reply: the service is gone when the client hears of the failure */
    } else
        close_after_reply(rq, svc);
    return reply_empty(rq, err);
}

/* A NUL-separated list (see split_dependencies) as an array of strings. */
static WCHAR **list_to_array(struct request *rq, WCHAR *list, size_t *count)
{
    WCHAR *p, **array;
    size_t n = 0;
    for (p = list; *p; p += wcslen(p) + 1) n++;
    if (!(array = rq_alloc(rq, (n + 1) * sizeof(*array)))) return NULL;
    for (n = 0, p = list; *p; p += wcslen(p) + 1) array[n++] = p;
    array[n] = NULL;
    *count = n;
    return array;
}

DWORD op_scm_change(struct request *rq)
{
    struct service_fields f = {0};
    SC_HANDLE scm, svc;
    WCHAR *name;
    DWORD err;

    if ((err = read_fields(rq, FALSE, &f))) return err;
    if ((err = open_service(rq, SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG, &scm, &svc, &name))) return err;

    /* Always pass the full dependency list: both kinds share one list, and
     * Wine 8's SCM clears all dependencies when given NULL ("no change") */
    {
        QUERY_SERVICE_CONFIGW *cfg;
        WCHAR *key_name, *old_svcs, *old_groups, **svcs = f.dep_svcs, **groups = f.dep_groups;
        size_t nsvc = f.n_dep_svcs, ngroup = f.n_dep_groups;

        if ((err = query_config(rq, svc, name, &cfg, &key_name)) || (err = query_dependencies(rq, cfg, key_name, &old_svcs, &old_groups)))
            goto done;
        if (!param_present(rq, "dependOnService") && !(svcs = list_to_array(rq, old_svcs, &nsvc))) err = ERROR_NOT_ENOUGH_MEMORY;
        if (!param_present(rq, "dependOnGroup") && !(groups = list_to_array(rq, old_groups, &ngroup))) err = ERROR_NOT_ENOUGH_MEMORY;
        if (err || !(f.deps = build_dependencies(rq, svcs, nsvc, groups, ngroup))) {
            err = ERROR_NOT_ENOUGH_MEMORY;
            goto done;
        }
    }
    if (!ChangeServiceConfigW(svc, (DWORD)f.type, f.start, (DWORD)f.error_control, f.image, f.group, NULL, f.deps, f.account, f.password,
                              f.display))
        err = GetLastError();
    else if (f.description)
        err = set_description(svc, f.description);
done:
    close_service(scm, svc);
    return reply_empty(rq, err);
}

DWORD op_scm_start(struct request *rq)
{
    SC_HANDLE scm, svc;
    WCHAR *name, **args;
    size_t count;
    DWORD err;

    if ((err = param_wstr_array(rq, "args", &args, &count))) return err;
    if ((err = open_service(rq, SERVICE_START, &scm, &svc, &name))) return err;
    if (!StartServiceW(svc, (DWORD)count, (const WCHAR **)args)) err = GetLastError();
    close_service(scm, svc);
    return reply_empty(rq, err);
}

/* The access right ControlService checks for a control code. */
static DWORD control_access(DWORD code)
{
    switch (code) {
    case SERVICE_CONTROL_STOP: return SERVICE_STOP;
    case SERVICE_CONTROL_INTERROGATE: return SERVICE_INTERROGATE;
    case SERVICE_CONTROL_PAUSE:
    case SERVICE_CONTROL_CONTINUE:
    case SERVICE_CONTROL_PARAMCHANGE:
    case SERVICE_CONTROL_NETBINDADD:
    case SERVICE_CONTROL_NETBINDREMOVE:
    case SERVICE_CONTROL_NETBINDENABLE:
    case SERVICE_CONTROL_NETBINDDISABLE: return SERVICE_PAUSE_CONTINUE;
    }
    return code >= 128 && code <= 255 ? SERVICE_USER_DEFINED_CONTROL : 0;
}

DWORD op_scm_control(struct request *rq)
{
    SERVICE_STATUS ss;
    SC_HANDLE scm, svc;
    WCHAR *name;
    double code;
    DWORD err;

    if ((err = param_int(rq, "code", TRUE, 0, 0xffffffff, 0, &code))) return err;
    if ((err = open_service(rq, control_access((DWORD)code) | SERVICE_QUERY_STATUS, &scm, &svc, &name))) return err;
    if (!ControlService(svc, (DWORD)code, &ss))
        err = GetLastError();
    else
        err = write_current_status(rq, scm, svc, name);
    close_service(scm, svc);
    return err;
}

DWORD op_scm_delete(struct request *rq)
{
    SC_HANDLE scm, svc;
    WCHAR *name;
    DWORD err = open_service(rq, DELETE, &scm, &svc, &name);
    if (err) return err;
    if (!DeleteService(svc)) err = GetLastError();
    close_service(scm, svc);
    return reply_empty(rq, err);
}

/* scm.failure: a restart policy as the SCM's failure actions (sc failure). `restarts` restart
 * actions (-1: restart after every failure), the first `delayMs` after the failure, each next
 * one twice the last, at most `maxDelayMs`; a failure after the last one does nothing.
 * `restarts` 0 deletes the actions. The flag (restart also on a STOPPED with a nonzero exit
 * code, not only on a process that ends without STOPPED) is best effort: `flag` in the reply. */
#define MAX_FAILURE_ACTIONS 16
DWORD op_scm_failure(struct request *rq)
{
    SC_ACTION actions[MAX_FAILURE_ACTIONS + 1];
    SERVICE_FAILURE_ACTIONSW fa = {0};
    SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
    SC_HANDLE scm, svc;
    WCHAR *name;
    double restarts, delay, max_delay, reset;
    DWORD err, n = 0, d;
    BOOL flag_set;

    if ((err = param_int(rq, "restarts", TRUE, -1, MAX_FAILURE_ACTIONS, 0, &restarts)) ||
        (err = param_int(rq, "delayMs", FALSE, 0, 86400000, 1000, &delay)) ||
        (err = param_int(rq, "maxDelayMs", FALSE, 0, 86400000, 60000, &max_delay)) ||
        (err = param_int(rq, "resetSeconds", FALSE, 0, 0xfffffffe, 86400, &reset)))
        return err;
    if ((err = open_service(rq, SERVICE_CHANGE_CONFIG | SERVICE_START, &scm, &svc, &name))) return err;
    /* -1: doubling delays up to the cap; Windows repeats the last action for every later failure */
    for (d = (DWORD)delay; restarts < 0 ? n == 0 || actions[n - 1].Delay < (DWORD)max_delay : n < (DWORD)restarts; n++) {
        if (n == MAX_FAILURE_ACTIONS) break;
        actions[n].Type = SC_ACTION_RESTART;
        actions[n].Delay = d < (DWORD)max_delay ? d : (DWORD)max_delay;
        d = d > (DWORD)max_delay / 2 ? (DWORD)max_delay : d * 2;
    }
    if (restarts > 0) {
        actions[n].Type = SC_ACTION_NONE; /* on-failure:N: the N+1th failure leaves it stopped */
        actions[n++].Delay = 0;
    }
    fa.dwResetPeriod = (DWORD)reset;
    fa.cActions = n;
    fa.lpsaActions = actions; /* with cActions 0: delete the actions */
    if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) err = GetLastError();
    flag_set = !err && ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag);
    close_service(scm, svc);
    if (!err) {
        json_begin_object(rq->out);
        out_key_uint(rq->out, "actions", n);
        json_key(rq->out, "flag");
        json_bool(rq->out, flag_set);
        json_end_object(rq->out);
    }
    return err;
}
