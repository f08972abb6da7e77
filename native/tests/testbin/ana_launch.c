/* ana-launch.exe: a launcher service, the way database servers register (PostgreSQL's
 * "pg_ctl runservice -N NAME -D DATA"): ImagePath "ana-launch.exe runservice -N NAME -D DATA".
 * It starts the server program ana-server.exe from its own folder with "-D DATA", reports
 * RUNNING while the server runs, and ends it when stopped. The analyzer must follow it: the
 * server program (a string here, a file beside it), the data folder in the arguments, and
 * the port in DATA\ana-server.conf. */
#include <windows.h>
#include <stdio.h>
#include <string.h>

#define SERVER_EXE L"ana-server.exe"

static WCHAR service_name[257] = L"ana-launch";
static WCHAR data_dir[MAX_PATH] = L".";
static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status = {SERVICE_WIN32_OWN_PROCESS, SERVICE_START_PENDING, 0, 0, 0, 0, 0};
static HANDLE stop_event;

static DWORD WINAPI handler(DWORD control, DWORD type, void *data, void *context)
{
    if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
        status.dwCurrentState = SERVICE_STOP_PENDING;
        SetServiceStatus(status_handle, &status);
        SetEvent(stop_event);
    }
    return NO_ERROR;
}

static void stopped(DWORD win32, DWORD specific)
{
    status.dwCurrentState = SERVICE_STOPPED;
    status.dwWin32ExitCode = win32;
    status.dwServiceSpecificExitCode = specific;
    SetServiceStatus(status_handle, &status);
}

static void WINAPI service_main(DWORD argc, WCHAR **argv)
{
    WCHAR exe[MAX_PATH], cmd[3 * MAX_PATH];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    HANDLE waits[2];

    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    DWORD code = 0;
    WCHAR *slash;

    status_handle = RegisterServiceCtrlHandlerExW(service_name, handler, NULL);
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    GetModuleFileNameW(NULL, exe, MAX_PATH);
    slash = wcsrchr(exe, L'\\');
    if (slash) slash[1] = 0;
    _snwprintf(cmd, ARRAYSIZE(cmd), L"\"%ls%ls\" -D \"%ls\"", exe, SERVER_EXE, data_dir);
    cmd[ARRAYSIZE(cmd) - 1] = 0;
    if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        stopped(GetLastError(), 0);
        return;
    }
    CloseHandle(pi.hThread);
    status.dwCurrentState = SERVICE_RUNNING;
    status.dwControlsAccepted = SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN;
    SetServiceStatus(status_handle, &status);
    waits[0] = stop_event;
    waits[1] = pi.hProcess;
    if (WaitForMultipleObjects(2, waits, FALSE, INFINITE) == WAIT_OBJECT_0) {
        TerminateProcess(pi.hProcess, 0);
        WaitForSingleObject(pi.hProcess, 5000);
        stopped(NO_ERROR, 0);
    } else {
        /* the server ended by itself: its exit code is the service's */
        GetExitCodeProcess(pi.hProcess, &code);
        stopped(ERROR_SERVICE_SPECIFIC_ERROR, code);
    }
    CloseHandle(pi.hProcess);
}

int wmain(int argc, WCHAR **argv)
{
    SERVICE_TABLE_ENTRYW table[] = {{service_name, service_main}, {NULL, NULL}};
    for (int i = 1; i + 1 < argc; i++) {
        if (!wcscmp(argv[i], L"-N"))
            lstrcpynW(service_name, argv[++i], ARRAYSIZE(service_name));
        else if (!wcscmp(argv[i], L"-D"))
            lstrcpynW(data_dir, argv[++i], ARRAYSIZE(data_dir));
    }
    return StartServiceCtrlDispatcherW(table) ? 0 : (int)GetLastError();
}
