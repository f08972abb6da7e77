/*
 * svcdup-statesvc: a real Win32 service that keeps state on disk and in the
 * registry at fixed places, so tests can tell whether a duplicate has its own.
 *
 * Every start (as a service, or with --act as a plain process) does, under DIR
 * (default C:\svcdup-statesvc, or --dir DIR):
 *   - creates the folder DIR\created and writes DIR\created\marker.txt
 *   - appends "start <service> pid=<pid>" to DIR\journal.txt  (the log it appends)
 *   - rewrites DIR\state.txt with "starts=<n> service=<name>" (the file it rewrites)
 *   - deletes DIR\delete-me.txt                               (the file it deletes)
 *   - renames DIR\rename-me.txt to DIR\renamed.txt            (the file it renames)
 *   - increments HKLM\SOFTWARE\svcdup-statesvc Starts (REG_DWORD), sets LastService
 *   - increments HKCU\Software\svcdup-statesvc Starts (its account's hive)
 * then reports RUNNING and waits for STOP.
 *
 * --seed   makes DIR with the files the service later changes (run on the host first)
 * --report prints one JSON line: {"pid","dir":[{"name","dir","size","text"}...],
 *          "hklm":{"starts","lastService"},"hkcu":{"starts"}}; entries sorted as listed
 *          by FindFirstFile, one level deep plus DIR\created's files; text up to 4 KB.
 * --name NAME  the service name (default svcdup-statesvc)
 * Exit code of --act/--seed/--report: 0, or the Win32 error of the first failed step.
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define KEY_PATH L"Software\\svcdup-statesvc"

static const WCHAR *own_name = L"svcdup-statesvc";
static const WCHAR *dir = L"C:\\svcdup-statesvc";
static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static HANDLE stop_event;

static void path(WCHAR *out, const WCHAR *leaf) { swprintf(out, MAX_PATH * 2, L"%ls\\%ls", dir, leaf); }

static DWORD write_file(const WCHAR *leaf, const char *text, BOOL append)
{
    WCHAR p[MAX_PATH * 2];
    HANDLE h;
    DWORD put, err = 0;
    path(p, leaf);
    h = CreateFileW(p, append ? FILE_APPEND_DATA : GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                    append ? OPEN_ALWAYS : CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) return GetLastError();
    if (!WriteFile(h, text, (DWORD)strlen(text), &put, NULL)) err = GetLastError();
    CloseHandle(h);
    return err;
}

/* Starts under HKLM or HKCU, incremented; returns the new count or 0 on error. */
static DWORD bump(HKEY root, DWORD *err)
{
    HKEY key;
    DWORD n = 0, size = sizeof(n), type;
    if ((*err = RegCreateKeyExW(root, KEY_PATH, 0, NULL, 0, KEY_ALL_ACCESS | KEY_WOW64_64KEY, NULL, &key, NULL))) return 0;
    if (RegQueryValueExW(key, L"Starts", NULL, &type, (BYTE *)&n, &size) || type != REG_DWORD) n = 0;
    n++;
    *err = RegSetValueExW(key, L"Starts", 0, REG_DWORD, (BYTE *)&n, sizeof(n));
    if (!*err && root == HKEY_LOCAL_MACHINE)
        *err = RegSetValueExW(key, L"LastService", 0, REG_SZ, (BYTE *)own_name, (DWORD)(wcslen(own_name) + 1) * 2);
    RegCloseKey(key);
    return n;
}

#define STEP(x)                       \
    do {                              \
        DWORD e_ = (x);               \
        if (e_ && !first) first = e_; \
    } while (0)

/* One start's changes; the first failure's error, later steps still run. */
static DWORD act(void)
{
    WCHAR p[MAX_PATH * 2], q[MAX_PATH * 2];
    char line[600];
    DWORD first = 0, err, n;

    n = bump(HKEY_LOCAL_MACHINE, &err);
    STEP(err);
    bump(HKEY_CURRENT_USER, &err);
    STEP(err);
    path(p, L"created");
    if (!CreateDirectoryW(p, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) STEP(GetLastError());
    snprintf(line, sizeof line, "made by %ls\r\n", own_name);
    STEP(write_file(L"created\\marker.txt", line, FALSE));
    snprintf(line, sizeof line, "start %ls pid=%lu\r\n", own_name, GetCurrentProcessId());
    STEP(write_file(L"journal.txt", line, TRUE));
    snprintf(line, sizeof line, "starts=%lu service=%ls\r\n", n, own_name);
    STEP(write_file(L"state.txt", line, FALSE));
    path(p, L"delete-me.txt");
    if (!DeleteFileW(p) && GetLastError() != ERROR_FILE_NOT_FOUND) STEP(GetLastError());
    path(p, L"rename-me.txt");
    path(q, L"renamed.txt");
    if (!MoveFileExW(p, q, MOVEFILE_REPLACE_EXISTING) && GetLastError() != ERROR_FILE_NOT_FOUND) STEP(GetLastError());
    return first;
}

static DWORD seed(void)
{
    DWORD first = 0;
    if (!CreateDirectoryW(dir, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) return GetLastError();
    STEP(write_file(L"journal.txt", "seeded\r\n", FALSE));
    STEP(write_file(L"state.txt", "starts=0\r\n", FALSE));
    STEP(write_file(L"delete-me.txt", "delete me\r\n", FALSE));
    STEP(write_file(L"rename-me.txt", "rename me\r\n", FALSE));
    return first;
}

static void entry(json_writer *w, const WCHAR *rel, const WIN32_FIND_DATAW *fd)
{
    WCHAR p[MAX_PATH * 2];
    char buf[4097];
    DWORD got = 0;
    BOOL is_dir = (fd->dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
    json_begin_object(w);
    json_key(w, "name");
    json_string16(w, (const uint16_t *)rel, wcslen(rel));
    json_key(w, "dir");
    json_bool(w, is_dir);
    json_key(w, "size");
    json_uint(w, fd->nFileSizeLow);
    if (!is_dir) {
        HANDLE h;
        path(p, rel);
        h = CreateFileW(p, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
        if (h != INVALID_HANDLE_VALUE) {
            if (!ReadFile(h, buf, sizeof buf - 1, &got, NULL)) got = 0;
            CloseHandle(h);
            json_key(w, "text");
            json_string(w, buf, got);
        }
    }
    json_end_object(w);
}

static void list(json_writer *w, const WCHAR *sub)
{
    WCHAR pat[MAX_PATH * 2], rel[MAX_PATH * 2];
    WIN32_FIND_DATAW fd;
    HANDLE f;
    if (sub)
        swprintf(pat, MAX_PATH * 2, L"%ls\\%ls\\*", dir, sub);
    else
        swprintf(pat, MAX_PATH * 2, L"%ls\\*", dir);
    if ((f = FindFirstFileW(pat, &fd)) == INVALID_HANDLE_VALUE) return;
    do {
        if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L"..")) continue;
        if (sub)
            swprintf(rel, MAX_PATH * 2, L"%ls\\%ls", sub, fd.cFileName);
        else
            wcscpy(rel, fd.cFileName);
        entry(w, rel, &fd);
        if (!sub && (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) list(w, fd.cFileName);
    } while (FindNextFileW(f, &fd));
    FindClose(f);
}

static void key_report(json_writer *w, HKEY root)
{
    HKEY key;
    DWORD n, size = sizeof(n), type;
    WCHAR s[300];
    json_begin_object(w);
    if (!RegOpenKeyExW(root, KEY_PATH, 0, KEY_QUERY_VALUE | KEY_WOW64_64KEY, &key)) {
        if (!RegQueryValueExW(key, L"Starts", NULL, &type, (BYTE *)&n, &size) && type == REG_DWORD) {
            json_key(w, "starts");
            json_uint(w, n);
        }
        size = sizeof(s) - 2;
        if (!RegQueryValueExW(key, L"LastService", NULL, &type, (BYTE *)s, &size) && type == REG_SZ) {
            s[size / 2] = 0;
            json_key(w, "lastService");
            json_string16(w, (const uint16_t *)s, wcslen(s));
        }
        RegCloseKey(key);
    }
    json_end_object(w);
}

static int report_state(void)
{
    json_writer w;
    json_writer_init(&w);
    json_begin_object(&w);
    json_key(&w, "pid");
    json_uint(&w, GetCurrentProcessId());
    json_key(&w, "dir");
    json_begin_array(&w);
    list(&w, NULL);
    json_end_array(&w);
    json_key(&w, "hklm");
    key_report(&w, HKEY_LOCAL_MACHINE);
    json_key(&w, "hkcu");
    key_report(&w, HKEY_CURRENT_USER);
    json_end_object(&w);
    json_append(&w, "\n", 1);
    fwrite(w.data, 1, w.len, stdout);
    fflush(stdout);
    json_writer_free(&w);
    return 0;
}

static void set_state(DWORD state, DWORD err)
{
    status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    status.dwCurrentState = state;
    status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    status.dwWin32ExitCode = err;
    SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI handler(DWORD control, DWORD type, void *data, void *ctx)
{
    if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
        set_state(SERVICE_STOP_PENDING, 0);
        SetEvent(stop_event);
        return NO_ERROR;
    }
    return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

static void WINAPI service_main(DWORD argc, WCHAR **argv)
{
    DWORD err;
    if (!(status_handle = RegisterServiceCtrlHandlerExW(own_name, handler, NULL))) return;
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    set_state(SERVICE_START_PENDING, 0);
    /* a failed step stops the service with its error: tests see it in the SCM status */
    if ((err = act())) {
        set_state(SERVICE_STOPPED, err);
        return;
    }
    set_state(SERVICE_RUNNING, 0);
    WaitForSingleObject(stop_event, INFINITE);
    set_state(SERVICE_STOPPED, 0);
}

int wmain(int argc, WCHAR **argv)
{
    SERVICE_TABLE_ENTRYW table[] = {{NULL, service_main}, {NULL, NULL}};
    int i, mode = 0;
    for (i = 1; i < argc; i++) {
        if (!wcscmp(argv[i], L"--name") && i + 1 < argc)
            own_name = argv[++i];
        else if (!wcscmp(argv[i], L"--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!wcscmp(argv[i], L"--act"))
            mode = 'a';
        else if (!wcscmp(argv[i], L"--seed"))
            mode = 's';
        else if (!wcscmp(argv[i], L"--report"))
            mode = 'r';
    }
    if (mode == 'a') return (int)act();
    if (mode == 's') return (int)seed();
    if (mode == 'r') return report_state();
    table[0].lpServiceName = (WCHAR *)own_name;
    if (!StartServiceCtrlDispatcherW(table)) {
        fwprintf(stderr, L"svcdup-statesvc: StartServiceCtrlDispatcher failed, error %lu\n", GetLastError());
        return 1;
    }
    return 0;
}
