/* A duplicate's stdout and stderr (docs/operate.md, "Logs"): kept in <home>\logs\<vm>\<service>.log,
 * the folder named by the Logs value of the VM's key (written by vm create). The file is opened
 * by svcdup's side before the image runs (svcdup-host's spawn, or a direct image's hook before
 * anything is hooked), appending, and inheritable: the image's children created with inherited
 * handles write there too. Rotated by size when it is opened: over STDLOG_MAX it becomes .1 (one
 * old file kept). No Logs value (a VM made before logs existed): nothing is captured. */
#include "hook.h"
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <wchar.h>

#define STDLOG_MAX (10u << 20)

HANDLE stdlog_open(const WCHAR *vm, const WCHAR *service)
{
    WCHAR *dir = config_vm_value(vm, L"Logs"), path[MAX_PATH], old[MAX_PATH + 2];
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    WIN32_FILE_ATTRIBUTE_DATA fa;
    const WCHAR *at = wcschr(service, L'@');
    int n;
    HANDLE h;
    if (!dir) return NULL;
    n = dir[0] && service[0] ? swprintf(path, MAX_PATH, L"%ls\\%.*ls.log", dir, at ? (int)(at - service) : (int)wcslen(service), service)
                             : -1;
    hfree(dir);
    if (n <= 0 || n >= MAX_PATH - 1) return NULL;
    if (GetFileAttributesExW(path, GetFileExInfoStandard, &fa) && (fa.nFileSizeHigh || fa.nFileSizeLow > STDLOG_MAX)) {
        swprintf(old, MAX_PATH + 2, L"%ls.1", path);
        MoveFileExW(path, old, MOVEFILE_REPLACE_EXISTING);
    }
    h = CreateFileW(path, FILE_APPEND_DATA | SYNCHRONIZE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa, OPEN_ALWAYS,
                    FILE_ATTRIBUTE_NORMAL, NULL);
    return h == INVALID_HANDLE_VALUE ? NULL : h;
}

/* A direct image's C runtime onto its log. The image's msvcrt.dll is this DLL's too, so it started
 * before the hook, found no std handles (the SCM gives a service none) and bound fds 1 and 2 and the
 * stdout/stderr streams to "no console" (Wine's msvcrt_init_io: stream fd -2). Its own calls point
 * them at the log: the fds by _dup2 (which also sets the std handles), the streams by their fd. A
 * runtime loaded after the hook (ucrtbase, a static one) reads the std handles itself. Takes log;
 * `out`, `err`: which of the two have no handle of their own. */
void stdlog_crt(HANDLE log, int out, int err)
{
    int fd = _open_osfhandle((intptr_t)log, _O_APPEND | _O_TEXT);
    if (fd < 0) {
        CloseHandle(log);
        return;
    }
    if (out && !_dup2(fd, 1)) stdout->_file = 1;
    if (err && !_dup2(fd, 2)) stderr->_file = 2;
    _close(fd);
}
