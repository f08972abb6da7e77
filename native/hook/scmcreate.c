/* The SCM client's changes inside a VM (scmclient.h): CreateService makes a service of this
   VM, ChangeServiceConfig keeps it run by svcdup-host, DeleteService removes it. */
#include "scmclient.h"
#include <wchar.h>

NTSYSAPI NTSTATUS NTAPI NtDeleteKey(HANDLE);
NTSYSAPI NTSTATUS NTAPI NtEnumerateKey(HANDLE, ULONG, int, void *, ULONG, ULONG *);

/* ---- CreateService: a service of this VM ---- */
static NTSTATUS set_value(HANDLE key, const WCHAR *name, ULONG type, const void *data, ULONG bytes)
{
    UNICODE_STRING us;
    RtlInitUnicodeString(&us, name);
    return o_NtSetValueKey(key, &us, 0, type, (void *)data, bytes);
}

static NTSTATUS create_raw(const WCHAR *name, HANDLE *h, ULONG *disp)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    RtlInitUnicodeString(&us, name);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    return o_NtCreateKey(h, KEY_ALL_ACCESS, &oa, 0, NULL, 0, disp);
}

/* Delete a key with its subkeys, through the raw stubs. */
static void delete_tree(const WCHAR *name)
{
    HANDLE h;
    struct {
        ULONG a, b, c, len;
        WCHAR name[260];
    } info; /* KEY_BASIC_INFORMATION */
    ULONG ret;
    WCHAR sub[1024];
    if (open_raw(name, KEY_ALL_ACCESS, &h) < 0) return;
    while (NtEnumerateKey(h, 0, 0 /* KeyBasicInformation */, &info, sizeof info - sizeof(WCHAR), &ret) >= 0) {
        info.name[info.len / sizeof(WCHAR)] = 0;
        if (_snwprintf(sub, ARRAYSIZE(sub), L"%ls\\%ls", name, info.name) < 0) break;
        delete_tree(sub);
        {
            HANDLE s;
            if (open_raw(sub, KEY_ALL_ACCESS, &s) >= 0) {
                NtDeleteKey(s);
                o_NtClose(s);
            } else
                break;
        }
    }
    NtDeleteKey(h);
    o_NtClose(h);
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

SC_HANDLE WINAPI d_CreateServiceW(SC_HANDLE scm, const WCHAR *name, const WCHAR *display, DWORD access, DWORD type, DWORD start,
                                  DWORD errctl, const WCHAR *path, const WCHAR *group, DWORD *tag, const WCHAR *deps, const WCHAR *user,
                                  const WCHAR *password)
{
    WCHAR key[512], dup[NAME_CHARS], host_exe[MAX_PATH], *image = NULL, *disp = NULL, *mdeps = NULL, *slash;
    HANDLE h = NULL;
    ULONG created;
    DWORD v, err = 0;
    SC_HANDLE sh = NULL;
    size_t n, dn;

    if (!scm || !name || !path)
        return o_CreateServiceW(scm, name, display, access, type, start, errctl, path, group, tag, deps, user, password);
    n = wcslen(name);
    if (!svc_name_ok(name) || n + 1 + vm_len() >= NAME_CHARS) { /* it becomes a command line and a registry path */
        SetLastError(ERROR_INVALID_NAME);
        return NULL;
    }
    if (!(type & SERVICE_WIN32) || !o_NtCreateKey) { /* drivers cannot run in a VM */
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
    if (!GetModuleFileNameW(G.self, host_exe, MAX_PATH) || !(slash = wcsrchr(host_exe, L'\\')) || (slash - host_exe) + 20 >= MAX_PATH) {
        SetLastError(ERROR_FILE_NOT_FOUND);
        return NULL;
    }
    wcscpy(slash + 1, L"svcdup-host.exe");
    dn = display ? wcslen(display) : n;
    image = hmalloc((wcslen(host_exe) + 2 * NAME_CHARS + VM_NAME_MAX + 40) * sizeof(WCHAR));
    disp = hmalloc((dn + vm_len() + 4) * sizeof(WCHAR));
    mdeps = hmalloc((multisz_chars(deps) * (VM_NAME_MAX + 2) + 2) * sizeof(WCHAR));
    if (!image || !disp || !mdeps) {
        err = ERROR_NOT_ENOUGH_MEMORY;
        goto fail;
    }
    swprintf(image, wcslen(host_exe) + 2 * NAME_CHARS + VM_NAME_MAX + 40, L"\"%ls\" --vm %ls --service \"%ls\"", host_exe, G.cfg->vm, name);
    swprintf(disp, dn + vm_len() + 4, L"%.*ls (%ls)", (int)dn, display ? display : name, G.cfg->vm);
    if (!map_deps(scm, deps, mdeps)) {
        err = ERROR_ACCESS_DENIED;
        goto fail;
    }

    /* 1. the VM copy key: what svcdup-host reads (ImagePath) and the service's own config */
    if (create_raw(key, &h, &created) < 0) {
        /* VMs\<vm>\Services may not exist yet */
        WCHAR parent[512];
        HANDLE p;
        swprintf(parent, ARRAYSIZE(parent), L"\\REGISTRY\\MACHINE\\SOFTWARE\\svcdup\\VMs\\%ls\\Services", G.cfg->vm);
        if (open_raw(L"\\REGISTRY\\MACHINE\\SOFTWARE\\svcdup\\VMs", KEY_QUERY_VALUE, &p) < 0) {
            err = ERROR_ACCESS_DENIED;
            goto fail;
        }
        o_NtClose(p);
        if (create_raw(parent, &p, &created) < 0) {
            err = ERROR_ACCESS_DENIED;
            goto fail;
        }
        o_NtClose(p);
        if (create_raw(key, &h, &created) < 0) {
            err = ERROR_ACCESS_DENIED;
            goto fail;
        }
    }
    if (created != REG_CREATED_NEW_KEY) {
        o_NtClose(h);
        h = NULL;
        err = ERROR_SERVICE_EXISTS;
        goto fail;
    }
    v = 1;
    set_value(h, L"ImagePath", REG_EXPAND_SZ, path, (ULONG)(wcslen(path) + 1) * sizeof(WCHAR));
    set_value(h, L"DisplayName", REG_SZ, display ? display : name, (ULONG)(dn + 1) * sizeof(WCHAR));
    set_value(h, L"Type", REG_DWORD, &type, sizeof type);
    set_value(h, L"Start", REG_DWORD, &start, sizeof start);
    set_value(h, L"ErrorControl", REG_DWORD, &errctl, sizeof errctl);
    if (group && *group) set_value(h, L"Group", REG_SZ, group, (ULONG)(wcslen(group) + 1) * sizeof(WCHAR));
    if (deps && *deps) set_value(h, L"DependOnService", REG_MULTI_SZ, deps, (ULONG)multisz_chars(deps) * sizeof(WCHAR));
    set_value(h, L"ObjectName", REG_SZ, user ? user : L"LocalSystem", (ULONG)(wcslen(user ? user : L"LocalSystem") + 1) * sizeof(WCHAR));
    if (set_value(h, CREATED_MARK, REG_DWORD, &v, sizeof v) < 0) {
        err = ERROR_ACCESS_DENIED;
        goto fail;
    }
    o_NtClose(h);
    h = NULL;

    /* 2. the host SCM's X@<vm>, run by svcdup-host (own process, whatever the image's type) */
    sh = o_CreateServiceW(scm, dup, disp, access, SERVICE_WIN32_OWN_PROCESS | (type & SERVICE_INTERACTIVE_PROCESS), start, errctl, image,
                          NULL, NULL, mdeps, user, password);
    if (!sh) {
        err = GetLastError();
        delete_tree(key);
        goto fail;
    }
    if (tag) *tag = 0;
    trace_svc("CreateService", name, dup, V_RENAMED);
    sh = tracked_handle(sh, access, name);
    hfree(image);
    hfree(disp);
    hfree(mdeps);
    return sh;
fail:
    if (h) o_NtClose(h);
    hfree(image);
    hfree(disp);
    hfree(mdeps);
    SetLastError(err);
    return NULL;
}

SC_HANDLE WINAPI d_CreateServiceA(SC_HANDLE scm, const char *name, const char *display, DWORD access, DWORD type, DWORD start, DWORD errctl,
                                  const char *path, const char *group, DWORD *tag, const char *deps, const char *user, const char *password)
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
BOOL WINAPI d_ChangeServiceConfigW(SC_HANDLE h, DWORD type, DWORD start, DWORD errctl, const WCHAR *path, const WCHAR *group, DWORD *tag,
                                   const WCHAR *deps, const WCHAR *user, const WCHAR *password, const WCHAR *display)
{
    WCHAR name[NAME_CHARS], key[512], *disp = NULL, *mdeps = NULL;
    HANDLE k = NULL;
    DWORD err = 0;
    BOOL ok = FALSE;
    if (!handle_find(h, name, 0)) /* a host service: the SCM checks the handle's rights */
        return o_ChangeServiceConfigW(h, type, start, errctl, path, group, tag, deps, user, password, display);
    if (type != SERVICE_NO_CHANGE && !(type & SERVICE_WIN32)) {
        err = ERROR_ACCESS_DENIED;
        goto out;
    }
    if ((path || type != SERVICE_NO_CHANGE || group || display || deps) &&
        (!o_NtOpenKey || !svc_key_name(name, key, ARRAYSIZE(key)) || open_raw(key, KEY_SET_VALUE, &k) < 0)) {
        err = ERROR_ACCESS_DENIED;
        goto out;
    }
    if (display) {
        size_t n = wcslen(display) + vm_len() + 4;
        if (!(disp = hmalloc(n * sizeof(WCHAR)))) {
            err = ERROR_NOT_ENOUGH_MEMORY;
            goto out;
        }
        swprintf(disp, n, L"%ls (%ls)", display, G.cfg->vm);
    }
    if (deps) {
        if (!(mdeps = hmalloc((multisz_chars(deps) * (VM_NAME_MAX + 2) + 2) * sizeof(WCHAR)))) {
            err = ERROR_NOT_ENOUGH_MEMORY;
            goto out;
        }
        if (!map_deps(NULL, deps, mdeps)) {
            err = ERROR_ACCESS_DENIED;
            goto out;
        }
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
    if (k) o_NtClose(k);
    hfree(disp);
    hfree(mdeps);
    if (!ok) SetLastError(err);
    return ok;
}

BOOL WINAPI d_ChangeServiceConfigA(SC_HANDLE h, DWORD type, DWORD start, DWORD errctl, const char *path, const char *group, DWORD *tag,
                                   const char *deps, const char *user, const char *password, const char *display)
{
    WCHAR *w[6] = {to_wide(path), to_wide(group), to_wide_multi(deps), to_wide(user), to_wide(password), to_wide(display)};
    BOOL ok = d_ChangeServiceConfigW(h, type, start, errctl, w[0], w[1], tag, w[2], w[3], w[4], w[5]);
    DWORD err = GetLastError();
    int i;
    for (i = 0; i < 6; i++) hfree(w[i]);
    SetLastError(err);
    return ok;
}

/* Failure actions the host SCM would carry out on the host (a command, a reboot), set on a
   service of this VM: refused with ERROR_ACCESS_DENIED (1), else 0. `info` is a
   SERVICE_FAILURE_ACTIONSW or ...A (`wide`): the two differ only in their strings' type. */
static int refuse_host_actions(SC_HANDLE h, DWORD level, const void *info, int wide)
{
    const SERVICE_FAILURE_ACTIONSW *w = info;
    const SERVICE_FAILURE_ACTIONSA *n = info;
    DWORD i;
    int host;
    if (level != SERVICE_CONFIG_FAILURE_ACTIONS || !info) return 0;
    host = wide ? w->lpCommand && *w->lpCommand : n->lpCommand && *n->lpCommand;
    for (i = 0; !host && w->lpsaActions && i < w->cActions; i++)
        host = w->lpsaActions[i].Type == SC_ACTION_RUN_COMMAND || w->lpsaActions[i].Type == SC_ACTION_REBOOT;
    if (!host || !handle_find(h, NULL, 0)) return 0;
    SetLastError(ERROR_ACCESS_DENIED);
    return 1;
}

BOOL WINAPI d_ChangeServiceConfig2W(SC_HANDLE h, DWORD level, void *info)
{
    return refuse_host_actions(h, level, info, 1) ? FALSE : o_ChangeServiceConfig2W(h, level, info);
}

BOOL WINAPI d_ChangeServiceConfig2A(SC_HANDLE h, DWORD level, void *info)
{
    return refuse_host_actions(h, level, info, 0) ? FALSE : o_ChangeServiceConfig2A(h, level, info);
}

BOOL WINAPI d_DeleteService(SC_HANDLE h)
{
    WCHAR name[NAME_CHARS], key[512];
    if (!o_DeleteService(h)) return FALSE;
    /* the copy key goes with a service created in this VM (dup's copies are svcdup's to remove) */
    if (handle_find(h, name, 0) && vm_created(name) && svc_key_name(name, key, ARRAYSIZE(key))) delete_tree(key);
    return TRUE;
}
