/*
 * pipe.wait: is a named pipe served? For health checks (docs/operate.md): WaitNamedPipe
 * succeeds when a server has an instance listening, fails at once with
 * ERROR_FILE_NOT_FOUND when no server has the name, and with ERROR_SEM_TIMEOUT when every
 * instance stays busy for timeoutMs. Nothing is connected, so the server sees no client.
 */
#include "agent.h"

DWORD op_pipe_wait(struct request *rq)
{
    WCHAR *name;
    double timeout;
    DWORD err;

    if ((err = param_wstr(rq, "name", TRUE, FALSE, &name, NULL)) || (err = param_int(rq, "timeoutMs", FALSE, 1, 60000, 1000, &timeout)))
        return err;
    if (wcsncmp(name, L"\\\\.\\pipe\\", 9)) return invalid_param(rq, "name");
    if (!WaitNamedPipeW(name, (DWORD)timeout)) return GetLastError();
    json_begin_object(rq->out);
    json_end_object(rq->out);
    return ERROR_SUCCESS;
}
