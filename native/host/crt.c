/* svcdup-host runs without a C runtime (docs/dup.md, "Performance"): every duplicate is
   one svcdup-host process, and msvcrt would add its DLL, its heap and its start-up to each.
   This file is what little of a C runtime it needs: the entry point, the command line as
   argv (CommandLineToArgvW's rules), the memcpy/memset the compiler emits, and output. */
#include <stdarg.h>
#include <windows.h>
#include "host.h"

void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

/* Splits the command line in place into at most max arguments, as CommandLineToArgvW
   does: whitespace separates; "..." groups; 2n backslashes before a quote are n
   backslashes and the quote is special, 2n+1 are n and a literal quote. */
static int split_args(WCHAR *cmd, WCHAR **argv, int max)
{
    int argc = 0;
    WCHAR *in = cmd, *out;

    /* argv[0] follows simpler rules: up to the next whitespace, or quoted */
    while (*in == L' ' || *in == L'\t') in++;
    if (!*in) return 0;
    argv[argc++] = out = in;
    if (*in == L'"') {
        argv[0] = ++in;
        while (*in && *in != L'"') in++;
    } else {
        while (*in && *in != L' ' && *in != L'\t') in++;
    }
    if (*in) *in++ = 0;

    for (;;) {
        BOOL quoted = FALSE;
        while (*in == L' ' || *in == L'\t') in++;
        if (!*in || argc >= max) break;
        argv[argc++] = out = in;
        while (*in && (quoted || (*in != L' ' && *in != L'\t'))) {
            if (*in == L'\\') {
                int n = 0;
                while (*in == L'\\') {
                    n++;
                    in++;
                }
                if (*in == L'"') {
                    while (n >= 2) {
                        *out++ = L'\\';
                        n -= 2;
                    }
                    if (n) *out++ = *in++;
                } else {
                    while (n--) *out++ = L'\\';
                }
            } else if (*in == L'"') {
                in++;
                if (quoted && *in == L'"')
                    *out++ = *in++; /* "" inside quotes: a quote */
                else
                    quoted = !quoted;
            } else {
                *out++ = *in++;
            }
        }
        if (*in) in++;
        *out = 0;
    }
    return argc;
}

BOOL str_eq(const WCHAR *a, const WCHAR *b)
{
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

/* dst (cap chars) = the NULL-terminated list of strings, cut to fit. */
WCHAR *str_join(WCHAR *dst, DWORD cap, ...)
{
    va_list ap;
    const WCHAR *s;
    DWORD n = 0;

    va_start(ap, cap);
    while ((s = va_arg(ap, const WCHAR *)))
        while (*s && n + 1 < cap) dst[n++] = *s++;
    va_end(ap);
    dst[n] = 0;
    return dst;
}

WCHAR *str_dec(WCHAR *buf, DWORD v)
{
    WCHAR tmp[11];
    int i = 0, j = 0;

    do tmp[i++] = L'0' + v % 10;
    while ((v /= 10));
    while (i) buf[j++] = tmp[--i];
    buf[j] = 0;
    return buf;
}

/* The NULL-terminated list of strings to stderr, as UTF-8. */
void err_write(const WCHAR *first, ...)
{
    va_list ap;
    const WCHAR *s = first;
    HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
    char buf[1024];
    DWORD done;
    int n;

    va_start(ap, first);
    for (; s; s = va_arg(ap, const WCHAR *))
        if ((n = WideCharToMultiByte(CP_UTF8, 0, s, lstrlenW(s), buf, sizeof buf, NULL, NULL)) > 0) WriteFile(h, buf, n, &done, NULL);
    va_end(ap);
}

void __stdcall host_entry(void)
{
    static WCHAR *argv[16];
    WCHAR *cmd = GetCommandLineW();
    WCHAR *copy = HeapAlloc(GetProcessHeap(), 0, (lstrlenW(cmd) + 1) * sizeof(WCHAR));

    if (!copy) ExitProcess(1);
    lstrcpyW(copy, cmd);
    ExitProcess(host_main(split_args(copy, argv, ARRAYSIZE(argv)), argv));
}
