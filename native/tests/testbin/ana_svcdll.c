/* ana-svc.dll: a svchost service DLL (export ServiceMain) with known names (ana_names.h). */
#include <windows.h>
#include <rpc.h>
#include "ana_names.h"

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status = {SERVICE_WIN32_SHARE_PROCESS, SERVICE_START_PENDING, 0, 0, 0, 0, 0};
static HANDLE stop_event;

static void set_state(DWORD state)
{
    status.dwCurrentState = state;
    status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP : 0;
    SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI handler(DWORD control, DWORD type, void *data, void *context)
{
    if (control == SERVICE_CONTROL_STOP) {
        set_state(SERVICE_STOP_PENDING);
        SetEvent(stop_event);
        return NO_ERROR;
    }
    return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

__declspec(dllexport) void WINAPI ServiceMain(DWORD argc, WCHAR **argv)
{
    status_handle = RegisterServiceCtrlHandlerExW(ANA_DLL_SVC, handler, NULL);
    if (!status_handle) return;
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    CreateMutexW(NULL, FALSE, ANA_DLL_MUTEX);
    CreateNamedPipeW(ANA_DLL_PIPE, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 4096, 4096, 0, NULL);
    RpcServerUseProtseqEpW((RPC_WSTR)ANA_NP_PROTSEQ, RPC_C_PROTSEQ_MAX_REQS_DEFAULT, (RPC_WSTR)ANA_NP_ENDPOINT, NULL);
    RpcServerUseProtseqEpW((RPC_WSTR)ANA_TCP_PROTSEQ, RPC_C_PROTSEQ_MAX_REQS_DEFAULT, (RPC_WSTR)ANA_TCP_ENDPOINT, NULL);
    set_state(SERVICE_RUNNING);
    WaitForSingleObject(stop_event, INFINITE);
    set_state(SERVICE_STOPPED);
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, void *reserved)
{
    if (reason == DLL_PROCESS_ATTACH) DisableThreadLibraryCalls(inst);
    return TRUE;
}
