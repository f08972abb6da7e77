/* Registry probe: each argument is one step "op|key|arg|arg", run in order, one output
 * line a step ("op: result"), so a test can run the same script on the host and in VMs.
 * "child|op|key|..." runs that step in a child process (its line is the child's).
 * Keys are spelled HKLM\..., HKCU\..., HKU\... (Win32 calls) or \Registry\... (native calls). */
#include <windows.h>
#include <winternl.h>
#include <stdio.h>
#include <wchar.h>
#include "ntkey.h"

NTSYSAPI NTSTATUS NTAPI NtOpenKey(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
NTSYSAPI NTSTATUS NTAPI NtCreateKey(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, ULONG, UNICODE_STRING *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtQueryKey(HANDLE, int, void *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI NtSetValueKey(HANDLE, UNICODE_STRING *, ULONG, ULONG, void *, ULONG);
NTSYSAPI NTSTATUS NTAPI NtQueryValueKey(HANDLE, UNICODE_STRING *, int, void *, ULONG, ULONG *);
NTSYSAPI NTSTATUS NTAPI RtlFormatCurrentUserKeyPath(UNICODE_STRING *);

static HKEY root_of(const WCHAR *k, const WCHAR **rest)
{
    struct {
        const WCHAR *p;
        HKEY h;
    } roots[] = {{L"HKLM\\", HKEY_LOCAL_MACHINE}, {L"HKCU\\", HKEY_CURRENT_USER}, {L"HKU\\", HKEY_USERS}};
    int i;
    for (i = 0; i < 3; i++)
        if (!_wcsnicmp(k, roots[i].p, wcslen(roots[i].p))) {
            *rest = k + wcslen(roots[i].p);
            return roots[i].h;
        }
    *rest = k;
    return NULL;
}

static HANDLE nt_open(const WCHAR *name, ACCESS_MASK a, int create, HANDLE root, NTSTATUS *st)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    HANDLE h = NULL;
    ULONG disp;
    RtlInitUnicodeString(&us, name);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, root, NULL);
    *st = create ? NtCreateKey(&h, a, &oa, 0, NULL, 0, &disp) : NtOpenKey(&h, a, &oa);
    return *st >= 0 ? h : NULL;
}

/* one step's outcome line: "ok" or the Win32 error */
static void say_result(LONG e)
{
    if (e)
        wprintf(L"err %ld\n", e);
    else
        wprintf(L"ok\n");
}

/* nt_open, saying the status when it fails (the probe's "st 0x..." line) */
static HANDLE nt_open_said(const WCHAR *name, ACCESS_MASK a, int create, HANDLE root)
{
    NTSTATUS st;
    HANDLE k = nt_open(name, a, create, root, &st);
    if (!k) wprintf(L"st 0x%08lx\n", (ULONG)st);
    return k;
}

static void print_value(HKEY h, const WCHAR *val)
{
    WCHAR data[1024];
    DWORD type, len = sizeof data - sizeof(WCHAR);
    LONG e = RegQueryValueExW(h, val, NULL, &type, (BYTE *)data, &len);
    if (e) {
        wprintf(L"err %ld\n", e);
        return;
    }
    data[len / sizeof(WCHAR)] = 0;
    if (type == REG_DWORD)
        wprintf(L"%lu\n", *(DWORD *)data);
    else
        wprintf(L"%ls\n", data);
}

static void step(WCHAR *s)
{
    WCHAR *a[5] = {0};
    int n = 0;
    WCHAR *p = s;
    const WCHAR *sub = NULL;
    HKEY root, h;
    LONG e;
    NTSTATUS st;
    if (!wcsncmp(s, L"child|", 6)) {
        /* the rest of the step, run by another process (of the same VM, when run in one) */
        WCHAR cmd[2048], self[MAX_PATH];
        STARTUPINFOW si;
        PROCESS_INFORMATION pi;
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        si.dwFlags = STARTF_USESTDHANDLES; /* its line on this process's output */
        si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
        si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
        si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
        SetHandleInformation(si.hStdOutput, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
        GetModuleFileNameW(NULL, self, MAX_PATH);
        _snwprintf(cmd, 2047, L"\"%ls\" \"%ls\"", self, s + 6);
        cmd[2047] = 0;
        fflush(stdout);
        if (!CreateProcessW(self, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
            wprintf(L"child: err %lu\n", GetLastError());
            return;
        }
        WaitForSingleObject(pi.hProcess, INFINITE);
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
        return;
    }
    while (n < 5) {
        a[n++] = p;
        if (!(p = wcschr(p, L'|'))) break;
        *p++ = 0;
    }
    wprintf(L"%ls: ", a[0]);
    root = a[1] ? root_of(a[1], &sub) : NULL;
    if (!wcscmp(a[0], L"set") && n >= 4) {
        if ((e = RegCreateKeyExW(root, sub, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &h, NULL))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        e = RegSetValueExW(h, a[2], 0, REG_SZ, (BYTE *)a[3], (DWORD)(wcslen(a[3]) + 1) * sizeof(WCHAR));
        RegCloseKey(h);
        say_result(e);
    } else if (!wcscmp(a[0], L"mkkey") && n >= 2) {
        DWORD disp;
        if ((e = RegCreateKeyExW(root, sub, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &h, &disp))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        RegCloseKey(h);
        wprintf(L"%ls\n", disp == REG_CREATED_NEW_KEY ? L"created" : L"opened");
    } else if (!wcscmp(a[0], L"get") && n >= 3) {
        if ((e = RegOpenKeyExW(root, sub, 0, KEY_READ, &h))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        print_value(h, a[2]);
        RegCloseKey(h);
    } else if (!wcscmp(a[0], L"delval") && n >= 3) {
        if ((e = RegOpenKeyExW(root, sub, 0, KEY_ALL_ACCESS, &h))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        e = RegDeleteValueW(h, a[2]);
        RegCloseKey(h);
        say_result(e);
    } else if (!wcscmp(a[0], L"delkey") && n >= 2) {
        say_result(RegDeleteKeyW(root, sub));
    } else if (!wcscmp(a[0], L"deltree") && n >= 2) {
        say_result(RegDeleteTreeW(root, sub));
        if (!e && (e = RegDeleteKeyW(root, sub))) wprintf(L"  err %ld\n", e);
    } else if (!wcscmp(a[0], L"enum") && n >= 2) {
        /* subkeys and values as enumerated, and the counts RegQueryInfoKey (NtQueryKey) gives */
        DWORD i, nsub = 0, nval = 0, len;
        WCHAR name[300];
        if ((e = RegOpenKeyExW(root, sub, 0, KEY_READ, &h))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        RegQueryInfoKeyW(h, NULL, NULL, NULL, &nsub, NULL, NULL, &nval, NULL, NULL, NULL, NULL);
        wprintf(L"subkeys=%lu values=%lu keys=", nsub, nval);
        for (i = 0; len = 300, !RegEnumKeyExW(h, i, name, &len, NULL, NULL, NULL, NULL); i++) wprintf(L"%ls%ls", i ? L"," : L"", name);
        wprintf(L" vals=");
        for (i = 0; len = 300, !RegEnumValueW(h, i, name, &len, NULL, NULL, NULL, NULL); i++) wprintf(L"%ls%ls", i ? L"," : L"", name);
        wprintf(L"\n");
        RegCloseKey(h);
    } else if (!wcscmp(a[0], L"ntcount") && n >= 2) {
        /* NtQueryKey on a native handle: full and cached information */
        union {
            KFULL f;
            BYTE b[512];
        } u;
        ULONG ret, cached[9];
        HANDLE k = nt_open_said(a[1], KEY_READ, 0, NULL);
        if (!k) return;
        NtQueryKey(k, KeyFullInformation, &u, sizeof u, &ret);
        wprintf(L"full=%lu,%lu", u.f.subkeys, u.f.values);
        if (NtQueryKey(k, KeyCachedInformation, cached, sizeof cached, &ret) >= 0) wprintf(L" cached=%lu,%lu", cached[3], cached[5]);
        wprintf(L"\n");
        CloseHandle(k);
    } else if (!wcscmp(a[0], L"ntset") && n >= 4) {
        /* native create by the full name, then a value */
        UNICODE_STRING vn;
        HANDLE k = nt_open_said(a[1], KEY_ALL_ACCESS, 1, NULL);
        if (!k) return;
        RtlInitUnicodeString(&vn, a[2]);
        st = NtSetValueKey(k, &vn, 0, REG_SZ, a[3], (ULONG)(wcslen(a[3]) + 1) * sizeof(WCHAR));
        CloseHandle(k);
        wprintf(L"st 0x%08lx\n", (ULONG)st);
    } else if (!wcscmp(a[0], L"ntget") && n >= 3) {
        union {
            KVPARTIAL v;
            BYTE b[2048];
        } u;
        UNICODE_STRING vn;
        ULONG ret;
        HANDLE k = nt_open_said(a[1], KEY_READ, 0, NULL);
        if (!k) return;
        RtlInitUnicodeString(&vn, a[2]);
        st = NtQueryValueKey(k, &vn, 2, &u, sizeof u - 2, &ret);
        CloseHandle(k);
        if (st < 0) {
            wprintf(L"st 0x%08lx\n", (ULONG)st);
            return;
        }
        u.b[12 + u.v.len] = u.b[13 + u.v.len] = 0;
        wprintf(L"%ls\n", (WCHAR *)u.v.data);
    } else if ((!wcscmp(a[0], L"relget") || !wcscmp(a[0], L"relset")) && n >= 4) {
        /* open a subkey relative to a handle (RootDirectory), read or write a value there */
        int set = a[0][3] == L's';
        HANDLE r = nt_open(a[1], set ? KEY_ALL_ACCESS : KEY_READ, 0, NULL, &st), k;
        UNICODE_STRING vn;
        if (!r) {
            wprintf(L"root st 0x%08lx\n", (ULONG)st);
            return;
        }
        k = nt_open_said(a[2], set ? KEY_ALL_ACCESS : KEY_READ, set, r);
        CloseHandle(r);
        if (!k) return;
        if (set) {
            RtlInitUnicodeString(&vn, L"rel");
            st = NtSetValueKey(k, &vn, 0, REG_SZ, a[3], (ULONG)(wcslen(a[3]) + 1) * sizeof(WCHAR));
            wprintf(L"st 0x%08lx\n", (ULONG)st);
        } else {
            print_value((HKEY)k, a[3]);
        }
        CloseHandle(k);
    } else if (!wcscmp(a[0], L"name") && n >= 2) {
        /* the name the system reports for a key opened for writing */
        struct {
            ULONG len;
            WCHAR name[1024];
        } info;
        ULONG ret;
        if ((e = RegOpenKeyExW(root, sub, 0, KEY_ALL_ACCESS, &h))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        st = NtQueryKey(h, KeyNameInformation, &info, sizeof info - 2, &ret);
        if (st >= 0) {
            info.name[info.len / 2] = 0;
            wprintf(L"%ls\n", info.name);
        } else
            wprintf(L"st 0x%08lx\n", (ULONG)st);
        RegCloseKey(h);
    } else if (!wcscmp(a[0], L"hkcu")) {
        UNICODE_STRING us;
        if (RtlFormatCurrentUserKeyPath(&us) >= 0)
            wprintf(L"%.*ls\n", us.Length / 2, us.Buffer);
        else
            wprintf(L"?\n");
    } else if (!wcscmp(a[0], L"notify") && n >= 4) {
        /* watch a key, change a value of it through another handle: does the watch fire? */
        HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
        HKEY w;
        if ((e = RegOpenKeyExW(root, sub, 0, KEY_READ, &w))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        if ((e = RegNotifyChangeKeyValue(w, TRUE, REG_NOTIFY_CHANGE_LAST_SET | REG_NOTIFY_CHANGE_NAME, ev, TRUE))) {
            wprintf(L"notify err %ld\n", e);
            return;
        }
        if ((e = RegCreateKeyExW(root, sub, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &h, NULL))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        RegSetValueExW(h, a[2], 0, REG_SZ, (BYTE *)a[3], (DWORD)(wcslen(a[3]) + 1) * sizeof(WCHAR));
        RegCloseKey(h);
        wprintf(L"%ls\n", WaitForSingleObject(ev, 5000) == WAIT_OBJECT_0 ? L"fired" : L"timeout");
        RegCloseKey(w);
    } else if (!wcscmp(a[0], L"link") && n >= 3) {
        /* a registry link: KEY created with REG_OPTION_CREATE_LINK, SymbolicLinkValue = target */
        if ((e = RegCreateKeyExW(root, sub, 0, NULL, REG_OPTION_CREATE_LINK | REG_OPTION_VOLATILE, KEY_ALL_ACCESS, NULL, &h, NULL))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        e = RegSetValueExW(h, L"SymbolicLinkValue", 0, REG_LINK, (BYTE *)a[2], (DWORD)wcslen(a[2]) * sizeof(WCHAR));
        RegCloseKey(h);
        say_result(e);
    } else if (!wcscmp(a[0], L"bench") && n >= 3) {
        /* N times: open, read a value, close (for a by-hand cost comparison, never asserted) */
        int i, count = _wtoi(a[2]);
        DWORD t0 = GetTickCount();
        for (i = 0; i < count; i++) {
            WCHAR data[64];
            DWORD len = sizeof data;
            if (RegOpenKeyExW(root, sub, 0, KEY_READ, &h)) break;
            RegQueryValueExW(h, L"v", NULL, NULL, (BYTE *)data, &len);
            RegCloseKey(h);
        }
        wprintf(L"%d in %lu ms\n", i, GetTickCount() - t0);
    } else if (!wcscmp(a[0], L"unlink") && n >= 2) {
        /* delete a link key itself, not its target */
        NTSYSAPI NTSTATUS NTAPI NtDeleteKey(HANDLE);
        if ((e = RegOpenKeyExW(root, sub, REG_OPTION_OPEN_LINK, DELETE | KEY_READ, &h))) {
            wprintf(L"err %ld\n", e);
            return;
        }
        st = NtDeleteKey(h);
        RegCloseKey(h);
        wprintf(L"st 0x%08lx\n", (ULONG)st);
    } else {
        wprintf(L"bad step\n");
    }
}

int wmain(int argc, WCHAR **argv)
{
    int i;
    for (i = 1; i < argc; i++) step(argv[i]);
    fflush(stdout);
    return 0;
}
