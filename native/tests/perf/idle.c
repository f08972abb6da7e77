/* svcdup-idle.exe: the floor a Wine process costs. It does nothing but sleep for the
   milliseconds given as its only argument (default: 5000), so that bench/ can measure the
   private memory of the smallest Wine process of a prefix and compare svcdup-host with it.
   Built without a C runtime (own entry point, kernel32 only) like svcdup-host; the
   -DWITH_CRT build (svcdup-idle-crt.exe) is the same program on mingw's msvcrt start-up. */
#include <windows.h>

static DWORD arg_ms(const WCHAR *cmd)
{
    DWORD ms = 0;
    BOOL quoted = FALSE, seen = FALSE;

    /* skip argv[0], quoted or not */
    for (; *cmd && (quoted || (*cmd != L' ' && *cmd != L'\t')); cmd++)
        if (*cmd == L'"') quoted = !quoted;
    while (*cmd == L' ' || *cmd == L'\t') cmd++;
    for (; *cmd >= L'0' && *cmd <= L'9'; cmd++, seen = TRUE) ms = ms * 10 + (*cmd - L'0');
    return seen ? ms : 5000;
}

#ifdef WITH_CRT
int wmain(void)
{
    Sleep(arg_ms(GetCommandLineW()));
    return 0;
}
#else
void __stdcall idle_entry(void)
{
    Sleep(arg_ms(GetCommandLineW()));
    ExitProcess(0);
}
#endif
