/* svcdup-scmclient.exe: an ordinary SCM client for test/scmclient.test.ts. Run inside a VM
 * it shows what the hook's client-side SCM mapping (native/hook/scmclient.c) does.
 * One command per run, one JSON object on stdout; exit code 0 when the call succeeded.
 *   status NAME                 OpenService(QUERY_STATUS) + QueryServiceStatusEx
 *   start NAME [ARGS...]        StartService
 *   stop NAME                   ControlService(STOP)
 *   open NAME ACCESS            OpenService with ACCESS (hex or decimal)
 *   openA NAME ACCESS           OpenServiceA
 *   enum exw|exa|w|a            EnumServicesStatus[Ex][W|A], Win32 services, all states, from a
 *                               small buffer: pages by resume handle, grows when nothing fits
 *   display NAME | displayA NAME         GetServiceDisplayName[W|A]
 *   keyname DISPLAY | keynameA DISPLAY   GetServiceKeyName[W|A]
 *   config NAME                 QueryServiceConfigW: display name, binary path, dependencies
 *   configA NAME                QueryServiceConfigA
 *   create NAME PATH [DISPLAY] [DEP]  CreateServiceW (own process, demand start)
 *   createA NAME PATH           CreateServiceA
 *   delete NAME [ACCESS]        OpenService(ACCESS, default DELETE) + DeleteService
 *   chpath NAME PATH            ChangeServiceConfigW with a new binary path
 *   chfail NAME                 ChangeServiceConfig2W: failure action "run a command"
 * Built twice: svcdup-scmclient.exe imports advapi32; svcdup-scmclient-dyn.exe loads it
 * only when a command runs (the hook must then catch sechost's later load). */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef DYNAMIC
#define API(name) ((decltype_##name)api(#name))
static void *api(const char *name)
{
    static HMODULE m;
    void *p;
    if (!m) m = LoadLibraryW(L"advapi32.dll");
    p = m ? (void *)GetProcAddress(m, name) : NULL;
    if (!p) {
        printf("{\"ok\":false,\"error\":-1,\"missing\":\"%s\"}\n", name);
        exit(3);
    }
    return p;
}
// declarations, one line of them: not code for clang-format to indent
// clang-format off
#define DECL(name) typedef __typeof__(&name) decltype_##name;
DECL(OpenSCManagerW) DECL(OpenServiceW) DECL(OpenServiceA) DECL(QueryServiceStatusEx) DECL(StartServiceW)
DECL(ControlService) DECL(CloseServiceHandle) DECL(EnumServicesStatusExW) DECL(EnumServicesStatusExA)
DECL(EnumServicesStatusW) DECL(EnumServicesStatusA) DECL(GetServiceDisplayNameW) DECL(GetServiceDisplayNameA)
DECL(GetServiceKeyNameW) DECL(GetServiceKeyNameA) DECL(QueryServiceConfigW) DECL(QueryServiceConfigA)
DECL(CreateServiceW) DECL(CreateServiceA) DECL(DeleteService) DECL(ChangeServiceConfigW) DECL(ChangeServiceConfig2W)
// clang-format on
#else
#define API(name) name
#endif

                static void jstr(const WCHAR *s)
{
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", (char)*s);
        else if (*s < 0x20 || *s > 0x7e)
            printf("\\u%04x", *s);
        else
            putchar((char)*s);
    }
    putchar('"');
}

static void jstra(const char *s)
{
    WCHAR w[1024];
    MultiByteToWideChar(CP_ACP, 0, s ? s : "", -1, w, 1024);
    jstr(w);
}

static int fail(const char *call)
{
    DWORD e = GetLastError();
    printf("{\"ok\":false,\"call\":\"%s\",\"error\":%lu}\n", call, e);
    return 1;
}

static SC_HANDLE scm;

static SC_HANDLE open_svc(const WCHAR *name, DWORD access) { return API(OpenServiceW)(scm, name, access); }

static void print_status(const SERVICE_STATUS_PROCESS *s)
{
    printf("\"state\":%lu,\"pid\":%lu,\"type\":%lu", s->dwCurrentState, s->dwProcessId, s->dwServiceType);
}

static int cmd_status(const WCHAR *name)
{
    SERVICE_STATUS_PROCESS ssp;
    DWORD n;
    SC_HANDLE h = open_svc(name, SERVICE_QUERY_STATUS);
    if (!h) return fail("OpenServiceW");
    if (!API(QueryServiceStatusEx)(h, SC_STATUS_PROCESS_INFO, (BYTE *)&ssp, sizeof ssp, &n)) return fail("QueryServiceStatusEx");
    printf("{\"ok\":true,\"name\":");
    jstr(name);
    putchar(',');
    print_status(&ssp);
    printf("}\n");
    API(CloseServiceHandle)(h);
    return 0;
}

static int cmd_start(const WCHAR *name, int argc, const WCHAR **argv)
{
    SC_HANDLE h = open_svc(name, SERVICE_START);
    if (!h) return fail("OpenServiceW");
    if (!API(StartServiceW)(h, argc, argv)) return fail("StartServiceW");
    printf("{\"ok\":true}\n");
    return 0;
}

static int cmd_stop(const WCHAR *name)
{
    SERVICE_STATUS st;
    SC_HANDLE h = open_svc(name, SERVICE_STOP);
    if (!h) return fail("OpenServiceW");
    if (!API(ControlService)(h, SERVICE_CONTROL_STOP, &st)) return fail("ControlService");
    printf("{\"ok\":true,\"state\":%lu}\n", st.dwCurrentState);
    return 0;
}

static int cmd_open(const WCHAR *name, const WCHAR *access, int ansi)
{
    DWORD a = wcstoul(access, NULL, 0);
    SC_HANDLE h;
    if (ansi) {
        char n[512];
        WideCharToMultiByte(CP_ACP, 0, name, -1, n, sizeof n, NULL, NULL);
        h = API(OpenServiceA)(scm, n, a);
    } else {
        h = open_svc(name, a);
    }
    if (!h) return fail(ansi ? "OpenServiceA" : "OpenServiceW");
    printf("{\"ok\":true}\n");
    API(CloseServiceHandle)(h);
    return 0;
}

/* Small pages, so that the resume handle is used. */
static int cmd_enum(const WCHAR *how)
{
    DWORD cap = 2048, needed, count, resume = 0, i, pages = 0;
    BYTE *buf = malloc(cap);
    int first = 1, ex = !wcsncmp(how, L"ex", 2), ansi = how[wcslen(how) - 1] == L'a';
    printf("{\"ok\":true,\"services\":[");
    for (;;) {
        BOOL ok, more;
        if (!buf) return fail("malloc");
        if (ex && !ansi)
            ok = API(EnumServicesStatusExW)(scm, SC_ENUM_PROCESS_INFO, SERVICE_WIN32, SERVICE_STATE_ALL, buf, cap, &needed, &count, &resume,
                                            NULL);
        else if (ex)
            ok = API(EnumServicesStatusExA)(scm, SC_ENUM_PROCESS_INFO, SERVICE_WIN32, SERVICE_STATE_ALL, buf, cap, &needed, &count, &resume,
                                            NULL);
        else if (!ansi)
            ok =
                API(EnumServicesStatusW)(scm, SERVICE_WIN32, SERVICE_STATE_ALL, (ENUM_SERVICE_STATUSW *)buf, cap, &needed, &count, &resume);
        else
            ok =
                API(EnumServicesStatusA)(scm, SERVICE_WIN32, SERVICE_STATE_ALL, (ENUM_SERVICE_STATUSA *)buf, cap, &needed, &count, &resume);
        more = !ok && GetLastError() == ERROR_MORE_DATA;
        if (!ok && !more) {
            DWORD e = GetLastError();
            printf("],\"ok2\":false,\"error\":%lu}\n", e);
            return 1;
        }
        for (i = 0; i < count; i++) {
            if (!first) putchar(',');
            first = 0;
            printf("{\"name\":");
            if (ex && !ansi) {
                ENUM_SERVICE_STATUS_PROCESSW *e = (ENUM_SERVICE_STATUS_PROCESSW *)buf + i;
                jstr(e->lpServiceName);
                printf(",\"display\":");
                jstr(e->lpDisplayName);
                printf(",\"state\":%lu,\"pid\":%lu}", e->ServiceStatusProcess.dwCurrentState, e->ServiceStatusProcess.dwProcessId);
            } else if (ex) {
                ENUM_SERVICE_STATUS_PROCESSA *e = (ENUM_SERVICE_STATUS_PROCESSA *)buf + i;
                jstra(e->lpServiceName);
                printf(",\"display\":");
                jstra(e->lpDisplayName);
                printf(",\"state\":%lu,\"pid\":%lu}", e->ServiceStatusProcess.dwCurrentState, e->ServiceStatusProcess.dwProcessId);
            } else if (!ansi) {
                ENUM_SERVICE_STATUSW *e = (ENUM_SERVICE_STATUSW *)buf + i;
                jstr(e->lpServiceName);
                printf(",\"display\":");
                jstr(e->lpDisplayName);
                printf(",\"state\":%lu}", e->ServiceStatus.dwCurrentState);
            } else {
                ENUM_SERVICE_STATUSA *e = (ENUM_SERVICE_STATUSA *)buf + i;
                jstra(e->lpServiceName);
                printf(",\"display\":");
                jstra(e->lpDisplayName);
                printf(",\"state\":%lu}", e->ServiceStatus.dwCurrentState);
            }
        }
        pages++;
        if (!more) break;
        /* Windows returns what fits and a resume handle; Wine returns nothing until all fit */
        if (!count) buf = realloc(buf, cap = needed + cap);
        if (pages > 1000) break;
    }
    printf("],\"pages\":%lu}\n", pages);
    return 0;
}

static int cmd_name(const WCHAR *arg, int key, int ansi)
{
    DWORD n;
    BOOL ok;
    if (ansi) {
        char in[512], out[512];
        WideCharToMultiByte(CP_ACP, 0, arg, -1, in, sizeof in, NULL, NULL);
        n = sizeof out;
        ok = key ? API(GetServiceKeyNameA)(scm, in, out, &n) : API(GetServiceDisplayNameA)(scm, in, out, &n);
        if (!ok) return fail(key ? "GetServiceKeyNameA" : "GetServiceDisplayNameA");
        printf("{\"ok\":true,\"name\":");
        jstra(out);
    } else {
        WCHAR out[512];
        n = ARRAYSIZE(out);
        ok = key ? API(GetServiceKeyNameW)(scm, arg, out, &n) : API(GetServiceDisplayNameW)(scm, arg, out, &n);
        if (!ok) return fail(key ? "GetServiceKeyNameW" : "GetServiceDisplayNameW");
        printf("{\"ok\":true,\"name\":");
        jstr(out);
    }
    printf(",\"length\":%lu}\n", n);
    return 0;
}

static int cmd_config(const WCHAR *name, int ansi)
{
    static BYTE buf[8192];
    DWORD n;
    SC_HANDLE h = open_svc(name, SERVICE_QUERY_CONFIG);
    if (!h) return fail("OpenServiceW");
    if (ansi) {
        QUERY_SERVICE_CONFIGA *c = (QUERY_SERVICE_CONFIGA *)buf;
        const char *d;
        if (!API(QueryServiceConfigA)(h, c, sizeof buf, &n)) return fail("QueryServiceConfigA");
        printf("{\"ok\":true,\"display\":");
        jstra(c->lpDisplayName);
        printf(",\"binary\":");
        jstra(c->lpBinaryPathName);
        printf(",\"dependencies\":[");
        for (d = c->lpDependencies; d && *d; d += strlen(d) + 1) {
            if (d != c->lpDependencies) putchar(',');
            jstra(d);
        }
    } else {
        QUERY_SERVICE_CONFIGW *c = (QUERY_SERVICE_CONFIGW *)buf;
        const WCHAR *d;
        if (!API(QueryServiceConfigW)(h, c, sizeof buf, &n)) return fail("QueryServiceConfigW");
        printf("{\"ok\":true,\"display\":");
        jstr(c->lpDisplayName);
        printf(",\"binary\":");
        jstr(c->lpBinaryPathName);
        printf(",\"dependencies\":[");
        for (d = c->lpDependencies; d && *d; d += wcslen(d) + 1) {
            if (d != c->lpDependencies) putchar(',');
            jstr(d);
        }
    }
    printf("]}\n");
    return 0;
}

static int cmd_create(int argc, WCHAR **argv, int ansi)
{
    SC_HANDLE h;
    if (ansi) {
        char n[512], p[1024];
        WideCharToMultiByte(CP_ACP, 0, argv[0], -1, n, sizeof n, NULL, NULL);
        WideCharToMultiByte(CP_ACP, 0, argv[1], -1, p, sizeof p, NULL, NULL);
        h = API(CreateServiceA)(scm, n, NULL, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, p,
                                NULL, NULL, NULL, NULL, NULL);
    } else {
        WCHAR deps[520] = {0};
        if (argc > 3) lstrcpynW(deps, argv[3], 256);
        h = API(CreateServiceW)(scm, argv[0], argc > 2 && *argv[2] ? argv[2] : NULL, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                                SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, argv[1], NULL, NULL, argc > 3 ? deps : NULL, NULL, NULL);
    }
    if (!h) return fail(ansi ? "CreateServiceA" : "CreateServiceW");
    printf("{\"ok\":true}\n");
    API(CloseServiceHandle)(h);
    return 0;
}

static int cmd_chpath(const WCHAR *name, const WCHAR *path)
{
    SC_HANDLE h = open_svc(name, SERVICE_CHANGE_CONFIG);
    if (!h) return fail("OpenServiceW");
    if (!API(ChangeServiceConfigW)(h, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, path, NULL, NULL, NULL, NULL, NULL, NULL))
        return fail("ChangeServiceConfigW");
    printf("{\"ok\":true}\n");
    return 0;
}

/* failure actions that would run a command on the host */
static int cmd_chfail(const WCHAR *name)
{
    SC_ACTION act = {SC_ACTION_RUN_COMMAND, 1000};
    SERVICE_FAILURE_ACTIONSW fa = {86400, NULL, (WCHAR *)L"cmd.exe /c echo escaped", 1, &act};
    SC_HANDLE h = open_svc(name, SERVICE_CHANGE_CONFIG | SERVICE_START);
    if (!h) return fail("OpenServiceW");
    if (!API(ChangeServiceConfig2W)(h, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) return fail("ChangeServiceConfig2W");
    printf("{\"ok\":true}\n");
    return 0;
}

static int cmd_delete(const WCHAR *name, const WCHAR *access)
{
    SC_HANDLE h = open_svc(name, access ? wcstoul(access, NULL, 0) : DELETE);
    if (!h) return fail("OpenServiceW");
    if (!API(DeleteService)(h)) return fail("DeleteService");
    API(CloseServiceHandle)(h);
    printf("{\"ok\":true}\n");
    return 0;
}

int wmain(int argc, WCHAR **argv)
{
    const WCHAR *c = argc > 1 ? argv[1] : L"";
    if (argc < 3) {
        fprintf(
            stderr,
            "usage: svcdup-scmclient "
            "status|start|stop|open|openA|enum|display|displayA|keyname|keynameA|config|configA|create|createA|delete|chpath|chfail ...\n");
        return 2;
    }
    if (!(scm = API(OpenSCManagerW)(
              NULL, NULL, SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE | (!wcsncmp(c, L"create", 6) ? SC_MANAGER_CREATE_SERVICE : 0))))
        return fail("OpenSCManagerW");
    if (!wcscmp(c, L"status")) return cmd_status(argv[2]);
    if (!wcscmp(c, L"start")) return cmd_start(argv[2], argc - 3, (const WCHAR **)argv + 3);
    if (!wcscmp(c, L"stop")) return cmd_stop(argv[2]);
    if (!wcscmp(c, L"open") && argc > 3) return cmd_open(argv[2], argv[3], 0);
    if (!wcscmp(c, L"openA") && argc > 3) return cmd_open(argv[2], argv[3], 1);
    if (!wcscmp(c, L"enum")) return cmd_enum(argv[2]);
    if (!wcscmp(c, L"display")) return cmd_name(argv[2], 0, 0);
    if (!wcscmp(c, L"displayA")) return cmd_name(argv[2], 0, 1);
    if (!wcscmp(c, L"keyname")) return cmd_name(argv[2], 1, 0);
    if (!wcscmp(c, L"keynameA")) return cmd_name(argv[2], 1, 1);
    if (!wcscmp(c, L"config")) return cmd_config(argv[2], 0);
    if (!wcscmp(c, L"configA")) return cmd_config(argv[2], 1);
    if (!wcscmp(c, L"create") && argc > 3) return cmd_create(argc - 2, argv + 2, 0);
    if (!wcscmp(c, L"createA") && argc > 3) return cmd_create(argc - 2, argv + 2, 1);
    if (!wcscmp(c, L"delete")) return cmd_delete(argv[2], argc > 3 ? argv[3] : NULL);
    if (!wcscmp(c, L"chpath") && argc > 3) return cmd_chpath(argv[2], argv[3]);
    if (!wcscmp(c, L"chfail")) return cmd_chfail(argv[2]);
    fprintf(stderr, "unknown command\n");
    return 2;
}
