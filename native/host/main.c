/* svcdup-host.exe: a duplicate, as the SCM sees it.
 *
 * Registered as SERVICE@VM with ImagePath `svcdup-host.exe --vm VM --service SERVICE`
 * (`--restricted-token`: the image runs with a restricted token, launch.c).
 * Only the process the SCM started may talk to the SCM, so this process is the service:
 * it starts the real image inside the VM (launch.c) and relays start arguments,
 * controls and status reports over a private pipe (relay.h) to the hook's emulation of
 * the service-side SCM API in that image. */
#include <windows.h>
#include "host.h"
#include "relay.h"

struct host H;

static void usage(void)
{
    err_write(L"usage: svcdup-host.exe --vm VM --service SERVICE [--restricted-token] (each once)\n"
              L"svcdup-host is the ImagePath of a duplicate; the SCM starts it (sc start SERVICE@VM).\n",
              NULL);
}

/* A VM name as svcdup makes them (docs/vm.md): ^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$ */
static int vm_name_ok(const WCHAR *s)
{
    int n = lstrlenW(s), i;
    if (n < 1 || n > 32 || s[0] < L'a' || s[0] > L'z' || s[n - 1] == L'-') return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= L'a' && s[i] <= L'z') || (s[i] >= L'0' && s[i] <= L'9') || s[i] == L'-')) return 0;
    return 1;
}

/* A service name the SCM accepts, and nothing that could be read as syntax: no quote,
   slash, backslash, '@' (SERVICE@VM is this process's own name) or control character */
static int service_name_ok(const WCHAR *s)
{
    int n = lstrlenW(s), i;
    if (n < 1 || n > 256) return 0;
    for (i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == L'"' || s[i] == L'/' || s[i] == L'\\' || s[i] == L'@') return 0;
    return 1;
}

/* Each flag once: a name that smuggled a second --vm or --service into the ImagePath
   (a service created in a VM, hook/scmcreate.c) must not pick another VM's service. */
static int take(WCHAR *dst, int cap, const WCHAR *value)
{
    if (dst[0] || lstrlenW(value) >= cap) return 0;
    lstrcpynW(dst, value, cap);
    return 1;
}

int host_main(int argc, WCHAR **argv)
{
    SERVICE_TABLE_ENTRYW table[2] = {{0}};
    DWORD err;
    int i, ok = 1;

    for (i = 1; i < argc && ok; i += 2) {
        if (str_eq(argv[i], L"--restricted-token")) {
            ok = !H.restricted_token;
            H.restricted_token = TRUE;
            i--; /* a flag: no value */
        } else if (i + 1 >= argc)
            break;
        else if (str_eq(argv[i], L"--vm"))
            ok = take(H.vm, ARRAYSIZE(H.vm), argv[i + 1]) && vm_name_ok(H.vm);
        else if (str_eq(argv[i], L"--service"))
            ok = take(H.service, ARRAYSIZE(H.service), argv[i + 1]) && service_name_ok(H.service);
        else
            break;
    }
    if (!ok || i != argc || !H.vm[0] || !H.service[0]) {
        usage();
        return 2;
    }
    str_join(H.scm_name, ARRAYSIZE(H.scm_name), H.service, L"@", H.vm, NULL);
    InitializeCriticalSection(&H.lock);
    H.reply_event = CreateEventW(NULL, FALSE, FALSE, NULL);

    table[0].lpServiceName = H.scm_name;
    table[0].lpServiceProc = host_service_main;
    host_prepare();
    /* the image is created (or failed to be): now what speaks to the SCM */
    if ((err = host_load_advapi())) {
        WCHAR num[11];
        if (H.child) TerminateProcess(H.child, err);
        err_write(L"svcdup-host: cannot load advapi32.dll: Win32 error ", str_dec(num, err), L"\n", NULL);
        return 1;
    }
    err = host_scmpipe_run();
    if (err == ERROR_CALL_NOT_IMPLEMENTED) err = StartServiceCtrlDispatcherW(table) ? NO_ERROR : GetLastError();
    if (err) {
        WCHAR num[11];
        if (H.child) TerminateProcess(H.child, err);
        if (err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
            err_write(L"svcdup-host: not started by the SCM; start the duplicate with: sc start ", H.scm_name, L"\n", NULL);
        else
            err_write(L"svcdup-host: cannot serve the SCM: Win32 error ", str_dec(num, err), L"\n", NULL);
        return 1;
    }
    return 0;
}
