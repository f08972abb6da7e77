/*
 * proc.* ops and ping: processes and what the agent runs on.
 */
#include "agent.h"

#include <stdio.h>
#include <string.h>
#include <tlhelp32.h>

/* "startedAt": creation time in ms since 1970, when the process can be opened to ask. */
static void out_start_time(json_writer *w, DWORD pid)
{
    FILETIME created, exited, kernel, user;
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (!h) return;
    if (GetProcessTimes(h, &created, &exited, &kernel, &user))
        out_key_uint(w, "startedAt", ((((ULONGLONG)created.dwHighDateTime) << 32) | created.dwLowDateTime) / 10000 - 11644473600000ULL);
    CloseHandle(h);
}

DWORD op_proc_list(struct request *rq)
{
    PROCESSENTRY32W pe;
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    DWORD err = ERROR_SUCCESS;

    if (snap == INVALID_HANDLE_VALUE) return GetLastError();
    pe.dwSize = sizeof(pe);
    json_begin_array(rq->out);
    if (Process32FirstW(snap, &pe)) {
        do {
            json_begin_object(rq->out);
            out_key_uint(rq->out, "pid", pe.th32ProcessID);
            out_key_uint(rq->out, "ppid", pe.th32ParentProcessID);
            out_key_wstr(rq->out, "image", pe.szExeFile);
            out_key_uint(rq->out, "threads", pe.cntThreads);
            out_start_time(rq->out, pe.th32ProcessID);
            json_end_object(rq->out);
        } while (Process32NextW(snap, &pe));
    }
    if ((err = GetLastError()) == ERROR_NO_MORE_FILES) err = ERROR_SUCCESS;
    json_end_array(rq->out);
    CloseHandle(snap);
    return err;
}

DWORD op_proc_kill(struct request *rq)
{
    double pid, code;
    HANDLE h;
    DWORD err;

    if ((err = param_int(rq, "pid", TRUE, 0, 0xffffffff, 0, &pid)) || (err = param_int(rq, "exitCode", FALSE, 0, 0xffffffff, 1, &code)))
        return err;
    if (!(h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)pid))) return GetLastError();
    if (!TerminateProcess(h, (UINT)code)) err = GetLastError();
    CloseHandle(h);
    return reply_empty(rq, err);
}

DWORD op_ping(struct request *rq)
{
    typedef LONG(WINAPI * get_version_fn)(OSVERSIONINFOW *);
    typedef const char *(CDECL * wine_version_fn)(void);
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    /* RtlGetVersion tells the truth; GetVersionEx lies to unmanifested programs */
    get_version_fn get_version = (get_version_fn)(void *)GetProcAddress(ntdll, "RtlGetVersion");
    wine_version_fn wine_version = (wine_version_fn)(void *)GetProcAddress(ntdll, "wine_get_version");
    OSVERSIONINFOW vi;
    char buf[64] = "";

    memset(&vi, 0, sizeof(vi));
    vi.dwOSVersionInfoSize = sizeof(vi);
    if (get_version && !get_version(&vi)) snprintf(buf, sizeof(buf), "%lu.%lu.%lu", vi.dwMajorVersion, vi.dwMinorVersion, vi.dwBuildNumber);

    json_begin_object(rq->out);
    json_key(rq->out, "version");
    json_cstring(rq->out, SVCDUP_AGENT_VERSION);
    out_key_uint(rq->out, "pid", GetCurrentProcessId());
    json_key(rq->out, "arch");
#if defined(_M_X64) || defined(__x86_64__)
    json_cstring(rq->out, "x64");
#elif defined(_M_ARM64) || defined(__aarch64__)
    json_cstring(rq->out, "arm64");
#else
    json_cstring(rq->out, "x86");
#endif
    json_key(rq->out, "windowsVersion");
    json_cstring(rq->out, buf);
    json_key(rq->out, "wine");
    json_bool(rq->out, wine_version != NULL);
    if (wine_version) {
        json_key(rq->out, "wineVersion");
        json_cstring(rq->out, wine_version());
    }
    json_end_object(rq->out);
    return ERROR_SUCCESS;
}
