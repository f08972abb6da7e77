/*
 * svcdup-ft: file operations through the ordinary Win32 calls, one per run, so a
 * test can compare what the host and each VM see. Prints one line; exit code 0 or
 * the Win32 error ("error N" is printed too).
 *   write PATH TEXT      create/overwrite        append PATH TEXT   append
 *   read PATH            print "text=<content>"  attr PATH          print "attr=0x.."
 *   reads PATH...        read each PATH in turn in one process: a "text=" or "error N" line each
 *   delete PATH          DeleteFile              rmdir PATH         RemoveDirectory
 *   mkdir PATH           CreateDirectory         rename FROM TO     MoveFileEx (replace)
 *   link EXISTING NEW    CreateHardLink          list DIR           "list=a|b|c" (FindFirstFile order)
 *   mmap PATH TEXT       write TEXT at offset 0 through a mapped view
 *   lock PATH            LockFileEx on the first byte, then try again from a 2nd handle: "second=<error>"
 *   name PATH            GetFinalPathNameByHandle: "name=<path>"
 *   setattr PATH HEX     SetFileAttributes
 *   hold PATH MS         open for reading, re-read it every 50 ms for MS ms: "reads=N changed=K"
 *   rewrite PATH MS      keep rewriting PATH with a counter for MS ms
 *   short PATH           GetShortPathNameW: "short=<path>"
 *   ntopen PATH          NtOpenFile for reading, called with write-looking values in the stack
 *                        slots past its 6 arguments (as a caller's stack garbage): "text=<content>"
 *   across OP PATH [TEXT] read and GetFileAttributes PATH, run "svcdup-ft OP PATH TEXT" as a child
 *                        (in a VM: another process of the same VM), then read and ask again; the
 *                        child's own line first, then "before=<text|error N> after=<text|error N>
 *                        attr=<ok|error N>"
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winternl.h>

static int fail(void)
{
    DWORD e = GetLastError();
    printf("error %lu\n", e);
    return e ? (int)e : 1;
}

static char *utf8(const WCHAR *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = malloc(n + 1);
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

static int put(const WCHAR *p, const WCHAR *text, BOOL append)
{
    HANDLE h = CreateFileW(p, append ? FILE_APPEND_DATA : GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           append ? OPEN_ALWAYS : CREATE_ALWAYS, 0, NULL);
    char *t = utf8(text);
    DWORD n;
    if (h == INVALID_HANDLE_VALUE) return fail();
    if (!WriteFile(h, t, (DWORD)strlen(t), &n, NULL)) return fail();
    CloseHandle(h);
    printf("ok\n");
    return 0;
}

static int get(const WCHAR *p, char *buf, DWORD cap, DWORD *got)
{
    HANDLE h = CreateFileW(p, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE) return 0;
    if (!ReadFile(h, buf, cap - 1, got, NULL)) {
        CloseHandle(h);
        return 0;
    }
    buf[*got] = 0;
    CloseHandle(h);
    return 1;
}

/* what a read of p sees now, as "text" or "error N"; GetFileAttributes asked too (its answer
   kept in *attr_err: 0 or the error) */
static void seen(const WCHAR *p, char *out, size_t cap, DWORD *attr_err)
{
    static char b[1 << 12];
    DWORD got;
    if (get(p, b, sizeof b, &got))
        snprintf(out, cap, "%s", b);
    else
        snprintf(out, cap, "error %lu", GetLastError());
    *attr_err = GetFileAttributesW(p) == INVALID_FILE_ATTRIBUTES ? GetLastError() : 0;
}

static int across(const WCHAR *op, const WCHAR *p, const WCHAR *text)
{
    WCHAR self[MAX_PATH], cmd[4096];
    char before[256], after[256];
    DWORD e0, e1, code = 1;
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    seen(p, before, sizeof before, &e0);
    GetModuleFileNameW(NULL, self, MAX_PATH);
    _snwprintf(cmd, 4096, L"\"%ls\" %ls \"%ls\" \"%ls\"", self, op, p, text);
    cmd[4095] = 0;
    if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return fail();
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    seen(p, after, sizeof after, &e1);
    printf("before=%s after=%s attr=", before, after);
    if (e1)
        printf("error %lu", e1);
    else
        printf("ok");
    printf(code ? " child=%lu\n" : "\n", code);
    return 0;
}

int wmain(int argc, WCHAR **argv)
{
    const WCHAR *op = argc > 1 ? argv[1] : L"";
    const WCHAR *a = argc > 2 ? argv[2] : L"", *b = argc > 3 ? argv[3] : L"";
    static char buf[1 << 16];
    DWORD got;
    if (!wcscmp(op, L"write")) return put(a, b, FALSE);
    if (!wcscmp(op, L"across")) return across(a, b, argc > 4 ? argv[4] : L"");
    if (!wcscmp(op, L"append")) return put(a, b, TRUE);
    if (!wcscmp(op, L"read")) {
        if (!get(a, buf, sizeof buf, &got)) return fail();
        printf("text=%s\n", buf);
        return 0;
    }
    if (!wcscmp(op, L"reads")) {
        /* one process opening each PATH in turn: what it remembers between opens (files_cache.c) */
        int i;
        for (i = 2; i < argc; i++)
            if (get(argv[i], buf, sizeof buf, &got))
                printf("text=%s\n", buf);
            else
                printf("error %lu\n", GetLastError());
        return 0;
    }
    if (!wcscmp(op, L"attr")) {
        DWORD at = GetFileAttributesW(a);
        if (at == INVALID_FILE_ATTRIBUTES) return fail();
        printf("attr=0x%lx\n", at);
        return 0;
    }
    if (!wcscmp(op, L"setattr")) {
        if (!SetFileAttributesW(a, wcstoul(b, NULL, 16))) return fail();
        printf("ok\n");
        return 0;
    }
    if (!wcscmp(op, L"delete")) {
        if (!DeleteFileW(a)) return fail();
        printf("ok\n");
        return 0;
    }
    if (!wcscmp(op, L"rmdir")) {
        if (!RemoveDirectoryW(a)) return fail();
        printf("ok\n");
        return 0;
    }
    if (!wcscmp(op, L"mkdir")) {
        if (!CreateDirectoryW(a, NULL)) return fail();
        printf("ok\n");
        return 0;
    }
    if (!wcscmp(op, L"rename")) {
        if (!MoveFileExW(a, b, MOVEFILE_REPLACE_EXISTING)) return fail();
        printf("ok\n");
        return 0;
    }
    if (!wcscmp(op, L"link")) {
        if (!CreateHardLinkW(b, a, NULL)) return fail();
        printf("ok\n");
        return 0;
    }
    if (!wcscmp(op, L"list")) {
        WCHAR pat[1024];
        WIN32_FIND_DATAW fd;
        HANDLE f;
        int first = 1;
        swprintf(pat, 1024, L"%ls\\*", a);
        if ((f = FindFirstFileW(pat, &fd)) == INVALID_HANDLE_VALUE) return fail();
        printf("list=");
        do {
            if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L"..")) continue;
            printf("%s%s", first ? "" : "|", utf8(fd.cFileName));
            first = 0;
        } while (FindNextFileW(f, &fd));
        FindClose(f);
        printf("\n");
        return 0;
    }
    if (!wcscmp(op, L"mmap")) {
        HANDLE h = CreateFileW(a, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL), m;
        char *v, *t = utf8(b);
        if (h == INVALID_HANDLE_VALUE) return fail();
        if (!(m = CreateFileMappingW(h, NULL, PAGE_READWRITE, 0, 0, NULL))) return fail();
        if (!(v = MapViewOfFile(m, FILE_MAP_WRITE, 0, 0, 0))) return fail();
        memcpy(v, t, strlen(t));
        FlushViewOfFile(v, 0);
        UnmapViewOfFile(v);
        CloseHandle(m);
        CloseHandle(h);
        printf("ok\n");
        return 0;
    }
    if (!wcscmp(op, L"lock")) {
        OVERLAPPED ov = {0};
        HANDLE h = CreateFileW(a, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL), h2;
        if (h == INVALID_HANDLE_VALUE) return fail();
        if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov)) return fail();
        h2 = CreateFileW(a, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
        if (h2 == INVALID_HANDLE_VALUE) return fail();
        if (LockFileEx(h2, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov))
            printf("second=0\n");
        else
            printf("second=%lu\n", GetLastError());
        return 0;
    }
    if (!wcscmp(op, L"name")) {
        WCHAR out[1024];
        HANDLE h = CreateFileW(a, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                               FILE_FLAG_BACKUP_SEMANTICS, NULL);
        if (h == INVALID_HANDLE_VALUE) return fail();
        if (!GetFinalPathNameByHandleW(h, out, 1024, 0)) return fail();
        printf("name=%s\n", utf8(out));
        return 0;
    }
    if (!wcscmp(op, L"hold")) {
        DWORD end = GetTickCount() + wcstoul(b, NULL, 10);
        static char first[1 << 16];
        int reads = 0, changed = 0;
        if (!get(a, first, sizeof first, &got)) return fail();
        while (GetTickCount() < end) {
            if (!get(a, buf, sizeof buf, &got)) return fail();
            reads++;
            if (strcmp(buf, first)) changed++;
            Sleep(50);
        }
        printf("reads=%d changed=%d\n", reads, changed);
        return 0;
    }
    if (!wcscmp(op, L"rewrite")) {
        DWORD end = GetTickCount() + wcstoul(b, NULL, 10);
        int i = 0;
        char t[32];
        while (GetTickCount() < end) {
            HANDLE h = CreateFileW(a, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, CREATE_ALWAYS, 0, NULL);
            DWORD n;
            if (h == INVALID_HANDLE_VALUE) return fail();
            snprintf(t, sizeof t, "host %d", ++i);
            WriteFile(h, t, (DWORD)strlen(t), &n, NULL);
            CloseHandle(h);
            Sleep(20);
        }
        printf("rewrites=%d\n", i);
        return 0;
    }
    if (!wcscmp(op, L"short")) {
        WCHAR out[1024];
        if (!GetShortPathNameW(a, out, 1024)) return fail();
        printf("short=%s\n", utf8(out));
        return 0;
    }
    if (!wcscmp(op, L"ntopen")) {
        /* NtOpenFile takes 6 arguments; what lies past them on the stack must not count */
        typedef LONG(NTAPI * open14)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, IO_STATUS_BLOCK *, ULONG_PTR, ULONG_PTR, ULONG_PTR,
                                     ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR, ULONG_PTR);
        typedef BOOLEAN(NTAPI * dos2nt)(const WCHAR *, UNICODE_STRING *, WCHAR **, void *);
        HMODULE nt = GetModuleHandleW(L"ntdll.dll");
        open14 o = (open14)(void *)GetProcAddress(nt, "NtOpenFile");
        dos2nt d = (dos2nt)(void *)GetProcAddress(nt, "RtlDosPathNameToNtPathName_U");
        UNICODE_STRING us;
        OBJECT_ATTRIBUTES oa;
        IO_STATUS_BLOCK io;
        HANDLE h;
        LONG st;
        if (!o || !d || !d(a, &us, NULL, NULL)) return fail();
        InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
        /* slots 7..9 read as NtCreateFile's share, disposition, options would say: overwrite, delete on close */
        st = o(&h, GENERIC_READ | SYNCHRONIZE, &oa, &io, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
               0x20 /* FILE_SYNCHRONOUS_IO_NONALERT */ | 0x40 /* FILE_NON_DIRECTORY_FILE */, 7, 5 /* FILE_OVERWRITE_IF */,
               0x1000 /* FILE_DELETE_ON_CLOSE */ | 0x40, 0, 0, 0, 0, 0);
        if (st < 0) {
            printf("status 0x%08lx\n", (unsigned long)st);
            return 1;
        }
        if (!ReadFile(h, buf, sizeof buf - 1, &got, NULL)) return fail();
        buf[got] = 0;
        CloseHandle(h);
        printf("text=%s\n", buf);
        return 0;
    }
    printf("usage: svcdup-ft write|append|read|attr|setattr|delete|rmdir|mkdir|rename|link|list|mmap|lock|name|hold|rewrite|short|ntopen "
           "...\n");
    return 87;
}
