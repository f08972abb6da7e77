/* ana-svc.exe: a working own-process service executable whose names are all known
 * (ana_names.h), for `svcdup analyze` tests. Two services share its dispatch table. */
#include <winsock2.h>
#include <windows.h>
#include <http.h>
#include <rpc.h>
#include <objbase.h>
#include "ana_names.h"

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status = {SERVICE_WIN32_SHARE_PROCESS, SERVICE_START_PENDING, 0, 0, 0, 0, 0};
static HANDLE stop_event;

/* {5E3B1D2A-7C41-4F0E-9A61-2B8C0D4E6F71} */
static const CLSID clsid_ana = {0x5e3b1d2a, 0x7c41, 0x4f0e, {0x9a, 0x61, 0x2b, 0x8c, 0x0d, 0x4e, 0x6f, 0x71}};

static void set_state(DWORD state)
{
    status.dwCurrentState = state;
    status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP : 0;
    SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI handler(DWORD control, DWORD type, void *data, void *context)
{
    if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
        set_state(SERVICE_STOP_PENDING);
        SetEvent(stop_event);
        return NO_ERROR;
    }
    return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

/* Every named resource this service holds while it runs. */
static void open_resources(void)
{
    HKEY key;
    WSADATA wsa;
    SOCKET s;
    struct sockaddr_in addr;
    HANDLE h;
    HANDLE http;
    DWORD reg;
    HTTPAPI_VERSION http_version = HTTPAPI_VERSION_1;

    CreateMutexW(NULL, FALSE, ANA_MUTEX);
    CreateMutexA(NULL, FALSE, ANA_MUTEX_A);
    CreateEventW(NULL, TRUE, FALSE, ANA_EVENT);
    CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, ANA_SECTION);
    CreateNamedPipeW(ANA_PIPE, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 4096, 4096, 0, NULL);
    CreateMailslotW(ANA_MAILSLOT, 0, 0, NULL);

    RpcServerUseProtseqEpW((RPC_WSTR)ANA_LRPC_PROTSEQ, RPC_C_PROTSEQ_MAX_REQS_DEFAULT, (RPC_WSTR)ANA_LRPC_ENDPOINT, NULL);

    WSAStartup(MAKEWORD(2, 2), &wsa);
    s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    ZeroMemory(&addr, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(ANA_TCP_PORT);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) == 0) listen(s, 5);

    if (HttpInitialize(http_version, HTTP_INITIALIZE_SERVER, NULL) == NO_ERROR && HttpCreateHttpHandle(&http, 0) == NO_ERROR)
        HttpAddUrl(http, ANA_HTTP_URL, NULL);

    if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, ANA_REG_PARAMS, 0, KEY_READ, &key) == ERROR_SUCCESS) RegCloseKey(key);
    if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, ANA_REG_STATE, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &key, NULL) == ERROR_SUCCESS) {
        RegSetValueExW(key, L"Started", 0, REG_DWORD, (const BYTE *)&status.dwCheckPoint, sizeof(DWORD));
        RegCloseKey(key);
    }
    if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, ANA_REG_COM, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &key, NULL) == ERROR_SUCCESS) RegCloseKey(key);

    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    CoRegisterClassObject(&clsid_ana, NULL, CLSCTX_LOCAL_SERVER, REGCLS_MULTIPLEUSE, &reg);

    h = CreateFileW(ANA_LOG_FILE, GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_ALWAYS, 0, NULL);
    if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
}

static void query_rpcss(void)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    if (scm) {
        SC_HANDLE svc = OpenServiceW(scm, ANA_CLIENT_SVC, SERVICE_QUERY_STATUS);
        if (svc) CloseServiceHandle(svc);
        CloseServiceHandle(scm);
    }
}

static void run(const WCHAR *name)
{
    status_handle = RegisterServiceCtrlHandlerExW(name, handler, NULL);
    if (!status_handle) return;
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    set_state(SERVICE_START_PENDING);
    open_resources();
    query_rpcss();
    set_state(SERVICE_RUNNING);
    WaitForSingleObject(stop_event, INFINITE);
    set_state(SERVICE_STOPPED);
}

static void WINAPI main_one(DWORD argc, WCHAR **argv) { run(ANA_SVC_ONE); }
static void WINAPI main_two(DWORD argc, WCHAR **argv) { run(ANA_SVC_TWO); }

static SERVICE_TABLE_ENTRYW dispatch_table[] = {
    {(WCHAR *)ANA_SVC_ONE, main_one},
    {(WCHAR *)ANA_SVC_TWO, main_two},
    {NULL, NULL},
};

int wmain(int argc, WCHAR **argv) { return StartServiceCtrlDispatcherW(dispatch_table) ? 0 : 1; }
