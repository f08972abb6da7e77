/* svcdup-idle.exe [MS [THREADS [STACK_KB]]]: the floor a Wine process costs. It does
   nothing but sleep for MS milliseconds (default: 5000), so that bench/ can measure the
   private memory of the smallest Wine process of a prefix and compare svcdup-host with it;
   with THREADS, that many more threads (STACK_KB of stack reserve each) sleep too: what
   one more thread costs.
   Built without a C runtime (own entry point, kernel32 only) like svcdup-host; the
   -DWITH_CRT build (svcdup-idle-crt.exe) is the same program on mingw's msvcrt start-up. */
#include <windows.h>

/* The next decimal argument after *cmd, or dflt. */
static DWORD number(const WCHAR **cmd, DWORD dflt)
{
    const WCHAR *p = *cmd;
    DWORD n = 0;
    BOOL seen = FALSE;

    while (*p == L' ' || *p == L'\t') p++;
    for (; *p >= L'0' && *p <= L'9'; p++, seen = TRUE) n = n * 10 + (*p - L'0');
    *cmd = p;
    return seen ? n : dflt;
}

static DWORD WINAPI sleeper(void *ms)
{
    Sleep((DWORD)(ULONG_PTR)ms);
    return 0;
}

static void idle(const WCHAR *cmd)
{
    BOOL quoted = FALSE;
    DWORD ms, threads, stack_kb, i;

    /* skip argv[0], quoted or not */
    for (; *cmd && (quoted || (*cmd != L' ' && *cmd != L'\t')); cmd++)
        if (*cmd == L'"') quoted = !quoted;
    ms = number(&cmd, 5000);
    threads = number(&cmd, 0);
    stack_kb = number(&cmd, 64);
    for (i = 0; i < threads && i < 64; i++)
        CloseHandle(CreateThread(NULL, stack_kb * 1024, sleeper, (void *)(ULONG_PTR)ms, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL));
    Sleep(ms);
}

#ifdef WITH_CRT
int wmain(void)
{
    idle(GetCommandLineW());
    return 0;
}
#else
void __stdcall idle_entry(void)
{
    idle(GetCommandLineW());
    ExitProcess(0);
}
#endif
