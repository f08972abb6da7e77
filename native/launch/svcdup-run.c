/* svcdup-run.exe: the native side of `svcdup run/ps/vm rm/trace` (docs/vm.md).
 *   svcdup-run --vm NAME [--policy FILE] -- EXE ARGS...   run EXE in VM NAME, exit with its code
 *   svcdup-run --ps [--vm NAME]                            JSON array of processes and their VMs
 *   svcdup-run --kill-vm NAME                              end every process of VM NAME
 *   svcdup-run --trace NAME [--seconds N]                  stream decisions as JSON lines
 *   svcdup-run --self-check                                does the hook install here? one JSON line
 * A process whose hook cannot be installed does not start; the launcher then prints which
 * part, export and reason the hook recorded in the VM's trace section (trace.h).
 * Injection itself lives in svcdup-hook.dll (svcdup_spawn), the same code a VM
 * process uses for its own children; loaded here, the DLL hooks nothing. */
#include <windows.h>
#include <winternl.h>
#include <stdio.h>
#include <wchar.h>
#include "../hook/trace.h"

typedef DWORD (*spawn_fn)(const WCHAR *, const WCHAR *, WCHAR *, PROCESS_INFORMATION *);
typedef int (*vmpids_fn)(const WCHAR *, DWORD *, int);
typedef int (*vmkill_fn)(const WCHAR *);
typedef int (*pidvm_fn)(DWORD, WCHAR *);
typedef void *(*tmap_fn)(const WCHAR *);
static HMODULE hook;

static int die(const char *msg, DWORD code)
{
    fprintf(stderr, "svcdup-run: %s (error %lu)\n", msg, (unsigned long)code);
    return 125;
}

static int load_hook(void)
{
    WCHAR path[MAX_PATH], *slash;
    DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH);
    if (!n || n >= MAX_PATH - 20) return 0;
    slash = wcsrchr(path, L'\\');
    wcscpy(slash ? slash + 1 : path, L"svcdup-hook.dll");
    return (hook = LoadLibraryW(path)) != NULL;
}

/* Quote one argument the way CommandLineToArgvW reads it back. */
static void append_arg(WCHAR *out, size_t cap, const WCHAR *a)
{
    size_t o = wcslen(out);
    int quote = !*a || wcspbrk(a, L" \t\"") != NULL;
    if (o && o < cap - 1) out[o++] = L' ';
    if (quote && o < cap - 1) out[o++] = L'"';
    for (; *a && o < cap - 4; a++) {
        int bs = 0;
        while (*a == L'\\') {
            bs++;
            a++;
        }
        if (!*a) {
            int k = quote ? bs * 2 : bs;
            while (k-- && o < cap - 2) out[o++] = L'\\';
            break;
        }
        if (*a == L'"') {
            int k = bs * 2 + 1;
            while (k-- && o < cap - 3) out[o++] = L'\\';
        } else
            while (bs-- && o < cap - 3) out[o++] = L'\\';
        out[o++] = *a;
    }
    if (quote && o < cap - 1) out[o++] = L'"';
    out[o] = 0;
}

static WCHAR *read_text(const WCHAR *path)
{
    HANDLE f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    DWORD size, got;
    char *b;
    WCHAR *w;
    int n;
    if (f == INVALID_HANDLE_VALUE) return NULL;
    size = GetFileSize(f, NULL);
    b = malloc(size + 1);
    if (!b || !ReadFile(f, b, size, &got, NULL)) {
        CloseHandle(f);
        return NULL;
    }
    CloseHandle(f);
    n = MultiByteToWideChar(CP_UTF8, 0, b, got, NULL, 0);
    w = malloc((n + 1) * sizeof(WCHAR));
    MultiByteToWideChar(CP_UTF8, 0, b, got, w, n);
    w[n] = 0;
    free(b);
    return w;
}

static void json_str(const WCHAR *s, int n);

/* Start cmd in vm with rules and wait for it. *failed gets what the hook recorded when it
   could not be installed in that very process (else ""). Returns 0 or a Win32 error. */
static DWORD run_in_vm(const WCHAR *vm, const WCHAR *rules, WCHAR *cmd, DWORD *code, WCHAR *failed)
{
    PROCESS_INFORMATION pi;
    DWORD e;
    spawn_fn spawn = (spawn_fn)(void *)GetProcAddress(hook, "svcdup_spawn");
    tmap_fn map = (tmap_fn)(void *)GetProcAddress(hook, "svcdup_trace_map");
    /* held open across the run: the record outlives the failed process */
    trace_hdr *h = map(vm);
    failed[0] = 0;
    if ((e = spawn(vm, rules, cmd, &pi))) return e;
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, code);
    if (h && (DWORD)h->failed_pid == pi.dwProcessId) {
        MemoryBarrier();
        lstrcpynW(failed, (const WCHAR *)h->failed, TRACE_FAIL_CHARS);
    }
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return 0;
}

static int run(const WCHAR *vm, const WCHAR *policy, int argc, WCHAR **argv)
{
    static WCHAR cmd[32768];
    WCHAR *rules = L"", failed[TRACE_FAIL_CHARS];
    DWORD e, code;
    int i;
    if (policy && !(rules = read_text(policy))) return die("cannot read the policy file", GetLastError());
    for (i = 0; i < argc; i++) append_arg(cmd, 32768, argv[i]);
    /* the child shares our stdio: make sure those handles are inheritable */
    SetHandleInformation(GetStdHandle(STD_INPUT_HANDLE), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    SetHandleInformation(GetStdHandle(STD_OUTPUT_HANDLE), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    SetHandleInformation(GetStdHandle(STD_ERROR_HANDLE), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    if ((e = run_in_vm(vm, rules, cmd, &code, failed))) {
        fprintf(stderr, "svcdup-run: cannot start %ls in VM %ls: error %lu\n", argv[0], vm, (unsigned long)e);
        return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? 127 : 126;
    }
    if (failed[0]) fprintf(stderr, "svcdup-run: the hook could not be installed in %ls (VM %ls): %ls\n", argv[0], vm, failed);
    return (int)code;
}

/* Run this very program in a scratch VM with every part of the hook installed (a net rule
   brings in the socket hooks); the child checks that it is in the VM. */
static int self_check(void)
{
    static WCHAR cmd[MAX_PATH + 32];
    WCHAR exe[MAX_PATH], vm[32], failed[TRACE_FAIL_CHARS];
    DWORD e, code = 0;
    swprintf(vm, 32, L"selfcheck-%lu", (unsigned long)GetCurrentProcessId());
    if (!GetModuleFileNameW(NULL, exe, MAX_PATH)) return die("cannot find svcdup-run.exe", GetLastError());
    swprintf(cmd, MAX_PATH + 32, L"\"%ls\" --in-vm %ls", exe, vm);
    e = run_in_vm(vm, L"net portmap tcp 65534 65533\n", cmd, &code, failed);
    printf("{\"ok\":%s,\"vm\":", !e && !code ? "true" : "false");
    json_str(vm, 32);
    if (e)
        printf(",\"error\":%lu", (unsigned long)e);
    else
        printf(",\"exitCode\":%lu", (unsigned long)code);
    if (failed[0]) {
        printf(",\"failed\":");
        json_str(failed, TRACE_FAIL_CHARS);
    }
    printf("}\n");
    return !e && !code ? 0 : 1;
}

/* The child of --self-check: the hook is in (this process is in VM vm), and the SCM client
   hooks go in when sechost loads. */
static int in_vm(const WCHAR *vm)
{
    pidvm_fn pidvm = (pidvm_fn)(void *)GetProcAddress(hook, "svcdup_pid_vm");
    WCHAR mine[64];
    if (!LoadLibraryW(L"sechost.dll")) return 4;
    if (!pidvm(GetCurrentProcessId(), mine) || _wcsicmp(mine, vm)) return 3;
    return 0;
}

/* The process list, straight from the system (the launcher itself is not hooked). */
static SYSTEM_PROCESS_INFORMATION *procs(void)
{
    ULONG size = 1 << 16, ret;
    for (;;) {
        void *b = malloc(size);
        NTSTATUS st = NtQuerySystemInformation(SystemProcessInformation, b, size, &ret);
        if (st >= 0) return b;
        free(b);
        if (size > (1u << 26)) return NULL;
        size *= 2;
    }
}

static void json_str(const WCHAR *s, int n)
{
    int i;
    putchar('"');
    for (i = 0; i < n && s[i]; i++) {
        WCHAR c = s[i];
        if (c == L'"' || c == L'\\')
            printf("\\%c", (char)c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else if (c < 0x80)
            putchar((char)c);
        else {
            char u[8];
            int k = WideCharToMultiByte(CP_UTF8, 0, &c, 1, u, 8, NULL, NULL);
            fwrite(u, 1, k, stdout);
        }
    }
    putchar('"');
}

/* The VMs that have processes: the job objects \BaseNamedObjects\svcdup.job.<vm> (membership.c). */
typedef struct {
    UNICODE_STRING Name, TypeName;
} dir_entry;
typedef NTSTATUS(NTAPI *qdir_fn)(HANDLE, PVOID, ULONG, BOOLEAN, BOOLEAN, ULONG *, ULONG *);
typedef NTSTATUS(NTAPI *odir_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *);
static int vm_names(WCHAR names[][40], int cap)
{
    HMODULE nt = GetModuleHandleW(L"ntdll.dll");
    odir_fn od = (odir_fn)(void *)GetProcAddress(nt, "NtOpenDirectoryObject");
    qdir_fn qd = (qdir_fn)(void *)GetProcAddress(nt, "NtQueryDirectoryObject");
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    HANDLE d;
    ULONG ctx = 0, ret;
    static unsigned char buf[4096];
    int n = 0, first = 1;
    RtlInitUnicodeString(&us, L"\\BaseNamedObjects");
    InitializeObjectAttributes(&oa, &us, 0, NULL, NULL);
    if (od(&d, 3 /* DIRECTORY_QUERY | DIRECTORY_TRAVERSE */, &oa) < 0) return 0;
    /* one entry at a time: the only mode Wine 8 implements */
    while (n < cap) {
        NTSTATUS st = qd(d, buf, sizeof buf, TRUE, first, &ctx, &ret);
        dir_entry *e = (void *)buf;
        int k = e->Name.Length / 2;
        first = 0;
        if (st < 0 || st == (NTSTATUS)0x8000001A) break;
        if (k > 11 && k - 11 < 40 && !_wcsnicmp(e->Name.Buffer, L"svcdup.job.", 11) && e->TypeName.Length == 6 &&
            !_wcsnicmp(e->TypeName.Buffer, L"Job", 3)) {
            memcpy(names[n], e->Name.Buffer + 11, (k - 11) * 2);
            names[n][k - 11] = 0;
            n++;
        }
    }
    CloseHandle(d);
    return n;
}

static int ps(const WCHAR *only, int kill)
{
    vmpids_fn vmpids = (vmpids_fn)(void *)GetProcAddress(hook, "svcdup_vm_pids");
    vmkill_fn vmkill = (vmkill_fn)(void *)GetProcAddress(hook, "svcdup_vm_kill");
    static WCHAR names[256][40];
    static DWORD pids[4096];
    int nvm, v, first = 1;
    if (kill) {
        /* the job ends them all at once; wait until it is empty (its processes are gone) */
        int killed = vmkill(only), pass, left = 0;
        for (pass = 0; killed >= 0 && pass < 100; pass++) {
            if ((left = vmpids(only, pids, 4096)) <= 0) break;
            if (pass % 10 == 9) vmkill(only);
            Sleep(100);
        }
        printf("{\"killed\":%d}\n", killed < 0 ? 0 : killed);
        return left > 0 ? die("processes of the VM are still running", (DWORD)left) : 0;
    }
    if (only) {
        wcsncpy(names[0], only, 39);
        names[0][39] = 0;
        nvm = 1;
    } else
        nvm = vm_names(names, 256);
    putchar('[');
    {
        SYSTEM_PROCESS_INFORMATION *all = procs(), *p;
        if (!all) return die("cannot list processes", GetLastError());
        for (v = 0; v < nvm; v++) {
            int n = vmpids(names[v], pids, 4096), i;
            for (i = 0; i < n && i < 4096; i++) {
                /* the image and parent from the system's process list */
                for (p = all;; p = (void *)((char *)p + p->NextEntryOffset)) {
                    if ((DWORD)(ULONG_PTR)p->UniqueProcessId == pids[i]) {
                        printf("%s{\"pid\":%lu,\"ppid\":%lu,\"image\":", first ? "" : ",", (unsigned long)pids[i],
                               (unsigned long)(ULONG_PTR)((HANDLE *)&p->UniqueProcessId)[1]);
                        json_str(p->ImageName.Buffer ? p->ImageName.Buffer : L"", p->ImageName.Length / 2);
                        printf(",\"vm\":");
                        json_str(names[v], 40);
                        printf(",\"threads\":%lu}", p->NumberOfThreads);
                        first = 0;
                        break;
                    }
                    if (!p->NextEntryOffset) break;
                }
            }
        }
        free(all);
    }
    printf("]\n");
    return 0;
}

static void print_event(const WCHAR *t)
{
    /* time \t pid \t call \t used \t effective \t verdict */
    const WCHAR *f[6];
    int n[6], i = 0, k;
    const WCHAR *s = t;
    LARGE_INTEGER li;
    SYSTEMTIME st;
    FILETIME ft;
    for (i = 0; i < 6; i++) {
        const WCHAR *e = wcschr(s, L'\t');
        f[i] = s;
        n[i] = e ? (int)(e - s) : (int)wcslen(s);
        if (!e) {
            for (k = i + 1; k < 6; k++) {
                f[k] = L"";
                n[k] = 0;
            }
            break;
        }
        s = e + 1;
    }
    li.QuadPart = _wtoi64(f[0]);
    ft.dwLowDateTime = li.LowPart;
    ft.dwHighDateTime = li.HighPart;
    FileTimeToSystemTime(&ft, &st);
    printf("{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"pid\":%d,\"call\":", st.wYear, st.wMonth, st.wDay, st.wHour, st.wMinute,
           st.wSecond, st.wMilliseconds, _wtoi(f[1]));
    json_str(f[2], n[2]);
    printf(",\"used\":");
    json_str(f[3], n[3]);
    printf(",\"effective\":");
    json_str(f[4], n[4]);
    printf(",\"decision\":");
    json_str(f[5], n[5]);
    printf("}\n");
}

static volatile LONG stop;
static BOOL WINAPI on_ctrl(DWORD t)
{
    stop = 1;
    return TRUE;
}

static int trace(const WCHAR *vm, int seconds)
{
    tmap_fn map = (tmap_fn)(void *)GetProcAddress(hook, "svcdup_trace_map");
    trace_hdr *h = map(vm);
    LONGLONG r;
    LARGE_INTEGER now, end;
    if (!h) return die("cannot open the VM's trace channel", GetLastError());
    SetConsoleCtrlHandler(on_ctrl, TRUE);
    NtQuerySystemTime(&now);
    end.QuadPart = now.QuadPart + (LONGLONG)seconds * 10000000;
    h->heartbeat = now.QuadPart;
    InterlockedIncrement(&h->listeners);
    r = h->head;
    fprintf(stderr, "svcdup-run: tracing VM %ls\n", vm);
    fflush(stderr);
    while (!stop && (!seconds || now.QuadPart < end.QuadPart)) {
        int waited = 0;
        while (r < h->head) {
            trace_slot *s = TRACE_SLOT(h, r);
            if (h->head - r > TRACE_SLOTS) {
                printf("{\"dropped\":%lld}\n", h->head - r - TRACE_SLOTS);
                r = h->head - TRACE_SLOTS;
                continue;
            }
            if (s->seq == r + 1) {
                print_event(s->text);
                r++;
            } else if (s->seq > r + 1 || waited++ > 20)
                r++; /* overwritten, or a writer died mid-slot */
            else
                Sleep(1);
        }
        fflush(stdout);
        Sleep(50);
        NtQuerySystemTime(&now);
        h->heartbeat = now.QuadPart;
    }
    InterlockedDecrement(&h->listeners);
    return 0;
}

int wmain(int argc, WCHAR **argv)
{
    const WCHAR *vm = NULL, *policy = NULL, *tracevm = NULL, *killvm = NULL, *invm = NULL;
    int i, do_ps = 0, seconds = 0, do_check = 0;
    for (i = 1; i < argc; i++) {
        if (!wcscmp(argv[i], L"--")) {
            i++;
            break;
        }
        if (!wcscmp(argv[i], L"--vm") && i + 1 < argc)
            vm = argv[++i];
        else if (!wcscmp(argv[i], L"--policy") && i + 1 < argc)
            policy = argv[++i];
        else if (!wcscmp(argv[i], L"--ps"))
            do_ps = 1;
        else if (!wcscmp(argv[i], L"--kill-vm") && i + 1 < argc)
            killvm = argv[++i];
        else if (!wcscmp(argv[i], L"--trace") && i + 1 < argc)
            tracevm = argv[++i];
        else if (!wcscmp(argv[i], L"--seconds") && i + 1 < argc)
            seconds = _wtoi(argv[++i]);
        else if (!wcscmp(argv[i], L"--self-check"))
            do_check = 1;
        else if (!wcscmp(argv[i], L"--in-vm") && i + 1 < argc)
            invm = argv[++i];
        else {
            fprintf(stderr, "svcdup-run: unknown argument %ls\n", argv[i]);
            return 125;
        }
    }
    if (!load_hook()) return die("cannot load svcdup-hook.dll", GetLastError());
    if (do_ps) return ps(vm, 0);
    if (killvm) return ps(killvm, 1);
    if (tracevm) return trace(tracevm, seconds);
    if (do_check) return self_check();
    if (invm) return in_vm(invm);
    if (!vm || i >= argc) {
        fprintf(stderr, "usage: svcdup-run --vm NAME [--policy FILE] -- EXE ARGS...\n");
        return 125;
    }
    return run(vm, policy, argc - i, argv + i);
}
