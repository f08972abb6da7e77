/* svcdup-policy-probe.exe: what the hook really decides for names, observed.
 *   hold RUN RULES KIND:NAME...   on the host: create each name in the host namespace (a
 *                                 mutex, a pipe, a mailslot; services must exist), then run
 *                                 "RUN --vm pt --policy RULES -- <this exe> probe KIND:NAME..."
 *                                 and exit with its code
 *   probe KIND:NAME...            in the VM: print "KIND:NAME DECISION" for each, where
 *                                 DECISION is what the VM process met:
 *     open     it reached the host's object (pipe: connected or busy; service: may start it)
 *     renamed  it did not find the host's object (it looked in the VM's namespace);
 *              service: query rights only
 *     denied   access denied
 * KIND is obj, pipe, slot or svc. */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

static const char *decision(DWORD err)
{
    if (!err || err == ERROR_PIPE_BUSY || err == ERROR_ALREADY_EXISTS) return "open";
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return "renamed";
    if (err == ERROR_ACCESS_DENIED) return "denied";
    return NULL;
}

static DWORD probe_one(const WCHAR *kind, const WCHAR *name, SC_HANDLE scm)
{
    WCHAR path[300];
    HANDLE h;
    if (!wcscmp(kind, L"obj")) {
        h = OpenMutexW(SYNCHRONIZE, FALSE, name);
        if (!h) return GetLastError();
        CloseHandle(h);
        return 0;
    }
    if (!wcscmp(kind, L"pipe") || !wcscmp(kind, L"slot")) {
        swprintf(path, 300, L"\\\\.\\%ls\\%ls", !wcscmp(kind, L"pipe") ? L"pipe" : L"mailslot", name);
        h = CreateFileW(path, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE) return GetLastError();
        CloseHandle(h);
        return 0;
    }
    if (!wcscmp(kind, L"svc")) {
        SC_HANDLE s = OpenServiceW(scm, name, SERVICE_QUERY_STATUS);
        if (!s) return GetLastError();
        CloseServiceHandle(s);
        s = OpenServiceW(scm, name, SERVICE_QUERY_STATUS | SERVICE_START);
        if (!s) return GetLastError() == ERROR_ACCESS_DENIED ? ERROR_FILE_NOT_FOUND /* query only */ : GetLastError();
        CloseServiceHandle(s);
        return 0;
    }
    return ERROR_INVALID_PARAMETER;
}

static int probe(int n, WCHAR **args)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    int i, bad = 0;
    for (i = 0; i < n; i++) {
        WCHAR kind[8], *colon = wcschr(args[i], L':');
        DWORD err;
        const char *d;
        if (!colon || colon - args[i] >= 8) return 2;
        lstrcpynW(kind, args[i], (int)(colon - args[i]) + 1);
        err = probe_one(kind, colon + 1, scm);
        d = decision(err);
        if (d)
            printf("%ls %s\n", args[i], d);
        else {
            printf("%ls error %lu\n", args[i], err);
            bad = 1;
        }
    }
    return bad;
}

static int hold(const WCHAR *run, const WCHAR *rules, int n, WCHAR **args)
{
    static WCHAR cmd[8192], self[MAX_PATH];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    DWORD code = 1;
    int i;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    GetModuleFileNameW(NULL, self, MAX_PATH);
    swprintf(cmd, 8192, L"\"%ls\" --vm pt --policy \"%ls\" -- \"%ls\" probe", run, rules, self);
    for (i = 0; i < n; i++) {
        WCHAR *colon = wcschr(args[i], L':'), path[300];
        if (!colon) return 2;
        /* handles stay open until the probe is done; names that exist already are fine */
        if (!wcsncmp(args[i], L"obj:", 4))
            CreateMutexW(NULL, FALSE, colon + 1);
        else if (!wcsncmp(args[i], L"pipe:", 5)) {
            swprintf(path, 300, L"\\\\.\\pipe\\%ls", colon + 1);
            CreateNamedPipeW(path, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, 512, 512, 0, NULL);
        } else if (!wcsncmp(args[i], L"slot:", 5)) {
            swprintf(path, 300, L"\\\\.\\mailslot\\%ls", colon + 1);
            CreateMailslotW(path, 0, 0, NULL);
        }
        wcscat(cmd, L" ");
        wcscat(cmd, args[i]);
    }
    if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        printf("cannot run %ls: %lu\n", run, GetLastError());
        return 1;
    }
    WaitForSingleObject(pi.hProcess, 60000);
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}

int wmain(int argc, WCHAR **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 4 && !wcscmp(argv[1], L"hold")) return hold(argv[2], argv[3], argc - 4, argv + 4);
    if (argc >= 2 && !wcscmp(argv[1], L"probe")) return probe(argc - 2, argv + 2);
    fprintf(stderr, "usage: svcdup-policy-probe hold RUN RULES KIND:NAME... | probe KIND:NAME...\n");
    return 2;
}
